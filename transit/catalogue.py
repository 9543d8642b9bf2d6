"""The curated data of ``data/``: cities, axes, rail lines, expressways, projects.

Every loader validates what it reads and raises :class:`networks.errors.CatalogueError`
naming the file, the record and the field at fault.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from networks.errors import CatalogueError
from transit.config import DATA_DIR

__all__ = [
    "Axis",
    "Project",
    "Member",
    "load_cities",
    "load_axes",
    "load_rail_lines",
    "load_expressways",
    "load_projects",
    "load_timetable_checks",
    "check_city",
]

MODES = ("rail", "road")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{path}: not valid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{path}: not UTF-8 text (byte {exc.start}); JSON must be UTF-8") from None
    except IsADirectoryError:
        raise CatalogueError(f"{path}: is a folder; expected a JSON file") from None
    if not isinstance(data, dict):
        kind = {int: "number", float: "number", str: "string", list: "array", bool: "boolean"}.get(type(data), "null")
        raise CatalogueError(f"{path}: the top level is a JSON {kind}; expected an object")
    return data


def _read_csv(path: Path, required: list[str], **read_options: Any) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, **read_options)
    except FileNotFoundError:
        raise CatalogueError(f"{path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise CatalogueError(f"{path}: missing column(s) {missing}; expected {required}")
    return table


def load_cities(path: str | Path | None = None) -> pd.DataFrame:
    """Zones: one row per city with ``name_en``, ``name_zh``, ``lat``, ``lon``, ``population``."""
    path = Path(path) if path else DATA_DIR / "cities.csv"
    cities = _read_csv(path, ["name_en", "name_zh", "lat", "lon", "population"])
    for row in cities.itertuples():
        if not (-90 <= row.lat <= 90 and -180 <= row.lon <= 180):
            raise CatalogueError(f"{path}: city {row.name_en!r} has coordinates ({row.lon}, {row.lat}) out of range")
        if not row.population > 0:
            raise CatalogueError(f"{path}: city {row.name_en!r} population {row.population!r}; expected > 0")
    duplicated = cities["name_en"][cities["name_en"].duplicated()].tolist()
    if duplicated:
        raise CatalogueError(f"{path}: duplicate city name(s) {duplicated}")
    return cities.set_index("name_en", drop=False)


def check_city(name: str, known: list[str] | pd.Index, *, where: str) -> str:
    """Return ``name`` if it is a known city, else raise with the closest names suggested."""
    if name in set(known):
        return name
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise CatalogueError(f"{where}: unknown city {name!r}{hint}")


@dataclass(frozen=True)
class Axis:
    """A development axis (ordered cities) or a link (cities ``from`` x cities ``to``)."""

    id: str
    name_en: str
    name_zh: str
    cities: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    lead_city: str | None = None
    kind: str = "axis"

    def pairs(self) -> list[tuple[str, str]]:
        """The ordered city pairs the axis is measured on (both directions)."""
        if self.kind == "axis":
            return [(a, b) for a in self.cities for b in self.cities if a != b]
        out = []
        for a in self.origins:
            for b in self.destinations:
                out += [(a, b), (b, a)]
        return out

    @property
    def ends(self) -> tuple[str, str]:
        """The two end cities (for the end-to-end time); for a link, its first pair."""
        if self.kind == "axis":
            return self.cities[0], self.cities[-1]
        return self.origins[0], self.destinations[0]


def load_axes(cities: pd.DataFrame, path: str | Path | None = None) -> list[Axis]:
    """The four axes and the Hangzhou Bay link; every city must be a zone."""
    path = Path(path) if path else DATA_DIR / "axes.json"
    data = _read_json(path)
    known = list(cities.index)
    axes: list[Axis] = []
    for i, item in enumerate(data.get("axes", [])):
        where = f"{path}: axes[{i}] ({item.get('id', '?')})"
        names = item.get("cities") or []
        if len(names) < 2:
            raise CatalogueError(f"{where}: 'cities' needs at least two cities")
        names = tuple(check_city(c, known, where=where) for c in names)
        lead = item.get("lead_city")
        if lead is not None:
            check_city(lead, known, where=f"{where} lead_city")
        axes.append(Axis(id=item["id"], name_en=item["name_en"], name_zh=item.get("name_zh", ""),
                         cities=names, lead_city=lead))
    for i, item in enumerate(data.get("links", [])):
        where = f"{path}: links[{i}] ({item.get('id', '?')})"
        origins = tuple(check_city(c, known, where=where) for c in item.get("from", []))
        destinations = tuple(check_city(c, known, where=where) for c in item.get("to", []))
        if not origins or not destinations:
            raise CatalogueError(f"{where}: 'from' and 'to' must both list cities")
        axes.append(Axis(id=item["id"], name_en=item["name_en"], name_zh=item.get("name_zh", ""),
                         origins=origins, destinations=destinations, kind="link"))
    ids = [a.id for a in axes]
    if len(set(ids)) != len(ids):
        raise CatalogueError(f"{path}: duplicate axis ids in {ids}")
    if not axes:
        raise CatalogueError(f"{path}: no axes")
    return axes


def _check_point(point: dict, where: str) -> None:
    for key in ("lon", "lat"):
        value = point.get(key)
        if not isinstance(value, (int, float)) or math.isnan(value):
            raise CatalogueError(f"{where}: {key!r} must be a number, got {value!r}")
    if not (-180 <= point["lon"] <= 180 and -90 <= point["lat"] <= 90):
        raise CatalogueError(f"{where}: coordinates ({point['lon']}, {point['lat']}) out of range")


def load_rail_lines(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Rail lines in service (ordered stations with coordinates, speeds, opening dates)."""
    path = Path(path) if path else DATA_DIR / "rail_lines.json"
    lines = _read_json(path).get("lines", [])
    if not lines:
        raise CatalogueError(f"{path}: no 'lines'")
    for i, line in enumerate(lines):
        where = f"{path}: lines[{i}] ({line.get('id', '?')})"
        speed = line.get("max_operating_speed_kmh") or line.get("design_speed_kmh")
        if not isinstance(speed, (int, float)) or speed <= 0:
            raise CatalogueError(f"{where}: 'max_operating_speed_kmh' must be a positive number, got {speed!r}")
        stations = line.get("stations") or []
        if len(stations) < 2:
            raise CatalogueError(f"{where}: needs at least two stations")
        for j, station in enumerate(stations):
            if not station.get("name_en"):
                raise CatalogueError(f"{where} station {j}: missing 'name_en'")
            _check_point(station, f"{where} station {station['name_en']!r}")
    return lines


