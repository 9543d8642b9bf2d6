"""Runs as records: every scenario run in its own folder, reproducible byte for byte.

A run folder holds the outputs of ``transit optimize`` (tables, GeoPackage, map, report),
the scenario file as given (``scenario.toml``), ``run.json`` (the scenario with its paths
resolved, the SHA-256 of every input file: the scenario's own files and every file of
``data/``, the package versions, the solver status, bound and gap) and ``manifest.json``
(the SHA-256 of every output; ``run.json`` hashed without its timings and command line,
which differ between identical runs). :func:`rerun` runs the recorded scenario again into a
temporary folder and compares the manifests, after checking that the inputs and package
versions are still those recorded (a changed input is named, not silently rerun).
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InputError
from transit.scenarios.spec import Scenario, ScenarioError

__all__ = ["RunRecord", "RerunReport", "run_scenario", "rerun", "load_run"]


class RunFolderError(InputError):
    """A folder that is not a run folder (no ``run.json`` with a scenario, or no manifest)."""


@dataclass(frozen=True)
class RunRecord:
    """A run folder, read back: its scenario, record (``run.json``) and manifest."""

    folder: Path
    scenario: Scenario
    record: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.scenario.name

    def table(self, name: str) -> pd.DataFrame:
        """One of the run's CSV tables (``axes``, ``priorities``, ``pairs``, ``appraisal``...)."""
        path = self.folder / f"{name}.csv"
        if not path.is_file():
            raise RunFolderError(f"{self.folder}: no table {name}.csv in this run")
        return pd.read_csv(path)

    def layer(self, name: str) -> Any:
        """A layer of the run's ``network.gpkg`` (``rail``, ``road``, ``stations``, ``zones``,
        ``projects_candidates``, ``projects_selected``): a geopandas GeoDataFrame (EPSG:4326) when
        geopandas is installed (``pip install -e ".[gis]"``), else a DataFrame with a shapely
        ``geometry`` column."""
        from networks.gpkg import list_layers, read_gpkg

        path = self.folder / "network.gpkg"
        if not path.is_file():
            raise RunFolderError(f"{self.folder}: no network.gpkg in this run")
        names = list_layers(path)
        if name not in names:
            raise RunFolderError(f"{path}: no layer {name!r}; the layers are {names}")
        frame = read_gpkg(path, name)
        try:
            import geopandas as gpd
        except ImportError:
            return frame
        return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")

    @property
    def plot(self) -> RunPlots:
        """Charts of the run: ``run.plot.map()``, ``run.plot.axes()``."""
        return RunPlots(self)

    def summary(self) -> dict[str, Any]:
        """Status, bound, gap, cost, objective, saving, NPV and the chosen projects."""
        r = self.record["result"]
        appraisal = self.record.get("appraisal") or {}
        return {"scenario": self.name, "budget_bn_cny": r["budget"], "status": r["status"], "gap": r["gap"],
                "cost_bn_cny": r["cost"], "objective": r["objective"], "bound": r["bound"],
                "base_objective": r["base_objective"], "saving": r["saving"],
                "saving_pct": 100 * r["saving"] / r["base_objective"] if r["base_objective"] else 0.0,
                "npv_bn_cny": appraisal.get("npv_bn_cny"), "bcr": appraisal.get("bcr"),
                "selected": " ".join(r["selected"])}


class RunPlots:
    """The charts of a run folder, drawn with matplotlib on a new figure or on ``ax``."""

    def __init__(self, run: RunRecord) -> None:
        self._run = run

    def map(self, *, ax: Any = None, chinese: bool | None = None, radius_km: float | None = None) -> Any:
        """The run's map (as ``map.png``): coast, provinces, network, the chosen projects by rank,
        and the change in generalized cost by zone (``radius_km``: of the zone cells; None: the
        maps' default).  Returns the matplotlib axes."""
        from transit.maps import draw_map

        run = self._run
        layers = {name: run.layer(name) for name in ("rail", "road", "zones", "projects_candidates")}
        try:
            config = run.scenario.config()
            speeds = {"expressway_kph": config["road"]["expressway_kph"],
                      "fast_rail_kph": config["rail"]["conventional_kph"]}
        except (InputError, OSError):  # the scenario's config file has moved: the default styling
            speeds = {}
        r = run.record["result"]
        return draw_map(layers, pairs=run.table("zone_pairs"), priorities=run.table("priorities"), ax=ax,
                        title=f"{run.name}: budget {r['budget']:g} bn CNY ({r['status']})", chinese=chinese,
                        **({} if radius_km is None else {"radius_km": radius_km}), **speeds)

    def axes(self, *, ax: Any = None) -> Any:
        """Each axis's demand-weighted door-to-door minutes before and after, as bars."""
        import matplotlib.pyplot as plt

        table = self._run.table("axes")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.5 * len(table) + 1.2))
        y = np.arange(len(table))
        ax.barh(y - 0.2, table["weighted_min_base"], height=0.4, color="#aab7b8", label="before")
        ax.barh(y + 0.2, table["weighted_min_opt"], height=0.4, color="#c0392b", label="after")
        ax.set_yticks(y, table["name_en"] if "name_en" in table else table["axis"])
        ax.invert_yaxis()
        ax.set_xlabel("demand-weighted door-to-door minutes")
        ax.set_title(self._run.name)
        ax.legend()
        return ax


def _scenario_record(scenario: Scenario) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(scenario).items()}


