"""Multi-year programmes (solvers.programme): the exact schedule against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from networks.errors import InputError
from solvers.choice import NestedLogit
from solvers.programme import ProgrammeProject, brute_force_programme, greedy_programme, solve_programme
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
    # the greedy benefit/cost baseline: a feasible programme, never better than the optimum
    greedy = greedy_programme(layers, projects, markets, **kw)
    assert greedy.status == "FEASIBLE" and greedy.objective <= exact.objective + 1e-9
    assert all(v <= budget + 1e-9 for v in greedy.spending.values()) and not {"c", "d"} <= set(greedy.starts)
    ratios = list(greedy.stats["ratios"].values())
    assert ratios == sorted(ratios, reverse=True)
    # stopped at once, the exact solver still reports a programme at least as good as greedy's
    hurried = solve_programme(layers, projects, markets, **kw, time_limit=1e-3)
    assert hurried.objective >= greedy.objective - 1e-9 and hurried.bound >= hurried.objective - 1e-9
    # the savings are the network's, not a sum of single-project savings
    base = evaluate_market_design(layers, projects, markets, ()).objective
    for year, ids in exact.open_sets.items():
        assert exact.savings[year] == pytest.approx(base - evaluate_market_design(layers, projects, markets, ids).objective)


def test_programme_says_why_each_project_is_not_started():
    """Every project left out gets a reason, checked by hand: at a yearly budget of 2.9, ``a``
    (6 over 2 years) spends 3 a year and ``c`` (5, a quarter then three quarters) 3.75 in its
    second year; ``b`` (4 over 2 years) would fit but requires ``a``; ``e`` (2 years from 2029)
    has no start year in 2026-2029; ``d`` (3 in one year) is over the budget too.  At a budget
    of 9 with a cap of 2 a year on m2, ``d`` is over the cap.  A project left out for its value
    gets its marginal saving of the final network, equal to the shortest-path evaluation's."""
    layers, projects, markets = _instance()
    sched = {**SCHEDULE, "b": ProgrammeProject(duration=2), "e": ProgrammeProject(duration=2, earliest_start=2029)}
    kw = dict(years=YEARS, schedule=sched, weights=_weights(), weight_after=3000.0)
    r = solve_programme(layers, projects, markets, yearly_budget=2.9, **kw)
    assert r.status == "OPTIMAL" and set(r.not_started) == set(sched) - set(r.starts)
    never = "in a year of its construction, more than {} in every year it could be built"
    assert r.not_started == {
        "a": "spends up to 3 " + never.format("the yearly budget (2.9)"),
        "b": "requires a, which cannot be built",
        "c": "spends up to 3.75 " + never.format("the yearly budget (2.9)"),
        "d": "spends up to 3 " + never.format("the yearly budget (2.9)"),
        "e": "no start year: its 2 construction year(s) and earliest start do not fit 2026-2029",
    }
    capped = solve_programme(layers, projects, markets, yearly_budget=9.0, member_caps={"m2": 2.0}, **kw)
    assert capped.not_started["d"] == "spends up to 3 " + never.format("m2's yearly cap (2)")
    # with room for everything: what is left out is left out for its value, or for an exclusion
    wide = solve_programme(layers, projects, markets, yearly_budget=9.0, **kw)
    final = tuple(wide.starts)
    base = evaluate_market_design(layers, projects, markets, final).objective
    assert set(wide.not_started) == set(sched) - set(final) and wide.not_started
    for pid, why in wide.not_started.items():
        partner = {"c": "d", "d": "c"}.get(pid)
        if partner in wide.starts:
            assert why == f"excludes {partner}, which the programme starts"
        elif pid == "e":
            assert why.startswith("no start year")
        else:
            gain = base - evaluate_market_design(layers, projects, markets, (*final, pid)).objective
            assert why == (f"not chosen: it would add {gain:.4g} to the final network's saving, and the programme "
                           "is worth more without it") if gain > 1e-9 else why == "adds no saving to the final network"
    # a start cost above anything ``a`` could save: left out for its value, and ``b`` with it
    pricey = solve_programme(layers, projects, markets, yearly_budget=9.0, start_costs={"a": {y: 1e12 for y in YEARS}},
                             **{**kw, "schedule": SCHEDULE})
    final = tuple(pricey.starts)
    gain = (evaluate_market_design(layers, projects, markets, final).objective
            - evaluate_market_design(layers, projects, markets, (*final, "a")).objective)
    assert "a" not in final and gain > 0
    assert pricey.not_started["a"] == (f"not chosen: it would add {gain:.4g} to the final network's saving, and the "
                                       "programme is worth more without it")
    assert pricey.not_started["b"] == "requires a, not started"


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


