"""Selection for the shortest-path objective: evaluate, solve, brute force, budget ladder."""

from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from collections.abc import Callable, Iterable, Mapping, Sequence


from networks.errors import InputError
from solvers.selection._graph import _check_number
from solvers.selection._instance import _Instance, _check_caps
from solvers.selection._types import BaseGraph, DesignValue, Ladder, LadderEntry, NonNested, ODDemand, Project, SelectionResult, _MAX_BRUTE_FORCE_PROJECTS
from solvers.selection.cpsat import _Savings, _shortest_path_savings, _solve_model, _usable
from solvers.selection.records import _Records, _build_records

# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def evaluate_design(base: BaseGraph, projects: Sequence[Project], od: ODDemand, selected: Iterable[str]) -> DesignValue:
    """Exact free-flow value of a design (Dijkstra on base arcs plus the selected projects).

    Parameters
    ----------
    base
        ``scipy.sparse`` n x n matrix of arc times (stored entries are arcs, explicit zeros
        included; stored duplicates are parallel arcs) or a tuple ``(n, tails, heads, times)``.
    projects
        The project catalogue.
    od
        Demand.
    selected
        Ids of the projects in the design (feasibility is not checked).

    Returns
    -------
    DesignValue
        Objective and time per OD row (``inf`` for an unreachable pair, which adds nothing
        when its demand is zero and raises otherwise).
    """
    inst = _Instance(base, projects, od)
    mask = inst.mask_of(selected)
    times = inst.pair_times(mask)
    inst.check_reachable(times)
    return DesignValue(inst.ids(mask), inst.objective_of(times), times[inst.row_pair].copy())


def _prepare(
    base: BaseGraph, projects: Sequence[Project], od: ODDemand, budget: float, member_caps: Mapping[str, float] | None
) -> tuple[_Instance, float, dict[str, float]]:
    inst = _Instance(base, projects, od)
    budget = _check_number(budget, "budget", allow_inf=True)
    caps = _check_caps(inst, member_caps)
    inst.check_reachable(inst.pair_times(0))
    return inst, budget, caps


def solve_selection(
    base: BaseGraph,
    projects: Sequence[Project],
    od: ODDemand,
    *,
    budget: float,
    member_caps: Mapping[str, float] | None = None,
    time_limit: float | None = None,
    relative_gap: float = 0.0,
    log: Callable[[str], None] | None = None,
) -> SelectionResult:
    """Optimal project set for the free-flow model (contraction + records + CP-SAT).

    Parameters
    ----------
    base, projects, od
        As in :func:`evaluate_design`.
    budget
        Budget on the total cost (``inf`` for none).
    member_caps
        Optional cap on the total cost of the projects led by each member.
    time_limit
        Wall-clock seconds for the whole run (record search and CP-SAT).  When it is reached
        the best design found is returned with status ``"FEASIBLE"``, its bound and gap.
    relative_gap
        Stop once ``(objective - bound) / objective`` is at most this (0: prove optimality).
    log
        Callable receiving progress lines (record search and the CP-SAT log).

    Returns
    -------
    SelectionResult
    """
    started = time.perf_counter()
    inst, budget, caps = _prepare(base, projects, od, budget, member_caps)
    relative_gap, deadline = _limits(relative_gap, time_limit, started)
    sav = _shortest_path_savings(inst, _records_for(inst, budget, caps, deadline=deadline, log=log))
    return _solve_model(
        inst, sav, budget=budget, caps=caps, deadline=deadline, relative_gap=relative_gap, log=log, started=started
    )


def _limits(relative_gap: float, time_limit: float | None, started: float) -> tuple[float, float | None]:
    """Checked ``relative_gap`` and the deadline of a run that started at ``started``."""
    relative_gap = _check_number(relative_gap, "relative_gap")
    if time_limit is not None:
        time_limit = _check_number(time_limit, "time_limit", allow_inf=True)
    return relative_gap, None if time_limit is None or math.isinf(time_limit) else started + time_limit


def _budget_list(budgets: Iterable[float]) -> list[float]:
    """Budgets checked, sorted ascending, duplicates removed; at least one."""
    out = sorted({_check_number(b, "budgets", allow_inf=True) for b in budgets})
    if not out:
        raise InputError("budgets: empty; expected at least one budget")
    return out


