"""Selection when travellers choose between modes: a monotone function of several path costs.

The model
---------
Layers ``l = 1..L`` are costed views of a network (one per mode: rail, car, coach, ...), each a
base graph with its own arc costs and, per project, the arcs the project adds to that layer.
A market ``m`` (an origin-destination pair of zones) has a demand ``D_m`` and, per layer, an
origin and a destination node (or ``-1``: the mode does not serve the market).  Its cost is
``g_m(c_m1, ..., c_mL)`` where ``c_ml`` is the shortest-path cost of layer ``l`` in the design
(``inf`` when unserved).  Choose the projects ``y`` minimising

    F(y) = sum over markets of D_m g_m(c_m(y))

under the budget, member caps, dependencies and exclusions.  ``g_m`` may be any function that
is **non-decreasing in every argument**, for example the logit composite cost (the logsum)
``-1/theta ln sum_l exp(a_ml - theta c_ml)`` (then ``F`` is minus the consumer surplus, and its
change is the logsum benefit), or the minimum (fastest mode takes all).

Why it stays exact
------------------
Each leg (market, layer) gets the undominated records of the shortest-path case (see the
package docstring): ``c_ml(y) = min(base, min over records (S, t) with S in y of t)``.  A market
record is a combination of one record (or the base) per leg, with the union of their project
sets and the value ``g_m`` of their times.  For a design ``y`` the available combinations
include the one made of each leg's best available record, and because ``g_m`` is
non-decreasing no available combination has a smaller value; so ``g_m(c_m(y))`` is exactly the
smallest value among the available market records.  Combinations that a subset dominates
(no larger value) and those no feasible design contains are dropped.  CP-SAT then maximises
``sum D_m (g_m(base) - value)`` with the same ordered formulation, integer scaling and bound
correction as the shortest-path objective, and the reported objective is re-evaluated exactly
(Dijkstra in every layer, then ``g_m``).  Nothing is approximated: the only rounding is
CP-SAT's integer scaling, whose error is added to the bound.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from networks.errors import InfeasibleError, InputError
from networks.memory import release_free_memory
from solvers.selection._graph import _check_number
from solvers.selection._instance import _check_caps, _Instance
from solvers.selection._types import BaseGraph, DesignValue, Ladder, ODDemand, Project, SelectionResult
from solvers.selection.cpsat import _record_stats, _Savings, _solve_model, _usable
from solvers.selection.records import _build_records, _Records
from solvers.selection.shortest_path import _brute_force, _budget_list, _ladder, _limits

__all__ = ["Layer", "Markets", "MarketEvaluator", "evaluate_market_design", "solve_market_selection",
           "brute_force_market_selection", "market_budget_ladder", "solve_market_selection_scenarios"]

#: ``cost(markets, times) -> values``: market indices (k,), leg costs (k, L) -> market costs (k,).
MarketCost = Callable[[np.ndarray, np.ndarray], np.ndarray]

_MAX_COMBINATIONS = 200_000  # per market; beyond it the model would be too large to be useful


@dataclass(frozen=True)
class Layer:
    """One costed view of the network.

    Parameters
    ----------
    name
        Label (e.g. ``"rail"``).
    base
        Base graph of the layer, as in :func:`solvers.selection.evaluate_design`.
    arcs
        Project id -> arcs ``(tail, head, cost)`` the project adds to this layer (projects
        absent from the mapping add nothing here).
    """

    name: str
    base: BaseGraph
    arcs: Mapping[str, Sequence[tuple[int, int, float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Markets:
    """Markets with one leg per layer and a cost non-decreasing in every leg's cost.

    Parameters
    ----------
    origins, destinations
        Integer arrays of shape ``(n_markets, n_layers)``: the leg's nodes in each layer, ``-1``
        where the layer does not serve the market.
    demand
        Shape ``(n_markets,)``, finite and ``>= 0``.
    cost
        ``cost(markets, times)``: for market indices ``markets`` (shape ``(k,)``) and leg costs
        ``times`` (shape ``(k, n_layers)``, ``inf`` for an unserved or unreachable leg), the
        market costs (shape ``(k,)``).  It must be non-decreasing in every leg cost; this is
        checked on the records the solver meets.
    """

    origins: np.ndarray
    destinations: np.ndarray
    demand: np.ndarray
    cost: MarketCost

    def __post_init__(self) -> None:
        object.__setattr__(self, "origins", np.asarray(self.origins))
        object.__setattr__(self, "destinations", np.asarray(self.destinations))
        object.__setattr__(self, "demand", np.asarray(self.demand, dtype=float))

    def __len__(self) -> int:
        return int(self.demand.shape[0])


class _MarketProblem:
    """Validated layers and markets, one shortest-path instance per layer."""

    def __init__(self, layers: Sequence[Layer], projects: Sequence[Project], markets: Markets) -> None:
        if not layers:
            raise InputError("layers: empty; expected at least one layer")
        if not isinstance(markets, Markets):
            raise InputError(f"markets: got {type(markets).__name__}; expected Markets")
        n_layers = len(layers)
        o, d, q = markets.origins, markets.destinations, markets.demand
        if o.ndim != 2 or o.shape != d.shape or o.shape[1] != n_layers or q.shape != (o.shape[0],):
            raise InputError(f"markets: origins {o.shape}, destinations {d.shape}, demand {q.shape}; expected "
                             f"(n, {n_layers}), (n, {n_layers}) and (n,)")
        if q.size and (not np.all(np.isfinite(q)) or q.min() < 0):
            raise InputError(f"markets: demand {q[~np.isfinite(q) | (q < 0)][0]}; expected finite demand >= 0")
        if o.size and not (np.issubdtype(o.dtype, np.integer) and np.issubdtype(d.dtype, np.integer)):
            raise InputError("markets: origins and destinations must be integer node ids (-1: unserved)")
        self.markets = markets
        self.layers = list(layers)
        known = {p.id for p in projects}
        self.insts: list[_Instance] = []
        self.legs: list[np.ndarray] = []  # per layer: market indices with a leg there
        for layer in self.layers:
            unknown = sorted(set(layer.arcs) - known)
            if unknown:
                raise InputError(f"layer {layer.name!r}: arcs for unknown project(s) {unknown}")
            layer_projects = [Project(id=p.id, cost=p.cost, arcs=tuple(layer.arcs.get(p.id, ())), member=p.member,
                                      requires=p.requires, excludes=p.excludes) for p in projects]
            col = self.layers.index(layer)
            served = np.flatnonzero((o[:, col] >= 0) & (d[:, col] >= 0) & (q > 0))
            od = ODDemand(o[served, col].astype(np.int64), d[served, col].astype(np.int64), q[served])
            self.insts.append(_Instance(layer.base, layer_projects, od))
            self.legs.append(served)
        self.inst = self.insts[0]  # projects, costs, dependencies: the same in every layer

    def leg_times(self, mask: int) -> np.ndarray:
        """Shortest-path cost of every leg, shape ``(n_markets, n_layers)`` (``inf``: none)."""
        times = np.full(self.markets.origins.shape, np.inf)
        for col, (inst, served) in enumerate(zip(self.insts, self.legs)):
            if served.size:
                times[served, col] = inst.pair_times(mask)[inst.row_pair]
        return times

    def values(self, times: np.ndarray) -> np.ndarray:
        idx = np.arange(times.shape[0])
        out = np.asarray(self.markets.cost(idx, times), dtype=float)
        if out.shape != (times.shape[0],):
            raise InputError(f"markets.cost returned shape {out.shape}; expected ({times.shape[0]},)")
        return out

    def evaluate(self, mask: int) -> DesignValue:
        values = self.values(self.leg_times(mask))
        positive = self.markets.demand > 0
        return DesignValue(self.inst.ids(mask), float(np.dot(self.markets.demand[positive], values[positive])), values)

    def check_served(self, values: np.ndarray) -> None:
        bad = np.flatnonzero(~np.isfinite(values) & (self.markets.demand > 0))
        if bad.size:
            raise InfeasibleError(f"markets: market {int(bad[0])} (demand {self.markets.demand[bad[0]]:g}) has no finite "
                                  f"cost in the base network ({bad.size} such markets); expected every market with "
                                  "demand to be served by some layer")


def _market_savings(problem: _MarketProblem, recs: list[_Records], usable: Callable[[int], bool]) -> _Savings:
    """Combine the leg records of every market into market records (see the module docstring)."""
    markets = problem.markets
    n, n_layers = markets.origins.shape
    base_times = problem.leg_times(0)
    base_values = problem.values(base_times)
    problem.check_served(base_values)
    lower_times = base_times.copy()
    # Per market and layer: the leg's options (mask, time), the base first.
    options: list[list[list[tuple[int, float]]]] = [[[(0, base_times[m, c])] for c in range(n_layers)] for m in range(n)]
    for col, (rec, inst, served) in enumerate(zip(recs, problem.insts, problem.legs)):
        # _Records are per model pair of the layer instance; map them back to markets.
        pair_of_leg = inst.row_pair
        slot_of_pair = {int(p): s for s, p in enumerate(rec.pair)}
        for leg, market in enumerate(served):
            slot = slot_of_pair.get(int(pair_of_leg[leg]))
            if slot is None:
                continue
            options[market][col].extend(rec.records[slot])
            lower_times[market, col] = min(lower_times[market, col], rec.lower[slot])
    records: list[list[tuple[int, float]]] = []
    combos_total = 0
    checked_monotone = 0
    for m in range(n):
        if markets.demand[m] <= 0:
            records.append([])
            continue
        if all(len(opts) == 1 for opts in options[m]):
            records.append([])
            continue
        combos: list[tuple[int, tuple[float, ...]]] = [(0, ())]
        for opts in options[m]:
            nxt = []
            for mask, times in combos:
                for leg_mask, t in opts:
                    union = mask | leg_mask
                    if leg_mask and not usable(union):
                        continue
                    nxt.append((union, (*times, t)))
            combos = nxt
            if len(combos) > _MAX_COMBINATIONS:
                raise InputError(f"markets: market {m} has more than {_MAX_COMBINATIONS} record combinations; "
                                 "reduce the candidates or the layers")
        combos = combos[1:]  # the first is the base network
        combos_total += len(combos)
        if not combos:
            records.append([])
            continue
        times = np.array([t for _, t in combos], dtype=float)
        values = np.asarray(markets.cost(np.full(len(combos), m), times), dtype=float)
        if np.any(values > base_values[m] * (1 + 1e-12) + 1e-12):
            raise InputError(f"markets.cost is not non-decreasing in the leg costs (market {m}: a faster leg "
                             "raised the market cost); the exact selection needs a monotone cost")
        checked_monotone += len(combos)
        kept: list[tuple[int, float]] = []
        for k in np.lexsort((np.array([bin(c[0]).count("1") for c in combos]), values)):
            mask, value = combos[k][0], float(values[k])
            if not value < base_values[m]:
                continue
            if any((km & ~mask) == 0 for km, _ in kept):
                continue
            kept.append((mask, value))
        records.append([(mask, float(markets.demand[m] * (base_values[m] - value))) for mask, value in kept])
    positive = markets.demand > 0
    base_objective = float(np.dot(markets.demand[positive], base_values[positive]))
    lower_values = problem.values(lower_times)
    stats: dict[str, Any] = {"markets": int(n), "layers": [layer.name for layer in problem.layers],
                             "market_combinations": combos_total,
                             "market_records": int(sum(len(r) for r in records))}
    for layer, rec in zip(problem.layers, recs):
        stats[f"layer_{layer.name}"] = _record_stats(rec)
    stats["records"] = stats["market_records"]
    seen = 0
    for rs in records:
        for mask, _ in rs:
            seen |= mask
    # Projects in no market record save nothing in any design (within the search's root).
    stats["projects_saving_somewhere"] = list(problem.inst.ids(seen))
    return _Savings(records=records, base_objective=base_objective,
                    lower_objective=float(np.dot(markets.demand[positive], lower_values[positive])),
                    complete=all(r.complete for r in recs), evaluate=problem.evaluate, stats=stats)


def _penalty(problem: _MarketProblem, project_costs: Mapping[str, float] | None) -> np.ndarray | None:
    """Per-project additive terms in objective units, in the order of the projects (or None)."""
    if project_costs is None:
        return None
    inst = problem.inst
    unknown = sorted(set(project_costs) - set(inst.index))
    if unknown:
        raise InputError(f"project_costs: unknown project(s) {unknown}")
    out = np.zeros(len(inst.projects))
    for pid, value in project_costs.items():
        v = _check_number(value, f"project_costs[{pid!r}]")
        if v < 0:
            raise InputError(f"project_costs[{pid!r}] = {value!r}: expected a number >= 0")
        out[inst.index[pid]] = v
    return out


def _prepare(layers: Sequence[Layer], projects: Sequence[Project], markets: Markets, budget: float,
             member_caps: Mapping[str, float] | None) -> tuple[_MarketProblem, float, dict[str, float]]:
    problem = _MarketProblem(layers, projects, markets)
    budget = _check_number(budget, "budget", allow_inf=True)
    caps = _check_caps(problem.inst, member_caps)
    problem.check_served(problem.evaluate(0).od_times)
    return problem, budget, caps


def _savings_for(problem: _MarketProblem, budget: float, caps: Mapping[str, float], *, deadline: float | None,
                 log: Callable[[str], None] | None) -> _Savings:
    inst = problem.inst
    root = sum(1 << i for i in range(len(inst.projects)) if _usable(inst, inst.closure[i], budget, caps))
    cache: dict[int, bool] = {}

    def usable(mask: int) -> bool:
        got = cache.get(mask)
        if got is None:
            got = cache[mask] = _usable(inst, mask, budget, caps)
        return got

    recs = []
    for layer_inst in problem.insts:
        recs.append(_build_records(layer_inst, usable, root, deadline=deadline, log=log))
        release_free_memory()  # the enumeration's freed arrays, before the next layer and the solves
    return _market_savings(problem, recs, usable)


class MarketEvaluator:
    """Exact values of many designs of one instance (validated once)."""

    def __init__(self, layers: Sequence[Layer], projects: Sequence[Project], markets: Markets) -> None:
        self._problem = _MarketProblem(layers, projects, markets)

    def evaluate(self, selected: Iterable[str]) -> DesignValue:
        """Dijkstra in every layer, then the market costs; ``od_times`` holds each market's cost."""
        problem = self._problem
        value = problem.evaluate(problem.inst.mask_of(selected))
        problem.check_served(value.od_times)
        return value


