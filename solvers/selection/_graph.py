"""The arc graph with optional project arcs, and validation of graphs and projects."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from networks.errors import CatalogueError, InputError
from solvers.selection._types import BaseGraph, Project


# --------------------------------------------------------------------------------------------
# Graph with optional extra arcs
# --------------------------------------------------------------------------------------------


class _ArcGraph:
    """A directed graph in CSR order (one arc per pair, the fastest) that can add extra arcs.

    Explicit zero times stay arcs (scipy's csgraph treats stored zeros of a sparse matrix as
    edges), so zero-time connectors are allowed.
    """

    def __init__(self, n: int, tails: np.ndarray, heads: np.ndarray, times: np.ndarray) -> None:
        self.n = int(n)
        tails = np.asarray(tails, dtype=np.int64)
        heads = np.asarray(heads, dtype=np.int64)
        times = np.asarray(times, dtype=float)
        codes = tails * self.n + heads
        # Parallel arcs: keep the fastest of each (tail, head) pair.
        order = np.lexsort((times, codes))
        codes, times = codes[order], times[order]
        first = np.ones(codes.shape[0], dtype=bool)
        first[1:] = codes[1:] != codes[:-1]
        self.codes = codes[first]
        self.times = times[first]
        self.tails = self.codes // self.n
        self.heads = self.codes % self.n
        self.indptr = np.searchsorted(self.tails, np.arange(self.n + 1)).astype(np.int64)
        self.indices = self.heads.copy()
        self._union: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[tuple[int, int], int]] | None = None

    def prepare_extras(self, extras: Sequence[tuple[int, int, float, int, int]]) -> None:
        """Make :meth:`matrix` fast for any subset of ``extras``.

        One CSR structure holds the base arcs and every pair of ``extras`` missing from the base,
        in CSR order; a design's matrix is then a copy of its data with the design's arcs set and
        the others at an infinite time (an arc that never relaxes), instead of a sparse matrix
        sorted anew per design.  The arcs a design uses sit in the same CSR order as in the
        sorted matrix built without it, so shortest paths and their ties are the same.
        """
        new_codes = np.unique(np.array([t * self.n + h for t, h, _time, _who, pos in extras if pos < 0], dtype=np.int64))
        if not new_codes.size:
            self._union = None
            return
        codes = np.concatenate([self.codes, new_codes])
        order = np.argsort(codes, kind="stable")  # codes are unique
        slot = np.empty_like(order)
        slot[order] = np.arange(order.shape[0])
        tails = codes[order] // self.n
        indptr = np.searchsorted(tails, np.arange(self.n + 1)).astype(np.int64)
        nb = self.codes.shape[0]
        template = np.full(codes.shape[0], np.inf)
        base_slots = slot[:nb]
        template[base_slots] = self.times
        new_slot = {(int(c // self.n), int(c % self.n)): int(slot[nb + k]) for k, c in enumerate(new_codes.tolist())}
        self._union = (indptr, codes[order] % self.n, template, base_slots, new_slot)

    def position(self, tail: int, head: int) -> int:
        """Index of arc ``tail -> head`` in the arc arrays, or -1."""
        code = tail * self.n + head
        pos = int(np.searchsorted(self.codes, code))
        if pos < self.codes.shape[0] and self.codes[pos] == code:
            return pos
        return -1

    def matrix(self, extra: Sequence[tuple[int, int, float, int, int]] = ()) -> tuple[sp.csr_array, dict[tuple[int, int], int]]:
        """CSR matrix of the base arcs plus ``extra`` arcs ``(tail, head, time, owner, pos)``.

        ``pos`` is :meth:`position` of the pair (precomputed).  Returns the matrix and, for
        every pair whose fastest arc is an extra arc, its owner.  On a tie the base arc wins,
        so a path only counts a project when the project makes it strictly faster.
        """
        if not extra:
            return sp.csr_array((self.times, self.indices, self.indptr), shape=(self.n, self.n)), {}
        if self._union is not None:
            got = self._union_matrix(extra)
            if got is not None:
                return got
        data = self.times.copy()
        owner: dict[tuple[int, int], int] = {}
        new: dict[tuple[int, int], float] = {}
        for tail, head, t, who, pos in extra:
            if pos >= 0:
                if t < data[pos]:
                    data[pos] = t
                    owner[(tail, head)] = who
            else:
                key = (tail, head)
                if key not in new or t < new[key]:
                    new[key] = t
                    owner[key] = who
        if not new:
            return sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n)), owner
        rows = np.concatenate([self.tails, np.fromiter((k[0] for k in new), dtype=np.int64, count=len(new))])
        cols = np.concatenate([self.heads, np.fromiter((k[1] for k in new), dtype=np.int64, count=len(new))])
        vals = np.concatenate([data, np.fromiter(new.values(), dtype=float, count=len(new))])
        return sp.coo_array((vals, (rows, cols)), shape=(self.n, self.n)).tocsr(), owner

    def _union_matrix(self, extra: Sequence[tuple[int, int, float, int, int]]
                      ) -> tuple[sp.csr_array, dict[tuple[int, int], int]] | None:
        """:meth:`matrix` on the structure of :meth:`prepare_extras` (the same rules); ``None``
        when ``extra`` holds a pair that was not prepared."""
        assert self._union is not None
        indptr, indices, template, base_slots, new_slot = self._union
        data = template.copy()
        owner: dict[tuple[int, int], int] = {}
        for tail, head, t, who, pos in extra:
            k = base_slots[pos] if pos >= 0 else new_slot.get((tail, head), -1)
            if k < 0:
                return None
            if t < data[k]:
                data[k] = t
                owner[(tail, head)] = who
        return sp.csr_array((data, indices, indptr), shape=(self.n, self.n)), owner


# --------------------------------------------------------------------------------------------
# Validation and the prepared instance
# --------------------------------------------------------------------------------------------


def _read_base(base: BaseGraph) -> _ArcGraph:
    if sp.issparse(base):
        if base.ndim != 2 or base.shape[0] != base.shape[1]:
            raise InputError(f"base graph: sparse matrix of shape {base.shape}; expected a square n x n matrix")
        coo = sp.coo_array(base)  # keeps stored duplicates (parallel arcs) and explicit zeros
        n, tails, heads, times = base.shape[0], coo.row, coo.col, coo.data
    elif isinstance(base, tuple) and len(base) == 4:
        n, tails, heads, times = base
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"base graph: node count {n!r}; expected an integer >= 1")
    else:
        raise InputError(
            f"base graph: got {type(base).__name__}; expected a scipy.sparse matrix or a tuple (n, tails, heads, times)"
        )
    n = int(n)
    tails_a, heads_a = np.asarray(tails), np.asarray(heads)
    times_a = np.asarray(times, dtype=float)
    if not (tails_a.shape == heads_a.shape == times_a.shape) or tails_a.ndim != 1:
        raise InputError(
            f"base graph: tails, heads and times have shapes {tails_a.shape}, {heads_a.shape}, {times_a.shape}; expected equal 1-d"
        )
    for name, arr in (("tails", tails_a), ("heads", heads_a)):
        if arr.size and (not np.issubdtype(arr.dtype, np.integer)):
            if not np.all(np.isfinite(arr.astype(float))) or np.any(arr != np.round(arr)):
                raise InputError(f"base graph: {name} contains non-integer node ids; expected integers in [0, {n})")
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            bad = arr[(arr < 0) | (arr >= n)][0]
            raise InputError(f"base graph: {name} contains node {bad}; expected node ids in [0, {n})")
    if times_a.size and not np.all(np.isfinite(times_a)):
        raise InputError(f"base graph: arc time {times_a[~np.isfinite(times_a)][0]}; expected finite times >= 0")
    if times_a.size and times_a.min() < 0:
        raise InputError(f"base graph: arc time {times_a.min()}; expected times >= 0")
    return _ArcGraph(n, tails_a.astype(np.int64), heads_a.astype(np.int64), times_a)


def _check_number(value: Any, what: str, *, error: type[Exception] = InputError, allow_inf: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise error(f"{what}: {value!r}; expected a number >= 0") from None
    if math.isnan(number) or number < 0 or (math.isinf(number) and not allow_inf):
        raise error(f"{what}: {value!r}; expected a finite number >= 0" + (" (or inf)" if allow_inf else ""))
    return number


def _check_projects(projects: Sequence[Project], n: int) -> None:
    ids = [p.id for p in projects]
    seen: set[str] = set()
    for p in projects:
        if not isinstance(p, Project):
            raise CatalogueError(f"projects: got {type(p).__name__}; expected Project")
        if p.id in seen:
            raise CatalogueError(f"project {p.id!r}: duplicate id; expected unique ids")
        seen.add(p.id)
        _check_number(p.cost, f"project {p.id!r}: cost", error=CatalogueError)
        for arc in p.arcs:
            if len(arc) != 3:
                raise CatalogueError(f"project {p.id!r}: arc {arc!r}; expected (tail, head, time)")
            tail, head, t = arc
            for end in (tail, head):
                if isinstance(end, bool) or not isinstance(end, (int, np.integer)) or not 0 <= end < n:
                    raise CatalogueError(
                        f"project {p.id!r}: arc {tuple(arc)!r} uses node {end!r}; expected a base-graph node in [0, {n})"
                    )
            if tail == head:
                raise CatalogueError(f"project {p.id!r}: arc {tuple(arc)!r} is a loop; expected tail != head")
            _check_number(t, f"project {p.id!r}: arc {tuple(arc)!r} time", error=CatalogueError)
    known = set(ids)
    for p in projects:
        for name in ("requires", "excludes"):
            for other in getattr(p, name):
                if other not in known:
                    raise CatalogueError(f"project {p.id!r}: {name} unknown project {other!r}")
                if other == p.id:
                    raise CatalogueError(f"project {p.id!r}: {name} itself")
        both = sorted(set(p.requires) & set(p.excludes))
        if both:
            raise CatalogueError(f"project {p.id!r}: both requires and excludes {both[0]!r}")
    # Dependency cycles: depth-first search, reporting the cycle itself.
    requires = {p.id: p.requires for p in projects}
    state: dict[str, int] = {}
    for start in ids:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            deps = requires[node]
            if i < len(deps):
                stack.append((node, i + 1))
                nxt = deps[i]
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    raise CatalogueError(f"projects: dependency cycle {' -> '.join(cycle)}")
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
