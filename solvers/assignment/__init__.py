"""Static user-equilibrium (and system-optimal) traffic assignment.

Algorithms (``algorithm=``):

``"fw"``
    Frank-Wolfe (link-based, all-or-nothing directions, exact line search).
``"cfw"``
    Conjugate Frank-Wolfe (Mitradjieva and Lindberg, 2013).
``"bfw"``
    Bi-conjugate Frank-Wolfe (same paper; the default of AequilibraE).
``"gp"``
    Path-based gradient projection (Jayakrishnan et al., 1994) with Gauss-Seidel sweeps over
    origins and extra flow-shift passes over the path sets; reaches relative gaps of 1e-8 and
    below, and warm-starts from a previous result's paths.

All algorithms stop when the relative gap ``(TSTT - SPTT) / TSTT`` reaches ``gap`` or after
``max_iterations`` iterations, log the gap and elapsed time of each iteration, honour a link
mask (``active``), and can solve the system optimum (``system_optimal=True``, marginal costs).

Shortest paths and all-or-nothing loading are compiled with numba (a binary-heap Dijkstra per
origin, flows pushed down the shortest-path tree in reverse settling order): there is no
Python loop over OD pairs.  Zones below the network's ``first_thru_node`` carry no through
traffic: every such node is split into a source copy (its out-links) and a sink copy (its
in-links), so a path can leave it only at its start and enter it only at its end.

Layout: :mod:`~solvers.assignment.frank_wolfe` (fw, cfw, bfw),
:mod:`~solvers.assignment.gradient_projection` (gp), ``_kernels`` (the compiled kernels),
``_problem`` (the problem as arrays, the result, the path store); the public names are here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InputError
from networks.tntp import RoadNetwork
from solvers.assignment._problem import (
    AssignmentResult,
    _check_reachability,
    _relgap,
    _setup,
)
from solvers.assignment.frank_wolfe import _solve_fw
from solvers.assignment.gradient_projection import _solve_gp
from solvers.vdf import BPR, VolumeDelayFunction, resolve_vdf
from solvers._jit import require_numba

__all__ = [
    "assign",
    "AssignmentResult",
    "ALGORITHMS",
    "relative_gap",
    "shortest_path_costs",
    "assign_graph",
]

ALGORITHMS = ("fw", "cfw", "bfw", "gp")
_ALIASES = {
    "frank-wolfe": "fw",
    "frank_wolfe": "fw",
    "conjugate-frank-wolfe": "cfw",
    "biconjugate-frank-wolfe": "bfw",
    "bi-conjugate-frank-wolfe": "bfw",
    "path": "gp",
    "gradient-projection": "gp",
    "gradient_projection": "gp",
}


# ====================================================================== public API
def assign(
    net: RoadNetwork,
    demand: np.ndarray,
    *,
    algorithm: str = "bfw",
    gap: float = 1e-4,
    max_iterations: int | None = None,
    active: np.ndarray | None = None,
    warm_start: AssignmentResult | np.ndarray | None = None,
    system_optimal: bool = False,
    vdf: VolumeDelayFunction | str | None = None,
    log: Callable[[int, float, float], None] | None = None,
    unreachable: str = "raise",
    toll_weight: float = 0.0,
    length_weight: float = 0.0,
    inner_iterations: int = 4,
    sp_repeats: int = 1,
    time_limit: float | None = None,
) -> AssignmentResult:
    """Solve the static user equilibrium (or system optimum) of ``net`` for ``demand``.

    Parameters
    ----------
    net : RoadNetwork
        The network.
    demand : ndarray, shape (n_zones, n_zones)
        OD demand; the diagonal (intra-zonal trips) is not assigned.
    algorithm : {"fw", "cfw", "bfw", "gp"}
        Frank-Wolfe, conjugate FW, bi-conjugate FW, or path-based gradient projection.
    gap : float
        Target relative gap ``(TSTT - SPTT) / TSTT``.
    max_iterations : int, optional
        Iteration cap (default 10,000 for the FW family, 2,000 for ``gp``).
    active : ndarray of bool, optional
        Link mask; inactive links are absent (no flow, never on a path).
    warm_start : AssignmentResult or ndarray, optional
        A previous result (``gp`` reuses its paths, dropping those over now-inactive links and
        rescaling to the new demand; the FW family uses its flows) or a link-flow array
        (FW family).  A warm start that does not fit is ignored with a note in ``result.notes``.
    system_optimal : bool
        Solve the system optimum (routing on marginal costs) instead of user equilibrium.
    vdf : VolumeDelayFunction or {"bpr", "conical"}, optional
        Volume-delay function; BPR with the network's ``b`` and ``power`` by default.
    log : callable, optional
        Called after each iteration as ``log(iteration, gap, seconds)``.
    unreachable : {"raise", "skip"}
        What to do with demand that has no path: raise :class:`InfeasibleError` (default), or
        leave it unassigned and list it in ``result.unreachable``.
    toll_weight, length_weight : float
        Weights of the link toll and length in the routing cost (generalised cost).
    inner_iterations : int
        ``gp`` only: flow-shift passes over the path sets after each shortest-path sweep.
    sp_repeats : int
        ``gp`` only: per origin and sweep, repeat shortest path and shifts up to this many
        times while new paths turn up.
    time_limit : float, optional
        Stop after this many seconds (the result says ``converged=False``).

    Returns
    -------
    AssignmentResult
    """
    require_numba("traffic assignment")
    started = time.perf_counter()
    algo = _ALIASES.get(algorithm.lower(), algorithm.lower()) if isinstance(algorithm, str) else algorithm
    if algo not in ALGORITHMS:
        raise InputError(f"assign: unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    if not (isinstance(gap, (int, float)) and gap >= 0 and math.isfinite(gap)):
        raise InputError(f"assign: gap must be a number >= 0, got {gap!r}")
    if unreachable not in ("raise", "skip"):
        raise InputError(f"assign: unreachable must be 'raise' or 'skip', got {unreachable!r}")
    if max_iterations is None:
        max_iterations = 2000 if algo == "gp" else 10000
    if max_iterations < 1:
        raise InputError(f"assign: max_iterations must be >= 1, got {max_iterations}")
    vdf_obj = resolve_vdf(vdf)
    if algo == "gp" and vdf_obj.code is None:
        raise InputError("assign: algorithm 'gp' needs a built-in VDF (BPR or Conical); use fw/cfw/bfw for custom ones")
    prob = _setup(
        net, demand, active=active, vdf=vdf_obj, system_optimal=system_optimal,
        toll_weight=toll_weight, length_weight=length_weight,
    )
    notes: list[str] = []
    # reachability over the active links (topology does not change during the solve)
    unreach = _check_reachability(prob, unreachable)
    if algo == "gp":
        if inner_iterations < 0 or sp_repeats < 1:
            raise InputError("assign: inner_iterations must be >= 0 and sp_repeats >= 1")
        result = _solve_gp(
            prob, gap, max_iterations, warm_start, log, notes, started, inner_iterations, sp_repeats, time_limit
        )
    else:
        result = _solve_fw(prob, algo, gap, max_iterations, warm_start, log, notes, started, time_limit)
    result.unreachable = unreach
    return result


def shortest_path_costs(
    net: RoadNetwork, link_costs: np.ndarray, *, active: np.ndarray | None = None
) -> np.ndarray:
    """Zone-to-zone shortest-path costs for given link costs (``inf`` where unreachable).

    Honours ``first_thru_node`` like the assignment does.
    """
    demand = np.ones((net.n_zones, net.n_zones))
    prob = _setup(net, demand, active=active, vdf=BPR(), system_optimal=False, toll_weight=0.0, length_weight=0.0)
    costs = np.ascontiguousarray(link_costs, dtype=np.float64)
    if costs.shape != (net.n_links,) or np.any(costs < 0) or not np.all(np.isfinite(costs)):
        raise InputError("shortest_path_costs: link_costs must be finite, >= 0, one per link")
    _, _, od = prob.aon(costs, load=False)
    return od


def relative_gap(net: RoadNetwork, demand: np.ndarray, flows: np.ndarray, *, vdf: Any = None,
                 active: np.ndarray | None = None) -> float:
    """Relative gap ``(TSTT - SPTT) / TSTT`` of given link flows (independent check)."""
    prob = _setup(net, demand, active=active, vdf=resolve_vdf(vdf), system_optimal=False,
                  toll_weight=0.0, length_weight=0.0)
    x = np.ascontiguousarray(flows, dtype=np.float64)
    g, _, _ = prob.evaluate(x)
    _, sptt, _ = prob.aon(g, load=False)
    return _relgap(x, g, sptt)


def assign_graph(
    graph: Any,
    demand: np.ndarray | Mapping[tuple[Hashable, Hashable], float],
    *,
    zones: Sequence[Hashable],
    time_unit: float = 60.0,
    capacity_by_class: Mapping[str, float] | None = None,
    default_capacity: float | None = None,
    mode: str | None = None,
    zones_carry_through: bool = True,
    **options: Any,
) -> tuple[AssignmentResult, pd.DataFrame]:
    """Assign OD demand between chosen nodes of an osmnx-style (Multi)DiGraph.

    Parameters
    ----------
    graph : networkx.MultiDiGraph or DiGraph
        Edges with ``travel_time`` (s), ``capacity`` (veh/h) or a ``highway`` class found in
        ``capacity_by_class``, optional ``length`` (m) and ``mode``.
    demand : ndarray or mapping
        ``(len(zones), len(zones))`` matrix in the order of ``zones``, or ``{(o, d): trips}``
        keyed by graph nodes.
    zones : sequence of node keys
        The nodes that send and receive demand.
    time_unit, capacity_by_class, default_capacity, mode, zones_carry_through
        Passed to :meth:`RoadNetwork.from_networkx`.
    **options
        Passed to :func:`assign` (``algorithm``, ``gap``, ``unreachable``, ...).

    Returns
    -------
    result : AssignmentResult
        Costs in units of ``time_unit`` seconds (minutes by default).
    edges : DataFrame
        One row per assigned edge: ``u``, ``v``, ``key``, ``flow`` (veh/h), ``travel_time`` (s),
        ``free_flow_time`` (s), ``capacity``, ``voc``.
    """
    net = RoadNetwork.from_networkx(
        graph, zones=zones, time_unit=time_unit, capacity_by_class=capacity_by_class,
        default_capacity=default_capacity, mode=mode, zones_carry_through=zones_carry_through,
    )
    if isinstance(demand, Mapping):
        position = {z: i for i, z in enumerate(zones)}
        matrix = np.zeros((net.n_zones, net.n_zones))
        for (o, d), trips in demand.items():
            if o not in position or d not in position:
                raise InputError(f"assign_graph: demand {o!r}->{d!r} involves a node that is not in 'zones'")
            matrix[position[o], position[d]] += float(trips)
    else:
        matrix = np.asarray(demand, dtype=np.float64)
    result = assign(net, matrix, **options)
    labels = net.link_labels or ()
    with np.errstate(divide="ignore", invalid="ignore"):
        voc = np.where(net.capacity > 0, result.flows / net.capacity, np.nan)
    edges = pd.DataFrame(
        {
            "u": [lab[0] for lab in labels],
            "v": [lab[1] for lab in labels],
            "key": [lab[2] for lab in labels],
            "flow": result.flows,
            "travel_time": result.costs * time_unit,
            "free_flow_time": net.free_flow_time * time_unit,
            "capacity": net.capacity,
            "voc": voc,
        }
    )
    return result, edges
