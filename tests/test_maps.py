"""Maps: the Natural Earth basemap puts places where they are, county boundaries tile their cities,
zones get their county's boundary (or a share of it, or a Voronoi cell), the choropleth value is the demand-weighted change a hand calculation gives, and a run
folder's map draws from the folder alone (``RunRecord.plot.map()``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from transit.maps import cjk_font, draw_map, load_boundaries, zone_cells, zone_change

# (lon, lat) of places whose province is not in doubt (city government seats), and sea points
PLACES = {"Shanghai": (121.4737, 31.2304), "Zhejiang": (120.1551, 30.2741), "Jiangsu": (118.7969, 32.0603),
          "Anhui": (117.2272, 31.8206), "Fujian": (119.2965, 26.0745)}
SEA = {"Hangzhou Bay": (121.0, 30.45), "East China Sea": (123.0, 30.0), "Yangtze estuary": (121.9, 31.35)}


def test_provinces_hold_their_capitals_and_the_bay_is_sea():
    layers = load_boundaries()
    provinces = layers["provinces"].set_index("name_en")
    assert {"Shanghai": 310000, "Jiangsu": 320000, "Zhejiang": 330000, "Anhui": 340000}.items() <= \
        dict(zip(provinces.index, provinces["adcode"])).items()
    assert provinces.loc["Zhejiang", "name_zh"] == "浙江省" and provinces.loc["Shanghai", "name_zh"] == "上海市"
    for name, (x, y) in PLACES.items():
        inside = [p for p, geom in provinces.geometry.items() if geom.covers(Point(x, y))]
        assert inside == [name], (name, inside)
    land = shapely.union_all(layers["land"].geometry.to_numpy())
    for name, (x, y) in SEA.items():
        assert not land.covers(Point(x, y)), name
    # the provinces tile the land they cover: no overlaps, and nothing outside the land
    union = shapely.union_all(provinces.geometry.to_numpy())
    assert union.difference(land).area < 1e-6
    assert sum(g.area for g in provinces.geometry) == pytest.approx(union.area, rel=1e-6)
    # Taihu and Chaohu are lakes, not land to colour
    lakes = shapely.union_all(layers["lakes"].geometry.to_numpy())
    assert lakes.covers(Point(120.23, 31.23)) and lakes.covers(Point(117.55, 31.58))


def test_counties_tile_their_cities_and_sit_in_their_provinces():
    from transit.catalogue import load_cities
    from transit.maps import city_boundaries

    layers = load_boundaries()
    counties = layers["counties"]
    assert len(counties) >= 300 and counties["adcode"].is_unique
    assert set(counties["province_zh"]) == {"上海市", "江苏省", "浙江省", "安徽省"}
    assert (counties["adcode"] // 100 == counties["city_adcode"] // 100).all()  # a county's code starts with its city's
    # no two counties overlap (the borders were simplified as one shared network)
    union = shapely.union_all(counties.geometry.to_numpy())
    assert sum(g.area for g in counties.geometry) == pytest.approx(union.area, rel=1e-6)
    # each model city's point (its government seat) lies in the city of that Chinese name
    cities = city_boundaries(counties).set_index("city_zh")
    for row in load_cities().itertuples():
        assert cities.loc[f"{row.name_zh}市", "geometry"].covers(Point(row.lon, row.lat)), row.name_en
    # and the counties lie in their province as Natural Earth draws it (the two sources' coasts and
    # borders differ by a few hundred metres, so by the county's representative point)
    provinces = layers["provinces"].set_index("name_zh")
    inside = [provinces.loc[row.province_zh, "geometry"].buffer(0.02).covers(row.geometry.representative_point())
              for row in counties.itertuples()]
    assert sum(inside) == len(counties)


def test_zone_areas_are_the_county_boundaries_and_share_a_county_with_a_development_zone():
    from transit.maps import zone_areas
    from transit.model.zones import city_zones, load_zones

    layers = load_boundaries()
    counties = layers["counties"].set_index("adcode")
    zones = load_zones()
    frame = gpd.GeoDataFrame(zones, geometry=gpd.points_from_xy(zones["lon"], zones["lat"]), crs="EPSG:4326")
    areas = zone_areas(frame, counties=layers["counties"])
    assert list(areas["zone"]) == list(zones["zone"])
    source = dict(zip(areas["zone"], areas["area_source"]))
    assert {z for z, s in source.items() if s == "boundary share"} == {"sz_sip", "nt_kaifaqu", "xc_kaifaqu"}
    assert all(s == "boundary" for z, s in source.items() if z not in {"sz_sip", "nt_kaifaqu", "xc_kaifaqu"})
    by_zone = areas.set_index("zone")
    assert by_zone.loc["hz_xihu", "geometry"].equals(counties.loc[330106, "geometry"])
    # Suzhou Industrial Park is carved out of the county holding its centroid; the two make that county
    host = counties[gpd.GeoSeries(counties["geometry"], crs="EPSG:4326").covers(Point(120.72, 31.32))]
    assert len(host) == 1
    host_zone = zones.loc[zones["adcode"] == host.index[0], "zone"].iloc[0]
    pieces = by_zone.loc["sz_sip", "geometry"].area + by_zone.loc[host_zone, "geometry"].area
    assert by_zone.loc["sz_sip", "geometry"].area > 0
    assert pieces == pytest.approx(host.geometry.iloc[0].area, rel=1e-6)
    # city zones get their city's counties merged (Shanghai's code is the province's)
    cz = city_zones()
    cframe = gpd.GeoDataFrame(cz, geometry=gpd.points_from_xy(cz["lon"], cz["lat"]), crs="EPSG:4326")
    carea = zone_areas(cframe, counties=layers["counties"]).set_index("zone")
    assert (carea["area_source"] == "boundary").all()
    shanghai = shapely.union_all(counties[counties["city_adcode"] == 310100].geometry.to_numpy())
    assert carea.loc["Shanghai", "geometry"].symmetric_difference(shanghai).area < 1e-9
    # a zone with no shipped boundary falls back to its Voronoi cell
    far = gpd.GeoDataFrame({"zone": ["x"], "adcode": [999999]}, geometry=[Point(113.0, 23.0)], crs="EPSG:4326")
    assert zone_areas(far, counties=layers["counties"])["area_source"].tolist() == ["voronoi"]


def test_zone_change_by_hand():
    pairs = pd.DataFrame({"origin": ["a", "a", "b"], "destination": ["b", "c", "c"],
                          "demand": [100.0, 50.0, 0.0], "gc_min_base": [60.0, 120.0, 90.0],
                          "gc_min_opt": [45.0, 120.0, 30.0]})
    change = zone_change(pairs)
    # a: trips a-b and a-c: (100*45 + 50*120) / (100*60 + 50*120) - 1 = 10500/12000 - 1 = -12.5 %
    assert change["a"] == pytest.approx(-12.5)
    assert change["b"] == pytest.approx(-25.0)  # only a-b has demand
    assert change["c"] == pytest.approx(0.0)
    pairs.loc[0, "gc_min_opt"] = np.nan  # an unreachable pair after is left out, not counted as zero
    assert zone_change(pairs)["a"] == pytest.approx(0.0) and "b" not in zone_change(pairs).index


def test_zone_cells_partition_the_land_near_the_zones():
    zones = gpd.GeoDataFrame({"zone": ["hz", "sx", "nb", "sh"]},
                             geometry=[Point(120.16, 30.29), Point(120.58, 30.0), Point(121.55, 29.87),
                                       Point(121.47, 31.23)], crs="EPSG:4326")
    land = load_boundaries()["land"]
    cells = zone_cells(zones, land=land, radius_km=30)
    assert list(cells["zone"]) == ["hz", "sx", "nb", "sh"]
    for point, cell in zip(zones.geometry, cells.geometry):
        assert cell.covers(point)  # every zone centroid here is on land, inside its own cell
    for i in range(4):
        for j in range(i + 1, 4):
            # (only reprojection round-off: under a millionth of a cell's area)
            overlap = cells.geometry.iloc[i].intersection(cells.geometry.iloc[j]).area
            assert overlap < 1e-6 * cells.geometry.iloc[i].area
    # within the radius: every vertex of a cell is at most 30 km (plus the 16-segment circle's error)
    metric = gpd.GeoDataFrame(cells, geometry="geometry", crs="EPSG:4326").to_crs(
        "+proj=aeqd +lat_0=30.3 +lon_0=120.9 +ellps=WGS84 +units=m")
    centres = zones.to_crs(metric.crs)
    for cell, centre in zip(metric.geometry, centres.geometry):
        assert cell.hausdorff_distance(centre) <= 30_000 * 1.01
    # and not on the sea: Hangzhou Bay is in no cell
    assert not any(c.covers(Point(*SEA["Hangzhou Bay"])) for c in cells.geometry)
    # a city's area is its zones' cells merged (Shaoxing and Hangzhou as one "city" here)
    from transit.maps import city_areas

    cities = city_areas(cells.assign(city=["A", "A", "B", "C"]))
    assert list(cities["city"]) == ["A", "B", "C"]
    assert cities.geometry.iloc[0].area == pytest.approx(cells.geometry.iloc[0].area + cells.geometry.iloc[1].area,
                                                         rel=1e-6)
    with pytest.raises(ValueError, match="radius_km"):
        zone_cells(zones, radius_km=0)


def _layers():
    zones = gpd.GeoDataFrame({"zone": ["hz", "nb"], "name_en": ["Hangzhou", "Ningbo"], "city": ["Hangzhou", "Ningbo"]},
                             geometry=[Point(120.16, 30.29), Point(121.55, 29.87)], crs="EPSG:4326")
    line = shapely.LineString([(120.16, 30.29), (121.55, 29.87)])
    edges = gpd.GeoDataFrame({"speed_kph": [300.0]}, geometry=[line], crs="EPSG:4326")
    projects = gpd.GeoDataFrame({"project": ["p1"], "selected": [True]}, geometry=[line], crs="EPSG:4326")
    return {"zones": zones, "rail": edges, "road": edges.assign(speed_kph=100.0), "projects_candidates": projects}


def test_labels_are_bilingual_with_a_cjk_font_and_english_without():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = pd.DataFrame({"origin": ["hz"], "destination": ["nb"], "demand": [1.0], "gc_min_base": [100.0],
                          "gc_min_opt": [80.0]})
    priorities = pd.DataFrame({"project": ["p1"], "rank": [1], "in_optimal_set": ["yes"]})
    ax = draw_map(_layers(), pairs=pairs, priorities=priorities, chinese=False)
    texts = {t.get_text() for t in ax.texts}
    assert {"Hangzhou", "Ningbo", "1. p1"} <= texts and not any("杭州" in t for t in texts)
    plt.close(ax.figure)
    if cjk_font() is None:
        with pytest.raises(RuntimeError, match="fonts-noto-cjk"):
            draw_map(_layers(), chinese=True)
    else:
        ax = draw_map(_layers(), pairs=pairs, priorities=priorities, chinese=True)
        texts = {t.get_text() for t in ax.texts}
        assert {"杭州 Hangzhou", "宁波 Ningbo", "浙江省 Zhejiang"} <= texts
        plt.close(ax.figure)


def test_load_default_is_the_model_optimize_uses():
    import transit
    from networks.errors import InputError
    from transit.config import load_config
    from transit.model import build_model

    model = transit.load_default(zones="city")
    again = build_model(load_config(zones__level="city"))
    assert model.zones == again.zones and len(model.zones) == 19
    assert [p.id for p in model.projects] == [p.id for p in again.projects]
    assert model.demand["demand"].sum() == pytest.approx(again.demand["demand"].sum())
    with pytest.raises(InputError, match="zones='parish'"):
        transit.load_default(zones="parish")


def test_every_data_file_has_a_source_line_and_the_boundaries_their_hashes():
    import hashlib

    from transit.config import DATA_DIR

    sources = (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    missing = [str(p.relative_to(DATA_DIR)) for p in sorted(DATA_DIR.rglob("*"))
               if p.is_file() and p.name != "SOURCES.md" and "__pycache__" not in p.parts
               and f"data/{p.relative_to(DATA_DIR).as_posix()}" not in sources and f"`{p.name}`" not in sources]
    assert not missing, f"files in data/ without a line in data/SOURCES.md: {missing}"
    for name in ("land", "provinces", "lakes", "counties"):
        digest = hashlib.sha256((DATA_DIR / "boundaries" / f"{name}.geojson").read_bytes()).hexdigest()
        assert f"{name} `{digest}`" in sources
