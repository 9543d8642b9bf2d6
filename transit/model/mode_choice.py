"""Mode choice between rail, car and coach on generalized cost.

Each mode is routed on its own costed layer of the multimodal graph (generalized minutes,
``GC``), and a logit (multinomial, or nested with car and coach in a road nest) splits each
zone pair's trips::

    rail : in-vehicle time + fare x km / VoT + w_ovt x (access + egress + time at the station)
           + stop penalties + changes of line (networks.lines)
    car  : driving time + (fuel + toll on expressways) x km / occupancy / VoT + terminal time
    coach: coach_time_factor x driving time + coach fare x km / VoT + w_ovt x (access + egress)

``VoT`` is the value of time (CNY per hour, one value for all modes: the model has no
segmentation by purpose or income); ``w_ovt`` weights out-of-vehicle time (walking, waiting,
local access) against in-vehicle time.  The sources of every number are in ``docs/model.md``
and ``data/SOURCES.md``; ``theta`` and the mode constants are calibrated
(:mod:`transit.model.calibration`).

The composite cost ``-ln(sum exp(a_m - theta GC_m)) / theta`` is what the optimiser minimises
(its change is the logsum consumer-surplus benefit, in generalized minutes).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from solvers.choice import NestedLogit

__all__ = ["MODES", "arc_cost", "logit_model", "money_minutes"]

MODES = ("rail", "car", "coach")


def money_minutes(cny: float, config: dict[str, Any]) -> float:
    """A money amount (CNY per person) in generalized minutes."""
    return cny * 60.0 / config["mode_choice"]["value_of_time_cny_per_h"]


RAIL_LINKS = ("change", "board", "alight", "transfer")  # rail arcs with no ride: no fare


def _is_zone(node: Hashable) -> bool:
    return isinstance(node, str) and node.startswith("zone:")


def arc_cost(mode: str, u: Hashable, v: Hashable, data: dict[str, Any], config: dict[str, Any]) -> float | None:
    """Generalized minutes of arc ``u -> v`` for ``mode`` (``None``: the arc is not in that layer)."""
    mc = config["mode_choice"]
    kind = data.get("mode")
    minutes = data["travel_time"] / 60.0
    km = data.get("length", 0.0) / 1000.0
    vot = mc["value_of_time_cny_per_h"] / 60.0  # CNY per minute
    w = mc["out_of_vehicle_weight"]
    if mode == "rail":
        if kind == "rail":
            if data.get("link") in RAIL_LINKS:
                return minutes
            hsr = data.get("speed_kph", 0.0) >= config["rail"]["speed_factor"] * mc["hsr_min_design_kph"]
            fare = mc["rail_fare_hsr_cny_per_km"] if hsr else mc["rail_fare_other_cny_per_km"]
            return minutes + fare * km / vot
        if kind == "access":
            out_of_vehicle = data["access_time"] / 60.0
            return w * out_of_vehicle + (minutes - out_of_vehicle)
        return None
    if kind not in ("road", "connector"):
        return None
    if mode == "car":
        if kind == "connector":
            return minutes
        toll = mc["car_toll_cny_per_km"] if data.get("highway") == "motorway" else 0.0
        return minutes + (mc["car_fuel_cny_per_km"] + toll) * km / mc["car_occupancy"] / vot
    if mode == "coach":
        if kind == "connector":
            local = km / config["access"]["local_kph"] * 60.0
            fixed = config["access"]["rail_access_min"] if _is_zone(u) else config["access"]["rail_egress_min"]
            return w * (fixed + local)
        return mc["coach_time_factor"] * minutes + mc["coach_fare_cny_per_km"] * km / vot
    raise ValueError(f"mode {mode!r}; expected one of {MODES}")


def arc_time(mode: str, data: dict[str, Any], config: dict[str, Any], u: Hashable = None) -> float:
    """Physical minutes of an arc for ``mode`` (the coach drives slower; its terminals take time)."""
    minutes = data["travel_time"] / 60.0
    if mode == "coach":
        if data.get("mode") == "connector":
            km = data.get("length", 0.0) / 1000.0
            fixed = config["access"]["rail_access_min"] if _is_zone(u) else config["access"]["rail_egress_min"]
            return fixed + km / config["access"]["local_kph"] * 60.0
        return config["mode_choice"]["coach_time_factor"] * minutes
    return minutes


def logit_model(config: dict[str, Any]) -> NestedLogit:
    """The logit of the configuration: constants ``(0, asc_car, asc_coach)``; optional road nest."""
    mc = config["mode_choice"]
    constants = np.array([0.0, mc["asc_car"], mc["asc_coach"]])
    if mc["nest"] == "road":
        return NestedLogit(mc["theta"], constants, nests=[[0], [1, 2]], mu=[1.0, mc["road_nest_mu"]])
    return NestedLogit(mc["theta"], constants)
