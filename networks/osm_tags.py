"""Pure OpenStreetMap tag rules for road and rail graphs.

Every rule that turns OSM tags into a graph attribute lives here as a small function of
plain values, so each one can be tested with exactly known answers and changed in one
place.  Nothing in this module reads files or builds graphs.

Sources of the default values
-----------------------------
- Legal speed limits: *Implementing Regulations of the Road Traffic Safety Law of the
  People's Republic of China* (中华人民共和国道路交通安全法实施条例, 2004), Art. 45
  (roads without signed limits: 30 km/h urban / 40 km/h highway without a centre line,
  50 km/h urban / 70 km/h highway with one lane per direction) and Art. 78 (expressways:
  at most 120 km/h, at least 60 km/h).
- Urban design speeds: *Code for Design of Urban Road Engineering* CJJ 37-2012
  (城市道路工程设计规范), Table 3.2.2: expressway 60-100, arterial 40-60, secondary
  trunk 30-50, branch 20-40 km/h.  The class defaults below pick values inside those ranges
  that suit regional (inter-city) work: free-flow planning speeds, not posted limits.
- Lane capacities: CJJ 37-2012 Sec. 4.4 (design capacity per lane of uninterrupted flow
  2000/1750/1400 pcu/h at 100/80/60 km/h; interrupted-flow roads 1100-1400 pcu/h) and the
  expressway basic capacities of JTG B01-2014.  Planning-level values; override them for
  a calibrated study.
- Rail: OSM ``railway=*``, ``service=*``, ``usage=*``, ``highspeed=*``, ``electrified=*``
  as documented on the OSM wiki (Key:railway, Key:service, Key:usage, Key:electrified).
  China's high-speed lines run at 300-350 km/h, conventional main lines at 120-160 km/h.

All tables are plain dicts: pass a modified copy to the builders to change them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

__all__ = [
    "DEFAULT_ROAD_CLASSES",
    "DRIVE_ROAD_CLASSES",
    "CHINA_DEFAULT_SPEED_KPH",
    "CHINA_IMPLICIT_MAXSPEED_KPH",
    "DEFAULT_LANES_PER_DIRECTION",
    "LANE_CAPACITY_VPH",
    "RAIL_EXCLUDED_SERVICES",
    "RAIL_EXCLUDED_USAGES",
    "RAIL_DEFAULT_SPEED_KPH",
    "MPH_TO_KPH",
    "parse_maxspeed",
    "road_speed_kph",
    "oneway_direction",
    "parse_lanes",
    "lanes_per_direction",
    "road_capacity_vph",
    "road_way_included",
    "rail_way_included",
    "rail_is_highspeed",
    "rail_is_electrified",
    "rail_speed_kph",
    "is_station",
    "station_dwell_s",
]

MPH_TO_KPH = 1.609344

#: Highway classes of a regional (inter-city) road graph.
DEFAULT_ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
)

#: Highway classes of osmnx's ``network_type="drive"`` (its filter minus the tag exclusions).
DRIVE_ROAD_CLASSES: tuple[str, ...] = (
    *DEFAULT_ROAD_CLASSES,
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
)

#: Free-flow speed per highway class when ``maxspeed`` is missing or unusable (km/h).
CHINA_DEFAULT_SPEED_KPH: dict[str, float] = {
    "motorway": 120.0,  # legal maximum on expressways (Art. 78)
    "motorway_link": 60.0,
    "trunk": 80.0,  # urban expressways / first-class highways
    "trunk_link": 50.0,
    "primary": 60.0,  # arterial, top of CJJ 37-2012 range
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,  # Art. 45: no centre line, urban
    "living_street": 20.0,
    "service": 20.0,
}

#: Speeds for implicit ``maxspeed`` values such as ``CN:urban`` (km/h).
CHINA_IMPLICIT_MAXSPEED_KPH: dict[str, float] = {
    "CN:motorway": 120.0,
    "CN:urban": 50.0,
    "CN:rural": 70.0,
    "walk": 5.0,
}

#: Lanes per direction assumed when ``lanes`` is not tagged.
DEFAULT_LANES_PER_DIRECTION: dict[str, int] = {
    "motorway": 2,
    "trunk": 2,
    "primary": 2,
    "secondary": 1,
    "tertiary": 1,
    "unclassified": 1,
    "residential": 1,
    "living_street": 1,
    "service": 1,
    "motorway_link": 1,
    "trunk_link": 1,
    "primary_link": 1,
    "secondary_link": 1,
    "tertiary_link": 1,
}

#: Capacity per lane per class (vehicles per hour per lane).
LANE_CAPACITY_VPH: dict[str, float] = {
    "motorway": 2000.0,
    "motorway_link": 1500.0,
    "trunk": 1750.0,
    "trunk_link": 1400.0,
    "primary": 1400.0,
    "primary_link": 1200.0,
    "secondary": 1300.0,
    "secondary_link": 1100.0,
    "tertiary": 1100.0,
    "tertiary_link": 1000.0,
    "unclassified": 1000.0,
    "residential": 900.0,
    "living_street": 600.0,
    "service": 600.0,
}

#: ``service=*`` values that are not passenger running lines.
RAIL_EXCLUDED_SERVICES: frozenset[str] = frozenset({"yard", "siding", "spur", "crossover"})

#: ``usage=*`` values that carry no passengers.
RAIL_EXCLUDED_USAGES: frozenset[str] = frozenset({"industrial", "military", "test", "freight"})

#: Running speed when ``maxspeed`` is missing (km/h), by the first matching key.
RAIL_DEFAULT_SPEED_KPH: dict[str, float] = {
    "highspeed": 300.0,
    "main": 160.0,
    "branch": 100.0,
    "tourism": 60.0,
    "light_rail": 80.0,
    "subway": 80.0,
    "rail": 120.0,
}

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_MAXSPEED_RE = re.compile(rf"^\s*{_NUMBER}\s*(km/h|kmh|kph|km|mph)?\s*$", re.IGNORECASE)
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_ONEWAY_TWO_WAY = frozenset({"no", "false", "0", "reversible", "alternating"})
_ELECTRIFIED_YES = frozenset({"contact_line", "rail", "yes", "4th_rail", "ground-level_power_supply"})


def _parse_one_speed(value: str, implicit: Mapping[str, float]) -> float | None:
    value = value.strip()
    if value in implicit:
        return float(implicit[value])
    match = _MAXSPEED_RE.match(value)
    if match is None:
        return None
    number = float(match.group(1).replace(",", "."))
    if number <= 0:
        return None
    unit = (match.group(2) or "km/h").lower()
    return number * MPH_TO_KPH if unit == "mph" else number


def parse_maxspeed(
    value: object,
    *,
    implicit: Mapping[str, float] = CHINA_IMPLICIT_MAXSPEED_KPH,
) -> float | None:
    """Parse an OSM ``maxspeed`` value into km/h.

    Parameters
    ----------
    value
        The tag value: ``"60"``, ``"60 km/h"``, ``"60kmh"``, ``"40 mph"``, a list such as
        ``"60;80"`` or ``"60|80"`` (or a Python list of such values), or an implicit value
        such as ``"CN:urban"`` looked up in ``implicit``.
    implicit
        Speeds for implicit values (zone codes and ``walk``).

    Returns
    -------
    float or None
        The speed in km/h; the mean of the parsable entries for a list (as osmnx does);
        ``None`` when nothing can be parsed (``none``, ``signals``, ``variable``, unknown
        zone codes), so the caller falls back to a class default.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value > 0 and math.isfinite(value) else None
    parts: list[str]
    if isinstance(value, (list, tuple)):
        parts = [str(v) for v in value]
    else:
        parts = re.split(r"[;|]", str(value))
    speeds = [s for s in (_parse_one_speed(p, implicit) for p in parts if p.strip()) if s is not None]
    if not speeds:
        return None
    return sum(speeds) / len(speeds)


