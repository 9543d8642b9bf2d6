"""The alliance's investment programme: which project starts in which year (``transit programme``).

The YRD side of :mod:`solvers.programme`: every candidate of the catalogue can start in any
year of the horizon (construction years by category from ``[appraisal]``, cost spent in equal
parts, the capital budget a cap on each year's spending of catalogue costs), opens the year
after its construction ends, and from then on the network of each year saves what the exact
travel model says (the logsum, in generalized minutes a day; projects interact through the
network).  The programme's value is its net present value (``objective="npv"``): each year's
saving valued as the appraisal does (value of a generalized hour, days a year, demand and
value-of-time growth, discounting to ``base_year``) until ``end_year``, with the final network
kept after the horizon, minus the present value of every started project's costs for its start
year (capital with optimism bias, O&M while open, residual value at ``end_year``).  With
``objective="benefit"`` the costs are left out of the objective (the budget still binds).
Formulae and what is left out: ``docs/programme.md``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.atomic import atomic_output_dir
from networks.errors import InputError
from solvers.programme import ProgrammeProject, ProgrammeResult, solve_programme
from transit.appraisal import (
    appraisal_parameters,
    base_mode_shares,
    benefit_flows,
    pv_costs,
)
from transit.appraisal.cashflows import _discount
from transit.appraisal.parameters import AppraisalParameters, category

__all__ = ["OUTPUTS", "PROGRAMME_OBJECTIVES", "ProgrammeRun", "programme_inputs", "run_programme", "write_programme"]

PROGRAMME_OBJECTIVES = ("npv", "benefit")
OUTPUTS = ("schedule.csv", "spending.csv", "years.csv", "gantt.png", "report.md", "run.json")


@dataclass
class ProgrammeRun:
    model: Any
    params: AppraisalParameters
    horizon: tuple[int, int]
    end_year: int
    yearly_budget: float
    objective: str
    result: ProgrammeResult
    schedule: dict[str, ProgrammeProject]
    weights: dict[int, float]
    weight_after: float
    start_costs: dict[str, dict[int, float]]
    member_caps: dict[str, float]
    timings: dict[str, float]


def programme_inputs(model: Any, params: AppraisalParameters, *, horizon: tuple[int, int], end_year: int,
                     objective: str = "npv") -> tuple[dict, dict, float, dict | None]:
    """Schedule data, year weights (CNY per generalized minute a day), the weight of the years
    after the horizon, and each project's present value of costs per start year (CNY)."""
    first, last = horizon
    years = list(range(first, last + 1))
    # one generalized minute a day saved in year t, in CNY of present value
    p = params.with_(opening_year=first, operating_years=end_year - first + 1)
    all_years = np.arange(p.first_year, p.last_year + 1)
    per_year = benefit_flows(p, 1.0) * _discount(p)
    value = {int(y): float(v) for y, v in zip(all_years, per_year)}
    weights = {y: value.get(y, 0.0) for y in years}
    after = float(sum(v for y, v in value.items() if y > last))
    schedule: dict[str, ProgrammeProject] = {}
    costs: dict[str, dict[int, float]] = {}
    for cand in model.candidates:
        project = model.project(cand.id)
        d = params.construction_years[category(project.mode, project.kind)]
        schedule[cand.id] = ProgrammeProject(duration=int(d))
        if objective == "npv":
            row = {}
            for s in years:
                opening = s + d
                if opening - 1 > last:
                    continue
                q = params.with_(opening_year=opening, operating_years=end_year - opening + 1)
                row[s] = pv_costs(q, project.cost_bn_cny, project.mode, project.kind)
            costs[cand.id] = row
    return schedule, weights, after, (costs if objective == "npv" else None)


