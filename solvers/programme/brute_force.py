"""Every programme enumerated and evaluated exactly (the reference for tests)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence

import numpy as np

from networks.errors import InfeasibleError, InputError
from solvers.programme._setup import (
    ProgrammeProject, ProgrammeResult, _evaluate, _feasible, _final_improvements, _group_floors, _result,
    _setup,
)
from solvers.selection._types import Project
from solvers.selection.markets import Layer, Markets


def brute_force_programme(
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
    groups: Mapping[str, Sequence[int]] | None = None,
    group_minimum: Mapping[str, float] | None = None,
) -> ProgrammeResult:
    """Every programme enumerated and evaluated exactly (for tests: a few projects and years)."""
    started = time.perf_counter()
    setup = _setup(layers, projects, markets, years=years, schedule=schedule, yearly_budget=yearly_budget,
                   weights=weights, weight_after=weight_after, start_costs=start_costs, member_caps=member_caps)
    floors = _group_floors(setup, groups, group_minimum)
    options = [list(s) if req else [None, *s] for s, req in zip(setup.starts, setup.required)]
    if np.prod([len(o) for o in options], dtype=float) > 2e6:
        raise InputError("brute_force_programme: more than 2 million programmes; use solve_programme")
    cache: dict[int, float] = {}
    best: tuple[float, dict[str, int]] | None = None
    for combo in itertools.product(*options):
        starts = {pid: s for pid, s in zip(setup.ids, combo) if s is not None}
        if not _feasible(setup, starts):
            continue
        if floors:
            got = _final_improvements(setup, starts, floors, list(group_minimum))
            if any(got[name] < rho - 1e-12 for name, rho in group_minimum.items()):
                continue
        value, _, _ = _evaluate(setup, starts, cache)
        if best is None or value > best[0] + 1e-9:
            best = (value, starts)
    if best is None:
        raise InfeasibleError("programme: no programme starts every required project and meets the groups' minimums")
    return _result(setup, best[1], cache, bound=None, proved=True, started=started)
