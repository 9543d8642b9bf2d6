"""Write outputs so that a failed run leaves nothing half-written.

Every file goes to a temporary name in the destination folder and is renamed into place
(``os.replace`` is atomic on one filesystem); whole output folders are built beside the
destination and swapped in at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from networks.errors import InputError

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "atomic_output_dir", "check_output_path"]


def check_output_path(path: str | os.PathLike[str], *, folder: bool) -> Path:
    """Fail early, with a typed error naming the path, when an output cannot be written there.

    ``folder``: the output is a folder (an existing file of that name is refused) or a file (an
    existing folder is refused).  The nearest existing parent must be a writable folder.  Called
    before a long run, so that the run does not end in a traceback after minutes of work.
    """
    final = Path(path)
    if final.exists():
        if folder and not final.is_dir():
            raise InputError(f"output {final}: exists and is a file; expected a folder (or a new name)")
        if not folder and final.is_dir():
            raise InputError(f"output {final}: is a folder; expected a file name")
    parent = final.parent if final.parent != Path("") else Path(".")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"output {final}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK) or str(probe.resolve()).startswith(("/proc", "/sys")):
        raise InputError(f"output {final}: the folder {probe} is not writable")
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds."""
    final = Path(path)  # OSError on failure: caches catch it and go on without (check_output_path for outputs)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    mode = 0o666 & ~umask
    tmp.unlink()  # some writers (GDAL) refuse to overwrite; let them create it
    try:
        yield tmp
        if tmp.is_file():
            tmp.chmod(mode)  # mkstemp makes it private; the result is an ordinary file
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike[str], *, managed: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``path`` as a whole.

    Files already in ``path`` that the run did not write are kept (copied across first), so
    a user's own files in an output folder are not lost, except those named in ``managed``
    (the outputs this kind of run may write): a stale output of an earlier run must not sit
    beside the new ones. On failure the temporary folder is removed and ``path`` is untouched.
    """
    final = check_output_path(path, folder=True)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"output {final}: cannot write there ({err.strerror or err})") from None
    with _exclusive(final):
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
        except OSError as err:
            raise InputError(f"output {final}: cannot write there ({err.strerror or err})") from None
        yield from _fill_and_swap(final, tmp, managed)


@contextlib.contextmanager
def _exclusive(final: Path) -> Iterator[None]:
    """Hold a lock on the output folder while it is written: a second run writing the same folder
    at the same time stops with a clear message instead of interleaving with the first."""
    import fcntl

    lock_path = final.with_name(f".{final.name}.lock")
    handle = open(lock_path, "a")  # noqa: SIM115 - held for the block
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InputError(f"output {final}: another run is writing this folder now; wait for it to finish or "
                         "choose another --out") from None
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _fill_and_swap(final: Path, tmp: Path, managed: Iterable[str]) -> Iterator[Path]:
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        if final.exists():
            if not final.is_dir():
                raise NotADirectoryError(f"{final}: output path exists and is not a folder")
            managed = set(managed)
            for item in final.iterdir():
                target = tmp / item.name
                if item.name not in managed and not target.exists():
                    if item.is_dir():
                        shutil.copytree(item, target)
                    else:
                        shutil.copy2(item, target)
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
