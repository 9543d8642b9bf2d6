"""Exact project selection: hand-computed optima, brute-force agreement, bounds, limits, bad input."""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from networks.errors import CatalogueError, InfeasibleError, InputError
from solvers.selection import (
    ODDemand,
    Project,
    brute_force_selection,
    budget_ladder,
    evaluate_design,
    solve_selection,
)

# --------------------------------------------------------------------------------------------
# Tiny networks with optima computed by hand
# --------------------------------------------------------------------------------------------


def _complementary():
    """Nodes 0, 1, 2.  Base arcs 0->2 (10), 0->1 (8), 1->2 (8); demand 2 from 0 to 2.

    A upgrades 0->1 to 2 (cost 3): 0-1-2 takes 2 + 8 = 10, no better than the direct 10.
    B upgrades 1->2 to 2 (cost 3): 8 + 2 = 10, no better either.  A and B together: 2 + 2 = 4.
    C upgrades 0->2 to 7 (cost 5).
    """
    base = (3, [0, 0, 1], [2, 1, 2], [10.0, 8.0, 8.0])
    projects = [
        Project("A", 3.0, ((0, 1, 2.0),)),
        Project("B", 3.0, ((1, 2, 2.0),)),
        Project("C", 5.0, ((0, 2, 7.0),)),
    ]
    od = ODDemand(np.array([0]), np.array([2]), np.array([2.0]))
    return base, projects, od


@pytest.mark.parametrize(
    "budget, selected, objective",
    [
        (2.0, (), 20.0),  # nothing affordable: 2 x 10
        (3.0, (), 20.0),  # A or B alone is affordable but worthless: still 2 x 10
        (5.0, ("C",), 14.0),  # C: 2 x 7; A+B costs 6
        (6.0, ("A", "B"), 8.0),  # A+B: 2 x 4 beats C
        (11.0, ("A", "B"), 8.0),  # all three give min(4, 7) = 4 too, but A+B is cheaper
    ],
)
def test_complementary_projects_hand_optimum(budget, selected, objective):
    base, projects, od = _complementary()
    result = solve_selection(base, projects, od, budget=budget)
    assert result.status == "OPTIMAL"
    assert result.selected == selected
    assert result.objective == pytest.approx(objective, rel=1e-12)
    assert result.base_objective == pytest.approx(20.0)
    assert result.bound <= result.objective + 1e-12
    assert result.objective - result.bound <= 1e-9 * result.objective
    assert result.gap <= 1e-9
    assert result.od_times.tolist() == pytest.approx([objective / 2.0])


def _constrained():
    """Three independent OD pairs 0->1, 2->3, 4->5, each a base arc of time 10, demand 1.

    P: 0->1 in 4 (saves 6), cost 4, member a.
    Q: 2->3 in 5 (saves 5), cost 3, member b, requires P.
    R: 4->5 in 3 (saves 7), cost 5, member a, excludes P.
    S: 4->5 in 6 (saves 4), cost 1, member b: a slower substitute of R.
    Base objective 30.
    """
    base = (6, [0, 2, 4], [1, 3, 5], [10.0, 10.0, 10.0])
    projects = [
        Project("P", 4.0, ((0, 1, 4.0),), member="a"),
        Project("Q", 3.0, ((2, 3, 5.0),), member="b", requires=("P",)),
        Project("R", 5.0, ((4, 5, 3.0),), member="a", excludes=("P",)),
        Project("S", 1.0, ((4, 5, 6.0),), member="b"),
    ]
    od = ODDemand(np.array([0, 2, 4]), np.array([1, 3, 5]), np.array([1.0, 1.0, 1.0]))
    return base, projects, od


@pytest.mark.parametrize(
    "budget, caps, selected, objective",
    [
        # {P,Q,S} costs 8 and saves 6+5+4 = 15; {R,Q} is ruled out (Q needs P, P excludes R);
        # {R,S} saves only max(7, 4) = 7.
        (8.0, None, ("P", "Q", "S"), 15.0),
        # {P,Q} costs 7 > 6; {P,S} costs 5, saves 10; {R,S} costs 6, saves 7.
        (6.0, None, ("P", "S"), 20.0),
        # Member a capped at 4: R (5) is out, P (4) fits: same as without cap.
        (8.0, {"a": 4.0}, ("P", "Q", "S"), 15.0),
        # Member a capped at 3: neither P nor R, so Q (needs P) is out too: only S, saves 4.
        (8.0, {"a": 3.0}, ("S",), 26.0),
        # Member b capped at 3: Q + S = 4 > 3: {P,Q} saves 11 beats {P,S} saving 10.
        (8.0, {"b": 3.0}, ("P", "Q"), 19.0),
        # Budget 3: P is unaffordable, so Q is too; S alone saves 4.
        (3.0, None, ("S",), 26.0),
    ],
)
def test_dependencies_exclusions_caps_hand_optimum(budget, caps, selected, objective):
    base, projects, od = _constrained()
    result = solve_selection(base, projects, od, budget=budget, member_caps=caps)
    assert result.status == "OPTIMAL"
    assert result.selected == selected
    assert result.objective == pytest.approx(objective, rel=1e-12)
    brute = brute_force_selection(base, projects, od, budget=budget, member_caps=caps)
    assert brute.selected == selected
    assert brute.objective == pytest.approx(objective, rel=1e-12)


