"""Private path-based equilibrium engine for network design (UE and SO, warm-started).

Network design evaluates hundreds of designs that differ by a few links, so each
evaluation must reach a relative gap of 1e-6 in milliseconds and start from the paths of a
neighbouring design.  This module is a compact Gauss-Seidel gradient-projection solver
(Jayakrishnan et al. 1994) over per-OD path sets, compiled with numba, that:

- solves user equilibrium (link costs) or system optimum (marginal costs) with BPR costs;
- after each sweep (a shortest-path tree per origin, then flow shifts), makes
  :data:`INNER_PASSES` more projection passes over the paths it knows, without shortest
  paths: far fewer sweeps to the same certified gap (``benchmarks/bench_dndp_engine.py``);
- switches links on and off with a mask without rebuilding anything;
- packs a solved state into a few kilobytes and restarts another design from it (paths
  that use a switched-off link hand their flow to the new shortest path);
- returns for SO a certified lower bound (the Frank-Wolfe/Lagrangian bound
  ``Z(x) - (m(x).x - SPTT_m)``), so branch and bound never prunes on a rounded value.

It is private to :mod:`solvers.dndp`; general traffic assignment lives in
:mod:`solvers.assignment`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from solvers._jit import njit

from solvers._heap import _heap_pop, _heap_push, _relax

__all__ = ["Equilibrium", "EquilibriumResult", "PackedState"]

_INF = 1.0e300
#: Networks with more nodes than this use the binary-heap Dijkstra.
_HEAP_ABOVE = 200
#: Default extra projection passes per sweep (:class:`Equilibrium`'s ``inner_passes``).
INNER_PASSES = 8


@njit(cache=True, inline="always")
def _power(r, p):
    """``r ** p``, without the general pow() for the usual BPR powers 4 and 1."""
    if p == 4.0:
        r2 = r * r
        return r2 * r2
    if p == 1.0:
        return r
    return r**p


@njit(cache=True)
def _cost_and_derivative(a, x, fft, b, cap, pw, mu):
    """Cost ``t + mu x t'`` of link ``a`` at flow ``x`` and its derivative (BPR).

    ``mu = 0`` is the travel time (user equilibrium), ``mu = 1`` the marginal cost (system
    optimum); in between it is the gradient of ``mu TSTT + (1 - mu) Beckmann``.
    """
    ratio = x / cap[a]
    p = pw[a]
    if p == 0.0:
        t = fft[a] * (1.0 + b[a])
        return t, 0.0
    rp = _power(ratio, p)
    t = fft[a] * (1.0 + b[a] * rp)
    if x > 0.0:
        dt = fft[a] * b[a] * p * rp / x
    elif p == 1.0:
        dt = fft[a] * b[a] / cap[a]
    else:
        dt = 0.0
    if mu == 0.0:
        return t, dt
    # m = t + mu x t', m' = (1 + mu) t' + mu x t''
    m = t + mu * x * dt
    if x > 0.0:
        ddt_x = (p - 1.0) * dt
    else:
        ddt_x = 0.0
    return m, (1.0 + mu) * dt + mu * ddt_x


@njit(cache=True)
def _travel_time(a, x, fft, b, cap, pw):
    if pw[a] == 0.0:
        return fft[a] * (1.0 + b[a])
    return fft[a] * (1.0 + b[a] * _power(x / cap[a], pw[a]))


@njit(cache=True)
def _beckmann_term(a, x, fft, b, cap, pw):
    """Integral of the BPR travel time of link ``a`` from 0 to ``x``."""
    if pw[a] == 0.0:
        return fft[a] * (1.0 + b[a]) * x
    return fft[a] * (x + b[a] * x * _power(x / cap[a], pw[a]) / (pw[a] + 1.0))


@njit(cache=True)
def _dijkstra(origin, n_nodes, fs_start, fs_link, head, active, thru_ok, cost, dist, pred, done, hkeys, hnodes):
    """Shortest-path tree from ``origin``; zones other than the origin do not pass traffic on.

    With empty heap arrays it is the O(n^2) array version (fastest on research networks of a
    few dozen nodes); otherwise a binary heap (regional networks of thousands of nodes).
    """
    for i in range(n_nodes):
        dist[i] = _INF
        pred[i] = -1
        done[i] = False
    dist[origin] = 0.0
    heaped = hkeys.shape[0] > 0
    size = _heap_push(hkeys, hnodes, 0, 0.0, origin) if heaped else 0
    for _ in range(n_nodes if not heaped else hkeys.shape[0]):
        if heaped:
            if size == 0:
                break
            best, u, size = _heap_pop(hkeys, hnodes, size)
            if done[u]:
                continue
        else:
            u = -1
            best = _INF
            for i in range(n_nodes):
                if not done[i] and dist[i] < best:
                    best = dist[i]
                    u = i
            if u < 0:
                break
        done[u] = True
        if u == origin or thru_ok[u]:
            size = _relax(u, best, fs_start, fs_link, head, active, cost, dist, pred, hkeys, hnodes, size)


@njit(cache=True)
def _recompute_flows(P, plen, h, npath, n_links, x):
    for a in range(n_links):
        x[a] = 0.0
    for od in range(P.shape[0]):
        for k in range(npath[od]):
            f = h[od, k]
            if f > 0.0:
                for j in range(plen[od, k]):
                    x[P[od, k, j]] += f


@njit(cache=True)
def _unpack_into(od_of, flow, offsets, links, P, plen, h, npath):
    for od in range(P.shape[0]):
        npath[od] = 0
    for i in range(od_of.shape[0]):
        od = od_of[i]
        k = npath[od]
        if k >= P.shape[1]:
            continue
        n = offsets[i + 1] - offsets[i]
        if n > P.shape[2]:
            continue  # longer than this engine's paths: its flow is reloaded as unassigned demand
        for j in range(n):
            P[od, k, j] = links[offsets[i] + j]
        plen[od, k] = n
        h[od, k] = flow[i]
        npath[od] = k + 1


@njit(cache=True)
def _drop_inactive_paths(P, plen, h, npath, active):
    """Remove paths that use a switched-off link; their flow becomes unassigned demand."""
    for od in range(P.shape[0]):
        k = 0
        while k < npath[od]:
            ok = True
            for j in range(plen[od, k]):
                if not active[P[od, k, j]]:
                    ok = False
                    break
            if ok:
                k += 1
            else:
                last = npath[od] - 1
                for j in range(plen[od, last]):
                    P[od, k, j] = P[od, last, j]
                plen[od, k] = plen[od, last]
                h[od, k] = h[od, last]
                h[od, last] = 0.0
                npath[od] = last


@njit(cache=True)
def _move(a, delta, x, cost, deriv, fft, b, cap, pw, mu):
    """Add ``delta`` to link ``a``'s flow (never below 0) and update its cost and derivative."""
    x[a] += delta
    if x[a] < 0.0:
        x[a] = 0.0
    c, d = _cost_and_derivative(a, x[a], fft, b, cap, pw, mu)
    cost[a] = c
    deriv[a] = d


