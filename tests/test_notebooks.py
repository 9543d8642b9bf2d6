"""The notebooks run: every code cell is executed in order, as Jupyter would, and their key
numbers are checked (each notebook's check below)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _first_optimisation(ns: dict) -> None:
    summary = ns["summary"]
    assert len(ns["model"].zones) == 163 and ns["model"].demand["demand"].sum() > 1e6
    assert summary["status"] == "OPTIMAL" and summary["gap"] <= 1e-9 and summary["cost_bn_cny"] <= 300 + 1e-9
    chosen = ns["chosen"]
    assert sorted(chosen["project"]) == sorted(summary["selected"].split())
    assert list(chosen["rank"]) == sorted(chosen["rank"])
    axes = ns["axes"]
    assert (axes["weighted_min_opt"] <= axes["weighted_min_base"] + 1e-9).all()
    assert sorted(ns["selected"]["project"]) == sorted(chosen["project"])
    assert {t.get_text() for t in ns["ax"].texts} >= {f"{r.rank}. {r.project}" for r in chosen.itertuples()}


def _bay_crossings(ns: dict) -> None:
    summary, alternatives = ns["summary"], ns["alternatives"]
    assert (summary["status"] == "OPTIMAL").all()
    for name, ids in alternatives.items():  # each alternative chooses among its own projects only
        assert set(summary.loc[name, "selected"].split()) <= set(ids)
    bay = ns["axes"].loc["bay_link"]
    assert (bay.drop("base") <= bay["base"] + 1e-9).all()
    ranking = ns["ranking"]
    assert list(ranking["saving_pct"]) == sorted(ranking["saving_pct"], reverse=True)
    # a crossing of the bay mouth shortens the bay link more than a line that goes round it
    assert bay["road: 2nd bay bridge (Jinshan-Cixi)"] < bay["base"]


def _budget_sweep(ns: dict) -> None:
    frontier = ns["frontier"]
    assert (frontier["status"] == "OPTIMAL").all() and len(frontier) == 8
    assert (frontier["cost_bn_cny"] <= frontier["budget_bn_cny"] + 1e-9).all()
    assert np.all(np.diff(frontier["saving_min_per_day"]) >= -1e-6)  # more money never saves less
    chosen = ns["priorities"].query("in_optimal_set == 'yes'")
    assert (chosen["enters_at_budget"] <= 400 + 1e-9).all()
    assert list(chosen["enters_at_budget"]) == sorted(chosen["enters_at_budget"])  # ranked by entry


def _congestion(ns: dict) -> None:
    congested = ns["congested"]
    assert ns["off"].result.status == "OPTIMAL"
    assert congested["status"].upper() == "OPTIMAL" and congested["gap"] <= 1e-3 + 1e-12  # proved within its gap
    assert congested["objective_veh_h"] <= congested["base_veh_h"] + 1e-6  # the empty package is allowed
    assert congested["bound_veh_h"] <= congested["objective_veh_h"] + 1e-6
    assert ns["comparison"].loc["congestion on: road projects", "cost_bn_cny"] <= 60 + 1e-9


def _own_od_and_osm(ns: dict) -> None:
    summary = ns["summary"]
    assert ns["omx_equal"] and (summary["status"] == "OPTIMAL").all()
    # the survey has 25 % more trips on some pairs and the same on the others: more trip-minutes
    base, survey = summary.loc["gravity default"], summary.loc["my OD survey"]
    assert survey["base_objective"] > base["base_objective"]
    od, demand = ns["od"], ns["demand_csv"]
    assert demand["demand"].sum() <= od["trips"].sum() + 1e-6  # trips within a city are dropped, none added
    if ns["osm_run"] is not None:
        assert ns["osm_run"].result.status == "OPTIMAL"


def _compare_scenarios(ns: dict) -> None:
    summary = ns["summary"]
    assert len(summary) == 5 and (summary["status"] == "OPTIMAL").all()
    # a capped member cannot spend more than its cap; a bigger budget never does worse
    assert summary.loc["base 300 bn", "objective"] <= summary.loc["tight 120 bn", "objective"]
    assert "huyong_rail" not in summary.loc["no Jinshan-Cixi rail", "selected"].split()


CHECKS = {"01_first_optimisation.ipynb": _first_optimisation, "02_bay_crossings.ipynb": _bay_crossings,
          "03_budget_sweep.ipynb": _budget_sweep, "04_congestion.ipynb": _congestion,
          "05_own_od_and_osm.ipynb": _own_od_and_osm, "compare_scenarios.ipynb": _compare_scenarios}


def test_every_notebook_has_its_check():
    assert sorted(p.name for p in NOTEBOOKS) == sorted(CHECKS)


# every notebook runs on every CI run (the congestion notebook's exact bilevel design took ten
# minutes until the equilibrium's path store could grow; about two and a half now)
SLOW: set[str] = set()


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW else p
                                  for p in NOTEBOOKS], ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{path.name}[cell {number}]", "exec"), namespace)
    CHECKS[path.name](namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
