"""OSM ingestion on the real shared files: Jing'an drive network and Hongqiao railways.

Skipped with a reason when ``../shared`` is absent (see conftest.shared_file).
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest
from conftest import shared_file

from networks import osm_tags
from networks.osm import graph_from_osm, graph_summary
from networks.osm_pbf import write_pbf
from test_osm import assert_same_graph, assert_same_osm_data

HSR_BEIJING_SHANGHAI = "京沪高速铁路"
HSR_SHANGHAI_HANGZHOU = "沪杭客运专线"


@pytest.fixture(scope="module")
def jingan() -> Path:
    return shared_file("data", "osm", "shanghai_jingan_drive.osm")


@pytest.fixture(scope="module")
def hongqiao() -> Path:
    return shared_file("data", "osm", "shanghai_hongqiao_rail.osm")


def osmnx_filtered(path: Path, classes: tuple[str, ...], *, simplify: bool) -> nx.MultiDiGraph:
    """osmnx's own graph_from_xml, cut to the same filter: classes, no access=no|private."""
    import osmnx as ox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the file was written by osmnx
        G = ox.graph_from_xml(path, simplify=False, retain_all=True)
    drop = [
        (u, v, k)
        for u, v, k, d in G.edges(keys=True, data=True)
        if d["highway"] not in classes or d.get("access") in ("no", "private")
    ]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n, degree in G.degree() if degree == 0])
    G = G.subgraph(max(nx.weakly_connected_components(G), key=len)).copy()
    return ox.simplify_graph(G) if simplify else G


@pytest.mark.parametrize("classes", [osm_tags.DRIVE_ROAD_CLASSES, osm_tags.DEFAULT_ROAD_CLASSES])
def test_jingan_matches_osmnx(jingan: Path, classes: tuple[str, ...]) -> None:
    for simplify in (False, True):
        ours = graph_from_osm(
            jingan, road_classes=classes, simplify=simplify, keep_attribute_changes=False, cache=False
        )
        theirs = osmnx_filtered(jingan, classes, simplify=simplify)
        assert (ours.number_of_nodes(), ours.number_of_edges()) == (theirs.number_of_nodes(), theirs.number_of_edges())
        assert set(ours.nodes) == set(theirs.nodes)
        ours_len = sum(d["length"] for _, _, d in ours.edges(data=True))
        theirs_len = sum(d["length"] for _, _, d in theirs.edges(data=True))
        assert ours_len == pytest.approx(theirs_len, rel=1e-9)
    # the unsimplified drive graph of this file, as counted on the day the test was written
    if classes == osm_tags.DRIVE_ROAD_CLASSES:
        raw = graph_from_osm(jingan, road_classes=classes, simplify=False, cache=False)
        assert (raw.number_of_nodes(), raw.number_of_edges()) == (2221, 2835)


def test_jingan_speeds_and_times_on_named_roads(jingan: Path) -> None:
    G = graph_from_osm(jingan, road_classes=osm_tags.DRIVE_ROAD_CLASSES, cache=False)
    raw = graph_from_osm(jingan, road_classes=osm_tags.DRIVE_ROAD_CLASSES, simplify=False, cache=False)

    def edges(graph: nx.MultiDiGraph, name: str) -> list[dict]:
        return [d for _, _, d in graph.edges(data=True) if d.get("name") == name]

    # the Bund tunnel is tagged maxspeed=40; the Yan'an elevated road (trunk) is not: 80 km/h default
    for name, speed, source in (("外滩隧道", 40.0, "maxspeed"), ("延安高架路", 80.0, "class"), ("延安东路", 60.0, "class")):
        simplified, pieces = edges(G, name), edges(raw, name)
        assert simplified and pieces
        for d in simplified:
            assert (d["speed_kph"], d["speed_source"]) == (speed, source)
            assert d["travel_time"] == pytest.approx(d["length"] / (speed / 3.6), rel=1e-9)
        # simplification keeps lengths and times exactly
        assert sum(d["length"] for d in simplified) == pytest.approx(sum(d["length"] for d in pieces), rel=1e-9)
        assert sum(d["travel_time"] for d in simplified) == pytest.approx(
            sum(d["travel_time"] for d in pieces), rel=1e-9
        )
    tunnel_km = sum(d["length"] for d in edges(raw, "外滩隧道")) / 1000
    tunnel_min = sum(d["travel_time"] for d in edges(raw, "外滩隧道")) / 60
    assert tunnel_min == pytest.approx(tunnel_km / 40 * 60, rel=1e-9)
    # every edge has the contract's road attributes
    for _, _, d in G.edges(data=True):
        assert d["mode"] == "road" and isinstance(d["lanes"], int) and d["capacity"] > 0 and d["travel_time"] > 0


