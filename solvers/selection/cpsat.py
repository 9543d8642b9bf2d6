"""The CP-SAT model over records: ordered savings per pair, budget, caps, dependencies."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from networks.errors import InfeasibleError, SolverError
from solvers._sigint import solve_interruptibly
from solvers.selection._instance import _Instance, _bits
from solvers.selection._types import SelectionResult, _SAVING_SCALE_TARGET, _SEED
from solvers.selection._types import DesignValue
from solvers.selection.records import _Records


class FloorsInfeasible(InfeasibleError):
    """No design meets the groups' floors; ``proved`` when CP-SAT proved it (not a time limit)."""

    def __init__(self, message: str, *, proved: bool) -> None:
        super().__init__(message)
        self.proved = proved


_EXACT_LOCK = threading.RLock()

#: The tie-breaking second solve (the cheapest design with the optimal saving) runs only after a
#: first solve of less deterministic work than this (CP-SAT's "deterministic seconds"), with a
#: work limit of :data:`CHEAPEST_WORK_LIMIT`.  After larger first solves it ended UNKNOWN on
#: every YRD ladder step measured, having used 30-70 % of the first solve's work (its presolve
#: does not stop at the limit): about half the ladder's CP-SAT time for nothing.
CHEAPEST_BELOW = 0.1
CHEAPEST_WORK_LIMIT = 0.25


@dataclass
class _Savings:
    """What the CP-SAT model needs, whatever the objective.

    ``records[k]`` lists the ``(project set, saving)`` pairs of the k-th demand item: the
    item saves the largest saving among its records whose project set is built (the base
    network saves 0).  ``evaluate(mask)`` is the exact objective of a design;
    ``lower_objective`` bounds every design inside the search's root from below, even when
    the record search was cut short (``complete`` False).
    """

    records: list[list[tuple[int, float]]]
    base_objective: float
    lower_objective: float
    complete: bool
    evaluate: Callable[[int], DesignValue]
    stats: dict[str, Any]
    penalty: np.ndarray | None = None  # per project, added to the objective when built (>= 0)
    _cache: dict[int, DesignValue] = field(default_factory=dict, repr=False)

    def penalty_of(self, mask: int) -> float:
        """The projects' additive terms of a design (0 without ``penalty``)."""
        if self.penalty is None:
            return 0.0
        return float(sum(self.penalty[i] for i in _bits(mask)))

    def exact(self, mask: int) -> DesignValue:
        """:attr:`evaluate` plus the projects' additive terms, remembered per design (the
        ladder meets the same designs often).  One evaluation at a time: the ladder's steps
        may run in threads, and the evaluators keep work arrays."""
        with _EXACT_LOCK:
            return self._exact(mask)

    def _exact(self, mask: int) -> DesignValue:
        got = self._cache.get(mask)
        if got is None:
            got = self.evaluate(mask)
            if self.penalty is not None:
                got = DesignValue(got.selected, got.objective + self.penalty_of(mask), got.od_times)
            self._cache[mask] = got
        return got

    def objective_by_records(self, mask: int) -> float:
        """The objective of a design inside the search's root, from the records alone.

        Exact when the record search was complete (every design inside the root meets its
        exact value among the records); no shortest path is run.
        """
        saving = 0.0
        for rs in self.records:
            best = 0.0
            for m, c in rs:
                if c > best and m & ~mask == 0:
                    best = c
            saving += best
        return self.base_objective - saving + self.penalty_of(mask)


def _shortest_path_savings(inst: _Instance, recs: _Records) -> _Savings:
    """Savings of the shortest-path objective: demand x (base time - record time)."""
    base_objective = inst.objective_of(inst.pair_times(0))
    return _Savings(
        records=[[(m, float(inst.pair_demand[p] * (b - t))) for m, t in rs]
                 for rs, p, b in zip(recs.records, recs.pair, recs.base)],
        base_objective=base_objective,
        lower_objective=float(np.dot(inst.pair_demand[recs.pair], recs.lower)),
        complete=recs.complete,
        evaluate=inst.evaluate,
        stats=_record_stats(recs),
    )