def evaluate_market_design(layers: Sequence[Layer], projects: Sequence[Project], markets: Markets,
                           selected: Iterable[str]) -> DesignValue:
    """Exact value of a design: Dijkstra in every layer, then the market costs.

    ``od_times`` of the result holds each market's cost ``g_m`` (feasibility is not checked).
    """
    return MarketEvaluator(layers, projects, markets).evaluate(selected)


def solve_market_selection(
    layers: Sequence[Layer],
    projects: Sequence[Project],
    markets: Markets,
    *,
    budget: float,
    member_caps: Mapping[str, float] | None = None,
    time_limit: float | None = None,
    relative_gap: float = 0.0,
    log: Callable[[str], None] | None = None,
    project_costs: Mapping[str, float] | None = None,
) -> SelectionResult:
    """Optimal project set for the market objective (records per leg, combined, CP-SAT).

    Parameters as in :func:`solvers.selection.solve_selection`, with ``layers`` and
    ``markets`` in place of ``base`` and ``od``.  ``project_costs`` (project id -> amount
    ``>= 0`` in objective units) adds each built project's amount to the objective, e.g. the
    present value of its costs divided by the money value of one objective unit: the optimum
    then maximises the net value (exactly: the amounts enter the CP-SAT objective with the
    same integer scaling, their rounding added to the bound).  ``od_times`` of the result holds
    each market's cost in the chosen design.
    """
    started = time.perf_counter()
    problem, budget, caps = _prepare(layers, projects, markets, budget, member_caps)
    relative_gap, deadline = _limits(relative_gap, time_limit, started)
    sav = _savings_for(problem, budget, caps, deadline=deadline, log=log)
    sav.penalty = _penalty(problem, project_costs)
    return _solve_model(problem.inst, sav, budget=budget, caps=caps, deadline=deadline, relative_gap=relative_gap,
                        log=log, started=started)