def test_ladder_is_not_nested_and_orders_entry():
    base, projects, od = _complementary()
    ladder = budget_ladder(base, projects, od, [11.0, 5.0, 6.0, 2.0])
    assert ladder.budgets == (2.0, 5.0, 6.0, 11.0)
    assert [r.selected for r in ladder.results] == [(), ("C",), ("A", "B"), ("A", "B")]
    assert [r.objective for r in ladder.results] == pytest.approx([20.0, 14.0, 8.0, 8.0])
    assert all(r.status == "OPTIMAL" for r in ladder.results)
    # C enters first (budget 5) and leaves at budget 6, where A and B enter together; each of
    # A, B saves 2 x (10 - 4) = 12 at the margin (without it the trip is back to 10).
    assert [(e.rank, e.id, e.first_budget) for e in ladder.priority] == [(1, "C", 5.0), (2, "A", 6.0), (3, "B", 6.0)]
    assert [e.marginal_saving for e in ladder.priority] == pytest.approx([6.0, 12.0, 12.0])
    assert not ladder.nested
    assert len(ladder.non_nested) == 1
    step = ladder.non_nested[0]
    assert (step.budget_from, step.budget_to, step.dropped, step.added) == (5.0, 6.0, ("C",), ("A", "B"))
    json.dumps(ladder.to_dict())
    frame = ladder.to_frame()
    assert list(frame["selected"]) == ["", "C", "A B", "A B"]


def test_parallel_and_zero_time_arcs():
    # Two parallel base arcs 0->1 (5 and 3): the faster counts.  1->2 has time 0: an arc.
    base = (3, [0, 0, 1], [1, 1, 2], [5.0, 3.0, 0.0])
    od = ODDemand(np.array([0, 0]), np.array([1, 2]), np.array([1.0, 1.0]))
    value = evaluate_design(base, [], od, [])
    assert value.od_times.tolist() == [3.0, 3.0]
    assert value.objective == 6.0
    # Two projects adding parallel arcs to the same pair: the faster counts; building both is
    # no better than the faster one alone (substitutes do not add up).
    projects = [Project("slow", 1.0, ((0, 1, 2.0),)), Project("fast", 2.0, ((0, 1, 1.0),))]
    assert evaluate_design(base, projects, od, ["slow", "fast"]).objective == 2.0
    assert evaluate_design(base, projects, od, ["slow"]).objective == 4.0
    result = solve_selection(base, projects, od, budget=10.0)
    assert result.selected == ("fast",) and result.objective == 2.0 and result.status == "OPTIMAL"


def test_sparse_matrix_input_matches_tuple_input():
    base, projects, od = _random_instance(3, n_proj=8)
    n, tails, heads, times = base
    # A sparse matrix cannot hold parallel arcs once summed, so give it the fastest of each.
    graph = {}
    for t, h, w in zip(tails, heads, times):
        graph[(t, h)] = min(w, graph.get((t, h), math.inf))
    keys = list(graph)
    matrix = sp.csr_array(([graph[k] for k in keys], ([k[0] for k in keys], [k[1] for k in keys])), shape=(n, n))
    budget = 0.4 * sum(p.cost for p in projects)
    a = solve_selection(base, projects, od, budget=budget)
    b = solve_selection(matrix, projects, od, budget=budget)
    assert a.selected == b.selected
    assert a.objective == pytest.approx(b.objective, rel=1e-12)


