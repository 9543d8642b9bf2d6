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

__all__ = ["AppraisalParameters", "CashFlows", "appraisal_parameters", "benefit_factor", "benefit_flows",
           "cost_flows", "package_flows", "project_flows", "pv_costs"]
