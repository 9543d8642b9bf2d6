"""Intercity demand between zones: the fitted gravity model, or an OD matrix the user brings.

The model is **intercity**: it carries person trips between zones of different cities (trips
within one city are local travel, outside the alliance's question).  The embedded default is a
gravity model::

    T_ij = growth * k * (P_i / 1e6)^alpha * (P_j / 1e6)^alpha / (max(d_ij, d_min) / 100 km)^gamma

with P the census population of the zone, d the great-circle distance; ``k`` is the daily trips
between two zones of a million people 100 km apart.  ``k`` and ``gamma`` are fitted to
published counts (``transit.model.calibration``); ``alpha`` is 1 (stated, not fitted).

A user's OD matrix (:func:`read_od`) replaces it: long-format CSV or OMX, total or by mode
(``rail``, ``car``, ``coach``), at zone level (zone ids, or adcodes in OMX) or city level
(split over the zone pairs of the two cities in proportion to the gravity weights).  With
trips by mode the base mode shares of each zone pair are kept and the logit pivots on them.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import InputError
from networks.geometry import haversine_km

__all__ = ["MODES", "gravity_demand", "gravity_weights", "read_od", "write_od_csv", "write_od_omx"]

MODES = ("rail", "car", "coach")
DEMAND_COLUMNS = ["origin", "destination", "origin_city", "destination_city", "distance_km", "demand"]


def gravity_weights(zones: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
    """Gravity attraction between every ordered zone pair (0 within a city), shape (n, n)."""
    lon = zones["lon"].to_numpy(float)
    lat = zones["lat"].to_numpy(float)
    pop = zones["population"].to_numpy(float) / 1e6
    dist = np.maximum(haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :]), params["min_distance_km"])
    weights = (pop[:, None] ** params["alpha"]) * (pop[None, :] ** params["alpha"]) / (dist / 100.0) ** params["gamma"]
    city = zones["city"].to_numpy()
    weights[city[:, None] == city[None, :]] = 0.0
    return weights


def _frame(zones: pd.DataFrame, trips: np.ndarray) -> pd.DataFrame:
    lon = zones["lon"].to_numpy(float)
    lat = zones["lat"].to_numpy(float)
    city = zones["city"].to_numpy()
    i, j = np.nonzero(city[:, None] != city[None, :])
    ids = zones["zone"].to_numpy()
    return pd.DataFrame({
        "origin": ids[i], "destination": ids[j], "origin_city": city[i], "destination_city": city[j],
        "distance_km": haversine_km(lon[i], lat[i], lon[j], lat[j]), "demand": trips[i, j],
    })


def gravity_demand(zones: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Daily intercity trips per ordered zone pair of different cities.

    Columns ``origin, destination, origin_city, destination_city, distance_km, demand``.
    """
    params = config["demand"]
    trips = params["scale"] * params["growth"] * gravity_weights(zones, params)
    return _frame(zones, trips)


# --------------------------------------------------------------------------------------------
# OD matrices from files
# --------------------------------------------------------------------------------------------


def _labels(zones: pd.DataFrame) -> tuple[dict[str, int], dict[str, list[int]], dict[int, int]]:
    zone_pos = {str(z): k for k, z in enumerate(zones["zone"])}
    city_pos: dict[str, list[int]] = {}
    for k, c in enumerate(zones["city"]):
        city_pos.setdefault(str(c), []).append(k)
    code_pos = {int(c): k for k, c in enumerate(zones["adcode"])} if "adcode" in zones else {}
    return zone_pos, city_pos, code_pos


def _spread(od: np.ndarray, level: str, zones: pd.DataFrame, config: dict[str, Any]) -> np.ndarray:
    """A city-level matrix (cities in ``zones`` order of first appearance) onto zone pairs."""
    if level == "zone":
        return od
    weights = gravity_weights(zones, config["demand"])
    cities = list(dict.fromkeys(zones["city"]))
    member = zones["city"].to_numpy()
    out = np.zeros((len(zones), len(zones)))
    for a, ca in enumerate(cities):
        rows = np.flatnonzero(member == ca)
        for b, cb in enumerate(cities):
            if od[a, b] == 0 or a == b:
                continue
            cols = np.flatnonzero(member == cb)
            block = weights[np.ix_(rows, cols)]
            out[np.ix_(rows, cols)] = od[a, b] * block / block.sum()
    return out


