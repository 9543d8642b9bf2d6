"""Turn catalogue projects into the arcs they add to the base network.

Rail projects: each alignment point is an existing station (same English name, or a
station within ``SAME_STATION_KM``) or a new station; consecutive points are joined by
line arcs at the commercial speed (``rail.speed_factor`` x design speed) with the
project's published length spread over the segments (or ``rail.added_length_factor`` x
the great-circle distance when no length is given). New stations get access links to
the zones within ``access.station_radius_km`` (those links exist only with the project).

Road projects: each point snaps to the nearest road node (within ``road.max_snap_km``);
consecutive points are joined by road arcs at ``min(design speed, road.expressway_kph)``
with a capacity per direction. A widening (``kind="upgrade"``) is the same arcs flagged
``widening``: the free-flow model leaves them out (speed does not change, so it saves
nothing), the congestion model counts their added lanes as capacity.

A rail project that stops at an existing station gets its own platform there, its own line
layer in the sense of :mod:`networks.lines`: boarded from the station and left to the
station's arrival node for free, joined to the existing lines by a change of
``rail.line_change_min`` each way (the same penalty as a change between existing lines).
New stations are shared by every project that names them.

Every point must lie inside the study area (the network bbox, plus
``STUDY_AREA_MARGIN_DEG`` for line termini just outside it): a point outside is a typo or
swapped coordinates, and an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from networks.errors import CatalogueError
from networks import osm_tags
from networks.geometry import NearestNodes, haversine_km, travel_time_s
from networks.multimodal import add_access_links, zone_node
from transit.catalogue import Project

__all__ = ["MappedProject", "map_projects", "SAME_STATION_KM", "STUDY_AREA_MARGIN_DEG"]

SAME_STATION_KM = 2.0
DEFAULT_NEW_ROAD_LANES = 6  # both directions, a typical new expressway or sea bridge
STUDY_AREA_MARGIN_DEG = 0.25  # project points may lie this far outside the network bbox (line termini)


@dataclass
class MappedProject:
    """A catalogue project with the nodes and arcs it adds to the base graph."""

    project: Project
    new_nodes: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    arcs: list[tuple[Any, Any, dict[str, Any]]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)


def _length_factor(project: Project, geodesics: list[float], default: float) -> float:
    total = float(sum(geodesics))
    if project.length_km and total > 0:
        return float(np.clip(float(project.length_km) / total, 1.0, 1.6))
    return default


def _rail_point(
    graph: nx.MultiDiGraph,
    project: Project,
    name: str,
    lon: float,
    lat: float,
    *,
    station_by_name: dict[str, Any],
    station_index: NearestNodes | None,
    zones: Any,
    config: dict[str, Any],
    item: MappedProject,
) -> tuple[Any, float, str]:
    """The project's node at one alignment point, adding its platform or new station."""
    station = station_by_name.get(name)
    km = 0.0
    if station is None and station_index is not None:
        (near, near_km), = station_index.nearest(lon, lat)
        if near_km <= SAME_STATION_KM:
            station, km = near, near_km
    if station is not None:
        # The project's own platform: boarded from the station (departure node) for free, left
        # to its arrival node for free, and joined to the existing lines through a change of
        # line (``rail.line_change_min``) each way, as lines of the base network are.
        platform = f"project:{project.id}:platform:{graph.nodes[station].get('name', station)}"
        data = graph.nodes[station]
        arrival = data.get("arrival", station)
        item.new_nodes.append((platform, {"x": data["x"], "y": data["y"], "station": False,
                                          "platform_of": data.get("name", str(station)), "project": project.id}))
        change = config["rail"]["line_change_min"] * 60.0
        link = {"mode": "rail", "length": 0.0, "project": project.id}
        if arrival == station:  # a rail graph without line layers: a change each way
            item.arcs += [(station, platform, {**link, "travel_time": change, "link": "change"}),
                          (platform, station, {**link, "travel_time": change, "link": "change"})]
            for u, _, attrs in graph.in_edges(station, data=True):
                if attrs.get("mode") == "access":
                    item.arcs.append((u, platform, {**attrs, "project": project.id}))
            for _, v, attrs in graph.out_edges(station, data=True):
                if attrs.get("mode") == "access":
                    item.arcs.append((platform, v, {**attrs, "project": project.id}))
        else:
            item.arcs += [(station, platform, {**link, "travel_time": 0.0, "link": "board"}),
                          (platform, arrival, {**link, "travel_time": 0.0, "link": "alight"}),
                          (arrival, platform, {**link, "travel_time": change, "link": "change"}),
                          (platform, station, {**link, "travel_time": change, "link": "change"})]
        return platform, km, "existing station" if km == 0.0 else "existing station (nearby)"
    # A new station, shared by every project that names it; each adds the node and links.
    node = f"project-station:{name}"
    item.new_nodes.append((node, {"x": lon, "y": lat, "station": True, "name": name, "project": project.id}))
    access = config["access"]
    zone_km = haversine_km(lon, lat, zones["lon"].to_numpy(float), zones["lat"].to_numpy(float))
    scratch = nx.MultiDiGraph()
    serving = np.flatnonzero(zone_km <= access["station_radius_km"])
    if serving.size == 0:  # like the existing stations: a station far from every zone serves the nearest
        serving = np.array([int(np.argmin(zone_km))])
    for z in serving:
        zone = zones["zone" if "zone" in zones else "name_en"].iloc[z]
        local = float(zone_km[z]) / access["local_kph"] * 60.0
        add_access_links(scratch, zone_node(zone, "o"), zone_node(zone, "d"), node, km=float(zone_km[z]),
                         access_min=access["rail_access_min"] + local, egress_min=access["rail_egress_min"] + local,
                         stop_penalty_min=config["rail"]["stop_penalty_min"])
    item.arcs += [(u, v, {**a, "project": project.id}) for u, v, a in scratch.edges(data=True)]
    return node, 0.0, "new station"


