"""Exact discrete network design under user equilibrium (the bilevel DNDP), with OR-Tools.

The upper level chooses binary projects (new links, or upgrades that replace a link by a
better copy) under a budget, dependencies and exclusions; the lower level is the user
equilibrium (UE) of the chosen design; the objective is the UE total system travel time
(TSTT).  Because of congestion, the best set is not the set of the best projects one by
one, and a project can even make things worse (Braess).

Two exact methods share the problem set-up, the cached warm-started equilibria
(:mod:`solvers.dndp_ue`) and the final checks.

Both rest on one fact: the system optimum (SO) of a link set bounds from below the UE TSTT
of every design whose links are a subset of it (adding links never raises the SO TSTT, and
UE >= SO).  The SO values used are certified Lagrangian lower bounds, not the rounded
objective of an approximate flow.

``method="bb"`` (default; :mod:`solvers.dndp_bb`): best-first branch and bound over the
set-enumeration tree of the projects, in the spirit of LeBlanc (1975) and Rey (2020)'s SOBB.
A node is a design ``S`` with the projects that could still join it (within the remaining
budget, not excluded, requirements reachable); the SO of ``S`` plus all of them bounds the
subtree, and because the budget shrinks down the tree those sets shrink fast.  SO solves are
pruning tests that stop as soon as the threshold is decided.  Above 12 candidates a greedy
design improved by swaps is the first incumbent.  On the 20-candidate Sioux Falls instances
this proves optima within 0.1 % where the CPLEX methods of Rey (2020) stop at 2.5-6.5 %.

``method="cuts"``: a combinatorial cut loop around a CP-SAT master.

- Each SO solve of a set ``S`` gives the master a cut ``eta >= SO(S)`` enforced when ``y``
  is a subset of ``S``.
- The master (CP-SAT: budget, dependencies, exclusions, cuts, no-good cuts for designs
  already evaluated) returns the design with the smallest lower bound, preferring larger
  designs on ties (their cut covers more subsets).  Its optimum is the global lower bound.
- That design gets an SO solve (a cut); if the cut does not already prune it, a UE solve
  (an incumbent candidate) and a no-good cut.
- It stops when ``incumbent - bound <= opt_gap * incumbent`` or at the time limit.
- Options: swap local search around each new incumbent, and a budget-aware SO bound from an
  outer-approximation MILP (:mod:`solvers.dndp_milp`, MathOpt/HiGHS; ``budget_bound=True``,
  usable with either method), whose design also seeds the incumbent.  The subset cuts alone
  cannot see the budget, which is why this loop stalls on 20 candidates.

Common to both: evaluations are warm-started from a neighbouring design; the incumbent and
every design within ``1e-4`` of it are re-solved to a relative gap of ``verify_gap`` (1e-10)
before the winner is declared, so near-ties are settled on tight equilibria (designs equal
to within ``10 * verify_gap``, such as one with a project no route uses, go to the cheapest);
the winner's UE TSTT is re-computed by :func:`solvers.assignment.assign` (path-based, cold start) as an
independent check (``DNDPResult.verified_objective``).

:func:`enumerate_designs` is the brute-force reference (Gray-code order, so each design is
warm-started from one differing by a single project); :func:`evaluate_design` solves one
design tightly.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from networks.errors import InfeasibleError, InputError, InstanceError, SolverError
from networks.tntp import RoadNetwork, network_from_columns
from solvers.dndp_bb import branch_and_bound
from solvers.dndp_ue import Equilibrium, PackedState

__all__ = [
    "DNDPInstance",
    "DNDPResult",
    "EnumerationResult",
    "read_dndp_instance",
    "solve_dndp",
    "enumerate_designs",
    "evaluate_design",
]

#: Scale of the Rey (2020) instances: demand and capacities are multiplied by this.
INSTANCE_SCALE = 1e-3


# ---------------------------------------------------------------------------- instances
@dataclass(frozen=True)
class DNDPInstance:
    """A network-design instance: a road network whose last links are candidates.

    Attributes
    ----------
    network : RoadNetwork
        Base links followed by the candidate links (capacities as scaled on reading).
    candidates : numpy.ndarray
        Link indices (into ``network``) of the candidate links, one binary project each.
    costs : numpy.ndarray
        Cost of each candidate, in the instance's units.
    name : str
        File name or label.
    """

    network: RoadNetwork
    candidates: np.ndarray
    costs: np.ndarray
    name: str = ""

    @property
    def total_cost(self) -> float:
        return float(np.sum(self.costs))

    def budget(self, fraction: float) -> float:
        """Budget as a fraction of the total candidate cost (Rey 2020 uses 0.25, 0.5, 0.75)."""
        if not 0.0 <= fraction:
            raise InputError(f"budget fraction {fraction!r} must be >= 0")
        return float(fraction) * self.total_cost

    def candidate_links(self) -> list[tuple[int, int]]:
        """Candidates as ``(from, to)`` pairs of original node ids."""
        ids = self.network.node_ids
        return [(int(ids[self.network.tail[a]]), int(ids[self.network.head[a]])) for a in self.candidates]


def _meta_value(path: Path, meta: dict[str, str], tag: str) -> int:
    if tag not in meta:
        raise InstanceError(f"{path}: metadata tag <{tag}> is missing")
    try:
        return int(meta[tag].split()[0])
    except (ValueError, IndexError):
        raise InstanceError(f"{path}: <{tag}> is {meta[tag]!r}, expected an integer") from None


def read_dndp_instance(path: str | os.PathLike[str], *, capacity_scale: float = INSTANCE_SCALE) -> DNDPInstance:
    """Read a DNDP instance (Rey 2020 format): a TNTP net file with candidates appended.

    The file has the TNTP metadata plus ``<NUMBER OF NEW LINKS>``; each link line has the ten
    TNTP columns and an eleventh, the cost (0 for base links); the last
    ``<NUMBER OF NEW LINKS>`` lines are the candidates.

    Parameters
    ----------
    path : path-like
        The instance file.
    capacity_scale : float
        Multiplier applied to capacities (the instances' convention is 1e-3, with demand
        scaled likewise, so the objective is UE TSTT / 1000).

    Raises
    ------
    InstanceError
        Missing metadata, a line that is not 11 numbers, a count that disagrees with the
        metadata, a node id out of range, a negative cost or attribute, a candidate that
        duplicates a base link or another candidate.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InstanceError(f"{p}: cannot read DNDP instance ({exc.strerror or exc})") from None
    meta: dict[str, str] = {}
    start = None
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith("<"):
            tag, _, rest = line[1:].partition(">")
            if tag.strip().upper() == "END OF METADATA":
                start = i + 1
                break
            meta[tag.strip().upper()] = rest.strip()
    if start is None:
        raise InstanceError(f"{p}: no <END OF METADATA> line; not a TNTP/DNDP instance file")
    n_nodes = _meta_value(p, meta, "NUMBER OF NODES")
    n_zones = _meta_value(p, meta, "NUMBER OF ZONES")
    first_thru = _meta_value(p, meta, "FIRST THRU NODE")
    n_links = _meta_value(p, meta, "NUMBER OF LINKS")
    n_new = _meta_value(p, meta, "NUMBER OF NEW LINKS")
    if n_new < 0 or n_links < 0:
        raise InstanceError(f"{p}: link counts must be >= 0 (links {n_links}, new links {n_new})")
    rows: list[list[float]] = []
    line_no: list[int] = []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("~"):
            continue
        line = line.replace(";", " ")
        parts = line.split()
        if len(parts) != 11:
            raise InstanceError(
                f"{p}:{i + 1}: link line has {len(parts)} columns, expected 11 "
                "(init term capacity length free_flow_time b power speed toll type cost)"
            )
        try:
            rows.append([float(v) for v in parts])
        except ValueError:
            raise InstanceError(f"{p}:{i + 1}: link line {line!r} has a non-numeric field") from None
        line_no.append(i + 1)
    if len(rows) != n_links + n_new:
        raise InstanceError(
            f"{p}: found {len(rows)} link lines, expected <NUMBER OF LINKS> {n_links} + <NUMBER OF NEW LINKS> {n_new}"
        )
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 11)
    for col, what in ((0, "init node"), (1, "term node")):
        bad = np.flatnonzero((arr[:, col] != np.round(arr[:, col])) | (arr[:, col] < 1) | (arr[:, col] > n_nodes))
        if bad.size:
            raise InstanceError(f"{p}:{line_no[bad[0]]}: {what} {arr[bad[0], col]:g} is not a node id in 1..{n_nodes}")
    for col, what in ((2, "capacity"), (4, "free flow time"), (5, "b"), (6, "power"), (10, "cost")):
        bad = np.flatnonzero(~np.isfinite(arr[:, col]) | (arr[:, col] < 0))
        if bad.size:
            raise InstanceError(f"{p}:{line_no[bad[0]]}: {what} {arr[bad[0], col]:g} is negative; expected >= 0")
    bad = np.flatnonzero((arr[:, 5] > 0) & (arr[:, 2] <= 0))
    if bad.size:
        raise InstanceError(f"{p}:{line_no[bad[0]]}: capacity 0 on a link with BPR b > 0")
    seen: dict[tuple[int, int], int] = {}
    for k, (u, v) in enumerate(arr[:, :2].astype(np.int64)):
        key = (int(u), int(v))
        if key in seen:
            kind = "base link" if seen[key] < n_links else "candidate"
            raise InstanceError(
                f"{p}:{line_no[k]}: link {u}->{v} duplicates the {kind} on line {line_no[seen[key]]}; "
                "a candidate must be a new link (model an upgrade as a replacing project in solve_dndp)"
            )
        seen[key] = k
    net = network_from_columns(arr, n_nodes=n_nodes, n_zones=n_zones, first_thru=first_thru, name=p.name,
                               capacity_scale=capacity_scale)
    return DNDPInstance(
        network=net,
        candidates=np.arange(n_links, n_links + n_new, dtype=np.int64),
        costs=arr[n_links:, 10].copy(),
        name=p.name,
    )


