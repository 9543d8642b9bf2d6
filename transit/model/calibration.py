"""Calibration of the travel model against published observations, with hold-out checks.

Two fits, each on a fixed part of its data chosen by a seeded rule that never looks at the
model, and each reported on the part it did not see:

* **Rail times** (:func:`fit_rail`): ``rail.speed_factor``, ``rail.stop_penalty_min``,
  ``rail.stop_allowance_min_per_km`` and ``rail.line_change_min`` by a grid search on the
  calibration half of the timetable checks (one row per city pair: its fastest published time, both stations in the study
  area; each routed on the network of its timetable date), minimising the mean absolute log ratio of modelled to published times (ties: the most
  within 20 %).  The log ratio weighs a train 20 % fast and one 20 % slow alike, and unlike a
  count of pairs within 20 % it does not jump at the tolerance.
* **Demand and mode choice** (:func:`fit_demand`): the gravity model's ``scale`` and
  ``gamma`` and the logit's ``asc_car`` and ``asc_coach`` by least squares on the logarithms
  of counts (vehicles on bridges and across boundaries, rail passengers, station boardings
  with a fitted coverage factor, see :data:`COVERAGE`) and on the logits of published mode
  shares (``data/observations.csv``); ``theta`` stays as configured (the counts cannot identify
  it; :func:`theta_sensitivity` shows what it changes).  A seeded third of every kind with at
  least three observations is held out, and every observation is also predicted
  leave-one-out.

``python -m transit.model.calibration`` runs both, writes ``docs/calibration.md`` and prints
the values to put into ``data/default_config.toml``; a test checks that the configuration
holds the fitted values.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.atomic import atomic_write_text
from networks.errors import CatalogueError
from networks.paths import min_csr
from transit.catalogue import DATA_DIR, load_timetable_checks
from transit.model.observe import PASSENGER_CAR_SHARE
from transit.validation import TOLERANCE, station_nodes, timetable_check, timetable_split

__all__ = ["check_rows", "fit_rail", "rail_table", "load_observations", "fit_demand", "main"]

FACTORS = tuple(round(0.70 + 0.02 * k, 2) for k in range(16))  # 0.70 .. 1.00
ALLOWANCES = tuple(round(0.01 * k, 2) for k in range(9))  # 0 .. 0.08 min per km
PENALTIES = tuple(0.5 * k for k in range(21))  # 0 .. 10 min per trip end
CHANGES = tuple(2.5 * k for k in range(9))  # 0 .. 20 min per change of line


def check_rows(table: pd.DataFrame, stations: dict[str, tuple[float, float]], bbox: list[float]) -> pd.DataFrame:
    """The timetable rows the calibration uses: per city pair, its fastest published time.

    Rows whose stations are not both in the network or lie outside the study area are left
    out (they cannot be modelled); of the rest, each unordered city pair keeps its fastest
    published station pair, since the check is of the fastest scheduled time between two
    cities.  The rule never looks at modelled times.
    """
    west, south, east, north = bbox
    keep = []
    for k, row in table.iterrows():
        ends = [stations.get(row["origin_station"]), stations.get(row["destination_station"])]
        if any(e is None for e in ends):
            continue
        if not all(west <= x <= east and south <= y <= north for x, y in ends):
            continue
        keep.append(k)
    rows = table.loc[keep].copy()
    rows["pair"] = [" / ".join(sorted((a, b))) for a, b in zip(rows["origin_city"], rows["destination_city"])]
    rows = rows.sort_values(["pair", "fastest_min", "origin_station"], kind="stable")
    return rows.drop_duplicates("pair").drop(columns="pair").reset_index(drop=True)


def rail_table(model: Any, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The calibration rows (:func:`check_rows`) with their split, published and modelled times."""
    G = model.network.graph
    coords = {name: (G.nodes[n]["x"], G.nodes[n]["y"]) for name, n in station_nodes(G).items()}
    rows = check_rows(load_timetable_checks() if table is None else table, coords, model.config["network"]["bbox"])
    return timetable_check(model, table=rows).rename(columns={"published_min": "fastest_min"})


def _score(published: np.ndarray, modelled: np.ndarray) -> tuple[int, float]:
    ratio = modelled / published
    ok = np.isfinite(ratio)
    within = int(np.sum(np.abs(ratio[ok] - 1) <= TOLERANCE))
    err = float(np.mean(np.abs(np.log(ratio[ok])))) if ok.any() else math.inf
    return within, err


