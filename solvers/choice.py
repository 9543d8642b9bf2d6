"""Discrete choice: multinomial and nested logit on generalized cost, logsum and rule-of-half.

A market's alternatives (modes) have generalized costs ``c`` (minutes) and constants ``a``;
the utility is ``U = a - theta c``.  With nests ``N_k`` of scale ``mu_k`` in (0, 1] (``mu = 1``
for every nest is the multinomial logit)::

    I_k  = mu_k ln sum_{j in N_k} exp(U_j / mu_k)          (inclusive value of nest k)
    LS   = ln sum_k exp(I_k)                               (logsum)
    P_j  = exp(I_k - LS) exp(U_j / mu_k - I_k / mu_k)      (j in N_k)

The **composite cost** ``-LS / theta`` is the expected minimum generalized cost up to a
constant; it is non-decreasing in every alternative's cost (its derivative is the share),
which is what the exact project selection needs (:mod:`solvers.selection.markets`).  The
change in consumer surplus per trip between two states is ``(LS_1 - LS_0) / theta`` minutes
(Williams 1977; de Jong et al. 2007, "The logsum as an evaluation measure"), exact for the
model; the **rule-of-half** ``1/2 sum_j (c_j0 - c_j1)(P_j0 + P_j1)`` is its usual linear
approximation, equal to it when the shares do not move (all costs change alike, or a single
alternative).

Unavailable alternatives have cost ``inf``; a market with no available alternative has
composite cost ``inf``.  Everything is vectorised over markets (rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from networks.errors import InputError

__all__ = ["NestedLogit", "pivot_constants", "rule_of_half"]


@dataclass(frozen=True)
class NestedLogit:
    """A (nested) logit over ``n_alternatives`` on generalized cost.

    Parameters
    ----------
    theta
        Scale per unit of generalized cost (per minute), ``> 0``.
    constants
        Alternative-specific constants, shape ``(n_alternatives,)`` (utility units).
    nests
        Partition of the alternatives into nests (lists of indices); default: each alone
        (the multinomial logit).
    mu
        Scale of each nest in (0, 1]; default 1 for every nest.
    """

    theta: float
    constants: Sequence[float]
    nests: Sequence[Sequence[int]] | None = None
    mu: Sequence[float] | None = None
    _nests: tuple[tuple[int, ...], ...] = field(init=False, repr=False)
    _mu: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not np.isfinite(self.theta) or self.theta <= 0:
            raise InputError(f"logit theta = {self.theta!r}; expected a finite number > 0")
        constants = np.asarray(self.constants, dtype=float)
        if constants.ndim != 1 or not np.all(np.isfinite(constants)):
            raise InputError(f"logit constants = {self.constants!r}; expected finite numbers, one per alternative")
        n = constants.shape[0]
        nests = tuple(tuple(int(j) for j in nest) for nest in (self.nests or [[j] for j in range(n)]))
        flat = sorted(j for nest in nests for j in nest)
        if flat != list(range(n)):
            raise InputError(f"logit nests {nests}; expected a partition of the alternatives 0..{n - 1}")
        mu = np.ones(len(nests)) if self.mu is None else np.asarray(self.mu, dtype=float)
        if mu.shape != (len(nests),) or np.any(~np.isfinite(mu)) or np.any(mu <= 0) or np.any(mu > 1):
            raise InputError(f"logit nest scales mu = {self.mu!r}; expected one value in (0, 1] per nest")
        object.__setattr__(self, "_nests", nests)
        object.__setattr__(self, "_mu", mu)

    @property
    def n_alternatives(self) -> int:
        return len(self.constants)

    def _utilities(self, costs: np.ndarray, constants: np.ndarray | None) -> np.ndarray:
        costs = np.asarray(costs, dtype=float)
        if costs.ndim != 2 or costs.shape[1] != self.n_alternatives:
            raise InputError(f"costs of shape {costs.shape}; expected (markets, {self.n_alternatives})")
        a = np.asarray(self.constants, dtype=float) if constants is None else np.asarray(constants, dtype=float)
        with np.errstate(invalid="ignore"):
            u = a - self.theta * costs
        return np.where(np.isfinite(costs), u, -np.inf)

    def _inclusive(self, u: np.ndarray) -> np.ndarray:
        """Inclusive value of every nest, shape (markets, nests) (-inf: nest unavailable)."""
        out = np.empty((u.shape[0], len(self._nests)))
        for k, (nest, mu) in enumerate(zip(self._nests, self._mu)):
            out[:, k] = mu * _logsumexp(u[:, list(nest)] / mu)
        return out

    def logsum(self, costs: np.ndarray, constants: np.ndarray | None = None) -> np.ndarray:
        """``LS`` per market (``-inf`` when nothing is available)."""
        return _logsumexp(self._inclusive(self._utilities(costs, constants)))

    def composite_cost(self, costs: np.ndarray, constants: np.ndarray | None = None) -> np.ndarray:
        """``-LS / theta`` per market: expected minimum generalized cost (up to a constant)."""
        return -self.logsum(costs, constants) / self.theta

    def probabilities(self, costs: np.ndarray, constants: np.ndarray | None = None) -> np.ndarray:
        """Choice probabilities, shape (markets, alternatives); rows sum to 1 (0 if nothing is available)."""
        u = self._utilities(costs, constants)
        inc = self._inclusive(u)
        ls = _logsumexp(inc)
        p = np.zeros_like(u)
        ok = np.isfinite(ls)
        for k, (nest, mu) in enumerate(zip(self._nests, self._mu)):
            cols = list(nest)
            with np.errstate(invalid="ignore", over="ignore"):
                within = np.exp(u[:, cols] / mu - (inc[:, k] / mu)[:, None])
                nest_p = np.exp(inc[:, k] - ls)
            within = np.where(np.isfinite(inc[:, k])[:, None], within, 0.0)
            p[:, cols] = np.where(ok[:, None], nest_p[:, None] * within, 0.0)
        return np.nan_to_num(p, nan=0.0)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """``ln sum exp`` along the last axis; ``-inf`` where every entry is ``-inf``."""
    top = np.max(x, axis=-1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.sum(np.exp(x - safe[..., None]), axis=-1))


def pivot_constants(model: NestedLogit, costs: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Market-specific constants that reproduce observed shares exactly (multinomial logit).

    For each market ``a_j = ln s_j + theta c_j`` (up to a common shift), so the model pivots on
    the observed base shares and only cost changes move them (the incremental logit).  An
    alternative with share 0 gets constant ``-inf`` and stays unused; only nests of one
    alternative each are supported (the multinomial logit).
    """
    if any(len(n) != 1 for n in model._nests):
        raise InputError("pivot_constants: supported for the multinomial logit only (one alternative per nest)")
    costs = np.asarray(costs, dtype=float)
    shares = np.asarray(shares, dtype=float)
    if shares.shape != costs.shape:
        raise InputError(f"shares of shape {shares.shape}; expected the costs' shape {costs.shape}")
    if np.any(~np.isfinite(shares)) or np.any(shares < 0):
        raise InputError("shares: expected finite values >= 0")
    total = shares.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise InputError("shares: a market has no positive share")
    bad = (shares > 0) & ~np.isfinite(costs)
    if np.any(bad):
        raise InputError(f"shares: {int(bad.sum())} market(s) use an alternative that is unavailable in the network")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(shares > 0, np.log(shares / total) + model.theta * np.where(np.isfinite(costs), costs, 0.0),
                       -np.inf)
    return out


def rule_of_half(costs_before: np.ndarray, costs_after: np.ndarray, trips_before: np.ndarray,
                 trips_after: np.ndarray) -> np.ndarray:
    """Rule-of-half user benefit per market: ``1/2 sum_j (c_j0 - c_j1)(T_j0 + T_j1)``.

    An alternative unavailable before (cost ``inf``) and used after counts at the cost where
    its demand would vanish, which the rule cannot know: those rows raise; use the logsum.
    """
    c0, c1 = np.asarray(costs_before, float), np.asarray(costs_after, float)
    t0, t1 = np.asarray(trips_before, float), np.asarray(trips_after, float)
    new = ~np.isfinite(c0) & (t1 > 0)
    if np.any(new):
        raise InputError("rule_of_half: an alternative unavailable before is used after; use the logsum benefit")
    used = (t0 + t1) > 0
    diff = np.where(used, np.where(np.isfinite(c0), c0, 0.0) - np.where(np.isfinite(c1), c1, 0.0), 0.0)
    return 0.5 * np.sum(diff * (t0 + t1), axis=1)
