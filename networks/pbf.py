"""A compiled ``.osm.pbf`` reader: the ways, way-node coordinates and station nodes of an extract.

The PBF format (https://wiki.openstreetmap.org/wiki/PBF_Format) is a sequence of blobs, each
a zlib (or raw, lzma, bzip2) compressed protobuf block of up to 8,000 nodes, ways or
relations; coordinates and node references are delta- and varint-coded arrays.  Python reads
the blob headers and decompresses; one numba kernel per block walks the protobuf wire format,
delta-decodes the nodes' ids and coordinates and the ways' node references, and keeps only
what a road or rail graph needs (ways with a key in :data:`~networks.osm_read.WAY_KEYS`,
nodes with a ``railway`` or ``public_transport`` key).  Python then builds the same
:class:`~networks.osm_read.OSMData` as the pyosmium reader (:mod:`networks.osm_pbf`), which
the tests check field by field, including insertion order, on real and generated files
(dense and plain nodes, raw and zlib blobs, negative ids).

Why not pyosmium alone: its per-object Python wrappers (a tag iterator, a node reference
object per way node) were most of its reading time: 0.62 s on a 31,840-way file where this
reader takes 0.12 s once its kernel is loaded (``benchmarks/bench_osm.py``).  Costs of the
choice: numba (the optional ``assignment`` extra; without it every file goes to pyosmium)
compiles the kernel on first use, about 7 s, and caches it; a fresh process then spends about
0.25 s loading any cached numba kernel, which the benchmark's figures include.

Exact, not approximate: coordinates are libosmium's, converted the same way (nanodegrees
times the block's granularity plus its offset, divided by 100 with truncation, then
divided by 10^7), so both readers give bit-identical floats.  Every read is bounds-checked; a
file this reader does not understand (an lz4 or zstd blob, a history file, a malformed
block) is handed to the pyosmium reader, which reads what it can or raises
:class:`~networks.errors.OSMError`.
"""

from __future__ import annotations

import bz2
import lzma
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from networks.errors import OSMError
from networks.osm_read import WAY_KEYS, OSMData, check_not_empty, is_station_candidate

__all__ = ["read_pbf", "HAVE_NUMBA"]

try:  # numba is the optional extra "assignment": without it, PBF files go to pyosmium
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - the test environment has numba
    HAVE_NUMBA = False

    def njit(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]  # the kernels are never called
        return lambda fn: fn

#: Keys of the nodes decoded in Python (station candidates): ``is_station_candidate`` reads them.
NODE_KEYS: tuple[str, ...] = ("railway", "public_transport")

_WAY_BIT, _NODE_BIT = 1, 2
_SUPPORTED_FEATURES = {"OsmSchema-V0.6", "DenseNodes"}
_MAX_BLOB = 64 * 1024 * 1024  # the format's limit on a blob (32 MiB), with room

# error codes of the kernel (any one sends the file to the pyosmium reader)
_OK, _TRUNCATED, _BAD_WIRE, _BAD_INDEX = 0, 1, 2, 3


class _Unsupported(Exception):
    """What this reader does not decode; the pyosmium reader is tried instead."""


# ---------------------------------------------------------------------------------------
# the kernel