@pytest.mark.parametrize("budget", [5.0, 9.0])
def test_programme_with_required_committed_and_unbudgeted_projects_equals_brute_force(budget):
    # c is committed: it started in 2025, before the horizon (its first year's spending is sunk)
    # and is funded outside the budgets; e must start within the horizon (from 2028)
    layers, projects, markets = _instance(5)
    schedule = {**SCHEDULE, "c": ProgrammeProject(duration=2, profile=(0.25, 0.75), fixed_start=2025, budgeted=False),
                "e": ProgrammeProject(duration=1, earliest_start=2028, required=True)}
    kw = dict(years=YEARS, schedule=schedule, yearly_budget=budget, weights=_weights(), weight_after=3000.0)
    exact = solve_programme(layers, projects, markets, **kw)
    brute = brute_force_programme(layers, projects, markets, **kw)
    assert exact.status == "OPTIMAL"
    assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
    assert exact.starts["c"] == 2025 and exact.openings["c"] == 2027 and "e" in exact.starts
    assert "d" not in exact.starts  # excluded by the committed c
    assert all(v <= budget + 1e-9 for v in exact.spending.values())  # c's spending is not charged
    assert 2027 in [y for y in exact.years if "c" in exact.open_sets[y]]
    greedy = greedy_programme(layers, projects, markets, **kw)  # places the required projects first
    assert greedy.starts["c"] == 2025 and "e" in greedy.starts and greedy.objective <= exact.objective + 1e-9
    assert exact.stats["seed_programme"].get("c") == 2025  # the search's starting programme holds them too


def test_programme_stopped_at_once_with_required_projects_reports_the_starting_programme():
    # CP-SAT finds nothing in a millisecond; the starting programme (required projects in) is
    # reported, with the bound of the saving caps, instead of an error
    layers, projects, markets = _instance(5)
    schedule = {**SCHEDULE, "e": ProgrammeProject(duration=1, earliest_start=2028, required=True)}
    kw = dict(years=YEARS, schedule=schedule, yearly_budget=5.0, weights=_weights(), weight_after=3000.0)
    brute = brute_force_programme(layers, projects, markets, **kw)
    hurried = solve_programme(layers, projects, markets, **kw, time_limit=1e-3)
    assert "e" in hurried.starts and hurried.status in ("FEASIBLE", "OPTIMAL")
    assert hurried.objective <= brute.objective + 1e-9 <= hurried.bound + 2e-9
    assert all(v <= 5.0 + 1e-9 for v in hurried.spending.values())


