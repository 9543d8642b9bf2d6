"""Fairness across the development axes and the bay link (``transit optimize --fairness``).

Each axis (and the Hangzhou Bay link) is a group of markets: the zone pairs of its city pairs
in the objective (``data/axes.json``; an axis's pairs are its cities' pairs, a link's are the
pairs across it).  A group's improvement is the fall of its demand-weighted composite
generalized cost (the ``saving_pct`` of ``axes.csv``, as a fraction).  Two options, solved
exactly by :func:`solvers.selection.fairness.solve_fair_selection`:

* ``--min-improvement AXIS=PCT`` (repeatable; ``all=PCT`` for every axis and the link): the
  best package in which every named group improves by at least PCT %;
* ``--fairness maximin``: the package whose worst group improves most, and among those the best
  objective (lexicographic).

Either way the report shows, per group, the improvement of the unconstrained optimum and of
the fair package, and the price of fairness (the objective given up).  Groups overlap (a city
pair can be on two axes), and a group whose pairs no candidate can improve makes ``maximin``
degenerate (its worst stays 0, so only the tie-break decides): the report says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InputError

__all__ = ["FAIRNESS", "axis_groups", "check_min_improvement", "fairness_table"]

FAIRNESS = ("maximin",)


def axis_groups(model: Any) -> dict[str, list[int]]:
    """Market indices per axis and link (groups with no market in the objective are left out)."""
    rows = model.market_rows
    keys = list(zip(model.demand["origin_city"].to_numpy()[rows], model.demand["destination_city"].to_numpy()[rows]))
    groups: dict[str, list[int]] = {}
    for axis in model.axes:
        pairs = set(axis.pairs())
        items = [k for k, key in enumerate(keys) if key in pairs]
        if items:
            groups[axis.id] = items
    return groups


def check_min_improvement(model: Any, wanted: dict[str, float]) -> dict[str, float]:
    """Percent per group (``all`` expands to every group) -> fraction; unknown groups refused."""
    groups = axis_groups(model)
    known = [a.id for a in model.axes]
    out: dict[str, float] = {}
    for name, pct in wanted.items():
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not np.isfinite(pct) or not 0 <= pct < 100:
            raise InputError(f"minimum improvement {name}={pct!r}: expected a percentage in [0, 100)")
        targets = list(groups) if name == "all" else [name]
        for target in targets:
            if target not in known:
                raise InputError(f"minimum improvement for unknown axis {target!r}; expected 'all' or one of {known}")
            if target not in groups:
                raise InputError(f"minimum improvement for {target!r}: none of its city pairs is in the objective")
            out[target] = max(out.get(target, 0.0), float(pct) / 100.0)
    return out


def fairness_table(run: Any) -> pd.DataFrame:
    """Per group: base cost, minimum asked, improvement without and with fairness."""
    fair = run.fairness
    columns = ["axis", "name_en", "minimum_pct", "improvement_unconstrained_pct", "improvement_fair_pct",
               "worst", "base_gc_min_per_day"]
    if fair is None:
        return pd.DataFrame(columns=columns)
    names = {a.id: a.name_en for a in run.model.axes}
    worst = min(fair.improvement.values())
    rows = [{"axis": g, "name_en": names.get(g, g), "minimum_pct": 100 * fair.minimum.get(g, 0.0),
             "improvement_unconstrained_pct": 100 * fair.unconstrained_improvement[g],
             "improvement_fair_pct": 100 * fair.improvement[g], "worst": bool(fair.improvement[g] <= worst + 1e-12),
             "base_gc_min_per_day": fair.group_base[g]} for g in fair.groups]
    return pd.DataFrame(rows, columns=columns)


def fairness_section(run: Any, table: pd.DataFrame) -> str:
    """The report's section on fairness."""
    from transit.reports import _md_table

    fair = run.fairness
    if fair is None:
        return ""
    free, chosen = fair.unconstrained, fair.result
    saving_free = free.base_objective - free.objective
    unit = " (money-equivalent: the objective nets the projects' costs)" if run.objective == "npv" else ""
    price_pct = 100 * fair.price / saving_free if saving_free > 0 else float("nan")
    if fair.mode == "maximin":
        how = (f"**maximin**: the package whose worst axis improves most ({100 * fair.worst:.3f} %), then the best "
               f"objective among those; {fair.iterations} step(s) of exact CP-SAT solves, and the worst axis "
               + ("**proved** best (CP-SAT proved no package does better)." if fair.worst_proved
                  else "**not proved** best (a solve stopped at the time limit)."))
        if fair.worst <= 0:
            how += (" The worst axis cannot be improved at this budget by any package, so maximin is degenerate: "
                    "the package is the unconstrained optimum.")
    else:
        how = "**minimum improvement** per axis: " + ", ".join(f"{g} {100 * v:g} %" for g, v in fair.minimum.items())
    return f"""
## Fairness across the axes

Option: {how} Status of the fair package: **{chosen.status}** (objective {chosen.objective:,.0f}, bound
{chosen.bound:,.0f}, gap {chosen.gap:.2e}). Without fairness the optimum is {', '.join(free.selected) or 'nothing'}
({free.status}); with it, {', '.join(chosen.selected) or 'nothing'}. **Price of fairness: {fair.price:,.0f}
generalized minutes a day{unit} ({price_pct:.2f} % of the unconstrained optimum's gain).** Improvement = fall of each axis's
demand-weighted composite generalized cost; axes share city pairs, so they overlap (fairness.csv).

{_md_table(table, '{:,.4g}')}
"""
