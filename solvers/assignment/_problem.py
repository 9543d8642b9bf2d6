"""The assignment problem as arrays (zone splitting, link functions), its result, the path store
of the path-based algorithm, and the common finish (relative gap, flows, times)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InfeasibleError, InputError
from networks.tntp import RoadNetwork
from solvers.assignment._compaction import _gather_compact, compact_forward_star
from solvers.assignment._kernels import (
    _all_or_nothing,
    _beckmann,
    _compact,
    _reachable,
    _routing_costs,
)
from solvers.vdf import VolumeDelayFunction

_INF = np.inf


@dataclass(eq=False)
class AssignmentResult:
    """Outcome of :func:`assign`.

    Attributes
    ----------
    flows, costs : ndarray
        Link flows and link travel times at those flows (length ``n_links``; inactive links
        carry 0 flow and their cost at 0 flow).
    tstt : float
        Total system travel time ``sum(flows * costs)``.
    sptt : float
        Shortest-path travel time ``sum(demand * shortest path cost)`` with the costs of the
        problem solved (marginal costs when ``system_optimal``; tolls/length weighted in if asked).
    gap : float
        Relative gap ``(sum(flows * g) - sptt) / sum(flows * g)`` where ``g`` is the routing cost
        (``costs`` for plain user equilibrium, so the gap is ``(TSTT - SPTT) / TSTT``).
    objective : float
        Beckmann objective (UE) or TSTT (SO) of the solution.
    lower_bound : float
        A valid lower bound on the optimal ``objective`` (convexity bound
        ``objective - (sum(flows * g) - sptt)``); for ``system_optimal`` it bounds the SO TSTT.
    iterations : int
        Iterations performed (all-or-nothing directions for the FW family, sweeps for ``gp``).
    seconds : float
        Wall-clock time of the solve.
    algorithm : str
        ``"fw"``, ``"cfw"``, ``"bfw"`` or ``"gp"``.
    converged : bool
        Whether ``gap`` reached the target.
    system_optimal : bool
        Whether this is a system-optimal solution.
    od_costs : ndarray, shape (n_zones, n_zones)
        Shortest-path routing cost between zones at the final flows (``inf`` if unreachable).
    unreachable : DataFrame
        OD pairs with demand but no path (``origin``, ``destination`` in original ids,
        ``demand``); empty unless ``unreachable="skip"`` was used.
    notes : list of str
        Remarks such as a warm start that could not be used.
    """

    flows: np.ndarray
    costs: np.ndarray
    tstt: float
    sptt: float
    gap: float
    objective: float
    lower_bound: float
    iterations: int
    seconds: float
    algorithm: str
    converged: bool
    system_optimal: bool
    od_costs: np.ndarray
    network: RoadNetwork = field(repr=False)
    active: np.ndarray = field(repr=False)
    demand: np.ndarray = field(repr=False)
    unreachable: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    _history: list[tuple[int, float, float, float]] = field(default_factory=list, repr=False)
    _paths: _PathState | None = field(default=None, repr=False)

    @property
    def history(self) -> pd.DataFrame:
        """Per-iteration log: ``iteration``, ``gap``, ``tstt``, ``seconds`` (elapsed)."""
        return pd.DataFrame(self._history, columns=["iteration", "gap", "tstt", "seconds"])

    @property
    def n_paths(self) -> int:
        """Number of paths with flow (``gp`` only; 0 otherwise)."""
        return 0 if self._paths is None else self._paths.count_paths()

    def to_frame(self) -> pd.DataFrame:
        """Link table: ``tail``, ``head`` (original ids), ``flow``, ``cost``, ``capacity``,
        ``free_flow_time``, ``voc`` (volume/capacity) and ``active``."""
        net = self.network
        with np.errstate(divide="ignore", invalid="ignore"):
            voc = np.where(net.capacity > 0, self.flows / net.capacity, np.nan)
        return pd.DataFrame(
            {
                "tail": net.node_ids[net.tail],
                "head": net.node_ids[net.head],
                "flow": self.flows,
                "cost": self.costs,
                "capacity": net.capacity,
                "free_flow_time": net.free_flow_time,
                "voc": voc,
                "active": self.active,
            }
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (what ``transit assign --json`` prints)."""
        return {
            "network": self.network.name,
            "algorithm": self.algorithm,
            "system_optimal": self.system_optimal,
            "tstt": self.tstt,
            "sptt": self.sptt,
            "gap": self.gap,
            "objective": self.objective,
            "lower_bound": self.lower_bound,
            "iterations": self.iterations,
            "seconds": self.seconds,
            "converged": self.converged,
            "n_links": self.network.n_links,
            "n_zones": self.network.n_zones,
            "total_demand": float(self.demand.sum() - np.trace(self.demand)),
            "unreachable_demand": float(self.unreachable["demand"].sum()) if len(self.unreachable) else 0.0,
            "notes": list(self.notes),
        }