# ---------------------------------------------------------------------------- results
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
        ``"optimal"`` (gap within ``opt_gap``), ``"time_limit"``, or ``"empty_budget"``
        (no project fits the budget: the base network is the answer).
    ue_solves, so_solves, master_solves : int
        Equilibrium solves (UE, SO) and CP-SAT master solves (``method="cuts"``).
    seconds : float
        Wall time.
    ue_gap_reached : float
        Relative gap of the final UE solve of the chosen design.
    base_objective : float
        UE TSTT of the empty design.
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


class _Evaluator:
    """Cached, warm-started UE and SO solves of designs."""

    def __init__(self, problem: _Problem, *, ue_gap: float, so_gap: float) -> None:
        self.problem = problem
        self.ue_gap = ue_gap
        self.so_gap = so_gap
        self.ue: dict[int, tuple[float, float, PackedState]] = {}
        self.so: dict[int, tuple[float, PackedState]] = {}
        self.so_flows: dict[int, np.ndarray] = {}
        self.ue_solves = 0
        self.so_solves = 0

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

    def ue_value(self, bits: int, *, gap: float | None = None) -> tuple[float, float]:
        """UE TSTT of the design (``inf`` if some OD pair cannot be routed) and the gap reached."""
        target = self.ue_gap if gap is None else gap
        hit = self.ue.get(bits)
        if hit is not None and hit[1] <= target:
            return hit[0], hit[1]
        warm = hit[2] if hit is not None else None
        if warm is None and self.ue:
            warm = self._nearest(self.ue, bits)[2]
        if warm is None and self.so:
            warm = self._nearest(self.so, bits)[1]
        res = self.problem.engine.solve(self.problem.design_mask(bits), gap=target, warm_start=warm,
                                        max_iterations=20000)
        self.ue_solves += 1
        value = math.inf if res.tstt < 0 else res.tstt
        if value < math.inf and res.gap > target * 10:
            raise SolverError(f"UE solve stalled at relative gap {res.gap:.2e} (target {target:.0e}) after {res.iterations} sweeps")
        self.ue[bits] = (value, res.gap, res.state)
        return value, res.gap

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
def _design_space(problem: _Problem) -> tuple[cp_model.CpModel, list[Any]]:
    """CP-SAT model of the feasible designs: one boolean per project, budget, requirements, exclusions."""
    m = cp_model.CpModel()
    y = [m.NewBoolVar(f"y{i}") for i in range(problem.n)]
    m.Add(sum(int(c) * v for c, v in zip(problem.int_costs, y)) <= problem.int_budget)
    for i, j in problem.requires:
        m.AddImplication(y[i], y[j])
    for i, j in problem.excludes:
        m.AddBoolOr([y[i].Not(), y[j].Not()])
    return m, y


