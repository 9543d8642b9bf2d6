"""Yearly cash flows of a project or a package, and their discounted measures.

The appraisal model (``docs/appraisal.md``):

* **Benefits.** The optimiser's objective is the logsum consumer surplus of an average day, in
  generalized minutes (fares and fuel already converted at the value of time).  A saving of
  ``S`` generalized minutes a day is worth ``S x VoT / 60 x days_per_year`` CNY in the base
  year, growing each year by ``(1 + demand_growth) (1 + value_of_time_growth)`` until
  ``growth_end_year`` and flat after it.  Benefits run from ``opening_year`` for
  ``operating_years`` years.  Every project of a package opens in ``opening_year`` (a one-shot
  appraisal; the year-by-year programme is a separate model), so the present value of a
  package's benefits is ``A x S(package)`` with one factor ``A`` (:func:`benefit_factor`).
* **Costs.** The catalogue's capital cost plus the optimism-bias uplift of its mode (sea
  crossings their own), spent in equal parts over its construction years ending the year
  before opening; operation and
  maintenance at ``om_share`` of the capital cost (without uplift) a year while open; minus
  the residual value of the capital cost (with uplift) at the end of the period, straight-line
  over the mode's asset life.
* **Discounting** to ``base_year`` at ``discount_rate``; NPV, BCR, IRR (of benefits minus
  costs) and the first-year rate of return ((opening-year benefit - O&M) / capital cost with
  uplift).

Exact arithmetic on these flows; what the model leaves out is in ``docs/appraisal.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from networks.errors import InputError
from solvers.finance import irr
from transit.appraisal.parameters import MODES, AppraisalParameters, category

__all__ = ["CashFlows", "benefit_factor", "benefit_flows", "cost_flows", "project_flows", "package_flows",
           "pv_costs"]

BN = 1e9  # catalogue costs are in billion CNY


@dataclass(frozen=True)
class CashFlows:
    """Yearly benefits and costs (CNY) over ``years``, with their discounted measures."""

    years: np.ndarray
    benefits: np.ndarray
    costs: np.ndarray
    params: AppraisalParameters
    capital: float = 0.0  # capital cost with uplift (CNY), for the first-year rate of return
    opening_om: float = 0.0  # O&M in the opening year (CNY)

    @property
    def discount(self) -> np.ndarray:
        return _discount(self.params)

    @property
    def pvb(self) -> float:
        return float(np.dot(self.benefits, self.discount))

    @property
    def pvc(self) -> float:
        return float(np.dot(self.costs, self.discount))

    @property
    def npv(self) -> float:
        return self.pvb - self.pvc

    @property
    def bcr(self) -> float:
        if self.pvc == 0:
            return math.inf if self.pvb > 0 else math.nan
        return self.pvb / self.pvc

    @property
    def irr(self) -> float:
        return irr(self.benefits - self.costs)

    @property
    def first_year_return(self) -> float:
        if self.capital <= 0:
            return math.nan
        k = int(np.flatnonzero(self.years == self.params.opening_year)[0])
        return (float(self.benefits[k]) - self.opening_om) / self.capital

    def __add__(self, other: "CashFlows") -> "CashFlows":
        if not np.array_equal(self.years, other.years):
            raise InputError("cash flows over different years cannot be added")
        return CashFlows(self.years, self.benefits + other.benefits, self.costs + other.costs, self.params,
                         self.capital + other.capital, self.opening_om + other.opening_om)


def _years(p: AppraisalParameters) -> np.ndarray:
    return np.arange(p.first_year, p.last_year + 1)


def _discount(p: AppraisalParameters) -> np.ndarray:
    """Discount factor of every year of the period, to ``base_year``."""
    return (1.0 + p.discount_rate) ** -(_years(p) - p.base_year).astype(float)


def benefit_flows(p: AppraisalParameters, saving_min_per_day: float) -> np.ndarray:
    """Yearly benefits (CNY) of a saving of ``saving_min_per_day`` generalized minutes a day."""
    years = _years(p)
    grown = np.minimum(years, p.growth_end_year) - p.base_year
    growth = ((1.0 + p.demand_growth) * (1.0 + p.value_of_time_growth)) ** grown.astype(float)
    per_year = saving_min_per_day * p.value_of_time_cny_per_h / 60.0 * p.days_per_year
    return np.where(years >= p.opening_year, per_year * growth, 0.0)


def benefit_factor(p: AppraisalParameters) -> float:
    """Present value (CNY, at ``base_year``) of saving one generalized minute a day."""
    return float(np.dot(benefit_flows(p, 1.0), _discount(p)))


def cost_flows(p: AppraisalParameters, capex_bn: float, mode: str, kind: str = "") -> tuple[np.ndarray, float, float]:
    """Yearly costs (CNY) of one project, its capital cost with uplift and its yearly O&M.

    ``kind == "crossing"`` (a sea crossing) takes the crossing uplift and construction years.
    """
    if mode not in MODES:
        raise InputError(f"mode {mode!r}: expected one of {MODES}")
    if not np.isfinite(capex_bn) or capex_bn < 0:
        raise InputError(f"capital cost {capex_bn!r} bn CNY: expected a finite number >= 0")
    years = _years(p)
    cat = category(mode, kind)
    capital = capex_bn * BN * (1.0 + p.optimism_bias[cat])
    n = p.construction_years[cat]
    flows = np.where((years >= p.opening_year - n) & (years < p.opening_year), capital / n, 0.0)
    om = p.om_share[mode] * capex_bn * BN
    flows = flows + np.where(years >= p.opening_year, om, 0.0)
    residual = capital * max(0.0, 1.0 - p.operating_years / p.asset_life_years[mode])
    flows[-1] -= residual
    return flows, capital, om


def pv_costs(p: AppraisalParameters, capex_bn: float, mode: str, kind: str = "") -> float:
    """Present value (CNY, at ``base_year``) of one project's costs (:func:`cost_flows`)."""
    return float(np.dot(cost_flows(p, capex_bn, mode, kind)[0], _discount(p)))


def project_flows(p: AppraisalParameters, *, capex_bn: float, mode: str, saving_min_per_day: float,
                  kind: str = "") -> CashFlows:
    """The cash flows of one project whose benefit is a saving of ``saving_min_per_day``."""
    costs, capital, om = cost_flows(p, capex_bn, mode, kind)
    return CashFlows(_years(p), benefit_flows(p, saving_min_per_day), costs, p, capital, om)


def package_flows(p: AppraisalParameters, projects: list[tuple[float, str, str]],
                  saving_min_per_day: float) -> CashFlows:
    """A package (``(capex_bn, mode, kind)`` per project): the benefits of its joint saving
    and the sum of its projects' costs."""
    years = _years(p)
    total = CashFlows(years, benefit_flows(p, saving_min_per_day), np.zeros(years.size), p)
    for capex_bn, mode, kind in projects:
        costs, capital, om = cost_flows(p, capex_bn, mode, kind)
        total = total + CashFlows(years, np.zeros(years.size), costs, p, capital, om)
    return total
