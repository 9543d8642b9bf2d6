"""Ctrl-C during a CP-SAT solve: stop the search, then raise KeyboardInterrupt in Python.

OR-Tools catches SIGINT itself by default (``catch_sigint_signal``): the search stops as if a
time limit was reached, so the caller carries on as if nothing happened, and when the solve
ends OR-Tools resets the signal to the system default, so the next Ctrl-C kills the process
with no message and leaves temporary files behind.  :func:`solve_interruptibly` turns that off
and keeps Python's own handling: Python's C-level handler writes to a wakeup pipe, a watcher
thread reads it and calls ``StopSearch`` (CP-SAT releases the GIL while it searches), and
once ``Solve`` returns Python raises the pending KeyboardInterrupt (from the solve call:
its result is dropped, so nothing half-finished is reported).  The command line turns
it into one line and exit status 130, and the output folder's temporary copy is removed on the
way out (``networks.atomic``).  Outside the main thread, or when SIGINT is ignored, the solve
runs as is.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from typing import Any

__all__ = ["solve_interruptibly"]


def solve_interruptibly(solver: Any, model: Any, *args: Any) -> Any:
    """``solver.Solve(model, *args)``; Ctrl-C stops the search and raises KeyboardInterrupt."""
    solver.parameters.catch_sigint_signal = False
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
            signal.SIG_IGN, None):
        return solver.Solve(model, *args)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:  # pragma: no cover - not the main thread of the main interpreter
        os.close(read_fd)
        os.close(write_fd)
        return solver.Solve(model, *args)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            ready, _, _ = select.select([read_fd], [], [], 0.1)
            if ready and signal.SIGINT in os.read(read_fd, 64):
                solver.StopSearch()

    watcher = threading.Thread(target=watch, name="cp-sat-sigint", daemon=True)
    watcher.start()
    try:
        return solver.Solve(model, *args)
    finally:
        done.set()
        try:
            watcher.join()
        finally:  # a second Ctrl-C may interrupt the join: restore the handling all the same
            signal.set_wakeup_fd(previous)
            os.close(read_fd)
            os.close(write_fd)