def road_speed_kph(
    tags: Mapping[str, str],
    *,
    default_speeds: Mapping[str, float] = CHINA_DEFAULT_SPEED_KPH,
    implicit: Mapping[str, float] = CHINA_IMPLICIT_MAXSPEED_KPH,
    fallback_kph: float = 30.0,
) -> tuple[float, str]:
    """Free-flow speed of a road way and where it came from.

    Direction-specific ``maxspeed:forward`` is not used: one speed per way keeps both
    directions symmetric, which is what regional skims need.

    Returns
    -------
    (float, str)
        Speed in km/h and its source: ``"maxspeed"``, ``"class"`` (the class default) or
        ``"fallback"`` (class missing from ``default_speeds``).
    """
    parsed = parse_maxspeed(tags.get("maxspeed"), implicit=implicit)
    if parsed is not None:
        return parsed, "maxspeed"
    highway = tags.get("highway", "")
    if highway in default_speeds:
        return float(default_speeds[highway]), "class"
    return float(fallback_kph), "fallback"


def oneway_direction(tags: Mapping[str, str]) -> int:
    """Travel directions allowed on a road way.

    Returns
    -------
    int
        ``1`` one-way along the node order, ``-1`` one-way against it, ``0`` both ways.
        Explicit ``oneway`` values win; otherwise ``junction=roundabout|circular`` and
        ``highway=motorway`` imply one-way (OSM wiki, Key:oneway).  ``reversible`` and
        ``alternating`` are treated as two-way, as osmnx does.
    """
    value = str(tags.get("oneway", "")).strip().lower()
    if value in _ONEWAY_FORWARD:
        return 1
    if value in _ONEWAY_BACKWARD:
        return -1
    if value in _ONEWAY_TWO_WAY:
        return 0
    if tags.get("junction") in {"roundabout", "circular"}:
        return 1
    if tags.get("highway") == "motorway":
        return 1
    return 0


