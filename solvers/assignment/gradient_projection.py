"""Path-based gradient projection (Jayakrishnan et al., 1994): Gauss-Seidel sweeps over origins,
extra flow-shift passes, warm starts from a previous result's paths."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from solvers.assignment._kernels import _drop_paths, _flows_from_paths, _gp_sweep
from solvers.assignment._problem import (
    AssignmentResult,
    _finish,
    _PathState,
    _Problem,
    _relgap,
)


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
                prob.c_start, prob.c_head, prob.c_cost, prob.c_link, prob.c_tail, prob.m_start, prob.m_link, x, g, dg,
                prob.code, prob.so, prob.t0, prob.cap, prob.pa, prob.pb, prob.fixed, flow_eps,
                prob.dist, prob.pred, prob.order, prob.pos, prob.hkeys, prob.hnodes, mark, scratch,
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
