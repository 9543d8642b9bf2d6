"""Write OMX (Open Matrix) files: the skim format of AequilibraE, Emme, TransCAD and Visum.

OMX 0.2 is an HDF5 layout: root attributes ``OMX_VERSION`` and ``SHAPE``, a group ``data``
with one 2-D dataset per matrix and a group ``lookup`` with 1-D zone mappings. Written here
with h5py (16 MB installed) rather than openmatrix and PyTables; the tests re-read every file
with the openmatrix package. The bytes are reproducible: HDF5 object timestamps are off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from networks.atomic import atomic_path
from networks.errors import InputError

__all__ = ["write_omx"]


def write_omx(path: str | os.PathLike[str], matrices: Mapping[str, np.ndarray], *,
              lookups: Mapping[str, np.ndarray] | None = None,
              attributes: Mapping[str, Mapping[str, str | float]] | None = None) -> Path:
    """Write square ``matrices`` (name -> n x n array) and ``lookups`` (name -> n values) to ``path``.

    Parameters
    ----------
    path
        The ``.omx`` file (written atomically).
    matrices
        Float matrices of one shape ``(n, n)``; NaN marks a pair without a value.
    lookups
        Zone mappings (e.g. zone numbers), each of length ``n``: integers or strings.
    attributes
        Per-matrix attributes (e.g. ``{"rail_min_base": {"units": "min"}}``).
    """
    import h5py

    if not matrices:
        raise InputError(f"{path}: no matrices to write")
    shapes = {np.shape(m) for m in matrices.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise InputError(f"{path}: matrices must share one 2-D shape, got {sorted(shapes)}")
    shape = next(iter(shapes))
    path = Path(path)
    with atomic_path(path) as tmp:
        # no raw-data chunk cache: every chunk goes to disk in the call that writes it, so the file's
        # layout does not depend on when Python frees a dataset handle (a Dask worker's profiler keeps
        # frames, and with them handles, alive for a while; with a cache, late-closed chunks were
        # placed later in the file and the bytes changed although every value was the same)
        with h5py.File(tmp, "w", track_order=True, libver="earliest", rdcc_nbytes=0) as f:
            f.attrs["OMX_VERSION"] = np.bytes_("0.2")
            f.attrs["SHAPE"] = np.array(shape, dtype=np.int32)
            data = f.create_group("data", track_order=True)
            for name, matrix in matrices.items():
                # chunked (PyTables, and so openmatrix, list chunked arrays as matrices), compressed
                ds = data.create_dataset(name, data=np.asarray(matrix, dtype=np.float64), chunks=True,
                                         compression="gzip", compression_opts=4, shuffle=True, track_times=False)
                for key, value in ((attributes or {}).get(name) or {}).items():
                    ds.attrs[key] = np.bytes_(value) if isinstance(value, str) else value
                f.flush()
            lookup = f.create_group("lookup", track_order=True)
            for name, values in (lookups or {}).items():
                values = np.asarray(values)
                if values.shape != (shape[0],):
                    raise InputError(f"{path}: lookup {name!r} has {values.shape} values; expected {shape[0]}")
                if values.dtype.kind in "OU":
                    values = values.astype("S")
                lookup.create_dataset(name, data=values, track_times=False)
    return path
