"""Road networks for traffic assignment, and readers for the TNTP formats.

A :class:`RoadNetwork` is a frozen bundle of per-link numpy arrays (0-based node indices) with
the zone conventions of the TNTP test networks: zones are the first ``n_zones`` nodes, and
nodes with an index below ``first_thru_node`` carry no through traffic (a path may leave such
a node only at its start and enter it only at its end).

The readers follow the format of the Transportation Networks for Research repository
(``*_net.tntp``, ``*_trips.tntp``, ``*_node.tntp``, ``*_flow.tntp``).  They are strict: a
missing metadata tag, a line with the wrong number of columns, a negative capacity, a
zero free-flow time on a link whose BPR delay needs one, demand to an unknown zone or a
duplicated OD entry raise :class:`networks.errors.TNTPError` naming the file and line;
nothing is silently dropped.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InputError, TNTPError
from networks.memory import check_memory

__all__ = [
    "RoadNetwork",
    "read_tntp_network",
    "read_tntp_trips",
    "read_tntp_flows",
    "read_tntp_nodes",
    "flows_to_link_array",
]

_FLOAT_FIELDS = ("capacity", "length", "free_flow_time", "b", "power", "speed", "toll")
_LINK_COLUMNS = 10  # init term capacity length fft b power speed toll type


def _as_float(values: Any, n: int, name: str, default: float | None = None) -> np.ndarray:
    if values is None:
        if default is None:
            raise InputError(f"RoadNetwork: field '{name}' is required")
        return np.full(n, default, dtype=np.float64)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr), dtype=np.float64)
    if arr.shape != (n,):
        raise InputError(f"RoadNetwork: field '{name}' has shape {arr.shape}, expected ({n},)")
    return arr


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road network with zones, ready for assignment.

    All per-link arrays have length ``n_links``; node indices are 0-based.  The zones are the
    nodes ``0 .. n_zones-1``; nodes with index ``< first_thru_node`` carry no through traffic.

    Attributes
    ----------
    n_nodes, n_zones : int
        Number of nodes (zones included) and of zones.
    first_thru_node : int
        0-based index of the first node that may carry through traffic (TNTP's
        ``<FIRST THRU NODE>`` minus one).  ``0`` means every node may.
    tail, head : ndarray of int64
        0-based end nodes of each link.
    capacity, length, free_flow_time, b, power, speed, toll : ndarray of float64
        Link attributes; ``b`` and ``power`` are the BPR parameters of
        ``t = free_flow_time * (1 + b * (flow / capacity) ** power)``.
    link_type : ndarray of int64
        Link type code (kept as read).
    node_ids : ndarray of int64
        Original node ids (TNTP numbering, or the ids of the graph the network came from).
    name : str
        Free text used in messages.
    node_labels : tuple, optional
        The graph's node keys, by node index (networks built with :meth:`from_networkx`).
    link_labels : tuple, optional
        ``(u, v, key)`` of the graph edge behind each link (networks built with
        :meth:`from_networkx`); links added later by :meth:`with_links` get ``None``.
    """

    n_nodes: int
    n_zones: int
    first_thru_node: int
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    length: np.ndarray
    free_flow_time: np.ndarray
    b: np.ndarray
    power: np.ndarray
    speed: np.ndarray
    toll: np.ndarray
    link_type: np.ndarray
    node_ids: np.ndarray
    name: str = ""
    node_labels: tuple[Hashable, ...] | None = field(default=None, repr=False)
    link_labels: tuple[Hashable, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(np.asarray(self.tail))
        object.__setattr__(self, "tail", np.ascontiguousarray(self.tail, dtype=np.int64))
        object.__setattr__(self, "head", np.ascontiguousarray(self.head, dtype=np.int64))
        for name in _FLOAT_FIELDS:
            object.__setattr__(self, name, np.ascontiguousarray(_as_float(getattr(self, name), n, name)))
        object.__setattr__(self, "link_type", np.ascontiguousarray(self.link_type, dtype=np.int64))
        object.__setattr__(self, "node_ids", np.ascontiguousarray(self.node_ids, dtype=np.int64))
        for name in ("tail", "head", "link_type", *_FLOAT_FIELDS):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise InputError(f"RoadNetwork: field '{name}' has shape {arr.shape}, expected ({n},)")
            arr.setflags(write=False)
        self.node_ids.setflags(write=False)
        if self.link_labels is not None and len(self.link_labels) != n:
            raise InputError(f"RoadNetwork: {len(self.link_labels)} link labels for {n} links")
        self._validate()

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        label = self.name or "RoadNetwork"
        if self.n_nodes <= 0:
            raise InputError(f"{label}: n_nodes must be positive, got {self.n_nodes}")
        if not 0 <= self.n_zones <= self.n_nodes:
            raise InputError(f"{label}: n_zones={self.n_zones} must be in [0, n_nodes={self.n_nodes}]")
        if not 0 <= self.first_thru_node <= self.n_nodes:
            raise InputError(f"{label}: first_thru_node={self.first_thru_node} outside [0, {self.n_nodes}]")
        if self.node_ids.shape != (self.n_nodes,):
            raise InputError(f"{label}: node_ids has {self.node_ids.size} entries, expected {self.n_nodes}")
        for end in ("tail", "head"):
            arr = getattr(self, end)
            bad = np.flatnonzero((arr < 0) | (arr >= self.n_nodes))
            if bad.size:
                raise InputError(
                    f"{label}: link {bad[0]} has {end} index {arr[bad[0]]}, expected 0..{self.n_nodes - 1}"
                )
        loops = np.flatnonzero(self.tail == self.head)
        if loops.size:
            raise InputError(f"{label}: link {loops[0]} is a self-loop at node {self.node_ids[self.tail[loops[0]]]}")
        for name in _FLOAT_FIELDS:
            arr = getattr(self, name)
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                raise InputError(f"{label}: link {bad[0]} has non-finite {name} {arr[bad[0]]}")
        for name in ("capacity", "free_flow_time", "b", "power", "length"):
            arr = getattr(self, name)
            bad = np.flatnonzero(arr < 0)
            if bad.size:
                raise InputError(f"{label}: link {self._describe(bad[0])} has negative {name} {arr[bad[0]]}")
        needs_bpr = self.b > 0
        bad = np.flatnonzero(needs_bpr & (self.capacity <= 0))
        if bad.size:
            raise InputError(
                f"{label}: link {self._describe(bad[0])} has capacity {self.capacity[bad[0]]} but BPR b="
                f"{self.b[bad[0]]} needs a positive capacity"
            )
        bad = np.flatnonzero(needs_bpr & (self.free_flow_time <= 0))
        if bad.size:
            raise InputError(
                f"{label}: link {self._describe(bad[0])} has free-flow time 0 but BPR b={self.b[bad[0]]} "
                "needs a positive one (congestion delay is proportional to it); set b=0 for a free link"
            )

    def _describe(self, link: int) -> str:
        return f"{link} ({self.node_ids[self.tail[link]]}->{self.node_ids[self.head[link]]})"

    # ------------------------------------------------------------------ views
    @property
    def n_links(self) -> int:
        """Number of links."""
        return int(self.tail.size)

    def index_of(self, node_ids: Iterable[int] | int) -> np.ndarray:
        """Map original node ids to 0-based node indices.

        Raises
        ------
        InputError
            If an id is not a node of the network.
        """
        ids = np.atleast_1d(np.asarray(node_ids, dtype=np.int64))
        order = np.argsort(self.node_ids, kind="stable")
        pos = np.searchsorted(self.node_ids, ids, sorter=order)
        pos = np.clip(pos, 0, self.n_nodes - 1)
        found = order[pos]
        bad = np.flatnonzero(self.node_ids[found] != ids)
        if bad.size:
            raise InputError(f"{self.name or 'RoadNetwork'}: unknown node id {ids[bad[0]]}")
        return found

    def link_index(self, tail_id: int, head_id: int) -> int:
        """Index of the (first) link from original node id ``tail_id`` to ``head_id``."""
        t, h = self.index_of([tail_id, head_id])
        hits = np.flatnonzero((self.tail == t) & (self.head == h))
        if not hits.size:
            raise InputError(f"{self.name or 'RoadNetwork'}: no link {tail_id}->{head_id}")
        return int(hits[0])

    def to_frame(self) -> pd.DataFrame:
        """Links as a DataFrame (tail/head in original ids)."""
        data: dict[str, Any] = {
            "tail": self.node_ids[self.tail],
            "head": self.node_ids[self.head],
        }
        for name in (*_FLOAT_FIELDS, "link_type"):
            data[name] = getattr(self, name)
        return pd.DataFrame(data)

    # ------------------------------------------------------------------ edits
    def with_links(
        self,
        *,
        tail: Sequence[int] | np.ndarray,
        head: Sequence[int] | np.ndarray,
        capacity: Any,
        free_flow_time: Any,
        b: Any = 0.15,
        power: Any = 4.0,
        length: Any = 0.0,
        speed: Any = 0.0,
        toll: Any = 0.0,
        link_type: Any = 1,
    ) -> RoadNetwork:
        """Return a new network with links appended (this one is unchanged).

        Parameters
        ----------
        tail, head : sequence of int
            **0-based node indices** of the new links (use :meth:`index_of` to convert original
            ids).  New links get indices ``n_links, n_links + 1, ...`` in the order given.
        capacity, free_flow_time, b, power, length, speed, toll, link_type
            Scalars (broadcast) or one value per new link.
        """
        tail_arr = np.atleast_1d(np.asarray(tail, dtype=np.int64))
        head_arr = np.atleast_1d(np.asarray(head, dtype=np.int64))
        k = tail_arr.size
        if head_arr.size != k:
            raise InputError(f"with_links: {k} tails but {head_arr.size} heads")
        extra = {
            "capacity": _as_float(capacity, k, "capacity"),
            "free_flow_time": _as_float(free_flow_time, k, "free_flow_time"),
            "b": _as_float(b, k, "b"),
            "power": _as_float(power, k, "power"),
            "length": _as_float(length, k, "length"),
            "speed": _as_float(speed, k, "speed"),
            "toll": _as_float(toll, k, "toll"),
        }
        lt = np.asarray(link_type, dtype=np.int64)
        lt = np.full(k, int(lt), dtype=np.int64) if lt.ndim == 0 else lt
        changes: dict[str, Any] = {
            "tail": np.concatenate([self.tail, tail_arr]),
            "head": np.concatenate([self.head, head_arr]),
            "link_type": np.concatenate([self.link_type, lt]),
        }
        for name, values in extra.items():
            changes[name] = np.concatenate([getattr(self, name), values])
        if self.link_labels is not None:
            changes["link_labels"] = self.link_labels + (None,) * k
        return dataclasses.replace(self, **changes)

    def scaled(self, *, capacity: float = 1.0) -> RoadNetwork:
        """Return a copy with capacities multiplied by ``capacity`` (e.g. 1e-3 for DNDP instances)."""
        return dataclasses.replace(self, capacity=self.capacity * capacity)

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_networkx(
        cls,
        graph: Any,
        *,
        zones: Sequence[Hashable],
        time_unit: float = 60.0,
        b: float = 0.15,
        power: float = 4.0,
        default_capacity: float | None = None,
        capacity_by_class: Mapping[str, float] | None = None,
        mode: str | None = None,
        zones_carry_through: bool = True,
        name: str = "",
    ) -> RoadNetwork:
        """Build a network from an osmnx-style (Multi)DiGraph.

        Parameters
        ----------
        graph : networkx.DiGraph or MultiDiGraph
            Edges need ``travel_time`` (seconds) and ``capacity`` (veh/h); ``length`` (metres)
            is kept when present.  Parallel edges become parallel links; self-loops are left out;
            edges with zero travel time get ``b = 0`` (no congestion delay).
        zones : sequence of node keys
            The graph nodes that are zones, in the order of the demand matrix's rows.
        time_unit : float
            Seconds per unit of the network's free-flow time (60: minutes, as in TNTP).
        b, power : float
            BPR parameters used for edges without their own ``bpr_b`` / ``bpr_power`` attributes.
        default_capacity : float, optional
            Capacity of edges without one; by default such an edge is an error.
        capacity_by_class : mapping, optional
            Capacity (veh/h) by OSM ``highway`` class for edges without a ``capacity``
            (a list-valued ``highway`` takes the largest listed class capacity).
        mode : str, optional
            Keep only edges whose ``mode`` attribute equals this (edges without one are kept).
        zones_carry_through : bool
            If False, zones carry no through traffic (centroids with connectors).
        """
        zones = list(zones)
        if len(set(zones)) != len(zones):
            raise InputError("from_networkx: duplicate zone in 'zones'")
        missing = [z for z in zones if z not in graph]
        if missing:
            raise InputError(f"from_networkx: zone {missing[0]!r} is not a node of the graph")
        zone_set = set(zones)
        others = [n for n in graph.nodes if n not in zone_set]
        labels = zones + others
        index = {n: i for i, n in enumerate(labels)}
        if graph.is_multigraph():
            items = graph.edges(keys=True, data=True)
        else:
            items = ((u, v, 0, d) for u, v, d in graph.edges(data=True))
        rows: dict[str, list[float]] = {k: [] for k in ("tail", "head", "capacity", "length", "fft", "b", "power")}
        labels_out: list[tuple[Hashable, Hashable, Hashable]] = []
        for u, v, key, data in items:
            if u == v:
                continue  # a self-loop never lies on a shortest path
            if mode is not None and data.get("mode", mode) != mode:
                continue
            if "travel_time" not in data:
                raise InputError(f"from_networkx: edge {u!r}->{v!r} has no 'travel_time' (seconds)")
            cap = data.get("capacity")
            if cap is None and capacity_by_class is not None and "highway" in data:
                classes = data["highway"] if isinstance(data["highway"], (list, tuple)) else [data["highway"]]
                known = [float(capacity_by_class[c]) for c in classes if c in capacity_by_class]
                cap = max(known) if known else None
            if cap is None:
                cap = default_capacity
            if cap is None:
                raise InputError(
                    f"from_networkx: edge {u!r}->{v!r} has no 'capacity' (veh/h) and no capacity for its "
                    f"road class {data.get('highway')!r}"
                )
            labels_out.append((u, v, key))
            rows["tail"].append(index[u])
            rows["head"].append(index[v])
            rows["capacity"].append(float(cap))
            rows["length"].append(float(data.get("length", 0.0)))
            fft = float(data["travel_time"]) / time_unit
            if not np.isfinite(fft) or fft < 0:
                raise InputError(f"from_networkx: edge {u!r}->{v!r} has travel_time {data['travel_time']!r}")
            rows["fft"].append(fft)
            # a zero-time edge (a zero-length OSM segment) cannot congest: BPR delay scales with it
            rows["b"].append(float(data.get("bpr_b", b)) if fft > 0 else 0.0)
            rows["power"].append(float(data.get("bpr_power", power)))
        n_links = len(rows["tail"])
        ids = np.arange(1, len(labels) + 1, dtype=np.int64)
        if all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in labels):
            ids = np.asarray(labels, dtype=np.int64)
        return cls(
            n_nodes=len(labels),
            n_zones=len(zones),
            first_thru_node=0 if zones_carry_through else len(zones),
            tail=np.asarray(rows["tail"], dtype=np.int64),
            head=np.asarray(rows["head"], dtype=np.int64),
            capacity=np.asarray(rows["capacity"]),
            length=np.asarray(rows["length"]),
            free_flow_time=np.asarray(rows["fft"]),
            b=np.asarray(rows["b"]),
            power=np.asarray(rows["power"]),
            speed=np.zeros(n_links),
            toll=np.zeros(n_links),
            link_type=np.ones(n_links, dtype=np.int64),
            node_ids=ids,
            name=name,
            node_labels=tuple(labels),
            link_labels=tuple(labels_out),
        )


