"""Multi-year investment programmes: which project starts in which year, exactly (CP-SAT).

The model
---------
Years ``t = Y0 .. Y1`` (the horizon).  Project ``i`` costs ``K_i`` spent over ``d_i``
construction years by a profile ``p_i`` (shares summing to 1); started in year ``s`` it spends
``K_i p_ik`` in year ``s + k`` and opens in year ``s + d_i``.  A project either starts in a year
``e_i <= s <= Y1 - d_i + 1`` (earliest start ``e_i``; construction ends inside the horizon) or
not at all.  Constraints: in every year the spending of all projects is within that year's
budget (and each member's spending within its yearly cap); a project opens no earlier than the
projects it requires; excluded pairs are never both started.  The network of year ``t`` is the
set of projects open in ``t``; after the horizon the network is the final one.  Maximise

    sum over t of w_t S(open_t)  +  w_after S(open_after)  -  sum over started i of C_i(s_i)

with ``S`` the saving of a design (the objective of :mod:`solvers.selection.markets`: a sum
over markets of a monotone function of several shortest-path costs, e.g. the logsum), ``w_t``
the weight of a year (e.g. the discounted money value of a day's saving with demand growth),
``w_after`` the weight of all years after the horizon, and ``C_i(s)`` a cost of starting ``i``
in year ``s`` (e.g. the present value of its capital and running costs; 0 to maximise the
benefit alone).

Why it is exact
---------------
Savings interact through the network (two parallel lines do not add up).  The market records
of :mod:`solvers.selection.markets` are exact for every design (they are enumerated without a
budget, so the records hold for any set of open projects): a market saves the saving of its
best record whose project set is open.  The programme uses one copy of the ordered record
formulation per year, on the literals "project ``i`` is open in year ``t``"; so every year's
saving in the model is the exact saving of that year's network, and nothing is assumed
additive.  The only rounding is CP-SAT's integer scaling of the objective (at most half a unit
per term, added to the reported bound) and of money (costs rounded up and budgets down when not
decimal, so no infeasible programme is accepted).  The reported objective is re-evaluated
exactly (shortest paths in every layer for each year's network).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from networks.errors import InfeasibleError, InputError, SolverError
from solvers.selection._instance import _bits
from solvers.selection._types import _SAVING_SCALE_TARGET, _SEED, Project
from solvers.selection.cpsat import _add_ordered, _cost_scale, _merge_labels
from solvers.selection.markets import Layer, Markets, _prepare, _savings_for
from solvers._sigint import solve_interruptibly

__all__ = ["ProgrammeProject", "ProgrammeResult", "brute_force_programme", "greedy_programme", "solve_programme"]


@dataclass(frozen=True)
class ProgrammeProject:
    """Scheduling data of one project (its cost, dependencies and member: the selection's
    :class:`~solvers.selection.Project`).

    Parameters
    ----------
    duration
        Construction years, ``>= 1``; the project opens the year after the last.
    profile
        Share of the cost spent in each construction year (``duration`` values ``>= 0`` summing
        to 1); ``None``: equal shares.
    earliest_start
        First year construction may start (``None``: the horizon's first year).
    required
        The project must start within the horizon (an infeasible requirement is an error that
        says what conflicts: a budget too small in every year, or a dependency that cannot open
        in time).
    fixed_start
        The year construction started or will start (a committed project, e.g. one under
        construction); it may precede the horizon, and the project may open after it.  Implies
        ``required``.  Spending in years before the horizon is not counted.
    budgeted
        Whether the project's spending counts against the yearly budgets and member caps
        (``False``: funded outside them, e.g. a committed project whose finance is arranged).
    """

    duration: int
    profile: tuple[float, ...] | None = None
    earliest_start: int | None = None
    required: bool = False
    fixed_start: int | None = None
    budgeted: bool = True

    def shares(self) -> tuple[float, ...]:
        return self.profile if self.profile is not None else (1.0 / self.duration,) * self.duration


@dataclass
class ProgrammeResult:
    """The programme: start and opening years, spending, and each year's network and saving.

    ``objective`` is the exact value of the programme (weights x savings minus start costs);
    ``bound`` an upper bound on every programme's value (CP-SAT's, rounding included);
    ``gap = (bound - objective) / |objective|``; ``status`` ``"OPTIMAL"`` only when proved.
    """

    starts: dict[str, int]
    openings: dict[str, int]
    objective: float
    bound: float
    gap: float
    status: str
    years: list[int]
    spending: dict[int, float]
    savings: dict[int, float]  # per year (and the key ``"after"``): the saving of the open network
    open_sets: dict[Any, tuple[str, ...]]
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    def schedule(self) -> list[dict[str, Any]]:
        """One row per started project: id, start, opening (sorted by start, then id)."""
        return [{"project": p, "start": s, "opening": self.openings[p]}
                for p, s in sorted(self.starts.items(), key=lambda kv: (kv[1], kv[0]))]


@dataclass
class _Setup:
    problem: Any
    sav: Any
    ids: list[str]
    years: list[int]
    starts: list[list[int]]  # per project, the years it may start
    durations: list[int]
    shares: list[tuple[float, ...]]
    budgets: dict[int, float]
    member_caps: dict[str, dict[int, float]]
    weights: dict[int, float]
    after: float
    start_costs: list[dict[int, float]]
    required: list[bool] = field(default_factory=list)
    budgeted: list[bool] = field(default_factory=list)


def _setup(layers: Sequence[Layer], projects: Sequence[Project], markets: Markets, *, years: Sequence[int],
           schedule: Mapping[str, ProgrammeProject], yearly_budget: float | Mapping[int, float],
           weights: Mapping[int, float], weight_after: float, start_costs: Mapping[str, Mapping[int, float]] | None,
           member_caps: Mapping[str, float | Mapping[int, float]] | None) -> _Setup:
    years = [int(y) for y in years]
    if not years or years != list(range(years[0], years[0] + len(years))):
        raise InputError(f"years = {years!r}: expected consecutive calendar years")
    problem, _, _ = _prepare(layers, projects, markets, math.inf, None)
    inst = problem.inst
    ids = [p.id for p in inst.projects]
    unknown = sorted(set(schedule) - set(ids))
    if unknown:
        raise InputError(f"schedule: unknown project(s) {unknown}")
    missing = [i for i in ids if i not in schedule]
    if missing:
        raise InputError(f"schedule: no duration for project(s) {missing}")
    durations, shares, starts = [], [], []
    required: list[bool] = []
    budgeted: list[bool] = []
    for pid in ids:
        item = schedule[pid]
        if isinstance(item.duration, bool) or not isinstance(item.duration, int) or item.duration < 1:
            raise InputError(f"schedule[{pid!r}].duration = {item.duration!r}: expected a whole number >= 1")
        sh = item.shares()
        if len(sh) != item.duration or any(not math.isfinite(x) or x < 0 for x in sh) or abs(sum(sh) - 1) > 1e-9:
            raise InputError(f"schedule[{pid!r}].profile = {item.profile!r}: expected {item.duration} shares >= 0 "
                             "summing to 1")
        first = years[0] if item.earliest_start is None else int(item.earliest_start)
        durations.append(item.duration)
        shares.append(tuple(float(x) for x in sh))
        if item.fixed_start is not None:
            fixed = item.fixed_start
            if isinstance(fixed, bool) or not isinstance(fixed, int) or fixed > years[-1]:
                raise InputError(f"schedule[{pid!r}].fixed_start = {fixed!r}: expected a year no later than "
                                 f"{years[-1]} (the horizon's last)")
            starts.append([fixed])
        else:
            starts.append([s for s in years if s >= first and s + item.duration - 1 <= years[-1]])
        required.append(bool(item.required) or item.fixed_start is not None)
        budgeted.append(bool(item.budgeted))
    if isinstance(yearly_budget, Mapping):
        budgets = {}
        for y in years:
            if y not in yearly_budget:
                raise InputError(f"yearly_budget: no budget for year {y}")
            budgets[y] = _nonneg(yearly_budget[y], f"yearly_budget[{y}]")
    else:
        value = _nonneg(yearly_budget, "yearly_budget")
        budgets = {y: value for y in years}
    caps: dict[str, dict[int, float]] = {}
    members = {p.member for p in inst.projects}
    for member, cap in (member_caps or {}).items():
        if member not in members:
            raise InputError(f"member_caps: unknown member {member!r}; expected one of {sorted(m for m in members if m)}")
        if isinstance(cap, Mapping):
            caps[member] = {y: _nonneg(cap.get(y, math.inf), f"member_caps[{member!r}][{y}]") for y in years}
        else:
            caps[member] = {y: _nonneg(cap, f"member_caps[{member!r}]") for y in years}
    w = {}
    for y in years:
        if y not in weights:
            raise InputError(f"weights: no weight for year {y}")
        w[y] = _nonneg(weights[y], f"weights[{y}]")
    after = _nonneg(weight_after, "weight_after")
    costs: list[dict[int, float]] = []
    for k, pid in enumerate(ids):
        table = (start_costs or {}).get(pid, {})
        row = {}
        for s in starts[k]:
            value = table.get(s, 0.0) if start_costs is not None else 0.0
            if start_costs is not None and pid in start_costs and s not in table:
                raise InputError(f"start_costs[{pid!r}]: no cost for a start in {s}")
            row[s] = _finite(value, f"start_costs[{pid!r}][{s}]")
        costs.append(row)
    if start_costs is not None:
        extra = sorted(set(start_costs) - set(ids))
        if extra:
            raise InputError(f"start_costs: unknown project(s) {extra}")
    setup = _Setup(problem=problem, sav=None, ids=ids, years=years, starts=starts, durations=durations, shares=shares,
                   budgets=budgets, member_caps=caps, weights=w, after=after, start_costs=costs, required=required,
                   budgeted=budgeted)
    _check_requirements(setup)
    setup.sav = _savings_for(problem, math.inf, {}, deadline=None, log=None)
    return setup


def _check_requirements(setup: _Setup) -> None:
    """Say what conflicts when required projects cannot fit: no allowed start, a budget too
    small in every year they could start, a dependency that cannot open in time, an exclusion."""
    inst = setup.problem.inst
    ids = setup.ids
    for k, pid in enumerate(ids):
        if not setup.required[k]:
            continue
        if not setup.starts[k]:
            raise InfeasibleError(f"programme: required project {pid!r} cannot start in the horizon "
                                  f"{setup.years[0]}-{setup.years[-1]} (earliest start and {setup.durations[k]} "
                                  "construction years leave no start year)")
        if setup.budgeted[k]:
            fits = [s for s in setup.starts[k]
                    if all(c <= setup.budgets[y] * (1 + 1e-9) + 1e-9 for y, c in _spend(setup, k, s).items())]
            if not fits:
                need = max(max(_spend(setup, k, s).values(), default=0.0) for s in setup.starts[k])
                raise InfeasibleError(f"programme: the yearly budget is too small for required project {pid!r}: it "
                                      f"spends {need:g} in a year of its construction, more than the budget allows "
                                      "in any year it could be built")
        for j in _bits(inst.excl[k]):
            if setup.required[j]:
                raise InfeasibleError(f"programme: required projects {pid!r} and {ids[j]!r} exclude each other")

    def earliest_open(k: int, seen: tuple[int, ...] = ()) -> float:
        if not setup.starts[k]:
            return math.inf
        own = min(setup.starts[k]) + setup.durations[k]
        deps = [earliest_open(j, (*seen, k)) for j in _bits(inst.direct_requires[k]) if j not in seen]
        return max([own, *deps])

    for k, pid in enumerate(ids):
        if not setup.required[k]:
            continue
        latest = max(setup.starts[k]) + setup.durations[k]
        for j in _bits(inst.direct_requires[k]):
            ready = earliest_open(j)
            if ready > latest:
                when = "never opens within the horizon" if not math.isfinite(ready) else f"opens in {ready} at the earliest"
                raise InfeasibleError(f"programme: required project {pid!r} opens by {latest} at the latest, but the "
                                      f"project it requires, {ids[j]!r}, {when}")
    # committed spending (fixed starts) alone must fit the budgets
    fixed = {}
    for k in range(len(ids)):
        if setup.required[k] and setup.budgeted[k] and len(setup.starts[k]) == 1:
            for y, c in _spend(setup, k, setup.starts[k][0]).items():
                fixed.setdefault(y, []).append((ids[k], c))
    for y, items in sorted(fixed.items()):
        total = sum(c for _, c in items)
        if total > setup.budgets[y] * (1 + 1e-9) + 1e-9:
            raise InfeasibleError(f"programme: in {y} the projects fixed to start ({', '.join(p for p, _ in items)}) "
                                  f"spend {total:g}, more than that year's budget {setup.budgets[y]:g}")


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{name} = {value!r}: expected a finite number")
    return float(value)


def _nonneg(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise InputError(f"{name} = {value!r}: expected a number >= 0")
    return float(value)


def _spend(setup: _Setup, k: int, start: int, *, charged: bool = True) -> dict[int, float]:
    """Spending of project ``k`` started in ``start``, by year of the horizon (years before it
    are not counted); with ``charged``, nothing for a project funded outside the budgets."""
    if charged and not setup.budgeted[k]:
        return {}
    cost = float(setup.problem.inst.costs[k])
    first, last = setup.years[0], setup.years[-1]
    return {start + j: cost * share for j, share in enumerate(setup.shares[k]) if first <= start + j <= last}


def _evaluate(setup: _Setup, starts: Mapping[str, int], cache: dict[int, float]) -> tuple[float, dict, dict]:
    """Exact value of a programme, each year's saving and open set."""
    index = {pid: k for k, pid in enumerate(setup.ids)}
    base = setup.sav.base_objective

    def saving(mask: int) -> float:
        got = cache.get(mask)
        if got is None:
            got = cache[mask] = base - setup.sav.evaluate(mask).objective
        return got

    def open_mask(year: float) -> int:
        return sum(1 << index[p] for p, s in starts.items() if s + setup.durations[index[p]] <= year)

    value = 0.0
    savings: dict[Any, float] = {}
    sets: dict[Any, tuple[str, ...]] = {}
    for y in setup.years:
        mask = open_mask(y)
        savings[y] = saving(mask)
        sets[y] = setup.problem.inst.ids(mask)
        value += setup.weights[y] * savings[y]
    mask = open_mask(math.inf)
    savings["after"] = saving(mask)
    sets["after"] = setup.problem.inst.ids(mask)
    value += setup.after * savings["after"]
    value -= sum(setup.start_costs[index[p]][s] for p, s in starts.items())
    return value, savings, sets


