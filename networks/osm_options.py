"""Build options of the OSM road and rail graphs (:class:`RoadOptions`, :class:`RailOptions`)."""


from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from networks import osm_tags as tags_mod

log = logging.getLogger(__name__)

Network = Literal["road", "rail", "both"]
BBox = tuple[float, float, float, float]

EARTH_RADIUS_M = 6_371_009.0  # osmnx's mean Earth radius, so lengths match osmnx exactly
_CACHE_MAGIC = "yrd-transit-osm-cache-v1"

# a node where one of these changes stays a node after simplification, so a merged edge
# carries one value of each and its speed is the speed of every piece of it
# (lanes and capacity differ between the two directions of one road, so they cannot be
# compared at a node; a merged edge takes the bottleneck value instead)
_ROAD_DIFFER = ("highway", "name", "speed_kph", "oneway", "maxspeed")
_RAIL_DIFFER = ("railway", "name", "speed_kph", "highspeed", "usage", "service", "electrified")


@dataclass(frozen=True)
class RoadOptions:
    """How road ways become edges.

    Attributes
    ----------
    classes
        Highway classes to keep (default: motorway, trunk, primary and their links).
    default_speeds
        km/h per class when ``maxspeed`` is missing (China defaults, see
        :mod:`networks.osm_tags`).
    implicit_speeds
        km/h for implicit ``maxspeed`` values such as ``CN:urban``.
    lane_capacity
        veh/h per lane per class.
    default_lanes
        Lanes per direction per class when ``lanes`` is missing.
    """

    classes: tuple[str, ...] = tags_mod.DEFAULT_ROAD_CLASSES
    default_speeds: Mapping[str, float] = field(default_factory=lambda: dict(tags_mod.CHINA_DEFAULT_SPEED_KPH))
    implicit_speeds: Mapping[str, float] = field(
        default_factory=lambda: dict(tags_mod.CHINA_IMPLICIT_MAXSPEED_KPH)
    )
    lane_capacity: Mapping[str, float] = field(default_factory=lambda: dict(tags_mod.LANE_CAPACITY_VPH))
    default_lanes: Mapping[str, int] = field(default_factory=lambda: dict(tags_mod.DEFAULT_LANES_PER_DIRECTION))


@dataclass(frozen=True)
class RailOptions:
    """How rail ways and stations become a passenger rail graph.

    Attributes
    ----------
    light_rail, subway
        Also keep ``railway=light_rail`` / ``railway=subway`` track and their stations.
    excluded_services
        ``service=*`` values left out of passenger routing (yards, sidings, spurs,
        crossovers).
    excluded_usages
        ``usage=*`` values left out (industrial, military, test, freight).
    default_speeds
        km/h when ``maxspeed`` is missing, see :func:`networks.osm_tags.rail_speed_kph`.
    station_dwell_s, halt_dwell_s
        Dwell time at a ``railway=station`` and at a ``railway=halt`` (seconds).
    max_snap_m
        Stations further than this from the track graph are left out (and listed in the
        graph attribute ``unsnapped_stations``).
    """

    light_rail: bool = False
    subway: bool = False
    excluded_services: frozenset[str] = tags_mod.RAIL_EXCLUDED_SERVICES
    excluded_usages: frozenset[str] = tags_mod.RAIL_EXCLUDED_USAGES
    default_speeds: Mapping[str, float] = field(default_factory=lambda: dict(tags_mod.RAIL_DEFAULT_SPEED_KPH))
    station_dwell_s: float = 120.0
    halt_dwell_s: float = 60.0
    max_snap_m: float = 500.0

    @property
    def kinds(self) -> frozenset[str]:
        kinds = {"rail"}
        if self.light_rail:
            kinds.add("light_rail")
        if self.subway:
            kinds.add("subway")
        return frozenset(kinds)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _options_dict(
    network: str,
    bbox: BBox | None,
    road: RoadOptions,
    rail: RailOptions,
    simplify: bool,
    keep_attribute_changes: bool,
    retain_all: bool,
) -> dict[str, Any]:
    return _jsonable(
        {
            "network": network,
            "bbox": list(bbox) if bbox is not None else None,
            "road": asdict(road) if network in ("road", "both") else None,
            "rail": asdict(rail) if network in ("rail", "both") else None,
            "simplify": simplify,
            "keep_attribute_changes": keep_attribute_changes,
            "retain_all": retain_all,
        }
    )


