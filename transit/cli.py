"""The ``transit`` command line.

Each sub-command lives in its own module ``transit/_cmd_<name>.py`` exposing
``add_parser(subparsers)`` and ``run(args) -> int``.  Errors raised on purpose
(:class:`networks.errors.TransitError`) become a one-line message on stderr and exit
status 2; nothing else is caught, so programming errors keep their traceback.

The ``transit`` executable and ``python -m transit`` end through :func:`console_main`: once the
command has returned (its outputs renamed into place, its thread pools shut down), the process
exits without tearing down the interpreter's objects one by one, which after a large model took
about 0.7 s of a 30 s first run (measured).  ``main`` itself returns normally (tests and
notebooks call it in-process).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Sequence

from networks.errors import TransitError
from transit.progress import verbose_output

__all__ = ["main", "console_main", "build_parser"]

_COMMANDS = ("optimize", "programme", "run", "rerun", "compare", "sweep", "report", "build", "assign", "dndp")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (``transit COMMAND: error: ...``) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: Negative numbers argparse takes for options (it knows only ``-1`` and ``-1.5``): ``-1e-4``,
#: ``-inf`` or ``-nan`` after an option are joined to it (``--gap=-1e-4``) so that the command's
#: own check names the value, instead of argparse's "expected one argument".
_PLAIN_NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$")


def _join_negative_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    k = 0
    while k < len(argv):
        token = argv[k]
        nxt = argv[k + 1] if k + 1 < len(argv) else None
        if (token.startswith("--") and "=" not in token and nxt is not None and nxt.startswith("-")
                and not _PLAIN_NEGATIVE.match(nxt) and _is_number(nxt)):
            out.append(f"{token}={nxt}")
            k += 2
            continue
        out.append(token)
        k += 1
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


import warnings as _warnings  # noqa: E402

_ORIGINAL_SHOWWARNING = _warnings.showwarning


def _one_line_warnings(prog: str) -> None:
    """Print the project's warnings as one line each (``transit build: warning: ...``)."""
    import warnings

    from networks.errors import TransitWarning

    default = _ORIGINAL_SHOWWARNING

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, TransitWarning):
            print(f"{prog}: warning: {message}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="transit",
        description="Yangtze River Delta transport integration optimizer.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f"transit._cmd_{name}")
        module.add_parser(subparsers)
    for sub in subparsers.choices.values():  # every command: its steps on stderr, or not
        group = sub.add_mutually_exclusive_group()
        group.add_argument("-v", "--verbose", action="store_true", default=None,
                           help="log each long step (build, skims, solve, outputs) on stderr; the default "
                                "when stderr is a terminal")
        group.add_argument("-q", "--quiet", action="store_false", dest="verbose",
                           help="no step log or progress bar, only warnings and errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    command = next((a for a in (sys.argv[1:] if argv is None else argv) if a in _COMMANDS), "")
    _one_line_warnings(f"transit {command}".strip())
    args = parser.parse_args(_join_negative_values(list(sys.argv[1:] if argv is None else argv)))
    try:
        with verbose_output(f"transit {args.command}", args.verbose):
            return int(args.func(args) or 0)
    except TransitError as exc:
        print(f"transit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"transit {args.command}: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """Entry point of the ``transit`` executable: :func:`main`, then a quick exit.

    Standard streams and logging handlers are flushed first.  With any non-daemon thread still
    running (none should be), the normal interpreter exit runs instead.
    """
    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to write
            pass
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
