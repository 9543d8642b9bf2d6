"""Fair selection (minimum improvement per group, maximin) against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from networks.errors import InfeasibleError, InputError
from solvers.selection.fairness import solve_fair_selection
from solvers.selection.markets import evaluate_market_design
from tests.test_programme import _instance


def _designs(projects, budget):
    """Every feasible design: requirements met, no excluded pair, within the budget."""
    ids = [p.id for p in projects]
    by_id = {p.id: p for p in projects}
    for k in range(len(ids) + 1):
        for design in itertools.combinations(ids, k):
            chosen = set(design)
            if any(not set(by_id[p].requires) <= chosen for p in chosen):
                continue
            if any(set(by_id[p].excludes) & chosen for p in chosen):
                continue
            if sum(by_id[p].cost for p in chosen) > budget + 1e-9:
                continue
            yield design


def _brute(layers, projects, markets, budget, groups):
    base = evaluate_market_design(layers, projects, markets, ()).od_times
    demand = np.asarray(markets.demand, dtype=float)
    rows = []
    for design in _designs(projects, budget):
        value = evaluate_market_design(layers, projects, markets, design)
        saving = demand * (base - value.od_times)
        improvement = {g: saving[idx].sum() / np.dot(demand[idx], base[idx]) for g, idx in groups.items()}
        rows.append((design, value.objective, improvement))
    return rows


def _groups(markets, n=12):
    # markets are ordered pairs (i, j) of 12 nodes: three overlapping groups
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    return {"low": [k for k, (i, j) in enumerate(pairs) if i < 4 or j < 4],
            "high": [k for k, (i, j) in enumerate(pairs) if i >= 8 or j >= 8],
            "cross": [k for k, (i, j) in enumerate(pairs) if (i < 6) != (j < 6)]}


@pytest.mark.parametrize("seed,budget", [(11, 7.0), (5, 9.0), (3, 12.0)])
def test_maximin_equals_brute_force(seed, budget):
    layers, projects, markets = _instance(seed)
    groups = _groups(markets)
    fair = solve_fair_selection(layers, projects, markets, budget=budget, groups=groups, maximin=True)
    rows = _brute(layers, projects, markets, budget, groups)
    best_worst = max(min(imp.values()) for _, _, imp in rows)
    best_total = min(obj for _, obj, imp in rows if min(imp.values()) >= best_worst - 1e-9)
    assert fair.result.status == "OPTIMAL" and fair.worst_proved
    assert fair.worst == pytest.approx(best_worst, rel=1e-7, abs=1e-12)
    assert fair.result.objective == pytest.approx(best_total, rel=1e-9)
    free_total = min(obj for _, obj, _ in rows)
    assert fair.unconstrained.objective == pytest.approx(free_total, rel=1e-9)
    assert fair.price == pytest.approx(best_total - free_total, rel=1e-6, abs=1e-6)
    assert fair.price >= -1e-9
    if seed == 5:  # here fairness changes the design: it costs something and takes a step
        assert fair.price > 0 and fair.iterations >= 1


@pytest.mark.parametrize("seed,budget", [(11, 7.0), (5, 9.0)])
def test_minimum_improvement_equals_brute_force(seed, budget):
    layers, projects, markets = _instance(seed)
    groups = _groups(markets)
    rows = _brute(layers, projects, markets, budget, groups)
    # floors at (just under) the improvements of the design that improves "low" most, which
    # the unconstrained optimum need not reach: a design meets them, maybe not the free optimum
    target = max(rows, key=lambda r: (r[2]["low"], -r[1]))
    minimum = {g: math.floor(1e6 * target[2][g]) / 1e6 for g in ("low", "high")}
    ok = [r for r in rows if all(r[2][g] >= minimum[g] for g in minimum)]
    fair = solve_fair_selection(layers, projects, markets, budget=budget, groups=groups, minimum=minimum)
    assert fair.result.status == "OPTIMAL"
    assert fair.result.objective == pytest.approx(min(r[1] for r in ok), rel=1e-9)
    for g, rho in minimum.items():
        assert fair.improvement[g] >= rho - 1e-9
    if seed == 5:  # the unconstrained optimum misses a floor here
        assert fair.price > 0 and fair.unconstrained.selected != fair.result.selected


def test_fairness_bad_input_and_infeasible_floors():
    layers, projects, markets = _instance(11)
    groups = _groups(markets)
    kw = dict(budget=7.0, groups=groups)
    with pytest.raises(InputError, match="one of the two"):
        solve_fair_selection(layers, projects, markets, **kw)
    with pytest.raises(InputError, match="one of the two"):
        solve_fair_selection(layers, projects, markets, minimum={"low": 0.1}, maximin=True, **kw)
    with pytest.raises(InputError, match="unknown group 'mid'"):
        solve_fair_selection(layers, projects, markets, minimum={"mid": 0.1}, **kw)
    with pytest.raises(InputError, match=r"fraction in \[0, 1\)"):
        solve_fair_selection(layers, projects, markets, minimum={"low": 1.5}, **kw)
    with pytest.raises(InputError, match="has no markets"):
        solve_fair_selection(layers, projects, markets, budget=7.0, groups={"none": []}, maximin=True)
    rows = _brute(layers, projects, markets, 7.0, groups)
    reach = max(imp["low"] for _, _, imp in rows)
    with pytest.raises(InfeasibleError, match=r"improves low \(.*\) by the minimum asked, even alone"):
        solve_fair_selection(layers, projects, markets, minimum={"low": min(0.99, reach * 1.5 + 0.01)}, **kw)


# ---------------------------------------------------------------------------------------------
# The YRD axes
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yrd():
    from transit.config import load_config
    from transit.model import build_model

    return build_model(load_config())


def test_yrd_maximin_across_axes_is_consistent_with_the_axes_table(yrd):
    from transit.optimize import axes_table, run_optimization

    run = run_optimization(yrd.config, budget=100.0, ladder_steps=1, fairness="maximin", model=yrd)
    fair = run.fairness
    assert fair.result.status == "OPTIMAL" and fair.worst_proved
    assert set(fair.groups) == {a.id for a in yrd.axes}  # the four axes and the bay link
    assert fair.worst >= min(fair.unconstrained_improvement.values()) - 1e-12
    assert fair.price >= -1e-6 * abs(fair.unconstrained.objective)
    assert run.result.selected == fair.result.selected
    # the improvement the fairness option works on is the axes table's saving_pct of the package
    table = axes_table(run).set_index("axis")
    for g, value in fair.improvement.items():
        assert 100 * value == pytest.approx(table.loc[g, "saving_pct"], rel=1e-6, abs=1e-9)


def test_transit_optimize_fairness_options(tmp_path, capsys):
    import pandas as pd

    from transit.cli import main

    out = tmp_path / "fair"
    assert main(["optimize", "--budget", "60", "--ladder-steps", "1", "--min-improvement", "g60=0.5",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out / "fairness.csv").set_index("axis")
    assert table.loc["g60", "minimum_pct"] == 0.5
    assert table.loc["g60", "improvement_fair_pct"] >= 0.5 - 1e-9
    assert "## Fairness across the axes" in (out / "report.md").read_text()
    for bad, message in ((["--min-improvement", "nowhere=5"], "unknown axis 'nowhere'"),
                         (["--min-improvement", "all=60"], "by the minimum asked, even alone")):
        target = tmp_path / "bad"
        capsys.readouterr()
        assert main(["optimize", "--budget", "60", "--ladder-steps", "1", "--out", str(target), *bad]) == 2, bad
        assert not target.exists()
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and __import__("re").search(message, err), err
