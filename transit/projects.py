"""Turn catalogue projects into the arcs they add to the base network.

Rail projects: each alignment point is an existing station (same English name, or a
station within ``SAME_STATION_KM``) or a new station; consecutive points are joined by
line arcs at the commercial speed (``rail.speed_factor`` x design speed) with the
project's published length spread over the segments (or ``rail.added_length_factor`` x
the great-circle distance when no length is given). New stations get access links to
the zones within ``access.station_radius_km`` (those links exist only with the project).

Road projects: each point snaps to the nearest road node (within ``road.max_snap_km``);
consecutive points are joined by road arcs at ``min(design speed, road.expressway_kph)``.
A widening adds no free-flow time saving (speed does not change); its value appears
only under congestion, which the free-flow optimiser states in its report.

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
from networks.geometry import NearestNodes, haversine_km
from networks.multimodal import add_access_links, zone_node
from transit.catalogue import Project

__all__ = ["MappedProject", "map_projects", "SAME_STATION_KM", "STUDY_AREA_MARGIN_DEG"]

SAME_STATION_KM = 2.0
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


def map_projects(
    projects: list[Project],
    graph: nx.MultiDiGraph,
    zones: Any,
    config: dict[str, Any],
) -> list[MappedProject]:
    """Map every project onto ``graph`` (the base multimodal graph, not modified)."""
    stations = [n for n, s in graph.nodes(data="station") if s]
    road_nodes = {u for u, _, mode in graph.edges(data="mode") if mode == "road"}
    station_by_name = {graph.nodes[n].get("name"): n for n in stations}
    station_index = NearestNodes(graph, stations) if stations else None
    road_index = NearestNodes(graph, sorted(road_nodes, key=str)) if road_nodes else None
    zone_lon = zones["lon"].to_numpy(float)
    zone_lat = zones["lat"].to_numpy(float)
    zone_names = list(zones["name_en"])
    access = config["access"]
    new_station_by_name: dict[str, tuple[Any, MappedProject]] = {}
    mapped: list[MappedProject] = []
    for project in projects:
        item = MappedProject(project)
        nodes: list[Any] = []
        for j, point in enumerate(project.alignment):
            lon, lat = float(point["lon"]), float(point["lat"])
            name = point.get("name_en") or f"{project.id} point {j}"
            where = f"project {project.id!r} point {name!r} ({lon}, {lat})"
            west, south, east, north = config["network"]["bbox"]
            margin = STUDY_AREA_MARGIN_DEG
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
                nodes.append(node)
                item.points.append({"name": name, "node": node, "snap_km": round(km, 2), "kind": "road node"})
                continue
            node = station_by_name.get(name)
            kind = "existing station"
            km = 0.0
            if node is None and station_index is not None:
                (near, near_km), = station_index.nearest(lon, lat)
                if near_km <= SAME_STATION_KM:
                    node, km, kind = near, near_km, "existing station (nearby)"
            if node is None and name in new_station_by_name:
                node, kind = new_station_by_name[name][0], "new station (shared)"
            if node is None:
                zone_km = haversine_km(lon, lat, zone_lon, zone_lat)
                node = f"project:{project.id}:{j}"
                kind = "new station"
                item.new_nodes.append((node, {"x": lon, "y": lat, "station": True, "name": name,
                                              "project": project.id}))
                new_station_by_name[name] = (node, item)
                for z in np.flatnonzero(zone_km <= access["station_radius_km"]):
                    local = float(zone_km[z]) / access["local_kph"] * 60.0
                    scratch = nx.MultiDiGraph()
                    links = add_access_links(
                        scratch, zone_node(zone_names[z], "o"), zone_node(zone_names[z], "d"), node,
                        km=float(zone_km[z]), access_min=access["rail_access_min"] + local,
                        egress_min=access["rail_egress_min"] + local,
                        stop_penalty_min=config["rail"]["stop_penalty_min"])
                    item.arcs += [(u, v, {**a, "project": project.id}) for u, v, a in links]
            nodes.append(node)
            item.points.append({"name": name, "node": node, "snap_km": round(km, 2), "kind": kind})
        lon = [float(p["lon"]) for p in project.alignment]
        lat = [float(p["lat"]) for p in project.alignment]
        geodesics = [float(haversine_km(lon[k], lat[k], lon[k + 1], lat[k + 1])) for k in range(len(lon) - 1)]
        if project.mode == "rail":
            speed = config["rail"]["speed_factor"] * project.design_speed_kmh
            factor = _length_factor(project, geodesics, config["rail"]["added_length_factor"])
        else:
            speed = min(project.design_speed_kmh, config["road"]["expressway_kph"])
            factor = _length_factor(project, geodesics, 1.05)
        for (a, b), km in zip(zip(nodes, nodes[1:]), geodesics):
            if a == b:
                continue
            length = km * factor
            attrs = {"mode": project.mode, "length": length * 1000.0, "speed_kph": speed,
                     "travel_time": length / speed * 3600.0, "project": project.id}
            item.arcs += [(a, b, dict(attrs)), (b, a, dict(attrs))]
        mapped.append(item)
    return mapped