@pytest.mark.parametrize("seed,budget", [(11, 3.0), (5, 5.0), (3, 4.0), (7, 2.5)])
def test_period_caps_are_the_best_network_open_per_period_and_the_cuts_hold(seed, budget):
    # every feasible programme enumerated: the cap of a period is the largest saving of a
    # network open then (when proved), never below it, never above the pooled-budget cap; no
    # programme has a cut set all open in its period or before
    import copy
    import itertools

    from solvers.programme._setup import _feasible, _setup
    from solvers.programme.exact import _period_caps, _saving_caps
    from solvers.programme.local_search import _Valuer

    layers, projects, markets = _instance(seed)
    setup = _setup(layers, projects, markets, years=YEARS, schedule=SCHEDULE, yearly_budget=budget,
                   weights=_weights(), weight_after=3000.0, start_costs=None, member_caps=None)
    pooled, _ = _saving_caps(setup, None)
    caps = copy.copy(pooled)
    report, cuts = _period_caps(setup, caps, {}, None, 1)
    assert report and all(r["status"] == "OPTIMAL" for r in report.values())
    periods = [*YEARS, "after"]
    best = dict.fromkeys(periods, 0.0)
    valuer = _Valuer(setup)
    for choice in itertools.product(*[[None, *row] for row in setup.starts]):
        prog = {pid: s for pid, s in zip(setup.ids, choice) if s is not None}
        if not _feasible(setup, prog):
            continue
        for t in periods:
            open_mask = sum(1 << k for k, s in enumerate(choice)
                            if s is not None and (t == "after" or s + setup.durations[k] <= t))
            best[t] = max(best[t], valuer.saving(open_mask))
            for tc, core in cuts:
                if tc == t or tc == "after" or (t != "after" and t < tc):
                    assert core & ~open_mask, (tc, core, prog)
    tighter = 0
    for t in periods:
        tol = 1e-9 * max(1.0, best[t])
        assert best[t] - tol <= caps[t] <= pooled[t] + tol
        if t in report:  # proved: equal up to the objective's integer rounding
            assert caps[t] == pytest.approx(best[t], rel=1e-6, abs=1e-6)
        tighter += caps[t] < pooled[t] - 1e-6 * max(1.0, pooled[t])
    if budget == 3.0:  # project c spends 3.75 in its second year: the pooled budgets allow it, no year does
        assert tighter > 0 and cuts


@pytest.mark.parametrize("seed,budget,caps", [(11, 3.0, False), (11, 5.0, False), (5, 9.0, True), (3, 5.0, False),
                                              (7, 4.0, True)])
def test_local_search_is_feasible_exactly_valued_a_local_optimum_and_repeatable(seed, budget, caps):
    from solvers.programme._setup import _feasible, _setup, _value_by_records
    from solvers.programme.local_search import _Valuer, search_programme
    from solvers.selection._instance import _bits

    layers, projects, markets = _instance(seed)
    member_caps = {"m2": {2026: 1.0, 2027: 2.0, 2028: 2.0, 2029: 2.0}} if caps else None
    kw = dict(years=YEARS, schedule=SCHEDULE, yearly_budget=budget, weights=_weights(), weight_after=3000.0,
              member_caps=member_caps)
    setup = _setup(layers, projects, markets, start_costs=None, **kw)
    # the vectorised record values equal the records' own, on every feasible design
    valuer = _Valuer(setup)
    inst = setup.problem.inst
    for mask in range(1 << len(setup.ids)):
        if all(inst.direct_requires[k] & ~mask == 0 for k in _bits(mask)) and not any(
                inst.excl[k] & mask for k in _bits(mask)):
            assert valuer.saving(mask) == pytest.approx(
                setup.sav.base_objective - setup.sav.objective_by_records(mask), rel=1e-12, abs=1e-9)
    greedy = greedy_programme(layers, projects, markets, **kw)
    brute = brute_force_programme(layers, projects, markets, **kw)
    prog, value = search_programme(setup, [greedy.starts], seed=0)
    assert _feasible(setup, prog)
    assert value == pytest.approx(_value_by_records(setup, prog), rel=1e-12)
    tol = 1e-12 * abs(brute.objective)
    assert greedy.objective - tol <= value <= brute.objective + tol
    # no programme one start-year change away is better (the last step's neighbourhood)
    for k, pid in enumerate(setup.ids):
        for s in [None, *setup.starts[k]]:
            trial = {p: y for p, y in prog.items() if p != pid}
            if s is not None:
                trial[pid] = s
            if _feasible(setup, trial):
                assert _value_by_records(setup, trial) <= value + tol
    assert search_programme(setup, [greedy.starts], seed=0) == (prog, value)


