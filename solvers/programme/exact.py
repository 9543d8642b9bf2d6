"""The exact programme: CP-SAT over per-year ordered record chains, with saving caps and a seeded start."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from networks.errors import InfeasibleError, InputError, SolverError
from solvers._sigint import solve_interruptibly
from solvers.programme._setup import (
    ProgrammeProject, ProgrammeResult, _Setup, _feasible, _final_improvements, _greedy_order, _group_floors,
    _list_schedule, _result, _setup, _spend, _value_by_records,
)
from solvers.programme.local_search import _Valuer, search_programme
from solvers.programme.outer import outer_programme
from solvers.selection._instance import _bits
from solvers.selection._types import _SAVING_SCALE_TARGET, _SEED, Project
from solvers.selection.cpsat import _add_ordered, _cost_scale, _merge_labels
from solvers.selection.markets import Layer, Markets

#: the share of the time limit spent on tighter per-period caps (:func:`_period_caps`)
PERIOD_CAP_SHARE = 0.6
#: without a time limit, seconds for them per period (on average: shared as the time limit is)
PERIOD_CAP_SECONDS = 10.0
#: the share of the time left after the starting programmes given to the outer approximation
#: (:mod:`solvers.programme.outer`); CP-SAT gets the rest
OUTER_SHARE = 0.8


def _pooled(setup: _Setup, t: Any) -> tuple[float, int, Any]:
    """The one-shot design problem that bounds period ``t``'s network: the budgets of the years
    before ``t`` pooled, the projects that can be open by ``t``, each costing what it surely
    spent before ``t`` (its charged spending before ``t``, at the start that charges least: all
    of its cost when it starts in the horizon and counts against the budget, less for a
    committed start before the horizon).  Returns (pooled budget, allowed projects' mask,
    instance with those costs)."""
    n = len(setup.ids)
    budget = sum(v for y, v in setup.budgets.items() if t == "after" or y < t)

    def opens(k: int, s: int) -> bool:
        return t == "after" or s + setup.durations[k] <= t

    allowed = sum(1 << k for k in range(n) if any(opens(k, s) for s in setup.starts[k]))
    inst = copy.copy(setup.problem.inst)
    inst.costs = np.array([min((sum(c for y, c in _spend(setup, k, s).items() if t == "after" or y < t)
                                for s in setup.starts[k] if opens(k, s)), default=0.0)
                           for k in range(n)], dtype=float)
    return budget, allowed, inst


def _restricted(setup: _Setup, allowed: int) -> Any:
    """The exact records of the designs within ``allowed`` (a one-shot selection's savings)."""
    from solvers.selection.cpsat import _Savings

    records = [[(m, c) for m, c in rs if m & ~allowed == 0] for rs in setup.sav.records]
    return _Savings(records=records, base_objective=setup.sav.base_objective,
                    lower_objective=setup.sav.lower_objective, complete=setup.sav.complete,
                    evaluate=setup.sav.evaluate, stats={})


def _saving_caps(setup: _Setup, deadline: float | None) -> tuple[dict[Any, float], list[tuple[float, int]]]:
    """Per period, an upper bound on the saving of any network that can be open then.

    A project open in year ``t`` started by ``t - d_i`` (so ``t - d_i >= `` its earliest start)
    and spent all its cost in years before ``t``: the open set is a design of such projects
    within the sum of those years' budgets (member caps ignored: the bound stays valid).  The
    one-shot selection's proved bound for that design problem (the exact records, restricted to
    the projects that can be open) caps the saving.  Also returns the one-shot designs found
    (budget, project mask), which seed the search (:func:`_list_schedule`).
    """
    from solvers.selection.cpsat import _solve_model

    caps: dict[Any, float] = {}
    solved: dict[tuple, float] = {}
    designs: list[tuple[float, int]] = []
    hint = 0
    pooled = {t: _pooled(setup, t) for t in [*setup.years, "after"]}
    for t, (budget, allowed, inst) in sorted(pooled.items(), key=lambda kv: (kv[1][0], str(kv[0]))):
        if not allowed or not budget > 0:
            caps[t] = 0.0
            continue
        if not math.isfinite(budget):
            continue
        key = (budget, allowed, tuple(inst.costs))
        if key not in solved:
            r = _solve_model(inst, _restricted(setup, allowed), budget=budget, caps={}, deadline=deadline,
                             relative_gap=0.0, log=None, started=time.perf_counter(), hint=hint & allowed)
            solved[key] = max(0.0, setup.sav.base_objective - r.bound)
            hint = inst.mask_of(r.selected)
            designs.append((budget, hint))
        caps[t] = solved[key]
    return caps, designs


def _add_cumulative(model: Any, setup: _Setup, x: list[dict[int, Any]], up: Callable[[float], int],
                    down: Callable[[float], int]) -> None:
    """The yearly budgets once more, as one cumulative constraint (redundant, for propagation).

    Each budgeted project's construction year ``j`` is an optional interval of one year at
    ``start + j``, present when the project starts, using ``up(cost x share_j)``.  The capacity
    is the largest yearly budget; a smaller year is lowered by a fixed interval.  Spending of a
    fixed start before the horizon counts only in the horizon's years (fixed intervals).  Left
    out when some year has no budget.
    """
    from ortools.sat.python import cp_model

    inst = setup.problem.inst
    if not all(math.isfinite(v) for v in setup.budgets.values()):
        return
    capacity = max(down(v) for v in setup.budgets.values())
    intervals, demands = [], []

    def fixed(year: int, demand: int) -> None:
        intervals.append(model.NewFixedSizeIntervalVar(year, 1, ""))
        demands.append(demand)

    for y, v in setup.budgets.items():
        if down(v) < capacity:
            fixed(y, capacity - down(v))
    for k, row in enumerate(x):
        if not row or not setup.budgeted[k]:
            continue
        cost = float(inst.costs[k])
        if len(row) == 1 and setup.required[k]:
            for y, amount in _spend(setup, k, next(iter(row))).items():
                if up(amount) > 0:
                    fixed(y, up(amount))
            continue
        lits = list(row.values())
        present = lits[0] if len(lits) == 1 else model.NewBoolVar("")
        if len(lits) > 1:
            model.Add(sum(lits) == present)
        start = model.NewIntVarFromDomain(cp_model.Domain.FromValues(list(row)), "")
        model.Add(start == sum(s * v for s, v in row.items())).OnlyEnforceIf(present)
        for j, share in enumerate(setup.shares[k]):
            if up(cost * share) > 0:
                intervals.append(model.NewOptionalFixedSizeIntervalVar(start + j, 1, present, ""))
                demands.append(up(cost * share))
    if intervals:
        model.AddCumulative(intervals, demands, capacity)


def _open_by(setup: _Setup, t: Any, must: int, limit: float, workers: int) -> str:
    """Can a programme have every project of ``must`` open in period ``t``?  CP-SAT's status
    for a relaxation of the programme model (``OPTIMAL``: yes, ``INFEASIBLE``: no programme
    can, else undecided within ``limit`` seconds).  Only starts opening by ``t`` are kept, for
    ``must``, what it requires, and the required projects that open by ``t`` whatever their
    start; every other project is left out (and with it its spending: a relaxation)."""
    from ortools.sat.python import cp_model

    inst = setup.problem.inst
    keep = 0
    for k in _bits(must):
        keep |= inst.closure[k]
    one = copy.copy(setup)
    one.starts = [[s for s in row if t == "after" or s + d <= t]
                  for row, d in zip(setup.starts, setup.durations)]
    one.required = [bool(must >> k & 1) or (req and len(row) == len(kept))
                    for k, (req, row, kept) in enumerate(zip(setup.required, setup.starts, one.starts))]
    one.starts = [kept if keep >> k & 1 or one.required[k] else [] for k, kept in enumerate(one.starts)]
    one.weights = {y: 0.0 for y in setup.years}
    one.after = 0.0
    one.start_costs = [{s: 0.0 for s in row} for row in one.starts]
    if any(req and not row for req, row in zip(one.required, one.starts)):
        return "INFEASIBLE"
    built = _build(one, ())
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = _SEED
    solver.parameters.max_time_in_seconds = max(0.01, limit)
    return solver.StatusName(solve_interruptibly(solver, built.model))


def _period_caps(setup: _Setup, caps: dict[Any, float], seed: Mapping[str, int], deadline: float | None,
                 workers: int) -> tuple[dict[Any, dict[str, Any]], list[tuple[Any, int]]]:
    """Tighter saving caps: per period, the best network a programme can have open then.

    The cap of :func:`_saving_caps` pools the budgets of the years before ``t``; a programme
    spends each year within that year's budget, so the design that cap found may not be
    schedulable.  A logic-based Benders loop per period: solve the pooled design problem
    (exact records, :func:`solvers.selection.cpsat._solve_model`) with the cuts found so far;
    if a programme can have its design open by ``t`` (:func:`_open_by`), the period's best
    network is proved; if none can, shrink the design to a minimal set no programme can have
    open by ``t`` (dropping projects one at a time, cheapest first) and cut that set, then
    solve again.  Each solve's proved bound caps the period (a cut removes only networks no
    programme has).  A set that cannot be open by ``t`` cannot be by any earlier period, so
    periods go from the last, cuts carried down; a later period's cap caps the earlier ones
    too (networks open are nested).  The network ``seed`` (a feasible programme) has open in
    ``t`` starts each design search and is a lower bound for the period: the time left is
    shared by each period's weight times its cap's excess over that network's saving.
    Returns per period the cap, its status (``OPTIMAL``: the starting programme's network
    reaches the cap, or the cap's design is open by ``t`` in a programme of :func:`_open_by`'s
    relaxation, so no cut can lower it) and the cuts made, and the cuts as (period, set) for
    the programme model.
    """
    from solvers.selection.cpsat import _solve_model

    weight = {**setup.weights, "after": setup.after}
    periods = [t for t in [*setup.years, "after"] if caps.get(t, math.inf) > 0 and weight[t] > 0]
    index = {pid: k for k, pid in enumerate(setup.ids)}
    valuer = _Valuer(setup)

    def seed_open(t: Any) -> int:
        return sum(1 << index[pid] for pid, s in seed.items() if t == "after" or s + setup.durations[index[pid]] <= t)

    found = {t: valuer.saving(seed_open(t)) for t in periods}  # networks a programme has: lower bounds

    def potential(t: Any) -> float:
        return weight[t] * max(0.0, caps[t] - found[t])

    if deadline is None:
        deadline = time.perf_counter() + PERIOD_CAP_SECONDS * len(periods)
    report: dict[Any, dict[str, Any]] = {}
    cuts: list[tuple[Any, int]] = []
    later = math.inf
    for i, t in enumerate(reversed(periods)):
        caps[t] = min(caps.get(t, math.inf), later)
        began = time.perf_counter()
        # the time left shared by what each period's cap could still gain
        todo = sum(potential(u) for u in periods[:len(periods) - i])
        stop = began + (0.0 if todo <= 0 else (deadline - began) * potential(t) / todo)
        budget, allowed, inst = _pooled(setup, t)
        if not math.isfinite(budget) or stop - began < 0.05 or potential(t) <= 0:
            later = caps[t]
            continue
        sav = _restricted(setup, allowed)
        status, made = "FEASIBLE", 0
        hint = seed_open(t)
        while time.perf_counter() < stop:
            r = _solve_model(inst, sav, budget=budget, caps={}, deadline=stop, relative_gap=0.0, log=None,
                             started=time.perf_counter(), cuts=[m for _, m in cuts], hint=hint)
            if r.status not in ("OPTIMAL", "FEASIBLE"):
                break
            caps[t] = min(caps[t], max(0.0, setup.sav.base_objective - r.bound))
            if caps[t] <= found[t] * (1 + 1e-12):  # a programme has such a network: proved
                status = "OPTIMAL"
                break
            if r.status != "OPTIMAL":
                break
            design = inst.mask_of(r.selected)
            left = stop - time.perf_counter()
            got = _open_by(setup, t, design, left, workers)
            if got == "OPTIMAL":
                status = "OPTIMAL"
                break
            if got != "INFEASIBLE":
                break
            core = design
            for k in sorted(_bits(design), key=lambda k: (inst.costs[k], k)):
                trial = core & ~(1 << k)
                if trial and _open_by(setup, t, trial, stop - time.perf_counter(), workers) == "INFEASIBLE":
                    core = trial
            cuts.append((t, core))
            made += 1
        later = caps[t]
        report[t] = {"cap": caps[t], "status": status, "cuts": made, "seconds": time.perf_counter() - began}
    return report, cuts


@dataclass
class _Built:
    """A programme's CP-SAT model and what reading its answer needs."""

    model: Any
    x: list[dict[int, Any]]  # per project, start year -> literal
    terms: list[tuple[int, Any]]  # the objective, integer-scaled
    obj_scale: float
    slack: float  # rounding allowance of the objective, in money
    top: float  # the objective's scale: an upper bound on its magnitude
    n_records: int
    scale: float  # money's integer scale
    exact: bool  # money scaled without rounding


def _build(setup: _Setup, floors: Sequence[Any], cuts: Sequence[tuple[Any, int]] = ()) -> _Built:
    """The CP-SAT model of a programme (see the package docstring), with the periods of positive
    weight; ``cuts`` (period, projects): sets no programme has all open in that period (nor before)."""
    from ortools.sat.python import cp_model

    inst = setup.problem.inst
    n = len(setup.ids)
    ys = setup.years
    model = cp_model.CpModel()
    x = [{s: model.NewBoolVar(f"start_{setup.ids[k]}_{s}") for s in setup.starts[k]} for k in range(n)]
    for k in range(n):
        if x[k]:
            if setup.required[k]:
                model.AddExactlyOne(x[k].values())
            else:
                model.AddAtMostOne(x[k].values())
    # open[k][t]: open in year t (t in the horizon, or "after" it)
    periods: list[Any] = [*ys, "after"]

    def opens_by(k: int, t: Any) -> list[Any]:
        return [v for s, v in x[k].items() if t == "after" or s + setup.durations[k] <= t]

    open_lit: list[dict[Any, Any]] = []
    for k in range(n):
        row = {}
        for t in periods:
            lits = opens_by(k, t)
            if not lits:
                row[t] = None
            elif len(lits) == 1:
                row[t] = lits[0]
            else:
                v = model.NewBoolVar("")
                model.Add(sum(lits) == v)
                row[t] = v
        open_lit.append(row)
    # dependencies: i opens no earlier than what it requires; exclusions: never both
    for k in range(n):
        for j in _bits(inst.direct_requires[k]):
            for t in periods:
                if open_lit[k][t] is not None:
                    if open_lit[j][t] is None:
                        model.Add(open_lit[k][t] == 0)
                    else:
                        model.AddImplication(open_lit[k][t], open_lit[j][t])
        for j in _bits(inst.excl[k]):
            if j > k and x[k] and x[j]:
                model.Add(sum(x[k].values()) + sum(x[j].values()) <= 1)
    for tc, mask in cuts:
        for t in periods:
            if t == tc or (t != "after" and tc == "after") or (t != "after" and tc != "after" and t < tc):
                lits = [open_lit[k][t] for k in _bits(mask)]
                if all(v is not None for v in lits):
                    model.AddBoolOr([v.Not() for v in lits])
    # money: costs rounded up, limits down unless decimal
    amounts = [c for k in range(n) for s in setup.starts[k][:1] for c in _spend(setup, k, s).values()]
    amounts += [float(inst.costs[k]) * share for k in range(n) for share in setup.shares[k]]
    # a limit at least everything that could be spent binds nothing (and a huge one could
    # overflow the integer scaling): treated as no limit
    ceiling = float(sum(inst.costs))
    setup.budgets = {y: (math.inf if v >= ceiling else v) for y, v in setup.budgets.items()}
    setup.member_caps = {m: {y: (math.inf if v >= ceiling else v) for y, v in cap.items()}
                         for m, cap in setup.member_caps.items()}
    limits = [v for v in setup.budgets.values() if math.isfinite(v)]
    limits += [v for cap in setup.member_caps.values() for v in cap.values() if math.isfinite(v)]
    scale, exact = _cost_scale([*amounts, *limits])
    up = (lambda v: round(v * scale)) if exact else (lambda v: math.ceil(v * scale))
    down = (lambda v: round(v * scale)) if exact else (lambda v: math.floor(v * scale))
    for y in ys:
        def spend_terms(keep: Callable[[int], bool], y: int = y) -> list[Any]:
            terms = []
            for k in range(n):
                if not keep(k):
                    continue
                for s, v in x[k].items():
                    amount = _spend(setup, k, s).get(y, 0.0)
                    if amount > 0:
                        terms.append(up(amount) * v)
            return terms

        if math.isfinite(setup.budgets[y]):
            terms = spend_terms(lambda k: True)
            if terms:
                model.Add(sum(terms) <= down(setup.budgets[y]))
        for member, cap in setup.member_caps.items():
            if math.isfinite(cap[y]):
                terms = spend_terms(lambda k, m=member: inst.projects[k].member == m)
                if terms:
                    model.Add(sum(terms) <= down(cap[y]))
    _add_cumulative(model, setup, x, up, down)
    # savings: the ordered record formulation once per period, on that period's open literals
    labels = None
    if floors:
        member_of: list[list[int]] = [[] for _ in setup.sav.records]
        for g, (items, _, _) in enumerate(floors):
            for m in items:
                member_of[m].append(g)
        labels = [tuple(x) for x in member_of]
    weighted = setup.after > 0 or any(w > 0 for w in setup.weights.values())
    labelled = _merge_labels([[(m, c) for m, c in rs if c > 0] for rs in setup.sav.records] if weighted else [], labels)
    records = [items for items, _ in labelled]
    period_weight = {**setup.weights, "after": setup.after}
    best_total = sum(max((c for _, c in rs), default=0.0) for rs in records)
    start_cost_top = sum(max((abs(c) for c in row.values()), default=0.0) for row in setup.start_costs)
    top = best_total * sum(period_weight.values()) + start_cost_top
    obj_scale = _SAVING_SCALE_TARGET / top if top > 0 else 1.0
    terms: list[tuple[int, Any]] = []
    slack_units = 0
    n_records = 0
    for t in periods:
        wt = period_weight[t]
        if wt <= 0:
            continue
        avail_cache: dict[int, Any] = {}

        def avail(mask: int, t: Any = t, cache: dict[int, Any] = avail_cache) -> Any:
            if mask in cache:
                return cache[mask]
            lits = [open_lit[i][t] for i in _bits(mask)]
            if any(v is None for v in lits):
                lit = None  # some project of the set cannot be open by then
            elif len(lits) == 1:
                lit = lits[0]
            else:
                lit = model.NewBoolVar("")
                for v in lits:
                    model.AddImplication(lit, v)
            cache[mask] = lit
            return lit

        group_terms: list[list[tuple[int, Any]]] = [[] for _ in floors]
        for rs, (_, label) in zip(records, labelled):
            ranked = [(round(c * wt * obj_scale), m) for m, c in rs]
            ranked = sorted(((c, m) for c, m in ranked if c > 0 and avail(m) is not None), key=lambda r: (-r[0], r[1]))
            if not ranked:
                continue
            slack_units += 1
            mine: list[tuple[int, Any]] = []
            n_records += _add_ordered(model, ranked, avail, mine)
            terms += mine
            if t == "after":
                for g in label or ():
                    group_terms[g] += mine
        if t == "after":
            for g, (_, base_g, (num, den)) in enumerate(floors):
                need = -((-num * int(round(base_g * wt * obj_scale))) // den)
                if need > 0:
                    model.Add(sum(c * v for c, v in group_terms[g]) >= need)
    for k in range(n):
        for s, v in x[k].items():
            c_int = round(setup.start_costs[k][s] * obj_scale)
            if c_int:
                terms.append((-c_int, v))
                slack_units += 1
    slack = 0.5 * slack_units / obj_scale
    model.Maximize(sum(c * v for c, v in terms) if terms else 0)
    return _Built(model, x, terms, obj_scale, slack, top, n_records, scale, exact)


def solve_programme(
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
    time_limit: float | None = None,
    relative_gap: float = 0.0,
    workers: int = 1,
    saving_caps: bool = True,
    outer_bound: bool = True,
    log: Callable[[str], None] | None = None,
    groups: Mapping[str, Sequence[int]] | None = None,
    group_minimum: Mapping[str, float] | None = None,
) -> ProgrammeResult:
    """The programme of largest value (see the module docstring), with a proof or a gap.

    ``time_limit`` (seconds) stops the search with the best programme found and its gap;
    ``relative_gap`` stops it once proved within that gap; ``workers`` CP-SAT threads (the
    result is deterministic for a given number of workers).  ``saving_caps`` bounds each
    period's saving: every project open in year ``t`` was paid for in the years before ``t``,
    so year ``t``'s network is a design within the budgets of those years together, and its
    saving is at most the one-shot optimum (its proved bound) at that cumulative budget
    (:func:`_saving_caps`), lowered by what no schedule can have open by ``t``
    (:func:`_period_caps`, whose cuts go into the model).  The caps, weighted, bound every
    programme; that bound is reported when CP-SAT's is no better.  They are not rows of the
    CP-SAT model: measured, such rows slowed CP-SAT's proofs (e.g. the committed catalogue
    proved in 88 s with them, 58 s without); on the full catalogue, all free, CP-SAT's bound
    with them never went below the caps' own.

    ``outer_bound`` first runs the outer approximation of :mod:`solvers.programme.outer` for
    ``OUTER_SHARE`` of the time left (to its end without a time limit): a bound that couples the
    years, and a programme that joins the starting ones; it replaces the per-period caps from
    the schedule (:func:`_period_caps`), and with ``relative_gap`` it can end the solve.  Not
    with ``groups``.

    ``groups`` (name -> market indices) with ``group_minimum`` (name -> fraction in [0, 1))
    require the final network (the one kept after the horizon) to improve each named group by
    at least that fraction of its base objective (fairness across groups of markets, e.g. axes;
    floors on the integer-scaled savings, as :mod:`solvers.selection.fairness`).  The exact
    improvements of the final network are in ``stats["group_improvement"]``.
    """
    from ortools.sat.python import cp_model

    started = time.perf_counter()
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or not time_limit > 0):
        raise InputError(f"time_limit = {time_limit!r}: expected seconds > 0")
    if not isinstance(relative_gap, (int, float)) or not 0 <= relative_gap < 1:
        raise InputError(f"relative_gap = {relative_gap!r}: expected a number in [0, 1)")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers = {workers!r}: expected a whole number >= 1")
    setup = _setup(layers, projects, markets, years=years, schedule=schedule, yearly_budget=yearly_budget,
                   weights=weights, weight_after=weight_after, start_costs=start_costs, member_caps=member_caps)
    floors = _group_floors(setup, groups, group_minimum)
    inst = setup.problem.inst
    n = len(setup.ids)
    ys = setup.years
    deadline = None if time_limit is None else started + float(time_limit)
    caps_by_period, designs = _saving_caps(setup, deadline) if saving_caps else ({}, [])
    # two starting programmes, the better one (valued from the records) hints the search: the
    # one-shot optima's order, and the greedy benefit/cost order (so the result is never worse
    # than the greedy baseline)
    seeds = {"one-shot order": _list_schedule(setup, designs),
             "benefit/cost order": _list_schedule(setup, [], order=_greedy_order(setup)[0])}
    if not floors and any(not setup.required[k] and setup.starts[k] for k in range(n)):
        # the two improved by iterated local search (at most a tenth of the time left)
        ls_deadline = None if deadline is None else time.perf_counter() + 0.1 * max(0.0, deadline - time.perf_counter())
        feasible_seeds = [sd for sd in seeds.values() if _feasible(setup, sd)]
        if feasible_seeds:
            seeds["local search"], _ = search_programme(setup, feasible_seeds, seed=_SEED, deadline=ls_deadline)
    seed_values = {name: (_value_by_records(setup, sd) if _feasible(setup, sd) else -math.inf)
                   for name, sd in seeds.items()}
    # some start is a free choice (else the programme is fixed and nothing needs bounding)
    free_choice = any(len(row) > 1 or not setup.required[k] for k, row in enumerate(setup.starts) if row)
    outer = None
    if outer_bound and not floors and free_choice:
        # a bound that couples the years, and programmes from it (a share of the time left)
        outer_deadline = (None if deadline is None
                          else time.perf_counter() + OUTER_SHARE * max(0.0, deadline - time.perf_counter()))
        outer = outer_programme(setup, [sd for name, sd in seeds.items() if math.isfinite(seed_values[name])],
                                deadline=outer_deadline, relative_gap=relative_gap, log=log)
        if math.isfinite(outer.value):
            seeds["outer approximation"] = outer.best
            seed_values["outer approximation"] = _value_by_records(setup, outer.best)
    seed_name = max(seed_values, key=lambda name: (seed_values[name], name == "one-shot order"))
    seed = seeds[seed_name]
    outer_stats = {} if outer is None else {"outer_bound": outer.bound, "outer_value": outer.value,
                                            "outer_iterations": outer.iterations, "outer_cuts": outer.cuts,
                                            "outer_converged": outer.converged,
                                            "outer_history": [list(h) for h in outer.history]}
    if outer is not None and relative_gap > 0 and outer.bound <= seed_values[seed_name] + relative_gap * abs(
            seed_values[seed_name]):
        # within the gap asked for: no CP-SAT search needed
        stats = {"projects": n, "years": len(ys), "seed_programme": seed, "seed": seed_name,
                 "seed_values": dict(seed_values), "bound_from": "outer approximation", **outer_stats,
                 "saving_caps": {str(t): v for t, v in caps_by_period.items()}}
        return _result(setup, dict(seed), {}, bound=outer.bound, proved=True, started=started, stats=stats,
                       tiny=1e-9 * abs(outer.bound))
    period_caps: dict[Any, dict[str, Any]] = {}
    period_cuts: list[tuple[Any, int]] = []
    if saving_caps and outer is None and free_choice:
        # tighter caps from the schedule itself (a share of the time left)
        cap_deadline = (None if deadline is None
                        else time.perf_counter() + PERIOD_CAP_SHARE * max(0.0, deadline - time.perf_counter()))
        period_caps, period_cuts = _period_caps(setup, caps_by_period,
                                                seed if math.isfinite(seed_values[seed_name]) else {},
                                                cap_deadline, workers)
    built = _build(setup, floors, period_cuts)
    model, x, terms, obj_scale, slack, top = built.model, built.x, built.terms, built.obj_scale, built.slack, built.top
    n_records, scale, exact = built.n_records, built.scale, built.exact
    for k in range(n):
        for s_, v in x[k].items():
            model.AddHint(v, seed.get(setup.ids[k]) == s_)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = _SEED
    solver.parameters.cp_model_probing_level = 0
    if deadline is not None:  # what the saving caps left of the time limit
        solver.parameters.max_time_in_seconds = max(0.1, deadline - time.perf_counter())
    if relative_gap > 0:
        solver.parameters.relative_gap_limit = float(relative_gap)
    if log:
        solver.parameters.log_search_progress = True
        solver.parameters.log_to_stdout = False
        solver.log_callback = log
    needs_solve = bool(terms) or any(setup.required) or bool(floors)
    status = solver.StatusName(solve_interruptibly(solver, model)) if needs_solve else "OPTIMAL"
    stats: dict[str, Any] = {"projects": n, "years": len(ys), "records_in_model": n_records,
                             "market_records": setup.sav.stats.get("market_records"), "cpsat_status": status,
                             "objective_scale": obj_scale, "rounding_slack": slack, "cost_scale": scale,
                             "cost_scale_exact": exact,
                             "saving_caps": {str(t): v for t, v in caps_by_period.items()},
                             "period_caps": {str(t): v for t, v in period_caps.items()},
                             "seed_programme": seed, "seed": seed_name,
                             "seed_values": {k: v for k, v in seed_values.items()}, **outer_stats}
    if status == "MODEL_INVALID":
        raise SolverError(f"programme: CP-SAT rejected the model: {model.Validate()}")
    if status == "INFEASIBLE" and floors:
        raise InfeasibleError("programme: no programme's final network improves every group by its minimum ("
                              + ", ".join(f"{name} {100 * rho:g} %" for name, rho in (group_minimum or {}).items())
                              + ") within the budgets; lower a minimum or raise the budget")
    if status == "INFEASIBLE":
        needed = [pid for pid, req in zip(setup.ids, setup.required) if req]
        if needed:
            raise InfeasibleError(f"programme: no programme starts every required project ({', '.join(needed)}) "
                                  "within the yearly budgets, member caps and dependencies together; each fits alone")
        raise InfeasibleError("programme: no feasible programme; starting nothing should always be feasible")
    chosen: dict[str, int] = {}
    bound = math.inf
    proved = False
    if status in ("OPTIMAL", "FEASIBLE") and needs_solve:
        for k in range(n):
            for s, v in x[k].items():
                if solver.BooleanValue(v):
                    chosen[setup.ids[k]] = s
        if terms:
            obj_int = solver.ObjectiveValue()
            bound_int = solver.BestObjectiveBound()
            proved = status == "OPTIMAL" and math.floor(bound_int + 1e-6) <= round(obj_int)
            bound = bound_int / obj_scale + slack
            stats.update(objective_int=obj_int, bound_int=bound_int)
        else:  # nothing saves anything: any programme with the required projects is optimal
            proved, bound = status == "OPTIMAL", 0.0
        stats.update(wall_time=solver.WallTime(), branches=solver.NumBranches(), conflicts=solver.NumConflicts())
    elif not needs_solve:
        proved = True
        bound = 0.0
    else:  # no programme from CP-SAT within the time limit (and no bound: it comes with a solution)
        if floors:
            raise InfeasibleError("programme: no programme meeting the groups' minimum improvements was found "
                                  "within the time limit")
        if not math.isfinite(seed_values[seed_name]):
            if any(setup.required):
                raise InfeasibleError("programme: no programme starting every required project was found within "
                                      "the time limit")
        else:
            chosen = dict(seed)
            stats["incumbent"] = f"starting programme ({seed_name}): CP-SAT found none within the time limit"
    # the caps alone bound the value too (each period's saving at most its cap, start costs at
    # their most favourable): kept when CP-SAT's bound is no better or CP-SAT found nothing
    period_weight = {**setup.weights, "after": setup.after}
    if not proved and all(w <= 0 or t in caps_by_period for t, w in period_weight.items()):
        caps_bound = (sum(w * caps_by_period[t] for t, w in period_weight.items() if w > 0)
                      + sum(max(0.0, *(-c for c in row.values())) for row in setup.start_costs if row))
        if caps_bound < bound:
            bound = caps_bound
            stats["bound_from"] = "saving caps"
    if not proved and outer is not None and outer.bound < bound:
        bound = outer.bound
        stats["bound_from"] = "outer approximation"
    if not _feasible(setup, chosen):
        raise SolverError(f"programme: CP-SAT returned an infeasible programme {chosen} (scaling bug)")
    if not proved and not floors and seed_values[seed_name] > _value_by_records(setup, chosen) + 1e-9 * top:
        # stopped early with an incumbent worse than the starting programme (a hint guides
        # CP-SAT's search but is not kept as a solution): report the starting programme
        chosen = dict(seed)
        stats["incumbent"] = f"starting programme ({seed_name}): better than CP-SAT's incumbent at the limit"
    if floors:
        stats["group_improvement"] = _final_improvements(setup, chosen, floors, list(group_minimum))
        stats["group_minimum"] = dict(group_minimum)
    return _result(setup, chosen, {}, bound=bound, proved=proved, started=started, stats=stats,
                   tiny=max(1e-9 * top, 2 * slack))