def _certify(problem: _Problem, cuts: Sequence[tuple[int, float]], designs: Iterable[int], level: float,
             *, time_limit: float | None, seed: int) -> tuple[str, int]:
    """Check with CP-SAT that no feasible design can be below ``level``.

    Every feasible design must be one of ``designs`` (evaluated, none below ``level``) or a
    subset of the link set of a cut ``(bits, bound)`` with ``bound >= level``.  The model asks
    for a feasible design outside all of them; ``"INFEASIBLE"`` is the certificate.  Returns
    the CP-SAT status name and, when it finds one, the uncovered design.
    """
    m, y = _design_space(problem)
    n = problem.n
    for bits, bound in cuts:
        if bound >= level:
            m.AddBoolOr([y[i] for i in range(n) if not bits >> i & 1] or [False])
    for bits in designs:
        m.AddBoolOr([y[i].Not() if bits >> i & 1 else y[i] for i in range(n)])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    if time_limit is not None:
        solver.parameters.max_time_in_seconds = max(0.1, time_limit)
    status = solver.Solve(m)
    found = -1
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = sum(1 << i for i in range(n) if solver.Value(y[i]))
    return solver.StatusName(status), found


class _Master:
    """CP-SAT model over the binary design: min eta subject to cuts."""

    def __init__(self, problem: _Problem, *, scale: float, eta_lb: int, eta_ub: int, seed: int) -> None:
        self.problem = problem
        self.scale = scale
        m, self.y = _design_space(problem)
        self.model = m
        self.eta = m.NewIntVar(eta_lb, eta_ub, "eta")
        # best bound first; try larger designs first (their SO cut covers more subsets)
        m.Minimize(self.eta)
        m.AddDecisionStrategy(self.y, cp_model.CHOOSE_FIRST, cp_model.SELECT_MAX_VALUE)
        self.solver = cp_model.CpSolver()
        self.solver.parameters.num_workers = 1
        self.solver.parameters.random_seed = seed
        self.solver.parameters.cp_model_presolve = False  # tiny model re-solved many times
        self.solves = 0
        self.floor = eta_lb

    def raise_floor(self, value: float) -> None:
        """Record a proven lower bound on eta: lets CP-SAT stop at the first design reaching it."""
        level = int(math.floor(value * self.scale))
        if level > self.floor:
            self.floor = level
            self.model.Add(self.eta >= level)

    def add_subset_cut(self, bits: int, value: float) -> None:
        """``eta >= value`` for every design that is a subset of ``bits``."""
        outside = [self.y[i].Not() for i in range(self.problem.n) if not bits >> i & 1]
        if math.isinf(value):
            # no design inside `bits` can route the demand
            self.model.AddBoolOr([self.y[i] for i in range(self.problem.n) if not bits >> i & 1] or [False])
            return
        rhs = int(math.floor(value * self.scale))
        if outside:
            self.model.Add(self.eta >= rhs).OnlyEnforceIf(outside)
        else:
            self.model.Add(self.eta >= rhs)

    def add_no_good(self, bits: int) -> None:
        self.model.AddBoolOr([self.y[i].Not() if bits >> i & 1 else self.y[i] for i in range(self.problem.n)])

    def solve(self, time_limit: float | None) -> tuple[int, float] | None:
        if time_limit is not None:
            self.solver.parameters.max_time_in_seconds = max(0.01, time_limit)
        status = self.solver.Solve(self.model)
        self.solves += 1
        if status == cp_model.INFEASIBLE:
            return None
        if status == cp_model.UNKNOWN and time_limit is not None:
            return -1, -math.inf  # out of time before the master found a design
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise SolverError(f"CP-SAT master ended with status {self.solver.StatusName(status)}")
        bits = sum(1 << i for i in range(self.problem.n) if self.solver.Value(self.y[i]))
        if status == cp_model.OPTIMAL:
            eta = self.solver.Value(self.eta)
        else:  # stopped early: only the proven bound is a bound
            eta = math.floor(self.solver.BestObjectiveBound())
        return bits, eta / self.scale


