"""The travel model: county zones, stations, demand files, mode choice, exact selection on the logsum."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from networks.errors import CatalogueError, InputError
from networks.multimodal import zone_node
from solvers.choice import NestedLogit, pivot_constants, rule_of_half
from solvers.selection import Project
from solvers.selection.markets import (
    Layer,
    Markets,
    brute_force_market_selection,
    evaluate_market_design,
    market_budget_ladder,
    solve_market_selection,
)
from transit.cli import main
from transit.config import DATA_DIR, load_config
from transit.model import build_model
from transit.model.demand import gravity_demand, read_od, write_od_csv, write_od_omx
from transit.model.zones import load_census_totals, load_zones


@pytest.fixture(scope="module")
def model():
    return build_model(load_config())


# --------------------------------------------------------------------------------------------
# Zones and stations
# --------------------------------------------------------------------------------------------


def test_county_zones_sum_to_the_census():
    zones = load_zones()
    assert len(zones) >= 120
    totals = load_census_totals()
    province = totals[totals["level"] == "province"].set_index("name")["population_2020"]
    for name in ("Shanghai", "Zhejiang"):  # the whole province is in the model
        got = zones.loc[zones["province"] == name, "population"].sum()
        assert abs(got / province[name] - 1) <= 0.01, name
    assert province["Shanghai"] == 24_870_895 and province["Zhejiang"] == 64_567_588
    city = totals[totals["level"] == "city"].set_index("name")["population_2020"]
    for name, got in zones.groupby("city")["population"].sum().items():  # Jiangsu and Anhui cities too
        assert abs(got / city[name] - 1) <= 0.01, name
    assert zones["zone"].is_unique and zones["adcode"].is_unique
    assert set(zones["city"]) == set(city.index)
    assert (zones.groupby("city").size() >= 4).all(), "every city is split into its counties"


def test_every_zone_reaches_a_station_and_a_road_node(model):
    G = model.network.graph
    for zone in model.zones:
        modes = {d["mode"] for _, _, d in G.out_edges(zone_node(zone, "o"), data=True)}
        assert {"access", "connector"} <= modes, zone
        modes = {d["mode"] for _, _, d in G.in_edges(zone_node(zone, "d"), data=True)}
        assert {"access", "connector"} <= modes, zone
    skim = model.base_skim()
    # reachable, not only near: every zone pair has a rail, a car and a coach trip
    assert np.isfinite(skim.gc).all()
    assert np.allclose(skim.shares.sum(axis=1), 1.0)


def test_the_network_has_the_new_links(model):
    road = model.network.road
    names = {d.get("name") for _, d in road.nodes(data=True)}
    for waypoint in ("Daishan Shuanghe (landing)", "Sutong Bridge north", "Kuocang hub (S28 Taizhou-Jinhua expwy)"):
        assert waypoint in names, waypoint
    report = model.network.road_report
    assert {"Zhoudai", "G9221-HS", "G9221-NB1", "G9221-NB2"} <= set(report["line"])


def test_fastest_rail_is_station_to_station_and_named(model):
    fastest = model.fastest_rail(()).set_index(["origin_city", "destination_city"])
    row = fastest.loc[("Shanghai", "Nanjing")]
    assert row["from_station"] and row["to_station"]
    # no faster than the published fastest non-stop Shanghai-Nanjing train (73 min) by more than 20 %
    assert 0.8 * 73 <= row["rail_fastest_min"] <= 1.2 * 73
    assert np.isnan(fastest.loc[("Zhoushan", "Shanghai"), "rail_fastest_min"])  # no railway on Zhoushan yet
    built = model.fastest_rail(("yongzhou_rail",)).set_index(["origin_city", "destination_city"])
    assert np.isfinite(built.loc[("Zhoushan", "Shanghai"), "rail_fastest_min"])


def test_station_with_no_line_is_an_error():
    import networkx as nx

    from transit.network import check_stations_on_lines

    rail = nx.MultiDiGraph()
    rail.add_node(1, station=True, name="Nowhere East", x=120.0, y=30.0)
    rail.add_node(2, station=True, name="Linked", x=120.1, y=30.0)
    rail.add_node(3, x=120.2, y=30.0)
    rail.add_edge(2, 3, mode="rail", length=1000.0, travel_time=30.0)
    with pytest.raises(CatalogueError, match="station 'Nowhere East' has no line"):
        check_stations_on_lines(rail)


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.loc.__setitem__((0, "population_2020"), 0), "population_2020 0"),
    (lambda f: f.loc.__setitem__((3, "population_2020"), np.nan), "missing or not a number"),
    (lambda f: f.loc.__setitem__((1, "zone_id"), f.loc[0, "zone_id"]), "duplicate zone_id"),
    (lambda f: f.loc.__setitem__((2, "city"), "Atlantis"), "city 'Atlantis'"),
    (lambda f: f.loc.__setitem__((2, "lat"), 95.0), "lat 95.0"),
])
def test_bad_zone_tables_are_refused(tmp_path, edit, message):
    frame = pd.read_csv(DATA_DIR / "zones.csv")
    edit(frame)
    path = tmp_path / "zones.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(CatalogueError, match=message) as info:
        load_zones(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# Demand files
# --------------------------------------------------------------------------------------------


def _small_demand(model) -> pd.DataFrame:
    demand = model.demand.copy()
    demand["demand"] = np.round(demand["demand"].to_numpy(), 3)
    return demand


def test_od_csv_and_omx_read_back_equal(model, tmp_path):
    demand = _small_demand(model)
    zones = model.network.zones
    shares = demand[["origin", "destination"]].assign(rail=0.5, car=0.3, coach=0.2)
    write_od_csv(demand, tmp_path / "od.csv")
    write_od_omx(demand, zones, tmp_path / "od.omx")
    write_od_csv(demand, tmp_path / "bymode.csv", shares=shares)
    write_od_omx(demand, zones, tmp_path / "bymode.omx", shares=shares)
    for name in ("od.csv", "od.omx", "bymode.csv", "bymode.omx"):
        got, got_shares = read_od(tmp_path / name, zones, model.config)
        assert list(got["origin"]) == list(demand["origin"]) and list(got["destination"]) == list(demand["destination"])
        assert np.allclose(got["demand"], demand["demand"], rtol=1e-12), name
        if name.startswith("bymode"):
            assert np.allclose(got_shares[["rail", "car", "coach"]].to_numpy(), [0.5, 0.3, 0.2])
        else:
            assert got_shares is None


def test_city_level_od_is_spread_over_the_zones(model, tmp_path):
    path = tmp_path / "cities.csv"
    pd.DataFrame({"origin": ["Shanghai", "Hangzhou", "Hangzhou"], "destination": ["Hangzhou", "Shanghai", "Hangzhou"],
                  "trips": [1000.0, 800.0, 50.0]}).to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        demand, _ = read_od(path, model.network.zones, model.config)
    assert any("within a city" in str(w.message) for w in caught)
    by_city = demand.groupby(["origin_city", "destination_city"])["demand"].sum()
    assert by_city[("Shanghai", "Hangzhou")] == pytest.approx(1000.0)
    assert by_city[("Hangzhou", "Shanghai")] == pytest.approx(800.0)
    assert demand["demand"].sum() == pytest.approx(1800.0)
    # spread in proportion to the gravity weights: a bigger district gets more
    sh = demand[(demand["origin_city"] == "Shanghai") & (demand["destination"] == demand["destination"].iloc[0])]
    assert sh["demand"].nunique() > 1


@pytest.mark.parametrize("rows, message", [
    ("origin,destination,trips\nsh_pudong,hz_nowhere,10\n", "line 2: destination 'hz_nowhere'"),
    ("origin,destination,trips\nsh_pudong,hz_xihu,-3\n", "line 2: trips '-3'"),
    ("origin,destination,trips\nsh_pudong,hz_xihu,10\nsh_pudong,hz_shangcheng,nan\n", "line 3: trips"),
    ("origin,destination,trips,mode\nsh_pudong,hz_xihu,10,ferry\n", "mode 'ferry'"),
    ("origin,destination,trips\nsh_pudong,hz_xihu,10\nsh_pudong,hz_xihu,3\n", "duplicate row"),
    ("origin,destination\nsh_pudong,hz_xihu\n", "missing column"),
    ("", "empty OD file"),
])
def test_bad_od_csv_is_refused(model, tmp_path, rows, message):
    path = tmp_path / "od.csv"
    path.write_text(rows)
    with pytest.raises(InputError, match=message) as info:
        read_od(path, model.network.zones, model.config)
    assert str(path) in str(info.value)


def test_bad_od_omx_is_refused(model, tmp_path):
    import openmatrix as omx

    path = tmp_path / "bad.omx"
    with omx.open_file(str(path), "w") as handle:
        handle["total"] = np.ones((3, 4))
    with pytest.raises(InputError, match="shape \\(3, 4\\); expected a square matrix"):
        read_od(path, model.network.zones, model.config)
    with omx.open_file(str(path), "w") as handle:
        handle["total"] = np.full((2, 2), np.nan)
        handle.create_mapping("zones", [310115, 330106])
    with pytest.raises(InputError, match="row 0 column 0"):
        read_od(path, model.network.zones, model.config)
    with omx.open_file(str(path), "w") as handle:
        handle["total"] = np.ones((2, 2))
        handle.create_mapping("zones", [310115, 999999])
    with pytest.raises(InputError, match="zone 999999"):
        read_od(path, model.network.zones, model.config)
    (tmp_path / "junk.omx").write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match="not a readable OMX file"):
        read_od(tmp_path / "junk.omx", model.network.zones, model.config)


def test_bad_od_at_the_cli_writes_nothing(tmp_path, capsys):
    path = tmp_path / "od.csv"
    path.write_text("origin,destination,trips\nsh_pudong,hz_nowhere,10\n")
    out = tmp_path / "out"
    code = main(["optimize", "--budget", "50", "--out", str(out), "--od", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "hz_nowhere" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_gravity_model_follows_its_formula(model):
    config = load_config()
    zones = model.network.zones
    demand = gravity_demand(zones, config)
    assert not (demand["origin_city"] == demand["destination_city"]).any(), "intercity trips only"
    pop = dict(zip(zones["zone"], zones["population"]))
    p = config["demand"]
    row = demand.iloc[123]
    expected = p["scale"] * (pop[row.origin] / 1e6) * (pop[row.destination] / 1e6) / (
        max(row.distance_km, p["min_distance_km"]) / 100) ** p["gamma"]
    assert row.demand == pytest.approx(expected)
    grown = gravity_demand(zones, load_config(demand__growth=1.5))
    assert grown["demand"].sum() == pytest.approx(1.5 * demand["demand"].sum())
    # of the right order for the region: millions of intercity trips a day, not a round number
    assert 1e6 < demand["demand"].sum() < 2e7


# --------------------------------------------------------------------------------------------
# Mode choice
# --------------------------------------------------------------------------------------------


def test_logit_shares_match_a_hand_calculation():
    # three zones, one market each way: rail 60 min, car 50, coach 90; theta 0.05, car -0.5, coach -1
    logit = NestedLogit(0.05, [0.0, -0.5, -1.0])
    costs = np.array([[60.0, 50.0, 90.0], [120.0, np.inf, 100.0]])
    u = np.array([-3.0, -3.0, -5.5])
    hand = np.exp(u) / np.exp(u).sum()
    p = logit.probabilities(costs)
    assert np.allclose(p[0], hand)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert p[1, 1] == 0.0  # no car: the other two share the trips
    u2 = np.array([-6.0, -6.0])
    assert np.allclose(p[1, [0, 2]], np.exp(u2) / np.exp(u2).sum())
    assert logit.logsum(costs)[0] == pytest.approx(np.log(np.exp(u).sum()))
    assert logit.composite_cost(costs)[0] == pytest.approx(-np.log(np.exp(u).sum()) / 0.05)
    # nested: car and coach share a nest of scale 0.5
    nested = NestedLogit(0.05, [0.0, -0.5, -1.0], nests=[[0], [1, 2]], mu=[1.0, 0.5])
    inc = 0.5 * np.log(np.exp(-3.0 / 0.5) + np.exp(-5.5 / 0.5))
    p_rail = np.exp(-3.0) / (np.exp(-3.0) + np.exp(inc))
    assert nested.probabilities(costs)[0, 0] == pytest.approx(p_rail)
    assert np.allclose(nested.probabilities(costs).sum(axis=1), 1.0)


def test_rule_of_half_equals_the_logsum_where_it_must():
    logit = NestedLogit(0.04, [0.0, 0.2, -1.0])
    before = np.array([[80.0, 70.0, 110.0]])
    after = before - 12.0  # every mode 12 min cheaper: the shares do not move
    trips = 1000.0
    t0 = trips * logit.probabilities(before)
    t1 = trips * logit.probabilities(after)
    logsum = trips * (logit.logsum(after) - logit.logsum(before)) / logit.theta
    assert rule_of_half(before, after, t0, t1)[0] == pytest.approx(logsum[0]) == pytest.approx(12.0 * trips)
    # a single alternative: both are the cost change times the trips
    single = NestedLogit(0.04, [0.0])
    b, a = np.array([[90.0]]), np.array([[75.0]])
    assert rule_of_half(b, a, [[trips]], [[trips]])[0] == pytest.approx(
        trips * (single.logsum(a) - single.logsum(b))[0] / single.theta)
    # a small change to one mode: the two agree to second order
    small = before.copy()
    small[0, 0] -= 1.0
    t_small = trips * logit.probabilities(small)
    ls = trips * (logit.logsum(small) - logit.logsum(before))[0] / logit.theta
    assert rule_of_half(before, small, t0, t_small)[0] == pytest.approx(ls, rel=1e-3)


def test_pivot_constants_reproduce_observed_shares():
    logit = NestedLogit(0.03, [0.0, 0.0, 0.0])
    costs = np.array([[60.0, 80.0, 100.0], [200.0, 150.0, np.inf]])
    shares = np.array([[0.5, 0.4, 0.1], [0.3, 0.7, 0.0]])
    constants = pivot_constants(logit, costs, shares)
    assert np.allclose(logit.probabilities(costs, constants), shares)
    with pytest.raises(InputError, match="unavailable"):
        pivot_constants(logit, costs, np.array([[0.5, 0.4, 0.1], [0.3, 0.3, 0.4]]))


# --------------------------------------------------------------------------------------------
# Exact selection under the logsum objective
# --------------------------------------------------------------------------------------------


def test_market_selection_equals_brute_force_on_random_layers():
    rng = np.random.default_rng(7)
    n = 14

    def layer(seed):
        r = np.random.default_rng(seed)
        arcs = [(i, j, float(r.integers(5, 40))) for i in range(n) for j in range(n) if i != j and r.random() < 0.3]
        t, h, w = zip(*arcs)
        return n, np.array(t), np.array(h), np.array(w)

    projects = [Project(id=f"p{k}", cost=float(rng.integers(1, 10)), arcs=()) for k in range(9)]
    projects[3] = Project(id="p3", cost=4.0, arcs=(), requires=("p1",))
    projects[5] = Project(id="p5", cost=6.0, arcs=(), excludes=("p6",))
    projects[6] = Project(id="p6", cost=3.0, arcs=(), excludes=("p5",))

    def arcs(ids):
        out = {}
        for pid in ids:
            a, b = rng.choice(n, 2, replace=False)
            out[pid] = [(int(a), int(b), float(rng.integers(1, 8))), (int(b), int(a), float(rng.integers(1, 8)))]
        return out

    layers = [Layer("rail", layer(1), arcs(["p0", "p1", "p2", "p3", "p4"])),
              Layer("car", layer(2), arcs(["p4", "p5", "p6", "p7", "p8"])),
              Layer("coach", layer(2), {})]
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    o = np.array([[i] * 3 for i, _ in pairs])
    d = np.array([[j] * 3 for _, j in pairs])
    logit = NestedLogit(0.06, [0.0, 0.3, -1.2])

    def cost(idx, times):
        return logit.composite_cost(times)

    markets = Markets(o, d, rng.random(len(pairs)) * 100, cost)
    for budget in (5.0, 12.0, 20.0, 60.0):
        exact = solve_market_selection(layers, projects, markets, budget=budget)
        brute = brute_force_market_selection(layers, projects, markets, budget=budget)
        assert exact.status == "OPTIMAL"
        assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
        assert exact.bound <= exact.objective + 1e-6
    # a net objective: each built project adds an amount (e.g. its discounted cost in objective
    # units); amounts of the order of the savings, so some projects are not worth building
    saving = brute_force_market_selection(layers, projects, markets, budget=60.0)
    scale = (saving.base_objective - saving.objective) / 4
    amounts = {p.id: float(rng.random() * scale) for p in projects}
    for budget in (5.0, 12.0, 60.0):
        exact = solve_market_selection(layers, projects, markets, budget=budget, project_costs=amounts)
        brute = brute_force_market_selection(layers, projects, markets, budget=budget, project_costs=amounts)
        assert exact.status == "OPTIMAL"
        assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
        assert exact.bound <= exact.objective + 1e-6
        net = evaluate_market_design(layers, projects, markets, exact.selected).objective
        assert exact.objective == pytest.approx(net + sum(amounts[p] for p in exact.selected), rel=1e-9)
    assert brute.selected != saving.selected  # the amounts change the optimum at the large budget
    ladder = market_budget_ladder(layers, projects, markets, [5.0, 12.0, 60.0], project_costs=amounts)
    for result in ladder.results:
        ref = brute_force_market_selection(layers, projects, markets, budget=result.budget, project_costs=amounts)
        assert result.objective == pytest.approx(ref.objective, rel=1e-9)
    with pytest.raises(InputError, match="project_costs"):
        solve_market_selection(layers, projects, markets, budget=5.0, project_costs={"nope": 1.0})
    with pytest.raises(InputError, match="project_costs"):
        solve_market_selection(layers, projects, markets, budget=5.0, project_costs={"p0": -1.0})


def test_market_selection_equals_brute_force_on_the_real_catalogue(model):
    ids = {"yongzhou_rail", "huzhouyong_rail", "hutong_phase2", "huyong_rail", "shanghai_hangzhou_hsr",
           "tongsujiayong", "hzbay_road_2", "huzhou_road"}
    subset = [c for c in model.candidates if c.id in ids]
    assert len(subset) == 8 and any(c.requires for c in subset) and any(c.excludes for c in subset)
    layers = [Layer(layer.name, layer.base, {k: v for k, v in layer.arcs.items() if k in ids})
              for layer in model.selection_layers]
    ladder = market_budget_ladder(layers, subset, model.markets, [60.0, 150.0])
    for result in ladder.results:
        brute = brute_force_market_selection(layers, subset, model.markets, budget=result.budget)
        assert result.status == "OPTIMAL"
        assert result.objective == pytest.approx(brute.objective, rel=1e-9)
        assert result.cost <= result.budget


def test_projects_shift_the_mode_shares(model):
    base = model.base_skim()
    after = model.skim(("shanghai_hangzhou_hsr", "hutong_phase2"))
    rows = model.market_rows
    w = model.demand["demand"].to_numpy()[rows]
    assert np.dot(after.shares[rows, 0], w) > np.dot(base.shares[rows, 0], w)  # rail gains
    assert np.all(after.composite[rows] <= base.composite[rows] + 1e-9)  # nobody loses


def test_project_ends_are_reachable(model):
    """Every project's ends join the network of its mode: reachable both ways, not only near."""
    from scipy.sparse.csgraph import dijkstra

    from networks.paths import min_csr

    n = len(model.nodes)
    zone = model.index[zone_node("sh_huangpu", "o")], model.index[zone_node("sh_huangpu", "d")]
    for mode, layer in model.layers.items():
        parts = [(layer.tails, layer.heads, layer.gc)] + [a[:3] for a in layer.projects.values()]
        tails, heads, cost = (np.concatenate(x) for x in zip(*parts))
        matrix = min_csr(n, tails, heads, cost)
        reach = dijkstra(matrix, indices=zone[0])
        back = dijkstra(matrix.T.tocsr(), indices=zone[1])
        for item in model.mapped:
            if (item.project.mode == "rail") != (mode == "rail") or item.project.id in model.congestion_only:
                continue
            for point in (item.points[0], item.points[-1]):
                k = model.index[point["node"]]
                assert np.isfinite(reach[k]) and np.isfinite(back[k]), (mode, item.project.id, point["name"])
