"""Every tag rule of networks.osm_tags, with exactly known answers."""

from __future__ import annotations

import pytest

from networks import osm_tags as t


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("60", 60.0),
        ("60 km/h", 60.0),
        ("60km/h", 60.0),
        ("60 kmh", 60.0),
        ("60 kph", 60.0),
        ("40 mph", 40 * 1.609344),
        ("50;70", 60.0),
        ("50|70", 60.0),
        (["50", "80 km/h"], 65.0),
        ("CN:urban", 50.0),
        ("CN:rural", 70.0),
        ("CN:motorway", 120.0),
        ("walk", 5.0),
        ("72.5", 72.5),
        (80, 80.0),
        ("none", None),
        ("signals", None),
        ("variable", None),
        ("DE:urban", None),
        ("0", None),
        ("", None),
        (None, None),
        ("fast", None),
        ("60;fast", 60.0),
    ],
)
def test_parse_maxspeed(value: object, expected: float | None) -> None:
    result = t.parse_maxspeed(value)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, rel=1e-12)


def test_road_speed_sources() -> None:
    assert t.road_speed_kph({"highway": "primary", "maxspeed": "40"}) == (40.0, "maxspeed")
    assert t.road_speed_kph({"highway": "motorway"}) == (120.0, "class")
    assert t.road_speed_kph({"highway": "trunk", "maxspeed": "none"}) == (80.0, "class")
    assert t.road_speed_kph({"highway": "track"}) == (30.0, "fallback")
    custom = {**t.CHINA_DEFAULT_SPEED_KPH, "primary": 55.0}
    assert t.road_speed_kph({"highway": "primary"}, default_speeds=custom) == (55.0, "class")


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "primary", "oneway": "yes"}, 1),
        ({"highway": "primary", "oneway": "true"}, 1),
        ({"highway": "primary", "oneway": "1"}, 1),
        ({"highway": "primary", "oneway": "-1"}, -1),
        ({"highway": "primary", "oneway": "reverse"}, -1),
        ({"highway": "primary", "oneway": "no"}, 0),
        ({"highway": "primary", "oneway": "reversible"}, 0),
        ({"highway": "primary"}, 0),
        ({"highway": "motorway"}, 1),
        ({"highway": "motorway", "oneway": "no"}, 0),
        ({"highway": "motorway_link"}, 0),
        ({"highway": "primary", "junction": "roundabout"}, 1),
        ({"highway": "primary", "junction": "circular"}, 1),
    ],
)
def test_oneway_direction(tags: dict[str, str], expected: int) -> None:
    assert t.oneway_direction(tags) == expected


def test_lanes() -> None:
    assert t.parse_lanes("3") == 3
    assert t.parse_lanes("2;3") == 3
    assert t.parse_lanes("x") is None
    assert t.parse_lanes(None) is None
    two_way = {"highway": "primary", "lanes": "3"}
    assert t.lanes_per_direction(two_way, forward=True) == 2
    assert t.lanes_per_direction(two_way, forward=False) == 1
    assert t.lanes_per_direction({"highway": "primary", "lanes": "1"}, forward=False) == 1  # at least one
    assert t.lanes_per_direction({"highway": "primary", "lanes": "3", "oneway": "yes"}, forward=True) == 3
    tagged = {"highway": "primary", "lanes": "3", "lanes:forward": "1", "lanes:backward": "2"}
    assert t.lanes_per_direction(tagged, forward=True) == 1
    assert t.lanes_per_direction(tagged, forward=False) == 2
    reversed_way = {"highway": "trunk", "oneway": "-1", "lanes:backward": "4"}
    assert t.lanes_per_direction(reversed_way, forward=True) == 4
    assert t.lanes_per_direction({"highway": "motorway"}, forward=True) == 2
    assert t.lanes_per_direction({"highway": "secondary"}, forward=True) == 1


def test_capacity() -> None:
    assert t.road_capacity_vph("motorway", 3) == 6000.0
    assert t.road_capacity_vph("primary", 2) == 2800.0
    assert t.road_capacity_vph("unknown", 1) == 900.0


def test_road_inclusion() -> None:
    classes = frozenset(t.DEFAULT_ROAD_CLASSES)
    assert t.road_way_included({"highway": "trunk"}, classes)
    assert not t.road_way_included({"highway": "residential"}, classes)
    assert not t.road_way_included({"highway": "primary", "access": "private"}, classes)
    assert not t.road_way_included({"highway": "primary", "access": "no"}, classes)
    assert t.road_way_included({"highway": "primary", "access": "no", "motor_vehicle": "yes"}, classes)
    assert not t.road_way_included({"highway": "primary", "motor_vehicle": "no"}, classes)
    assert not t.road_way_included({"highway": "primary", "area": "yes"}, classes)


def test_rail_inclusion() -> None:
    assert t.rail_way_included({"railway": "rail"})
    for service in ("yard", "siding", "spur", "crossover"):
        assert not t.rail_way_included({"railway": "rail", "service": service})
    assert not t.rail_way_included({"railway": "rail", "usage": "industrial"})
    assert t.rail_way_included({"railway": "rail", "usage": "main"})
    assert not t.rail_way_included({"railway": "light_rail"})
    assert t.rail_way_included({"railway": "light_rail"}, kinds={"rail", "light_rail"})
    assert not t.rail_way_included({"railway": "abandoned"})
    assert not t.rail_way_included({"railway": "rail", "disused": "yes"})


def test_rail_attributes() -> None:
    assert t.rail_is_highspeed({"highspeed": "yes"})
    assert not t.rail_is_highspeed({"name": "京沪高速铁路"})  # names are not guessed
    assert t.rail_is_electrified({"electrified": "contact_line"})
    assert t.rail_is_electrified({"electrified": "contact_line;rail"})
    assert not t.rail_is_electrified({"electrified": "no"})
    assert not t.rail_is_electrified({})
    assert t.rail_speed_kph({"railway": "rail", "maxspeed": "350"}) == (350.0, "maxspeed")
    assert t.rail_speed_kph({"railway": "rail", "highspeed": "yes"}) == (300.0, "default")
    assert t.rail_speed_kph({"railway": "rail", "usage": "main"}) == (160.0, "default")
    assert t.rail_speed_kph({"railway": "rail", "usage": "branch"}) == (100.0, "default")
    assert t.rail_speed_kph({"railway": "rail"}) == (120.0, "default")
    assert t.rail_speed_kph({"railway": "subway"}) == (80.0, "default")


def test_stations() -> None:
    rail = {"rail"}
    assert t.is_station({"railway": "station"}, kinds=rail)
    assert t.is_station({"railway": "halt"}, kinds=rail)
    assert t.is_station({"public_transport": "station", "train": "yes"}, kinds=rail)
    assert not t.is_station({"public_transport": "station", "bus": "yes"}, kinds=rail)
    assert not t.is_station({"railway": "station", "station": "subway"}, kinds=rail)
    assert t.is_station({"railway": "station", "station": "subway"}, kinds={"rail", "subway"})
    assert not t.is_station({"public_transport": "station", "light_rail": "yes"}, kinds=rail)
    assert t.is_station({"public_transport": "station", "light_rail": "yes"}, kinds={"rail", "light_rail"})
    assert not t.is_station({"railway": "signal"}, kinds=rail)
    assert t.station_dwell_s({"railway": "station"}) == 120.0
    assert t.station_dwell_s({"railway": "halt"}) == 60.0