def _merge_labels(records: list[list[tuple[int, float]]],
                  labels: Sequence[Any] | None = None) -> list[tuple[list[tuple[int, float]], Any]]:
    """Merge demand items whose records rank the same project sets in the same order.

    An item saves the saving of its best-ranked record whose project set is built; items that
    rank the same sets in the same order (savings descending, ties by set) always pick the same
    record, so their sum is one item whose savings are the sums.  Exact, and it shrinks the
    model when many zone pairs depend on the same projects in the same way.  With ``labels``
    (one per item, e.g. the groups it belongs to) only items of the same label are merged.
    Returns ``(records, label)`` per merged item.
    """
    merged: dict[tuple[Any, tuple[int, ...]], dict[int, float]] = {}
    for k, rs in enumerate(records):
        if not rs:
            continue
        ranked = sorted(rs, key=lambda r: (-r[1], r[0]))
        key = (None if labels is None else labels[k], tuple(m for m, _ in ranked))
        slot = merged.setdefault(key, {})
        for m, c in ranked:
            slot[m] = slot.get(m, 0.0) + c
    return [([(m, slot[m]) for m in key[1]], key[0]) for key, slot in merged.items()]


def _record_stats(recs: _Records) -> dict[str, Any]:
    return {
        "od_pairs": int(recs.pair.shape[0]),
        "key_nodes": recs.key_nodes,
        "contracted_arcs": recs.contracted_arcs,
        "records": int(sum(len(r) for r in recs.records)),
        "dijkstra_calls": recs.dijkstra_calls,
        "searched_sets": recs.searched_sets,
        "records_complete": recs.complete,
        "record_seconds": recs.seconds,
    }

# --------------------------------------------------------------------------------------------
# Integer scaling of costs
# --------------------------------------------------------------------------------------------


