"""TNTP readers and RoadNetwork: real files and malformed ones."""

from __future__ import annotations

import networkx as nx
import pytest
from conftest import shared_file

from networks.errors import InputError, TNTPError
from networks.tntp import (
    RoadNetwork,
    flows_to_link_array,
    read_tntp_flows,
    read_tntp_network,
    read_tntp_nodes,
    read_tntp_trips,
)

NET_HEADER = """<NUMBER OF ZONES> 2
<NUMBER OF NODES> 3
<FIRST THRU NODE> 1
<NUMBER OF LINKS> {n}
<END OF METADATA>

~ init term capacity length fft b power speed toll type ;
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _net(tmp_path, lines, n=None):
    n = len(lines) if n is None else n
    return _write(tmp_path, "x_net.tntp", NET_HEADER.format(n=n) + "\n".join(lines) + "\n")


GOOD = ["1 3 100 1 5 0.15 4 0 0 1 ;", "3 2 100 1 5 0.15 4 0 0 1 ;", "2 1 100 1 5 0.15 4 0 0 1 ;"]


def test_sioux_falls_network_and_trips():
    net = read_tntp_network(shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_net.tntp"))
    assert (net.n_nodes, net.n_zones, net.n_links, net.first_thru_node) == (24, 24, 76, 0)
    assert net.tail[0] == 0 and net.head[0] == 1 and net.node_ids[0] == 1
    assert net.capacity[0] == pytest.approx(25900.20064)
    assert net.b[0] == 0.15 and net.power[0] == 4
    demand = read_tntp_trips(shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_trips.tntp"), n_zones=24)
    assert demand.shape == (24, 24)
    assert demand.sum() == pytest.approx(360600.0)
    assert demand[0, 9] == 1300.0  # 1 -> 10
    flows = read_tntp_flows(shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_flow.tntp"))
    assert (flows["volume"] * flows["cost"]).sum() == pytest.approx(7480225.34, abs=0.01)
    link_flows = flows_to_link_array(net, flows)
    assert link_flows[0] == pytest.approx(4494.6576464564205)
    nodes = read_tntp_nodes(shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_node.tntp"))
    assert len(nodes) == 24 and nodes["x"].iloc[0] == pytest.approx(-96.77041974)


def test_anaheim_first_thru_node():
    net = read_tntp_network(shared_file("data", "tntp", "Anaheim", "Anaheim_net.tntp"))
    assert (net.n_nodes, net.n_zones, net.n_links) == (416, 38, 914)
    assert net.first_thru_node == 38  # TNTP's 39, 0-based
    demand = read_tntp_trips(shared_file("data", "tntp", "Anaheim", "Anaheim_trips.tntp"), n_zones=38)
    assert demand.sum() == pytest.approx(104694.40)


def test_good_small_file(tmp_path):
    net = read_tntp_network(_net(tmp_path, GOOD))
    assert net.n_links == 3 and list(net.head) == [2, 1, 0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 0\n<END OF METADATA>\n", "NUMBER OF ZONES"),
        ("<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<NUMBER OF LINKS> 0\n<END OF METADATA>\n", "FIRST THRU NODE"),
        ("<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 0\n", "END OF METADATA"),
        ("<NUMBER OF ZONES> two\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 0\n<END OF METADATA>\n", "integer"),
    ],
)
def test_missing_or_bad_metadata(tmp_path, text, message):
    with pytest.raises(TNTPError, match=message):
        read_tntp_network(_write(tmp_path, "m_net.tntp", text))


@pytest.mark.parametrize(
    "line, message",
    [
        ("1 3 100 1 5 0.15 4 0 0 ;", "9 columns, expected 10"),
        ("1 3 100 1 5 0.15 4 0 0 1 7 ;", "11 columns"),
        ("1 3 -100 1 5 0.15 4 0 0 1 ;", "capacity -100 must not be negative"),
        ("1 3 0 1 5 0.15 4 0 0 1 ;", "needs a positive capacity"),
        ("1 3 100 1 0 0.15 4 0 0 1 ;", "free flow time 0 but BPR"),
        ("1 3 100 1 -1 0.15 4 0 0 1 ;", "free flow time -1"),
        ("1 4 100 1 5 0.15 4 0 0 1 ;", "term node 4 is not a node id"),
        ("1 3 100 1 5 x 4 0 0 1 ;", "'x' is not a number"),
        ("1 1 100 1 5 0.15 4 0 0 1 ;", "self-loop"),
    ],
)
def test_bad_link_lines(tmp_path, line, message):
    with pytest.raises(TNTPError, match=message) as info:
        read_tntp_network(_net(tmp_path, GOOD[:1] + [line]))
    assert "x_net.tntp:9" in str(info.value)  # names the file and line


def test_zero_free_flow_time_allowed_without_congestion(tmp_path):
    net = read_tntp_network(_net(tmp_path, ["1 3 0 1 0 0 4 0 0 1 ;", *GOOD[1:]]))
    assert net.free_flow_time[0] == 0.0


def test_link_count_mismatch(tmp_path):
    with pytest.raises(TNTPError, match="found 3 link lines, but <NUMBER OF LINKS> says 4"):
        read_tntp_network(_net(tmp_path, GOOD, n=4))


TRIPS = "<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> {total}\n<END OF METADATA>\n\nOrigin 1\n{body}\n"


@pytest.mark.parametrize(
    "body, total, message",
    [
        ("    3 :  5.0;", 5.0, "destination 3 is not a zone in 1..2"),
        ("    2 :  -5.0;", -5.0, "expected >= 0"),
        ("    2 :  5.0;  2 : 1.0;", 6.0, "given twice"),
        ("    2 :  5.0;", 7.0, "sum to 5.000000 but <TOTAL OD FLOW> says 7"),
        ("    2 =  5.0;", 5.0, "expected 'destination : demand;'"),
    ],
)
def test_bad_trips(tmp_path, body, total, message):
    with pytest.raises(TNTPError, match=message):
        read_tntp_trips(_write(tmp_path, "t.tntp", TRIPS.format(total=total, body=body)))


def test_trips_unknown_origin_and_zone_count(tmp_path):
    text = "<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 5\n 1 : 2.0;\n"
    with pytest.raises(TNTPError, match="origin 5 is not a zone"):
        read_tntp_trips(_write(tmp_path, "t.tntp", text))
    good = "<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n 2 : 2.0;\n"
    with pytest.raises(TNTPError, match="network has 3 zones"):
        read_tntp_trips(_write(tmp_path, "t2.tntp", good), n_zones=3)
    assert read_tntp_trips(_write(tmp_path, "t3.tntp", good))[0, 1] == 2.0


def test_missing_file():
    with pytest.raises(TNTPError, match="no such file"):
        read_tntp_network("/nonexistent/x_net.tntp")


def test_with_links_and_index_of(tmp_path):
    net = read_tntp_network(_net(tmp_path, GOOD))
    bigger = net.with_links(tail=net.index_of([1]), head=net.index_of([2]), capacity=50, free_flow_time=2.0)
    assert net.n_links == 3 and bigger.n_links == 4
    assert (bigger.tail[3], bigger.head[3], bigger.capacity[3], bigger.b[3]) == (0, 1, 50.0, 0.15)
    assert bigger.link_index(1, 2) == 3
    with pytest.raises(InputError, match="unknown node id 9"):
        net.index_of([9])
    with pytest.raises(InputError, match="negative capacity"):
        net.with_links(tail=[0], head=[1], capacity=-1, free_flow_time=1)
    with pytest.raises(InputError, match="index 7"):
        net.with_links(tail=[0], head=[7], capacity=1, free_flow_time=1)
    with pytest.raises(ValueError):
        net.tail[0] = 2  # arrays are read-only


def test_from_networkx_multidigraph():
    g = nx.MultiDiGraph()
    g.add_edge("A", "B", key=0, travel_time=600.0, capacity=1000.0, length=9000.0)
    g.add_edge("A", "B", key=1, travel_time=720.0, capacity=1000.0, length=10000.0)
    g.add_edge("B", "C", key=0, travel_time=60.0, capacity=500.0, mode="rail")
    g.add_edge("C", "A", key=0, travel_time=60.0)
    net = RoadNetwork.from_networkx(g, zones=["B", "A"], mode="drive", default_capacity=800.0)
    assert net.n_zones == 2 and net.node_labels[:2] == ("B", "A")
    assert net.n_links == 3  # the rail edge is filtered out
    assert sorted(net.free_flow_time.tolist()) == [1.0, 10.0, 12.0]
    assert 800.0 in net.capacity.tolist()
    with pytest.raises(InputError, match="no 'capacity'"):
        RoadNetwork.from_networkx(g, zones=["A", "B"])
    with pytest.raises(InputError, match="not a node"):
        RoadNetwork.from_networkx(g, zones=["Z"])


def test_gmns_reader(tmp_path):
    from networks.gmns import read_gmns

    (tmp_path / "node.csv").write_text("node_id,zone_id,x_coord,y_coord\n10,,0,0\n20,2,1,0\n30,1,2,0\n")
    (tmp_path / "link.csv").write_text(
        "link_id,from_node_id,to_node_id,directed,length,lanes,free_speed,capacity\n"
        "1,30,10,true,1000,2,60,1800\n"
        "2,10,20,false,2000,1,120,2000\n"
    )
    (tmp_path / "demand.csv").write_text("o_zone_id,d_zone_id,volume\n1,2,500\n2,1,50\n")
    net, demand = read_gmns(tmp_path, length_to_speed_units=0.001)
    assert (net.n_nodes, net.n_zones, net.n_links) == (3, 2, 3)
    assert list(net.node_ids) == [30, 20, 10]  # zones first, by zone id
    assert net.capacity[0] == 3600.0  # per lane x lanes
    assert net.free_flow_time[0] == pytest.approx(1.0)  # 1 km at 60 km/h = 1 min
    assert demand[0, 1] == 500.0 and demand[1, 0] == 50.0
    (tmp_path / "demand.csv").write_text("o_zone_id,d_zone_id,volume\n1,7,500\n")
    with pytest.raises(InputError, match="d_zone_id=7, not a zone_id"):
        read_gmns(tmp_path)
    (tmp_path / "link.csv").write_text("link_id,from_node_id,to_node_id,capacity,vdf_fftt\n1,30,99,100,1\n")
    with pytest.raises(InputError, match="to_node_id=99, not a node"):
        read_gmns(tmp_path)
    (tmp_path / "link.csv").write_text("link_id,from_node_id,to_node_id,capacity,vdf_fftt\n1,30,10,-5,1\n")
    with pytest.raises(InputError, match="capacity=-5"):
        read_gmns(tmp_path)
