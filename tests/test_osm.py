"""OSM ingestion on hand-written fixtures with exactly known answers, bad input, cache, export, CLI."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from networks import osm_tags
from networks.errors import CacheError, OSMError
from networks.osm import RailOptions, cache_key, graph_from_osm, graph_summary
from networks.osm_cache import _load_cache
from networks.osm_pbf import write_pbf

FIXTURES = Path(__file__).parent / "fixtures" / "osm"
ROADS = FIXTURES / "roads.osm"
RAIL = FIXTURES / "rail.osm"
R = 6_371_009.0


def gc(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    y1, y2 = math.radians(lat1), math.radians(lat2)
    dx, dy = math.radians(lon2 - lon1), y2 - y1
    h = math.sin(dy / 2) ** 2 + math.cos(y1) * math.cos(y2) * math.sin(dx / 2) ** 2
    return 2 * math.asin(math.sqrt(h)) * R


def road_row(k: int) -> list[int]:
    return [1000 + 10 * k + j for j in range(3)]


def seg(k: int) -> float:
    """Length of one 0.001-degree segment of fixture road number k (on latitude 31 + 0.01 k)."""
    lat = 31.0 + 0.01 * k
    return gc(121.0, lat, 121.001, lat)


def edges_of(G: nx.MultiDiGraph, osmid: int) -> list[tuple[int, int, dict]]:
    return [(u, v, d) for u, v, d in G.edges(data=True) if d["osmid"] == osmid]


@pytest.fixture
def roads() -> nx.MultiDiGraph:
    return graph_from_osm(ROADS, simplify=False, retain_all=True, cache=False, progress=False)


def test_road_classes_and_exclusions(roads: nx.MultiDiGraph) -> None:
    osmids = {d["osmid"] for _, _, d in roads.edges(data=True)}
    assert osmids == {101, 102, 103, 104, 107, 108, 109, 110, 112}
    assert all(d["mode"] == "road" for _, _, d in roads.edges(data=True))
    with_residential = graph_from_osm(
        ROADS, road_classes=(*osm_tags.DEFAULT_ROAD_CLASSES, "residential"), simplify=False, retain_all=True, cache=False
    )
    assert 105 in {d["osmid"] for _, _, d in with_residential.edges(data=True)}


def test_road_oneway_speed_lanes_capacity(roads: nx.MultiDiGraph) -> None:
    # 101 motorway: implied one-way along the node order, 120 km/h, 2 lanes x 2000
    a, b, c = road_row(0)
    e = edges_of(roads, 101)
    assert sorted((u, v) for u, v, _ in e) == [(a, b), (b, c)]
    d = e[0][2]
    assert (d["speed_kph"], d["speed_source"], d["lanes"], d["capacity"], d["oneway"]) == (120.0, "class", 2, 4000.0, True)
    assert d["length"] == pytest.approx(seg(0), rel=1e-9)
    assert d["travel_time"] == pytest.approx(seg(0) / (120 / 3.6), rel=1e-9)
    # 102 trunk oneway=-1: edges against the node order, 60 mph, all 3 lanes
    a, b, c = road_row(1)
    e = edges_of(roads, 102)
    assert sorted((u, v) for u, v, _ in e) == [(b, a), (c, b)]
    d = e[0][2]
    assert d["speed_kph"] == pytest.approx(96.56064, rel=1e-9)
    assert (d["lanes"], d["capacity"], d["reversed"]) == (3, 3 * 1750.0, False)
    assert d["travel_time"] == pytest.approx(seg(1) / (96.56064 / 3.6), rel=1e-9)
    # 103 primary two-way lanes=3 "50;70": 60 km/h, 2 lanes forward, 1 backward
    a, b, c = road_row(2)
    e = {(u, v): d for u, v, d in edges_of(roads, 103)}
    assert set(e) == {(a, b), (b, c), (b, a), (c, b)}
    assert (e[(a, b)]["lanes"], e[(a, b)]["capacity"]) == (2, 2800.0)
    assert (e[(b, a)]["lanes"], e[(b, a)]["capacity"], e[(b, a)]["reversed"]) == (1, 1400.0, True)
    assert e[(a, b)]["speed_kph"] == 60.0 and e[(a, b)]["name"] == "P3"
    # 104 CN:urban -> 50 km/h, link default 1 lane each way
    d = edges_of(roads, 104)[0][2]
    assert (d["speed_kph"], d["speed_source"], d["lanes"], d["capacity"]) == (50.0, "maxspeed", 1, 1200.0)
    # 107 roundabout, maxspeed=none -> one-way, trunk default 80
    d = edges_of(roads, 107)
    assert len(d) == 2 and d[0][2]["speed_kph"] == 80.0 and d[0][2]["speed_source"] == "class"
    # 108 lanes:forward/backward
    a, b, c = road_row(7)
    e = {(u, v): d for u, v, d in edges_of(roads, 108)}
    assert (e[(a, b)]["lanes"], e[(b, a)]["lanes"], e[(a, b)]["speed_kph"]) == (2, 1, 40.0)
    # 109 motorway explicitly two-way: 4 edges, 100 km/h
    assert len(edges_of(roads, 109)) == 4 and edges_of(roads, 109)[0][2]["speed_kph"] == 100.0
    # 110 maxspeed=signals -> class default; 112 access=no but motor_vehicle=yes, "45kmh"
    assert edges_of(roads, 110)[0][2]["speed_kph"] == 80.0
    assert edges_of(roads, 112)[0][2]["speed_kph"] == 45.0


def test_road_simplification_keeps_lengths_and_times(roads: nx.MultiDiGraph) -> None:
    simple = graph_from_osm(ROADS, retain_all=True, cache=False)
    for osmid, k in ((101, 0), (102, 1), (103, 2)):
        e = edges_of(simple, osmid)
        for _, _, d in e:
            assert d["length"] == pytest.approx(2 * seg(k), rel=1e-9)
            assert d["travel_time"] == pytest.approx(2 * seg(k) / (d["speed_kph"] / 3.6), rel=1e-9)
            assert d["geometry"].coords[0] != d["geometry"].coords[-1]
    total = sum(d["length"] for _, _, d in roads.edges(data=True))
    assert sum(d["length"] for _, _, d in simple.edges(data=True)) == pytest.approx(total, rel=1e-9)
    time_total = sum(d["travel_time"] for _, _, d in roads.edges(data=True))
    assert sum(d["travel_time"] for _, _, d in simple.edges(data=True)) == pytest.approx(time_total, rel=1e-9)


def test_graph_attributes(roads: nx.MultiDiGraph) -> None:
    assert roads.graph["crs"] == "EPSG:4326" and roads.graph["mode"] == "road"
    assert roads.graph["source"] == str(ROADS)
    assert roads.graph["build_options"]["network"] == "road"
    assert roads.graph["name"]


@pytest.fixture
def rail() -> nx.MultiDiGraph:
    return graph_from_osm(RAIL, network="rail", simplify=False, cache=False)


def test_rail_filtering_and_attributes(rail: nx.MultiDiGraph) -> None:
    osmids = {d["osmid"] for _, _, d in rail.edges(data=True)}
    assert osmids == {201, 206, 210}  # yard, siding, spur, crossover, light rail, industrial, subway out
    assert set(rail.nodes) == {-1, -2, -3, -4, -5, -21, -22, -61}
    for u, v, d in rail.edges(data=True):
        assert rail.has_edge(v, u)  # both directions
        assert d["mode"] == "rail" and d["oneway"] is False
    hsr = edges_of(rail, 201)[0][2]
    assert hsr["highspeed"] is True and hsr["electrified"] is True and hsr["usage"] == "main"
    assert (hsr["maxspeed_kph"], hsr["speed_kph"], hsr["service"]) == (350.0, 350.0, "")
    assert hsr["name"] == "京沪高速铁路" and hsr["name_en"] == "Beijing-Shanghai HSR"
    length = gc(121.00, 31.5, 121.01, 31.5)
    assert hsr["length"] == pytest.approx(length, rel=1e-9)
    assert hsr["travel_time"] == pytest.approx(length / (350 / 3.6), rel=1e-9)
    branch = edges_of(rail, 206)[0][2]
    assert (branch["speed_kph"], branch["electrified"], branch["highspeed"]) == (100.0, False, False)
    assert "maxspeed_kph" not in branch
    assert edges_of(rail, 210)[0][2]["speed_kph"] == pytest.approx(80 * 1.609344, rel=1e-9)


def test_rail_stations_snapped(rail: nx.MultiDiGraph) -> None:
    stations = {d["name"]: (n, d) for n, d in rail.nodes(data=True) if d.get("station")}
    assert set(stations) == {"Alpha", "Bravo", "Charlie"}
    node, alpha = stations["Alpha"]
    assert node == -1 and alpha["snap_m"] == 0.0 and alpha["dwell_s"] == 120.0 and alpha["name_en"] == "Alpha EN"
    node, bravo = stations["Bravo"]
    assert node == -3 and bravo["dwell_s"] == 60.0 and bravo["station_kind"] == "halt"
    assert bravo["snap_m"] == pytest.approx(gc(121.0205, 31.5, 121.02, 31.5), abs=0.05)
    node, charlie = stations["Charlie"]
    assert node == -21 and charlie["snap_m"] == pytest.approx(gc(121.05, 31.5009, 121.05, 31.5), abs=0.05)
    assert any(s.startswith("Far ") for s in rail.graph["unsnapped_stations"])
    # stations survive simplification as nodes
    simple = graph_from_osm(RAIL, network="rail", cache=False)
    assert {d["name"] for _, d in simple.nodes(data=True) if d.get("station")} == {"Alpha", "Bravo", "Charlie"}


def test_rail_options_light_rail_subway() -> None:
    G = graph_from_osm(RAIL, network="rail", rail_options=RailOptions(light_rail=True, subway=True), cache=False)
    assert {d["railway"] for _, _, d in G.edges(data=True)} == {"rail", "light_rail", "subway"}
    names = {d["name"] for _, d in G.nodes(data=True) if d.get("station")}
    assert {"Metro stop", "LRT stop"} <= names


@pytest.mark.parametrize("fixture", [ROADS, RAIL])
def test_xml_and_pbf_give_the_same_graph(tmp_path: Path, fixture: Path) -> None:
    pbf = write_pbf(fixture, tmp_path / (fixture.stem + ".osm.pbf"))
    network = "rail" if fixture == RAIL else "road"
    for simplify in (False, True):
        xml = graph_from_osm(fixture, network=network, simplify=simplify, retain_all=True, cache=False)
        via_pbf = graph_from_osm(pbf, network=network, simplify=simplify, retain_all=True, cache=False)
        assert_same_graph(xml, via_pbf)


def assert_same_osm_data(ours, reference) -> None:  # noqa: ANN001
    """Two readers' OSMData equal field by field, insertion order included."""
    assert ours.ways == reference.ways and ours.ways_read == reference.ways_read
    assert list(ours.coords.items()) == list(reference.coords.items())
    assert list(ours.stations.items()) == list(reference.stations.items())