def fit_rail(config: dict[str, Any], *, use_cache: bool = True, log: Any = None) -> dict[str, Any]:
    """Grid search of the rail parameters on the calibration half; the hold-out half reported.

    Each row is routed on the network of its timetable date (:func:`transit.validation.dated_rail`).
    Returns the best ``speed_factor``, ``stop_penalty_min``, ``stop_allowance_min_per_km`` and
    ``line_change_min``, and the grid.
    """
    from transit.catalogue import load_rail_lines
    from transit.validation import dated_rail, line_set, timetable_dates

    today = dated_rail(config, None, use_cache=use_cache)
    coords = {name: (today.nodes[n]["x"], today.nodes[n]["y"]) for name, n in station_nodes(today).items()}
    rows = check_rows(load_timetable_checks(), coords, config["network"]["bbox"])
    cal = rows[timetable_split(rows).to_numpy() == "calibration"].reset_index(drop=True)
    published = cal["fastest_min"].to_numpy(float)
    dates = timetable_dates(cal)
    groups: dict[tuple[str, ...], list[int]] = {}
    catalogue = load_rail_lines()
    for k, date in enumerate(dates):
        groups.setdefault(line_set(date, catalogue), []).append(k)
    best: tuple | None = None
    for factor in FACTORS:
        cfg = copy.deepcopy(config)
        cfg["rail"].update(speed_factor=factor, stop_allowance_min_per_km=0.0, line_change_min=0.0)
        minutes = np.full((len(ALLOWANCES), len(CHANGES), len(cal)), np.nan)
        for members in groups.values():
            rail = dated_rail(cfg, dates[members[0]], use_cache=use_cache)
            _grid_minutes(rail, cal.iloc[members], minutes, members)
        for i, allowance in enumerate(ALLOWANCES):
            for j, change_min in enumerate(CHANGES):
                for penalty in PENALTIES:
                    within, err = _score(published, minutes[i, j] + 2 * penalty)
                    key = (err, -within)
                    if best is None or key < best[0]:
                        best = (key, factor, allowance, change_min, penalty)
        if log:
            log(f"rail fit: factor {factor:.2f} done; best so far {best[1:]} (mean |log ratio| "
                f"{best[0][0]:.4f}, {-best[0][1]} within 20 %)")
    assert best is not None
    _, factor, allowance, change_min, penalty = best
    return {"speed_factor": factor, "stop_allowance_min_per_km": allowance, "line_change_min": change_min,
            "stop_penalty_min": penalty,
            "grid": {"speed_factor": list(FACTORS), "stop_allowance_min_per_km": list(ALLOWANCES),
                     "line_change_min": list(CHANGES), "stop_penalty_min": list(PENALTIES)}}


def _grid_minutes(rail: Any, rows: pd.DataFrame, out: np.ndarray, columns: list[int]) -> None:
    """Modelled minutes (no trip-end penalty) of ``rows`` on ``rail`` for every allowance and change
    penalty of the grid, written into ``out[:, :, columns]``."""
    from scipy.sparse.csgraph import dijkstra

    nodes = station_nodes(rail)
    index = {n: i for i, n in enumerate(rail.nodes)}
    edges = [(index[u], index[v], d["travel_time"], d["length"], d.get("link")) for u, v, d in rail.edges(data=True)]
    tails = np.array([e[0] for e in edges], dtype=np.int64)
    heads = np.array([e[1] for e in edges], dtype=np.int64)
    seconds = np.array([e[2] for e in edges], float)
    km = np.array([e[3] for e in edges], float) / 1000.0
    change = np.array([e[4] == "change" for e in edges])
    origins = sorted({index[nodes[a]] for a in rows["origin_station"]})
    at = {o: k for k, o in enumerate(origins)}
    o_rows = np.array([at[index[nodes[a]]] for a in rows["origin_station"]])
    d_cols = np.array([index[rail.nodes[nodes[b]].get("arrival", nodes[b])] for b in rows["destination_station"]])
    for i, allowance in enumerate(ALLOWANCES):
        for j, change_min in enumerate(CHANGES):
            weight = seconds + 60.0 * allowance * km + np.where(change, 60.0 * change_min, 0.0)
            dist = dijkstra(min_csr(len(index), tails, heads, weight), directed=True, indices=origins)
            out[i, j, columns] = dist[o_rows, d_cols] / 60.0


# --------------------------------------------------------------------------------------------
# Demand and mode choice
# --------------------------------------------------------------------------------------------

#: Kinds of count and what they measure beyond the model's intercity person trips: each kind
#: gets one fitted log-scale factor (its coverage), so the fit uses the pattern of each kind
#: across places, not its level, except the kinds anchored to the model's own units (rail_od).
COVERAGE = {
    "road_section": "vehicles of all kinds, including freight, local and long-distance traffic",
    "station": "boardings, including trips to places outside the model and local trips",
}
OBS_COLUMNS = ["id", "kind", "description", "a_lon", "a_lat", "b_lon", "b_lat", "station", "city_a", "city_b",
               "value", "unit", "year", "use", "source", "notes"]
