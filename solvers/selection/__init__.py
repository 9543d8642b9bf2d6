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
   saving a second, work-limited solve picks the cheapest when the first solve was small
   (``cpsat.CHEAPEST_BELOW``; after larger ones it never finished in the YRD ladder and is
   skipped), and projects that save nothing in the chosen design are removed.

With a time limit the best design found is returned with status ``"FEASIBLE"``, its bound and
gap; if the record search itself runs out of time the incumbent is the base network and the
bound is the network with every affordable project built.

Shortest paths use :func:`scipy.sparse.csgraph.dijkstra` (compiled), many sources at once.
"""

from solvers.selection._types import (
    BaseGraph,
    DesignValue,
    Ladder,
    LadderEntry,
    NonNested,
    ODDemand,
    Project,
    SelectionResult,
)
from solvers.selection.shortest_path import brute_force_selection, budget_ladder, evaluate_design, solve_selection

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