def load_expressways(cities: pd.DataFrame, path: str | Path | None = None) -> list[dict[str, Any]]:
    """Expressways as ordered waypoints; ``{"city": name}`` stops resolve to city centres."""
    path = Path(path) if path else DATA_DIR / "expressways.json"
    routes = _read_json(path).get("expressways", [])
    out = []
    for i, route in enumerate(routes):
        where = f"{path}: expressways[{i}] ({route.get('id', '?')})"
        stops = []
        for stop in route.get("stops", []):
            if "city" in stop:
                name = check_city(stop["city"], list(cities.index), where=where)
                stops.append({"name": name, "lon": float(cities.at[name, "lon"]), "lat": float(cities.at[name, "lat"])})
            else:
                _check_point(stop, f"{where} stop {stop.get('name', '?')!r}")
                stops.append({"name": stop["name"], "lon": stop["lon"], "lat": stop["lat"]})
        if len(stops) < 2:
            raise CatalogueError(f"{where}: needs at least two stops")
        out.append({**route, "stops": stops})
    return out


@dataclass(frozen=True)
class Member:
    """An alliance member: who it is and where it invests.

    ``province`` and ``city`` are its home ("" for a national body, or a provincial one's
    city); ``modes`` the modes it invests in (``rail``, ``road``).  The length rule of cost
    sharing (:mod:`transit.alliance`) gives each province's share to its provincial investor
    for the project's mode (a member with that ``province``, no ``city`` and the mode).
    """

    id: str
    name_en: str
    name_zh: str = ""
    province: str = ""
    city: str = ""
    modes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Project:
    """A candidate project of the catalogue."""

    id: str
    name_en: str
    name_zh: str
    mode: str
    kind: str
    status: str
    design_speed_kmh: float
    length_km: float | None
    cost_bn_cny: float
    lead_member: str
    axes: tuple[str, ...]
    alignment: tuple[dict[str, Any], ...]
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    expected_opening: int | None = None
    cost_basis: str = ""
    sources: tuple[str, ...] = ()
    cost_low_bn_cny: float | None = None  # the range of published (or derived) costs; None: only the central one
    cost_high_bn_cny: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


_MEMBER_KEYS = {"id", "name_en", "name_zh", "province", "city", "modes"}


def _member(item: Any, k: int, path: Path) -> Member:
    where = f"{path}: members[{k}]"
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        raise CatalogueError(f"{where}: expected an object with a non-empty string 'id'")
    _check_id(item["id"], where)
    unknown = sorted(set(item) - _MEMBER_KEYS)
    if unknown:
        raise CatalogueError(f"{where} ({item['id']}): unknown key(s) {unknown}; expected among {sorted(_MEMBER_KEYS)}")
    for key in ("name_en", "name_zh", "province", "city"):
        if not isinstance(item.get(key, ""), str):
            raise CatalogueError(f"{where} ({item['id']}): {key!r} = {item[key]!r}; expected a string")
    modes = item.get("modes", [])
    if not isinstance(modes, list) or not all(m in ("rail", "road") for m in modes):
        raise CatalogueError(f"{where} ({item['id']}): 'modes' = {modes!r}; expected a list of 'rail' and 'road'")
    return Member(item["id"], item.get("name_en", item["id"]), item.get("name_zh", ""), item.get("province", ""),
                  item.get("city", ""), tuple(modes))


