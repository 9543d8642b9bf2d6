"""``transit optimize``: the main job on the embedded default (or a user's catalogue)."""

from __future__ import annotations

import argparse
import sys

from networks.errors import InputError

HELP = "choose and rank the projects for a budget (exact, OR-Tools) and write the planning outputs"


def _cap(text: str) -> tuple[str, float]:
    member, sep, amount = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return member, float(amount)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MEMBER=BILLION_CNY, got {text!r}") from None


def _pct(text: str) -> tuple[str, float]:
    axis, sep, amount = text.partition("=")
    try:
        if not sep or not axis:
            raise ValueError
        return axis, float(amount)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected AXIS=PERCENT (or all=PERCENT), got {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("optimize", help=HELP, description=HELP)
    parser.add_argument("--budget", type=float, required=True, help="budget in billion CNY (>= 0)")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically)")
    parser.add_argument("--config", help="TOML file overriding data/default_config.toml")
    parser.add_argument("--projects", help="project catalogue JSON (default data/projects.json)")
    parser.add_argument("--axes", help="axes and links JSON (default data/axes.json)")
    parser.add_argument("--member-cap", action="append", type=_cap, default=[], metavar="MEMBER=BN",
                        help="cap on the cost of one alliance member's projects (repeatable)")
    parser.add_argument("--exclude-project", action="append", default=[], metavar="ID",
                        help="leave a candidate (and whatever requires it) out (repeatable)")
    parser.add_argument("--growth", type=float, help="demand growth multiplier (overrides the config)")
    parser.add_argument("--pairs", choices=("axes", "all"), help="objective pairs (overrides the config)")
    parser.add_argument("--ladder-steps", type=int, default=8, help="budget steps for the priority order")
    parser.add_argument("--objective", choices=("minutes", "benefit", "npv"), default="minutes",
                        help="what to maximise: the time saving (generalized minutes a day, default), its money "
                             "value (the same optimum), or the package's net present value (docs/appraisal.md)")
    parser.add_argument("--monte-carlo", type=int, default=0, metavar="N",
                        help="also run N seeded draws of costs, optimism bias, value of time and demand growth, "
                             "each re-solved exactly (montecarlo_draws.csv, montecarlo_projects.csv)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo (default 0)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes for the Monte Carlo (results do not depend on it; default 1)")
    parser.add_argument("--time-limit", type=float, help="seconds per budget step; then best found and gap")
    parser.add_argument("--fairness", choices=("maximin",),
                        help="maximin: the package whose worst axis (or the bay link) improves most, then the best "
                             "objective (exact; the report gives the price of fairness)")
    parser.add_argument("--min-improvement", action="append", type=_pct, default=[], metavar="AXIS=PCT",
                        help="every package must improve AXIS (or all) by at least PCT %% of its generalized cost "
                             "(repeatable)")
    parser.add_argument("--osm", metavar="FILE",
                        help="build the network from this OSM XML/PBF file instead of the embedded default")
    parser.add_argument("--osm-network", choices=("road", "rail", "both"), default="both",
                        help="which modes come from --osm (the others stay embedded; default both)")
    parser.add_argument("--congestion", action="store_true",
                        help="also choose the road projects under congestion (exact bilevel DNDP, user equilibrium)")
    parser.add_argument("--congestion-time-limit", type=float, metavar="S",
                        help="seconds for the congestion search; then the incumbent and its gap")
    parser.add_argument("--od", metavar="FILE",
                        help="OD matrix (CSV long format or OMX; total or by mode; zone or city level) "
                             "instead of the fitted gravity model")
    parser.add_argument("--zones", choices=("county", "city"),
                        help="zone system: county (163 zones, default) or city (the 19 cities)")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the embedded network clip")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transit.config import load_config
    from transit.optimize import run_optimization
    from transit.reports import write_outputs

    if not 0 <= args.budget < float("inf"):
        raise InputError(f"--budget {args.budget:g}: expected a finite budget >= 0 (billion CNY)")
    for name, value in (("--time-limit", args.time_limit), ("--congestion-time-limit", args.congestion_time_limit)):
        if value is not None and not 0 < value < float("inf"):
            raise InputError(f"{name} {value:g}: expected seconds > 0")
    if args.ladder_steps < 1:
        raise InputError(f"--ladder-steps {args.ladder_steps}: expected a whole number >= 1")
    overrides = {}
    if args.growth is not None:
        overrides["demand__growth"] = args.growth
    if args.pairs is not None:
        overrides["objective__pairs"] = args.pairs
    if args.zones is not None:
        overrides["zones__level"] = args.zones
    from networks.atomic import check_output_path

    check_output_path(args.out, folder=True)  # before the long run, not after it
    config = load_config(args.config, **overrides)
    run_ = run_optimization(config, budget=args.budget, member_caps=dict(args.member_cap),
                            ladder_steps=args.ladder_steps, time_limit=args.time_limit,
                            projects_path=args.projects, axes_path=args.axes, exclude_projects=tuple(args.exclude_project),
                            use_cache=not args.no_cache, osm=args.osm, osm_network=args.osm_network,
                            congestion=args.congestion, congestion_time_limit=args.congestion_time_limit, od=args.od,
                            objective=args.objective, monte_carlo_draws=args.monte_carlo, seed=args.seed,
                            workers=args.workers, fairness=args.fairness,
                            min_improvement=dict(args.min_improvement) or None)
    out = write_outputs(run_, args.out, argv=["transit", *sys.argv[1:]])
    r = run_.result
    print(f"{r.status}: {len(r.selected)} project(s), {r.cost:,.1f} bn CNY: {', '.join(r.selected) or 'none'}")
    if run_.objective == "npv":
        from transit.appraisal.tables import package_appraisal

        pkg = package_appraisal(run_)
        print(f"NPV {pkg['npv_bn_cny']:,.1f} bn CNY (benefits {pkg['pvb_bn_cny']:,.1f}, costs {pkg['pvc_bn_cny']:,.1f}; "
              f"objective {r.objective:,.0f} generalized min/day equivalent, bound {r.bound:,.0f}, gap {r.gap:.2e}); "
              f"outputs in {out}")
    else:
        print(f"objective {r.objective:,.0f} generalized min/day (base {r.base_objective:,.0f}, bound {r.bound:,.0f}, "
              f"gap {r.gap:.2e}); outputs in {out}")
    if run_.monte_carlo is not None:
        m = run_.monte_carlo.summary()
        print(f"Monte Carlo: {m['draws']} draws (seed {m['seed']}), package NPV mean {m['npv_mean_bn_cny']:,.1f} bn CNY "
              f"(5-95 %: {m['npv_p5_bn_cny']:,.1f} to {m['npv_p95_bn_cny']:,.1f})")
    if run_.congestion is not None:
        c = run_.congestion.summary()
        print(f"congestion (road projects, UE): {c['status']}, {', '.join(c['selected']) or 'none'}; "
              f"{c['objective_veh_h']:,.1f} veh-h (base {c['base_veh_h']:,.1f}, gap {c['gap']:.2e})")
    return 0