@pytest.mark.parametrize("rho,outcome", [(0.30, "slack"), (0.32, "binds"), (0.34, "infeasible")])
def test_programme_with_a_minimum_improvement_per_group_equals_brute_force(rho, outcome):
    # the final network must improve the "high" group by rho: at 30 % the optimum already does,
    # at 32 % it changes the programme, at 34 % no programme can (brute force says which)
    from networks.errors import InfeasibleError
    from tests.test_fairness import _groups

    layers, projects, markets = _instance(5)
    base = dict(years=YEARS, schedule=SCHEDULE, yearly_budget=5.0, weights=_weights(), weight_after=3000.0)
    kw = dict(base, groups=_groups(markets), group_minimum={"high": rho})
    free = solve_programme(layers, projects, markets, **base)
    if outcome == "infeasible":
        with pytest.raises(InfeasibleError):
            brute_force_programme(layers, projects, markets, **kw)
        with pytest.raises(InfeasibleError, match=r"improves every group by its minimum \(high 34 %\)"):
            solve_programme(layers, projects, markets, **kw)
        return
    brute = brute_force_programme(layers, projects, markets, **kw)
    exact = solve_programme(layers, projects, markets, **kw)
    assert exact.status == "OPTIMAL"
    assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
    assert exact.stats["group_improvement"]["high"] >= rho - 1e-9
    if outcome == "binds":
        assert exact.objective < free.objective - 1e-6 and exact.starts != free.starts
    else:
        assert exact.objective == pytest.approx(free.objective, rel=1e-9)


def test_programme_infeasible_requirements_say_what_conflicts():
    from networks.errors import InfeasibleError

    layers, projects, markets = _instance()
    kw = dict(years=YEARS, yearly_budget=5.0, weights=_weights())
    cases = [
        ({"a": ProgrammeProject(duration=1, required=True)}, r"budget is too small for required project 'a': it "
                                                             r"spends 6 in a year"),
        ({"b": ProgrammeProject(duration=1, fixed_start=2026)}, r"requires, 'a', opens in 2028 at the earliest"),
        ({"e": ProgrammeProject(duration=1, earliest_start=2030, required=True)}, "cannot start in the horizon"),
        ({"c": ProgrammeProject(duration=1, required=True), "d": ProgrammeProject(duration=1, required=True)},
         "exclude each other"),
    ]
    for change, message in cases:
        with pytest.raises(InfeasibleError, match=message):
            solve_programme(layers, projects, markets, schedule={**SCHEDULE, **change}, **kw)
    # two committed starts that together overspend a year
    change = {"d": ProgrammeProject(duration=1, fixed_start=2027), "e": ProgrammeProject(duration=1, fixed_start=2027)}
    with pytest.raises(InfeasibleError, match=r"in 2027 the projects fixed to start \(d, e\) spend 5, more than that "
                                              r"year's budget 4"):
        solve_programme(layers, projects, markets, schedule={**SCHEDULE, **change}, **{**kw, "yearly_budget": 4.0})
    # each required project fits alone but not together: CP-SAT proves it
    change = {"a": ProgrammeProject(duration=2, required=True), "c": ProgrammeProject(duration=2, required=True)}
    with pytest.raises(InfeasibleError, match=r"no programme starts every required project \(a, c\)"):
        solve_programme(layers, projects, markets, schedule={**SCHEDULE, **change}, **{**kw, "years": [2026, 2027, 2028],
                                                                                      "yearly_budget": 5.4})


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


