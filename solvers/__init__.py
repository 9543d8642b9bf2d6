"""Algorithms that know nothing about the YRD: assignment, network design, selection."""

import networks._numba_cache  # noqa: F401  (a writable cache for numba, before any kernel)
