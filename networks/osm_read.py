"""Read OSM XML (through osmnx's parser) and Overpass answers into one plain structure.

Every reader (this XML reader, the PBF reader in :mod:`networks.osm_pbf`, the online
query in :mod:`networks.osm`) produces an :class:`OSMData`: the ways that can be part of a
road or rail graph, the coordinates of their nodes, and the nodes that might be stations.
The graph builder in :mod:`networks.osm` works only from this structure, which is why an
XML file and a PBF file of the same data give the same graph.
"""

from __future__ import annotations

import bz2
import gzip
import io
import math
import warnings
import xml.etree.ElementTree as ET
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from networks.errors import OSMError
from networks.optional import require

__all__ = [
    "OSMData",
    "WAY_KEYS",
    "read_osm_xml",
    "osm_data_from_elements",
    "check_not_empty",
    "is_station_candidate",
]

#: A way is kept if it has one of these keys (everything else is dropped while reading).
WAY_KEYS: tuple[str, ...] = ("highway", "railway")


@dataclass
class OSMData:
    """The parts of an OSM extract that road and rail graphs are built from.

    Attributes
    ----------
    source
        The file path or query it came from.
    coords
        ``{node id: (lon, lat)}`` for every node referenced by a kept way (nodes missing
        from the extract are absent).
    ways
        ``[(way id, (node ids...), {tag: value})]`` for ways with a key in :data:`WAY_KEYS`.
    stations
        ``{node id: (lon, lat, {tag: value})}`` for nodes tagged ``railway=station|halt``
        or ``public_transport=station``.
    ways_read
        Ways seen by the reader (after any tag pre-filter the reader applies).
    """

    source: str
    coords: dict[int, tuple[float, float]] = field(default_factory=dict)
    ways: list[tuple[int, tuple[int, ...], dict[str, str]]] = field(default_factory=list)
    stations: dict[int, tuple[float, float, dict[str, str]]] = field(default_factory=dict)
    ways_read: int = 0


def is_station_candidate(tags: Mapping[str, str]) -> bool:
    """``railway=station|halt`` or ``public_transport=station``: kept for station snapping."""
    return tags.get("railway") in {"station", "halt"} or tags.get("public_transport") == "station"


def check_not_empty(path: Path) -> None:
    """Raise :class:`OSMError` if ``path`` is missing or has no bytes."""
    if not path.exists():
        raise OSMError(f"{path}: no such file")
    if not path.is_file():
        raise OSMError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise OSMError(f"{path}: file is empty (expected OSM XML or PBF data)")


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".bz2":
        return bz2.open(path, mode="rt", encoding="utf-8")
    if path.suffix == ".gz":
        return gzip.open(path, mode="rt", encoding="utf-8")
    return path.open(mode="rt", encoding="utf-8")


_REFUSED = "DTDs and entities are refused for safety (OSM XML has none)"


def _check_osm_root(path: Path) -> None:
    """Fail early, with the file's name, unless the XML root element is ``<osm>``; a DTD or
    entity declaration before it is refused (entity expansion and external entities are the
    classic XML attacks, and OSM files never use them)."""
    try:
        with _open_text(path) as handle:
            head = handle.read(65536)
        prolog = head.split("<osm", 1)[0]
        if "<!DOCTYPE" in prolog or "<!ENTITY" in prolog:
            raise OSMError(f"{path}: the file declares a DTD; {_REFUSED}")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise OSMError(f"{path}: cannot be read as OSM XML ({exc})") from exc
    try:
        with _open_text(path) as handle:
            for _event, element in ET.iterparse(handle, events=("start",)):
                if element.tag != "osm":
                    raise OSMError(f"{path}: XML root element is <{element.tag}>, expected <osm> (not an OSM XML file)")
                return
    except ET.ParseError as exc:
        raise OSMError(f"{path}: not well-formed XML ({exc}); expected an OSM XML file") from exc
    except LookupError as exc:
        raise OSMError(f"{path}: the XML declaration names an encoding Python does not know ({exc}); "
                       "expected UTF-8 OSM XML") from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise OSMError(f"{path}: cannot be read as OSM XML ({exc})") from exc
    raise OSMError(f"{path}: no XML elements; expected an OSM XML file")


