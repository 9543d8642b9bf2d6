"""``transit report RUN_DIR``: render the run folder's self-contained ``report.html``."""

from __future__ import annotations

import argparse

HELP = "render report.html (one self-contained page: tables, charts, interactive map) into a run folder"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help=HELP, description=HELP)
    parser.add_argument("run_dir", help="a folder written by `transit optimize` or `transit run`")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from networks.errors import InputError
    from transit.html_report import write_report_html

    folder = Path(args.run_dir)
    missing = [n for n in ("run.json", "report.md", "priorities.csv", "axes.csv", "zone_pairs.csv", "network.gpkg")
               if not (folder / n).is_file()]
    if not folder.is_dir() or missing:
        why = "no such folder" if not folder.is_dir() else "missing " + ", ".join(missing)
        raise InputError(f"{folder}: not a run folder ({why}); run folders are written by `transit optimize` and "
                         "`transit run`")
    path = write_report_html(folder)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, self-contained)")
    return 0
