"""Multi-year programmes (solvers.programme): the exact schedule against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from networks.errors import InputError
from solvers.choice import NestedLogit
from solvers.programme import ProgrammeProject, brute_force_programme, solve_programme
from solvers.selection import Project
from solvers.selection.markets import Layer, Markets, evaluate_market_design


def _instance(seed: int = 11):
    """Three layers on 12 nodes, five projects (one requires another, two exclude each other)."""
    rng = np.random.default_rng(seed)
    n = 12

    def layer(s):
        r = np.random.default_rng(s)
        arcs = [(i, j, float(r.integers(5, 40))) for i in range(n) for j in range(n) if i != j and r.random() < 0.3]
        t, h, w = zip(*arcs)
        return n, np.array(t), np.array(h), np.array(w)

    projects = [Project(id="a", cost=6.0, arcs=(), member="m1"),
                Project(id="b", cost=4.0, arcs=(), member="m2", requires=("a",)),
                Project(id="c", cost=5.0, arcs=(), member="m1", excludes=("d",)),
                Project(id="d", cost=3.0, arcs=(), member="m2", excludes=("c",)),
                Project(id="e", cost=2.0, arcs=(), member="m2")]

    def arcs(ids):
        out = {}
        for pid in ids:
            a, b = rng.choice(n, 2, replace=False)
            out[pid] = [(int(a), int(b), float(rng.integers(1, 6))), (int(b), int(a), float(rng.integers(1, 6)))]
        return out

    layers = [Layer("rail", layer(1), arcs(["a", "b", "c"])), Layer("car", layer(2), arcs(["c", "d", "e"])),
              Layer("coach", layer(2), {})]
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    o = np.array([[i] * 3 for i, _ in pairs])
    d = np.array([[j] * 3 for _, j in pairs])
    logit = NestedLogit(0.06, [0.0, 0.3, -1.2])
    markets = Markets(o, d, rng.random(len(pairs)) * 100, lambda idx, times: logit.composite_cost(times))
    return layers, projects, markets


SCHEDULE = {"a": ProgrammeProject(duration=2), "b": ProgrammeProject(duration=1),
            "c": ProgrammeProject(duration=2, profile=(0.25, 0.75)), "d": ProgrammeProject(duration=1),
            "e": ProgrammeProject(duration=1, earliest_start=2028)}
YEARS = [2026, 2027, 2028, 2029]


def _weights(rate=0.08):
    return {y: 365 * (1 + rate) ** -(y - 2026) for y in YEARS}


@pytest.mark.parametrize("budget", [3.0, 5.0, 9.0])
def test_programme_equals_brute_force(budget):
    layers, projects, markets = _instance()
    kw = dict(years=YEARS, schedule=SCHEDULE, yearly_budget=budget, weights=_weights(), weight_after=3000.0)
    exact = solve_programme(layers, projects, markets, **kw)
    brute = brute_force_programme(layers, projects, markets, **kw)
    assert exact.status == "OPTIMAL"
    assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
    assert exact.bound >= exact.objective - 1e-9 and exact.gap <= 1e-6
    # every year's spending within the budget; b opens no earlier than a; c and d never both
    assert all(v <= budget + 1e-9 for v in exact.spending.values())
    if "b" in exact.starts:
        assert exact.openings["b"] >= exact.openings["a"]
    assert not {"c", "d"} <= set(exact.starts)
    assert exact.starts.get("e", 2028) >= 2028
    # the savings are the network's, not a sum of single-project savings
    base = evaluate_market_design(layers, projects, markets, ()).objective
    for year, ids in exact.open_sets.items():
        assert exact.savings[year] == pytest.approx(base - evaluate_market_design(layers, projects, markets, ids).objective)


def test_programme_with_start_costs_and_member_caps_equals_brute_force():
    layers, projects, markets = _instance(5)
    free = brute_force_programme(layers, projects, markets, years=YEARS, schedule=SCHEDULE, yearly_budget=9.0,
                                 weights=_weights(), weight_after=3000.0)
    # costs of the order of the benefits: some projects are no longer worth starting, and
    # starting later is cheaper (discounting), so the timing trades benefit against cost
    scale = free.objective / 6
    costs = {p.id: {s: scale * p.cost / 6 * 1.08 ** -(s - 2026) for s in YEARS} for p in projects}
    kw = dict(years=YEARS, schedule=SCHEDULE, yearly_budget=9.0, weights=_weights(), weight_after=3000.0,
              start_costs=costs, member_caps={"m2": {2026: 1.0, 2027: 4.0, 2028: 4.0, 2029: 4.0}})
    exact = solve_programme(layers, projects, markets, **kw)
    brute = brute_force_programme(layers, projects, markets, **kw)
    assert exact.status == "OPTIMAL"
    assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
    assert exact.starts == brute.starts or exact.objective == pytest.approx(brute.objective, rel=1e-12)


def test_programme_bad_input_is_refused():
    layers, projects, markets = _instance()
    kw = dict(years=YEARS, schedule=SCHEDULE, yearly_budget=5.0, weights=_weights())
    with pytest.raises(InputError, match="years"):
        solve_programme(layers, projects, markets, **{**kw, "years": [2026, 2028]})
    with pytest.raises(InputError, match="no duration"):
        solve_programme(layers, projects, markets, **{**kw, "schedule": {"a": SCHEDULE["a"]}})
    with pytest.raises(InputError, match="profile"):
        solve_programme(layers, projects, markets,
                        **{**kw, "schedule": {**SCHEDULE, "a": ProgrammeProject(duration=2, profile=(0.5, 0.6))}})
    with pytest.raises(InputError, match="yearly_budget"):
        solve_programme(layers, projects, markets, **{**kw, "yearly_budget": -1.0})
    with pytest.raises(InputError, match="weights"):
        solve_programme(layers, projects, markets, **{**kw, "weights": {2026: 1.0}})
    with pytest.raises(InputError, match="member"):
        solve_programme(layers, projects, markets, **kw, member_caps={"nobody": 1.0})
    with pytest.raises(InputError, match="time_limit"):
        solve_programme(layers, projects, markets, **kw, time_limit=-1.0)


# --------------------------------------------------------------------------------------------
# The YRD programme
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    from transit.config import load_config
    from transit.model import build_model

    return build_model(load_config())


def test_yrd_programme_on_a_catalogue_slice_equals_brute_force(model):
    from transit.appraisal import appraisal_parameters, base_mode_shares
    from transit.programme import programme_inputs

    ids = {"hupingyan", "hzbay_road_2", "huzhou_road", "hutong_phase2", "shanghai_hangzhou_hsr"}
    subset = [c for c in model.candidates if c.id in ids]
    layers = [Layer(layer.name, layer.base, {k: v for k, v in layer.arcs.items() if k in ids})
              for layer in model.selection_layers]
    params = appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    schedule, weights, after, costs = programme_inputs(model, params, horizon=(2026, 2032), end_year=2062,
                                                       objective="npv")
    schedule = {k: v for k, v in schedule.items() if k in ids}
    # the benefit objective (no project's NPV is positive here), and an NPV objective whose costs
    # are scaled down so that some starts pay: both against every programme
    for start_costs in (None, {k: {s: c / 20 for s, c in costs[k].items()} for k in ids}):
        kw = dict(years=range(2026, 2033), schedule=schedule, yearly_budget=25.0, weights=weights,
                  weight_after=after, start_costs=start_costs)
        exact = solve_programme(layers, subset, model.markets, **kw)
        brute = brute_force_programme(layers, subset, model.markets, **kw)
        assert exact.status == "OPTIMAL"
        assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
        assert exact.starts  # the budget lets something start
        assert all(v <= 25.0 + 1e-9 for v in exact.spending.values())
        if "shanghai_hangzhou_hsr" in exact.starts:  # it requires hutong_phase2, open no later
            assert exact.openings["hutong_phase2"] <= exact.openings["shanghai_hangzhou_hsr"]


def test_transit_programme_writes_a_proved_schedule(tmp_path):
    import pandas as pd

    from transit.cli import main

    out = tmp_path / "prog"
    assert main(["programme", "--horizon", "2026-2030", "--yearly-budget", "30", "--objective", "benefit",
                 "--frontier-steps", "3", "--cost-sharing", "length", "--out", str(out)]) == 0
    from transit.programme import OUTPUTS

    for name in OUTPUTS:
        assert (out / name).is_file(), name
    text = (out / "report.md").read_text()
    assert "proved optimal by CP-SAT" in text
    schedule = pd.read_csv(out / "schedule.csv")
    assert len(schedule) and (schedule["opening"] == schedule["start"] + schedule["construction_years"]).all()
    spending = pd.read_csv(out / "spending.csv").set_index("project")
    assert (spending.sum(axis=0) <= 30 + 1e-6).all()
    assert spending.sum(axis=1).to_numpy() == pytest.approx(schedule.set_index("project").loc[spending.index,
                                                                                             "cost_bn_cny"].to_numpy())
    years = pd.read_csv(out / "years.csv")
    assert (years["saving_min_per_day"].diff().dropna() >= -1e-6).all()  # the network only grows
    # who pays: every started project's cost in full, by the length rule
    shares = pd.read_csv(out / "cost_shares.csv")
    assert set(shares["project"]) == set(schedule["project"]) and (shares["rule"] == "length").all()
    assert shares.groupby("project")["share"].sum().to_numpy() == pytest.approx(1.0)
    members = pd.read_csv(out / "members.csv")
    assert members["pays_bn_cny"].sum() == pytest.approx(schedule["cost_bn_cny"].sum())
    shapley = pd.read_csv(out / "shapley.csv")
    for players in ("member", "project"):
        assert shapley.loc[shapley["players"] == players, "share"].sum() == pytest.approx(1.0)
    assert "## The alliance: who pays, who gains" in text and "## Budget-saving frontier" in text
    # the frontier: each point the one-shot optimum at its budget (150 bn CNY over the 5 years)
    frontier = pd.read_csv(out / "frontier.csv")
    assert list(frontier["budget_bn_cny"]) == pytest.approx([50.0, 100.0, 150.0])
    assert (frontier["status"] == "OPTIMAL").all() and (frontier["cost_bn_cny"] <= frontier["budget_bn_cny"] + 1e-9).all()
    assert frontier["saving_min_per_day"].is_monotonic_increasing
    # bad input: negotiated shares that do not add up, or no file, or a file without the rule
    sheet = tmp_path / "shares.csv"
    sheet.write_text("project,member,share\nhangli,zjci,0.6\nhangli,cr,0.3\n")
    for bad in (["--cost-sharing", "negotiated", "--shares", str(sheet)], ["--cost-sharing", "negotiated"],
                ["--shares", str(sheet)], ["--frontier-steps", "-1"]):
        args = ["programme", "--horizon", "2026-2027", "--yearly-budget", "30", "--out", str(tmp_path / "bad"), *bad]
        assert main(args) == 2
        assert not (tmp_path / "bad").exists()
    for bad in (["--horizon", "2040-2026"], ["--yearly-budget", "-5"], ["--gap", "2"], ["--workers", "0"]):
        args = ["programme", "--yearly-budget", "30", "--out", str(tmp_path / "bad"), *bad]
        assert main(args) == 2
        assert not (tmp_path / "bad").exists()
    with pytest.raises(SystemExit):
        main(["programme", "--horizon", "soon", "--yearly-budget", "30", "--out", str(tmp_path / "bad")])


def test_programme_frontier_equals_the_single_budget_optimiser(model):
    from solvers.selection.markets import solve_market_selection
    from transit.programme import frontier_table, run_programme

    run = run_programme(model.config, horizon=(2026, 2027), yearly_budget=40.0, objective="benefit", model=model,
                        frontier_steps=2)
    table = frontier_table(run)
    assert list(table["budget_bn_cny"]) == pytest.approx([40.0, 80.0])
    for row in table.itertuples(index=False):
        single = solve_market_selection(model.selection_layers, model.candidates, model.markets,
                                        budget=row.budget_bn_cny)
        assert single.status == "OPTIMAL" and row.status == "OPTIMAL"
        assert row.saving_min_per_day == pytest.approx(single.saving, rel=1e-9)
