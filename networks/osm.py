"""Road and rail graphs from real OpenStreetMap data: XML, PBF or an online query.

The public entry point is :func:`graph_from_osm`; :func:`graph_from_bbox` and
:func:`graph_from_place` do the same from the Overpass API through osmnx.  Every path reads
the data into one :class:`~networks.osm_read.OSMData` and builds the graphs from it with
the tag rules of :mod:`networks.osm_tags`, so an XML and a PBF file of the same data give
the same graph.

The graphs follow the project's graph contract: osmnx-style ``networkx.MultiDiGraph``
with ``crs="EPSG:4326"``, ``mode``, ``source``, ``build_options`` and ``name`` graph
attributes; ``x``/``y`` on nodes; ``mode``, ``length`` (m), ``speed_kph``,
``travel_time`` (s) and ``osmid`` on every edge, plus road or rail attributes (see
:func:`build_road_graph` and :func:`build_rail_graph`).

Results are cached under ``$YRD_TRANSIT_CACHE`` (default ``~/.cache/yrd-transit/osm``),
keyed by the SHA-256 of the input file, the build options and the package version.  A
corrupt or unreadable cache entry is not an error: it is logged, deleted and rebuilt.

One module per concern, as osmnx does: the options (:mod:`networks.osm_options`), the graph
building and simplification (:mod:`networks.osm_build`), the cache (:mod:`networks.osm_cache`);
this module holds the readers' dispatch, the front ends and the summary, and re-exports the
public names.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import networkx as nx

from networks.errors import CacheError, OSMError, OSMWarning
from networks.memory import check_memory, no_gc
from networks.optional import available, require
from networks.osm_build import (
    build_rail_graph,
    build_road_graph,
)
from networks.osm_cache import _load_cache, _save_cache, cache_key, default_cache_dir
from networks.osm_options import (
    RailOptions,
    RoadOptions,
    _options_dict,
)
from networks.osm_read import OSMData, osm_data_from_elements, read_osm_xml

__all__ = [
    "RoadOptions",
    "RailOptions",
    "graph_from_osm",
    "graph_from_bbox",
    "graph_from_place",
    "read_osm",
    "build_road_graph",
    "build_rail_graph",
    "graph_summary",
    "cache_key",
    "default_cache_dir",
]

log = logging.getLogger(__name__)

Network = Literal["road", "rail", "both"]
BBox = tuple[float, float, float, float]

# ---------------------------------------------------------------------------------------
# reading


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith((".osm", ".osm.bz2", ".osm.gz", ".xml", ".xml.bz2")):
        return "xml"
    raise OSMError(f"{path}: unknown OSM file type (expected .osm, .osm.bz2, .osm.gz or .osm.pbf)")


# Peak memory per byte of input. XML: reading and building a drive graph took about 20x the file's
# size whichever XML engine (349 MB over 17.8 MB, `python -m benchmarks.run osm`, docs/benchmarks.md);
# compressed XML holds about 10x its size. PBF: the same run kept 11 kB per road way, and a road way
# takes about 35 bytes of PBF (1.1 MB for 31,840 ways and their nodes), so a PBF of roads only needs
# about 320x its size; a real extract is mostly buildings, land use and points, which the reader skips:
# at an assumed 15 % of its bytes in roads and rail, about 40x. Estimates, to stop hopeless runs
# before they start, not predictions; $YRD_TRANSIT_MEMORY_GUARD=off turns the check off.
MEMORY_PER_BYTE = {"xml": 20.0, "xml_compressed": 200.0, "pbf": 40.0}


def check_osm_memory(path: Path, *, kind: str) -> None:
    """Stop before parsing an extract that would not fit in the available memory.

    Raises
    ------
    OSMError
        Naming the file, the estimated need and the memory available, with what to do.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return  # the reader names the missing file
    compressed = kind == "xml" and path.name.lower().endswith((".bz2", ".gz"))
    factor = MEMORY_PER_BYTE["pbf" if kind == "pbf" else "xml_compressed" if compressed else "xml"]
    check_memory(factor * size, f"{path} ({size / 1e6:,.1f} MB {'PBF' if kind == 'pbf' else 'XML'})",
                 "cut it to the area you need first (osmium extract -b WEST,SOUTH,EAST,NORTH) or keep only roads "
                 "and rail (osmium tags-filter); $YRD_TRANSIT_MEMORY_GUARD=off skips this estimate",
                 error=OSMError)


