"""``transit compare RUN_DIR...``: one tidy table and one chart of several runs."""

from __future__ import annotations

import argparse

HELP = "compare run folders: compare.csv (one row per scenario and axis) and compare.png"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare", help=HELP, description=HELP)
    parser.add_argument("runs", nargs="+", help="run folders written by `transit run`")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from networks.atomic import atomic_output_dir, check_output_path
    from transit.scenarios import compare, compare_chart

    check_output_path(args.out, folder=True)
    table = compare(args.runs)
    with atomic_output_dir(args.out, managed=("compare.csv", "compare.png")) as tmp:
        table.to_csv(tmp / "compare.csv", index=False, float_format="%.6g")
        compare_chart(table, tmp / "compare.png")
    print(f"{table['scenario'].nunique()} runs, {len(table)} rows: {args.out}/compare.csv, compare.png")
    return 0
