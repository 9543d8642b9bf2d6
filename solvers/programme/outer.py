"""Outer approximation of the programme: a bound that couples the years, and programmes from it.

The per-period caps (:mod:`solvers.programme.exact`) bound each year's network alone; one
schedule must serve every year, so their sum stays far above the best programme when the years
compete for the budget (on the full YRD catalogue, every project free: 18.19 against 17.37 bn
CNY after 10 minutes).  This module bounds the programme as a whole, by a master problem over
the start years alone in which each period's saving is over-estimated by cuts, and refines the
cuts where the master's answer is wrong (Kelley's outer approximation; a logic-based Benders
decomposition with the period savings as subproblems that are solved exactly).

Why each cut is valid
---------------------
The saving of a network ``X`` (a set of open projects) is ``S(X) = R(X) - P(X)``: ``R(X)`` the
sum over markets of the best record whose project set lies in ``X`` (the exact records of
:mod:`solvers.selection.markets`), ``P`` the projects' additive terms (none unless the records
carry them).  ``R`` is monotone (a record usable in ``X`` is usable in any superset), so for a
network ``O`` already valued and any ``X``,

    R(X) <= R(X | O) = R(O) + sum over markets m of max(0, best record of m in X | O - b_m(O))

with ``b_m(O)`` market ``m``'s best record in ``O``.  A record ``r`` of ``m`` usable in
``X | O`` and not in ``O`` has its new projects ``N_r = r - O`` all in ``X``; giving each of them
``g_mi = max over such records containing i of (c_r - b_m(O))+ / |N_r|`` makes the projects of
``N_r`` together worth at least that record's gain.  So

    S(X) <= R(O) + sum over i in X - O of g_i - P(X),     g_i = sum over m of g_mi,

for every ``X``: a linear function of "project ``i`` open" that is exact at ``X = O``.  In year
``t`` the master's estimate ``eta_t`` of ``w_t S(open_t)`` is below every cut made so far, and
below ``w_t`` times the sum over markets of their best records among the projects that can be
open by then; the true savings satisfy all of them, so the master's optimum (its proved dual
bound when it stops early) bounds every programme.  The master keeps every constraint of the
programme exactly (yearly budgets, member caps, dependencies, exclusions, required and fixed
starts, start costs in the objective).

The loop: solve the master (a MILP of ``starts x years`` binaries and one continuous variable a
period: HiGHS through :func:`scipy.optimize.milp`); value its programme exactly from the records;
add a cut at each period's network of it; improve it by local search
(:func:`solvers.programme.local_search.improve_programme`, two seconds, or five passes without a
deadline so that such a run repeats exactly) for the incumbent only
(cuts at the polished programmes made the masters slower, measured); stop when the bound is
within the gap asked for of the best programme, or the master's programme has every period's
network cut already at the finest master gap (then the master's value is that programme's exact
value), or at the deadline.  Every cut point is a network, so the loop ends.  Masters are solved
to a twentieth of the gap left, at most 0.1 % and at least ``MASTER_GAP_FLOOR``.

Floating point: HiGHS solves the master's relaxations with a dual feasibility tolerance of
``1e-7``; with every variable scaled to a range of at most 1 (objective units: the programme's
largest conceivable value ``top``), an error of that size in each reduced cost moves a
relaxation's value by at most ``1e-7`` per variable, so ``ALLOWANCE x variables x top`` is added
to the bound reported.  Measured on the full YRD catalogue, every project free, 29 projects x 15
years at 40 bn CNY a year (``docs/programme.md``): bound 17.418 against the programme 17.416 bn CNY
(gap 0.011 %) after 566 s, where the per-period caps' bound after 10 minutes was 18.19.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.programme._setup import _feasible, _Setup, _spend
from solvers.programme.local_search import _Valuer, _value_fn, improve_programme
from solvers.selection._instance import _bits

#: per variable, what HiGHS's dual feasibility tolerance (1e-7) can move a relaxation's value,
#: in units of the objective's scale (module docstring): added to the reported bound
ALLOWANCE = 1e-7
#: the finest relative gap a master is solved to, and the coarsest (HiGHS's own default is 1e-4)
MASTER_GAP_FLOOR = 1e-6
MASTER_GAP_CAP = 1e-3
#: local search from each master's programme: at most these seconds with a deadline, these
#: best-improvement passes without one (so that a run without a time limit repeats exactly)
POLISH_SECONDS = 2.0
POLISH_PASSES = 5


@dataclass
class OuterResult:
    """What :func:`outer_programme` found.

    ``bound`` bounds every programme's value (allowance included); ``value`` is the exact value
    of ``best`` (from the records); ``converged``: the master's programme was valued exactly by
    its cuts, so ``bound`` is within the master's own gap of ``value``.
    """

    bound: float
    best: dict[str, int]
    value: float
    converged: bool
    iterations: int
    cuts: int
    history: list[tuple[float, float, float]] = field(default_factory=list)  # (seconds, bound, value)


class _RecordCuts:
    """The records as arrays (those of :class:`~solvers.programme.local_search._Valuer`, with
    each record's market); the cut of a network (module docstring)."""

    def __init__(self, setup: _Setup, valuer: _Valuer | None = None) -> None:
        valuer = valuer or _Valuer(setup)
        self.n = len(setup.ids)
        self.values = valuer._values
        self.needs = valuer._needs > 0.0
        counts = [sum(1 for _, c in rs if c > 0) for rs in setup.sav.records]  # the valuer's records per market
        self.markets = len(counts)
        self.market = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        penalty = setup.sav.penalty
        self.penalty = np.zeros(self.n) if penalty is None else np.asarray(penalty, dtype=float)

    def _best(self, inside: np.ndarray) -> np.ndarray:
        best = np.zeros(self.markets)
        np.maximum.at(best, self.market[inside], self.values[inside])
        return best

    def cap(self, allowed: int) -> float:
        """The sum over markets of their best records within ``allowed`` (``R(allowed)``)."""
        off = np.array([not allowed >> i & 1 for i in range(self.n)], dtype=bool)
        return float(self._best(~(self.needs & off).any(axis=1)).sum())

    def cut(self, network: int) -> tuple[float, np.ndarray]:
        """``(R(O), g)``: ``R(X) <= R(O) + sum of g_i over i in X - O`` for every ``X``."""
        in_o = np.array([bool(network >> i & 1) for i in range(self.n)], dtype=bool)
        new = self.needs & ~in_o
        count = new.sum(axis=1)
        inside = count == 0
        best = self._best(inside)
        out = ~inside
        gain = np.maximum(self.values[out] - best[self.market[out]], 0.0) / count[out]
        per = np.zeros((self.markets, self.n))
        rows, cols = np.nonzero(new[out])
        np.maximum.at(per, (self.market[out][rows], cols), gain[rows])
        return float(best.sum()), per.sum(axis=0)


class _Master:
    """The master MILP (module docstring): the programme's constraints on start literals, one
    estimate per period, the cuts; solved by HiGHS."""

    def __init__(self, setup: _Setup, periods: list[Any], weight: Mapping[Any, float], top: float,
                 record_cuts: _RecordCuts) -> None:
        inst = setup.problem.inst
        n = len(setup.ids)
        self.setup, self.periods, self.weight, self.top, self.rc = setup, periods, weight, top, record_cuts
        self.col: list[dict[int, int]] = []
        nv = 0
        for k in range(n):
            self.col.append({s: nv + j for j, s in enumerate(setup.starts[k])})
            nv += len(setup.starts[k])
        self.eta = {t: nv + j for j, t in enumerate(periods)}
        nv += len(periods)
        self.nv = nv
        self.lb = np.zeros(nv)
        self.ub = np.ones(nv)
        self.integrality = np.ones(nv)
        self.c = np.zeros(nv)
        pen_total = float(record_cuts.penalty.sum())
        for t, j in self.eta.items():
            self.integrality[j] = 0
            self.lb[j] = -weight[t] * pen_total / top
            self.ub[j] = weight[t] * record_cuts.cap(self._openable(t)) / top
            self.c[j] = -1.0
        for k in range(n):
            for s, j in self.col[k].items():
                self.c[j] = float(setup.start_costs[k][s]) / top
        self.rows: list[tuple[dict[int, float], float, float]] = []
        for k in range(n):
            if self.col[k]:
                self.rows.append(({j: 1.0 for j in self.col[k].values()}, 1.0 if setup.required[k] else -math.inf, 1.0))
        every = [*setup.years, "after"]
        for k in range(n):
            for j in _bits(inst.direct_requires[k]):
                for t in every:
                    mine = self.open_cols(k, t)
                    if mine:
                        row = {v: 1.0 for v in mine}
                        for v in self.open_cols(j, t):
                            row[v] = row.get(v, 0.0) - 1.0
                        self.rows.append((row, -math.inf, 0.0))
            for j in _bits(inst.excl[k]):
                if j > k and self.col[k] and self.col[j]:
                    row = {v: 1.0 for v in self.col[k].values()}
                    row.update({v: 1.0 for v in self.col[j].values()})
                    self.rows.append((row, -math.inf, 1.0))
        limits = [(setup.budgets, lambda k: True)]
        limits += [(cap, lambda k, m=member: inst.projects[k].member == m) for member, cap in setup.member_caps.items()]
        for caps, keep in limits:
            for y in setup.years:
                if not math.isfinite(caps.get(y, math.inf)):
                    continue
                row = {}
                for k in range(n):
                    if keep(k):
                        for s, j in self.col[k].items():
                            amount = _spend(setup, k, s).get(y, 0.0)
                            if amount > 0:
                                row[j] = amount
                if row:
                    self.rows.append((row, -math.inf, float(caps[y])))
        self.n_fixed = len(self.rows)

    def _openable(self, t: Any) -> int:
        return sum(1 << k for k in range(len(self.setup.ids)) if self.open_cols(k, t))

    def open_cols(self, k: int, t: Any) -> list[int]:
        d = self.setup.durations[k]
        return [j for s, j in self.col[k].items() if t == "after" or s + d <= t]

    def add_cut(self, t: Any, network: int) -> None:
        """``eta_t <= w_t (R(O) + sum g_i open_i,t - sum p_i open_i,t)`` (scaled by ``top``)."""
        base, g = self.rc.cut(network)
        w = self.weight[t] / self.top
        row = {self.eta[t]: 1.0}
        for k in range(len(self.setup.ids)):
            coef = (0.0 if network >> k & 1 else g[k]) - self.rc.penalty[k]
            if coef != 0.0:
                for j in self.open_cols(k, t):
                    row[j] = -w * coef
        self.rows.append((row, -math.inf, w * base))

    def solve(self, time_limit: float, gap: float) -> Any:
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_matrix

        data, ri, ci, lo, hi = [], [], [], [], []
        for i, (row, low, high) in enumerate(self.rows):
            for j, v in row.items():
                data.append(v)
                ri.append(i)
                ci.append(j)
            lo.append(low)
            hi.append(high)
        a = csr_matrix((data, (ri, ci)), shape=(len(self.rows), self.nv))
        return milp(c=self.c, integrality=self.integrality, bounds=Bounds(self.lb, self.ub),
                    constraints=LinearConstraint(a, lo, hi),
                    options={"time_limit": max(0.05, time_limit), "mip_rel_gap": gap, "presolve": True})

    def programme(self, x: np.ndarray) -> dict[str, int]:
        return {self.setup.ids[k]: s for k in range(len(self.setup.ids)) for s, j in self.col[k].items()
                if x[j] > 0.5}


def outer_programme(setup: _Setup, seeds: Sequence[Mapping[str, int]], *, deadline: float | None,
                    relative_gap: float = 0.0, log: Callable[[str], None] | None = None) -> OuterResult:
    """The outer-approximation loop (module docstring).

    ``seeds`` are feasible programmes (their networks make the first cuts, the best is the
    first incumbent); ``deadline`` a :func:`time.perf_counter` time (``None``: until the loop
    ends); ``relative_gap`` stops the loop once the bound is within that gap of the best value.
    """
    began = time.perf_counter()
    weight = {**setup.weights, "after": setup.after}
    periods = [t for t in [*setup.years, "after"] if weight[t] > 0]
    index = {pid: k for k, pid in enumerate(setup.ids)}
    valuer = _Valuer(setup)
    rc = _RecordCuts(setup, valuer)
    value_of = _value_fn(setup, valuer)
    best_total = rc.cap((1 << len(setup.ids)) - 1)
    top = max(1.0, best_total * sum(weight[t] for t in periods)
              + sum(max((abs(c) for c in row.values()), default=0.0) for row in setup.start_costs))
    master = _Master(setup, periods, weight, top, rc)
    allowance = ALLOWANCE * master.nv * top
    made: set[tuple[Any, int]] = set()

    def network(prog: Mapping[str, int], t: Any) -> int:
        return sum(1 << index[p] for p, s in prog.items() if t == "after" or s + setup.durations[index[p]] <= t)

    def cut_at(prog: Mapping[str, int]) -> int:
        added = 0
        for t in periods:
            key = (t, network(prog, t))
            if key not in made:
                made.add(key)
                master.add_cut(*key)
                added += 1
        return added

    best: dict[str, int] = {}
    best_value = value_of(best) if _feasible(setup, best) else -math.inf
    cut_at({})
    for prog in seeds:
        if _feasible(setup, prog):
            cut_at(prog)
            v = value_of(prog)
            if v > best_value:
                best, best_value = dict(prog), v
    bound = math.inf
    history: list[tuple[float, float, float]] = []
    converged = False
    iterations = 0
    while True:
        left = math.inf if deadline is None else deadline - time.perf_counter()
        if left <= 0.05:
            break
        iterations += 1
        gap_left = (1.0 if not (math.isfinite(bound) and math.isfinite(best_value))
                    else (bound - best_value) / max(abs(best_value), 1e-12 * top))
        master_gap = max(MASTER_GAP_FLOOR, min(0.05 * gap_left, MASTER_GAP_CAP), 0.5 * relative_gap)
        res = master.solve(min(left, 1e9), master_gap)
        dual = getattr(res, "mip_dual_bound", None)
        if dual is not None and math.isfinite(dual):
            bound = min(bound, -dual * top + allowance)
        if res.x is None:  # no programme within the time left (one exists: _setup checked the requirements)
            break
        prog = master.programme(res.x)
        if not _feasible(setup, prog):  # a tolerance artefact: the cut points must be programmes
            break
        v = value_of(prog)
        added = cut_at(prog)
        if v > best_value:
            best, best_value = prog, v
        if deadline is None:
            polished, pv, _ = improve_programme(setup, prog, valuer=valuer, max_passes=POLISH_PASSES)
        elif deadline - time.perf_counter() > 4 * POLISH_SECONDS:
            polished, pv, _ = improve_programme(setup, prog, valuer=valuer,
                                                deadline=time.perf_counter() + POLISH_SECONDS)
        else:
            polished, pv = prog, v
        if pv > best_value:
            best, best_value = polished, pv
        history.append((time.perf_counter() - began, bound, best_value))
        if log:
            log(f"outer approximation {iterations}: bound {bound:,.6g}, best {best_value:,.6g}, "
                f"master {-res.fun * top:,.6g} at gap {master_gap:.2g} ({res.message}), {len(made)} cuts, +{added}")
        if bound - best_value <= max(relative_gap * abs(best_value), allowance + MASTER_GAP_FLOOR * abs(best_value)):
            converged = True
            break
        if added == 0 and res.status == 0 and master_gap <= max(MASTER_GAP_FLOOR, 0.5 * relative_gap):
            # the master's programme is valued exactly by its cuts: the bound is within the
            # finest master gap of its value, nothing more to learn (at a coarser gap the next
            # master is solved finer: the bound is then within this master's gap of the best)
            converged = True
            break
    return OuterResult(bound=bound, best=best, value=best_value, converged=converged, iterations=iterations,
                       cuts=len(made), history=history)


__all__ = ["OuterResult", "outer_programme"]
