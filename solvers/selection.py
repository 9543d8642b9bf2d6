"""Exact project selection under a budget for the free-flow travel-time model.

The model: a directed base graph with arc times, a catalogue of candidate projects (each adds
new arcs, or faster parallel arcs, to the graph), and origin-destination demand.  Choose the
set of projects ``y`` that minimises

    F(y) = sum over OD pairs of demand x shortest-path time in (base arcs + arcs of y)

subject to a budget, per-member budget caps, dependencies (a project needs all of its
``requires``) and mutual exclusions.  Shortest-path times are minima over paths, so ``F`` is
neither additive nor convex in the projects: two parallel lines do not add up, and a project
can be worthless alone and valuable with another.

How it stays exact
------------------
1. **Contraction.**  Only the *key nodes* matter: OD nodes and the endpoints of every project
   arc.  Any path in base + projects is a chain of base segments between key nodes and project
   arcs, so the graph on key nodes whose arcs are the base shortest-path distances (plus the
   project arcs) gives exactly the same OD times.  A base arc ``i -> j`` is kept only if the base
   shortest-path tree from ``i`` reaches ``j`` without passing another key node (otherwise the
   chain of shorter segments represents it), which keeps the contracted graph sparse.
2. **Undominated records.**  For each OD pair, the exact time under any design ``y`` is
   ``min(base time, min over records (S, t) with S a subset of y of t)``.  The records come from
   a branching search: solve the shortest path with every allowed project on; if it beats the
   base time it uses project set ``S`` with time ``t``, which is a record; then branch by
   removing each project of ``S`` in turn.  For a design ``y`` inside the allowed set ``A``,
   either the path of ``A`` uses only projects of ``y`` (then it is optimal for ``y``, because
   ``y`` has fewer arcs than ``A``), or some project of the path is not in ``y`` and the child
   that removes it still contains ``y``.  So every design meets a node of the search whose path
   is its exact shortest path, or a node whose time already reaches the base time.
   Project sets that no feasible design can contain (over budget or caps with their
   dependencies, or holding an excluded pair) are not recorded but still branched on, and
   dominated records (a subset of the projects for no more time) are dropped.
3. **CP-SAT.**  Booleans ``y_p`` per project; per OD pair the records sorted by saving, best
   first, and a chain of booleans ``z_k`` = "the pair saves at least the k-th saving", where
   ``z_k`` needs the k-th record's projects or ``z_(k-1)``.  Maximise the demand-weighted
   saving against the base times under the budget, caps, dependencies and exclusions.  Once
   the projects are fixed, propagation gives the exact saving, so the search is over projects
   only, and the linear relaxation is the strong one (``z_k`` at most the sum of the
   availabilities of the k best records).  Savings are scaled
   to integers (about 2^40 for the largest possible total saving); the rounding error, at most
   half a unit per OD pair, is added to the bound, so the reported ``bound`` is a valid lower
   bound on the float objective, and the reported ``objective`` is the exact Dijkstra
   evaluation of the chosen design on the full graph.  Among designs of equal (integer)
   saving a second, work-limited solve picks the cheapest, and projects that save nothing in
   the chosen design are removed.

With a time limit the best design found is returned with status ``"FEASIBLE"``, its bound and
gap; if the record search itself runs out of time the incumbent is the base network and the
bound is the network with every affordable project built.

Shortest paths use :func:`scipy.sparse.csgraph.dijkstra` (compiled), many sources at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import dijkstra

if TYPE_CHECKING:
    import pandas as pd

from networks.errors import CatalogueError, InfeasibleError, InputError, SolverError

__all__ = [
    "Project",
    "ODDemand",
    "DesignValue",
    "SelectionResult",
    "LadderEntry",
    "NonNested",
    "Ladder",
    "evaluate_design",
    "solve_selection",
    "brute_force_selection",
    "budget_ladder",
    "BaseGraph",
]

#: A base graph: a scipy.sparse n x n matrix of arc times, or ``(n, tails, heads, times)``.
BaseGraph = Union[sp.sparray, sp.spmatrix, tuple[int, ArrayLike, ArrayLike, ArrayLike]]

# Target for the sum over OD pairs of the largest scaled saving: large enough that the rounding
# slack (half a unit per OD pair) is negligible, small enough to stay far from int64 overflow.
_SAVING_SCALE_TARGET = float(2**40)
_COST_TOL = 1e-9
_MAX_BRUTE_FORCE_PROJECTS = 22
_SEED = 20240611


# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A candidate project.

    Parameters
    ----------
    id
        Unique identifier.
    cost
        Investment cost, finite and ``>= 0`` (any unit, the same as the budget).
    arcs
        New directed arcs ``(tail, head, time)``; an upgrade is a faster arc parallel to a base
        arc.  Nodes must exist in the base graph; times finite and ``>= 0``.  A project without
        arcs is allowed (it saves nothing in the free-flow model but can be a dependency).
    member
        Lead member of the alliance, for per-member budget caps (``None``: no cap applies).
    requires
        Ids of the projects this one needs (all of them).
    excludes
        Ids of the projects that cannot be built together with this one (symmetric).
    """

    id: str
    cost: float
    arcs: tuple[tuple[int, int, float], ...]
    member: str | None = None
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists (JSON) and a bare string for a single dependency; store tuples so the
        # dataclass stays hashable.
        object.__setattr__(self, "arcs", tuple(tuple(a) for a in self.arcs))
        for name in ("requires", "excludes"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))


