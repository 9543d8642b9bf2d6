"""Logging and progress bars for the long steps (build, skims, solve, outputs, sweep).

The package logs to the ``transit`` logger and never configures logging itself; a notebook user
turns it on with ``logging.basicConfig(level=logging.INFO)``.  The command line shows the steps
on stderr when stderr is a terminal or with ``--verbose``, and never with ``--quiet`` (so a
script or a test that reads stderr sees only warnings and the one-line error).  Progress bars
(tqdm) are drawn only on a terminal.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["logger", "verbose_output", "progress_bar", "Stopwatch"]

logger = logging.getLogger("transit")


class _Handler(logging.Handler):
    """One line per message on stderr, written through tqdm so a running bar is not broken."""

    def __init__(self, prog: str) -> None:
        super().__init__(logging.INFO)
        self.prog = prog
        self.started = time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(f"{self.prog}: [{time.perf_counter() - self.started:6.1f} s] {record.getMessage()}",
                       file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break a run
            self.handleError(record)


def _enabled(verbose: bool | None) -> bool:
    return sys.stderr.isatty() if verbose is None else bool(verbose)


@contextlib.contextmanager
def verbose_output(prog: str, verbose: bool | None) -> Iterator[bool]:
    """Show the ``transit`` logger's INFO messages on stderr while the block runs (see the module
    docstring for when); yields whether they are shown."""
    if not _enabled(verbose):
        yield False
        return
    handler = _Handler(prog)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield True
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def progress_bar(total: int, desc: str, unit: str = " step") -> Any:
    """A tqdm bar on a terminal while the ``transit`` logger shows INFO; a silent one otherwise."""
    from tqdm import tqdm

    show = sys.stderr.isatty() and logger.isEnabledFor(logging.INFO) and bool(logger.handlers)
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False, file=sys.stderr)


class Stopwatch:
    """``with Stopwatch("skims") as w: ...`` logs the step's start and its duration."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        logger.info("%s ...", self.step)
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self._started
        if exc[0] is None:
            logger.info("%s: done in %.1f s", self.step, self.seconds)
