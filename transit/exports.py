"""Exports in the formats the planners' other tools read, written into every run folder.

- GMNS ``node.csv``, ``link.csv``, ``config.csv`` (path4gmns, DTALite, osm2gmns): the
  multimodal network of the chosen package (base network plus the selected projects).
- ``skims.omx`` (AequilibraE, Emme, TransCAD, Visum): zone-to-zone matrices before and after,
  door-to-door minutes by mode, the logit mode shares, the composite generalized cost and the
  demand; lookup ``zone_adcode`` (the county codes of ``data/zones.csv``) and ``zone_index``.
  Pairs within one city are outside the intercity model: NaN.
- ``tables.xlsx``: the run's tables, one sheet each, for the planning documents.

All three are reproducible byte for byte (fixed timestamps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.gmns import write_gmns
from networks.omx import write_omx
from networks.xlsx import write_xlsx
from transit.model.mode_choice import MODES

__all__ = ["write_exports", "skim_matrices", "EXPORTS"]

EXPORTS = ("node.csv", "link.csv", "config.csv", "skims.omx", "tables.xlsx")


def skim_matrices(run: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Zone-by-zone matrices (name -> n x n, NaN where not modelled) and the zone lookups."""
    model = run.model
    zones = list(model.zones)
    pos = {z: k for k, z in enumerate(zones)}
    o = model.demand["origin"].map(pos).to_numpy()
    d = model.demand["destination"].map(pos).to_numpy()
    n = len(zones)

    def matrix(values: np.ndarray) -> np.ndarray:
        out = np.full((n, n), np.nan)
        out[o, d] = np.where(np.isfinite(values), values, np.nan)
        return out

    matrices = {"demand": matrix(model.demand["demand"].to_numpy(float))}
    for tag, skim in (("base", run.skim_base), ("opt", run.skim_opt)):
        for m, mode in enumerate(MODES):
            matrices[f"{mode}_door_min_{tag}"] = matrix(skim.time[:, m])
        for m, mode in enumerate(MODES):
            matrices[f"share_{mode}_{tag}"] = matrix(skim.shares[:, m])
        matrices[f"gc_min_{tag}"] = matrix(skim.composite)
    table = model.network.zones.set_index("zone").loc[zones]
    lookups = {"zone_adcode": table["adcode"].to_numpy(np.int64), "zone_index": np.arange(1, n + 1, dtype=np.int64)}
    return matrices, lookups


def write_exports(run: Any, folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Write the GMNS network, the OMX skims and the Excel workbook of ``tables`` into ``folder``."""
    graph = run.design_graph()
    write_gmns(graph, folder, dataset_name=f"YRD multimodal network, package {' '.join(run.selected) or '(none)'}")
    matrices, lookups = skim_matrices(run)
    units = {name: {"units": "trips/day" if name == "demand" else "share" if name.startswith("share") else "min"}
             for name in matrices}
    write_omx(folder / "skims.omx", matrices, lookups=lookups, attributes=units)
    write_xlsx(folder / "tables.xlsx", tables)

