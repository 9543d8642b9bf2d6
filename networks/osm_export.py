"""Write road, rail and multimodal graphs to GraphML and GeoPackage, atomically.

GraphML keeps the graph exactly (osmnx's writer; read it back with
``osmnx.load_graphml``).  GeoPackage is for GIS tools (QGIS, TransCAD, Visum): one
``<name>_nodes`` point layer and one ``<name>_edges`` line layer per graph, in EPSG:4326,
with list-valued attributes (merged OSM ways) written as ``;``-joined text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from networks.atomic import atomic_path
from networks.errors import InputError
from networks.gpkg import write_gpkg
from networks.optional import require

__all__ = ["save_graphml", "save_geopackage", "save_graphs"]


OSM_METADATA = {"ATTRIBUTION": "(c) OpenStreetMap contributors, ODbL 1.0 "
                                "(https://www.openstreetmap.org/copyright)"}


def save_graphml(G: nx.MultiDiGraph, path: str | os.PathLike[str]) -> Path:
    """Write ``G`` to GraphML with osmnx's writer; the file appears only when complete."""
    ox = require("osmnx", extra="osm", purpose="GraphML export")

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

    def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
        if not rows:
            return pd.DataFrame({"geometry": pd.Series([], dtype=object)})
        df = pd.DataFrame(rows)
        for column in df.columns:
            if column == "geometry" or df[column].dtype != object:
                continue
            # one type per column (GeoPackage fields are typed), and osmid mixes int and "a;b"
            kinds = {type(v) for v in df[column] if v is not None and v == v}
            if len(kinds) > 1:
                df[column] = [None if (v is None or v != v) else str(v) for v in df[column]]
        return df

    return frame(node_rows), frame(edge_rows)


def save_geopackage(graphs: Mapping[str, nx.MultiDiGraph], path: str | os.PathLike[str]) -> Path:
    """Write each named graph as ``<name>_nodes`` and ``<name>_edges`` layers of one GeoPackage
    (:func:`networks.gpkg.write_gpkg`: byte for byte the same for the same graphs)."""
    path = Path(path)
    if not graphs:
        raise InputError(f"{path}: no graphs to write")
    layers = {}
    for name, G in graphs.items():
        nodes, edges = _to_layers(G)
        layers[f"{name}_nodes"] = nodes
        if len(edges):
            layers[f"{name}_edges"] = edges
    with atomic_path(path) as tmp:
        write_gpkg(tmp, layers, metadata=OSM_METADATA)
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