@njit(cache=True)
def _shift(P, plen, od, k, delta, x, cost, deriv, fft, b, cap, pw, mu):
    for j in range(plen[od, k]):
        _move(P[od, k, j], delta, x, cost, deriv, fft, b, cap, pw, mu)


@njit(cache=True)
def _project_od(P, plen, h, npath, od, x, cost, deriv, fft, b, cap, pw, mu, pcost, mark):
    """Gradient projection of OD ``od``: Newton shifts from each used path to its cheapest known path."""
    m = npath[od]
    if m < 2:
        return
    # gradient projection towards the cheapest known path
    best = 0
    for k in range(m):
        c = 0.0
        for j in range(plen[od, k]):
            c += cost[P[od, k, j]]
        pcost[k] = c
        if c < pcost[best]:
            best = k
    for j in range(plen[od, best]):
        mark[P[od, best, j]] = 1
    for k in range(m):
        if k == best or h[od, k] <= 0.0:
            continue
        # path k's cost now: earlier shifts in this pass may have moved flow off its links, and a
        # stale cost overshoots the step (Gauss-Seidel then circles at a gap near 1e-8 on Anaheim)
        c = 0.0
        s2 = 0.0
        for j in range(plen[od, k]):
            a = P[od, k, j]
            c += cost[a]
            if mark[a] == 1:
                mark[a] = 2
            else:
                s2 += deriv[a]
        diff = c - pcost[best]
        if diff <= 0.0:
            for j in range(plen[od, k]):
                a = P[od, k, j]
                if mark[a] == 2:
                    mark[a] = 1
            continue
        for j in range(plen[od, best]):
            a = P[od, best, j]
            if mark[a] == 1:
                s2 += deriv[a]
        if s2 <= 1e-300:
            delta = h[od, k]
        else:
            delta = diff / s2
            if delta > h[od, k]:
                delta = h[od, k]
        h[od, k] -= delta
        h[od, best] += delta
        # links on both paths (mark 2) keep their flow, and their mark goes back to 1
        for j in range(plen[od, best]):
            a = P[od, best, j]
            if mark[a] == 1:
                _move(a, delta, x, cost, deriv, fft, b, cap, pw, mu)
        for j in range(plen[od, k]):
            a = P[od, k, j]
            if mark[a] == 2:
                mark[a] = 1
            else:
                _move(a, -delta, x, cost, deriv, fft, b, cap, pw, mu)
        # costs moved: refresh the cheapest path's cost for the later shifts
        c = 0.0
        for j in range(plen[od, best]):
            c += cost[P[od, best, j]]
        pcost[best] = c
    for j in range(plen[od, best]):
        mark[P[od, best, j]] = 0