def _cost_scale(values: Sequence[float]) -> tuple[int, bool]:
    """Smallest power of ten making every finite value integral; (scale, exact)."""
    finite = [v for v in values if math.isfinite(v)]
    for k in range(10):
        s = 10**k
        if all(abs(v * s - round(v * s)) <= 1e-9 * max(1.0, abs(v * s)) for v in finite):
            if max((abs(v) * s for v in finite), default=0) < 2**50:
                return s, True
            break
    top = max((abs(v) for v in finite), default=1.0) or 1.0
    return max(1, int(2**40 // top)), False


# --------------------------------------------------------------------------------------------
# CP-SAT model
# --------------------------------------------------------------------------------------------


def _solve_model(
    inst: _Instance,
    sav: _Savings,
    *,
    budget: float,
    caps: Mapping[str, float],
    deadline: float | None,
    relative_gap: float,
    log: Callable[[str], None] | None,
    started: float,
    hint: int = 0,
    on_solver: Callable[[Any], None] | None = None,
    groups: Sequence[Sequence[int]] | None = None,
    group_base: Sequence[float] | None = None,
    group_floors: Sequence[tuple[int, int, bool] | None] | None = None,
    cuts: Sequence[int] = (),
) -> SelectionResult:
    """Solve the CP-SAT model at ``budget``; ``hint`` is a design to start from (e.g. the
    optimum at a smaller budget: still feasible, so the search starts with a good incumbent).
    ``on_solver`` is given every CP-SAT solver before it starts (so that another thread can
    stop it).

    ``groups`` (demand item indices per group, groups may overlap), ``group_base`` (each
    group's base objective) and ``group_floors`` (per group ``None`` or ``(num, den, strict)``:
    the group's saving at least, or with ``strict`` more than, ``num/den`` of its base) add
    floor constraints on the groups' savings.  They hold on the integer-scaled savings: the
    base is scaled as the savings are, ``B_g = round(base_g x scale)``, and the floor is taken
    in exact integer arithmetic.  ``stats["groups"]`` then gives each group's scaled saving
    in the returned design and its scaled base, and an infeasible set of floors raises
    :class:`~networks.errors.InfeasibleError`.

    ``cuts`` (project bit masks): sets of which a design may not hold every project (no-good
    cuts from a caller that knows more, e.g. what no schedule can have open by a year).
    """
    from ortools.sat.python import cp_model

    n_proj = len(inst.projects)
    base_objective = sav.base_objective
    labels = None
    if groups is not None:
        member_of: list[list[int]] = [[] for _ in sav.records]
        for g, items in enumerate(groups):
            for k in items:
                member_of[k].append(g)
        labels = [tuple(x) for x in member_of]
    # Savings per record; records that need a project set no feasible design contains are gone.
    merged = _merge_labels([[(m, c) for m, c in rs if c > 0 and _usable(inst, m, budget, caps)]
                            for rs in sav.records], labels)
    usable = [items for items, _ in merged]
    best = np.array([max((c for _, c in u), default=0.0) for u in usable])
    total_best = float(best.sum())
    scale = _SAVING_SCALE_TARGET / total_best if total_best > 0 else 1.0
    # Rounding moves each pair's best saving by at most half a unit (pairs whose savings all
    # round to 0 included), so this much is added to CP-SAT's bound.
    active_pairs = int(sum(1 for u in usable if u))
    slack = 0.5 * active_pairs / scale
    # Any design saves at most the best record of every pair; and no design is faster than
    # the one with every allowed project (valid even when the record search was cut short).
    # The factor absorbs last-bit differences between contracted and full-graph sums.
    lower_all = sav.lower_objective * (1.0 - 1e-12)
    trivial_bound = lower_all if not sav.complete else max(lower_all, base_objective - total_best)

    model = cp_model.CpModel()
    y = [model.NewBoolVar(f"y_{i}") for i in range(n_proj)]
    for i in range(n_proj):
        if not _usable(inst, inst.closure[i], budget, caps):
            model.Add(y[i] == 0)
        for j in _bits(inst.direct_requires[i]):
            model.AddImplication(y[i], y[j])
        for j in _bits(inst.excl[i]):
            if j > i:
                model.AddBoolOr([y[i].Not(), y[j].Not()])
    for mask in cuts:
        model.AddBoolOr([y[i].Not() for i in _bits(mask)])
    if any(hint & mask == mask for mask in cuts):
        hint = 0
    # A budget or cap at least the cost of every project binds nothing: left out, so a huge
    # value (1e20) cannot overflow the integer scaling.
    total_cost = float(sum(inst.costs))
    if budget >= total_cost:
        budget_limit = math.inf
    else:
        budget_limit = budget
    caps_limit = {m: (math.inf if c >= total_cost else c) for m, c in caps.items()}
    cost_scale, cost_exact = _cost_scale([*inst.costs, budget_limit, *caps_limit.values()])
    if cost_exact:
        cost_int = [int(round(c * cost_scale)) for c in inst.costs]

        def limit_int(v: float) -> int:
            return int(round(v * cost_scale))
    else:
        # Not decimal: round costs up and limits down, so no infeasible design is accepted.
        cost_int = [int(math.ceil(c * cost_scale)) for c in inst.costs]

        def limit_int(v: float) -> int:
            return int(math.floor(v * cost_scale))

    cost_expr = sum(c * v for c, v in zip(cost_int, y))
    if math.isfinite(budget_limit):
        model.Add(cost_expr <= limit_int(budget_limit))
    for member, cap in caps_limit.items():
        if math.isfinite(cap):
            model.Add(sum(cost_int[i] * y[i] for i, p in enumerate(inst.projects) if p.member == member) <= limit_int(cap))
    # Ordered ("incremental") formulation per OD pair.  Records sorted by saving, best first,
    # with scaled cumulative savings C_1 >= C_2 >= ... >= C_m >= 0; z_k means "the pair saves at
    # least C_k".  z_k needs record k available or z_(k-1); the objective telescopes to C_j for
    # the best available record j.  Once the projects are fixed, unit propagation gives the exact
    # saving, so the solver never has to search over record choices, and the linear relaxation is
    # the strong one (z_k <= sum of availabilities of the k best records).
    available: dict[int, Any] = {}

    def avail(mask: int) -> Any:
        # One availability literal per distinct project set, shared by every OD pair.
        lit = available.get(mask)
        if lit is None:
            members = list(_bits(mask))
            if len(members) == 1:
                lit = y[members[0]]
            else:
                lit = model.NewBoolVar("")
                for i in members:
                    model.AddImplication(lit, y[i])
            available[mask] = lit
        return lit

    terms: list[tuple[int, Any]] = []
    n_records = 0
    ranked_all: list[list[tuple[int, int]]] = []
    group_terms: list[list[tuple[int, Any]]] = [[] for _ in (groups or ())]
    group_ranked: list[list[int]] = [[] for _ in (groups or ())]
    for u, (_, label) in zip(usable, merged):
        ranked = sorted(((int(round(c * scale)), m) for m, c in u), key=lambda r: (-r[0], r[1]))
        ranked = [(c_int, m) for c_int, m in ranked if c_int > 0]
        ranked_all.append(ranked)
        mine: list[tuple[int, Any]] = []
        n_records += _add_ordered(model, ranked, avail, mine)
        terms += mine
        for g in label or ():
            group_terms[g] += mine
            group_ranked[g].append(len(ranked_all) - 1)
    group_base_int: list[int] = []
    floor_added = False
    if groups is not None:
        for g in range(len(groups)):
            group_base_int.append(int(round(float(group_base[g]) * scale)))
            floor = group_floors[g] if group_floors is not None else None
            if floor is None:
                continue
            num, den, strict = floor
            need = (num * group_base_int[g]) // den + 1 if strict else -((-num * group_base_int[g]) // den)
            if need > 0:
                model.Add(sum(c * x for c, x in group_terms[g]) >= need)
                floor_added = True
    if sav.penalty is not None:
        # The projects' additive terms (e.g. the present value of their costs, in objective
        # units), rounded like the savings: each moves the objective by at most half a unit.
        pen_int = [int(round(float(p) * scale)) for p in sav.penalty]
        terms += [(-c, y[i]) for i, c in enumerate(pen_int) if c != 0]
        slack += 0.5 * sum(1 for c in pen_int if c != 0) / scale
    saving_expr = sum(c * x for c, x in terms)
    model.Maximize(saving_expr)
    if hint and not inst.feasible(hint, budget, caps):
        hint = 0
    for i, v in enumerate(y):
        model.AddHint(v, bool(hint >> i & 1))

    def make_solver(remaining: float | None) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = _SEED
        solver.parameters.interleave_search = False
        # Probing at presolve costs more than it prunes on these models (measured on the YRD
        # ladder: about half the solve time); the search and the proof are unaffected.
        solver.parameters.cp_model_probing_level = 0
        if remaining is not None:
            solver.parameters.max_time_in_seconds = max(0.0, remaining)
        if log:
            solver.parameters.log_search_progress = True
            solver.parameters.log_to_stdout = False
            solver.log_callback = log
        if on_solver is not None:
            on_solver(solver)
        return solver

    def remaining() -> float | None:
        return None if deadline is None else deadline - time.perf_counter()

    cp_stats: dict[str, Any] = {
        "records_in_model": n_records,
        "saving_scale": scale,
        "rounding_slack": slack,
        "cost_scale": cost_scale,
        "cost_scale_exact": cost_exact,
    }
    mask = 0  # the empty design is always feasible: the incumbent when nothing better is known
    bound = trivial_bound
    proved = False
    if not sav.complete:
        cp_stats["status"] = "NOT_RUN"  # the record search used up the time limit
    elif not terms:
        proved = True  # no record saves anything at this budget: the base network is optimal
        cp_stats["status"] = "NOT_NEEDED"
    else:
        solver = make_solver(remaining())
        if relative_gap > 0 and trivial_bound > 0:
            solver.parameters.absolute_gap_limit = relative_gap * trivial_bound * scale
        status_name = solver.StatusName(solve_interruptibly(solver, model))
        cp_stats.update(
            status=status_name,
            wall_time=solver.WallTime(),
            deterministic_time=_deterministic_time(solver),
            branches=solver.NumBranches(),
            conflicts=solver.NumConflicts(),
        )
        if status_name == "INFEASIBLE":
            if floor_added:
                raise FloorsInfeasible("selection: no feasible design meets the groups' floors", proved=True)
            raise InfeasibleError("selection: no feasible design; the empty design should always be feasible")
        if status_name == "MODEL_INVALID":
            raise SolverError(f"selection: CP-SAT rejected the model: {model.Validate()}")
        if status_name in ("OPTIMAL", "FEASIBLE"):
            mask = sum(1 << i for i in range(n_proj) if solver.BooleanValue(y[i]))
            obj_int = int(round(solver.ObjectiveValue()))
            bound_int = float(solver.BestObjectiveBound())
            proved = status_name == "OPTIMAL" and math.floor(bound_int + 1e-6) <= obj_int
            cp_stats.update(objective_int=obj_int, bound_int=bound_int)
            # CP-SAT bounds the scaled saving; undo the scaling and add the rounding slack.
            bound = max(trivial_bound, base_objective - bound_int / scale - slack)
            if proved and _deterministic_time(solver) >= CHEAPEST_BELOW:
                cp_stats["cheapest_status"] = "SKIPPED"  # see CHEAPEST_BELOW
            elif proved:
                # Second solve: the cheapest design with the optimal integer saving (it only
                # breaks ties; projects that save nothing are dropped below in any case).
                model.Add(saving_expr >= obj_int)
                model.Minimize(cost_expr)
                model.ClearHints()
                for i in range(n_proj):
                    model.AddHint(y[i], bool(mask >> i & 1))
                second = make_solver(remaining())
                second.parameters.max_deterministic_time = CHEAPEST_WORK_LIMIT
                st2 = second.StatusName(solve_interruptibly(second, model))
                cp_stats["cheapest_status"] = st2
                cp_stats["cheapest_deterministic_time"] = _deterministic_time(second)
                if st2 in ("OPTIMAL", "FEASIBLE"):
                    mask2 = sum(1 << i for i in range(n_proj) if second.BooleanValue(y[i]))
                    if inst.mask_cost(mask2) <= inst.mask_cost(mask):
                        mask = mask2
            mask = _drop_idle(inst, mask, ranked_all)
    if groups is not None:
        if floor_added and cp_stats.get("status") not in ("FEASIBLE", "OPTIMAL"):
            # the base network saves nothing: with a positive floor it is no answer
            needed = cp_stats.get("status") == "NOT_NEEDED"
            raise FloorsInfeasible("selection: no design meeting the groups' floors" +
                                   (" (no project saves anything)" if needed else " was found within the time limit"),
                                   proved=needed)
        cp_stats["groups"] = [{"saving_int": sum(_int_saving(mask, [ranked_all[k]]) for k in group_ranked[g]),
                               "base_int": group_base_int[g]} for g in range(len(groups))]
    value = sav.exact(mask)
    objective = value.objective
    bound = min(bound, objective)
    gap = 0.0 if objective <= 0 else max(0.0, (objective - bound) / objective)
    status_out = "OPTIMAL" if proved else "FEASIBLE"
    if not inst.feasible(mask, budget, caps):
        raise SolverError(f"selection: CP-SAT returned an infeasible design {inst.ids(mask)} (cost scaling bug)")
    return SelectionResult(
        selected=value.selected,
        objective=objective,
        bound=float(bound),
        gap=float(gap),
        status=status_out,
        base_objective=base_objective,
        od_times=value.od_times,
        cost=inst.mask_cost(mask),
        budget=budget,
        seconds=time.perf_counter() - started,
        stats={
            "projects": n_proj,
            **sav.stats,
            "cpsat": cp_stats,
        },
    )


def _add_ordered(model: Any, ranked: Sequence[tuple[int, int]], avail: Callable[[int], Any],
                 terms: list[tuple[int, Any]]) -> int:
    """One demand item's ordered chain: ``ranked`` = (scaled saving, project set), best first.

    ``z_k`` ("saves at least C_k") needs record k available or ``z_(k-1)``; the objective terms
    ``(C_k - C_(k+1)) z_k`` (appended to ``terms``) telescope to the best available record's
    saving.  Returns the number of literals added.
    """
    previous = None
    for k, (c_int, mask) in enumerate(ranked):
        z = model.NewBoolVar("")
        nxt = ranked[k + 1][0] if k + 1 < len(ranked) else 0
        if c_int - nxt > 0:
            terms.append((c_int - nxt, z))
        if previous is None:
            model.AddImplication(z, avail(mask))
        else:
            model.AddBoolOr([z.Not(), avail(mask), previous])
            model.AddImplication(previous, z)
        previous = z
    return len(ranked)


def _deterministic_time(solver: Any) -> float:
    try:
        return float(solver.ResponseProto().deterministic_time)
    except AttributeError:  # older OR-Tools
        return float(solver.response_proto.deterministic_time)


def _int_saving(mask: int, ranked_all: Sequence[Sequence[tuple[int, int]]]) -> int:
    """Scaled saving of a design according to the records (best available record per pair)."""
    total = 0
    for ranked in ranked_all:
        for c_int, m in ranked:
            if m & ~mask == 0:
                total += c_int
                break
    return total


def _drop_idle(inst: _Instance, mask: int, ranked_all: Sequence[Sequence[tuple[int, int]]]) -> int:
    """Remove projects that save nothing in the design (most expensive first).

    A project is dropped when no other selected project requires it and the scaled saving
    stays the same; budget, caps and exclusions only get looser.
    """
    target = _int_saving(mask, ranked_all)
    for i in sorted(_bits(mask), key=lambda i: (-inst.costs[i], i)):
        trial = mask & ~(1 << i)
        if any(inst.direct_requires[j] >> i & 1 for j in _bits(trial)):
            continue
        if _int_saving(trial, ranked_all) >= target:
            mask = trial
    return mask


def _usable(inst: _Instance, mask: int, budget: float, caps: Mapping[str, float]) -> bool:
    """Whether some feasible design contains the project set ``mask``."""
    return inst.feasible(inst.close_mask(mask), budget, caps)