# ---------------------------------------------------------------------------- solver
def _cut_loop(
    problem: _Problem,
    ev: _Evaluator,
    *,
    root: float,
    base_value: float,
    global_floor: float,
    milp_bits: int,
    opt_gap: float,
    time_limit: float | None,
    elapsed: Any,
    seed: int,
    local_search: bool | None,
) -> tuple[float, int, float, str, list[tuple[float, float, float]], int]:
    """The CP-SAT cut loop (``method="cuts"``); returns incumbent, its design, bound, status,
    history and the number of master solves."""
    full = (1 << problem.n) - 1
    scale = 1e7 / max(root, 1e-9)  # eta in units of 1e-7 of the root bound
    master = _Master(problem, scale=scale, eta_lb=int(math.floor(root * scale)) - 1,
                     eta_ub=int(4e15), seed=seed)
    master.add_subset_cut(full, root)
    incumbent, inc_bits = (base_value, 0)
    master.add_no_good(0)
    lower = max(root, global_floor)
    history = [(elapsed(), incumbent, lower)]
    status = "optimal"
    if local_search is None:
        local_search = problem.n > 12
    pending: list[int] = []
    queued: set[int] = set()

    def enqueue_neighbours(bits: int) -> None:
        # swap one chosen project for one unchosen, then fill the budget greedily
        for i in problem.selected(bits):
            for j in range(problem.n):
                if bits >> j & 1:
                    continue
                nb = problem.extend((bits & ~(1 << i)) | (1 << j))
                if nb not in queued and problem.feasible(nb):
                    queued.add(nb)
                    pending.append(nb)

    def try_design(bits: int) -> None:
        nonlocal incumbent, inc_bits
        so = ev.so_bound(bits)
        master.add_subset_cut(bits, so)
        if so < incumbent and bits not in ev.ue:
            value, _ = ev.ue_value(bits)
            master.add_no_good(bits)
            if value < incumbent:
                incumbent, inc_bits = value, bits
                history.append((elapsed(), incumbent, lower))
                if local_search:
                    enqueue_neighbours(bits)

    if milp_bits >= 0 and problem.feasible(milp_bits):
        pending.append(problem.extend(milp_bits))
    while True:
        if incumbent < math.inf and incumbent - lower <= opt_gap * incumbent:
            break
        remaining = None if time_limit is None else time_limit - elapsed()
        if remaining is not None and remaining <= 0:
            status = "time_limit"
            break
        if pending:  # local search around the incumbent first: cheap, improves pruning
            try_design(pending.pop(0))
            continue
        out = master.solve(remaining)
        if out is None:  # every feasible design is evaluated or cut off
            lower = incumbent
            break
        bits, eta = out
        if bits < 0:
            status = "time_limit"
            break
        master.raise_floor(eta)
        new_lower = min(incumbent, max(lower, eta, global_floor))
        if new_lower != lower:
            lower = new_lower
            history.append((elapsed(), incumbent, lower))
        if incumbent < math.inf and incumbent - lower <= opt_gap * incumbent:
            break
        # Among designs at the master's bound level, prefer a maximal one: extending the master's
        # design keeps it at the same level (every cut covering the extension covers the design)
        # and its SO cut then covers more subsets.
        grown = problem.extend(bits)
        if grown not in ev.so:
            bits = grown
        try_design(bits)
    return incumbent, inc_bits, lower, status, history, master.solves


