"""Congestion-aware choice of the road projects: exact bilevel network design on the YRD roads.

The free-flow optimiser cannot value a widening and cannot see a Braess effect. This mode
takes the road projects of the catalogue (new links and widenings), the YRD road graph with
its capacities, and the car share of the gravity demand in the peak hour, and solves the
discrete network design problem exactly (:func:`solvers.dndp.solve_dndp`: user equilibrium
lower level, CP-SAT master): the set of road projects under the budget that minimises the
user-equilibrium total system travel time (vehicle-hours in the peak hour).

Stated assumptions (``[congestion]`` of the configuration):

- the equilibrium runs between city centroids (each city's centroid joins the road network by
  the connectors of all its zones): vehicles per peak hour = the city pair's daily car trips of
  the base mode choice x ``peak_hour_share`` / ``mode_choice.car_occupancy``;
- the modelled intercity trips share the roads with traffic the model does not carry
  (freight, local and other trips): they get ``1 - background_share`` of each road's
  capacity;
- BPR delays (alpha 0.15, beta 4); zone connectors do not congest;
- the assignment runs on the *corridor network*: the road edges that lie on a fastest path
  between two zones in any of these cases: free flow; free flow with expressways
  ``corridor_slowdown`` times slower (the detours drivers take when they congest); and each
  of those with every road project built. Roads used by none of them are left out, so the
  equilibrium is exact on the corridor network, not on every road of the region (the full
  embedded graph has 19,000 nodes; the corridor network a few thousand edges).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from networks.multimodal import zone_node
from networks.paths import CompiledGraph
from networks.tntp import RoadNetwork
from solvers import dndp
from transit.model import YRDModel

UE_GAP = 1e-6
VERIFY_GAP = 1e-6  # near-ties within 1e-4 are many on a regional network; 1e-6 is far below the 0.1 % optimality gap

__all__ = ["CongestionModel", "CongestionResult", "build_congestion_model", "solve_road_projects"]


@dataclass
class CongestionModel:
    network: RoadNetwork
    demand: np.ndarray
    project_ids: list[str]
    candidates: list[list[int]]
    costs: np.ndarray
    requires: list[tuple[int, int]]
    excludes: list[tuple[int, int]]


@dataclass
class CongestionResult:
    model: CongestionModel
    result: dndp.DNDPResult
    budget: float
    braess: pd.DataFrame  # each road project alone: UE TSTT change against the base network

    @property
    def selected(self) -> tuple[str, ...]:
        return tuple(sorted(self.model.project_ids[i] for i in self.result.selected))

    def summary(self) -> dict[str, Any]:
        r = self.result
        return {"selected": list(self.selected), "status": r.status, "objective_veh_h": r.objective,
                "bound_veh_h": r.bound, "gap": r.gap, "base_veh_h": r.base_objective, "ue_solves": r.ue_solves,
                "so_solves": r.so_solves, "nodes": r.nodes, "certified": r.certified, "method": r.method,
                "candidates": len(self.model.project_ids), "seconds": r.seconds, "budget_bn_cny": self.budget}


def corridor_edges(G: nx.MultiDiGraph, centroids: list[str], extra: list[tuple], *, slowdown: float) -> set:
    """Road edges on a fastest centroid-to-centroid path in any of the corridor cases.

    Paths never pass through a centroid (trips enter the road network at their origin and leave
    it at their destination): arcs into a centroid go to a separate arrival node.
    """
    keep: set = set()
    is_centroid = set(centroids)

    def arrive(node: Any) -> Any:
        return ("arrive", node) if node in is_centroid else node

    for with_projects in (False, True):
        for factor in (1.0, slowdown):
            H = nx.MultiDiGraph()
            for u, v, k, d in G.edges(keys=True, data=True):
                slow = factor if d.get("expressway") else 1.0
                H.add_edge(u, arrive(v), k, travel_time=d["travel_time"] * slow)
            if with_projects:
                for u, v, d in extra:
                    H.add_edge(u, v, travel_time=d["travel_time"] * (factor if d.get("expressway") else 1.0))
            compiled = CompiledGraph(H, weight="travel_time")
            for origin in centroids:
                _, pred = compiled.tree(origin)
                for target in centroids:
                    if target == origin:
                        continue
                    walk = compiled.walk(pred, origin, ("arrive", target))
                    walk[-1] = target
                    keep.update(zip(walk, walk[1:]))
    return keep


def car_trips(model: YRDModel) -> np.ndarray:
    """Daily car person trips between the model's cities (base network mode choice), city x city."""
    cities = model.cities
    skim = model.base_skim()
    car = model.demand["demand"].to_numpy(float) * skim.shares[:, 1]
    frame = pd.DataFrame({"o": model.demand["origin_city"], "d": model.demand["destination_city"], "t": car})
    table = frame.groupby(["o", "d"])["t"].sum().unstack().reindex(index=cities, columns=cities)
    return table.fillna(0.0).to_numpy()