SPLIT_SEED_OBS = "yrd-observations-2026"


def load_observations(path: str | Path | None = None) -> pd.DataFrame:
    """Published observations (``data/observations.csv``, rows with ``use = yes``) and their split.

    Every kind with at least three observations holds out a third of them (rounded up), chosen
    by the SHA-256 of a fixed seed and the observation id; the rest are fitted.  Every
    observation is also predicted by a fit without it (leave-one-out, :func:`fit_demand`).
    """
    path = Path(path) if path else DATA_DIR / "observations.csv"
    if not path.is_file():
        raise CatalogueError(f"{path}: no such file")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in OBS_COLUMNS if c not in frame.columns]
    if missing:
        raise CatalogueError(f"{path}: missing column(s) {missing}")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    if frame["value"].isna().any():
        k = int(np.flatnonzero(frame["value"].isna().to_numpy())[0])
        raise CatalogueError(f"{path}: line {k + 2}: value is not a number")
    frame = frame[frame["use"] == "yes"].reset_index(drop=True)
    keys = [hashlib.sha256(f"{SPLIT_SEED_OBS}|{i}".encode()).hexdigest() for i in frame["id"]]
    frame["split"] = "fit"
    for kind, idx in frame.groupby("kind").indices.items():
        if len(idx) < 3:
            continue  # too few to spare one: fitted, and checked by leave-one-out only
        order = sorted(idx, key=lambda k: keys[k])
        for k in order[: math.ceil(len(order) / 3)]:
            frame.loc[k, "split"] = "holdout"
    return frame


def fit_demand(model: Any, observations: pd.DataFrame, *, log: Any = None) -> dict[str, Any]:
    """Fit the demand and mode-choice parameters; report the fit and hold-out errors."""
    from transit.model.observe import Predictor

    predictor = Predictor(model, observations)
    result = predictor.fit(log=log)
    p = result["params"]
    table = result["table"].copy()
    # Leave-one-out: every observation predicted by a fit on the others of the fit part.
    loo = np.full(len(observations), np.nan)
    for k in range(len(observations)):
        if observations["split"].iloc[k] != "fit":
            loo[k] = table["ratio"].iloc[k]
            continue
        split = observations["split"].to_numpy().copy()
        split[k] = "holdout"
        loo[k] = predictor.with_split(split).fit()["table"]["ratio"].iloc[k]
    table["loo_ratio"] = loo
    result["loo"] = loo
    table["description"] = table["description"].str.slice(0, 70)
    result["text"] = f"""Fitted by least squares on the `fit` part of `data/observations.csv` (rows with `use = yes`;
split per kind by the seeded rule of `transit.model.calibration.load_observations`, seed
`{SPLIT_SEED_OBS}`); `mode_choice.theta` = {model.config['mode_choice']['theta']} is taken as configured.
Counts of vehicles are multiplied by the share of small passenger cars ({PASSENGER_CAR_SHARE}) before
the comparison; station boardings get a fitted coverage factor. `ratio` is modelled / observed at the
fitted values; `loo_ratio` is the same from a fit without that observation (leave-one-out; for the
held-out rows it equals `ratio`). Leave-one-out median absolute error: {np.nanmedian(np.abs(loo - 1)) * 100:.0f} %;
within a factor of 2: {int(np.sum((loo > 0.5) & (loo < 2)))} of {len(loo)}.

Fitted: `demand.scale` = {p['scale']:.6g}, `demand.gamma` = {p['gamma']:.4f}, `mode_choice.asc_car` =
{p['asc_car']:.4f}, `mode_choice.asc_coach` = {p['asc_coach']:.4f}, station coverage factor
{p['station_coverage']:.3f} (solver: {result['message']}). Intercity trips per day between the model's
zones at these values: {result['trips_per_day']:,.0f}.

{_md(result['summary'])}

{_md(table[['split', 'id', 'kind', 'description', 'year', 'observed_for_fit', 'modelled', 'ratio', 'loo_ratio']])}
"""
    return result


# --------------------------------------------------------------------------------------------
# Command line: python -m transit.model.calibration
# --------------------------------------------------------------------------------------------