def test_evaluate_design_matches_networkx():
    base, projects, od = _random_instance(11, n_proj=10)
    n, tails, heads, times = base
    chosen = [p.id for p in projects[::2]]
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(n))
    for t, h, w in zip(tails, heads, times):
        graph.add_edge(int(t), int(h), time=float(w))
    for p in projects:
        if p.id in chosen:
            for t, h, w in p.arcs:
                graph.add_edge(t, h, time=w)
    expected = [
        nx.shortest_path_length(graph, int(o), int(d), weight="time")
        for o, d in zip(od.origins, od.destinations)
    ]
    value = evaluate_design(base, projects, od, chosen)
    assert value.od_times == pytest.approx(expected, rel=1e-12)
    assert value.objective == pytest.approx(float(np.dot(od.demand, expected)), rel=1e-12)
    assert value.selected == tuple(sorted(chosen))


# --------------------------------------------------------------------------------------------
# Brute-force agreement on random instances
# --------------------------------------------------------------------------------------------


def _random_instance(seed: int, *, n_nodes: int = 30, n_proj: int = 10, n_zones: int = 9):
    """A random planar-ish network with express links, two-leg lines, dependencies, exclusions,
    a pair of complementary projects (worthless alone) and a parallel substitute."""
    rng = np.random.default_rng(seed)
    pts = rng.random((n_nodes, 2)) * 100
    tails, heads, times = [], [], []
    for i in range(n_nodes):
        dist = np.hypot(*(pts - pts[i]).T)
        for j in np.argsort(dist)[1:4]:
            t = dist[j] * rng.uniform(1.0, 1.5)
            tails += [i, int(j)]
            heads += [int(j), i]
            times += [t, t * rng.uniform(0.9, 1.1)]
    for i in range(n_nodes):  # a slow ring keeps everything connected
        j = (i + 1) % n_nodes
        t = 2 * np.hypot(*(pts[i] - pts[j]))
        tails += [i, j]
        heads += [j, i]
        times += [t, t]

    def leg(a: int, b: int, factor: float) -> float:
        return float(np.hypot(*(pts[a] - pts[b])) * factor)

    specs = []
    for k in range(n_proj):
        u, v, w = (int(x) for x in rng.choice(n_nodes, 3, replace=False))
        kind = k % 3
        if kind == 0:
            arcs = ((u, v, leg(u, v, 0.3)), (v, u, leg(u, v, 0.3)))
        elif kind == 1:
            arcs = ((u, v, leg(u, v, 0.4)),)
        else:
            arcs = ((u, w, leg(u, w, 0.35)), (w, v, leg(w, v, 0.35)))
        specs.append(
            {"id": f"P{k:02d}", "cost": float(rng.integers(1, 10)), "arcs": arcs, "member": f"m{rng.integers(3)}"}
        )
    # Complementary: two short connectors that only help together.
    u, w, v = (int(x) for x in rng.choice(n_nodes, 3, replace=False))
    specs[-2]["arcs"] = ((u, w, 0.5),)
    specs[-1]["arcs"] = ((w, v, 0.5),)
    # Parallel substitute: P01 duplicates P00's arcs, 10 % slower.
    specs[1]["arcs"] = tuple((a, b, t * 1.1) for a, b, t in specs[0]["arcs"])
    specs[3]["requires"] = ("P02",)
    specs[5]["requires"] = ("P03", "P04")
    specs[6]["excludes"] = ("P07",)
    specs[0]["excludes"] = ("P04",)
    projects = [Project(**s) for s in specs]
    zones = rng.choice(n_nodes, n_zones, replace=False)
    o, d = np.meshgrid(zones, zones)
    keep = (o != d) & (rng.random(o.shape) < 0.6)
    od = ODDemand(o[keep], d[keep], rng.integers(1, 100, keep.sum()).astype(float))
    return (n_nodes, np.array(tails), np.array(heads), np.array(times)), projects, od


_CASES = [(seed, n_proj) for seed, n_proj in zip(range(12), [8, 9, 10, 11, 12, 10, 8, 9, 10, 11, 12, 10])]


