"""``transit programme``: the multi-year investment programme (which project starts when)."""

from __future__ import annotations

import argparse
import sys

from networks.errors import InputError
from transit._cmd_optimize import _cap, _pct

HELP = "schedule the projects over the years under a yearly budget (exact, OR-Tools CP-SAT)"


def _horizon(text: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return int(first), int(last)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FIRST-LAST years, e.g. 2026-2040, got {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("programme", help=HELP, description=HELP)
    parser.add_argument("--horizon", type=_horizon, default=(2026, 2040), metavar="FIRST-LAST",
                        help="planning years (default 2026-2040)")
    parser.add_argument("--yearly-budget", type=float, required=True, metavar="BN",
                        help="cap on each year's spending, billion CNY (catalogue costs)")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically)")
    parser.add_argument("--objective", choices=("npv", "benefit"), default="npv",
                        help="maximise the programme's NPV (default) or its discounted benefits")
    parser.add_argument("--member-cap", action="append", type=_cap, default=[], metavar="MEMBER=BN",
                        help="cap on one member's spending in every year (repeatable)")
    parser.add_argument("--end-year", type=int, help="last year of the appraisal period (default: horizon end "
                                                      "+ appraisal.operating_years)")
    parser.add_argument("--time-limit", type=float, metavar="S", help="seconds; then the best programme and its gap")
    parser.add_argument("--gap", type=float, default=0.0, help="stop once proved within this relative gap")
    parser.add_argument("--workers", type=int, default=1, help="CP-SAT threads (default 1)")
    parser.add_argument("--cost-sharing", choices=("lead", "length", "negotiated"), default="lead",
                        help="who pays: the lead member (default), each province's investor by route length, "
                             "or negotiated shares from --shares")
    parser.add_argument("--shares", metavar="CSV", help="negotiated cost shares: project,member,share (each project's "
                                                         "shares sum to 1)")
    parser.add_argument("--frontier-steps", type=int, default=10, metavar="N",
                        help="budgets on the budget-saving frontier (default 10; 0: none)")
    parser.add_argument("--committed", default="under_construction,partly_open", metavar="STATUSES",
                        help="catalogue statuses whose projects are committed: fixed to open in their expected year "
                             "(default under_construction,partly_open; 'none': every project is a free choice)")
    parser.add_argument("--committed-in-budget", action="store_true",
                        help="charge the committed projects' spending in the horizon to the yearly budget "
                             "(default: funded outside it)")
    parser.add_argument("--min-improvement", action="append", type=_pct, default=[], metavar="AXIS=PCT",
                        help="the final network must improve AXIS (or all) by at least PCT %% of its generalized "
                             "cost (repeatable)")
    parser.add_argument("--config", help="TOML file overriding data/default_config.toml")
    parser.add_argument("--projects", help="project catalogue JSON (default data/projects.json)")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the embedded network clip")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transit.config import load_config
    from transit.programme import run_programme, write_programme

    if args.yearly_budget < 0 or args.yearly_budget != args.yearly_budget:
        raise InputError(f"--yearly-budget {args.yearly_budget:g}: expected a budget >= 0 (billion CNY)")
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError(f"--time-limit {args.time_limit:g}: expected seconds > 0")
    if not 0 <= args.gap < 1:
        raise InputError(f"--gap {args.gap:g}: expected a relative gap in [0, 1)")
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: expected a whole number >= 1")
    if not 0 <= args.frontier_steps <= 100:
        raise InputError(f"--frontier-steps {args.frontier_steps}: expected a whole number in 0..100")
    if (args.cost_sharing == "negotiated") != (args.shares is not None):
        raise InputError("--shares FILE goes with --cost-sharing negotiated, and only with it")
    committed = () if args.committed.strip() == "none" else tuple(x.strip() for x in args.committed.split(",") if x.strip())
    from networks.atomic import check_output_path

    check_output_path(args.out, folder=True)  # before the long run, not after it
    config = load_config(args.config)
    run_ = run_programme(config, horizon=args.horizon, yearly_budget=args.yearly_budget, objective=args.objective,
                         end_year=args.end_year, member_caps=dict(args.member_cap), time_limit=args.time_limit,
                         relative_gap=args.gap, workers=args.workers, projects_path=args.projects,
                         use_cache=not args.no_cache, cost_sharing=args.cost_sharing, shares_path=args.shares,
                         frontier_steps=args.frontier_steps, committed=committed,
                         committed_in_budget=args.committed_in_budget,
                         min_improvement=dict(args.min_improvement) or None)
    out = write_programme(run_, args.out, argv=["transit", *sys.argv[1:]])
    r = run_.result
    print(f"{r.status}: {len(r.starts)} project(s) started; {args.objective} {r.objective / 1e9:,.2f} bn CNY "
          f"(bound {r.bound / 1e9:,.2f}, gap {r.gap:.2e}); outputs in {out}")
    return 0
