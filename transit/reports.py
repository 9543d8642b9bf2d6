"""Outputs a planner can drop into a document: CSV tables, GeoPackage, map, report, run record.

Everything is written into a temporary folder and swapped into place at the end
(:func:`networks.atomic.atomic_output_dir`): a failed run leaves no half outputs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import networkx as nx
import shapely

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from shapely.geometry import LineString, Point  # noqa: E402

from networks.atomic import atomic_output_dir  # noqa: E402
from networks.gpkg import write_gpkg  # noqa: E402
from networks.memory import no_gc  # noqa: E402
from networks.osm_export import OSM_METADATA  # noqa: E402
from transit.config import DATA_DIR, config_hash  # noqa: E402
from transit.maps import draw_map  # noqa: E402
from transit.progress import Stopwatch, logger  # noqa: E402
from transit.model.mode_choice import MODES  # noqa: E402
from transit.optimize import (  # noqa: E402
    OptimizationRun,
    axes_table,
    pairs_table,
    priorities_table,
    unvalued_table,
    zone_pairs_table,
)
from transit.appraisal.tables import appraisal_table, package_appraisal, tornado_table  # noqa: E402
from transit.validation import timetable_check  # noqa: E402

__all__ = ["write_outputs", "network_layers"]

OUTPUTS = ("priorities.csv", "appraisal.csv", "tornado.csv", "axes.csv", "pairs.csv", "zone_pairs.csv", "network.gpkg", "map.png",
           "report.md", "run.json", "congestion.csv", "montecarlo_draws.csv", "montecarlo_projects.csv", "fairness.csv",
           "manifest.json", "scenario.toml", "node.csv", "link.csv", "config.csv", "skims.omx", "tables.xlsx", "report.html")
# What differs between two runs of the same inputs: left out of the manifest's hash of run.json
# (the command line, which names the output folder, and every timing, at any depth; CP-SAT's
# deterministic time is a measure of work summed over parallel workers, equal only to the last bits).
VOLATILE = ("command", "timings_s", "seconds", "wall_time", "user_time", "*_seconds", "*deterministic_time")


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items()
                if k not in VOLATILE and not (isinstance(k, str) and k.endswith(("_seconds", "deterministic_time")))}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def manifest(folder: Path) -> dict[str, Any]:
    """SHA-256 of every output in ``folder``; run.json hashed without its volatile keys.

    Two runs of the same scenario with the same inputs and package versions have equal
    manifests (``transit rerun`` checks it).
    """
    files = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name == "manifest.json":
            continue
        if path.name == "run.json":
            record = json.loads(path.read_text(encoding="utf-8"))
            files[path.name] = hashlib.sha256(json.dumps(_stable(record), sort_keys=True).encode()).hexdigest()
        else:
            files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"format": 1, "files": files,
            "note": f"run.json is hashed without {', '.join(VOLATILE)} (they differ between identical runs)"}


def _layer(rows: list[dict[str, Any]] | pd.DataFrame, geometry: list[Any], columns: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns).reset_index(drop=True)
    frame["geometry"] = pd.Series(list(geometry), index=frame.index, dtype=object)
    return frame


def _edge_frame(G, edges, **extra) -> pd.DataFrame:
    rows, coords = [], []
    for u, v, data in edges:
        a, b = G.nodes[u], G.nodes[v]
        coords.append(((a["x"], a["y"]), (b["x"], b["y"])))
        rows.append({"u": str(u), "v": str(v), "mode": data.get("mode"), "length_m": data.get("length"),
                     "speed_kph": data.get("speed_kph"), "travel_time_s": data.get("travel_time"),
                     "lines": " ".join(data.get("lines", ())), "project": data.get("project", ""), **extra})
    geometry = shapely.linestrings(np.asarray(coords, dtype=float).reshape(-1, 2, 2)) if coords else []
    columns = None if rows else ["u", "v", "mode", "length_m", "speed_kph", "travel_time_s", "lines", "project"]
    return _layer(rows, geometry, columns)


def network_layers(run: OptimizationRun) -> dict[str, pd.DataFrame]:
    """GIS layers: rail, road, stations, zones, candidate and selected project alignments
    (DataFrames with a shapely ``geometry`` column, EPSG:4326)."""
    model = run.model
    G = run.design_graph()

    def one_way(graph: nx.MultiDiGraph, mode: str):
        seen = set()
        for u, v, data in graph.edges(data=True):
            if data.get("mode") == mode and "project" not in data and (v, u) not in seen:
                seen.add((u, v))
                yield u, v, data

    stations = [(n, d) for n, d in G.nodes(data=True) if d.get("station")]
    layers = {
        # the track, not the routing graph's line layers (networks.lines)
        "rail": _edge_frame(model.network.rail, one_way(model.network.rail, "rail")),
        "road": _edge_frame(G, one_way(G, "road")),
        "stations": _layer(
            [{"node": str(n), "name": d.get("name"), "city": d.get("city", ""), "project": d.get("project", "")}
             for n, d in stations],
            [Point(d["x"], d["y"]) for _, d in stations], ["node", "name", "city", "project"]),
        "zones": _layer(
            model.network.zones[["zone", "adcode", "name_en", "name_zh", "city", "province", "kind", "population"]],
            [Point(x, y) for x, y in zip(model.network.zones["lon"], model.network.zones["lat"])]),
    }
    selected = set(run.selected)
    rows, geoms = [], []
    for p in model.projects:
        geoms.append(LineString([(pt["lon"], pt["lat"]) for pt in p.alignment]))
        rows.append({"project": p.id, "name_en": p.name_en, "name_zh": p.name_zh, "mode": p.mode,
                     "cost_bn_cny": p.cost_bn_cny, "lead_member": p.lead_member, "axes": " ".join(p.axes),
                     "selected": p.id in selected})
    projects = _layer(rows, geoms)
    layers["projects_candidates"] = projects
    layers["projects_selected"] = projects[projects["selected"]].reset_index(drop=True)
    return layers


def _draw_map(run: OptimizationRun, layers: dict[str, pd.DataFrame], path: Path,
              pairs: pd.DataFrame, priorities: pd.DataFrame) -> None:
    ax = draw_map(layers, pairs=pairs, priorities=priorities,
                  title=f"YRD: optimal projects for a budget of {run.budget:g} bn CNY ({run.result.status})",
                  expressway_kph=run.model.config["road"]["expressway_kph"],
                  fast_rail_kph=run.model.config["rail"]["conventional_kph"])
    ax.figure.savefig(path)
    plt.close(ax.figure)


def _md_table(frame: pd.DataFrame, floatfmt: str = "{:,.1f}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, (float, np.floating)):
                cells.append("" if np.isnan(value) else floatfmt.format(value))
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    # everything whose version can change an output's bytes (rerun names those that changed)
    for pkg in ("yrd-transit", "ortools", "networkx", "numpy", "scipy", "pandas", "shapely",
                "matplotlib", "numba", "h5py"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _shares_table(run: OptimizationRun) -> pd.DataFrame:
    """Mode shares (demand-weighted) over the objective markets and per axis, before and after."""
    model = run.model
    w = model.demand["demand"].to_numpy(float)
    key = list(zip(model.demand["origin_city"], model.demand["destination_city"]))
    groups = [("objective markets", model.market_rows)]
    for axis in model.axes:
        pairs = set(axis.pairs())
        groups.append((axis.id, np.array([k for k, p in enumerate(key) if p in pairs], dtype=np.int64)))
    rows = []
    for name, idx in groups:
        row: dict[str, Any] = {"markets": name, "trips_per_day": float(w[idx].sum())}
        for tag, skim in (("base", run.skim_base), ("opt", run.skim_opt)):
            for m, mode in enumerate(MODES):
                row[f"{mode}_{tag}_pct"] = 100 * float(np.dot(skim.shares[idx, m], w[idx]) / w[idx].sum()) if idx.size else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _report(run: OptimizationRun, priorities: pd.DataFrame, axes: pd.DataFrame, checks: pd.DataFrame,
            unvalued: pd.DataFrame, appraisal: pd.DataFrame, package: dict[str, Any], tornado: pd.DataFrame) -> str:
    r = run.result
    model = run.model
    cfg = model.config
    mc = cfg["mode_choice"]
    ladder = run.ladder.to_frame()
    ladder["selected"] = ladder["selected"].replace("", "(none)")
    caps = ", ".join(f"{k}: {v:g}" for k, v in run.member_caps.items()) or "none"
    optimal = "proved optimal by CP-SAT" if r.status == "OPTIMAL" else f"NOT proved optimal (status {r.status})"
    within = checks["within_20pct"].sum() if len(checks) else 0
    non_nested = "\n".join(
        f"- between budgets {n.budget_from:g} and {n.budget_to:g}: {', '.join(n.dropped)} leave(s) the set, "
        f"{', '.join(n.added) or 'nothing'} enter(s)" for n in run.ladder.non_nested
    ) or "- none: every optimal set contains the previous one."
    vot = package["parameters"]["value_of_time_cny_per_h"]
    saving = package["saving_min_per_day"]
    money = saving * vot / 60.0
    zones = model.network.zones
    trips = float(model.demand["demand"].sum())
    market_trips = float(model.demand["demand"].to_numpy(float)[model.market_rows].sum())
    shares = _shares_table(run)
    demand_line = (f"gravity model fitted to published counts (scale {cfg['demand']['scale']:,.0f}, gamma "
                   f"{cfg['demand']['gamma']:.3f}, alpha {cfg['demand']['alpha']:g}; see `docs/calibration.md`)"
                   if model.demand_source == "gravity" else model.demand_source)
    return f"""# YRD transport integration: investment priorities