def _result(setup: _Setup, chosen: dict[str, int], cache: dict[int, float], *, bound: float | None,
            proved: bool, started: float, stats: dict[str, Any] | None = None, tiny: float = 0.0) -> ProgrammeResult:
    """The programme ``chosen``, evaluated exactly, with its spending and gap to ``bound``."""
    value, savings, sets = _evaluate(setup, chosen, cache)
    bound = value if bound is None else max(bound, value)
    tiny = max(tiny, 1e-9 * abs(value))  # a difference within the scaling's resolution counts as none
    gap = 0.0 if bound - value <= tiny else (bound - value) / abs(value) if value != 0 else math.inf
    spending = {y: 0.0 for y in setup.years}
    for p, s in chosen.items():
        for y, c in _spend(setup, setup.ids.index(p), s).items():
            spending[y] += c
    if stats is not None:
        stats["absolute_gap"] = bound - value
    return ProgrammeResult(starts=chosen, openings={p: s + setup.durations[setup.ids.index(p)] for p, s in chosen.items()},
                           objective=value, bound=bound, gap=gap, status="OPTIMAL" if proved else "FEASIBLE",
                           years=setup.years, spending=spending, savings=savings, open_sets=sets,
                           seconds=time.perf_counter() - started, stats=stats if stats is not None else {})


