"""The problem set-up shared by the exact methods: results, the instance as arrays, the cached evaluator."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from networks.errors import InputError, InstanceError, SolverError
from networks.tntp import RoadNetwork
from solvers.dndp._ue import Equilibrium, PackedState


@dataclass(frozen=True)
class DNDPResult:
    """Outcome of :func:`solve_dndp`.

    Attributes
    ----------
    selected : tuple of int
        Positions (into ``candidates``) of the chosen projects.
    selected_links : list of (int, int)
        Chosen links as (from, to) original node ids (first opened link of each project).
    objective : float
        UE TSTT of the chosen design, re-solved to ``ue_gap_reached``.
    bound : float
        Proven lower bound on the UE TSTT of every feasible design.
    gap : float
        ``(objective - bound) / objective``.
    status : str
        ``"optimal"`` (gap within ``opt_gap``), ``"time_limit"``, ``"above_target"`` (the search
        closed the gap on its evaluations, but the final re-solve of the incumbent moved its value
        and left the gap above ``opt_gap``), or ``"empty_budget"`` (no project fits the budget:
        the base network is the answer).
    ue_solves, so_solves, master_solves : int
        Equilibrium solves (UE, SO) and CP-SAT master solves (``method="cuts"``).
    seconds : float
        Wall time.
    ue_gap_reached : float
        Relative gap of the final UE solve of the chosen design.
    base_objective : float
        UE TSTT of the empty design, re-solved towards ``verify_gap``.  It serves no bound and no
        choice, so a polish that stalls keeps the value it reached (``base_gap_reached``).
    verified_objective : float
        UE TSTT of the chosen design by an independent solver
        (:func:`solvers.assignment.assign`, path-based, cold start, gap ``verify_gap``).
    nodes : int
        Branch-and-bound nodes expanded (``method="bb"``).
    method : str
        ``"bb"`` or ``"cuts"``.
    certified : bool or None
        ``method="bb"``: whether CP-SAT confirmed the bound's certificate (no feasible design
        outside the evaluated ones and the link sets whose SO bound is at least the reported
        bound, under the budget, requirements and exclusions); ``None`` for ``"cuts"``, whose
        bound is CP-SAT's own.
    message : str
        One line for people.
    history : list of (float, float, float)
        ``(seconds, incumbent, bound)`` whenever either changed.
    base_gap_reached : float
        Relative gap of the final UE solve of the empty design.
    """

    selected: tuple[int, ...]
    selected_links: list[tuple[int, int]]
    objective: float
    bound: float
    gap: float
    status: str
    ue_solves: int
    so_solves: int
    master_solves: int
    seconds: float
    ue_gap_reached: float
    base_objective: float
    verified_objective: float = math.nan
    nodes: int = 0
    certified: bool | None = None
    method: str = "bb"
    message: str = ""
    history: list[tuple[float, float, float]] = field(default_factory=list, repr=False)
    base_gap_reached: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "selected": [list(link) for link in self.selected_links],
            "selected_index": list(self.selected),
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "status": self.status,
            "ue_solves": self.ue_solves,
            "so_solves": self.so_solves,
            "master_solves": self.master_solves,
            "nodes": self.nodes,
            "certified": self.certified,
            "method": self.method,
            "seconds": self.seconds,
            "ue_gap": self.ue_gap_reached,
            "base_objective": self.base_objective,
            "base_ue_gap": self.base_gap_reached,
            "verified_objective": self.verified_objective,
            "message": self.message,
        }


@dataclass(frozen=True)
class EnumerationResult:
    """Outcome of :func:`enumerate_designs`: the UE TSTT of every feasible design."""

    selected: tuple[int, ...]
    objective: float
    values: dict[tuple[int, ...], float]
    ue_solves: int
    seconds: float


# ---------------------------------------------------------------------------- problem set-up
class _Problem:
    """Projects, constraints and the equilibrium engine shared by the solver and enumeration."""

    def __init__(
        self,
        network: RoadNetwork,
        demand: np.ndarray,
        candidates: Sequence[int | Sequence[int]],
        costs: Sequence[float] | np.ndarray,
        *,
        budget: float,
        requires: Iterable[tuple[int, int]],
        excludes: Iterable[tuple[int, int]],
        replaces: dict[int, Sequence[int]] | None,
    ) -> None:
        n_links = len(network.tail)
        self.network = network
        self.opens: list[np.ndarray] = []
        for i, c in enumerate(candidates):
            links = np.atleast_1d(np.asarray(c, dtype=np.int64))
            if links.size == 0 or np.any((links < 0) | (links >= n_links)):
                raise InputError(f"candidate {i}: link indices {links.tolist()} outside 0..{n_links - 1}")
            self.opens.append(links)
        self.n = len(self.opens)
        self.costs = np.asarray(costs, dtype=np.float64)
        if self.costs.shape != (self.n,):
            raise InputError(f"costs: {self.costs.size} values for {self.n} candidates")
        bad = np.flatnonzero(~np.isfinite(self.costs) | (self.costs < 0))
        if bad.size:
            raise InputError(f"candidate {bad[0]}: cost {self.costs[bad[0]]:g} is negative; costs must be >= 0")
        if not math.isfinite(budget) or budget < 0:
            raise InputError(f"budget {budget!r} must be a finite number >= 0")
        self.budget = float(budget)
        self.requires = [(int(i), int(j)) for i, j in requires]
        self.excludes = [(int(i), int(j)) for i, j in excludes]
        for i, j in (*self.requires, *self.excludes):
            if not (0 <= i < self.n and 0 <= j < self.n) or i == j:
                raise InputError(f"dependency/exclusion ({i}, {j}) must name two different candidates in 0..{self.n - 1}")
        self.closes: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in range(self.n)]
        for i, links in (replaces or {}).items():
            if not 0 <= int(i) < self.n:
                raise InputError(f"replaces: candidate {i} outside 0..{self.n - 1}")
            self.closes[int(i)] = np.atleast_1d(np.asarray(links, dtype=np.int64))
        cand_links = np.zeros(n_links, dtype=bool)
        for links in self.opens:
            cand_links[links] = True
        self.base_mask = ~cand_links
        # a candidate that is an exact copy of an active base link is a data error, not a project
        base_pairs = {
            (int(network.tail[a]), int(network.head[a]))
            for a in np.flatnonzero(self.base_mask)
        }
        replaced = {int(a) for links in self.closes for a in links}
        for i, links in enumerate(self.opens):
            for a in links:
                pair = (int(network.tail[a]), int(network.head[a]))
                if pair in base_pairs and not any(
                    (int(network.tail[r]), int(network.head[r])) == pair for r in replaced
                ):
                    ids = network.node_ids
                    raise InstanceError(
                        f"candidate {i}: link {ids[pair[0]]}->{ids[pair[1]]} duplicates a base link; "
                        "pass it in replaces= if it is an upgrade of that link"
                    )
        dem = np.asarray(demand, dtype=np.float64)
        if dem.ndim != 2 or dem.shape[0] != dem.shape[1]:
            raise InputError(f"demand must be a square zone matrix, got shape {dem.shape}")
        if dem.shape[0] > network.n_nodes:
            raise InputError(f"demand has {dem.shape[0]} zones but the network has {network.n_nodes} nodes")
        if np.any(~np.isfinite(dem) | (dem < 0)):
            raise InputError("demand has negative or non-finite entries")
        self.engine_demand = dem
        self.engine = Equilibrium.from_network(network, dem)
        # integer costs for CP-SAT: exact when costs have few decimals, conservative otherwise
        self.cost_scale = 1
        while self.cost_scale < 10**6 and np.any(np.abs(self.costs * self.cost_scale - np.round(self.costs * self.cost_scale)) > 1e-9):
            self.cost_scale *= 10
        self.int_costs = np.ceil(self.costs * self.cost_scale - 1e-9).astype(np.int64)
        self.int_budget = int(math.floor(self.budget * self.cost_scale + 1e-9))

    # designs are bitmasks over candidate positions
    def design_mask(self, bits: int) -> np.ndarray:
        mask = self.base_mask.copy()
        for i in range(self.n):
            if bits >> i & 1:
                mask[self.opens[i]] = True
        for i in range(self.n):
            if bits >> i & 1:
                mask[self.closes[i]] = False
        return mask

    def bound_mask(self, bits: int) -> np.ndarray:
        """Links of every design that is a subset of ``bits`` (replaced links stay open)."""
        mask = self.base_mask.copy()
        for i in range(self.n):
            if bits >> i & 1:
                mask[self.opens[i]] = True
        return mask

    def feasible(self, bits: int) -> bool:
        cost = sum(int(self.int_costs[i]) for i in range(self.n) if bits >> i & 1)
        if cost > self.int_budget:
            return False
        for i, j in self.requires:
            if bits >> i & 1 and not bits >> j & 1:
                return False
        for i, j in self.excludes:
            if bits >> i & 1 and bits >> j & 1:
                return False
        return True

    def cost_of(self, bits: int) -> int:
        return sum(int(self.int_costs[i]) for i in range(self.n) if bits >> i & 1)

    def extend(self, bits: int) -> int:
        """Greedily add projects (in index order) while the design stays feasible."""
        for i in range(self.n):
            if not bits >> i & 1 and self.feasible(bits | 1 << i):
                bits |= 1 << i
        return bits

    def selected(self, bits: int) -> tuple[int, ...]:
        return tuple(i for i in range(self.n) if bits >> i & 1)

    def links_of(self, bits: int) -> list[tuple[int, int]]:
        ids = self.network.node_ids
        out = []
        for i in self.selected(bits):
            for a in self.opens[i]:
                out.append((int(ids[self.network.tail[a]]), int(ids[self.network.head[a]])))
        return out


#: A UE solve asked for a gap below this floor is a polish (the incumbent's re-solve to
#: ``verify_gap`` = 1e-10, below what double precision allows on some networks: on Anaheim the
#: path-based equilibrium stalls near 4e-9).  A stalled polish is kept with the gap it reached
#: when that gap is at most the evaluator's ``accept`` (at least this floor; :func:`solvers.dndp.
#: solve_dndp` uses three orders below its target gap, or the search's own ``ue_gap`` when that
#: is larger: a polished value is then no less accurate than the evaluations the search pruned
#: with); above it a stall is an error.  Until December 2026 a Newton shift used the cost its
#: path had before the earlier shifts of the same pass, and on A_DNDP_10_5's optimum the sweeps
#: circled at 8e-9..1.2e-8 (an error at a 1e-5 target); with current costs they go on down
#: (4.5e-9 after 800 sweeps from the same state), and that polish stops at 6.2e-9.  Some designs
#: still stall above 1e-8 (A_DNDP_20_4 at 25 %: 3.0e-8 after 20,000 sweeps, an error at 1e-5
#: until the ``ue_gap`` rule).
STALL_FLOOR = 1e-8

#: A UE solve to a gap below :data:`STALL_FLOOR` (a polish) runs in chunks of this many sweeps,
#: each warm-started from the last, and ends when a chunk leaves the gap below the floor without
#: halving it (the floating-point floor, or progress too slow to matter: the value is then within
#: about the floor, relative, of the equilibrium, three orders below the design gaps it serves;
#: the gap reached is reported).  Measured on Anaheim's base network (A_DNDP_10_3): the polish
#: from 1e-7 took 9,218 sweeps and 500 s to reach 1e-10; chunked it stops at 4.8e-9 after 11 s,
#: a TSTT 1.4e-9 (relative) away.
POLISH_CHUNK = 100


class _Evaluator:
    """Cached, warm-started UE and SO solves of designs."""

    def __init__(self, problem: _Problem, *, ue_gap: float, so_gap: float, accept: float = STALL_FLOOR) -> None:
        self.problem = problem
        self.ue_gap = ue_gap
        self.so_gap = so_gap
        self.accept = max(accept, STALL_FLOOR)  # a stalled polish's gap that still stands (STALL_FLOOR)
        self.ue: dict[int, tuple[float, float, PackedState]] = {}
        self.so: dict[int, tuple[float, PackedState]] = {}
        self.so_flows: dict[int, np.ndarray] = {}
        self.ue_solves = 0
        self.so_solves = 0
        self.at_floor: set[int] = set()  # designs whose UE stalled below STALL_FLOOR (kept as reached)
        self.elsewhere: set[int] = set()  # designs whose polish stuck and was finished by assign()
        self.max_sweeps = 20000  # per UE solve

    @staticmethod
    def _nearest(cache: dict[int, Any], bits: int) -> Any:
        best, best_d = None, None
        for key, value in cache.items():
            d = (key ^ bits).bit_count()
            if best_d is None or d < best_d:
                best, best_d = value, d
                if d <= 1:
                    break
        return best

    def ue_value(self, bits: int, *, gap: float | None = None, strict: bool = True) -> tuple[float, float]:
        """UE TSTT of the design (``inf`` if some OD pair cannot be routed) and the gap reached.

        ``strict=False`` is for a value that serves no bound and no choice (the base network's,
        reported for information): a polish that stalls above ``accept`` is kept with the gap it
        reached instead of raising, and it stops as soon as a chunk of sweeps no longer halves
        the gap.  Measured on EM_DNDP_20_10, whose base network has links at 24-29 times their
        capacity: its polish never got below 1.8e-7 and ran 20,000 sweeps (464 s) into an error.
        """
        target = self.ue_gap if gap is None else gap
        hit = self.ue.get(bits)
        if hit is not None and (hit[1] <= target or bits in self.at_floor):
            return hit[0], hit[1]
        warm = hit[2] if hit is not None else None
        if warm is None and self.ue:
            warm = self._nearest(self.ue, bits)[2]
        if warm is None and self.so:
            warm = self._nearest(self.so, bits)[1]
        res, sweeps = self._solve_ue(bits, target, warm, accept=self.accept if strict else math.inf)
        self.ue_solves += 1
        value = math.inf if res.tstt < 0 else res.tstt
        if value < math.inf and res.gap > target * 10:
            if not strict and hit is not None and hit[1] <= res.gap:
                return hit[0], hit[1]  # the earlier solve got closer: kept
            if not strict:
                self.ue[bits] = (value, res.gap, res.state)
                return value, res.gap
            if res.gap > self.accept:
                raise SolverError(f"UE solve stalled at relative gap {res.gap:.2e} (target {target:.0e}) "
                                  f"after {sweeps} sweeps")
            self.at_floor.add(bits)  # a polish that met its floor (double precision's, or accept): the value stands
        self.ue[bits] = (value, res.gap, res.state)
        return value, res.gap

    def _solve_ue(self, bits: int, target: float, warm: PackedState | None,
                  accept: float | None = None) -> tuple[Any, int]:
        """One UE solve (in :data:`POLISH_CHUNK` chunks when ``target`` is below the floor); the
        result with the smallest gap and the sweeps run.  A polish stops when a chunk no longer
        halves a gap at most ``accept`` (default the evaluator's)."""
        accept = self.accept if accept is None else accept
        engine, mask = self.problem.engine, self.problem.design_mask(bits)
        if target >= STALL_FLOOR:
            res = engine.solve(mask, gap=target, warm_start=warm, max_iterations=self.max_sweeps)
            return res, res.iterations
        best = engine.solve(mask, gap=target, warm_start=warm, max_iterations=min(POLISH_CHUNK, self.max_sweeps))
        sweeps = best.iterations
        tried_elsewhere = not math.isfinite(accept)
        while best.tstt >= 0 and best.gap > target and sweeps < self.max_sweeps:
            more = engine.solve(mask, gap=target, warm_start=best.state,
                                max_iterations=min(POLISH_CHUNK, self.max_sweeps - sweeps))
            sweeps += max(more.iterations, 1)
            slow = more.gap > 0.5 * best.gap
            stalled = slow and min(more.gap, best.gap) <= accept
            if more.gap <= best.gap:
                best = more
            if stalled:
                break
            if slow and not tried_elsewhere:
                # stuck above accept: the general path-based solver, from scratch (below)
                tried_elsewhere = True
                other = self._polish_elsewhere(bits, target, best)
                if other is not None and other.gap <= max(accept, 10 * target):
                    self.elsewhere.add(bits)
                    return other, sweeps
        return best, sweeps

    def _polish_elsewhere(self, bits: int, target: float, best: Any) -> Any:
        """The design's UE by :func:`solvers.assignment.assign` (gradient projection, cold start) to
        ``target``, as an engine result that keeps ``best``'s paths for warm starts; ``None`` if it
        gets no closer than ``best``.  Anaheim A_DNDP_20_10 at 25 %: this engine's polish of the
        incumbent stuck at 2.86e-7 for 20,000 sweeps (371 s), where ``assign`` reaches 9.6e-11 in
        2,513 iterations (14 s); the two values agree within 1.4e-7."""
        from solvers.assignment import assign
        from solvers.dndp._ue import EquilibriumResult

        res = assign(self.problem.network, self.problem.engine_demand, algorithm="gp", gap=target,
                     active=self.problem.design_mask(bits), max_iterations=self.max_sweeps)
        if not math.isfinite(res.tstt) or res.gap >= best.gap:
            return None
        return EquilibriumResult(tstt=float(res.tstt), bound=float(res.tstt), gap=float(res.gap),
                                 iterations=int(res.iterations), state=best.state, flows=np.asarray(res.flows),
                                 beckmann=float(res.objective))

    def so_bound(self, bits: int) -> float:
        """Certified lower bound on SO TSTT of the link set of ``bits`` (``inf`` if unroutable)."""
        if bits in self.so:
            return self.so[bits][0]
        warm = self._nearest(self.so, bits)[1] if self.so else None
        if warm is None and self.ue:
            warm = self._nearest(self.ue, bits)[2]
        res = self.problem.engine.solve(self.problem.bound_mask(bits), system_optimal=True, gap=self.so_gap,
                                        warm_start=warm, max_iterations=20000)
        self.so_solves += 1
        if res.tstt >= 0 and res.gap >= 1.0:
            # demand not fully assigned: the convexity bound would not be valid
            raise SolverError(f"SO solve could not assign all demand (path sets full) after {res.iterations} sweeps")
        value = math.inf if res.tstt < 0 else res.bound
        self.so[bits] = (value, res.state)
        if bits == (1 << self.problem.n) - 1:
            self.so_flows[bits] = res.flows
        return value


# ---------------------------------------------------------------------------- master
