"""The OSM graph cache: keyed by the SHA-256 of the input file, the options and the package version."""


from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import networkx as nx

from networks.atomic import atomic_path
from networks.errors import CacheError
from networks.osm_options import _CACHE_MAGIC, _jsonable

log = logging.getLogger(__name__)

Network = Literal["road", "rail", "both"]
BBox = tuple[float, float, float, float]

# ---------------------------------------------------------------------------------------
# caching


def default_cache_dir() -> Path:
    """``$YRD_TRANSIT_CACHE/osm`` if set, else ``~/.cache/yrd-transit/osm``."""
    root = os.environ.get("YRD_TRANSIT_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "yrd-transit") / "osm"


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yrd-transit")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(path: str | os.PathLike[str], options: Mapping[str, Any]) -> str:
    """SHA-256 of the file's bytes, the build options and the package version."""
    payload = json.dumps(
        {"file": _file_sha256(Path(path)), "options": _jsonable(options), "version": _package_version()},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


_HEADER = b"yrd-transit cache sha256 "  # then 64 hex digits of the payload's SHA-256, a newline, the payload


def _load_cache(entry: Path) -> dict[str, nx.MultiDiGraph]:
    """The graphs of a cache entry, after checking the payload against its recorded SHA-256.

    The hash is checked before anything is unpickled, so a truncated, corrupted or altered
    entry is never loaded: it raises CacheError (the caller deletes and rebuilds it).
    """
    try:
        blob = entry.read_bytes()
    except OSError as exc:
        raise CacheError(f"{entry}: unreadable cache entry ({exc.strerror or exc})") from None
    head, sep, payload = blob.partition(b"\n")
    if not sep or not head.startswith(_HEADER) or len(head) != len(_HEADER) + 64:
        raise CacheError(f"{entry}: not a {_CACHE_MAGIC} cache entry (no hash header)")
    if hashlib.sha256(payload).hexdigest().encode() != head[len(_HEADER):]:
        raise CacheError(f"{entry}: cache entry does not match its SHA-256 (truncated or corrupted)")
    try:
        magic, graphs = pickle.loads(payload)  # noqa: S301 - our own entry, its hash checked above
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is a cache problem
        raise CacheError(f"{entry}: unreadable cache entry ({type(exc).__name__}: {exc})") from exc
    if magic != _CACHE_MAGIC or not isinstance(graphs, dict):
        raise CacheError(f"{entry}: not a {_CACHE_MAGIC} cache entry")
    return graphs


def _save_cache(entry: Path, graphs: dict[str, nx.MultiDiGraph]) -> None:
    payload = pickle.dumps((_CACHE_MAGIC, graphs), protocol=pickle.HIGHEST_PROTOCOL)
    with atomic_path(entry) as tmp:
        tmp.write_bytes(_HEADER + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
