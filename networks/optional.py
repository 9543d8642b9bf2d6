"""Optional dependencies: what the default job does without them, and a clear error when a
feature needs one that is not installed.

The default install carries what ``transit optimize`` needs.  The extras (``pyproject.toml``):
``assignment`` (numba: the equilibrium kernels of ``transit assign``, ``transit dndp`` and
``--congestion``), ``osm`` (osmnx: downloads from Overpass, place geocoding, GraphML export,
osmnx's XML parser), ``gis`` (geopandas: ``RunRecord.layer`` as GeoDataFrames), ``omx``
(openmatrix), ``sweep`` (Dask), ``world`` (world graphs).  ``test`` installs them all but
``world``.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from networks.errors import MissingDependencyError

__all__ = ["require", "available"]


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`~networks.errors.MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"{purpose} needs {module.split('.')[0]}, which is not installed: "
                                     f'pip install -e ".[{extra}]"') from None