def brute_force_market_selection(
    layers: Sequence[Layer],
    projects: Sequence[Project],
    markets: Markets,
    *,
    budget: float,
    member_caps: Mapping[str, float] | None = None,
    project_costs: Mapping[str, float] | None = None,
) -> SelectionResult:
    """Optimal project set by evaluating every feasible design (the reference for tests)."""
    started = time.perf_counter()
    problem, budget, caps = _prepare(layers, projects, markets, budget, member_caps)
    penalty = _penalty(problem, project_costs)
    if penalty is None:
        return _brute_force(problem.inst, problem.evaluate, budget, caps, started)

    def evaluate(mask: int) -> DesignValue:
        value = problem.evaluate(mask)
        extra = float(sum(penalty[i] for i in range(len(penalty)) if mask >> i & 1))
        return DesignValue(value.selected, value.objective + extra, value.od_times)

    return _brute_force(problem.inst, evaluate, budget, caps, started)


def market_budget_ladder(
    layers: Sequence[Layer],
    projects: Sequence[Project],
    markets: Markets,
    budgets: Iterable[float],
    *,
    member_caps: Mapping[str, float] | None = None,
    time_limit: float | None = None,
    relative_gap: float = 0.0,
    log: Callable[[str], None] | None = None,
    project_costs: Mapping[str, float] | None = None,
    on_step: Callable[[float, SelectionResult, float], None] | None = None,
) -> Ladder:
    """Exact optimum of the market objective at each budget, with the priority order.

    As :func:`solvers.selection.budget_ladder`: records enumerated once for the largest
    budget, ``time_limit`` per budget; ``project_costs`` as in :func:`solve_market_selection`;
    ``on_step(budget, result, seconds)`` after each budget (progress reporting).
    """
    budget_list = _budget_list(budgets)
    problem, top, caps = _prepare(layers, projects, markets, budget_list[-1], member_caps)
    relative_gap = _check_number(relative_gap, "relative_gap")
    sav = _savings_for(problem, top, caps, deadline=None, log=log)
    sav.penalty = _penalty(problem, project_costs)
    return _ladder(problem.inst, sav, budget_list, caps, time_limit=time_limit, relative_gap=relative_gap, log=log,
                   on_step=on_step)