def parse_lanes(value: object) -> int | None:
    """Parse a ``lanes`` value: ``"3"`` -> 3, ``"2;3"`` -> 3 (the largest), junk -> None."""
    if value is None:
        return None
    found = [int(float(x)) for x in re.findall(r"\d+(?:\.\d+)?", str(value))]
    found = [n for n in found if n > 0]
    return max(found) if found else None


def lanes_per_direction(
    tags: Mapping[str, str],
    *,
    forward: bool,
    default_lanes: Mapping[str, int] = DEFAULT_LANES_PER_DIRECTION,
) -> int:
    """Lanes available in one direction of travel.

    ``lanes:forward`` / ``lanes:backward`` win.  Otherwise a one-way way gives all its
    ``lanes`` to its direction, and a two-way way splits them, the odd lane going forward
    (``lanes=3`` -> 2 forward, 1 backward).  Untagged ways use the class default; the
    result is at least 1.
    """
    direction = oneway_direction(tags)
    key = "lanes:forward" if forward else "lanes:backward"
    if direction == -1:
        # a reversed one-way runs against the node order: its lanes are the "backward" ones
        key = "lanes:backward" if forward else "lanes:forward"
    specific = parse_lanes(tags.get(key))
    if specific is not None:
        return specific
    total = parse_lanes(tags.get("lanes"))
    if total is None:
        return max(1, int(default_lanes.get(tags.get("highway", ""), 1)))
    if direction != 0:
        return total
    half = total // 2
    return max(1, total - half if forward else half)


def road_capacity_vph(
    highway: str,
    lanes: int,
    *,
    lane_capacity: Mapping[str, float] = LANE_CAPACITY_VPH,
    fallback_vph: float = 900.0,
) -> float:
    """Capacity of one direction: lanes x per-lane capacity of the class (veh/h)."""
    return float(lanes) * float(lane_capacity.get(highway, fallback_vph))


def road_way_included(tags: Mapping[str, str], classes: frozenset[str] | set[str]) -> bool:
    """Whether a way belongs to a drivable road graph of the given highway classes.

    Excludes areas, ``access=no|private`` (unless ``motor_vehicle``/``motorcar`` allow
    it), and ``motor_vehicle=no``, as osmnx's drive filter does.
    """
    if tags.get("highway") not in classes:
        return False
    if tags.get("area") == "yes":
        return False
    allowed = {"yes", "designated", "permissive", "destination"}
    if tags.get("motor_vehicle") in allowed or tags.get("motorcar") in allowed:
        return True
    if tags.get("motor_vehicle") == "no" or tags.get("motorcar") == "no":
        return False
    return tags.get("access") not in {"no", "private"}


