"""Shapley values, design savings from records, cost sharing and the alliance's tables."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from networks.errors import CatalogueError, InputError
from solvers.selection.design_savings import DesignSavings
from solvers.selection.markets import evaluate_market_design
from solvers.shapley import shapley_values
from tests.test_programme import _instance

# ---------------------------------------------------------------------------------------------
# Shapley values against hand calculations
# ---------------------------------------------------------------------------------------------


def test_glove_game_by_hand():
    # one left glove (L), two right gloves (R1, R2); a pair is worth 1.  Orders in which L
    # completes a pair: L not first (4 of 6) -> phi_L = 2/3; each R: 1/6.
    left, right = {"L"}, {"R1", "R2"}
    res = shapley_values(["L", "R1", "R2"], lambda s: float(min(len(s & left), len(s & right))))
    assert res.method == "exact"
    assert res.values["L"] == pytest.approx(2 / 3)
    assert res.values["R1"] == pytest.approx(1 / 6) and res.values["R2"] == pytest.approx(1 / 6)  # symmetry
    assert res.efficiency_gap() == pytest.approx(0.0, abs=1e-12)
    assert res.evaluations == 8


def _airport(costs):
    """The airport game (a runway long enough for the most demanding member of the coalition)
    and its closed-form Shapley value: each cost increment split among those who need it."""
    order = sorted(range(len(costs)), key=lambda k: costs[k])
    c = [0.0] + [costs[k] for k in order]
    n = len(costs)
    phi = {}
    running = 0.0
    for rank, k in enumerate(order, start=1):
        running += (c[rank] - c[rank - 1]) / (n - rank + 1)
        phi[f"p{k}"] = running
    return (lambda s: max((costs[int(p[1:])] for p in s), default=0.0)), phi


def test_airport_game_exact_and_sampled():
    value, phi = _airport([3.0, 5.0, 5.0, 11.0, 2.0])
    res = shapley_values(list(phi), value)
    for p in phi:
        assert res.values[p] == pytest.approx(phi[p])
    assert res.values["p1"] == pytest.approx(res.values["p2"])  # symmetric players
    # 14 players: sampled; efficient exactly, each value within 4 standard errors of the closed form
    rng = np.random.default_rng(3)
    value, phi = _airport(list(rng.integers(1, 50, 14).astype(float)))
    res = shapley_values(list(phi), value, exact_limit=12, samples=3000, seed=1)
    assert res.method == "sampled" and res.samples == 3000
    assert res.efficiency_gap() == pytest.approx(0.0, abs=1e-9)
    for p in phi:
        assert abs(res.values[p] - phi[p]) <= 4 * res.std_errors[p] + 1e-9, p
    assert shapley_values(list(phi), value, samples=3000, seed=1).values == res.values  # seeded


def test_shapley_bad_input():
    with pytest.raises(InputError, match="distinct"):
        shapley_values(["a", "a"], lambda s: 0.0)
    with pytest.raises(InputError, match="finite"):
        shapley_values(["a"], lambda s: math.nan)
    with pytest.raises(InputError, match="samples"):
        shapley_values(["a"], lambda s: 0.0, samples=1)


# ---------------------------------------------------------------------------------------------
# Design savings from records = shortest paths in every layer
# ---------------------------------------------------------------------------------------------


def test_design_savings_equal_shortest_paths_for_every_design():
    layers, projects, markets = _instance(5)
    savings = DesignSavings(layers, projects, markets)
    base = evaluate_market_design(layers, projects, markets, ())
    ids = [p.id for p in projects]
    checked = 0
    for k in range(len(ids) + 1):
        for design in itertools.combinations(ids, k):
            if ("b" in design and "a" not in design) or {"c", "d"} <= set(design):
                with pytest.raises(InputError, match="required project or holds two"):
                    savings.saving(design)
                continue
            checked += 1
            value = evaluate_market_design(layers, projects, markets, design)
            assert savings.saving(design) == pytest.approx(base.objective - value.objective, rel=1e-9, abs=1e-9)
            per_market = savings.market_savings(design)
            demand = markets.demand
            assert per_market == pytest.approx(demand * (base.od_times - value.od_times), rel=1e-9, abs=1e-9)
    assert checked == 18  # of the 32 designs: 3 (a, b) x 3 (c, d) x 2 (e)
    with pytest.raises(InputError, match="unknown project"):
        savings.saving(["zz"])


# ---------------------------------------------------------------------------------------------
# Cost sharing and the alliance tables on the YRD model
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yrd():
    from transit.config import load_config
    from transit.model import build_model

    return build_model(load_config())


def test_cost_shares_by_rule(yrd, tmp_path):
    from transit.alliance import cost_shares, province_lengths, read_cost_shares

    lead = cost_shares(yrd, "lead")
    length = cost_shares(yrd, "length")
    for pid in lead:
        assert lead[pid] == {yrd.project(pid).lead_member: 1.0}
        assert sum(length[pid].values()) == pytest.approx(1.0)
    # the Nantong-Suzhou-Jiaxing-Ningbo railway runs through Jiangsu and Zhejiang: each
    # province's railway investor pays its length share
    km = province_lengths(yrd, yrd.project("tongsujiayong"))
    assert set(km) == {"Jiangsu", "Zhejiang"}
    assert sum(km.values()) == pytest.approx(yrd.project("tongsujiayong").length_km, rel=0.15)
    assert length["tongsujiayong"]["js_rail"] == pytest.approx(km["Jiangsu"] / sum(km.values()))
    assert length["tongsujiayong"]["zjci"] == pytest.approx(km["Zhejiang"] / sum(km.values()))
    # negotiated shares: read, validated, and the rest falls back to the lead member
    good = tmp_path / "shares.csv"
    good.write_text("project,member,share\ntongsujiayong,cr,0.5\ntongsujiayong,js_rail,0.2\n"
                    "tongsujiayong,zjci,0.3\n")
    shares = read_cost_shares(good, members=yrd.members, projects=yrd.projects)
    mixed = cost_shares(yrd, "negotiated", negotiated=shares)
    assert mixed["tongsujiayong"] == {"cr": 0.5, "js_rail": 0.2, "zjci": 0.3}
    assert mixed["hangli"] == lead["hangli"]
    for text, match in (("tongsujiayong,cr,0.5\ntongsujiayong,zjci,0.4\n", "sum to 0.9"),
                        ("tongsujiayong,nobody,1\n", r"row 2: unknown member 'nobody'"),
                        ("nowhere,cr,1\n", "row 2: unknown project 'nowhere'"),
                        ("tongsujiayong,cr,half\n", "row 2: share 'half' is not a number"),
                        ("tongsujiayong,cr,-0.5\ntongsujiayong,zjci,1.5\n", r"row 2: share '-0.5'")):
        bad = tmp_path / "bad.csv"
        bad.write_text("project,member,share\n" + text)
        with pytest.raises(InputError, match=match):
            read_cost_shares(bad, members=yrd.members, projects=yrd.projects)
    with pytest.raises(InputError, match="rule"):
        cost_shares(yrd, "by_population")


def test_catalogue_members_are_validated(tmp_path):
    import json

    from transit.catalogue import DATA_DIR, load_projects

    data = json.loads((DATA_DIR / "projects.json").read_text(encoding="utf-8"))
    data["members"][0]["provence"] = "Zhejiang"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"members\[0\] \(cr\): unknown key\(s\) \['provence'\]"):
        load_projects(path)
    del data["members"][0]["provence"]
    data["members"][1]["id"] = "cr"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CatalogueError, match="duplicate member id"):
        load_projects(path)


def test_alliance_tables_add_up_to_the_programme(yrd):
    from transit.alliance import alliance_tables
    from transit.programme import run_programme

    run = run_programme(yrd.config, horizon=(2026, 2029), yearly_budget=30.0, objective="benefit", model=yrd,
                        frontier_steps=0)
    assert run.result.status == "OPTIMAL" and run.result.starts
    assert run.alliance is not None and run.frontier is None
    benefit = run.result.objective  # the benefit objective: the programme's PV of benefits
    for tables in (run.alliance, alliance_tables(run, rule="length")):
        # efficiency: the members' and the projects' Shapley values share out the programme's benefit
        assert sum(tables.shapley_members.values.values()) == pytest.approx(benefit, rel=1e-9)
        assert sum(tables.shapley_projects.values.values()) == pytest.approx(benefit, rel=1e-9)
        # the cities' present values add up to it too (half of every trip to each end)
        assert tables.cities["pv_benefit_bn_cny"].sum() * 1e9 == pytest.approx(benefit, rel=1e-9)
        assert tables.provinces["pv_benefit_bn_cny"].sum() == pytest.approx(tables.cities["pv_benefit_bn_cny"].sum())
        # every started project's cost is paid in full
        paid = tables.members["pays_bn_cny"].sum()
        assert paid == pytest.approx(sum(yrd.project(p).cost_bn_cny for p in run.result.starts))