@njit(cache=True)
def _varint(buf, pos, end):  # noqa: ANN001, ANN202
    """(value, next position); next position -1 past ``end`` or beyond 10 bytes."""
    result = np.uint64(0)
    shift = np.uint64(0)
    while True:
        if pos >= end or shift > np.uint64(63):
            return np.uint64(0), -1
        b = buf[pos]
        pos += 1
        result |= np.uint64(b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += np.uint64(7)


@njit(cache=True)
def _zigzag(n):  # noqa: ANN001, ANN202
    return np.int64(n >> np.uint64(1)) ^ -np.int64(n & np.uint64(1))


@njit(cache=True)
def _span(buf, pos, end):  # noqa: ANN001, ANN202
    """A length-delimited value's bytes ``(start, stop)`` read from ``pos``; ``(-1, -1)`` when
    its length does not fit before ``end``."""
    n, pos = _varint(buf, pos, end)
    if pos < 0 or n > np.uint64(end - pos):
        return np.int64(-1), np.int64(-1)
    return np.int64(pos), np.int64(pos) + np.int64(n)


@njit(cache=True)
def _skip(buf, pos, end, wire):  # noqa: ANN001, ANN202
    """Position after a field's value of wire type ``wire``; -1 when it does not fit."""
    if wire == 0:
        _, pos = _varint(buf, pos, end)
        return pos
    if wire == 1:
        return pos + 8 if pos + 8 <= end else -1
    if wire == 5:
        return pos + 4 if pos + 4 <= end else -1
    if wire == 2:
        return _span(buf, pos, end)[1]
    return -1


@njit(cache=True)
def _grow(arr, n):  # noqa: ANN001, ANN202
    """``arr`` with room for index ``n`` (doubled when full)."""
    if n < arr.shape[0]:
        return arr
    bigger = np.empty(max(64, 2 * arr.shape[0]), arr.dtype)
    bigger[: arr.shape[0]] = arr
    return bigger


@njit(cache=True)
def _grow2(arr, n):  # noqa: ANN001, ANN202
    """``_grow`` for an array of rows."""
    if n < arr.shape[0]:
        return arr
    bigger = np.empty((max(64, 2 * arr.shape[0]), arr.shape[1]), arr.dtype)
    bigger[: arr.shape[0]] = arr
    return bigger


@njit(cache=True)
def _count_packed(buf, pos, end):  # noqa: ANN001, ANN202
    """Number of varints in ``buf[pos:end]`` (bytes without the continuation bit)."""
    count = 0
    for i in range(pos, end):
        if buf[i] < 0x80:
            count += 1
    return count


@njit(cache=True)
def _pbf_coordinate(raw, granularity, offset):  # noqa: ANN001, ANN202
    """libosmium's fixed-point coordinate (10^-7 degrees): C++ integer division, toward zero."""
    nano = raw * granularity + offset
    return nano // 100 if nano >= 0 else -((-nano) // 100)


@njit(cache=True)
def _block(buf, patterns, bounds, masks):  # noqa: ANN001, ANN202, C901, PLR0912, PLR0915
    """Decode one PrimitiveBlock.

    Returns ``(error, strings, nodes, node_xy, picked, picked_kv, ways, way_refs, way_kv)``:
    string table offsets (n x 2); every node's id and fixed-point x, y; the nodes with a
    flagged key (index into nodes, end offset into ``picked_kv``, string-index pairs); the
    kept ways (id, end offset into ``way_refs``, end offset into ``way_kv``).
    """
    end = buf.shape[0]
    strings = np.empty((0, 2), np.int64)
    n_str = 0
    granularity, lat_offset, lon_offset = np.int64(100), np.int64(0), np.int64(0)
    groups = np.empty((0, 2), np.int64)
    n_groups = 0
    node_id = np.empty(0, np.int64)
    node_xy = np.empty((0, 2), np.int64)
    n_nodes = 0
    picked = np.empty((0, 2), np.int64)
    picked_kv = np.empty((0, 2), np.int64)
    n_picked = 0
    n_pkv = 0
    ways = np.empty((0, 3), np.int64)
    way_refs = np.empty(0, np.int64)
    way_kv = np.empty((0, 2), np.int64)
    n_ways = 0
    n_refs = 0
    n_wkv = 0
    error = _OK

    # ---- top level: string table, granularity, offsets, where the groups are
    pos = 0
    while pos < end:
        key, pos = _varint(buf, pos, end)
        if pos < 0:
            error = _TRUNCATED
            break
        field, wire = np.int64(key >> np.uint64(3)), np.int64(key & np.uint64(7))
        if field == 1 and wire == 2:  # StringTable { repeated bytes s = 1; }
            n, pos = _varint(buf, pos, end)
            if pos < 0 or n > np.uint64(end - pos):
                error = _TRUNCATED
                break
            stop = pos + np.int64(n)
            while pos < stop:
                skey, pos = _varint(buf, pos, stop)
                if pos < 0:
                    break
                if skey == np.uint64(10):  # field 1, length-delimited
                    n, pos = _varint(buf, pos, stop)
                    if pos < 0 or n > np.uint64(stop - pos):
                        pos = -1
                        break
                    strings = _grow2(strings, n_str)
                    strings[n_str, 0] = pos
                    strings[n_str, 1] = pos + np.int64(n)
                    n_str += 1
                    pos += np.int64(n)
                else:
                    pos = _skip(buf, pos, stop, np.int64(skey & np.uint64(7)))
                    if pos < 0:
                        break
            if pos < 0:
                error = _TRUNCATED
                break
        elif field == 2 and wire == 2:  # PrimitiveGroup
            n, pos = _varint(buf, pos, end)
            if pos < 0 or n > np.uint64(end - pos):
                error = _TRUNCATED
                break
            groups = _grow2(groups, n_groups)
            groups[n_groups, 0] = pos
            groups[n_groups, 1] = pos + np.int64(n)
            n_groups += 1
            pos += np.int64(n)
        elif field in (17, 19, 20) and wire == 0:
            value, pos = _varint(buf, pos, end)
            if pos < 0:
                error = _TRUNCATED
                break
            if field == 17:
                granularity = np.int64(value)
            elif field == 19:
                lat_offset = np.int64(value)
            else:
                lon_offset = np.int64(value)
        else:
            pos = _skip(buf, pos, end, wire)
            if pos < 0:
                error = _TRUNCATED
                break

    # ---- which strings are keys we want
    flags = np.zeros(n_str, np.int64)
    if error == _OK:
        for s in range(n_str):
            a, b = strings[s, 0], strings[s, 1]
            for p in range(bounds.shape[0] - 1):
                lo, hi = bounds[p], bounds[p + 1]
                if hi - lo != b - a:
                    continue
                same = True
                for i in range(hi - lo):
                    if buf[a + i] != patterns[lo + i]:
                        same = False
                        break
                if same:
                    flags[s] |= masks[p]

    # ---- the groups
    for g in range(n_groups if error == _OK else 0):
        pos, stop = groups[g, 0], groups[g, 1]
        while pos < stop and error == _OK:
            key, pos = _varint(buf, pos, stop)
            if pos < 0:
                error = _TRUNCATED
                break
            field, wire = np.int64(key >> np.uint64(3)), np.int64(key & np.uint64(7))
            if wire != 2 or field not in (1, 2, 3):
                pos = _skip(buf, pos, stop, wire)
                if pos < 0:
                    error = _TRUNCATED
                continue
            n, pos = _varint(buf, pos, stop)
            if pos < 0 or n > np.uint64(stop - pos):
                error = _TRUNCATED
                break
            m_pos, m_end = pos, pos + np.int64(n)
            pos = m_end
            if field == 2:  # DenseNodes: packed id (1), lat (8), lon (9), keys_vals (10), all delta but kv
                ids = (np.int64(0), np.int64(0))
                lats = (np.int64(0), np.int64(0))
                lons = (np.int64(0), np.int64(0))
                kvs = (np.int64(0), np.int64(0))
                while m_pos < m_end:
                    fkey, m_pos = _varint(buf, m_pos, m_end)
                    if m_pos < 0:
                        break
                    f, w = np.int64(fkey >> np.uint64(3)), np.int64(fkey & np.uint64(7))
                    if w == 2 and f in (1, 8, 9, 10):
                        span = _span(buf, m_pos, m_end)
                        m_pos = span[1]
                        if m_pos < 0:
                            break
                        if f == 1:
                            ids = span
                        elif f == 8:
                            lats = span
                        elif f == 9:
                            lons = span
                        else:
                            kvs = span
                    else:
                        m_pos = _skip(buf, m_pos, m_end, w)
                        if m_pos < 0:
                            break
                if m_pos < 0:
                    error = _TRUNCATED
                    break
                count = _count_packed(buf, ids[0], ids[1])
                if _count_packed(buf, lats[0], lats[1]) != count or _count_packed(buf, lons[0], lons[1]) != count:
                    error = _BAD_WIRE
                    break
                pi, pa, po, pk = ids[0], lats[0], lons[0], kvs[0]
                nid, nlat, nlon = np.int64(0), np.int64(0), np.int64(0)
                for _ in range(count):
                    v, pi = _varint(buf, pi, ids[1])
                    if pi < 0:
                        error = _TRUNCATED
                        break
                    nid += _zigzag(v)
                    v, pa = _varint(buf, pa, lats[1])
                    if pa < 0:
                        error = _TRUNCATED
                        break
                    nlat += _zigzag(v)
                    v, po = _varint(buf, po, lons[1])
                    if po < 0:
                        error = _TRUNCATED
                        break
                    nlon += _zigzag(v)
                    node_id = _grow(node_id, n_nodes)
                    node_xy = _grow2(node_xy, n_nodes)
                    node_id[n_nodes] = nid
                    node_xy[n_nodes, 0] = _pbf_coordinate(nlon, granularity, lon_offset)
                    node_xy[n_nodes, 1] = _pbf_coordinate(nlat, granularity, lat_offset)
                    if kvs[1] > kvs[0]:  # this node's key/value pairs, up to a 0
                        first = n_pkv
                        wanted = False
                        while True:
                            k, pk = _varint(buf, pk, kvs[1])
                            if pk < 0:
                                error = _TRUNCATED
                                break
                            if k == np.uint64(0):
                                break
                            val, pk = _varint(buf, pk, kvs[1])
                            if pk < 0:
                                error = _TRUNCATED
                                break
                            if k >= np.uint64(n_str) or val >= np.uint64(n_str):
                                error = _BAD_INDEX
                                break
                            if flags[np.int64(k)] & _NODE_BIT:
                                wanted = True
                            picked_kv = _grow2(picked_kv, n_pkv)
                            picked_kv[n_pkv, 0] = np.int64(k)
                            picked_kv[n_pkv, 1] = np.int64(val)
                            n_pkv += 1
                        if error != _OK:
                            break
                        if wanted:
                            picked = _grow2(picked, n_picked)
                            picked[n_picked, 0] = n_nodes
                            picked[n_picked, 1] = n_pkv
                            n_picked += 1
                        else:
                            n_pkv = first  # drop the pairs of a node nobody wants
                    n_nodes += 1
            elif field == 1 or field == 3:  # Node or Way
                ident = np.int64(0)
                keys = (np.int64(0), np.int64(0))
                vals = (np.int64(0), np.int64(0))
                refs = (np.int64(0), np.int64(0))
                lat, lon = np.int64(0), np.int64(0)
                while m_pos < m_end:
                    fkey, m_pos = _varint(buf, m_pos, m_end)
                    if m_pos < 0:
                        break
                    f, w = np.int64(fkey >> np.uint64(3)), np.int64(fkey & np.uint64(7))
                    if f == 1 and w == 0:
                        v, m_pos = _varint(buf, m_pos, m_end)
                        ident = _zigzag(v) if field == 1 else np.int64(v)  # Node.id sint64, Way.id int64
                    elif w == 2 and (f == 2 or f == 3 or (field == 3 and f == 8)):
                        span = _span(buf, m_pos, m_end)
                        m_pos = span[1]
                        if m_pos < 0:
                            break
                        if f == 2:
                            keys = span
                        elif f == 3:
                            vals = span
                        else:
                            refs = span
                    elif field == 1 and w == 0 and (f == 8 or f == 9):
                        v, m_pos = _varint(buf, m_pos, m_end)
                        if f == 8:
                            lat = _zigzag(v)
                        else:
                            lon = _zigzag(v)
                    else:
                        m_pos = _skip(buf, m_pos, m_end, w)
                    if m_pos < 0:
                        break
                if m_pos < 0:
                    error = _TRUNCATED
                    break
                n_kv = _count_packed(buf, keys[0], keys[1])
                if _count_packed(buf, vals[0], vals[1]) != n_kv:
                    error = _BAD_WIRE
                    break
                bit = _NODE_BIT if field == 1 else _WAY_BIT
                first = n_wkv if field == 3 else n_pkv
                wanted = False
                pk, pv = keys[0], vals[0]
                for _ in range(n_kv):
                    k, pk = _varint(buf, pk, keys[1])
                    val, pv = _varint(buf, pv, vals[1])
                    if pk < 0 or pv < 0:
                        error = _TRUNCATED
                        break
                    if k >= np.uint64(n_str) or val >= np.uint64(n_str):
                        error = _BAD_INDEX
                        break
                    if flags[np.int64(k)] & bit:
                        wanted = True
                    if field == 3:
                        way_kv = _grow2(way_kv, n_wkv)
                        way_kv[n_wkv, 0] = np.int64(k)
                        way_kv[n_wkv, 1] = np.int64(val)
                        n_wkv += 1
                    else:
                        picked_kv = _grow2(picked_kv, n_pkv)
                        picked_kv[n_pkv, 0] = np.int64(k)
                        picked_kv[n_pkv, 1] = np.int64(val)
                        n_pkv += 1
                if error != _OK:
                    break
                if field == 1:
                    node_id = _grow(node_id, n_nodes)
                    node_xy = _grow2(node_xy, n_nodes)
                    node_id[n_nodes] = ident
                    node_xy[n_nodes, 0] = _pbf_coordinate(lon, granularity, lon_offset)
                    node_xy[n_nodes, 1] = _pbf_coordinate(lat, granularity, lat_offset)
                    if wanted:
                        picked = _grow2(picked, n_picked)
                        picked[n_picked, 0] = n_nodes
                        picked[n_picked, 1] = n_pkv
                        n_picked += 1
                    else:
                        n_pkv = first
                    n_nodes += 1
                elif not wanted:
                    n_wkv = first
                else:
                    pr = refs[0]
                    ref = np.int64(0)
                    while pr < refs[1]:
                        v, pr = _varint(buf, pr, refs[1])
                        if pr < 0:
                            error = _TRUNCATED
                            break
                        ref += _zigzag(v)
                        way_refs = _grow(way_refs, n_refs)
                        way_refs[n_refs] = ref
                        n_refs += 1
                    if error != _OK:
                        break
                    ways = _grow2(ways, n_ways)
                    ways[n_ways, 0] = ident
                    ways[n_ways, 1] = n_refs
                    ways[n_ways, 2] = n_wkv
                    n_ways += 1
            # relations (4) and changesets (5) are skipped above
        if error != _OK:
            break
    return (error, strings[:n_str], node_id[:n_nodes], node_xy[:n_nodes], picked[:n_picked], picked_kv[:n_pkv],
            ways[:n_ways], way_refs[:n_refs], way_kv[:n_wkv])


# ---------------------------------------------------------------------------------------
# blobs (Python: a few dozen per MB of PBF)


def _message(data: bytes | memoryview) -> dict[int, list[int | bytes]]:
    """A small protobuf message's fields: varints as ints, length-delimited as bytes."""
    fields: dict[int, list[int | bytes]] = {}
    pos, end = 0, len(data)

    def varint() -> int:
        nonlocal pos
        result = shift = 0
        while True:
            if pos >= end or shift > 63:
                raise _Unsupported("truncated varint")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7

    while pos < end:
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            fields.setdefault(field, []).append(varint())
        elif wire == 2:
            n = varint()
            if n > end - pos:
                raise _Unsupported("truncated field")
            fields.setdefault(field, []).append(bytes(data[pos:pos + n]))
            pos += n
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise _Unsupported(f"wire type {wire}")
    if pos != end:
        raise _Unsupported("truncated message")
    return fields


def _blobs(blob: bytes):  # noqa: ANN202
    """(type, uncompressed bytes, bytes of the file read so far) of each blob of a PBF file."""
    view = memoryview(blob)
    pos, end = 0, len(blob)
    while pos < end:
        if end - pos < 4:
            raise _Unsupported("truncated blob header length")
        size = int.from_bytes(view[pos:pos + 4], "big")
        pos += 4
        if size > end - pos or size > _MAX_BLOB:
            raise _Unsupported("bad blob header length")
        header = _message(view[pos:pos + size])
        pos += size
        kind = header.get(1, [b""])[0]
        datasize = header.get(3, [None])[0]
        if not isinstance(kind, bytes) or not isinstance(datasize, int) or datasize > end - pos:
            raise _Unsupported("bad blob header")
        body = _message(view[pos:pos + datasize])
        pos += datasize
        raw_size = body.get(2, [None])[0]
        if 1 in body:
            data = body[1][0]
        elif 3 in body:
            data = zlib.decompress(body[3][0], bufsize=raw_size if isinstance(raw_size, int) else zlib.DEF_BUF_SIZE)
        elif 4 in body:
            data = lzma.decompress(body[4][0])
        elif 5 in body:
            data = bz2.decompress(body[5][0])
        else:  # lz4 (6), zstd (7)
            raise _Unsupported("blob compression")
        if not isinstance(data, bytes) or (isinstance(raw_size, int) and len(data) != raw_size):
            raise _Unsupported("blob size")
        yield kind.decode("ascii", "replace"), data, pos


def _patterns() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    masks: dict[str, int] = {}
    for key in WAY_KEYS:
        masks[key] = masks.get(key, 0) | _WAY_BIT
    for key in NODE_KEYS:
        masks[key] = masks.get(key, 0) | _NODE_BIT
    encoded = [key.encode() for key in masks]
    patterns = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else np.empty(0, np.uint8)
    bounds = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
    return patterns, bounds, np.array(list(masks.values()), dtype=np.int64)


def _decode(blob: bytes, source: str, *, progress: bool = False) -> OSMData:
    from tqdm import tqdm

    patterns, bounds, masks = _patterns()
    data = OSMData(source=source)
    node_ids, node_xys, ref_parts = [], [], []
    pending_stations = []  # (block's node offset + index, tags)
    n_nodes = 0
    bar = tqdm(desc=f"reading {Path(source).name}", total=len(blob), unit="B", unit_scale=True, mininterval=0.5,
               disable=not progress or not sys.stderr.isatty())
    done = 0
    for kind, raw, pos in _blobs(blob):
        bar.update(pos - done)
        done = pos
        if kind == "OSMHeader":
            header = _message(raw)
            required = {f.decode("utf-8", "replace") for f in header.get(4, []) if isinstance(f, bytes)}
            if required - _SUPPORTED_FEATURES:
                raise _Unsupported(f"required features {sorted(required - _SUPPORTED_FEATURES)}")
            continue
        if kind != "OSMData":
            continue  # unknown blob types are skipped, as the format says
        buf = np.frombuffer(raw, dtype=np.uint8)
        error, strings, ids, xy, picked, picked_kv, ways, way_refs, way_kv = _block(buf, patterns, bounds, masks)
        if error != _OK:
            raise _Unsupported(f"block error {error}")
        if not len(ways) and not len(ids):
            continue
        table = np.array([raw[a:b].decode("utf-8", "replace")
                          for a, b in zip(strings[:, 0].tolist(), strings[:, 1].tolist())] or [""], dtype=object)
        node_ids.append(ids)
        node_xys.append(xy)
        start = 0
        for index, stop in picked.tolist():
            pairs = picked_kv[start:stop]
            start = stop
            pending_stations.append((n_nodes + index, dict(zip(table[pairs[:, 0]].tolist(),
                                                                table[pairs[:, 1]].tolist()))))
        n_nodes += len(ids)
        if len(ways):
            refs = way_refs.tolist()
            keys, values = table[way_kv[:, 0]].tolist(), table[way_kv[:, 1]].tolist()
            append = data.ways.append
            r0 = t0 = 0
            for way_id, r1, t1 in zip(ways[:, 0].tolist(), ways[:, 1].tolist(), ways[:, 2].tolist()):
                append((way_id, tuple(refs[r0:r1]), dict(zip(keys[t0:t1], values[t0:t1]))))
                r0, t0 = r1, t1
            ref_parts.append(way_refs)
    bar.close()
    data.ways_read = len(data.ways)
    ids = np.concatenate(node_ids) if node_ids else np.empty(0, np.int64)
    xy = np.concatenate(node_xys) if node_xys else np.empty((0, 2), np.int64)
    valid = (np.abs(xy[:, 0]) <= 1_800_000_000) & (np.abs(xy[:, 1]) <= 900_000_000)
    lon, lat = xy[:, 0] / 10_000_000, xy[:, 1] / 10_000_000
    for index, tags in pending_stations:
        if valid[index] and is_station_candidate(tags):
            data.stations[int(ids[index])] = (float(lon[index]), float(lat[index]), tags)
    if ref_parts:
        refs = np.concatenate(ref_parts)
        unique, first = np.unique(refs, return_index=True)
        unique = unique[np.argsort(first, kind="stable")]  # in order of first reference, as pyosmium fills it
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        at = np.searchsorted(sorted_ids, unique, side="right") - 1  # the last node of an id, as an index keeps it
        found = at >= 0
        found[found] = sorted_ids[at[found]] == unique[found]
        node = order[at[found]]
        keep = valid[node]
        node = node[keep]
        data.coords = dict(zip(unique[found][keep].tolist(), zip(lon[node].tolist(), lat[node].tolist())))
    return data


def read_pbf(path: str | Path, *, progress: bool = False) -> OSMData:
    """Read the road/rail ways, their node coordinates and station nodes of an ``.osm.pbf`` file.

    The same :class:`~networks.osm_read.OSMData` as :func:`networks.osm_pbf.read_osm_pbf`;
    what this reader does not decode (lz4 or zstd blobs, history files, malformed blocks)
    goes to that reader, and so does every file when numba (the ``assignment`` extra) is not
    installed.  ``progress``: a byte counter on a terminal.

    Raises
    ------
    OSMError
        The file is missing, empty or cannot be decoded as OSM data.
    """
    path = Path(path)
    if not HAVE_NUMBA:
        from networks.osm_pbf import read_osm_pbf

        return read_osm_pbf(path, progress=progress)
    check_not_empty(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise OSMError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return _decode(blob, str(path), progress=progress)
    except (_Unsupported, zlib.error, lzma.LZMAError, OSError, ValueError, EOFError):
        from networks.osm_pbf import read_osm_pbf

        return read_osm_pbf(path, progress=progress)
