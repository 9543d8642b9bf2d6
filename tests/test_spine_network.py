"""The network half of the spine: embedded data, fast paths, conflation, multimodal graph."""

from __future__ import annotations

import hashlib
import importlib.util

import networkx as nx
import numpy as np
import pytest

from networks.conflate import CatalogueLine, Stop, conflate_lines
from networks.embedded import load_embedded_arrays, write_extract
from networks.errors import InputError
from networks.geometry import haversine_km
from networks.multimodal import AccessParameters, compose_multimodal, zone_node
from networks.paths import CompiledGraph, shortest_path_lengths, skim
from transit.config import DATA_DIR

YRD_BBOX = (117.5, 27.0, 123.0, 33.0)


EXTRACT = {d: DATA_DIR / "osm" / f"yrd_{d}.npz" for d in ("railways", "highways")}


def test_shipped_extract_clips_to_the_box():
    first = load_embedded_arrays("railways", bbox=YRD_BBOX, extract=EXTRACT["railways"])
    west, south, east, north = YRD_BBOX
    assert ((first.lon >= west) & (first.lon <= east) & (first.lat >= south) & (first.lat <= north)).all()
    assert len(first.lon) > 2000 and len(first.u) > 3000  # the YRD has thousands of km of track
    assert (first.u < first.v).all() and first.v.max() < len(first.lon)
    # scgraph-data stores km with three decimals; edge lengths agree with the coordinates
    chord = haversine_km(first.lon[first.u], first.lat[first.u], first.lon[first.v], first.lat[first.v])
    assert np.median(np.abs(first.length_km - chord)) < 0.05
    again = load_embedded_arrays("railways", bbox=YRD_BBOX, extract=EXTRACT["railways"])
    assert again.key == first.key and np.array_equal(first.u, again.u)
    other = load_embedded_arrays("railways", bbox=(120.0, 30.0, 121.0, 31.0), extract=EXTRACT["railways"])
    assert other.key != first.key and len(other.lon) < len(first.lon)
    # a clip of the clip is the clip: the nodes kept are the world nodes inside the smaller box
    inside = (first.lon >= 120) & (first.lon <= 121) & (first.lat >= 30) & (first.lat <= 31)
    assert np.array_equal(other.source_ids, first.source_ids[inside])


