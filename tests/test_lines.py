"""Line layers of a rail graph (networks.lines): hand-computed journeys and exact contraction."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest

from networks.errors import InputError
from networks.lines import CONVENTIONAL, contract_chains, line_layers


def _track(G: nx.MultiDiGraph, u, v, minutes: float, lines=(), **attrs) -> None:
    for a, b in ((u, v), (v, u)):
        G.add_edge(a, b, mode="rail", length=minutes * 1000.0, travel_time=minutes * 60.0, speed_kph=60.0,
                   **({"lines": tuple(lines)} if lines else {}), **attrs)


def _cross() -> nx.MultiDiGraph:
    """Line A runs west 1 - junction 3 - east 2; line B runs north 4 - 3 - south 5.

    Stations: 1, 2, 5 on the track, 6 placed beside node 2 by a station link; node 3 is a
    plain junction, node 7 a station where both lines stop.
    """
    G = nx.MultiDiGraph()
    for n, (x, y) in {1: (0, 1), 2: (2, 1), 3: (1, 1), 4: (1, 2), 5: (1, 0), 6: (2.1, 1), 7: (1, 0.5)}.items():
        G.add_node(n, x=x, y=y)
    for n in (1, 2, 5, 6, 7):
        G.nodes[n].update(station=True, name=f"S{n}")
    _track(G, 1, 3, 10, ["A"])
    _track(G, 3, 2, 10, ["A"])
    _track(G, 4, 3, 5, ["B"])
    _track(G, 3, 7, 3, ["B"])
    _track(G, 7, 5, 2, ["B"])
    _track(G, 2, 6, 1, link="station")
    # a second way from 1 to 7 on line A only: a branch that rejoins at the station 7
    _track(G, 1, 7, 40, ["A"])
    return G


def _journey(H: nx.MultiDiGraph, a, b) -> float:
    """Minutes from station ``a`` (its departure node) to station ``b`` (its arrival node)."""
    simple = nx.DiGraph()
    for u, v, d in H.edges(data=True):
        if not simple.has_edge(u, v) or simple[u][v]["t"] > d["travel_time"]:
            simple.add_edge(u, v, t=d["travel_time"])
    return nx.shortest_path_length(simple, a, H.nodes[b]["arrival"], weight="t") / 60.0


def test_a_journey_on_one_line_pays_nothing_a_change_pays_the_penalty():
    H = line_layers(_cross(), change_min=15.0, node_offset=100)
    assert _journey(H, 1, 2) == pytest.approx(20.0)  # along A
    assert _journey(H, 1, 6) == pytest.approx(21.0)  # A, then the station link beside node 2
    # 1 -> 5: A to the junction, change, B south (10 + 15 + 5) beats the A branch to 7 then
    # a change at the station 7 (40 + 15 + 2)
    assert _journey(H, 1, 5) == pytest.approx(10 + 15 + 3 + 2)
    # at a station both lines stop at, a change costs the same: the station gives no free transfer
    assert _journey(H, 2, 5) == pytest.approx(10 + 15 + 3 + 2)
    assert _journey(H, 1, 7) == pytest.approx(min(10 + 15 + 3, 40))
    # without the penalty, the plain track graph
    H0 = line_layers(_cross(), change_min=0.0, node_offset=100)
    for a, b in itertools.permutations((1, 2, 5, 6, 7), 2):
        plain = nx.shortest_path_length(nx.DiGraph(_cross()), a, b, weight="travel_time") / 60.0
        assert _journey(H0, a, b) == pytest.approx(plain)


def test_departure_and_arrival_nodes_keep_a_station_from_being_a_free_transfer():
    H = line_layers(_cross(), change_min=15.0, node_offset=100)
    for s in (1, 2, 5, 6, 7):
        arrival = H.nodes[s]["arrival"]
        assert H.nodes[arrival]["arrival_of"] == s
        assert all(d["link"] == "board" and d["travel_time"] == 0 for _, _, d in H.out_edges(s, data=True))
        assert H.in_degree(s) == 0 and H.out_degree(arrival) == 0
        assert all(d["link"] == "alight" for _, _, d in H.in_edges(arrival, data=True))
    layers = {d.get("line") for n, d in H.nodes(data=True) if "line" in d}
    assert layers == {"A", "B"}


def test_a_gap_in_the_line_data_costs_no_change():
    G = nx.MultiDiGraph()
    for n in range(4):
        G.add_node(n, x=float(n), y=0.0)
    G.nodes[0].update(station=True)
    G.nodes[3].update(station=True)
    _track(G, 0, 1, 10, ["A"])
    _track(G, 1, 2, 1)  # no line claims this piece
    _track(G, 2, 3, 10, ["A"])
    H = line_layers(G, change_min=30.0, node_offset=10)
    assert _journey(H, 0, 3) == pytest.approx(21.0)
    assert any(d.get("line") == CONVENTIONAL for _, _, d in H.edges(data=True))


def test_contraction_keeps_every_shortest_path_between_kept_nodes():
    rng = random.Random(7)
    G = nx.MultiDiGraph()
    nodes = list(range(60))
    for n in nodes:
        G.add_node(n, x=rng.random(), y=rng.random())
    stations = set(rng.sample(nodes, 12))
    for n in stations:
        G.nodes[n]["station"] = True
    order = nodes[:]
    rng.shuffle(order)
    for u, v in zip(order, order[1:]):  # a long path: many pass-through nodes
        _track(G, u, v, rng.uniform(1, 5), [rng.choice("AB")] if rng.random() < 0.8 else ())
    for _ in range(15):  # and some cross links
        u, v = rng.sample(nodes, 2)
        _track(G, u, v, rng.uniform(5, 20), ["C"])
    G.add_edge(order[3], order[4], mode="rail", length=1.0, travel_time=30.0, speed_kph=60.0)  # one-way extra
    H = contract_chains(G)
    assert H.number_of_nodes() < G.number_of_nodes()
    assert stations <= set(H.nodes)
    d_full = dict(nx.all_pairs_dijkstra_path_length(nx.DiGraph(G), weight="travel_time"))
    d_cont = dict(nx.all_pairs_dijkstra_path_length(nx.DiGraph(H), weight="travel_time"))
    for a, b in itertools.permutations(sorted(set(H.nodes)), 2):
        assert d_cont[a].get(b, float("inf")) == pytest.approx(d_full[a].get(b, float("inf")))


def test_line_layers_refuse_bad_arguments():
    with pytest.raises(InputError, match="change_min"):
        line_layers(_cross(), change_min=-1.0, node_offset=100)
    with pytest.raises(InputError, match="node_offset"):
        line_layers(_cross(), change_min=5.0, node_offset=3)