@dataclass(frozen=True)
class ODDemand:
    """Origin-destination demand: parallel arrays of origin nodes, destination nodes, demand."""

    origins: np.ndarray
    destinations: np.ndarray
    demand: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "origins", np.asarray(self.origins))
        object.__setattr__(self, "destinations", np.asarray(self.destinations))
        object.__setattr__(self, "demand", np.asarray(self.demand, dtype=float))

    def __len__(self) -> int:
        return int(self.demand.shape[0])


@dataclass(frozen=True)
class DesignValue:
    """The exact free-flow value of one design.

    Attributes
    ----------
    selected
        Sorted project ids of the design.
    objective
        ``sum(demand * od_times)`` over pairs with positive demand.
    od_times
        Shortest-path time per OD row, in the order of the input.
    """

    selected: tuple[str, ...]
    objective: float
    od_times: np.ndarray


@dataclass
class SelectionResult:
    """Outcome of a selection run.

    Attributes
    ----------
    selected
        Sorted ids of the chosen projects.
    objective
        Exact objective of ``selected`` (Dijkstra on the full graph).
    bound
        Valid lower bound on the optimal objective (integer rounding accounted for).
    gap
        ``(objective - bound) / objective`` (0 when both are 0).
    status
        ``"OPTIMAL"`` (proved), ``"FEASIBLE"`` (time or gap limit: best found and its gap),
        ``"INFEASIBLE"``, ``"MODEL_INVALID"`` or ``"UNKNOWN"``.
    base_objective
        Objective with no project.
    od_times
        Time per OD row of the chosen design.
    cost
        Total cost of the chosen projects.
    budget
        The budget of the run.
    seconds
        Wall-clock seconds of the whole run.
    stats
        Sizes and solver statistics (records, Dijkstra calls, CP-SAT figures).
    """

    selected: tuple[str, ...]
    objective: float
    bound: float
    gap: float
    status: str
    base_objective: float
    od_times: np.ndarray
    cost: float
    budget: float
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def saving(self) -> float:
        """Objective reduction against the base network."""
        return self.base_objective - self.objective

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary (OD times as a list)."""
        return {
            "selected": list(self.selected),
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "status": self.status,
            "base_objective": self.base_objective,
            "saving": self.saving,
            "cost": self.cost,
            "budget": self.budget,
            "seconds": self.seconds,
            "od_times": [float(t) for t in self.od_times],
            "stats": _jsonable(self.stats),
        }


@dataclass(frozen=True)
class LadderEntry:
    """A project's place in the investment priority order."""

    rank: int
    id: str
    first_budget: float
    cost: float
    member: str | None
    marginal_saving: float


@dataclass(frozen=True)
class NonNested:
    """Projects optimal at ``budget_from`` that leave the optimal set at ``budget_to``."""

    budget_from: float
    budget_to: float
    dropped: tuple[str, ...]
    added: tuple[str, ...]