def _node_xy(source: str, element: Mapping[str, Any]) -> tuple[float, float]:
    """A node's (lon, lat), or an OSMError naming the node when it has no valid location."""
    try:
        node_id = int(element["id"])
    except (KeyError, TypeError, ValueError):
        raise OSMError(f"{source}: a node without a valid integer id ({element.get('id')!r})") from None
    try:
        lon, lat = float(element["lon"]), float(element["lat"])
    except (KeyError, TypeError, ValueError):
        raise OSMError(f"{source}: node {node_id} has no valid lon/lat "
                       f"(lon={element.get('lon')!r}, lat={element.get('lat')!r})") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise OSMError(f"{source}: node {node_id} has lon={lon:g}, lat={lat:g}; expected -180..180 and -90..90")
    return lon, lat


def osm_data_from_elements(source: str, elements: Iterable[Mapping[str, Any]]) -> OSMData:
    """Build :class:`OSMData` from Overpass-style JSON elements (osmnx's XML output too)."""
    data = OSMData(source=source)
    node_xy: dict[int, tuple[float, float]] = {}
    for element in elements:
        kind = element.get("type")
        if kind == "node":
            xy = _node_xy(source, element)
            node_xy[int(element["id"])] = xy
            tags = element.get("tags") or {}
            if tags and is_station_candidate(tags):
                data.stations[int(element["id"])] = (xy[0], xy[1], dict(tags))
        elif kind == "way":
            data.ways_read += 1
            tags = element.get("tags") or {}
            if any(key in tags for key in WAY_KEYS):
                try:
                    data.ways.append((int(element["id"]), tuple(int(n) for n in element["nodes"]), dict(tags)))
                except (KeyError, TypeError, ValueError) as exc:
                    raise OSMError(f"{source}: a way with a missing or invalid id or node reference ({exc!r}); "
                                   "expected <way id=...> with <nd ref=...> integers") from None
    needed = {ref for _, refs, _ in data.ways for ref in refs}
    data.coords = {ref: node_xy[ref] for ref in needed if ref in node_xy}
    return data


def read_osm_xml(path: str | Path) -> OSMData:
    """Read an ``.osm`` / ``.osm.bz2`` / ``.osm.gz`` file with osmnx's OSM XML parser.

    Raises
    ------
    OSMError
        The file is missing or empty, is not XML, has another root than ``<osm>``, or is
        truncated.
    """
    # osmnx's own SAX reader: the parser graph_from_xml uses
    _osm_xml = require("osmnx._osm_xml", extra="osm", purpose="reading OSM XML with engine='osmnx'")

    path = Path(path)
    check_not_empty(path)
    _check_osm_root(path)
    try:
        with warnings.catch_warnings():
            # osmnx warns about files it wrote itself; the shared Jing'an file is one
            warnings.simplefilter("ignore", UserWarning)
            response = _osm_xml._overpass_json_from_xml(path, "utf-8")
    except (xml.sax.SAXParseException, ET.ParseError) as exc:
        if "entity" in str(exc).lower():
            raise OSMError(f"{path}: the file uses an entity ({exc}); {_REFUSED}") from exc
        raise OSMError(f"{path}: truncated or malformed OSM XML ({exc})") from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise OSMError(f"{path}: OSM XML element with a missing or invalid attribute ({exc})") from exc
    except LookupError as exc:
        raise OSMError(f"{path}: the XML declaration names an encoding Python does not know ({exc}); "
                       "expected UTF-8 OSM XML") from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise OSMError(f"{path}: cannot be read as OSM XML ({exc})") from exc
    return osm_data_from_elements(str(path), response.get("elements", []))