@pytest.mark.parametrize("seed, n_proj", _CASES)
def test_matches_brute_force(seed, n_proj):
    base, projects, od = _random_instance(seed, n_proj=n_proj)
    total = sum(p.cost for p in projects)
    caps = {"m0": 0.3 * total} if seed % 2 else None
    for fraction in (0.15, 0.4, 0.7):
        budget = fraction * total
        exact = solve_selection(base, projects, od, budget=budget, member_caps=caps)
        brute = brute_force_selection(base, projects, od, budget=budget, member_caps=caps)
        assert exact.status == "OPTIMAL"
        assert exact.objective == pytest.approx(brute.objective, rel=1e-10), (seed, fraction)
        # The bound is a valid bound on the true optimum and certifies the design.
        assert exact.bound <= brute.objective * (1 + 1e-12)
        assert exact.gap <= 1e-9
        assert exact.cost <= budget + 1e-9
        # Cheapest among optimal designs, as brute force breaks ties.
        assert exact.cost <= brute.cost + 1e-9 or exact.objective < brute.objective
        chosen = set(exact.selected)
        for p in projects:
            if p.id in chosen:
                assert set(p.requires) <= chosen
                assert not set(p.excludes) & chosen
        if caps:
            assert sum(p.cost for p in projects if p.id in chosen and p.member == "m0") <= caps["m0"] + 1e-9
        value = evaluate_design(base, projects, od, exact.selected)
        assert value.objective == exact.objective
        np.testing.assert_array_equal(value.od_times, exact.od_times)


@pytest.mark.slow
def test_matches_brute_force_many_instances():
    for seed in range(100, 130):
        base, projects, od = _random_instance(seed, n_proj=12, n_zones=10)
        total = sum(p.cost for p in projects)
        for fraction in (0.1, 0.25, 0.5, 0.8, 1.0):
            exact = solve_selection(base, projects, od, budget=fraction * total)
            brute = brute_force_selection(base, projects, od, budget=fraction * total)
            assert exact.status == "OPTIMAL"
            assert exact.objective == pytest.approx(brute.objective, rel=1e-10), (seed, fraction)
            assert exact.bound <= brute.objective * (1 + 1e-12)


def test_ladder_matches_brute_force_at_every_budget():
    base, projects, od = _random_instance(5, n_proj=10)
    total = sum(p.cost for p in projects)
    budgets = [total * f for f in (0.1, 0.2, 0.3, 0.5, 0.8)]
    ladder = budget_ladder(base, projects, od, budgets)
    for budget, result in zip(ladder.budgets, ladder.results):
        brute = brute_force_selection(base, projects, od, budget=budget)
        assert result.objective == pytest.approx(brute.objective, rel=1e-10)
        assert result.status == "OPTIMAL"
    objectives = [r.objective for r in ladder.results]
    assert objectives == sorted(objectives, reverse=True)
    entered = {e.id for e in ladder.priority}
    assert entered == set().union(*(set(r.selected) for r in ladder.results))
    for step in ladder.non_nested:
        assert step.dropped


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_ladder_in_threads_matches_brute_force_and_repeats_itself(threads, monkeypatch):
    """The ladder's budgets solved in 1, 2 or 3 threads: every step the brute-force optimum, and
    two runs with the same threads give the same designs (which thread solves which budget, from
    which start, does not depend on timing)."""
    monkeypatch.setenv("YRD_TRANSIT_LADDER_THREADS", threads)
    base, projects, od = _random_instance(6, n_proj=11, n_zones=9)
    total = sum(p.cost for p in projects)
    budgets = [total * f for f in (0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0)]
    first = budget_ladder(base, projects, od, budgets)
    again = budget_ladder(base, projects, od, budgets)
    assert [r.selected for r in first.results] == [r.selected for r in again.results]
    for budget, result in zip(first.budgets, first.results):
        assert result.status == "OPTIMAL" and result.budget == budget
        brute = brute_force_selection(base, projects, od, budget=budget)
        assert result.objective == pytest.approx(brute.objective, rel=1e-10)


def test_ladder_threads_setting_is_checked(monkeypatch):
    from networks.errors import InputError
    from solvers.selection.shortest_path import ladder_threads

    monkeypatch.setenv("YRD_TRANSIT_LADDER_THREADS", "two")
    with pytest.raises(InputError, match="YRD_TRANSIT_LADDER_THREADS='two'"):
        ladder_threads(4)
    monkeypatch.setenv("YRD_TRANSIT_LADDER_THREADS", "8")
    assert ladder_threads(3) == 3  # never more threads than budgets


# --------------------------------------------------------------------------------------------
# Time limit and gap
# --------------------------------------------------------------------------------------------


def test_time_limit_reports_incumbent_bound_and_gap():
    base, projects, od = _random_instance(4, n_proj=12)
    budget = 0.5 * sum(p.cost for p in projects)
    brute = brute_force_selection(base, projects, od, budget=budget)
    # A zero limit stops before the record search: the incumbent is the empty design, and the
    # bound comes from the network with every affordable project built.
    limited = solve_selection(base, projects, od, budget=budget, time_limit=0.0)
    assert limited.status == "FEASIBLE"
    assert limited.selected == ()
    assert limited.objective == pytest.approx(limited.base_objective)
    assert limited.bound <= brute.objective <= limited.objective
    assert limited.gap == pytest.approx((limited.objective - limited.bound) / limited.objective)
    assert limited.gap > 0
    assert limited.stats["records_complete"] is False
    json.dumps(limited.to_dict())


