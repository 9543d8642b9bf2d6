"""Read a GMNS (General Modeling Network Specification) road network into a RoadNetwork.

Reads ``node.csv`` (``node_id``, optional ``zone_id``), ``link.csv`` (``from_node_id``,
``to_node_id``, ``length``, ``free_speed`` or ``vdf_fftt``, ``capacity``, optional ``lanes``,
``directed``, ``vdf_alpha``, ``vdf_beta``, ``toll``) and optionally ``demand.csv``
(``o_zone_id``, ``d_zone_id``, ``volume``).  Nodes with a ``zone_id`` are the zones (one node per
zone), ordered by zone id.  Malformed input raises :class:`networks.errors.InputError` naming
the file, row and field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import networkx as nx

from networks.errors import InputError
from networks.tntp import RoadNetwork

__all__ = ["read_gmns", "write_gmns"]


def _csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected a CSV file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _numeric(path: Path, frame: pd.DataFrame, column: str, *, minimum: float | None = 0.0) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InputError(f"{path}: row {bad[0] + 2} has {column}={frame[column].iloc[bad[0]]!r}, expected a number")
    if minimum is not None:
        bad = np.flatnonzero(values < minimum)
        if bad.size:
            raise InputError(f"{path}: row {bad[0] + 2} has {column}={values[bad[0]]:g}, expected >= {minimum:g}")
    return values


def read_gmns(
    folder: str | os.PathLike[str],
    *,
    length_to_speed_units: float = 1.0,
    capacity_per_lane: bool = True,
    alpha: float = 0.15,
    beta: float = 4.0,
    zones_carry_through: bool = True,
) -> tuple[RoadNetwork, np.ndarray | None]:
    """Read ``node.csv``, ``link.csv`` and (if present) ``demand.csv`` from ``folder``.

    Parameters
    ----------
    folder : path-like
        Folder with the GMNS tables.
    length_to_speed_units : float
        Factor turning ``length`` into the distance unit of ``free_speed`` (e.g. 0.001 for metres
        with km/h).  Free-flow time is ``60 * length * factor / free_speed`` minutes, unless the
        link table has ``vdf_fftt`` (minutes), which is used as is.
    capacity_per_lane : bool
        GMNS capacities are per lane; multiply by ``lanes`` (default True).
    alpha, beta : float
        BPR parameters for links without ``vdf_alpha`` / ``vdf_beta``.
    zones_carry_through : bool
        If False, zone nodes carry no through traffic.

    Returns
    -------
    network : RoadNetwork
    demand : ndarray or None
        ``(n_zones, n_zones)`` in zone-id order, or None without ``demand.csv``.
    """
    base = Path(folder)
    node_path, link_path, demand_path = base / "node.csv", base / "link.csv", base / "demand.csv"
    nodes = _csv(node_path, ("node_id",))
    links = _csv(link_path, ("from_node_id", "to_node_id", "capacity"))
    node_ids = _numeric(node_path, nodes, "node_id", minimum=None)
    if np.any(node_ids != np.round(node_ids)):
        raise InputError(f"{node_path}: node_id must be integers")
    node_ids = node_ids.astype(np.int64)
    if len(np.unique(node_ids)) != len(node_ids):
        dup = pd.Series(node_ids)[pd.Series(node_ids).duplicated()].iloc[0]
        raise InputError(f"{node_path}: node_id {dup} appears twice")
    if "zone_id" in nodes.columns:
        zone_col = pd.to_numeric(nodes["zone_id"], errors="coerce")
        is_zone = zone_col.notna().to_numpy()
        zone_ids = zone_col[is_zone].to_numpy()
        if len(np.unique(zone_ids)) != len(zone_ids):
            raise InputError(f"{node_path}: a zone_id is given to several nodes; use one centroid node per zone")
    else:
        is_zone = np.zeros(len(nodes), dtype=bool)
        zone_ids = np.array([])
    zone_order = np.flatnonzero(is_zone)[np.argsort(zone_ids, kind="stable")]
    order = np.concatenate([zone_order, np.flatnonzero(~is_zone)])
    ordered_ids = node_ids[order]
    index = pd.Series(np.arange(len(order)), index=ordered_ids)
    n_zones = int(is_zone.sum())

    directed = (
        links["directed"].astype(str).str.strip().str.lower().isin(("1", "true", "t", "yes")).to_numpy()
        if "directed" in links.columns
        else np.ones(len(links), dtype=bool)
    )
    frm = _numeric(link_path, links, "from_node_id", minimum=None).astype(np.int64)
    to = _numeric(link_path, links, "to_node_id", minimum=None).astype(np.int64)
    for name, ids in (("from_node_id", frm), ("to_node_id", to)):
        unknown = ~np.isin(ids, ordered_ids)
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise InputError(f"{link_path}: row {row + 2} has {name}={ids[row]}, not a node in node.csv")
    capacity = _numeric(link_path, links, "capacity")
    lanes = _numeric(link_path, links, "lanes") if "lanes" in links.columns else np.ones(len(links))
    if capacity_per_lane:
        capacity = capacity * lanes
    length = _numeric(link_path, links, "length") if "length" in links.columns else np.zeros(len(links))
    if "vdf_fftt" in links.columns:
        fft = _numeric(link_path, links, "vdf_fftt")
    elif "free_speed" in links.columns and "length" in links.columns:
        speed = _numeric(link_path, links, "free_speed")
        bad = np.flatnonzero(speed <= 0)
        if bad.size:
            raise InputError(f"{link_path}: row {bad[0] + 2} has free_speed 0; cannot derive a travel time")
        fft = 60.0 * length * length_to_speed_units / speed
    else:
        raise InputError(f"{link_path}: needs vdf_fftt, or length and free_speed, for the free-flow time")
    a = _numeric(link_path, links, "vdf_alpha") if "vdf_alpha" in links.columns else np.full(len(links), alpha)
    b = _numeric(link_path, links, "vdf_beta") if "vdf_beta" in links.columns else np.full(len(links), beta)
    toll = _numeric(link_path, links, "toll") if "toll" in links.columns else np.zeros(len(links))
    tail = index[frm].to_numpy()
    head = index[to].to_numpy()
    both = ~directed
    cols = [tail, head, capacity, length, fft, a, b, toll]
    if both.any():
        rev = [head[both], tail[both], *(c[both] for c in cols[2:])]
        cols = [np.concatenate([c, r]) for c, r in zip(cols, rev)]
    tail, head, capacity, length, fft, a, b, toll = cols
    n = tail.size
    net = RoadNetwork(
        n_nodes=len(order),
        n_zones=n_zones,
        first_thru_node=0 if zones_carry_through else n_zones,
        tail=tail,
        head=head,
        capacity=capacity,
        length=length,
        free_flow_time=fft,
        b=a,
        power=b,
        speed=np.zeros(n),
        toll=toll,
        link_type=np.ones(n, dtype=np.int64),
        node_ids=ordered_ids,
        name=str(base),
    )
    if not demand_path.exists():
        return net, None
    dem = _csv(demand_path, ("o_zone_id", "d_zone_id", "volume"))
    volume = _numeric(demand_path, dem, "volume")
    zone_pos = pd.Series(np.arange(n_zones), index=np.sort(zone_ids) if n_zones else [])
    matrix = np.zeros((n_zones, n_zones))
    o = _numeric(demand_path, dem, "o_zone_id", minimum=None)
    d = _numeric(demand_path, dem, "d_zone_id", minimum=None)
    for name, ids in (("o_zone_id", o), ("d_zone_id", d)):
        unknown = ~np.isin(ids, zone_pos.index)
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise InputError(f"{demand_path}: row {row + 2} has {name}={ids[row]:g}, not a zone_id in node.csv")
    pairs = pd.DataFrame({"o": o, "d": d})
    if pairs.duplicated().any():
        row = int(np.flatnonzero(pairs.duplicated().to_numpy())[0])
        raise InputError(f"{demand_path}: row {row + 2} repeats the OD pair {o[row]:g}->{d[row]:g}")
    matrix[zone_pos[o].to_numpy(), zone_pos[d].to_numpy()] = volume
    return net, matrix


def write_gmns(G: "nx.MultiDiGraph", folder: str | os.PathLike[str], *, dataset_name: str = "network") -> list[Path]:
    """Write a graph as GMNS ``node.csv``, ``link.csv`` and ``config.csv`` into ``folder``.

    Nodes need ``x``/``y`` (degrees); edges ``length`` (m) and, if known, ``speed_kph``,
    ``travel_time`` (s), ``mode``, ``capacity``, ``lanes``, ``name``. GMNS ids are integers, so
    nodes are numbered 1..n in the graph's order with the original key in ``name`` (and
    ``zone_id`` for nodes carrying a ``zone``). Units (``config.csv``): length in km, speed in
    km/h, ``vdf_fftt`` in minutes, coordinates WGS 84 (EPSG:4326). Links are directed, one per
    graph edge; ``allowed_uses`` is the edge's ``mode``. The files are read back by
    :func:`read_gmns` (tested) and follow the spec's required fields.
    """
    import csv

    folder = Path(folder)
    index = {node: k for k, node in enumerate(G.nodes, start=1)}
    node_path, link_path, config_path = folder / "node.csv", folder / "link.csv", folder / "config.csv"
    with node_path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle, lineterminator="\n")
        w.writerow(["node_id", "x_coord", "y_coord", "zone_id", "node_type", "name"])
        for node, data in G.nodes(data=True):
            w.writerow([index[node], f"{data['x']:.7f}", f"{data['y']:.7f}", data.get("zone", ""),
                        "zone" if "zone" in data else "station" if data.get("station") else "", data.get("name") or node])
    with link_path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle, lineterminator="\n")
        w.writerow(["link_id", "from_node_id", "to_node_id", "directed", "length", "free_speed", "vdf_fftt",
                    "capacity", "lanes", "allowed_uses", "name", "geometry"])
        for k, (u, v, data) in enumerate(G.edges(data=True), start=1):
            a, b = G.nodes[u], G.nodes[v]
            length_km = float(data.get("length", 0.0)) / 1000.0
            minutes = float(data["travel_time"]) / 60.0 if "travel_time" in data else ""
            speed = data.get("speed_kph", "")
            w.writerow([k, index[u], index[v], "true", f"{length_km:.6f}", speed,
                        f"{minutes:.6f}" if minutes != "" else "", data.get("capacity", ""), data.get("lanes", ""),
                        data.get("mode", ""), data.get("name") or data.get("project") or "",
                        f"LINESTRING ({a['x']:.7f} {a['y']:.7f}, {b['x']:.7f} {b['y']:.7f})"])
    with config_path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle, lineterminator="\n")
        w.writerow(["dataset_name", "short_length", "long_length", "speed", "crs", "geometry_field_format",
                    "version_number"])
        w.writerow([dataset_name, "m", "km", "kph", "EPSG:4326", "WKT", "0.96"])
    return [node_path, link_path, config_path]
