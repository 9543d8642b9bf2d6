"""Shapley values of a cooperative game: exact for a few players, sampled with a stated error.

A game gives each coalition ``S`` of players a value ``v(S)`` (``v`` of the empty coalition is
the starting point, usually 0).  Player ``i``'s Shapley value is its marginal contribution
``v(S + i) - v(S)`` averaged over the orders in which the players can join:

    phi_i = sum over S not holding i of |S|! (n - |S| - 1)! / n! (v(S + i) - v(S))

It is the only allocation that is efficient (the values sum to ``v(N) - v(empty)``),
symmetric (two players who add the same to every coalition get the same), gives nothing to a
player who adds nothing, and is additive over games.

* **Exact** (:func:`shapley_values` with ``n <= exact_limit``): every one of the ``2^n``
  coalitions is valued once and the sum above is taken exactly.
* **Sampled** (more players): ``samples`` random orders (seeded, so reproducible), each
  player's marginal contribution in each order averaged.  Every order's contributions sum to
  ``v(N) - v(empty)``, so the estimate is efficient exactly; each value carries the standard
  error of its mean (the sample standard deviation over the square root of the orders), the
  stated error of the estimate.

The module knows nothing of transport: ``value`` is any function of a frozenset of players.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from networks.errors import InputError

__all__ = ["ShapleyResult", "shapley_values"]

_SEED = 20261202


@dataclass(frozen=True)
class ShapleyResult:
    """Shapley values, by player, with their standard errors (0 when exact).

    ``method`` is ``"exact"`` or ``"sampled"``; ``evaluations`` counts the distinct coalitions
    valued; ``grand`` and ``empty`` are ``v(N)`` and ``v(empty)``.
    """

    values: dict[Hashable, float]
    std_errors: dict[Hashable, float]
    method: str
    evaluations: int
    grand: float
    empty: float
    samples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def efficiency_gap(self) -> float:
        """``sum of values - (v(N) - v(empty))``: 0 up to rounding (efficiency)."""
        return float(sum(self.values.values()) - (self.grand - self.empty))


def shapley_values(
    players: Iterable[Hashable],
    value: Callable[[frozenset], float],
    *,
    exact_limit: int = 12,
    samples: int = 2000,
    seed: int = _SEED,
) -> ShapleyResult:
    """The Shapley value of every player of the game ``value``.

    Parameters
    ----------
    players
        Distinct, hashable players (their order fixes the sampled orders' seed use only).
    value
        ``value(frozenset_of_players) -> float``; called once per distinct coalition.
    exact_limit
        Up to this many players every coalition is valued (``2^n`` calls) and the values are
        exact; above it ``samples`` random orders are drawn.
    samples
        Orders drawn when sampling (``n`` new coalitions each at most).
    seed
        Seed of the orders (same seed, same estimate).
    """
    order = list(players)
    if len(set(order)) != len(order):
        raise InputError(f"shapley: players must be distinct, got {order}")
    if not isinstance(exact_limit, int) or exact_limit < 0 or exact_limit > 20:
        raise InputError(f"shapley: exact_limit = {exact_limit!r}; expected a whole number in 0..20")
    if not isinstance(samples, int) or samples < 2:
        raise InputError(f"shapley: samples = {samples!r}; expected a whole number >= 2")
    cache: dict[frozenset, float] = {}

    def v(coalition: frozenset) -> float:
        got = cache.get(coalition)
        if got is None:
            got = float(value(coalition))
            if not math.isfinite(got):
                raise InputError(f"shapley: value of coalition {sorted(map(str, coalition))} is {got}; "
                                 "expected a finite number")
            cache[coalition] = got
        return got

    n = len(order)
    empty = v(frozenset())
    grand = v(frozenset(order))
    if n == 0:
        return ShapleyResult({}, {}, "exact", len(cache), grand, empty)
    if n <= exact_limit:
        # weight of a coalition of size s not holding i: s! (n - s - 1)! / n!
        weight = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
        worth = np.empty(1 << n)
        for mask in range(1 << n):
            worth[mask] = v(frozenset(order[k] for k in range(n) if mask >> k & 1))
        values = {}
        for k, player in enumerate(order):
            bit = 1 << k
            total = 0.0
            for mask in range(1 << n):
                if not mask & bit:
                    total += weight[bin(mask).count("1")] * (worth[mask | bit] - worth[mask])
            values[player] = total
        return ShapleyResult(values, {p: 0.0 for p in order}, "exact", len(cache), grand, empty)
    rng = np.random.default_rng(seed)
    contrib = np.zeros((samples, n))
    for s in range(samples):
        perm = rng.permutation(n)
        members: set = set()
        before = empty
        for k in perm:
            members.add(order[k])
            after = v(frozenset(members))
            contrib[s, k] = after - before
            before = after
    means = contrib.mean(axis=0)
    errors = contrib.std(axis=0, ddof=1) / math.sqrt(samples)
    return ShapleyResult({p: float(means[k]) for k, p in enumerate(order)},
                         {p: float(errors[k]) for k, p in enumerate(order)}, "sampled", len(cache), grand, empty,
                         samples=samples)