def _feasible(setup: _Setup, starts: Mapping[str, int], tol: float = 1e-9, *, complete: bool = True) -> bool:
    """Whether a programme is feasible; ``complete=False`` for one still being built (its
    required projects may be missing yet)."""
    index = {pid: k for k, pid in enumerate(setup.ids)}
    inst = setup.problem.inst
    spend = {y: 0.0 for y in setup.years}
    by_member: dict[str, dict[int, float]] = {m: {y: 0.0 for y in setup.years} for m in setup.member_caps}
    if complete and any(req and pid not in starts for pid, req in zip(setup.ids, setup.required)):
        return False
    for p, s in starts.items():
        k = index[p]
        if s not in setup.starts[k]:
            return False
        for y, c in _spend(setup, k, s).items():
            spend[y] += c
            member = inst.projects[k].member
            if member in by_member:
                by_member[member][y] += c
        opening = s + setup.durations[k]
        for j in _bits(inst.direct_requires[k]):
            q = setup.ids[j]
            if q not in starts or starts[q] + setup.durations[j] > opening:
                return False
        for j in _bits(inst.excl[k]):
            if setup.ids[j] in starts:
                return False
    if any(spend[y] > setup.budgets[y] * (1 + tol) + tol for y in setup.years):
        return False
    return all(by_member[m][y] <= cap[y] * (1 + tol) + tol for m, cap in setup.member_caps.items() for y in setup.years)


