"""Multi-year investment programmes: which project starts in which year, exactly (CP-SAT).

The model
---------
Years ``t = Y0 .. Y1`` (the horizon).  Project ``i`` costs ``K_i`` spent over ``d_i``
construction years by a profile ``p_i`` (shares summing to 1); started in year ``s`` it spends
``K_i p_ik`` in year ``s + k`` and opens in year ``s + d_i``.  A project either starts in a year
``e_i <= s <= Y1 - d_i + 1`` (earliest start ``e_i``; construction ends inside the horizon) or
not at all.  Constraints: in every year the spending of all projects is within that year's
budget (and each member's spending within its yearly cap); a project opens no earlier than the
projects it requires; excluded pairs are never both started.  The network of year ``t`` is the
set of projects open in ``t``; after the horizon the network is the final one.  Maximise

    sum over t of w_t S(open_t)  +  w_after S(open_after)  -  sum over started i of C_i(s_i)

with ``S`` the saving of a design (the objective of :mod:`solvers.selection.markets`: a sum
over markets of a monotone function of several shortest-path costs, e.g. the logsum), ``w_t``
the weight of a year (e.g. the discounted money value of a day's saving with demand growth),
``w_after`` the weight of all years after the horizon, and ``C_i(s)`` a cost of starting ``i``
in year ``s`` (e.g. the present value of its capital and running costs; 0 to maximise the
benefit alone).

Why it is exact
---------------
Savings interact through the network (two parallel lines do not add up).  The market records
of :mod:`solvers.selection.markets` are exact for every design (they are enumerated without a
budget, so the records hold for any set of open projects): a market saves the saving of its
best record whose project set is open.  The programme uses one copy of the ordered record
formulation per year, on the literals "project ``i`` is open in year ``t``"; so every year's
saving in the model is the exact saving of that year's network, and nothing is assumed
additive.  The only rounding is CP-SAT's integer scaling of the objective (at most half a unit
per term, added to the reported bound) and of money (costs rounded up and budgets down when not
decimal, so no infeasible programme is accepted).  The reported objective is re-evaluated
exactly (shortest paths in every layer for each year's network).

A bound that couples the years (:mod:`solvers.programme.outer`)
---------------------------------------------------------------
An outer approximation runs first (a share of the time limit): a master problem over the start
years alone (HiGHS), in which each period's saving is over-estimated by cuts that the records
make valid for every network and exact at the networks already valued, refined at the master's
programmes.  Its proved bound couples the years (one schedule serves them all) where the
per-period caps below cannot; it is reported when CP-SAT's is no better, and its best programme
joins the starting programmes.  With a ``relative_gap`` it can end the solve alone.  The bound is
a floating-point MILP's, with an allowance for HiGHS's tolerances added (stated there).

What helps CP-SAT (none of it cuts off a programme)
---------------------------------------------------
- Saving caps per period (a bound, not rows of the model): the one-shot optimum within the
  budgets of the years before (``exact._saving_caps``), lowered by a logic-based Benders loop
  over what no schedule can have open by then (``exact._period_caps``; each design solve's
  proved bound is used, so a cap stopped at its time share is still valid).  Its cuts (sets
  that cannot all be open by a year) go into the model; the caps weighted by the periods'
  weights bound every programme, reported when CP-SAT's bound is no better.  When the outer
  approximation ran, the schedule-based per-period caps are skipped (its bound is the tighter).
- The yearly budgets once more as one cumulative constraint (``exact._add_cumulative``).
- A starting programme (a hint): the better of the one-shot optima's order and greedy's,
  improved by iterated local search over start years (:mod:`solvers.programme.local_search`),
  reported when CP-SAT stops at its limit with nothing better.
"""

from solvers.programme._setup import ProgrammeProject, ProgrammeResult
from solvers.programme.brute_force import brute_force_programme
from solvers.programme.exact import solve_programme
from solvers.programme.greedy import greedy_programme

__all__ = ["ProgrammeProject", "ProgrammeResult", "brute_force_programme", "greedy_programme", "solve_programme"]
