"""Exact discrete network design under user equilibrium (the bilevel DNDP), with OR-Tools.

The upper level chooses binary projects (new links, or upgrades that replace a link by a
better copy) under a budget, dependencies and exclusions; the lower level is the user
equilibrium (UE) of the chosen design; the objective is the UE total system travel time
(TSTT).  Because of congestion, the best set is not the set of the best projects one by
one, and a project can even make things worse (Braess).

Two exact methods share the problem set-up, the cached warm-started equilibria
(:mod:`solvers.dndp._ue`) and the final checks.

Both rest on one fact: the system optimum (SO) of a link set bounds from below the UE TSTT
of every design whose links are a subset of it (adding links never raises the SO TSTT, and
UE >= SO).  The SO values used are certified Lagrangian lower bounds, not the rounded
objective of an approximate flow.

``method="bb"`` (default; :mod:`solvers.dndp.branch_and_bound`): best-first branch and bound over the
set-enumeration tree of the projects, in the spirit of LeBlanc (1975) and Rey (2020)'s SOBB.
A node is a design ``S`` with the projects that could still join it (within the remaining
budget, not excluded, requirements reachable); the SO of ``S`` plus all of them bounds the
subtree, and because the budget shrinks down the tree those sets shrink fast.  Where the
budget binds, a node is split by the first free project left out rather than the next one
added; near the leaves, a value-function bound (the UE condition as a Beckmann constraint,
Wang, Meng and Yang 2013) tightens the SO bound of subtrees that must contain ``S``.  SO solves are
pruning tests that stop as soon as the threshold is decided.  Above 12 candidates a greedy
design improved by swaps is the first incumbent (with a time limit, in at most a quarter of
it: the tree search, the only part that moves the bound, gets the rest).  On the 20-candidate Sioux Falls instances
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
  outer-approximation MILP (:mod:`solvers.dndp.milp`, MathOpt/HiGHS; ``budget_bound=True``,
  usable with either method), whose design also seeds the incumbent.  The subset cuts alone
  cannot see the budget, which is why this loop stalls on 20 candidates.

Common to both: evaluations are warm-started from a neighbouring design; the incumbent and
every design within ``1e-4`` of it are re-solved to a relative gap of ``verify_gap`` (1e-10;
a polish also stops once 100 more sweeps no longer halve its gap and that gap is at most
1e-8, three orders below ``opt_gap`` or ``ue_gap``, whichever is largest; a polish stuck
above that is finished by :func:`solvers.assignment.assign` from scratch, and only if that too
fails is it an error; see ``_problem.STALL_FLOOR`` and ``POLISH_CHUNK``; the base network's value,
reported for information, keeps the gap its polish reaches) before the winner is declared, so near-ties are settled on tight
equilibria (designs equal to within 10 times the gap reached, such as one with a project no
route uses, go to the cheapest); the search itself stops ``10 ue_gap`` short of ``opt_gap``
(at most half of it) so that this re-solve does not push the reported gap over the target;
the winner's UE TSTT is re-computed by :func:`solvers.assignment.assign` (path-based, cold start) as an
independent check (``DNDPResult.verified_objective``).

:func:`enumerate_designs` is the brute-force reference (Gray-code order, so each design is
warm-started from one differing by a single project); :func:`evaluate_design` solves one
design tightly.

Layout: :mod:`~solvers.dndp.instance` (reader), :mod:`~solvers.dndp._problem` (set-up,
results, cached evaluator), :mod:`~solvers.dndp._ue` (warm-started equilibria, numba),
:mod:`~solvers.dndp.branch_and_bound`, :mod:`~solvers.dndp.cuts` (the CP-SAT cut loop),
:mod:`~solvers.dndp.milp` (the budget-aware bound) and :mod:`~solvers.dndp.solve` (the front
ends); the public names are re-exported here.
"""

from solvers.dndp._problem import DNDPResult, EnumerationResult
from solvers.dndp.instance import INSTANCE_SCALE, DNDPInstance, read_dndp_instance
from solvers.dndp.solve import enumerate_designs, evaluate_design, solve_dndp

__all__ = [
    "INSTANCE_SCALE",
    "DNDPInstance",
    "DNDPResult",
    "EnumerationResult",
    "read_dndp_instance",
    "solve_dndp",
    "enumerate_designs",
    "evaluate_design",
]
