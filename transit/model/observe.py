"""What the model predicts for each published observation, and the fit of demand and mode choice.

Observation kinds (``data/observations.csv``) and the modelled quantity compared with them:

* ``road_section``: cars per day on a bridge or road section (both directions), i.e. the
  person trips whose car path passes the section's midpoint (within ``SECTION_KM``) divided by
  the car occupancy; the count is multiplied by the share of small passenger cars in
  expressway traffic (:data:`PASSENGER_CAR_SHARE`) before the comparison;
* ``road_screenline``: the same for all trips between two sets of cities (every road crossing);
* ``rail_od``: rail person trips per day between two sets of cities (both directions);
* ``station``: rail trips per day boarding at a station (or a group of stations), times a
  fitted coverage factor (stations also serve trips leaving the model area and local trips);
* ``mode_share_public``: the rail share among rail and coach between two cities.

The base network's generalized costs and paths are computed once; the parameters only move the
trip totals (``scale``, ``gamma``) and the shares (``asc_car``, ``asc_coach``; ``theta`` as
configured), so the least-squares fit is fast.  Residuals are log ratios for counts and logit
differences for shares.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from networks.errors import CatalogueError
from networks.multimodal import zone_node
from solvers.choice import NestedLogit
from networks.paths import path_sums
from transit.model.core import YRDModel
from transit.model.demand import gravity_weights

__all__ = ["Predictor", "PASSENGER_CAR_SHARE", "SECTION_KM"]

#: Small passenger cars as a share of expressway vehicles: 77 % nationally in summer 2024
#: (Ministry of Transport emergency command centre, 1 Jul - 12 Aug 2024; see data/SOURCES.md).
PASSENGER_CAR_SHARE = 0.77
SECTION_KM = 2.0
PROVINCES = {"Jiangsu": ("Nanjing", "Suzhou", "Wuxi", "Changzhou", "Nantong"),
             "Zhejiang": ("Hangzhou", "Ningbo", "Wenzhou", "Jiaxing", "Huzhou", "Shaoxing", "Jinhua", "Quzhou",
                          "Zhoushan", "Taizhou", "Lishui"),
             "Anhui": ("Huangshan", "Xuancheng")}
PARAMS = ("log_scale", "gamma", "log_theta", "asc_car", "asc_coach", "log_station_coverage")


def _cities(spec: str) -> set[str]:
    out: set[str] = set()
    for part in str(spec).split("+"):
        out |= set(PROVINCES.get(part, (part,)))
    return out


def _segment_km(px: float, py: float, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Distance (km) from a point to segments, in a local equirectangular projection."""
    k = np.cos(np.radians(py))
    ax, bx, qx = ax * k, bx * k, px * k
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.clip(np.where(length2 > 0, ((qx - ax) * dx + (py - ay) * dy) / np.where(length2 > 0, length2, 1), 0), 0, 1)
    cx, cy = ax + t * dx, ay + t * dy
    return np.hypot(qx - cx, py - cy) * 111.2