def run_programme(config: dict[str, Any], *, horizon: tuple[int, int], yearly_budget: float,
                  objective: str = "npv", end_year: int | None = None, member_caps: dict[str, float] | None = None,
                  time_limit: float | None = None, relative_gap: float = 0.0, workers: int = 1,
                  model: Any = None, projects_path: str | None = None, use_cache: bool = True) -> ProgrammeRun:
    """Build the model (unless given) and solve the programme exactly (or to the gap/time limit).

    ``end_year`` (default: the horizon's last year + ``appraisal.operating_years``) closes the
    appraisal period: benefits and O&M run to it, residual values are credited in it.
    ``member_caps``: a cap on each member's spending in every year (billion CNY).
    """
    from transit.model import build_model

    first, last = (int(v) for v in horizon)
    if not 1900 < first <= last < 2300:
        raise InputError(f"horizon {first}-{last}: expected FIRST-LAST calendar years, FIRST <= LAST")
    if objective not in PROGRAMME_OBJECTIVES:
        raise InputError(f"objective = {objective!r}; expected one of {', '.join(PROGRAMME_OBJECTIVES)}")
    if isinstance(yearly_budget, bool) or not isinstance(yearly_budget, (int, float)) or not np.isfinite(yearly_budget) \
            or yearly_budget < 0:
        raise InputError(f"yearly budget = {yearly_budget!r}; expected a finite number of billion CNY >= 0")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if model is None:
        model = build_model(config, projects_path=projects_path, use_cache=use_cache)
    timings["build_model_s"] = time.perf_counter() - started
    params = appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    if first < params.base_year:
        raise InputError(f"horizon starts {first}, before appraisal.base_year {params.base_year}")
    end = last + params.operating_years if end_year is None else int(end_year)
    if end <= last:
        raise InputError(f"end year {end}: expected a year after the horizon's last ({last})")
    caps = dict(member_caps or {})
    known = {c.member for c in model.candidates}
    unknown = sorted(set(caps) - known)
    if unknown:
        raise InputError(f"member cap for unknown member(s) {unknown}; expected among {sorted(m for m in known if m)}")
    schedule, weights, after, costs = programme_inputs(model, params, horizon=(first, last), end_year=end,
                                                       objective=objective)
    started = time.perf_counter()
    result = solve_programme(model.selection_layers, model.candidates, model.markets, years=range(first, last + 1),
                             schedule=schedule, yearly_budget=float(yearly_budget), weights=weights,
                             weight_after=after, start_costs=costs, member_caps=caps or None, time_limit=time_limit,
                             relative_gap=relative_gap, workers=workers)
    timings["solve_s"] = time.perf_counter() - started
    return ProgrammeRun(model=model, params=params, horizon=(first, last), end_year=end,
                        yearly_budget=float(yearly_budget), objective=objective, result=result, schedule=schedule,
                        weights=weights, weight_after=after, start_costs=costs or {}, member_caps=caps,
                        timings=timings)


def schedule_table(run: ProgrammeRun) -> pd.DataFrame:
    """One row per started project: start, opening, cost, lead member, PV of costs."""
    rows = []
    for item in run.result.schedule():
        project = run.model.project(item["project"])
        pv = run.start_costs.get(item["project"], {}).get(item["start"])
        if pv is None:
            q = run.params.with_(opening_year=item["opening"], operating_years=run.end_year - item["opening"] + 1)
            pv = pv_costs(q, project.cost_bn_cny, project.mode, project.kind)
        rows.append({**item, "name_en": project.name_en, "mode": project.mode, "kind": project.kind,
                     "cost_bn_cny": project.cost_bn_cny, "lead_member": project.lead_member,
                     "construction_years": run.schedule[item["project"]].duration, "pv_costs_bn_cny": pv / 1e9})
    return pd.DataFrame(rows, columns=["project", "start", "opening", "name_en", "mode", "kind", "cost_bn_cny",
                                       "lead_member", "construction_years", "pv_costs_bn_cny"])


def years_table(run: ProgrammeRun) -> pd.DataFrame:
    """Per year: spending, budget, projects open, the network's saving and its discounted value."""
    r = run.result
    rows = []
    for y in r.years:
        rows.append({"year": y, "spending_bn_cny": r.spending[y], "budget_bn_cny": run.yearly_budget,
                     "projects_open": len(r.open_sets[y]), "saving_min_per_day": r.savings[y],
                     "pv_benefit_bn_cny": run.weights[y] * r.savings[y] / 1e9})
    rows.append({"year": f"after ({r.years[-1] + 1}-{run.end_year})", "spending_bn_cny": 0.0, "budget_bn_cny": np.nan,
                 "projects_open": len(r.open_sets["after"]), "saving_min_per_day": r.savings["after"],
                 "pv_benefit_bn_cny": run.weight_after * r.savings["after"] / 1e9})
    return pd.DataFrame(rows)


def spending_table(run: ProgrammeRun) -> pd.DataFrame:
    """Spending (catalogue cost, billion CNY) per project and year."""
    years = run.result.years
    rows = []
    for item in run.result.schedule():
        project = run.model.project(item["project"])
        d = run.schedule[item["project"]]
        spend = {item["start"] + k: project.cost_bn_cny * s for k, s in enumerate(d.shares())}
        rows.append({"project": item["project"], **{str(y): spend.get(y, 0.0) for y in years}})
    return pd.DataFrame(rows, columns=["project", *[str(y) for y in years]])


