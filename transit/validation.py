"""Credibility checks of the modelled network against published figures."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from networks.errors import CatalogueError
from networks.paths import CompiledGraph
from transit.catalogue import load_timetable_checks

__all__ = ["timetable_check", "timetable_split", "TOLERANCE", "SPLIT_SEED"]

TOLERANCE = 0.20
SPLIT_SEED = "yrd-timetable-2026"  # the seeded rule that splits the checks into calibration and hold-out


def timetable_split(table: pd.DataFrame, *, seed: str = SPLIT_SEED) -> pd.Series:
    """``"calibration"`` or ``"holdout"`` per row, by a seeded rule that no fit can influence.

    Rows are ranked by the SHA-256 of ``seed`` and the sorted station names of the pair; the
    first half (rounded up) calibrates, the rest is held out.  Adding a row moves at most the
    rows ranked after it, and the rule never looks at times.
    """
    keys = [hashlib.sha256(f"{seed}|{'|'.join(sorted((str(a), str(b))))}".encode()).hexdigest()
            for a, b in zip(table["origin_station"], table["destination_station"])]
    order = np.argsort(keys, kind="stable")
    split = np.array(["holdout"] * len(table), dtype=object)
    split[order[: (len(table) + 1) // 2]] = "calibration"
    return pd.Series(split, index=table.index, name="split")


def timetable_check(model, *, table: pd.DataFrame | None = None, missing: str = "raise") -> pd.DataFrame:
    """Modelled fastest station-to-station rail time vs the published fastest timetable time.

    The modelled time is the shortest path over rail edges of the base network (changes of line
    included, :mod:`networks.lines`) plus the stop penalty at both ends (what a passenger sees between departure and arrival). A station not
    in the network (e.g. a user's OSM build names stations differently) raises, or with
    ``missing="skip"`` leaves that row out.
    """
    table = load_timetable_checks() if table is None else table
    split = timetable_split(table)
    G = model.network.graph
    station = {d.get("name"): n for n, d in G.nodes(data=True) if d.get("station")}
    rail = CompiledGraph(G, weight=lambda u, v, d: d["travel_time"] if d["mode"] == "rail" else None)
    penalty = 2 * model.config["rail"]["stop_penalty_min"]
    rows = []
    for row, part in zip(table.itertuples(index=False), split):
        ends = []
        if missing == "skip" and not {row.origin_station, row.destination_station} <= set(station):
            continue
        for name in (row.origin_station, row.destination_station):
            if name not in station:
                raise CatalogueError(f"timetable check {row.origin_station} - {row.destination_station}: "
                                     f"station {name!r} is not in the rail network (data/rail_lines.json)")
            ends.append(station[name])
        ends[1] = G.nodes[ends[1]].get("arrival", ends[1])  # line layers: journeys end at the arrival node
        seconds = float(rail.lengths([ends[0]], [ends[1]])[0, 0])
        modelled = seconds / 60.0 + penalty if np.isfinite(seconds) else np.nan
        ratio = modelled / float(row.fastest_min)
        rows.append({
            "origin_city": row.origin_city, "destination_city": row.destination_city,
            "origin_station": row.origin_station, "destination_station": row.destination_station,
            "published_min": float(row.fastest_min), "modelled_min": round(modelled, 1), "ratio": round(ratio, 3),
            "within_20pct": bool(abs(ratio - 1) <= TOLERANCE), "train": _text(getattr(row, "train", "")),
            "timetable_date": _text(getattr(row, "timetable_date", "")), "split": part, "source": row.source,
        })
    columns = ["origin_city", "destination_city", "origin_station", "destination_station", "published_min",
               "modelled_min", "ratio", "within_20pct", "train", "timetable_date", "split", "source"]
    return pd.DataFrame(rows, columns=columns)


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
