"""Write road, rail and multimodal graphs to GraphML and GeoPackage, atomically.

GraphML keeps the graph exactly (osmnx's writer; read it back with
``osmnx.load_graphml``).  GeoPackage is for GIS tools (QGIS, TransCAD, Visum): one
``<name>_nodes`` point layer and one ``<name>_edges`` line layer per graph, in EPSG:4326,
with list-valued attributes (merged OSM ways) written as ``;``-joined text.
"""

from __future__ import annotations

import contextlib

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from networks.atomic import atomic_path
from networks.errors import InputError

__all__ = ["save_graphml", "save_geopackage", "save_graphs"]


OSM_METADATA = {"ATTRIBUTION": "(c) OpenStreetMap contributors, ODbL 1.0 "
                                "(https://www.openstreetmap.org/copyright)"}


def save_graphml(G: nx.MultiDiGraph, path: str | os.PathLike[str]) -> Path:
    """Write ``G`` to GraphML with osmnx's writer; the file appears only when complete."""
    import osmnx as ox

    path = Path(path)
    H = G.copy()
    # osmnx stringifies every attribute; dicts and lists would not round-trip anyway
    for key, value in list(H.graph.items()):
        if isinstance(value, (dict, list, tuple, set)):
            H.graph[key] = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    with atomic_path(path) as tmp:
        staged = tmp.with_suffix(".graphml")
        try:
            ox.save_graphml(H, filepath=staged)
            staged.replace(tmp)
        finally:
            staged.unlink(missing_ok=True)
    return path


def _flatten(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return ";".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return value


def _to_layers(G: nx.MultiDiGraph):  # noqa: ANN202
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import LineString, Point

    node_rows = []
    for node, data in G.nodes(data=True):
        row = {"node": str(node), **{k: _flatten(v) for k, v in data.items()}}
        row["geometry"] = Point(data["x"], data["y"])
        node_rows.append(row)
    edge_rows = []
    for u, v, key, data in G.edges(keys=True, data=True):
        row = {"u": str(u), "v": str(v), "key": key}
        row.update({k: _flatten(val) for k, val in data.items() if k != "geometry"})
        geometry = data.get("geometry")
        if geometry is None:
            geometry = LineString([(G.nodes[u]["x"], G.nodes[u]["y"]), (G.nodes[v]["x"], G.nodes[v]["y"])])
        row["geometry"] = geometry
        edge_rows.append(row)

    def frame(rows: list[dict[str, Any]], kind: str) -> gpd.GeoDataFrame:
        if not rows:
            return gpd.GeoDataFrame({"geometry": gpd.GeoSeries([], crs="EPSG:4326")}, geometry="geometry")
        df = pd.DataFrame(rows)
        for column in df.columns:
            if column == "geometry" or df[column].dtype != object:
                continue
            # one type per column: GDAL fields are typed, and osmid mixes int and "a;b"
            kinds = {type(v) for v in df[column] if v is not None and v == v}
            if len(kinds) > 1:
                df[column] = [None if (v is None or v != v) else str(v) for v in df[column]]
        return gpd.GeoDataFrame(df, geometry="geometry", crs="EPSG:4326")

    return frame(node_rows, "nodes"), frame(edge_rows, "edges")


#: The timestamp GDAL writes into a GeoPackage's ``gpkg_contents.last_change`` (otherwise the
#: time of writing, so two identical runs would give different bytes).
GPKG_TIMESTAMP = "2000-01-01T00:00:00.000Z"


@contextlib.contextmanager
def reproducible_gpkg() -> Iterator[None]:
    """GeoPackages written inside are byte for byte the same for the same data."""
    import pyogrio

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_TIMESTAMP})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def save_geopackage(graphs: Mapping[str, nx.MultiDiGraph], path: str | os.PathLike[str]) -> Path:
    """Write each named graph as ``<name>_nodes`` and ``<name>_edges`` layers of one GeoPackage
    (byte for byte the same for the same graphs: :func:`reproducible_gpkg`)."""
    path = Path(path)
    if not graphs:
        raise InputError(f"{path}: no graphs to write")
    with atomic_path(path) as tmp:
        # GDAL picks the driver from the suffix and may add -wal/-shm files beside it
        staged = tmp.with_suffix(".gpkg")
        try:
            with reproducible_gpkg():
                for name, G in graphs.items():
                    nodes, edges = _to_layers(G)
                    nodes.to_file(staged, layer=f"{name}_nodes", driver="GPKG", engine="pyogrio",
                                  layer_metadata=OSM_METADATA)
                    if len(edges):
                        edges.to_file(staged, layer=f"{name}_edges", driver="GPKG", engine="pyogrio",
                                      layer_metadata=OSM_METADATA)
            staged.replace(tmp)
        finally:
            staged.unlink(missing_ok=True)
    return path


def save_graphs(graphs: Mapping[str, nx.MultiDiGraph], path: str | os.PathLike[str]) -> Path:
    """Write by suffix: ``.gpkg`` (all graphs as layers) or ``.graphml`` (one graph only)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        return save_geopackage(graphs, path)
    if suffix == ".graphml":
        if len(graphs) != 1:
            raise InputError(
                f"{path}: GraphML holds one graph, got {len(graphs)} ({', '.join(graphs)}); "
                "use .gpkg or build with --network road|rail"
            )
        return save_graphml(next(iter(graphs.values())), path)
    raise InputError(f"{path}: unknown output type {suffix!r} (expected .gpkg or .graphml)")