def _way_lengths_by_name(path: Path) -> dict[str, float]:
    """Ellipsoidal (WGS84) length of the passenger ways per name, read independently of the reader."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    root = ET.parse(path).getroot()
    coords = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    totals: dict[str, float] = {}
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if tags.get("railway") != "rail" or tags.get("service") in osm_tags.RAIL_EXCLUDED_SERVICES:
            continue
        points = [coords[nd.get("ref")] for nd in way.iter("nd")]
        lons, lats = zip(*points, strict=True)
        name = tags.get("name", "")
        totals[name] = totals.get(name, 0.0) + geod.line_length(lons, lats)
    return totals


def test_hongqiao_hsr_lines_present_connected_and_measured(hongqiao: Path) -> None:
    full = graph_from_osm(hongqiao, network="rail", retain_all=True, cache=False)
    main = graph_from_osm(hongqiao, network="rail", cache=False)  # largest connected piece
    names = {d.get("name") for _, _, d in main.edges(data=True)}
    assert {HSR_BEIJING_SHANGHAI, HSR_SHANGHAI_HANGZHOU} <= names
    assert nx.is_strongly_connected(main)
    # a path along the two lines: from the Beijing-Shanghai HSR to the Shanghai-Hangzhou HSR
    a = next(u for u, _, d in main.edges(data=True) if d.get("name") == HSR_BEIJING_SHANGHAI)
    b = next(u for u, _, d in main.edges(data=True) if d.get("name") == HSR_SHANGHAI_HANGZHOU)
    assert nx.has_path(main, a, b) and nx.has_path(main, b, a)
    # yards, sidings, spurs and crossovers are not in the passenger graph
    assert not {d["service"] for _, _, d in full.edges(data=True)} & osm_tags.RAIL_EXCLUDED_SERVICES
    assert {d["service"] for _, _, d in full.edges(data=True)} == {""}
    # main-line km (centreline) within 1 % of the geodesic length of their ways
    expected = _way_lengths_by_name(hongqiao)
    km = graph_summary(full)
    for name in (HSR_BEIJING_SHANGHAI, HSR_SHANGHAI_HANGZHOU, "沪昆线", "沪宁城际铁路"):
        ours = sum(d["length"] for _, _, d in full.edges(data=True) if d.get("name") == name) / 2
        assert ours == pytest.approx(expected[name], rel=0.01), name
        assert ours > 20_000
    total = sum(expected.values())
    assert km["km_by_mode"]["rail"] * 1000 == pytest.approx(total, rel=0.01)
    for u, v, d in full.edges(data=True):
        assert d["mode"] == "rail" and full.has_edge(v, u)


def test_hongqiao_yards_are_in_the_file(hongqiao: Path) -> None:
    """Guard: the exclusions above are real (the file has yards, sidings, spurs, crossovers)."""
    text = hongqiao.read_text(encoding="utf-8")
    found = set(re.findall(r'k="service" v="([^"]+)"', text))
    assert {"yard", "siding", "spur", "crossover"} <= found


@pytest.mark.parametrize(("which", "network"), [("jingan", "road"), ("hongqiao", "rail")])
def test_real_xml_and_pbf_give_the_same_graph(
    request: pytest.FixtureRequest, tmp_path: Path, which: str, network: str
) -> None:
    path = request.getfixturevalue(which)
    pbf = write_pbf(path, tmp_path / f"{which}.osm.pbf")
    classes = osm_tags.DRIVE_ROAD_CLASSES
    xml = graph_from_osm(path, network=network, road_classes=classes, retain_all=True, cache=False)
    via_pbf = graph_from_osm(pbf, network=network, road_classes=classes, retain_all=True, cache=False)
    via_osmium_xml = graph_from_osm(
        path, network=network, road_classes=classes, retain_all=True, engine="osmium", cache=False
    )
    assert xml.number_of_edges() > 100
    assert_same_graph(xml, via_pbf)
    assert_same_graph(xml, via_osmium_xml)
    # the compiled PBF reader (the default above) and pyosmium's read the same data
    from networks import pbf as compiled
    from networks.osm_pbf import read_osm_pbf

    for options in ("", "pbf_dense_nodes=false,pbf_compression=none"):
        pbf = write_pbf(path, tmp_path / f"{which}-{len(options)}.osm.pbf", options=options)
        assert_same_osm_data(compiled._decode(pbf.read_bytes(), str(pbf)), read_osm_pbf(pbf))


def test_real_bz2(jingan: Path, tmp_path: Path) -> None:
    import bz2

    packed = tmp_path / "jingan.osm.bz2"
    packed.write_bytes(bz2.compress(jingan.read_bytes()))
    a = graph_from_osm(jingan, cache=False)
    b = graph_from_osm(packed, cache=False)
    assert (a.number_of_nodes(), a.number_of_edges()) == (b.number_of_nodes(), b.number_of_edges())


@pytest.mark.parametrize(("which", "network"), [("jingan", "road"), ("hongqiao", "rail")])
def test_fast_attribute_rule_equals_osmnx_edge_attrs_differ(
    request: pytest.FixtureRequest, which: str, network: str
) -> None:
    """Our precomputed 'attributes differ' endpoints give osmnx's edge_attrs_differ result."""
    import osmnx as ox

    from networks.osm_options import _RAIL_DIFFER, _ROAD_DIFFER

    path = request.getfixturevalue(which)
    classes = osm_tags.DRIVE_ROAD_CLASSES
    raw = graph_from_osm(path, network=network, road_classes=classes, simplify=False, retain_all=True, cache=False)
    reference = ox.simplify_graph(
        raw,
        node_attrs_include=["station"] if network == "rail" else None,
        edge_attrs_differ=_RAIL_DIFFER if network == "rail" else _ROAD_DIFFER,
        edge_attr_aggs={"length": sum, "travel_time": sum, "lanes": min, "capacity": min},
    )
    ours = graph_from_osm(path, network=network, road_classes=classes, retain_all=True, cache=False)
    assert set(ours.nodes) == set(reference.nodes)
    assert sorted((u, v, round(d["length"], 6)) for u, v, d in ours.edges(data=True)) == sorted(
        (u, v, round(d["length"], 6)) for u, v, d in reference.edges(data=True)
    )


