"""``transit sweep SCENARIO... --workers N``: many scenario files in parallel on Dask."""

from __future__ import annotations

import argparse

HELP = "run many scenario files in parallel on Dask, each into its own run folder"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sweep", help=HELP, description=HELP)
    parser.add_argument("scenarios", nargs="+", help="scenario files (TOML)")
    parser.add_argument("--workers", type=int, default=2, help="local Dask worker processes (default 2)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (tcp://host:port)")
    parser.add_argument("--runs-dir", default="runs", help="where the run folders go (default: runs)")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the embedded network clip")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from networks.atomic import atomic_write_text
    from transit.scenarios.sweep import sweep, sweep_table

    outcomes = sweep(args.scenarios, workers=args.workers, scheduler=args.scheduler, runs_dir=args.runs_dir,
                     use_cache=not args.no_cache, progress=getattr(args, "verbose", None))
    for o in outcomes:
        print(f"{'ok' if o.ok else 'FAILED'}: {o.scenario}: {o.message}" + (f" ({o.folder})" if o.folder else ""))
    from pathlib import Path

    Path(args.runs_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.runs_dir) / "sweep.csv", sweep_table(outcomes).to_csv(index=False))
    failed = sum(not o.ok for o in outcomes)
    print(f"{len(outcomes) - failed} of {len(outcomes)} scenarios done; table {args.runs_dir}/sweep.csv")
    return 1 if failed else 0