def _md(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        out.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from transit.config import load_config
    from transit.model.core import build_model

    parser = argparse.ArgumentParser(prog="python -m transit.model.calibration",
                                     description="Fit the rail, demand and mode-choice parameters; write docs/calibration.md")
    parser.add_argument("--out", default="docs/calibration.md")
    parser.add_argument("--skip-rail", action="store_true", help="keep the configured rail parameters")
    args = parser.parse_args(argv)
    config = load_config()
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    sections = []
    if not args.skip_rail:
        rail = fit_rail(config, log=log)
        for key in ("speed_factor", "stop_penalty_min", "stop_allowance_min_per_km", "line_change_min"):
            config["rail"][key] = rail[key]
        print(f"[rail] speed_factor = {rail['speed_factor']}, stop_penalty_min = {rail['stop_penalty_min']}, "
              f"stop_allowance_min_per_km = {rail['stop_allowance_min_per_km']}, "
              f"line_change_min = {rail['line_change_min']}")
    model = build_model(config)
    table = rail_table(model)
    summary = []
    for part in ("calibration", "holdout"):
        rows = table[table["split"] == part]
        ratio = rows["ratio"].to_numpy(float)
        summary.append({"part": part, "pairs": len(rows), "within_20pct": int(rows["within_20pct"].sum()),
                        "share_within": float(rows["within_20pct"].mean()),
                        "median_abs_error": float(np.nanmedian(np.abs(ratio - 1)))})
    sections.append(("Rail times", summary, table))
    obs = load_observations()
    demand = fit_demand(model, obs, log=log)
    print("[demand] " + ", ".join(f"{k} = {v:.6g}" for k, v in demand["params"].items()))
    demand["sensitivity"] = theta_sensitivity(config, budget=300.0, log=log)
    text = _document(config, sections, demand)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0


def theta_sensitivity(config: dict[str, Any], *, budget: float, thetas: tuple[float, ...] = (0.015, 0.03, 0.06),
                      log: Any = None) -> pd.DataFrame:
    """The optimal set at ``budget`` for several logit scales (theta is an assumption)."""
    from solvers.selection.markets import solve_market_selection
    from transit.model.core import build_model

    rows = []
    for theta in thetas:
        cfg = copy.deepcopy(config)
        cfg["mode_choice"]["theta"] = theta
        model = build_model(cfg)
        result = solve_market_selection(model.selection_layers, model.candidates, model.markets, budget=budget)
        shares = model.base_skim().shares[model.market_rows]
        w = model.demand["demand"].to_numpy(float)[model.market_rows]
        rows.append({"theta": theta, "status": result.status, "selected": " ".join(result.selected),
                     "saving_min_per_day": result.saving, "base_rail_share": float(np.dot(shares[:, 0], w) / w.sum())})
        if log:
            log(f"theta {theta}: {result.status} {result.selected}")
    return pd.DataFrame(rows)


def _document(config: dict[str, Any], sections: list, demand: dict[str, Any]) -> str:
    (title, summary, table), = sections
    rail = config["rail"]
    cols = ["split", "origin_city", "destination_city", "origin_station", "destination_station", "fastest_min",
            "modelled_min", "ratio", "within_20pct", "train", "timetable_date"]
    table = table.sort_values(["split", "origin_city", "destination_city"]).copy()
    table["train"] = table["train"].fillna("")
    table["timetable_date"] = table["timetable_date"].fillna("")
    return f"""# Calibration and hold-out checks

Generated by `python -m transit.model.calibration` (do not edit by hand). Every fit uses only
its `fit`/`calibration` part; the other part is held out and reported as is.

## Rail times

Parameters fitted by a grid search (speed factor {FACTORS[0]}-{FACTORS[-1]}, stop allowance
{ALLOWANCES[0]}-{ALLOWANCES[-1]} min/km, change of line {CHANGES[0]}-{CHANGES[-1]} min, stop penalty
{PENALTIES[0]}-{PENALTIES[-1]} min per trip end) on the calibration half of `data/timetable_checks.csv`:
`rail.speed_factor` = {rail['speed_factor']}, `rail.stop_allowance_min_per_km` =
{rail['stop_allowance_min_per_km']}, `rail.line_change_min` = {rail['line_change_min']},
`rail.stop_penalty_min` = {rail['stop_penalty_min']}. Rows used: per city pair its fastest published station pair, both stations
in the study area, each routed on the network of its timetable date (`transit.validation.dated_rail`); split by
the seeded rule of `transit.validation.timetable_split` (seed
`{__import__('transit.validation', fromlist=['SPLIT_SEED']).SPLIT_SEED}`).

{_md(pd.DataFrame(summary))}

{_md(table[cols])}

## Demand and mode choice

{demand['text']}

### Sensitivity to the logit scale

`mode_choice.theta` (per generalized minute) could not be sourced for the YRD and the counts cannot
identify it (fitted jointly it ran to an implausible 0.11 with 6 parameters on 7 observations); it is
an assumption. The optimal set at 300 bn CNY for half and double the assumed value, everything else
as configured (the demand and constants not refitted):

{_md(demand['sensitivity']) if 'sensitivity' in demand else '(not run)'}
"""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
