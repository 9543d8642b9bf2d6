"""Values of time by mode and trip purpose, and the money value of a generalized minute.

The travel model chooses modes with one *behavioural* value of time
(``mode_choice.value_of_time_cny_per_h``: it converts fares, fuel and tolls into minutes).  The
appraisal values time savings with *appraisal* values by trip purpose and mode
(``appraisal.value_of_time``, sources in ``docs/appraisal.md``): working time by the wage of
the mode's travellers, commuting and other time by the shares of the wage that guidance uses.
Each mode's value is the mix of its travellers' purposes (``appraisal.purpose_shares``), and
one generalized minute saved is worth

    v = sum over modes m of  sigma_m  x  sum over purposes p of  w(p | m) V(p, m)

with ``sigma_m`` the base mode shares of the objective's trips (the model's own, demand
weighted, :func:`base_mode_shares`).  Because ``v`` does not depend on the design, the money
benefit stays a fixed multiple of the logsum saving and the NPV objective stays exact
(:mod:`transit.appraisal.tables`).  What this leaves out, and is reported as a check
(:func:`saving_by_mode`): a package that shifts its saving towards one mode would be worth
more (rail, whose travellers earn more) or less than ``v`` says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from networks.errors import InputError

__all__ = ["PURPOSES", "VALUE_MODES", "ValueOfTime", "base_mode_shares", "saving_by_mode", "value_of_time_tables"]

PURPOSES = ("business", "commuting", "other")
VALUE_MODES = ("rail", "car", "coach")  # the modes of the mode choice (transit.model.mode_choice.MODES)


@dataclass(frozen=True)
class ValueOfTime:
    """Appraisal values (CNY/h by purpose and mode), purpose shares by mode, and the range."""

    by_purpose: dict[str, dict[str, float]]  # purpose -> mode -> CNY/h
    purpose_shares: dict[str, dict[str, float]]  # mode -> purpose -> share (sums to 1)
    low_factor: float
    high_factor: float

    def by_mode(self) -> dict[str, float]:
        """Each mode's value: its travellers' purposes mixed (CNY/h)."""
        return {m: sum(self.purpose_shares[m][p] * self.by_purpose[p][m] for p in PURPOSES) for m in VALUE_MODES}

    def per_generalized_hour(self, mode_shares: Mapping[str, float]) -> float:
        """The value of one generalized hour saved: the modes' values weighted by ``mode_shares``."""
        shares = _checked_mode_shares(mode_shares)
        values = self.by_mode()
        return float(sum(shares[m] * values[m] for m in VALUE_MODES))


def value_of_time_tables(config: dict[str, Any]) -> ValueOfTime:
    """``appraisal.value_of_time`` and ``appraisal.purpose_shares`` of ``config``, checked.

    Every purpose needs a value > 0 for every mode of the mode choice, and every mode's purpose
    shares must be >= 0 and sum to 1: otherwise :class:`InputError` names the field.
    """
    a = config.get("appraisal", {})
    vot = a.get("value_of_time")
    if not isinstance(vot, dict):
        raise InputError("config appraisal.value_of_time: missing; expected a table of CNY/h by purpose and mode")
    by_purpose: dict[str, dict[str, float]] = {}
    for p in PURPOSES:
        row = vot.get(p)
        if not isinstance(row, dict):
            raise InputError(f"config appraisal.value_of_time.{p}: missing; expected a table with "
                             f"{', '.join(VALUE_MODES)}")
        by_purpose[p] = {}
        for m in VALUE_MODES:
            value = row.get(m)
            if value is None:
                raise InputError(f"config appraisal.value_of_time.{p}.{m}: missing (mode {m!r} is in use); "
                                 "expected CNY per hour > 0")
            by_purpose[p][m] = _positive(value, f"appraisal.value_of_time.{p}.{m}")
    low = _positive(vot.get("low_factor"), "appraisal.value_of_time.low_factor")
    high = _positive(vot.get("high_factor"), "appraisal.value_of_time.high_factor")
    if not low <= 1.0 <= high:
        raise InputError(f"config appraisal.value_of_time: low_factor {low} and high_factor {high}: expected "
                         "low_factor <= 1 <= high_factor")
    shares_cfg = a.get("purpose_shares")
    if not isinstance(shares_cfg, dict):
        raise InputError("config appraisal.purpose_shares: missing; expected a table of purpose shares by mode")
    shares: dict[str, dict[str, float]] = {}
    for m in VALUE_MODES:
        row = shares_cfg.get(m)
        if not isinstance(row, dict):
            raise InputError(f"config appraisal.purpose_shares.{m}: missing (mode {m!r} is in use); expected "
                             f"shares of {', '.join(PURPOSES)}")
        shares[m] = {}
        for p in PURPOSES:
            value = row.get(p)
            if value is None:
                raise InputError(f"config appraisal.purpose_shares.{m}.{p}: missing; expected a share in [0, 1]")
            value = _number(value, f"appraisal.purpose_shares.{m}.{p}")
            if not 0.0 <= value <= 1.0:
                raise InputError(f"config appraisal.purpose_shares.{m}.{p} = {value}: expected a share in [0, 1]")
            shares[m][p] = value
        total = sum(shares[m].values())
        if abs(total - 1.0) > 1e-6:
            raise InputError(f"config appraisal.purpose_shares.{m}: shares sum to {total:g}; expected 1")
    return ValueOfTime(by_purpose=by_purpose, purpose_shares=shares, low_factor=low, high_factor=high)


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"config {field} = {value!r}: expected a finite number")
    return float(value)


