"""Monte Carlo over the appraisal's uncertain inputs, re-solving the selection exactly per draw.

Each draw ``k`` (its own generator, ``numpy.random.default_rng([seed, k])``, so a draw does
not depend on the others or on the number of workers) takes:

* each project's capital cost from a triangular distribution on its catalogue range (low,
  central, high; fixed when the catalogue gives one figure);
* each category's optimism bias uniformly in its range (rail 6-66 %, road 3-44 %, sea
  crossings 6-66 %, ``docs/appraisal.md``);
* the value of a generalized hour from a triangular distribution on its low, central and high
  values (``appraisal.value_of_time``: central x ``low_factor``, x 1, x ``high_factor``);
* demand growth uniformly in 0-8.5 % a year (optional: it enters the benefit factor
  non-linearly, so it is left out where a closed-form mean is wanted).

The selection is then solved exactly for the draw (the capital budget applies to the drawn
costs; with ``objective="npv"`` the drawn discounted costs are the additive terms), with the
records shared between draws (:func:`solvers.selection.markets.solve_market_selection_scenarios`).
Reported: each draw's package, its NPV, and each project's probability of being in the optimal
package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InputError
from solvers.selection.markets import solve_market_selection_scenarios
from transit.appraisal.cashflows import benefit_factor, package_flows, pv_costs
from transit.appraisal.parameters import OPTIMISM_BIAS_RANGES, AppraisalParameters, category

__all__ = ["MonteCarloResult", "monte_carlo", "OB_RANGES", "DEMAND_GROWTH_RANGE", "vot_range"]

OB_RANGES = OPTIMISM_BIAS_RANGES
DEMAND_GROWTH_RANGE = (0.0, 0.085)


def vot_range(params: AppraisalParameters) -> tuple[float, float, float]:
    """Low, central and high value of a generalized hour (CNY/h): the configured factors."""
    v = params.value_of_time_cny_per_h
    if params.values_of_time is None:
        return v, v, v
    return v * params.values_of_time.low_factor, v, v * params.values_of_time.high_factor


@dataclass
class MonteCarloResult:
    """Per draw: the inputs drawn, the optimal package and its NPV; per project: how often chosen."""

    draws: pd.DataFrame
    probabilities: pd.DataFrame
    seed: int
    objective: str

    def summary(self) -> dict[str, Any]:
        npv = self.draws["npv_bn_cny"]
        return {"draws": int(len(self.draws)), "seed": self.seed, "objective": self.objective,
                "npv_mean_bn_cny": float(npv.mean()), "npv_p5_bn_cny": float(npv.quantile(0.05)),
                "npv_p50_bn_cny": float(npv.quantile(0.5)), "npv_p95_bn_cny": float(npv.quantile(0.95)),
                "npv_std_error_bn_cny": float(npv.std(ddof=1) / np.sqrt(len(npv))) if len(npv) > 1 else float("nan")}


def _draw(rng: np.random.Generator, params: AppraisalParameters, projects: list[Any],
          vary_growth: bool) -> tuple[AppraisalParameters, dict[str, float]]:
    costs = {}
    for p in projects:
        low = p.cost_low_bn_cny if p.cost_low_bn_cny is not None else p.cost_bn_cny
        high = p.cost_high_bn_cny if p.cost_high_bn_cny is not None else p.cost_bn_cny
        costs[p.id] = float(rng.triangular(low, p.cost_bn_cny, high)) if high > low else float(p.cost_bn_cny)
    ob = {c: float(rng.uniform(*OB_RANGES[c])) for c in OB_RANGES}
    low, mode, high = vot_range(params)
    vot = float(rng.triangular(low, mode, high)) if high > low else mode
    changes: dict[str, Any] = {"optimism_bias": ob, "value_of_time_cny_per_h": vot}
    if vary_growth:
        changes["demand_growth"] = float(rng.uniform(*DEMAND_GROWTH_RANGE))
    return params.with_(**changes), costs


def monte_carlo(model: Any, params: AppraisalParameters, *, budget: float, objective: str = "minutes",
                draws: int = 200, seed: int = 0, workers: int = 1, vary_growth: bool = True,
                layers: Any = None, candidates: Any = None,
                member_caps: dict[str, float] | None = None) -> MonteCarloResult:
    """``draws`` seeded draws of the inputs, each re-solved exactly (see the module docstring).

    ``layers`` and ``candidates`` default to the model's (a slice of them can be passed, as the
    tests do).  Results are identical for a seed whatever ``workers``.
    """
    if objective not in ("minutes", "benefit", "npv"):
        raise InputError(f"objective = {objective!r}; expected minutes, benefit or npv")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed = {seed!r}; expected a whole number >= 0")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise InputError(f"draws = {draws!r}; expected a whole number >= 1")
    layers = model.selection_layers if layers is None else layers
    candidates = model.candidates if candidates is None else candidates
    projects = [model.project(c.id) for c in candidates]
    drawn = [_draw(np.random.default_rng([seed, k]), params, projects, vary_growth) for k in range(draws)]

    scenarios = []
    for p, costs in drawn:
        terms = None
        if objective == "npv":
            a = benefit_factor(p)
            terms = {q.id: pv_costs(p, costs[q.id], q.mode, q.kind) / a for q in projects}
        scenarios.append((costs, terms))
    results = solve_market_selection_scenarios(layers, candidates, model.markets, scenarios, budget=budget,
                                               member_caps=member_caps or None, workers=workers)
    rows = []
    for k, ((p, costs), (_, terms), r) in enumerate(zip(drawn, scenarios, results)):
        penalty = sum((terms or {}).get(q, 0.0) for q in r.selected)
        saving = r.base_objective - (r.objective - penalty)
        by_id = {q.id: q for q in projects}
        flows = package_flows(p, [(costs[q], by_id[q].mode, by_id[q].kind) for q in r.selected], saving)
        rows.append({"draw": k, "status": r.status, "selected": " ".join(r.selected), "cost_bn_cny": r.cost,
                     "saving_min_per_day": saving, "pvb_bn_cny": flows.pvb / 1e9, "pvc_bn_cny": flows.pvc / 1e9,
                     "npv_bn_cny": flows.npv / 1e9, "value_of_time_cny_per_h": p.value_of_time_cny_per_h,
                     "demand_growth": p.demand_growth,
                     **{f"optimism_bias_{c}": p.optimism_bias[c] for c in OB_RANGES}})
    table = pd.DataFrame(rows)
    chosen = [set(s.split()) for s in table["selected"]]
    probabilities = pd.DataFrame({
        "project": [q.id for q in projects],
        "category": [category(q.mode, q.kind) for q in projects],
        "probability": [sum(q.id in c for c in chosen) / len(chosen) for q in projects],
    }).sort_values(["probability", "project"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return MonteCarloResult(draws=table, probabilities=probabilities, seed=seed, objective=objective)