# --------------------------------------------------------------------------------------------
# Many scenarios of costs on one instance (Monte Carlo), records shared
# --------------------------------------------------------------------------------------------

_SCENARIO_STATE: dict[str, Any] = {}


def _solve_scenario(k: int) -> SelectionResult:
    state = _SCENARIO_STATE
    problem, sav, budget, caps = state["problem"], state["sav"], state["budget"], state["caps"]
    costs, terms = state["scenarios"][k]
    inst = problem.inst
    if costs:
        inst = copy.copy(inst)
        inst.costs = inst.costs.copy()
        for pid, value in costs.items():
            inst.costs[inst.index[pid]] = _check_number(value, f"scenario {k}: cost of {pid!r}")
    scenario_sav = dataclasses.replace(sav, penalty=_penalty(problem, terms), _cache={})
    return _solve_model(inst, scenario_sav, budget=budget, caps=caps, deadline=None, relative_gap=0.0, log=None,
                        started=time.perf_counter())


def solve_market_selection_scenarios(
    layers: Sequence[Layer],
    projects: Sequence[Project],
    markets: Markets,
    scenarios: Sequence[tuple[Mapping[str, float] | None, Mapping[str, float] | None]],
    *,
    budget: float,
    member_caps: Mapping[str, float] | None = None,
    workers: int = 1,
) -> list[SelectionResult]:
    """The exact optimum of :func:`solve_market_selection` for each scenario, records shared.

    A scenario is ``(costs, project_costs)``: project id -> cost replacing the project's cost
    (``None``: unchanged), and the additive objective terms of :func:`solve_market_selection`.
    The records are enumerated once without pruning by budget (valid for any costs), so each
    scenario is one CP-SAT solve, exact as the single one.  With ``workers > 1`` the scenarios
    are solved in that many processes (fork); the results, in scenario order, do not depend on
    ``workers`` (every solve is deterministic).
    """
    problem, budget, caps = _prepare(layers, projects, markets, budget, member_caps)
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers = {workers!r}; expected a whole number >= 1")
    sav = _savings_for(problem, math.inf, {}, deadline=None, log=None)
    _SCENARIO_STATE.update(problem=problem, sav=sav, budget=budget, caps=caps, scenarios=list(scenarios))
    try:
        indices = range(len(_SCENARIO_STATE["scenarios"]))
        if workers == 1 or len(indices) < 2:
            return [_solve_scenario(k) for k in indices]
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_solve_scenario, indices, chunksize=1)
    finally:
        _SCENARIO_STATE.clear()
