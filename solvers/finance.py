"""Discounted cash flows: present value, NPV, benefit-cost ratio, internal rate of return.

Conventions: a cash-flow array holds one amount per year, index 0 being the base year (not
discounted); year ``t`` is discounted by ``(1 + rate) ** t``.  Exact arithmetic on the stated
flows; the IRR is the root of the NPV in ``rate`` found by bracketing and Brent's method, and is
reported as ``nan`` when the flows do not change sign (no rate makes the NPV zero) or the root
is not unique in the searched interval (several sign changes with several roots).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from networks.errors import InputError

__all__ = ["discount_factors", "present_value", "npv", "benefit_cost_ratio", "irr", "check_rate"]

_IRR_LOW, _IRR_HIGH = -0.99, 10.0  # the interval searched for an internal rate of return


def check_rate(rate: float, name: str = "discount_rate") -> float:
    """``rate`` as a float in (-1, 1), or an :class:`InputError` naming ``name``."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise InputError(f"{name} = {rate!r}: expected a number in (-1, 1)") from None
    if not (-1.0 < value < 1.0):
        raise InputError(f"{name} = {rate!r}: expected a number in (-1, 1)")
    return value


def _flows(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a 1-d array of yearly amounts, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: amounts must be finite")
    return arr


def discount_factors(years: int, rate: float) -> np.ndarray:
    """``1 / (1 + rate) ** t`` for ``t = 0 .. years - 1``."""
    if years < 0:
        raise InputError(f"years = {years}: expected >= 0")
    rate = check_rate(rate)
    return (1.0 + rate) ** -np.arange(years, dtype=float)


def present_value(flows: object, rate: float) -> float:
    """Sum of the yearly amounts discounted to year 0."""
    arr = _flows(flows, "flows")
    return float(np.dot(arr, discount_factors(arr.size, rate)))


def npv(benefits: object, costs: object, rate: float) -> float:
    """Present value of ``benefits - costs`` (yearly arrays of the same length)."""
    b, c = _flows(benefits, "benefits"), _flows(costs, "costs")
    if b.shape != c.shape:
        raise InputError(f"benefits and costs: lengths {b.size} and {c.size}; expected equal")
    return present_value(b - c, rate)


def benefit_cost_ratio(benefits: object, costs: object, rate: float) -> float:
    """PV(benefits) / PV(costs); ``inf`` for a positive benefit at no cost, ``nan`` for 0 / 0."""
    pvb, pvc = present_value(benefits, rate), present_value(costs, rate)
    if pvc == 0:
        return math.inf if pvb > 0 else math.nan
    return pvb / pvc


def irr(flows: object) -> float:
    """The rate making the present value of ``flows`` zero, or ``nan`` (see the module docstring)."""
    arr = _flows(flows, "flows")
    nonzero = arr[arr != 0]
    if nonzero.size < 2 or np.all(nonzero > 0) or np.all(nonzero < 0):
        return math.nan
    t = np.arange(arr.size, dtype=float)

    def f(r: float) -> float:
        return float(np.dot(arr, (1.0 + r) ** -t))

    grid = np.concatenate([np.linspace(_IRR_LOW, -0.5, 50), np.linspace(-0.5, 1.0, 301)[1:],
                           np.linspace(1.0, _IRR_HIGH, 91)[1:]])
    values = np.array([f(r) for r in grid])
    roots = []
    for k in range(grid.size - 1):
        a, b = values[k], values[k + 1]
        if a == 0:
            roots.append(float(grid[k]))
        elif a * b < 0:
            roots.append(float(brentq(f, grid[k], grid[k + 1], xtol=1e-12, rtol=1e-12)))
    if values[-1] == 0:
        roots.append(float(grid[-1]))
    distinct: list[float] = []
    for r in sorted(roots):
        if not distinct or r - distinct[-1] > 1e-9:
            distinct.append(r)
    return distinct[0] if len(distinct) == 1 else math.nan
