"""Issue 15's fixes: values that must be refused, huge values, strict catalogue schemas."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from networks.errors import CatalogueError, InputError
from tests.test_programme import SCHEDULE, YEARS, _instance, _weights

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("argv,message", [
    (["optimize", "--budget", "300", "--time-limit=-1"], "--time-limit -1: expected seconds > 0"),
    (["optimize", "--budget", "300", "--time-limit", "-1e-3"], "--time-limit -0.001: expected seconds > 0"),
    (["optimize", "--budget", "inf"], "--budget inf: expected a finite budget"),
    (["optimize", "--budget", "300", "--ladder-steps", "0"], "--ladder-steps 0"),
    (["assign", "--net", "n", "--trips", "t", "--time-limit", "-5"], "--time-limit must be seconds > 0, got -5"),
    (["assign", "--net", "n", "--trips", "t", "--gap", "-1e-4"], "--gap must be a number >= 0, got -0.0001"),
    (["dndp", "--instance", "i", "--trips", "t", "--budget", "5", "--opt-gap=-0.1"], "--opt-gap -0.1"),
    (["dndp", "--instance", "i", "--trips", "t", "--budget-fraction", "1.5"], "--budget-fraction 1.5"),
    (["programme", "--yearly-budget", "nan"], "--yearly-budget nan"),
])
def test_cli_refuses_bad_numbers_in_one_line(tmp_path, capsys, argv, message):
    from transit.cli import main

    out = tmp_path / "out"
    if argv[0] in ("optimize", "programme"):
        argv = [*argv, "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_cli_usage_errors_are_one_line(capsys):
    from transit.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["optimize", "--budget", "300", "--out", "x", "--bogus"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --bogus" in err


def test_huge_budgets_bind_nothing():
    from solvers.programme import solve_programme
    from solvers.selection.markets import solve_market_selection

    layers, projects, markets = _instance(5)
    free = solve_market_selection(layers, projects, markets, budget=math.inf)
    huge = solve_market_selection(layers, projects, markets, budget=1e20, member_caps={"m1": 1e300})
    assert huge.status == "OPTIMAL" and huge.selected == free.selected
    kw = dict(years=YEARS, schedule=SCHEDULE, weights=_weights(), weight_after=3000.0)
    a = solve_programme(layers, projects, markets, yearly_budget=1e20, **kw)
    b = solve_programme(layers, projects, markets, yearly_budget=1e6, **kw)
    assert a.status == "OPTIMAL" and a.objective == pytest.approx(b.objective, rel=1e-12)


def _catalogue(tmp_path, change):
    from transit.catalogue import DATA_DIR, load_projects

    data = json.loads((DATA_DIR / "projects.json").read_text(encoding="utf-8"))
    change(data["projects"])
    path = tmp_path / "projects.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return lambda: load_projects(path)


@pytest.mark.parametrize("change,message", [
    (lambda ps: ps[21].__setitem__("requries", ["hutong_phase2"]),
     r"projects\[21\] \(hanglinji\): unknown key 'requries'; did you mean 'requires'\?"),
    (lambda ps: ps[21].__setitem__("requires", "hangli"),
     r"projects\[21\] \(hanglinji\): 'requires' = 'hangli'; expected a list of strings"),
    (lambda ps: ps[0].__setitem__("status", "building"), r"'status' = 'building'; expected one of"),
    (lambda ps: ps[0].__setitem__("expected_opening", "2028"), r"'expected_opening' = '2028'; expected a calendar year"),
    (lambda ps: ps[0].__setitem__("length_km", -3), r"'length_km' = -3; expected kilometres >= 0"),
    (lambda ps: ps.__setitem__(0, "tongsujiayong"), r"projects\[0\] = 'tongsujiayong'; expected an object"),
    (lambda ps: ps.clear(), r"'projects' is empty; expected at least one candidate project"),
    (lambda ps: ps[0].__setitem__("id", "../x"), r"id '\.\./x'; expected letters, digits"),
])
def test_catalogue_schema_is_strict(tmp_path, change, message):
    load = _catalogue(tmp_path, change)
    with pytest.raises(CatalogueError, match=message):
        load()


def test_numba_gets_a_writable_cache_when_the_install_is_read_only(tmp_path, monkeypatch):
    from pathlib import Path

    from networks._numba_cache import ensure_numba_cache_dir

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("YRD_TRANSIT_CACHE", str(tmp_path / "cache"))
    # sources beside which nothing can be written (/proc refuses even root): the cache moves
    chosen = ensure_numba_cache_dir((Path("/proc/self/fdinfo"),))
    assert chosen == str(tmp_path / "cache" / "numba") and Path(chosen).is_dir()
    import os

    assert os.environ["NUMBA_CACHE_DIR"] == chosen
    # a writable install needs nothing; a user's own setting is kept
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert ensure_numba_cache_dir((tmp_path / "pkg",)) is None
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere")
    assert ensure_numba_cache_dir((Path("/proc/self/fdinfo"),)) == "/somewhere"


@pytest.mark.parametrize("kind", ["file", "proc"])
def test_output_paths_that_cannot_be_written_are_refused_before_the_run(tmp_path, capsys, kind):
    from transit.cli import main

    target = tmp_path / "afile" if kind == "file" else "/proc/yrd/out"
    if kind == "file":
        target.write_text("mine")
    assert main(["optimize", "--budget", "300", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"output {target}" in err
    if kind == "file":
        assert target.read_text() == "mine"
    folder = tmp_path / "net.gpkg"
    folder.mkdir()
    assert main(["build", "--osm", "x.osm", "--out", str(folder)]) == 2  # a folder where a file is wanted
    assert f"output {folder}: is a folder; expected a file name" in capsys.readouterr().err


from tests.bad_input_cases import TNTP_NET as _NET  # noqa: E402  (one tiny network for both)


@pytest.mark.parametrize("cap,message", [("nan", "capacity nan is not a number; expected a finite number"),
                                         ("inf", "capacity inf is infinite; expected a finite number"),
                                         ("-5", "capacity -5 must not be negative")])
def test_tntp_messages_name_what_is_wrong(tmp_path, cap, message):
    from networks.errors import TNTPError
    from networks.tntp import read_tntp_network

    path = tmp_path / "x_net.tntp"
    path.write_text(_NET.format(cap=cap))
    with pytest.raises(TNTPError, match=f"{path.name}:7: {message}"):
        read_tntp_network(path)
    with pytest.raises(TNTPError, match="is a folder; expected a TNTP file"):
        read_tntp_network(tmp_path)


@pytest.mark.parametrize("text,message", [
    ('<?xml version="1.0"?>\n<!DOCTYPE osm [<!ENTITY a "aaaa">]>\n<osm version="0.6"></osm>\n', "declares a DTD"),
    ('<?xml version="1.0"?>\n<osm version="0.6"><node id="1" lat="31" lon="121"><tag k="a" v="&x;"/></node></osm>\n',
     "uses an entity"),
])
def test_osm_dtds_and_entities_are_refused_for_safety(tmp_path, text, message):
    from networks.errors import OSMError
    from networks.osm_read import read_osm_xml

    path = tmp_path / "x.osm"
    path.write_text(text)
    with pytest.raises(OSMError, match=f"{message}.*DTDs and entities are refused for safety"):
        read_osm_xml(path)


def test_a_drive_extract_builds_its_roads_and_warns_about_rail(tmp_path, capsys):
    from tests.conftest import shared_file
    from transit.cli import main

    osm = shared_file("data", "osm", "shanghai_jingan_drive.osm")
    out = tmp_path / "jingan.gpkg"
    assert main(["build", "--osm", str(osm), "--out", str(out), "--no-cache", "--no-progress"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "no passenger rail" in warnings[0] and "the road graph is built" in warnings[0]
    assert "road: 151 nodes, 207 edges" in captured.out and out.is_file()
    # asking for rail alone still fails, with the reason
    assert main(["build", "--osm", str(osm), "--network", "rail", "--no-cache", "--no-progress"]) == 2
    assert "no passenger rail left after filtering" in capsys.readouterr().err


_HARD_SOLVE = """
import random, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from ortools.sat.python import cp_model
from solvers._sigint import solve_interruptibly
rng = random.Random(7)
m = cp_model.CpModel()
y = [m.NewBoolVar("") for _ in range(400)]
for _ in range(40):
    m.Add(sum(rng.randint(1, 1000) * v for v in y) <= 20000)