@pytest.mark.parametrize("options", ["", "pbf_dense_nodes=false", "pbf_compression=none,add_metadata=false",
                                     "locations_on_ways=true", "pbf_compression=lz4"])
@pytest.mark.parametrize("fixture", [ROADS, RAIL])
def test_compiled_pbf_reader_equals_pyosmium(tmp_path: Path, fixture: Path, options: str) -> None:
    """networks.pbf decodes dense and plain nodes, raw and zlib blobs, negative ids (the rail
    fixture's stations) and locations on ways to pyosmium's data exactly; an lz4 blob, which it
    does not decode, goes to pyosmium."""
    from networks import pbf as compiled
    from networks.osm_pbf import read_osm_pbf

    try:
        path = write_pbf(fixture, tmp_path / "fixture.osm.pbf", options=options)
    except RuntimeError:  # a libosmium built without lz4
        pytest.skip(f"libosmium cannot write {options}")
    reference = read_osm_pbf(path)
    assert reference.ways and reference.coords and (fixture != RAIL or min(reference.stations) < 0)
    if options == "pbf_compression=lz4":
        with pytest.raises(compiled._Unsupported, match="compression"):
            compiled._decode(path.read_bytes(), str(path))
    else:
        assert_same_osm_data(compiled._decode(path.read_bytes(), str(path)), reference)
    assert_same_osm_data(compiled.read_pbf(path), reference)