def read_osm(
    path: str | os.PathLike[str],
    *,
    engine: Literal["auto", "osmnx", "osmium"] = "auto",
    progress: bool = False,
) -> OSMData:
    """Read the road/rail ways and station nodes of an OSM file.

    Parameters
    ----------
    path
        ``.osm`` / ``.osm.bz2`` / ``.osm.gz`` XML or ``.osm.pbf``.
    engine
        ``"auto"``: XML through osmnx's parser when osmnx is installed (the ``osm`` extra),
        else pyosmium; PBF through the compiled reader :func:`networks.pbf.read_pbf`.
        ``"osmium"`` reads with pyosmium (XML: several times faster than osmnx's parser
        on large files; PBF: the reference the compiled reader is tested against; the
        same data either way, tested); ``"osmnx"`` only applies to XML.
    progress
        Show a progress counter while reading (on a terminal; not osmnx's XML parser).
    """
    path = Path(path)
    kind = _kind(path)
    check_osm_memory(path, kind=kind)
    if kind == "pbf" and engine != "osmium":
        from networks.pbf import read_pbf

        return read_pbf(path, progress=progress)
    if kind == "pbf" or engine == "osmium" or (engine == "auto" and not available("osmnx")):
        from networks.osm_pbf import read_osm_pbf

        return read_osm_pbf(path, progress=progress)
    if engine not in ("auto", "osmnx"):
        raise OSMError(f"{path}: unknown engine {engine!r} (expected 'auto', 'osmnx' or 'osmium')")
    return read_osm_xml(path)


# ---------------------------------------------------------------------------------------
# entry points


def _build(
    data: OSMData,
    network: Network,
    bbox: BBox | None,
    road_options: RoadOptions,
    rail_options: RailOptions,
    simplify: bool,
    keep_attribute_changes: bool,
    retain_all: bool,
    options_dict: dict[str, Any],
    progress: bool,
) -> dict[str, nx.MultiDiGraph]:
    graphs: dict[str, nx.MultiDiGraph] = {}
    where = f"{data.source}" + (f" within bbox {list(bbox)}" if bbox else "")
    common = dict(bbox=bbox, simplify=simplify, keep_attribute_changes=keep_attribute_changes, retain_all=retain_all)
    missing: dict[str, str] = {}
    if network in ("road", "both"):
        road = build_road_graph(data, options=road_options, progress=progress, **common)
        if road.number_of_edges() == 0:
            missing["road"] = f"no road ways of classes {sorted(road_options.classes)}"
        graphs["road"] = road
    if network in ("rail", "both"):
        rail = build_rail_graph(data, options=rail_options, progress=progress, **common)
        if rail.number_of_edges() == 0:
            missing["rail"] = (f"no passenger rail left after filtering (railway in {sorted(rail_options.kinds)}, "
                               f"service not in {sorted(rail_options.excluded_services)})")
        graphs["rail"] = rail
    if len(missing) == len(graphs):
        raise OSMError(f"{where}: {'; '.join(missing.values())} (nothing to build)")
    for mode, why in missing.items():
        # asked for both and one is absent (a drive extract has no rail): build what is there
        graphs[mode].graph["empty_reason"] = f"{where}: {why}"
    for graph in graphs.values():
        graph.graph["build_options"] = options_dict
    return graphs


def _normalise_bbox(bbox: Sequence[float] | None) -> BBox | None:
    if bbox is None:
        return None
    if len(bbox) != 4:
        raise OSMError(f"bbox {list(bbox)}: expected 4 numbers (west, south, east, north)")
    west, south, east, north = (float(v) for v in bbox)
    if not (west < east and south < north and -180 <= west and east <= 180 and -90 <= south and north <= 90):
        raise OSMError(f"bbox {list(bbox)}: expected west < east and south < north in degrees (lon/lat)")
    return (west, south, east, north)


