"""GeoPackage read and write with the standard library's SQLite: no GDAL needed.

A GeoPackage (OGC 12-128r18, version 1.3) is an SQLite file with three required tables
(``gpkg_spatial_ref_sys``, ``gpkg_contents``, ``gpkg_geometry_columns``) and one table per
feature layer whose geometry column holds a GeoPackage binary: a small header (magic ``GP``,
version, flags, SRS id, envelope) followed by ISO WKB.  This module writes exactly that, plus
the layer metadata the way GDAL stores it (the ``gpkg_metadata`` extension, a GDAL metadata XML
document per layer), so QGIS, GDAL (``pyogrio.read_info(...)["layer_metadata"]``) and geopandas
read the files, and it reads back what it writes (and simple files written by GDAL).

Why here: the runs write ``network.gpkg`` every time, and GDAL (pyogrio, 100 MB installed) and
geopandas's projection stack (pyproj, 33 MB) were the largest dependencies the default job
carried for it.  Layers are pandas DataFrames with a ``geometry`` column of shapely geometries
(longitude/latitude, EPSG:4326); geopandas GeoDataFrames are DataFrames too and work as input.

Reproducible: the same layers give the same bytes (fixed ``last_change`` timestamp, rows and
columns in the order given, no spatial index, which the standard does not require).
"""

from __future__ import annotations

import math
import os
import sqlite3
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, unescape

import numpy as np
import pandas as pd
import shapely

from networks.errors import InputError

__all__ = ["write_gpkg", "read_gpkg", "list_layers", "layer_metadata", "GPKG_TIMESTAMP"]

#: ``gpkg_contents.last_change`` of every layer (a time of writing would change the bytes).
GPKG_TIMESTAMP = "2000-01-01T00:00:00.000Z"
APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0
WGS84_WKT = ('GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
             'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
             'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],'
             'AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]')
_TYPES = {"Point": "POINT", "LineString": "LINESTRING", "Polygon": "POLYGON", "MultiPoint": "MULTIPOINT",
          "MultiLineString": "MULTILINESTRING", "MultiPolygon": "MULTIPOLYGON",
          "GeometryCollection": "GEOMETRYCOLLECTION"}

_SCHEMA = """
CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
  description TEXT);
CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
  identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL
  DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
  definition TEXT NOT NULL, scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
CREATE TABLE gpkg_metadata (id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL,
  md_scope TEXT NOT NULL DEFAULT 'dataset', md_standard_uri TEXT NOT NULL,
  mime_type TEXT NOT NULL DEFAULT 'text/xml', metadata TEXT NOT NULL DEFAULT '');
CREATE TABLE gpkg_metadata_reference (reference_scope TEXT NOT NULL, table_name TEXT, column_name TEXT,
  row_id_value INTEGER, timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  md_file_id INTEGER NOT NULL, md_parent_id INTEGER,
  CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id),
  CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id));
"""
_SRS = [
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, WGS84_WKT, "longitude/latitude coordinates in decimal degrees"),
]


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


_HEADER = struct.Struct("<2sBBi4d")


def _blobs(geoms: list[Any]) -> list[bytes | None]:
    """GeoPackage binaries (header, then ISO WKB) of ``geoms``, with shapely's vectorised WKB and bounds."""
    missing = [g is None or (isinstance(g, float) and math.isnan(g)) for g in geoms]
    present = np.asarray([g for g, m in zip(geoms, missing) if not m], dtype=object)
    if not len(present):
        return [None] * len(geoms)
    wkb = shapely.to_wkb(present, byte_order=1, flavor="iso")
    bounds = shapely.bounds(present)
    empty = shapely.is_empty(present)
    out: list[bytes | None] = []
    k = 0
    for m in missing:
        if m:
            out.append(None)
            continue
        if empty[k]:
            out.append(b"GP\x00" + bytes([0b00010001]) + struct.pack("<i", 4326) + wkb[k])
        else:
            minx, miny, maxx, maxy = bounds[k]
            out.append(_HEADER.pack(b"GP", 0, 0b00000011, 4326, minx, maxx, miny, maxy) + wkb[k])
        k += 1
    return out


def _column_cells(values: pd.Series, kind: str) -> list[Any]:
    """:func:`_cell` of a whole column."""
    if kind == "REAL" and values.dtype.kind == "f":
        return [None if math.isnan(v) else v for v in values.tolist()]
    if kind == "INTEGER" and values.dtype.kind in "iu":
        return values.tolist()
    if kind == "BOOLEAN" and values.dtype.kind == "b":
        return [int(v) for v in values.tolist()]
    return [_cell(v, kind) for v in values.tolist()]


