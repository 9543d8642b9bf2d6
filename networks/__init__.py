"""From data to routable graphs: OSM ingestion, the embedded default, shortest paths, skims.

Public API (loaded on first use)::

    from networks import CompiledGraph, skim, graph_from_osm, compose_multimodal, read_tntp_network
"""

from __future__ import annotations

import networks._numba_cache  # noqa: F401  (a writable cache for numba, before any kernel)

import importlib
from typing import Any

_PUBLIC = {
    "CompiledGraph": "networks.paths",
    "shortest_path_lengths": "networks.paths",
    "skim": "networks.paths",
    "graph_from_osm": "networks.osm",
    "graph_from_bbox": "networks.osm",
    "graph_from_place": "networks.osm",
    "compose_multimodal": "networks.multimodal",
    "embedded_graph": "networks.embedded",
    "conflate_lines": "networks.conflate",
    "read_tntp_network": "networks.tntp",
    "read_tntp_trips": "networks.tntp",
    "RoadNetwork": "networks.tntp",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'networks' has no attribute {name!r}")
