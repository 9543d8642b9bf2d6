"""The embedded default networks: OSM-derived rail and road graphs, clipped to a box.

Two sources, the first that covers the box wins:

- an **extract**: a compressed ``.npz`` written by :func:`write_extract` (arrays ``lon``,
  ``lat``, ``u``, ``v``, ``length_km``, ``source_ids`` and a JSON ``meta`` naming its source,
  version and box). A region's extract is a few hundred kB and needs no other package;
  clipping it to a smaller box gives exactly what clipping the world graph would (same
  nodes, same edges, same order: tested).
- the **world graphs** of the optional package ``scgraph-data`` (2.0.0, ODbL, (c) OpenStreetMap
  contributors; ``pip install scgraph-data==2.0.0``, 306 MB installed and about 5 GB of
  memory to install): railway and highway graphs as Python modules, an adjacency list
  ``graph`` (``{neighbour: km}`` per node) and ``nodes`` (``[lat, lon]``). Those modules import
  ``scgraph.core.GeoGraph``, which current ``scgraph`` releases no longer have, so the module
  text is parsed here as data instead of being imported. The clip of a world graph is cached
  as a compressed ``.npz`` keyed by the package version, the file size and the clip box.

The graphs carry no tags.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import importlib.util
import json
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np

from networks.atomic import atomic_path
from networks.errors import InputError
from networks.geometry import haversine_km, travel_time_s

__all__ = ["EmbeddedArrays", "DATASETS", "cache_dir", "load_embedded_arrays", "embedded_graph", "write_extract"]

DATASETS = {"railways": "world_railways", "highways": "world_highways"}
_FORMAT = 1  # bump when the cached arrays change meaning
_ARRAYS = ("lon", "lat", "u", "v", "length_km", "source_ids")
_WORLD_PACKAGE = "scgraph-data"


def cache_dir() -> Path:
    """The user cache folder (``$YRD_TRANSIT_CACHE`` or ``~/.cache/yrd-transit``)."""
    root = os.environ.get("YRD_TRANSIT_CACHE") or Path.home() / ".cache" / "yrd-transit"
    return Path(root)


@dataclass(frozen=True)
class EmbeddedArrays:
    """An undirected graph clipped to a box: coordinates and one row per edge (u < v)."""

    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_km: np.ndarray
    source_ids: np.ndarray  # node index in the world graph, for provenance
    key: str  # the cache key (hash of package version, file, clip)


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise InputError(f"unknown embedded dataset {dataset!r}; expected one of {sorted(DATASETS)}")


def _world_installed() -> bool:
    return importlib.util.find_spec("scgraph_data") is not None


def _module_path(dataset: str) -> Path:
    _check_dataset(dataset)
    spec = importlib.util.find_spec("scgraph_data")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the package scgraph-data is not installed; run `pip install scgraph-data==2.0.0`")
    return Path(list(spec.submodule_search_locations)[0]) / f"{DATASETS[dataset]}.py"


def _cache_key(dataset: str, path: Path, bbox: tuple[float, float, float, float]) -> str:
    version = importlib.metadata.version("scgraph-data")
    payload = json.dumps(
        {"format": _FORMAT, "dataset": dataset, "version": version, "size": path.stat().st_size,
         "bbox": [round(x, 6) for x in bbox]},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _parse_module(path: Path) -> tuple[list[dict], np.ndarray]:
    text = path.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for line in text.splitlines():
        for name in ("graph", "nodes"):
            if line.startswith(f"{name}="):
                found[name] = line[len(name) + 1 :]
    if set(found) != {"graph", "nodes"}:
        raise InputError(f"{path}: expected lines 'graph=[...]' and 'nodes=[...]' (scgraph-data 2.0.0 layout)")
    try:
        nodes = np.asarray(json.loads(found["nodes"]), dtype=float)
        # The adjacency dicts have integer keys, which JSON does not allow: quote them.
        graph = json.loads(re.sub(r"([{ ])(\d+):", r'\1"\2":', found["graph"]))
    except (json.JSONDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot parse the graph data ({exc})") from None
    if nodes.ndim != 2 or nodes.shape[1] != 2 or len(graph) != len(nodes):
        raise InputError(f"{path}: 'nodes' must be [lat, lon] pairs, one per 'graph' entry")
    return graph, nodes


def _clip(graph: list[dict], nodes: np.ndarray, bbox: tuple[float, float, float, float]) -> dict:
    west, south, east, north = bbox
    lat, lon = nodes[:, 0], nodes[:, 1]
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    keep = np.flatnonzero(inside)
    new_index = np.full(len(nodes), -1, dtype=np.int64)
    new_index[keep] = np.arange(len(keep))
    us, vs, ks = [], [], []
    for i in keep:
        for j_text, km in graph[i].items():
            j = int(j_text)
            if j > i and inside[j]:
                us.append(new_index[i])
                vs.append(new_index[j])
                ks.append(float(km))
    return {
        "lon": lon[keep], "lat": lat[keep], "u": np.asarray(us, np.int64), "v": np.asarray(vs, np.int64),
        "length_km": np.asarray(ks), "source_ids": keep,
    }


def _clip_arrays(arrays: dict, bbox: tuple[float, float, float, float]) -> dict:
    """Clip already clipped arrays to a smaller box (node and edge order kept)."""
    west, south, east, north = bbox
    lon, lat = arrays["lon"], arrays["lat"]
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    keep = np.flatnonzero(inside)
    new_index = np.full(len(lon), -1, dtype=np.int64)
    new_index[keep] = np.arange(len(keep))
    edge = inside[arrays["u"]] & inside[arrays["v"]]
    return {
        "lon": lon[keep], "lat": lat[keep], "u": new_index[arrays["u"][edge]], "v": new_index[arrays["v"][edge]],
        "length_km": arrays["length_km"][edge], "source_ids": arrays["source_ids"][keep],
    }


def _read_extract(dataset: str, path: Path) -> tuple[dict, dict, str]:
    """The arrays, metadata and content hash of an extract file; InputError if unusable."""
    try:
        blob = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; expected an extract file (.npz) written by write_extract") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the extract ({exc.strerror or exc})") from None
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS}
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not an extract written by write_extract ({type(exc).__name__}: {exc})") from None
    if meta.get("dataset") != dataset or meta.get("format") != _FORMAT:
        raise InputError(f"{path}: holds dataset {meta.get('dataset')!r} format {meta.get('format')!r}; "
                         f"expected {dataset!r} format {_FORMAT}")
    n = len(arrays["lon"])
    if not (len(arrays["lat"]) == len(arrays["source_ids"]) == n
            and len(arrays["u"]) == len(arrays["v"]) == len(arrays["length_km"])
            and (len(arrays["u"]) == 0 or (min(arrays["u"].min(), arrays["v"].min()) >= 0
                                           and max(arrays["u"].max(), arrays["v"].max()) < n))):
        raise InputError(f"{path}: inconsistent arrays (edge ends must index the nodes)")
    return arrays, meta, hashlib.sha256(blob).hexdigest()


def _covers(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def write_extract(dataset: str, *, bbox: tuple[float, float, float, float], path: str | Path) -> Path:
    """Clip a world graph of ``scgraph-data`` to ``bbox`` and write it as an extract file.

    The file is what :func:`load_embedded_arrays` reads with ``extract=path``: a region's
    default network without the 306 MB world package. Deterministic: the same package and
    box give the same bytes.
    """
    _check_dataset(dataset)
    west, south, east, north = bbox
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(f"bbox {bbox}: expected (west, south, east, north) with west < east and south < north")
    module = _module_path(dataset)
    graph, nodes = _parse_module(module)
    arrays = _clip(graph, nodes, bbox)
    meta = {"format": _FORMAT, "dataset": dataset, "bbox": [float(x) for x in bbox],
            "source": f"{_WORLD_PACKAGE} {importlib.metadata.version(_WORLD_PACKAGE)} {DATASETS[dataset]}",
            "licence": "ODbL 1.0, (c) OpenStreetMap contributors"}
    path = Path(path)
    _write_npz(path, {**arrays, "meta": np.array(json.dumps(meta, sort_keys=True))})
    return path


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A compressed ``.npz`` with fixed timestamps (same arrays, same bytes), written atomically."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, value in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, buffer.getvalue())


def load_embedded_arrays(
    dataset: str,
    *,
    bbox: tuple[float, float, float, float],
    use_cache: bool = True,
    extract: str | Path | None = None,
) -> EmbeddedArrays:
    """Clip an embedded graph to ``bbox = (west, south, east, north)``.

    Parameters
    ----------
    dataset
        ``"railways"`` or ``"highways"``.
    bbox
        The box to clip to, in degrees.
    use_cache
        Cache the clip of a world graph (extracts are read directly: a few milliseconds).
    extract
        An extract file (:func:`write_extract`). Used when its box covers ``bbox``; otherwise
        the world graphs of ``scgraph-data`` are used if installed, else an InputError says so.

    Raises
    ------
    InputError
        Unknown dataset, bad box, unusable extract, or no source that covers the box.

    A cache entry that is empty or corrupt (its CRC-32s do not match) is rebuilt with a warning.
    """
    _check_dataset(dataset)
    west, south, east, north = bbox
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(f"bbox {bbox}: expected (west, south, east, north) with west < east and south < north")
    if extract is not None:
        arrays, meta, digest = _read_extract(dataset, Path(extract))
        if _covers(meta["bbox"], bbox):
            arrays = _clip_arrays(arrays, bbox)
            if len(arrays["lon"]) == 0:
                raise InputError(f"bbox {bbox}: no {dataset} nodes of the extract {extract} fall inside it")
            key = hashlib.sha256(json.dumps({"format": _FORMAT, "extract": digest, "bbox": [round(x, 6) for x in bbox]},
                                            sort_keys=True).encode()).hexdigest()[:20]
            return EmbeddedArrays(key=key, **arrays)
        if not _world_installed():
            raise InputError(
                f"bbox {list(bbox)} reaches beyond the extract {extract} (bbox {meta['bbox']}); use a box inside "
                f"it, or install the world graphs with `pip install scgraph-data==2.0.0`")
    path = _module_path(dataset)
    key = _cache_key(dataset, path, bbox)
    cache_file = cache_dir() / "embedded" / f"{dataset}-{key}.npz"
    arrays = None
    if use_cache and cache_file.exists():
        try:  # every member of the .npz carries a CRC-32, checked as it is read
            with np.load(cache_file, allow_pickle=False) as data:
                arrays = {name: data[name] for name in _ARRAYS}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            warnings.warn(f"cache file {cache_file} is empty or corrupt ({type(exc).__name__}); rebuilding it",
                          stacklevel=2)
            cache_file.unlink(missing_ok=True)
    if arrays is None:
        graph, nodes = _parse_module(path)
        arrays = _clip(graph, nodes, bbox)
        if use_cache:
            try:
                _write_npz(cache_file, arrays)
            except OSError as exc:  # a cache is an optimisation: go on without it
                warnings.warn(f"cannot write the cache {cache_file} ({exc.strerror or exc}); "
                              "set $YRD_TRANSIT_CACHE to a writable folder", stacklevel=2)
    if len(arrays["lon"]) == 0:
        raise InputError(f"bbox {bbox}: no {dataset} nodes of the embedded data fall inside it")
    return EmbeddedArrays(key=key, **arrays)


def embedded_graph(
    dataset: str,
    *,
    bbox: tuple[float, float, float, float],
    mode: str,
    speed_kph: float,
    node_offset: int = 0,
    max_edge_km: float | None = None,
    use_cache: bool = True,
    extract: str | Path | None = None,
) -> nx.MultiDiGraph:
    """The clipped embedded graph as an osmnx-style ``MultiDiGraph`` (both directions).

    Nodes are ``node_offset + i``; edges carry ``mode``, ``length`` (m), ``speed_kph`` and
    ``travel_time`` (s). Self-loops are dropped. With ``max_edge_km``, longer edges are split
    into equal straight pieces (new nodes numbered after the data's), so that stations and
    waypoints can snap to a node close to where they lie on the line; lengths are kept.
    """
    arrays = load_embedded_arrays(dataset, bbox=bbox, use_cache=use_cache, extract=extract)
    G = nx.MultiDiGraph(crs="EPSG:4326", mode=mode, source=f"{_WORLD_PACKAGE} {dataset}", name=f"embedded {dataset}")
    G.add_nodes_from(
        (node_offset + i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(zip(arrays.lon, arrays.lat))
    )
    next_node = node_offset + len(arrays.lon)
    for u, v, km in zip(arrays.u.tolist(), arrays.v.tolist(), arrays.length_km.tolist()):
        if u == v:
            continue
        if km <= 0:
            km = float(haversine_km(arrays.lon[u], arrays.lat[u], arrays.lon[v], arrays.lat[v]))
        pieces = max(1, int(np.ceil(km / max_edge_km))) if max_edge_km else 1
        chain = [node_offset + u]
        for k in range(1, pieces):
            t = k / pieces
            G.add_node(next_node, x=float(arrays.lon[u] + t * (arrays.lon[v] - arrays.lon[u])),
                       y=float(arrays.lat[u] + t * (arrays.lat[v] - arrays.lat[u])))
            chain.append(next_node)
            next_node += 1
        chain.append(node_offset + v)
        piece_km = km / pieces
        attrs = {"mode": mode, "length": piece_km * 1000.0, "speed_kph": speed_kph,
                 "travel_time": travel_time_s(piece_km * 1000.0, speed_kph)}
        for a, b in zip(chain, chain[1:]):
            G.add_edge(a, b, **attrs)
            G.add_edge(b, a, **attrs)
    return G



def main(argv: list[str] | None = None) -> int:
    """``python -m networks.embedded DATASET WEST SOUTH EAST NORTH OUT``: write an extract."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m networks.embedded",
                                     description="Clip a world graph of scgraph-data to a box and write an extract.")
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("bbox", nargs=4, type=float, metavar=("WEST", "SOUTH", "EAST", "NORTH"))
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    try:
        path = write_extract(args.dataset, bbox=tuple(args.bbox), path=args.out)
    except InputError as exc:
        parser.exit(2, f"error: {exc}\n")
    arrays, meta, digest = _read_extract(args.dataset, path)
    print(f"{path}: {len(arrays['lon'])} nodes, {len(arrays['u'])} edges, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