_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def _wkb(blob: bytes) -> bytes:
    """The ISO WKB inside a GeoPackage geometry blob (its header and envelope skipped)."""
    if blob[:2] != b"GP":
        raise InputError("not a GeoPackage geometry (expected the magic bytes 'GP')")
    flags = blob[3]
    envelope = _ENVELOPE_BYTES.get((flags >> 1) & 0b111)
    if envelope is None:
        raise InputError(f"GeoPackage geometry with an invalid envelope code {(flags >> 1) & 0b111}")
    return blob[8 + envelope:]


def _geometries(blobs: list[bytes | None]) -> np.ndarray:
    """Shapely geometries of a column of GeoPackage blobs (``None`` stays ``None``), parsed by
    one call into GEOS."""
    wkb = np.array([None if b is None else _wkb(b) for b in blobs], dtype=object)
    return shapely.from_wkb(wkb)


def _column_type(values: pd.Series) -> str:
    kind = values.dtype.kind
    if kind == "b":
        return "BOOLEAN"
    if kind in "iu":
        return "INTEGER"
    if kind == "f":
        return "REAL"
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return "BOOLEAN"
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present):
        return "INTEGER"
    if present and all(isinstance(v, (int, float, np.integer, np.floating)) for v in present):
        return "REAL"
    return "TEXT"


def _cell(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "BOOLEAN":
        return int(bool(value))
    if kind == "INTEGER":
        return int(value)
    if kind == "REAL":
        return float(value)
    return str(value)


def _metadata_xml(items: Mapping[str, str]) -> str:
    entries = "".join(f'<MDI key="{escape(str(k), {chr(34): "&quot;"})}">{escape(str(v))}</MDI>'
                      for k, v in items.items())
    return f"<GDALMultiDomainMetadata>\n  <Metadata>{entries}</Metadata>\n</GDALMultiDomainMetadata>\n"


def write_gpkg(path: str | os.PathLike[str], layers: Mapping[str, pd.DataFrame], *,
               metadata: Mapping[str, str] | None = None, geometry: str = "geometry") -> Path:
    """Write ``layers`` (name -> DataFrame with a shapely ``geometry`` column in EPSG:4326) as
    one GeoPackage at ``path`` (replaced if it exists).  ``metadata`` (key -> text, e.g. an
    attribution) is attached to every layer as GDAL does.  Columns become INTEGER, REAL,
    BOOLEAN or TEXT by their values (lists and other objects as their text); NaN and None are
    NULL.  Returns the path."""
    path = Path(path)
    if not layers:
        raise InputError(f"{path}: no layers to write")
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {USER_VERSION}")
        con.executescript(_SCHEMA)
        con.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", _SRS)
        if metadata:
            con.executemany("INSERT INTO gpkg_extensions VALUES (?, NULL, 'gpkg_metadata', "
                            "'http://www.geopackage.org/spec120/#extension_metadata', 'read-write')",
                            [("gpkg_metadata",), ("gpkg_metadata_reference",)])
        for name, frame in layers.items():
            _write_layer(con, str(name), frame, geometry, metadata)
        con.commit()
    except BaseException:
        con.close()
        path.unlink(missing_ok=True)
        raise
    con.close()
    return path


def _write_layer(con: sqlite3.Connection, name: str, frame: pd.DataFrame, geometry: str,
                 metadata: Mapping[str, str] | None) -> None:
    if geometry not in frame.columns:
        raise InputError(f"layer {name!r}: no {geometry!r} column")
    geoms = list(frame[geometry])
    columns = [c for c in frame.columns if c != geometry]
    if any(str(c).lower() in ("fid", "geom") for c in columns):
        raise InputError(f"layer {name!r}: the column names 'fid' and 'geom' are reserved")
    kinds = {c: _column_type(frame[c]) for c in columns}
    types = {g.geom_type for g in geoms if g is not None and not (isinstance(g, float) and math.isnan(g))}
    type_name = _TYPES.get(next(iter(types)), "GEOMETRY") if len(types) == 1 else "GEOMETRY"
    fields = "".join(f", {_quote(c)} {kinds[c]}" for c in columns)
    con.execute(f"CREATE TABLE {_quote(name)} "
                f"(fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {type_name}{fields})")
    present = [g for g in geoms if g is not None and not (isinstance(g, float) and math.isnan(g)) and not g.is_empty]
    if present:
        bounds = shapely.bounds(np.asarray(present, dtype=object))
        box = (float(bounds[:, 0].min()), float(bounds[:, 1].min()), float(bounds[:, 2].max()),
               float(bounds[:, 3].max()))
    else:
        box = (None, None, None, None)
    con.execute("INSERT INTO gpkg_contents VALUES (?, 'features', ?, '', ?, ?, ?, ?, ?, 4326)",
                (name, name, GPKG_TIMESTAMP, *box))
    con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, 4326, 0, 0)", (name, type_name))
    cells = [_column_cells(frame[c], kinds[c]) for c in columns]
    rows = list(zip(_blobs(geoms), *cells))
    marks = ", ".join("?" * (1 + len(columns)))
    names = ", ".join(["geom", *(_quote(c) for c in columns)])
    con.executemany(f"INSERT INTO {_quote(name)} ({names}) VALUES ({marks})", rows)
    if metadata:
        cur = con.execute("INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
                          "VALUES ('dataset', 'http://gdal.org', 'text/xml', ?)", (_metadata_xml(metadata),))
        con.execute("INSERT INTO gpkg_metadata_reference (reference_scope, table_name, timestamp, md_file_id) "
                    "VALUES ('table', ?, ?, ?)", (name, GPKG_TIMESTAMP, cur.lastrowid))


