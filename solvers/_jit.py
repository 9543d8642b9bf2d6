"""numba's ``njit`` when numba is installed, else a stand-in whose kernels say what to install.

numba and its LLVM (about 210 MB installed) compile the equilibrium kernels (traffic
assignment, network design, the congestion option).  The default job (``transit optimize``
without ``--congestion``) needs none of them, so numba is the optional extra ``assignment``
(``pip install -e ".[assignment]"``; the ``test`` extra includes it).  Without it, the modules
import as usual and calling a kernel raises :class:`networks.errors.MissingDependencyError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from networks.errors import MissingDependencyError

__all__ = ["njit", "prange", "HAVE_NUMBA", "require_numba"]

INSTALL = 'pip install -e ".[assignment]" (or pip install numba)'

try:
    from numba import njit, prange

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - the test environment has numba
    HAVE_NUMBA = False
    prange = range

    def njit(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]
        def wrap(fn: Callable) -> Callable:
            @functools.wraps(fn)
            def missing(*a: Any, **k: Any) -> Any:
                require_numba(f"the compiled kernel {fn.__module__}.{fn.__name__}")

            return missing

        if len(args) == 1 and callable(args[0]) and not kwargs:
            return wrap(args[0])
        return wrap


def require_numba(purpose: str) -> None:
    """Raise :class:`~networks.errors.MissingDependencyError` naming ``purpose`` when numba is absent."""
    if not HAVE_NUMBA:
        raise MissingDependencyError(f"{purpose} needs numba, which is not installed: {INSTALL}")