def read_od(path: str | Path, zones: pd.DataFrame, config: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read an OD matrix (daily person trips) onto the model's zone pairs.

    Parameters
    ----------
    path
        ``.csv``: long format with columns ``origin, destination, trips`` and optionally
        ``mode`` (``rail``, ``car``, ``coach``); origins and destinations are zone ids or
        city names (all rows the same level).  ``.omx``: one matrix ``total`` (or ``trips``) or
        one per mode, with a mapping of zone adcodes (zone level) or one row per city in the
        order of ``data/cities.csv`` (city level, no mapping needed when the shape says so).
    zones
        The model's zones.
    config
        For the gravity weights that split city-level trips over zone pairs.

    Returns
    -------
    (demand, shares)
        ``demand`` as :func:`gravity_demand` (zone pairs of different cities; trips within a
        city are dropped with a warning); ``shares`` per zone pair and mode when the file is
        by mode, else ``None``.

    Raises
    ------
    InputError
        Naming the file, row and value: unknown zones or cities, negative or NaN trips, a
        matrix that is not square, an unknown mode, duplicate rows, an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such OD file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        by_mode, level = _read_csv(path, zones)
    elif suffix == ".omx":
        by_mode, level = _read_omx(path, zones)
    else:
        raise InputError(f"{path}: unknown OD format {suffix!r}; expected .csv (long format) or .omx")
    spread = {m: _spread(od, level, zones, config) for m, od in by_mode.items()}
    total = sum(spread.values())
    city = zones["city"].to_numpy()
    same = city[:, None] == city[None, :]
    if level == "city":
        dropped = float(sum(np.trace(od) for od in by_mode.values()))
    else:
        dropped = float(total[same].sum())
    if dropped > 0:
        warnings.warn(f"{path}: {dropped:,.0f} trips within a city are outside the intercity model and were dropped",
                      stacklevel=2)
    total = np.where(same, 0.0, total) * config["demand"]["growth"]
    demand = _frame(zones, total)
    shares = None
    if set(by_mode) - {"total"}:
        idx = np.nonzero(~same)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols = {m: np.where(total[idx] > 0, spread.get(m, np.zeros_like(total))[idx] * config["demand"]["growth"]
                                / total[idx], np.nan) for m in MODES}
        shares = pd.DataFrame({"origin": demand["origin"], "destination": demand["destination"], **cols})
    return demand, shares


def _read_csv(path: Path, zones: pd.DataFrame) -> tuple[dict[str, np.ndarray], str]:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty OD file; expected columns origin, destination, trips[, mode]") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc.__class__.__name__})") from None
    missing = [c for c in ("origin", "destination", "trips") if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; expected origin, destination, trips[, mode]")
    extra = sorted(set(frame.columns) - {"origin", "destination", "trips", "mode"})
    if extra:
        raise InputError(f"{path}: unknown column(s) {extra}; expected origin, destination, trips[, mode]")
    if frame.empty:
        raise InputError(f"{path}: no OD rows")
    zone_pos, city_pos, _ = _labels(zones)
    labels = set(frame["origin"]) | set(frame["destination"])
    level = "zone" if labels <= set(zone_pos) else "city" if labels <= set(city_pos) else None
    if level is None:
        known = set(zone_pos) if len(labels & set(zone_pos)) >= len(labels & set(city_pos)) else set(city_pos)
        for k, row in enumerate(frame.itertuples(index=False), start=2):
            for col in ("origin", "destination"):
                if getattr(row, col) not in known:
                    raise InputError(f"{path}: line {k}: {col} {getattr(row, col)!r} is not a zone id or city of the "
                                     "model (see data/zones.csv and data/cities.csv)")
    trips = pd.to_numeric(frame["trips"], errors="coerce")
    bad = trips.isna() | ~np.isfinite(trips.fillna(0)) | (trips < 0)
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}: line {k + 2}: trips {frame['trips'].iloc[k]!r}; expected a finite number >= 0")
    modes = frame["mode"] if "mode" in frame.columns else pd.Series(["total"] * len(frame))
    unknown = ~modes.isin(MODES) if "mode" in frame.columns else pd.Series([False] * len(frame))
    if unknown.any():
        k = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(f"{path}: line {k + 2}: mode {modes.iloc[k]!r}; expected one of {list(MODES)}")
    keys = pd.DataFrame({"o": frame["origin"], "d": frame["destination"], "m": modes})
    dup = keys.duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"{path}: line {k + 2}: duplicate row for {frame['origin'].iloc[k]} -> "
                         f"{frame['destination'].iloc[k]}" + (f" ({modes.iloc[k]})" if "mode" in frame.columns else ""))
    if level == "zone":
        pos = zone_pos
        n = len(zones)
    else:
        cities = list(dict.fromkeys(zones["city"]))
        pos = {c: k for k, c in enumerate(cities)}
        n = len(cities)
    out: dict[str, np.ndarray] = {}
    for (o, d, m, t) in zip(frame["origin"], frame["destination"], modes, trips):
        out.setdefault(m, np.zeros((n, n)))[pos[o], pos[d]] += float(t)
    return out, level


