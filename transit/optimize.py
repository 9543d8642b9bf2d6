"""The main job: choose and rank the projects for a budget, exactly, and explain the result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InputError
from solvers import selection
from transit.model import DesignSkim, YRDModel, build_model

__all__ = ["OptimizationRun", "run_optimization", "budget_steps", "priorities_table", "axes_table", "pairs_table"]


@dataclass
class OptimizationRun:
    model: YRDModel
    budget: float
    member_caps: dict[str, float]
    ladder: selection.Ladder
    result: selection.SelectionResult
    skim_base: DesignSkim
    skim_opt: DesignSkim
    timings: dict[str, float] = field(default_factory=dict)
    congestion: Any = None  # transit.congestion.CongestionResult with --congestion

    @property
    def selected(self) -> tuple[str, ...]:
        return self.result.selected


def budget_steps(budget: float, steps: int) -> list[float]:
    """The budget ladder: ``steps`` equal steps up to ``budget`` (zero excluded)."""
    if steps < 1:
        raise InputError(f"ladder steps = {steps}; expected at least 1")
    return [round(budget * k / steps, 6) for k in range(1, steps + 1)]


def run_optimization(
    config: dict[str, Any],
    *,
    budget: float,
    member_caps: dict[str, float] | None = None,
    ladder_steps: int = 8,
    time_limit: float | None = None,
    projects_path: str | None = None,
    axes_path: str | None = None,
    exclude_projects: tuple[str, ...] = (),
    use_cache: bool = True,
    osm: str | None = None,
    osm_network: str = "both",
    model: YRDModel | None = None,
    congestion: bool = False,
    congestion_time_limit: float | None = None,
) -> OptimizationRun:
    """Build the model (unless given), run the exact optimiser along the budget ladder.

    With ``congestion``, the road projects are also chosen under congestion (exact bilevel
    network design, :mod:`transit.congestion`) for the same budget.
    """
    if not isinstance(budget, (int, float)) or not np.isfinite(budget) or budget < 0:
        raise InputError(f"budget = {budget!r}; expected a finite number of billion CNY >= 0")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if model is None:
        model = build_model(config, projects_path=projects_path, axes_path=axes_path,
                            exclude_projects=exclude_projects, use_cache=use_cache, osm=osm,
                            osm_network=osm_network)
    timings["build_model_s"] = time.perf_counter() - started
    caps = dict(member_caps or {})
    known_members = {m.id for m in model.members} | {p.lead_member for p in model.projects}
    unknown = sorted(set(caps) - known_members)
    if unknown:
        raise InputError(f"member cap for unknown member(s) {unknown}; expected among {sorted(known_members)}")
    started = time.perf_counter()
    budgets = budget_steps(budget, ladder_steps) if budget > 0 else [0.0]
    ladder = selection.budget_ladder(model.arrays, model.candidates, model.od, budgets, member_caps=caps or None,
                                     time_limit=time_limit)
    timings["optimise_s"] = time.perf_counter() - started
    result = ladder.results[-1]
    started = time.perf_counter()
    skim_base = model.skim(())
    skim_opt = model.skim(result.selected)
    timings["skims_s"] = time.perf_counter() - started
    congested = None
    if congestion:
        from transit.congestion import solve_road_projects

        started = time.perf_counter()
        congested = solve_road_projects(model, budget=budget, time_limit=congestion_time_limit)
        timings["congestion_s"] = time.perf_counter() - started
    return OptimizationRun(model=model, budget=float(budget), member_caps=caps, ladder=ladder, result=result,
                           skim_base=skim_base, skim_opt=skim_opt, timings=timings, congestion=congested)


def priorities_table(run: OptimizationRun) -> pd.DataFrame:
    """Ranked projects: the optimal set at the budget in order of entry along the ladder.

    ``marginal_saving_min`` is what the objective loses (trip-minutes per day) if the
    project is removed from the optimal set at the full budget, together with the selected
    projects that require it (they cannot stay without it); projects that were optimal
    at a lower budget but not at the full one are listed after, marked ``in_optimal_set=no``.
    """
    model = run.model
    selected = set(run.selected)
    rows = []
    for entry in run.ladder.priority:
        project = model.project(entry.id)
        if entry.id in selected:
            dropped = _with_dependents(entry.id, run.selected, model)
            rest = [p for p in run.selected if p not in dropped]
            without = selection.evaluate_design(model.arrays, model.candidates, model.od, rest).objective
            saving = without - run.result.objective
        else:
            saving = float("nan")
        rows.append({
            "project": entry.id, "name_en": project.name_en, "name_zh": project.name_zh, "mode": project.mode,
            "cost_bn_cny": project.cost_bn_cny, "lead_member": project.lead_member,
            "axes": " ".join(project.axes), "enters_at_budget": entry.first_budget,
            "marginal_saving_min": saving, "marginal_saving_at_entry_min": entry.marginal_saving,
            "in_optimal_set": "yes" if entry.id in selected else "no",
        })
    table = pd.DataFrame(rows, columns=[
        "project", "name_en", "name_zh", "mode", "cost_bn_cny", "lead_member", "axes", "enters_at_budget",
        "marginal_saving_min", "marginal_saving_at_entry_min", "in_optimal_set"])
    table = table.sort_values(["in_optimal_set", "enters_at_budget", "marginal_saving_at_entry_min"],
                              ascending=[False, True, False], kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _with_dependents(pid: str, selected: tuple[str, ...], model: YRDModel) -> set[str]:
    """``pid`` and every selected project that needs it, directly or through others."""
    dropped = {pid}
    while True:
        more = {p for p in selected if p not in dropped and dropped & set(model.project(p).requires)}
        if not more:
            return dropped
        dropped |= more


def pairs_table(run: OptimizationRun) -> pd.DataFrame:
    """Every ordered zone pair: demand and rail, road and best times before and after.

    ``rail_min_*`` is station to station (dwell and stop penalties included),
    ``rail_door_min_*`` the same trip door to door; ``road_min_*`` and ``best_min_*`` are
    door to door. Pairs without rail have empty rail columns.
    """
    demand = run.model.demand.set_index(["origin", "destination"])["demand"]
    rows = []
    for (o, d), value in demand.items():
        rows.append({
            "origin": o, "destination": d, "demand": value,
            "rail_min_base": run.skim_base.rail.at[o, d], "road_min_base": run.skim_base.road.at[o, d],
            "best_min_base": run.skim_base.best.at[o, d],
            "rail_min_opt": run.skim_opt.rail.at[o, d], "road_min_opt": run.skim_opt.road.at[o, d],
            "best_min_opt": run.skim_opt.best.at[o, d],
            "rail_door_min_base": run.skim_base.rail_door.at[o, d],
            "rail_door_min_opt": run.skim_opt.rail_door.at[o, d],
        })
    return pd.DataFrame(rows)


def axes_table(run: OptimizationRun) -> pd.DataFrame:
    """Per axis and for the bay link: demand-weighted and end-to-end times, before and after."""
    demand = run.model.demand.set_index(["origin", "destination"])["demand"]
    rows = []
    for axis in run.model.axes:
        pairs = axis.pairs()
        weights = np.array([demand[p] for p in pairs])
        before = np.array([run.skim_base.best.at[p] for p in pairs])
        after = np.array([run.skim_opt.best.at[p] for p in pairs])
        a, b = axis.ends
        rows.append({
            "axis": axis.id, "name_en": axis.name_en, "kind": axis.kind,
            "cities": " - ".join(axis.cities) if axis.kind == "axis"
            else f"{'/'.join(axis.origins)} <> {'/'.join(axis.destinations)}",
            "pairs": len(pairs), "demand": weights.sum(),
            "weighted_min_base": float(weights @ before / weights.sum()),
            "weighted_min_opt": float(weights @ after / weights.sum()),
            "end_to_end": f"{a} - {b}",
            "end_to_end_min_base": float(run.skim_base.best.at[a, b]),
            "end_to_end_min_opt": float(run.skim_opt.best.at[a, b]),
        })
    table = pd.DataFrame(rows)
    table["saving_pct"] = 100.0 * (1 - table["weighted_min_opt"] / table["weighted_min_base"])
    return table