def test_relative_gap_stops_early_with_valid_bound():
    base, projects, od = _random_instance(4, n_proj=12)
    budget = 0.5 * sum(p.cost for p in projects)
    brute = brute_force_selection(base, projects, od, budget=budget)
    loose = solve_selection(base, projects, od, budget=budget, relative_gap=0.05)
    assert loose.status in ("OPTIMAL", "FEASIBLE")
    assert loose.bound <= brute.objective * (1 + 1e-12) <= loose.objective * (1 + 1e-12)
    assert loose.gap <= 0.05 + 1e-9


def test_result_reports_sizes_and_serialises():
    base, projects, od = _random_instance(2, n_proj=9)
    result = solve_selection(base, projects, od, budget=20.0)
    stats = result.stats
    assert stats["records"] > 0 and stats["dijkstra_calls"] > 0 and stats["key_nodes"] > 0
    assert stats["cpsat"]["status"] == "OPTIMAL"
    data = json.loads(json.dumps(result.to_dict()))
    assert data["selected"] == list(result.selected)
    assert data["saving"] == pytest.approx(result.base_objective - result.objective)


def test_log_receives_progress():
    base, projects, od = _complementary()
    lines: list[str] = []
    solve_selection(base, projects, od, budget=6.0, log=lines.append)
    assert any("records" in line for line in lines)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def _tiny():
    base = (3, [0, 1], [1, 2], [1.0, 1.0])
    od = ODDemand(np.array([0]), np.array([2]), np.array([1.0]))
    return base, od


@pytest.mark.parametrize(
    "projects, error, words",
    [
        ([Project("A", float("nan"), ((0, 2, 1.0),))], CatalogueError, "cost"),
        ([Project("A", -1.0, ((0, 2, 1.0),))], CatalogueError, "cost"),
        ([Project("A", 1.0, ((0, 2, 1.0),), requires=("Z",))], CatalogueError, "unknown project 'Z'"),
        ([Project("A", 1.0, ((0, 2, 1.0),), excludes=("Z",))], CatalogueError, "unknown project 'Z'"),
        (
            [
                Project("A", 1.0, ((0, 2, 1.0),), requires=("B",)),
                Project("B", 1.0, ((0, 2, 1.0),), requires=("C",)),
                Project("C", 1.0, ((0, 2, 1.0),), requires=("A",)),
            ],
            CatalogueError,
            "cycle A -> B -> C -> A",
        ),
        (
            [Project("A", 1.0, ((0, 2, 1.0),), requires=("B",), excludes=("B",)), Project("B", 1.0, ((0, 2, 1.0),))],
            CatalogueError,
            "both requires and excludes 'B'",
        ),
        ([Project("A", 1.0, ((0, 7, 1.0),))], CatalogueError, "node 7"),
        ([Project("A", 1.0, ((0, 2, -1.0),))], CatalogueError, "time"),
        ([Project("A", 1.0, ((0, 2, 1.0),)), Project("A", 2.0, ((0, 2, 1.0),))], CatalogueError, "duplicate"),
    ],
)
def test_bad_projects(projects, error, words):
    base, od = _tiny()
    with pytest.raises(error, match=words.replace("(", r"\(")):
        solve_selection(base, projects, od, budget=1.0)


def test_bad_budget_caps_graph_and_demand():
    base, od = _tiny()
    projects = [Project("A", 1.0, ((0, 2, 0.5),), member="m")]
    with pytest.raises(InputError, match="budget"):
        solve_selection(base, projects, od, budget=-1.0)
    with pytest.raises(InputError, match="budget"):
        solve_selection(base, projects, od, budget=float("nan"))
    with pytest.raises(InputError, match="member_caps"):
        solve_selection(base, projects, od, budget=1.0, member_caps={"m": -1.0})
    # A cap on a member that leads no candidate does not bind.
    assert solve_selection(base, projects, od, budget=1.0, member_caps={"x": 0.0}).selected == ("A",)
    with pytest.raises(InputError, match="time"):
        solve_selection((3, [0], [1], [-2.0]), projects, od, budget=1.0)
    with pytest.raises(InputError, match="node 5"):
        solve_selection((3, [0], [5], [1.0]), projects, od, budget=1.0)
    with pytest.raises(InputError, match="demand"):
        solve_selection(base, projects, ODDemand(np.array([0]), np.array([2]), np.array([np.nan])), budget=1.0)
    with pytest.raises(InputError, match="selected: unknown project 'Z'"):
        evaluate_design(base, projects, od, ["Z"])