def test_compiled_pbf_reader_refuses_what_it_cannot_check(tmp_path: Path) -> None:
    """A file or block cut anywhere is never half-decoded: refused (then read by pyosmium), or, cut at a
    boundary, what comes before the cut. Altered bytes: `python -m tests.fuzz osm_pbf`."""
    from networks import pbf as compiled

    good = write_pbf(RAIL, tmp_path / "rail.osm.pbf", options="pbf_compression=none").read_bytes()
    whole = compiled._decode(good, "rail")
    refused = 0
    for cut in range(1, len(good)):
        try:
            data = compiled._decode(good[:cut], "cut")
        except compiled._Unsupported:
            refused += 1
            continue
        assert data.ways == whole.ways[: len(data.ways)]  # only a cut between blobs: the blobs before it
    assert refused >= len(good) - 3
    blocks = list(compiled._blobs(good))
    patterns, bounds, masks = compiled._patterns()
    decoded = [(raw, compiled._block(np.frombuffer(raw, np.uint8), patterns, bounds, masks))
               for kind, raw, _ in blocks if kind == "OSMData"]
    raw, full = next((raw, full) for raw, full in decoded if len(full[6]))  # the block of the ways
    assert full[0] == compiled._OK and len(full[6]) == 10
    cuts_ok = 0
    for cut in range(1, len(raw)):
        error, *_, ways, _, _ = compiled._block(np.frombuffer(raw[:cut], np.uint8), patterns, bounds, masks)
        if error == compiled._OK:  # only a cut between top-level fields: what it has is a prefix
            cuts_ok += 1
            assert ways.tolist() == full[6][: len(ways)].tolist()
        else:
            assert error == compiled._TRUNCATED
    assert cuts_ok < len(raw) // 10


