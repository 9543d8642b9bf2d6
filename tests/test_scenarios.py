"""Scenarios as files, runs as records (``transit run``, ``rerun``, ``compare``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from transit.cli import main
from networks.errors import InputError
from transit.scenarios import Scenario, ScenarioError, compare, load_run, load_scenario, rerun

REPO = Path(__file__).resolve().parents[1]


def test_example_scenarios_load_and_round_trip(tmp_path):
    for path in sorted((REPO / "scenarios").glob("*.toml")):
        scenario = load_scenario(path)
        again = tmp_path / path.name
        again.write_text(scenario.to_toml())
        assert load_scenario(again) == scenario, path.name
    bay = load_scenario(REPO / "scenarios" / "bay_no_second_road.toml")
    assert bay.year == 2035 and bay.exclude_projects == ("hzbay_road_2",) and bay.budget == 300.0


def test_scenario_maps_to_the_optimizer_arguments(tmp_path):
    catalogue = tmp_path / "p.json"
    shutil.copy(REPO / "data" / "projects.json", catalogue)
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\n[demand]\nyear = 2035\ngrowth = 1.1\nzones = "city"\n[candidates]\n'
                    'catalogue = "p.json"\ninclude = ["hangli", "jinjian"]\n[budget]\namount = 120\nladder_steps = 2\n'
                    'member_caps = { cr = 50 }\n[objective]\nkind = "npv"\nmin_improvement = { all = 1.5 }\n'
                    '[solver]\ntime_limit = 30\n')
    s = load_scenario(path)
    assert s.projects_path == str(catalogue)  # relative to the scenario file
    config = s.config()
    # demand grows at appraisal.demand_growth a year from the base year to its end year, then the multiplier
    a = config["appraisal"]
    assert config["demand"]["growth"] == pytest.approx(1.1 * (1 + a["demand_growth"]) ** (2035 - a["base_year"]))
    assert config["zones"]["level"] == "city"
    kwargs = s.optimization_arguments()
    ids = [p["id"] for p in json.loads(catalogue.read_text())["projects"]]
    assert set(kwargs["exclude_projects"]) == set(ids) - {"hangli", "jinjian"}
    assert kwargs["objective"] == "npv" and kwargs["min_improvement"] == {"all": 1.5} and kwargs["fairness"] is None
    assert kwargs["member_caps"] == {"cr": 50.0} and kwargs["time_limit"] == 30.0 and kwargs["ladder_steps"] == 2
    assert s.input_files() == {"catalogue": catalogue}


@pytest.mark.parametrize("text,message", [
    ('name = "x"\n[budget]\namount = 10\nbudjet = 5\n', "line 4: unknown key budget.'budjet'"),
    ('name = "x"\n\n[budget]\namount = "ten"\n', "line 4: budget.amount = 'ten'; expected a finite number"),
    ('name = "x"\n[demand]\nyear = 2030.5\n[budget]\namount = 1\n', "line 3: demand.year = 2030.5; expected a whole"),
    ('name = "x"\n[wishes]\nfast = true\n[budget]\namount = 1\n', "line 2: unknown key or section 'wishes'"),
    ('name = "x"\nbudget = 300\n', "line 2: 'budget' must be a table"),
    ('name = "x"\n[demand]\ngrowth = 2\n', "[budget] amount is required"),
    ('[budget]\namount = 1\n[candidates]\ninclude = ["a"]\nexclude = ["a"]\n', "both included and excluded"),
    ('[budget]\namount = 1\n[network]\nsource = "osm"\n', "network source 'osm' needs network.osm"),
    ('[budget]\namount = -1\n', "budget -1.0; expected a finite number"),
    ('[budget]\namount = 1\nmember_caps = { cr = -5 }\n', "budget.member_caps.cr = -5; expected a number >= 0"),
    ('[budget]\namount = 1\n[objective]\nkind = "speed"\n', "objective.kind = 'speed'; expected one of"),
    ('[budget\namount = 1\n', "not valid TOML"),
])
def test_bad_scenario_files_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_unknown_included_project_is_named():
    with pytest.raises(ScenarioError, match=r"candidates.include names unknown project\(s\) \['nowhere_line'\]"):
        Scenario("x", budget=10, include_projects=("nowhere_line",)).excluded()


def test_run_rerun_and_compare(tmp_path, capsys):
    """A scenario run writes its record; a rerun reproduces every file byte for byte; a changed
    input or an altered output is named, not rerun; two runs compare axis by axis."""
    catalogue = tmp_path / "projects.json"
    shutil.copy(REPO / "data" / "projects.json", catalogue)
    (tmp_path / "a.toml").write_text('name = "small"\n[candidates]\ncatalogue = "projects.json"\n'
                                     '[budget]\namount = 60\nladder_steps = 1\n')
    (tmp_path / "b.toml").write_text('name = "larger, 2030"\n[demand]\nyear = 2030\n[budget]\namount = 120\n'
                                     'ladder_steps = 1\n')
    runs = tmp_path / "runs"
    assert main(["run", str(tmp_path / "a.toml"), "--runs-dir", str(runs)]) == 0
    assert main(["run", str(tmp_path / "b.toml"), "--runs-dir", str(runs)]) == 0
    a, b = runs / "small", runs / "larger-2030"
    for folder in (a, b):
        names = {p.name for p in folder.iterdir()}
        assert {"scenario.toml", "manifest.json", "run.json", "axes.csv", "priorities.csv", "report.md"} <= names
    record = load_run(a)
    assert (a / "scenario.toml").read_bytes() == (tmp_path / "a.toml").read_bytes()
    assert record.record["hashes"]["input:catalogue"] == record.record["hashes"]["data/projects.json"]
    assert record.record["scenario"]["projects_path"] == str(catalogue)
    assert record.summary()["status"] == "OPTIMAL" and record.summary()["gap"] <= 1e-9
    # the notebook API: layers as GeoDataFrames, the map and the axes chart from the folder alone
    chosen = record.layer("projects_selected")
    assert sorted(chosen["project"]) == sorted(record.record["result"]["selected"]) and chosen.crs.to_epsg() == 4326
    ax = record.plot.map(chinese=False)
    labels = {t.get_text() for t in ax.texts}
    ranked = record.table("priorities").query("in_optimal_set == 'yes'")
    assert {f"{r.rank}. {r.project}" for r in ranked.itertuples()} <= labels and "Hangzhou" in labels
    assert len(record.plot.axes().patches) == 2 * len(record.table("axes"))
    import matplotlib.pyplot as plt

    plt.close("all")
    with pytest.raises(InputError, match="no layer 'parks'"):
        record.layer("parks")
    # the same scenario run again: every output identical (run.json without its timings)
    capsys.readouterr()
    assert main(["rerun", str(a)]) == 0
    n = len(record.manifest["files"])
    assert n == len(list(a.iterdir())) - 1  # every file but the manifest itself
    assert f"reproduced: all {n} output files identical" in capsys.readouterr().out
    # compare: one row per scenario and axis, the values of each run's own tables
    table = compare([a, b])
    axes = pd.read_csv(a / "axes.csv")
    assert len(table) == 2 * len(axes) and list(table["scenario"].unique()) == ["small", "larger, 2030"]
    mine = table[table["scenario"] == "small"].reset_index(drop=True)
    pd.testing.assert_series_equal(mine["weighted_min_opt"], axes["weighted_min_opt"], check_names=False)
    assert table.groupby("scenario")["budget_bn_cny"].first().to_dict() == {"small": 60.0, "larger, 2030": 120.0}
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 10_000
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cmp" / "compare.csv"), table, check_exact=False, rtol=1e-5,
                                  check_dtype=False)
    # an output altered after the run is found by its hash; nothing is rerun
    pairs = (a / "pairs.csv").read_bytes()
    (a / "pairs.csv").write_bytes(pairs + b"\n")
    report = rerun(a)
    assert not report.identical and report.altered == ["pairs.csv"]
    assert main(["rerun", str(a)]) == 1
    (a / "pairs.csv").write_bytes(pairs)
    # a changed input is named; nothing is rerun
    catalogue.write_text(catalogue.read_text().replace('"cost_bn_cny": 18', '"cost_bn_cny": 19', 1))
    report = rerun(a)
    assert not report.identical and report.changed_inputs == [f"catalogue {catalogue}"]
    # a run folder is never overwritten
    capsys.readouterr()
    assert main(["run", str(tmp_path / "b.toml"), "--runs-dir", str(runs)]) == 2
    assert "a run folder of that name exists" in capsys.readouterr().err


def test_not_a_run_folder(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    for argv in (["rerun", str(tmp_path / "results")], ["compare", str(tmp_path / "results"), "--out",
                                                          str(tmp_path / "c")], ["rerun", str(tmp_path / "none")]):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ("not a run folder" in err[0] or "no such run folder" in err[0]), err
    assert not (tmp_path / "c").exists()


def test_sweep_on_dask_equals_serial_runs_and_reports_failures(tmp_path, capsys):
    """Two scenarios and a bad file on a local Dask cluster: the bad one is reported, the others
    complete, and a swept run folder equals the serial run's byte for byte (manifests)."""
    from transit.scenarios import sweep

    files = []
    for name, budget in (("sweep-a", 40), ("sweep-b", 80)):
        path = tmp_path / f"{name}.toml"
        path.write_text(f'name = "{name}"\n[demand]\nzones = "city"\n[budget]\namount = {budget}\nladder_steps = 1\n')
        files.append(path)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[budget]\namount = 10\nspeed = "fast"\n')
    files.insert(1, bad)
    runs = tmp_path / "runs"
    capsys.readouterr()
    assert main(["sweep", *map(str, files), "--workers", "2", "--runs-dir", str(runs)]) == 1  # one failed
    out = capsys.readouterr().out
    assert "FAILED: bad.toml:" in out and "line 4: unknown key budget.'speed'" in out
    assert "2 of 3 scenarios done" in out
    table = pd.read_csv(runs / "sweep.csv")
    assert table["ok"].tolist() == [True, False, True] and table["scenario"].tolist()[::2] == ["sweep-a", "sweep-b"]
    # the serial baseline as a user runs it: `transit run` in a fresh process (the test process has run
    # other tests first; see the session note on the full-precision skims of a polluted process)
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "transit", "run", str(files[0]), "--out", str(tmp_path / "serial-a")],
                   check=True, capture_output=True)
    assert load_run(runs / "sweep-a").manifest["files"] == load_run(tmp_path / "serial-a").manifest["files"]
    assert load_run(runs / "sweep-b").summary()["status"] == "OPTIMAL"
    with pytest.raises(InputError, match="tcp://127.0.0.1:9: the Dask scheduler does not answer"):
        sweep([files[0]], scheduler="tcp://127.0.0.1:9", timeout=1, runs_dir=tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_the_manifest_ignores_timings_and_cp_sat_work_only(tmp_path):
    from transit.reports import manifest

    def folder(name: str, record: dict) -> dict:
        path = tmp_path / name
        path.mkdir()
        (path / "run.json").write_text(json.dumps(record), encoding="utf-8")
        return manifest(path)["files"]["run.json"]

    base = {"result": {"objective": 1.0, "cp_sat": {"deterministic_time": 0.1, "cheapest_deterministic_time":
                                                     0.0003601279999999998, "record_seconds": 0.6}}}
    noisy = json.loads(json.dumps(base))
    noisy["result"]["cp_sat"].update(deterministic_time=0.2, cheapest_deterministic_time=0.00036012799999999976,
                                     record_seconds=1.0)
    other = json.loads(json.dumps(base))
    other["result"]["objective"] = 2.0
    assert folder("a", base) == folder("b", noisy)
    assert folder("c", other) != folder("a2", base)
