"""The validated instance: network, projects, demand, feasibility and exact evaluation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy.sparse.csgraph import dijkstra

from networks.errors import CatalogueError, InfeasibleError, InputError
from solvers.selection._graph import _check_number, _check_projects, _read_base
from solvers.selection._types import BaseGraph, DesignValue, ODDemand, Project, _COST_TOL


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
        # Pair times depend only on the projects with arcs here: designs that differ in other
        # projects (another layer's) share one shortest-path computation.
        self.arc_mask = sum(1 << i for i, arcs in enumerate(self.project_arcs) if arcs)
        self.graph.prepare_extras([arc for arcs in self.project_arcs for arc in arcs])
        self._times: dict[int, np.ndarray] = {}
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
        key = mask & self.arc_mask
        cached = self._times.get(key)
        if cached is not None:
            return cached.copy()
        extra = [arc for i in _bits(key) for arc in self.project_arcs[i]]
        matrix, _ = self.graph.matrix(extra)
        times = np.zeros(self.pair_codes.shape[0])
        if self.origins.size:
            dist = dijkstra(matrix, directed=True, indices=self.origins)
            row = np.searchsorted(self.origins, self.pair_o)
            times = dist[row, self.pair_d]
        if len(self._times) >= _TIMES_CACHE:
            self._times.pop(next(iter(self._times)))
        self._times[key] = times
        return times.copy()

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


_TIMES_CACHE = 64  # designs whose pair times are kept (oldest dropped first)


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
