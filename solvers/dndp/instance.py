"""Reading the network-design instances (Rey 2020 format) into :class:`DNDPInstance`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from networks.errors import InputError, InstanceError
from networks.tntp import RoadNetwork, network_from_columns

#: Scale of the Rey (2020) instances: demand and capacities are multiplied by this.
INSTANCE_SCALE = 1e-3


# ---------------------------------------------------------------------------- instances
@dataclass(frozen=True)
class DNDPInstance:
    """A network-design instance: a road network whose last links are candidates.

    Attributes
    ----------
    network : RoadNetwork
        Base links followed by the candidate links (capacities as scaled on reading).
    candidates : numpy.ndarray
        Link indices (into ``network``) of the candidate links, one binary project each.
    costs : numpy.ndarray
        Cost of each candidate, in the instance's units.
    name : str
        File name or label.
    """

    network: RoadNetwork
    candidates: np.ndarray
    costs: np.ndarray
    name: str = ""

    @property
    def total_cost(self) -> float:
        return float(np.sum(self.costs))

    def budget(self, fraction: float) -> float:
        """Budget as a fraction of the total candidate cost (Rey 2020 uses 0.25, 0.5, 0.75)."""
        if not 0.0 <= fraction:
            raise InputError(f"budget fraction {fraction!r} must be >= 0")
        return float(fraction) * self.total_cost

    def candidate_links(self) -> list[tuple[int, int]]:
        """Candidates as ``(from, to)`` pairs of original node ids."""
        ids = self.network.node_ids
        return [(int(ids[self.network.tail[a]]), int(ids[self.network.head[a]])) for a in self.candidates]


def _meta_value(path: Path, meta: dict[str, str], tag: str) -> int:
    if tag not in meta:
        raise InstanceError(f"{path}: metadata tag <{tag}> is missing")
    try:
        return int(meta[tag].split()[0])
    except (ValueError, IndexError):
        raise InstanceError(f"{path}: <{tag}> is {meta[tag]!r}, expected an integer") from None


def read_dndp_instance(path: str | os.PathLike[str], *, capacity_scale: float = INSTANCE_SCALE) -> DNDPInstance:
    """Read a DNDP instance (Rey 2020 format): a TNTP net file with candidates appended.

    The file has the TNTP metadata plus ``<NUMBER OF NEW LINKS>``; each link line has the ten
    TNTP columns and an eleventh, the cost (0 for base links); the last
    ``<NUMBER OF NEW LINKS>`` lines are the candidates.

    Parameters
    ----------
    path : path-like
        The instance file.
    capacity_scale : float
        Multiplier applied to capacities (the instances' convention is 1e-3, with demand
        scaled likewise, so the objective is UE TSTT / 1000).

    Raises
    ------
    InstanceError
        Missing metadata, a line that is not 11 numbers, a count that disagrees with the
        metadata, a node id out of range, a negative cost or attribute, a candidate that
        duplicates a base link or another candidate.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InstanceError(f"{p}: cannot read DNDP instance ({exc.strerror or exc})") from None
    meta: dict[str, str] = {}
    start = None
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith("<"):
            tag, _, rest = line[1:].partition(">")
            if tag.strip().upper() == "END OF METADATA":
                start = i + 1
                break
            meta[tag.strip().upper()] = rest.strip()
    if start is None:
        raise InstanceError(f"{p}: no <END OF METADATA> line; not a TNTP/DNDP instance file")
    n_nodes = _meta_value(p, meta, "NUMBER OF NODES")
    n_zones = _meta_value(p, meta, "NUMBER OF ZONES")
    first_thru = _meta_value(p, meta, "FIRST THRU NODE")
    n_links = _meta_value(p, meta, "NUMBER OF LINKS")
    n_new = _meta_value(p, meta, "NUMBER OF NEW LINKS")
    if n_new < 0 or n_links < 0:
        raise InstanceError(f"{p}: link counts must be >= 0 (links {n_links}, new links {n_new})")
    rows: list[list[float]] = []
    line_no: list[int] = []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("~"):
            continue
        line = line.replace(";", " ")
        parts = line.split()
        if len(parts) != 11:
            raise InstanceError(
                f"{p}:{i + 1}: link line has {len(parts)} columns, expected 11 "
                "(init term capacity length free_flow_time b power speed toll type cost)"
            )
        try:
            rows.append([float(v) for v in parts])
        except ValueError:
            raise InstanceError(f"{p}:{i + 1}: link line {line!r} has a non-numeric field") from None
        line_no.append(i + 1)
    if len(rows) != n_links + n_new:
        raise InstanceError(
            f"{p}: found {len(rows)} link lines, expected <NUMBER OF LINKS> {n_links} + <NUMBER OF NEW LINKS> {n_new}"
        )
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 11)
    for col, what in ((0, "init node"), (1, "term node")):
        bad = np.flatnonzero((arr[:, col] != np.round(arr[:, col])) | (arr[:, col] < 1) | (arr[:, col] > n_nodes))
        if bad.size:
            raise InstanceError(f"{p}:{line_no[bad[0]]}: {what} {arr[bad[0], col]:g} is not a node id in 1..{n_nodes}")
    for col, what in ((2, "capacity"), (4, "free flow time"), (5, "b"), (6, "power"), (10, "cost")):
        bad = np.flatnonzero(~np.isfinite(arr[:, col]) | (arr[:, col] < 0))
        if bad.size:
            raise InstanceError(f"{p}:{line_no[bad[0]]}: {what} {arr[bad[0], col]:g} is negative; expected >= 0")
    bad = np.flatnonzero((arr[:, 5] > 0) & (arr[:, 2] <= 0))
    if bad.size:
        raise InstanceError(f"{p}:{line_no[bad[0]]}: capacity 0 on a link with BPR b > 0")
    seen: dict[tuple[int, int], int] = {}
    for k, (u, v) in enumerate(arr[:, :2].astype(np.int64)):
        key = (int(u), int(v))
        if key in seen:
            kind = "base link" if seen[key] < n_links else "candidate"
            raise InstanceError(
                f"{p}:{line_no[k]}: link {u}->{v} duplicates the {kind} on line {line_no[seen[key]]}; "
                "a candidate must be a new link (model an upgrade as a replacing project in solve_dndp)"
            )
        seen[key] = k
    net = network_from_columns(arr, n_nodes=n_nodes, n_zones=n_zones, first_thru=first_thru, name=p.name,
                               capacity_scale=capacity_scale)
    return DNDPInstance(
        network=net,
        candidates=np.arange(n_links, n_links + n_new, dtype=np.int64),
        costs=arr[n_links:, 10].copy(),
        name=p.name,
    )


# ---------------------------------------------------------------------------- results