def _open(path: str | os.PathLike[str]) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such GeoPackage")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        con.execute("SELECT table_name FROM gpkg_contents LIMIT 1")
    except sqlite3.DatabaseError as exc:
        con.close()
        raise InputError(f"{path}: not a GeoPackage ({exc})") from None
    return con


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """The feature layers of a GeoPackage, in the order they were written."""
    con = _open(path)
    try:
        return [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features' "
                                          "ORDER BY rowid")]
    finally:
        con.close()


def read_gpkg(path: str | os.PathLike[str], layer: str) -> pd.DataFrame:
    """One layer as a DataFrame: its attribute columns and ``geometry`` (shapely objects).

    BOOLEAN columns come back as ``bool``; the feature id is not a column."""
    con = _open(path)
    try:
        row = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
        if row is None:
            raise InputError(f"{path}: no layer {layer!r} (layers: {', '.join(list_layers(path))})")
        geom_col = row[0]
        info = con.execute(f"PRAGMA table_info({_quote(layer)})").fetchall()
        pk = [r[1] for r in info if r[5]]
        columns = [(r[1], (r[2] or "").upper()) for r in info if r[1] != geom_col and r[1] not in pk]
        names = ", ".join(_quote(c) for c in [geom_col, *(c for c, _ in columns)])
        order = f" ORDER BY {_quote(pk[0])}" if pk else ""
        records = con.execute(f"SELECT {names} FROM {_quote(layer)}{order}").fetchall()
    finally:
        con.close()
    data: dict[str, Any] = {}
    for k, (column, kind) in enumerate(columns, start=1):
        values = [r[k] for r in records]
        if kind == "BOOLEAN":
            data[column] = pd.array([None if v is None else bool(v) for v in values],
                                    dtype="boolean" if any(v is None for v in values) else bool)
        elif kind in ("REAL", "DOUBLE", "FLOAT"):
            data[column] = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            data[column] = values
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(records)))
    frame["geometry"] = pd.Series(_geometries([r[0] for r in records]), dtype=object, index=frame.index)
    return frame


def layer_metadata(path: str | os.PathLike[str], layer: str) -> dict[str, str]:
    """The key-value metadata of a layer (GDAL's convention), e.g. ``{"ATTRIBUTION": ...}``."""
    con = _open(path)
    try:
        try:
            rows = con.execute("SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r "
                               "ON r.md_file_id = m.id WHERE r.reference_scope = 'table' AND r.table_name = ?",
                               (layer,)).fetchall()
        except sqlite3.OperationalError:  # no metadata extension in this file
            return {}
    finally:
        con.close()
    out: dict[str, str] = {}
    import re

    for (xml,) in rows:
        for key, value in re.findall(r'<MDI key="([^"]*)">(.*?)</MDI>', xml or "", flags=re.S):
            out[unescape(key, {"&quot;": '"'})] = unescape(value)
    return out
