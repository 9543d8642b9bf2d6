"""Credibility checks of the modelled network against published figures."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.atomic import atomic_write_text
from networks.embedded import cache_dir
from networks.errors import CatalogueError
from networks.paths import CompiledGraph
from transit.catalogue import DATA_DIR, load_rail_lines, load_timetable_checks

__all__ = ["timetable_check", "timetable_split", "dated_rail", "TOLERANCE", "SPLIT_SEED"]

TOLERANCE = 0.20
SPLIT_SEED = "yrd-timetable-2026"  # the seeded rule that splits the checks into calibration and hold-out
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def timetable_dates(table: pd.DataFrame) -> list[str | None]:
    """Each row's ``timetable_date`` (``YYYY-MM-DD``), ``None`` where the file gives none.

    A date in another form raises :class:`CatalogueError` naming the row.
    """
    if "timetable_date" not in table:
        return [None] * len(table)
    out: list[str | None] = []
    for k, value in enumerate(table["timetable_date"]):
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
        if text and not _DATE.fullmatch(text):
            raise CatalogueError(f"timetable checks, row {k + 1}: timetable_date {text!r} is not YYYY-MM-DD")
        out.append(text or None)
    return out


def dated_rail(config: dict[str, Any], date: str | None, *, use_cache: bool = True) -> Any:
    """The embedded rail routing graph (line layers) as it stood on ``date`` (``None``: today).

    Only the catalogued lines opened on or before ``date`` are in it (:func:`transit.network.build_rail`):
    a timetable of 2013 is compared with the network of 2013, not with lines opened since.
    """
    from transit.network import build_rail, rail_routing

    return rail_routing(build_rail(config, use_cache=use_cache, as_of=date)[0], config)


def station_nodes(G: Any) -> dict[str, Any]:
    """Station name -> node of a rail graph (the departure node in a line-layer graph)."""
    return {d.get("name"): n for n, d in G.nodes(data=True) if d.get("station")}


def line_set(date: str | None, lines: list[dict[str, Any]] | None = None) -> tuple[str, ...]:
    """The ids of the catalogued lines (``lines``, default the catalogue) open on ``date``: rows
    with the same set share one network."""
    from transit.network import lines_open

    return tuple(line["id"] for line in lines_open(load_rail_lines() if lines is None else lines, date))


def timetable_check(model: Any, *, table: pd.DataFrame | None = None, missing: str = "raise",
                    dated: bool | None = None, use_cache: bool = True) -> pd.DataFrame:
    """Modelled fastest station-to-station rail time vs the published fastest timetable time.

    The modelled time is the shortest path over rail edges (changes of line included,
    :mod:`networks.lines`) plus the stop penalty at both ends (what a passenger sees between
    departure and arrival).  With ``dated`` (the default when the model's rail is the embedded
    build) each row is routed on the network of its ``timetable_date`` (:func:`dated_rail`), so
    a figure published before a line opened is not compared with a route over it; otherwise on
    the model's own network.  A station not in the network (e.g. a user's OSM build names
    stations differently), or on no line open at the row's date, raises, or with
    ``missing="skip"`` leaves that row out.

    The dated check builds one network per set of open lines (about a second each); its result
    is cached under ``$YRD_TRANSIT_CACHE/timetable_check``, keyed by a hash of everything it
    reads (configuration, table, line catalogue, embedded extracts, the routing code).
    """
    table = load_timetable_checks() if table is None else table
    if dated is None:
        # the embedded rail, unless the user's OSM file replaced it ("rail from the OSM file ...")
        dated = "rail" not in str(getattr(model.network, "source", "embedded")).split(" from the OSM file")[0]
    if not dated:
        return _timetable_check(model, table, missing, dated)
    path = cache_dir() / "timetable_check" / f"{_check_key(model.config, table, missing)}.json"
    if use_cache and path.exists():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return pd.DataFrame(record["rows"], columns=record["columns"])
        except (OSError, ValueError, KeyError) as exc:
            warnings.warn(f"cache file {path} is unreadable ({type(exc).__name__}); rebuilding it", stacklevel=2)
    result = _timetable_check(model, table, missing, dated)
    if use_cache:
        try:
            atomic_write_text(path, json.dumps({"columns": list(result.columns),
                                                "rows": result.astype(object).values.tolist()}))
        except OSError as exc:  # a cache is an optimisation: go on without it
            warnings.warn(f"cannot write the cache {path} ({exc.strerror or exc})", stacklevel=2)
    return result


_CHECK_FORMAT = 1  # bump when the cached table changes meaning
_CHECK_CODE = ("networks/conflate.py", "networks/lines.py", "networks/embedded.py", "networks/paths.py",
               "transit/network.py", "transit/validation.py")


def _check_key(config: dict[str, Any], table: pd.DataFrame, missing: str) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([_CHECK_FORMAT, config, missing], sort_keys=True, default=str).encode())
    digest.update(table.to_csv(index=False).encode())
    root = Path(__file__).resolve().parents[1]
    for path in [*(root / name for name in _CHECK_CODE), DATA_DIR / "rail_lines.json",
                 *sorted((DATA_DIR / "osm").glob("*.npz"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:24]


def _timetable_check(model: Any, table: pd.DataFrame, missing: str, dated: bool) -> pd.DataFrame:
    split = timetable_split(table)
    dates = timetable_dates(table)
    G = model.network.graph
    station = station_nodes(G)
    graphs: dict[tuple[str, ...] | None, tuple[Any, dict[str, Any], CompiledGraph]] = {}
    catalogue = load_rail_lines() if dated else []

    def rail_at(date: str | None) -> tuple[Any, dict[str, Any], CompiledGraph]:
        key = line_set(date, catalogue) if dated else None
        if key not in graphs:
            graph = dated_rail(model.config, date) if dated else G
            names = station_nodes(graph)
            graphs[key] = (graph, names, CompiledGraph(
                graph, weight=lambda u, v, d: d["travel_time"] if d["mode"] == "rail" else None))
        return graphs[key]

    penalty = 2 * model.config["rail"]["stop_penalty_min"]
    rows = []
    for row, part, date in zip(table.itertuples(index=False), split, dates):
        if missing == "skip" and not {row.origin_station, row.destination_station} <= set(station):
            continue
        for name in (row.origin_station, row.destination_station):
            if name not in station:
                raise CatalogueError(f"timetable check {row.origin_station} - {row.destination_station}: "
                                     f"station {name!r} is not in the rail network (data/rail_lines.json)")
        graph, nodes, rail = rail_at(date)
        if row.origin_station not in nodes or row.destination_station not in nodes:
            if missing == "skip":
                continue
            raise CatalogueError(f"timetable check {row.origin_station} - {row.destination_station}: a station "
                                 f"is on no catalogued line open on the timetable date {date}")
        ends = [nodes[row.origin_station], nodes[row.destination_station]]
        ends[1] = graph.nodes[ends[1]].get("arrival", ends[1])  # line layers: journeys end at the arrival node
        seconds = float(rail.lengths([ends[0]], [ends[1]])[0, 0])
        modelled = seconds / 60.0 + penalty if np.isfinite(seconds) else np.nan
        ratio = modelled / float(row.fastest_min)
        rows.append({
            "origin_city": row.origin_city, "destination_city": row.destination_city,
            "origin_station": row.origin_station, "destination_station": row.destination_station,
            "published_min": float(row.fastest_min), "modelled_min": round(modelled, 1), "ratio": round(ratio, 3),
            "within_20pct": bool(abs(ratio - 1) <= TOLERANCE), "train": _text(getattr(row, "train", "")),
            "timetable_date": date or "", "split": part, "source": row.source,
        })
    columns = ["origin_city", "destination_city", "origin_station", "destination_station", "published_min",
               "modelled_min", "ratio", "within_20pct", "train", "timetable_date", "split", "source"]
    return pd.DataFrame(rows, columns=columns)


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