def test_unreachable_pair_is_named_not_dropped():
    base = (3, [0], [1], [1.0])  # node 2 cannot be reached
    od = ODDemand(np.array([0, 0]), np.array([1, 2]), np.array([1.0, 5.0]))
    with pytest.raises(InfeasibleError, match="pair 0 -> 2 .demand 5. is unreachable"):
        solve_selection(base, [Project("A", 1.0, ((1, 2, 1.0),))], od, budget=1.0)
    # With zero demand the unreachable pair carries nothing and is allowed.
    od_zero = ODDemand(np.array([0, 0]), np.array([1, 2]), np.array([1.0, 0.0]))
    result = solve_selection(base, [Project("A", 1.0, ((0, 1, 0.5),))], od_zero, budget=1.0)
    assert result.objective == 0.5 and result.selected == ("A",)
    assert math.isinf(result.od_times[1])


@pytest.mark.parametrize("seed", range(6))
def test_through_key_walk_equals_pointer_jumping(seed):
    """The contraction's test "does the tree path to this key pass another key" answered by
    walking up from the keys equals pointer jumping over whole trees, on random graphs and on a
    chain deeper than the walk (which the jumping then finishes)."""
    from scipy.sparse.csgraph import dijkstra

    from solvers.selection.records import WALK_STEPS, _through_key, _through_key_jumping

    rng = np.random.default_rng(seed)
    if seed < 5:
        n = 400
        tails, heads = rng.integers(0, n, 2000), rng.integers(0, n, 2000)
        weights = rng.uniform(1.0, 5.0, 2000)
        keys = np.sort(rng.choice(n, 40, replace=False))
    else:  # a chain of 3,000 arcs: from 0 to 2,900 no key in between, longer than the walk
        n = 3001
        tails, heads, weights = np.arange(n - 1), np.arange(1, n), np.ones(n - 1)
        keys = np.array([0, 2900, 3000])
        assert 2900 > WALK_STEPS
    ok = tails != heads
    graph = sp.csr_array((weights[ok], (tails[ok], heads[ok])), shape=(n, n))
    _, pred = dijkstra(graph, directed=True, indices=keys, return_predecessors=True)
    is_key = np.zeros(n, dtype=bool)
    is_key[keys] = True
    walked = _through_key(pred, keys, is_key, keys)
    assert np.array_equal(walked, _through_key_jumping(pred, keys, is_key, keys))
    if seed == 5:  # 0 -> 3000 passes 2900; 0 -> 2900 and 2900 -> 3000 pass no key
        assert walked.tolist() == [[False, False, True], [False, False, False], [False, False, False]]


def test_prepared_extra_arcs_give_the_same_matrices_paths_and_owners():
    # prepare_extras (one CSR structure for the base and every project pair) against the
    # matrix sorted anew per design: same owners, same distances and the same predecessor trees
    from scipy.sparse.csgraph import dijkstra

    from solvers.selection._graph import _ArcGraph

    rng = np.random.default_rng(11)
    n = 60
    tails, heads = rng.integers(0, n, 400), rng.integers(0, n, 400)
    keep = tails != heads
    times = rng.integers(1, 20, keep.sum()).astype(float)  # integers: ties between paths happen
    plain = _ArcGraph(n, tails[keep], heads[keep], times)
    prepared = _ArcGraph(n, tails[keep], heads[keep], times)
    extras = []
    for who in range(6):
        for _ in range(5):
            t, h = (int(x) for x in rng.integers(0, n, 2))
            if t != h:
                extras.append((t, h, float(rng.integers(1, 20)), who, plain.position(t, h)))
    assert any(e[4] < 0 for e in extras) and any(e[4] >= 0 for e in extras)
    prepared.prepare_extras(extras)
    for mask in range(1 << 6):
        chosen = [e for e in extras if mask >> e[3] & 1]
        (a, own_a), (b, own_b) = plain.matrix(chosen), prepared.matrix(chosen)
        assert own_a == own_b
        da, pa = dijkstra(a, directed=True, return_predecessors=True)
        db, pb = dijkstra(b, directed=True, return_predecessors=True)
        assert np.array_equal(da, db) and np.array_equal(pa, pb)