def _read_omx(path: Path, zones: pd.DataFrame) -> tuple[dict[str, np.ndarray], str]:
    try:
        import openmatrix as omx
    except ImportError:  # pragma: no cover - the optional extra is missing
        raise InputError(f"{path}: reading OMX needs the openmatrix package (pip install 'yrd-transit[omx]')") from None
    try:
        handle = omx.open_file(str(path), "r")
    except Exception as exc:  # tables raises several types for a file that is not HDF5
        raise InputError(f"{path}: not a readable OMX file ({exc.__class__.__name__})") from None
    try:
        names = list(handle.list_matrices())
        if not names:
            raise InputError(f"{path}: no matrices; expected 'total' (or 'trips') or one per mode {list(MODES)}")
        unknown = [m for m in names if m not in (*MODES, "total", "trips")]
        if unknown:
            raise InputError(f"{path}: matrix {unknown[0]!r}; expected 'total' (or 'trips') or modes {list(MODES)}")
        matrices = {("total" if m == "trips" else m): np.array(handle[m], dtype=float) for m in names}
        if "total" in matrices and len(matrices) > 1:
            raise InputError(f"{path}: both a total and per-mode matrices; expected one or the other")
        for m, a in matrices.items():
            if a.ndim != 2 or a.shape[0] != a.shape[1]:
                raise InputError(f"{path}: matrix {m!r} has shape {a.shape}; expected a square matrix")
            bad = ~np.isfinite(a) | (a < 0)
            if bad.any():
                i, j = (int(x[0]) for x in np.nonzero(bad))
                raise InputError(f"{path}: matrix {m!r} row {i} column {j}: {a[i, j]!r}; expected finite trips >= 0")
        n = next(iter(matrices.values())).shape[0]
        mappings = list(handle.list_mappings())
        cities = list(dict.fromkeys(zones["city"]))
        if mappings:
            labels = np.asarray(list(handle.mapping(mappings[0]).keys()), dtype=np.int64)
            order = np.argsort(list(handle.mapping(mappings[0]).values()))
            labels = labels[order]
            _, _, code_pos = _labels(zones)
            missing = [int(c) for c in labels if int(c) not in code_pos]
            if missing:
                raise InputError(f"{path}: mapping {mappings[0]!r} has zone {missing[0]}, which is not a zone adcode "
                                 "of the model (data/zones.csv)")
            idx = np.array([code_pos[int(c)] for c in labels])
            out = {}
            for m, a in matrices.items():
                full = np.zeros((len(zones), len(zones)))
                full[np.ix_(idx, idx)] = a
                out[m] = full
            return out, "zone"
        if n == len(zones):
            return matrices, "zone"
        if n == len(cities):
            return matrices, "city"
        raise InputError(f"{path}: {n} x {n} matrices without a zone mapping; expected {len(zones)} zones or "
                         f"{len(cities)} cities, or a mapping of zone adcodes")
    finally:
        handle.close()


def write_od_csv(demand: pd.DataFrame, path: str | Path, *, shares: pd.DataFrame | None = None) -> None:
    """Write zone-pair demand in the long format :func:`read_od` reads (by mode with ``shares``)."""
    if shares is None:
        out = demand[["origin", "destination"]].assign(trips=demand["demand"])
    else:
        merged = demand.merge(shares, on=["origin", "destination"])
        out = pd.concat([merged[["origin", "destination"]].assign(mode=m, trips=merged["demand"] * merged[m])
                         for m in MODES], ignore_index=True)
    out.to_csv(path, index=False)


def write_od_omx(demand: pd.DataFrame, zones: pd.DataFrame, path: str | Path, *,
                 shares: pd.DataFrame | None = None) -> None:
    """Write zone-pair demand as OMX (matrix ``total`` or one per mode; mapping ``zones`` of adcodes)."""
    import openmatrix as omx

    pos = {z: k for k, z in enumerate(zones["zone"])}
    n = len(zones)
    i = demand["origin"].map(pos).to_numpy()
    j = demand["destination"].map(pos).to_numpy()
    with omx.open_file(str(path), "w") as handle:
        if shares is None:
            full = np.zeros((n, n))
            full[i, j] = demand["demand"].to_numpy(float)
            handle["total"] = full
        else:
            merged = demand.merge(shares, on=["origin", "destination"])
            for m in MODES:
                full = np.zeros((n, n))
                full[i, j] = (merged["demand"] * merged[m]).to_numpy(float)
                handle[m] = full
        handle.create_mapping("zones", [int(c) for c in zones["adcode"]])
