"""Traffic analysis zones: county-level zones with census populations, rolled up to cities.

The default zone system (``data/zones.csv``) has one zone per district, county and
county-level city of Shanghai and Zhejiang and of the Jiangsu and Anhui cities of the model
(163 zones; development zones that the census tabulates separately are zones of their own),
each with its 2020 (seventh national census) resident population and a centroid.  Every zone
belongs to one of the 19 cities of ``data/cities.csv``: results are reported per zone and rolled
up to cities and axes.  ``zones.level = "city"`` uses the 19 cities as zones instead (the
system of the first release), with their census totals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from networks.errors import CatalogueError
from transit.catalogue import DATA_DIR, _read_csv, load_cities

__all__ = ["ZONE_COLUMNS", "load_zones", "city_zones", "load_census_totals", "zones_for"]

ZONE_COLUMNS = ["zone", "adcode", "name_en", "name_zh", "city", "province", "kind", "population", "lon", "lat"]
_KINDS = {"district", "county", "county_city", "city"}


def _read(path: Path, required: list[str]) -> pd.DataFrame:
    return _read_csv(path, required, dtype={"zone_id": str})


def load_census_totals(path: str | Path | None = None) -> pd.DataFrame:
    """Published census totals (``level``, ``name``, ``population_2020``, ``source``)."""
    return _read(Path(path) if path else DATA_DIR / "census_totals.csv", ["level", "name", "population_2020", "source"])


def load_zones(path: str | Path | None = None, *, cities: pd.DataFrame | None = None) -> pd.DataFrame:
    """The county-level zone system, validated.

    Parameters
    ----------
    path
        CSV with columns ``zone_id, adcode, name_en, name_zh, city, province, kind,
        population_2020, lon, lat`` (default ``data/zones.csv``).  ``adcode`` is the
        administrative division code (an integer: zone numbers in OMX files).
    cities
        The city table the zones roll up to (default ``data/cities.csv``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ZONE_COLUMNS`; ``zone`` is the zone id.

    Raises
    ------
    CatalogueError
        Naming the file, row and value: a duplicate id, an unknown city, a population that is
        missing, not a number or not positive, a coordinate out of range.
    """
    path = Path(path) if path else DATA_DIR / "zones.csv"
    frame = _read(path, ["zone_id", "adcode", "name_en", "name_zh", "city", "province", "kind", "population_2020", "lon", "lat"])
    cities = load_cities() if cities is None else cities
    known = set(cities["name_en"])
    seen: set[str] = set()
    for k, row in enumerate(frame.itertuples(index=False), start=2):  # line 1 is the header
        where = f"{path}: line {k} (zone {row.zone_id!r})"
        if not isinstance(row.zone_id, str) or not row.zone_id.strip():
            raise CatalogueError(f"{path}: line {k}: empty zone_id")
        if row.zone_id in seen:
            raise CatalogueError(f"{where}: duplicate zone_id; expected unique ids")
        seen.add(row.zone_id)
        if row.city not in known:
            raise CatalogueError(f"{where}: city {row.city!r} is not in the city table; expected one of {sorted(known)}")
        code = pd.to_numeric(pd.Series([row.adcode]), errors="coerce").iloc[0]
        if pd.isna(code) or code != int(code) or code < 1:
            raise CatalogueError(f"{where}: adcode {row.adcode!r}; expected a whole number >= 1")
        if row.kind not in _KINDS:
            raise CatalogueError(f"{where}: kind {row.kind!r}; expected one of {sorted(_KINDS)}")
        pop = pd.to_numeric(pd.Series([row.population_2020]), errors="coerce").iloc[0]
        if pd.isna(pop):
            raise CatalogueError(f"{where}: population_2020 {row.population_2020!r} is missing or not a number; "
                                 "every zone needs its census population")
        if not np.isfinite(pop) or pop <= 0:
            raise CatalogueError(f"{where}: population_2020 {row.population_2020!r}; expected a number > 0 "
                                 "(a zone with no population has no demand: drop it)")
        for name, lo, hi in (("lon", -180, 180), ("lat", -90, 90)):
            value = pd.to_numeric(pd.Series([getattr(row, name)]), errors="coerce").iloc[0]
            if pd.isna(value) or not lo <= value <= hi:
                raise CatalogueError(f"{where}: {name} {getattr(row, name)!r}; expected a number in [{lo}, {hi}]")
    out = frame.rename(columns={"zone_id": "zone", "population_2020": "population"})
    if out["adcode"].duplicated().any():
        dup = out.loc[out["adcode"].duplicated(), "adcode"].iloc[0]
        raise CatalogueError(f"{path}: adcode {dup} appears twice; expected unique codes")
    out["adcode"] = out["adcode"].astype(np.int64)
    out["population"] = out["population"].astype(float)
    out["lon"] = out["lon"].astype(float)
    out["lat"] = out["lat"].astype(float)
    return out[ZONE_COLUMNS].reset_index(drop=True)


def city_zones(cities: pd.DataFrame | None = None) -> pd.DataFrame:
    """The 19 cities as zones (``zones.level = "city"``), with their census totals."""
    cities = load_cities() if cities is None else cities
    totals = load_census_totals()
    census = dict(zip(totals.loc[totals["level"] == "city", "name"], totals.loc[totals["level"] == "city", "population_2020"]))
    prefecture = {}
    try:
        county = load_zones(cities=cities)
    except CatalogueError:  # a city table of the user's own: number the cities instead
        county = None
    if county is not None:
        for code, city in zip(county["adcode"], county["city"]):
            prefecture.setdefault(city, 310000 if city == "Shanghai" else int(code) // 100 * 100)
    out = pd.DataFrame({
        "zone": cities["name_en"], "adcode": [prefecture.get(c, k + 1) for k, c in enumerate(cities["name_en"])],
        "name_en": cities["name_en"], "name_zh": cities["name_zh"],
        "city": cities["name_en"], "province": cities["province"], "kind": "city",
        "population": [float(census.get(c, p)) for c, p in zip(cities["name_en"], cities["population"])],
        "lon": cities["lon"].astype(float), "lat": cities["lat"].astype(float),
    })
    return out[ZONE_COLUMNS].reset_index(drop=True)


def zones_for(config: dict, cities: pd.DataFrame | None = None) -> pd.DataFrame:
    """The zone system the configuration asks for (``[zones] level`` and ``file``)."""
    spec = config.get("zones", {})
    level = spec.get("level", "county")
    if level == "city":
        return city_zones(cities)
    if level == "county":
        return load_zones(spec.get("file") or None, cities=cities)
    raise CatalogueError(f"zones.level = {level!r}; expected 'county' or 'city'")
