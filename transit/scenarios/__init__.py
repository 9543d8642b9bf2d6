"""Scenarios as files, runs as records, and comparisons (:mod:`.spec`, :mod:`.records`, :mod:`.compare`).

>>> from transit.scenarios import load_scenario, compare
>>> run = load_scenario("scenarios/bay_tunnel.toml").run()      # writes runs/<name>/
>>> compare([run, "runs/base"])                                  # one row per scenario and axis
"""

from transit.scenarios.compare import ScenarioComparison, compare, compare_chart, compare_scenarios
from transit.scenarios.records import RerunReport, RunRecord, load_run, rerun, run_scenario
from transit.scenarios.spec import Scenario, ScenarioError, load_scenario
from transit.scenarios.sweep import SweepOutcome, sweep, sweep_table

__all__ = ["Scenario", "ScenarioError", "load_scenario", "RunRecord", "RerunReport", "run_scenario", "rerun",
           "load_run", "ScenarioComparison", "compare_scenarios", "compare", "compare_chart", "SweepOutcome", "sweep",
           "sweep_table"]
