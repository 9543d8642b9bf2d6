"""Model configuration: the defaults in ``data/default_config.toml`` plus user overrides."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from networks.errors import InputError

__all__ = ["DATA_DIR", "load_config", "config_hash"]

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEFAULT_CONFIG = DATA_DIR / "default_config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"config file {path}: not UTF-8 text (byte {exc.start}); TOML must be UTF-8") from None
    except IsADirectoryError:
        raise InputError(f"config file {path} is a folder; expected a TOML file") from None


def _merge(base: dict[str, Any], override: dict[str, Any], source: Path, prefix: str = "") -> None:
    for key, value in override.items():
        name = f"{prefix}{key}"
        if key not in base:
            raise InputError(f"config file {source}: unknown key {name!r}; expected one of "
                             f"{sorted(prefix + k for k in base)}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise InputError(f"config file {source}: {name!r} must be a table")
            _merge(base[key], value, source, f"{name}.")
        else:
            if isinstance(base[key], (int, float)) and not isinstance(base[key], bool):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InputError(f"config file {source}: {name!r} must be a number, got {value!r}")
            elif type(value) is not type(base[key]):
                raise InputError(f"config file {source}: {name!r} must be {type(base[key]).__name__}, got {value!r}")
            elif isinstance(value, list) and base[key]:
                kinds = {type(x) for x in base[key]}
                numbers = kinds <= {int, float}
                for k, item in enumerate(value):
                    ok = (isinstance(item, (int, float)) and not isinstance(item, bool)) if numbers \
                        else type(item) in kinds
                    if not ok:
                        expected = "a number" if numbers else " or ".join(sorted(t.__name__ for t in kinds))
                        raise InputError(f"config file {source}: {name}[{k}] = {item!r}; expected {expected}")
            base[key] = value


def load_config(path: str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """The default configuration, updated from the TOML file ``path`` and ``overrides``.

    ``overrides`` use ``section__key`` names, e.g. ``demand__growth=1.2``.
    """
    config = _read_toml(DEFAULT_CONFIG)
    if path is not None:
        _merge(config, _read_toml(Path(path)), Path(path))
    nested: dict[str, dict[str, Any]] = {}
    for name, value in overrides.items():
        section, _, key = name.partition("__")
        nested.setdefault(section, {})[key] = value
    _merge(config, nested, Path("<arguments>"))
    _validate(config)
    return copy.deepcopy(config)


def _validate(config: dict[str, Any]) -> None:
    for section, values in config.items():
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if value != value or value in (float("inf"), float("-inf")):
                    raise InputError(f"config {section}.{key} = {value}: expected a finite number")
                if value < 0 and (section, key) not in SIGNED:
                    raise InputError(f"config {section}.{key} = {value}: expected a value >= 0")
    for section, key in POSITIVE:
        if not config[section][key] > 0:
            raise InputError(f"config {section}.{key} = {config[section][key]}: expected a value > 0")
    for section, key in INTEGERS:
        value = config[section][key]
        if int(value) != value or value < 1:
            raise InputError(f"config {section}.{key} = {value}: expected a whole number >= 1")
    if not config["congestion"]["background_share"] < 1:
        raise InputError(f"config congestion.background_share = {config['congestion']['background_share']}: "
                         "expected a share below 1 (some capacity must be left for the modelled trips)")
    if config["zones"]["level"] not in ("county", "city"):
        raise InputError(f"config zones.level = {config['zones']['level']!r}: expected 'county' or 'city'")
    if config["mode_choice"]["nest"] not in ("none", "road"):
        raise InputError(f"config mode_choice.nest = {config['mode_choice']['nest']!r}: expected 'none' or 'road'")
    if not config["mode_choice"]["road_nest_mu"] <= 1:
        raise InputError(f"config mode_choice.road_nest_mu = {config['mode_choice']['road_nest_mu']}: "
                         "expected a value in (0, 1]")
    if config["objective"]["pairs"] not in ("axes", "all"):
        raise InputError(f"config objective.pairs = {config['objective']['pairs']!r}: expected 'axes' or 'all'")
    for key in ("discount_rate", "demand_growth", "value_of_time_growth"):
        if not -1 < config["appraisal"][key] < 1:
            raise InputError(f"config appraisal.{key} = {config['appraisal'][key]}: expected a rate in (-1, 1)")
    for key in ("price_year", "base_year", "opening_year", "operating_years", "growth_end_year",
                "construction_years_rail", "construction_years_road", "construction_years_crossing"):
        value = config["appraisal"][key]
        if int(value) != value or value < 1:
            raise InputError(f"config appraisal.{key} = {value}: expected a whole number >= 1")
    bbox = config["network"]["bbox"]
    if len(bbox) != 4 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in bbox) \
            or not (-180 <= bbox[0] < bbox[2] <= 180 and -90 <= bbox[1] < bbox[3] <= 90):
        raise InputError(f"config network.bbox = {bbox}: expected [west, south, east, north]")


POSITIVE = [("rail", "conventional_kph"), ("rail", "speed_factor"), ("rail", "added_length_factor"),
            ("rail", "hsr_length_factor"), ("rail", "max_detour"), ("road", "expressway_kph"), ("road", "other_kph"),
            ("access", "local_kph"), ("demand", "scale"), ("demand", "min_distance_km"), ("demand", "alpha"),
            ("mode_choice", "value_of_time_cny_per_h"), ("mode_choice", "theta"), ("mode_choice", "car_occupancy"),
            ("mode_choice", "coach_time_factor"), ("mode_choice", "out_of_vehicle_weight"),
            ("mode_choice", "road_nest_mu"),
            ("congestion", "corridor_slowdown")]
INTEGERS = [("access", "road_connectors")]
SIGNED = {("mode_choice", "asc_car"), ("mode_choice", "asc_coach"),  # constants may be negative
          ("appraisal", "discount_rate"), ("appraisal", "demand_growth"),  # rates in (-1, 1)
          ("appraisal", "value_of_time_growth")}


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of a configuration (for run records and caches)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