# ====================================================================== compiled kernels

# ====================================================================== path store
class _PathState:
    """Per-OD path sets of the path-based algorithm (flat arrays, linked lists per OD)."""

    def __init__(self, od_orig: np.ndarray, od_dest: np.ndarray, od_demand: np.ndarray, capacity: int, link_room: int):
        self.od_orig = od_orig
        self.od_dest = od_dest
        self.od_demand = od_demand
        n_od = od_orig.size
        self.od_first = np.full(n_od, -1, dtype=np.int64)
        self.p_next = np.full(capacity, -1, dtype=np.int64)
        self.p_flow = np.zeros(capacity)
        self.p_start = np.zeros(capacity, dtype=np.int64)
        self.p_len = np.zeros(capacity, dtype=np.int64)
        self.plinks = np.zeros(link_room, dtype=np.int64)
        self.counters = np.zeros(2, dtype=np.int64)  # paths used, link slots used

    def copy(self) -> _PathState:
        new = object.__new__(_PathState)
        for key, value in self.__dict__.items():
            setattr(new, key, value.copy() if isinstance(value, np.ndarray) else value)
        return new

    def count_paths(self) -> int:
        return int(np.count_nonzero(self.p_len[: self.counters[0]] >= 0))

    def grow(self, min_paths: int, min_links: int) -> None:
        live_paths = self.count_paths()
        live_links = int(self.p_len[: self.counters[0]].clip(min=0).sum())
        cap = max(2 * (live_paths + min_paths), 16)
        room = max(2 * (live_links + min_links), 64)
        new_next = np.full(cap, -1, dtype=np.int64)
        new_flow = np.zeros(cap)
        new_start = np.zeros(cap, dtype=np.int64)
        new_len = np.zeros(cap, dtype=np.int64)
        new_links = np.zeros(room, dtype=np.int64)
        n_p, n_l = _compact(
            self.od_first, self.p_next, self.p_flow, self.p_start, self.p_len, self.plinks,
            new_next, new_flow, new_start, new_len, new_links,
        )
        self.p_next, self.p_flow, self.p_start, self.p_len, self.plinks = new_next, new_flow, new_start, new_len, new_links
        self.counters[:] = (n_p, n_l)


