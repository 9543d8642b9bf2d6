"""The main job: choose and rank the projects for a budget, exactly, and explain the result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InputError
from networks.memory import no_gc, release_free_memory
from solvers import selection
from solvers.selection.markets import market_budget_ladder
from transit.model import DesignSkim, YRDModel, build_model
from transit.model.mode_choice import MODES
from transit.progress import Stopwatch, logger, progress_bar

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
    fastest_base: pd.DataFrame | None = None  # fastest station-to-station rail per city pair
    fastest_opt: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    congestion: Any = None  # transit.congestion.CongestionResult with --congestion
    objective: str = "minutes"  # what the selection optimised: minutes, benefit or npv
    appraisal: Any = None  # transit.appraisal.AppraisalParameters
    project_costs_min: dict[str, float] | None = None  # npv: each project's PV of costs, in objective units
    monte_carlo: Any = None  # transit.appraisal.uncertainty.MonteCarloResult with monte_carlo_draws > 0
    fairness: Any = None  # solvers.selection.fairness.FairSelection with fairness or min_improvement

    _design_graph: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def selected(self) -> tuple[str, ...]:
        return self.result.selected

    def design_graph(self) -> Any:
        """The network with the chosen projects' arcs, built once per run (shared by the GIS
        layers and the GMNS export; treat it as read-only)."""
        if self._design_graph is None:
            self._design_graph = self.model.design_graph(self.selected)
        return self._design_graph


def budget_steps(budget: float, steps: int) -> list[float]:
    """The budget ladder: ``steps`` equal steps up to ``budget`` (zero excluded)."""
    if steps < 1:
        raise InputError(f"ladder steps = {steps}; expected at least 1")
    return [round(budget * k / steps, 6) for k in range(1, steps + 1)]


@no_gc()  # allocation-heavy: the cyclic collector cost about a fifth of the run (networks.memory.no_gc)
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
    od: str | None = None,
    objective: str = "minutes",
    monte_carlo_draws: int = 0,
    seed: int = 0,
    workers: int = 1,
    fairness: str | None = None,
    min_improvement: dict[str, float] | None = None,
) -> OptimizationRun:
    """Build the model (unless given), run the exact optimiser along the budget ladder.

    ``monte_carlo_draws > 0`` adds the seeded Monte Carlo of the appraisal
    (:func:`transit.appraisal.uncertainty.monte_carlo`: every draw re-solved exactly at the
    budget, ``workers`` processes, identical results for a ``seed`` whatever ``workers``).

    ``objective``: ``"minutes"`` (the logsum benefit in generalized minutes a day),
    ``"benefit"`` (the same in money: with one opening year and one growth path for every
    project, money is a fixed multiple of minutes, so the optimum is the same) or ``"npv"``
    (the package's net present value: each project's discounted costs enter the objective,
    :func:`transit.appraisal.tables.project_cost_terms`).  With ``congestion``, the road
    projects are also chosen under congestion (exact bilevel network design,
    :mod:`transit.congestion`) for the same budget.

    ``fairness="maximin"`` or ``min_improvement`` (axis id or ``"all"`` -> percent) choose the
    package at ``budget`` fairly across the axes and the bay link (:mod:`transit.fairness`);
    the ladder and its priority order stay unconstrained.
    """
    from transit.appraisal import appraisal_parameters
    from transit.appraisal.tables import OBJECTIVES, project_cost_terms
    from transit.appraisal.values import VALUE_MODES, base_mode_shares

    if not isinstance(budget, (int, float)) or not np.isfinite(budget) or budget < 0:
        raise InputError(f"budget = {budget!r}; expected a finite number of billion CNY >= 0")
    if objective not in OBJECTIVES:
        raise InputError(f"objective = {objective!r}; expected one of {', '.join(OBJECTIVES)}")
    if congestion:
        from solvers._jit import require_numba

        require_numba("congestion (the equilibrium kernels of --congestion)")
    for name, value, low in (("Monte Carlo draws", monte_carlo_draws, 0), ("seed", seed, 0), ("workers", workers, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"{name} = {value!r}; expected a whole number >= {low}")
    if fairness not in (None, "maximin"):
        raise InputError(f"fairness = {fairness!r}; expected 'maximin' or none")
    if fairness and min_improvement:
        raise InputError("give --fairness maximin or --min-improvement, not both")
    # checked before the model is built (the mode shares that weigh the values of time come after)
    appraisal_parameters(config if model is None else model.config, mode_shares=dict.fromkeys(VALUE_MODES, 1 / 3))
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if model is None:
        with Stopwatch("building the model (network, zones, demand, mode choice, catalogue)"):
            model = build_model(config, projects_path=projects_path, axes_path=axes_path,
                                exclude_projects=exclude_projects, use_cache=use_cache, osm=osm,
                                osm_network=osm_network, od=od)
    timings["build_model_s"] = time.perf_counter() - started
    logger.info("model: %d zones, %d zone pairs with demand, %d candidate projects", len(model.zones),
                len(model.demand), len(model.candidates))
    caps = dict(member_caps or {})
    known_members = {m.id for m in model.members} | {p.lead_member for p in model.projects}
    unknown = sorted(set(caps) - known_members)
    if unknown:
        raise InputError(f"member cap for unknown member(s) {unknown}; expected among {sorted(known_members)}")
    minimum = None
    if min_improvement:
        from transit.fairness import check_min_improvement

        minimum = check_min_improvement(model, min_improvement)
    appraisal = appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    started = time.perf_counter()
    budgets = budget_steps(budget, ladder_steps) if budget > 0 else [0.0]
    terms = project_cost_terms(model, appraisal) if objective == "npv" else None
    logger.info("enumerating the projects' records, then solving exactly at %d budget(s) up to %g bn CNY (CP-SAT)",
                len(budgets), budgets[-1])
    with progress_bar(len(budgets), "budget ladder", " budget") as bar:
        def step(b: float, r: Any, seconds: float) -> None:
            bar.update(1)
            logger.info("budget %g bn CNY: %s, %d project(s), gap %.2g, %.1f s", b, r.status, len(r.selected),
                        r.gap, seconds)

        ladder = market_budget_ladder(model.selection_layers, model.candidates, model.markets, budgets,
                                      member_caps=caps or None, time_limit=time_limit, project_costs=terms,
                                      on_step=step)
    result = ladder.results[-1]
    fair = None
    if fairness or min_improvement:
        from solvers.selection.fairness import solve_fair_selection
        from transit.fairness import axis_groups

        with Stopwatch("fair selection across the axes"):
            fair = solve_fair_selection(model.selection_layers, model.candidates, model.markets, budget=budget,
                                        groups=axis_groups(model), minimum=minimum, maximin=fairness == "maximin",
                                        member_caps=caps or None, time_limit=time_limit, project_costs=terms)
        result = fair.result
    timings["optimise_s"] = time.perf_counter() - started
    release_free_memory()  # what the solves freed, before the skims and outputs (peak memory)
    started = time.perf_counter()
    with Stopwatch("skims before and after (door-to-door times, mode shares, fastest rail)"):
        skim_base = model.base_skim()
        skim_opt = model.skim(result.selected)
        fastest_base = model.fastest_rail(())
        fastest_opt = model.fastest_rail(result.selected)
    timings["skims_s"] = time.perf_counter() - started
    congested = None
    if congestion:
        from transit.congestion import solve_road_projects

        started = time.perf_counter()
        with Stopwatch("road projects under congestion (exact bilevel design)"):
            congested = solve_road_projects(model, budget=budget, time_limit=congestion_time_limit)
        timings["congestion_s"] = time.perf_counter() - started
    uncertainty = None
    if monte_carlo_draws:
        from transit.appraisal.uncertainty import monte_carlo

        started = time.perf_counter()
        with Stopwatch(f"Monte Carlo of the appraisal ({monte_carlo_draws} draws)"):
            uncertainty = monte_carlo(model, appraisal, budget=budget, objective=objective,
                                      draws=monte_carlo_draws, seed=seed, workers=workers, member_caps=caps or None)
        timings["monte_carlo_s"] = time.perf_counter() - started
    return OptimizationRun(model=model, budget=float(budget), member_caps=caps, ladder=ladder, result=result,
                           skim_base=skim_base, skim_opt=skim_opt, fastest_base=fastest_base, fastest_opt=fastest_opt,
                           timings=timings, congestion=congested, objective=objective, appraisal=appraisal,
                           project_costs_min=terms, monte_carlo=uncertainty, fairness=fair)


def priorities_table(run: OptimizationRun) -> pd.DataFrame:
    """Ranked projects: the optimal set at the budget in order of entry along the ladder.

    ``marginal_saving_min`` is what the package loses (generalized minutes per day: the
    logsum benefit) if the project is removed from the optimal set at the full budget, together
    with the selected projects that require it (they cannot stay without it); ``npv_bn_cny``
    and ``bcr`` set that saving, in money, against the project's own costs
    (:mod:`transit.appraisal`); ``marginal_saving_at_entry_min`` is the same at the budget where
    it enters (net of the cost terms with ``objective="npv"``).  Projects that were optimal at a
    lower budget but not at the full one are listed after, marked ``in_optimal_set=no``.
    """
    from transit.appraisal import appraisal_parameters, project_flows
    from transit.appraisal.values import base_mode_shares

    model = run.model
    params = run.appraisal or appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    selected = set(run.selected)
    rows = []
    for entry in run.ladder.priority:
        project = model.project(entry.id)
        if entry.id in selected:
            dropped = _with_dependents(entry.id, run.selected, model)
            rest = [p for p in run.selected if p not in dropped]
            terms = run.project_costs_min or {}
            saving = run.ladder.objective_of(rest) - run.result.objective + sum(terms.get(p, 0.0) for p in dropped)
        else:
            saving = float("nan")
        flows = project_flows(params, capex_bn=project.cost_bn_cny, mode=project.mode, kind=project.kind,
                              saving_min_per_day=0.0 if np.isnan(saving) else saving)
        rows.append({
            "project": entry.id, "name_en": project.name_en, "name_zh": project.name_zh, "mode": project.mode,
            "cost_bn_cny": project.cost_bn_cny, "lead_member": project.lead_member,
            "axes": " ".join(project.axes), "enters_at_budget": entry.first_budget,
            "marginal_saving_min": saving, "npv_bn_cny": flows.npv / 1e9 if not np.isnan(saving) else np.nan,
            "bcr": flows.bcr if not np.isnan(saving) else np.nan,
            "marginal_saving_at_entry_min": entry.marginal_saving,
            "in_optimal_set": "yes" if entry.id in selected else "no",
        })
    table = pd.DataFrame(rows, columns=[
        "project", "name_en", "name_zh", "mode", "cost_bn_cny", "lead_member", "axes", "enters_at_budget",
        "marginal_saving_min", "npv_bn_cny", "bcr", "marginal_saving_at_entry_min", "in_optimal_set"])
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


def unvalued_table(run: OptimizationRun) -> pd.DataFrame:
    """Candidates that save nothing at any budget of the ladder, with the reason."""
    model = run.model
    chosen = {pid for r in run.ladder.results for pid in r.selected}
    rows = [{"project": pid, "reason": why} for pid, why in model.unvalued.items()]
    top = run.ladder.results[-1]
    saving_somewhere = set(top.stats.get("projects_saving_somewhere", [p.id for p in model.candidates]))
    for p in model.candidates:
        if p.id in chosen or p.id in model.unvalued:
            continue
        if p.cost > top.budget:
            rows.append({"project": p.id, "reason": f"costs {p.cost:g} bn CNY, above the budget of {top.budget:g}"})
            continue
        if p.id not in saving_somewhere:
            rows.append({"project": p.id, "reason": "saves nothing on the objective markets: no zone pair of the "
                         "axes or the bay link gets a cheaper trip with it, alone or with other projects"})
        else:
            rows.append({"project": p.id, "reason": "saves something, but other projects save more for the money "
                         "at every budget of the ladder"})
    return pd.DataFrame(rows, columns=["project", "reason"])


def _weighted(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    return float(np.dot(values[ok], weights[ok]) / weights[ok].sum()) if ok.any() else float("nan")


def zone_pairs_table(run: OptimizationRun, *, objective_only: bool = True) -> pd.DataFrame:
    """Every zone pair of the objective (or all intercity pairs): times, costs and shares."""
    model = run.model
    rows = model.market_rows if objective_only else np.arange(len(model.demand))
    out = model.demand.iloc[rows][["origin", "destination", "origin_city", "destination_city", "demand"]].copy()
    for tag, skim in (("base", run.skim_base), ("opt", run.skim_opt)):
        for m, mode in enumerate(MODES):
            out[f"{mode}_door_min_{tag}"] = skim.time[rows, m]
        out[f"rail_station_min_{tag}"] = skim.rail_station[rows]
        for m, mode in enumerate(MODES):
            out[f"share_{mode}_{tag}"] = skim.shares[rows, m]
        out[f"gc_min_{tag}"] = skim.composite[rows]
    return out.replace([np.inf, -np.inf], np.nan).reset_index(drop=True)


def pairs_table(run: OptimizationRun) -> pd.DataFrame:
    """Every ordered city pair: demand, fastest rail, door-to-door times and mode shares, before and after.

    ``rail_fastest_min_*``: the fastest station-to-station time between any stations of the
    two cities, as a timetable shows it, between the stations named in
    ``rail_fastest_stations_*``.  ``rail_door_min_*``, ``road_min_*`` (car) and
    ``coach_min_*``: door-to-door times demand-weighted over the zone pairs of the two cities;
    ``best_min_*``: the demand-weighted fastest mode; ``share_*``: logit mode shares
    (demand-weighted); ``gc_min_*``: the composite generalized cost (minutes).
    """
    model = run.model
    demand = model.demand
    w = demand["demand"].to_numpy(float)
    groups = demand.groupby(["origin_city", "destination_city"], sort=False).indices
    fastest = {}
    for tag, table in (("base", run.fastest_base), ("opt", run.fastest_opt)):
        if table is not None:
            fastest[tag] = table.set_index(["origin_city", "destination_city"])
    rows = []
    for (a, b), idx in groups.items():
        row: dict[str, Any] = {"origin": a, "destination": b, "demand": float(w[idx].sum())}
        for tag, skim in (("base", run.skim_base), ("opt", run.skim_opt)):
            hit = fastest[tag].loc[(a, b)] if tag in fastest and (a, b) in fastest[tag].index else None
            row[f"rail_fastest_min_{tag}"] = float(hit["rail_fastest_min"]) if hit is not None else np.nan
            row[f"rail_fastest_stations_{tag}"] = (f"{hit['from_station']} - {hit['to_station']}"
                                                    if hit is not None and hit["from_station"] else "")
            row[f"rail_door_min_{tag}"] = _weighted(skim.time[idx, 0], w[idx])
            row[f"road_min_{tag}"] = _weighted(skim.time[idx, 1], w[idx])
            row[f"coach_min_{tag}"] = _weighted(skim.time[idx, 2], w[idx])
            row[f"best_min_{tag}"] = _weighted(np.min(skim.time[idx], axis=1), w[idx])
            for m, mode in enumerate(MODES):
                row[f"share_{mode}_{tag}"] = _weighted(skim.shares[idx, m], w[idx])
            row[f"gc_min_{tag}"] = _weighted(skim.composite[idx], w[idx])
        rows.append(row)
    return pd.DataFrame(rows)


def axes_table(run: OptimizationRun) -> pd.DataFrame:
    """Per axis and for the bay link: demand-weighted times, generalized cost and rail share, before and after.

    ``weighted_min_*``: door-to-door minutes of the trips as they split between the modes;
    ``weighted_gc_*``: the composite generalized cost (minutes) the optimiser minimises;
    ``end_to_end_rail_*``: the fastest rail time between the axis's first and last city.
    """
    model = run.model
    demand = model.demand
    w = demand["demand"].to_numpy(float)
    key = list(zip(demand["origin_city"], demand["destination_city"]))
    fastest = {tag: t.set_index(["origin_city", "destination_city"])["rail_fastest_min"]
               for tag, t in (("base", run.fastest_base), ("opt", run.fastest_opt)) if t is not None}
    rows = []
    for axis in model.axes:
        pairs = set(axis.pairs())
        idx = np.array([k for k, p in enumerate(key) if p in pairs], dtype=np.int64)
        a, b = axis.ends
        row: dict[str, Any] = {
            "axis": axis.id, "name_en": axis.name_en, "kind": axis.kind,
            "cities": " - ".join(axis.cities) if axis.kind == "axis"
            else f"{'/'.join(axis.origins)} <> {'/'.join(axis.destinations)}",
            "city_pairs": len(pairs), "zone_pairs": int(idx.size), "demand": float(w[idx].sum()),
        }
        for tag, skim in (("base", run.skim_base), ("opt", run.skim_opt)):
            expected = np.nansum(np.where(np.isfinite(skim.time[idx]), skim.time[idx], 0.0) * skim.shares[idx], axis=1)
            row[f"weighted_min_{tag}"] = _weighted(expected, w[idx])
            row[f"weighted_gc_{tag}"] = _weighted(skim.composite[idx], w[idx])
            row[f"share_rail_{tag}"] = _weighted(skim.shares[idx, 0], w[idx])
        row["end_to_end"] = f"{a} - {b}"
        for tag in ("base", "opt"):
            row[f"end_to_end_rail_{tag}"] = float(fastest[tag].get((a, b), np.nan)) if tag in fastest else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    table["saving_pct"] = 100.0 * (1 - table["weighted_gc_opt"] / table["weighted_gc_base"])
    return table
