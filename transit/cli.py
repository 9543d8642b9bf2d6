"""The ``transit`` command line.

Each sub-command lives in its own module ``transit/_cmd_<name>.py`` exposing
``add_parser(subparsers)`` and ``run(args) -> int``.  Errors raised on purpose
(:class:`networks.errors.TransitError`) become a one-line message on stderr and exit
status 2; nothing else is caught, so programming errors keep their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from networks.errors import TransitError

__all__ = ["main", "build_parser"]

_COMMANDS = ("optimize", "programme", "build", "assign", "dndp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transit",
        description="Yangtze River Delta transport integration optimizer.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f"transit._cmd_{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TransitError as exc:
        print(f"transit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"transit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