@dataclass
class Ladder:
    """Optimal sets along a budget ladder and the priority order derived from them.

    Attributes
    ----------
    budgets
        Budgets, ascending.
    results
        One :class:`SelectionResult` per budget.
    priority
        Projects in order of first entry (ties: larger marginal saving first, then id).
        ``marginal_saving`` is ``F(S - {p}) - F(S)`` in the optimal set ``S`` of the entry budget.
    non_nested
        Consecutive budgets whose optimal sets are not nested (a project leaves the set).
    """

    budgets: tuple[float, ...]
    results: tuple[SelectionResult, ...]
    priority: tuple[LadderEntry, ...]
    non_nested: tuple[NonNested, ...]

    @property
    def nested(self) -> bool:
        """True when every optimal set contains the previous one."""
        return not self.non_nested

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary."""
        return {
            "budgets": list(self.budgets),
            "results": [r.to_dict() for r in self.results],
            "priority": [_entry_dict(e) for e in self.priority],
            "non_nested": [
                {
                    "budget_from": n.budget_from,
                    "budget_to": n.budget_to,
                    "dropped": list(n.dropped),
                    "added": list(n.added),
                }
                for n in self.non_nested
            ],
            "nested": self.nested,
        }

    def to_frame(self) -> "pd.DataFrame":
        """One row per budget: selected ids, cost, objective, saving, bound, gap, status."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "budget": r.budget,
                    "selected": " ".join(r.selected),
                    "cost": r.cost,
                    "objective": r.objective,
                    "saving": r.saving,
                    "bound": r.bound,
                    "gap": r.gap,
                    "status": r.status,
                }
                for r in self.results
            ]
        )


