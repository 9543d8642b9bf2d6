"""Static user-equilibrium (and system-optimal) traffic assignment.

Algorithms (``algorithm=``):

``"fw"``
    Frank-Wolfe (link-based, all-or-nothing directions, exact line search).
``"cfw"``
    Conjugate Frank-Wolfe (Mitradjieva and Lindberg, 2013).
``"bfw"``
    Bi-conjugate Frank-Wolfe (same paper; the default of AequilibraE).
``"gp"``
    Path-based gradient projection (Jayakrishnan et al., 1994) with Gauss-Seidel sweeps over
    origins and extra flow-shift passes over the path sets; reaches relative gaps of 1e-8 and
    below, and warm-starts from a previous result's paths.

All algorithms stop when the relative gap ``(TSTT - SPTT) / TSTT`` reaches ``gap`` or after
``max_iterations`` iterations, log the gap and elapsed time of each iteration, honour a link
mask (``active``), and can solve the system optimum (``system_optimal=True``, marginal costs).

Shortest paths and all-or-nothing loading are compiled with numba (a binary-heap Dijkstra per
origin, flows pushed down the shortest-path tree in reverse settling order): there is no
Python loop over OD pairs.  Zones below the network's ``first_thru_node`` carry no through
traffic: every such node is split into a source copy (its out-links) and a sink copy (its
in-links), so a path can leave it only at its start and enter it only at its end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from networks.errors import InfeasibleError, InputError
from solvers._heap import _heap_pop, _heap_push, _relax
from networks.tntp import RoadNetwork
from solvers.vdf import BPR, VolumeDelayFunction, link_eval, resolve_vdf

__all__ = [
    "assign",
    "AssignmentResult",
    "ALGORITHMS",
    "relative_gap",
    "shortest_path_costs",
    "assign_graph",
]

ALGORITHMS = ("fw", "cfw", "bfw", "gp")
_ALIASES = {
    "frank-wolfe": "fw",
    "frank_wolfe": "fw",
    "conjugate-frank-wolfe": "cfw",
    "biconjugate-frank-wolfe": "bfw",
    "bi-conjugate-frank-wolfe": "bfw",
    "path": "gp",
    "gradient-projection": "gp",
    "gradient_projection": "gp",
}
_INF = np.inf


# ====================================================================== result
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
@njit(cache=True)
def _dijkstra(origin, fs_start, fs_link, head, cost, active, dist, pred, order, settled, hkeys, hnodes):
    """Shortest-path tree from ``origin``; returns the number of settled nodes (in ``order``)."""
    for i in range(dist.size):
        dist[i] = np.inf
        pred[i] = -1
        settled[i] = False
    dist[origin] = 0.0
    size = _heap_push(hkeys, hnodes, 0, 0.0, origin)
    count = 0
    while size > 0:
        d, u, size = _heap_pop(hkeys, hnodes, size)
        if settled[u]:
            continue
        settled[u] = True
        order[count] = u
        count += 1
        size = _relax(u, d, fs_start, fs_link, head, active, cost, dist, pred, hkeys, hnodes, size)
    return count


@njit(cache=True)
def _all_or_nothing(
    n_zones, dest_node, demand, fs_start, fs_link, tail, head, cost, active, load, y, od_cost,
    node_flow, dist, pred, order, settled, hkeys, hnodes,
):
    """Shortest paths from every origin; loads ``demand`` on them into ``y`` if ``load``.

    Returns SPTT over reachable pairs; ``od_cost`` gets the zone-to-zone costs (inf if none).
    """
    if load:
        y[:] = 0.0
    sptt = 0.0
    for o in range(n_zones):
        has_demand = False
        for d in range(n_zones):
            if demand[o, d] > 0.0 and d != o:
                has_demand = True
                break
        if not has_demand:
            for d in range(n_zones):
                od_cost[o, d] = np.nan
            od_cost[o, o] = 0.0
            continue
        count = _dijkstra(o, fs_start, fs_link, head, cost, active, dist, pred, order, settled, hkeys, hnodes)
        for d in range(n_zones):
            if d == o:
                od_cost[o, d] = 0.0
                continue
            dn = dest_node[d]
            c = dist[dn]
            od_cost[o, d] = c
            q = demand[o, d]
            if q > 0.0 and c < np.inf:
                sptt += q * c
                if load:
                    node_flow[dn] += q
        if load:
            for i in range(count - 1, 0, -1):
                v = order[i]
                f = node_flow[v]
                if f != 0.0:
                    a = pred[v]
                    y[a] += f
                    node_flow[tail[a]] += f
                    node_flow[v] = 0.0
            node_flow[order[0]] = 0.0
    return sptt


@njit(cache=True)
def _routing_costs(code, so, x, t0, cap, pa, pb, fixed, active, g, dg, t):
    """Routing cost ``g`` (time or marginal cost, plus fixed), its derivative and the time ``t``."""
    for i in range(x.size):
        ti, d1, xd2 = link_eval(code, x[i], t0[i], cap[i], pa[i], pb[i])
        t[i] = ti
        if so:
            g[i] = ti + x[i] * d1 + fixed[i]
            dg[i] = 2.0 * d1 + xd2
        else:
            g[i] = ti + fixed[i]
            dg[i] = d1


@njit(cache=True)
def _beckmann(code, x, t0, cap, pa, pb, n_steps):
    """Sum over links of the integral of the travel time from 0 to x (Simpson; exact for BPR)."""
    total = 0.0
    for i in range(x.size):
        xi = x[i]
        if xi <= 0.0:
            continue
        if code == 0:
            if pa[i] == 0.0 or pb[i] == 0.0:
                total += t0[i] * (1.0 + pa[i]) * xi
            else:
                total += t0[i] * xi * (1.0 + pa[i] * (xi / cap[i]) ** pb[i] / (pb[i] + 1.0))
        else:
            h = xi / n_steps
            s = 0.0
            for k in range(n_steps + 1):
                tk, _, _ = link_eval(code, k * h, t0[i], cap[i], pa[i], pb[i])
                w = 1.0 if (k == 0 or k == n_steps) else (4.0 if k % 2 == 1 else 2.0)
                s += w * tk
            total += s * h / 3.0
    return total


@njit(cache=True)
def _line_derivatives(code, so, alpha, x, d, t0, cap, pa, pb, fixed):
    """Derivative and curvature of the objective along ``x + alpha * d``."""
    f1 = 0.0
    f2 = 0.0
    for i in range(x.size):
        di = d[i]
        if di == 0.0:
            continue
        xi = x[i] + alpha * di
        if xi < 0.0:
            xi = 0.0
        ti, d1, xd2 = link_eval(code, xi, t0[i], cap[i], pa[i], pb[i])
        if so:
            f1 += di * (ti + xi * d1 + fixed[i])
            f2 += di * di * (2.0 * d1 + xd2)
        else:
            f1 += di * (ti + fixed[i])
            f2 += di * di * d1
    return f1, f2


# ---------------------------------------------------------------------- path-based kernels
@njit(cache=True)
def _update_link(a, delta, x, g, dg, code, so, t0, cap, pa, pb, fixed):
    xa = x[a] + delta
    if xa < 0.0:
        xa = 0.0
    x[a] = xa
    ti, d1, xd2 = link_eval(code, xa, t0[a], cap[a], pa[a], pb[a])
    if so:
        g[a] = ti + xa * d1 + fixed[a]
        dg[a] = 2.0 * d1 + xd2
    else:
        g[a] = ti + fixed[a]
        dg[a] = d1


@njit(cache=True)
def _path_cost(p, p_start, p_len, plinks, g):
    s = 0.0
    for j in range(p_start[p], p_start[p] + p_len[p]):
        s += g[plinks[j]]
    return s


@njit(cache=True)
def _equilibrate_od(
    k, od_first, p_next, p_flow, p_start, p_len, plinks, mark, x, g, dg,
    code, so, t0, cap, pa, pb, fixed, od_demand, flow_eps,
):
    """Newton flow shifts from every path of OD ``k`` to its cheapest one; drops empty paths."""
    first = od_first[k]
    if first < 0 or p_next[first] < 0:
        return
    # cheapest path
    best = -1
    best_cost = np.inf
    p = first
    while p >= 0:
        c = _path_cost(p, p_start, p_len, plinks, g)
        if c < best_cost:
            best_cost = c
            best = p
        p = p_next[p]
    bs = p_start[best]
    be = bs + p_len[best]
    p = first
    while p >= 0:
        if p != best and p_flow[p] > 0.0:
            ps = p_start[p]
            pe = ps + p_len[p]
            for j in range(bs, be):
                mark[plinks[j]] += 1
            for j in range(ps, pe):
                mark[plinks[j]] += 2
            diff = 0.0
            denom = 0.0
            for j in range(ps, pe):
                a = plinks[j]
                if mark[a] == 2:
                    diff += g[a]
                    denom += dg[a]
            for j in range(bs, be):
                a = plinks[j]
                if mark[a] == 1:
                    diff -= g[a]
                    denom += dg[a]
            if diff > 0.0:
                if denom > 0.0:
                    shift = diff / denom
                    if shift > p_flow[p]:
                        shift = p_flow[p]
                else:
                    shift = p_flow[p]
                if shift > 0.0:
                    p_flow[p] -= shift
                    p_flow[best] += shift
                    for j in range(ps, pe):
                        a = plinks[j]
                        if mark[a] == 2:
                            _update_link(a, -shift, x, g, dg, code, so, t0, cap, pa, pb, fixed)
                    for j in range(bs, be):
                        a = plinks[j]
                        if mark[a] == 1:
                            _update_link(a, shift, x, g, dg, code, so, t0, cap, pa, pb, fixed)
            for j in range(bs, be):
                mark[plinks[j]] = 0
            for j in range(ps, pe):
                mark[plinks[j]] = 0
        p = p_next[p]
    # unlink paths that lost (almost) all their flow; the residue goes to the best path
    tiny = flow_eps * od_demand[k]
    prev = -1
    p = od_first[k]
    while p >= 0:
        nxt = p_next[p]
        if p != best and p_flow[p] <= tiny:
            residue = p_flow[p]
            if residue > 0.0:
                p_flow[best] += residue
                for j in range(p_start[p], p_start[p] + p_len[p]):
                    _update_link(plinks[j], -residue, x, g, dg, code, so, t0, cap, pa, pb, fixed)
                for j in range(bs, be):
                    _update_link(plinks[j], residue, x, g, dg, code, so, t0, cap, pa, pb, fixed)
            p_flow[p] = 0.0
            p_len[p] = -1  # marks a dead path for compaction
            if prev < 0:
                od_first[k] = nxt
            else:
                p_next[prev] = nxt
        else:
            prev = p
        p = nxt


@njit(cache=True)
def _gp_sweep(
    start_origin, n_inner, sp_repeats, od_start, od_dest_node, od_demand, od_first, od_orphan,
    p_next, p_flow, p_start, p_len, plinks, counters,
    fs_start, fs_link, tail, head, active, x, g, dg,
    code, so, t0, cap, pa, pb, fixed, flow_eps,
    dist, pred, order, settled, hkeys, hnodes, mark, scratch,
):
    """One Gauss-Seidel sweep over origins (shortest path, new path, flow shifts).

    Each origin repeats shortest path and flow shifts up to ``sp_repeats`` times while that
    finds new paths (shortest paths are cheap next to the shifts on small networks).

    Returns -1 when done, or the origin at which the path store ran out of room (the caller
    grows it and calls again from there).
    """
    n_origins = od_start.size - 1
    max_len = dist.size
    for o in range(start_origin, n_origins):
        k0 = od_start[o]
        k1 = od_start[o + 1]
        if k1 == k0:
            continue
        for _rep in range(sp_repeats):
            if counters[0] + (k1 - k0) > p_flow.size or counters[1] + (k1 - k0) * max_len > plinks.size:
                return o
            _dijkstra(o, fs_start, fs_link, head, g, active, dist, pred, order, settled, hkeys, hnodes)
            added = 0
            for k in range(k0, k1):
                dn = od_dest_node[k]
                # trace the shortest path backwards into scratch
                n = 0
                v = dn
                while v != o:
                    a = pred[v]
                    scratch[n] = a
                    n += 1
                    v = tail[a]
                # already known?
                found = -1
                p = od_first[k]
                while p >= 0:
                    if p_len[p] == n:
                        same = True
                        s = p_start[p]
                        for j in range(n):
                            if plinks[s + j] != scratch[j]:
                                same = False
                                break
                        if same:
                            found = p
                            break
                    p = p_next[p]
                if found < 0:
                    added += 1
                    found = counters[0]
                    counters[0] += 1
                    s = counters[1]
                    for j in range(n):
                        plinks[s + j] = scratch[j]
                    counters[1] += n
                    p_start[found] = s
                    p_len[found] = n
                    p_flow[found] = 0.0
                    p_next[found] = od_first[k]
                    od_first[k] = found
                if od_orphan[k] > 0.0:
                    q = od_orphan[k]
                    od_orphan[k] = 0.0
                    p_flow[found] += q
                    for j in range(p_start[found], p_start[found] + n):
                        _update_link(plinks[j], q, x, g, dg, code, so, t0, cap, pa, pb, fixed)
                _equilibrate_od(
                    k, od_first, p_next, p_flow, p_start, p_len, plinks, mark, x, g, dg,
                    code, so, t0, cap, pa, pb, fixed, od_demand, flow_eps,
                )
            if added == 0:
                break
    for _ in range(n_inner):
        for k in range(od_demand.size):
            _equilibrate_od(
                k, od_first, p_next, p_flow, p_start, p_len, plinks, mark, x, g, dg,
                code, so, t0, cap, pa, pb, fixed, od_demand, flow_eps,
            )
    return -1


@njit(cache=True)
def _flows_from_paths(od_first, p_next, p_flow, p_start, p_len, plinks, x):
    x[:] = 0.0
    for k in range(od_first.size):
        p = od_first[k]
        while p >= 0:
            f = p_flow[p]
            if f != 0.0:
                for j in range(p_start[p], p_start[p] + p_len[p]):
                    x[plinks[j]] += f
            p = p_next[p]


@njit(cache=True)
def _drop_paths(od_first, p_next, p_flow, p_start, p_len, plinks, active, od_orphan, scale):
    """Scale path flows per OD and drop paths that use an inactive link (their flow is orphaned)."""
    for k in range(od_first.size):
        prev = -1
        p = od_first[k]
        while p >= 0:
            nxt = p_next[p]
            p_flow[p] *= scale[k]
            ok = True
            for j in range(p_start[p], p_start[p] + p_len[p]):
                if not active[plinks[j]]:
                    ok = False
                    break
            if ok:
                prev = p
            else:
                od_orphan[k] += p_flow[p]
                p_flow[p] = 0.0
                p_len[p] = -1
                if prev < 0:
                    od_first[k] = nxt
                else:
                    p_next[prev] = nxt
            p = nxt


@njit(cache=True)
def _compact(od_first, p_next, p_flow, p_start, p_len, plinks, new_next, new_flow, new_start, new_len, new_links):
    """Copy the live paths into fresh arrays; returns (n_paths, n_links_used)."""
    n_p = 0
    n_l = 0
    for k in range(od_first.size):
        p = od_first[k]
        prev = -1
        while p >= 0:
            q = n_p
            n_p += 1
            length = p_len[p]
            new_start[q] = n_l
            new_len[q] = length
            new_flow[q] = p_flow[p]
            new_next[q] = -1
            for j in range(length):
                new_links[n_l + j] = plinks[p_start[p] + j]
            n_l += length
            if prev < 0:
                od_first[k] = q
            else:
                new_next[prev] = q
            prev = q
            p = p_next[p]
    return n_p, n_l


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
    settled: np.ndarray = field(init=False)
    hkeys: np.ndarray = field(init=False)
    hnodes: np.ndarray = field(init=False)
    node_flow: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.n_ext
        m = self.tail.size
        self.dist = np.empty(n)
        self.pred = np.empty(n, dtype=np.int64)
        self.order = np.empty(n, dtype=np.int64)
        self.settled = np.empty(n, dtype=np.bool_)
        self.hkeys = np.empty(m + 2)
        self.hnodes = np.empty(m + 2, dtype=np.int64)
        self.node_flow = np.zeros(n)

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
        sptt = _all_or_nothing(
            self.net.n_zones, self.dest_node, self.demand, self.fs_start, self.fs_link, self.tail, self.head_ext,
            g, self.active, load, y, od, self.node_flow, self.dist, self.pred, self.order, self.settled,
            self.hkeys, self.hnodes,
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


def _check_reachability(prob: _Problem, od: np.ndarray, unreachable: str) -> pd.DataFrame:
    q = prob.demand.copy()
    np.fill_diagonal(q, 0.0)
    bad = (q > 0) & ~np.isfinite(od)
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


# ====================================================================== public API
def assign(
    net: RoadNetwork,
    demand: np.ndarray,
    *,
    algorithm: str = "bfw",
    gap: float = 1e-4,
    max_iterations: int | None = None,
    active: np.ndarray | None = None,
    warm_start: AssignmentResult | np.ndarray | None = None,
    system_optimal: bool = False,
    vdf: VolumeDelayFunction | str | None = None,
    log: Callable[[int, float, float], None] | None = None,
    unreachable: str = "raise",
    toll_weight: float = 0.0,
    length_weight: float = 0.0,
    inner_iterations: int = 4,
    sp_repeats: int = 1,
    time_limit: float | None = None,
) -> AssignmentResult:
    """Solve the static user equilibrium (or system optimum) of ``net`` for ``demand``.

    Parameters
    ----------
    net : RoadNetwork
        The network.
    demand : ndarray, shape (n_zones, n_zones)
        OD demand; the diagonal (intra-zonal trips) is not assigned.
    algorithm : {"fw", "cfw", "bfw", "gp"}
        Frank-Wolfe, conjugate FW, bi-conjugate FW, or path-based gradient projection.
    gap : float
        Target relative gap ``(TSTT - SPTT) / TSTT``.
    max_iterations : int, optional
        Iteration cap (default 10,000 for the FW family, 2,000 for ``gp``).
    active : ndarray of bool, optional
        Link mask; inactive links are absent (no flow, never on a path).
    warm_start : AssignmentResult or ndarray, optional
        A previous result (``gp`` reuses its paths, dropping those over now-inactive links and
        rescaling to the new demand; the FW family uses its flows) or a link-flow array
        (FW family).  A warm start that does not fit is ignored with a note in ``result.notes``.
    system_optimal : bool
        Solve the system optimum (routing on marginal costs) instead of user equilibrium.
    vdf : VolumeDelayFunction or {"bpr", "conical"}, optional
        Volume-delay function; BPR with the network's ``b`` and ``power`` by default.
    log : callable, optional
        Called after each iteration as ``log(iteration, gap, seconds)``.
    unreachable : {"raise", "skip"}
        What to do with demand that has no path: raise :class:`InfeasibleError` (default), or
        leave it unassigned and list it in ``result.unreachable``.
    toll_weight, length_weight : float
        Weights of the link toll and length in the routing cost (generalised cost).
    inner_iterations : int
        ``gp`` only: flow-shift passes over the path sets after each shortest-path sweep.
    sp_repeats : int
        ``gp`` only: per origin and sweep, repeat shortest path and shifts up to this many
        times while new paths turn up.
    time_limit : float, optional
        Stop after this many seconds (the result says ``converged=False``).

    Returns
    -------
    AssignmentResult
    """
    started = time.perf_counter()
    algo = _ALIASES.get(algorithm.lower(), algorithm.lower()) if isinstance(algorithm, str) else algorithm
    if algo not in ALGORITHMS:
        raise InputError(f"assign: unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    if not (isinstance(gap, (int, float)) and gap >= 0 and math.isfinite(gap)):
        raise InputError(f"assign: gap must be a number >= 0, got {gap!r}")
    if unreachable not in ("raise", "skip"):
        raise InputError(f"assign: unreachable must be 'raise' or 'skip', got {unreachable!r}")
    if max_iterations is None:
        max_iterations = 2000 if algo == "gp" else 10000
    if max_iterations < 1:
        raise InputError(f"assign: max_iterations must be >= 1, got {max_iterations}")
    vdf_obj = resolve_vdf(vdf)
    if algo == "gp" and vdf_obj.code is None:
        raise InputError("assign: algorithm 'gp' needs a built-in VDF (BPR or Conical); use fw/cfw/bfw for custom ones")
    prob = _setup(
        net, demand, active=active, vdf=vdf_obj, system_optimal=system_optimal,
        toll_weight=toll_weight, length_weight=length_weight,
    )
    notes: list[str] = []
    # reachability check at free flow (topology does not change during the solve)
    g0, _, _ = prob.evaluate(np.zeros(net.n_links))
    _, _, od0 = prob.aon(g0, load=False)
    unreach = _check_reachability(prob, od0, unreachable)
    if algo == "gp":
        if inner_iterations < 0 or sp_repeats < 1:
            raise InputError("assign: inner_iterations must be >= 0 and sp_repeats >= 1")
        result = _solve_gp(
            prob, gap, max_iterations, warm_start, log, notes, started, inner_iterations, sp_repeats, time_limit
        )
    else:
        result = _solve_fw(prob, algo, gap, max_iterations, warm_start, log, notes, started, time_limit)
    result.unreachable = unreach
    return result


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


def _line_search(prob: _Problem, x: np.ndarray, d: np.ndarray) -> float:
    """Exact minimisation of the objective along ``x + alpha d`` for alpha in [0, 1]."""
    if prob.compiled:
        def deriv(alpha: float) -> tuple[float, float]:
            return _line_derivatives(prob.code, prob.so, alpha, x, d, prob.t0, prob.cap, prob.pa, prob.pb, prob.fixed)
    else:
        def deriv(alpha: float) -> tuple[float, float]:
            g, dg, _ = prob.evaluate(np.maximum(x + alpha * d, 0.0))
            return float(np.dot(d, g)), float(np.dot(d * d, dg))
    f0, _ = deriv(0.0)
    if f0 >= 0.0:
        return 0.0
    f1, _ = deriv(1.0)
    if f1 <= 0.0:
        return 1.0
    lo, hi = 0.0, 1.0
    alpha = f0 / (f0 - f1)  # secant start
    scale = abs(f0)
    for _ in range(60):
        fa, fpa = deriv(alpha)
        if abs(fa) <= 1e-13 * scale:
            break
        if fa > 0:
            hi = alpha
        else:
            lo = alpha
        newton = alpha - fa / fpa if fpa > 0 else -1.0
        alpha = newton if lo < newton < hi else 0.5 * (lo + hi)
        if hi - lo < 1e-15:
            break
    return alpha


def _solve_fw(
    prob: _Problem, algo: str, target: float, max_iter: int, warm: Any, log: Any, notes: list[str],
    started: float, time_limit: float | None,
) -> AssignmentResult:
    m = prob.net.n_links
    x: np.ndarray | None = None
    if warm is not None:
        flows = warm.flows if isinstance(warm, AssignmentResult) else np.asarray(warm, dtype=np.float64)
        if flows.ndim != 1 or flows.size > m:
            notes.append(f"warm start ignored: {flows.size} link flows for {m} links")
        elif np.any(flows[~prob.active[: flows.size]] > 0):
            notes.append("warm start ignored: it has flow on links that are now inactive")
        elif isinstance(warm, AssignmentResult) and not np.allclose(
            warm.demand.sum() - np.trace(warm.demand), prob.demand.sum() - np.trace(prob.demand), rtol=1e-9
        ):
            notes.append("warm start ignored: it was solved for a different total demand")
        else:
            x = np.zeros(m)
            x[: flows.size] = flows
    history: list[tuple[int, float, float, float]] = []
    g, dg, t = prob.evaluate(np.zeros(m))
    y, sptt, od = prob.aon(g)
    if x is None:
        x = y
        it = 1
    else:
        it = 0
    s_prev = s_prev2 = None  # previous target points (conjugate directions)
    tau_prev = 0.0
    direction = "fw"
    while True:
        g, dg, t = prob.evaluate(x)
        y, sptt, od = prob.aon(g)
        gap_value = _relgap(x, g, sptt)
        elapsed = time.perf_counter() - started
        history.append((it, gap_value, float(np.dot(x, t)), elapsed))
        if log is not None:
            log(it, gap_value, elapsed)
        if gap_value <= target or it >= max_iter or (time_limit is not None and elapsed > time_limit):
            break
        it += 1
        # choose the target point s (the direction is s - x)
        if algo == "fw" or direction == "fw" or s_prev is None:
            s = y
            used = "fw"
        elif algo == "cfw" or direction == "cfw" or s_prev2 is None:
            a_ = s_prev - x
            num = float(np.dot(a_ * dg, y - x))
            den = float(np.dot(a_ * dg, y - s_prev))
            alpha = num / den if den != 0.0 else 0.0
            alpha = min(max(alpha, 0.0), 1.0 - 1e-5)
            s = alpha * s_prev + (1.0 - alpha) * y
            used = "cfw"
        else:
            xb = tau_prev * s_prev + (1.0 - tau_prev) * s_prev2 - x
            yb = y - x
            zb = s_prev - x
            wb = s_prev2 - s_prev
            mu_den = float(np.dot(xb * dg, wb))
            mu = max(0.0, -float(np.dot(xb * dg, yb)) / mu_den) if mu_den != 0.0 else 0.0
            nu_den = float(np.dot(zb * dg, zb))
            nu = (
                max(0.0, -float(np.dot(zb * dg, yb)) / nu_den + mu * tau_prev / (1.0 - tau_prev))
                if nu_den != 0.0
                else 0.0
            )
            b0 = 1.0 / (1.0 + mu + nu)
            s = b0 * y + nu * b0 * s_prev + mu * b0 * s_prev2
            used = "bfw"
        d = s - x
        if float(np.dot(g, d)) >= 0.0 and used != "fw":
            s, d, used = y, y - x, "fw"
        tau = _line_search(prob, x, d)
        x = np.maximum(x + tau * d, 0.0)
        if used == "fw":
            s_prev2, s_prev = None, s
            direction = "cfw" if algo in ("cfw", "bfw") else "fw"
        else:
            s_prev2, s_prev = s_prev, s
            direction = "bfw" if algo == "bfw" else "cfw"
        if tau >= 1.0 - 1e-12 or tau <= 0.0:
            # the step replaced (or kept) the solution: restart the conjugate sequence
            direction = "fw"
            s_prev2 = s_prev = None
        tau_prev = tau
    return _finish(prob, algo, x, g, t, sptt, od, it, history, started, target, notes, None)


def _od_structure(prob: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    q = prob.demand.copy()
    np.fill_diagonal(q, 0.0)
    oi, di = np.nonzero(q > 0)  # row-major: sorted by origin
    od_start = np.searchsorted(oi, np.arange(prob.net.n_zones + 1)).astype(np.int64)
    return oi.astype(np.int64), di.astype(np.int64), q[oi, di].copy(), od_start, prob.dest_node[di]


def _solve_gp(
    prob: _Problem, target: float, max_iter: int, warm: Any, log: Any, notes: list[str], started: float,
    inner: int, sp_repeats: int, time_limit: float | None,
) -> AssignmentResult:
    m = prob.net.n_links
    od_orig, od_dest, od_demand, od_start, od_dest_node = _od_structure(prob)
    n_od = od_orig.size
    state: _PathState | None = None
    if isinstance(warm, AssignmentResult) and warm._paths is not None:
        old = warm._paths
        if (
            old.od_orig.size == n_od
            and np.array_equal(old.od_orig, od_orig)
            and np.array_equal(old.od_dest, od_dest)
            and warm.network.n_links <= m
        ):
            state = old.copy()
            scale = od_demand / old.od_demand
            state.od_demand = od_demand
            state.od_orphan = np.zeros(n_od)
            _drop_paths(state.od_first, state.p_next, state.p_flow, state.p_start, state.p_len, state.plinks,
                        prob.active, state.od_orphan, scale)
        else:
            notes.append("warm start ignored: its OD pairs or network differ")
    elif warm is not None:
        notes.append("warm start ignored: 'gp' warm-starts from a 'gp' result (its paths), not from link flows")
    if state is None:
        room = max(4 * n_od, 16)
        state = _PathState(od_orig, od_dest, od_demand, room, room * 8)
        state.od_orphan = od_demand.copy()
    x = np.zeros(m)
    mark = np.zeros(m, dtype=np.int64)
    scratch = np.zeros(prob.n_ext, dtype=np.int64)
    flow_eps = 1e-13
    history: list[tuple[int, float, float, float]] = []

    def sweep(n_inner: int, sp_repeats: int) -> None:
        g, dg, _ = prob.evaluate(x)
        origin = 0
        while True:
            origin = _gp_sweep(
                origin, n_inner, sp_repeats, od_start, od_dest_node, od_demand, state.od_first, state.od_orphan,
                state.p_next, state.p_flow, state.p_start, state.p_len, state.plinks, state.counters,
                prob.fs_start, prob.fs_link, prob.tail, prob.head_ext, prob.active, x, g, dg,
                prob.code, prob.so, prob.t0, prob.cap, prob.pa, prob.pb, prob.fixed, flow_eps,
                prob.dist, prob.pred, prob.order, prob.settled, prob.hkeys, prob.hnodes, mark, scratch,
            )
            if origin < 0:
                return
            k = od_start[origin + 1] - od_start[origin]
            state.grow(k, k * prob.n_ext)

    _flows_from_paths(state.od_first, state.p_next, state.p_flow, state.p_start, state.p_len, state.plinks, x)
    it = 0
    if state.od_orphan.any():
        sweep(0, 1)  # load demand that has no path yet
        it = 1
    while True:
        _flows_from_paths(state.od_first, state.p_next, state.p_flow, state.p_start, state.p_len, state.plinks, x)
        g, dg, t = prob.evaluate(x)
        _, sptt, od = prob.aon(g, load=False)
        gap_value = _relgap(x, g, sptt)
        elapsed = time.perf_counter() - started
        history.append((it, gap_value, float(np.dot(x, t)), elapsed))
        if log is not None:
            log(it, gap_value, elapsed)
        if gap_value <= target or it >= max_iter or (time_limit is not None and elapsed > time_limit):
            break
        it += 1
        sweep(inner, sp_repeats)
    return _finish(prob, "gp", x, g, t, sptt, od, it, history, started, target, notes, state)


# ====================================================================== helpers
def shortest_path_costs(
    net: RoadNetwork, link_costs: np.ndarray, *, active: np.ndarray | None = None
) -> np.ndarray:
    """Zone-to-zone shortest-path costs for given link costs (``inf`` where unreachable).

    Honours ``first_thru_node`` like the assignment does.
    """
    demand = np.ones((net.n_zones, net.n_zones))
    prob = _setup(net, demand, active=active, vdf=BPR(), system_optimal=False, toll_weight=0.0, length_weight=0.0)
    costs = np.ascontiguousarray(link_costs, dtype=np.float64)
    if costs.shape != (net.n_links,) or np.any(costs < 0) or not np.all(np.isfinite(costs)):
        raise InputError("shortest_path_costs: link_costs must be finite, >= 0, one per link")
    _, _, od = prob.aon(costs, load=False)
    return od


def relative_gap(net: RoadNetwork, demand: np.ndarray, flows: np.ndarray, *, vdf: Any = None,
                 active: np.ndarray | None = None) -> float:
    """Relative gap ``(TSTT - SPTT) / TSTT`` of given link flows (independent check)."""
    prob = _setup(net, demand, active=active, vdf=resolve_vdf(vdf), system_optimal=False,
                  toll_weight=0.0, length_weight=0.0)
    x = np.ascontiguousarray(flows, dtype=np.float64)
    g, _, _ = prob.evaluate(x)
    _, sptt, _ = prob.aon(g, load=False)
    return _relgap(x, g, sptt)


def assign_graph(
    graph: Any,
    demand: np.ndarray | Mapping[tuple[Hashable, Hashable], float],
    *,
    zones: Sequence[Hashable],
    time_unit: float = 60.0,
    capacity_by_class: Mapping[str, float] | None = None,
    default_capacity: float | None = None,
    mode: str | None = None,
    zones_carry_through: bool = True,
    **options: Any,
) -> tuple[AssignmentResult, pd.DataFrame]:
    """Assign OD demand between chosen nodes of an osmnx-style (Multi)DiGraph.

    Parameters
    ----------
    graph : networkx.MultiDiGraph or DiGraph
        Edges with ``travel_time`` (s), ``capacity`` (veh/h) or a ``highway`` class found in
        ``capacity_by_class``, optional ``length`` (m) and ``mode``.
    demand : ndarray or mapping
        ``(len(zones), len(zones))`` matrix in the order of ``zones``, or ``{(o, d): trips}``
        keyed by graph nodes.
    zones : sequence of node keys
        The nodes that send and receive demand.
    time_unit, capacity_by_class, default_capacity, mode, zones_carry_through
        Passed to :meth:`RoadNetwork.from_networkx`.
    **options
        Passed to :func:`assign` (``algorithm``, ``gap``, ``unreachable``, ...).

    Returns
    -------
    result : AssignmentResult
        Costs in units of ``time_unit`` seconds (minutes by default).
    edges : DataFrame
        One row per assigned edge: ``u``, ``v``, ``key``, ``flow`` (veh/h), ``travel_time`` (s),
        ``free_flow_time`` (s), ``capacity``, ``voc``.
    """
    net = RoadNetwork.from_networkx(
        graph, zones=zones, time_unit=time_unit, capacity_by_class=capacity_by_class,
        default_capacity=default_capacity, mode=mode, zones_carry_through=zones_carry_through,
    )
    if isinstance(demand, Mapping):
        position = {z: i for i, z in enumerate(zones)}
        matrix = np.zeros((net.n_zones, net.n_zones))
        for (o, d), trips in demand.items():
            if o not in position or d not in position:
                raise InputError(f"assign_graph: demand {o!r}->{d!r} involves a node that is not in 'zones'")
            matrix[position[o], position[d]] += float(trips)
    else:
        matrix = np.asarray(demand, dtype=np.float64)
    result = assign(net, matrix, **options)
    labels = net.link_labels or ()
    with np.errstate(divide="ignore", invalid="ignore"):
        voc = np.where(net.capacity > 0, result.flows / net.capacity, np.nan)
    edges = pd.DataFrame(
        {
            "u": [lab[0] for lab in labels],
            "v": [lab[1] for lab in labels],
            "key": [lab[2] for lab in labels],
            "flow": result.flows,
            "travel_time": result.costs * time_unit,
            "free_flow_time": net.free_flow_time * time_unit,
            "capacity": net.capacity,
            "voc": voc,
        }
    )
    return result, edges
