"""How the exact programme's solve grows with projects and years (issue 13's scale question).

`solvers.programme.solve_programme` on the YRD model (the benefit objective: at the default
appraisal no project's NPV is positive, so the NPV programme is empty and trivially optimal),
a yearly budget of 40 bn CNY, 10, 20 and all catalogue projects (closed under their
dependencies) and horizons of 5, 10 and 15 years from 2026, each with a time limit and 2 CP-SAT
workers; the baseline of the ratios is the smallest case, measured in the same run. One case is
also solved without the saving caps (per-period bounds from the cumulative budget and the
schedule, with their cuts) to show what they cost and what they do to the bound.
"""

from __future__ import annotations

import dataclasses
import time

from solvers.programme import solve_programme
from solvers.selection.markets import Layer
from transit.appraisal import appraisal_parameters, base_mode_shares
from transit.config import load_config
from transit.model import build_model
from transit.programme import programme_inputs

BUDGET, TIME_LIMIT, WORKERS = 40.0, 120.0, 2
SIZES, HORIZONS = (10, 20, None), (5, 10, 15)


def _subset(model, size):
    chosen: list[str] = []
    by_id = {c.id: c for c in model.candidates}

    def add(pid: str) -> None:
        if pid in chosen:
            return
        for q in by_id[pid].requires:
            add(q)
        chosen.append(pid)

    for c in model.candidates:
        if size is not None and len(chosen) >= size:
            break
        add(c.id)
    keep = set(chosen)
    projects = [dataclasses.replace(by_id[p], excludes=tuple(q for q in by_id[p].excludes if q in keep))
                for p in chosen]
    layers = [Layer(layer.name, layer.base, {k: v for k, v in layer.arcs.items() if k in keep})
              for layer in model.selection_layers]
    return projects, layers


def run() -> str:
    model = build_model(load_config())
    params = appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    rows = []
    base_s = None
    for size in SIZES:
        projects, layers = _subset(model, size)
        for years in HORIZONS:
            last = 2026 + years - 1
            schedule, weights, after, _ = programme_inputs(model, params, horizon=(2026, last),
                                                           end_year=last + params.operating_years, objective="benefit")
            schedule = {p.id: schedule[p.id] for p in projects}
            started = time.perf_counter()
            r = solve_programme(layers, projects, model.markets, years=range(2026, last + 1), schedule=schedule,
                                yearly_budget=BUDGET, weights=weights, weight_after=after, time_limit=TIME_LIMIT,
                                workers=WORKERS)
            seconds = time.perf_counter() - started
            base_s = base_s or seconds
            rows.append((len(projects), years, r, seconds, "on"))
            if size == 20 and years == 10:
                started = time.perf_counter()
                off = solve_programme(layers, projects, model.markets, years=range(2026, last + 1), schedule=schedule,
                                      yearly_budget=BUDGET, weights=weights, weight_after=after,
                                      time_limit=TIME_LIMIT, workers=WORKERS, saving_caps=False)
                rows.append((len(projects), years, off, time.perf_counter() - started, "off"))
    lines = "\n".join(
        f"| {n} | {y} | {caps} | {r.status} | {r.objective / 1e9:,.3f} | {r.bound / 1e9:,.3f} | {100 * r.gap:.2f} % | "
        f"{s:,.1f} | {s / base_s:,.1f} | {r.stats.get('records_in_model', 0):,} | {len(r.starts)} |"
        for n, y, r, s, caps in rows)
    return f"""## Programme: exact multi-year scheduling, scale

`solve_programme` on the YRD model: benefit objective (present value of each year's network
saving, 2026 prices, 8 %; the final network kept to the end of the appraisal period), yearly
budget {BUDGET:g} bn CNY, {WORKERS} CP-SAT workers, time limit {TIME_LIMIT:g} s per case (then the best
programme and its proved gap). Projects: the first N candidates of the catalogue, closed under
their dependencies. "caps": the saving caps (per-period bounds from the cumulative budget and
the schedule, with their cuts; on by default; a share of the time limit goes to them). In every
case the outer approximation (`solvers/programme/outer.py`, a bound coupling the years) runs first
and replaces the per-period caps from the schedule. Ratio: seconds against the first case, same run.

| projects | years | caps | status | value, bn CNY | bound, bn CNY | gap | seconds | ratio | record literals | started |
|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|
{lines}
"""
