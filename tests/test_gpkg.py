"""networks.gpkg: GeoPackages written with SQLite alone, checked against GDAL (pyogrio) and geopandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from networks.errors import InputError
from networks.gpkg import layer_metadata, list_layers, read_gpkg, write_gpkg

ATTRIBUTION = {"ATTRIBUTION": "(c) OpenStreetMap contributors, ODbL 1.0 <https://osm.org/copyright> & co"}


def _layers() -> dict[str, pd.DataFrame]:
    lines = pd.DataFrame({"name": ["Hu-Hang", None, "Ning-Yong"], "lanes": [2, 3, 4], "kph": [350.0, np.nan, 250.0],
                          "chosen": [True, False, True],
                          "geometry": [LineString([(121.3, 31.2), (120.2, 30.3)]), LineString([(0, 0), (1, 1)]),
                                       LineString([(121.5, 29.9), (121.6, 30.0), (121.7, 29.8)])]})
    zones = pd.DataFrame({"zone": ["sh", "hz"], "population": [24_870_895, 12_203_600],
                          "geometry": [Point(121.47, 31.23), Point(120.16, 30.27)]})
    holed = Polygon([(0, 0), (2, 0), (2, 2), (0, 2)], [[(0.5, 0.5), (1, 0.5), (1, 1)]])
    mixed = pd.DataFrame({"k": [1, 2], "geometry": [holed, MultiPolygon([Polygon([(5, 5), (6, 5), (6, 6)])])]})
    return {"rail": lines, "zones": zones, "mixed": mixed}


def test_gpkg_round_trip_and_gdal_reads_it(tmp_path):
    import geopandas as gpd
    import pyogrio

    path = write_gpkg(tmp_path / "a.gpkg", _layers(), metadata=ATTRIBUTION)
    assert list_layers(path) == ["rail", "zones", "mixed"]
    # GDAL: layer names, geometry types, CRS, field types, metadata, values
    listed = dict(pyogrio.list_layers(path))
    assert listed == {"rail": "LineString", "zones": "Point", "mixed": "Unknown"}
    info = pyogrio.read_info(path, layer="rail")
    assert info["crs"] == "EPSG:4326" and info["layer_metadata"] == ATTRIBUTION
    assert dict(zip(info["fields"], info["dtypes"])) == {"name": "object", "lanes": "int64", "kph": "float64",
                                                         "chosen": "bool"}
    for name, frame in _layers().items():
        ours = read_gpkg(path, name)
        gdal = gpd.read_file(path, layer=name)
        assert list(ours.columns) == list(frame.columns) == list(gdal.columns)
        for column in frame.columns:
            if column == "geometry":
                assert all(shapely.equals_exact(a, b, 0) for a, b in zip(frame[column], ours[column]))
                assert all(shapely.equals_exact(a, b, 0) for a, b in zip(frame[column], gdal.geometry))
            else:
                pd.testing.assert_series_equal(ours[column], frame[column], check_dtype=False)
                pd.testing.assert_series_equal(gdal[column], frame[column], check_dtype=False)
    assert read_gpkg(path, "rail")["chosen"].dtype == bool
    assert layer_metadata(path, "zones") == ATTRIBUTION
    # and we read what GDAL writes
    gpd.read_file(path, layer="rail").to_file(tmp_path / "gdal.gpkg", layer="rail", engine="pyogrio")
    again = read_gpkg(tmp_path / "gdal.gpkg", "rail")
    assert again["lanes"].tolist() == [2, 3, 4] and again["geometry"].iloc[2].equals(_layers()["rail"].geometry.iloc[2])


def test_gpkg_same_layers_same_bytes_and_bad_files(tmp_path):
    a = write_gpkg(tmp_path / "a.gpkg", _layers(), metadata=ATTRIBUTION).read_bytes()
    b = write_gpkg(tmp_path / "b.gpkg", _layers(), metadata=ATTRIBUTION).read_bytes()
    assert a == b
    with pytest.raises(InputError, match="no such GeoPackage"):
        read_gpkg(tmp_path / "missing.gpkg", "rail")
    (tmp_path / "text.gpkg").write_text("not sqlite")
    with pytest.raises(InputError, match="not a GeoPackage"):
        list_layers(tmp_path / "text.gpkg")
    with pytest.raises(InputError, match="no layer 'road'"):
        read_gpkg(tmp_path / "a.gpkg", "road")
    with pytest.raises(InputError, match="no 'geometry' column"):
        write_gpkg(tmp_path / "c.gpkg", {"x": pd.DataFrame({"a": [1]})})
    assert not (tmp_path / "c.gpkg").exists()  # nothing half-written