def _saving_caps(setup: _Setup, deadline: float | None) -> tuple[dict[Any, float], list[tuple[float, int]]]:
    """Per period, an upper bound on the saving of any network that can be open then.

    A project open in year ``t`` started by ``t - d_i`` (so ``t - d_i >= `` its earliest start)
    and spent all its cost in years before ``t``: the open set is a design of such projects
    within the sum of those years' budgets (member caps ignored: the bound stays valid).  The
    one-shot selection's proved bound for that design problem (the exact records, restricted to
    the projects that can be open) caps the saving.  Also returns the one-shot designs found
    (budget, project mask), which seed the search (:func:`_list_schedule`).
    """
    from solvers.selection.cpsat import _Savings, _solve_model

    import copy

    n = len(setup.ids)
    cumulative: dict[Any, float] = {}
    total = 0.0
    for y in setup.years:
        cumulative[y] = total
        total += setup.budgets[y]
    cumulative["after"] = total

    def can_open(k: int, t: Any) -> bool:
        return bool(setup.starts[k]) and (t == "after" or setup.starts[k][0] + setup.durations[k] <= t)

    caps: dict[Any, float] = {}
    solved: dict[tuple[float, int], float] = {}
    designs: list[tuple[float, int]] = []
    hint = 0
    for t, budget in sorted(cumulative.items(), key=lambda kv: (kv[1], str(kv[0]))):
        allowed = sum(1 << k for k in range(n) if can_open(k, t))
        if not allowed or not budget > 0:
            caps[t] = 0.0
            continue
        if not math.isfinite(budget):
            continue
        # what an open project surely took from the budgets before t: its charged spending
        # before t, at the start that charges least (all of its cost when it starts in the
        # horizon and counts against the budget; less for a committed start before the horizon)
        inst = copy.copy(setup.problem.inst)
        inst.costs = np.array([
            min((sum(c for y, c in _spend(setup, k, s).items() if t == "after" or y < t)
                 for s in setup.starts[k] if t == "after" or s + setup.durations[k] <= t), default=0.0)
            for k in range(n)], dtype=float)
        key = (budget, allowed, tuple(inst.costs))
        if key not in solved:
            records = [[(m, c) for m, c in rs if m & ~allowed == 0] for rs in setup.sav.records]
            sav = _Savings(records=records, base_objective=setup.sav.base_objective,
                           lower_objective=setup.sav.lower_objective, complete=setup.sav.complete,
                           evaluate=setup.sav.evaluate, stats={})
            r = _solve_model(inst, sav, budget=budget, caps={}, deadline=deadline, relative_gap=0.0, log=None,
                             started=time.perf_counter(), hint=hint & allowed)
            solved[key] = max(0.0, setup.sav.base_objective - r.bound)
            hint = inst.mask_of(r.selected)
            designs.append((budget, hint))
        caps[t] = solved[key]
    return caps, designs


