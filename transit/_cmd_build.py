"""``transit build``: road and rail graphs from an OSM XML or PBF file.

Examples::

    transit build --osm shanghai.osm --out road.gpkg --json
    transit build --osm zhejiang-latest.osm.pbf --network both --bbox 120 29.5 121.5 31 --out yrd.gpkg
    transit build --osm hongqiao.osm --network rail --out rail.graphml

With ``--network both`` the road and rail graphs are also composed into the multimodal
graph the optimiser consumes (``networks.multimodal.compose_multimodal``; zones from
``--zones``, e.g. ``data/cities.csv``, get connectors and station access links);
the GeoPackage then has ``road_*``, ``rail_*`` and ``multimodal_*`` layers.
"""

from __future__ import annotations

import argparse
import json
import sys

from networks.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build road/rail graphs from an OSM XML or PBF file",
        description="Build road and/or rail graphs from an OSM file (.osm, .osm.bz2, .osm.pbf).",
    )
    parser.add_argument("--osm", required=True, metavar="FILE", help="OSM XML (.osm, .osm.bz2) or PBF (.osm.pbf) file")
    parser.add_argument("--network", choices=("road", "rail", "both"), default="both", help="what to build (default both)")
    parser.add_argument(
        "--bbox", nargs=4, type=float, metavar=("WEST", "SOUTH", "EAST", "NORTH"), help="cut to this box (degrees)"
    )
    parser.add_argument(
        "--road-classes",
        metavar="CLASSES",
        help="comma-separated highway classes (default motorway,trunk,primary and their links; 'drive' for all drivable)",
    )
    parser.add_argument("--light-rail", action="store_true", help="include railway=light_rail")
    parser.add_argument("--subway", action="store_true", help="include railway=subway")
    parser.add_argument("--retain-all", action="store_true", help="keep every connected piece, not only the largest")
    parser.add_argument("--no-simplify", action="store_true", help="keep every OSM node")
    parser.add_argument("--engine", choices=("auto", "osmnx", "osmium"), default="auto", help="XML reader (default auto)")
    parser.add_argument(
        "--zones",
        metavar="CSV",
        help="with --network both: zones (columns name_en, lon, lat; e.g. data/cities.csv) joined to the "
        "networks by connectors and station access links",
    )
    parser.add_argument("--out", metavar="FILE", help="write .gpkg (all layers) or .graphml (one network)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the build cache")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache folder (default $YRD_TRANSIT_CACHE/osm or ~/.cache/yrd-transit/osm)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _load_zones(path: str | None):  # noqa: ANN202
    if path is None:
        return None
    import pandas as pd

    try:
        zones = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"--zones {path}: cannot be read as CSV ({exc})") from exc
    missing = {"name_en", "lon", "lat"} - set(zones.columns)
    if missing:
        raise InputError(f"--zones {path}: missing column(s) {sorted(missing)} (expected name_en, lon, lat)")
    return zones


def _compose(road, rail, zones):  # noqa: ANN001, ANN202
    """The lead's multimodal composition, with rail node ids prefixed so they never clash."""
    import networkx as nx

    from networks.multimodal import compose_multimodal

    # OSM road and rail ways share nodes at level crossings; the composed graph keeps the
    # two networks apart and lets access links join them
    rail = nx.relabel_nodes(rail, {n: f"rail:{n}" for n in rail.nodes}, copy=True)
    return compose_multimodal(road, rail, zones=zones)


def run(args: argparse.Namespace) -> int:
    from networks import osm_tags
    from networks.osm import RailOptions, graph_from_osm, graph_summary
    from networks.osm_export import save_graphs

    road_classes = None
    if args.road_classes:
        if args.road_classes.strip() == "drive":
            road_classes = osm_tags.DRIVE_ROAD_CLASSES
        else:
            road_classes = tuple(c.strip() for c in args.road_classes.split(",") if c.strip())
            if not road_classes:
                raise InputError(f"--road-classes {args.road_classes!r}: expected comma-separated highway values")
    if args.zones and args.network != "both":
        raise InputError(f"--zones {args.zones}: needs --network both (zones join road and rail)")
    zones = _load_zones(args.zones)
    if args.out and not args.out.lower().endswith((".gpkg", ".graphml")):
        raise InputError(f"--out {args.out}: expected a .gpkg or .graphml file name")
    if args.out:
        from networks.atomic import check_output_path

        check_output_path(args.out, folder=False)
    result = graph_from_osm(
        args.osm,
        network=args.network,
        bbox=args.bbox,
        road_classes=road_classes,
        rail_options=RailOptions(light_rail=args.light_rail, subway=args.subway),
        simplify=not args.no_simplify,
        retain_all=args.retain_all,
        engine=args.engine,
        cache=not args.no_cache,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
    )
    graphs = dict(zip(("road", "rail"), result, strict=True)) if args.network == "both" else {args.network: result}
    if args.network == "both":
        graphs["multimodal"] = _compose(graphs["road"], graphs["rail"], zones)
    if args.out:
        if args.out.lower().endswith(".graphml") and args.network == "both":
            # one graph per GraphML file: the composed one is what the optimiser reads
            save_graphs({"multimodal": graphs["multimodal"]}, args.out)
        else:
            save_graphs(graphs, args.out)
    summary = {name: graph_summary(G) for name, G in graphs.items()}
    if args.json:
        json.dump(summary, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for name, s in summary.items():
            print(f"{name}: {s['nodes']} nodes, {s['edges']} edges, {sum(s['km_by_mode'].values()):.1f} km, "
                  f"{s['weak_components']} component(s), {s['stations']} station(s)")
        if args.out:
            print(f"wrote {args.out}")
    return 0
