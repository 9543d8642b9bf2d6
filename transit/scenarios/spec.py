"""A planning scenario: a small TOML file a planner can read, keep and cite.

Example (every key but ``budget.amount`` is optional; paths are relative to the file)::

    name = "Bay crossing, 300 bn"
    description = "The two Hangzhou Bay road crossings against the rail tunnel"

    [network]
    source = "embedded"          # or "osm", with osm = "my_extract.osm.pbf"
    # osm_network = "both"       # which modes come from the OSM file

    [demand]
    year = 2035                  # grows the base-year demand at appraisal.demand_growth a year
    growth = 1.0                 # a further multiplier
    # od = "my_od.csv"           # an OD matrix instead of the fitted gravity model
    zones = "county"             # or "city"

    [candidates]
    # catalogue = "my_projects.json"
    include = []                 # only these candidates (empty: all)
    exclude = ["hzbay_road_2"]   # leave these (and what requires them) out

    [budget]
    amount = 300.0               # billion CNY
    ladder_steps = 8             # budgets on the ladder for the priority order (default 4)
    member_caps = { zj_invest = 120.0 }

    [objective]
    kind = "minutes"             # minutes | benefit | npv
    pairs = "axes"               # axes | all
    fairness = "none"            # none | maximin
    min_improvement = {}         # axis id (or "all") -> percent

    [congestion]
    enabled = false
    time_limit = 600             # seconds

    [solver]
    time_limit = 120             # seconds per budget step (then best found and gap)

    [model]
    # config = "my_model.toml"   # overrides of data/default_config.toml

Unknown keys and wrong types are refused with the file and line (:class:`ScenarioError`).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from networks.errors import InputError

__all__ = ["Scenario", "ScenarioError", "load_scenario", "SCHEMA"]


class ScenarioError(InputError):
    """A scenario file is malformed: unknown key, wrong type, bad value (file and line named)."""


_NUMBER = (int, float)
# section -> key -> (expected type, field name); a tuple of strings is a choice
SCHEMA: dict[str, dict[str, tuple[Any, str]]] = {
    "": {"name": (str, "name"), "description": (str, "description")},
    "network": {"source": (("embedded", "osm"), "network_source"), "osm": (Path, "osm"),
                "osm_network": (("road", "rail", "both"), "osm_network")},
    "demand": {"year": (int, "year"), "growth": (_NUMBER, "growth"), "od": (Path, "od"),
               "zones": (("county", "city"), "zones")},
    "candidates": {"catalogue": (Path, "projects_path"), "axes": (Path, "axes_path"),
                   "include": ([str], "include_projects"), "exclude": ([str], "exclude_projects")},
    "budget": {"amount": (_NUMBER, "budget"), "ladder_steps": (int, "ladder_steps"),
               "member_caps": ({str: _NUMBER}, "member_caps")},
    "objective": {"kind": (("minutes", "benefit", "npv"), "objective"), "pairs": (("axes", "all"), "pairs"),
                  "fairness": (("none", "maximin"), "fairness"),
                  "min_improvement": ({str: _NUMBER}, "min_improvement")},
    "congestion": {"enabled": (bool, "congestion"), "time_limit": (_NUMBER, "congestion_time_limit")},
    "solver": {"time_limit": (_NUMBER, "time_limit")},
    "model": {"config": (Path, "config_path")},
}


@dataclass(frozen=True)
class Scenario:
    """One planning scenario; everything not given keeps the default configuration.

    Build one in Python (``Scenario("base", budget=300)``) or read it from a file
    (:func:`load_scenario`); :meth:`run` optimises it and writes a run folder,
    :meth:`to_toml` writes the file a colleague can rerun.
    """

    name: str
    budget: float
    growth: float | None = None
    exclude_projects: tuple[str, ...] = ()
    member_caps: dict[str, float] = field(default_factory=dict)
    pairs: str | None = None
    config_path: str | None = None
    ladder_steps: int = 4
    description: str = ""
    network_source: str = "embedded"
    osm: str | None = None
    osm_network: str = "both"
    year: int | None = None
    od: str | None = None
    zones: str | None = None
    projects_path: str | None = None
    axes_path: str | None = None
    include_projects: tuple[str, ...] = ()
    objective: str = "minutes"
    fairness: str = "none"
    min_improvement: dict[str, float] = field(default_factory=dict)
    congestion: bool = False
    congestion_time_limit: float | None = None
    time_limit: float | None = None

    def __post_init__(self) -> None:
        where = f"scenario {self.name!r}"
        if not isinstance(self.budget, _NUMBER) or isinstance(self.budget, bool) or not math.isfinite(self.budget) \
                or self.budget < 0:
            raise ScenarioError(f"{where}: budget {self.budget!r}; expected a finite number of billion CNY >= 0")
        if self.network_source == "osm" and not self.osm:
            raise ScenarioError(f"{where}: network source 'osm' needs network.osm = FILE")
        if self.network_source == "embedded" and self.osm:
            raise ScenarioError(f"{where}: network.osm is given but network.source is 'embedded'; set source = 'osm'")
        if self.fairness == "maximin" and self.min_improvement:
            raise ScenarioError(f"{where}: objective.fairness = 'maximin' and objective.min_improvement exclude "
                                "each other")
        if isinstance(self.ladder_steps, bool) or not isinstance(self.ladder_steps, int) or self.ladder_steps < 1:
            raise ScenarioError(f"{where}: budget.ladder_steps {self.ladder_steps!r}; expected a whole number >= 1")
        for label, value in (("solver.time_limit", self.time_limit),
                             ("congestion.time_limit", self.congestion_time_limit), ("demand.growth", self.growth)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ScenarioError(f"{where}: {label} {value!r}; expected a number > 0")
        overlap = sorted(set(self.include_projects) & set(self.exclude_projects))
        if overlap:
            raise ScenarioError(f"{where}: candidates {overlap} are both included and excluded")

    # ------------------------------------------------------------------ model inputs
    def input_files(self) -> dict[str, Path]:
        """The user files this scenario reads (label -> path), for hashing into the run record."""
        labels = {"model config": self.config_path, "catalogue": self.projects_path, "axes": self.axes_path,
                  "OD matrix": self.od, "OSM extract": self.osm}
        return {label: Path(path) for label, path in labels.items() if path}

    def config(self) -> dict[str, Any]:
        """The model configuration: the defaults, the scenario's config file, then its overrides."""
        from transit.config import load_config

        overrides: dict[str, Any] = {"objective__pairs": self.pairs, "zones__level": self.zones}
        base = load_config(self.config_path, **{k: v for k, v in overrides.items() if v is not None})
        growth = base["demand"]["growth"] if self.growth is None else self.growth
        if self.year is not None:
            growth *= self.year_multiplier(base)
        return load_config(self.config_path, demand__growth=growth,
                           **{k: v for k, v in overrides.items() if v is not None})

    def year_multiplier(self, config: dict[str, Any]) -> float:
        """Demand in ``year`` over the base year's: ``appraisal.demand_growth`` a year to its end year."""
        a = config["appraisal"]
        if self.year is None:
            return 1.0
        if self.year < a["base_year"]:
            raise ScenarioError(f"scenario {self.name!r}: demand.year {self.year} is before the model's base year "
                                f"{a['base_year']}")
        return (1 + a["demand_growth"]) ** (min(self.year, a["growth_end_year"]) - a["base_year"])

    def excluded(self) -> tuple[str, ...]:
        """Candidates left out: ``exclude`` plus, with ``include``, every other candidate."""
        if not self.include_projects:
            return tuple(self.exclude_projects)
        from transit.catalogue import load_projects

        _, projects = load_projects(self.projects_path)
        ids = [p.id for p in projects]
        unknown = sorted(set(self.include_projects) - set(ids))
        if unknown:
            raise ScenarioError(f"scenario {self.name!r}: candidates.include names unknown project(s) {unknown}")
        return tuple(sorted(set(self.exclude_projects) | (set(ids) - set(self.include_projects))))

    def optimization_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`transit.optimize.run_optimization` (besides the config)."""
        return {"budget": float(self.budget), "member_caps": dict(self.member_caps), "ladder_steps": self.ladder_steps,
                "time_limit": self.time_limit, "projects_path": self.projects_path, "axes_path": self.axes_path,
                "exclude_projects": self.excluded(), "osm": self.osm, "osm_network": self.osm_network,
                "congestion": self.congestion, "congestion_time_limit": self.congestion_time_limit, "od": self.od,
                "objective": self.objective, "fairness": None if self.fairness == "none" else self.fairness,
                "min_improvement": dict(self.min_improvement) or None}

    # ------------------------------------------------------------------ running
    def run(self, out: str | Path | None = None, *, runs_dir: str | Path = "runs") -> Any:
        """Optimise this scenario and write its run folder; returns the :class:`RunRecord`."""
        from transit.scenarios.records import run_scenario

        return run_scenario(self, out=out, runs_dir=runs_dir)

    # ------------------------------------------------------------------ files
    def to_toml(self) -> str:
        """The scenario as a TOML file (paths as given; :func:`load_scenario` reads it back)."""
        lines = [f"name = {_toml(self.name)}"]
        if self.description:
            lines.append(f"description = {_toml(self.description)}")
        defaults = {f.name: f.default for f in fields(Scenario)}
        defaults.update(member_caps={}, min_improvement={})
        for section, keys in SCHEMA.items():
            if not section:
                continue
            body = []
            for key, (_, attr) in keys.items():
                value = getattr(self, attr)
                if attr == "budget" or value != defaults.get(attr) and value not in (None, (), {}):
                    body.append(f"{key} = {_toml(value)}")
            if body:
                lines += ["", f"[{section}]", *body]
        return "\n".join(lines) + "\n"

    def with_paths_from(self, folder: Path) -> Scenario:
        """The scenario with its relative paths resolved against ``folder`` (a file's own folder)."""
        changes = {}
        for attr in ("osm", "od", "projects_path", "axes_path", "config_path"):
            value = getattr(self, attr)
            if value and not Path(value).is_absolute():
                changes[attr] = str((folder / value).resolve())
        return replace(self, **changes)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):  # a TOML basic string: backslash, quote and control characters escaped
        return '"' + "".join("\\\\" if c == "\\" else '\\"' if c == '"' else f"\\u{ord(c):04x}"
                             if ord(c) < 0x20 or ord(c) == 0x7F else c for c in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")  # pragma: no cover


def _line_of(text: str, section: str, key: str) -> int | None:
    """The 1-based line where ``key`` is set in ``[section]`` (or the section header itself)."""
    current = ""
    header = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        m = re.match(r"^\[\s*([^\]]+?)\s*\]$", line)
        if m:
            current = m.group(1)
            if current == section and not key:
                return number
            if current == section:
                header = number
            continue
        if current == section and key and re.match(rf'^"?{re.escape(key)}"?\s*=', line):
            return number
    return header


def _check(value: Any, expected: Any, where: str) -> Any:
    """``value`` converted to the field's type, or a ScenarioError saying what was expected."""
    if isinstance(expected, tuple) and all(isinstance(x, str) for x in expected):
        if value not in expected:
            raise ScenarioError(f"{where} = {value!r}; expected one of {', '.join(repr(x) for x in expected)}")
        return value
    if expected is Path:
        if not isinstance(value, str) or not value:
            raise ScenarioError(f"{where} = {value!r}; expected a file path (a string)")
        return value
    if expected is bool:
        if not isinstance(value, bool):
            raise ScenarioError(f"{where} = {value!r}; expected true or false")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where} = {value!r}; expected a whole number")
        return value
    if expected is _NUMBER:
        if isinstance(value, bool) or not isinstance(value, _NUMBER) or not math.isfinite(value):
            raise ScenarioError(f"{where} = {value!r}; expected a finite number")
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise ScenarioError(f"{where} = {value!r}; expected a string")
        return value
    if isinstance(expected, list):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ScenarioError(f"{where} = {value!r}; expected a list of names (strings)")
        if len(set(value)) != len(value):
            raise ScenarioError(f"{where} = {value!r}; a name is listed twice")
        return tuple(value)
    if isinstance(expected, dict):
        if not isinstance(value, dict):
            raise ScenarioError(f"{where} = {value!r}; expected a table of name = number")
        out = {}
        for k, v in value.items():
            out[k] = _check(v, _NUMBER, f"{where}.{k}")
            if out[k] < 0:
                raise ScenarioError(f"{where}.{k} = {v!r}; expected a number >= 0")
        return out
    raise AssertionError(expected)  # pragma: no cover


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file (TOML); relative paths in it are resolved against its folder.

    Raises
    ------
    ScenarioError
        A missing or unreadable file, invalid TOML, an unknown section or key, a value of the
        wrong type or out of range: the message names the file and the line.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a folder; expected a scenario file (TOML)") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}); a scenario is a UTF-8 TOML file") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    values: dict[str, Any] = {}
    for section, content in data.items():
        if section in SCHEMA and section and not isinstance(content, dict):
            raise ScenarioError(f"{path}, line {_line_of(text, '', section)}: {section!r} must be a table "
                                f"([{section}] with keys {sorted(SCHEMA[section])})")
        if section in SCHEMA and section:
            items, prefix = content.items(), f"{section}."
        elif section in SCHEMA[""]:
            items, prefix = [(section, content)], ""
            section = ""
        else:
            line = _line_of(text, section, "") or _line_of(text, "", section)
            known = sorted([*SCHEMA[""], *(f"[{s}]" for s in SCHEMA if s)])
            raise ScenarioError(f"{path}, line {line}: unknown key or section {section!r}; expected one of {known}")
        for key, value in items:
            if key not in SCHEMA[section]:
                line = _line_of(text, section, key)
                close = sorted(SCHEMA[section])
                raise ScenarioError(f"{path}, line {line}: unknown key {prefix}{key!r}; expected one of {close}")
            expected, attr = SCHEMA[section][key]
            line = _line_of(text, section, key)
            values[attr] = _check(value, expected, f"{path}, line {line}: {prefix}{key}")
    if "budget" not in values:
        raise ScenarioError(f"{path}: [budget] amount is required (billion CNY)")
    values.setdefault("name", path.stem)
    try:
        scenario = Scenario(**values)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return scenario.with_paths_from(path.resolve().parent)
