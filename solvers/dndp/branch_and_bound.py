"""Best-first branch and bound over project sets for the DNDP (system-optimum bounds).

Private to :mod:`solvers.dndp`.  The search tree is the set-enumeration tree of the
candidates (sorted by their flow in the system optimum with every candidate open, busiest
first): a node is a design ``S`` and a position; its subtree holds ``S`` and every feasible
design that adds candidates from that position on.

Bounds.  Every design of a subtree uses only links of ``L = S + F``, where ``F`` are the
candidates that could still join ``S`` (after the position, within the remaining budget, not
excluded by ``S``, with their requirements satisfiable).  The system optimum (SO) of a link
set can only fall when links are added and the UE TSTT of a design is at least its SO TSTT,
so the certified SO bound of ``L`` bounds the whole subtree (LeBlanc 1975; Rey 2020's SOBB).
The design ``S`` itself is first tested against its own SO bound and gets a UE solve only
if that test does not rule it out.  Because the budget shrinks down the tree, ``F`` shrinks
quickly and the bounds tighten.

Two refinements for large budgets, where the SO bound (about 3 % under the UE TSTT on Sioux
Falls) leaves most of the tree open:

- Splitting by omission: when ``S`` and all of ``F`` overrun the budget, every feasible design
  below leaves out some candidate of ``F``, and the children are split by the first one left
  out (child ``j`` holds the candidates of ``F`` before ``j``, not ``j``, any after it) instead
  of by the next one added.  Each child's link set loses a candidate at once.
- Value-function bound (nodes with at most :data:`VALUE_BOUND_FREE` free candidates): every
  design ``y`` of the subtree contains ``S``, so the minimum Beckmann objective of its network
  is at most ``v``, the Beckmann objective of ``S``'s equilibrium flows; its UE flows are flows
  on ``L`` with a Beckmann objective at most ``v``.  The minimum TSTT over such flows bounds the
  subtree, and its Lagrangian with weight ``mu`` on TSTT, ``(min [mu TSTT + (1 - mu) B] - (1 -
  mu) v) / mu``, is certified by the weighted solve's Frank-Wolfe bound (``mu = 1`` is the SO
  bound; at a leaf, as ``mu`` falls, it tends to the UE TSTT itself).  The constraint is the
  "UE-reduction" of Wang, Meng and Yang (2013, Transportation Research Part B 50, 42-60: the
  Beckmann objective added to the constraints of the SO relaxation), with the minimum it is
  held to replaced by the value of ``S`` so that one convex solve bounds a whole subtree.
  Its cuts hold only for designs that contain ``S``: ``(link set, bound, S)``.
- The same bound for a single design: a design its own SO bound does not rule out is tested,
  before its equilibrium is solved, with the value-function bound from an evaluated design one
  candidate smaller (the subtree of that design within this one's links holds the two).  The
  bound is weaker than at a node (the constraint is slack by the fall of the Beckmann objective
  from the smaller design), but one loose weighted solve that prunes saves a UE solve to ``ue_gap``.

Pruning tests stop as soon as the answer is known: an SO solve ends when its certified
bound reaches the threshold (prune) or when the SO objective of its flows falls below it
(cannot prune); only the equilibria that can change the incumbent are solved tightly.

Best first: the open subtree with the smallest bound is expanded next, so the smallest
open bound is a valid global lower bound at any time (the anytime gap).  Warm starts come
from the parent's solutions, which each queued node keeps (beyond ``_WARM_NODES`` open nodes,
from the latest solution instead, to bound memory).

Every bound computed is kept as a cut ``(link set, bound[, S])``; :func:`solvers.dndp._certify`
has CP-SAT confirm that they and the evaluated designs cover every feasible design.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from networks.errors import SolverError
from solvers.dndp._ue import PackedState

__all__ = ["BBOutcome", "branch_and_bound"]

#: Open nodes beyond this count are queued without warm starts of their own (memory); they
#: start from the most recent solution instead.
_WARM_NODES = 20000

#: Share of the remaining search time the greedy-and-swap incumbent may use before the tree
#: search starts (with a time limit).  On Anaheim's 20-candidate instances an uncapped greedy
#: took the whole 600 s (173-215 UE solves) and the search never left the root.
HEURISTIC_SHARE = 0.25

#: Split a node by the first candidate left out when its free candidates overrun the budget.
OMIT_BRANCHING = True

#: Nodes with at most this many free candidates that the SO bound cannot prune get the
#: value-function bound (module docstring); 0 turns it off.
VALUE_BOUND_FREE = 3

#: Test a design that its own SO bound does not rule out with the value-function bound from an
#: evaluated design one candidate smaller before solving its equilibrium (:meth:`_Search.leaf_value_test`),
#: with weight :data:`LEAF_VALUE_MU` on TSTT.  The weight was read off 16 designs of SF_DNDP_10_1
#: (each against four of its one-smaller designs, weights 0.02-0.8): 0.2 gave the best bound where the
#: Beckmann objective falls least (the cases that can prune); on SF_DNDP_20_3 and _10 at 75 %, 0.1 and
#: 0.2 searched equally fast, 0.05 (the node table's weight for one free candidate) slower.
LEAF_VALUE_BOUND = True
LEAF_VALUE_MU = 0.2

#: Weighted solves per value-function bound (a bisection on the weight), and the relative gap each
#: is solved to unless it prunes first (the last also stops once it cannot prune).  One, with
#: the weight from :data:`_VALUE_BOUND_MU`, measured best: on SF_DNDP_20_5 at 50 % three solves
#: (each but the last to the gap) and solving ``S``'s equilibrium when the search has not made the
#: search slower than without the bound (time limit at 0.42 % against proved in 438 s).
VALUE_BOUND_TRIES = 1
VALUE_BOUND_GAP = 1e-4

#: Weight ``mu`` of TSTT in the first weighted solve of the value-function bound, by the number
#: of free candidates (fewer free candidates: the UE condition binds harder, a smaller weight).
#: Read off 150 unpruned nodes of SF_DNDP_20_5 at 75 % (the weight of 0.8-0.05 giving the best
#: bound, by free count); any weight in (0, 1] gives a valid bound, the table only its strength.
_VALUE_BOUND_MU = {1: 0.05, 2: 0.1, 3: 0.3, 4: 0.4, 5: 0.6}


@dataclass
class BBOutcome:
    """Result of :func:`branch_and_bound` (before the final tight re-solves)."""

    incumbent: float
    bits: int
    lower: float
    complete: bool
    nodes: int
    ue_solves: int
    so_solves: int
    ue_values: dict[int, float] = field(default_factory=dict)
    history: list[tuple[float, float, float]] = field(default_factory=list)
    cuts: list[tuple[int, float] | tuple[int, float, int]] = field(default_factory=list)


@dataclass(order=True)
class _Node:
    key: float
    seq: int
    bits: int = field(compare=False)
    pos: int = field(compare=False)
    spent: int = field(compare=False)
    so_warm: PackedState | None = field(compare=False, default=None)
    ue_warm: PackedState | None = field(compare=False, default=None)


class _Search:
    def __init__(self, problem: Any, *, ue_gap: float, so_gap: float, opt_gap: float,
                 elapsed: Callable[[], float], deadline: float | None) -> None:
        self.p = problem
        self.ue_gap = ue_gap
        self.so_gap = so_gap
        self.opt_gap = opt_gap
        self.elapsed = elapsed
        self.deadline = deadline
        self.ue: dict[int, float] = {}
        self.ue_state: dict[int, PackedState] = {}
        self.beckmann: dict[int, float] = {}  # Beckmann objective of evaluated flows: >= the design's minimum
        self.closing = sum(1 << i for i in range(problem.n) if len(problem.closes[i]))
        self.ue_solves = 0
        self.so_solves = 0
        self.incumbent = math.inf
        self.inc_bits = 0
        self.pruned_floor = math.inf  # smallest certified bound among pruned subtrees and designs
        # (link set as project bits, certified bound[, project bits every design under it holds])
        self.cuts: list[tuple[int, float] | tuple[int, float, int]] = []
        self.last_so: PackedState | None = None
        self.so_beckmann = math.inf  # Beckmann objective of the latest SO test's flows
        self.last_ue: PackedState | None = None
        self.history: list[tuple[float, float, float]] = []  # (seconds, incumbent, open bound)
        self.lower_hint = -math.inf  # smallest open bound, for the history
        n = problem.n
        self.excl_mask = [0] * n
        for i, j in problem.excludes:
            self.excl_mask[i] |= 1 << j
            self.excl_mask[j] |= 1 << i
        self.req_mask = [0] * n
        for i, j in problem.requires:
            self.req_mask[i] |= 1 << j

    # -- equilibria -----------------------------------------------------------------------
    def threshold(self) -> float:
        return self.incumbent * (1.0 - self.opt_gap) if math.isfinite(self.incumbent) else math.inf

    def out_of_time(self, deadline: float | None = None) -> bool:
        deadline = self.deadline if deadline is None else deadline
        return deadline is not None and self.elapsed() >= deadline

    def ue_value(self, bits: int, warm: PackedState | None) -> tuple[float, PackedState | None]:
        hit = self.ue.get(bits)
        if hit is not None:
            return hit, self.ue_state.get(bits)
        res = self.p.engine.solve(self.p.design_mask(bits), gap=self.ue_gap, warm_start=warm, max_iterations=20000)
        self.ue_solves += 1
        value = math.inf if res.tstt < 0 else res.tstt
        if value < math.inf and res.gap > self.ue_gap * 10:
            raise SolverError(f"UE solve stalled at relative gap {res.gap:.2e} (target {self.ue_gap:.0e}) "
                              f"after {res.iterations} sweeps")
        self.ue[bits] = value
        if value < math.inf:
            self.beckmann[bits] = res.beckmann
        if value < math.inf and value <= self.incumbent * (1.0 + 1e-4):
            self.ue_state[bits] = res.state
        if value < self.incumbent:
            self.incumbent, self.inc_bits = value, bits
            self.history.append((self.elapsed(), value, self.lower_hint))
        return value, res.state

    def so_test(self, bits: int, warm: PackedState | None) -> tuple[float, PackedState | None]:
        """Certified SO lower bound of the links of ``bits``, solved only as far as the threshold needs."""
        thr = self.threshold()
        res = self.p.engine.solve(self.p.bound_mask(bits), system_optimal=True, gap=self.so_gap, warm_start=warm,
                                  max_iterations=20000, stop_above=thr, stop_below=thr)
        self.so_solves += 1
        if res.tstt < 0:
            self.cuts.append((bits, math.inf))
            return math.inf, None
        if res.gap >= 1.0:
            raise SolverError(f"SO solve could not assign all demand (path sets full) after {res.iterations} sweeps")
        self.cuts.append((bits, res.bound))
        self.so_beckmann = res.beckmann
        return res.bound, res.state

    def value_test(self, bits: int, links: int, warm: PackedState | None, so_beckmann: float = math.inf,
                   mu: float | None = None) -> float:
        """Certified value-function bound of the designs that hold ``bits`` within ``links``.

        Every such design ``y`` has a network that contains ``bits``'s, so the minimum
        Beckmann objective of its flows is at most ``v``, the Beckmann objective of any flow
        that routes the demand on ``bits`` alone (here its equilibrium's).
        Its UE flows route the demand on the links of ``links`` with Beckmann objective at most
        ``v``: ``min TSTT(x)`` over such flows bounds its UE TSTT, and for every weight ``mu`` in
        (0, 1] the Lagrangian ``(min over x of [mu TSTT + (1 - mu) B](x) - (1 - mu) v) / mu``
        bounds that (``mu = 1`` is the SO bound).  The weighted minimum's certified lower bound
        is used, so the result is a bound however far the solve got.  Returns ``-inf`` when it
        does not apply: a free candidate replaces a link (its network does not contain
        ``bits``'s), the search has no equilibrium of ``bits`` (it solves one when ``bits`` is
        feasible and its own SO bound does not rule it out; solving one here only for this
        bound costs more than it prunes), or the SO flows of ``links`` (their Beckmann
        objective ``so_beckmann``) already meet the constraint, so that no weight below 1
        improves on the SO bound.
        """
        p = self.p
        thr = self.threshold()
        if links & self.closing & ~bits or not math.isfinite(thr):
            return -math.inf
        v = self.beckmann.get(bits)
        if v is None or so_beckmann <= v:
            return -math.inf
        free = bin(links & ~bits).count("1")
        mu = _VALUE_BOUND_MU.get(free, 0.8) if mu is None else mu
        # the Lagrangian is concave in the multiplier (1 - mu) / mu of the Beckmann constraint, whose
        # slope is B(x) - v at the weighted minimum x: bisect on mu with that sign, keep the best bound
        lo, hi = 0.0, 1.0
        best = -math.inf
        for k in range(VALUE_BOUND_TRIES):
            level = mu * thr + (1.0 - mu) * v
            # the last solve also stops once it cannot prune; earlier ones need their flows' B for the next mu
            last = k == VALUE_BOUND_TRIES - 1
            res = p.engine.solve(p.bound_mask(links), mu=mu, gap=VALUE_BOUND_GAP, warm_start=warm,
                                 max_iterations=20000, stop_above=level, stop_below=level if last else -math.inf)
            self.so_solves += 1
            if res.tstt < 0 or res.gap >= 1.0:
                return best
            bound = (res.bound - (1.0 - mu) * v) / mu
            if bound > best:
                best = bound
                self.cuts.append((links, bound, bits))
            if best >= thr:
                break
            if res.beckmann > v:
                hi = mu  # the constraint is broken: more weight on it
            else:
                lo = mu
            mu, warm = 0.5 * (lo + hi), res.state
        return best

    def leaf_value_test(self, bits: int, warm: PackedState | None, so_beckmann: float) -> float:
        """Value-function bound of the design ``bits`` alone, from an evaluated design one candidate smaller.

        ``bits`` holds ``P = bits`` less one candidate whose equilibrium the search has solved:
        :meth:`value_test` of ``P`` within the links of ``bits`` covers exactly ``P`` and
        ``bits``, and with one free candidate it is close to ``bits``'s UE TSTT (the smaller the
        Beckmann objective's fall from ``P`` to ``bits``, the closer), at the cost of one
        weighted solve to a loose gap instead of a UE solve to ``ue_gap``.  Of the evaluated
        subsets the one with the smallest Beckmann objective gives the tightest bound.
        Returns ``-inf`` when no such subset is known or the bound does not apply.
        """
        best, held = math.inf, None
        for i in self.p.selected(bits):
            sub = bits & ~(1 << i)
            v = self.beckmann.get(sub)
            if v is not None and v < best:
                best, held = v, sub
        if held is None:
            return -math.inf
        return self.value_test(held, bits, warm, so_beckmann, LEAF_VALUE_MU)

    # -- tree ------------------------------------------------------------------------------
    def candidates_after(self, bits: int, pos: int, spent: int) -> list[int]:
        """Positions ``q >= pos`` whose candidate may still join ``bits`` in a feasible design.

        Every candidate of a feasible design below this node is among them (budget room only
        shrinks and exclusions only grow down the tree), so their union bounds the subtree.
        """
        p = self.p
        room = p.int_budget - spent
        out = []
        excluded = self.excluded_by(bits)
        for q in range(pos, p.n):
            i = self.order[q]
            if excluded >> i & 1 or p.int_costs[i] > room:
                continue
            if self.dead(self.req_mask[i] & ~bits, pos):
                continue
            out.append(q)
        return out

    def excluded_by(self, bits: int) -> int:
        """The candidates that some candidate of ``bits`` excludes (as bits)."""
        out = 0
        for i in self.p.selected(bits):
            out |= self.excl_mask[i]
        return out

    def overruns(self, node: _Node, qs: list[int]) -> bool:
        """Whether ``node.bits`` and all its free candidates ``qs`` exceed the budget (split by omission)."""
        return OMIT_BRANCHING and node.spent + sum(int(self.p.int_costs[self.order[q]]) for q in qs) > self.p.int_budget

    def children(self, node: _Node, qs: list[int], split: bool) -> list[tuple[int, int, int]]:
        """The child subtrees ``(bits, pos, spent)`` that partition ``node``'s subtree (without ``node.bits`` itself).

        When ``node.bits`` plus all of its free candidates fit the budget, the children add
        one free candidate each (the set-enumeration tree).  When they do not, every feasible
        design below leaves out at least one of them, and the children are split by the first
        candidate left out instead: child ``j`` holds every free candidate before ``j``, not
        ``j``, and any of those after it.  Those children's link sets lose ``j`` at once and
        their budget room shrinks fast, so their bounds rise where adding one candidate at a
        time leaves the bound where it was (the budget is what binds at large budgets).
        ``split`` is :meth:`overruns` of the node.
        """
        p = self.p
        out = []
        costs = [int(p.int_costs[self.order[q]]) for q in qs]
        if not split:
            for q, c in zip(qs, costs):
                child = node.bits | 1 << self.order[q]
                if self.dead(self.missing_requirements(child), q + 1):
                    continue  # a requirement can no longer be added below this child
                out.append((child, q + 1, node.spent + c))
            return out
        bits, spent, excluded = node.bits, node.spent, self.excluded_by(node.bits)
        for q, c in zip(qs, costs):
            if not self.dead(self.missing_requirements(bits), q + 1):
                out.append((bits, q + 1, spent))  # q is the first candidate left out
            i = self.order[q]
            spent += c
            if spent > p.int_budget or excluded >> i & 1:
                break  # every later child would hold this prefix: over the budget, or an exclusion
            bits |= 1 << i
            excluded |= self.excl_mask[i]
        return out

    def dead(self, missing: int, pos: int) -> bool:
        """Whether some required candidate in ``missing`` sits before ``pos`` (never addable)."""
        return any(self.rank[j] < pos for j in self.p.selected(missing))

    def missing_requirements(self, bits: int) -> int:
        out = 0
        for i in self.p.selected(bits):
            out |= self.req_mask[i]
        return out & ~bits

    def run(self, order: list[int], *, root_bound: float, lower_hint: float) -> BBOutcome:
        p = self.p
        self.order = order
        self.rank = {i: q for q, i in enumerate(order)}
        self.lower_hint = lower_hint
        heap: list[_Node] = [_Node(root_bound, 0, 0, 0, 0)]
        seq = 1
        nodes = 0
        complete = True
        while heap:
            if self.out_of_time():
                complete = False
                break
            node = heapq.heappop(heap)
            if node.so_warm is None:
                node.so_warm, node.ue_warm = self.last_so, self.last_ue
            thr = self.threshold()
            if node.key >= thr:
                self.pruned_floor = min(self.pruned_floor, node.key)
                heap.clear()
                break
            self.lower_hint = node.key
            nodes += 1
            qs = self.candidates_after(node.bits, node.pos, node.spent)
            free = sum(1 << self.order[q] for q in qs)
            key = node.key
            so_state = node.so_warm
            so_beckmann = math.inf
            if free:
                bound, so_state = self.so_test(node.bits | free, node.so_warm)
                so_beckmann = self.so_beckmann
                self.last_so = so_state or self.last_so
                if bound >= self.threshold():
                    self.pruned_floor = min(self.pruned_floor, bound)
                    continue
                key = max(key, bound)
            ue_state = node.ue_warm
            split = self.overruns(node, qs)
            # when splitting by the first candidate left out, the first child has node.bits as its own design
            if not split and p.feasible(node.bits) and node.bits not in self.ue:
                own, own_state = self.so_test(node.bits, so_state)
                if own < self.threshold() and LEAF_VALUE_BOUND:
                    # (its flows are not a warm start for the equilibrium: after a few sweeps from the SO
                    # flows they are far from it; on the YRD road network the UE solves took 5x the sweeps)
                    own = max(own, self.leaf_value_test(node.bits, own_state, self.so_beckmann))
                if own >= self.threshold():
                    self.pruned_floor = min(self.pruned_floor, own)
                else:
                    _, ue_state = self.ue_value(node.bits, node.ue_warm or own_state)
                    self.last_ue = ue_state or self.last_ue
                if not free:
                    continue
            if 0 < len(qs) <= VALUE_BOUND_FREE:
                bound = self.value_test(node.bits, node.bits | free, so_state, so_beckmann)
                if bound >= self.threshold():
                    self.pruned_floor = min(self.pruned_floor, bound)
                    continue
                key = max(key, bound)
            for child, cpos, cspent in self.children(node, qs, split):
                warm = len(heap) < _WARM_NODES
                heapq.heappush(heap, _Node(key, seq, child, cpos, cspent,
                                           so_state if warm else None, ue_state if warm else None))
                seq += 1
        open_floor = min((n.key for n in heap), default=math.inf)
        lower = min(self.incumbent, self.pruned_floor, open_floor)
        return BBOutcome(
            incumbent=self.incumbent, bits=self.inc_bits, lower=lower, complete=complete and not heap,
            nodes=nodes, ue_solves=self.ue_solves, so_solves=self.so_solves, ue_values=dict(self.ue),
            history=self.history, cuts=self.cuts,
        )

    # -- heuristics --------------------------------------------------------------------------
    def greedy_and_swaps(self, max_passes: int = 20, *, share: float = HEURISTIC_SHARE) -> None:
        """Greedy construction (best UE TSTT per step), then one-for-one swaps to a local optimum.

        With a time limit it stops after ``share`` of the time left, so the tree search (the
        only part that moves the bound) always gets the rest.
        """
        p = self.p
        stop = None if self.deadline is None else self.elapsed() + share * max(self.deadline - self.elapsed(), 0.0)
        bits, warm = 0, self.ue_state.get(0)
        while not self.out_of_time(stop):
            best = None
            for i in range(p.n):
                cand = bits | 1 << i
                if self.out_of_time(stop):
                    break
                if bits >> i & 1 or not p.feasible(cand):
                    continue
                v, _ = self.ue_value(cand, warm)
                if best is None or v < best[0]:
                    best = (v, cand)
            if best is None or best[0] >= self.ue.get(bits, math.inf):
                break
            bits = best[1]
            warm = self.ue_state.get(bits, warm)
        for _ in range(max_passes):
            start = self.inc_bits
            for i in p.selected(start):
                for j in range(p.n):
                    if self.out_of_time(stop) or start >> j & 1:
                        continue
                    cand = (start & ~(1 << i)) | 1 << j
                    cand = p.extend(cand)
                    if p.feasible(cand):
                        self.ue_value(cand, self.ue_state.get(self.inc_bits))
            if self.inc_bits == start or self.out_of_time(stop):
                break


def branch_and_bound(
    problem: Any,
    *,
    ue_gap: float,
    so_gap: float,
    opt_gap: float,
    elapsed: Callable[[], float],
    deadline: float | None,
    root_bound: float,
    root_flows: np.ndarray,
    base_value: float,
    heuristics: bool,
) -> BBOutcome:
    """Optional heuristic incumbent, then best-first branch and bound (module docstring).

    Candidates are ordered by the flow they carry in the system optimum with every
    candidate open (busiest first), so the designs met early are good ones.
    """
    search = _Search(problem, ue_gap=ue_gap, so_gap=so_gap, opt_gap=opt_gap, elapsed=elapsed, deadline=deadline)
    search.lower_hint = root_bound
    search.ue[0] = base_value
    if base_value < math.inf:
        search.incumbent, search.inc_bits = base_value, 0
    search.history.append((elapsed(), search.incumbent, root_bound))
    if heuristics:
        search.greedy_and_swaps()
    use = [float(np.sum(root_flows[links])) for links in problem.opens]
    order = sorted(range(problem.n), key=lambda i: (-use[i], i))
    if search.out_of_time():
        return BBOutcome(search.incumbent, search.inc_bits, min(root_bound, search.incumbent), False, 0,
                         search.ue_solves, search.so_solves, dict(search.ue), search.history)
    return search.run(order, root_bound=root_bound, lower_hint=root_bound)