def _list_schedule(setup: _Setup, designs: list[tuple[float, int]], *, order: Sequence[int] = ()) -> dict[str, int]:
    """A feasible programme to start the search from: the required projects, then the others in
    the order they enter the one-shot optimum as the budget grows, each started as early as the
    budgets allow."""
    inst = setup.problem.inst
    order = [k for k in range(len(setup.ids)) if setup.required[k]] + [k for k in order if not setup.required[k]]
    for _, mask in sorted(designs):
        for k in sorted(_bits(mask), key=lambda k: (inst.costs[k], k)):
            if k not in order:
                order.append(k)
    starts: dict[str, int] = {}

    def place(k: int) -> bool:
        pid = setup.ids[k]
        if pid in starts:
            return True
        if any(setup.ids[j] in starts for j in _bits(inst.excl[k])):
            return False
        for j in _bits(inst.direct_requires[k]):
            if not place(j):
                return False
        for s in setup.starts[k]:
            trial = {**starts, pid: s}
            if _feasible(setup, trial, complete=False):
                starts[pid] = s
                return True
        return False

    for k in order:
        place(k)
    return starts


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
    log: Callable[[str], None] | None = None,
    groups: Mapping[str, Sequence[int]] | None = None,
    group_minimum: Mapping[str, float] | None = None,
) -> ProgrammeResult:
    """The programme of largest value (see the module docstring), with a proof or a gap.

    ``time_limit`` (seconds) stops the search with the best programme found and its gap;
    ``relative_gap`` stops it once proved within that gap; ``workers`` CP-SAT threads (the
    result is deterministic for a given number of workers).  ``saving_caps`` adds valid
    inequalities that tighten the relaxation: every project open in year ``t`` was paid for in
    the years before ``t``, so year ``t``'s network is a design within the budgets of those
    years together, and its saving is at most the one-shot optimum (its proved bound) at that
    cumulative budget (:func:`_saving_caps`).  They cut off no programme.

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
    seed_values = {name: (_value_by_records(setup, sd) if _feasible(setup, sd) else -math.inf)
                   for name, sd in seeds.items()}
    seed_name = max(seed_values, key=lambda name: (seed_values[name], name == "one-shot order"))
    seed = seeds[seed_name]
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
    # savings: the ordered record formulation once per period, on that period's open literals
    labels = None
    if floors:
        member_of: list[list[int]] = [[] for _ in setup.sav.records]
        for g, (items, _, _) in enumerate(floors):
            for m in items:
                member_of[m].append(g)
        labels = [tuple(x) for x in member_of]
    labelled = _merge_labels([[(m, c) for m, c in rs if c > 0] for rs in setup.sav.records], labels)
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

        period_terms: list[tuple[int, Any]] = []
        period_items = 0
        group_terms: list[list[tuple[int, Any]]] = [[] for _ in floors]
        for rs, (_, label) in zip(records, labelled):
            ranked = [(round(c * wt * obj_scale), m) for m, c in rs]
            ranked = sorted(((c, m) for c, m in ranked if c > 0 and avail(m) is not None), key=lambda r: (-r[0], r[1]))
            if not ranked:
                continue
            slack_units += 1
            period_items += 1
            mine: list[tuple[int, Any]] = []
            n_records += _add_ordered(model, ranked, avail, mine)
            period_terms += mine
            if t == "after":
                for g in label or ():
                    group_terms[g] += mine
        terms += period_terms
        if t == "after":
            for g, (_, base_g, (num, den)) in enumerate(floors):
                need = -((-num * int(round(base_g * wt * obj_scale))) // den)
                if need > 0:
                    model.Add(sum(c * v for c, v in group_terms[g]) >= need)
        cap = caps_by_period.get(t, math.inf)
        if period_terms and math.isfinite(cap):
            # each item's scaled saving is within half a unit of the exact one
            model.Add(sum(c * v for c, v in period_terms) <= math.floor(cap * wt * obj_scale + 0.5 * period_items))
    for k in range(n):
        for s, v in x[k].items():
            c_int = round(setup.start_costs[k][s] * obj_scale)
            if c_int:
                terms.append((-c_int, v))
                slack_units += 1
    slack = 0.5 * slack_units / obj_scale
    model.Maximize(sum(c * v for c, v in terms) if terms else 0)
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
                             "seed_programme": seed, "seed": seed_name,
                             "seed_values": {k: v for k, v in seed_values.items()}}
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
    elif any(setup.required):
        raise InfeasibleError("programme: no programme starting every required project was found within the time "
                              "limit")
    elif floors:
        raise InfeasibleError("programme: no programme meeting the groups' minimum improvements was found within "
                              "the time limit")
    if not _feasible(setup, chosen):
        raise SolverError(f"programme: CP-SAT returned an infeasible programme {chosen} (scaling bug)")
    if floors:
        stats["group_improvement"] = _final_improvements(setup, chosen, floors, list(group_minimum))
        stats["group_minimum"] = dict(group_minimum)
    return _result(setup, chosen, {}, bound=bound, proved=proved, started=started, stats=stats,
                   tiny=max(1e-9 * top, 2 * slack))


def _group_floors(setup: _Setup, groups: Mapping[str, Sequence[int]] | None,
                  minimum: Mapping[str, float] | None) -> list[tuple[np.ndarray, float, tuple[int, int]]]:
    """Per group with a minimum: its market indices, base objective and the minimum as a fraction."""
    from fractions import Fraction

    if not minimum:
        return []
    if groups is None:
        raise InputError("programme: group_minimum needs groups")
    if not setup.after > 0:
        raise InputError("programme: group minimums apply to the final network, which needs weight_after > 0")
    demand = np.asarray(setup.problem.markets.demand, dtype=float)
    base_values = np.asarray(setup.problem.evaluate(0).od_times, dtype=float)
    out = []
    for name, rho in minimum.items():
        if name not in groups:
            raise InputError(f"programme: minimum for unknown group {name!r}; expected one of {sorted(groups)}")
        value = _finite(rho, f"group_minimum[{name!r}]")
        if not 0 <= value < 1:
            raise InputError(f"programme: group_minimum[{name!r}] = {rho!r}; expected a fraction in [0, 1)")
        items = np.unique(np.asarray(list(groups[name]), dtype=np.int64))
        if items.size == 0 or items.min() < 0 or items.max() >= demand.size:
            raise InputError(f"programme: group {name!r} must hold market indices in 0..{demand.size - 1}")
        base = float(np.dot(demand[items], base_values[items]))
        if not base > 0:
            raise InputError(f"programme: group {name!r} has no demand")
        frac = Fraction(repr(value))
        out.append((items, base, (frac.numerator, frac.denominator)))
    return out


def _final_improvements(setup: _Setup, starts: Mapping[str, int], floors: list, names: list[str]) -> dict[str, float]:
    """Exact improvement of each floored group in the final network of a programme."""
    index = {pid: k for k, pid in enumerate(setup.ids)}
    mask = sum(1 << index[p] for p in starts)
    demand = np.asarray(setup.problem.markets.demand, dtype=float)
    base_values = np.asarray(setup.problem.evaluate(0).od_times, dtype=float)
    values = np.asarray(setup.sav.evaluate(mask).od_times, dtype=float)
    saving = demand * (base_values - values)
    return {name: float(saving[items].sum()) / base for name, (items, base, _) in zip(names, floors)}


def _greedy_order(setup: _Setup) -> tuple[list[int], dict[int, float]]:
    """Projects by stand-alone saving (with what they require, from the records) per unit of cost."""
    inst = setup.problem.inst
    base = setup.sav.base_objective
    ratio = {}
    for k in range(len(setup.ids)):
        mask = inst.closure[k]
        cost = inst.mask_cost(mask)
        saving = base - setup.sav.objective_by_records(mask)
        ratio[k] = saving / cost if cost > 0 else (math.inf if saving > 0 else 0.0)
    return sorted(range(len(setup.ids)), key=lambda k: (-ratio[k], setup.ids[k])), ratio


def _value_by_records(setup: _Setup, starts: Mapping[str, int]) -> float:
    """A programme's value from the records (exact when their search was complete; no shortest paths)."""
    index = {pid: k for k, pid in enumerate(setup.ids)}
    base = setup.sav.base_objective
    memo: dict[int, float] = {}

    def saving(year: float) -> float:
        mask = sum(1 << index[p] for p, s in starts.items() if s + setup.durations[index[p]] <= year)
        if mask not in memo:
            memo[mask] = base - setup.sav.objective_by_records(mask)
        return memo[mask]

    value = sum(setup.weights[y] * saving(y) for y in setup.years) + setup.after * saving(math.inf)
    return value - sum(setup.start_costs[index[p]][s] for p, s in starts.items())


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