def solve_dndp(
    network: RoadNetwork,
    demand: np.ndarray,
    candidates: Sequence[int | Sequence[int]],
    costs: Sequence[float] | np.ndarray,
    *,
    budget: float,
    requires: Iterable[tuple[int, int]] = (),
    excludes: Iterable[tuple[int, int]] = (),
    replaces: dict[int, Sequence[int]] | None = None,
    time_limit: float | None = None,
    opt_gap: float = 1e-3,
    ue_gap: float = 1e-7,
    so_gap: float = 1e-5,
    verify_gap: float = 1e-10,
    seed: int = 0,
    budget_bound: bool = False,
    budget_bound_time: float | None = None,
    local_search: bool | None = None,
    method: str = "bb",
) -> DNDPResult:
    """Choose projects minimising user-equilibrium TSTT under a budget; exact up to ``opt_gap``.

    Parameters
    ----------
    network : RoadNetwork
        All links: base links and every candidate link (candidates are off unless chosen).
    demand : numpy.ndarray
        ``n_zones x n_zones`` trips.
    candidates : sequence
        One entry per project: a link index, or several link indices opened together.
    costs : sequence of float
        Cost per project (>= 0).
    budget : float
        Upper bound on the total cost of the chosen projects.
    requires : iterable of (i, j)
        Project ``i`` may only be chosen with project ``j``.
    excludes : iterable of (i, j)
        Projects ``i`` and ``j`` are mutually exclusive.
    replaces : dict, optional
        ``{i: [link, ...]}``: base links switched off when project ``i`` is chosen (an upgrade
        modelled as a better copy of the link).  Those links stay open in the SO bounds, which
        keeps the bounds valid.
    time_limit : float, optional
        Seconds for the search; on expiry the incumbent and its proven gap are returned.  The
        final tight re-solves of the winner and its near-ties, and (``"bb"``) the CP-SAT check
        of the certificate (a tenth of the limit, 5 to 60 s), come on top.
    opt_gap : float
        Relative optimality gap at which to stop (1e-3 = 0.1 %).
    ue_gap, so_gap : float
        Relative gaps of the UE evaluations and SO bounds during the search (SO bounds are
        certified Lagrangian bounds, so a looser SO gap only weakens them).
    verify_gap : float
        Relative gap of the final UE re-solves of the incumbent and its near-ties.
    seed : int
        CP-SAT random seed (one worker: runs are deterministic).
    budget_bound : bool
        Also compute the budget-aware SO bound of :func:`solvers.dndp_milp.so_budget_bound`
        (an outer-approximation MILP solved with MathOpt/HiGHS) before the cut loop.  It costs
        a MILP solve (minutes on 20 candidates) and pays off only when many candidates
        compete for the budget, where the SO of "every candidate open" is a weak bound.
    budget_bound_time : float, optional
        Time limit for that MILP (its dual bound stays valid when stopped early).
    local_search : bool, optional
        Start from a greedy design improved by one-for-one swaps (``"bb"``), or evaluate the
        swap neighbours of every new incumbent before asking the master again (``"cuts"``);
        default: only with more than 12 candidates.
    method : {"bb", "cuts"}
        ``"bb"`` (default): greedy and swap heuristics, then best-first branch and bound over
        the set-enumeration tree with budget-aware subtree SO bounds
        (:mod:`solvers.dndp_bb`).  ``"cuts"``: the CP-SAT master with SO subset cuts and
        no-good cuts described in the module docstring.

    Returns
    -------
    DNDPResult

    Raises
    ------
    InputError
        Negative costs or budget, bad indices, a candidate duplicating a base link.
    InfeasibleError
        Some OD pair cannot be routed even with every candidate open.
    """
    started = time.perf_counter()
    if method not in ("bb", "cuts"):
        raise InputError(f"method {method!r}: expected 'bb' or 'cuts'")
    problem = _Problem(network, demand, candidates, costs, budget=budget, requires=requires,
                       excludes=excludes, replaces=replaces)
    ev = _Evaluator(problem, ue_gap=ue_gap, so_gap=so_gap)

    def elapsed() -> float:
        return time.perf_counter() - started

    full = (1 << problem.n) - 1
    root = ev.so_bound(full)
    if math.isinf(root):
        raise InfeasibleError(
            f"{network.name or 'network'}: some OD pair with demand has no path even with all {problem.n} candidates open"
        )
    base_value, _ = ev.ue_value(0)
    affordable = [i for i in range(problem.n) if problem.int_costs[i] <= problem.int_budget]
    if not affordable:
        cheapest = float(problem.costs.min()) if problem.n else math.nan
        if math.isinf(base_value):
            raise InfeasibleError("no project fits the budget and the base network cannot route the demand")
        value, g = ev.ue_value(0, gap=verify_gap)
        return DNDPResult(
            selected=(), selected_links=[], objective=value, bound=value, gap=0.0, status="empty_budget",
            ue_solves=ev.ue_solves, so_solves=ev.so_solves, master_solves=0, seconds=elapsed(),
            ue_gap_reached=g, base_objective=value, verified_objective=_verify(problem, 0, verify_gap),
            message=f"budget {budget:g} is below the cheapest project ({cheapest:g}): the empty design is the only one",
        )
    global_floor = -math.inf  # a bound valid for every feasible design (budget-aware MILP)
    milp_bits = -1
    if budget_bound:
        from solvers.dndp_milp import so_budget_bound

        limit = budget_bound_time
        if time_limit is not None:
            limit = min(limit or math.inf, 0.5 * max(0.0, time_limit - elapsed()))
        global_floor, milp_bits, _ = so_budget_bound(
            n_nodes=network.n_nodes, tail=network.tail, head=network.head,
            free_flow_time=network.free_flow_time, b=network.b, capacity=network.capacity,
            power=network.power, demand=problem.engine_demand, first_thru_node=network.first_thru_node,
            link_on=problem.base_mask, project_links=problem.opens, int_costs=problem.int_costs,
            int_budget=problem.int_budget, requires=problem.requires, excludes=problem.excludes,
            seed_flows=[ev.so_flows[full]], time_limit=limit,
        )
        if math.isinf(global_floor):
            raise InfeasibleError("no budget-feasible design can route the demand")
    if method == "bb":
        deadline = time_limit
        outcome = branch_and_bound(problem, ue_gap=ue_gap, so_gap=so_gap, opt_gap=opt_gap, elapsed=elapsed,
                                   deadline=deadline, root_bound=max(root, global_floor), root_flows=ev.so_flows[full],
                                   base_value=base_value, heuristics=problem.n > 12 if local_search is None else local_search)
        if milp_bits >= 0 and problem.feasible(milp_bits):
            v, _ = ev.ue_value(milp_bits)
            outcome.ue_values[milp_bits] = v
            if v < outcome.incumbent:
                outcome.incumbent, outcome.bits = v, milp_bits
        incumbent, inc_bits = outcome.incumbent, outcome.bits
        # CP-SAT re-checks the tree's certificate: every feasible design evaluated or under a cut
        # the root SO bound, and the budget-aware MILP bound, hold for every feasible design
        cuts = [*outcome.cuts, (full, max(root, global_floor))]
        cert_limit = 60.0 if time_limit is None else max(5.0, min(60.0, 0.1 * time_limit))
        cert_status, uncovered = _certify(problem, cuts, outcome.ue_values, outcome.lower, time_limit=cert_limit,
                                          seed=seed)
        if cert_status == "FEASIBLE" or cert_status == "OPTIMAL":
            raise SolverError(f"branch-and-bound certificate check failed: design {problem.selected(uncovered)} "
                              f"is neither evaluated nor under a bound >= {outcome.lower:.6f}")
        certified = cert_status == "INFEASIBLE"
        lower = min(incumbent, max(outcome.lower, global_floor))
        status = "optimal" if outcome.complete else "time_limit"
        history, master_solves, nodes = outcome.history, 0, outcome.nodes
        evaluated = outcome.ue_values
        extra_ue, extra_so = outcome.ue_solves, outcome.so_solves
    else:
        incumbent, inc_bits, lower, status, history, master_solves = _cut_loop(
            problem, ev, root=root, base_value=base_value, global_floor=global_floor, milp_bits=milp_bits,
            opt_gap=opt_gap, time_limit=time_limit, elapsed=elapsed, seed=seed, local_search=local_search)
        evaluated = {b: v for b, (v, _, _) in ev.ue.items()}
        nodes, extra_ue, extra_so = 0, 0, 0
        certified = None
    if math.isinf(incumbent):
        raise InfeasibleError("no budget-feasible design can route the demand")
    # settle near-ties on tight equilibria
    near = [b for b, v in evaluated.items() if v <= incumbent * (1 + 1e-4)] or [inc_bits]
    tight = {b: ev.ue_value(b, gap=verify_gap) for b in sorted(near)}
    best_value = min(v for v, _ in tight.values())
    # designs equal to the solve accuracy (a project no route uses adds nothing): the cheapest
    tied = [b for b, (v, _) in tight.items() if v <= best_value * (1 + 10 * verify_gap)]
    best_bits = min(tied, key=lambda b: (problem.cost_of(b), tight[b][0], b))
    best_value, best_gap = tight[best_bits]
    base_tight, _ = ev.ue_value(0, gap=verify_gap) if 0 in ev.ue else (base_value, 0.0)
    verified = _verify(problem, best_bits, verify_gap)
    lower = min(lower, best_value)
    gap = (best_value - lower) / best_value if best_value > 0 else 0.0
    message = (
        f"{'optimal' if status == 'optimal' else 'time limit reached'}: {len(problem.selected(best_bits))} of "
        f"{problem.n} projects, UE TSTT {best_value:.4f} (base {base_tight:.4f}), bound {lower:.4f}, gap {gap:.3%}"
    )
    if certified is not None:
        message += "; bound re-checked by CP-SAT" if certified else "; CP-SAT re-check of the bound did not finish"
    return DNDPResult(
        selected=problem.selected(best_bits),
        selected_links=problem.links_of(best_bits),
        objective=best_value,
        bound=lower,
        gap=gap,
        status=status,
        ue_solves=ev.ue_solves + extra_ue,
        so_solves=ev.so_solves + extra_so,
        master_solves=master_solves,
        nodes=nodes,
        certified=certified,
        method=method,
        seconds=elapsed(),
        ue_gap_reached=best_gap,
        base_objective=base_tight,
        verified_objective=verified,
        message=message,
        history=history,
    )


