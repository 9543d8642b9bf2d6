"""Small geodesic helpers: great-circle distances and nearest-node look-ups."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

__all__ = ["haversine_km", "travel_time_s", "NearestNodes"]

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km (vectorised over numpy arrays)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS_KM * 2 * np.arcsin(np.sqrt(a))


def travel_time_s(length_m: float, speed_kph: float) -> float:
    """Seconds to cover ``length_m`` metres at ``speed_kph``."""
    return length_m / 1000.0 / speed_kph * 3600.0


class NearestNodes:
    """Nearest graph node to a point, by great-circle distance (KD-tree on 3-D unit vectors)."""

    def __init__(self, graph: nx.Graph, nodes: Sequence[Hashable] | None = None) -> None:
        self.nodes = list(graph.nodes if nodes is None else nodes)
        if not self.nodes:
            raise ValueError("no nodes to search")
        lon = np.array([graph.nodes[n]["x"] for n in self.nodes], dtype=float)
        lat = np.array([graph.nodes[n]["y"] for n in self.nodes], dtype=float)
        self._lon, self._lat = lon, lat
        self._tree = cKDTree(self._xyz(lon, lat))

    @staticmethod
    def _xyz(lon, lat) -> np.ndarray:
        lon, lat = np.radians(lon), np.radians(lat)
        return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])

    def nearest(self, lon: float, lat: float, k: int = 1) -> list[tuple[Hashable, float]]:
        """The ``k`` nearest nodes to ``(lon, lat)`` with their distances in km, closest first."""
        k = min(k, len(self.nodes))
        _, idx = self._tree.query(self._xyz(np.array([lon]), np.array([lat]))[0], k=k)
        idx = np.atleast_1d(idx)
        dist = haversine_km(lon, lat, self._lon[idx], self._lat[idx])
        return [(self.nodes[i], float(d)) for i, d in zip(idx, dist)]

    def within(self, lon: float, lat: float, radius_km: float) -> list[tuple[Hashable, float]]:
        """All nodes within ``radius_km`` of ``(lon, lat)``, closest first."""
        chord = 2 * np.sin(radius_km / EARTH_RADIUS_KM / 2)
        idx = np.asarray(self._tree.query_ball_point(self._xyz(np.array([lon]), np.array([lat]))[0], chord), int)
        if len(idx) == 0:
            return []
        dist = haversine_km(lon, lat, self._lon[idx], self._lat[idx])
        order = np.argsort(dist, kind="stable")
        return [(self.nodes[idx[i]], float(dist[i])) for i in order]
