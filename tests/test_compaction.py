"""The assignment's shortest-path searches on the compact forward star (chains contracted) give
the same distances as Dijkstra on the full network, and loads that are all-or-nothing loads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from networks.tntp import RoadNetwork, read_tntp_network, read_tntp_trips
from solvers.assignment import assign
from solvers.assignment._problem import _setup
from solvers.vdf import BPR
from tests.conftest import shared_file


def _network(tail, head, n_nodes, n_zones, first_thru_node, times) -> RoadNetwork:
    m = len(tail)
    return RoadNetwork(
        n_nodes=n_nodes, n_zones=n_zones, first_thru_node=first_thru_node, tail=list(tail), head=list(head),
        capacity=[100.0] * m, length=[1.0] * m, free_flow_time=list(times), b=[0.15] * m, power=[4.0] * m,
        speed=[0.0] * m, toll=[0.0] * m, link_type=[1] * m, node_ids=list(range(1, n_nodes + 1)), name="random",
    )


def _random_network(seed: int, first_thru: bool) -> RoadNetwork:
    """Zones, a random core, two-way and one-way chains between core nodes, a chain through a
    zone, parallel links, a dead end, a ring of its own, """
    rng = np.random.default_rng(seed)
    n_zones, n_core = 5, 25
    links: list[tuple[int, int]] = []
    for _ in range(60):
        a, b = rng.integers(n_zones, n_zones + n_core, 2)
        if a != b:
            links.append((int(a), int(b)))
    for z in range(n_zones):
        c = int(rng.integers(n_zones, n_zones + n_core))
        links += [(z, c), (c, z)]
    n = n_zones + n_core
    for _ in range(8):  # chains of new nodes, two-way or one-way
        a, b = (int(v) for v in rng.integers(n_zones, n_zones + n_core, 2))
        k = int(rng.integers(1, 5))
        nodes = [a, *range(n, n + k), b]
        n += k
        two_way = bool(rng.integers(0, 2))
        for u, v in zip(nodes, nodes[1:]):
            links.append((u, v))
            if two_way:
                links.append((v, u))
    links += [(n_zones, n), (n, n_zones + 1), (n_zones + 1, n), (n, n_zones)]  # a node with a parallel pair
    links.append((n_zones, n))
    n += 1
    links += [(n_zones + 2, n), (n, n_zones + 2)]  # a dead end (one neighbour both ways)
    n += 1
    links += [(n, n + 1), (n + 1, n + 2), (n + 2, n)]  # a ring no one can reach
    n += 3
    links += [(n_zones + 3, 1), (1, n_zones + 4)]  # a chain through zone 1
    tail, head = zip(*links)
    times = rng.uniform(0.1, 5.0, len(links))
    return _network(tail, head, n, n_zones, n_zones if first_thru else 0, times)


def _reference(prob, cost: np.ndarray) -> np.ndarray:
    n = prob.n_ext
    on = prob.active
    # parallel links: keep the cheaper (scipy would add them up)
    best: dict[tuple[int, int], float] = {}
    for a in np.flatnonzero(on):
        key = (int(prob.tail[a]), int(prob.head_ext[a]))
        best[key] = min(best.get(key, np.inf), float(cost[a]))
    u, v = zip(*best)
    w = np.array(list(best.values())) + 1e-300  # explicit zeros stay edges
    graph = coo_matrix((w, (u, v)), shape=(n, n)).tocsr()
    dist = dijkstra(graph, directed=True, indices=np.arange(prob.net.n_zones))
    return dist[:, prob.dest_node]


@pytest.mark.parametrize("seed", range(12))
def test_compact_searches_equal_dijkstra_on_the_full_network(seed):
    rng = np.random.default_rng(100 + seed)
    net = _random_network(seed, first_thru=bool(seed % 2))
    nz = net.n_zones
    demand = rng.uniform(0.0, 10.0, (nz, nz))
    active = rng.random(net.n_links) > 0.1 if seed % 3 == 0 else None
    prob = _setup(net, demand, active=active, vdf=BPR(), system_optimal=False, toll_weight=0.0, length_weight=0.0)
    # every active link belongs to exactly one compact link (or to a ring no search reaches)
    members = prob.m_link
    assert np.unique(members).size == members.size and prob.active[members].all()
    assert prob.c_head.size < prob.active.sum()  # the chains were contracted
    cost = rng.uniform(0.0, 3.0, net.n_links)
    cost[rng.random(net.n_links) < 0.2] = 0.0
    y, sptt, od = prob.aon(cost)
    ref = _reference(prob, cost)
    off = ~np.eye(nz, dtype=bool)
    np.testing.assert_allclose(od[off], ref[off], rtol=1e-12, atol=1e-12)
    # the loads are an all-or-nothing assignment: they cost SPTT and balance at every node
    reachable = np.isfinite(ref) & off
    q = np.where(reachable, demand, 0.0)
    assert float(np.dot(y, cost)) == pytest.approx(float(np.sum(q * np.where(reachable, ref, 0.0))), rel=1e-9)
    assert sptt == pytest.approx(float(np.dot(y, cost)), rel=1e-9)
    assert not y[~prob.active].any()
    balance = np.bincount(prob.head_ext, y, prob.n_ext) - np.bincount(prob.tail, y, prob.n_ext)
    expected = np.zeros(prob.n_ext)
    np.add.at(expected, prob.dest_node, q.sum(axis=0))
    expected[:nz] -= q.sum(axis=1)
    np.testing.assert_allclose(balance, expected, atol=1e-9)


def test_chains_by_hand():
    """Zones 0, 1 (no through traffic); 0 -> 2 -> 3 -> 4 -> 1, 3 -> 0, and 4 <-> 5 <-> 6 <-> 2 both ways."""
    tail = [0, 2, 3, 4, 4, 5, 5, 6, 6, 2, 3]
    head = [2, 3, 4, 1, 5, 4, 6, 5, 2, 6, 0]
    net = _network(tail, head, 7, 2, 2, [1.0] * len(tail))
    prob = _setup(net, np.array([[0.0, 1.0], [0.0, 0.0]]), active=None, vdf=BPR(), system_optimal=False,
                  toll_weight=0.0, length_weight=0.0)
    # 5 and 6 pass traffic through both ways: 4 -> 5 -> 6 -> 2 and 2 -> 6 -> 5 -> 4 become one link each
    chains = {(int(prob.c_tail[c]), int(prob.c_head[c])): [int(a) for a in prob.m_link[prob.m_start[c]:prob.m_start[c + 1]]]
              for c in range(prob.c_head.size)}
    assert chains[(4, 2)] == [4, 6, 8]
    assert chains[(2, 4)] == [9, 7, 5]
    assert chains[(0, 2)] == [0] and chains[(2, 3)] == [1]  # 2 and 3 have three neighbours: kept
    assert len(chains) == 7  # 11 links, two chains of three
    res = assign(net, np.array([[0.0, 1.0], [0.0, 0.0]]), algorithm="gp", gap=1e-10)
    assert res.od_costs[0, 1] == pytest.approx(4.0, rel=1e-6)


def test_berlin_center_compacts_like_aequilibrae():
    """AequilibraE 1.7.2's compact graph of Berlin-Center has 24,568 links (measured 2026-12-03
    with ``Graph.prepare_graph``); ours contracts the same chains, and every link is a member of one."""
    net = read_tntp_network(shared_file("data", "tntp", "Berlin-Center", "berlin-center_net.tntp"))
    demand = read_tntp_trips(shared_file("data", "tntp", "Berlin-Center", "berlin-center_trips.tntp"),
                             n_zones=net.n_zones)
    prob = _setup(net, demand, active=None, vdf=BPR(), system_optimal=False, toll_weight=0.0, length_weight=0.0)
    assert prob.c_head.size == 24_568
    assert np.array_equal(np.sort(prob.m_link), np.arange(net.n_links))


def test_threaded_all_or_nothing_gives_the_same_flows_on_one_thread_and_on_several():
    """Large enough for the threaded blocks (zones x links above PARALLEL_WORK): the flows and
    costs are bit for bit those of one thread (the blocks are fixed and summed in order)."""
    import numba

    from solvers.assignment._kernels import PARALLEL_WORK

    side, n_zones = 60, 120
    rng = np.random.default_rng(5)
    grid = lambda r, c: n_zones + r * side + c  # noqa: E731
    links = []
    for r in range(side):
        for c in range(side):
            if c + 1 < side:
                links += [(grid(r, c), grid(r, c + 1)), (grid(r, c + 1), grid(r, c))]
            if r + 1 < side:
                links += [(grid(r, c), grid(r + 1, c)), (grid(r + 1, c), grid(r, c))]
    for z, at in enumerate(rng.choice(side * side, n_zones, replace=False)):
        links += [(z, n_zones + int(at)), (n_zones + int(at), z)]
    tail, head = zip(*links)
    net = _network(tail, head, n_zones + side * side, n_zones, n_zones, rng.uniform(0.5, 2.0, len(links)))
    assert n_zones * net.n_links >= PARALLEL_WORK
    demand = rng.uniform(0.0, 5.0, (n_zones, n_zones))
    prob = _setup(net, demand, active=None, vdf=BPR(), system_optimal=False, toll_weight=0.0, length_weight=0.0)
    cost = rng.uniform(0.1, 3.0, net.n_links)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        y1, s1, od1 = prob.aon(cost)
    finally:
        numba.set_num_threads(threads)
    y2, s2, od2 = prob.aon(cost)
    assert np.array_equal(y1, y2) and s1 == s2 and np.array_equal(od1, od2)
    assert y1.sum() > 0