# ====================================================================== problem setup
@dataclass
class _Problem:
    net: RoadNetwork
    n_ext: int
    fs_start: np.ndarray
    fs_link: np.ndarray
    tail: np.ndarray
    head_ext: np.ndarray
    dest_node: np.ndarray
    active: np.ndarray
    demand: np.ndarray
    vdf: VolumeDelayFunction
    code: int
    so: bool
    t0: np.ndarray
    cap: np.ndarray
    pa: np.ndarray
    pb: np.ndarray
    fixed: np.ndarray
    # scratch
    dist: np.ndarray = field(init=False)
    pred: np.ndarray = field(init=False)
    order: np.ndarray = field(init=False)
    pos: np.ndarray = field(init=False)
    fs_head: np.ndarray = field(init=False)
    c_start: np.ndarray = field(init=False)
    c_head: np.ndarray = field(init=False)
    c_tail: np.ndarray = field(init=False)
    c_link: np.ndarray = field(init=False)
    c_cost: np.ndarray = field(init=False)
    m_start: np.ndarray = field(init=False)
    m_link: np.ndarray = field(init=False)
    hkeys: np.ndarray = field(init=False)
    hnodes: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.n_ext
        m = self.tail.size
        self.dist = np.empty(n)
        self.pred = np.empty(n, dtype=np.int64)
        self.order = np.empty(n, dtype=np.int64)
        self.pos = np.empty(n, dtype=np.int64)
        self.fs_head = self.head_ext[self.fs_link]  # the forward star's heads, contiguous per node
        # the shortest-path searches run on the compact forward star (chains contracted)
        self.c_start, self.c_head, self.m_start, self.m_link = compact_forward_star(
            n, self.net.n_zones, self.fs_start, self.fs_head, self.fs_link, self.tail, self.head_ext, self.active)
        nc = self.c_head.size
        self.c_tail = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.c_start))
        self.c_link = np.arange(nc, dtype=np.int64)
        self.c_cost = np.empty(nc)
        self.hkeys = np.empty(n)
        self.hnodes = np.empty(n, dtype=np.int64)

    @property
    def compiled(self) -> bool:
        return self.code >= 0

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Routing cost g, its derivative dg, and travel time t at flows x."""
        if self.compiled:
            g = np.empty_like(x)
            dg = np.empty_like(x)
            t = np.empty_like(x)
            _routing_costs(self.code, self.so, x, self.t0, self.cap, self.pa, self.pb, self.fixed, self.active, g, dg, t)
            return g, dg, t
        t = np.asarray(self.vdf.cost(x, self.net), dtype=np.float64)
        d1 = np.asarray(self.vdf.derivative(x, self.net), dtype=np.float64)
        if self.so:
            d2 = np.asarray(self.vdf.second_derivative(x, self.net), dtype=np.float64)
            return t + x * d1 + self.fixed, 2.0 * d1 + x * d2, t
        return t + self.fixed, d1, t

    def aon(self, g: np.ndarray, *, load: bool = True) -> tuple[np.ndarray, float, np.ndarray]:
        y = np.zeros(self.tail.size)
        od = np.empty(self.demand.shape)
        _gather_compact(self.m_start, self.m_link, g, self.c_cost)
        sptt = _all_or_nothing(
            self.net.n_zones, self.dest_node, self.demand, self.c_start, self.c_head, self.c_cost, self.c_link,
            self.c_tail, self.m_start, self.m_link, load, y, od, self.n_ext,
        )
        return y, float(sptt), od

    def objective(self, x: np.ndarray, t: np.ndarray) -> float:
        """Beckmann (UE) or TSTT (SO), both with the fixed cost part."""
        fixed_part = float(np.dot(self.fixed, x))
        if self.so:
            return float(np.dot(x, t)) + fixed_part
        if self.compiled:
            return float(_beckmann(self.code, x, self.t0, self.cap, self.pa, self.pb, 64)) + fixed_part
        # custom VDF: composite Simpson on each link
        steps = 64
        h = x / steps
        total = np.zeros_like(x)
        for k in range(steps + 1):
            w = 1.0 if k in (0, steps) else (4.0 if k % 2 else 2.0)
            total += w * np.asarray(self.vdf.cost(h * k, self.net))
        return float(np.sum(total * h / 3.0)) + fixed_part


def _setup(
    net: RoadNetwork,
    demand: np.ndarray,
    *,
    active: np.ndarray | None,
    vdf: VolumeDelayFunction,
    system_optimal: bool,
    toll_weight: float,
    length_weight: float,
) -> _Problem:
    if not isinstance(net, RoadNetwork):
        raise InputError(f"assign: net must be a RoadNetwork, got {type(net).__name__}")
    q = np.asarray(demand, dtype=np.float64)
    nz = net.n_zones
    if q.shape != (nz, nz):
        raise InputError(f"assign: demand has shape {q.shape}, expected ({nz}, {nz}) for {nz} zones")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise InputError("assign: demand must be finite and >= 0")
    m = net.n_links
    if active is None:
        act = np.ones(m, dtype=np.bool_)
    else:
        act = np.asarray(active, dtype=np.bool_)
        if act.shape != (m,):
            raise InputError(f"assign: active mask has shape {act.shape}, expected ({m},)")
        act = act.copy()
    # split nodes that carry no through traffic: in-links go to a sink copy
    blocked = np.arange(net.n_nodes) < net.first_thru_node
    sink = np.full(net.n_nodes, -1, dtype=np.int64)
    sink[blocked] = net.n_nodes + np.arange(int(blocked.sum()))
    head_ext = net.head.copy()
    into_blocked = blocked[net.head]
    head_ext[into_blocked] = sink[net.head[into_blocked]]
    n_ext = net.n_nodes + int(blocked.sum())
    order = np.argsort(net.tail, kind="stable")
    fs_start = np.zeros(n_ext + 1, dtype=np.int64)
    np.add.at(fs_start, net.tail + 1, 1)
    fs_start = np.cumsum(fs_start)
    dest_node = np.arange(nz, dtype=np.int64)
    dest_node[blocked[:nz]] = sink[:nz][blocked[:nz]]
    code = -1 if vdf.code is None else int(vdf.code)
    if code >= 0:
        pa, pb = vdf.parameters(net)
    else:
        pa = pb = np.zeros(m)
    if code == 1 and np.any(net.capacity <= 0):
        raise InputError("assign: the conical VDF needs positive capacities on every link")
    if system_optimal and code < 0 and type(vdf).second_derivative is VolumeDelayFunction.second_derivative:
        raise InputError("assign: system_optimal with a custom VDF needs its second_derivative()")
    fixed = np.zeros(m)
    if toll_weight:
        fixed += float(toll_weight) * net.toll
    if length_weight:
        fixed += float(length_weight) * net.length
    if np.any(fixed < 0):
        raise InputError("assign: weighted tolls/lengths give a negative link cost")
    return _Problem(
        net=net,
        n_ext=n_ext,
        fs_start=fs_start,
        fs_link=order.astype(np.int64),
        tail=net.tail,
        head_ext=head_ext,
        dest_node=dest_node,
        active=act,
        demand=q,
        vdf=vdf,
        code=code,
        so=bool(system_optimal),
        t0=net.free_flow_time,
        cap=net.capacity,
        pa=np.ascontiguousarray(pa, dtype=np.float64),
        pb=np.ascontiguousarray(pb, dtype=np.float64),
        fixed=fixed,
    )


def _check_reachability(prob: _Problem, unreachable: str) -> pd.DataFrame:
    """OD pairs with demand and no path over the active links: an error, or dropped ("skip")."""
    q = prob.demand.copy()
    np.fill_diagonal(q, 0.0)
    reached = np.ones(q.shape, dtype=np.bool_)
    _reachable(prob.net.n_zones, prob.dest_node, q, prob.fs_start, prob.fs_head, prob.fs_link, prob.active,
               prob.n_ext, reached)
    bad = (q > 0) & ~reached
    if not bad.any():
        return pd.DataFrame({"origin": [], "destination": [], "demand": []})
    oi, di = np.nonzero(bad)
    ids = prob.net.node_ids
    frame = pd.DataFrame({"origin": ids[oi], "destination": ids[di], "demand": q[oi, di]})
    if unreachable == "raise":
        sample = ", ".join(f"{a}->{b}" for a, b in zip(frame["origin"][:5], frame["destination"][:5]))
        raise InfeasibleError(
            f"{prob.net.name or 'network'}: {len(frame)} OD pairs with demand {frame['demand'].sum():g} "
            f"have no path over the active links (e.g. {sample}); pass unreachable='skip' to assign the rest"
        )
    prob.demand = prob.demand.copy()
    prob.demand[oi, di] = 0.0
    return frame

def _finish(
    prob: _Problem, algo: str, x: np.ndarray, g: np.ndarray, t: np.ndarray, sptt: float, od: np.ndarray,
    iterations: int, history: list, started: float, target: float, notes: list[str], paths: _PathState | None,
) -> AssignmentResult:
    x = np.where(prob.active, x, 0.0)
    routed = float(np.dot(x, g))
    gap_value = (routed - sptt) / routed if routed > 0 else 0.0
    obj = prob.objective(x, t)
    return AssignmentResult(
        flows=x,
        costs=t,
        tstt=float(np.dot(x, t)),
        sptt=sptt,
        gap=gap_value,
        objective=obj,
        lower_bound=obj - (routed - sptt),
        iterations=iterations,
        seconds=time.perf_counter() - started,
        algorithm=algo,
        converged=gap_value <= target,
        system_optimal=prob.so,
        od_costs=od,
        network=prob.net,
        active=prob.active,
        demand=prob.demand,
        notes=notes,
        _history=history,
        _paths=paths,
    )


def _relgap(x: np.ndarray, g: np.ndarray, sptt: float) -> float:
    routed = float(np.dot(x, g))
    return (routed - sptt) / routed if routed > 0 else 0.0