def _verify(problem: _Problem, bits: int, gap: float) -> float:
    """UE TSTT of a design by the general assignment module (an independent check)."""
    from solvers.assignment import assign

    res = assign(problem.network, problem.engine_demand, algorithm="gp", gap=gap,
                 active=problem.design_mask(bits), max_iterations=20000)
    return float(res.tstt)


def evaluate_design(
    network: RoadNetwork,
    demand: np.ndarray,
    candidates: Sequence[int | Sequence[int]],
    selected: Iterable[int],
    *,
    replaces: dict[int, Sequence[int]] | None = None,
    gap: float = 1e-10,
) -> float:
    """UE TSTT of one design (positions into ``candidates``), solved to relative gap ``gap``.

    Returns ``inf`` when some OD pair cannot be routed in that design.
    """
    problem = _Problem(network, demand, candidates, np.zeros(len(candidates)), budget=0.0,
                       requires=(), excludes=(), replaces=replaces)
    bits = 0
    for i in selected:
        if not 0 <= int(i) < problem.n:
            raise InputError(f"evaluate_design: project {i} outside 0..{problem.n - 1}")
        bits |= 1 << int(i)
    res = problem.engine.solve(problem.design_mask(bits), gap=gap, max_iterations=50000)
    return math.inf if res.tstt < 0 else res.tstt


