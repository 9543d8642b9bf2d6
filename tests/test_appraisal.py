"""Appraisal in money: hand-worked cash flows, the NPV objective against brute force, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from networks.errors import InputError
from solvers.finance import benefit_cost_ratio, irr, npv, present_value
from solvers.selection.markets import Layer, brute_force_market_selection, solve_market_selection
from transit.appraisal import appraisal_parameters, benefit_factor, cost_flows, package_flows, project_flows
from transit.appraisal.tables import project_cost_terms
from transit.appraisal.values import base_mode_shares, saving_by_mode, value_of_time_tables
from transit.cli import main
from transit.config import load_config
from transit.model import build_model


def test_npv_bcr_irr_of_a_hand_worked_project():
    # 100 spent now, 30 a year back for 5 years, 10 %:
    # PV(benefits) = 30 (1/1.1 + 1/1.1^2 + ... + 1/1.1^5) = 30 x 3.790787 = 113.7236
    benefits = [0, 30, 30, 30, 30, 30]
    costs = [100, 0, 0, 0, 0, 0]
    assert present_value(benefits, 0.10) == pytest.approx(113.72360, abs=1e-4)
    assert npv(benefits, costs, 0.10) == pytest.approx(13.72360, abs=1e-4)
    assert benefit_cost_ratio(benefits, costs, 0.10) == pytest.approx(1.1372360, abs=1e-6)
    # IRR: 30 x annuity(r, 5) = 100 -> r = 15.2382 % (annuity factor 3.3333)
    r = irr(np.subtract(benefits, costs))
    assert r == pytest.approx(0.152382, abs=1e-6)
    assert present_value(np.subtract(benefits, costs), r) == pytest.approx(0.0, abs=1e-9)
    # no sign change: no rate
    assert math.isnan(irr([1, 2, 3]))
    assert math.isnan(irr([0, 0, 0]))


SHARES = {"rail": 0.5, "car": 0.4, "coach": 0.1}


def test_project_cash_flows_by_hand():
    rail_60 = {"business": {"rail": 60.0}, "commuting": {"rail": 60.0}, "other": {"rail": 60.0}}
    params = appraisal_parameters(load_config(
        appraisal__base_year=2026, appraisal__opening_year=2028, appraisal__operating_years=3,
        appraisal__discount_rate=0.05, appraisal__days_per_year=300.0, appraisal__demand_growth=0.0,
        appraisal__value_of_time_growth=0.0, appraisal__growth_end_year=2026,
        appraisal__optimism_bias_rail=0.5, appraisal__construction_years_rail=2, appraisal__om_share_rail=0.01,
        appraisal__asset_life_years_rail=6.0, appraisal__value_of_time=rail_60,
        appraisal__construction_years_crossing=2, appraisal__construction_years_road=2), mode_shares={"rail": 1.0})
    # years 2026 .. 2030; capital 2 bn x 1.5 = 3 bn in 2026 and 2027 (1.5 bn each); O&M 0.02 bn a
    # year 2028-30; residual 3 bn x (1 - 3/6) = 1.5 bn back in 2030.  Saving 10,000 gen-min a day
    # = 10,000 CNY a day = 3 million CNY a year, 2028-30.
    f = project_flows(params, capex_bn=2.0, mode="rail", saving_min_per_day=10_000.0)
    np.testing.assert_array_equal(f.years, [2026, 2027, 2028, 2029, 2030])
    np.testing.assert_allclose(f.costs, [1.5e9, 1.5e9, 0.02e9, 0.02e9, 0.02e9 - 1.5e9])
    np.testing.assert_allclose(f.benefits, [0, 0, 3e6, 3e6, 3e6])
    d = 1.05 ** -np.arange(5)
    assert f.pvb == pytest.approx(float(np.dot([0, 0, 3e6, 3e6, 3e6], d)))
    assert f.pvc == pytest.approx(float(np.dot([1.5e9, 1.5e9, 0.02e9, 0.02e9, -1.48e9], d)))
    assert f.npv == pytest.approx(f.pvb - f.pvc)
    assert f.bcr == pytest.approx(f.pvb / f.pvc)
    assert f.first_year_return == pytest.approx((3e6 - 0.02e9) / 3e9)
    # one gen-min a day is worth its share of the same benefits
    assert benefit_factor(params) * 10_000 == pytest.approx(f.pvb)
    # a package: joint benefits, summed costs
    pkg = package_flows(params, [(2.0, "rail", "new_line"), (1.0, "road", "crossing")], 10_000.0)
    road, _, _ = cost_flows(params, 1.0, "road", "crossing")
    np.testing.assert_allclose(pkg.costs, f.costs + road)
    np.testing.assert_allclose(pkg.benefits, f.benefits)


@pytest.mark.parametrize("override, field", [
    ({"appraisal__discount_rate": 1.5}, "discount_rate"),
    ({"appraisal__discount_rate": -1.0}, "discount_rate"),
    ({"appraisal__demand_growth": 2.0}, "demand_growth"),
    ({"appraisal__operating_years": 0}, "operating_years"),
    ({"appraisal__optimism_bias_rail": -0.2}, "optimism_bias_rail"),
    ({"appraisal__opening_year": 2020}, "opening_year"),
    ({"appraisal__construction_years_road": 1.5}, "construction_years_road"),
])
def test_bad_appraisal_parameters_are_refused(override, field):
    with pytest.raises(InputError, match=field):
        appraisal_parameters(load_config(**override), mode_shares=SHARES)


def test_value_of_a_generalized_hour_by_hand():
    values = {"business": {"rail": 100.0, "car": 80.0, "coach": 50.0},
              "commuting": {"rail": 30.0, "car": 30.0, "coach": 30.0},
              "other": {"rail": 20.0, "car": 20.0, "coach": 20.0}}
    purposes = {"rail": {"business": 0.5, "commuting": 0.2, "other": 0.3},
                "car": {"business": 0.25, "commuting": 0.25, "other": 0.5},
                "coach": {"business": 0.1, "commuting": 0.2, "other": 0.7}}
    config = load_config(appraisal__value_of_time=values, appraisal__purpose_shares=purposes)
    # rail 0.5 x 100 + 0.2 x 30 + 0.3 x 20 = 62; car 20 + 7.5 + 10 = 37.5; coach 5 + 6 + 14 = 25
    tables = value_of_time_tables(config)
    assert tables.by_mode() == pytest.approx({"rail": 62.0, "car": 37.5, "coach": 25.0})
    # weighted 0.5 / 0.4 / 0.1: 31 + 15 + 2.5 = 48.5 CNY per generalized hour
    params = appraisal_parameters(config, mode_shares=SHARES)
    assert params.value_of_time_cny_per_h == pytest.approx(48.5)
    assert benefit_factor(params) == pytest.approx(
        benefit_factor(params.with_(value_of_time_cny_per_h=60.0)) * 48.5 / 60.0)


@pytest.mark.parametrize("change, field", [
    ({"value_of_time": {"business": {"coach": -5.0}}}, "value_of_time.business.coach"),
    ({"value_of_time": {"other": {"car": float("nan")}}}, "value_of_time.other.car"),
    ({"purpose_shares": {"rail": {"business": 0.9}}}, "purpose_shares.rail"),
    ({"purpose_shares": {"car": {"other": 1.5}}}, "purpose_shares.car.other"),
    ({"value_of_time": {"low_factor": 1.2}}, "low_factor"),
])
def test_bad_values_of_time_are_refused(change, field):
    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        appraisal_parameters(load_config(**{f"appraisal__{k}": v for k, v in change.items()}), mode_shares=SHARES)


def test_value_of_time_missing_for_a_mode_in_use_is_named():
    config = load_config()
    del config["appraisal"]["value_of_time"]["commuting"]["coach"]
    with pytest.raises(InputError, match=r"value_of_time\.commuting\.coach: missing"):
        appraisal_parameters(config, mode_shares=SHARES)
    with pytest.raises(InputError, match="mode shares"):
        appraisal_parameters(load_config(), mode_shares={"rail": 0.5, "car": 0.4})
    with pytest.raises(InputError, match="unknown mode"):
        appraisal_parameters(load_config(), mode_shares={"rail": 0.5, "car": 0.4, "ferry": 0.1})


def test_bad_value_of_time_in_a_config_file_stops_the_cli(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[appraisal.value_of_time.business]\ncoach = -1.0\n")
    out = tmp_path / "run"
    assert main(["optimize", "--budget", "40", "--config", str(cfg), "--out", str(out)]) == 2
    assert not out.exists()


def test_negative_costs_are_refused():
    params = appraisal_parameters(load_config(), mode_shares=SHARES)
    with pytest.raises(InputError, match="capital cost"):
        cost_flows(params, -1.0, "rail")
    with pytest.raises(InputError, match="mode"):
        cost_flows(params, 1.0, "ferry")


@pytest.fixture(scope="module")
def model():
    return build_model(load_config())


def _slice(model):
    """Eight projects of the catalogue, closed under their dependencies and exclusions."""
    ids = {"yongzhou_rail", "huzhouyong_rail", "hutong_phase2", "huyong_rail", "shanghai_hangzhou_hsr",
           "tongsujiayong", "hzbay_road_2", "huzhou_road"}
    subset = [c for c in model.candidates if c.id in ids]
    layers = [Layer(layer.name, layer.base, {k: v for k, v in layer.arcs.items() if k in ids})
              for layer in model.selection_layers]
    return ids, subset, layers


def test_npv_objective_equals_brute_force_on_a_small_catalogue(model):
    ids, subset, layers = _slice(model)
    # a generous appraisal (no discounting, strong growth, 60 years) so that some projects pay
    params = appraisal_parameters(load_config(appraisal__discount_rate=0.0, appraisal__operating_years=60,
                                              appraisal__demand_growth=0.1, appraisal__growth_end_year=2045),
                                  mode_shares=base_mode_shares(model))
    terms = {k: v for k, v in project_cost_terms(model, params).items() if k in ids}
    chosen = set()
    for budget in (60.0, 200.0):
        exact = solve_market_selection(layers, subset, model.markets, budget=budget, project_costs=terms)
        brute = brute_force_market_selection(layers, subset, model.markets, budget=budget, project_costs=terms)
        assert exact.status == "OPTIMAL"
        assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
        assert exact.selected == brute.selected
        chosen.add(exact.selected)
        minutes = solve_market_selection(layers, subset, model.markets, budget=budget)
        # the NPV optimum spends no more than the time-saving optimum and leaves out projects
        # whose costs outweigh their benefits
        assert exact.cost <= minutes.cost + 1e-9
    assert any(chosen) and chosen != {()}


def test_optimize_npv_writes_the_appraisal(tmp_path):
    out = tmp_path / "run"
    assert main(["optimize", "--budget", "40", "--ladder-steps", "2", "--objective", "npv", "--out", str(out),
                 "--monte-carlo", "3", "--workers", "2", "--seed", "5"]) == 0
    text = (out / "report.md").read_text()
    assert "net present value" in text and "## Appraisal" in text and "## Uncertainty: Monte Carlo" in text
    import pandas as pd

    draws = pd.read_csv(out / "montecarlo_draws.csv", keep_default_na=False)
    assert len(draws) == 3 and (draws["status"] == "OPTIMAL").all() and (draws["cost_bn_cny"] <= 40 + 1e-9).all()
    probs = pd.read_csv(out / "montecarlo_projects.csv")
    assert probs["probability"].between(0, 1).all()
    # each project's probability is the share of draws whose package contains it
    for row in probs.itertuples():
        assert row.probability == pytest.approx(sum(row.project in s.split() for s in draws["selected"]) / 3)
    for bad in (["--monte-carlo", "-1"], ["--workers", "0"], ["--seed", "-3"]):
        assert main(["optimize", "--budget", "40", "--out", str(tmp_path / "bad"), *bad]) == 2
        assert not (tmp_path / "bad").exists()

    table = pd.read_csv(out / "appraisal.csv")
    assert {"alone_npv_bn_cny", "alone_bcr", "alone_irr", "package_npv_bn_cny"} <= set(table.columns)
    # every candidate's discounted costs exceed the undiscounted capital only through the uplift and O&M
    assert (table["pv_costs_bn_cny"] > 0).all()
    with pytest.raises(SystemExit):
        main(["optimize", "--budget", "40", "--objective", "profit", "--out", str(tmp_path / "x")])


def test_tornado_swings_around_the_package_npv(model):
    from transit.appraisal.tables import appraisal_table, package_appraisal, tornado_table
    from transit.optimize import run_optimization

    run = run_optimization(model.config, budget=60.0, ladder_steps=1, model=model)
    assert run.selected
    pkg = package_appraisal(run)
    table = tornado_table(run).set_index("input")
    assert np.allclose(table["npv_central_bn_cny"], pkg["npv_bn_cny"])
    # cheaper projects, a dearer hour and stronger growth all raise the NPV; more optimism bias lowers it
    assert table.loc["capital costs (catalogue range)", "npv_low_bn_cny"] >= pkg["npv_bn_cny"]
    assert table.loc["value_of_time_cny_per_h", "npv_high_bn_cny"] > table.loc["value_of_time_cny_per_h", "npv_low_bn_cny"]
    assert table.loc["demand_growth", "npv_high_bn_cny"] > table.loc["demand_growth", "npv_low_bn_cny"]
    assert table.loc["optimism bias", "npv_high_bn_cny"] < table.loc["optimism bias", "npv_low_bn_cny"]
    assert (table["swing_bn_cny"].diff().dropna() <= 1e-9).all()  # sorted by swing
    # the split of the saving by mode adds up to the package's saving (the logsum change)
    by_mode = saving_by_mode(model, run.skim_base, run.skim_opt)
    assert sum(by_mode.values()) == pytest.approx(pkg["saving_min_per_day"], rel=1e-6)
    assert by_mode == pkg["saving_by_mode_min_per_day"] and by_mode["rail"] > 0
    # the in-package measures of every chosen project are reported
    appraisal = appraisal_table(run).set_index("project").loc[list(run.selected)]
    assert appraisal[["package_npv_bn_cny", "package_bcr", "package_first_year_return"]].notna().all().all()


def test_monte_carlo_is_reproducible_and_exact_per_draw(model):
    from transit.appraisal.uncertainty import OB_RANGES, monte_carlo, vot_range

    ids, subset, layers = _slice(model)
    params = appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    # a budget that the drawn costs bind: the package changes between draws, re-solved exactly
    kw = dict(budget=150.0, draws=4, seed=7, layers=layers, candidates=subset)
    one = monte_carlo(model, params, workers=1, **kw)
    two = monte_carlo(model, params, workers=2, **kw)
    pd_testing = __import__("pandas").testing
    pd_testing.assert_frame_equal(one.draws, two.draws)
    assert (one.draws["status"] == "OPTIMAL").all() and (one.draws["cost_bn_cny"] <= 150.0 + 1e-9).all()
    assert one.probabilities["probability"].between(0, 1).all()
    # each draw's package is the exact optimum for its drawn costs (brute force on two draws)
    for k in range(2):
        row = one.draws.iloc[k]
        costs = {c.id: c for c in subset}
        from solvers.selection import Project

        rng = np.random.default_rng([7, k])
        drawn = {}
        for c in subset:
            p = model.project(c.id)
            lo, hi = p.cost_low_bn_cny, p.cost_high_bn_cny
            drawn[c.id] = float(rng.triangular(lo, p.cost_bn_cny, hi)) if hi > lo else p.cost_bn_cny
        redrawn = [Project(id=c.id, cost=drawn[c.id], arcs=(), member=c.member, requires=c.requires,
                           excludes=c.excludes) for c in costs.values()]
        brute = brute_force_market_selection(layers, redrawn, model.markets, budget=150.0)
        assert row["selected"] == " ".join(brute.selected)


@pytest.mark.slow
def test_monte_carlo_mean_converges_on_the_closed_form(model):
    """60 draws (slow: run with the evidence tests, ``python -m benchmarks.run evidence``)."""
    from transit.appraisal.uncertainty import OB_RANGES, monte_carlo, vot_range

    ids, subset, layers = _slice(model)
    params = appraisal_parameters(model.config, mode_shares=base_mode_shares(model))
    # the mean converges on the closed form when the package is fixed (a budget above every
    # cost) and growth is not drawn: NPV is linear in each independent input, so its mean is the
    # NPV at the inputs' means (triangular: (a + b + c) / 3; uniform: the midpoint)
    runs = monte_carlo(model, params, budget=1e6, draws=60, seed=3, vary_growth=False, layers=layers,
                       candidates=subset)
    assert runs.draws["selected"].nunique() == 1
    chosen = runs.draws["selected"].iloc[0].split()
    mean_params = params.with_(optimism_bias={c: sum(r) / 2 for c, r in OB_RANGES.items()},
                               value_of_time_cny_per_h=sum(vot_range(params)) / 3)
    items = []
    for pid in chosen:
        p = model.project(pid)
        lo, hi = p.cost_low_bn_cny, p.cost_high_bn_cny
        items.append(((lo + p.cost_bn_cny + hi) / 3, p.mode, p.kind))
    expected = package_flows(mean_params, items, float(runs.draws["saving_min_per_day"].iloc[0])).npv / 1e9
    summary = runs.summary()
    assert abs(summary["npv_mean_bn_cny"] - expected) < 4 * summary["npv_std_error_bn_cny"]
    with pytest.raises(InputError, match="draws"):
        monte_carlo(model, params, budget=10.0, draws=0)
