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
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import pickle
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np

from networks import osm_tags as tags_mod
from networks.atomic import atomic_path
from networks.errors import CacheError, OSMError
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
EARTH_RADIUS_M = 6_371_009.0  # osmnx's mean Earth radius, so lengths match osmnx exactly
_CACHE_MAGIC = "yrd-transit-osm-cache-v1"

# a node where one of these changes stays a node after simplification, so a merged edge
# carries one value of each and its speed is the speed of every piece of it
# (lanes and capacity differ between the two directions of one road, so they cannot be
# compared at a node; a merged edge takes the bottleneck value instead)
_ROAD_DIFFER = ("highway", "name", "speed_kph", "oneway", "maxspeed")
_RAIL_DIFFER = ("railway", "name", "speed_kph", "highspeed", "usage", "service", "electrified")


@dataclass(frozen=True)
class RoadOptions:
    """How road ways become edges.

    Attributes
    ----------
    classes
        Highway classes to keep (default: motorway, trunk, primary and their links).
    default_speeds
        km/h per class when ``maxspeed`` is missing (China defaults, see
        :mod:`networks.osm_tags`).
    implicit_speeds
        km/h for implicit ``maxspeed`` values such as ``CN:urban``.
    lane_capacity
        veh/h per lane per class.
    default_lanes
        Lanes per direction per class when ``lanes`` is missing.
    """

    classes: tuple[str, ...] = tags_mod.DEFAULT_ROAD_CLASSES
    default_speeds: Mapping[str, float] = field(default_factory=lambda: dict(tags_mod.CHINA_DEFAULT_SPEED_KPH))
    implicit_speeds: Mapping[str, float] = field(
        default_factory=lambda: dict(tags_mod.CHINA_IMPLICIT_MAXSPEED_KPH)
    )
    lane_capacity: Mapping[str, float] = field(default_factory=lambda: dict(tags_mod.LANE_CAPACITY_VPH))
    default_lanes: Mapping[str, int] = field(default_factory=lambda: dict(tags_mod.DEFAULT_LANES_PER_DIRECTION))


@dataclass(frozen=True)
class RailOptions:
    """How rail ways and stations become a passenger rail graph.

    Attributes
    ----------
    light_rail, subway
        Also keep ``railway=light_rail`` / ``railway=subway`` track and their stations.
    excluded_services
        ``service=*`` values left out of passenger routing (yards, sidings, spurs,
        crossovers).
    excluded_usages
        ``usage=*`` values left out (industrial, military, test, freight).
    default_speeds
        km/h when ``maxspeed`` is missing, see :func:`networks.osm_tags.rail_speed_kph`.
    station_dwell_s, halt_dwell_s
        Dwell time at a ``railway=station`` and at a ``railway=halt`` (seconds).
    max_snap_m
        Stations further than this from the track graph are left out (and listed in the
        graph attribute ``unsnapped_stations``).
    """

    light_rail: bool = False
    subway: bool = False
    excluded_services: frozenset[str] = tags_mod.RAIL_EXCLUDED_SERVICES
    excluded_usages: frozenset[str] = tags_mod.RAIL_EXCLUDED_USAGES
    default_speeds: Mapping[str, float] = field(default_factory=lambda: dict(tags_mod.RAIL_DEFAULT_SPEED_KPH))
    station_dwell_s: float = 120.0
    halt_dwell_s: float = 60.0
    max_snap_m: float = 500.0

    @property
    def kinds(self) -> frozenset[str]:
        kinds = {"rail"}
        if self.light_rail:
            kinds.add("light_rail")
        if self.subway:
            kinds.add("subway")
        return frozenset(kinds)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _options_dict(
    network: str,
    bbox: BBox | None,
    road: RoadOptions,
    rail: RailOptions,
    simplify: bool,
    keep_attribute_changes: bool,
    retain_all: bool,
) -> dict[str, Any]:
    return _jsonable(
        {
            "network": network,
            "bbox": list(bbox) if bbox is not None else None,
            "road": asdict(road) if network in ("road", "both") else None,
            "rail": asdict(rail) if network in ("rail", "both") else None,
            "simplify": simplify,
            "keep_attribute_changes": keep_attribute_changes,
            "retain_all": retain_all,
        }
    )


