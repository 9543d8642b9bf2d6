"""The YRD optimisation model: zones, network, projects, demand, mode choice and objective.

The stated model (free flow): intercity trips between county-level zones (``data/zones.csv``)
choose between rail, car and coach by a logit on generalized cost, each mode routed on its own
costed layer of the multimodal graph (:mod:`transit.model.mode_choice`).  The optimiser
minimises, over the objective markets (the zone pairs whose cities are on one axis, or across
the Hangzhou Bay link), daily demand x composite generalized cost (``-logsum / theta``),
choosing projects under the budget, dependencies, exclusions and optional per-member caps.
The saving is the change in consumer surplus (the logsum benefit) in generalized minutes per
day; it is exact for this model (:mod:`solvers.selection.markets`).  Demand per zone pair is
fixed (no induced trips, no redistribution between destinations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from networks.errors import InputError
from networks.memory import no_gc
from networks.multimodal import zone_node
from networks.paths import min_csr, path_sums
from solvers import selection
from solvers.choice import NestedLogit, pivot_constants
from solvers.selection.markets import Layer, Markets
from transit.catalogue import Axis, Member, Project, load_axes, load_projects
from transit.model.demand import gravity_demand, read_od
from transit.model.mode_choice import MODES, arc_cost, arc_time, logit_model
from transit.network import BaseNetwork, build_base_network
from transit.projects import MappedProject, map_projects

__all__ = ["YRDModel", "build_model", "load_default", "objective_pairs", "DesignSkim"]


def objective_pairs(axes: list[Axis], cities: list[str], config: dict[str, Any]) -> list[tuple[str, str]]:
    """Ordered city pairs in the objective: the axes' and the bay link's, or all pairs."""
    if config["objective"]["pairs"] == "all":
        return [(a, b) for a in cities for b in cities if a != b]
    seen: dict[tuple[str, str], None] = {}
    for axis in axes:
        for pair in axis.pairs():
            seen.setdefault(pair, None)
    return list(seen)


@dataclass
class DesignSkim:
    """Per intercity zone pair (the rows of ``model.demand``) and mode (``MODES`` order).

    ``gc``: generalized minutes (``inf``: the mode cannot make the trip); ``time``: door-to-door
    minutes along that path; ``rail_station``: the station-to-station part of the rail path
    (rail legs, transfers and the stop penalties); ``shares``: logit shares; ``composite``: the
    composite cost ``-logsum / theta`` (generalized minutes).
    """

    gc: np.ndarray
    time: np.ndarray
    rail_station: np.ndarray
    shares: np.ndarray
    composite: np.ndarray


@dataclass
class _Layer:
    """Arc arrays of one mode over the model's node index (base arcs, project arcs)."""

    tails: np.ndarray
    heads: np.ndarray
    gc: np.ndarray
    time: np.ndarray
    station: np.ndarray
    line: np.ndarray  # True for rail line arcs (and transfers): what a timetable shows
    projects: dict[str, tuple[np.ndarray, ...]] = field(default_factory=dict)


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
    base_shares: pd.DataFrame | None = None
    demand_source: str = "gravity"
    nodes: list[Any] = field(default_factory=list)
    index: dict[Any, int] = field(default_factory=dict)
    layers: dict[str, _Layer] = field(default_factory=dict)
    logit: NestedLogit | None = None
    constants: np.ndarray | None = None  # (3,) or per demand row (n, 3) when pivoting on observed shares
    candidates: list[selection.Project] = field(default_factory=list)
    congestion_only: list[str] = field(default_factory=list)
    market_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    markets: Markets | None = None
    selection_layers: list[Layer] = field(default_factory=list)
    unvalued: dict[str, str] = field(default_factory=dict)
    station_city: dict[int, str] = field(default_factory=dict)
    station_name: dict[int, str] = field(default_factory=dict)
    _base_skim: DesignSkim | None = field(default=None, init=False, repr=False)

    # -- zones and cities ---------------------------------------------------------------
    @property
    def zone_table(self) -> pd.DataFrame:
        return self.network.zones

    @property
    def zones(self) -> list[str]:
        return list(self.network.zones["zone"])

    @property
    def cities(self) -> list[str]:
        return list(dict.fromkeys(self.network.zones["city"]))

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

    # -- skims ----------------------------------------------------------------------------
    def _constants_for(self, rows: np.ndarray) -> np.ndarray:
        if self.constants is None or self.constants.ndim == 1:
            return self.constants
        return self.constants[rows]

    def skim(self, selected: tuple[str, ...] | list[str] = ()) -> DesignSkim:
        """Generalized costs, door-to-door times, shares and composite cost of a design."""
        chosen = set(selected)
        n = len(self.nodes)
        zones = self.zones
        o_idx = np.array([self.index[zone_node(z, "o")] for z in zones])
        d_idx = np.array([self.index[zone_node(z, "d")] for z in zones])
        pos = {z: k for k, z in enumerate(zones)}
        rows_o = self.demand["origin"].map(pos).to_numpy()
        rows_d = self.demand["destination"].map(pos).to_numpy()
        gc = np.full((len(self.demand), len(MODES)), np.inf)
        time = np.full_like(gc, np.inf)
        station = np.full(len(self.demand), np.nan)
        for m, mode in enumerate(MODES):
            layer = self.layers[mode]
            parts = [(layer.tails, layer.heads, layer.gc, layer.time, layer.station)]
            parts += [arrs[:5] for pid, arrs in layer.projects.items() if pid in chosen]
            tails, heads, cost, t, st = (np.concatenate(x) for x in zip(*parts))
            dist, acc = path_sums(n, tails, heads, cost, [t, st], o_idx, d_idx)
            gc[:, m] = dist[rows_o, rows_d]
            time[:, m] = acc[0][rows_o, rows_d]
            if mode == "rail":
                station = acc[1][rows_o, rows_d]
        time = np.where(np.isfinite(gc), time, np.inf)
        station = np.where(np.isfinite(gc[:, 0]), station, np.nan)
        rows = np.arange(len(self.demand))
        constants = self._constants_for(rows)
        shares = self.logit.probabilities(gc, constants)
        composite = self.logit.composite_cost(gc, constants)
        return DesignSkim(gc=gc, time=time, rail_station=station, shares=shares, composite=composite)

    def base_skim(self) -> DesignSkim:
        """:meth:`skim` of the base network, computed once."""
        if self._base_skim is None:
            self._base_skim = self.skim(())
        return self._base_skim

    def fastest_rail(self, selected: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
        """Fastest station-to-station rail time between every ordered pair of cities.

        The time a timetable shows: the shortest rail path (lines and changes of line, no
        access) between any station of the first city and any of the second, plus the stop
        penalty at both ends.  A journey on one line, a new one included, pays no change.  Columns ``origin_city, destination_city, rail_fastest_min,
        from_station, to_station``.
        """
        chosen = set(selected)
        layer = self.layers["rail"]
        parts = [(layer.tails, layer.heads, layer.time, layer.line)]
        parts += [(a[0], a[1], a[3], a[5]) for pid, a in layer.projects.items() if pid in chosen]
        tails, heads, minutes, line = (np.concatenate(x) for x in zip(*parts))
        matrix = min_csr(len(self.nodes), tails[line], heads[line], minutes[line])
        present = set(range(len(self.network.graph)))
        for item in self.mapped:
            if item.project.id in chosen:
                present |= {self.index[n] for n, _ in item.new_nodes}
        city_of = {k: c for k, c in self.station_city.items() if k in present}
        by_city: dict[str, list[int]] = {}
        for node, city in city_of.items():
            by_city.setdefault(city, []).append(node)
        penalty = 2 * self.config["rail"]["stop_penalty_min"]
        rows = []
        for a in self.cities:
            src = np.array(by_city.get(a, []), dtype=np.int64)
            dist = np.atleast_2d(dijkstra(matrix, directed=True, indices=src)) if src.size else None
            for b in self.cities:
                if a == b:
                    continue
                best, frm, to = np.inf, "", ""
                if dist is not None and by_city.get(b):
                    sub = dist[:, by_city[b]]
                    k = np.unravel_index(np.argmin(sub), sub.shape)
                    best = float(sub[k])
                    if np.isfinite(best):
                        frm, to = self.station_name[src[k[0]]], self.station_name[by_city[b][k[1]]]
                rows.append({"origin_city": a, "destination_city": b,
                             "rail_fastest_min": best + penalty if np.isfinite(best) else np.nan,
                             "from_station": frm, "to_station": to})
        return pd.DataFrame(rows, columns=["origin_city", "destination_city", "rail_fastest_min", "from_station",
                                           "to_station"])


def _station_cities(model: YRDModel) -> tuple[dict[int, str], dict[int, str]]:
    """City and name of every station and project platform, by node position.

    Catalogued stations carry their city (their arrival nodes, :mod:`networks.lines`, too); a
    project's platform takes its station's city; a new station takes the city of the nearest zone.
    """
    G = model.network.graph
    zones = model.network.zones
    lon = zones["lon"].to_numpy(float)
    lat = zones["lat"].to_numpy(float)
    data_of = dict(G.nodes(data=True))
    for item in model.mapped:
        for n, d in item.new_nodes:
            data_of.setdefault(n, d)
    by_name = {d.get("name"): d["city"] for d in data_of.values() if d.get("station") and d.get("city")}
    city: dict[int, str] = {}
    name: dict[int, str] = {}
    for node, d in data_of.items():
        if d.get("arrival_of") is not None:  # a station's arrival node (line layers): its station's city
            station = data_of[d["arrival_of"]]
            if not station.get("city"):
                continue
            c, d = station["city"], station
        elif d.get("station") and d.get("city"):
            c = d["city"]
        elif d.get("platform_of") in by_name:
            c = by_name[d["platform_of"]]
        elif d.get("station"):
            c = str(zones["city"].iloc[int(np.argmin((lon - d["x"]) ** 2 + (lat - d["y"]) ** 2))])
        else:
            continue
        k = model.index[node]
        city[k] = c
        name[k] = str(d.get("name") or d.get("platform_of") or node)
    return city, name


@no_gc()  # allocation-heavy: the cyclic collector cost about a fifth of the run (networks.memory.no_gc)
def build_model(
    config: dict[str, Any],
    *,
    projects_path: str | None = None,
    axes_path: str | None = None,
    exclude_projects: tuple[str, ...] = (),
    use_cache: bool = True,
    osm: str | None = None,
    osm_network: str = "both",
    od: str | None = None,
) -> YRDModel:
    """Assemble the base network, catalogue, demand, mode choice and the solver's view of them.

    ``osm`` swaps the embedded default for the user's OSM file (modes in ``osm_network``);
    ``od`` reads the demand from an OD file (:func:`transit.model.demand.read_od`) instead of
    the gravity model (``demand.od_file`` in the configuration does the same).
    """
    network = build_base_network(config, use_cache=use_cache, osm=osm, osm_network=osm_network)
    cities = list(dict.fromkeys(network.zones["city"]))
    axes = load_axes(pd.DataFrame(index=pd.Index(cities, name="name_en")), axes_path)
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
    od = od or config["demand"].get("od_file") or None
    shares = None
    if od:
        demand, shares = read_od(od, network.zones, config)
        source = f"OD file {od}"
    else:
        demand = gravity_demand(network.zones, config)
        source = "gravity"
    pairs = objective_pairs(axes, cities, config)
    model = YRDModel(config=config, network=network, axes=axes, members=members, projects=projects,
                     mapped=mapped, demand=demand, pairs=pairs, base_shares=shares, demand_source=source)
    _compile(model)
    return model


def _layer_arrays(model: YRDModel, edges: list[tuple[Any, Any, dict]], mode: str) -> tuple[np.ndarray, ...]:
    cfg = model.config
    tails, heads, gc, time, station, line = [], [], [], [], [], []
    for u, v, d in edges:
        cost = arc_cost(mode, u, v, d, cfg)
        if cost is None:
            continue
        tails.append(model.index[u])
        heads.append(model.index[v])
        gc.append(cost)
        time.append(arc_time(mode, d, cfg, u))
        line.append(d.get("mode") == "rail")
        if d.get("mode") == "rail":
            station.append(d["travel_time"] / 60.0)
        elif d.get("mode") == "access":
            station.append((d["travel_time"] - d["access_time"]) / 60.0)
        else:
            station.append(0.0)
    return (np.asarray(tails, dtype=np.int64), np.asarray(heads, dtype=np.int64), np.asarray(gc, float),
            np.asarray(time, float), np.asarray(station, float), np.asarray(line, dtype=bool))


def _compile(model: YRDModel) -> None:
    """Per-mode arc arrays of the base graph and the projects, markets and the logit."""
    G = model.network.graph
    nodes = list(G.nodes)
    for item in model.mapped:
        nodes += [n for n, _ in item.new_nodes]
    nodes = list(dict.fromkeys(nodes))  # shared new stations appear once
    model.nodes, model.index = nodes, {n: i for i, n in enumerate(nodes)}
    base_edges = list(G.edges(data=True))
    for mode in MODES:
        layer = _Layer(*_layer_arrays(model, base_edges, mode))
        for item in model.mapped:
            arcs = [(u, v, a) for u, v, a in item.arcs if not a.get("widening")]
            arrays = _layer_arrays(model, arcs, mode)
            if arrays[0].size:
                layer.projects[item.project.id] = arrays
        model.layers[mode] = layer
    # A widening changes no free-flow time: it is valued only under congestion.
    model.congestion_only = [item.project.id for item in model.mapped
                             if item.arcs and all(a.get("widening") for _, _, a in item.arcs)]
    for pid in model.congestion_only:
        model.unvalued[pid] = "road widening: changes no free-flow time, valued only under congestion (--congestion)"
    present = {p.id for p in model.projects} - set(model.congestion_only)
    for p in model.projects:
        needed = set(p.requires) & set(model.congestion_only)
        if p.id in present and needed:
            raise InputError(f"project {p.id!r} requires {sorted(needed)}, a road widening that the free-flow "
                             "model cannot value; model it as a new link or drop the dependency")
    model.candidates = [
        selection.Project(id=p.id, cost=p.cost_bn_cny, arcs=(), member=p.lead_member or None, requires=p.requires,
                          excludes=tuple(x for x in p.excludes if x in present))
        for p in model.projects if p.id in present
    ]
    model.station_city, model.station_name = _station_cities(model)
    model.logit = logit_model(model.config)
    model.constants = np.asarray(model.logit.constants, dtype=float)
    n = len(nodes)
    model.selection_layers = []
    for mode in MODES:
        layer = model.layers[mode]
        arcs = {pid: [(int(u), int(v), float(c)) for u, v, c in zip(t, h, g)]
                for pid, (t, h, g, *_rest) in layer.projects.items() if pid in present}
        model.selection_layers.append(Layer(mode, (n, layer.tails, layer.heads, layer.gc), arcs))
    if model.base_shares is not None:
        base = model.skim(())
        shares = model.base_shares[list(MODES)].to_numpy(float)
        shares = np.where(np.isfinite(shares), shares, 0.0)
        usable = shares.sum(axis=1) > 0
        constants = np.tile(model.constants, (len(model.demand), 1))
        constants[usable] = pivot_constants(model.logit, np.where(np.isfinite(base.gc[usable]), base.gc[usable], np.inf),
                                            shares[usable])
        model.constants = constants
    # Objective markets: zone pairs of different cities whose city pair is in the objective.
    wanted = set(model.pairs)
    keys = list(zip(model.demand["origin_city"], model.demand["destination_city"]))
    rows = np.array([k for k, pair in enumerate(keys) if pair in wanted and model.demand["demand"].iat[k] > 0],
                    dtype=np.int64)
    model.market_rows = rows
    o = np.array([model.index[zone_node(z, "o")] for z in model.demand["origin"].iloc[rows]], dtype=np.int64)
    d = np.array([model.index[zone_node(z, "d")] for z in model.demand["destination"].iloc[rows]], dtype=np.int64)
    logit = model.logit
    constants = model.constants

    def cost(markets: np.ndarray, times: np.ndarray) -> np.ndarray:
        c = constants if constants.ndim == 1 else constants[rows[markets]]
        return logit.composite_cost(times, c)

    model.markets = Markets(origins=np.repeat(o[:, None], len(MODES), axis=1),
                            destinations=np.repeat(d[:, None], len(MODES), axis=1),
                            demand=model.demand["demand"].to_numpy(float)[rows], cost=cost)


def load_default(*, zones: str = "county", use_cache: bool = True, **overrides: Any) -> YRDModel:
    """The embedded default model, as ``transit optimize`` uses it: the offline YRD network, the
    census zones, the fitted gravity demand, the nested logit and the project catalogue.

    Parameters
    ----------
    zones
        ``"county"`` (163 districts, counties and county-level cities) or ``"city"`` (19 cities).
    use_cache
        Reuse the network cache (``~/.cache/yrd-transit``, keyed by a hash of its inputs).
    overrides
        Configuration overrides as ``section__key=value`` (e.g. ``demand__growth=1.2``).

    Examples
    --------
    >>> import transit
    >>> model = transit.load_default()            # doctest: +SKIP
    >>> model.zone_table.head()                   # zones with census population  # doctest: +SKIP
    """
    from transit.config import load_config

    if zones not in ("county", "city"):
        raise InputError(f"zones={zones!r}; expected 'county' or 'city'")
    return build_model(load_config(zones__level=zones, **overrides), use_cache=use_cache)
