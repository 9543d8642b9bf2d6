"""The travel model: zones, demand, mode choice, and the optimisation model built on them.

One module per concern: :mod:`~transit.model.zones` (county zones with census populations),
:mod:`~transit.model.demand` (the fitted gravity model and OD files),
:mod:`~transit.model.mode_choice` (generalized cost and the logit),
:mod:`~transit.model.calibration` (fits and hold-out checks against published observations)
and :mod:`~transit.model.core` (the model the optimiser solves).  The public names are
re-exported here and loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "YRDModel": "transit.model.core",
    "DesignSkim": "transit.model.core",
    "build_model": "transit.model.core",
    "load_default": "transit.model.core",
    "objective_pairs": "transit.model.core",
    "load_zones": "transit.model.zones",
    "city_zones": "transit.model.zones",
    "gravity_demand": "transit.model.demand",
    "read_od": "transit.model.demand",
    "write_od_csv": "transit.model.demand",
    "write_od_omx": "transit.model.demand",
    "MODES": "transit.model.mode_choice",
    "logit_model": "transit.model.mode_choice",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'transit.model' has no attribute {name!r}")