# ---------------------------------------------------------------------------------------
# reading


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith((".osm", ".osm.bz2", ".osm.gz", ".xml", ".xml.bz2")):
        return "xml"
    raise OSMError(f"{path}: unknown OSM file type (expected .osm, .osm.bz2, .osm.gz or .osm.pbf)")


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
        ``"auto"``: XML through osmnx's parser, PBF through pyosmium.  ``"osmium"`` reads
        XML with pyosmium too (several times faster on large files); ``"osmnx"`` only
        applies to XML.
    progress
        Show a progress counter while reading (pyosmium engine, on a terminal).
    """
    path = Path(path)
    kind = _kind(path)
    if kind == "pbf" or engine == "osmium":
        from networks.osm_pbf import read_osm_pbf

        return read_osm_pbf(path, progress=progress)
    if engine not in ("auto", "osmnx"):
        raise OSMError(f"{path}: unknown engine {engine!r} (expected 'auto', 'osmnx' or 'osmium')")
    return read_osm_xml(path)


# ---------------------------------------------------------------------------------------
# graph building


def _haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    # the same formula and radius as osmnx.distance.great_circle
    y1, y2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dy = y2 - y1
    dx = np.deg2rad(lon2) - np.deg2rad(lon1)
    h = np.sin(dy / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin(dx / 2) ** 2
    return 2 * np.arcsin(np.sqrt(np.minimum(1.0, h))) * EARTH_RADIUS_M


def _in_bbox(xy: tuple[float, float], bbox: BBox | None) -> bool:
    if bbox is None:
        return True
    west, south, east, north = bbox
    return west <= xy[0] <= east and south <= xy[1] <= north


def _segments(
    refs: Sequence[int], coords: Mapping[int, tuple[float, float]], bbox: BBox | None
) -> list[tuple[int, int]]:
    """Consecutive node pairs of a way whose both ends are present (and inside the bbox)."""
    nodes = [ref for ref, _ in groupby(refs)]  # drop repeated consecutive refs, as osmnx does
    ok = [ref in coords and _in_bbox(coords[ref], bbox) for ref in nodes]
    return [(nodes[i], nodes[i + 1]) for i in range(len(nodes) - 1) if ok[i] and ok[i + 1]]


class _EdgeRows:
    """Edges collected way by way, then measured in one vectorised pass and added at once."""

    def __init__(self, coords: Mapping[int, tuple[float, float]]) -> None:
        self.coords = coords
        self.nodes: dict[int, None] = {}
        self.rows: list[tuple[int, int, int, dict[str, Any]]] = []
        self.keys: dict[tuple[int, int], int] = {}

    def add(self, pairs: Iterable[tuple[int, int]], attrs: Mapping[str, Any]) -> None:
        for u, v in pairs:
            key = self.keys.get((u, v), 0)
            self.keys[(u, v)] = key + 1
            self.nodes[u] = None
            self.nodes[v] = None
            self.rows.append((u, v, key, dict(attrs)))

    def graph(self) -> nx.MultiDiGraph:
        G = nx.MultiDiGraph()
        coords = self.coords
        G.add_nodes_from((n, {"x": coords[n][0], "y": coords[n][1]}) for n in self.nodes)
        if self.rows:
            ends = np.array([(*coords[u], *coords[v]) for u, v, _, _ in self.rows], dtype=float)
            lengths = _haversine_m(ends[:, 0], ends[:, 1], ends[:, 2], ends[:, 3]).tolist()
            for (_u, _v, _k, data), length in zip(self.rows, lengths, strict=True):
                data["length"] = length
                data["travel_time"] = length / (data["speed_kph"] / 3.6)
        G.add_edges_from(self.rows)
        return G


def _prune(G: nx.MultiDiGraph, retain_all: bool) -> nx.MultiDiGraph:
    G.remove_nodes_from([n for n, d in G.degree() if d == 0])
    dropped = 0
    if not retain_all and G.number_of_nodes() > 0:
        components = list(nx.weakly_connected_components(G))
        largest = max(components, key=len)
        dropped = len(components) - 1
        if dropped:
            G = G.subgraph(largest).copy()
    # say how much a largest-component build left out, for the summary
    G.graph["dropped_components"] = dropped
    return G


def _simplify(G: nx.MultiDiGraph, differ: Sequence[str] | None, node_attrs: Sequence[str] | None) -> nx.MultiDiGraph:
    """Merge interstitial nodes into single edges; lengths and travel times are summed exactly.

    The rules are osmnx's ``simplify_graph`` (Boeing 2025): a node stays if it self-loops,
    has no in- or no out-edges, does not have exactly two neighbours with degree 2 or 4,
    carries one of ``node_attrs``, or (``edge_attrs_differ``) its edges disagree on one of
    ``differ``; isolated rings are dropped.  It is re-implemented here, working in place
    and on coordinates rather than shapely points, because osmnx's version dominated the
    build time; ``tests/test_osm_real.py`` checks it gives osmnx's nodes and edges.  Merged
    attributes with several values become a sorted list (osmnx: unordered), and ``lanes``
    and ``capacity`` take the bottleneck (minimum).
    """
    from shapely import LineString

    if G.number_of_edges() == 0:
        return G
    succ, pred, node_data = G._succ, G._pred, G.nodes  # read-only use of networkx's adjacency
    flagged: set[Any] = set()
    if differ:
        seen: dict[Any, tuple[Any, ...]] = {}
        for u, v, data in G.edges(data=True):
            values = tuple(data.get(attr) for attr in differ)
            for node in (u, v):
                if seen.setdefault(node, values) != values:
                    flagged.add(node)
    keep = tuple(node_attrs or ())
    endpoints: set[Any] = set()
    for node in G.nodes:
        out, into = succ[node], pred[node]
        if node in out or not out or not into:
            endpoints.add(node)
            continue
        degree = sum(len(keys) for keys in out.values()) + sum(len(keys) for keys in into.values())
        if len(out.keys() | into.keys()) != 2 or degree not in (2, 4):
            endpoints.add(node)
        elif node in flagged or any(attr in node_data[node] for attr in keep):
            endpoints.add(node)

    def build_path(endpoint: Any, first: Any) -> list[Any]:
        path = [endpoint, first]
        for successor in succ[first]:
            if successor in path:
                continue
            path.append(successor)
            while successor not in endpoints:
                onward = [n for n in succ[successor] if n not in path]
                if len(onward) == 1:
                    successor = onward[0]
                    path.append(successor)
                elif not onward:
                    return [*path, endpoint] if endpoint in succ[successor] else path
                else:  # pragma: no cover - cannot happen for degree-2/4 interstitial nodes
                    raise OSMError(f"cannot simplify the graph near node {successor}")
            return path
        return path

    aggregate = {"length": sum, "travel_time": sum, "lanes": min, "capacity": min}
    new_edges = []
    interstitial: set[Any] = set()
    for endpoint in endpoints:
        for first in list(succ[endpoint]):
            if first in endpoints:
                continue
            path = build_path(endpoint, first)
            values: dict[str, list[Any]] = {}
            for u, v in zip(path[:-1], path[1:]):
                data = next(iter(succ[u][v].values()))
                for key, value in data.items():
                    values.setdefault(key, []).append(value)
            attrs: dict[str, Any] = {}
            for key, found in values.items():
                if key in aggregate:
                    attrs[key] = aggregate[key](found)
                else:
                    unique = set(found)
                    attrs[key] = found[0] if len(unique) == 1 else sorted(unique, key=str)
            attrs["geometry"] = LineString([(node_data[n]["x"], node_data[n]["y"]) for n in path])
            new_edges.append((path[0], path[-1], attrs))
            interstitial.update(path[1:-1])
    G.add_edges_from(new_edges)
    G.remove_nodes_from(interstitial)
    # isolated rings (no endpoint anywhere) are dropped, as osmnx does
    rings = [c for c in nx.weakly_connected_components(G) if not (c & endpoints)]
    for ring in rings:
        G.remove_nodes_from(ring)
    for _u, _v, data in G.edges(data=True):
        # merging pieces of different speed (only without edge_attrs_differ) leaves a list;
        # the speed that reproduces the summed time is the length-weighted harmonic mean
        if isinstance(data.get("speed_kph"), list):
            data["speed_kph"] = data["length"] / data["travel_time"] * 3.6
    G.graph["simplified"] = True
    return G


def build_road_graph(
    data: OSMData,
    *,
    options: RoadOptions | None = None,
    bbox: BBox | None = None,
    simplify: bool = True,
    keep_attribute_changes: bool = True,
    retain_all: bool = False,
    progress: bool = False,
) -> nx.MultiDiGraph:
    """Build a drivable road graph from :class:`OSMData`.

    Parameters
    ----------
    data
        What a reader returned.
    options
        Highway classes, default speeds, lanes and capacities.
    bbox
        ``(west, south, east, north)`` in degrees: only nodes inside are kept, and only
        segments with both ends inside.
    simplify
        Merge interstitial nodes (osmnx's topology rules) into edges with a ``geometry``.
    keep_attribute_changes
        With ``simplify``, keep a node wherever ``highway``, ``name``, speed, ``oneway``
        or ``maxspeed`` change, so merged edges carry single values (``lanes`` and
        ``capacity`` of a merged edge are its bottleneck, the minimum over its pieces).
        ``False`` reproduces osmnx's simplified topology exactly.
    retain_all
        Keep every connected piece; otherwise only the largest weakly connected one.
    progress
        Show a progress bar over the ways (on a terminal).

    Returns
    -------
    networkx.MultiDiGraph
        Edges carry ``mode="road"``, ``osmid``, ``highway``, ``name`` (if tagged),
        ``oneway``, ``reversed``, ``lanes`` (in the edge's direction), ``capacity``
        (veh/h in the edge's direction), ``speed_kph``, ``speed_source``
        (``maxspeed``/``class``/``fallback``), ``maxspeed`` (raw tag, if tagged),
        ``length`` (m) and ``travel_time`` (s).
    """
    options = options or RoadOptions()
    classes = frozenset(options.classes)
    rows = _EdgeRows(data.coords)
    for way_id, refs, tags in _iter_progress(data.ways, progress, "road ways"):
        if "highway" not in tags or not tags_mod.road_way_included(tags, classes):
            continue
        segments = _segments(refs, data.coords, bbox)
        if not segments:
            continue
        highway = tags["highway"]
        speed, source = tags_mod.road_speed_kph(
            tags, default_speeds=options.default_speeds, implicit=options.implicit_speeds
        )
        direction = tags_mod.oneway_direction(tags)
        base: dict[str, Any] = {"mode": "road", "osmid": way_id, "highway": highway}
        for key in ("name", "ref", "maxspeed", "bridge", "tunnel", "junction"):
            if key in tags:
                base[key] = tags[key]
        if "name:en" in tags:
            base["name_en"] = tags["name:en"]
        base.update(speed_kph=float(speed), speed_source=source, oneway=direction != 0)

        def attrs(forward: bool, reversed_: bool) -> dict[str, Any]:
            lanes = tags_mod.lanes_per_direction(tags, forward=forward, default_lanes=options.default_lanes)
            capacity = tags_mod.road_capacity_vph(highway, lanes, lane_capacity=options.lane_capacity)
            return {**base, "reversed": reversed_, "lanes": lanes, "capacity": capacity}

        if direction >= 0:
            rows.add(segments, attrs(True, False))
        if direction == -1:
            # one-way against the node order: the way's direction of travel is "forward"
            rows.add(((v, u) for u, v in reversed(segments)), attrs(True, False))
        if direction == 0:
            rows.add(((v, u) for u, v in segments), attrs(False, True))
    G = _prune(rows.graph(), retain_all)
    if simplify:
        G = _simplify(G, _ROAD_DIFFER if keep_attribute_changes else None, None)
    _finish(G, data, mode="road")
    return G


def build_rail_graph(
    data: OSMData,
    *,
    options: RailOptions | None = None,
    bbox: BBox | None = None,
    simplify: bool = True,
    keep_attribute_changes: bool = True,
    retain_all: bool = False,
    progress: bool = False,
) -> nx.MultiDiGraph:
    """Build the passenger rail graph (track in both directions, stations snapped).

    Parameters are those of :func:`build_road_graph` with :class:`RailOptions`.

    Returns
    -------
    networkx.MultiDiGraph
        Edges (both directions) carry ``mode="rail"``, ``osmid``, ``railway``, ``name``
        (if tagged), ``highspeed`` (bool), ``usage`` and ``service`` (``""`` if untagged),
        ``electrified`` (bool), ``maxspeed_kph`` (if tagged), ``speed_kph``,
        ``speed_source``, ``length`` and ``travel_time``.  Station nodes carry
        ``station=True``, ``name``, ``name_en`` (if tagged), ``dwell_s``,
        ``station_osmid``, ``station_kind`` (station/halt) and ``snap_m`` (distance from
        the OSM station node to the track node it was snapped to).
    """
    options = options or RailOptions()
    kinds = options.kinds
    rows = _EdgeRows(data.coords)
    for way_id, refs, tags in _iter_progress(data.ways, progress, "rail ways"):
        if "railway" not in tags or not tags_mod.rail_way_included(
            tags, kinds=kinds, excluded_services=options.excluded_services, excluded_usages=options.excluded_usages
        ):
            continue
        segments = _segments(refs, data.coords, bbox)
        if not segments:
            continue
        speed, source = tags_mod.rail_speed_kph(tags, default_speeds=options.default_speeds)
        attrs: dict[str, Any] = {
            "mode": "rail",
            "osmid": way_id,
            "railway": tags["railway"],
            "highspeed": tags_mod.rail_is_highspeed(tags),
            "usage": tags.get("usage", ""),
            "service": tags.get("service", ""),
            "electrified": tags_mod.rail_is_electrified(tags),
            "speed_kph": float(speed),
            "speed_source": source,
            "oneway": False,
        }
        maxspeed = tags_mod.parse_maxspeed(tags.get("maxspeed"), implicit={})
        if maxspeed is not None:
            attrs["maxspeed_kph"] = maxspeed
        for key in ("name", "ref", "bridge", "tunnel", "gauge"):
            if key in tags:
                attrs[key] = tags[key]
        if "name:en" in tags:
            attrs["name_en"] = tags["name:en"]
        rows.add(segments, {**attrs, "reversed": False})
        rows.add(((v, u) for u, v in segments), {**attrs, "reversed": True})
    G = _prune(rows.graph(), retain_all)
    unsnapped = _snap_stations(G, data, options, bbox)
    if simplify:
        G = _simplify(G, _RAIL_DIFFER if keep_attribute_changes else None, ["station"])
    _finish(G, data, mode="rail")
    G.graph["unsnapped_stations"] = unsnapped
    return G


def _snap_stations(G: nx.MultiDiGraph, data: OSMData, options: RailOptions, bbox: BBox | None) -> list[str]:
    """Mark the track node nearest to each station node; return stations left out."""
    if G.number_of_nodes() == 0:
        return []
    from scipy.spatial import cKDTree

    nodes = list(G.nodes)
    lon = np.array([G.nodes[n]["x"] for n in nodes])
    lat = np.array([G.nodes[n]["y"] for n in nodes])
    lat0 = math.radians(float(np.mean(lat)))
    # local equirectangular metres: good to well under 1 % within a snap radius
    scale = math.pi / 180 * EARTH_RADIUS_M
    tree = cKDTree(np.column_stack([lon * scale * math.cos(lat0), lat * scale]))
    unsnapped: list[str] = []
    best: dict[Any, tuple[float, int, dict[str, str]]] = {}
    for osm_id, (x, y, tags) in sorted(data.stations.items()):
        if not tags_mod.is_station(tags, kinds=options.kinds) or not _in_bbox((x, y), bbox):
            continue
        if osm_id in G:
            node, dist = osm_id, 0.0
        else:
            _, index = tree.query([x * scale * math.cos(lat0), y * scale])
            node = nodes[int(index)]
            dist = float(_haversine_m(np.array(x), np.array(y), np.array(lon[index]), np.array(lat[index])))
        label = tags.get("name", str(osm_id))
        if dist > options.max_snap_m:
            unsnapped.append(f"{label} ({dist:.0f} m from track)")
            continue
        if node in best and best[node][0] <= dist:
            unsnapped.append(f"{label} (same track node as {best[node][2].get('name', best[node][1])})")
            continue
        if node in best:
            old = best[node]
            unsnapped.append(f"{old[2].get('name', old[1])} (same track node as {label})")
        best[node] = (dist, osm_id, tags)
    for node, (dist, osm_id, tags) in best.items():
        attrs = G.nodes[node]
        attrs.update(
            station=True,
            name=tags.get("name", ""),
            dwell_s=tags_mod.station_dwell_s(
                tags, station_dwell=options.station_dwell_s, halt_dwell=options.halt_dwell_s
            ),
            station_osmid=osm_id,
            station_kind=tags.get("railway", "station") if tags.get("railway") in {"station", "halt"} else "station",
            snap_m=round(dist, 1),
        )
        if "name:en" in tags:
            attrs["name_en"] = tags["name:en"]
    return unsnapped


def _finish(G: nx.MultiDiGraph, data: OSMData, *, mode: str) -> None:
    G.graph.update(crs="EPSG:4326", mode=mode, source=data.source, name=f"{mode} from {Path(data.source).name}")


def _iter_progress(items: Sequence[Any], progress: bool, desc: str) -> Iterable[Any]:
    if not progress or not sys.stderr.isatty() or len(items) < 10_000:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=" ways", mininterval=0.5)


# ---------------------------------------------------------------------------------------
# caching


def default_cache_dir() -> Path:
    """``$YRD_TRANSIT_CACHE/osm`` if set, else ``~/.cache/yrd-transit/osm``."""
    root = os.environ.get("YRD_TRANSIT_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "yrd-transit") / "osm"


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yrd-transit")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(path: str | os.PathLike[str], options: Mapping[str, Any]) -> str:
    """SHA-256 of the file's bytes, the build options and the package version."""
    payload = json.dumps(
        {"file": _file_sha256(Path(path)), "options": _jsonable(options), "version": _package_version()},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _load_cache(entry: Path) -> dict[str, nx.MultiDiGraph]:
    try:
        with entry.open("rb") as handle:
            magic, graphs = pickle.load(handle)  # noqa: S301 - the user's own cache folder
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is a cache problem
        raise CacheError(f"{entry}: unreadable cache entry ({type(exc).__name__}: {exc})") from exc
    if magic != _CACHE_MAGIC or not isinstance(graphs, dict):
        raise CacheError(f"{entry}: not a {_CACHE_MAGIC} cache entry")
    return graphs


def _save_cache(entry: Path, graphs: dict[str, nx.MultiDiGraph]) -> None:
    with atomic_path(entry) as tmp:
        with tmp.open("wb") as handle:
            pickle.dump((_CACHE_MAGIC, graphs), handle, protocol=pickle.HIGHEST_PROTOCOL)


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
    if network in ("road", "both"):
        road = build_road_graph(data, options=road_options, progress=progress, **common)
        if road.number_of_edges() == 0:
            raise OSMError(f"{where}: no road ways of classes {sorted(road_options.classes)} (nothing to build)")
        graphs["road"] = road
    if network in ("rail", "both"):
        rail = build_rail_graph(data, options=rail_options, progress=progress, **common)
        if rail.number_of_edges() == 0:
            raise OSMError(
                f"{where}: no passenger rail left after filtering (railway in {sorted(rail_options.kinds)}, "
                f"service not in {sorted(rail_options.excluded_services)})"
            )
        graphs["rail"] = rail
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
        ``"auto"`` (osmnx's parser for XML, pyosmium for PBF) or ``"osmium"`` for both.
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
    data = read_osm(path, engine=engine, progress=progress)
    graphs = _build(
        data, network, box, road_options, rail_options, simplify, keep_attribute_changes, retain_all, options, progress
    )
    if entry is not None:
        _save_cache(entry, graphs)
    return _result(graphs, network)


def _result(graphs: dict[str, nx.MultiDiGraph], network: str) -> nx.MultiDiGraph | tuple[nx.MultiDiGraph, ...]:
    if network == "both":
        return graphs["road"], graphs["rail"]
    return graphs[network]


def _overpass_data(polygon: Any, network: Network, rail_options: RailOptions, road_options: RoadOptions) -> OSMData:
    """Download road/rail ways and station nodes inside ``polygon`` (osmnx's Overpass client)."""
    from osmnx import _overpass

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
    import osmnx as ox

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
