"""Appraisal in money: cash flows, NPV, BCR, IRR of projects and packages.

Public names are re-exported here; see :mod:`transit.appraisal.cashflows` for the model.
"""

from transit.appraisal.cashflows import (
    CashFlows,
    benefit_factor,
    benefit_flows,
    cost_flows,
    package_flows,
    project_flows,
    pv_costs,
)
from transit.appraisal.parameters import AppraisalParameters, appraisal_parameters
from transit.appraisal.values import ValueOfTime, base_mode_shares, saving_by_mode, value_of_time_tables

__all__ = ["AppraisalParameters", "CashFlows", "ValueOfTime", "appraisal_parameters", "base_mode_shares",
           "benefit_factor", "benefit_flows", "cost_flows", "package_flows", "project_flows", "pv_costs",
           "saving_by_mode", "value_of_time_tables"]
