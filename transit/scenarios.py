"""Side-by-side scenarios for notebooks: budgets, demand growth, candidate sets, caps.

>>> from transit.scenarios import Scenario, compare_scenarios
>>> table = compare_scenarios([Scenario("base", budget=300),
...                            Scenario("growth +30 %", budget=300, growth=1.3)])
>>> table.summary()          # one row per scenario
>>> table.axes()             # demand-weighted minutes per axis, one column per scenario
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from transit.config import load_config
from transit.model import build_model
from transit.optimize import OptimizationRun, axes_table, priorities_table, run_optimization

__all__ = ["Scenario", "ScenarioComparison", "compare_scenarios"]


@dataclass(frozen=True)
class Scenario:
    """One planning scenario (everything not given keeps the default configuration)."""

    name: str
    budget: float
    growth: float | None = None
    exclude_projects: tuple[str, ...] = ()
    member_caps: dict[str, float] = field(default_factory=dict)
    pairs: str | None = None
    config_path: str | None = None
    ladder_steps: int = 4

    def config(self) -> dict[str, Any]:
        overrides = {"demand__growth": self.growth, "objective__pairs": self.pairs}
        return load_config(self.config_path, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class ScenarioComparison:
    runs: dict[str, OptimizationRun]

    def summary(self) -> pd.DataFrame:
        """One row per scenario: status, gap, cost, objective, saving, selected projects."""
        rows = []
        for name, run in self.runs.items():
            r = run.result
            rows.append({"scenario": name, "budget": run.budget, "status": r.status, "gap": r.gap,
                         "cost": r.cost, "objective": r.objective, "base_objective": r.base_objective,
                         "saving_pct": 100 * r.saving / r.base_objective if r.base_objective else 0.0,
                         "selected": " ".join(r.selected)})
        return pd.DataFrame(rows).set_index("scenario")

    def axes(self, column: str = "weighted_min_opt") -> pd.DataFrame:
        """Axes as rows, scenarios as columns (plus the base network in ``base``)."""
        frames = {}
        for name, run in self.runs.items():
            table = axes_table(run).set_index("axis")
            frames.setdefault("base", table["weighted_min_base"])
            frames[name] = table[column]
        return pd.DataFrame(frames)

    def priorities(self) -> pd.DataFrame:
        """Rank of each project in each scenario (empty where it is not selected)."""
        frames = {}
        for name, run in self.runs.items():
            table = priorities_table(run)
            table = table[table["in_optimal_set"] == "yes"]
            frames[name] = table.set_index("project")["rank"]
        return pd.DataFrame(frames).sort_index()


def compare_scenarios(scenarios: list[Scenario], *, use_cache: bool = True) -> ScenarioComparison:
    """Optimise every scenario exactly; models are shared between scenarios that allow it."""
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        from networks.errors import InputError

        raise InputError(f"scenario names must be unique, got {names}")
    models: dict[tuple, Any] = {}
    runs = {}
    for scenario in scenarios:
        config = scenario.config()
        key = (repr(sorted((k, sorted(v.items())) for k, v in config.items())), scenario.exclude_projects)
        if key not in models:
            models[key] = build_model(config, exclude_projects=scenario.exclude_projects, use_cache=use_cache)
        runs[scenario.name] = run_optimization(config, budget=scenario.budget, member_caps=scenario.member_caps,
                                               ladder_steps=scenario.ladder_steps, model=models[key])
    return ScenarioComparison(runs)