def graph_from_osm(
    source: str | os.PathLike[str],
    *,
    network: Network = "road",
    bbox: Sequence[float] | None = None,
    road_classes: Sequence[str] | None = None,
    road_options: RoadOptions | None = None,
    rail_options: RailOptions | None = None,
    simplify: bool = True,
    keep_attribute_changes: bool = True,
    retain_all: bool = False,
    engine: Literal["auto", "osmnx", "osmium"] = "auto",
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> nx.MultiDiGraph | tuple[nx.MultiDiGraph, nx.MultiDiGraph]:
    """Build a road graph, a rail graph or both from an OSM XML or PBF file.

    Parameters
    ----------
    source
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.
    network
        ``"road"``, ``"rail"`` or ``"both"`` (returns ``(road, rail)``).
    bbox
        ``(west, south, east, north)`` in degrees to cut the extract to.
    road_classes
        Highway classes (shortcut for ``RoadOptions(classes=...)``).
    road_options, rail_options
        Tag rules and defaults, see :class:`RoadOptions` and :class:`RailOptions`.
    simplify, keep_attribute_changes, retain_all
        See :func:`build_road_graph`.
    engine
        ``"auto"`` (osmnx's parser for XML, the compiled reader :mod:`networks.pbf` for PBF)
        or ``"osmium"`` (pyosmium for both).
    cache
        Reuse / store the result in the cache (see the module docstring).
    cache_dir
        Cache folder (default :func:`default_cache_dir`).
    progress
        Progress bars on a terminal for large files.

    Returns
    -------
    networkx.MultiDiGraph or (networkx.MultiDiGraph, networkx.MultiDiGraph)
        The graph, or ``(road, rail)`` for ``network="both"``.

    Raises
    ------
    OSMError
        Unreadable, empty, truncated or non-OSM input, a bbox without matching ways, or no
        rail left after filtering.  Nothing is cached then.
    """
    path = Path(source)
    if network not in ("road", "rail", "both"):
        raise OSMError(f"network={network!r}: expected 'road', 'rail' or 'both'")
    kind = _kind(path)
    if engine == "osmnx" and kind == "pbf":
        raise OSMError(f"{path}: osmnx cannot read PBF; use engine='auto' or 'osmium'")
    box = _normalise_bbox(bbox)
    road_options = road_options or RoadOptions()
    if road_classes is not None:
        road_options = RoadOptions(**{**road_options.__dict__, "classes": tuple(road_classes)})
    rail_options = rail_options or RailOptions()
    options = _options_dict(network, box, road_options, rail_options, simplify, keep_attribute_changes, retain_all)

    from networks.osm_read import check_not_empty

    check_not_empty(path)
    entry: Path | None = None
    if cache:
        entry = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        entry = entry / f"{cache_key(path, {**options, 'engine': engine})}.pickle"
        if entry.exists():
            try:
                graphs = _load_cache(entry)
                log.info("osm: cache hit %s", entry)
                return _result(graphs, network)
            except CacheError as exc:
                # a cache is disposable: rebuild rather than fail the user's run
                log.warning("osm: %s; rebuilding", exc)
                entry.unlink(missing_ok=True)
    with no_gc():  # millions of small objects: the collector's scans would grow with them
        data = read_osm(path, engine=engine, progress=progress)
        graphs = _build(
            data, network, box, road_options, rail_options, simplify, keep_attribute_changes, retain_all, options,
            progress,
        )
    if entry is not None:
        _save_cache(entry, graphs)
    return _result(graphs, network)


def _result(graphs: dict[str, nx.MultiDiGraph], network: str) -> nx.MultiDiGraph | tuple[nx.MultiDiGraph, ...]:
    for mode, graph in graphs.items():
        why = graph.graph.get("empty_reason")
        if why:
            other = "rail" if mode == "road" else "road"
            warnings.warn(f"{why}; the {mode} graph is empty, the {other} graph is built", OSMWarning, stacklevel=3)
    if network == "both":
        return graphs["road"], graphs["rail"]
    return graphs[network]


def _overpass_data(polygon: Any, network: Network, rail_options: RailOptions, road_options: RoadOptions) -> OSMData:
    """Download road/rail ways and station nodes inside ``polygon`` (osmnx's Overpass client)."""
    _overpass = require("osmnx._overpass", extra="osm", purpose="downloading from Overpass")

    elements: list[dict[str, Any]] = []
    filters = []
    if network in ("road", "both"):
        filters.append(f'["highway"~"^({"|".join(road_options.classes)})$"]')
    if network in ("rail", "both"):
        filters.append(f'["railway"~"^({"|".join(sorted(rail_options.kinds))})$"]')
    for response in _overpass._download_overpass_network(polygon, "all", filters):
        elements.extend(response.get("elements", []))
    if network in ("rail", "both"):
        station_tags = {"railway": ["station", "halt"], "public_transport": "station"}
        for response in _overpass._download_overpass_features(polygon, station_tags):
            elements.extend(e for e in response.get("elements", []) if e.get("type") == "node")
    return osm_data_from_elements("overpass", elements)


def graph_from_bbox(
    bbox: Sequence[float],
    *,
    network: Network = "road",
    road_classes: Sequence[str] | None = None,
    road_options: RoadOptions | None = None,
    rail_options: RailOptions | None = None,
    simplify: bool = True,
    keep_attribute_changes: bool = True,
    retain_all: bool = False,
) -> nx.MultiDiGraph | tuple[nx.MultiDiGraph, nx.MultiDiGraph]:
    """Like :func:`graph_from_osm` but from the Overpass API (needs network access; not cached)."""
    from shapely.geometry import box as make_box

    box = _normalise_bbox(bbox)
    assert box is not None
    return _graph_from_polygon(
        make_box(*box), f"overpass bbox {list(box)}", network, road_classes, road_options, rail_options,
        simplify, keep_attribute_changes, retain_all,
    )


def graph_from_place(
    place: str,
    *,
    network: Network = "road",
    road_classes: Sequence[str] | None = None,
    road_options: RoadOptions | None = None,
    rail_options: RailOptions | None = None,
    simplify: bool = True,
    keep_attribute_changes: bool = True,
    retain_all: bool = False,
) -> nx.MultiDiGraph | tuple[nx.MultiDiGraph, nx.MultiDiGraph]:
    """Like :func:`graph_from_bbox` for a place name geocoded by osmnx (Nominatim)."""
    ox = require("osmnx", extra="osm", purpose="geocoding a place name")

    polygon = ox.geocode_to_gdf(place).union_all()
    return _graph_from_polygon(
        polygon, f"overpass place {place!r}", network, road_classes, road_options, rail_options,
        simplify, keep_attribute_changes, retain_all,
    )


def _graph_from_polygon(
    polygon: Any,
    label: str,
    network: Network,
    road_classes: Sequence[str] | None,
    road_options: RoadOptions | None,
    rail_options: RailOptions | None,
    simplify: bool,
    keep_attribute_changes: bool,
    retain_all: bool,
) -> nx.MultiDiGraph | tuple[nx.MultiDiGraph, nx.MultiDiGraph]:
    road_options = road_options or RoadOptions()
    if road_classes is not None:
        road_options = RoadOptions(**{**road_options.__dict__, "classes": tuple(road_classes)})
    rail_options = rail_options or RailOptions()
    data = _overpass_data(polygon, network, rail_options, road_options)
    data.source = label
    options = _options_dict(network, None, road_options, rail_options, simplify, keep_attribute_changes, retain_all)
    graphs = _build(
        data, network, None, road_options, rail_options, simplify, keep_attribute_changes, retain_all, options, False
    )
    return _result(graphs, network)


# ---------------------------------------------------------------------------------------
# summary


def _centreline_km(G: nx.MultiDiGraph, key: str) -> dict[str, float]:
    """km per value of edge attribute ``key``; two-way links counted once."""
    totals: dict[str, float] = {}
    for _u, _v, data in G.edges(data=True):
        value = data.get(key, "")
        label = ";".join(sorted(map(str, value))) if isinstance(value, list) else str(value)
        share = 1.0 if data.get("oneway", False) else 0.5
        totals[label] = totals.get(label, 0.0) + data["length"] * share / 1000.0
    return {k: round(v, 3) for k, v in sorted(totals.items())}


def graph_summary(G: nx.MultiDiGraph) -> dict[str, Any]:
    """Counts for a report: nodes, edges, km by class and mode, components, stations."""
    mode = G.graph.get("mode", "")
    summary: dict[str, Any] = {
        "name": G.graph.get("name", ""),
        "mode": mode,
        "nodes": G.number_of_nodes(),
        "edges": G.number_of_edges(),
        "weak_components": nx.number_weakly_connected_components(G) if len(G) else 0,
        "strong_components": nx.number_strongly_connected_components(G) if len(G) else 0,
        "km_by_mode": _centreline_km(G, "mode"),
        "edges_by_mode": dict(sorted(Counter(str(m) for _, _, m in G.edges(data="mode")).items())),
        "dropped_components": G.graph.get("dropped_components", 0),
    }
    if mode == "road":
        summary["km_by_class"] = _centreline_km(G, "highway")
    elif mode == "rail":
        summary["km_by_class"] = _centreline_km(G, "railway")
        summary["km_highspeed"] = _centreline_km(G, "highspeed")
    stations = sorted(str(d.get("name", n)) for n, d in G.nodes(data=True) if d.get("station"))
    summary["stations"] = len(stations)
    summary["station_names"] = stations
    if G.graph.get("unsnapped_stations"):
        summary["unsnapped_stations"] = list(G.graph["unsnapped_stations"])
    return summary