def _main_road_nodes(graph: nx.MultiDiGraph) -> set[Any]:
    """Road nodes of the largest strongly connected road component.

    A road project's ends snap only to these, so every end is reachable from the rest of the
    network and can reach it (not merely near a node of an island of the data).
    """
    road = nx.DiGraph((u, v) for u, v, mode in graph.edges(data="mode") if mode == "road")
    if road.number_of_nodes() == 0:
        return set()
    return set(max(nx.strongly_connected_components(road), key=len))


def map_projects(
    projects: list[Project],
    graph: nx.MultiDiGraph,
    zones: Any,
    config: dict[str, Any],
) -> list[MappedProject]:
    """Map every project onto ``graph`` (the base multimodal graph, not modified)."""
    stations = [n for n, s in graph.nodes(data="station") if s]
    road_nodes = _main_road_nodes(graph)
    station_by_name = {graph.nodes[n].get("name"): n for n in stations}
    station_index = NearestNodes(graph, stations) if stations else None
    road_index = NearestNodes(graph, sorted(road_nodes, key=str)) if road_nodes else None
    west, south, east, north = config["network"]["bbox"]
    margin = STUDY_AREA_MARGIN_DEG
    mapped: list[MappedProject] = []
    for project in projects:
        item = MappedProject(project)
        nodes: list[Any] = []
        for j, point in enumerate(project.alignment):
            lon, lat = float(point["lon"]), float(point["lat"])
            name = point.get("name_en") or f"{project.id} point {j}"
            where = f"project {project.id!r} point {name!r} ({lon}, {lat})"
            if not (west - margin <= lon <= east + margin and south - margin <= lat <= north + margin):
                raise CatalogueError(f"{where} lies outside the study area {config['network']['bbox']} "
                                     "(west, south, east, north); check the coordinates (lon, lat order)")
            if project.mode == "road":
                if road_index is None:
                    raise CatalogueError(f"{where}: the base network has no road to attach a road project to")
                (node, km), = road_index.nearest(lon, lat)
                if km > config["road"]["max_snap_km"]:
                    raise CatalogueError(f"{where} is {km:.1f} km from the road network; "
                                         f"expected within {config['road']['max_snap_km']} km")
                kind = "road node"
            else:
                node, km, kind = _rail_point(graph, project, name, lon, lat, station_by_name=station_by_name,
                                             station_index=station_index, zones=zones, config=config, item=item)
            nodes.append(node)
            item.points.append({"name": name, "node": node, "snap_km": round(km, 2), "kind": kind})
        lon = [float(p["lon"]) for p in project.alignment]
        lat = [float(p["lat"]) for p in project.alignment]
        geodesics = [float(haversine_km(lon[k], lat[k], lon[k + 1], lat[k + 1])) for k in range(len(lon) - 1)]
        widening = project.mode == "road" and project.kind == "upgrade"
        if project.mode == "rail":
            speed = config["rail"]["speed_factor"] * project.design_speed_kmh
            factor = _length_factor(project, geodesics, config["rail"]["added_length_factor"])
        else:
            speed = min(project.design_speed_kmh, config["road"]["expressway_kph"])
            factor = _length_factor(project, geodesics, 1.05)
        # lanes both ways: a new road has lanes_after (6 if not given), a widening adds the difference
        new_lanes = project.extra.get("lanes_after", DEFAULT_NEW_ROAD_LANES) - (
            project.extra.get("lanes_before", 0) if widening else 0)
        for (a, b), km in zip(zip(nodes, nodes[1:]), geodesics):
            if a == b:
                continue
            length_m = km * factor * 1000.0
            seconds = travel_time_s(length_m, speed)
            if project.mode == "rail":  # the intermediate-stop allowance, as on the existing lines
                seconds += 60.0 * config["rail"]["stop_allowance_min_per_km"] * length_m / 1000.0
            attrs = {"mode": project.mode, "length": length_m, "speed_kph": speed,
                     "travel_time": seconds, "project": project.id}
            if project.mode == "road":
                # capacity per direction for the congestion model; a widening adds its new lanes
                attrs.update(highway="motorway", lanes=max(1, int(new_lanes) // 2), widening=widening)
                attrs["capacity"] = osm_tags.road_capacity_vph("motorway", attrs["lanes"])
            item.arcs += [(a, b, dict(attrs)), (b, a, dict(attrs))]
        mapped.append(item)
    return mapped
