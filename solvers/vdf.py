"""Volume-delay functions for traffic assignment.

A volume-delay function (VDF) turns a link's flow into its travel time.  The built-in ones
(:class:`BPR`, :class:`Conical`) are evaluated by compiled kernels and work with every
assignment algorithm, including the path-based one.  A custom VDF subclasses
:class:`VolumeDelayFunction` and implements :meth:`~VolumeDelayFunction.cost` and
:meth:`~VolumeDelayFunction.derivative` with numpy; it works with the Frank-Wolfe family
(``fw``, ``cfw``, ``bfw``), and with ``system_optimal=True`` when it also implements
:meth:`~VolumeDelayFunction.second_derivative`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from solvers._jit import njit

from networks.errors import InputError

if TYPE_CHECKING:
    from networks.tntp import RoadNetwork

__all__ = ["VolumeDelayFunction", "BPR", "Conical", "resolve_vdf", "BPR_CODE", "CONICAL_CODE"]

BPR_CODE = 0
CONICAL_CODE = 1


class VolumeDelayFunction:
    """Base class of volume-delay functions.

    Subclasses set :attr:`code` to a built-in kernel id, or leave it ``None`` and implement
    :meth:`cost` and :meth:`derivative` (numpy, vectorised over links).
    """

    code: int | None = None

    def parameters(self, net: RoadNetwork) -> tuple[np.ndarray, np.ndarray]:
        """Per-link parameter arrays ``(alpha, beta)`` for the compiled kernels."""
        raise NotImplementedError

    def cost(self, flow: np.ndarray, net: RoadNetwork) -> np.ndarray:
        """Travel time of each link at ``flow``."""
        alpha, beta = self.parameters(net)
        t, _, _ = _evaluate(self._code(), flow, net.free_flow_time, net.capacity, alpha, beta)
        return t

    def derivative(self, flow: np.ndarray, net: RoadNetwork) -> np.ndarray:
        """Derivative of the travel time with respect to the flow."""
        alpha, beta = self.parameters(net)
        _, d1, _ = _evaluate(self._code(), flow, net.free_flow_time, net.capacity, alpha, beta)
        return d1

    def second_derivative(self, flow: np.ndarray, net: RoadNetwork) -> np.ndarray:
        """Second derivative of the travel time (needed for system-optimal assignment)."""
        alpha, beta = self.parameters(net)
        _, _, d2 = _evaluate(self._code(), flow, net.free_flow_time, net.capacity, alpha, beta)
        return d2

    def _code(self) -> int:
        if self.code is None:
            raise NotImplementedError(f"{type(self).__name__} must implement cost() and derivative()")
        return self.code


@dataclass(frozen=True)
class BPR(VolumeDelayFunction):
    """Bureau of Public Roads function ``t = t0 * (1 + alpha * (x / c) ** beta)``.

    Parameters
    ----------
    alpha, beta : float, optional
        Override the network's per-link ``b`` and ``power``.
    """

    alpha: float | None = None
    beta: float | None = None
    code = BPR_CODE

    def parameters(self, net: RoadNetwork) -> tuple[np.ndarray, np.ndarray]:
        a = net.b if self.alpha is None else np.full(net.n_links, float(self.alpha))
        p = net.power if self.beta is None else np.full(net.n_links, float(self.beta))
        if np.any(a < 0) or np.any(p < 0):
            raise InputError("BPR: alpha and beta must be >= 0")
        return np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(p, dtype=np.float64)


@dataclass(frozen=True)
class Conical(VolumeDelayFunction):
    """Spiess (1990) conical function ``t = t0 * (2 + sqrt(a^2 (1-x/c)^2 + b^2) - a (1-x/c) - b)``.

    ``b = (2a - 1) / (2a - 2)``; ``alpha`` must exceed 1.
    """

    alpha: float = 4.0
    code = CONICAL_CODE

    def parameters(self, net: RoadNetwork) -> tuple[np.ndarray, np.ndarray]:
        if not self.alpha > 1.0:
            raise InputError(f"Conical: alpha must be > 1, got {self.alpha}")
        a = np.full(net.n_links, float(self.alpha))
        return a, (2.0 * a - 1.0) / (2.0 * a - 2.0)


def resolve_vdf(vdf: VolumeDelayFunction | str | None) -> VolumeDelayFunction:
    """Turn ``None``/``"bpr"``/``"conical"`` or an instance into a VDF instance."""
    if vdf is None:
        return BPR()
    if isinstance(vdf, VolumeDelayFunction):
        return vdf
    if isinstance(vdf, str):
        key = vdf.lower()
        if key == "bpr":
            return BPR()
        if key == "conical":
            return Conical()
        raise InputError(f"unknown volume-delay function {vdf!r}; expected 'bpr', 'conical' or a VolumeDelayFunction")
    raise InputError(f"vdf must be a VolumeDelayFunction or a name, got {type(vdf).__name__}")


@njit(cache=True, inline="always")
def link_eval(code: int, x: float, t0: float, c: float, a: float, p: float) -> tuple[float, float, float]:
    """Travel time, its first derivative and ``x`` times its second derivative at flow ``x``."""
    if code == BPR_CODE:
        if a == 0.0 or p == 0.0:
            return t0 * (1.0 + a), 0.0, 0.0
        r = x / c
        if p == 4.0:  # the usual BPR power: avoid the general pow()
            rp = r * r
            rp = rp * rp
        elif p == 1.0:
            rp = r
        else:
            rp = r**p
        t = t0 * (1.0 + a * rp)
        if x > 0.0:
            d1 = t0 * a * p * rp / x
            return t, d1, (p - 1.0) * d1
        if p == 1.0:
            return t, t0 * a / c, 0.0
        return t, 0.0, 0.0
    # conical
    u = 1.0 - x / c
    s = np.sqrt(a * a * u * u + p * p)
    t = t0 * (2.0 + s - a * u - p)
    d1 = t0 / c * (a - a * a * u / s)
    d2 = t0 * a * a * p * p / (s * s * s * c * c)
    return t, d1, x * d2


@njit(cache=True)
def _evaluate_kernel(code, x, t0, c, a, p, t, d1, d2):
    for i in range(x.size):
        ti, di, xd2 = link_eval(code, x[i], t0[i], c[i], a[i], p[i])
        t[i] = ti
        d1[i] = di
        d2[i] = xd2 / x[i] if x[i] > 0.0 else 0.0


def _evaluate(
    code: int, flow: np.ndarray, t0: np.ndarray, cap: np.ndarray, a: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.ascontiguousarray(flow, dtype=np.float64)
    t = np.empty_like(x)
    d1 = np.empty_like(x)
    d2 = np.empty_like(x)
    _evaluate_kernel(code, x, t0, cap, a, p, t, d1, d2)
    return t, d1, d2
