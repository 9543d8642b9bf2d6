"""The YRD optimisation model: base network, projects, demand and objective pairs.

The stated model (free flow): minimise the sum, over the objective pairs (every ordered
pair of cities on one axis, and the Hangzhou Bay link pairs), of daily demand x the
door-to-door time of the fastest path in the multimodal graph (best of rail and road),
choosing projects under the budget, dependencies, exclusions and optional per-member
caps. Times are in minutes, so the objective is in trip-minutes per day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from networks.errors import InputError
from networks.multimodal import zone_node
from networks.paths import CompiledGraph
from solvers import selection
from transit.catalogue import Axis, Member, Project, load_axes, load_projects
from transit.demand import gravity_demand
from transit.network import BaseNetwork, build_base_network
from transit.projects import MappedProject, map_projects

__all__ = ["YRDModel", "build_model", "objective_pairs", "DesignSkim"]

ROAD_MODES = frozenset({"road", "connector"})
RAIL_MODES = frozenset({"rail", "access"})


def objective_pairs(axes: list[Axis], cities: pd.DataFrame, config: dict[str, Any]) -> list[tuple[str, str]]:
    """Ordered city pairs in the objective: the axes' and the bay link's, or all pairs."""
    if config["objective"]["pairs"] == "all":
        names = list(cities["name_en"])
        return [(a, b) for a in names for b in names if a != b]
    seen: dict[tuple[str, str], None] = {}
    for axis in axes:
        for pair in axis.pairs():
            seen.setdefault(pair, None)
    return list(seen)


@dataclass
class DesignSkim:
    """Times (minutes) between every ordered zone pair for one design."""

    best: pd.DataFrame
    rail: pd.DataFrame  # station to station, including dwell and the stop penalties
    rail_door: pd.DataFrame
    road: pd.DataFrame


@dataclass
class YRDModel:
    config: dict[str, Any]
    network: BaseNetwork
    axes: list[Axis]
    members: list[Member]
    projects: list[Project]
    mapped: list[MappedProject]
    demand: pd.DataFrame
    pairs: list[tuple[str, str]]
    nodes: list[Any] = field(default_factory=list)
    index: dict[Any, int] = field(default_factory=dict)
    arrays: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
    candidates: list[selection.Project] = field(default_factory=list)
    congestion_only: list[str] = field(default_factory=list)
    od: selection.ODDemand | None = None

    @property
    def zones(self) -> list[str]:
        return list(self.network.zones["name_en"])

    def project(self, pid: str) -> Project:
        return next(p for p in self.projects if p.id == pid)

    def design_graph(self, selected: tuple[str, ...] | list[str]) -> nx.MultiDiGraph:
        """The base graph plus the nodes and arcs of the selected projects."""
        G = self.network.graph.copy()
        chosen = set(selected)
        for item in self.mapped:
            if item.project.id in chosen:
                G.add_nodes_from(item.new_nodes)
                G.add_edges_from((u, v, attrs) for u, v, attrs in item.arcs if not attrs.get("widening"))
        return G

    def skim(self, selected: tuple[str, ...] | list[str] = ()) -> DesignSkim:
        """Best, rail and road door-to-door times for a design, plus station-to-station rail."""
        G = self.design_graph(selected)
        zones = self.zones
        origins = [zone_node(z, "o") for z in zones]
        destinations = [zone_node(z, "d") for z in zones]

        def frame(values: np.ndarray) -> pd.DataFrame:
            values = np.where(np.isfinite(values), values, np.nan)  # no path: empty, not infinite
            out = pd.DataFrame(values / 60.0, index=zones, columns=zones)
            for z in zones:
                out.loc[z, z] = np.nan
            return out

        best = CompiledGraph(G, weight="travel_time").lengths(origins, destinations)
        road = CompiledGraph(G, weight=lambda u, v, d: d["travel_time"] if d["mode"] in ROAD_MODES else None)
        rail = CompiledGraph(G, weight=lambda u, v, d: d["travel_time"] if d["mode"] in RAIL_MODES else None)
        rail_door = rail.lengths(origins, destinations)
        access_time = {}
        for u, v, d in G.edges(data=True):
            if d["mode"] == "access":
                key = (u, v)
                access_time[key] = min(access_time.get(key, np.inf), d["access_time"])
        in_vehicle = np.full_like(rail_door, np.nan)
        for i, origin in enumerate(origins):
            dist, pred = rail.tree(origin)
            for j, destination in enumerate(destinations):
                if i == j or not np.isfinite(rail_door[i, j]):
                    continue
                walk = rail.walk(pred, origin, destination)
                first, last = (walk[0], walk[1]), (walk[-2], walk[-1])
                in_vehicle[i, j] = rail_door[i, j] - access_time[first] - access_time[last]
        return DesignSkim(best=frame(best), rail=frame(in_vehicle), rail_door=frame(rail_door),
                          road=frame(road.lengths(origins, destinations)))


def build_model(
    config: dict[str, Any],
    *,
    projects_path: str | None = None,
    axes_path: str | None = None,
    exclude_projects: tuple[str, ...] = (),
    use_cache: bool = True,
    osm: str | None = None,
    osm_network: str = "both",
) -> YRDModel:
    """Assemble the base network, catalogue, demand and the solver's view of them.

    ``osm`` swaps the embedded default for the user's OSM file (modes in ``osm_network``).
    """
    network = build_base_network(config, use_cache=use_cache, osm=osm, osm_network=osm_network)
    axes = load_axes(network.zones, axes_path)
    members, projects = load_projects(projects_path, axis_ids=[a.id for a in axes])
    if exclude_projects:
        unknown = sorted(set(exclude_projects) - {p.id for p in projects})
        if unknown:
            raise InputError(f"--exclude-project: unknown project id(s) {unknown}")
        dropped = set(exclude_projects)
        while True:  # a project that needs a dropped one goes too
            more = {p.id for p in projects if p.id not in dropped and dropped & set(p.requires)}
            if not more:
                break
            dropped |= more
        projects = [p for p in projects if p.id not in dropped]
    mapped = map_projects(projects, network.graph, network.zones, config)
    demand = gravity_demand(network.zones, config)
    pairs = objective_pairs(axes, network.zones, config)
    model = YRDModel(config=config, network=network, axes=axes, members=members, projects=projects,
                     mapped=mapped, demand=demand, pairs=pairs)
    _compile(model)
    return model


def _compile(model: YRDModel) -> None:
    """Integer arc arrays of the base graph and the projects, for the exact solver (minutes)."""
    G = model.network.graph
    nodes = list(G.nodes)
    for item in model.mapped:
        nodes += [n for n, _ in item.new_nodes]
    nodes = list(dict.fromkeys(nodes))  # shared new stations appear once
    index = {n: i for i, n in enumerate(nodes)}
    tails, heads, times = [], [], []
    for u, v, d in G.edges(data=True):
        tails.append(index[u])
        heads.append(index[v])
        times.append(d["travel_time"] / 60.0)
    model.nodes, model.index = nodes, index
    model.arrays = (len(nodes), np.asarray(tails), np.asarray(heads), np.asarray(times))
    # A widening changes no free-flow time: it is valued only under congestion.
    model.congestion_only = [item.project.id for item in model.mapped
                             if item.arcs and all(a.get("widening") for _, _, a in item.arcs)]
    present = {p.id for p in model.projects} - set(model.congestion_only)
    for p in model.projects:
        needed = set(p.requires) & set(model.congestion_only)
        if p.id in present and needed:
            raise InputError(f"project {p.id!r} requires {sorted(needed)}, a road widening that the free-flow "
                             "model cannot value; model it as a new link or drop the dependency")
    model.candidates = [
        selection.Project(
            id=item.project.id,
            cost=item.project.cost_bn_cny,
            arcs=tuple((index[u], index[v], a["travel_time"] / 60.0) for u, v, a in item.arcs),
            member=item.project.lead_member or None,
            requires=item.project.requires,
            excludes=tuple(x for x in item.project.excludes if x in present),
        )
        for item in model.mapped if item.project.id in present
    ]
    demand = model.demand.set_index(["origin", "destination"])["demand"]
    model.od = selection.ODDemand(
        origins=np.array([index[zone_node(a, "o")] for a, _ in model.pairs]),
        destinations=np.array([index[zone_node(b, "d")] for _, b in model.pairs]),
        demand=np.array([demand[(a, b)] for a, b in model.pairs]),
    )