def assert_same_graph(a: nx.MultiDiGraph, b: nx.MultiDiGraph) -> None:
    assert dict(a.nodes(data=True)) == dict(b.nodes(data=True))

    def edge_set(G: nx.MultiDiGraph) -> list:
        rows = []
        for u, v, d in G.edges(data=True):
            d = dict(d)
            geometry = d.pop("geometry", None)
            rows.append((u, v, json.dumps(d, sort_keys=True, default=str), geometry.wkt if geometry is not None else ""))
        return sorted(rows)

    assert edge_set(a) == edge_set(b)


# --- bad input: a clear error naming the file, nothing cached ---------------------------------


def _bad(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "network", "fragment"),
    [
        ("empty.osm", b"", "road", "file is empty"),
        ("empty.osm.pbf", b"", "road", "file is empty"),
        ("truncated.osm", ROADS.read_bytes()[:1500], "road", "truncated or malformed"),
        ("page.osm", b"<html><body>not osm</body></html>", "road", "expected <osm>"),
        ("text.osm", b"hello, not xml at all", "road", "not well-formed XML"),
        ("fake.osm.pbf", b"this is not a protocol buffer" * 20, "road", "cannot be read as OSM data"),
        ("roads.osm", ROADS.read_bytes(), "rail", "no passenger rail"),
    ],
)
def test_bad_input(tmp_path: Path, name: str, content: bytes, network: str, fragment: str) -> None:
    path = _bad(tmp_path, name, content)
    cache = tmp_path / "cache"
    with pytest.raises(OSMError) as info:
        graph_from_osm(path, network=network, cache_dir=cache, progress=False)
    message = str(info.value)
    assert str(path) in message and fragment in message and "\n" not in message
    assert not cache.exists() or not any(cache.iterdir())


