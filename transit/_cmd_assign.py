"""``transit assign``: static user-equilibrium (or system-optimal) assignment of a TNTP network."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from networks.atomic import atomic_path
from networks.errors import InputError
from networks.tntp import RoadNetwork, flows_to_link_array, read_tntp_flows, read_tntp_network, read_tntp_trips
from solvers.assignment import ALGORITHMS, assign


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "assign",
        help="user-equilibrium traffic assignment of a TNTP network",
        description=(
            "Solve the static user equilibrium (BPR or conical delays) of a TNTP network and print "
            "TSTT, relative gap (TSTT - SPTT) / TSTT, iterations and time."
        ),
    )
    parser.add_argument("--net", required=True, help="TNTP network file (*_net.tntp)")
    parser.add_argument("--trips", required=True, help="TNTP trips file (*_trips.tntp)")
    parser.add_argument(
        "--algorithm", default="bfw", choices=ALGORITHMS,
        help="fw, cfw, bfw (bi-conjugate Frank-Wolfe, default) or gp (path-based gradient projection)",
    )
    parser.add_argument("--gap", type=float, default=1e-4, help="target relative gap (default 1e-4)")
    parser.add_argument("--max-iterations", type=int, default=None, help="iteration cap")
    parser.add_argument("--time-limit", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--vdf", default="bpr", choices=("bpr", "conical"), help="volume-delay function")
    parser.add_argument("--system-optimal", action="store_true", help="solve the system optimum instead")
    parser.add_argument(
        "--unreachable", default="raise", choices=("raise", "skip"),
        help="demand without a path: fail (default) or leave it unassigned and report it",
    )
    parser.add_argument(
        "--remove-link", nargs=2, type=int, action="append", metavar=("TAIL", "HEAD"), default=[],
        help="switch off the link TAIL->HEAD (node ids); repeatable, e.g. to show the Braess paradox",
    )
    parser.add_argument("--reference", help="TNTP flow file to compare the link flows and TSTT with")
    parser.add_argument("--flows-out", help="write the link table (tail, head, flow, cost, ...) to this CSV")
    parser.add_argument("--log", action="store_true", help="print the gap of every iteration to stderr")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _load_kernels(algorithm: str, system_optimal: bool, vdf: str) -> None:
    """Solve a two-node network first so that the reported seconds exclude loading the
    compiled kernels (numba's cache) into the process."""
    tiny = RoadNetwork(
        n_nodes=2, n_zones=2, first_thru_node=0, tail=[0, 1], head=[1, 0], capacity=[1.0, 1.0],
        length=[1.0, 1.0], free_flow_time=[1.0, 1.0], b=[0.15, 0.15], power=[4.0, 4.0], speed=[0.0, 0.0],
        toll=[0.0, 0.0], link_type=[1, 1], node_ids=[1, 2],
    )
    assign(tiny, np.array([[0.0, 1.0], [1.0, 0.0]]), algorithm=algorithm, gap=1e-3,
           system_optimal=system_optimal, vdf=vdf)


def run(args: argparse.Namespace) -> int:
    if not (args.gap >= 0 and math.isfinite(args.gap)):
        raise InputError(f"--gap must be a number >= 0, got {args.gap}")
    if args.time_limit is not None and not 0 < args.time_limit < math.inf:
        raise InputError(f"--time-limit must be seconds > 0, got {args.time_limit}")
    if args.max_iterations is not None and args.max_iterations < 1:
        raise InputError(f"--max-iterations must be a whole number >= 1, got {args.max_iterations}")
    if args.flows_out:
        from networks.atomic import check_output_path

        check_output_path(args.flows_out, folder=False)
    net = read_tntp_network(args.net)
    demand = read_tntp_trips(args.trips, n_zones=net.n_zones)

    _load_kernels(args.algorithm, args.system_optimal, args.vdf)
    active = np.ones(net.n_links, dtype=bool)
    for tail, head in args.remove_link:
        active[net.link_index(tail, head)] = False

    def log(iteration: int, gap: float, seconds: float) -> None:
        print(f"iteration {iteration:5d}  gap {gap:.3e}  {seconds:8.3f} s", file=sys.stderr)

    result = assign(
        net,
        demand,
        algorithm=args.algorithm,
        gap=args.gap,
        max_iterations=args.max_iterations,
        system_optimal=args.system_optimal,
        vdf=args.vdf,
        log=log if args.log else None,
        unreachable=args.unreachable,
        time_limit=args.time_limit,
        active=active,
    )
    summary = result.summary()
    summary["removed_links"] = [list(pair) for pair in args.remove_link]
    if args.reference:
        ref = read_tntp_flows(args.reference)
        ref_flow = flows_to_link_array(net, ref, column="volume")
        ref_tstt = float((ref["volume"] * ref["cost"]).sum())
        big = ref_flow > 100
        summary["reference_tstt"] = ref_tstt
        summary["tstt_relative_difference"] = (result.tstt - ref_tstt) / ref_tstt
        summary["max_relative_flow_error"] = (
            float(np.max(np.abs(result.flows[big] - ref_flow[big]) / ref_flow[big])) if big.any() else 0.0
        )
    if args.flows_out:
        with atomic_path(args.flows_out) as tmp:
            result.to_frame().to_csv(tmp, index=False)
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['network']}: {summary['algorithm']} {'SO' if result.system_optimal else 'UE'}  "
            f"TSTT {result.tstt:,.2f}  gap {result.gap:.3e}  {result.iterations} iterations  "
            f"{result.seconds:.3f} s  {'converged' if result.converged else 'NOT converged'}"
        )
        if args.reference:
            print(
                f"reference TSTT {summary['reference_tstt']:,.2f} ({summary['tstt_relative_difference']:+.4%}); "
                f"max relative flow error over links with flow > 100: {summary['max_relative_flow_error']:.4%}"
            )
        if len(result.unreachable):
            print(f"unassigned: {summary['unreachable_demand']:g} trips on {len(result.unreachable)} OD pairs without a path")
        for note in result.notes:
            print(f"note: {note}")
    return 0 if result.converged else 1
