"""Property-based tests (hypothesis) of the readers and of solver invariants.

Readers: what is written in a format is read back exactly (TNTP network and trips, DNDP
instances, OSM XML, OD CSV, configuration TOML). Solvers: user-equilibrium flows conserve
demand at every node; more budget never worsens the optimal selection; removing a chosen
project never improves the network; a programme never spends over a yearly cap.
Derandomised (``derandomize=True``), so a CI run is reproducible; ``python -m tests.fuzz``
is the long, randomised search.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from networks.geometry import haversine_km
from networks.osm import graph_from_osm
from networks.tntp import read_tntp_network, read_tntp_trips
from solvers.assignment import assign
from solvers.dndp import read_dndp_instance
from solvers.programme import ProgrammeProject, solve_programme
from solvers.selection import evaluate_design, solve_selection
from transit.config import load_config
from transit.model.demand import read_od
from transit.model.zones import load_zones

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

positive = st.floats(0.01, 1e5, allow_nan=False, allow_infinity=False)
nonneg = st.floats(0.0, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def networks_(draw, min_nodes=2, max_nodes=7):
    """A TNTP network: n nodes, the first ``zones`` of them zones, distinct directed links.

    Free-flow times are positive: with a BPR ``b > 0`` a zero one is refused (tested elsewhere).
    """
    n = draw(st.integers(min_nodes, max_nodes))
    zones = draw(st.integers(1, n))
    pairs = draw(st.lists(st.tuples(st.integers(1, n), st.integers(1, n)).filter(lambda p: p[0] != p[1]),
                          min_size=1, max_size=12, unique=True))
    links = [(a, b, draw(positive), draw(nonneg), draw(positive), draw(st.floats(0, 1)), draw(st.sampled_from([1.0, 4.0])),
              draw(nonneg), draw(nonneg), draw(st.integers(1, 9))) for a, b in pairs]
    return n, zones, draw(st.integers(1, zones)), links


def _net_text(n, zones, first_thru, links, *, costs=None):
    extra = f"<NUMBER OF NEW LINKS> {len(costs)}\n" if costs is not None else ""
    lines = [f"<NUMBER OF ZONES> {zones}\n<NUMBER OF NODES> {n}\n<FIRST THRU NODE> {first_thru}\n"
             f"<NUMBER OF LINKS> {len(links) - len(costs or ())}\n{extra}<END OF METADATA>\n\n~ init term capacity length fft b power "
             "speed toll type ;\n"]
    for k, link in enumerate(links):
        cost = "" if costs is None else f"\t{costs[k - (len(links) - len(costs))] if k >= len(links) - len(costs) else 0!r}"
        lines.append("\t" + "\t".join(repr(x) for x in link) + cost + "\t;\n")
    return "".join(lines)


@SETTINGS
@given(networks_())
def test_tntp_network_reads_back_what_was_written(tmp_path_factory, spec):
    n, zones, first_thru, links = spec
    path = tmp_path_factory.mktemp("tntp") / "x_net.tntp"
    path.write_text(_net_text(n, zones, first_thru, links))
    net = read_tntp_network(path)
    assert (net.n_nodes, net.n_zones, net.first_thru_node) == (n, zones, first_thru - 1)
    columns = np.array([link[2:9] for link in links], dtype=float)
    np.testing.assert_array_equal(net.tail + 1, [link[0] for link in links])
    np.testing.assert_array_equal(net.head + 1, [link[1] for link in links])
    for k, name in enumerate(("capacity", "length", "free_flow_time", "b", "power", "speed", "toll")):
        np.testing.assert_array_equal(getattr(net, name), columns[:, k])


@SETTINGS
@given(st.integers(1, 6).flatmap(lambda z: st.lists(st.lists(nonneg, min_size=z, max_size=z), min_size=z, max_size=z)))
def test_tntp_trips_read_back_what_was_written(tmp_path_factory, rows):
    demand = np.array(rows)
    np.fill_diagonal(demand, 0.0)
    body = "".join(f"Origin {i + 1}\n" + "".join(f"{j + 1} : {float(demand[i, j])!r};\n" for j in range(len(demand)))
                   for i in range(len(demand)))
    path = tmp_path_factory.mktemp("tntp") / "x_trips.tntp"
    path.write_text(f"<NUMBER OF ZONES> {len(demand)}\n<TOTAL OD FLOW> {float(demand.sum())!r}\n<END OF METADATA>\n\n{body}")
    np.testing.assert_array_equal(read_tntp_trips(path), demand)


@SETTINGS
@given(networks_(min_nodes=3), st.data())
def test_dndp_instance_reads_back_candidates_and_costs(tmp_path_factory, spec, data):
    n, zones, first_thru, links = spec
    k = data.draw(st.integers(1, len(links)))
    costs = data.draw(st.lists(st.floats(0.5, 1e4), min_size=k, max_size=k))
    path = tmp_path_factory.mktemp("dndp") / "inst.txt"
    path.write_text(_net_text(n, zones, first_thru, links, costs=costs))
    inst = read_dndp_instance(path, capacity_scale=1.0)
    np.testing.assert_array_equal(inst.candidates, np.arange(len(links) - k, len(links)))
    np.testing.assert_array_equal(inst.costs, costs)
    np.testing.assert_array_equal(inst.network.capacity, [link[2] for link in links])


@st.composite
def osm_ways(draw):
    """A few nodes near Shanghai and highway ways through them (no repeated consecutive node)."""
    grid = draw(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), min_size=2, max_size=8, unique=True))
    coords = [(121.40 + 0.001 * i, 31.20 + 0.001 * j) for i, j in grid]  # distinct points ~100 m apart or more
    n = len(coords)
    ways = []
    for _ in range(draw(st.integers(1, 4))):
        refs = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=6))
        refs = [r for i, r in enumerate(refs) if i == 0 or r != refs[i - 1]]
        if len(refs) >= 2:
            ways.append((refs, draw(st.sampled_from(["primary", "secondary", "motorway", "residential"])),
                         draw(st.sampled_from([None, "yes", "no"]))))
    return coords, ways


@settings(SETTINGS, max_examples=20)
@given(osm_ways())
def test_osm_xml_segments_become_edges(tmp_path_factory, spec):
    coords, ways = spec
    if not ways:
        return
    nodes = "".join(f'<node id="{i + 1}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>\n'
                    for i, (lon, lat) in enumerate(coords))
    body = ""
    for w, (refs, highway, oneway) in enumerate(ways):
        tags = f'<tag k="highway" v="{highway}"/>' + (f'<tag k="oneway" v="{oneway}"/>' if oneway else "")
        body += f'<way id="{w + 1}" version="1">' + "".join(f'<nd ref="{r + 1}"/>' for r in refs) + tags + "</way>\n"
    path = tmp_path_factory.mktemp("osm") / "x.osm"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n{nodes}{body}</osm>\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        G = graph_from_osm(path, network="road", road_classes=("motorway", "primary", "secondary", "residential"),
                           simplify=False, retain_all=True, cache=False, progress=False)
    expected = 0
    km = 0.0
    for refs, highway, oneway in ways:
        directions = 1 if oneway == "yes" or (highway == "motorway" and oneway != "no") else 2
        for a, b in zip(refs, refs[1:]):
            expected += directions
            km += directions * float(haversine_km(*coords[a], *coords[b]))
    assert G.number_of_edges() == expected
    assert sum(d["length"] for _, _, d in G.edges(data=True)) / 1000 == pytest.approx(km, rel=1e-3, abs=1e-3)


@pytest.fixture(scope="module")
def zones_and_config():
    return load_zones(), load_config()


@settings(SETTINGS, max_examples=15)
@given(st.data())
def test_od_csv_zone_level_reads_back_every_intercity_trip(tmp_path_factory, zones_and_config, data):
    zones, config = zones_and_config
    ids = list(zones["zone"])
    city = dict(zip(zones["zone"], zones["city"]))
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(
        lambda p: city[p[0]] != city[p[1]]), min_size=1, max_size=12, unique=True))
    trips = data.draw(st.lists(st.floats(0, 1e5), min_size=len(pairs), max_size=len(pairs)))
    path = tmp_path_factory.mktemp("od") / "od.csv"
    path.write_text("origin,destination,trips\n" + "".join(f"{a},{b},{t!r}\n" for (a, b), t in zip(pairs, trips)))
    demand, shares = read_od(path, zones, config)
    assert shares is None
    got = demand.set_index(["origin", "destination"])["demand"]
    growth = config["demand"]["growth"]
    for (a, b), t in zip(pairs, trips):
        assert got.loc[(a, b)] == pytest.approx(t * growth, rel=1e-12, abs=1e-9)
    assert got.sum() == pytest.approx(sum(trips) * growth, rel=1e-9, abs=1e-6)


@SETTINGS
@given(st.floats(0.1, 3.0), st.floats(0.5, 1.5), st.floats(0.0, 10.0))
def test_config_overrides_read_back(tmp_path_factory, growth, speed_factor, line_change):
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text(f"[demand]\ngrowth = {growth!r}\n[rail]\nspeed_factor = {speed_factor!r}\n"
                    f"line_change_min = {line_change!r}\n")
    config = load_config(path)
    default = load_config()
    assert config["demand"]["growth"] == growth and config["rail"]["speed_factor"] == speed_factor
    assert config["rail"]["line_change_min"] == line_change
    assert config["road"] == default["road"]  # what is not overridden stays


# ----------------------------------------------------------------------------- solvers
@st.composite
def assignment_cases(draw):
    n = draw(st.integers(3, 7))
    zones = draw(st.integers(2, n))
    ring = [(i, (i + 1) % n) for i in range(n)] + [((i + 1) % n, i) for i in range(n)]  # strongly connected
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1]),
                          max_size=8))
    arcs = ring + extra
    demand = np.array(draw(st.lists(st.lists(st.floats(0, 50), min_size=zones, max_size=zones),
                                    min_size=zones, max_size=zones)))
    np.fill_diagonal(demand, 0.0)
    fft = draw(st.lists(st.floats(0.5, 10), min_size=len(arcs), max_size=len(arcs)))
    cap = draw(st.lists(st.floats(5, 100), min_size=len(arcs), max_size=len(arcs)))
    return n, zones, arcs, fft, cap, demand


@settings(SETTINGS, max_examples=30)
@given(assignment_cases(), st.sampled_from(["bfw", "gp"]))
def test_ue_flows_conserve_demand_at_every_node(case, algorithm):
    from networks.tntp import RoadNetwork

    n, zones, arcs, fft, cap, demand = case
    m = len(arcs)
    net = RoadNetwork(n_nodes=n, n_zones=zones, first_thru_node=0, tail=[a for a, _ in arcs], head=[b for _, b in arcs],
                      capacity=cap, length=[1.0] * m, free_flow_time=fft, b=[0.15] * m, power=[4.0] * m,
                      speed=[0.0] * m, toll=[0.0] * m, link_type=[1] * m, node_ids=list(range(1, n + 1)), name="h")
    res = assign(net, demand, algorithm=algorithm, gap=1e-6, max_iterations=200)
    assert (res.flows >= -1e-9).all()
    balance = np.zeros(n)
    np.add.at(balance, net.head, res.flows)
    np.add.at(balance, net.tail, -res.flows)
    expected = np.zeros(n)
    expected[:zones] = demand.sum(axis=0) - demand.sum(axis=1)
    np.testing.assert_allclose(balance, expected, atol=1e-6 * max(1.0, demand.sum()))


@pytest.fixture(scope="module")
def selection_instances():
    from test_selection import _random_instance

    return {seed: _random_instance(seed, n_proj=8, n_zones=7) for seed in range(4)}


@settings(SETTINGS, max_examples=12)
@given(st.integers(0, 3), st.floats(0.05, 0.9), st.floats(0.05, 0.9))
def test_more_budget_never_worsens_and_removing_a_project_never_improves(selection_instances, seed, f1, f2):
    base, projects, od = selection_instances[seed]
    total = sum(p.cost for p in projects)
    small, large = sorted((f1 * total, f2 * total))
    a = solve_selection(base, projects, od, budget=small)
    b = solve_selection(base, projects, od, budget=large)
    assert a.status == b.status == "OPTIMAL"
    assert b.objective <= a.objective * (1 + 1e-12)
    for pid in b.selected:
        rest = tuple(x for x in b.selected if x != pid)
        assert evaluate_design(base, projects, od, rest).objective >= b.objective * (1 - 1e-12)


@pytest.fixture(scope="module")
def programme_instance():
    from test_programme import _instance

    return _instance()


@settings(SETTINGS, max_examples=10)
@given(st.floats(1.0, 12.0), st.lists(st.integers(1, 3), min_size=5, max_size=5))
def test_programme_never_spends_over_a_yearly_cap(programme_instance, budget, durations):
    layers, projects, markets = programme_instance
    years = [2026, 2027, 2028, 2029]
    schedule = {p.id: ProgrammeProject(duration=d) for p, d in zip(projects, durations)}
    weights = {y: 365 * 1.08 ** -(y - 2026) for y in years}
    res = solve_programme(layers, projects, markets, years=years, schedule=schedule, yearly_budget=budget,
                          weights=weights, weight_after=3000.0, time_limit=20)
    assert res.status in ("OPTIMAL", "FEASIBLE")
    assert all(v <= budget * (1 + 1e-9) for v in res.spending.values())
    assert res.bound >= res.objective - 1e-9 and math.isfinite(res.objective)
    cost = {p.id: p.cost for p in projects}
    for pid, start in res.starts.items():  # every started project is paid for in full within the horizon
        assert start + schedule[pid].duration - 1 <= years[-1]
    assert sum(res.spending.values()) == pytest.approx(sum(cost[p] for p in res.starts), rel=1e-9)


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
ids = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def scenarios_(draw):
    from transit.scenarios import Scenario

    include = draw(st.lists(ids, max_size=3, unique=True))
    exclude = draw(st.lists(ids.filter(lambda x: x not in include), max_size=3, unique=True))
    fairness = draw(st.sampled_from(["none", "maximin"]))
    return Scenario(
        name=draw(names), budget=draw(st.floats(0, 1e4)), growth=draw(st.none() | st.floats(0.1, 5)),
        exclude_projects=tuple(exclude), include_projects=tuple(include),
        member_caps=draw(st.dictionaries(ids, st.floats(0, 500), max_size=3)),
        pairs=draw(st.none() | st.sampled_from(["axes", "all"])), ladder_steps=draw(st.integers(1, 12)),
        description=draw(st.text(max_size=30).filter(lambda t: "\x00" not in t and "\r" not in t)),
        year=draw(st.none() | st.integers(2026, 2060)), zones=draw(st.none() | st.sampled_from(["county", "city"])),
        objective=draw(st.sampled_from(["minutes", "benefit", "npv"])), fairness=fairness,
        min_improvement={} if fairness == "maximin" else draw(st.dictionaries(ids, st.floats(0, 50), max_size=2)),
        congestion=draw(st.booleans()), congestion_time_limit=draw(st.none() | st.floats(1, 1e4)),
        time_limit=draw(st.none() | st.floats(1, 1e4)))


@SETTINGS
@given(scenarios_())
def test_scenario_files_read_back_what_was_written(tmp_path_factory, scenario):
    from transit.scenarios import load_scenario

    path = tmp_path_factory.mktemp("scn") / "s.toml"
    path.write_text(scenario.to_toml(), encoding="utf-8")
    assert load_scenario(path) == scenario
