"""The exact programme against a greedy benefit/cost ranking, on the full YRD catalogue, in one run.

Issue 13's evidence: `solvers.programme.solve_programme` (exact, CP-SAT with 2 workers and a
time limit) and `solvers.programme.greedy_programme` (each project's stand-alone saving per
unit of cost, then started as early as the budgets allow) on the same inputs: the YRD model,
horizon 2026-2040, 40 bn CNY a year, the benefit objective (present value of each year's
network saving). Two settings: the catalogue's projects under construction committed (fixed to
open in their expected year, funded outside the budget: `transit programme`'s default), and
every project a free choice. The exact programme's value is a proved optimum or comes with
its gap; the ratio of values and of solve times is within the same run.  The all-free case is
also solved without the outer approximation (`solvers.programme.outer`), the same-run baseline
of the bound.
"""

from __future__ import annotations

import time

from solvers.programme import greedy_programme, solve_programme
from transit.appraisal import appraisal_parameters, base_mode_shares
from transit.config import load_config
from transit.model import build_model
from transit.programme import COMMITTED_DEFAULT, programme_inputs

FIRST, LAST, BUDGET, WORKERS = 2026, 2040, 40.0, 2
TIME_LIMITS = {"committed": 600.0, "all free": 600.0}


def run() -> str:
    model = build_model(load_config())
    params = appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    rows = []
    for setting, committed, outer in (("committed", COMMITTED_DEFAULT, True), ("all free", (), True),
                                      ("all free, without the outer approximation", (), False)):
        schedule, weights, after, _ = programme_inputs(model, params, horizon=(FIRST, LAST),
                                                       end_year=LAST + params.operating_years, objective="benefit",
                                                       committed=committed)
        kw = dict(years=range(FIRST, LAST + 1), schedule=schedule, yearly_budget=BUDGET, weights=weights,
                  weight_after=after)
        started = time.perf_counter()
        greedy = greedy_programme(model.selection_layers, model.candidates, model.markets, **kw)
        greedy_s = time.perf_counter() - started
        started = time.perf_counter()
        exact = solve_programme(model.selection_layers, model.candidates, model.markets, **kw,
                                time_limit=TIME_LIMITS[setting.split(",")[0]], workers=WORKERS, outer_bound=outer)
        exact_s = time.perf_counter() - started
        free = sum(1 for p in schedule.values() if p.fixed_start is None)
        rows.append(f"| {setting} | {free} of {len(schedule)} | {exact.status} | {exact.objective / 1e9:,.3f} | "
                    f"{exact.bound / 1e9:,.3f} | {100 * exact.gap:.2f} % | {exact.stats.get('bound_from', 'CP-SAT')} | "
                    f"{exact_s:,.1f} | "
                    f"{greedy.objective / 1e9:,.3f} | {greedy_s:,.1f} | "
                    f"{100 * (exact.objective - greedy.objective) / exact.objective:.2f} % | "
                    f"{len(exact.starts)} / {len(greedy.starts)} |")
    return f"""## Programme: exact schedule vs greedy benefit/cost ranking

The full YRD catalogue ({len(model.candidates)} valued projects), horizon {FIRST}-{LAST}, {BUDGET:g} bn CNY a year,
benefit objective (present value of each year's network saving, 8 %, 2026 prices; the final network kept
to the end of the appraisal period). Exact: `solve_programme`, {WORKERS} CP-SAT workers, time limit per row
in seconds {', '.join(f'{k} {v:g}' for k, v in TIME_LIMITS.items())}. Greedy: stand-alone saving per unit of
cost, each project started as early as the budgets allow (`greedy_programme`), evaluated exactly the same way.
The last row is the same solve without the outer approximation (`outer_bound=False`: the per-period
caps and CP-SAT, as before December 2026), the baseline of the same run.
"free": projects the programme chooses (the others are committed: under construction or partly open,
fixed to open in their expected year, funded outside the budget).

| setting | free projects | exact status | exact value, bn CNY | bound, bn CNY | gap | bound from | exact s | greedy value, bn CNY | greedy s | greedy short of exact | started exact / greedy |
|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|
{chr(10).join(rows)}
"""
