"""Public data types of the selection package and its shared constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import pandas as pd

#: A base graph: a scipy.sparse n x n matrix of arc times, or ``(n, tails, heads, times)``.
BaseGraph = Union[sp.sparray, sp.spmatrix, tuple[int, ArrayLike, ArrayLike, ArrayLike]]

# Target for the sum over OD pairs of the largest scaled saving: large enough that the rounding
# slack (half a unit per OD pair) is negligible, small enough to stay far from int64 overflow.
_SAVING_SCALE_TARGET = float(2**40)
_COST_TOL = 1e-9
_MAX_BRUTE_FORCE_PROJECTS = 22
_SEED = 20240611


# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A candidate project.

    Parameters
    ----------
    id
        Unique identifier.
    cost
        Investment cost, finite and ``>= 0`` (any unit, the same as the budget).
    arcs
        New directed arcs ``(tail, head, time)``; an upgrade is a faster arc parallel to a base
        arc.  Nodes must exist in the base graph; times finite and ``>= 0``.  A project without
        arcs is allowed (it saves nothing in the free-flow model but can be a dependency).
    member
        Lead member of the alliance, for per-member budget caps (``None``: no cap applies).
    requires
        Ids of the projects this one needs (all of them).
    excludes
        Ids of the projects that cannot be built together with this one (symmetric).
    """

    id: str
    cost: float
    arcs: tuple[tuple[int, int, float], ...]
    member: str | None = None
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists (JSON) and a bare string for a single dependency; store tuples so the
        # dataclass stays hashable.
        object.__setattr__(self, "arcs", tuple(tuple(a) for a in self.arcs))
        for name in ("requires", "excludes"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))


@dataclass(frozen=True)
class ODDemand:
    """Origin-destination demand: parallel arrays of origin nodes, destination nodes, demand."""

    origins: np.ndarray
    destinations: np.ndarray
    demand: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "origins", np.asarray(self.origins))
        object.__setattr__(self, "destinations", np.asarray(self.destinations))
        object.__setattr__(self, "demand", np.asarray(self.demand, dtype=float))

    def __len__(self) -> int:
        return int(self.demand.shape[0])


@dataclass(frozen=True)
class DesignValue:
    """The exact free-flow value of one design.

    Attributes
    ----------
    selected
        Sorted project ids of the design.
    objective
        ``sum(demand * od_times)`` over pairs with positive demand.
    od_times
        Shortest-path time per OD row, in the order of the input.
    """

    selected: tuple[str, ...]
    objective: float
    od_times: np.ndarray


@dataclass
class SelectionResult:
    """Outcome of a selection run.

    Attributes
    ----------
    selected
        Sorted ids of the chosen projects.
    objective
        Exact objective of ``selected`` (Dijkstra on the full graph).
    bound
        Valid lower bound on the optimal objective (integer rounding accounted for).
    gap
        ``(objective - bound) / objective`` (0 when both are 0).
    status
        ``"OPTIMAL"`` (proved), ``"FEASIBLE"`` (time or gap limit: best found and its gap),
        ``"INFEASIBLE"``, ``"MODEL_INVALID"`` or ``"UNKNOWN"``.
    base_objective
        Objective with no project.
    od_times
        Time per OD row of the chosen design.
    cost
        Total cost of the chosen projects.
    budget
        The budget of the run.
    seconds
        Wall-clock seconds of the whole run.
    stats
        Sizes and solver statistics (records, Dijkstra calls, CP-SAT figures).
    """

    selected: tuple[str, ...]
    objective: float
    bound: float
    gap: float
    status: str
    base_objective: float
    od_times: np.ndarray
    cost: float
    budget: float
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def saving(self) -> float:
        """Objective reduction against the base network."""
        return self.base_objective - self.objective

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary (OD times as a list)."""
        return {
            "selected": list(self.selected),
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "status": self.status,
            "base_objective": self.base_objective,
            "saving": self.saving,
            "cost": self.cost,
            "budget": self.budget,
            "seconds": self.seconds,
            "od_times": [float(t) for t in self.od_times],
            "stats": _jsonable(self.stats),
        }


@dataclass(frozen=True)
class LadderEntry:
    """A project's place in the investment priority order."""

    rank: int
    id: str
    first_budget: float
    cost: float
    member: str | None
    marginal_saving: float


@dataclass(frozen=True)
class NonNested:
    """Projects optimal at ``budget_from`` that leave the optimal set at ``budget_to``."""

    budget_from: float
    budget_to: float
    dropped: tuple[str, ...]
    added: tuple[str, ...]


@dataclass
class Ladder:
    """Optimal sets along a budget ladder and the priority order derived from them.

    Attributes
    ----------
    budgets
        Budgets, ascending.
    results
        One :class:`SelectionResult` per budget.
    priority
        Projects in order of first entry (ties: larger marginal saving first, then id).
        ``marginal_saving`` is ``F(S - {p}) - F(S)`` in the optimal set ``S`` of the entry budget.
    non_nested
        Consecutive budgets whose optimal sets are not nested (a project leaves the set).
    objective_of
        ``objective_of(ids)``: the exact objective of any design inside the search's root
        (from the records when their search was complete, else by shortest paths); ``None``
        when the ladder was built otherwise.
    """

    budgets: tuple[float, ...]
    results: tuple[SelectionResult, ...]
    priority: tuple[LadderEntry, ...]
    non_nested: tuple[NonNested, ...]
    objective_of: Any = field(default=None, repr=False, compare=False)

    @property
    def nested(self) -> bool:
        """True when every optimal set contains the previous one."""
        return not self.non_nested

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary."""
        return {
            "budgets": list(self.budgets),
            "results": [r.to_dict() for r in self.results],
            "priority": [_entry_dict(e) for e in self.priority],
            "non_nested": [
                {
                    "budget_from": n.budget_from,
                    "budget_to": n.budget_to,
                    "dropped": list(n.dropped),
                    "added": list(n.added),
                }
                for n in self.non_nested
            ],
            "nested": self.nested,
        }

    def to_frame(self) -> "pd.DataFrame":
        """One row per budget: selected ids, cost, objective, saving, bound, gap, status."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "budget": r.budget,
                    "selected": " ".join(r.selected),
                    "cost": r.cost,
                    "objective": r.objective,
                    "saving": r.saving,
                    "bound": r.bound,
                    "gap": r.gap,
                    "status": r.status,
                }
                for r in self.results
            ]
        )


def _entry_dict(entry: LadderEntry) -> dict[str, Any]:
    return {
        "rank": entry.rank,
        "id": entry.id,
        "first_budget": entry.first_budget,
        "cost": entry.cost,
        "member": entry.member,
        "marginal_saving": entry.marginal_saving,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