def load_projects(
    path: str | Path | None = None, *, axis_ids: list[str] | None = None
) -> tuple[list[Member], list[Project]]:
    """Alliance members and candidate projects, validated (costs, references, cycles)."""
    path = Path(path) if path else DATA_DIR / "projects.json"
    data = _read_json(path)
    if not isinstance(data.get("projects", []), list) or not isinstance(data.get("members", []), list):
        raise CatalogueError(f"{path}: 'projects' and 'members' must be lists")
    members = [_member(m, k, path) for k, m in enumerate(data.get("members", []))]
    member_ids = {m.id for m in members}
    if len(member_ids) != len(members):
        dup = sorted({m.id for m in members if sum(x.id == m.id for x in members) > 1})
        raise CatalogueError(f"{path}: duplicate member id(s) {dup}")
    projects: list[Project] = []
    for i, item in enumerate(data.get("projects", [])):
        if not isinstance(item, dict):
            raise CatalogueError(f"{path}: projects[{i}] = {item!r}; expected an object")
        pid = item.get("id")
        where = f"{path}: projects[{i}] ({pid or '?'})"
        if not pid:
            raise CatalogueError(f"{where}: missing 'id'")
        cost = item.get("cost_bn_cny")
        if not isinstance(cost, (int, float)) or isinstance(cost, bool) or math.isnan(cost):
            raise CatalogueError(f"{where}: 'cost_bn_cny' is missing or not a number ({cost!r}); expected billion CNY >= 0")
        if cost < 0:
            raise CatalogueError(f"{where}: 'cost_bn_cny' = {cost}; expected a cost >= 0")
        low, high = item.get("cost_low_bn_cny"), item.get("cost_high_bn_cny")
        for name, value in (("cost_low_bn_cny", low), ("cost_high_bn_cny", high)):
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                      or math.isnan(value) or value < 0):
                raise CatalogueError(f"{where}: {name!r} = {value!r}; expected billion CNY >= 0")
        if (low is not None and low > cost) or (high is not None and high < cost):
            raise CatalogueError(f"{where}: cost range low {low!r}, central {cost!r}, high {high!r}; expected "
                                 "low <= central <= high")
        mode = item.get("mode")
        if mode not in MODES:
            raise CatalogueError(f"{where}: 'mode' = {mode!r}; expected one of {MODES}")
        speed = item.get("design_speed_kmh")
        if not isinstance(speed, (int, float)) or speed <= 0:
            raise CatalogueError(f"{where}: 'design_speed_kmh' = {speed!r}; expected a positive number")
        alignment = item.get("alignment") or []
        if len(alignment) < 2:
            raise CatalogueError(f"{where}: 'alignment' needs at least two points")
        for j, point in enumerate(alignment):
            _check_point(point, f"{where} alignment[{j}] ({point.get('name_en', '?')})")
        lead = item.get("lead_member")
        if member_ids and lead not in member_ids:
            raise CatalogueError(f"{where}: 'lead_member' = {lead!r} is not in 'members' {sorted(member_ids)}")
        axes = tuple(item.get("axes") or ())
        if axis_ids is not None:
            unknown = [a for a in axes if a not in axis_ids]
            if unknown:
                raise CatalogueError(f"{where}: unknown axis id(s) {unknown}; expected among {axis_ids}")
        known = {"id", "name_en", "name_zh", "mode", "kind", "status", "design_speed_kmh", "length_km",
                 "cost_bn_cny", "lead_member", "axes", "alignment", "requires", "excludes",
                 "expected_opening", "cost_basis", "sources", "cost_sources", "cost_low_bn_cny", "cost_high_bn_cny"}
        _check_project_schema(item, where, known)
        projects.append(Project(
            id=pid, name_en=item.get("name_en", pid), name_zh=item.get("name_zh", ""), mode=mode,
            kind=item.get("kind", "new_line"), status=item.get("status", ""), design_speed_kmh=float(speed),
            length_km=item.get("length_km"), cost_bn_cny=float(cost), lead_member=lead or "",
            axes=axes, alignment=tuple(alignment), requires=tuple(item.get("requires") or ()),
            excludes=tuple(item.get("excludes") or ()), expected_opening=item.get("expected_opening"),
            cost_basis=item.get("cost_basis", ""),
            sources=tuple(item.get("cost_sources") or ()) + tuple(item.get("sources") or ()),
            cost_low_bn_cny=None if low is None else float(low), cost_high_bn_cny=None if high is None else float(high),
            extra={k: v for k, v in item.items() if k not in known},
        ))
    if not projects:
        raise CatalogueError(f"{path}: 'projects' is empty; expected at least one candidate project")
    _check_references(projects, path)
    return members, projects


