"""The greedy benefit/cost baseline programme."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence


from networks.errors import InfeasibleError
from solvers.programme._setup import (
    ProgrammeProject, ProgrammeResult, _feasible, _greedy_order, _list_schedule, _result, _setup,
)
from solvers.selection._types import Project
from solvers.selection.markets import Layer, Markets


def greedy_programme(
    layers: Sequence[Layer],
    projects: Sequence[Project],
    markets: Markets,
    *,
    years: Sequence[int],
    schedule: Mapping[str, ProgrammeProject],
    yearly_budget: float | Mapping[int, float],
    weights: Mapping[int, float],
    weight_after: float = 0.0,
    start_costs: Mapping[str, Mapping[int, float]] | None = None,
    member_caps: Mapping[str, float | Mapping[int, float]] | None = None,
) -> ProgrammeResult:
    """The greedy benefit/cost baseline: projects ranked by stand-alone saving per unit of cost.

    Each project's stand-alone saving is that of the base network with it and the projects it
    requires (exact, from the records); the ratio divides by their cost.  The required and
    committed projects come first, then the others by ratio (ties by id), each started in the
    earliest year the budgets, caps, dependencies and exclusions allow (a project that fits no
    year is skipped).  Evaluated exactly as :func:`solve_programme`'s programmes; no claim of
    optimality (status ``"FEASIBLE"``, no bound).
    """
    started = time.perf_counter()
    setup = _setup(layers, projects, markets, years=years, schedule=schedule, yearly_budget=yearly_budget,
                   weights=weights, weight_after=weight_after, start_costs=start_costs, member_caps=member_caps)
    order, ratio = _greedy_order(setup)
    chosen = _list_schedule(setup, [], order=order)
    if not _feasible(setup, chosen):
        raise InfeasibleError("programme: the greedy ranking could not start every required project")
    result = _result(setup, chosen, {}, bound=None, proved=False, started=started,
                     stats={"ratios": {setup.ids[k]: ratio[k] for k in order}})
    result.bound = math.inf
    result.gap = math.inf
    return result
