"""A memory guard: refuse work that cannot fit before starting it, with a clear message.

A process that asks for more memory than the machine has is killed by the system with no
message (or thrashes for minutes). The readers estimate what an input will need from its
header or size and call :func:`check_memory` first, which compares the need with the memory
available now (``MemAvailable`` of ``/proc/meminfo``, else the physical memory; an optional
limit from ``$YRD_TRANSIT_MEMORY_LIMIT_MB`` or the process's address-space limit applies
when lower) and raises a typed error naming the input, the need and what to do.
``$YRD_TRANSIT_MEMORY_GUARD=off`` skips the check (for users who know their input better
than the estimate does).
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
from collections.abc import Iterator

from networks.errors import InputError

__all__ = ["available_memory_bytes", "check_memory", "release_free_memory", "no_gc"]

SAFETY = 0.8  # use at most this share of what is available


def available_memory_bytes() -> int:
    """Bytes this process can still use: available memory, capped by any configured limit."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):  # pragma: no cover - not POSIX
            available = 1 << 62
    limits = [available]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
        limits.append(soft)
    text = os.environ.get("YRD_TRANSIT_MEMORY_LIMIT_MB", "").strip()
    if text:
        try:
            limits.append(int(float(text) * 1024 * 1024))
        except ValueError:
            raise InputError(f"$YRD_TRANSIT_MEMORY_LIMIT_MB = {text!r}: expected a number of megabytes") from None
    return max(0, min(limits))


def _human(n: float) -> str:
    if n >= 1 << 60:
        return "more than an exabyte"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit in ("B", "kB") else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"  # pragma: no cover


def check_memory(need_bytes: float, what: str, suggestion: str, *, error: type[Exception] = InputError) -> None:
    """Raise ``error`` if ``need_bytes`` exceeds the usable share of the available memory.

    Parameters
    ----------
    need_bytes
        The estimated peak need of the step.
    what
        The input and why it needs that much (the start of the message).
    suggestion
        What the user can do instead (the end of the message).
    error
        The exception type to raise (a subclass of InputError for the reader at hand).
    """
    if os.environ.get("YRD_TRANSIT_MEMORY_GUARD", "").strip().lower() in ("off", "0", "no", "false"):
        return
    usable = SAFETY * available_memory_bytes()
    if need_bytes > usable:
        raise error(f"{what}: needs about {_human(need_bytes)} of memory but only {_human(usable)} is available; "
                    f"{suggestion}")


def release_free_memory() -> None:
    """Give memory that Python has freed back to the operating system (glibc's ``malloc_trim``).

    Building many small arrays (the selection's record enumeration) leaves hundreds of MB freed
    but still held by the C allocator, which the next phases then add to: measured on the
    default job, 781 MB resident after the rail records, 446 MB after this call.  A no-op where
    the C library has no ``malloc_trim`` (macOS, Windows, musl).
    """
    import ctypes
    import ctypes.util

    try:  # (no gc.collect: the arrays are freed by reference counting; a full collection costs 0.2 s)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block (restored after).

    Building a graph allocates millions of small containers; each allocation burst triggers
    collections that scan every live object, so their cost grows with the graph (a 10^6-node
    OSM extract: 46 s with it, 33 s without; ``transit optimize --budget 300``: 38.7 s and 811 MB
    with it, 31.4 s and 824 MB without).  What these builds drop is freed by reference counting;
    the few cycles (matplotlib figures) wait for the next collection after the block.  Usable as
    a decorator (``@no_gc()``).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