@njit(cache=True)
def _solve(
    n_nodes, fs_start, fs_link, tail, head, active, thru_ok, fft, b, cap, pw,
    org_start, od_dest, od_dem, origins,
    P, plen, h, npath, x, mu, gap_target, max_iter, stop_above, stop_below, can_grow, n_inner,
):
    n_links = head.shape[0]
    K = P.shape[1]
    L = P.shape[2]
    cost = np.empty(n_links)
    deriv = np.empty(n_links)
    dist = np.empty(n_nodes)
    pred = np.empty(n_nodes, np.int64)
    done = np.empty(n_nodes, np.bool_)
    mark = np.zeros(n_links, np.int64)
    heap_size = n_links + 1 if n_nodes > _HEAP_ABOVE else 0
    hkeys = np.empty(heap_size)
    hnodes = np.empty(heap_size, np.int64)
    path_buf = np.empty(L, np.int64)
    pcost = np.empty(K)
    # 1: an OD pair's path set is full of used paths and a new shortest path could not be kept;
    # 2: a shortest path is longer than the path rows: the caller enlarges the arrays and resumes
    grow = 0
    gap = 1.0
    sptt = 0.0
    total = 0.0
    it = 0
    for it in range(max_iter + 1):
        # --- convergence check on a consistent snapshot --------------------------------
        for a in range(n_links):
            c, d = _cost_and_derivative(a, x[a], fft, b, cap, pw, mu)
            cost[a] = c
            deriv[a] = d
        total = 0.0
        for a in range(n_links):
            if active[a]:
                total += cost[a] * x[a]
        sptt = 0.0
        complete = True
        for oi in range(origins.shape[0]):
            _dijkstra(origins[oi], n_nodes, fs_start, fs_link, head, active, thru_ok, cost, dist, pred, done, hkeys, hnodes)
            for od in range(org_start[oi], org_start[oi + 1]):
                dd = dist[od_dest[od]]
                if dd >= _INF:
                    return -1.0, 0.0, 0.0, it, 0.0, 0  # an OD pair cannot be routed
                sptt += od_dem[od] * dd
                s = 0.0
                for k in range(npath[od]):
                    s += h[od, k]
                if s < od_dem[od] * (1.0 - 1e-12):
                    complete = False
        if complete and total > 0.0:
            gap = (total - sptt) / total
        else:
            gap = 1.0
        if gap <= gap_target or it == max_iter:
            break
        if mu > 0.0 and complete and (stop_above < _INF or stop_below > -_INF):
            # a pruning test needs only to know on which side of a threshold the optimum lies
            phi = 0.0
            for a in range(n_links):
                if active[a] and x[a] > 0.0:
                    phi += mu * x[a] * _travel_time(a, x[a], fft, b, cap, pw)
                    if mu < 1.0:
                        phi += (1.0 - mu) * _beckmann_term(a, x[a], fft, b, cap, pw)
            if phi - (total - sptt) >= stop_above or phi < stop_below:
                break
        # --- one Gauss-Seidel sweep over origins -----------------------------------------
        for oi in range(origins.shape[0]):
            o = origins[oi]
            _dijkstra(o, n_nodes, fs_start, fs_link, head, active, thru_ok, cost, dist, pred, done, hkeys, hnodes)
            for od in range(org_start[oi], org_start[oi + 1]):
                dnode = od_dest[od]
                # shortest path, destination to origin
                n = 0
                v = dnode
                while v != o:
                    if n == L:
                        break
                    a = pred[v]
                    path_buf[n] = a
                    n += 1
                    if a < 0:
                        break
                    v = tail[a]
                if v != o and n == L:
                    grow = 2
                    continue
                # look it up among known paths
                found = -1
                for k in range(npath[od]):
                    if plen[od, k] != n:
                        continue
                    same = True
                    for j in range(n):
                        if P[od, k, j] != path_buf[n - 1 - j]:
                            same = False
                            break
                    if same:
                        found = k
                        break
                if found < 0:
                    if npath[od] == K:
                        # compact: drop zero-flow paths
                        q = 0
                        for k in range(npath[od]):
                            if h[od, k] > 0.0:
                                if q != k:
                                    for j in range(plen[od, k]):
                                        P[od, q, j] = P[od, k, j]
                                    plen[od, q] = plen[od, k]
                                    h[od, q] = h[od, k]
                                q += 1
                        for k in range(q, npath[od]):
                            h[od, k] = 0.0
                        npath[od] = q
                    if npath[od] == K and can_grow:
                        grow = 1
                    if npath[od] < K:
                        found = npath[od]
                        for j in range(n):
                            P[od, found, j] = path_buf[n - 1 - j]
                        plen[od, found] = n
                        h[od, found] = 0.0
                        npath[od] += 1
                # unassigned demand (cold start, or paths dropped by a design change)
                s = 0.0
                for k in range(npath[od]):
                    s += h[od, k]
                resid = od_dem[od] - s
                if resid > 0.0 and found >= 0:
                    h[od, found] += resid
                    _shift(P, plen, od, found, resid, x, cost, deriv, fft, b, cap, pw, mu)
                _project_od(P, plen, h, npath, od, x, cost, deriv, fft, b, cap, pw, mu, pcost, mark)
        for _ in range(n_inner):
            # more projections on the known paths (no shortest paths): cheap, and they cut the sweeps
            for od in range(od_dem.shape[0]):
                _project_od(P, plen, h, npath, od, x, cost, deriv, fft, b, cap, pw, mu, pcost, mark)
        # exact link flows from path flows (no drift)
        _recompute_flows(P, plen, h, npath, n_links, x)
        if grow > 0:
            it += 1  # sweeps done
            break
    tstt = 0.0
    beckmann = 0.0
    for a in range(n_links):
        if active[a] and x[a] > 0.0:
            tstt += x[a] * _travel_time(a, x[a], fft, b, cap, pw)
            beckmann += _beckmann_term(a, x[a], fft, b, cap, pw)
    if mu > 0.0:
        # Lagrangian (Frank-Wolfe) lower bound on min of mu TSTT + (1 - mu) Beckmann
        bound = mu * tstt + (1.0 - mu) * beckmann - (total - sptt)
    else:
        bound = tstt
    return tstt, bound, gap, it, beckmann, grow