#: Documentation keys of a catalogue entry (kept in ``Project.extra``); with the model's keys,
#: the only ones accepted: a misspelled key (``"requries"``) is an error, not a silent loss.
PROJECT_NOTE_KEYS = {"notes", "status_date", "status_source", "cost_figures", "lead_note", "lead_source",
                     "length_note", "terminus_outside_bbox", "terminus_outside_network", "lanes_before",
                     "lanes_after"}
PROJECT_STATUSES = ("under_construction", "partly_open", "approved", "planned", "proposed")
PROJECT_KINDS = ("new_line", "crossing", "upgrade")


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_id(value: Any, where: str) -> None:
    """Ids are plain names (letters, digits, ``_``, ``-``, ``.``; not starting with a dot): never
    paths, so no output named after one can land outside the output folder."""
    if not isinstance(value, str) or not _ID.match(value) or ".." in value:
        raise CatalogueError(f"{where}: id {value!r}; expected letters, digits, '_', '-' or '.' "
                             "(not a path)")


def _check_project_schema(item: dict[str, Any], where: str, known: set[str]) -> None:
    """Unknown keys and wrong types in a catalogue entry, named with the entry."""
    _check_id(item.get("id"), where)
    allowed = known | PROJECT_NOTE_KEYS
    for key in item:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CatalogueError(f"{where}: unknown key {key!r}{hint}")
    for key in ("requires", "excludes", "axes", "sources", "cost_sources"):
        value = item.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise CatalogueError(f"{where}: {key!r} = {value!r}; expected a list of strings")
    for key in ("id", "name_en", "name_zh", "kind", "status", "cost_basis", "lead_member"):
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise CatalogueError(f"{where}: {key!r} = {value!r}; expected a string")
    if item.get("status") is not None and item["status"] not in PROJECT_STATUSES:
        raise CatalogueError(f"{where}: 'status' = {item['status']!r}; expected one of {PROJECT_STATUSES}")
    if item.get("kind") is not None and item["kind"] not in PROJECT_KINDS:
        raise CatalogueError(f"{where}: 'kind' = {item['kind']!r}; expected one of {PROJECT_KINDS}")
    opening = item.get("expected_opening")
    if opening is not None and (isinstance(opening, bool) or not isinstance(opening, int) or not 1900 < opening < 2300):
        raise CatalogueError(f"{where}: 'expected_opening' = {opening!r}; expected a calendar year")
    length = item.get("length_km")
    if length is not None and (isinstance(length, bool) or not isinstance(length, (int, float))
                               or not math.isfinite(length) or length < 0):
        raise CatalogueError(f"{where}: 'length_km' = {length!r}; expected kilometres >= 0")
    if not isinstance(item.get("alignment", []), list):
        raise CatalogueError(f"{where}: 'alignment' = {item['alignment']!r}; expected a list of points")


def _check_references(projects: list[Project], path: Path) -> None:
    ids = [p.id for p in projects]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise CatalogueError(f"{path}: duplicate project id(s) {duplicated}")
    by_id = {p.id: p for p in projects}
    for p in projects:
        for ref in p.requires + p.excludes:
            if ref not in by_id:
                close = difflib.get_close_matches(ref, ids, n=2)
                hint = f"; did you mean {close}?" if close else ""
                raise CatalogueError(f"{path}: project {p.id!r} refers to unknown project {ref!r}{hint}")
        both = set(p.requires) & set(p.excludes)
        if both:
            raise CatalogueError(f"{path}: project {p.id!r} both requires and excludes {sorted(both)}")
    # dependency cycles: depth-first search with colours
    state: dict[str, int] = {}

    def visit(pid: str, stack: list[str]) -> None:
        state[pid] = 1
        for dep in by_id[pid].requires:
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep] if dep in stack else [pid, dep]
                raise CatalogueError(f"{path}: dependency cycle {' -> '.join(cycle)}")
            if state.get(dep) is None:
                visit(dep, stack + [dep])
        state[pid] = 2

    for pid in ids:
        if state.get(pid) is None:
            visit(pid, [pid])


def load_timetable_checks(path: str | Path | None = None) -> pd.DataFrame:
    """Published fastest rail times between city pairs, with their sources."""
    path = Path(path) if path else DATA_DIR / "timetable_checks.csv"
    return _read_csv(path, ["origin_city", "destination_city", "origin_station", "destination_station",
                            "fastest_min", "source"])