def test_shipped_extracts_match_their_recorded_hashes():
    """data/SOURCES.md records each extract's sha256; the files are what was recorded."""
    sources = (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for path in EXTRACT.values():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"`{path.name}` sha256 `{digest}`" in sources


@pytest.mark.slow  # regenerates the shipped extract from the world package (evidence, not every CI run)
def test_extract_equals_the_world_graph_clip(tmp_path, monkeypatch):
    pytest.importorskip("scgraph_data", reason="the world graphs (pip install scgraph-data==2.0.0) are optional")
    monkeypatch.setenv("YRD_TRANSIT_CACHE", str(tmp_path))
    for dataset, path in EXTRACT.items():
        rebuilt = write_extract(dataset, bbox=(115.0, 25.0, 125.0, 35.0), path=tmp_path / path.name)
        assert rebuilt.read_bytes() == path.read_bytes()  # byte for byte: the extract is reproducible
        for bbox in (YRD_BBOX, (120.0, 30.0, 121.0, 31.0)):
            a = load_embedded_arrays(dataset, bbox=bbox, extract=path)
            b = load_embedded_arrays(dataset, bbox=bbox)
            for name in ("lon", "lat", "u", "v", "length_km", "source_ids"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), (dataset, bbox, name)
    cached = list((tmp_path / "embedded").glob("railways-*.npz"))
    assert len(cached) == 2  # the world clips are cached, one per box
    good = {p.name: p.read_bytes() for p in cached}
    for entry in cached:  # a corrupt world clip is caught by its CRCs and rebuilt, byte for byte
        for bad in (b"", b"not a zip file at all", good[entry.name][: len(good[entry.name]) // 2]):
            entry.write_bytes(bad)
            with pytest.warns(UserWarning, match=f"{entry.name} is empty or corrupt.*rebuilding"):
                for bbox in (YRD_BBOX, (120.0, 30.0, 121.0, 31.0)):
                    load_embedded_arrays("railways", bbox=bbox)
            assert entry.read_bytes() == good[entry.name]


@pytest.mark.parametrize("content", [b"", b"not a zip file at all"])
def test_corrupt_extract_is_a_clear_error(tmp_path, content):
    entry = tmp_path / "yrd_railways.npz"
    entry.write_bytes(content)
    with pytest.raises(InputError, match="not an extract written by write_extract"):
        load_embedded_arrays("railways", bbox=YRD_BBOX, extract=entry)
    with pytest.raises(InputError, match="expected 'highways'"):
        load_embedded_arrays("highways", bbox=YRD_BBOX, extract=EXTRACT["railways"])
    with pytest.raises(InputError, match="is a folder"):
        load_embedded_arrays("railways", bbox=YRD_BBOX, extract=tmp_path)


def test_box_beyond_the_extract_needs_the_world_graphs():
    if importlib.util.find_spec("scgraph_data") is not None:
        pytest.skip("scgraph-data is installed here, so a wider box is served from the world graphs")
    with pytest.raises(InputError, match="reaches beyond the extract .* pip install scgraph-data"):
        load_embedded_arrays("railways", bbox=(100.0, 20.0, 125.0, 35.0), extract=EXTRACT["railways"])


def test_bad_bbox_and_dataset():
    with pytest.raises(InputError, match="bbox"):
        load_embedded_arrays("railways", bbox=(121.0, 30.0, 120.0, 31.0), extract=EXTRACT["railways"])
    with pytest.raises(InputError, match="unknown embedded dataset"):
        load_embedded_arrays("ferries", bbox=YRD_BBOX, extract=EXTRACT["railways"])


def test_compiled_paths_equal_networkx_dijkstra():
    rng = np.random.default_rng(7)
    G = nx.gnm_random_graph(300, 1500, seed=7, directed=True)
    M = nx.MultiDiGraph()
    for u, v in G.edges:
        M.add_edge(u, v, travel_time=float(rng.uniform(1, 10)))
        if rng.random() < 0.2:  # parallel edges: the cheaper must win
            M.add_edge(u, v, travel_time=float(rng.uniform(1, 10)))
    sources = [0, 5, 17]
    got = shortest_path_lengths(M, sources)
    compiled = CompiledGraph(M)
    for row, s in enumerate(sources):
        expected = nx.single_source_dijkstra_path_length(M, s, weight="travel_time")
        for node, value in expected.items():
            assert got[row, compiled.index[node]] == pytest.approx(value)
        unreachable = set(M.nodes) - set(expected)
        assert all(np.isinf(got[row, compiled.index[n]]) for n in unreachable)
        target = max(expected, key=expected.get)
        path = compiled.path(s, target)
        cheapest = sum(min(d["travel_time"] for d in M[u][v].values()) for u, v in zip(path, path[1:]))
        assert path[0] == s and path[-1] == target
        assert cheapest == pytest.approx(expected[target])


def test_weight_function_hides_edges_and_skim_frame():
    G = nx.MultiDiGraph()
    G.add_edge("a", "b", travel_time=5.0, mode="road")
    G.add_edge("a", "b", travel_time=1.0, mode="rail")
    G.add_edge("b", "c", travel_time=2.0, mode="road")
    road = skim(G, ["a", "b", "c"], weight=lambda u, v, d: d["travel_time"] if d["mode"] == "road" else None)
    assert road.loc["a", "c"] == 7.0
    assert skim(G, ["a", "c"]).loc["a", "c"] == 3.0
    assert np.isinf(road.loc["c", "a"])
    with pytest.raises(InputError, match="no attribute"):
        CompiledGraph(G, weight="length")


def _line_graph() -> nx.MultiDiGraph:
    """Track 0-1-2 along latitude 30, 0.1 degree apart, and an isolated node 3 far east."""
    G = nx.MultiDiGraph()
    for i, lon in enumerate([120.0, 120.1, 120.2, 121.0]):
        G.add_node(i, x=lon, y=30.0)
    for u, v in [(0, 1), (1, 2)]:
        km = float(haversine_km(G.nodes[u]["x"], 30.0, G.nodes[v]["x"], 30.0))
        for a, b in [(u, v), (v, u)]:
            G.add_edge(a, b, mode="rail", length=km * 1000, speed_kph=100.0, travel_time=km / 100 * 3600)
    return G


def test_conflation_matches_existing_track_and_adds_missing_segments():
    G = _line_graph()
    line = CatalogueLine("hsr", speed_kph=250.0, stops=[
        Stop("A", 120.0, 30.001), Stop("C", 120.2, 30.0), Stop("D", 121.0, 30.3)])
    report = conflate_lines(G, [line], mode="rail", max_snap_km=1.0, added_length_factor=1.1)
    assert list(report["status"]) == ["matched", "added"]
    for u, v in [(0, 1), (1, 2), (2, 1)]:
        (data,) = G[u][v].values()
        assert data["speed_kph"] == 250.0 and data["lines"] == ("hsr",)
        assert data["travel_time"] == pytest.approx(data["length"] / 1000 / 250 * 3600)
    names = {d["name"]: n for n, d in G.nodes(data=True) if d.get("station")}
    assert set(names) == {"A", "C", "D"}
    geodesic = float(haversine_km(120.2, 30.0, 121.0, 30.3))
    (added,) = G[names["C"]][names["D"]].values()
    assert added["length"] == pytest.approx(1.1 * geodesic * 1000)
    assert added["source"] == "catalogue"
    # D is 30 km from any track node: it stands alone, reachable only through the added link
    assert set(G.successors(names["D"])) == {names["C"]}


def test_first_catalogued_line_sets_even_a_slower_speed():
    G = _line_graph()
    slow = CatalogueLine("old_line", speed_kph=80.0, stops=[Stop("A", 120.0, 30.0), Stop("B", 120.1, 30.0)])
    fast = CatalogueLine("hsr", speed_kph=250.0, stops=[Stop("B", 120.1, 30.0), Stop("C", 120.2, 30.0)])
    conflate_lines(G, [slow, fast], mode="rail", max_snap_km=1.0)
    assert {d["speed_kph"] for d in G[0][1].values()} == {80.0}  # the catalogue beats the 100 km/h default
    assert {d["speed_kph"] for d in G[1][2].values()} == {250.0}
    again = CatalogueLine("slower_on_same_track", speed_kph=60.0, stops=[Stop("B", 120.1, 30.0), Stop("C", 120.2, 30.0)])
    conflate_lines(G, [again], mode="rail", max_snap_km=1.0)
    assert {d["speed_kph"] for d in G[1][2].values()} == {250.0}  # shared track: the fastest line wins


def test_conflation_straight_factor_shortcuts_a_winding_path():
    G = _line_graph()
    line = CatalogueLine("hsr", speed_kph=300.0, stops=[Stop("A", 120.0, 30.0), Stop("C", 120.2, 30.0)],
                         straight_factor=0.5)  # deliberately below 1: any graph path is longer
    report = conflate_lines(G, [line], mode="rail", max_snap_km=1.0)
    assert report.loc[0, "status"] == "matched+straight"
    names = {d["name"]: n for n, d in G.nodes(data=True) if d.get("station")}
    (direct,) = G[names["A"]][names["C"]].values()
    assert direct["length"] == pytest.approx(0.5 * float(haversine_km(120.0, 30.0, 120.2, 30.0)) * 1000)
    # the windier matched track is the line's corridor, but another (older) track: not sped up
    (matched,) = G[0][1].values()
    assert matched["lines"] == ("hsr",) and matched["speed_kph"] == 100.0
    # a missing segment of a straight line is added at the straight factor too
    G = _line_graph()
    line = CatalogueLine("hsr", speed_kph=300.0, stops=[Stop("C", 120.2, 30.0), Stop("D", 121.0, 30.3)],
                         straight_factor=1.05)
    report = conflate_lines(G, [line], mode="rail", max_snap_km=1.0)
    assert report.loc[0, "status"] == "added+straight"
    assert report.loc[0, "length_km"] == pytest.approx(1.05 * float(haversine_km(120.2, 30.0, 121.0, 30.3)), abs=0.01)


def test_multimodal_zones_are_endpoints_only_and_best_is_min_of_modes():
    road = nx.MultiDiGraph()
    road.add_node(1, x=120.0, y=30.0)
    road.add_node(2, x=121.0, y=30.0)
    road.add_edge(1, 2, mode="road", length=96e3, travel_time=96 / 80 * 3600)
    road.add_edge(2, 1, mode="road", length=96e3, travel_time=96 / 80 * 3600)
    rail = nx.MultiDiGraph()
    rail.add_node(11, x=120.0, y=30.01, station=True, name="West")
    rail.add_node(12, x=121.0, y=30.01, station=True, name="East")
    rail.add_edge(11, 12, mode="rail", length=96e3, travel_time=20 * 60)
    rail.add_edge(12, 11, mode="rail", length=96e3, travel_time=20 * 60)
    import pandas as pd

    zones = pd.DataFrame({"name_en": ["W", "E", "M"], "lon": [120.0, 121.0, 120.5], "lat": [30.0, 30.0, 30.0]})
    params = AccessParameters(local_kph=30, rail_access_min=10, rail_egress_min=5, stop_penalty_min=2,
                              road_terminal_min=5, station_radius_km=5, road_connectors=1, road_max_snap_km=60)
    G = compose_multimodal(road, rail, zones, params=params)
    for z in ["W", "E", "M"]:
        assert G.in_degree(zone_node(z, "o")) == 0 and G.out_degree(zone_node(z, "d")) == 0
    times = skim(G, [zone_node(z, "o") for z in "WE"], destinations=[zone_node(z, "d") for z in "WE"])
    local = float(haversine_km(120.0, 30.0, 120.0, 30.01)) / 30 * 60
    rail_min = 10 + local + 2 + 20 + 2 + 5 + local
    road_min = 5 + 72 + 5
    assert times.iloc[0, 1] / 60 == pytest.approx(min(rail_min, road_min))
    # without the rail line, road wins and the door-to-door time is the road's
    no_rail = compose_multimodal(road, rail.subgraph([11]).copy(), zones, params=params)
    only_road = skim(no_rail, [zone_node("W", "o")], destinations=[zone_node("E", "d")])
    assert only_road.iloc[0, 0] / 60 == pytest.approx(road_min)
    # M is 48 km from each end: its connector goes to a road node, never through W or E
    path = CompiledGraph(G).path(zone_node("M", "o"), zone_node("E", "d"))
    assert not any(str(n).startswith("zone:") for n in path[1:-1])


def test_path_sums_add_up_attributes_along_the_shortest_paths_networkx_finds():
    """path_sums (sums walked up SciPy's trees in NumPy, no compiled kernel): on a random directed
    graph with unique shortest paths, each attribute's sum equals its sum along networkx's path."""
    import networkx as nx

    from networks.paths import IN_TABLE_WIDTH, path_sums

    rng = np.random.default_rng(7)
    G = nx.gnm_random_graph(300, 1500, seed=3, directed=True)
    tails = np.array([u for u, _ in G.edges])
    heads = np.array([v for _, v in G.edges])
    cost = rng.uniform(1.0, 10.0, len(tails))  # continuous: ties have probability 0
    km = rng.uniform(0.0, 5.0, len(tails))
    for (u, v), c, k in zip(G.edges, cost, km):
        G.edges[u, v].update(cost=c, km=k)
    sources, targets = np.array([0, 5, 17, 299]), np.arange(0, 300, 3)
    # nodes with more in-arcs than the lookup table holds take the binary search: both are used
    indeg = np.bincount(heads, minlength=300)
    assert indeg.max() > IN_TABLE_WIDTH and (indeg[indeg > 0] <= IN_TABLE_WIDTH).any()
    dist, sums = path_sums(300, tails, heads, cost, [cost, km], sources, targets)
    checked = 0
    for i, s in enumerate(sources):
        lengths, paths = nx.single_source_dijkstra(G, int(s), weight="cost")
        for j, t in enumerate(targets):
            if int(t) not in lengths:
                assert np.isinf(dist[i, j]) and sums[:, i, j].tolist() == [0.0, 0.0]
                continue
            path = paths[int(t)]
            assert dist[i, j] == pytest.approx(lengths[int(t)], rel=1e-12)
            assert sums[0, i, j] == pytest.approx(lengths[int(t)], rel=1e-12)
            assert sums[1, i, j] == pytest.approx(sum(G.edges[a, b]["km"] for a, b in zip(path, path[1:])), rel=1e-12)
            checked += 1
    assert checked > 300


def test_path_sums_on_paths_deeper_than_the_walk_use_pointer_jumping():
    """A chain of 5,000 arcs with a shortcut: paths of up to 2,999 arcs (deeper than WALK_STEPS)
    are finished by pointer jumping, with the same sums as a cumulative sum along the chain."""
    from networks import paths

    n = 5001
    tails = np.r_[np.arange(n - 1), 10]
    heads = np.r_[np.arange(1, n), 4000]
    cost = np.r_[np.ones(n - 1), 5.0]  # the shortcut 10 -> 4000 saves 3,985 arcs
    km = np.r_[np.arange(1, n) / 1000.0, 7.0]
    sources, targets = np.array([0, 2500]), np.array([0, 5, 2999, 3999, 4000, 5000])
    assert paths.WALK_STEPS < 2999  # from 0 to 2999 and from 2500 to 5000 the walk does not reach the root
    dist, sums = paths.path_sums(n, tails, heads, cost, [cost, km], sources, targets)
    along = np.r_[0.0, np.cumsum(np.arange(1, n) / 1000.0)]  # km from node 0 along the chain
    via = along[10] + 7.0 - along[4000]  # from 0 to t >= 4000: the shortcut
    assert dist[0].tolist() == [0, 5, 2999, 3999, 15, 1015] and sums[0, 0].tolist() == dist[0].tolist()
    np.testing.assert_allclose(sums[1, 0], [0, along[5], along[2999], along[3999], along[4000] + via,
                                            along[5000] + via], rtol=1e-12)
    assert np.isinf(dist[1, :2]).all() and dist[1, 2:].tolist() == [499, 1499, 1500, 2500]
    np.testing.assert_allclose(sums[1, 1], [0, 0, *(along[[2999, 3999, 4000, 5000]] - along[2500])], rtol=1e-12)