def test_transit_programme_writes_a_proved_schedule(tmp_path, capsys):
    import pandas as pd

    from transit.cli import main

    out = tmp_path / "prog"
    capsys.readouterr()
    assert main(["programme", "--horizon", "2026-2028", "--yearly-budget", "30", "--objective", "benefit",
                 "--frontier-steps", "2", "--cost-sharing", "length", "--out", str(out), "-v"]) == 0
    log = capsys.readouterr().err
    for step in ("scheduling", "2026-2028 exactly (CP-SAT): done", "programme: OPTIMAL", "alliance tables",
                 "budget-saving frontier (2 exact optima): done"):
        assert step in log, (step, log)
    from transit.programme import OUTPUTS

    for name in OUTPUTS:
        assert (out / name).is_file(), name
    text = (out / "report.md").read_text()
    assert "proved optimal by CP-SAT" in text
    schedule = pd.read_csv(out / "schedule.csv")
    # every project left out is in the report with its reason (over 3 years, 4-year lines have no start year)
    import json

    left = json.loads((out / "run.json").read_text())["result"]["not_started"]
    assert left and set(left).isdisjoint(schedule["project"]) and all(left.values())
    assert any(why.startswith("no start year: its 4 construction year(s)") for why in left.values())
    section = text.split("## Not started", 1)[1].split("\n## ", 1)[0]
    assert all(f"| {pid} | {why} |" in section for pid, why in left.items())
    assert len(schedule) and (schedule["opening"] == schedule["start"] + schedule["construction_years"]).all()
    spending = pd.read_csv(out / "spending.csv").set_index("project")
    charged = spending[spending["budgeted"]].drop(columns="budgeted")
    assert (charged.sum(axis=0) <= 30 + 1e-6).all()
    inside = schedule.set_index("project").query("start >= 2026 and opening <= 2029")
    assert spending.drop(columns="budgeted").loc[inside.index].sum(axis=1).to_numpy() == pytest.approx(
        inside["cost_bn_cny"].to_numpy(), rel=1e-5)  # the CSV keeps 6 significant digits
    # the projects under construction are committed: fixed to open in their expected year, funded
    # outside the budget
    from transit.catalogue import load_projects

    _, catalogue = load_projects()
    for p in catalogue:
        if p.status in ("under_construction", "partly_open"):
            row = schedule.set_index("project").loc[p.id]
            assert bool(row["committed"]) and not bool(row["budgeted"]) and row["opening"] == p.expected_opening
    years_out = pd.read_csv(out / "years.csv")
    assert (years_out["spending_bn_cny"].iloc[:-1] <= 30 + 1e-6).all()
    years = pd.read_csv(out / "years.csv")
    assert (years["saving_min_per_day"].diff().dropna() >= -1e-6).all()  # the network only grows
    # who pays: every started project's cost in full, by the length rule
    shares = pd.read_csv(out / "cost_shares.csv")
    assert set(shares["project"]) == set(schedule["project"]) and (shares["rule"] == "length").all()
    assert shares.groupby("project")["share"].sum().to_numpy() == pytest.approx(1.0, rel=1e-5)  # 6 digits
    members = pd.read_csv(out / "members.csv")
    assert members["pays_bn_cny"].sum() == pytest.approx(schedule["cost_bn_cny"].sum())
    shapley = pd.read_csv(out / "shapley.csv")
    for players in ("member", "project"):
        # efficiency (the CSV keeps 6 significant digits per share)
        assert shapley.loc[shapley["players"] == players, "share"].sum() == pytest.approx(1.0, rel=1e-4)
    assert "## The alliance: who pays, who gains" in text and "## Budget-saving frontier" in text
    # the frontier: each point the one-shot optimum at its budget (90 bn CNY over the 3 years)
    frontier = pd.read_csv(out / "frontier.csv")
    assert list(frontier["budget_bn_cny"]) == pytest.approx([45.0, 90.0])
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
                        frontier_steps=2, alliance=False)
    table = frontier_table(run)
    assert list(table["budget_bn_cny"]) == pytest.approx([40.0, 80.0])
    for row in table.itertuples(index=False):
        single = solve_market_selection(model.selection_layers, model.candidates, model.markets,
                                        budget=row.budget_bn_cny)
        assert single.status == "OPTIMAL" and row.status == "OPTIMAL"
        assert row.saving_min_per_day == pytest.approx(single.saving, rel=1e-9)


def test_yrd_programme_minimum_improvement_per_axis(model):
    from networks.errors import InfeasibleError
    from transit.programme import run_programme

    kw = dict(horizon=(2026, 2029), yearly_budget=30.0, objective="benefit", model=model, frontier_steps=0,
              alliance=False)
    free = run_programme(model.config, **kw, min_improvement={"all": 0.0})
    got = free.result.stats["group_improvement"]
    assert set(got) == {a.id for a in model.axes}
    worst = min(got, key=got.get)
    target = 100 * got[worst] + 0.5  # half a point more on the worst axis than the optimum gives
    try:
        fair = run_programme(model.config, **kw, min_improvement={worst: target})
    except InfeasibleError as err:
        assert f"{worst} {target:g} %" in str(err)
        return
    assert fair.result.status == "OPTIMAL"
    assert 100 * fair.result.stats["group_improvement"][worst] >= target - 1e-7
    assert fair.result.objective < free.result.objective