def _entry_dict(entry: LadderEntry) -> dict[str, Any]:
    return {
        "rank": entry.rank,
        "id": entry.id,
        "first_budget": entry.first_budget,
        "cost": entry.cost,
        "member": entry.member,
        "marginal_saving": entry.marginal_saving,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


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


class _Instance:
    """Validated network, projects and demand, with exact evaluation of designs."""

    def __init__(self, base: BaseGraph, projects: Sequence[Project], od: ODDemand) -> None:
        self.graph = _read_base(base)
        n = self.graph.n
        projects = tuple(projects)
        _check_projects(projects, n)
        self.projects = projects
        self.index = {p.id: i for i, p in enumerate(projects)}
        self.costs = np.array([float(p.cost) for p in projects])
        # Closures over ``requires`` as bitmasks, and the exclusion masks (symmetric).
        n_proj = len(projects)
        self.direct_requires = [sum(1 << self.index[q] for q in p.requires) for p in projects]
        closure = [0] * n_proj
        done = [False] * n_proj

        def close(i: int) -> int:
            if not done[i]:
                mask = 1 << i
                for q in projects[i].requires:
                    mask |= close(self.index[q])
                closure[i] = mask
                done[i] = True
            return closure[i]

        for i in range(n_proj):
            close(i)
        self.closure = closure
        excl = [0] * n_proj
        for i, p in enumerate(projects):
            for q in p.excludes:
                j = self.index[q]
                excl[i] |= 1 << j
                excl[j] |= 1 << i
        self.excl = excl
        for i, p in enumerate(projects):
            clash = self._clash(closure[i])
            if clash:
                a, b = clash
                raise CatalogueError(
                    f"project {p.id!r}: its dependencies include {a!r} and {b!r}, which exclude each other; it can never be built"
                )
        # Project arcs with their position among the base arcs (for fast graph building).
        self.project_arcs: list[list[tuple[int, int, float, int, int]]] = []
        for i, p in enumerate(projects):
            self.project_arcs.append(
                [(int(u), int(v), float(t), i, self.graph.position(int(u), int(v))) for u, v, t in p.arcs]
            )
        self._read_od(od)

    # -- demand ---------------------------------------------------------------------------
    def _read_od(self, od: ODDemand) -> None:
        if not isinstance(od, ODDemand):
            raise InputError(f"od: got {type(od).__name__}; expected ODDemand")
        o, d, q = np.asarray(od.origins), np.asarray(od.destinations), np.asarray(od.demand, dtype=float)
        if not (o.shape == d.shape == q.shape) or o.ndim != 1:
            raise InputError(f"od: origins, destinations, demand have shapes {o.shape}, {d.shape}, {q.shape}; expected equal 1-d")
        n = self.graph.n
        for name, arr in (("origins", o), ("destinations", d)):
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise InputError(f"od: {name} has dtype {arr.dtype}; expected integer node ids")
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                bad = arr[(arr < 0) | (arr >= n)][0]
                raise InputError(f"od: {name} contains node {bad}; expected node ids in [0, {n})")
        if q.size and (not np.all(np.isfinite(q)) or q.min() < 0):
            bad = q[~np.isfinite(q) | (q < 0)][0]
            raise InputError(f"od: demand {bad}; expected finite demand >= 0")
        self.od_rows = (o.astype(np.int64), d.astype(np.int64), q)
        # Aggregate duplicate pairs; pairs with zero demand or o == d do not enter the model.
        codes = o.astype(np.int64) * n + d.astype(np.int64)
        uniq, inverse = np.unique(codes, return_inverse=True)
        agg = np.zeros(uniq.shape[0])
        np.add.at(agg, inverse, q)
        self.pair_codes = uniq
        self.pair_o = uniq // n
        self.pair_d = uniq % n
        self.pair_demand = agg
        self.row_pair = inverse.reshape(-1)
        self.origins = np.unique(self.pair_o)

    # -- feasibility ----------------------------------------------------------------------
    def _clash(self, mask: int) -> tuple[str, str] | None:
        m = mask
        while m:
            low = m & -m
            i = low.bit_length() - 1
            if self.excl[i] & mask:
                j = (self.excl[i] & mask).bit_length() - 1
                return self.projects[i].id, self.projects[j].id
            m ^= low
        return None

    def close_mask(self, mask: int) -> int:
        out = 0
        m = mask
        while m:
            low = m & -m
            out |= self.closure[low.bit_length() - 1]
            m ^= low
        return out

    def mask_cost(self, mask: int) -> float:
        return float(sum(self.costs[i] for i in _bits(mask)))

    def feasible(self, mask: int, budget: float, caps: Mapping[str, float] | None, *, closed: bool = True) -> bool:
        """Whether the design ``mask`` (closed under requires when ``closed``) is feasible."""
        if closed:
            for i in _bits(mask):
                if self.direct_requires[i] & ~mask:
                    return False
        if self._clash(mask):
            return False
        if not _within(self.mask_cost(mask), budget):
            return False
        if caps:
            spent: dict[str, float] = {}
            for i in _bits(mask):
                m = self.projects[i].member
                if m is not None and m in caps:
                    spent[m] = spent.get(m, 0.0) + float(self.costs[i])
            if any(not _within(v, caps[m]) for m, v in spent.items()):
                return False
        return True

    def mask_of(self, selected: Iterable[str]) -> int:
        if isinstance(selected, str):
            selected = (selected,)
        mask = 0
        for pid in selected:
            if pid not in self.index:
                raise InputError(f"selected: unknown project {pid!r}")
            mask |= 1 << self.index[pid]
        return mask

    def ids(self, mask: int) -> tuple[str, ...]:
        return tuple(sorted(self.projects[i].id for i in _bits(mask)))

    # -- exact evaluation on the full graph -----------------------------------------------
    def pair_times(self, mask: int) -> np.ndarray:
        extra = [arc for i in _bits(mask) for arc in self.project_arcs[i]]
        matrix, _ = self.graph.matrix(extra)
        times = np.zeros(self.pair_codes.shape[0])
        if self.origins.size:
            dist = dijkstra(matrix, directed=True, indices=self.origins)
            row = np.searchsorted(self.origins, self.pair_o)
            times = dist[row, self.pair_d]
        return times

    def objective_of(self, times: np.ndarray) -> float:
        positive = self.pair_demand > 0
        return float(np.dot(self.pair_demand[positive], times[positive]))

    def evaluate(self, mask: int) -> DesignValue:
        times = self.pair_times(mask)
        return DesignValue(self.ids(mask), self.objective_of(times), times[self.row_pair].copy())

    def check_reachable(self, times: np.ndarray) -> None:
        bad = np.flatnonzero(~np.isfinite(times) & (self.pair_demand > 0))
        if bad.size:
            k = bad[0]
            raise InfeasibleError(
                f"od: pair {int(self.pair_o[k])} -> {int(self.pair_d[k])} (demand {self.pair_demand[k]:g}) is unreachable "
                f"in the base graph ({bad.size} such pairs); expected every pair with demand to be connected"
            )


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _within(value: float, limit: float) -> bool:
    return value <= limit + _COST_TOL * max(1.0, abs(limit)) if math.isfinite(limit) else True


def _check_caps(inst: _Instance, member_caps: Mapping[str, float] | None) -> dict[str, float]:
    if member_caps is None:
        return {}
    # A cap on a member that leads none of the candidates is valid and simply does not bind
    # (callers check member names against their own register of members).
    caps: dict[str, float] = {}
    for m, cap in member_caps.items():
        if not isinstance(m, str):
            raise InputError(f"member_caps: key {m!r}; expected a member name (str)")
        caps[m] = _check_number(cap, f"member_caps[{m!r}]", allow_inf=True)
    return caps


# --------------------------------------------------------------------------------------------
# Contraction and records
# --------------------------------------------------------------------------------------------


@dataclass
class _Records:
    """Undominated (project set, time) records per OD pair of the model."""

    pair: np.ndarray  # model pair index (into _Instance pair arrays) per OD with records
    base: np.ndarray  # base time per model pair
    records: list[list[tuple[int, float]]]  # per model pair: (mask, time), time < base
    lower: np.ndarray  # per model pair: time with every allowed project (a lower bound)
    key_nodes: int
    contracted_arcs: int
    dijkstra_calls: int
    searched_sets: int
    seconds: float
    complete: bool


def _contract(inst: _Instance, keys: np.ndarray) -> tuple[_ArcGraph, np.ndarray]:
    """Contracted base graph on ``keys``: arc i -> j when the base tree path avoids other keys."""
    graph = inst.graph
    k = keys.shape[0]
    base_matrix, _ = graph.matrix()
    is_key = np.zeros(graph.n, dtype=bool)
    is_key[keys] = True
    tails: list[np.ndarray] = []
    heads: list[np.ndarray] = []
    times: list[np.ndarray] = []
    dist_keys = np.empty((k, k))
    chunk = max(1, int(4_000_000 // max(graph.n, 1)))
    cols = np.arange(graph.n)
    for start in range(0, k, chunk):
        src = keys[start : start + chunk]
        dist, pred = dijkstra(base_matrix, directed=True, indices=src, return_predecessors=True)
        rows = np.arange(src.shape[0])[:, None]
        # flag[v]: the tree parent of v is a key node other than the source; pointer jumping
        # then ORs the flags along each tree path (log n vectorised steps).
        parent = np.where(pred < 0, cols[None, :], pred)
        flag = is_key[parent] & (parent != src[:, None]) & (pred >= 0)
        while True:
            grand = np.take_along_axis(parent, parent, axis=1)
            flag = flag | np.take_along_axis(flag, parent, axis=1)
            if np.array_equal(grand, parent):
                break
            parent = grand
        sub = dist[:, keys]
        dist_keys[start : start + src.shape[0]] = sub
        keep = np.isfinite(sub) & ~flag[:, keys]
        keep[rows[:, 0], np.arange(start, start + src.shape[0])] = False  # no loops
        r, c = np.nonzero(keep)
        tails.append(r + start)
        heads.append(c)
        times.append(sub[r, c])
    contracted = _ArcGraph(
        k,
        np.concatenate(tails) if tails else np.zeros(0, np.int64),
        np.concatenate(heads) if heads else np.zeros(0, np.int64),
        np.concatenate(times) if times else np.zeros(0),
    )
    return contracted, dist_keys


def _build_records(
    inst: _Instance,
    usable: Callable[[int], bool],
    root: int,
    *,
    deadline: float | None,
    log: Callable[[str], None] | None,
) -> _Records:
    """Enumerate, per OD pair, the undominated records among designs inside ``root``.

    ``usable(mask)`` says whether a project set can be part of some feasible design; sets that
    cannot are not recorded but still branched on (their subsets may be usable).
    """
    started = time.perf_counter()
    model_pairs = np.flatnonzero((inst.pair_demand > 0) & (inst.pair_o != inst.pair_d))
    arc_nodes = [v for arcs in inst.project_arcs for (u, w, *_rest) in arcs for v in (u, w)]
    keys = np.unique(np.concatenate([inst.pair_o[model_pairs], inst.pair_d[model_pairs], np.asarray(arc_nodes, dtype=np.int64)]))
    contracted, dist_keys = _contract(inst, keys)
    key_pos = {int(v): i for i, v in enumerate(keys)}
    # Project arcs in contracted numbering.
    carcs: list[list[tuple[int, int, float, int, int]]] = []
    for arcs in inst.project_arcs:
        carcs.append(
            [
                (key_pos[u], key_pos[v], t, who, contracted.position(key_pos[u], key_pos[v]))
                for (u, v, t, who, _pos) in arcs
            ]
        )
    base = np.array([dist_keys[key_pos[int(inst.pair_o[p])], key_pos[int(inst.pair_d[p])]] for p in model_pairs])
    records: list[list[tuple[int, float]]] = [[] for _ in model_pairs]
    matrices: dict[int, tuple[sp.csr_array, dict[tuple[int, int], int]]] = {}
    calls = 0
    searched = 0
    complete = True
    usable_cache: dict[int, bool] = {}
    # Keep cached contracted matrices to roughly 2e7 stored arcs (about 300 MB).
    max_cached = max(16, int(2e7 // max(1, contracted.times.shape[0])))

    def graph_for(mask: int) -> tuple[sp.csr_array, dict[tuple[int, int], int]]:
        got = matrices.get(mask)
        if got is None:
            if len(matrices) > max_cached:
                matrices.clear()
            got = contracted.matrix([a for i in _bits(mask) for a in carcs[i]])
            matrices[mask] = got
        return got

    by_origin: dict[int, list[int]] = {}
    for slot, p in enumerate(model_pairs):
        by_origin.setdefault(int(inst.pair_o[p]), []).append(slot)
    # Every design lies inside ``root``: its times bound every design's times from below, which
    # gives a bound even when the record search is cut short by the time limit.
    lower = base.copy()
    if model_pairs.size:
        src_all = np.array([key_pos[o] for o in by_origin])
        dist_all = dijkstra(graph_for(root)[0], directed=True, indices=src_all)
        calls += 1
        row_of = {o: r for r, o in enumerate(by_origin)}
        for o, slots in by_origin.items():
            for slot in slots:
                dest = key_pos[int(inst.pair_d[model_pairs[slot]])]
                lower[slot] = min(base[slot], dist_all[row_of[o], dest])
    for origin, slots in by_origin.items():
        if deadline is not None and time.perf_counter() > deadline:
            complete = False
            break
        src = key_pos[origin]
        limit = float(max(base[s] for s in slots))
        trees: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for slot in slots:
            dest = key_pos[int(inst.pair_d[model_pairs[slot]])]
            t_base = base[slot]
            visited: set[int] = set()
            stack = [root]
            found: list[tuple[int, float]] = []
            while stack:
                allowed = stack.pop()
                if allowed in visited:
                    continue
                visited.add(allowed)
                searched += 1
                if deadline is not None and searched % 256 == 0 and time.perf_counter() > deadline:
                    complete = False
                    break
                tree = trees.get(allowed)
                if tree is None:
                    matrix, _ = graph_for(allowed)
                    dist, pred = dijkstra(matrix, directed=True, indices=src, return_predecessors=True, limit=limit)
                    calls += 1
                    tree = (dist, pred)
                    trees[allowed] = tree
                dist, pred = tree
                t = float(dist[dest])
                if not t < t_base:
                    continue  # no design inside ``allowed`` beats the base time
                owner = graph_for(allowed)[1]
                used = 0
                v = dest
                while v != src:
                    u = int(pred[v])
                    who = owner.get((u, v))
                    if who is not None:
                        used |= 1 << who
                    v = u
                if used == 0:
                    continue  # a base-only path: every design inside ``allowed`` has this time
                ok = usable_cache.get(used)
                if ok is None:
                    ok = usable_cache[used] = usable(used)
                if ok:
                    found.append((used, t))
                for i in _bits(used):
                    stack.append(allowed & ~(1 << i))
            records[slot] = _undominated(found)
            if not complete:
                break
        if not complete:
            break
    seconds = time.perf_counter() - started
    if log:
        log(
            f"selection: {len(keys)} key nodes, {contracted.times.shape[0]} contracted arcs, "
            f"{sum(len(r) for r in records)} records for {len(model_pairs)} OD pairs, "
            f"{calls} Dijkstra calls, {seconds:.2f} s"
        )
    return _Records(
        pair=model_pairs,
        base=base,
        records=records,
        lower=lower,
        key_nodes=int(len(keys)),
        contracted_arcs=int(contracted.times.shape[0]),
        dijkstra_calls=calls,
        searched_sets=searched,
        seconds=seconds,
        complete=complete,
    )


def _undominated(found: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Drop records whose project set contains another record's set with no larger time."""
    kept: list[tuple[int, float]] = []
    for mask, t in sorted(set(found), key=lambda r: (r[1], bin(r[0]).count("1"), r[0])):
        if not any((m & ~mask) == 0 for m, _ in kept):
            kept.append((mask, t))
    return kept


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
    recs: _Records,
    *,
    budget: float,
    caps: Mapping[str, float],
    deadline: float | None,
    relative_gap: float,
    log: Callable[[str], None] | None,
    started: float,
) -> SelectionResult:
    from ortools.sat.python import cp_model

    n_proj = len(inst.projects)
    base_times = inst.pair_times(0)
    base_objective = inst.objective_of(base_times)
    # Savings per record; records that need a project set no feasible design contains are gone.
    usable = [[(m, float(inst.pair_demand[p] * (b - t))) for m, t in rs if _usable(inst, m, budget, caps)]
              for rs, p, b in zip(recs.records, recs.pair, recs.base)]
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
    lower_all = float(np.dot(inst.pair_demand[recs.pair], recs.lower)) * (1.0 - 1e-12)
    trivial_bound = lower_all if not recs.complete else max(lower_all, base_objective - total_best)

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
    cost_scale, cost_exact = _cost_scale([*inst.costs, budget, *caps.values()])
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
    if math.isfinite(budget):
        model.Add(cost_expr <= limit_int(budget))
    for member, cap in caps.items():
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
    for u in usable:
        ranked = sorted(((int(round(c * scale)), m) for m, c in u), key=lambda r: (-r[0], r[1]))
        ranked = [(c_int, m) for c_int, m in ranked if c_int > 0]
        ranked_all.append(ranked)
        previous = None
        for k, (c_int, mask) in enumerate(ranked):
            z = model.NewBoolVar("")
            n_records += 1
            nxt = ranked[k + 1][0] if k + 1 < len(ranked) else 0
            if c_int - nxt > 0:
                terms.append((c_int - nxt, z))
            if previous is None:
                model.AddImplication(z, avail(mask))
            else:
                model.AddBoolOr([z.Not(), avail(mask), previous])
                model.AddImplication(previous, z)
            previous = z
    saving_expr = sum(c * x for c, x in terms)
    model.Maximize(saving_expr)
    for v in y:
        model.AddHint(v, 0)

    def make_solver(remaining: float | None) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = _SEED
        solver.parameters.interleave_search = False
        if remaining is not None:
            solver.parameters.max_time_in_seconds = max(0.0, remaining)
        if log:
            solver.parameters.log_search_progress = True
            solver.parameters.log_to_stdout = False
            solver.log_callback = log
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
    if not recs.complete:
        cp_stats["status"] = "NOT_RUN"  # the record search used up the time limit
    elif not terms:
        proved = True  # no record saves anything at this budget: the base network is optimal
        cp_stats["status"] = "NOT_NEEDED"
    else:
        solver = make_solver(remaining())
        if relative_gap > 0 and trivial_bound > 0:
            solver.parameters.absolute_gap_limit = relative_gap * trivial_bound * scale
        status_name = solver.StatusName(solver.Solve(model))
        cp_stats.update(
            status=status_name,
            wall_time=solver.WallTime(),
            deterministic_time=_deterministic_time(solver),
            branches=solver.NumBranches(),
            conflicts=solver.NumConflicts(),
        )
        if status_name == "INFEASIBLE":
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
            if proved:
                # Second solve: the cheapest design with the optimal integer saving.  It only
                # breaks ties, so it gets a deterministic work limit tied to the first solve.
                model.Add(saving_expr >= obj_int)
                model.Minimize(cost_expr)
                model.ClearHints()
                for i in range(n_proj):
                    model.AddHint(y[i], bool(mask >> i & 1))
                second = make_solver(remaining())
                second.parameters.max_deterministic_time = max(1.0, _deterministic_time(solver))
                st2 = second.StatusName(second.Solve(model))
                cp_stats["cheapest_status"] = st2
                if st2 in ("OPTIMAL", "FEASIBLE"):
                    mask2 = sum(1 << i for i in range(n_proj) if second.BooleanValue(y[i]))
                    if inst.mask_cost(mask2) <= inst.mask_cost(mask):
                        mask = mask2
            mask = _drop_idle(inst, mask, ranked_all)
    value = inst.evaluate(mask)
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
            "od_pairs": int(recs.pair.shape[0]),
            "key_nodes": recs.key_nodes,
            "contracted_arcs": recs.contracted_arcs,
            "records": int(sum(len(r) for r in recs.records)),
            "dijkstra_calls": recs.dijkstra_calls,
            "searched_sets": recs.searched_sets,
            "records_complete": recs.complete,
            "record_seconds": recs.seconds,
            "cpsat": cp_stats,
        },
    )


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
    relative_gap = _check_number(relative_gap, "relative_gap")
    if time_limit is not None:
        time_limit = _check_number(time_limit, "time_limit", allow_inf=True)
    deadline = None if time_limit is None or math.isinf(time_limit) else started + time_limit
    recs = _records_for(inst, budget, caps, deadline=deadline, log=log)
    return _solve_model(
        inst, recs, budget=budget, caps=caps, deadline=deadline, relative_gap=relative_gap, log=log, started=started
    )


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
    n_proj = len(inst.projects)
    if n_proj > _MAX_BRUTE_FORCE_PROJECTS:
        raise InputError(f"projects: {n_proj} projects; brute force enumerates 2^n designs, expected at most {_MAX_BRUTE_FORCE_PROJECTS}")
    base_times = inst.pair_times(0)
    base_objective = inst.objective_of(base_times)
    best: tuple[float, float, tuple[str, ...], int, np.ndarray] | None = None
    evaluated = 0
    for mask in range(1 << n_proj):
        if not inst.feasible(mask, budget, caps):
            continue
        times = inst.pair_times(mask)
        evaluated += 1
        key = (inst.objective_of(times), inst.mask_cost(mask), inst.ids(mask))
        if best is None or key < best[:3]:
            best = (*key, mask, times)
    assert best is not None  # the empty design is always feasible
    objective, cost, ids, mask, times = best
    return SelectionResult(
        selected=ids,
        objective=objective,
        bound=objective,
        gap=0.0,
        status="OPTIMAL",
        base_objective=base_objective,
        od_times=times[inst.row_pair].copy(),
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
    budget_list = sorted({_check_number(b, "budgets", allow_inf=True) for b in budgets})
    if not budget_list:
        raise InputError("budgets: empty; expected at least one budget")
    inst, top, caps = _prepare(base, projects, od, budget_list[-1], member_caps)
    relative_gap = _check_number(relative_gap, "relative_gap")
    recs = _records_for(inst, top, caps, deadline=None, log=log)
    results: list[SelectionResult] = []
    for b in budget_list:
        started = time.perf_counter()
        deadline = None if time_limit is None or math.isinf(time_limit) else started + time_limit
        results.append(
            _solve_model(inst, recs, budget=b, caps=caps, deadline=deadline, relative_gap=relative_gap, log=log, started=started)
        )
    # Order of first entry, ties broken by the marginal saving in the entry budget's optimum.
    entries: list[tuple[int, float, str, float]] = []
    seen: set[str] = set()
    for k, r in enumerate(results):
        full = inst.mask_of(r.selected)
        for pid in r.selected:
            if pid in seen:
                continue
            seen.add(pid)
            without = inst.objective_of(inst.pair_times(full & ~(1 << inst.index[pid])))
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
    return Ladder(tuple(budget_list), tuple(results), priority, tuple(non_nested))
