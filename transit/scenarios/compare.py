"""Side-by-side scenarios: in memory for notebooks, or from run folders.

>>> from transit.scenarios import Scenario, compare_scenarios
>>> table = compare_scenarios([Scenario("base", budget=300),
...                            Scenario("growth +30 %", budget=300, growth=1.3)])
>>> table.summary()          # one row per scenario
>>> table.axes()             # demand-weighted minutes per axis, one column per scenario

>>> from transit.scenarios import compare
>>> tidy = compare(["runs/base", "runs/bay-tunnel"])   # one row per scenario and axis
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from transit.model import build_model
from transit.optimize import OptimizationRun, axes_table, priorities_table, run_optimization
from transit.scenarios.spec import Scenario

__all__ = ["ScenarioComparison", "compare_scenarios", "compare", "compare_chart"]


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
    """Optimise every scenario exactly, in memory; models are shared between scenarios that allow it."""
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        from networks.errors import InputError

        raise InputError(f"scenario names must be unique, got {names}")
    models: dict[tuple, Any] = {}
    runs = {}
    for scenario in scenarios:
        config = scenario.config()
        kwargs = scenario.optimization_arguments()
        built = {k: kwargs.pop(k) for k in ("projects_path", "axes_path", "exclude_projects", "osm", "osm_network",
                                             "od")}
        key = (repr(sorted((k, sorted(v.items())) for k, v in config.items())), repr(sorted(built.items())))
        if key not in models:
            models[key] = build_model(config, use_cache=use_cache, **built)
        runs[scenario.name] = run_optimization(config, model=models[key], **kwargs)
    return ScenarioComparison(runs)


COMPARE_COLUMNS = ["scenario", "axis", "name_en", "kind", "demand", "weighted_min_base", "weighted_min_opt",
                   "saving_pct", "budget_bn_cny", "status", "gap", "cost_bn_cny", "npv_bn_cny", "selected"]


def compare(runs: list[Any]) -> pd.DataFrame:
    """A tidy table of run folders: one row per scenario and axis (or bay link).

    ``runs``: run folders (paths) or :class:`~transit.scenarios.records.RunRecord`. Columns:
    the axis's demand-weighted door-to-door minutes before and after, its saving in percent of
    generalized cost, and the run's budget, status, gap, cost, NPV and chosen projects.
    """
    from transit.scenarios.records import RunRecord, load_run

    records = [r if isinstance(r, RunRecord) else load_run(r) for r in runs]
    names = [r.name for r in records]
    if len(set(names)) != len(names):
        from networks.errors import InputError

        raise InputError(f"scenario names must be unique to compare runs, got {names}")
    frames = []
    for rec in records:
        axes = rec.table("axes")
        summary = rec.summary()
        frame = axes[["axis", "name_en", "kind", "demand", "weighted_min_base", "weighted_min_opt", "saving_pct"]].copy()
        for key in ("budget_bn_cny", "status", "gap", "cost_bn_cny", "npv_bn_cny", "selected"):
            frame[key] = summary[key]
        frame.insert(0, "scenario", rec.name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[COMPARE_COLUMNS]


def compare_chart(table: pd.DataFrame, path: Any) -> None:
    """Grouped bars: each axis's saving (percent of generalized cost) in each scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = table.pivot(index="axis", columns="scenario", values="saving_pct")
    wide = wide.loc[list(dict.fromkeys(table["axis"]))][list(dict.fromkeys(table["scenario"]))]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    wide.plot.bar(ax=ax, width=0.8)
    ax.set_ylabel("saving, % of generalized cost")
    ax.set_xlabel("")
    ax.set_title("Improvement by axis and scenario")
    ax.legend(title="scenario", fontsize=8)
    ax.tick_params(axis="x", rotation=0)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
