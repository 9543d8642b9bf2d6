"""Conflate an untagged graph with a catalogue of named lines (rail lines, expressways).

A catalogued line is an ordered list of stops (stations or waypoints) with a speed. Each
stop is snapped to the nearest graph node; between consecutive stops the shortest path by
length is taken as the line's alignment when it is no longer than ``max_detour`` times the
great-circle distance (plus ``detour_slack_km``). Edges on that alignment get the line's
speed (the first catalogued line replaces the default speed, then the fastest line on an
edge wins) and its id. Where the graph has no such path (the
line is missing from the data, e.g. opened after the snapshot), a direct edge is added with
``length = added_length_factor x great-circle distance``; the report says which segments
were matched and which were added. A line with a ``straight_factor`` (high-speed lines,
which run nearly straight) gets a direct edge of that factor x the great-circle distance
wherever the matched or missing path is longer; the matched path is then only tagged with
the line, not sped up, since it is most likely an older, windier line beside it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from networks.errors import InputError
from networks.geometry import NearestNodes, haversine_km, travel_time_s
from networks.paths import CompiledGraph

__all__ = ["Stop", "CatalogueLine", "conflate_lines"]


@dataclass(frozen=True)
class Stop:
    name: str
    lon: float
    lat: float
    is_station: bool = True


@dataclass(frozen=True)
class CatalogueLine:
    id: str
    speed_kph: float
    stops: Sequence[Stop]
    straight_factor: float | None = None
    attrs: dict = field(default_factory=dict)


def _apply_line(G: nx.MultiDiGraph, u: Hashable, v: Hashable, speed: float | None, line_id: str) -> None:
    """Tag both directions of ``u-v`` with ``line_id`` and give them the line's speed.

    The first catalogued line on an edge replaces the default speed (even a slower one);
    where several lines share an edge the fastest wins. ``speed=None`` only tags.
    """
    for a, b in ((u, v), (v, u)):
        if not G.has_edge(a, b):
            continue
        for data in G[a][b].values():
            first = not data.get("lines")
            if line_id:
                data["lines"] = tuple(sorted(set(data.get("lines", ())) | {line_id}))
            if speed is not None:
                _set_speed(data, speed, only_faster=not first)


def _set_speed(data: dict, speed: float, *, only_faster: bool) -> None:
    if not only_faster or speed > data["speed_kph"]:
        data["speed_kph"] = speed
        data["travel_time"] = travel_time_s(data["length"], speed)


def conflate_lines(
    G: nx.MultiDiGraph,
    lines: Sequence[CatalogueLine],
    *,
    mode: str,
    max_snap_km: float = 3.0,
    max_detour: float = 1.3,
    detour_slack_km: float = 3.0,
    added_length_factor: float = 1.1,
    station_link_speed_kph: float | None = None,
) -> pd.DataFrame:
    """Conflate ``lines`` into ``G`` in place; return one report row per segment.

    Every stop becomes a named node (``name``; ``station=True`` for stations, False for
    waypoints such as bridge ends), linked to the nearest graph node when it is within
    ``max_snap_km`` (otherwise it stands alone and its segments are added). Stops of the
    same name share one node. The link from a stop to its graph node runs at
    ``station_link_speed_kph``, or by default at the fastest line serving the stop, since
    the offset is the data's simplified geometry, not a real detour.
    """
    if G.number_of_nodes() == 0:
        raise InputError("cannot conflate lines into an empty graph")
    nearest = NearestNodes(G)
    base_nodes = set(G.nodes)
    next_id = max(n for n in G.nodes if isinstance(n, (int, np.integer))) + 1
    station_node: dict[str, Hashable] = {n_name: n for n, n_name in G.nodes(data="name") if n_name is not None}
    snapped: dict[Hashable, Hashable | None] = {}

    def stop_node(stop: Stop, speed: float) -> tuple[Hashable, Hashable | None]:
        nonlocal next_id
        (near, dist), = nearest.nearest(stop.lon, stop.lat)
        anchor = near if dist <= max_snap_km else None
        if stop.name in station_node:
            node = station_node[stop.name]
            anchor = snapped.get(node)
            if anchor is not None and station_link_speed_kph is None:
                # the link to the track runs at the fastest line serving the stop
                for data in [*G[node][anchor].values(), *G[anchor][node].values()]:
                    _set_speed(data, speed, only_faster=True)
            return node, anchor
        node = next_id
        next_id += 1
        G.add_node(node, x=stop.lon, y=stop.lat, station=stop.is_station, name=stop.name)
        station_node[stop.name] = node
        snapped[node] = anchor
        if anchor is not None:
            km = max(dist, 0.05)
            link_speed = speed if station_link_speed_kph is None else station_link_speed_kph
            for a, b in ((node, anchor), (anchor, node)):
                G.add_edge(a, b, mode=mode, length=km * 1000.0, speed_kph=link_speed,
                           travel_time=travel_time_s(km * 1000.0, link_speed),
                           link="station" if stop.is_station else "waypoint")
        return node, anchor

    compiled = CompiledGraph(G.subgraph(base_nodes), weight="length")
    rows = []
    for line in lines:
        if line.speed_kph <= 0:
            raise InputError(f"line {line.id!r}: speed {line.speed_kph} must be > 0")
        if len(line.stops) < 2:
            raise InputError(f"line {line.id!r}: needs at least two stops, got {len(line.stops)}")
        resolved = [(stop, *stop_node(stop, line.speed_kph)) for stop in line.stops]
        for (a, a_node, a_anchor), (b, b_node, b_anchor) in zip(resolved, resolved[1:]):
            geodesic = float(haversine_km(a.lon, a.lat, b.lon, b.lat))
            path_km = np.inf
            path: list = []
            if a_anchor is not None and b_anchor is not None:
                dist, pred = compiled.tree(a_anchor)
                path_km = dist[compiled.index[b_anchor]] / 1000.0
                if np.isfinite(path_km):
                    path = compiled.walk(pred, a_anchor, b_anchor)
            matched = path_km <= max_detour * geodesic + detour_slack_km
            status = "matched" if matched else "added"
            length_km = path_km
            straight = line.straight_factor is not None and path_km > line.straight_factor * geodesic
            if matched:
                # a straight line beside a windier matched path is a different track: tag the
                # path as the line's corridor but keep its own (slower) speed
                speed = None if straight else line.speed_kph
                for u, v in zip(path, path[1:]):
                    _apply_line(G, u, v, speed, line.id)
            if straight:
                length_km, status = line.straight_factor * geodesic, f"{status}+straight"
            elif not matched:
                length_km = added_length_factor * geodesic
            if straight or not matched:
                attrs = {"mode": mode, "length": length_km * 1000.0, "speed_kph": line.speed_kph,
                         "travel_time": travel_time_s(length_km * 1000.0, line.speed_kph), "lines": (line.id,),
                         "source": "catalogue"}
                G.add_edge(a_node, b_node, **attrs)
                G.add_edge(b_node, a_node, **attrs)
            rows.append({
                "line": line.id, "from": a.name, "to": b.name, "geodesic_km": round(geodesic, 2),
                "graph_km": round(path_km, 2) if np.isfinite(path_km) else None,
                "length_km": round(length_km, 2), "status": status,
            })
    return pd.DataFrame(rows)