@dataclass(frozen=True)
class PackedState:
    """Path flows of a solved design, compact enough to keep one per evaluated design."""

    od: np.ndarray
    flow: np.ndarray
    offsets: np.ndarray
    links: np.ndarray


@dataclass(frozen=True)
class EquilibriumResult:
    """One equilibrium solve.

    Attributes
    ----------
    tstt : float
        Total system travel time sum(x * t(x)) of the final flows.
    bound : float
        For ``mu > 0`` a certified lower bound on the minimum of ``mu TSTT + (1 - mu) B``
        (``B`` the Beckmann objective; ``mu = 1`` is SO TSTT); for UE equal to ``tstt``.
    gap : float
        Relative gap reached ((TSTT - SPTT) / TSTT, with marginal costs for SO).
    iterations : int
        Gauss-Seidel sweeps.
    state : PackedState
        Path flows, for warm starts.
    flows : numpy.ndarray
        Link flows.
    beckmann : float
        Beckmann objective (sum of the integrals of the link travel times) of the flows.
    """

    tstt: float
    bound: float
    gap: float
    iterations: int
    state: PackedState
    flows: np.ndarray
    beckmann: float = 0.0


class Equilibrium:
    """UE/SO solver over a fixed link set with on/off masks.

    Parameters
    ----------
    n_nodes : int
        Number of nodes (0-based ids below it).
    tail, head : numpy.ndarray
        0-based link end nodes.
    free_flow_time, b, capacity, power : numpy.ndarray
        BPR parameters per link.
    demand : numpy.ndarray
        ``n_zones x n_zones`` trip matrix (zones are nodes ``0..n_zones-1``).
    first_thru_node : int
        0-based index of the first node that may carry through traffic (as in
        :class:`networks.tntp.RoadNetwork`); ``0`` means every node may.
    max_paths : int
        Paths kept per OD pair at first.  When an OD pair's paths all carry flow and a new
        shortest path turns up, the store doubles (up to ``path_cap``): an equilibrium that needs
        more routes than the store holds could not be reached (the sweeps would stall).
    path_cap : int
        Most paths per OD pair.
    inner_passes : int, optional
        Extra projection passes over every OD pair's known paths after each sweep (no shortest
        paths; as :func:`solvers.assignment.assign`'s ``inner_iterations``), default
        :data:`INNER_PASSES`.  Not in solves with a pruning threshold, which stop after a sweep
        or two.  They change how fast the solve gets to its gap, never what the gap certifies
        (``python -m benchmarks.run dndp_engine``).
    """

    def __init__(
        self,
        *,
        n_nodes: int,
        tail: np.ndarray,
        head: np.ndarray,
        free_flow_time: np.ndarray,
        b: np.ndarray,
        capacity: np.ndarray,
        power: np.ndarray,
        demand: np.ndarray,
        first_thru_node: int = 0,
        max_paths: int = 24,
        path_cap: int = 384,
        inner_passes: int | None = None,
    ) -> None:
        self.n_nodes = int(n_nodes)
        self.tail = np.ascontiguousarray(tail, dtype=np.int64)
        self.head = np.ascontiguousarray(head, dtype=np.int64)
        self.fft = np.ascontiguousarray(free_flow_time, dtype=np.float64)
        self.b = np.ascontiguousarray(b, dtype=np.float64)
        self.cap = np.ascontiguousarray(capacity, dtype=np.float64)
        self.pw = np.ascontiguousarray(power, dtype=np.float64)
        order = np.argsort(self.tail, kind="stable")
        self.fs_link = order.astype(np.int64)
        self.fs_start = np.searchsorted(self.tail[order], np.arange(self.n_nodes + 1)).astype(np.int64)
        thru = np.ones(self.n_nodes, dtype=np.bool_)
        thru[: max(0, int(first_thru_node))] = False
        self.thru_ok = thru
        dem = np.asarray(demand, dtype=np.float64)
        o_idx, d_idx = np.nonzero(dem > 0.0)
        keep = o_idx != d_idx
        o_idx, d_idx = o_idx[keep], d_idx[keep]
        self.origins = np.unique(o_idx).astype(np.int64)
        self.org_start = np.append(np.searchsorted(o_idx, self.origins), len(o_idx)).astype(np.int64)
        self.od_orig = o_idx.astype(np.int64)
        self.od_dest = d_idx.astype(np.int64)
        self.od_dem = dem[o_idx, d_idx].astype(np.float64)
        self.n_od = len(self.od_dem)
        self.max_paths = int(max_paths)
        self.path_cap = max(int(path_cap), self.max_paths)
        self.inner_passes = int(INNER_PASSES if inner_passes is None else inner_passes)
        if self.inner_passes < 0:
            raise ValueError(f"inner_passes {inner_passes!r} must be >= 0")
        # rows for the links of one path: grown (doubled) when a longer shortest path turns up, so
        # the path store stays small on a large network (a simple path has < n_nodes links)
        self.max_len = min(self.n_nodes, 128)

    @classmethod
    def from_network(cls, network: Any, demand: np.ndarray, **kwargs: Any) -> "Equilibrium":
        """Engine for a :class:`networks.tntp.RoadNetwork` (its BPR links and first thru node)."""
        return cls(n_nodes=network.n_nodes, tail=network.tail, head=network.head,
                   free_flow_time=network.free_flow_time, b=network.b, capacity=network.capacity,
                   power=network.power, demand=demand, first_thru_node=network.first_thru_node, **kwargs)

    def _empty(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # one set of work arrays per engine, reused: solves are sequential
        if not hasattr(self, "_work"):
            self._work = (
                np.zeros((self.n_od, self.max_paths, self.max_len), dtype=np.int64),
                np.zeros((self.n_od, self.max_paths), dtype=np.int64),
                np.zeros((self.n_od, self.max_paths)),
                np.zeros(self.n_od, dtype=np.int64),
            )
        P, plen, h, npath = self._work
        h[:] = 0.0
        npath[:] = 0
        return P, plen, h, npath

    def _unpack(self, state: PackedState):
        P, plen, h, npath = self._empty()
        _unpack_into(state.od.astype(np.int64), state.flow, state.offsets.astype(np.int64), state.links.astype(np.int64),
                     P, plen, h, npath)
        return P, plen, h, npath

    @staticmethod
    def _pack(P, plen, h, npath) -> PackedState:
        live = np.arange(P.shape[1])[None, :] < npath[:, None]
        ods, ks = np.nonzero((h > 0.0) & live)
        lens = plen[ods, ks]
        offsets = np.zeros(len(ods) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        mask = np.arange(P.shape[2])[None, :] < lens[:, None]
        links = P[ods, ks][mask]
        # branch and bound keeps thousands of these alive: the smallest integer types that fit
        links = links.astype(np.int16 if links.size == 0 or links.max() < 2**15 else np.int32)
        offsets = offsets.astype(np.int32) if offsets[-1] < 2**31 else offsets
        return PackedState(od=ods.astype(np.int32), flow=h[ods, ks].copy(), offsets=offsets, links=links)

    def solve(
        self,
        active: np.ndarray,
        *,
        system_optimal: bool = False,
        mu: float | None = None,
        gap: float = 1e-6,
        max_iterations: int = 2000,
        warm_start: PackedState | None = None,
        stop_above: float = np.inf,
        stop_below: float = -np.inf,
    ) -> EquilibriumResult:
        """Equilibrate the design ``active`` (boolean mask over links).

        ``mu`` in [0, 1] minimises ``mu TSTT + (1 - mu) B`` instead (0 is UE, 1 is SO;
        ``system_optimal=True`` means ``mu=1``).  For ``mu > 0`` the solve also stops as soon
        as the certified bound reaches ``stop_above`` or the objective of the current flows
        drops below ``stop_below`` (a pruning test).  Returns ``tstt = -1`` in
        :attr:`EquilibriumResult.tstt` when some OD pair with demand has no path in this design.
        """
        weight = (1.0 if system_optimal else 0.0) if mu is None else float(mu)
        # a pruning test stops after a sweep or two: extra passes would only slow it
        inner = self.inner_passes if np.isinf(stop_above) and np.isinf(stop_below) else 0
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"mu {mu!r} must be in [0, 1]")
        active = np.ascontiguousarray(active, dtype=np.bool_)
        if warm_start is None:
            P, plen, h, npath = self._empty()
        else:
            P, plen, h, npath = self._unpack(warm_start)
            _drop_inactive_paths(P, plen, h, npath, active)
        x = np.zeros(len(self.head))
        _recompute_flows(P, plen, h, npath, len(self.head), x)
        done = 0
        while True:
            tstt, bound, reached, it, beckmann, grow = _solve(
                self.n_nodes, self.fs_start, self.fs_link, self.tail, self.head, active, self.thru_ok,
                self.fft, self.b, self.cap, self.pw,
                self.org_start, self.od_dest, self.od_dem, self.origins,
                P, plen, h, npath, x, weight, float(gap), max(int(max_iterations) - done, 0),
                min(float(stop_above), _INF), max(float(stop_below), -_INF), self.max_paths < self.path_cap,
                inner,
            )
            done += it
            if not grow or tstt < 0:
                break
            # enlarge the path store and resume from the same path flows
            state = self._pack(P, plen, h, npath)
            if grow == 1:
                self.max_paths = min(2 * self.max_paths, self.path_cap)
            else:
                self.max_len = min(2 * self.max_len, self.n_nodes)
            del self._work
            P, plen, h, npath = self._unpack(state)
            _recompute_flows(P, plen, h, npath, len(self.head), x)
        it = done
        return EquilibriumResult(
            tstt=float(tstt), bound=float(bound), gap=float(reached), iterations=int(it),
            state=self._pack(P, plen, h, npath), flows=x, beckmann=float(beckmann),
        )
