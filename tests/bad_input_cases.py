"""One table of bad inputs for every command-line entry point, and the reliability document.

Each case is a command line (``{tmp}`` is a fresh folder, ``{shared}`` the shared data, and
files named in ``files`` are written there first), the fragment its one-line error must hold,
and the promise checked for all of them: exit status 2, exactly one line on stderr naming the
file, field or value, and the output path exactly as it was (absent stays absent; an existing
file keeps its bytes).  ``tests/test_bad_inputs.py`` runs the table;
``python -m tests.bad_input_cases`` writes ``docs/reliability.md`` from it (a test checks that
the document is current).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "reliability.md"

TNTP_NET = """<NUMBER OF ZONES> 2
<NUMBER OF NODES> 3
<FIRST THRU NODE> 1
<NUMBER OF LINKS> 2
<END OF METADATA>
~ init term capacity length fft b power speed toll type ;
1 3 {cap} 1 1 0.15 4 0 0 1 ;
3 2 10 1 1 0.15 4 0 0 1 ;
"""
_TRIPS = "<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> 1\n<END OF METADATA>\nOrigin 1\n2 : 1.0;\nOrigin 2\n1 : 0.0;\n"


def _catalogue(change: str) -> str:
    data = json.loads((REPO / "data" / "projects.json").read_text(encoding="utf-8"))
    projects = data["projects"]
    if change == "misspelled":
        projects[21]["requries"] = ["hangli"]
    elif change == "requires_string":
        projects[21]["requires"] = "hangli"
    elif change == "empty":
        projects.clear()
    elif change == "negative_cost":
        projects[0]["cost_bn_cny"] = -1
    return json.dumps(data)


@dataclass(frozen=True)
class Case:
    command: str
    what: str
    argv: tuple[str, ...]
    fragment: str
    files: dict[str, str] = field(default_factory=dict)
    out: str | None = None  # the output path the command must leave as it was
    existing: str | None = None  # text of a file already at ``out``


CASES: tuple[Case, ...] = (
    # transit build
    Case("build", "missing OSM file", ("build", "--osm", "{tmp}/none.osm"), "none.osm: no such file"),
    Case("build", "empty OSM file", ("build", "--osm", "{tmp}/e.osm"), "e.osm: file is empty", {"e.osm": ""}),
    Case("build", "not XML", ("build", "--osm", "{tmp}/t.osm"), "not well-formed XML", {"t.osm": "hello"}),
    Case("build", "a DTD in OSM XML", ("build", "--osm", "{tmp}/d.osm"), "DTDs and entities are refused for safety",
         {"d.osm": '<?xml version="1.0"?>\n<!DOCTYPE osm [<!ENTITY a "a">]>\n<osm version="0.6"></osm>\n'}),
    Case("build", "an entity in OSM XML", ("build", "--osm", "{tmp}/n.osm"), "uses an entity",
         {"n.osm": '<?xml version="1.0"?>\n<osm version="0.6"><node id="1" lat="1" lon="1">'
                   '<tag k="a" v="&x;"/></node></osm>\n'}),
    Case("build", "rail asked of a file without rail", ("build", "--osm", "{repo}/tests/fixtures/osm/roads.osm",
                                                          "--network", "rail", "--no-cache"),
         "no passenger rail left after filtering"),
    Case("build", "a node without coordinates (fuzz finding)", ("build", "--osm", "{tmp}/x.osm"),
         "node 2 has no valid lon/lat",
         {"x.osm": '<osm version="0.6"><node id="1" lat="31.2" lon="121.4"/><node id="2" lat="31.3"/>'
                   '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/></way></osm>'}),
    Case("build", "a NaN coordinate (fuzz finding)", ("build", "--osm", "{tmp}/x.osm"), "node 2 has lon=nan",
         {"x.osm": '<osm version="0.6"><node id="1" lat="31.2" lon="121.4"/><node id="2" lat="31.3" lon="nan"/>'
                   '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/></way></osm>'}),
    Case("build", "an unknown XML encoding (fuzz finding)", ("build", "--osm", "{tmp}/x.osm"),
         "names an encoding Python does not know", {"x.osm": '<?xml version="1.0" encoding="UTFnan"?><osm/>'}),
    Case("build", "output that is a folder", ("build", "--osm", "{repo}/tests/fixtures/osm/roads.osm", "--out",
                                              "{tmp}/dir.gpkg", "--no-cache"), "is a folder; expected a file name",
         {"dir.gpkg/keep": "x"}),
    Case("build", "output under /proc", ("build", "--osm", "{repo}/tests/fixtures/osm/roads.osm", "--out",
                                         "/proc/yrd/x.gpkg", "--no-cache"), "the folder /proc is not writable"),
    # transit optimize
    Case("optimize", "negative budget", ("optimize", "--budget", "-5", "--out", "{tmp}/o"), "--budget -5", out="o"),
    Case("optimize", "infinite budget", ("optimize", "--budget", "inf", "--out", "{tmp}/o"), "finite budget", out="o"),
    Case("optimize", "negative time limit", ("optimize", "--budget", "300", "--time-limit=-1", "--out", "{tmp}/o"),
         "--time-limit -1: expected seconds > 0", out="o"),
    Case("optimize", "output is an existing file", ("optimize", "--budget", "300", "--out", "{tmp}/o"),
         "exists and is a file", out="o", existing="my notes"),
    Case("optimize", "unknown config key", ("optimize", "--budget", "300", "--config", "{tmp}/c.toml", "--out",
                                            "{tmp}/o"), "unknown key 'demand.grwoth'", {"c.toml": "[demand]\ngrwoth = 1.2\n"},
         out="o"),
    Case("optimize", "config that is not TOML", ("optimize", "--budget", "300", "--config", "{tmp}/c.toml", "--out",
                                                 "{tmp}/o"), "c.toml", {"c.toml": "[demand\n"}, out="o"),
    Case("optimize", "config bbox holding a list (fuzz finding)", ("optimize", "--budget", "300", "--config",
                                                                 "{tmp}/c.toml", "--out", "{tmp}/o"),
         "network.bbox[0] = []; expected a number", {"c.toml": "[network]\nbbox = [[], 27.0, 123.0, 33.0]\n"}, out="o"),
    Case("optimize", "config that is not UTF-8 (fuzz finding)", ("optimize", "--budget", "300", "--config",
                                                                "{tmp}/c.toml", "--out", "{tmp}/o"),
         "c.toml: not UTF-8 text", {"c.toml": "[demand]\ngrowth = 1.0 # \udcff\n"}, out="o"),
    Case("optimize", "NaN in the config", ("optimize", "--budget", "300", "--growth", "nan", "--out", "{tmp}/o"),
         "demand.growth = nan: expected a finite number", out="o"),
    Case("optimize", "misspelled catalogue key", ("optimize", "--budget", "300", "--projects", "{tmp}/p.json",
                                                  "--out", "{tmp}/o"), "unknown key 'requries'; did you mean 'requires'",
         {"p.json": _catalogue("misspelled")}, out="o"),
    Case("optimize", "'requires' as a string", ("optimize", "--budget", "300", "--projects", "{tmp}/p.json", "--out",
                                                "{tmp}/o"), "'requires' = 'hangli'; expected a list of strings",
         {"p.json": _catalogue("requires_string")}, out="o"),
    Case("optimize", "empty catalogue", ("optimize", "--budget", "300", "--projects", "{tmp}/p.json", "--out",
                                         "{tmp}/o"), "'projects' is empty", {"p.json": _catalogue("empty")}, out="o"),
    Case("optimize", "negative project cost", ("optimize", "--budget", "300", "--projects", "{tmp}/p.json", "--out",
                                               "{tmp}/o"), "expected a cost >= 0", {"p.json": _catalogue("negative_cost")},
         out="o"),
    Case("optimize", "unknown member cap", ("optimize", "--budget", "300", "--member-cap", "nobody=5", "--out",
                                            "{tmp}/o"), "unknown member(s) ['nobody']", out="o"),
    Case("optimize", "fairness options together", ("optimize", "--budget", "300", "--fairness", "maximin",
                                                   "--min-improvement", "all=1", "--out", "{tmp}/o"), "not both", out="o"),
    Case("optimize", "minimum improvement above 100 %", ("optimize", "--budget", "300", "--min-improvement",
                                                        "g60=150", "--out", "{tmp}/o"), "percentage in [0, 100)",
         out="o"),
    Case("optimize", "OD file with an unknown zone", ("optimize", "--budget", "300", "--od", "{tmp}/od.csv", "--out",
                                                      "{tmp}/o"), "od.csv", {"od.csv": "origin,destination,trips\n"
                                                                                       "nowhere,Shanghai,5\n"}, out="o"),
    # transit programme
    Case("programme", "horizon backwards", ("programme", "--horizon", "2040-2026", "--yearly-budget", "40", "--out",
                                            "{tmp}/o"), "horizon 2040-2026", out="o"),
    Case("programme", "NaN yearly budget", ("programme", "--yearly-budget", "nan", "--out", "{tmp}/o"),
         "--yearly-budget nan", out="o"),
    Case("programme", "shares that do not sum to one", ("programme", "--horizon", "2026-2027", "--yearly-budget",
                                                        "40", "--cost-sharing", "negotiated", "--shares",
                                                        "{tmp}/s.csv", "--out", "{tmp}/o"), "sum to 0.9",
         {"s.csv": "project,member,share\nhangli,zjci,0.6\nhangli,cr,0.3\n"}, out="o"),
    Case("programme", "shares of an unknown member", ("programme", "--horizon", "2026-2027", "--yearly-budget", "40",
                                                      "--cost-sharing", "negotiated", "--shares", "{tmp}/s.csv",
                                                      "--out", "{tmp}/o"), "row 2: unknown member 'nobody'",
         {"s.csv": "project,member,share\nhangli,nobody,1\n"}, out="o"),
    Case("programme", "unknown committed status", ("programme", "--horizon", "2026-2027", "--yearly-budget", "40",
                                                   "--committed", "built", "--out", "{tmp}/o"),
         "committed status(es) ['built']", out="o"),
    # transit run, rerun, compare
    Case("run", "scenario with a misspelled key", ("run", "{tmp}/s.toml", "--runs-dir", "{tmp}/runs"),
         "s.toml, line 3: unknown key budget.'amuont'", {"s.toml": 'name = "x"\n[budget]\namuont = 300\n'}),
    Case("run", "scenario value of the wrong type", ("run", "{tmp}/s.toml", "--runs-dir", "{tmp}/runs"),
         "s.toml, line 4: congestion.enabled = 'yes'; expected true or false",
         {"s.toml": '[budget]\namount = 300\n[congestion]\nenabled = "yes"\n'}),
    Case("run", "scenario naming a missing OD file", ("run", "{tmp}/s.toml", "--runs-dir", "{tmp}/runs"),
         "OD matrix", {"s.toml": '[budget]\namount = 300\n[demand]\nod = "none.csv"\n'}),
    Case("rerun", "a folder that is not a run folder", ("rerun", "{tmp}/d"), "not a run folder", {"d/x.txt": "x"}),
    Case("compare", "a run folder that does not exist", ("compare", "{tmp}/none", "--out", "{tmp}/c"),
         "no such run folder", out="c"),
    Case("report", "a folder that is not a run folder", ("report", "{tmp}/d"), "not a run folder (missing run.json",
         {"d/x.txt": "x"}),
    Case("sweep", "no workers", ("sweep", "{tmp}/s.toml", "--workers", "0", "--runs-dir", "{tmp}/runs"),
         "--workers 0: expected a whole number >= 1", {"s.toml": "[budget]\namount = 1\n"}),
    # transit assign
    Case("assign", "network path is a folder", ("assign", "--net", "{tmp}", "--trips", "{tmp}/t.tntp"),
         "is a folder; expected a TNTP file"),
    Case("assign", "NaN capacity", ("assign", "--net", "{tmp}/x_net.tntp", "--trips", "{tmp}/t.tntp"),
         "capacity nan is not a number", {"x_net.tntp": TNTP_NET.format(cap="nan"), "t.tntp": _TRIPS}),
    Case("assign", "a trips file with a huge zone count (fuzz finding)", ("assign", "--net", "{tmp}/x_net.tntp",
                                                                        "--trips", "{tmp}/t.tntp"),
         "<NUMBER OF ZONES> is 999999999 but the network has 2 zones",
         {"x_net.tntp": TNTP_NET.format(cap="10"), "t.tntp": _TRIPS.replace("ZONES> 2", "ZONES> 999999999")}),
    Case("assign", "a NaN zone number (fuzz finding)", ("assign", "--net", "{tmp}/x_net.tntp", "--trips",
                                                        "{tmp}/t.tntp"), "origin nan is not a zone",
         {"x_net.tntp": TNTP_NET.format(cap="10"), "t.tntp": _TRIPS.replace("Origin 2", "Origin nan")}),
    Case("assign", "negative gap in scientific notation", ("assign", "--net", "n", "--trips", "t", "--gap", "-1e-4"),
         "--gap must be a number >= 0, got -0.0001"),
    Case("assign", "negative time limit", ("assign", "--net", "n", "--trips", "t", "--time-limit", "-5"),
         "--time-limit must be seconds > 0"),
    # transit dndp
    Case("dndp", "negative optimality gap", ("dndp", "--instance", "i", "--trips", "t", "--budget", "5",
                                             "--opt-gap=-0.1"), "--opt-gap -0.1"),
    Case("dndp", "budget fraction above one", ("dndp", "--instance", "i", "--trips", "t", "--budget-fraction", "1.5"),
         "--budget-fraction 1.5"),
    Case("dndp", "zero demand factor", ("dndp", "--instance", "i", "--trips", "t", "--budget", "5",
                                        "--demand-factor", "0"), "--demand-factor 0"),
)


FUZZ_RUNS = REPO / "docs" / "fuzz_runs.json"


def _fuzz_section() -> str:
    """The fuzz runs recorded by ``python -m tests.fuzz`` (``docs/fuzz_runs.json``)."""
    runs = json.loads(FUZZ_RUNS.read_text(encoding="utf-8")) if FUZZ_RUNS.exists() else {}
    head = """## Fuzz runs (`python -m tests.fuzz`, hypothesis)