def test_bbox_without_ways_and_bad_bbox(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(OSMError, match=r"roads\.osm within bbox .*no road ways"):
        graph_from_osm(ROADS, bbox=(100.0, 20.0, 100.1, 20.1), cache_dir=cache)
    assert not cache.exists() or not any(cache.iterdir())
    with pytest.raises(OSMError, match="west < east"):
        graph_from_osm(ROADS, bbox=(121.1, 31.0, 121.0, 31.2), cache_dir=cache)
    with pytest.raises(OSMError, match="unknown OSM file type"):
        graph_from_osm(_bad(tmp_path, "x.csv", b"a,b"), cache_dir=cache)
    with pytest.raises(OSMError, match="no such file"):
        graph_from_osm(tmp_path / "missing.osm", cache_dir=cache)


def test_bbox_cuts_the_graph() -> None:
    # rows 0..2 only (latitudes 31.00-31.02)
    G = graph_from_osm(ROADS, bbox=(120.99, 30.99, 121.01, 31.025), simplify=False, retain_all=True, cache=False)
    assert {d["osmid"] for _, _, d in G.edges(data=True)} == {101, 102, 103}


# --- cache --------------------------------------------------------------------------------


def test_cache_hit_corrupt_entry_and_key(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = graph_from_osm(RAIL, network="rail", cache_dir=cache)
    entries = list(cache.iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".pickle"
    again = graph_from_osm(RAIL, network="rail", cache_dir=cache)
    assert_same_graph(first, again)
    # a corrupt, truncated or altered entry is caught by its hash and rebuilt (and rewritten), not an error
    good = entries[0].read_bytes()
    flipped = bytearray(good)
    flipped[-10] ^= 0xFF
    for bad in (b"", good[: len(good) // 2], bytes(flipped), b"not a cache entry at all\n"):
        entries[0].write_bytes(bad)
        rebuilt = graph_from_osm(RAIL, network="rail", cache_dir=cache)
        assert_same_graph(first, rebuilt)
        assert entries[0].read_bytes() == good  # rewritten, byte for byte
        with pytest.raises(CacheError, match="SHA-256|hash header"):
            entries[0].write_bytes(bad)
            _load_cache(entries[0])
    entries[0].write_bytes(good)
    assert pickle.loads(good.partition(b"\n")[2])[0] == "yrd-transit-osm-cache-v1"
    # other options, other key; the key follows the file's bytes
    graph_from_osm(RAIL, network="rail", rail_options=RailOptions(light_rail=True), cache_dir=cache)
    assert len(list(cache.iterdir())) == 2
    copy = tmp_path / "copy.osm"
    copy.write_bytes(RAIL.read_bytes())
    assert cache_key(copy, {"a": 1}) == cache_key(RAIL, {"a": 1})
    copy.write_bytes(RAIL.read_bytes().replace(b"Alpha EN", b"Alpha XX"))
    assert cache_key(copy, {"a": 1}) != cache_key(RAIL, {"a": 1})


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YRD_TRANSIT_CACHE", str(tmp_path / "env"))
    graph_from_osm(RAIL, network="rail")
    assert len(list((tmp_path / "env" / "osm").iterdir())) == 1


# --- export and command line --------------------------------------------------------------


def test_export_graphml_and_gpkg(tmp_path: Path) -> None:
    import osmnx as ox
    import pyogrio

    from networks.osm_export import save_graphs

    rail = graph_from_osm(RAIL, network="rail", cache=False)
    roads = graph_from_osm(ROADS, retain_all=True, cache=False)
    save_graphs({"rail": rail}, tmp_path / "rail.graphml")
    back = ox.load_graphml(tmp_path / "rail.graphml")
    assert (back.number_of_nodes(), back.number_of_edges()) == (rail.number_of_nodes(), rail.number_of_edges())
    save_graphs({"road": roads, "rail": rail}, tmp_path / "net.gpkg")
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "net.gpkg")}
    assert layers == {"road_nodes", "road_edges", "rail_nodes", "rail_edges"}
    edges = pyogrio.read_dataframe(tmp_path / "net.gpkg", layer="rail_edges")
    assert len(edges) == rail.number_of_edges()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.gpkg", "rail.graphml"]  # no temp files left


def test_summary_counts() -> None:
    rail = graph_from_osm(RAIL, network="rail", cache=False)
    s = graph_summary(rail)
    main = 4 * gc(121.00, 31.5, 121.01, 31.5)
    branch = 2 * gc(121.04, 31.5, 121.05, 31.5)
    spur = gc(121.05, 31.5, 121.05, 31.51)
    assert s["km_by_mode"]["rail"] == pytest.approx((main + branch + spur) / 1000, abs=1e-3)
    assert s["km_highspeed"]["True"] == pytest.approx(main / 1000, abs=1e-3)
    assert s["stations"] == 3 and s["weak_components"] == 1


def test_cli_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transit.cli import main

    out = tmp_path / "rail.gpkg"
    assert main(["build", "--osm", str(RAIL), "--network", "rail", "--out", str(out), "--json", "--no-cache"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rail"]["stations"] == 3 and out.exists()
    code = main(["build", "--osm", str(ROADS), "--network", "rail", "--no-cache", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("transit build: error: ") and "roads.osm" in err and "no passenger rail" in err


def test_cli_both_composes_multimodal_with_zones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyogrio

    from transit.cli import main

    def body(text: str) -> str:
        return text.split(">\n", 2)[2].rsplit("</osm>", 1)[0]

    mixed = tmp_path / "mixed.osm"
    mixed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        + body(ROADS.read_text(encoding="utf-8")) + body(RAIL.read_text(encoding="utf-8")) + "</osm>\n",
        encoding="utf-8",
    )
    zones = tmp_path / "zones.csv"
    zones.write_text("name_en,lon,lat\nAlphaTown,121.0,31.5\n", encoding="utf-8")
    out = tmp_path / "net.gpkg"
    args = ["build", "--osm", str(mixed), "--network", "both", "--zones", str(zones), "--retain-all"]
    assert main([*args, "--out", str(out), "--json", "--no-cache"]) == 0
    summary = json.loads(capsys.readouterr().out)
    multimodal = summary["multimodal"]
    assert multimodal["mode"] == "multimodal"
    by_mode = multimodal["edges_by_mode"]
    assert multimodal["edges"] == (summary["road"]["edges"] + summary["rail"]["edges"] + by_mode["access"]
                                   + by_mode.get("connector", 0))
    assert by_mode["access"] > 0  # zone <-> station links from the lead's composition
    # a zone beyond the snap distance still reaches the road network, by its nearest node
    assert by_mode.get("connector", 0) == 2
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"road_edges", "rail_edges", "multimodal_nodes", "multimodal_edges"} <= layers


def test_failed_pbf_reads_leave_no_file_open(tmp_path: Path) -> None:
    """libosmium leaks a descriptor per file it fails to decode; the reader reads from its own buffer."""
    import os

    good = write_pbf(RAIL, tmp_path / "rail.osm.pbf").read_bytes()
    bad = tmp_path / "bad.osm.pbf"
    before = len(os.listdir("/proc/self/fd"))
    for payload in (b"\x00", good[: len(good) // 2]) * 20:
        bad.write_bytes(payload)
        with pytest.raises(OSMError, match="bad.osm.pbf: cannot be read as OSM data"):
            graph_from_osm(bad, network="rail", cache=False)
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("ids", ["int", "str"])
def test_edge_rows_keys_and_graph_fill_equal_networkx(ids: str) -> None:
    """The build's edge keys (worked out on arrays, or by a dict for ids that are not integers)
    and its direct fill of the graph's adjacency give what networkx's own methods give, parallel
    edges, self-loops and unkeyed edges after keyed ones included."""
    from networks.osm_build import _EdgeRows, _multidigraph

    rng = np.random.default_rng(7)
    name = (lambda i: int(i) * 10**10 - 5) if ids == "int" else (lambda i: f"n{i}")
    rows = _EdgeRows({})
    expected_keys, count = [], {}
    for _ in range(60):
        pairs = [(name(a), name(b)) for a, b in rng.integers(0, 9, size=(int(rng.integers(0, 6)), 2))]
        rows.add(iter(pairs), {"w": len(pairs)})
        for pair in pairs:
            expected_keys.append(count.get(pair, 0))
            count[pair] = expected_keys[-1] + 1
    assert [k for _, _, k, _ in rows.rows] == expected_keys and max(expected_keys) >= 2
    assert list(rows.nodes) == list(dict.fromkeys(n for u, v, _, _ in rows.rows for n in (u, v)))
    nodes = [(n, {"x": i}) for i, n in enumerate(rows.nodes)]
    unkeyed = [(u, v, {"extra": i}) for i, (u, v, _, _) in enumerate(rows.rows[::3])]
    reference = nx.MultiDiGraph()
    reference.add_nodes_from(nodes)
    reference.add_edges_from([(u, v, k, dict(d)) for u, v, k, d in rows.rows])
    reference.add_edges_from(unkeyed)
    ours = _multidigraph(nodes, [(u, v, k, dict(d)) for u, v, k, d in rows.rows], unkeyed)
    assert list(ours.nodes(data=True)) == list(reference.nodes(data=True))
    assert list(ours.edges(keys=True, data=True)) == list(reference.edges(keys=True, data=True))
    assert list(ours.in_edges(keys=True)) == list(reference.in_edges(keys=True))
