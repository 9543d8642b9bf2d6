"""Transport-planning application for the Yangtze River Delta alliance.

The public API, importable from ``transit`` directly (loaded on first use, so that
``import transit`` stays light)::

    import transit
    model = transit.load_default()                          # the embedded YRD model
    run = transit.Scenario(name="300 bn", budget=300).run()  # a run folder, read back
    run.table("axes"); run.layer("projects_selected")      # DataFrames and GeoDataFrames
    run.plot.map()                                          # the run's map (matplotlib)

and ``load_config``, ``run_optimization``, ``write_outputs``, ``compare_scenarios``,
``load_scenario``, ``load_run``, ``compare`` (see ``docs/api.md``).
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "load_config": "transit.config",
    "build_model": "transit.model",
    "load_default": "transit.model",
    "draw_map": "transit.maps",
    "load_boundaries": "transit.maps",
    "run_optimization": "transit.optimize",
    "axes_table": "transit.optimize",
    "pairs_table": "transit.optimize",
    "priorities_table": "transit.optimize",
    "write_outputs": "transit.reports",
    "Scenario": "transit.scenarios",
    "compare_scenarios": "transit.scenarios",
    "load_scenario": "transit.scenarios",
    "load_run": "transit.scenarios",
    "compare": "transit.scenarios",
    "solve_road_projects": "transit.congestion",
    "timetable_check": "transit.validation",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'transit' has no attribute {name!r}")