def build_congestion_model(model: YRDModel) -> CongestionModel:
    """The YRD corridor road network with zone centroids, the road projects as candidate links."""
    cfg = model.config["congestion"]
    full = nx.MultiDiGraph()
    usable = 1.0 - cfg["background_share"]
    expressway = model.config["road"]["expressway_kph"]
    for u, v, data in model.network.road.edges(data=True):
        full.add_edge(u, v, travel_time=data["travel_time"], length=data["length"],
                      capacity=data["capacity"] * usable, expressway=data["speed_kph"] >= expressway)
    zones = model.cities
    centroids = [f"centroid:{c}" for c in zones]
    city_of = dict(zip(model.network.zones["zone"], model.network.zones["city"]))
    for z, city in city_of.items():
        c = f"centroid:{city}"
        for _, node, data in model.network.graph.out_edges(zone_node(z, "o"), data=True):
            if data["mode"] == "connector" and not full.has_edge(c, node):
                attrs = {"travel_time": data["travel_time"], "length": data["length"], "capacity": 1e9, "bpr_b": 0.0}
                full.add_edge(c, node, **attrs)
                full.add_edge(node, c, **attrs)
    road_arcs = [(u, v, {**a, "expressway": True}) for item in model.mapped if item.project.mode == "road"
                 for u, v, a in item.arcs]
    keep = corridor_edges(full, centroids, road_arcs, slowdown=cfg["corridor_slowdown"])
    keep |= {(v, u) for u, v in keep}  # both directions of every corridor road
    G = nx.MultiDiGraph()
    G.add_edges_from((u, v, k, d) for u, v, k, d in full.edges(keys=True, data=True) if (u, v) in keep)
    for u, v, _ in road_arcs:  # project end points must exist in the corridor network
        for node in (u, v):
            if node not in G:
                G.add_node(node)
    network = RoadNetwork.from_networkx(G, zones=centroids, zones_carry_through=False, time_unit=3600.0,
                                        name="YRD roads")
    index = {label: i for i, label in enumerate(network.node_labels)}
    tails, heads, caps, times, lengths, owners = [], [], [], [], [], []
    project_ids: list[str] = []
    for item in model.mapped:
        if item.project.mode != "road":
            continue
        project_ids.append(item.project.id)
        for u, v, attrs in item.arcs:
            tails.append(index[u])
            heads.append(index[v])
            caps.append(attrs["capacity"] * usable)
            times.append(attrs["travel_time"] / 3600.0)
            lengths.append(attrs["length"])
            owners.append(len(project_ids) - 1)
    n_base = network.n_links
    if tails:
        network = network.with_links(tail=tails, head=heads, capacity=caps, free_flow_time=times, length=lengths)
    candidates = [[n_base + k for k, owner in enumerate(owners) if owner == i] for i in range(len(project_ids))]
    position = {pid: i for i, pid in enumerate(project_ids)}
    requires, excludes = [], []
    for pid in project_ids:
        project = model.project(pid)
        for other in project.requires:
            if other not in position:
                from networks.errors import InputError

                raise InputError(f"road project {pid!r} requires {other!r}, which is not a road project; "
                                 "the congestion mode chooses road projects only")
            requires.append((position[pid], position[other]))
        excludes += [(position[pid], position[o]) for o in project.excludes if o in position and position[pid] < position[o]]
    vehicles = car_trips(model) * cfg["peak_hour_share"] / model.config["mode_choice"]["car_occupancy"]
    costs = np.array([model.project(pid).cost_bn_cny for pid in project_ids])
    return CongestionModel(network=network, demand=vehicles, project_ids=project_ids, candidates=candidates,
                           costs=costs, requires=requires, excludes=excludes)


def solve_road_projects(
    model: YRDModel,
    *,
    budget: float,
    time_limit: float | None = None,
    opt_gap: float = 1e-3,
    method: str = "bb",
) -> CongestionResult:
    """Exact DNDP over the road projects; plus a Braess check of each project alone.

    ``method`` is passed to :func:`solvers.dndp.solve_dndp` (``"bb"`` or ``"cuts"``).
    """
    cm = build_congestion_model(model)
    # A regional network is far larger than the research instances and its designs are many
    # near-ties: equilibria to 1e-6 throughout (the research default re-solves ties to 1e-10).
    result = dndp.solve_dndp(cm.network, cm.demand, cm.candidates, cm.costs, budget=budget, requires=cm.requires,
                             excludes=cm.excludes, time_limit=time_limit, opt_gap=opt_gap, ue_gap=UE_GAP,
                             so_gap=1e-5, verify_gap=VERIFY_GAP, method=method)
    rows = []
    started = time.perf_counter()
    base = dndp.evaluate_design(cm.network, cm.demand, cm.candidates, [], gap=VERIFY_GAP)
    for i, pid in enumerate(cm.project_ids):
        if any(a == i for a, _ in cm.requires):
            continue  # cannot be built alone
        alone = dndp.evaluate_design(cm.network, cm.demand, cm.candidates, [i], gap=VERIFY_GAP)
        rows.append({"project": pid, "tstt_alone_veh_h": alone, "base_veh_h": base,
                     "change_veh_h": alone - base, "braess": alone > base * (1 + 10 * VERIFY_GAP)})
    braess = pd.DataFrame(rows)
    braess.attrs["seconds"] = time.perf_counter() - started
    return CongestionResult(model=cm, result=result, budget=budget, braess=braess)
