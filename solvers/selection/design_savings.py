"""The exact saving of many designs of one market instance, from its records (no shortest paths).

The market records of :mod:`solvers.selection.markets`, enumerated once without a budget, hold
the exact saving of every design: a market saves the saving of its best record whose project
set is built.  :class:`DesignSavings` stores them as arrays, so a design is valued by one
vectorised pass (milliseconds) instead of a shortest-path run in every layer (about a second on
the YRD model).  Used where thousands of designs are valued: Shapley values of coalitions,
greedy rankings, per-group savings.  Exact: the same numbers :func:`evaluate_market_design`
gives (tested), up to floating-point summation order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from networks.errors import InputError
from solvers.selection._types import Project
from solvers.selection.markets import Layer, Markets, _prepare, _savings_for

__all__ = ["DesignSavings"]


class DesignSavings:
    """Savings of designs (project sets) of a market instance, exact, from its records.

    ``saving(selected)`` is the total saving against the base network (objective units, e.g.
    generalized minutes a day); ``market_savings(selected)`` the saving of each market.  Designs
    must satisfy the dependencies and exclusions (the records hold only for those; any other
    raises :class:`~networks.errors.InputError`); budgets and caps do not matter.
    """

    def __init__(self, layers: Sequence[Layer], projects: Sequence[Project], markets: Markets) -> None:
        problem, _, _ = _prepare(layers, projects, markets, math.inf, None)
        sav = _savings_for(problem, math.inf, {}, deadline=None, log=None)
        if not sav.complete:  # pragma: no cover - no deadline was given
            raise InputError("design savings: the record search did not complete")
        self._inst = problem.inst
        self.n_markets = len(sav.records)
        item, masks, values = [], [], []
        for k, rs in enumerate(sav.records):
            for mask, c in rs:
                item.append(k)
                masks.append(mask)
                values.append(c)
        self._item = np.asarray(item, dtype=np.int64)
        self._values = np.asarray(values, dtype=float)
        # project sets as boolean rows (projects may exceed 64, so no integer bit masks)
        n_proj = len(self._inst.projects)
        self._needs = np.zeros((len(masks), n_proj), dtype=bool)
        for r, mask in enumerate(masks):
            for i in range(n_proj):
                if mask >> i & 1:
                    self._needs[r, i] = True
        self.base_objective = sav.base_objective
        self.records = len(values)

    def _mask(self, selected: Iterable[str]) -> np.ndarray:
        inst = self._inst
        index = inst.index
        built = np.zeros(len(inst.projects), dtype=bool)
        mask = 0
        for pid in selected:
            if pid not in index:
                raise InputError(f"design savings: unknown project {pid!r}")
            built[index[pid]] = True
            mask |= 1 << index[pid]
        if not inst.feasible(mask, math.inf, None):
            # records exist only for project sets some feasible design holds
            raise InputError(f"design savings: design {inst.ids(mask)} misses a required project or holds two "
                             "projects that exclude each other; only feasible designs are valued")
        return built

    def market_savings(self, selected: Iterable[str]) -> np.ndarray:
        """Saving of every market in the design ``selected`` (0 where nothing helps)."""
        built = self._mask(selected)
        out = np.zeros(self.n_markets)
        if self._values.size:
            ok = ~np.any(self._needs & ~built, axis=1)
            np.maximum.at(out, self._item[ok], self._values[ok])
        return out

    def saving(self, selected: Iterable[str]) -> float:
        """Total saving of the design ``selected`` against the base network."""
        return float(self.market_savings(selected).sum())