def _records_for(
    inst: _Instance, budget: float, caps: Mapping[str, float], *, deadline: float | None, log: Callable[[str], None] | None
) -> _Records:
    root = sum(1 << i for i in range(len(inst.projects)) if _usable(inst, inst.closure[i], budget, caps))
    return _build_records(inst, lambda m: _usable(inst, m, budget, caps), root, deadline=deadline, log=log)


def brute_force_selection(
    base: BaseGraph,
    projects: Sequence[Project],
    od: ODDemand,
    *,
    budget: float,
    member_caps: Mapping[str, float] | None = None,
) -> SelectionResult:
    """Optimal project set by evaluating every feasible design with Dijkstra (2^n designs).

    The reference for tests and benchmarks; it shares validation with :func:`solve_selection`
    but none of the contraction, records or CP-SAT.  Ties: lowest cost, then ids.
    """
    started = time.perf_counter()
    inst, budget, caps = _prepare(base, projects, od, budget, member_caps)
    return _brute_force(inst, inst.evaluate, budget, caps, started)


def _brute_force(inst: _Instance, evaluate: Callable[[int], DesignValue], budget: float,
                 caps: Mapping[str, float], started: float) -> SelectionResult:
    """Evaluate every feasible design; ties: lowest cost, then ids."""
    n_proj = len(inst.projects)
    if n_proj > _MAX_BRUTE_FORCE_PROJECTS:
        raise InputError(f"projects: {n_proj} projects; brute force enumerates 2^n designs, expected at most {_MAX_BRUTE_FORCE_PROJECTS}")
    base_objective = evaluate(0).objective
    best: tuple[float, float, tuple[str, ...], DesignValue] | None = None
    evaluated = 0
    for mask in range(1 << n_proj):
        if not inst.feasible(mask, budget, caps):
            continue
        value = evaluate(mask)
        evaluated += 1
        key = (value.objective, inst.mask_cost(mask), inst.ids(mask))
        if best is None or key < best[:3]:
            best = (*key, value)
    assert best is not None  # the empty design is always feasible
    objective, cost, ids, value = best
    return SelectionResult(
        selected=ids,
        objective=objective,
        bound=objective,
        gap=0.0,
        status="OPTIMAL",
        base_objective=base_objective,
        od_times=value.od_times,
        cost=cost,
        budget=budget,
        seconds=time.perf_counter() - started,
        stats={"projects": n_proj, "designs": 1 << n_proj, "feasible_designs_evaluated": evaluated},
    )


def budget_ladder(
    base: BaseGraph,
    projects: Sequence[Project],
    od: ODDemand,
    budgets: Iterable[float],
    *,
    member_caps: Mapping[str, float] | None = None,
    time_limit: float | None = None,
    relative_gap: float = 0.0,
    log: Callable[[str], None] | None = None,
) -> Ladder:
    """Exact optimum at each budget, the order of entry, and where optimal sets are not nested.

    The records are enumerated once (for the largest budget) and reused for every budget;
    ``time_limit`` applies to each budget separately.

    Parameters
    ----------
    budgets
        Budgets; sorted ascending, duplicates removed.
    member_caps, time_limit, relative_gap, log
        As in :func:`solve_selection`.

    Returns
    -------
    Ladder
    """
    budget_list = _budget_list(budgets)
    inst, top, caps = _prepare(base, projects, od, budget_list[-1], member_caps)
    relative_gap = _check_number(relative_gap, "relative_gap")
    sav = _shortest_path_savings(inst, _records_for(inst, top, caps, deadline=None, log=log))
    return _ladder(inst, sav, budget_list, caps, time_limit=time_limit, relative_gap=relative_gap, log=log)


def ladder_threads(steps: int) -> int:
    """Threads for a ladder of ``steps`` budgets: ``YRD_TRANSIT_LADDER_THREADS`` if set, else 2
    (each CP-SAT solve is single-threaded).  Not the machine's core count: the threads decide
    which step starts from which design, so the same setting gives the same results anywhere."""
    raw = os.environ.get("YRD_TRANSIT_LADDER_THREADS", "")
    try:
        wanted = int(raw) if raw.strip() else 2
    except ValueError:
        raise InputError(f"YRD_TRANSIT_LADDER_THREADS={raw!r}; expected a whole number >= 1") from None
    if wanted < 1:
        raise InputError(f"YRD_TRANSIT_LADDER_THREADS={raw!r}; expected a whole number >= 1")
    return max(1, min(wanted, steps))