# ---------------------------------------------------------------------- TNTP parsing
_TAG = re.compile(r"^\s*<([^>]+)>\s*(.*?)\s*$")


def _read_lines(path: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    p = Path(path)
    if p.is_dir():
        raise TNTPError(f"{p}: is a folder; expected a TNTP file")
    if not p.is_file():
        raise TNTPError(f"{p}: no such file")
    try:
        text = p.read_text(encoding="utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        raise TNTPError(f"{p}: not a text file ({exc.reason} at byte {exc.start})") from None
    return p, text.splitlines()


def _metadata(p: Path, lines: list[str]) -> tuple[dict[str, str], int]:
    """Return the metadata tags (upper-cased) and the index of the first line after them."""
    meta: dict[str, str] = {}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        m = _TAG.match(line)
        if not m:
            raise TNTPError(f"{p}:{i + 1}: expected a <TAG> metadata line or <END OF METADATA>, got {line[:60]!r}")
        tag = m.group(1).strip().upper()
        if tag == "END OF METADATA":
            return meta, i + 1
        meta[tag] = m.group(2)
    raise TNTPError(f"{p}: no <END OF METADATA> line")


def _meta_int(p: Path, meta: dict[str, str], tag: str, *, required: bool = True) -> int | None:
    if tag not in meta:
        if required:
            raise TNTPError(f"{p}: missing metadata <{tag}>")
        return None
    value = meta[tag].split()[0] if meta[tag].split() else ""
    try:
        return int(float(value)) if float(value).is_integer() else _bad_int(p, tag, meta[tag])
    except ValueError:
        return _bad_int(p, tag, meta[tag])


def _bad_int(p: Path, tag: str, value: str) -> int:
    raise TNTPError(f"{p}: metadata <{tag}> is {value!r}, expected an integer")


def _strip_comment(line: str) -> str:
    """Drop a trailing '~' comment and the ';' terminator."""
    if "~" in line:
        line = line[: line.index("~")]
    return line.replace(";", " ").strip()


def read_tntp_network(path: str | os.PathLike[str], *, name: str | None = None) -> RoadNetwork:
    """Read a TNTP ``*_net.tntp`` file.

    Parameters
    ----------
    path : path-like
        The network file.
    name : str, optional
        Name for messages; defaults to the file name.

    Returns
    -------
    RoadNetwork
        Nodes ``1..n`` of the file become indices ``0..n-1``; zones are nodes ``1..n_zones``.

    Raises
    ------
    TNTPError
        Missing metadata, a link line without 10 numeric columns, a link count that differs from
        ``<NUMBER OF LINKS>``, a node outside ``1..<NUMBER OF NODES>``, or a link attribute out of
        range (negative capacity, zero free-flow time where BPR needs it, ...).
    """
    p, lines = _read_lines(path)
    meta, start = _metadata(p, lines)
    n_zones = _meta_int(p, meta, "NUMBER OF ZONES")
    n_nodes = _meta_int(p, meta, "NUMBER OF NODES")
    first_thru = _meta_int(p, meta, "FIRST THRU NODE")
    n_links = _meta_int(p, meta, "NUMBER OF LINKS")
    assert n_zones is not None and n_nodes is not None and first_thru is not None and n_links is not None
    if n_nodes <= 0:
        raise TNTPError(f"{p}: <NUMBER OF NODES> is {n_nodes}, expected a positive integer")
    if not 0 <= n_zones <= n_nodes:
        raise TNTPError(f"{p}: <NUMBER OF ZONES> {n_zones} must be between 0 and <NUMBER OF NODES> {n_nodes}")
    if not 1 <= first_thru <= n_nodes + 1:
        raise TNTPError(f"{p}: <FIRST THRU NODE> {first_thru} must be between 1 and {n_nodes + 1}")
    if n_links < 0:
        raise TNTPError(f"{p}: <NUMBER OF LINKS> is {n_links}, expected >= 0")
    values: list[list[float]] = []
    line_no: list[int] = []
    for i in range(start, len(lines)):
        line = _strip_comment(lines[i])
        if not line:
            continue
        parts = line.split()
        if len(parts) != _LINK_COLUMNS:
            raise TNTPError(
                f"{p}:{i + 1}: link line has {len(parts)} columns, expected {_LINK_COLUMNS} "
                "(init term capacity length free_flow_time b power speed toll type)"
            )
        try:
            values.append([float(x) for x in parts])
        except ValueError:
            bad = next(x for x in parts if not _is_float(x))
            raise TNTPError(f"{p}:{i + 1}: link field {bad!r} is not a number") from None
        line_no.append(i + 1)
    if len(values) != n_links:
        raise TNTPError(f"{p}: found {len(values)} link lines, but <NUMBER OF LINKS> says {n_links}")
    arr = np.asarray(values, dtype=np.float64).reshape(-1, _LINK_COLUMNS)
    ends = arr[:, :2]
    for col, what in ((0, "init node"), (1, "term node")):
        bad = np.flatnonzero((ends[:, col] != np.round(ends[:, col])) | (ends[:, col] < 1) | (ends[:, col] > n_nodes))
        if bad.size:
            raise TNTPError(
                f"{p}:{line_no[bad[0]]}: {what} {ends[bad[0], col]:g} is not a node id in 1..{n_nodes}"
            )
    checks = (
        (2, "capacity", lambda v: v < 0, "must not be negative"),
        (4, "free flow time", lambda v: v < 0, "must not be negative"),
        (5, "b", lambda v: v < 0, "must not be negative"),
        (6, "power", lambda v: v < 0, "must not be negative"),
        (3, "length", lambda v: v < 0, "must not be negative"),
    )
    for col, what, test, expect in checks:
        bad = np.flatnonzero(~np.isfinite(arr[:, col]))
        if bad.size:
            value = arr[bad[0], col]
            raise TNTPError(f"{p}:{line_no[bad[0]]}: {what} {value:g} "
                            f"{'is not a number' if np.isnan(value) else 'is infinite'}; expected a finite number")
        bad = np.flatnonzero(test(arr[:, col]))
        if bad.size:
            raise TNTPError(f"{p}:{line_no[bad[0]]}: {what} {arr[bad[0], col]:g} {expect}")
    bpr = arr[:, 5] > 0
    bad = np.flatnonzero(bpr & (arr[:, 2] <= 0))
    if bad.size:
        raise TNTPError(
            f"{p}:{line_no[bad[0]]}: capacity {arr[bad[0], 2]:g} but BPR b={arr[bad[0], 5]:g} needs a positive capacity"
        )
    bad = np.flatnonzero(bpr & (arr[:, 4] <= 0))
    if bad.size:
        raise TNTPError(
            f"{p}:{line_no[bad[0]]}: free flow time 0 but BPR b={arr[bad[0], 5]:g} needs a positive one "
            "(the congestion delay is proportional to it)"
        )
    loops = np.flatnonzero(ends[:, 0] == ends[:, 1])
    if loops.size:
        raise TNTPError(f"{p}:{line_no[loops[0]]}: link {ends[loops[0], 0]:g}->{ends[loops[0], 1]:g} is a self-loop")
    return network_from_columns(arr, n_nodes=n_nodes, n_zones=n_zones, first_thru=first_thru,
                                name=name if name is not None else p.name)


def network_from_columns(
    arr: np.ndarray, *, n_nodes: int, n_zones: int, first_thru: int, name: str, capacity_scale: float = 1.0
) -> RoadNetwork:
    """A network from the ten numeric columns of a TNTP link table (1-based node ids)."""
    shown = str(n_nodes) if len(str(n_nodes)) <= 15 else f"{str(n_nodes)[:6]}... (too many digits)"
    # node arrays here and in assignment (ids, labels, distances, predecessors, ...): about 64 bytes a node
    check_memory(64 * n_nodes, f"{name}: <NUMBER OF NODES> {shown} means node arrays of that length",
                 "check the node count in the file's metadata", error=TNTPError)
    return RoadNetwork(
        n_nodes=n_nodes,
        n_zones=n_zones,
        first_thru_node=first_thru - 1,
        tail=arr[:, 0].astype(np.int64) - 1,
        head=arr[:, 1].astype(np.int64) - 1,
        capacity=arr[:, 2] * capacity_scale,
        length=arr[:, 3],
        free_flow_time=arr[:, 4],
        b=arr[:, 5],
        power=arr[:, 6],
        speed=arr[:, 7],
        toll=arr[:, 8],
        link_type=np.round(arr[:, 9]).astype(np.int64),
        node_ids=np.arange(1, n_nodes + 1, dtype=np.int64),
        name=name,
    )


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_ORIGIN = re.compile(r"^origin\s+(\S+)\s*$", re.I)
_ENTRY = re.compile(r"^\s*(\S+)\s*:\s*(\S+)\s*$")


def read_tntp_trips(path: str | os.PathLike[str], *, n_zones: int | None = None) -> np.ndarray:
    """Read a TNTP ``*_trips.tntp`` file into a dense OD matrix.

    Parameters
    ----------
    path : path-like
        The trips file.
    n_zones : int, optional
        Expected number of zones (the network's); checked against ``<NUMBER OF ZONES>``.

    Returns
    -------
    ndarray, shape (n_zones, n_zones)
        ``demand[o, d]`` for zones ``o+1 -> d+1``.  Pairs not listed are 0.

    Raises
    ------
    TNTPError
        Missing ``<NUMBER OF ZONES>``, an entry before the first ``Origin`` line, a zone outside
        ``1..n_zones``, a negative or non-numeric demand, an OD pair listed twice, or a total that
        differs from ``<TOTAL OD FLOW>`` (when given) by more than rounding.
    """
    p, lines = _read_lines(path)
    meta, start = _metadata(p, lines)
    zones = _meta_int(p, meta, "NUMBER OF ZONES")
    assert zones is not None
    if zones <= 0:
        raise TNTPError(f"{p}: <NUMBER OF ZONES> is {zones}, expected a positive integer")
    if n_zones is not None and zones != n_zones:
        raise TNTPError(f"{p}: <NUMBER OF ZONES> is {zones} but the network has {n_zones} zones")
    shown = str(zones) if len(str(zones)) <= 15 else f"{str(zones)[:6]}... (too many digits)"
    check_memory(9 * zones * zones, f"{p}: <NUMBER OF ZONES> {shown} means a dense OD matrix of that size squared",
                 "check the zone count in the file's metadata", error=TNTPError)
    demand = np.zeros((zones, zones), dtype=np.float64)
    seen = np.zeros((zones, zones), dtype=bool)
    origin: int | None = None
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("~"):
            continue
        m = _ORIGIN.match(line)
        if m:
            origin = _zone(p, i, m.group(1), zones, "origin")
            continue
        if origin is None:
            raise TNTPError(f"{p}:{i + 1}: demand entries before the first 'Origin' line")
        for chunk in line.split(";"):
            chunk = chunk.strip()
            if not chunk:
                continue
            e = _ENTRY.match(chunk)
            if not e:
                raise TNTPError(f"{p}:{i + 1}: expected 'destination : demand;', got {chunk!r}")
            dest = _zone(p, i, e.group(1), zones, "destination")
            try:
                value = float(e.group(2))
            except ValueError:
                raise TNTPError(f"{p}:{i + 1}: demand {e.group(2)!r} is not a number") from None
            if not np.isfinite(value) or value < 0:
                raise TNTPError(f"{p}:{i + 1}: demand {origin + 1}->{dest + 1} is {value:g}, expected >= 0")
            if seen[origin, dest]:
                raise TNTPError(f"{p}:{i + 1}: demand {origin + 1}->{dest + 1} is given twice")
            seen[origin, dest] = True
            demand[origin, dest] = value
    if "TOTAL OD FLOW" in meta and meta["TOTAL OD FLOW"].split():
        try:
            stated = float(meta["TOTAL OD FLOW"].split()[0])
        except ValueError:
            raise TNTPError(f"{p}: <TOTAL OD FLOW> {meta['TOTAL OD FLOW']!r} is not a number") from None
        total = float(demand.sum())
        tol = 1e-6 * abs(stated) + 0.01  # the totals are printed rounded
        if abs(total - stated) > tol:
            raise TNTPError(
                f"{p}: demand entries sum to {total:.6f} but <TOTAL OD FLOW> says {stated:.6f} (entries missing or extra?)"
            )
    return demand


def _zone(p: Path, i: int, text: str, zones: int, what: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise TNTPError(f"{p}:{i + 1}: {what} {text!r} is not a zone number") from None
    if not math.isfinite(value) or value != round(value) or not 1 <= value <= zones:
        raise TNTPError(f"{p}:{i + 1}: {what} {text} is not a zone in 1..{zones} (demand to an unknown zone)")
    return int(value) - 1


def read_tntp_flows(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a TNTP ``*_flow.tntp`` solution file.

    Returns
    -------
    DataFrame
        Columns ``tail``, ``head`` (original node ids), ``volume``, ``cost``, one row per link in
        file order.  ``(volume * cost).sum()`` is the solution's total system travel time.
    """
    p, lines = _read_lines(path)
    rows: list[tuple[int, int, float, float]] = []
    for i, line, parts in _table_rows(p, lines, header=("from", "to"), header_name="'From To Volume Cost'"):
        if len(parts) != 4:
            raise TNTPError(f"{p}:{i + 1}: flow line has {len(parts)} columns, expected 4 (from to volume cost)")
        if not all(_is_float(x) for x in parts):
            raise TNTPError(f"{p}:{i + 1}: flow line has a non-numeric field: {line[:60]!r}")
        a, b_, vol, cost = (float(x) for x in parts)
        if a != round(a) or b_ != round(b_):
            raise TNTPError(f"{p}:{i + 1}: node ids must be integers, got {parts[0]} {parts[1]}")
        rows.append((int(a), int(b_), vol, cost))
    if not rows:
        raise TNTPError(f"{p}: no flow lines")
    return pd.DataFrame(rows, columns=["tail", "head", "volume", "cost"])


def _table_rows(
    p: Path, lines: list[str], *, header: tuple[str, ...] | None = None, header_name: str = ""
) -> Iterator[tuple[int, str, list[str]]]:
    """Data lines of a headed TNTP table: ``(line index, line, fields)``, comments and the
    header skipped (when ``header`` is given, its first fields must match it)."""
    header_seen = False
    for i, raw in enumerate(lines):
        line = _strip_comment(raw)
        if not line:
            continue
        parts = line.split()
        if not header_seen and not _is_float(parts[0]):
            if header is not None and [x.lower() for x in parts[: len(header)]] != list(header):
                raise TNTPError(f"{p}:{i + 1}: expected a {header_name} header, got {line[:60]!r}")
            header_seen = True
            continue
        yield i, line, parts


def read_tntp_nodes(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a TNTP ``*_node.tntp`` file: columns ``node``, ``x``, ``y``."""
    p, lines = _read_lines(path)
    rows: list[tuple[int, float, float]] = []
    for i, line, parts in _table_rows(p, lines):
        if len(parts) != 3 or not all(_is_float(x) for x in parts):
            raise TNTPError(f"{p}:{i + 1}: node line must be 'node x y', got {line[:60]!r}")
        node = float(parts[0])
        if node != round(node):
            raise TNTPError(f"{p}:{i + 1}: node id {parts[0]} is not an integer")
        rows.append((int(node), float(parts[1]), float(parts[2])))
    if not rows:
        raise TNTPError(f"{p}: no node lines")
    frame = pd.DataFrame(rows, columns=["node", "x", "y"])
    dup = frame["node"].duplicated()
    if dup.any():
        raise TNTPError(f"{p}: node {frame['node'][dup].iloc[0]} is listed twice")
    return frame


def flows_to_link_array(net: RoadNetwork, flows: pd.DataFrame, *, column: str = "volume") -> np.ndarray:
    """Align a flow table (``tail``, ``head`` in original ids) with the network's links.

    Raises
    ------
    InputError
        If a link of the network is missing from the table or a row matches no link.
    """
    key = pd.MultiIndex.from_arrays([flows["tail"].to_numpy(), flows["head"].to_numpy()])
    if key.has_duplicates:
        raise InputError("flows_to_link_array: a (tail, head) pair appears twice; parallel links are ambiguous")
    series = pd.Series(flows[column].to_numpy(dtype=np.float64), index=key)
    net_key = pd.MultiIndex.from_arrays([net.node_ids[net.tail], net.node_ids[net.head]])
    out = series.reindex(net_key)
    if out.isna().any():
        i = int(np.flatnonzero(out.isna().to_numpy())[0])
        raise InputError(f"flows_to_link_array: no flow row for link {net._describe(i)}")
    if len(series) != net.n_links:
        raise InputError(f"flows_to_link_array: {len(series)} flow rows for {net.n_links} links")
    return out.to_numpy()
