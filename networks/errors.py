"""Typed exceptions shared by every layer.

They live in ``networks`` because it is the bottom layer: ``solvers`` and ``transit``
import from here, never the other way round.  Every message is one line that names the
file, field or value at fault and what was expected; the command line prints it as is.
"""

from __future__ import annotations

__all__ = [
    "TransitError",
    "InputError",
    "OSMError",
    "TNTPError",
    "InstanceError",
    "CatalogueError",
    "CacheError",
    "SolverError",
    "InfeasibleError",
    "MissingDependencyError",
    "TransitWarning",
    "OSMWarning",
]


class TransitError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(TransitError, ValueError):
    """An input file, field or argument is missing, malformed or out of range."""


class OSMError(InputError):
    """An OpenStreetMap file or query cannot be turned into the requested graph."""


class TNTPError(InputError):
    """A TNTP network, trips, node or flow file is malformed."""


class InstanceError(InputError):
    """A network-design instance is malformed or inconsistent."""


class CatalogueError(InputError):
    """A curated data file in ``data/`` (cities, axes, lines, projects) is inconsistent."""


class CacheError(TransitError):
    """A cache entry is empty, corrupt or was written by an incompatible version."""


class SolverError(TransitError):
    """A solver failed for a reason other than bad input."""


class InfeasibleError(SolverError):
    """The model has no feasible solution (for example demand that cannot be routed)."""


class MissingDependencyError(TransitError, ImportError):
    """An optional package this feature needs is not installed (the message names the extra)."""


class TransitWarning(UserWarning):
    """Something the user should know that does not stop the run (one line; the CLI prints it
    as ``transit COMMAND: warning: ...``)."""


class OSMWarning(TransitWarning):
    """Part of the requested OSM graph is absent (e.g. no rail in a drive extract)."""
