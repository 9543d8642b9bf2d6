"""User-equilibrium assignment against published solutions and closed forms."""

from __future__ import annotations

import json
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
from conftest import shared_file

from networks.errors import InfeasibleError, InputError
from networks.tntp import RoadNetwork, flows_to_link_array, read_tntp_flows, read_tntp_network, read_tntp_trips
from solvers.assignment import assign, relative_gap, shortest_path_costs
from solvers.vdf import VolumeDelayFunction

SF_BEST_TSTT = 7480225.34
SF_BECKMANN = 4231335.287  # TNTP README "optimal objective"


def _tntp(name, prefix):
    folder = ("data", "tntp", name)
    net = read_tntp_network(shared_file(*folder, f"{prefix}_net.tntp"))
    demand = read_tntp_trips(shared_file(*folder, f"{prefix}_trips.tntp"), n_zones=net.n_zones)
    return net, demand


@pytest.fixture(scope="module")
def sioux_falls():
    return _tntp("SiouxFalls", "SiouxFalls")


@pytest.fixture(scope="module")
def sf_reference(sioux_falls):
    net, _ = sioux_falls
    return flows_to_link_array(net, read_tntp_flows(shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_flow.tntp")))


def _max_rel_error(flows, ref):
    big = ref > 100
    return float(np.max(np.abs(flows[big] - ref[big]) / ref[big]))


def test_sioux_falls_gp_high_precision(sioux_falls, sf_reference):
    net, demand = sioux_falls
    res = assign(net, demand, algorithm="gp", gap=1e-6)
    assert res.converged and res.gap <= 1e-6
    assert abs(res.tstt - SF_BEST_TSTT) / SF_BEST_TSTT < 1e-4  # within 0.01 %
    assert _max_rel_error(res.flows, sf_reference) < 0.005  # within 0.5 %
    assert res.objective == pytest.approx(SF_BECKMANN, rel=1e-6)
    assert res.lower_bound <= SF_BECKMANN + 1e-3 <= res.objective + 1.0
    # independent check of the reported gap
    assert relative_gap(net, demand, res.flows) == pytest.approx(res.gap, rel=1e-6, abs=1e-12)
    frame = res.to_frame()
    assert list(frame.columns[:4]) == ["tail", "head", "flow", "cost"]
    assert frame["tail"].iloc[0] == 1 and frame["head"].iloc[0] == 2
    hist = res.history
    assert hist["iteration"].iloc[-1] == res.iterations and hist["gap"].iloc[-1] == res.gap
    assert (np.diff(hist["seconds"]) >= 0).all()


@pytest.mark.parametrize("algorithm, iterations", [("fw", 3000), ("cfw", 2000), ("bfw", 2000)])
def test_sioux_falls_frank_wolfe_family(sioux_falls, sf_reference, algorithm, iterations):
    net, demand = sioux_falls
    res = assign(net, demand, algorithm=algorithm, gap=1e-4, max_iterations=iterations)
    assert res.converged and res.algorithm == algorithm
    # TSTT at gap g is within about g of the optimum's
    assert abs(res.tstt - SF_BEST_TSTT) / SF_BEST_TSTT < 2e-3
    assert _max_rel_error(res.flows, sf_reference) < 0.05


def test_bfw_beats_fw(sioux_falls):
    net, demand = sioux_falls
    fw = assign(net, demand, algorithm="fw", gap=1e-4, max_iterations=5000)
    bfw = assign(net, demand, algorithm="bfw", gap=1e-4)
    assert bfw.iterations < fw.iterations / 4


def test_bfw_high_precision(sioux_falls, sf_reference):
    net, demand = sioux_falls
    res = assign(net, demand, algorithm="bfw", gap=1e-6, max_iterations=5000)
    assert res.converged
    assert abs(res.tstt - SF_BEST_TSTT) / SF_BEST_TSTT < 1e-4
    assert _max_rel_error(res.flows, sf_reference) < 0.005


@pytest.mark.parametrize("algorithm", ["bfw", "gp"])
def test_anaheim(algorithm):
    net, demand = _tntp("Anaheim", "Anaheim")
    ref = read_tntp_flows(shared_file("data", "tntp", "Anaheim", "Anaheim_flow.tntp"))
    best = float((ref["volume"] * ref["cost"]).sum())
    res = assign(net, demand, algorithm=algorithm, gap=1e-5)
    assert res.converged
    assert abs(res.tstt - best) / best < 5e-4  # within 0.05 %
    # zones (below FIRST THRU NODE) carry no through traffic: flow into a zone equals the
    # demand ending there, flow out of it the demand starting there
    into = np.bincount(net.head, weights=res.flows, minlength=net.n_nodes)[: net.n_zones]
    out = np.bincount(net.tail, weights=res.flows, minlength=net.n_nodes)[: net.n_zones]
    np.testing.assert_allclose(into, demand.sum(axis=0), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(out, demand.sum(axis=1), rtol=1e-9, atol=1e-6)


def test_braess_paradox():
    net, demand = _tntp("Braess-Example", "Braess")
    with_link = assign(net, demand, algorithm="gp", gap=1e-10)
    middle = net.link_index(3, 4)
    without = np.ones(net.n_links, dtype=bool)
    without[middle] = False
    without_link = assign(net, demand, algorithm="gp", gap=1e-10, active=without)
    # the textbook numbers: every route costs 92 with the link, 83 without
    assert with_link.tstt == pytest.approx(6 * 92, rel=1e-6)
    assert without_link.tstt == pytest.approx(6 * 83, rel=1e-6)
    assert with_link.od_costs[0, 1] == pytest.approx(92, rel=1e-6)
    assert without_link.flows[middle] == 0.0
    assert with_link.tstt > without_link.tstt  # adding the link made everyone worse off
    for algorithm in ("fw", "cfw", "bfw"):
        res = assign(net, demand, algorithm=algorithm, gap=1e-6, max_iterations=20000)
        assert res.tstt == pytest.approx(6 * 92, rel=1e-4)


def _toy(first_thru_node=0):
    """Zones 0 and 1 with a free shortcut through zone 2 and a slow road through node 3."""
    return RoadNetwork(
        n_nodes=4, n_zones=3, first_thru_node=first_thru_node,
        tail=[0, 2, 0, 3], head=[2, 1, 3, 1],
        capacity=[100.0] * 4, length=[1.0] * 4, free_flow_time=[1.0, 1.0, 5.0, 5.0],
        b=[0.15] * 4, power=[4.0] * 4, speed=[0.0] * 4, toll=[0.0] * 4, link_type=[1] * 4,
        node_ids=[1, 2, 3, 4], name="toy",
    )


@pytest.mark.parametrize("algorithm", ["fw", "bfw", "gp"])
def test_zones_carry_no_through_traffic(algorithm):
    demand = np.zeros((3, 3))
    demand[0, 1] = 10.0
    through = assign(_toy(0), demand, algorithm=algorithm, gap=1e-8)
    assert through.flows[0] == pytest.approx(10.0)  # via zone 3 when allowed
    blocked = assign(_toy(3), demand, algorithm=algorithm, gap=1e-8)
    assert blocked.flows[0] == 0.0 and blocked.flows[2] == pytest.approx(10.0)
    # demand to zone 3 still arrives when zones are blocked
    demand[0, 2] = 4.0
    res = assign(_toy(3), demand, algorithm=algorithm, gap=1e-8)
    assert res.flows[0] == pytest.approx(4.0)


def test_unreachable_demand_is_reported():
    net = _toy(0)
    demand = np.zeros((3, 3))
    demand[0, 1] = 10.0
    demand[1, 0] = 2.5  # no link leaves zone 2
    with pytest.raises(InfeasibleError, match=r"1 OD pairs with demand 2.5 have no path.*2->1"):
        assign(net, demand)
    res = assign(net, demand, algorithm="gp", unreachable="skip", gap=1e-8)
    assert res.unreachable.to_dict("records") == [{"origin": 2, "destination": 1, "demand": 2.5}]
    assert res.summary()["unreachable_demand"] == 2.5
    assert res.flows[0] == pytest.approx(10.0)
    # switching links off can make demand unreachable too
    active = np.array([False, True, False, True])
    demand[1, 0] = 0.0
    with pytest.raises(InfeasibleError):
        assign(net, demand, active=active)


def test_bad_arguments(sioux_falls):
    net, demand = sioux_falls
    with pytest.raises(InputError, match="unknown algorithm"):
        assign(net, demand, algorithm="tapas-x")
    with pytest.raises(InputError, match="shape"):
        assign(net, demand[:3, :3])
    with pytest.raises(InputError, match="active mask"):
        assign(net, demand, active=np.ones(3, dtype=bool))
    with pytest.raises(InputError, match=">= 0"):
        assign(net, -demand)


def test_warm_start_after_toggling_links(sioux_falls):
    net, demand = sioux_falls
    base = assign(net, demand, algorithm="gp", gap=1e-6)
    active = np.ones(net.n_links, dtype=bool)
    active[[net.link_index(10, 15), net.link_index(15, 10)]] = False
    cold = assign(net, demand, algorithm="gp", gap=1e-7, active=active)
    warm = assign(net, demand, algorithm="gp", gap=1e-7, active=active, warm_start=base)
    assert warm.converged and not warm.notes
    assert warm.flows[~active].sum() == 0.0
    assert warm.tstt == pytest.approx(cold.tstt, rel=1e-6)
    assert warm.iterations <= cold.iterations
    # back to the full network from the reduced one: new links are picked up
    again = assign(net, demand, algorithm="gp", gap=1e-9, warm_start=warm)
    assert again.tstt == pytest.approx(SF_BEST_TSTT, rel=1e-6)
    # FW family from a link-flow array
    bfw = assign(net, demand, algorithm="bfw", gap=1e-5, warm_start=base.flows)
    assert bfw.converged and bfw.iterations <= 3
    ignored = assign(net, demand, algorithm="bfw", gap=1e-4, active=active, warm_start=base)
    assert ignored.converged and "inactive" in ignored.notes[0]


def test_warm_start_with_appended_links(sioux_falls):
    net, demand = sioux_falls
    base = assign(net, demand, algorithm="gp", gap=1e-6)
    bigger = net.with_links(tail=net.index_of([1]), head=net.index_of([20]), capacity=5000.0, free_flow_time=3.0)
    warm = assign(bigger, demand, algorithm="gp", gap=1e-9, warm_start=base)
    cold = assign(bigger, demand, algorithm="gp", gap=1e-9)
    assert warm.tstt == pytest.approx(cold.tstt, rel=1e-6)
    assert warm.flows[-1] > 0


def test_scaled_instance(sioux_falls):
    net, demand = sioux_falls
    res = assign(net.scaled(capacity=1e-3), demand * 1e-3, algorithm="gp", gap=1e-6)
    assert res.tstt == pytest.approx(7480.225, rel=1e-4)


def test_system_optimal(sioux_falls):
    net, demand = sioux_falls
    ue = assign(net, demand, algorithm="gp", gap=1e-7)
    so = assign(net, demand, algorithm="gp", gap=1e-7, system_optimal=True)
    assert so.system_optimal and so.converged
    assert so.lower_bound <= so.tstt < ue.tstt
    # for BPR the system optimum is the equilibrium with b * (power + 1)
    twin = RoadNetwork(**{**{f: getattr(net, f) for f in net.__dataclass_fields__}, "b": net.b * (net.power + 1)})
    ue_twin = assign(twin, demand, algorithm="gp", gap=1e-8)
    np.testing.assert_allclose(so.flows, ue_twin.flows, rtol=2e-3, atol=5.0)
    so_bfw = assign(net, demand, algorithm="bfw", gap=1e-5, system_optimal=True)
    assert so_bfw.tstt == pytest.approx(so.tstt, rel=1e-4)
    assert so_bfw.lower_bound <= so.tstt * (1 + 1e-9)


class _NumpyBPR(VolumeDelayFunction):
    """A user-written VDF (numpy only) that happens to be BPR."""

    def cost(self, flow, net):
        return net.free_flow_time * (1 + net.b * (flow / net.capacity) ** net.power)

    def derivative(self, flow, net):
        return net.free_flow_time * net.b * net.power * flow ** (net.power - 1) / net.capacity**net.power


def test_custom_and_conical_vdf(sioux_falls):
    net, demand = sioux_falls
    builtin = assign(net, demand, algorithm="bfw", gap=1e-5)
    custom = assign(net, demand, algorithm="bfw", gap=1e-5, vdf=_NumpyBPR())
    assert custom.tstt == pytest.approx(builtin.tstt, rel=1e-4)
    assert custom.objective == pytest.approx(builtin.objective, rel=1e-4)
    with pytest.raises(InputError, match="built-in VDF"):
        assign(net, demand, algorithm="gp", vdf=_NumpyBPR())
    with pytest.raises(InputError, match="second_derivative"):
        assign(net, demand, algorithm="bfw", vdf=_NumpyBPR(), system_optimal=True)
    conical_gp = assign(net, demand, algorithm="gp", gap=1e-6, vdf="conical")
    conical_bfw = assign(net, demand, algorithm="bfw", gap=1e-5, vdf="conical")
    assert conical_bfw.tstt == pytest.approx(conical_gp.tstt, rel=1e-3)
    assert conical_gp.tstt != pytest.approx(builtin.tstt, rel=1e-3)


def test_networkx_two_routes_closed_form():
    g = nx.MultiDiGraph()
    # two parallel roads A -> B, linear delays: t1 = 10 (1 + x/1000), t2 = 12 (1 + x/1000) minutes
    g.add_edge("A", "B", travel_time=600.0, capacity=1000.0, length=9000.0, bpr_b=1.0, bpr_power=1.0)
    g.add_edge("A", "B", travel_time=720.0, capacity=1000.0, length=8000.0, bpr_b=1.0, bpr_power=1.0)
    g.add_edge("B", "A", travel_time=600.0, capacity=1000.0, length=9000.0)
    net = RoadNetwork.from_networkx(g, zones=["A", "B"])
    demand = np.array([[0.0, 3000.0], [0.0, 0.0]])
    for algorithm in ("bfw", "gp"):
        res = assign(net, demand, algorithm=algorithm, gap=1e-10)
        # 10 + x1/100 = 12 + 0.012 x2, x1 + x2 = 3000  ->  x1 = 38 / 0.022
        assert res.flows[0] == pytest.approx(38 / 0.022, rel=1e-6)
        assert res.flows[1] == pytest.approx(3000 - 38 / 0.022, rel=1e-6)
    od = shortest_path_costs(net, net.free_flow_time)
    assert od[0, 1] == 10.0 and od[1, 0] == 10.0


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "transit", "assign", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_json():
    net = shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_net.tntp")
    trips = shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_trips.tntp")
    proc = _cli("--net", str(net), "--trips", str(trips), "--algorithm", "gp", "--gap", "1e-6", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("tstt", "gap", "iterations", "seconds", "algorithm"):
        assert key in out
    assert out["algorithm"] == "gp" and out["gap"] <= 1e-6
    assert abs(out["tstt"] - SF_BEST_TSTT) / SF_BEST_TSTT < 1e-4


def test_cli_bad_input(tmp_path):
    net = tmp_path / "bad_net.tntp"
    net.write_text("<NUMBER OF ZONES> 1\n<END OF METADATA>\n")
    proc = _cli("--net", str(net), "--trips", str(net), "--json")
    assert proc.returncode == 2
    assert "missing metadata <NUMBER OF NODES>" in proc.stderr
    assert proc.stdout == ""


def test_assign_graph_with_road_classes():
    from solvers.assignment import assign_graph

    g = nx.MultiDiGraph()
    g.add_edge(1, 2, highway="motorway", travel_time=600.0, length=9000.0)
    g.add_edge(1, 2, highway=["primary", "secondary"], travel_time=720.0, length=8000.0)
    g.add_edge(2, 3, highway="residential", travel_time=0.0, length=0.0)  # zero-length segment
    g.add_edge(3, 1, highway="primary", travel_time=900.0, length=12000.0)
    g.add_edge(1, 1, highway="service", travel_time=10.0)  # self-loop: ignored
    caps = {"motorway": 4000.0, "primary": 1500.0, "secondary": 1000.0, "residential": 500.0}
    res, edges = assign_graph(
        g, {(1, 3): 8000.0, (3, 1): 100.0}, zones=[1, 3], capacity_by_class=caps, algorithm="gp", gap=1e-9
    )
    assert list(edges.columns[:4]) == ["u", "v", "key", "flow"]
    assert len(edges) == 4 and res.converged
    by_key = edges.set_index(["u", "v", "key"])
    assert by_key.loc[(1, 2, 1), "capacity"] == 1500.0  # largest listed class
    assert by_key.loc[(2, 3, 0), "flow"] == pytest.approx(8000.0)
    assert by_key.loc[(3, 1, 0), "flow"] == pytest.approx(100.0)
    # both parallel roads used, at equal travel times (seconds)
    t_a, t_b = by_key.loc[(1, 2, 0), "travel_time"], by_key.loc[(1, 2, 1), "travel_time"]
    assert by_key.loc[(1, 2, 0), "flow"] + by_key.loc[(1, 2, 1), "flow"] == pytest.approx(8000.0)
    assert by_key.loc[(1, 2, 1), "flow"] > 100
    assert t_a == pytest.approx(t_b, rel=1e-6)
    with pytest.raises(InputError, match="not in 'zones'"):
        assign_graph(g, {(1, 2): 5.0}, zones=[1, 3], capacity_by_class=caps)


#: AequilibraE 1.7.2 `bfw` on Berlin-Center to its relative gap 1e-5 (55 iterations; the gap re-measured
#: with our shortest paths 1.00e-5), zero free-flow times raised to 1e-6 min for it
#: (`python -m benchmarks.run berlin`, docs/benchmarks.md).
BERLIN_AEQ_TSTT_1E5 = 21_275_164.7


def test_berlin_center_conserves_demand_and_matches_aequilibrae():
    """City scale (12,981 nodes, 28,376 links with six duplicates kept, 865 zones): `gp` to 1e-5
    conserves the demand at every node and its TSTT is AequilibraE's at the same gap within 0.1 %."""
    net = read_tntp_network(shared_file("data", "tntp", "Berlin-Center", "berlin-center_net.tntp"))
    demand = read_tntp_trips(shared_file("data", "tntp", "Berlin-Center", "berlin-center_trips.tntp"),
                             n_zones=net.n_zones)
    res = assign(net, demand, algorithm="gp", gap=1e-5)
    assert res.converged and res.gap <= 1e-5
    assert relative_gap(net, demand, res.flows) <= 1e-5
    # node balance: what arrives minus what leaves is what ends there minus what starts there
    q = demand.copy()
    np.fill_diagonal(q, 0.0)
    balance = np.bincount(net.head, res.flows, net.n_nodes) - np.bincount(net.tail, res.flows, net.n_nodes)
    expected = np.zeros(net.n_nodes)
    expected[: net.n_zones] = q.sum(axis=0) - q.sum(axis=1)
    assert np.abs(balance - expected).max() <= 1e-6 * q.sum()
    assert res.tstt == pytest.approx(BERLIN_AEQ_TSTT_1E5, rel=1e-3)