m.Maximize(sum(rng.randint(1, 1000) * v for v in y))
s = cp_model.CpSolver()
s.parameters.max_time_in_seconds = 300
s.parameters.num_workers = 1
print("solving", flush=True)
try:
    solve_interruptibly(s, m)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
print("finished", flush=True)
"""


def test_ctrl_c_stops_a_cp_sat_solve():
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", _HARD_SOLVE], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "solving"
    time.sleep(2)  # inside CP-SAT's search (a 400-item, 40-row knapsack takes minutes to prove)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and out.strip() == "interrupted"
    assert time.monotonic() - sent < 30  # stopped, not run to its 300 s limit


def test_ctrl_c_during_transit_programme_exits_130_and_leaves_nothing(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "prog"
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from transit.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "programme", "--horizon", "2026-2040", "--yearly-budget",
                             "40", "--objective", "benefit", "--committed", "none", "--frontier-steps", "0",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(15)  # the model is built and the solves have started (the full solve takes minutes); an
    # interrupt while it is still being built must end the same way
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert stderr.strip() == "transit programme: interrupted"
    assert list(tmp_path.iterdir()) == []  # no output folder, no hidden temporary one


def test_two_identical_runs_write_identical_files(tmp_path):
    from transit.cli import main

    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        assert main(["optimize", "--budget", "60", "--ladder-steps", "1", "--out", str(out)]) == 0
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert "network.gpkg" in names and names == sorted(p.name for p in outs[1].iterdir())
    for name in names:
        if name == "run.json":  # holds the timings
            continue
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_two_runs_cannot_write_one_output_folder_at_once(tmp_path):
    import fcntl

    from networks.atomic import atomic_output_dir
    from networks.errors import InputError

    out = tmp_path / "results"
    with atomic_output_dir(out) as first:
        (first / "a.csv").write_text("first")
        with pytest.raises(InputError, match="another run is writing this folder now"):
            with atomic_output_dir(out):
                pass
    assert (out / "a.csv").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no lock or temporary left
    # a lock held by another process is honoured the same way
    with open(tmp_path / ".results.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another run"):
            with atomic_output_dir(out):
                pass


def test_memory_guard_stops_an_oversized_extract_before_parsing(tmp_path, monkeypatch):
    """With 50 kB usable, a 5 kB XML extract (about 100 kB to build) is refused, naming the need."""
    from networks.errors import OSMError, TNTPError
    from networks.memory import available_memory_bytes
    from networks.osm import graph_from_osm
    from networks.tntp import read_tntp_trips

    roads = REPO / "tests" / "fixtures" / "osm" / "roads.osm"
    monkeypatch.setenv("YRD_TRANSIT_MEMORY_LIMIT_MB", "0.05")
    assert available_memory_bytes() == int(0.05 * 1024 * 1024)
    with pytest.raises(OSMError, match=r"roads\.osm .*needs about 9\d kB of memory but only 41 kB is available; "
                                       r"cut it to the area you need first"):
        graph_from_osm(roads, network="road", cache=False)
    trips = tmp_path / "big_trips.tntp"
    trips.write_text("<NUMBER OF ZONES> 100\n<END OF METADATA>\nOrigin 1\n2 : 1.0;\n")
    with pytest.raises(TNTPError, match=r"<NUMBER OF ZONES> 100 .*needs about 88 kB"):
        read_tntp_trips(trips)
    monkeypatch.setenv("YRD_TRANSIT_MEMORY_GUARD", "off")  # the user knows better: the estimate is skipped
    assert graph_from_osm(roads, network="road", cache=False).number_of_edges() > 0
    assert read_tntp_trips(trips)[0, 1] == 1.0
    monkeypatch.setenv("YRD_TRANSIT_MEMORY_GUARD", "on")
    monkeypatch.setenv("YRD_TRANSIT_MEMORY_LIMIT_MB", "lots")
    with pytest.raises(InputError, match="YRD_TRANSIT_MEMORY_LIMIT_MB = 'lots'"):
        available_memory_bytes()


# What the default install leaves out (networks/optional.py): the main job runs without it, and
# the features that need it say what to install.
_OPTIONAL = ("numba", "llvmlite", "geopandas", "pyogrio", "pyproj", "osmnx", "openpyxl")
_BLOCK = (
    "import importlib.abc, sys\n"
    "class Block(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    f"        if name.split('.')[0] in {_OPTIONAL!r}:\n"
    "            raise ImportError(f'{name} is blocked (not in the default install)')\n"
    "sys.meta_path.insert(0, Block())\n"
    "from transit.cli import main\n"
)


def _without_optional(args: list[str], cwd: Path) -> tuple[int, str]:
    import subprocess
    import sys

    code = _BLOCK + f"rc = main({args!r})\nassert not set(sys.modules) & set({_OPTIONAL!r})\nsys.exit(rc)\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=900)
    return done.returncode, done.stderr


def test_the_main_job_runs_without_the_optional_packages(tmp_path):
    """`transit optimize` (the README's first command) with numba, geopandas, pyogrio, pyproj,
    osmnx and openpyxl unimportable: it proves its optimum and writes every output, network.gpkg
    included (read back here with GDAL, as QGIS would) and tables.xlsx (read back with openpyxl)."""
    import pyogrio

    out = tmp_path / "run"
    args = ["optimize", "--zones", "city", "--budget", "120", "--ladder-steps", "1", "--out", str(out)]
    rc, err = _without_optional(args, tmp_path)
    assert rc == 0, err
    record = json.loads((out / "run.json").read_text())
    assert record["result"]["status"] == "OPTIMAL"
    assert {"map.png", "report.md", "network.gpkg", "pairs.csv", "manifest.json", "tables.xlsx"} <= {
        p.name for p in out.iterdir()}
    sheets = pd.read_excel(out / "tables.xlsx", sheet_name=None)
    pd.testing.assert_frame_equal(sheets["axes"], pd.read_csv(out / "axes.csv"), check_dtype=False, rtol=1e-9)
    layers = {name for name, _ in pyogrio.list_layers(out / "network.gpkg")}
    assert {"rail", "road", "stations", "zones", "projects_selected", "projects_candidates"} <= layers
    zones = pyogrio.read_dataframe(out / "network.gpkg", layer="zones")
    assert len(zones) == 19 and str(zones.crs) == "EPSG:4326"


def test_pbf_graphs_without_numba_come_from_pyosmium(tmp_path):
    """Without numba the compiled PBF reader hands every file to pyosmium: the same graph."""
    import subprocess
    import sys

    from networks.osm import graph_from_osm
    from networks.osm_pbf import write_pbf

    rail = Path(__file__).parent / "fixtures" / "osm" / "rail.osm"
    pbf = write_pbf(rail, tmp_path / "rail.osm.pbf")
    code = _BLOCK + (
        "import json\nfrom networks.osm import graph_from_osm\n"
        f"G = graph_from_osm({str(pbf)!r}, network='rail', simplify=False, retain_all=True, cache=False)\n"
        "assert 'numba' not in sys.modules\n"
        "print(json.dumps(sorted((u, v, round(d['length'], 6)) for u, v, d in G.edges(data=True))))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    G = graph_from_osm(pbf, network="rail", simplify=False, retain_all=True, cache=False)
    expected = sorted((u, v, round(d["length"], 6)) for u, v, d in G.edges(data=True))
    assert json.loads(done.stdout) == [list(e) for e in expected] and len(expected) > 10


def test_assignment_without_numba_names_the_extra(tmp_path):
    tntp = Path(__file__).resolve().parents[2] / "shared" / "data" / "tntp" / "Braess-Example"
    net = next(tntp.glob("*_net.tntp"), None) if tntp.is_dir() else None
    if net is None:
        pytest.skip("../shared/data/tntp/Braess-Example is not present")
    trips = next(tntp.glob("*_trips.tntp"))
    rc, err = _without_optional(["assign", "--net", str(net), "--trips", str(trips)], tmp_path)
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "needs numba, which is not installed" in lines[0] and ".[assignment]" in lines[0], err