def enumerate_designs(
    network: RoadNetwork,
    demand: np.ndarray,
    candidates: Sequence[int | Sequence[int]],
    costs: Sequence[float] | np.ndarray,
    *,
    budget: float,
    requires: Iterable[tuple[int, int]] = (),
    excludes: Iterable[tuple[int, int]] = (),
    replaces: dict[int, Sequence[int]] | None = None,
    ue_gap: float = 1e-7,
    verify_gap: float = 1e-10,
) -> EnumerationResult:
    """Brute force: the UE TSTT of every feasible design (the reference for tests and benchmarks).

    Designs are visited in Gray-code order so that each UE solve starts from a design that
    differs by one project; the best designs (within 1e-4) are re-solved to ``verify_gap``.
    Same parameters as :func:`solve_dndp`.
    """
    started = time.perf_counter()
    problem = _Problem(network, demand, candidates, costs, budget=budget, requires=requires,
                       excludes=excludes, replaces=replaces)
    if problem.n > 24:
        raise InputError(f"enumerate_designs: {problem.n} candidates means 2^{problem.n} designs; refusing")
    engine = problem.engine
    values: dict[tuple[int, ...], float] = {}
    raw: dict[int, float] = {}
    warm: PackedState | None = None
    solves = 0
    for k in range(1 << problem.n):
        bits = k ^ (k >> 1)
        if not problem.feasible(bits):
            continue
        res = engine.solve(problem.design_mask(bits), gap=ue_gap, warm_start=warm, max_iterations=20000)
        solves += 1
        if res.tstt >= 0:
            warm = res.state
            raw[bits] = res.tstt
    if not raw:
        raise InfeasibleError("no budget-feasible design can route the demand")
    best = min(raw.values())
    ev = _Evaluator(problem, ue_gap=verify_gap, so_gap=1e-5)
    for bits, v in raw.items():
        if v <= best * (1 + 1e-4):
            raw[bits] = ev.ue_value(bits, gap=verify_gap)[0]
    solves += ev.ue_solves
    for bits, v in raw.items():
        values[problem.selected(bits)] = v
    low = min(raw.values())
    best_bits = min((b for b, v in raw.items() if v <= low * (1 + 10 * verify_gap)),
                    key=lambda b: (problem.cost_of(b), raw[b], b))
    return EnumerationResult(
        selected=problem.selected(best_bits),
        objective=raw[best_bits],
        values=values,
        ue_solves=solves,
        seconds=time.perf_counter() - started,
    )