def test_road_build_on_arrays_equals_the_graph_edit_path(jingan: Path) -> None:
    """build_road_graph prunes and simplifies on plain dicts before building the graph
    (osm_build._fast_graph); the reference is the networkx path rail still uses (_prune, then
    _simplify on the whole graph).  Same nodes, the same edges with the same keys, attributes
    (in the same order) and geometries, for every combination of the options."""
    from networks import osm_build
    from networks.osm import read_osm
    from networks.osm_options import _ROAD_DIFFER, RoadOptions

    data = read_osm(jingan)
    captured: dict[str, osm_build._EdgeRows] = {}
    fast = osm_build._fast_graph

    def spy(rows, **kw):  # noqa: ANN001, ANN003, ANN202
        captured["rows"] = rows
        return fast(rows, **kw)

    osm_build._fast_graph = spy
    try:
        for retain_all in (True, False):
            for simplify in (True, False):
                for keep in (True, False):
                    G = osm_build.build_road_graph(data, options=RoadOptions(classes=osm_tags.DRIVE_ROAD_CLASSES),
                                                   retain_all=retain_all, simplify=simplify,
                                                   keep_attribute_changes=keep)
                    H = osm_build._prune(captured["rows"].graph(), retain_all)
                    if simplify:
                        H = osm_build._simplify(H, _ROAD_DIFFER if keep else None, None)
                    if retain_all:  # the pruned reference lists its nodes in a set's order
                        assert list(G.nodes(data=True)) == list(H.nodes(data=True))
                    assert sorted(G.nodes) == sorted(H.nodes)
                    ours = sorted(G.edges(keys=True, data=True), key=lambda e: e[:3])
                    ref = sorted(H.edges(keys=True, data=True), key=lambda e: e[:3])
                    assert [e[:3] for e in ours] == [e[:3] for e in ref]
                    for (*_, a), (*_, b) in zip(ours, ref):
                        ga, gb = a.pop("geometry", None), b.pop("geometry", None)
                        assert list(a.items()) == list(b.items())
                        assert (ga is None and gb is None) or ga.equals_exact(gb, 0)
                    assert G.graph["dropped_components"] == H.graph["dropped_components"]
                    assert G.graph.get("simplified") == H.graph.get("simplified")
    finally:
        osm_build._fast_graph = fast
