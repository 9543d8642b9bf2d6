"""``method="cuts"``: the combinatorial cut loop around a CP-SAT master (see :mod:`solvers.dndp`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from ortools.sat.python import cp_model

from networks.errors import SolverError
from solvers._sigint import solve_interruptibly
from solvers.dndp._problem import _Evaluator, _Problem


def _design_space(problem: _Problem) -> tuple[cp_model.CpModel, list[Any]]:
    """CP-SAT model of the feasible designs: one boolean per project, budget, requirements, exclusions."""
    m = cp_model.CpModel()
    y = [m.NewBoolVar(f"y{i}") for i in range(problem.n)]
    m.Add(sum(int(c) * v for c, v in zip(problem.int_costs, y)) <= problem.int_budget)
    for i, j in problem.requires:
        m.AddImplication(y[i], y[j])
    for i, j in problem.excludes:
        m.AddBoolOr([y[i].Not(), y[j].Not()])
    return m, y


def _certify(problem: _Problem, cuts: Sequence[tuple[int, float] | tuple[int, float, int]], designs: Iterable[int],
             level: float, *, time_limit: float | None, seed: int) -> tuple[str, int]:
    """Check with CP-SAT that no feasible design can be below ``level``.

    Every feasible design must be one of ``designs`` (evaluated, none below ``level``) or
    under a cut with ``bound >= level``: a cut ``(bits, bound)`` covers the subsets of the
    link set ``bits``, a cut ``(bits, bound, inside)`` those of them that hold ``inside``.
    The model asks for a feasible design outside all of them; ``"INFEASIBLE"`` is the
    certificate.  Returns the CP-SAT status name and, when it finds one, the uncovered design.
    """
    m, y = _design_space(problem)
    n = problem.n
    for bits, bound, *inside in cuts:
        if bound >= level:
            held = inside[0] if inside else 0
            m.AddBoolOr([y[i] for i in range(n) if not bits >> i & 1] + [y[i].Not() for i in range(n) if held >> i & 1]
                        or [False])
    for bits in designs:
        m.AddBoolOr([y[i].Not() if bits >> i & 1 else y[i] for i in range(n)])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    if time_limit is not None:
        solver.parameters.max_time_in_seconds = max(0.1, time_limit)
    status = solve_interruptibly(solver, m)
    found = -1
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = sum(1 << i for i in range(n) if solver.Value(y[i]))
    return solver.StatusName(status), found


class _Master:
    """CP-SAT model over the binary design: min eta subject to cuts."""

    def __init__(self, problem: _Problem, *, scale: float, eta_lb: int, eta_ub: int, seed: int) -> None:
        self.problem = problem
        self.scale = scale
        m, self.y = _design_space(problem)
        self.model = m
        self.eta = m.NewIntVar(eta_lb, eta_ub, "eta")
        # best bound first; try larger designs first (their SO cut covers more subsets)
        m.Minimize(self.eta)
        m.AddDecisionStrategy(self.y, cp_model.CHOOSE_FIRST, cp_model.SELECT_MAX_VALUE)
        self.solver = cp_model.CpSolver()
        self.solver.parameters.num_workers = 1
        self.solver.parameters.random_seed = seed
        self.solver.parameters.cp_model_presolve = False  # tiny model re-solved many times
        self.solves = 0
        self.floor = eta_lb

    def raise_floor(self, value: float) -> None:
        """Record a proven lower bound on eta: lets CP-SAT stop at the first design reaching it."""
        level = int(math.floor(value * self.scale))
        if level > self.floor:
            self.floor = level
            self.model.Add(self.eta >= level)

    def add_subset_cut(self, bits: int, value: float) -> None:
        """``eta >= value`` for every design that is a subset of ``bits``."""
        outside = [self.y[i].Not() for i in range(self.problem.n) if not bits >> i & 1]
        if math.isinf(value):
            # no design inside `bits` can route the demand
            self.model.AddBoolOr([self.y[i] for i in range(self.problem.n) if not bits >> i & 1] or [False])
            return
        rhs = int(math.floor(value * self.scale))
        if outside:
            self.model.Add(self.eta >= rhs).OnlyEnforceIf(outside)
        else:
            self.model.Add(self.eta >= rhs)

    def add_no_good(self, bits: int) -> None:
        self.model.AddBoolOr([self.y[i].Not() if bits >> i & 1 else self.y[i] for i in range(self.problem.n)])

    def solve(self, time_limit: float | None) -> tuple[int, float] | None:
        if time_limit is not None:
            self.solver.parameters.max_time_in_seconds = max(0.01, time_limit)
        status = solve_interruptibly(self.solver, self.model)
        self.solves += 1
        if status == cp_model.INFEASIBLE:
            return None
        if status == cp_model.UNKNOWN and time_limit is not None:
            return -1, -math.inf  # out of time before the master found a design
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise SolverError(f"CP-SAT master ended with status {self.solver.StatusName(status)}")
        bits = sum(1 << i for i in range(self.problem.n) if self.solver.Value(self.y[i]))
        if status == cp_model.OPTIMAL:
            eta = self.solver.Value(self.eta)
        else:  # stopped early: only the proven bound is a bound
            eta = math.floor(self.solver.BestObjectiveBound())
        return bits, eta / self.scale


# ---------------------------------------------------------------------------- solver
def _cut_loop(
    problem: _Problem,
    ev: _Evaluator,
    *,
    root: float,
    base_value: float,
    global_floor: float,
    milp_bits: int,
    opt_gap: float,
    time_limit: float | None,
    elapsed: Any,
    seed: int,
    local_search: bool | None,
) -> tuple[float, int, float, str, list[tuple[float, float, float]], int]:
    """The CP-SAT cut loop (``method="cuts"``); returns incumbent, its design, bound, status,
    history and the number of master solves."""
    full = (1 << problem.n) - 1
    scale = 1e7 / max(root, 1e-9)  # eta in units of 1e-7 of the root bound
    master = _Master(problem, scale=scale, eta_lb=int(math.floor(root * scale)) - 1,
                     eta_ub=int(4e15), seed=seed)
    master.add_subset_cut(full, root)
    incumbent, inc_bits = (base_value, 0)
    master.add_no_good(0)
    lower = max(root, global_floor)
    history = [(elapsed(), incumbent, lower)]
    status = "optimal"
    if local_search is None:
        local_search = problem.n > 12
    pending: list[int] = []
    queued: set[int] = set()

    def enqueue_neighbours(bits: int) -> None:
        # swap one chosen project for one unchosen, then fill the budget greedily
        for i in problem.selected(bits):
            for j in range(problem.n):
                if bits >> j & 1:
                    continue
                nb = problem.extend((bits & ~(1 << i)) | (1 << j))
                if nb not in queued and problem.feasible(nb):
                    queued.add(nb)
                    pending.append(nb)

    def try_design(bits: int) -> None:
        nonlocal incumbent, inc_bits
        so = ev.so_bound(bits)
        master.add_subset_cut(bits, so)
        if so < incumbent and bits not in ev.ue:
            value, _ = ev.ue_value(bits)
            master.add_no_good(bits)
            if value < incumbent:
                incumbent, inc_bits = value, bits
                history.append((elapsed(), incumbent, lower))
                if local_search:
                    enqueue_neighbours(bits)

    if milp_bits >= 0 and problem.feasible(milp_bits):
        pending.append(problem.extend(milp_bits))
    while True:
        if incumbent < math.inf and incumbent - lower <= opt_gap * incumbent:
            break
        remaining = None if time_limit is None else time_limit - elapsed()
        if remaining is not None and remaining <= 0:
            status = "time_limit"
            break
        if pending:  # local search around the incumbent first: cheap, improves pruning
            try_design(pending.pop(0))
            continue
        out = master.solve(remaining)
        if out is None:  # every feasible design is evaluated or cut off
            lower = incumbent
            break
        bits, eta = out
        if bits < 0:
            status = "time_limit"
            break
        master.raise_floor(eta)
        new_lower = min(incumbent, max(lower, eta, global_floor))
        if new_lower != lower:
            lower = new_lower
            history.append((elapsed(), incumbent, lower))
        if incumbent < math.inf and incumbent - lower <= opt_gap * incumbent:
            break
        # Among designs at the master's bound level, prefer a maximal one: extending the master's
        # design keeps it at the same level (every cut covering the extension covers the design)
        # and its SO cut then covers more subsets.
        grown = problem.extend(bits)
        if grown not in ev.so:
            bits = grown
        try_design(bits)
    return incumbent, inc_bits, lower, status, history, master.solves