def rail_way_included(
    tags: Mapping[str, str],
    *,
    kinds: frozenset[str] | set[str] = frozenset({"rail"}),
    excluded_services: frozenset[str] | set[str] = RAIL_EXCLUDED_SERVICES,
    excluded_usages: frozenset[str] | set[str] = RAIL_EXCLUDED_USAGES,
) -> bool:
    """Whether a way belongs to the passenger rail graph.

    ``railway`` must be one of ``kinds`` (``rail``, optionally ``light_rail``,
    ``subway``); yards, sidings, spurs and crossovers (``service=*``) and
    freight-only/industrial/military/test ``usage`` are excluded, as is track under
    ``construction`` or marked ``disused``.
    """
    if tags.get("railway") not in kinds:
        return False
    if tags.get("service") in excluded_services:
        return False
    if tags.get("usage") in excluded_usages:
        return False
    return not (tags.get("disused") == "yes" or tags.get("abandoned") == "yes")


def rail_is_highspeed(tags: Mapping[str, str]) -> bool:
    """``highspeed=yes`` (the OSM tag; names are not guessed)."""
    return str(tags.get("highspeed", "")).lower() == "yes"


def rail_is_electrified(tags: Mapping[str, str]) -> bool:
    """Electrified track: ``electrified`` is a power system (``contact_line``, ``rail``...).

    ``no``, ``unknown`` and untagged give False (not known to be electrified).
    """
    values = {v.strip().lower() for v in str(tags.get("electrified", "")).split(";")}
    return bool(values & _ELECTRIFIED_YES)


def rail_speed_kph(
    tags: Mapping[str, str],
    *,
    default_speeds: Mapping[str, float] = RAIL_DEFAULT_SPEED_KPH,
) -> tuple[float, str]:
    """Running speed of a rail way and its source (``"maxspeed"`` or ``"default"``).

    ``maxspeed`` wins.  Otherwise the first of ``highspeed`` (``highspeed=yes``), the
    ``usage`` value, the ``railway`` value, and ``rail`` found in ``default_speeds``.
    """
    parsed = parse_maxspeed(tags.get("maxspeed"), implicit={})
    if parsed is not None:
        return parsed, "maxspeed"
    keys = []
    if rail_is_highspeed(tags):
        keys.append("highspeed")
    keys += [tags.get("usage", ""), tags.get("railway", ""), "rail"]
    for key in keys:
        if key in default_speeds:
            return float(default_speeds[key]), "default"
    return 120.0, "default"


def is_station(
    tags: Mapping[str, str],
    *,
    kinds: frozenset[str] | set[str] = frozenset({"rail"}),
) -> bool:
    """Whether a node is a passenger station of the selected rail kinds.

    ``railway=station|halt``, or ``public_transport=station`` with ``train=yes``.
    Stations tagged ``station=subway|light_rail`` (or with ``subway=yes`` /
    ``light_rail=yes`` and no ``train=yes``) count only when that kind is selected.
    """
    railway = tags.get("railway")
    if railway not in {"station", "halt"} and tags.get("public_transport") != "station":
        return False
    kind = tags.get("station")
    if kind in {"subway", "light_rail"}:
        return kind in kinds
    if tags.get("train") == "yes":
        return "rail" in kinds
    if railway in {"station", "halt"} and tags.get("train") != "no" and kind in {None, "train"}:
        return "rail" in kinds
    # a public_transport=station without train=yes is a metro or tram stop
    return ("subway" in kinds and tags.get("subway") == "yes") or (
        "light_rail" in kinds and tags.get("light_rail") == "yes"
    )


def station_dwell_s(
    tags: Mapping[str, str],
    *,
    station_dwell: float = 120.0,
    halt_dwell: float = 60.0,
) -> float:
    """Dwell time at a station node: ``halt`` (a minor stop) vs a full station (seconds)."""
    return float(halt_dwell if tags.get("railway") == "halt" else station_dwell)
