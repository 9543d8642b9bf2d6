"""Local search over start years: a better starting programme for the exact search, and a
polish of its incumbent when it stops at the time limit.

Nothing here is claimed optimal.  Programmes are valued exactly, from the records (the same
value :func:`solvers.programme._setup._value_by_records` gives), with the records held as
arrays so that one network is valued in one vectorised pass.  The neighbourhood of a
programme: move one project's start to any other allowed year, start a project not started,
drop one (unless required), swap a started project for one not started (at any start year of
the newcomer), and exchange the start years of two started projects.  Every neighbour is
checked with :func:`solvers.programme._setup._feasible` (budgets, member caps, dependencies,
exclusions); the best improving neighbour is taken, until none improves, ``max_passes`` is
reached or the deadline passes.  Deterministic for a given input when it ends by itself or by
``max_passes`` (neighbours are visited in a fixed order; ties keep the first).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from solvers.programme._setup import _feasible, _Setup


class _Valuer:
    """Exact savings of networks (project bit masks) from the records, memoised."""

    def __init__(self, setup: _Setup) -> None:
        n = len(setup.ids)
        starts, masks, values = [0], [], []
        for rs in setup.sav.records:
            kept = [(m, c) for m, c in rs if c > 0]
            masks += [m for m, _ in kept]
            values += [c for _, c in kept]
            starts.append(starts[-1] + len(kept))
        self._needs = np.zeros((len(masks), n), dtype=np.float64)
        for r, m in enumerate(masks):
            for i in range(n):
                if m >> i & 1:
                    self._needs[r, i] = 1.0
        self._values = np.asarray(values, dtype=float)
        bounds = np.asarray(starts)
        self._first = bounds[:-1][bounds[:-1] < bounds[1:]]  # markets with at least one record
        self._n = n
        self._penalty = setup.sav.penalty_of  # projects' additive terms (none unless the records carry them)
        self._memo: dict[int, float] = {}

    def saving(self, mask: int) -> float:
        got = self._memo.get(mask)
        if got is None:
            if not self._values.size:
                got = 0.0
            else:
                missing = np.array([0.0 if mask >> i & 1 else 1.0 for i in range(self._n)])
                usable = np.where(self._needs @ missing == 0.0, self._values, 0.0)
                got = float(np.maximum.reduceat(usable, self._first).sum())
            got -= self._penalty(mask)
            self._memo[mask] = got
        return got


class _Decoder:
    """A priority list to a programme: each listed project started in its earliest year that the
    budgets, member caps, dependencies (already placed, opening no later) and exclusions allow;
    a project that fits no year is left out (the serial schedule generation of project scheduling)."""

    def __init__(self, setup: _Setup) -> None:
        from solvers.programme._setup import _spend
        from solvers.selection._instance import _bits

        inst = setup.problem.inst
        self.setup = setup
        n = len(setup.ids)
        self.spend = [{s: _spend(setup, k, s) for s in setup.starts[k]} for k in range(n)]
        self.member = [inst.projects[k].member for k in range(n)]
        self.requires = [list(_bits(inst.direct_requires[k])) for k in range(n)]
        self.excl = [list(_bits(inst.excl[k])) for k in range(n)]
        self.tol = 1e-9

    def __call__(self, order: list[int]) -> dict[str, int]:
        st = self.setup
        budget = st.budgets
        caps = st.member_caps
        used = {y: 0.0 for y in st.years}
        used_m = {m: {y: 0.0 for y in st.years} for m in caps}
        placed: dict[int, int] = {}
        for k in order:
            if any(j in placed for j in self.excl[k]):
                continue
            if any(j not in placed for j in self.requires[k]):
                continue
            ready = max((placed[j] + st.durations[j] for j in self.requires[k]), default=-math.inf)
            mine = caps.get(self.member[k])
            for s in st.starts[k]:
                if s + st.durations[k] < ready:
                    continue
                sp = self.spend[k][s]
                if any(used[y] + c > budget[y] * (1 + self.tol) + self.tol for y, c in sp.items()):
                    continue
                if mine is not None and any(used_m[self.member[k]][y] + c > mine[y] * (1 + self.tol) + self.tol
                                            for y, c in sp.items()):
                    continue
                for y, c in sp.items():
                    used[y] += c
                    if mine is not None:
                        used_m[self.member[k]][y] += c
                placed[k] = s
                break
        return {st.ids[k]: s for k, s in placed.items()}


def improve_order(setup: _Setup, order: list[int], *, deadline: float | None = None, max_passes: int = 20,
                  valuer: _Valuer | None = None) -> tuple[dict[str, int], float, list[int]]:
    """Best-improvement search over priority lists decoded by :class:`_Decoder`: move one project
    to another place in the list, or take it out of the list / put it back (projects outside it
    are not started).  Required projects stay first.  Returns the best programme found (always
    feasible), its value and its list."""
    valuer = valuer or _Valuer(setup)
    decode = _Decoder(setup)
    n = len(setup.ids)
    fixed = [k for k in order if setup.required[k]]
    listed = [k for k in order if not setup.required[k]]
    spare = [k for k in range(n) if k not in order and not setup.required[k]]
    value = _value_fn(setup, valuer)
    index = {pid: k for k, pid in enumerate(setup.ids)}
    seen: dict[tuple[tuple[int, int], ...], float] = {}

    def score(lst: list[int]) -> tuple[float, dict[str, int]]:
        prog = decode(fixed + lst)
        key = tuple(sorted((index[p], s) for p, s in prog.items()))
        if key not in seen:
            seen[key] = value(prog) if _feasible(setup, prog) else -math.inf
        return seen[key], prog

    best, prog = score(listed)
    for _ in range(max_passes):
        step = None
        for i in range(len(listed)):
            if deadline is not None and time.perf_counter() >= deadline:
                break
            k = listed[i]
            rest = listed[:i] + listed[i + 1:]
            trials = [rest] + [rest[:j] + [k] + rest[j:] for j in range(len(rest) + 1) if j != i]
            for lst in trials:
                v, _ = score(lst)
                if v > best + 1e-12 * max(1.0, abs(best)) and (step is None or v > step[0]):
                    step = (v, lst, k if lst is rest else None)
        for k in spare:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            for j in range(len(listed) + 1):
                lst = listed[:j] + [k] + listed[j:]
                v, _ = score(lst)
                if v > best + 1e-12 * max(1.0, abs(best)) and (step is None or v > step[0]):
                    step = (v, lst, -1 - k)
        if step is None:
            break
        best, listed, moved = step
        if moved is not None and moved >= 0:
            spare = sorted([*spare, moved])
        elif moved is not None:
            spare = [k for k in spare if k != -1 - moved]
        if deadline is not None and time.perf_counter() >= deadline:
            break
    best, prog = score(listed)
    return prog, best, fixed + listed


def _value_fn(setup: _Setup, valuer: _Valuer):
    index = {pid: k for k, pid in enumerate(setup.ids)}
    periods = [(y, w) for y, w in setup.weights.items() if w > 0]

    def value(prog: Mapping[str, int]) -> float:
        total = 0.0
        for y, w in periods:
            mask = 0
            for p, s in prog.items():
                k = index[p]
                if s + setup.durations[k] <= y:
                    mask |= 1 << k
            total += w * valuer.saving(mask)
        if setup.after > 0:
            total += setup.after * valuer.saving(sum(1 << index[p] for p in prog))
        return total - sum(setup.start_costs[index[p]][s] for p, s in prog.items())

    return value


def improve_programme(setup: _Setup, starts: Mapping[str, int], *, deadline: float | None = None,
                      max_passes: int = 50, valuer: _Valuer | None = None) -> tuple[dict[str, int], float, int]:
    """Best-improvement local search from a feasible programme (module docstring).

    Returns the programme, its value and the passes made.  ``deadline`` is a
    :func:`time.perf_counter` time.
    """
    valuer = valuer or _Valuer(setup)
    index = {pid: k for k, pid in enumerate(setup.ids)}
    value = _value_fn(setup, valuer)

    def neighbours(prog: dict[str, int]):
        started = sorted(prog, key=index.__getitem__)
        idle = [pid for pid in setup.ids if pid not in prog]
        for pid in started:
            k = index[pid]
            if len(setup.starts[k]) > 1:
                for s in setup.starts[k]:
                    if s != prog[pid]:
                        yield {**prog, pid: s}
            if not setup.required[k]:
                yield {p: s for p, s in prog.items() if p != pid}
        for pid in idle:
            for s in setup.starts[index[pid]]:
                yield {**prog, pid: s}
        for out in started:
            if setup.required[index[out]]:
                continue
            rest = {p: s for p, s in prog.items() if p != out}
            for pid in idle:
                for s in setup.starts[index[pid]]:
                    yield {**rest, pid: s}
        for a, pa in enumerate(started):
            for pb in started[a + 1:]:
                sa, sb = prog[pa], prog[pb]
                if sa != sb and sb in setup.starts[index[pa]] and sa in setup.starts[index[pb]]:
                    yield {**prog, pa: sb, pb: sa}

    current = dict(starts)
    best_value = value(current)
    passes = 0
    while passes < max_passes:
        passes += 1
        step, step_value = None, best_value
        for trial in neighbours(current):
            if deadline is not None and time.perf_counter() >= deadline:
                break
            if not _feasible(setup, trial):
                continue
            v = value(trial)
            if v > step_value + 1e-12 * max(1.0, abs(step_value)):
                step, step_value = trial, v
        if step is None:
            break
        current, best_value = step, step_value
        if deadline is not None and time.perf_counter() >= deadline:
            break
    return current, best_value, passes


def search_programme(setup: _Setup, starts: list[Mapping[str, int]], *, restarts: int = 30, kicks: int = 3,
                     seed: int = 0, deadline: float | None = None) -> tuple[dict[str, int], float]:
    """Iterated local search: each programme of ``starts`` as a priority list (by start year),
    improved by :func:`improve_order`; then ``restarts`` times the best list perturbed by
    ``kicks`` random moves (a project moved to a random place, or into the list), improved again,
    kept if better; finally :func:`improve_programme` on the best.  Seeded (``seed``), so the
    result depends only on the inputs unless ``deadline`` cuts it short."""
    import random

    valuer = _Valuer(setup)
    index = {pid: k for k, pid in enumerate(setup.ids)}
    rng = random.Random(seed)
    best_prog: dict[str, int] = {}
    best_value = -math.inf
    best_list: list[int] = []
    for prog in starts:
        order = [index[p] for p, _ in sorted(prog.items(), key=lambda kv: (kv[1], index[kv[0]]))]
        got, value, lst = improve_order(setup, order, deadline=deadline, valuer=valuer)
        if value > best_value:
            best_prog, best_value, best_list = got, value, lst
    free = [k for k in range(len(setup.ids)) if not setup.required[k]]
    for _ in range(restarts if free else 0):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        fixed = [k for k in best_list if setup.required[k]]
        cur = [k for k in best_list if not setup.required[k]]
        for _ in range(kicks):
            k = free[rng.randrange(len(free))]
            if k in cur:
                cur.remove(k)
            cur.insert(rng.randrange(len(cur) + 1), k)
        got, value, lst = improve_order(setup, fixed + cur, deadline=deadline, valuer=valuer)
        if value > best_value + 1e-12 * max(1.0, abs(best_value)):
            best_prog, best_value, best_list = got, value, lst
    got, value, _ = improve_programme(setup, best_prog, deadline=deadline, valuer=valuer)
    if value > best_value:
        best_prog, best_value = got, value
    return best_prog, best_value


__all__ = ["improve_order", "improve_programme", "search_programme"]
