"""Budget-aware lower bound for the DNDP: outer-approximated system optimum as a MILP (MathOpt).

``min over budget-feasible designs y of SO(y)`` bounds the UE TSTT of every feasible design.
With binary projects, origin-based link flows and the convex link TSTT ``g_a(x) = x t_a(x)``
replaced by the maximum of tangent planes (an under-estimate), it is a MILP whose optimal
value (its dual bound, to be safe) is a valid lower bound.  Tangents are added at the
MILP's own flows for a few rounds (Kelley / outer approximation), tightening the bound.

Unlike the subset cuts of the CP-SAT master, which only bound designs inside an evaluated
link set, this bound sees the budget: on the 20-candidate instances it is far above the SO
of the network with every candidate open.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Sequence

import numpy as np
from ortools.math_opt.python import mathopt

from networks.errors import SolverError

__all__ = ["so_budget_bound"]


def _g(x: np.ndarray, fft, b, cap, pw) -> tuple[np.ndarray, np.ndarray]:
    """Link TSTT x t(x) and its derivative."""
    r = np.where(cap > 0, x / np.where(cap > 0, cap, 1.0), 0.0)
    rp = r**pw
    val = fft * (x + b * x * rp)
    der = fft * (1.0 + (pw + 1.0) * b * rp)
    return val, der


def so_budget_bound(
    *,
    n_nodes: int,
    tail: np.ndarray,
    head: np.ndarray,
    free_flow_time: np.ndarray,
    b: np.ndarray,
    capacity: np.ndarray,
    power: np.ndarray,
    demand: np.ndarray,
    first_thru_node: int,
    link_on: np.ndarray,
    project_links: Sequence[np.ndarray],
    int_costs: np.ndarray,
    int_budget: int,
    requires: Sequence[tuple[int, int]],
    excludes: Sequence[tuple[int, int]],
    forbidden: Sequence[int] = (),
    seed_flows: Sequence[np.ndarray] = (),
    rounds: int = 6,
    time_limit: float | None = None,
    solver: str = "highs",
) -> tuple[float, int, np.ndarray]:
    """Lower bound on min over feasible designs of SO TSTT.

    Parameters
    ----------
    link_on : numpy.ndarray
        Links always available (base links, replaced links included).
    project_links : sequence of arrays
        Links opened by each project.
    forbidden : sequence of int
        Designs (bitmasks) excluded by no-good cuts (already evaluated).
    seed_flows : sequence of arrays
        Link flows at which to put the first tangents (e.g. SO flows of evaluated sets).

    Returns
    -------
    bound : float
        Valid lower bound (``inf`` if no feasible design routes the demand).
    bits : int
        Design of the last MILP solution.
    flows : numpy.ndarray
        Its link flows.
    """
    n_links = len(tail)
    n_proj = len(project_links)
    dem = np.asarray(demand, dtype=np.float64)
    origins = [o for o in range(dem.shape[0]) if dem[o].sum() - dem[o, o] > 0]
    usable = link_on.copy()
    owner = -np.ones(n_links, dtype=np.int64)
    for i, links in enumerate(project_links):
        usable[links] = True
        owner[links] = i
    links = np.flatnonzero(usable)
    total = float(dem.sum() - np.trace(dem))
    fft, bb, cap, pw = (np.asarray(v, dtype=np.float64) for v in (free_flow_time, b, capacity, power))

    model = mathopt.Model(name="dndp_so_bound")
    y = [model.add_binary_variable(name=f"y{i}") for i in range(n_proj)]
    model.add_linear_constraint(sum(int(c) * v for c, v in zip(int_costs, y)) <= int(int_budget))
    for i, j in requires:
        model.add_linear_constraint(y[i] <= y[j])
    for i, j in excludes:
        model.add_linear_constraint(y[i] + y[j] <= 1)
    for bits in forbidden:
        ones = [y[i] for i in range(n_proj) if bits >> i & 1]
        zeros = [y[i] for i in range(n_proj) if not bits >> i & 1]
        model.add_linear_constraint(sum(1 - v for v in ones) + sum(zeros) >= 1)
    x = {a: model.add_variable(lb=0.0, ub=total, name=f"x{a}") for a in links}
    z = {a: model.add_variable(lb=0.0, name=f"z{a}") for a in links}
    out_links = [[] for _ in range(n_nodes)]
    in_links = [[] for _ in range(n_nodes)]
    for a in links:
        out_links[tail[a]].append(a)
        in_links[head[a]].append(a)
    flow_terms: dict[int, list] = {a: [] for a in links}
    for o in origins:
        supply = float(dem[o].sum() - dem[o, o])
        f = {}
        for a in links:
            t = tail[a]
            if t != o and t < first_thru_node:
                continue  # zones carry no through traffic
            if head[a] == o:
                continue  # an origin's flow never needs to come back
            f[a] = model.add_variable(lb=0.0, ub=supply, name=f"f{o}_{a}")
            flow_terms[a].append(f[a])
            if owner[a] >= 0:
                model.add_linear_constraint(f[a] <= supply * y[owner[a]])
        for i in range(n_nodes):
            rhs = supply if i == o else (-float(dem[o, i]) if i < dem.shape[0] else 0.0)
            outs = [f[a] for a in out_links[i] if a in f]
            ins = [f[a] for a in in_links[i] if a in f]
            if not outs and not ins:
                if abs(rhs) > 0:
                    return math.inf, -1, np.zeros(n_links)
                continue
            model.add_linear_constraint(sum(outs) - sum(ins) == rhs)
    for a in links:
        model.add_linear_constraint(x[a] == sum(flow_terms[a]))
    model.minimize(sum(z.values()))

    def add_tangents(points: np.ndarray) -> None:
        val, der = _g(points, fft[links], bb[links], cap[links], pw[links])
        for k, a in enumerate(links):
            p = points[k]
            model.add_linear_constraint(z[a] >= float(val[k]) + float(der[k]) * (x[a] - float(p)))

    # first tangents: a grid in units of capacity plus the seed flows
    grid = [0.0, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0]
    for r in grid:
        add_tangents(np.minimum(r * cap[links], total))
    for flows in seed_flows:
        add_tangents(np.asarray(flows, dtype=np.float64)[links])

    stype = {"highs": mathopt.SolverType.HIGHS, "scip": mathopt.SolverType.GSCIP}[solver]
    bound = -math.inf
    bits, xs = -1, np.zeros(n_links)
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    for _ in range(max(1, rounds)):
        params = mathopt.SolveParameters(relative_gap_tolerance=1e-7, random_seed=0)
        if deadline is not None:
            left = deadline - time.perf_counter()
            if left <= 1.0 and bound > -math.inf:
                break
            params.time_limit = datetime.timedelta(seconds=max(1.0, left))
        res = mathopt.solve(model, stype, params=params)
        reason = res.termination.reason
        if reason == mathopt.TerminationReason.INFEASIBLE:
            return math.inf, -1, xs
        if reason not in (mathopt.TerminationReason.OPTIMAL, mathopt.TerminationReason.FEASIBLE):
            if reason == mathopt.TerminationReason.NO_SOLUTION_FOUND:
                break
            raise SolverError(f"SO bound MILP ended with {reason.name}: {res.termination.detail}")
        dual = res.termination.objective_bounds.dual_bound
        bound = max(bound, float(dual))
        vals = res.variable_values()
        xs = np.zeros(n_links)
        for a in links:
            xs[a] = max(0.0, vals[x[a]])
        bits = sum(1 << i for i in range(n_proj) if vals[y[i]] > 0.5)
        true_val = float(_g(xs[links], fft[links], bb[links], cap[links], pw[links])[0].sum())
        if true_val - res.objective_value() <= 1e-5 * true_val:
            break
        add_tangents(xs[links])
    return bound, bits, xs