Each reader is fed inputs drawn by hypothesis from valid files (byte flips, deletions, duplications,
truncation, awkward tokens such as `nan`, `-1e308`, `]]>`, numbers replaced by them) or random bytes;
the promise is a typed error (or a successful read), never another exception. Every finding is saved
under `tests/fixtures/fuzz/` and replayed by `tests/test_fuzz.py`, with a short seeded run of every
target, on every CI run. Findings listed here are those of the recorded run (fixed since, each now a
regression test); OMX matrices are not fuzzed (HDF5 is parsed by its C library, not by this project).

| reader | entry point | command | duration | inputs tried | findings |
|---|---|---|---:|---:|---|
"""
    rows = []
    for run in runs.values():
        found = "<br>".join(run["findings"]) if run["findings"] else "none"
        rows.append(f"| {run['what']} | `{run['entry']}` | `{run['command']}` | {run['seconds']} s | "
                    f"{run['examples']:,} | {found} |")
    return head + ("\n".join(rows) if rows else "| (no run recorded yet) | | | | | |")


def render() -> str:
    """``docs/reliability.md`` from the table."""
    rows = "\n".join(f"| `transit {c.command}` | {c.what} | `{' '.join(c.argv)}` | exit 2, one line holding "
                     f"“{c.fragment}”; output left as it was |" for c in CASES)
    return f"""# Reliability: bad inputs and what the tool does with them

