"""The appraisal's parameters (``[appraisal]`` of the configuration), checked.

Sources of the defaults: ``docs/appraisal.md`` (and ``data/SOURCES.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from networks.errors import InputError
from solvers.finance import check_rate
from transit.appraisal.values import ValueOfTime, value_of_time_tables

__all__ = ["AppraisalParameters", "appraisal_parameters", "category", "CATEGORIES", "MODES", "OPTIMISM_BIAS_RANGES"]

MODES = ("rail", "road")  # operation and maintenance, asset lives
CATEGORIES = ("rail", "road", "crossing")  # optimism bias, construction years: sea crossings apart
#: Low and high optimism-bias uplifts per category (docs/appraisal.md): the tornado and the Monte Carlo.
OPTIMISM_BIAS_RANGES = {"rail": (0.06, 0.66), "road": (0.03, 0.44), "crossing": (0.06, 0.66)}


def category(mode: str, kind: str = "") -> str:
    """``"crossing"`` for a sea crossing (rail or road), else the mode."""
    return "crossing" if kind == "crossing" else mode


@dataclass(frozen=True)
class AppraisalParameters:
    """Everything the cash flows need (years are calendar years, money in CNY of ``price_year``)."""

    price_year: int
    base_year: int
    opening_year: int
    operating_years: int
    discount_rate: float
    days_per_year: float
    demand_growth: float
    value_of_time_growth: float
    growth_end_year: int
    value_of_time_cny_per_h: float  # one generalized hour saved, in CNY (transit.appraisal.values)
    optimism_bias: dict[str, float]
    construction_years: dict[str, int]
    om_share: dict[str, float]
    asset_life_years: dict[str, float]
    values_of_time: ValueOfTime | None = field(default=None, compare=False)
    mode_shares: dict[str, float] = field(default_factory=dict)

    @property
    def first_year(self) -> int:
        """The first year with a cash flow: construction of the longest build starts then."""
        return min(self.base_year, self.opening_year - max(self.construction_years.values()))

    @property
    def last_year(self) -> int:
        return self.opening_year + self.operating_years - 1

    def with_(self, **changes: Any) -> "AppraisalParameters":
        """A copy with some fields changed (checked again)."""
        values = {**self.__dict__, **changes}
        return _checked(AppraisalParameters(**values))


def appraisal_parameters(config: dict[str, Any], *, mode_shares: Mapping[str, float]) -> AppraisalParameters:
    """The parameters of ``config["appraisal"]``, checked.

    ``mode_shares`` (rail, car, coach; summing to 1) weigh the modes' values of time into the
    value of a generalized hour (:mod:`transit.appraisal.values`); for a model,
    :func:`transit.appraisal.values.base_mode_shares` gives them.
    """
    a = config["appraisal"]
    values = value_of_time_tables(config)
    params = AppraisalParameters(
        price_year=int(a["price_year"]), base_year=int(a["base_year"]), opening_year=int(a["opening_year"]),
        operating_years=int(a["operating_years"]), discount_rate=float(a["discount_rate"]),
        days_per_year=float(a["days_per_year"]), demand_growth=float(a["demand_growth"]),
        value_of_time_growth=float(a["value_of_time_growth"]), growth_end_year=int(a["growth_end_year"]),
        value_of_time_cny_per_h=values.per_generalized_hour(mode_shares),
        optimism_bias={c: float(a[f"optimism_bias_{c}"]) for c in CATEGORIES},
        construction_years={c: int(a[f"construction_years_{c}"]) for c in CATEGORIES},
        om_share={m: float(a[f"om_share_{m}"]) for m in MODES},
        asset_life_years={m: float(a[f"asset_life_years_{m}"]) for m in MODES},
        values_of_time=values, mode_shares={m: float(v) for m, v in mode_shares.items()},
    )
    return _checked(params)


def _checked(p: AppraisalParameters) -> AppraisalParameters:
    check_rate(p.discount_rate, "config appraisal.discount_rate")
    check_rate(p.demand_growth, "config appraisal.demand_growth")
    check_rate(p.value_of_time_growth, "config appraisal.value_of_time_growth")
    if p.operating_years < 1:
        raise InputError(f"config appraisal.operating_years = {p.operating_years}: expected a whole number >= 1")
    if p.opening_year < p.base_year:
        raise InputError(f"config appraisal.opening_year = {p.opening_year}: expected a year >= base_year "
                         f"({p.base_year})")
    if p.growth_end_year < p.base_year:
        raise InputError(f"config appraisal.growth_end_year = {p.growth_end_year}: expected a year >= base_year")
    if not p.days_per_year > 0 or p.days_per_year > 366:
        raise InputError(f"config appraisal.days_per_year = {p.days_per_year}: expected a number in (0, 366]")
    if not p.value_of_time_cny_per_h > 0:
        raise InputError(f"value of a generalized hour = {p.value_of_time_cny_per_h}: expected > 0 "
                         "(config appraisal.value_of_time and the mode shares)")
    for c in CATEGORIES:
        if p.optimism_bias[c] < 0:
            raise InputError(f"config appraisal.optimism_bias_{c} = {p.optimism_bias[c]}: expected >= 0")
        if p.construction_years[c] < 1:
            raise InputError(f"config appraisal.construction_years_{c} = {p.construction_years[c]}: "
                             "expected a whole number >= 1")
    for m in MODES:
        if p.om_share[m] < 0:
            raise InputError(f"config appraisal.om_share_{m} = {p.om_share[m]}: expected >= 0")
        if not p.asset_life_years[m] > 0:
            raise InputError(f"config appraisal.asset_life_years_{m} = {p.asset_life_years[m]}: expected > 0")
    return p
