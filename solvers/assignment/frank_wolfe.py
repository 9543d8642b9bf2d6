"""Frank-Wolfe, conjugate and bi-conjugate Frank-Wolfe (link-based, exact line search)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from solvers.assignment._kernels import _line_derivatives
from solvers.assignment._problem import AssignmentResult, _finish, _Problem, _relgap


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


