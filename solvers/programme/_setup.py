"""The programme's data: projects' schedules, the validated setup, spending, exact evaluation and
feasibility, starting programmes (shared by the exact, greedy and brute-force solvers)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from networks.errors import InfeasibleError, InputError
from solvers.selection._instance import _bits
from solvers.selection._types import Project
from solvers.selection.markets import Layer, Markets, _prepare, _savings_for


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
    ``not_started`` says for each project left out why (:func:`_not_started`).
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
    not_started: dict[str, str] = field(default_factory=dict)  # project -> why it is not in the programme

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
    base_values: np.ndarray | None = None  # each market's base cost, once group floors need it


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
                           seconds=time.perf_counter() - started, stats=stats if stats is not None else {},
                           not_started=_not_started(setup, chosen))


def _unbuildable(setup: _Setup, k: int) -> str:
    """Why project ``k`` can start in no year on its own (no start year, or a yearly budget or its
    member's cap exceeded in every year it could be built); ``""`` when some start fits."""
    if not setup.starts[k]:
        return (f"no start year: its {setup.durations[k]} construction year(s) and earliest start do not fit "
                f"{setup.years[0]}-{setup.years[-1]}")
    if not setup.budgeted[k]:
        return ""
    member = setup.problem.inst.projects[k].member
    caps = setup.member_caps.get(member)

    def limit(c: float, y: int) -> str:  # the limit amount ``c`` in year ``y`` exceeds, or ""
        if c > setup.budgets[y] * (1 + 1e-9) + 1e-9:
            return f"the yearly budget ({setup.budgets[y]:g})"
        if caps is not None and c > caps[y] * (1 + 1e-9) + 1e-9:
            return f"{member}'s yearly cap ({caps[y]:g})"
        return ""

    worst, limit_of = 0.0, ""
    for s in setup.starts[k]:
        over = [(c, y) for y, c in _spend(setup, k, s).items() if limit(c, y)]
        if not over:
            return ""
        c, y = max(over)
        if c > worst:
            worst, limit_of = c, limit(c, y)
    return f"spends up to {worst:g} in a year of its construction, more than {limit_of} in every year it could be built"


def _not_started(setup: _Setup, chosen: Mapping[str, int]) -> dict[str, str]:
    """For each project the programme does not start, the first reason that applies: it cannot be
    built (:func:`_unbuildable`), it requires a project that cannot or is not started, it excludes
    a started project, it adds nothing to the final network's saving, or else the programme is
    worth more without it (its marginal saving of the final network given, from the exact records;
    "worth more" is proved when the programme is, else it holds against the programmes searched)."""
    inst = setup.problem.inst
    index = {pid: k for k, pid in enumerate(setup.ids)}
    final = sum(1 << index[p] for p in chosen)
    unbuildable = [_unbuildable(setup, k) for k in range(len(setup.ids))]
    out: dict[str, str] = {}
    for k, pid in enumerate(setup.ids):
        if pid in chosen:
            continue
        reason = unbuildable[k]
        if not reason:
            needs = [setup.ids[j] for j in _bits(inst.closure[k] & ~(1 << k)) if setup.ids[j] not in chosen]
            blocked = [q for q in needs if unbuildable[index[q]]]
            excluded = [setup.ids[j] for j in _bits(inst.excl[k]) if setup.ids[j] in chosen]
            if blocked:
                reason = f"requires {', '.join(blocked)}, which cannot be built"
            elif excluded:
                reason = f"excludes {', '.join(excluded)}, which the programme starts"
            elif needs:
                reason = f"requires {', '.join(needs)}, not started"
            else:
                gain = setup.sav.objective_by_records(final) - setup.sav.objective_by_records(final | 1 << k)
                reason = ("adds no saving to the final network" if gain <= 1e-9 * max(1.0, abs(setup.sav.base_objective))
                          else f"not chosen: it would add {gain:.4g} to the final network's saving, and the programme "
                          "is worth more without it")
        out[pid] = reason
    return out


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
    base_values = setup.base_values = np.asarray(setup.problem.evaluate(0).od_times, dtype=float)
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
    values = np.asarray(setup.sav.evaluate(mask).od_times, dtype=float)
    saving = demand * (setup.base_values - values)  # base values kept by _group_floors
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
