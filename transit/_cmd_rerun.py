"""``transit rerun RUN_DIR``: run a recorded scenario again and check every output byte for byte."""

from __future__ import annotations

import argparse

HELP = "rerun a run folder's scenario and check that every output is identical (exit 1 if not)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rerun", help=HELP, description=HELP)
    parser.add_argument("run_dir", help="a run folder written by `transit run`")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transit.scenarios import rerun

    report = rerun(args.run_dir)
    for line in report.lines():
        print(line)
    return 0 if report.identical else 1
