"""The alliance's side of a programme: who pays what, which cities gain, and Shapley shares.

* **Cost sharing** (:func:`cost_shares`), one rule for every project:

  - ``lead``: the project's lead member (``lead_member`` in the catalogue) pays all of it;
  - ``length``: the cost is split by the length of the project's alignment in each province,
    each province's part paid by its provincial investor for the project's mode (the member
    whose ``province`` is that province, with no ``city``, investing in that mode:
    ``data/projects.json`` ``members``).  The province of a stretch of alignment is the
    province of the model zone nearest to its midpoint (zone centroids, not boundaries: a
    stretch near a border may be given to the neighbour);
  - ``negotiated``: shares read from a CSV file (``project,member,share``; each listed project's
    shares sum to 1); projects not in the file fall back to ``lead``.

* **Benefits by city and province** (:func:`city_benefits`): the saving of each market (a
  zone pair of the objective) is credited half to the origin's city and half to the
  destination's (every market has its reverse, so each city gets half of every trip it makes
  or receives); the present value sums each year's open network's saving with the
  programme's year weights, so the cities' values add up to the programme's benefit exactly.

* **Shapley values** (:func:`programme_shapley`): the programme's present value of benefits
  shared among the lead members of its projects (or among its projects) by the Shapley value
  of the game "the programme with only the projects of coalition ``S``, each in its scheduled
  year" (projects whose required projects are outside ``S`` dropped, as they could not open).
  Savings interact through the network, which is why the Shapley value and not a sum of
  stand-alone benefits: every coalition is valued exactly from the travel model's records
  (:class:`solvers.selection.design_savings.DesignSavings`).  Exact for up to 12 players,
  sampled (2,000 seeded orders, standard error reported) above.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import CatalogueError, InputError
from networks.geometry import haversine_km
from solvers.selection.design_savings import DesignSavings
from solvers.shapley import ShapleyResult, shapley_values

__all__ = ["COST_RULES", "AllianceTables", "alliance_tables", "city_benefits", "cost_shares",
           "programme_shapley", "province_lengths", "read_cost_shares"]

COST_RULES = ("lead", "length", "negotiated")
SHARE_TOLERANCE = 1e-6


def read_cost_shares(path: str | Path, *, members: Sequence[Any], projects: Sequence[Any]) -> dict[str, dict[str, float]]:
    """Negotiated cost shares from a CSV file with columns ``project,member,share``.

    Every listed project's shares must be numbers in [0, 1] summing to 1 (within 1e-6); the
    projects and members must be in the catalogue.  Errors name the file, row and value.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such cost-share file (expected CSV with columns project,member,share)")
    member_ids = {m.id for m in members}
    project_ids = {p.id for p in projects}
    shares: dict[str, dict[str, float]] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"project", "member", "share"} <= set(reader.fieldnames):
                raise InputError(f"{path}: expected the columns project,member,share, got {reader.fieldnames}")
            for k, row in enumerate(reader, start=2):
                where = f"{path}, row {k}"
                pid, member, text = (row["project"] or "").strip(), (row["member"] or "").strip(), row["share"]
                if pid not in project_ids:
                    raise InputError(f"{where}: unknown project {pid!r}")
                if member not in member_ids:
                    raise InputError(f"{where}: unknown member {member!r}; expected one of {sorted(member_ids)}")
                try:
                    value = float(text)
                except (TypeError, ValueError):
                    raise InputError(f"{where}: share {text!r} is not a number") from None
                if not math.isfinite(value) or not 0 <= value <= 1:
                    raise InputError(f"{where}: share {text!r}; expected a number in [0, 1]")
                if member in shares.setdefault(pid, {}):
                    raise InputError(f"{where}: member {member!r} listed twice for project {pid!r}")
                shares[pid][member] = value
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); expected a UTF-8 CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    for pid, parts in shares.items():
        total = sum(parts.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise InputError(f"{path}: the shares of project {pid!r} sum to {total:.6g}; expected 1 "
                             f"({', '.join(f'{m}={v:g}' for m, v in parts.items())})")
    return shares


def province_lengths(model: Any, project: Any) -> dict[str, float]:
    """Kilometres of the project's alignment in each province (nearest zone to each stretch's midpoint)."""
    zones = model.zone_table
    zx, zy = zones["lon"].to_numpy(float), zones["lat"].to_numpy(float)
    provinces = zones["province"].to_numpy()
    out: dict[str, float] = {}
    points = [(float(p["lon"]), float(p["lat"])) for p in project.alignment]
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        km = float(haversine_km(x1, y1, x2, y2))
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        k = int(np.argmin((zx - mx) ** 2 * math.cos(math.radians(my)) ** 2 + (zy - my) ** 2))
        out[str(provinces[k])] = out.get(str(provinces[k]), 0.0) + km
    return out


def _provincial_investor(members: Sequence[Any], province: str, mode: str, pid: str) -> str:
    found = [m.id for m in members if m.province == province and not m.city and mode in m.modes]
    if not found:
        raise CatalogueError(f"cost sharing by length: project {pid!r} runs through {province}, but no member is "
                             f"{province}'s provincial investor for {mode} (a member with province {province!r}, "
                             f"no city and {mode!r} in its modes)")
    return found[0]


def cost_shares(model: Any, rule: str = "lead", *, negotiated: Mapping[str, Mapping[str, float]] | None = None,
                projects: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Each project's cost shares by member (shares sum to 1), by ``rule`` (see the module)."""
    if rule not in COST_RULES:
        raise InputError(f"cost sharing rule {rule!r}; expected one of {', '.join(COST_RULES)}")
    if rule == "negotiated" and negotiated is None:
        raise InputError("cost sharing rule 'negotiated' needs a file of shares (--shares FILE)")
    ids = list(projects) if projects is not None else [p.id for p in model.projects]
    out: dict[str, dict[str, float]] = {}
    for pid in ids:
        project = model.project(pid)
        if rule == "negotiated" and pid in negotiated:
            out[pid] = {m: float(v) for m, v in negotiated[pid].items() if v > 0}
        elif rule == "length":
            lengths = province_lengths(model, project)
            total = sum(lengths.values())
            parts: dict[str, float] = {}
            for province, km in sorted(lengths.items()):
                member = _provincial_investor(model.members, province, project.mode, pid)
                parts[member] = parts.get(member, 0.0) + (km / total if total > 0 else 1.0 / len(lengths))
            out[pid] = parts
        else:
            if not project.lead_member:
                raise CatalogueError(f"cost sharing: project {pid!r} has no lead_member")
            out[pid] = {project.lead_member: 1.0}
    return out


# --------------------------------------------------------------------------------------------
# Benefits by place, and Shapley values of the programme's benefit
# --------------------------------------------------------------------------------------------


def _closure(chosen: set[str], requires: Mapping[str, Sequence[str]]) -> set[str]:
    """The projects of ``chosen`` that can open: those whose requirements are all in it (repeated)."""
    keep = set(chosen)
    while True:
        drop = {p for p in keep if not set(requires.get(p, ())) <= keep}
        if not drop:
            return keep
        keep -= drop


def _open_sets(run: Any) -> list[tuple[float, tuple[str, ...]]]:
    """``(weight, open projects)`` for each year of the programme and for the years after it."""
    r = run.result
    return [(run.weights[y], r.open_sets[y]) for y in r.years] + [(run.weight_after, r.open_sets["after"])]


def city_benefits(run: Any, savings: DesignSavings) -> pd.DataFrame:
    """Per city: the final network's saving (generalized minutes a day) and the programme's
    present value of benefits (CNY), half of each market's saving to each end's city."""
    model = run.model
    rows = model.market_rows
    origin = model.demand["origin_city"].to_numpy()[rows]
    dest = model.demand["destination_city"].to_numpy()[rows]
    cities = list(dict.fromkeys([*model.cities]))
    at = {c: k for k, c in enumerate(cities)}
    o_idx = np.array([at[c] for c in origin], dtype=np.int64)
    d_idx = np.array([at[c] for c in dest], dtype=np.int64)

    def by_city(selected: Sequence[str]) -> np.ndarray:
        market = savings.market_savings(selected)
        out = np.zeros(len(cities))
        np.add.at(out, o_idx, market / 2)
        np.add.at(out, d_idx, market / 2)
        return out

    pv = np.zeros(len(cities))
    memo: dict[tuple[str, ...], np.ndarray] = {}
    for weight, open_set in _open_sets(run):
        key = tuple(sorted(open_set))
        if key not in memo:
            memo[key] = by_city(key)
        pv += weight * memo[key]
    final = memo[tuple(sorted(run.result.open_sets["after"]))]  # the last period of _open_sets
    province = dict(zip(model.zone_table["city"], model.zone_table["province"]))
    table = pd.DataFrame({"city": cities, "province": [province[c] for c in cities],
                          "saving_min_per_day": final, "pv_benefit_bn_cny": pv / 1e9})
    total = table["saving_min_per_day"].sum()
    table["saving_share"] = table["saving_min_per_day"] / total if total > 0 else 0.0
    return table.sort_values(["pv_benefit_bn_cny", "city"], ascending=[False, True], kind="stable").reset_index(drop=True)


def programme_shapley(run: Any, savings: DesignSavings, *, players: str = "members", exact_limit: int = 12,
                      samples: int = 2000) -> ShapleyResult:
    """Shapley values of the programme's present value of benefits (CNY) among its lead members
    (``players="members"``) or its projects (``players="projects"``)."""
    if players not in ("members", "projects"):
        raise InputError(f"shapley players {players!r}; expected 'members' or 'projects'")
    model = run.model
    started = sorted(run.result.starts)
    requires = {p: model.project(p).requires for p in started}
    lead = {p: model.project(p).lead_member for p in started}
    years = _open_sets(run)
    memo: dict[frozenset, float] = {}

    def saving(open_set: frozenset) -> float:
        got = memo.get(open_set)
        if got is None:
            got = memo[open_set] = savings.saving(open_set)
        return got

    def value(coalition: frozenset) -> float:
        chosen = {p for p in started if (lead[p] if players == "members" else p) in coalition}
        able = _closure(chosen, requires)
        return sum(w * saving(frozenset(set(open_set) & able)) for w, open_set in years)

    names = sorted({lead[p] for p in started}) if players == "members" else started
    return shapley_values(names, value, exact_limit=exact_limit, samples=samples)


@dataclass
class AllianceTables:
    """What each member pays and gains, the cities' and provinces' benefits, the Shapley values."""

    rule: str
    shares: dict[str, dict[str, float]]
    members: pd.DataFrame
    cities: pd.DataFrame
    provinces: pd.DataFrame
    shapley_members: ShapleyResult
    shapley_projects: ShapleyResult


def alliance_tables(run: Any, *, rule: str = "lead", negotiated: Mapping[str, Mapping[str, float]] | None = None,
                    savings: DesignSavings | None = None) -> AllianceTables:
    """Member, city and province tables of a programme (see the module docstring)."""
    model = run.model
    if savings is None:
        savings = DesignSavings(model.selection_layers, model.candidates, model.markets)
    started = sorted(run.result.starts)
    shares = cost_shares(model, rule, negotiated=negotiated, projects=started)
    cities = city_benefits(run, savings)
    provinces = (cities.groupby("province", sort=True)[["saving_min_per_day", "pv_benefit_bn_cny", "saving_share"]]
                 .sum().reset_index().sort_values("pv_benefit_bn_cny", ascending=False, kind="stable")
                 .reset_index(drop=True))
    sh_members = programme_shapley(run, savings, players="members")
    sh_projects = programme_shapley(run, savings, players="projects")
    total_cost = sum(model.project(p).cost_bn_cny for p in started)
    benefit_total = sh_members.grand - sh_members.empty
    rows = []
    for m in model.members:
        pays = sum(model.project(p).cost_bn_cny * shares[p].get(m.id, 0.0) for p in started)
        leads = [p for p in started if model.project(p).lead_member == m.id]
        if m.city:
            home = cities[cities["city"] == m.city]
            where = m.city
        elif m.province:
            home = cities[cities["province"] == m.province]
            where = m.province
        else:
            home, where = cities, "all"
        if pays == 0 and not leads:
            continue
        shapley = sh_members.values.get(m.id, 0.0)
        rows.append({
            "member": m.id, "name_en": m.name_en, "name_zh": m.name_zh, "home": where,
            "projects_led": " ".join(leads), "pays_bn_cny": pays,
            "pays_share": pays / total_cost if total_cost > 0 else 0.0,
            "home_pv_benefit_bn_cny": float(home["pv_benefit_bn_cny"].sum()),
            "shapley_pv_benefit_bn_cny": shapley / 1e9,
            "shapley_std_error_bn_cny": sh_members.std_errors.get(m.id, 0.0) / 1e9,
            "shapley_share": shapley / benefit_total if benefit_total > 0 else 0.0,
        })
    columns = ["member", "name_en", "name_zh", "home", "projects_led", "pays_bn_cny", "pays_share",
               "home_pv_benefit_bn_cny", "shapley_pv_benefit_bn_cny", "shapley_std_error_bn_cny", "shapley_share"]
    members = pd.DataFrame(rows, columns=columns).sort_values(["pays_bn_cny", "member"], ascending=[False, True],
                                                               kind="stable").reset_index(drop=True)
    return AllianceTables(rule=rule, shares=shares, members=members, cities=cities, provinces=provinces,
                          shapley_members=sh_members, shapley_projects=sh_projects)