Generated by `python -m tests.bad_input_cases` from the table in `tests/bad_input_cases.py` (do not
edit by hand); `tests/test_bad_inputs.py` runs every case on every CI run. For each: exit status 2,
exactly one line on stderr naming the file, field or value, and the output path exactly as it was
(absent stays absent, an existing file keeps its bytes). `{{tmp}}` is a fresh folder holding the case's
files.

| entry point | bad input | command | outcome |
|---|---|---|---|
{rows}

## Other guarantees, each with its test

| guarantee | test |
|---|---|
| Ctrl-C during a CP-SAT solve stops the search; the command exits 130 with one line and leaves no folder, not even a hidden temporary one | `tests/test_hardening.py::test_ctrl_c_*` |
| two identical runs of `transit optimize` write identical files (CSV, report, map, GeoPackage; `run.json` differs only in timings) | `tests/test_hardening.py::test_two_identical_runs_write_identical_files` |
| a read-only install run by a user without a writable home still compiles its kernels (numba's cache moves to a writable folder) | `tests/test_hardening.py::test_numba_gets_a_writable_cache_when_the_install_is_read_only` |
| the default install (no numba, osmnx, geopandas, pyogrio, pyproj) runs `transit optimize` and writes every output; `transit assign` without numba stops with one line naming the extra to install | `tests/test_hardening.py::test_the_main_job_runs_without_the_optional_packages`, `test_assignment_without_numba_names_the_extra` |
| a drive extract without rail builds its roads with a one-line warning (`--network both`) | `tests/test_hardening.py::test_a_drive_extract_builds_its_roads_and_warns_about_rail` |
| two runs writing one output folder at once: the second stops with a clear message (a lock), the first's output is whole | `tests/test_hardening.py::test_two_runs_cannot_write_one_output_folder_at_once` |
| catalogue and member ids are plain names, never paths (`../x` is refused), so nothing can be written outside the output folder | `tests/test_hardening.py::test_catalogue_schema_is_strict` |
| budgets of 1e20 bind nothing instead of overflowing the integer model | `tests/test_hardening.py::test_huge_budgets_bind_nothing` |
| infeasible programmes say what conflicts (required project too dear, a dependency too late, exclusions, committed overspending) | `tests/test_programme.py::test_programme_infeasible_requirements_say_what_conflicts` |

{_fuzz_section()}

## Property-based tests (hypothesis, `tests/test_properties.py`, derandomised in CI)

| property | test |
|---|---|
| a TNTP network, a TNTP trips file and a network-design instance read back exactly what was written | `test_tntp_network_reads_back_what_was_written`, `test_tntp_trips_read_back_what_was_written`, `test_dndp_instance_reads_back_candidates_and_costs` |
| every segment of an OSM XML way becomes one edge per direction, with its great-circle length | `test_osm_xml_segments_become_edges` |
| a zone-level OD CSV reads back every intercity trip | `test_od_csv_zone_level_reads_back_every_intercity_trip` |
| configuration overrides read back; what is not overridden keeps its default | `test_config_overrides_read_back` |
| user-equilibrium flows (BFW and GP) conserve demand at every node | `test_ue_flows_conserve_demand_at_every_node` |
| more budget never worsens the optimal selection; removing a chosen project never improves the network | `test_more_budget_never_worsens_and_removing_a_project_never_improves` |
| a programme never spends over a yearly cap, and pays every started project in full | `test_programme_never_spends_over_a_yearly_cap` |

## Faults

| fault | what happens | test |
|---|---|---|
| an OSM graph cache entry truncated, emptied, bit-flipped or replaced | its SHA-256 (recorded in the entry's header) does not match, so it is never unpickled; it is rebuilt and rewritten byte for byte | `tests/test_osm.py::test_cache_hit_corrupt_entry_and_key` |
| a cached clip of the world graphs (`scgraph-data`, optional) corrupt | its CRC-32s fail; rebuilt with a warning, byte for byte | `tests/test_spine_network.py::test_extract_equals_the_world_graph_clip` (runs where scgraph-data is installed) |
| an OSM extract too large for the memory available | estimated from its size before parsing (20x XML, 40x PBF: `networks/osm.py`); stops with the need, the memory available and what to do (`osmium extract`, `tags-filter`); `$YRD_TRANSIT_MEMORY_GUARD=off` skips it | `tests/test_hardening.py::test_memory_guard_stops_an_oversized_extract_before_parsing` |
| a TNTP trips file declaring more zones than a dense matrix can hold | the same guard, before allocating | the same test, and the table above |
| every solver entry point (selection, ladders, fairness, programme, network design, assignment) | takes a time limit and returns the incumbent with its bound and gap | `tests/test_selection.py::test_time_limit_reports_incumbent_bound_and_gap`, `tests/test_programme.py::test_programme_equals_brute_force` |
"""


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC.relative_to(REPO)} ({len(CASES)} cases)")
