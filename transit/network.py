"""The YRD base network: embedded OSM-derived graphs conflated with the curated catalogues.

* Rail: the embedded railway graph at the conventional speed; catalogued lines in service
  (``data/rail_lines.json``) are conflated into it: edges along a line get its commercial
  speed (``rail.speed_factor`` x its maximum operating speed), lines the snapshot lacks are
  added from the catalogue, and every catalogued station becomes a node.  The graph is then
  expanded into line layers (:mod:`networks.lines`): a change of line costs
  ``rail.line_change_min``, a journey along one line nothing.
* Road: the embedded highway graph at ``road.other_kph``; the catalogued expressways
  (``data/expressways.json``) get ``road.expressway_kph``; sea bridges the snapshot lacks are
  added from their waypoints.
  Untagged edges get the lanes and lane capacities of the OSM defaults
  (:mod:`networks.osm_tags`) for their class: expressways as ``motorway``, others as
  ``primary``, so the road model can be assigned under congestion.
* Zones (``data/zones.csv``, county level; or the 19 cities) connect to both by access links
  (``networks.multimodal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from networks import osm_tags
from networks.conflate import CatalogueLine, Stop, conflate_lines
from networks.embedded import embedded_graph
from networks.geometry import travel_time_s
from networks.lines import contract_chains, line_layers
from networks.multimodal import AccessParameters, compose_multimodal
from networks.errors import CatalogueError
from transit.catalogue import load_cities, load_expressways, load_rail_lines
from transit.config import DATA_DIR
from transit.model.zones import zones_for

__all__ = ["BaseNetwork", "LINE_NODE_OFFSET", "RAIL_NODE_OFFSET", "access_parameters", "build_base_network",
           "rail_routing"]

RAIL_NODE_OFFSET = 10**13  # rail node ids start here: above any road node id, OSM's included
LINE_NODE_OFFSET = 2 * 10**13  # the line layers' node ids (networks.lines) start here


@dataclass
class BaseNetwork:
    """The composed multimodal graph plus its parts and the conflation reports."""

    graph: nx.MultiDiGraph
    road: nx.MultiDiGraph
    rail: nx.MultiDiGraph
    zones: pd.DataFrame
    rail_report: pd.DataFrame
    road_report: pd.DataFrame
    source: str = "embedded"

    @property
    def description(self) -> str:
        embedded = ("OpenStreetMap-derived graphs of the package scgraph-data 2.0.0 ((c) OpenStreetMap "
                    "contributors, ODbL; the YRD extract in `data/osm/`), conflated with the curated catalogues in `data/` (rail lines in "
                    "service, expressways; see `data/SOURCES.md`)")
        if self.source == "embedded":
            return f"rail and road: {embedded}."
        return f"{self.source}; other modes: {embedded}."


def access_parameters(config: dict[str, Any]) -> AccessParameters:
    access = config["access"]
    return AccessParameters(
        local_kph=access["local_kph"], rail_access_min=access["rail_access_min"],
        rail_egress_min=access["rail_egress_min"], stop_penalty_min=config["rail"]["stop_penalty_min"],
        road_terminal_min=access["road_terminal_min"], station_radius_km=access["station_radius_km"],
        road_connectors=int(access["road_connectors"]), road_max_snap_km=config["road"]["max_snap_km"],
        city_stations=config.get("zones", {}).get("level", "county") == "city",
    )


def rail_catalogue_lines(lines: list[dict[str, Any]], *, speed_factor: float, straight_factor: float
                         ) -> list[CatalogueLine]:
    out = []
    for line in lines:
        top = line.get("max_operating_speed_kmh") or line["design_speed_kmh"]
        stops = [Stop(s["name_en"], float(s["lon"]), float(s["lat"])) for s in line["stations"]]
        straight = straight_factor if line.get("category") in ("hsr", "intercity") else None
        out.append(CatalogueLine(id=line["id"], speed_kph=speed_factor * float(top), stops=stops,
                                 straight_factor=straight, attrs={"name_en": line.get("name_en", line["id"])}))
    return out


def add_stop_allowance(rail: nx.MultiDiGraph, minutes_per_km: float) -> None:
    """Add the intermediate-stop allowance (minutes per km) to every rail edge's time, in place.

    The fastest trains stop more often on longer trips; a per-km allowance, calibrated with the
    speed factor and the stop penalty, carries that (transfers and platform links excepted).
    """
    if minutes_per_km <= 0:
        return
    for _, _, data in rail.edges(data=True):
        if data.get("mode", "rail") == "rail" and data.get("link") != "transfer":
            data["travel_time"] += 60.0 * minutes_per_km * data["length"] / 1000.0


def embedded_extract(dataset: str) -> Path:
    """The shipped YRD extract of an embedded dataset (``data/osm/yrd_<dataset>.npz``).

    It covers 115-125 E, 25-35 N; a configured ``network.bbox`` beyond it needs the world
    graphs (``pip install scgraph-data==2.0.0``).
    """
    return DATA_DIR / "osm" / f"yrd_{dataset}.npz"


def lines_open(lines: list[dict[str, Any]], as_of: str | None) -> list[dict[str, Any]]:
    """The catalogued lines opened on or before ``as_of`` (``YYYY-MM-DD``; ``None``: all)."""
    return lines if as_of is None else [line for line in lines if str(line.get("opened") or "") <= str(as_of)]


def build_rail(config: dict[str, Any], *, use_cache: bool = True, as_of: str | None = None
               ) -> tuple[nx.MultiDiGraph, pd.DataFrame]:
    """The embedded rail graph with the catalogued lines conflated onto it.

    ``as_of`` (``YYYY-MM-DD``) keeps only the catalogued lines opened on or before that date:
    the network a timetable of that date ran on (track in the OSM snapshot that a later line
    uses stays, at the conventional speed).
    """
    rail_cfg = config["rail"]
    rail = embedded_graph("railways", bbox=tuple(config["network"]["bbox"]), mode="rail",
                          speed_kph=rail_cfg["conventional_kph"], node_offset=RAIL_NODE_OFFSET, max_edge_km=1.0,
                          use_cache=use_cache, extract=embedded_extract("railways"))
    lines = lines_open(load_rail_lines(), as_of)
    report = conflate_lines(
        rail, rail_catalogue_lines(lines, speed_factor=rail_cfg["speed_factor"],
                             straight_factor=rail_cfg["hsr_length_factor"]), mode="rail",
        max_snap_km=rail_cfg["max_snap_km"], max_detour=rail_cfg["max_detour"],
        added_length_factor=rail_cfg["added_length_factor"],
    )
    add_stop_allowance(rail, rail_cfg["stop_allowance_min_per_km"])
    city_of = {s["name_en"]: s.get("city") for line in lines for s in line["stations"]}
    for node, name in rail.nodes(data="name"):
        if name is not None and city_of.get(name):
            rail.nodes[node]["city"] = city_of[name]
    rail.graph.update(name="YRD rail (embedded + catalogue)")
    return rail, report


def rail_routing(rail: nx.MultiDiGraph, config: dict[str, Any]) -> nx.MultiDiGraph:
    """The graph journeys are routed on: pass-through nodes contracted, then line layers.

    A change of line costs ``rail.line_change_min`` (:mod:`networks.lines`); the track
    graph ``rail`` itself is kept for maps and GIS layers.
    """
    routing = line_layers(contract_chains(rail), change_min=config["rail"]["line_change_min"],
                          node_offset=LINE_NODE_OFFSET)
    routing.graph.update(name=f"{rail.graph.get('name', 'rail')}, line layers")
    return routing


def build_road(config: dict[str, Any], cities: pd.DataFrame, *, use_cache: bool = True
               ) -> tuple[nx.MultiDiGraph, pd.DataFrame]:
    road_cfg = config["road"]
    road = embedded_graph("highways", bbox=tuple(config["network"]["bbox"]), mode="road",
                          speed_kph=road_cfg["other_kph"], use_cache=use_cache,
                          extract=embedded_extract("highways"))
    routes = load_expressways(cities)
    lines = [
        CatalogueLine(id=r["id"], speed_kph=road_cfg["expressway_kph"],
                      stops=[Stop(s["name"], s["lon"], s["lat"], is_station=False) for s in r["stops"]])
        for r in routes
    ]
    report = conflate_lines(road, lines, mode="road", max_snap_km=road_cfg["max_snap_km"],
                            max_detour=1.5, detour_slack_km=5.0, added_length_factor=1.05,
                            station_link_speed_kph=road_cfg["other_kph"])
    for _, _, data in road.edges(data=True):
        highway = "motorway" if data["speed_kph"] >= road_cfg["expressway_kph"] else "primary"
        lanes = osm_tags.DEFAULT_LANES_PER_DIRECTION[highway]
        data.update(highway=highway, lanes=lanes, capacity=osm_tags.road_capacity_vph(highway, lanes))
    road.graph.update(name="YRD road (embedded + expressways)")
    return road, report


def osm_graphs(path: str, network: str, config: dict[str, Any], *, use_cache: bool = True
               ) -> dict[str, nx.MultiDiGraph]:
    """Road and/or rail graphs of a user's OSM file (XML or PBF), ready to replace the default.

    Rail nodes are renumbered from ``RAIL_NODE_OFFSET`` (OSM road and rail ways share
    nodes at level crossings; the composed graph keeps the modes apart). Rail speeds from
    ``maxspeed`` are maximum speeds, so they are scaled by ``rail.speed_factor`` as the
    catalogued lines are.
    """
    from networks.osm import graph_from_osm

    built = graph_from_osm(path, network=network, cache=use_cache, progress=False)
    graphs = dict(zip(("road", "rail"), built)) if network == "both" else {network: built}
    if "rail" in graphs:
        rail = graphs["rail"]
        mapping = {n: RAIL_NODE_OFFSET + i for i, n in enumerate(rail.nodes)}
        rail = nx.relabel_nodes(rail, mapping, copy=True)
        factor = config["rail"]["speed_factor"]
        for _, _, data in rail.edges(data=True):
            data["speed_kph"] = data["speed_kph"] * factor
            data["travel_time"] = travel_time_s(data["length"], data["speed_kph"])
        graphs["rail"] = rail
    return graphs


def check_stations_on_lines(rail: nx.MultiDiGraph) -> None:
    """Every catalogued station must lie on a line: a station left without rail edges is an error.

    A station farther than ``rail.max_snap_km`` from the track, with no catalogued segment to a
    neighbour, would stand alone and silently serve no trip.
    """
    for node, data in rail.nodes(data=True):
        if data.get("station") and rail.degree(node) == 0:
            raise CatalogueError(f"data/rail_lines.json: station {data.get('name', node)!r} has no line: it is not "
                                 "joined to any track (check its coordinates and the lines that list it)")


def build_base_network(
    config: dict[str, Any],
    *,
    use_cache: bool = True,
    osm: str | None = None,
    osm_network: str = "both",
) -> BaseNetwork:
    """Build the base (2025) multimodal network: the embedded default, or a user's OSM file.

    With ``osm``, the modes named by ``osm_network`` ("road", "rail" or "both") come from
    that file (:func:`networks.osm.graph_from_osm`, full tag semantics) and the others from
    the embedded default.
    """
    cities = load_cities()
    zones = zones_for(config, cities)
    replaced = osm_graphs(osm, osm_network, config, use_cache=use_cache) if osm else {}
    empty = pd.DataFrame(columns=["line", "from", "to", "geodesic_km", "graph_km", "length_km", "status"])
    if "rail" in replaced:
        rail, rail_report = replaced["rail"], empty
    else:
        rail, rail_report = build_rail(config, use_cache=use_cache)
    if "road" in replaced:
        road, road_report = replaced["road"], empty
    else:
        road, road_report = build_road(config, cities, use_cache=use_cache)
    if "rail" not in replaced:
        check_stations_on_lines(rail)
    graph = compose_multimodal(road, rail_routing(rail, config), zones, params=access_parameters(config), key="zone")
    source = "embedded"
    if replaced:
        source = f"{' and '.join(sorted(replaced))} from the OSM file {osm} ((c) OpenStreetMap contributors, ODbL)"
    return BaseNetwork(graph=graph, road=road, rail=rail, zones=zones, rail_report=rail_report,
                       road_report=road_report, source=source)