def _positive(value: Any, field: str) -> float:
    if value is None:
        raise InputError(f"config {field}: missing; expected a number > 0")
    value = _number(value, field)
    if not value > 0:
        raise InputError(f"config {field} = {value}: expected a number > 0")
    return value


def _checked_mode_shares(mode_shares: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(mode_shares) - set(VALUE_MODES))
    if unknown:
        raise InputError(f"mode shares: unknown mode(s) {unknown}; expected {', '.join(VALUE_MODES)}")
    shares = {m: float(mode_shares.get(m, 0.0)) for m in VALUE_MODES}
    if any(not math.isfinite(s) or s < 0 for s in shares.values()):
        raise InputError(f"mode shares {shares}: expected finite shares >= 0")
    total = sum(shares.values())
    if not abs(total - 1.0) <= 1e-6:
        raise InputError(f"mode shares {shares}: sum to {total:g}; expected 1")
    return shares


def base_mode_shares(model: Any) -> dict[str, float]:
    """Demand-weighted mode shares of the objective's trips on the base network."""
    from transit.model.mode_choice import MODES

    rows = model.market_rows
    if len(rows) == 0:
        rows = np.arange(len(model.demand))
    w = model.demand["demand"].to_numpy(float)[rows]
    shares = model.base_skim().shares[rows]
    if not w.sum() > 0:
        raise InputError("mode shares: the objective's markets carry no trips")
    out = {mode: float(np.dot(shares[:, k], w) / w.sum()) for k, mode in enumerate(MODES)}
    total = sum(out.values())
    return {m: v / total for m, v in out.items()}


def saving_by_mode(model: Any, base: Any, opt: Any) -> dict[str, float]:
    """The package's saving (generalized minutes a day) split by mode, over the objective's markets.

    Per market, the exact logsum saving ``T (c0 - c1)`` is shared between the modes in
    proportion to their rule-of-half terms ``(s0 + s1) / 2 x (g0 - g1)`` (positive parts; a mode
    that becomes available takes ``s1 x (c0 - c1)``).  A decomposition for reporting, not part of
    the optimised objective.
    """
    from transit.model.mode_choice import MODES

    rows = model.market_rows if len(model.market_rows) else np.arange(len(model.demand))
    T = model.demand["demand"].to_numpy(float)[rows]
    c0, c1 = base.composite[rows], opt.composite[rows]
    total = np.where(np.isfinite(c0) & np.isfinite(c1), T * (c0 - c1), 0.0)
    g0, g1 = base.gc[rows], opt.gc[rows]
    s0, s1 = base.shares[rows], opt.shares[rows]
    both = np.isfinite(g0) & np.isfinite(g1)
    with np.errstate(invalid="ignore"):
        weight = np.where(both, 0.5 * (s0 + s1) * np.maximum(g0 - g1, 0.0), 0.0)
        new = ~np.isfinite(g0) & np.isfinite(g1)
        weight = np.where(new, s1 * np.maximum(c0 - c1, 0.0)[:, None], weight)
    norm = weight.sum(axis=1)
    fallback = np.where(np.isfinite(s1), s1, 0.0)  # no mode gains by the rule of half: shares after
    part = np.where(norm[:, None] > 0, weight / np.where(norm > 0, norm, 1.0)[:, None], fallback)
    return {mode: float(np.dot(part[:, k], total)) for k, mode in enumerate(MODES)}
