"""A writable cache folder for numba's compiled kernels, whoever runs the package and from where.

numba caches a ``cache=True`` kernel in ``__pycache__`` beside its source, else in the user's
cache folder; when neither is writable (a read-only install run by a user without a writable
home, a container's ``nobody``) it cannot compile the kernel at all.  Unless the user set
``NUMBA_CACHE_DIR``, :func:`ensure_numba_cache_dir` points it at the first writable folder of:
the package's own ``__pycache__`` (nothing to do), ``$YRD_TRANSIT_CACHE/numba`` (or
``~/.cache/yrd-transit/numba``), and a per-user folder in the system's temporary folder.
It runs when :mod:`networks` or :mod:`solvers` is imported, before any kernel is compiled.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["ensure_numba_cache_dir"]

_PACKAGES = ("networks", "solvers")


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-", delete=True)
        probe.close()
        return True
    except OSError:
        return False


def ensure_numba_cache_dir(package_dirs: tuple[Path, ...] | None = None) -> str | None:
    """Set ``NUMBA_CACHE_DIR`` when numba could not cache beside the sources; return it (or None)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    root = Path(__file__).resolve().parents[1]
    dirs = package_dirs if package_dirs is not None else tuple(root / name for name in _PACKAGES)
    if all(_writable(d / "__pycache__") for d in dirs):
        return None
    user = os.environ.get("YRD_TRANSIT_CACHE") or str(Path.home() / ".cache" / "yrd-transit")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    for candidate in (Path(user) / "numba", Path(tempfile.gettempdir()) / f"yrd-transit-numba-{uid}"):
        if _writable(candidate):
            os.environ["NUMBA_CACHE_DIR"] = str(candidate)
            try:  # numba may already be imported: it reads the setting at import
                import sys

                if "numba" in sys.modules:
                    sys.modules["numba"].config.CACHE_DIR = str(candidate)
            except AttributeError:  # pragma: no cover - an old numba
                pass
            return str(candidate)
    return None


ensure_numba_cache_dir()
