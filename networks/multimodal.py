"""The multimodal graph the optimiser consumes: road + rail + zone access.

Each zone gets two nodes, an origin (only outgoing links) and a destination (only
incoming links), so no path runs through a zone: a trip is door to door by road, or by
rail with access and egress legs, never a chain of both through a third city. That makes
"best of rail and road per pair" a single shortest path.

Edge modes: ``road`` and ``rail`` (from the input graphs), ``connector`` (zone to road),
``access`` (zone to station and station to zone; from the station's ``arrival`` node when the
rail graph has line layers, :mod:`networks.lines`). Access links carry ``access_time``, the
part of their time that is not rail (walking, local transport, security check), so the
station-to-station rail time of a door-to-door path is its time minus the access parts.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import networkx as nx
import pandas as pd

from networks.errors import InputError
from networks.geometry import NearestNodes, haversine_km

__all__ = ["AccessParameters", "compose_multimodal", "zone_node", "ZONE_MODES"]

ZONE_MODES = ("connector", "access")


@dataclass(frozen=True)
class AccessParameters:
    """How zones reach the networks (times in minutes, speeds in km/h, distances in km)."""

    local_kph: float = 25.0
    rail_access_min: float = 20.0
    rail_egress_min: float = 5.0
    stop_penalty_min: float = 6.5
    road_terminal_min: float = 5.0
    station_radius_km: float = 35.0
    road_connectors: int = 3
    road_max_snap_km: float = 10.0
    city_stations: bool = True  # also link every station of the zone's city, whatever the distance


def zone_node(name: str, role: str) -> str:
    """Node id of a zone's origin (``role="o"``) or destination (``role="d"``)."""
    if role not in ("o", "d"):
        raise ValueError(f"role must be 'o' or 'd', got {role!r}")
    return f"zone:{name}:{role}"


def _check_modes(G: nx.MultiDiGraph | None, mode: str) -> None:
    if G is None:
        return
    for u, v, data in G.edges(data=True):
        if "travel_time" not in data or "length" not in data:
            raise InputError(f"{mode} graph edge ({u!r}, {v!r}) lacks 'travel_time' or 'length'")
        data.setdefault("mode", mode)


def compose_multimodal(
    road: nx.MultiDiGraph | None,
    rail: nx.MultiDiGraph | None,
    zones: pd.DataFrame | None = None,
    *,
    params: AccessParameters | None = None,
    key: str = "name_en",
) -> nx.MultiDiGraph:
    """Compose road and rail graphs with zone connectors into one ``MultiDiGraph``.

    Parameters
    ----------
    road, rail
        osmnx-style graphs (node ``x``/``y``; edge ``length`` m, ``travel_time`` s). Node
        ids must not collide between the two. Rail station nodes have ``station=True`` and
        optionally ``city``.
    zones
        One row per zone with columns ``key``, ``lon``, ``lat`` and optionally ``city``
        (None: no zones).
    params
        Access times and radii.  A zone reaches every station within
        ``station_radius_km`` (and, with ``city_stations``, every station of its city); a zone
        with no station in reach gets the nearest one, so every zone reaches the rail network.
    key
        Column holding the zone id used in the zone nodes.

    Returns
    -------
    networkx.MultiDiGraph
        With graph attribute ``mode="multimodal"`` and ``zones`` (list of names).
    """
    params = params or AccessParameters()
    if road is None and rail is None:
        raise InputError("compose_multimodal needs a road graph, a rail graph, or both")
    _check_modes(road, "road")
    _check_modes(rail, "rail")
    if road is not None and rail is not None:
        clash = set(road.nodes) & set(rail.nodes)
        if clash:
            raise InputError(f"road and rail graphs share {len(clash)} node id(s), e.g. {next(iter(clash))!r}; "
                             "offset one of them")
    G = nx.MultiDiGraph(crs="EPSG:4326", mode="multimodal", name="multimodal", zones=[])
    for part in (road, rail):
        if part is not None:
            G.add_nodes_from(part.nodes(data=True))
            G.add_edges_from(part.edges(keys=True, data=True))
    if zones is None or len(zones) == 0:
        return G
    stations = [n for n, s in rail.nodes(data="station") if s] if rail is not None else []
    station_index = NearestNodes(rail, stations) if stations else None
    road_index = None
    if road is not None and road.number_of_nodes():
        # Connect zones to the main road network only: an island of the data (a ferry-only
        # island, a road whose link the extract lacks) would leave a zone unreachable by road.
        main = max(nx.strongly_connected_components(road), key=len)
        road_index = NearestNodes(road, sorted(main, key=str))
    kph = params.local_kph
    if key not in zones.columns:
        raise InputError(f"zones: no column {key!r}; expected zone ids there")
    for zone in zones.to_dict("records"):
        name, lon, lat = zone[key], float(zone["lon"]), float(zone["lat"])
        city = zone.get("city", name)
        origin, destination = zone_node(name, "o"), zone_node(name, "d")
        G.add_node(origin, x=lon, y=lat, zone=name, role="origin")
        G.add_node(destination, x=lon, y=lat, zone=name, role="destination")
        G.graph["zones"].append(name)
        if road_index is not None:
            nearest = road_index.nearest(lon, lat, k=params.road_connectors)
            # Connectors within the snap distance; a zone with none gets its nearest road node.
            nearest = [(node, km) for node, km in nearest if km <= params.road_max_snap_km] or nearest[:1]
            for node, km in nearest:
                minutes = params.road_terminal_min + km / kph * 60.0
                attrs = {"mode": "connector", "length": km * 1000.0, "travel_time": minutes * 60.0,
                         "access_time": minutes * 60.0}
                G.add_edge(origin, node, **attrs)
                G.add_edge(node, destination, **attrs)
        if station_index is not None:
            serving = {node for node, _ in station_index.within(lon, lat, params.station_radius_km)}
            if params.city_stations:
                serving |= {n for n in stations if rail.nodes[n].get("city") == city}
            if not serving:  # no station in reach: the nearest one, whatever its distance
                serving = {node for node, _ in station_index.nearest(lon, lat)}
            for node in serving:
                data = rail.nodes[node]
                km = float(haversine_km(lon, lat, data["x"], data["y"]))
                local = km / kph * 60.0
                add_access_links(G, origin, destination, node, km=km, arrival=data.get("arrival", node),
                                 access_min=params.rail_access_min + local,
                                 egress_min=params.rail_egress_min + local,
                                 stop_penalty_min=params.stop_penalty_min)
    return G


def add_access_links(
    G: nx.MultiDiGraph,
    origin: Hashable,
    destination: Hashable,
    station: Hashable,
    *,
    km: float,
    access_min: float,
    egress_min: float,
    stop_penalty_min: float,
    arrival: Hashable | None = None,
) -> list[tuple[Hashable, Hashable, dict]]:
    """Add (and return) the access and egress links between a zone and a station.

    ``arrival``: the station's arrival node when the rail graph has line layers
    (:mod:`networks.lines`); egress leaves from there.
    """
    links = [
        (origin, station, {"mode": "access", "length": km * 1000.0,
                           "travel_time": (access_min + stop_penalty_min) * 60.0, "access_time": access_min * 60.0}),
        (station if arrival is None else arrival, destination, {"mode": "access", "length": km * 1000.0,
                                "travel_time": (egress_min + stop_penalty_min) * 60.0, "access_time": egress_min * 60.0}),
    ]
    for u, v, attrs in links:
        G.add_edge(u, v, **attrs)
    return links
