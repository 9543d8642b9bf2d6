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
from networks.errors import CatalogueError, InputError
from solvers.programme import ProgrammeProject, ProgrammeResult, solve_programme
from transit.appraisal import (
    appraisal_parameters,
    base_mode_shares,
    benefit_flows,
    pv_costs,
)
from transit.appraisal.cashflows import _discount
from transit.appraisal.parameters import AppraisalParameters, category
from transit.catalogue import PROJECT_STATUSES
from transit.progress import Stopwatch, logger

__all__ = ["OUTPUTS", "PROGRAMME_OBJECTIVES", "ProgrammeRun", "programme_inputs", "run_programme", "write_programme"]

PROGRAMME_OBJECTIVES = ("npv", "benefit")
COMMITTED_DEFAULT = ("under_construction", "partly_open")
OUTPUTS = ("schedule.csv", "spending.csv", "years.csv", "gantt.png", "cost_shares.csv", "members.csv", "cities.csv",
           "provinces.csv", "shapley.csv", "frontier.csv", "frontier.png", "report.md", "run.json")


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
    alliance: Any = None  # transit.alliance.AllianceTables
    frontier: Any = None  # solvers.selection.Ladder: the one-shot optimum at each budget of the ladder


def programme_inputs(model: Any, params: AppraisalParameters, *, horizon: tuple[int, int], end_year: int,
                     objective: str = "npv", committed: tuple[str, ...] = (),
                     committed_in_budget: bool = False) -> tuple[dict, dict, float, dict | None]:
    """Schedule data, year weights (CNY per generalized minute a day), the weight of the years
    after the horizon, and each project's present value of costs per start year (CNY).

    Projects whose catalogue ``status`` is in ``committed`` are fixed: they started (or start)
    ``construction years`` before their ``expected_opening`` and open then; their spending is
    funded outside the yearly budget unless ``committed_in_budget``.
    """
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
        if project.status in committed:
            if project.expected_opening is None:
                raise CatalogueError(f"project {cand.id!r} is committed (status {project.status!r}) but has no "
                                     "expected_opening to fix its construction years")
            fixed = int(project.expected_opening) - int(d)
            schedule[cand.id] = ProgrammeProject(duration=int(d), fixed_start=fixed, budgeted=committed_in_budget)
            starts = [fixed]
        else:
            schedule[cand.id] = ProgrammeProject(duration=int(d))
            starts = years
        if objective == "npv" and project.status in committed:
            # sunk or committed: the same in every programme, so left out of its value
            costs[cand.id] = {starts[0]: 0.0}
        elif objective == "npv":
            row = {}
            for s in starts:
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
                  model: Any = None, projects_path: str | None = None, use_cache: bool = True,
                  cost_sharing: str = "lead", shares_path: str | None = None, frontier_steps: int = 10,
                  committed: tuple[str, ...] = COMMITTED_DEFAULT, committed_in_budget: bool = False,
                  min_improvement: dict[str, float] | None = None, alliance: bool = True) -> ProgrammeRun:
    """Build the model (unless given) and solve the programme exactly (or to the gap/time limit).

    Then the alliance's tables (:func:`transit.alliance.alliance_tables`: cost shares by
    ``cost_sharing``, ``lead``, ``length`` or ``negotiated`` with the CSV ``shares_path``; the
    benefits by city and province; Shapley values) and the budget-saving frontier: the exact
    one-shot optimum (logsum saving) at ``frontier_steps`` equal budgets up to the smaller of
    the horizon's total budget and the catalogue's cost (0: no frontier).

    ``end_year`` (default: the horizon's last year + ``appraisal.operating_years``) closes the
    appraisal period: benefits and O&M run to it, residual values are credited in it.
    ``member_caps``: a cap on each member's spending in every year (billion CNY).
    ``committed``: catalogue statuses whose projects are fixed (default: under construction and
    partly open), opening in their ``expected_opening`` year and funded outside the yearly budget
    unless ``committed_in_budget``; ``()`` makes every project a free choice.
    ``min_improvement`` (axis id or ``"all"`` -> percent): the final network must improve each
    axis's composite generalized cost by at least that much (:mod:`transit.fairness`).
    """
    from transit.alliance import COST_RULES
    from transit.model import build_model

    first, last = (int(v) for v in horizon)
    if not 1900 < first <= last < 2300:
        raise InputError(f"horizon {first}-{last}: expected FIRST-LAST calendar years, FIRST <= LAST")
    if objective not in PROGRAMME_OBJECTIVES:
        raise InputError(f"objective = {objective!r}; expected one of {', '.join(PROGRAMME_OBJECTIVES)}")
    if isinstance(yearly_budget, bool) or not isinstance(yearly_budget, (int, float)) or not np.isfinite(yearly_budget) \
            or yearly_budget < 0:
        raise InputError(f"yearly budget = {yearly_budget!r}; expected a finite number of billion CNY >= 0")
    if cost_sharing not in COST_RULES:
        raise InputError(f"cost sharing rule {cost_sharing!r}; expected one of {', '.join(COST_RULES)}")
    if (cost_sharing == "negotiated") != (shares_path is not None):
        raise InputError("a file of negotiated shares (--shares FILE) goes with --cost-sharing negotiated, and only with it")
    if isinstance(frontier_steps, bool) or not isinstance(frontier_steps, int) or not 0 <= frontier_steps <= 100:
        raise InputError(f"frontier steps = {frontier_steps!r}; expected a whole number in 0..100")
    unknown_status = sorted(set(committed) - set(PROJECT_STATUSES))
    if unknown_status:
        raise InputError(f"committed status(es) {unknown_status}; expected among {list(PROJECT_STATUSES)}")
    negotiated = None
    if shares_path is not None:  # checked before the model is built
        from transit.alliance import read_cost_shares
        from transit.catalogue import load_projects

        members, projects = (model.members, model.projects) if model is not None else load_projects(projects_path)
        negotiated = read_cost_shares(shares_path, members=members, projects=projects)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if model is None:
        with Stopwatch("building the model (network, zones, demand, mode choice, catalogue)"):
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
                                                       objective=objective, committed=tuple(committed),
                                                       committed_in_budget=committed_in_budget)
    groups = minimum = None
    if min_improvement:
        from transit.fairness import axis_groups, check_min_improvement

        minimum = check_min_improvement(model, min_improvement)
        groups = axis_groups(model)
    started = time.perf_counter()
    with Stopwatch(f"scheduling {len(model.candidates)} candidates over {first}-{last} exactly (CP-SAT)"):
        result = solve_programme(model.selection_layers, model.candidates, model.markets,
                                 years=range(first, last + 1), schedule=schedule, yearly_budget=float(yearly_budget),
                                 weights=weights, weight_after=after, start_costs=costs, member_caps=caps or None,
                                 time_limit=time_limit, relative_gap=relative_gap, workers=workers, groups=groups,
                                 group_minimum=minimum)
    timings["solve_s"] = time.perf_counter() - started
    logger.info("programme: %s, %d project(s) started, gap %.2g", result.status, len(result.starts), result.gap)
    run = ProgrammeRun(model=model, params=params, horizon=(first, last), end_year=end,
                       yearly_budget=float(yearly_budget), objective=objective, result=result, schedule=schedule,
                       weights=weights, weight_after=after, start_costs=costs or {}, member_caps=caps,
                       timings=timings)
    if alliance:  # alliance=False leaves the member, city and Shapley tables out (they take seconds)
        from transit.alliance import alliance_tables

        started = time.perf_counter()
        with Stopwatch("alliance tables (cost shares, benefits by city, Shapley values)"):
            run.alliance = alliance_tables(run, rule=cost_sharing, negotiated=negotiated)
        timings["alliance_s"] = time.perf_counter() - started
    if frontier_steps:
        from solvers.selection.markets import market_budget_ladder

        started = time.perf_counter()
        top = min(float(yearly_budget) * (last - first + 1), float(sum(c.cost for c in model.candidates)))
        if top > 0:
            budgets = [round(top * k / frontier_steps, 6) for k in range(1, frontier_steps + 1)]
            with Stopwatch(f"budget-saving frontier ({len(budgets)} exact optima)"):
                run.frontier = market_budget_ladder(model.selection_layers, model.candidates, model.markets,
                                                    budgets, time_limit=time_limit)
        timings["frontier_s"] = time.perf_counter() - started
    return run