def _ladder_steps(inst: _Instance, sav: _Savings, budget_list: list[float], caps: Mapping[str, float], *,
                  time_limit: float | None, relative_gap: float, log: Callable[[str], None] | None,
                  on_step: Callable[[float, SelectionResult, float], None] | None) -> list[SelectionResult]:
    """Solve at every budget of the ladder.

    With ``k`` threads (:func:`ladder_threads`) the budgets are dealt round-robin: thread ``w``
    solves budgets ``w, w + k, ...`` in order, each started from the thread's previous optimum
    (a feasible design at the larger budget).  Which thread solves which budget, and from what
    start, never depends on timing, so the results are the same on every run.  Ctrl-C stops
    every search and raises KeyboardInterrupt.
    """
    n = len(budget_list)
    results: list[SelectionResult | None] = [None] * n
    threads = ladder_threads(n)
    solvers: list = []
    stop = threading.Event()

    def lane(first: int) -> None:
        hint = 0
        for k in range(first, n, threads):
            if stop.is_set():
                return
            started = time.perf_counter()
            deadline = None if time_limit is None or math.isinf(time_limit) else started + time_limit
            results[k] = _solve_model(inst, sav, budget=budget_list[k], caps=caps, deadline=deadline,
                                      relative_gap=relative_gap, log=log, started=started, hint=hint,
                                      on_solver=solvers.append if threads > 1 else None)
            hint = inst.mask_of(results[k].selected)
            if on_step is not None:
                on_step(budget_list[k], results[k], time.perf_counter() - started)

    if threads == 1:
        lane(0)
        return results  # type: ignore[return-value]
    def stop_all() -> None:
        stop.set()
        for solver in list(solvers):
            solver.StopSearch()

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ladder")
    futures = [pool.submit(lane, w) for w in range(threads)]
    try:
        while True:
            done, pending = wait(futures, timeout=0.1, return_when=FIRST_EXCEPTION)
            if not pending or any(f.exception() is not None for f in done):
                break
    except BaseException:  # Ctrl-C while waiting: stop every search, then let it through
        stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    if any(f.done() and f.exception() is not None for f in futures):
        stop_all()  # one lane failed: stop the others; its failure is raised below
    pool.shutdown(wait=True)
    for future in futures:
        future.result()
    return results  # type: ignore[return-value]


def _ladder(inst: _Instance, sav: _Savings, budget_list: list[float], caps: Mapping[str, float], *,
            time_limit: float | None, relative_gap: float, log: Callable[[str], None] | None,
            on_step: Callable[[float, SelectionResult, float], None] | None = None) -> Ladder:
    """Solve at every budget (records shared) and derive the priority order; ``on_step(budget,
    result, seconds)`` is called after each budget (progress reporting)."""
    results = _ladder_steps(inst, sav, budget_list, caps, time_limit=time_limit, relative_gap=relative_gap, log=log,
                            on_step=on_step)
    # Order of first entry, ties broken by the marginal saving in the entry budget's optimum.
    entries: list[tuple[int, float, str, float]] = []
    seen: set[str] = set()
    for k, r in enumerate(results):
        full = inst.mask_of(r.selected)
        for pid in r.selected:
            if pid in seen:
                continue
            seen.add(pid)
            trial = full & ~(1 << inst.index[pid])
            without = sav.objective_by_records(trial) if sav.complete else sav.exact(trial).objective
            entries.append((k, -(without - r.objective), pid, without - r.objective))
    entries.sort()
    priority = tuple(
        LadderEntry(
            rank=rank + 1,
            id=pid,
            first_budget=budget_list[k],
            cost=float(inst.costs[inst.index[pid]]),
            member=inst.projects[inst.index[pid]].member,
            marginal_saving=float(saving),
        )
        for rank, (k, _neg, pid, saving) in enumerate(entries)
    )
    non_nested = []
    for a, b in zip(results, results[1:]):
        dropped = tuple(sorted(set(a.selected) - set(b.selected)))
        if dropped:
            non_nested.append(
                NonNested(a.budget, b.budget, dropped, tuple(sorted(set(b.selected) - set(a.selected))))
            )
    def objective_of(ids: Iterable[str]) -> float:
        mask = inst.mask_of(ids)
        return sav.objective_by_records(mask) if sav.complete else sav.exact(mask).objective

    return Ladder(tuple(budget_list), tuple(results), priority, tuple(non_nested), objective_of=objective_of)
