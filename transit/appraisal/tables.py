"""The appraisal of an optimisation run: per project (alone and in the package) and the package.

Savings come from the run's exact evaluations (the ladder's records, which are exact for every
design within the largest budget); money from :mod:`transit.appraisal.cashflows`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from transit.appraisal.cashflows import benefit_factor, cost_flows, package_flows, project_flows, pv_costs
from transit.appraisal.parameters import OPTIMISM_BIAS_RANGES, AppraisalParameters, appraisal_parameters
from transit.appraisal.uncertainty import vot_range
from transit.appraisal.values import base_mode_shares, saving_by_mode

if TYPE_CHECKING:  # pragma: no cover
    from transit.optimize import OptimizationRun

__all__ = ["OBJECTIVES", "TORNADO_RANGES", "appraisal_table", "package_appraisal", "project_cost_terms",
           "tornado_table"]

OBJECTIVES = ("minutes", "benefit", "npv")


def project_cost_terms(model: Any, params: AppraisalParameters) -> dict[str, float]:
    """Per candidate, the present value of its costs in generalized minutes a day.

    Dividing by :func:`benefit_factor` (CNY of present value per generalized minute a day
    saved) puts costs in the objective's units: minimising the objective plus these terms
    maximises the package's NPV, exactly, for the stated appraisal model.
    """
    factor = benefit_factor(params)
    return {c.id: pv_costs(params, p.cost_bn_cny, p.mode, p.kind) / factor
            for c in model.candidates for p in [model.project(c.id)]}


def _closure(pid: str, model: Any) -> list[str]:
    out, todo = [], [pid]
    while todo:
        q = todo.pop()
        if q not in out:
            out.append(q)
            todo.extend(model.project(q).requires)
    return sorted(out)


def _savings(run: OptimizationRun) -> tuple[Any, Any]:
    """Saving (generalized min/day) of a design from the ladder, the cost terms removed."""
    terms = run.project_costs_min or {}
    base = run.result.base_objective

    def saving(ids: list[str] | tuple[str, ...]) -> float:
        return base - (run.ladder.objective_of(ids) - sum(terms.get(i, 0.0) for i in ids))

    return saving, terms


def appraisal_table(run: OptimizationRun) -> pd.DataFrame:
    """One row per candidate: costs, and NPV, BCR, IRR, FYRR alone and in the chosen package.

    *Alone*: the project with the projects it requires, on the base network (only for those
    whose cost fits the budget; others are left empty).  *In the package*: what the package
    loses without the project (and the selected projects that need it), against the
    project's own costs.  Money in billion CNY of ``price_year``, present values at
    ``base_year``.
    """
    from transit.optimize import _with_dependents

    model = run.model
    params = run.appraisal or appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    saving, _ = _savings(run)
    selected = run.selected
    rows = []
    for cand in model.candidates:
        project = model.project(cand.id)
        group = _closure(cand.id, model)
        group_cost = sum(model.project(q).cost_bn_cny for q in group)
        row: dict[str, Any] = {
            "project": cand.id, "name_en": project.name_en, "mode": project.mode, "kind": project.kind,
            "cost_bn_cny": project.cost_bn_cny,
            "capital_with_uplift_bn_cny": cost_flows(params, project.cost_bn_cny, project.mode, project.kind)[1] / 1e9,
            "pv_costs_bn_cny": pv_costs(params, project.cost_bn_cny, project.mode, project.kind) / 1e9,
            "alone_with": " ".join(q for q in group if q != cand.id),
        }
        if group_cost <= run.budget + 1e-9:
            s = saving(group)
            flows = package_flows(params, [(model.project(q).cost_bn_cny, model.project(q).mode,
                                            model.project(q).kind) for q in group], s)
            row.update(alone_saving_min=s, alone_pvb_bn_cny=flows.pvb / 1e9, alone_npv_bn_cny=flows.npv / 1e9,
                       alone_bcr=flows.bcr, alone_irr=flows.irr, alone_first_year_return=flows.first_year_return)
        if cand.id in selected:
            dropped = _with_dependents(cand.id, selected, model)
            rest = [q for q in selected if q not in dropped]
            s = saving(selected) - saving(rest)
            flows = project_flows(params, capex_bn=project.cost_bn_cny, mode=project.mode, kind=project.kind,
                                  saving_min_per_day=s)
            row.update(package_marginal_saving_min=s, package_pvb_bn_cny=flows.pvb / 1e9,
                       package_npv_bn_cny=flows.npv / 1e9, package_bcr=flows.bcr, package_irr=flows.irr,
                       package_first_year_return=flows.first_year_return)
        rows.append(row)
    columns = ["project", "name_en", "mode", "kind", "cost_bn_cny", "capital_with_uplift_bn_cny", "pv_costs_bn_cny",
               "alone_with", "alone_saving_min", "alone_pvb_bn_cny", "alone_npv_bn_cny", "alone_bcr", "alone_irr",
               "alone_first_year_return", "package_marginal_saving_min", "package_pvb_bn_cny", "package_npv_bn_cny",
               "package_bcr", "package_irr", "package_first_year_return"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["alone_npv_bn_cny", "project"], ascending=[False, True], na_position="last",
                             kind="stable").reset_index(drop=True)


def package_appraisal(run: OptimizationRun) -> dict[str, Any]:
    """Present values, NPV, BCR, IRR and first-year return of the chosen package."""
    model = run.model
    params = run.appraisal or appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    saving, _ = _savings(run)
    s = saving(run.selected)
    flows = package_flows(params, [(model.project(q).cost_bn_cny, model.project(q).mode, model.project(q).kind)
                                   for q in run.selected], s)
    nan = math.nan
    # a check of the fixed mode mix: the same saving valued at the package's own split by mode
    by_mode = saving_by_mode(model, run.skim_base, run.skim_opt)
    values = params.values_of_time.by_mode() if params.values_of_time is not None else {}
    split = sum(by_mode.values())
    mix_pvb = nan
    if values and split > 0:
        mix_vot = sum(by_mode[m] / split * values[m] for m in by_mode)
        mix_pvb = flows.pvb * mix_vot / params.value_of_time_cny_per_h / 1e9
    return {
        "objective": run.objective, "saving_min_per_day": s,
        "benefit_factor_cny_per_min_day": benefit_factor(params),
        "pvb_bn_cny": flows.pvb / 1e9, "pvc_bn_cny": flows.pvc / 1e9, "npv_bn_cny": flows.npv / 1e9,
        "bcr": flows.bcr if run.selected else nan, "irr": flows.irr if run.selected else nan,
        "first_year_return": flows.first_year_return if run.selected else nan,
        "capital_with_uplift_bn_cny": flows.capital / 1e9,
        "saving_by_mode_min_per_day": by_mode, "value_of_time_by_mode_cny_per_h": values,
        "pvb_at_package_mode_mix_bn_cny": mix_pvb,
        "parameters": {k: v for k, v in params.__dict__.items() if k != "values_of_time"},
    }


#: Ranges of the tornado (low, high), sourced in ``docs/appraisal.md``; costs come from the catalogue.
TORNADO_RANGES: dict[str, tuple[float, float]] = {
    "discount_rate": (0.06, 0.12),
    "demand_growth": (0.0, 0.085),
    "value_of_time_growth": (0.025, 0.045),
    "value_of_time_cny_per_h": (math.nan, math.nan),  # the configured low and high factors (appraisal.value_of_time)
    "optimism_bias": (0.0, 1.0),  # fraction of the way from each category's low to its high uplift
}


def tornado_table(run: OptimizationRun) -> pd.DataFrame:
    """The package's NPV with one input at its low and then its high value, the others central.

    Inputs: each project's capital cost (the catalogue's low and high figures, all projects of
    the package together), the discount rate, demand growth, value-of-time growth, the value of
    time (it scales the money value of the saving; the saving itself, in generalized minutes, is
    held fixed) and the optimism-bias uplifts (each category's low and high value).  Sorted by
    the width of the swing.
    """
    model = run.model
    params = run.appraisal or appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    saving, _ = _savings(run)
    s = saving(run.selected)
    projects = [model.project(q) for q in run.selected]

    def npv(p: AppraisalParameters, cost: str = "central") -> float:
        items = []
        for q in projects:
            k = {"low": q.cost_low_bn_cny, "high": q.cost_high_bn_cny}.get(cost) if cost != "central" else None
            items.append((q.cost_bn_cny if k is None else k, q.mode, q.kind))
        return package_flows(p, items, s).npv / 1e9

    central = npv(params)
    rows = [{"input": "capital costs (catalogue range)", "low": "low figures", "high": "high figures",
             "npv_low_bn_cny": npv(params, "low"), "npv_high_bn_cny": npv(params, "high")}]
    for name, (lo, hi) in TORNADO_RANGES.items():
        if name == "optimism_bias":
            at = {x: params.with_(optimism_bias={c: r[0] + x * (r[1] - r[0]) for c, r in OPTIMISM_BIAS_RANGES.items()})
                  for x in (lo, hi)}
            rows.append({"input": "optimism bias", "low": "rail 6 %, road 3 %, crossings 6 %",
                         "high": "rail 66 %, road 44 %, crossings 66 %",
                         "npv_low_bn_cny": npv(at[lo]), "npv_high_bn_cny": npv(at[hi])})
            continue
        if name == "value_of_time_cny_per_h":
            lo, _, hi = (round(x, 1) for x in vot_range(params))
        rows.append({"input": name, "low": lo, "high": hi,
                     "npv_low_bn_cny": npv(params.with_(**{name: lo})),
                     "npv_high_bn_cny": npv(params.with_(**{name: hi}))})
    table = pd.DataFrame(rows)
    table.insert(2, "npv_central_bn_cny", central)
    table["swing_bn_cny"] = (table["npv_high_bn_cny"] - table["npv_low_bn_cny"]).abs()
    return table.sort_values("swing_bn_cny", ascending=False, kind="stable").reset_index(drop=True)