class Predictor:
    """Model predictions for the observations as functions of the demand and choice parameters."""

    def __init__(self, model: YRDModel, observations: pd.DataFrame) -> None:
        self.model = model
        self.obs = observations.reset_index(drop=True)
        demand = model.demand
        self.city_o = demand["origin_city"].to_numpy()
        self.city_d = demand["destination_city"].to_numpy()
        zones = model.network.zones
        pos = {z: k for k, z in enumerate(zones["zone"])}
        self.i = demand["origin"].map(pos).to_numpy()
        self.j = demand["destination"].map(pos).to_numpy()
        self.zones = zones
        base = model.skim(())
        self.gc = base.gc
        self.incidence = self._incidence()

    def with_split(self, split: np.ndarray) -> Predictor:
        """The same predictor (paths and incidences shared) with another fit / hold-out split."""
        other = copy.copy(self)
        other.obs = self.obs.assign(split=split)
        return other

    # -- paths --------------------------------------------------------------------------
    def _path_flags(self, mode: str, flags: list[np.ndarray]) -> list[np.ndarray]:
        """Per demand row: the sum of each arc flag along the mode's base path."""
        model = self.model
        layer = model.layers[mode]
        zones = model.zones
        sources = np.array([model.index[zone_node(z, "o")] for z in zones])
        dest = np.array([model.index[zone_node(z, "d")] for z in zones])
        _, sums = path_sums(len(model.nodes), layer.tails, layer.heads, layer.gc, flags, sources, dest)
        return [s[self.i, self.j] for s in sums]

    def _incidence(self) -> list[np.ndarray]:
        """Per observation: the weight of every demand row in it (by mode where it matters)."""
        model = self.model
        G = model.network.graph
        xs = np.array([G.nodes[n]["x"] if n in G.nodes else np.nan for n in model.nodes])
        ys = np.array([G.nodes[n]["y"] if n in G.nodes else np.nan for n in model.nodes])
        car = model.layers["car"]
        rail = model.layers["rail"]
        names = np.array([str(G.nodes[n].get("name", "")) if n in G.nodes else "" for n in model.nodes], dtype=object)
        is_zone = np.array([isinstance(n, str) and n.startswith("zone:") for n in model.nodes])
        out: list[np.ndarray] = []
        road_flags, station_flags, road_at, station_at = [], [], {}, {}
        for k, row in self.obs.iterrows():
            if row["kind"] == "road_section":
                try:
                    mid = ((float(row["a_lon"]) + float(row["b_lon"])) / 2, (float(row["a_lat"]) + float(row["b_lat"])) / 2)
                except ValueError:
                    raise CatalogueError(f"observation {row['id']}: road_section needs a_lon, a_lat, b_lon, b_lat") from None
                near = _segment_km(mid[0], mid[1], xs[car.tails], ys[car.tails], xs[car.heads], ys[car.heads]) <= SECTION_KM
                road_at[k] = len(road_flags)
                road_flags.append(near.astype(float))
            elif row["kind"] == "station":
                wanted = {s.strip() for s in str(row["station"]).split(";") if s.strip()}
                missing = wanted - set(names)
                if missing:
                    raise CatalogueError(f"observation {row['id']}: station(s) {sorted(missing)} not in the rail network")
                boards = is_zone[rail.tails] & np.isin(names[rail.heads], list(wanted))
                station_at[k] = len(station_flags)
                station_flags.append(boards.astype(float))
        road_sums = self._path_flags("car", road_flags) if road_flags else []
        station_sums = self._path_flags("rail", station_flags) if station_flags else []
        for k, row in self.obs.iterrows():
            kind = row["kind"]
            if kind == "road_section":
                out.append((road_sums[road_at[k]] > 0).astype(float))
            elif kind == "station":
                out.append((station_sums[station_at[k]] > 0).astype(float))
            elif kind in ("road_screenline", "rail_od", "mode_share_public"):
                a, b = _cities(row["city_a"]), _cities(row["city_b"])
                between = (np.isin(self.city_o, list(a)) & np.isin(self.city_d, list(b))) | (
                    np.isin(self.city_o, list(b)) & np.isin(self.city_d, list(a)))
                out.append(between.astype(float))
            else:
                raise CatalogueError(f"observation {row['id']}: kind {kind!r} cannot be modelled")
        return out

    # -- predictions --------------------------------------------------------------------
    def predict(self, params: dict[str, float]) -> np.ndarray:
        cfg = self.model.config
        dem = dict(cfg["demand"], gamma=params["gamma"])
        weights = gravity_weights(self.zones, dem)[self.i, self.j] * np.exp(params["log_scale"]) * cfg["demand"]["growth"]
        logit = NestedLogit(float(np.exp(params["log_theta"])), [0.0, params["asc_car"], params["asc_coach"]],
                            nests=self.model.logit.nests, mu=self.model.logit.mu)
        shares = logit.probabilities(self.gc)
        occupancy = cfg["mode_choice"]["car_occupancy"]
        out = np.empty(len(self.obs))
        for k, row in self.obs.iterrows():
            w = self.incidence[k] * weights
            kind = row["kind"]
            if kind in ("road_section", "road_screenline"):
                out[k] = float(np.dot(w, shares[:, 1])) / occupancy
            elif kind == "rail_od":
                out[k] = float(np.dot(w, shares[:, 0]))
            elif kind == "station":
                out[k] = float(np.dot(w, shares[:, 0])) * np.exp(params["log_station_coverage"])
            elif kind == "mode_share_public":
                rail = float(np.dot(w, shares[:, 0]))
                coach = float(np.dot(w, shares[:, 2]))
                out[k] = rail / (rail + coach) if rail + coach > 0 else np.nan
        return out

    def observed(self) -> np.ndarray:
        values = self.obs["value"].to_numpy(float).copy()
        road = self.obs["kind"].isin(["road_section", "road_screenline"]).to_numpy()
        values[road] *= PASSENGER_CAR_SHARE
        return values

    def residuals(self, predicted: np.ndarray) -> np.ndarray:
        observed = self.observed()
        share = (self.obs["kind"] == "mode_share_public").to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            res = np.where(share, _logit(predicted) - _logit(observed), np.log(predicted / observed))
        return np.where(np.isfinite(res), res, 10.0)

    # -- fit ----------------------------------------------------------------------------
    def fit(self, *, log: Any = None) -> dict[str, Any]:
        cfg = self.model.config
        mc = cfg["mode_choice"]
        fit_rows = (self.obs["split"] == "fit").to_numpy()
        has_station = bool(((self.obs["kind"] == "station") & (self.obs["split"] == "fit")).any())
        start = {"log_scale": np.log(cfg["demand"]["scale"]), "gamma": cfg["demand"]["gamma"],
                 "log_theta": np.log(mc["theta"]),
                 "asc_car": mc["asc_car"], "asc_coach": mc["asc_coach"], "log_station_coverage": 0.0}
        names = [p for p in PARAMS if (has_station or p != "log_station_coverage") and p != "log_theta"]
        lower = {"log_scale": -5.0, "gamma": 0.3, "log_theta": np.log(0.002), "asc_car": -8.0, "asc_coach": -8.0,
                 "log_station_coverage": 0.0}
        upper = {"log_scale": 20.0, "gamma": 4.0, "log_theta": np.log(0.2), "asc_car": 8.0, "asc_coach": 8.0,
                 "log_station_coverage": 6.0}

        def unpack(x: np.ndarray) -> dict[str, float]:
            p = dict(start)
            p.update(dict(zip(names, x)))
            return p

        def fun(x: np.ndarray) -> np.ndarray:
            return self.residuals(self.predict(unpack(x)))[fit_rows]

        x0 = np.array([min(max(start[n], lower[n] + 1e-6), upper[n] - 1e-6) for n in names])
        sol = least_squares(fun, x0, bounds=([lower[n] for n in names], [upper[n] for n in names]), x_scale="jac")
        params = unpack(sol.x)
        predicted = self.predict(params)
        table = self.obs[["id", "kind", "description", "split", "value", "unit", "year"]].copy()
        table["observed_for_fit"] = self.observed()
        table["modelled"] = predicted
        res = self.residuals(predicted)
        table["log_error"] = res
        table["ratio"] = np.where((self.obs["kind"] == "mode_share_public").to_numpy(), predicted / table["observed_for_fit"],
                                  np.exp(res))
        summary = []
        for part in ("fit", "holdout"):
            rows = table[table["split"] == part]
            summary.append({"part": part, "observations": len(rows),
                            "rms_log_error": float(np.sqrt(np.mean(rows["log_error"] ** 2))) if len(rows) else np.nan,
                            "median_abs_pct_error": float(np.median(np.abs(rows["ratio"] - 1)) * 100) if len(rows) else np.nan})
        out = {"scale": float(np.exp(params["log_scale"])), "gamma": float(params["gamma"]),
               "theta": float(np.exp(params["log_theta"])),
               "asc_car": float(params["asc_car"]), "asc_coach": float(params["asc_coach"]),
               "station_coverage": float(np.exp(params["log_station_coverage"]))}
        if log:
            log(f"demand fit: {out}; cost {sol.cost:.4g}; status {sol.status}")
        return {"params": out, "table": table, "summary": pd.DataFrame(summary), "fitted": names,
                "success": bool(sol.success), "message": str(sol.message),
                "trips_per_day": float(np.exp(params["log_scale"]) * np.sum(
                    gravity_weights(self.zones, dict(cfg["demand"], gamma=params["gamma"]))))}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))