def schedule_table(run: ProgrammeRun) -> pd.DataFrame:
    """One row per started project: start, opening, cost, lead member, PV of costs."""
    rows = []
    for item in run.result.schedule():
        project = run.model.project(item["project"])
        plan = run.schedule[item["project"]]
        pv = run.start_costs.get(item["project"], {}).get(item["start"])
        if plan.fixed_start is not None:
            pv = np.nan  # committed: its costs are sunk or committed, not part of the programme's choice
        elif pv is None:
            q = run.params.with_(opening_year=item["opening"], operating_years=run.end_year - item["opening"] + 1)
            pv = pv_costs(q, project.cost_bn_cny, project.mode, project.kind)
        rows.append({**item, "name_en": project.name_en, "mode": project.mode, "kind": project.kind,
                     "cost_bn_cny": project.cost_bn_cny, "lead_member": project.lead_member,
                     "construction_years": plan.duration, "pv_costs_bn_cny": pv / 1e9,
                     "committed": plan.fixed_start is not None, "budgeted": plan.budgeted})
    return pd.DataFrame(rows, columns=["project", "start", "opening", "name_en", "mode", "kind", "cost_bn_cny",
                                       "lead_member", "construction_years", "pv_costs_bn_cny", "committed",
                                       "budgeted"])