def _scenario_from_record(data: dict[str, Any], folder: Path) -> Scenario:
    names = {f.name for f in dataclasses.fields(Scenario)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise RunFolderError(f"{folder}/run.json: scenario with unknown field(s) {unknown} (a newer version's run?)")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return Scenario(**values)


def load_run(folder: str | Path) -> RunRecord:
    """Read a run folder written by :func:`run_scenario` (``transit run``).

    Raises
    ------
    RunFolderError
        The folder is missing or is not a run folder (no scenario record or manifest).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: no such run folder")
    try:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RunFolderError(f"{folder}: not a run folder ({Path(exc.filename).name} is missing; "
                             "run folders are written by `transit run SCENARIO.toml`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{folder}: not a run folder (run.json or manifest.json unreadable: {exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("scenario"), dict):
        raise RunFolderError(f"{folder}: not a run folder (run.json has no scenario; was it written by "
                             "`transit optimize`? Only `transit run SCENARIO.toml` records one)")
    try:
        scenario = _scenario_from_record(record["scenario"], folder)
    except ScenarioError as exc:
        raise RunFolderError(f"{folder}/run.json: {exc}") from None
    return RunRecord(folder=folder, scenario=scenario, record=record, manifest=manifest)


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")
    return slug or "scenario"


def run_scenario(scenario: Scenario, *, out: str | Path | None = None, runs_dir: str | Path = "runs",
                 source_text: bytes | None = None, argv: list[str] | None = None, use_cache: bool = True) -> RunRecord:
    """Optimise ``scenario`` and write its run folder (``out``, default ``runs_dir/<name>``).

    An existing run folder is never overwritten: choose another ``out`` (or remove it).
    """
    from networks.atomic import check_output_path
    from transit.optimize import run_optimization
    from transit.reports import write_outputs

    folder = Path(out) if out is not None else Path(runs_dir) / _slug(scenario.name)
    if folder.exists():
        raise InputError(f"{folder}: a run folder of that name exists; choose another --out (or remove it), or "
                         f"check it with `transit rerun {folder}`")
    check_output_path(folder, folder=True)
    for label, path in scenario.input_files().items():
        if not path.is_file():
            raise ScenarioError(f"scenario {scenario.name!r}: {label} {path}: no such file")
    config = scenario.config()
    run = run_optimization(config, use_cache=use_cache, **scenario.optimization_arguments())
    text = source_text if source_text is not None else scenario.to_toml().encode("utf-8")
    write_outputs(run, folder, argv=argv or ["transit", "run"], extra_files={"scenario.toml": text},
                  extra_record={"scenario": _scenario_record(scenario)}, input_files=scenario.input_files())
    return load_run(folder)


@dataclass
class RerunReport:
    """What :func:`rerun` found: identical outputs, or what differs and why it may."""

    folder: Path
    identical: bool
    differing: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed_inputs: list[str] = field(default_factory=list)
    changed_versions: dict[str, tuple[str, str]] = field(default_factory=dict)
    altered: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.changed_inputs:
            return [f"{self.folder}: not rerun: input(s) changed since the run: {', '.join(self.changed_inputs)}"]
        if self.altered:
            return [f"{self.folder}: not rerun: output(s) altered in the run folder since the run (their hashes "
                    f"differ from manifest.json): {', '.join(self.altered)}"]
        if self.identical:
            return [f"{self.folder}: reproduced: all {self.matched} output files identical"]
        out = [f"{self.folder}: NOT reproduced: {len(self.differing)} file(s) differ, {len(self.missing)} missing, "
               f"{len(self.extra)} new"]
        out += [f"  differs: {name}" for name in self.differing]
        out += [f"  missing in the rerun: {name}" for name in self.missing]
        out += [f"  new in the rerun: {name}" for name in self.extra]
        out += [f"  package {pkg}: {a} at the run, {b} now" for pkg, (a, b) in self.changed_versions.items()]
        return out

    matched: int = 0


def rerun(folder: str | Path, *, use_cache: bool = True) -> RerunReport:
    """Run a recorded scenario again and compare every output with the record.

    The inputs (the scenario's files and ``data/``) are checked against their recorded
    hashes first: if one changed, nothing is run and the report names it.
    """
    from transit.config import DATA_DIR
    from transit.reports import _file_hash, _versions, manifest

    run = load_run(folder)
    hashes = run.record.get("hashes", {})
    changed = []
    for label, path in run.scenario.input_files().items():
        recorded = hashes.get(f"input:{label}")
        if not path.is_file():
            changed.append(f"{label} {path} (missing)")
        elif recorded is not None and _file_hash(path) != recorded:
            changed.append(f"{label} {path}")
    for key, recorded in hashes.items():
        if key.startswith("data/"):
            path = DATA_DIR.parent / key
            if not path.is_file() or _file_hash(path) != recorded:
                changed.append(key)
    old = run.manifest.get("files", {})
    present = manifest(run.folder)["files"]
    report = RerunReport(folder=run.folder, identical=False, changed_inputs=changed,
                         altered=sorted(k for k in old if present.get(k) != old[k]))
    if changed or report.altered:
        return report
    then, now = run.record.get("versions", {}), _versions()
    report.changed_versions = {k: (then.get(k, "?"), now.get(k, "?")) for k in sorted(set(then) | set(now))
                               if then.get(k) != now.get(k)}
    with tempfile.TemporaryDirectory(prefix="transit-rerun-") as tmp:
        scenario_text = (run.folder / "scenario.toml").read_bytes() if (run.folder / "scenario.toml").is_file() \
            else None
        again = run_scenario(run.scenario, out=Path(tmp) / "rerun", source_text=scenario_text,
                             argv=run.record.get("command"), use_cache=use_cache)
        new = again.manifest["files"]
    report.differing = sorted(k for k in old if k in new and old[k] != new[k])
    report.missing = sorted(set(old) - set(new))
    report.extra = sorted(set(new) - set(old))
    report.matched = sum(1 for k in old if k in new and old[k] == new[k])
    report.identical = not (report.differing or report.missing or report.extra)
    return report
