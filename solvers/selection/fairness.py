"""Fair selection: a minimum improvement for every group of markets, or the worst group's best.

Groups are sets of markets (e.g. the city pairs of one development axis; groups may overlap).
A group's *improvement* in a design is its saving over its base objective,
``r_g(y) = sum_(m in g) D_m (g_m(base) - g_m(y)) / sum_(m in g) D_m g_m(base)``: for the
logsum objective, the relative fall of the group's demand-weighted composite cost.

* ``minimum`` (per group ``rho_g``): the exact optimum of the usual objective subject to
  ``r_g(y) >= rho_g`` for every group given.  Infeasible floors raise
  :class:`~networks.errors.InfeasibleError` naming the groups that cannot reach theirs even
  alone, or saying that each can alone but not all together.
* ``maximin``: the design whose worst group improves most, and among those the best total
  (lexicographic: worst group first, then the objective).  Found by a sequence of exact CP-SAT
  solves: start from the unconstrained optimum, whose worst improvement is ``r``; solve the
  usual objective subject to ``r_g > r`` for every group; repeat with the new design's worst
  until CP-SAT proves no design does better.  Every step strictly raises the worst group, so it
  ends (at most one step per distinct value); the last design maximises the objective among all
  designs whose worst group reaches the optimum (the designs above ``r_(k-1)`` include them).

Both are exact on the model's integer-scaled savings (the same scaling as the selection:
about 2^40 units for the largest possible saving, so the floors and comparisons are exact to
about 1e-9 of a group's saving; comparisons use exact integer arithmetic on the scaled
values).  The reported group savings are re-evaluated exactly.  The *price of fairness* is the
unconstrained optimum's objective minus the fair design's (both proved, or the gaps say by
how much they may be off).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from networks.errors import InfeasibleError, InputError
from solvers.selection._graph import _check_number
from solvers.selection._types import Project, SelectionResult
from solvers.selection.cpsat import FloorsInfeasible, _solve_model
from solvers.selection.markets import Layer, Markets, _penalty, _prepare, _savings_for
from solvers.selection.shortest_path import _limits

__all__ = ["FairSelection", "solve_fair_selection"]


@dataclass
class FairSelection:
    """A fair design and what fairness costs.

    ``result``: the fair design (status ``OPTIMAL`` only when every solve of the sequence was
    proved); ``unconstrained``: the optimum without fairness; ``improvement`` and
    ``unconstrained_improvement``: each group's improvement (exact); ``worst``: the smallest
    improvement of the fair design; ``worst_proved``: for ``maximin``, CP-SAT proved that no
    design has a better worst group; ``price``: the objective given up for fairness
    (``result.objective - unconstrained.objective``, objective units, >= 0 up to the gaps).
    """

    mode: str
    result: SelectionResult
    unconstrained: SelectionResult
    groups: list[str]
    group_base: dict[str, float]
    improvement: dict[str, float]
    unconstrained_improvement: dict[str, float]
    worst: float
    worst_proved: bool
    iterations: int
    price: float
    minimum: dict[str, float] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)


def _improvements(result: SelectionResult, base_values: np.ndarray, demand: np.ndarray,
                  groups: list[np.ndarray], base: np.ndarray) -> np.ndarray:
    saving = demand * (base_values - np.asarray(result.od_times, dtype=float))
    return np.array([float(saving[g].sum()) / b for g, b in zip(groups, base)])


def _worst_int(result: SelectionResult) -> Fraction:
    return min(Fraction(g["saving_int"], g["base_int"]) for g in result.stats["cpsat"]["groups"] if g["base_int"] > 0)


def solve_fair_selection(
    layers: Sequence[Layer],
    projects: Sequence[Project],
    markets: Markets,
    *,
    budget: float,
    groups: Mapping[str, Sequence[int]],
    minimum: Mapping[str, float] | None = None,
    maximin: bool = False,
    member_caps: Mapping[str, float] | None = None,
    time_limit: float | None = None,
    project_costs: Mapping[str, float] | None = None,
    log: Callable[[str], None] | None = None,
    max_steps: int = 200,
) -> FairSelection:
    """The exact fair optimum (see the module docstring) of :func:`solve_market_selection`'s
    objective; ``groups`` maps a name to market indices; give ``minimum`` (name -> fraction in
    [0, 1)) or ``maximin=True``, not both.  ``time_limit`` covers the whole sequence."""
    started = time.perf_counter()
    if bool(minimum) == bool(maximin):
        raise InputError("fair selection: give a minimum improvement per group or maximin, one of the two")
    problem, budget, caps = _prepare(layers, projects, markets, budget, member_caps)
    _, deadline = _limits(0.0, time_limit, started)
    names = list(groups)
    if not names:
        raise InputError("fair selection: no groups given")
    n = len(markets.demand)
    demand = np.asarray(markets.demand, dtype=float)
    base_values = np.asarray(problem.evaluate(0).od_times, dtype=float)
    index: list[np.ndarray] = []
    for name in names:
        items = np.unique(np.asarray(list(groups[name]), dtype=np.int64))
        if items.size == 0:
            raise InputError(f"fair selection: group {name!r} has no markets")
        if items.min() < 0 or items.max() >= n:
            raise InputError(f"fair selection: group {name!r} holds a market index outside 0..{n - 1}")
        index.append(items)
    base = np.array([float(np.dot(demand[g], base_values[g])) for g in index])
    for name, b in zip(names, base):
        if not b > 0:
            raise InputError(f"fair selection: group {name!r} has no demand (its base objective is {b:g})")
    floors_min: dict[str, float] = {}
    for name, rho in (minimum or {}).items():
        if name not in groups:
            raise InputError(f"fair selection: minimum for unknown group {name!r}; expected one of {names}")
        value = _check_number(rho, f"minimum[{name!r}]")
        if not 0 <= value < 1:
            raise InputError(f"fair selection: minimum[{name!r}] = {rho!r}; expected a fraction in [0, 1)")
        floors_min[name] = value
    sav = _savings_for(problem, budget, caps, deadline=deadline, log=log)
    sav.penalty = _penalty(problem, project_costs)

    def solve(floors: list[tuple[int, int, bool] | None] | None) -> SelectionResult:
        return _solve_model(problem.inst, sav, budget=budget, caps=caps, deadline=deadline, relative_gap=0.0,
                            log=log, started=time.perf_counter(), groups=index, group_base=base,
                            group_floors=floors)

    free = solve(None)
    steps: list[dict[str, Any]] = []
    proved = free.status == "OPTIMAL"
    if floors_min:
        rational = {k: Fraction(repr(v)) for k, v in floors_min.items()}
        floors = [(rational[k].numerator, rational[k].denominator, False) if k in rational else None for k in names]
        try:
            fair = solve(floors)
        except FloorsInfeasible as err:
            raise InfeasibleError(_diagnose(names, floors, solve, err)) from None
        proved = proved and fair.status == "OPTIMAL"
        worst_proved = False
        iterations = 1
    else:
        fair = free
        worst = _worst_int(free)
        worst_proved = False
        iterations = 0
        while iterations < max_steps:
            steps.append({"worst": float(worst), "objective": fair.objective, "selected": list(fair.selected),
                          "status": fair.status})
            floors = [(worst.numerator, worst.denominator, True)] * len(names)
            try:
                nxt = solve(floors)
            except FloorsInfeasible as err:
                worst_proved = err.proved
                break
            iterations += 1
            if _worst_int(nxt) <= worst:  # pragma: no cover - the floors forbid it
                raise InfeasibleError("fair selection: a step did not raise the worst group (scaling bug)")
            fair, worst = nxt, _worst_int(nxt)
            proved = proved and nxt.status == "OPTIMAL"
        proved = proved and worst_proved and fair.status == "OPTIMAL"
    improvement = _improvements(fair, base_values, demand, index, base)
    free_improvement = _improvements(free, base_values, demand, index, base)
    if fair.status == "OPTIMAL" and not proved:
        fair = _with_status(fair, "FEASIBLE")
    return FairSelection(
        mode="minimum" if floors_min else "maximin", result=fair, unconstrained=free, groups=names,
        group_base=dict(zip(names, base.tolist())), improvement=dict(zip(names, improvement.tolist())),
        unconstrained_improvement=dict(zip(names, free_improvement.tolist())), worst=float(improvement.min()),
        worst_proved=worst_proved, iterations=iterations, price=fair.objective - free.objective,
        minimum=floors_min, steps=steps)


def _with_status(result: SelectionResult, status: str) -> SelectionResult:
    return dataclasses.replace(result, status=status)


def _diagnose(names: list[str], floors: list, solve: Callable, err: FloorsInfeasible) -> str:
    if not err.proved:
        return f"fair selection: no design meeting every minimum was found within the time limit ({err})"
    alone_fails = []
    for k, floor in enumerate(floors):
        if floor is None:
            continue
        only = [None] * len(floors)
        only[k] = floor
        try:
            solve(only)
        except FloorsInfeasible:
            alone_fails.append(f"{names[k]} ({100 * floor[0] / floor[1]:g} %)")
    if alone_fails:
        return ("fair selection: within the budget no design improves " + ", ".join(alone_fails) +
                " by the minimum asked, even alone; lower it or raise the budget")
    return ("fair selection: each minimum improvement can be met alone within the budget, but not all together; "
            "lower some or raise the budget")