def years_table(run: ProgrammeRun) -> pd.DataFrame:
    """Per year: spending, budget, projects open, the network's saving and its discounted value."""
    r = run.result
    outside = {y: 0.0 for y in r.years}
    for pid, start in r.starts.items():
        plan = run.schedule[pid]
        if not plan.budgeted:
            cost = run.model.project(pid).cost_bn_cny
            for k, share in enumerate(plan.shares()):
                if start + k in outside:
                    outside[start + k] += cost * share
    rows = []
    for y in r.years:
        rows.append({"year": y, "spending_bn_cny": r.spending[y], "committed_outside_budget_bn_cny": outside[y],
                     "budget_bn_cny": run.yearly_budget,
                     "projects_open": len(r.open_sets[y]), "saving_min_per_day": r.savings[y],
                     "pv_benefit_bn_cny": run.weights[y] * r.savings[y] / 1e9})
    rows.append({"year": f"after ({r.years[-1] + 1}-{run.end_year})", "spending_bn_cny": 0.0,
                 "committed_outside_budget_bn_cny": 0.0, "budget_bn_cny": np.nan,
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
        rows.append({"project": item["project"], "budgeted": d.budgeted, **{str(y): spend.get(y, 0.0) for y in years}})
    return pd.DataFrame(rows, columns=["project", "budgeted", *[str(y) for y in years]])


def cost_share_table(run: ProgrammeRun) -> pd.DataFrame:
    """One row per started project and paying member: share and amount (catalogue cost)."""
    rows = []
    if run.alliance is not None:
        for pid, parts in sorted(run.alliance.shares.items()):
            cost = run.model.project(pid).cost_bn_cny
            for member, share in sorted(parts.items()):
                rows.append({"project": pid, "member": member, "share": share, "amount_bn_cny": cost * share,
                             "rule": run.alliance.rule})
    return pd.DataFrame(rows, columns=["project", "member", "share", "amount_bn_cny", "rule"])


def shapley_table(run: ProgrammeRun) -> pd.DataFrame:
    """Shapley values of the programme's present value of benefits, by member and by project."""
    rows = []
    if run.alliance is not None:
        for kind, res in (("member", run.alliance.shapley_members), ("project", run.alliance.shapley_projects)):
            total = res.grand - res.empty
            for player in sorted(res.values, key=lambda p: (-res.values[p], str(p))):
                rows.append({"players": kind, "player": player, "pv_benefit_bn_cny": res.values[player] / 1e9,
                             "std_error_bn_cny": res.std_errors[player] / 1e9,
                             "share": res.values[player] / total if total > 0 else 0.0, "method": res.method,
                             "coalitions_valued": res.evaluations})
    return pd.DataFrame(rows, columns=["players", "player", "pv_benefit_bn_cny", "std_error_bn_cny", "share", "method",
                                       "coalitions_valued"])


def frontier_table(run: ProgrammeRun) -> pd.DataFrame:
    """The budget-saving frontier: per budget, the one-shot optimum, its proof and what enters."""
    columns = ["budget_bn_cny", "cost_bn_cny", "saving_min_per_day", "bound_min_per_day", "gap", "status",
               "selected", "enters", "leaves"]
    if run.frontier is None:
        return pd.DataFrame(columns=columns)
    rows, before = [], set()
    for r in run.frontier.results:
        chosen = set(r.selected)
        rows.append({"budget_bn_cny": r.budget, "cost_bn_cny": r.cost, "saving_min_per_day": r.saving,
                     "bound_min_per_day": r.base_objective - r.bound, "gap": r.gap, "status": r.status,
                     "selected": " ".join(r.selected), "enters": " ".join(sorted(chosen - before)),
                     "leaves": " ".join(sorted(before - chosen))})
        before = chosen
    return pd.DataFrame(rows, columns=columns)


def _frontier_png(run: ProgrammeRun, table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    if len(table):
        ax.step([0, *table["cost_bn_cny"]], [0, *(table["saving_min_per_day"] / 1e6)], where="post", color="#1f77b4")
        ax.plot(table["cost_bn_cny"], table["saving_min_per_day"] / 1e6, "o", color="#1f77b4")
        for row in table.itertuples(index=False):
            if row.enters:
                ax.annotate(row.enters.replace(" ", "\n"), (row.cost_bn_cny, row.saving_min_per_day / 1e6), fontsize=6,
                            xytext=(3, -10), textcoords="offset points")
    ax.set_xlabel("cost of the optimal set, bn CNY")
    ax.set_ylabel("saving, million generalized minutes a day")
    ax.set_title("Budget-saving frontier (each point the proved one-shot optimum at its budget)", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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


def _fairness_text(run: ProgrammeRun) -> str:
    got = run.result.stats.get("group_improvement")
    if not got:
        return ""
    minimum = run.result.stats.get("group_minimum", {})
    rows = ", ".join(f"{g} {100 * v:.2f} % (minimum {100 * minimum.get(g, 0):g} %)" for g, v in got.items())
    return f"""
Fairness: the final network must improve each named axis by its minimum; achieved: {rows}.
"""


def _committed_text(run: ProgrammeRun) -> str:
    fixed = sorted(p for p, plan in run.schedule.items() if plan.fixed_start is not None)
    if not fixed:
        return "; no project is committed (every one is a free choice)"
    where = "inside" if run.schedule[fixed[0]].budgeted else "outside"
    return (f"; {len(fixed)} committed projects (under construction or partly open: fixed to open in their expected "
            f"year, funded {where} the yearly budget): {', '.join(fixed)}")


def _report(run: ProgrammeRun, table: pd.DataFrame, years: pd.DataFrame) -> str:
    r = run.result
    p = run.params
    proved = "proved optimal by CP-SAT" if r.status == "OPTIMAL" else f"NOT proved optimal (status {r.status})"
    what = ("net present value (benefits of each year's network minus the discounted costs of the projects the "
            "programme starts; committed projects' costs are sunk or committed and left out)"
            if run.objective == "npv" else "present value of benefits (costs only through the yearly budget)")
    from transit.reports import _md_table

    return f"""# YRD investment programme {run.horizon[0]}-{run.horizon[1]}

Yearly budget **{run.yearly_budget:g} bn CNY** (catalogue costs){_committed_text(run)}; member caps per year:
{', '.join(f'{k}: {v:g}' for k, v in run.member_caps.items()) or 'none'}; {len(run.schedule)} candidate projects.
Objective: **{what}**, over {run.horizon[0]}-{run.end_year} (the final network kept after {run.horizon[1]}),
discounted at {100 * p.discount_rate:g} % to {p.base_year}, {p.value_of_time_cny_per_h:.1f} CNY per
generalized hour, demand {100 * p.demand_growth:g} % and value of time {100 * p.value_of_time_growth:g} % a year
to {p.growth_end_year}.

## Result

The programme is **{proved}**: value {r.objective / 1e9:,.2f} bn CNY, upper bound {r.bound / 1e9:,.2f} bn CNY,
relative gap {r.gap:.2e} ({r.seconds:,.1f} s; {r.stats.get('records_in_model', 0):,} record literals in the
model; the bound from {r.stats.get('bound_from', 'CP-SAT')}). {len(r.starts)} project(s) started, {sum(table['cost_bn_cny']) if len(table) else 0:,.1f} bn CNY.
Savings interact through the network: each year's saving is the exact saving of the network open
that year (`docs/programme.md`).

{_fairness_text(run)}
## Schedule

{_md_table(table[['project', 'start', 'opening', 'cost_bn_cny', 'lead_member', 'pv_costs_bn_cny']], '{:,.4g}') if len(table) else '(nothing started)'}

## Year by year

{_md_table(years, '{:,.4g}')}

{_not_started_text(run)}
Files: `schedule.csv`, `spending.csv` (per project and year), `years.csv`, `gantt.png`.
"""


def _not_started_text(run: ProgrammeRun) -> str:
    """The projects left out, each with why (savings in generalized minutes a day)."""
    reasons = run.result.not_started
    if not reasons:
        return ""
    from transit.reports import _md_table

    table = pd.DataFrame({"project": list(reasons), "why not started": list(reasons.values())})
    return ("## Not started\n\nEach candidate the programme leaves out, and why (a saving is generalized minutes a "
            "day of the final network, from the exact records):\n\n" + _md_table(table, "{}") + "\n")


def _alliance_report(run: ProgrammeRun, shares: pd.DataFrame, shapley: pd.DataFrame, frontier: pd.DataFrame) -> str:
    from transit.reports import _md_table

    out = []
    a = run.alliance
    if a is not None:
        members = a.members.drop(columns=["name_en", "name_zh"])
        sm = a.shapley_members
        how = ("exact (every coalition valued)" if sm.method == "exact"
               else f"sampled ({sm.samples} seeded orders; standard errors in shapley.csv)")
        out.append(f"""
## The alliance: who pays, who gains

Cost sharing rule: **{a.rule}** (`docs/programme.md`). `home_pv_benefit_bn_cny` is the present value of
benefits of the member's home cities (half of every trip to or from them); the Shapley value shares the
programme's present value of benefits ({(sm.grand - sm.empty) / 1e9:,.2f} bn CNY) among the members leading its
projects, each coalition valued exactly with only its projects in their scheduled years: {how}.

{_md_table(members, '{:,.4g}') if len(members) else '(no member pays anything: nothing started)'}

Benefit by province (present value, bn CNY; half of each trip to each end):

{_md_table(a.provinces, '{:,.4g}')}

Benefit by city (top 10 of cities.csv):

{_md_table(a.cities.head(10), '{:,.4g}')}

Shapley values of the projects (the programme's benefit shared among them):

{_md_table(shapley[shapley['players'] == 'project'].drop(columns=['players']), '{:,.4g}') if len(shapley) else '(none)'}
""")
    if len(frontier):
        proved = int((frontier["status"] == "OPTIMAL").sum())
        out.append(f"""
## Budget-saving frontier

The one-shot optimum (logsum saving, generalized minutes a day) at {len(frontier)} budgets, {proved} proved optimal
by CP-SAT; `enters`/`leaves` give the priority order the frontier implies (frontier.csv, frontier.png).

{_md_table(frontier.drop(columns=['selected']), '{:,.4g}')}
""")
    return "".join(out)


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
        shares = cost_share_table(run)
        shares.to_csv(tmp / "cost_shares.csv", index=False, float_format="%.6g")
        alliance = run.alliance
        for name, frame in (("members.csv", alliance.members if alliance else None),
                            ("cities.csv", alliance.cities if alliance else None),
                            ("provinces.csv", alliance.provinces if alliance else None)):
            (frame if frame is not None else pd.DataFrame()).to_csv(tmp / name, index=False, float_format="%.6g")
        shapley = shapley_table(run)
        shapley.to_csv(tmp / "shapley.csv", index=False, float_format="%.6g")
        frontier = frontier_table(run)
        frontier.to_csv(tmp / "frontier.csv", index=False, float_format="%.6g")
        _frontier_png(run, frontier, tmp / "frontier.png")
        (tmp / "report.md").write_text(_report(run, table, years) + _alliance_report(run, shares, shapley, frontier),
                                       encoding="utf-8")
        r = run.result
        record = {
            "command": argv, "horizon": list(run.horizon), "end_year": run.end_year,
            "yearly_budget_bn_cny": run.yearly_budget, "objective": run.objective, "member_caps": run.member_caps,
            "config_hash": config_hash(run.model.config), "versions": _versions(),
            "result": {"status": r.status, "objective_bn_cny": r.objective / 1e9, "bound_bn_cny": r.bound / 1e9,
                       "gap": r.gap, "starts": r.starts, "openings": r.openings, "not_started": r.not_started,
                       "seconds": r.seconds,
                       "stats": r.stats},
            "timings_s": {k: round(v, 3) for k, v in run.timings.items()},
            "cost_sharing": run.alliance.rule if run.alliance else None,
        }
        (tmp / "run.json").write_text(json.dumps(record, indent=2, default=_json_default), encoding="utf-8")
    return out_dir