def _gantt(run: ProgrammeRun, table: pd.DataFrame, years: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first, last = run.horizon
    n = max(len(table), 1)
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(10, 2.5 + 0.32 * n), gridspec_kw={"height_ratios": [max(n, 3), 3]},
                                 sharex=True)
    colours = {"rail": "#1f77b4", "road": "#d62728"}
    for k, row in enumerate(table.itertuples(index=False)):
        colour = colours.get(row.mode, "grey")
        ax.barh(k, row.opening - row.start, left=row.start - 0.5, color=colour, alpha=0.9)
        ax.barh(k, last + 1 - row.opening, left=row.opening - 0.5, color=colour, alpha=0.25)
    ax.set_yticks(range(len(table)), [f"{p} ({c:g} bn)" for p, c in zip(table["project"], table["cost_bn_cny"])],
                  fontsize=8)
    ax.invert_yaxis()
    ax.set_title(f"Programme {first}-{last}: construction (dark) and open (light); {run.objective.upper()} "
                 f"{run.result.objective / 1e9:,.1f} bn CNY, {run.result.status}", fontsize=10)
    spend = years[years["year"].apply(lambda v: isinstance(v, (int, np.integer)))]
    bx.bar(spend["year"].astype(int), spend["spending_bn_cny"], color="#7f7f7f")
    bx.axhline(run.yearly_budget, color="black", linestyle="--", linewidth=1)
    bx.set_ylabel("spending, bn CNY")
    bx.set_xlim(first - 0.6, last + 0.6)
    bx.set_xticks(range(first, last + 1), [str(y) for y in range(first, last + 1)], rotation=90, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _report(run: ProgrammeRun, table: pd.DataFrame, years: pd.DataFrame) -> str:
    r = run.result
    p = run.params
    proved = "proved optimal by CP-SAT" if r.status == "OPTIMAL" else f"NOT proved optimal (status {r.status})"
    what = ("net present value (benefits of each year's network minus the started projects' discounted costs)"
            if run.objective == "npv" else "present value of benefits (costs only through the yearly budget)")
    from transit.reports import _md_table

    return f"""# YRD investment programme {run.horizon[0]}-{run.horizon[1]}

Yearly budget **{run.yearly_budget:g} bn CNY** (catalogue costs); member caps per year:
{', '.join(f'{k}: {v:g}' for k, v in run.member_caps.items()) or 'none'}; {len(run.schedule)} candidate projects.
Objective: **{what}**, over {run.horizon[0]}-{run.end_year} (the final network kept after {run.horizon[1]}),
discounted at {100 * p.discount_rate:g} % to {p.base_year}, {p.value_of_time_cny_per_h:.1f} CNY per
generalized hour, demand {100 * p.demand_growth:g} % and value of time {100 * p.value_of_time_growth:g} % a year
to {p.growth_end_year}.

## Result

The programme is **{proved}**: value {r.objective / 1e9:,.2f} bn CNY, upper bound {r.bound / 1e9:,.2f} bn CNY,
relative gap {r.gap:.2e} ({r.seconds:,.1f} s; {r.stats.get('records_in_model', 0):,} record literals in the
model). {len(r.starts)} project(s) started, {sum(table['cost_bn_cny']) if len(table) else 0:,.1f} bn CNY.
Savings interact through the network: each year's saving is the exact saving of the network open
that year (`docs/programme.md`).

## Schedule

{_md_table(table[['project', 'start', 'opening', 'cost_bn_cny', 'lead_member', 'pv_costs_bn_cny']], '{:,.4g}') if len(table) else '(nothing started)'}

## Year by year

{_md_table(years, '{:,.4g}')}

Files: `schedule.csv`, `spending.csv` (per project and year), `years.csv`, `gantt.png`.
"""


def write_programme(run: ProgrammeRun, out_dir: str | Path, *, argv: list[str] | None = None) -> Path:
    """Write the programme's outputs into ``out_dir`` atomically."""
    from transit.config import config_hash
    from transit.reports import _json_default, _versions

    out_dir = Path(out_dir)
    table = schedule_table(run)
    years = years_table(run)
    spending = spending_table(run)
    with atomic_output_dir(out_dir, managed=OUTPUTS) as tmp:
        table.to_csv(tmp / "schedule.csv", index=False, float_format="%.6g")
        spending.to_csv(tmp / "spending.csv", index=False, float_format="%.6g")
        years.to_csv(tmp / "years.csv", index=False, float_format="%.6g")
        _gantt(run, table, years, tmp / "gantt.png")
        (tmp / "report.md").write_text(_report(run, table, years), encoding="utf-8")
        r = run.result
        record = {
            "command": argv, "horizon": list(run.horizon), "end_year": run.end_year,
            "yearly_budget_bn_cny": run.yearly_budget, "objective": run.objective, "member_caps": run.member_caps,
            "config_hash": config_hash(run.model.config), "versions": _versions(),
            "result": {"status": r.status, "objective_bn_cny": r.objective / 1e9, "bound_bn_cny": r.bound / 1e9,
                       "gap": r.gap, "starts": r.starts, "openings": r.openings, "seconds": r.seconds,
                       "stats": r.stats},
            "timings_s": {k: round(v, 3) for k, v in run.timings.items()},
        }
        (tmp / "run.json").write_text(json.dumps(record, indent=2, default=_json_default), encoding="utf-8")
    return out_dir
