"""``transit run SCENARIO.toml``: optimise a scenario file into its own run folder."""

from __future__ import annotations

import argparse
import sys

HELP = "optimise a scenario file (TOML) into its own run folder, with hashes of every input"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help=HELP, description=HELP)
    parser.add_argument("scenario", help="scenario file (TOML; see docs/scenarios.md)")
    parser.add_argument("--out", help="run folder (default RUNS_DIR/<scenario name>); never overwritten")
    parser.add_argument("--runs-dir", default="runs", help="where run folders go by default (default: runs)")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the embedded network clip")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from transit.scenarios import load_scenario, run_scenario

    scenario = load_scenario(args.scenario)
    record = run_scenario(scenario, out=args.out, runs_dir=args.runs_dir, source_text=Path(args.scenario).read_bytes(),
                          argv=["transit", *sys.argv[1:]], use_cache=not args.no_cache)
    s = record.summary()
    print(f"{scenario.name}: {s['status']}, {s['cost_bn_cny']:,.1f} bn CNY: {s['selected'] or 'none'}; "
          f"objective {s['objective']:,.0f} (bound {s['bound']:,.0f}, gap {s['gap']:.2e}); run folder {record.folder}")
    return 0
