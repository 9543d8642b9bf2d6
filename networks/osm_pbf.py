"""Read OSM files (``.osm.pbf``, XML, bz2, o5m) with pyosmium.

PBF files are read by the compiled reader :mod:`networks.pbf` by default, which hands what it
does not decode (lz4 or zstd blobs, history files) to this reader; XML files come here with
``engine="osmium"``.  pyosmium was chosen over pyrosm as the general reader (measured in
``benchmarks/bench_osm.py``, docs/benchmarks.md): pyrosm's reader was faster but needed about
3x the extra memory (193 vs 61 MB on a 32k-way file); pyosmium also filters ways by tag in
C++, writes PBF (the tests make their PBF with it) and reads XML and bz2 as well.  Its
per-object Python wrappers are why the compiled reader exists.

Node coordinates come from libosmium's location index, which only stores non-negative
ids.  Files with negative (synthetic, not yet uploaded) node ids, such as the Hongqiao
rail extract, are read with a second pass that picks those nodes up in Python.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from networks.errors import OSMError
from networks.osm_read import WAY_KEYS, OSMData, check_not_empty, is_station_candidate

__all__ = ["read_osm_pbf", "write_pbf"]


def _progress(progress: bool, desc: str):  # noqa: ANN202
    from tqdm import tqdm

    disable = not progress or not sys.stderr.isatty()
    return tqdm(desc=desc, unit=" ways", disable=disable, mininterval=0.5)


def _format(path: Path) -> str:
    """libosmium's format name for a file, from its suffixes."""
    name = path.name.lower()
    for suffix, fmt in ((".pbf", "pbf"), (".o5m", "o5m"), (".osm.bz2", "osm.bz2"), (".osm.gz", "osm.gz"),
                        (".xml.bz2", "osm.bz2"), (".xml.gz", "osm.gz")):
        if name.endswith(suffix):
            return fmt
    return "osm"


def read_osm_pbf(path: str | Path, *, progress: bool = False) -> OSMData:
    """Read the road/rail ways, their node coordinates and station nodes of an extract.

    Parameters
    ----------
    path
        An ``.osm.pbf`` file (pyosmium also reads ``.osm``, ``.osm.bz2``, ``.o5m``).
    progress
        Show a tqdm counter of ways read (only on a terminal).

    Raises
    ------
    OSMError
        The file is missing, empty or cannot be decoded as OSM data.
    """
    import osmium

    path = Path(path)
    check_not_empty(path)
    data = OSMData(source=str(path))
    missing: set[int] = set()
    station_tags = (("railway", "station"), ("railway", "halt"), ("public_transport", "station"))
    # libosmium leaves a file descriptor open each time it fails to decode a file it opened itself
    # (found by `python -m tests.fuzz osm_pbf`: "too many open files" after ~1,000 bad files); reading
    # from a buffer we own leaves nothing behind. The file's bytes are small next to the graph built.
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise OSMError(f"{path}: cannot be read ({exc.strerror or exc})") from None

    def source() -> Any:
        return osmium.io.FileBuffer(blob, _format(path))

    try:
        processor = (
            osmium.FileProcessor(source(), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            # the location index sees every node before these filters drop the ones not
            # needed in Python: only road/rail ways and station nodes get past them
            .with_filter(osmium.filter.KeyFilter(*WAY_KEYS).enable_for(osmium.osm.WAY))
            .with_filter(osmium.filter.TagFilter(*station_tags).enable_for(osmium.osm.NODE))
        )
        with _progress(progress, f"reading {path.name}") as bar:
            for obj in processor:
                if obj.is_way():
                    tags = {tag.k: tag.v for tag in obj.tags}
                    if not any(key in tags for key in WAY_KEYS):
                        continue
                    refs = []
                    for node in obj.nodes:
                        ref = node.ref
                        refs.append(ref)
                        location = node.location
                        if location.valid():
                            data.coords[ref] = (location.lon, location.lat)
                        elif ref < 0:
                            missing.add(ref)
                    data.ways.append((obj.id, tuple(refs), tags))
                    data.ways_read += 1
                    bar.update()
                else:
                    tags = {tag.k: tag.v for tag in obj.tags}
                    if is_station_candidate(tags) and obj.location.valid():
                        data.stations[obj.id] = (obj.location.lon, obj.location.lat, tags)
        if missing:
            # negative ids are invisible to libosmium's location index: fetch them directly
            for obj in osmium.FileProcessor(source(), osmium.osm.NODE):
                if obj.id < 0 and obj.id in missing and obj.location.valid():
                    data.coords[obj.id] = (obj.location.lon, obj.location.lat)
    except RuntimeError as exc:
        raise OSMError(f"{path}: cannot be read as OSM data ({exc})") from exc
    return data


def write_pbf(source: str | Path, target: str | Path, *, options: str = "") -> Path:
    """Copy an OSM file (XML, bz2...) to ``target`` (format from its suffix) with pyosmium.

    Used by the tests and the benchmark to make a PBF from XML on the fly; every node,
    way and relation is copied unchanged.  ``options``: libosmium's output options, e.g.
    ``"pbf_dense_nodes=false,pbf_compression=none"``.
    """
    import osmium

    target = Path(target)
    if target.exists():
        target.unlink()
    fmt = _format(target)
    writer = osmium.SimpleWriter(osmium.io.File(str(target), f"{fmt},{options}" if options else fmt))
    try:
        for obj in osmium.FileProcessor(str(source)):
            if obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                writer.add_way(obj)
            elif obj.is_relation():
                writer.add_relation(obj)
    finally:
        writer.close()
    return target
