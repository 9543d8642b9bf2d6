"""``transit dndp``: exact discrete network design under user equilibrium.

Example::

    transit dndp --instance ../shared/data/dndp/SF_DNDP_10_1.txt \\
        --trips ../shared/data/tntp/SiouxFalls/SiouxFalls_trips.tntp --budget-fraction 0.5 --json

Demand is scaled like the capacities (``--scale``, 1e-3 by default: the instances'
convention, so the base Sioux Falls network scores 7480.2).  Rey's experiments also multiply
the Eastern Massachusetts and Anaheim demand by 4 (``--demand-factor 4``; see
``benchmarks/bench_dndp_large.py``).
"""

from __future__ import annotations

import argparse
import json
import sys

from networks.errors import InputError
from networks.tntp import read_tntp_trips
from solvers.dndp import INSTANCE_SCALE, read_dndp_instance, solve_dndp


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dndp",
        help="choose road projects minimising user-equilibrium travel time (exact, OR-Tools)",
        description="Exact bilevel discrete network design: projects under a budget, UE lower level.",
    )
    parser.add_argument("--instance", required=True, help="DNDP instance (TNTP net file with candidates and a cost column)")
    parser.add_argument("--trips", required=True, help="TNTP trips file")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--budget-fraction", type=float, help="budget as a fraction of the total candidate cost")
    group.add_argument("--budget", type=float, help="budget in cost units")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds; returns the incumbent and its gap")
    parser.add_argument("--opt-gap", type=float, default=1e-3, help="relative optimality gap (default 1e-3)")
    parser.add_argument("--scale", type=float, default=INSTANCE_SCALE, help="demand and capacity multiplier (default 1e-3)")
    parser.add_argument("--demand-factor", type=float, default=1.0,
                        help="a further multiplier of the demand only (Rey's Eastern Massachusetts and Anaheim "
                             "experiments: 4; default 1)")
    parser.add_argument(
        "--budget-bound",
        action="store_true",
        help="also compute the budget-aware SO bound first (MILP, MathOpt/HiGHS)",
    )
    parser.add_argument(
        "--method",
        choices=("bb", "cuts"),
        default="bb",
        help="bb: best-first branch and bound with budget-aware SO subtree bounds (default); "
        "cuts: CP-SAT master with SO subset cuts",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError(f"--time-limit {args.time_limit} must be positive")
    if not 0 < args.scale < float("inf"):
        raise InputError(f"--scale {args.scale} must be positive")
    if not 0 < args.demand_factor < float("inf"):
        raise InputError(f"--demand-factor {args.demand_factor}: expected a positive multiplier of the demand")
    if not 0 <= args.opt_gap < 1:
        raise InputError(f"--opt-gap {args.opt_gap}: expected a relative gap in [0, 1)")
    if args.budget_fraction is not None and not 0 <= args.budget_fraction <= 1:
        raise InputError(f"--budget-fraction {args.budget_fraction}: expected a fraction in [0, 1] of the total "
                         "candidate cost")
    if args.budget is not None and not 0 <= args.budget < float("inf"):
        raise InputError(f"--budget {args.budget}: expected a finite budget >= 0")
    instance = read_dndp_instance(args.instance, capacity_scale=args.scale)
    demand = read_tntp_trips(args.trips, n_zones=instance.network.n_zones) * args.scale * args.demand_factor
    budget = instance.budget(args.budget_fraction) if args.budget_fraction is not None else args.budget
    result = solve_dndp(
        instance.network,
        demand,
        instance.candidates,
        instance.costs,
        budget=budget,
        time_limit=args.time_limit,
        method=args.method,
        opt_gap=args.opt_gap,
        budget_bound=args.budget_bound,
        budget_bound_time=None if args.time_limit is None else 0.5 * args.time_limit,
    )
    if args.json:
        out = {"instance": instance.name, "budget": budget, **result.to_dict()}
        print(json.dumps(out))
    else:
        links = ", ".join(f"{u}->{v}" for u, v in result.selected_links) or "(none)"
        print(f"{instance.name}: budget {budget:g} of {instance.total_cost:g}")
        print(f"selected: {links}")
        print(result.message)
        print(f"UE solves {result.ue_solves}, SO solves {result.so_solves}, {result.seconds:.1f} s")
    sys.stdout.flush()
    return 0