Budget **{run.budget:g} bn CNY**; member caps: {caps}; demand growth x{cfg['demand']['growth']:g};
objective: {cfg['objective']['pairs']} ({len(model.pairs)} ordered city pairs, {len(model.market_rows):,} zone
pairs, {market_trips:,.0f} of the model's {trips:,.0f} intercity trips per day);
{len(zones)} zones in {zones['city'].nunique()} cities; {len(model.projects)} candidate projects.

## Result

Objective: **{_OBJECTIVE_TEXT[run.objective]}**.
Selected {len(r.selected)} project(s) costing {r.cost:,.1f} bn CNY: {', '.join(r.selected) or 'none'}.
The solution is **{optimal}**: objective {r.objective:,.0f} generalized minutes per day{_NPV_NOTE if run.objective == 'npv' else ''}, lower bound
{r.bound:,.0f}, relative gap {r.gap:.2e} (base network {r.base_objective:,.0f}). The saving, the
travellers' gain in consumer surplus (logsum benefit), is **{saving:,.0f} generalized minutes per day**,
{100 * saving / r.base_objective if r.base_objective else 0.0:.2f} % of the base, or
{money / 1e6:,.2f} million CNY per day at the appraisal's {vot:.1f} CNY per generalized hour.
In money over the appraisal period: benefits {package['pvb_bn_cny']:,.1f} bn CNY, costs
{package['pvc_bn_cny']:,.1f} bn CNY (present values), **NPV {package['npv_bn_cny']:,.1f} bn CNY**, BCR
{package['bcr']:.2f} (see "Appraisal").

## Investment priorities

Rank = order in which projects enter the optimal set as the budget grows
({len(run.ladder.budgets)} budget steps); marginal saving = objective increase (generalized
minutes per day) if the project were removed from the optimal set at the full budget.

{_md_table(priorities[['rank', 'project', 'name_en', 'cost_bn_cny', 'lead_member', 'axes', 'enters_at_budget', 'marginal_saving_min', 'npv_bn_cny', 'bcr', 'in_optimal_set']])}

NPV and BCR set the marginal saving, in money, against the project's own discounted costs.

Budget ladder (each row solved exactly):

{_md_table(ladder, '{:,.4g}')}

Where the optimal sets are not nested:
{non_nested}

Candidates in no optimal set of the ladder, and why (those that save nothing say so):

{_md_table(unvalued) if len(unvalued) else '(none: every candidate is in some optimal set of the ladder)'}

## Appraisal

{_appraisal_section(run, appraisal, package)}

Sensitivity of the package's NPV (bn CNY), one input at a time at its low and high value
(`tornado.csv`; ranges in `docs/appraisal.md`):

{_md_table(tornado[['input', 'low', 'high', 'npv_low_bn_cny', 'npv_central_bn_cny', 'npv_high_bn_cny']], '{:,.4g}')}

## Axes and the Hangzhou Bay link

Per axis (zone pairs of its cities): door-to-door minutes of the trips as they split between the
modes, the composite generalized cost the optimiser minimises, the rail share, and the fastest rail
time between the first and last city (station to station, as a timetable shows it):

{_md_table(axes[['axis', 'zone_pairs', 'weighted_min_base', 'weighted_min_opt', 'weighted_gc_base', 'weighted_gc_opt', 'saving_pct', 'share_rail_base', 'share_rail_opt', 'end_to_end', 'end_to_end_rail_base', 'end_to_end_rail_opt']], '{:,.3g}')}

## Mode shares before and after (per cent of trips)

{_md_table(shares, '{:,.1f}')}

![map](map.png)

## Model and assumptions

- Zones: {len(zones)} districts, counties and county-level cities (2020 census populations,
  `data/zones.csv`), rolled up to {zones['city'].nunique()} cities for the tables.
- Network: {model.network.description}
- Rail: commercial speed {cfg['rail']['speed_factor']:g} x each line's maximum operating speed,
  {cfg['rail']['conventional_kph']:g} km/h elsewhere, plus {cfg['rail']['stop_allowance_min_per_km']:g} min per km for
  intermediate stops, {cfg['rail']['stop_penalty_min']:g} min per trip end and {cfg['rail']['line_change_min']:g} min per
  change of line (the four calibrated on half of `data/timetable_checks.csv`); access {cfg['access']['rail_access_min']:g} min and
  egress {cfg['access']['rail_egress_min']:g} min plus local travel at {cfg['access']['local_kph']:g} km/h to
  every station within {cfg['access']['station_radius_km']:g} km (the nearest one if none).
- Road: {cfg['road']['expressway_kph']:g} km/h on expressways, {cfg['road']['other_kph']:g} km/h on other
  roads, {cfg['access']['road_terminal_min']:g} min per trip end. Free flow: road widenings save nothing here.
- Demand: {demand_line}; intercity trips only (zones of different cities), fixed per zone pair.
- Mode choice: {'nested' if mc['nest'] == 'road' else 'multinomial'} logit on generalized cost, theta
  {mc['theta']:.4f} per minute (an assumption: sensitivity in `docs/calibration.md`), constants car
  {mc['asc_car']:.3f} and coach {mc['asc_coach']:.3f} against rail (calibrated); behavioural value of time {mc['value_of_time_cny_per_h']:g} CNY/h (it converts money into minutes; the appraisal values time by mode and purpose); fares {mc['rail_fare_hsr_cny_per_km']:g} (HSR) and
  {mc['rail_fare_other_cny_per_km']:g} CNY/km (other rail), car {mc['car_fuel_cny_per_km']:g} fuel +
  {mc['car_toll_cny_per_km']:g} toll CNY/km over {mc['car_occupancy']:g} persons, coach
  {mc['coach_fare_cny_per_km']:g} CNY/km and {mc['coach_time_factor']:g} x car driving time; out-of-vehicle
  time weighted {mc['out_of_vehicle_weight']:g}. Sources: `docs/model.md`.
- Optimiser: exact for this model: records of project sets per zone pair and mode, combined through the
  monotone logsum, solved by CP-SAT; status, objective, bound and gap as reported above.

## Credibility check: modelled vs published fastest rail times

{within} of {len(checks)} station pairs within 20 % of the published fastest timetable time, each on the
network of its timetable date where the rail is the embedded one (the calibration and hold-out halves, one
pair per city pair: `docs/calibration.md`).

{_md_table(checks[['origin_station', 'destination_station', 'published_min', 'modelled_min', 'ratio', 'within_20pct', 'timetable_date']], '{:.2f}') if len(checks) else '(no timetable checks available)'}
"""


_NPV_NOTE = " (travel plus the projects' discounted costs in minute-equivalents)"
_OBJECTIVE_TEXT = {
    "minutes": "the travellers' time saving (logsum benefit, generalized minutes a day)",
    "benefit": "the money value of the time saving (the same optimum as minutes: one opening year and one "
               "growth path for every project)",
    "npv": "the package's net present value (monetised benefits minus discounted costs)",
}


def _appraisal_section(run: OptimizationRun, appraisal: pd.DataFrame, package: dict[str, Any]) -> str:
    p = package["parameters"]
    chosen = appraisal[appraisal["project"].isin(run.selected)]
    others = appraisal[~appraisal["project"].isin(run.selected)]
    cols = ["project", "cost_bn_cny", "pv_costs_bn_cny", "alone_saving_min", "alone_npv_bn_cny", "alone_bcr",
            "alone_irr", "package_marginal_saving_min", "package_npv_bn_cny", "package_bcr", "package_irr"]
    irr = package["irr"]
    values = package["value_of_time_by_mode_cny_per_h"]
    weights = p["mode_shares"]
    by_mode = package["saving_by_mode_min_per_day"]
    split = sum(by_mode.values())
    mix = ", ".join(f"{m} {100 * by_mode[m] / split:.0f} %" for m in by_mode) if split > 0 else "none"
    vot_line = (", ".join(f"{m} {values[m]:.1f}" for m in values) + " CNY/h (each mode's mix of business, "
                "commuting and other trips), weighted by the base mode shares of the objective's trips ("
                + ", ".join(f"{m} {100 * weights[m]:.0f} %" for m in weights) + ")")
    return f"""Every project of the package opens in {p['opening_year']} and is appraised over {p['operating_years']}
years of operation, discounted at {100 * p['discount_rate']:g} % to {p['base_year']} (prices of {p['price_year']}):
benefits = the daily saving x {p['value_of_time_cny_per_h']:.1f} CNY per generalized hour x {p['days_per_year']:g} days, growing
{100 * p['demand_growth']:g} % (demand) and {100 * p['value_of_time_growth']:g} % (value of time) a year to
{p['growth_end_year']}; costs = capital with optimism bias (rail {100 * p['optimism_bias']['rail']:g} %, road
{100 * p['optimism_bias']['road']:g} %, sea crossings {100 * p['optimism_bias']['crossing']:g} %) spread over the
construction years, O&M, less residual value. One generalized minute a day saved is worth
{package['benefit_factor_cny_per_min_day']:,.0f} CNY of present value. Formulae and sources:
`docs/appraisal.md`. The benefits are the modelled travellers' time and money savings only (see "What it
leaves out" there): a BCR below 1 says the time savings alone do not repay a project.

Package: benefits {package['pvb_bn_cny']:,.1f} bn CNY, costs {package['pvc_bn_cny']:,.1f} bn CNY, NPV
{package['npv_bn_cny']:,.1f} bn CNY, BCR {package['bcr']:.3f}, IRR {'n/a' if irr != irr else f'{100 * irr:.1f} %'},
first-year return {100 * package['first_year_return']:.2f} %.

Value of time: {vot_line}. The package's saving splits by mode as {mix}; valued at
that mix instead, its benefits would be {package['pvb_at_package_mode_mix_bn_cny']:,.1f} bn CNY (a check of the
fixed weights, which keep the NPV objective exact: `docs/appraisal.md`).

Projects of the package (alone = with the projects it requires, on the base network; in the
package = what the package loses without it):

{_md_table(chosen[cols], '{:,.3g}') if len(chosen) else '(none)'}

Other candidates, alone (the full table: `appraisal.csv`):

{_md_table(others[cols[:7]], '{:,.3g}') if len(others) else '(none)'}"""


@no_gc()  # allocation-heavy: the cyclic collector cost about a fifth of the run (networks.memory.no_gc)
def write_outputs(run: OptimizationRun, out_dir: str | Path, *, argv: list[str] | None = None,
                  extra_files: Mapping[str, bytes] | None = None, extra_record: Mapping[str, Any] | None = None,
                  input_files: Mapping[str, str | Path] | None = None) -> Path:
    """Write every output of ``transit optimize`` into ``out_dir`` atomically.

    ``extra_files`` (name -> bytes) are written beside the outputs (a run's scenario file),
    ``extra_record`` is merged into ``run.json``, and ``input_files`` (label -> path: a user's
    catalogue, OD matrix, OSM extract...) are hashed into ``run.json`` with the data files.
    ``manifest.json`` (:func:`manifest`) closes the folder.
    """
    out_dir = Path(out_dir)
    with Stopwatch("tables: priorities, appraisal, tornado, axes, pairs, timetable check, GIS layers"):
        priorities = priorities_table(run)
        axes = axes_table(run)
        pairs = pairs_table(run)
        zone_pairs = zone_pairs_table(run)
        unvalued = unvalued_table(run)
        appraisal = appraisal_table(run)
        package = package_appraisal(run)
        tornado = tornado_table(run)
        checks = timetable_check(run.model, missing="skip")
        layers = network_layers(run)
    with atomic_output_dir(out_dir, managed=OUTPUTS) as tmp:
        priorities.to_csv(tmp / "priorities.csv", index=False)
        appraisal.to_csv(tmp / "appraisal.csv", index=False, float_format="%.6g")
        tornado.to_csv(tmp / "tornado.csv", index=False, float_format="%.6g")
        if run.monte_carlo is not None:
            run.monte_carlo.draws.to_csv(tmp / "montecarlo_draws.csv", index=False, float_format="%.6g")
            run.monte_carlo.probabilities.to_csv(tmp / "montecarlo_projects.csv", index=False, float_format="%.6g")
        axes.to_csv(tmp / "axes.csv", index=False)
        pairs.to_csv(tmp / "pairs.csv", index=False, float_format="%.4g")
        zone_pairs.to_csv(tmp / "zone_pairs.csv", index=False, float_format="%.4g")
        write_gpkg(tmp / "network.gpkg", layers, metadata=OSM_METADATA)  # same run, same bytes
        with Stopwatch("map.png"):
            _draw_map(run, layers, tmp / "map.png", zone_pairs, priorities)
        from transit.exports import write_exports

        with Stopwatch("exports: GMNS node/link, OMX skims, Excel workbook"):
            write_exports(run, tmp, {"priorities": priorities, "axes": axes, "pairs": pairs,
                                     "zone_pairs": zone_pairs, "appraisal": appraisal, "tornado": tornado})
        report = _report(run, priorities, axes, checks, unvalued, appraisal, package, tornado)
        if run.monte_carlo is not None:
            report += _monte_carlo_section(run)
        if run.fairness is not None:
            from transit.fairness import fairness_section, fairness_table

            fair_table = fairness_table(run)
            fair_table.to_csv(tmp / "fairness.csv", index=False, float_format="%.6g")
            report += fairness_section(run, fair_table)
        if run.congestion is not None:
            table = _congestion_table(run)
            table.to_csv(tmp / "congestion.csv", index=False)
            report += _congestion_section(run, table)
        (tmp / "report.md").write_text(report, encoding="utf-8")
        record: dict[str, Any] = {
            "command": argv if argv is not None else sys.argv,
            "inputs": {"budget_bn_cny": run.budget, "member_caps": run.member_caps,
                       "ladder_budgets": list(run.ladder.budgets), "config": run.model.config},
            "hashes": {"config": config_hash(run.model.config),
                       **{p.relative_to(DATA_DIR.parent).as_posix(): _file_hash(p)
                          for p in sorted(DATA_DIR.rglob("*")) if p.is_file()},
                       **{f"input:{label}": _file_hash(Path(path)) for label, path in (input_files or {}).items()}},
            "versions": _versions(),
            "timings_s": {k: round(v, 3) for k, v in run.timings.items()},
            "result": run.result.to_dict() | {"od_times": None},
            "objective": run.objective,
            "appraisal": package,
            "ladder": run.ladder.to_dict(),
            "congestion": run.congestion.summary() if run.congestion is not None else None,
            "monte_carlo": run.monte_carlo.summary() if run.monte_carlo is not None else None,
            "fairness": None if run.fairness is None else {
                "mode": run.fairness.mode, "minimum": run.fairness.minimum, "worst": run.fairness.worst,
                "worst_proved": run.fairness.worst_proved, "iterations": run.fairness.iterations,
                "price": run.fairness.price, "unconstrained_selected": list(run.fairness.unconstrained.selected),
                "improvement": run.fairness.improvement,
                "unconstrained_improvement": run.fairness.unconstrained_improvement},
            "network": {"nodes": run.model.network.graph.number_of_nodes(),
                        "edges": run.model.network.graph.number_of_edges(),
                        "rail_conflation": {k: int(v) for k, v in
                                            run.model.network.rail_report["status"].value_counts().items()},
                        "road_conflation": {k: int(v) for k, v in
                                            run.model.network.road_report["status"].value_counts().items()}},
        }
        for item in record["ladder"]["results"]:
            item.pop("od_times", None)
        record.update(extra_record or {})
        (tmp / "run.json").write_text(json.dumps(record, indent=2, default=_json_default), encoding="utf-8")
        for name, blob in (extra_files or {}).items():
            (tmp / name).write_bytes(blob)
        from transit.html_report import write_report_html

        with Stopwatch("report.html"):
            write_report_html(tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest(tmp), indent=1) + "\n", encoding="utf-8")
    logger.info("outputs in %s", out_dir)
    return out_dir


def _monte_carlo_section(run: OptimizationRun) -> str:
    mc = run.monte_carlo
    m = mc.summary()
    draws = mc.draws
    proved = int((draws["status"] == "OPTIMAL").sum())
    packages = draws["selected"].replace("", "(none)").value_counts()
    top = "\n".join(f"- {pkg}: {n} of {len(draws)} draws" for pkg, n in packages.head(5).items())
    probs = mc.probabilities[mc.probabilities["probability"] > 0]
    return f"""

## Uncertainty: Monte Carlo

{m['draws']} draws (seed {m['seed']}; the same seed gives the same draws whatever the number of
workers) of each project's capital cost (triangular on its catalogue range), the optimism bias
(uniform in each category's range), the value of time (triangular on its range) and demand growth
(uniform in 0-8.5 % a year), each re-solved exactly at the budget for the objective
({run.objective}); {proved} of {len(draws)} solves proved optimal. Package NPV: mean
{m['npv_mean_bn_cny']:,.1f} bn CNY (standard error {m['npv_std_error_bn_cny']:,.2f}), median
{m['npv_p50_bn_cny']:,.1f}, 5 % {m['npv_p5_bn_cny']:,.1f}, 95 % {m['npv_p95_bn_cny']:,.1f}.
Method: `docs/appraisal.md`. Draws: `montecarlo_draws.csv`.

Most frequent optimal packages:

{top}

Probability of being in the optimal package (a robust priority list; all candidates in
`montecarlo_projects.csv`):

{_md_table(probs, '{:,.3g}') if len(probs) else '(no project is chosen in any draw)'}
"""


def _congestion_table(run: OptimizationRun) -> pd.DataFrame:
    """Road projects under congestion: chosen or not, cost, and the UE TSTT change alone."""
    c = run.congestion
    alone = c.braess.set_index("project") if len(c.braess) else pd.DataFrame()
    rows = []
    for pid in c.model.project_ids:
        project = run.model.project(pid)
        rows.append({"project": pid, "name_en": project.name_en, "kind": project.kind, "cost_bn_cny": project.cost_bn_cny,
                     "selected_under_congestion": pid in c.selected,
                     "selected_free_flow": pid in run.selected,
                     "tstt_change_alone_veh_h": alone["change_veh_h"].get(pid, np.nan) if len(alone) else np.nan,
                     "raises_tstt_alone": bool(alone["braess"].get(pid, False)) if len(alone) else False})
    return pd.DataFrame(rows)


def _congestion_section(run: OptimizationRun, table: pd.DataFrame) -> str:
    c = run.congestion.summary()
    cfg = run.model.config["congestion"]
    proved = "proved optimal within the 0.1 % gap" if c["status"] == "optimal" else f"NOT proved (status {c['status']})"
    braess = table[table["raises_tstt_alone"]]["project"].tolist()
    certificate = {True: "; the bound's certificate re-checked by CP-SAT",
                   False: "; the CP-SAT re-check of the bound did not finish"}.get(c["certified"], "")
    return f"""
## Road projects under congestion

Exact bilevel network design (user equilibrium, BPR) over the {len(table)} road projects, same budget,
peak hour: {', '.join(c['selected']) or 'none'}; UE total travel time {c['objective_veh_h']:,.1f}
vehicle-hours (base network {c['base_veh_h']:,.1f}), lower bound {c['bound_veh_h']:,.1f}, gap
{c['gap']:.2e}: {proved}; {c['ue_solves']} user-equilibrium and {c['so_solves']} system-optimum solves,
{c['nodes']} branch-and-bound nodes, {c['seconds']:.0f} s{certificate}.
Braess check (each project alone): {', '.join(braess) or 'no project raises the total travel time'}.

{_md_table(table[['project', 'kind', 'cost_bn_cny', 'selected_under_congestion', 'selected_free_flow', 'tstt_change_alone_veh_h', 'raises_tstt_alone']], '{:,.2f}')}

Assumptions: the base car trips of the mode choice, peak hour {cfg['peak_hour_share']:g}
of the day, {run.model.config['mode_choice']['car_occupancy']:g} persons per car, {cfg['background_share']:g} of road capacity taken
by traffic not modelled; the equilibrium runs on the corridor network (see `docs/model.md`).
"""


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
