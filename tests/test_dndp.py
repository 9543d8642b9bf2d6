"""Exact discrete network design (solvers.dndp): reader, bad input, Braess, exactness vs brute force."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_file
from networks.errors import InfeasibleError, InputError, InstanceError
from networks.tntp import read_tntp_network, read_tntp_trips
from solvers.dndp import enumerate_designs, read_dndp_instance, solve_dndp
from transit.cli import main as cli_main

SCALE = 1e-3


def _sf(k: int, size: int = 10):
    inst = read_dndp_instance(shared_file("data", "dndp", f"SF_DNDP_{size}_{k}.txt"))
    trips = read_tntp_trips(shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_trips.tntp")) * SCALE
    return inst, trips


def _empty_budget_problem():
    """SF_DNDP_10_1 with every cost 0 and no budget: an evaluator's playground for the polish tests."""
    from solvers.dndp._problem import _Problem

    inst, trips = _sf(1)
    return _Problem(inst.network, trips, inst.candidates, np.zeros(len(inst.candidates)), budget=0.0,
                    requires=(), excludes=(), replaces=None)


def _write_instance(tmp_path: Path, source: Path, edit) -> Path:
    lines = [line for line in source.read_text().splitlines() if line.strip()]
    out = tmp_path / "edited.txt"
    out.write_text("\n".join(edit(lines)) + "\n")
    return out


# ------------------------------------------------------------------ reader
def test_reader_on_a_real_instance():
    inst, _ = _sf(1)
    assert inst.network.n_nodes == 24 and len(inst.network.tail) == 86
    assert inst.candidates.tolist() == list(range(76, 86))
    assert inst.candidate_links()[:2] == [(7, 16), (16, 7)]
    assert inst.costs.tolist()[:4] == [750, 750, 825, 825]
    assert inst.total_cost == 2 * (750 + 825 + 900 + 975 + 1050)
    assert inst.budget(0.5) == pytest.approx(4500.0)
    assert inst.network.capacity[0] == pytest.approx(25.90020064)  # 25900.2 x 1e-3


def test_base_network_scores_7480_2():
    inst, trips = _sf(1)
    res = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=0.0)
    assert res.status == "empty_budget" and res.selected == ()
    assert res.objective == pytest.approx(7480.225, abs=2e-3)  # TNTP best known 7,480,225.34 / 1000
    assert res.ue_gap_reached <= 1e-6


# ------------------------------------------------------------------ bad input
def test_budget_below_cheapest_project_returns_empty_design():
    inst, trips = _sf(1)
    res = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=700.0)
    assert res.status == "empty_budget" and res.selected == () and res.gap == 0.0
    assert "below the cheapest project (750)" in res.message


def test_candidate_duplicating_a_base_link_is_rejected(tmp_path):
    src = shared_file("data", "dndp", "SF_DNDP_10_1.txt")
    # turn the last candidate (14->13) into a copy of base link 1->2
    path = _write_instance(tmp_path, src, lambda ls: ls[:-1] + ["\t1\t2\t100\t1\t1\t0.15\t4\t0\t0\t1\t900\t;"])
    with pytest.raises(InstanceError, match=r"1->2 duplicates the base link"):
        read_dndp_instance(path)


def test_negative_cost_is_rejected(tmp_path):
    src = shared_file("data", "dndp", "SF_DNDP_10_1.txt")
    path = _write_instance(tmp_path, src, lambda ls: ls[:-1] + [ls[-1].replace("1050", "-1050")])
    with pytest.raises(InstanceError, match=r"cost -1050 is negative"):
        read_dndp_instance(path)
    inst, trips = _sf(1)
    with pytest.raises(InputError, match="negative"):
        solve_dndp(inst.network, trips, inst.candidates, -inst.costs, budget=1.0)


def test_unroutable_demand_is_reported():
    inst, trips = _sf(1)
    # remove every link into node 10 except candidates: make the base network cut node 10 off
    net = inst.network
    into_10 = np.flatnonzero(net.head == 9)
    cut = net.with_links(tail=[], head=[], capacity=[], free_flow_time=[])  # a copy
    keep = np.setdiff1d(np.arange(len(net.tail)), into_10)
    import dataclasses

    fields = {name: getattr(cut, name)[keep] for name in
              ("tail", "head", "capacity", "length", "free_flow_time", "b", "power", "speed", "toll", "link_type")}
    sub = dataclasses.replace(cut, **fields)
    cands = [int(np.flatnonzero(keep == c)[0]) for c in inst.candidates if c in keep]
    with pytest.raises(InfeasibleError, match="no path even with all"):
        solve_dndp(sub, trips, cands, np.ones(len(cands)), budget=3.0)


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    src = shared_file("data", "dndp", "SF_DNDP_10_1.txt")
    trips = shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_trips.tntp")
    path = _write_instance(tmp_path, src, lambda ls: ls[:-1] + [ls[-1].replace("1050", "-1050")])
    code = cli_main(["dndp", "--instance", str(path), "--trips", str(trips), "--budget-fraction", "0.5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "negative" in err


# ------------------------------------------------------------------ Braess
def test_braess_link_is_rejected():
    net = read_tntp_network(shared_file("data", "tntp", "Braess-Example", "Braess_net.tntp"))
    trips = read_tntp_trips(shared_file("data", "tntp", "Braess-Example", "Braess_trips.tntp"))
    bridge = net.link_index(3, 4)
    brute = enumerate_designs(net, trips, [bridge], [1.0], budget=1.0)
    # 6 trips: without 3->4 each route carries 3 (83 each, TSTT 498); with it all use 1-3-4-2 (92 each)
    assert brute.values[()] == pytest.approx(498.0, rel=1e-6)
    assert brute.values[(0,)] == pytest.approx(552.0, rel=1e-6)
    res = solve_dndp(net, trips, [bridge], [1.0], budget=1.0)
    assert res.selected == () and res.status == "optimal"
    assert res.objective == pytest.approx(498.0, rel=1e-6)
    assert res.bound <= res.objective and res.gap <= 1e-3


# ------------------------------------------------------------------ exactness
def _subnetwork(net, drop):
    """The network without the links ``drop`` (candidates left out of a smaller problem)."""
    import dataclasses

    keep = np.ones(len(net.tail), dtype=bool)
    keep[drop] = False
    fields = {name: getattr(net, name)[keep] for name in
              ("tail", "head", "capacity", "length", "free_flow_time", "b", "power", "speed", "toll", "link_type")}
    return dataclasses.replace(net, **fields)


@pytest.mark.parametrize("method", ["bb", "cuts"])
def test_exact_equals_brute_force_on_a_subset_with_dependencies(method):
    inst, trips = _sf(3)
    net = inst.network
    # five candidates as projects; the other five stay closed (not in the problem)
    cands, costs = inst.candidates[:5], inst.costs[:5]
    sub = _subnetwork(net, inst.candidates[5:])
    kw = dict(budget=0.6 * costs.sum(), requires=[(1, 0)], excludes=[(2, 4)])
    brute = enumerate_designs(sub, trips, cands, costs, **kw)
    res = solve_dndp(sub, trips, cands, costs, opt_gap=1e-6, method=method, **kw)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(brute.objective, rel=1e-7)
    assert res.bound <= brute.objective * (1 + 1e-9)
    # the proven answer matches brute force; check feasibility of the choice too
    assert set(res.selected) == set(brute.selected)
    assert not (1 in res.selected and 0 not in res.selected)
    assert not (2 in res.selected and 4 in res.selected)
    assert res.ue_solves < len(brute.values)


@pytest.mark.parametrize("fraction", [0.3, 0.6])
def test_branch_and_bound_with_chained_requirements_equals_brute_force(fraction):
    # requirements that point both ways in the search order, a chain, and exclusions
    inst, trips = _sf(4)
    kw = dict(budget=inst.budget(fraction), requires=[(0, 3), (3, 9), (5, 2), (7, 8), (8, 1)],
              excludes=[(1, 6), (4, 9)])
    brute = enumerate_designs(inst.network, trips, inst.candidates, inst.costs, **kw)
    for heuristics in (False, True):
        res = solve_dndp(inst.network, trips, inst.candidates, inst.costs, opt_gap=1e-6, local_search=heuristics, **kw)
        assert res.certified is True
        assert res.status == "optimal"
        assert res.selected == brute.selected
        assert res.objective == pytest.approx(brute.objective, rel=1e-8)
        assert min(brute.values.values()) >= res.bound * (1 - 1e-9)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("omit", [False, True])
def test_search_tree_reaches_every_feasible_design_once(fraction, omit, monkeypatch):
    # the tree alone (no equilibria): each feasible design is the own design of exactly one node,
    # whether nodes that overrun the budget split by the first candidate left out or not
    import solvers.dndp.branch_and_bound as bb
    from solvers.dndp._problem import _Problem

    monkeypatch.setattr(bb, "OMIT_BRANCHING", omit)
    inst, trips = _sf(4)
    requires, excludes = [(0, 3), (3, 9), (5, 2), (7, 8), (8, 1)], [(1, 6), (4, 9)]
    problem = _Problem(inst.network, trips, inst.candidates, inst.costs, budget=inst.budget(fraction),
                       requires=requires, excludes=excludes, replaces=None)
    search = bb._Search(problem, ue_gap=1e-7, so_gap=1e-5, opt_gap=1e-3, elapsed=lambda: 0.0, deadline=None)
    search.order = [3, 7, 0, 9, 1, 5, 2, 8, 4, 6]  # requirements point both ways in this order
    search.rank = {i: q for q, i in enumerate(search.order)}
    reached: list[int] = []
    splits = 0
    stack = [bb._Node(0.0, 0, 0, 0, 0)]
    while stack:
        node = stack.pop()
        qs = search.candidates_after(node.bits, node.pos, node.spent)
        split = search.overruns(node, qs)
        if split:
            splits += 1
        elif problem.feasible(node.bits):
            reached.append(node.bits)
        for bits, pos, spent in search.children(node, qs, split):
            assert spent == problem.cost_of(bits) <= problem.int_budget
            stack.append(bb._Node(0.0, 0, bits, pos, spent))
    feasible = [b for b in range(1 << problem.n) if problem.feasible(b)]
    assert sorted(reached) == feasible
    assert (splits > 0) == omit


def test_branch_and_bound_with_heuristics_equals_brute_force_on_twelve_candidates():
    # twelve candidates of a 20-candidate instance (six two-way links), greedy + swaps forced on
    inst, trips = _sf(2, size=20)
    sub = _subnetwork(inst.network, inst.candidates[12:])
    cands, costs = inst.candidates[:12], inst.costs[:12]
    budget = 0.35 * costs.sum()
    brute = enumerate_designs(sub, trips, cands, costs, budget=budget)
    res = solve_dndp(sub, trips, cands, costs, budget=budget, local_search=True, opt_gap=1e-6)
    assert res.status == "optimal"
    assert res.selected == brute.selected
    assert res.objective == pytest.approx(brute.objective, rel=1e-8)
    assert min(brute.values.values()) >= res.bound * (1 - 1e-9)
    # the subtree bounds prune: far fewer UE solves than designs
    assert res.ue_solves < len(brute.values) / 2 and res.nodes > 0
    assert res.certified is True


def test_certificate_check_finds_an_uncovered_design():
    from solvers.dndp._problem import _Problem
    from solvers.dndp.cuts import _certify

    inst, trips = _sf(1)
    problem = _Problem(inst.network, trips, inst.candidates, inst.costs, budget=inst.budget(0.5),
                       requires=[(0, 1)], excludes=[(2, 3)], replaces=None)
    evaluated = [0, 0b1, 0b11]
    # nothing covers the designs outside the evaluated ones: CP-SAT finds a feasible one
    status, found = _certify(problem, [], evaluated, 100.0, time_limit=10, seed=0)
    assert status in ("FEASIBLE", "OPTIMAL") and found not in evaluated and problem.feasible(found)
    # a cut on every candidate at a high enough bound covers them all
    full = (1 << problem.n) - 1
    assert _certify(problem, [(full, 200.0)], evaluated, 100.0, time_limit=10, seed=0)[0] == "INFEASIBLE"
    # ... but not when its bound is below the level to certify
    assert _certify(problem, [(full, 50.0)], evaluated, 100.0, time_limit=10, seed=0)[0] != "INFEASIBLE"
    # a cut that holds only for designs containing candidate 4 leaves the others uncovered
    status, found = _certify(problem, [(full, 200.0, 0b10000)], evaluated, 100.0, time_limit=10, seed=0)
    assert status in ("FEASIBLE", "OPTIMAL") and not found >> 4 & 1
    assert _certify(problem, [(full, 200.0, 0b10000), (full & ~0b10000, 200.0)], evaluated, 100.0,
                    time_limit=10, seed=0)[0] == "INFEASIBLE"


@pytest.mark.parametrize("held, free", [(0b0111011101, 0b10), (0b0111111110, 0b1)])
def test_value_function_bound_is_below_every_design_it_covers_and_above_the_system_optimum(held, free, monkeypatch):
    # designs holding `held` within `held | free`: brute force against the bound of the subtree
    import solvers.dndp.branch_and_bound as bb
    from solvers.dndp._problem import _Problem

    monkeypatch.setattr(bb, "VALUE_BOUND_TRIES", 6)  # solves run to their gap but the last

    inst, trips = _sf(1)
    problem = _Problem(inst.network, trips, inst.candidates, inst.costs, budget=float(np.sum(inst.costs)),
                       requires=(), excludes=(), replaces=None)
    search = bb._Search(problem, ue_gap=1e-9, so_gap=1e-9, opt_gap=1e-3, elapsed=lambda: 0.0, deadline=None)
    links = held | free
    ue = {}
    for sub in range(1 << problem.n):
        if sub & links == sub and sub & held == held:
            res = problem.engine.solve(problem.design_mask(sub), gap=1e-10, max_iterations=20000)
            ue[sub] = res.tstt
    so = problem.engine.solve(problem.bound_mask(links), system_optimal=True, gap=1e-9, max_iterations=20000)
    search.incumbent = 2.0 * max(ue.values())  # a threshold no bound reaches: each solve runs to its gap
    assert search.value_test(held, links, so.state, so.beckmann) == -math.inf  # no equilibrium of `held` yet
    search.ue_value(held, None)
    bound = search.value_test(held, links, so.state, so.beckmann)
    assert len(ue) == 1 << bin(free).count("1")
    assert bound <= min(ue.values()) * (1 + 1e-9)
    assert bound > so.bound + 0.25 * (min(ue.values()) - so.bound)  # it closes part of the UE-SO gap
    assert search.cuts[-1][2] == held


def test_leaf_value_bound_uses_the_evaluated_subset_with_least_beckmann_and_stays_below_the_design(monkeypatch):
    # a design the SO bound cannot rule out is first bounded from an evaluated design one candidate smaller
    import solvers.dndp.branch_and_bound as bb
    from solvers.dndp._problem import _Problem

    monkeypatch.setattr(bb, "VALUE_BOUND_TRIES", 2)  # the first solve runs to its gap (the last stops once it cannot prune)
    inst, trips = _sf(1)
    problem = _Problem(inst.network, trips, inst.candidates, inst.costs, budget=float(np.sum(inst.costs)),
                       requires=(), excludes=(), replaces=None)
    search = bb._Search(problem, ue_gap=1e-9, so_gap=1e-9, opt_gap=1e-3, elapsed=lambda: 0.0, deadline=None)
    design = 0b0000110111
    exact = problem.engine.solve(problem.design_mask(design), gap=1e-10, max_iterations=20000).tstt
    so = problem.engine.solve(problem.bound_mask(design), system_optimal=True, gap=1e-9, max_iterations=20000)
    search.incumbent = 2.0 * exact  # a threshold no bound reaches: the solve runs to its gap
    assert search.leaf_value_test(design, so.state, so.beckmann) == -math.inf  # no smaller design evaluated yet
    smaller = [design & ~(1 << i) for i in (0, 1, 4)]
    for sub in smaller:
        search.ue_value(sub, None)
    bound = search.leaf_value_test(design, so.state, so.beckmann)
    cut = max((c for c in search.cuts if len(c) == 3), key=lambda c: c[1])
    held = cut[2]
    assert held == min(smaller, key=search.beckmann.get)  # the tightest of the evaluated subsets
    assert cut[:2] == (design, bound)
    # it covers the design and the subset it holds: below both; from the subset whose Beckmann objective is
    # nearest the design's it closes a third of the UE-SO gap (about 5867 between 5793 and 6011)
    assert bound <= exact * (1 + 1e-9) and bound <= search.ue[held] * (1 + 1e-9)
    assert bound > so.bound + 0.25 * (exact - so.bound)


def test_weighted_equilibrium_bounds_and_pruning_stops():
    from solvers.dndp._ue import Equilibrium

    inst, trips = _sf(1)
    net = inst.network
    eng = Equilibrium.from_network(net, trips)
    base = np.ones(len(net.tail), dtype=bool)
    base[inst.candidates] = False
    ue = eng.solve(base, gap=1e-9)
    so = eng.solve(base, system_optimal=True, gap=1e-9)
    # Beckmann of the UE flows, by numerical integration of the BPR times
    grid = np.linspace(0.0, 1.0, 2001)[:, None] * ue.flows[None, :]
    t = net.free_flow_time * (1 + net.b * (grid / net.capacity) ** net.power)
    beckmann = float(np.sum(0.5 * (t[1:] + t[:-1]) * np.diff(grid, axis=0)))
    assert ue.beckmann == pytest.approx(beckmann, rel=1e-6)
    for mu in (0.25, 0.5, 0.75):
        mid = eng.solve(base, mu=mu, gap=1e-9)
        phi = mu * mid.tstt + (1 - mu) * mid.beckmann
        assert mid.bound <= phi <= mid.bound * (1 + 1e-8)
        # the minimiser of the blend lies between UE and SO in TSTT, and minimises the blend
        assert so.tstt * (1 - 1e-9) <= mid.tstt <= ue.tstt * (1 + 1e-9)
        assert phi <= mu * ue.tstt + (1 - mu) * ue.beckmann
        assert phi <= mu * so.tstt + (1 - mu) * so.beckmann
    # a pruning test stops early, and its certified bound is still below the true SO value
    quick = eng.solve(base, system_optimal=True, gap=1e-9, stop_below=math.inf)
    assert quick.iterations < so.iterations and quick.bound <= so.tstt
    high = eng.solve(base, system_optimal=True, gap=1e-9, stop_above=0.9 * so.tstt)
    assert high.iterations < so.iterations and 0.9 * so.tstt <= high.bound <= so.tstt
    with pytest.raises(ValueError, match="mu"):
        eng.solve(base, mu=1.5)


def test_upgrade_replacing_a_link_matches_brute_force():
    inst, trips = _sf(1)
    net = inst.network
    # upgrades: double the capacity of three congested base links (a better copy replaces the link)
    bases = [net.link_index(10, 15), net.link_index(15, 10), net.link_index(16, 10)]
    up = net.with_links(
        tail=net.tail[bases], head=net.head[bases], capacity=2 * net.capacity[bases],
        free_flow_time=net.free_flow_time[bases], b=net.b[bases], power=net.power[bases],
    )
    n = len(net.tail)
    cands = [int(inst.candidates[0]), int(inst.candidates[1]), n, n + 1, n + 2]
    costs = [750.0, 750.0, 600.0, 600.0, 500.0]
    replaces = {2: [bases[0]], 3: [bases[1]], 4: [bases[2]]}
    kw = dict(budget=1900.0, replaces=replaces)
    brute = enumerate_designs(up, trips, cands, costs, **kw)
    res = solve_dndp(up, trips, cands, costs, opt_gap=1e-6, **kw)
    assert res.objective == pytest.approx(brute.objective, rel=1e-7)
    assert set(res.selected) == set(brute.selected)


@pytest.mark.parametrize(
    "k, fraction, expected_selected, expected_objective",
    [
        # optima established by full enumeration (enumerate_designs; see benchmarks/bench_dndp.py)
        (1, 0.25, (4, 5), 6227.9106),
        (1, 0.75, (2, 3, 4, 5, 7, 8, 9), 5294.0192),
    ],
)
def test_sf_dndp_10_known_optima(k, fraction, expected_selected, expected_objective):
    inst, trips = _sf(k)
    res = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=inst.budget(fraction))
    assert res.status == "optimal" and res.gap <= 1e-3
    assert res.selected == expected_selected
    assert res.objective == pytest.approx(expected_objective, abs=1e-3)
    assert res.ue_gap_reached <= 1e-6
    assert res.bound <= res.objective
    # an independent UE solver (solvers.assignment, path-based) agrees on the winner's value
    assert res.verified_objective == pytest.approx(res.objective, rel=1e-7)


def test_sf_dndp_10_1_quarter_budget_equals_enumeration():
    inst, trips = _sf(1)
    budget = inst.budget(0.25)
    brute = enumerate_designs(inst.network, trips, inst.candidates, inst.costs, budget=budget)
    res = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=budget)
    assert res.selected == brute.selected
    assert res.objective == pytest.approx(brute.objective, rel=1e-8)
    assert min(brute.values.values()) >= res.bound * (1 - 1e-9)


def test_cli_json(capsys):
    inst = shared_file("data", "dndp", "SF_DNDP_10_1.txt")
    trips = shared_file("data", "tntp", "SiouxFalls", "SiouxFalls_trips.tntp")
    code = cli_main(["dndp", "--instance", str(inst), "--trips", str(trips), "--budget-fraction", "0.25", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert sorted(map(tuple, out["selected"])) == [(11, 15), (15, 11)]
    assert out["objective"] == pytest.approx(6227.9106, abs=1e-3)
    assert out["status"] == "optimal" and out["gap"] <= 1e-3 and out["ue_solves"] > 0
    assert math.isfinite(out["bound"]) and out["seconds"] > 0
    assert out["method"] == "bb" and out["certified"] is True and out["nodes"] > 0
    code = cli_main(["dndp", "--instance", str(inst), "--trips", str(trips), "--budget-fraction", "0.25",
                     "--method", "cuts", "--json"])
    cuts = json.loads(capsys.readouterr().out)
    assert code == 0 and cuts["method"] == "cuts" and cuts["master_solves"] > 0
    assert cuts["objective"] == pytest.approx(out["objective"], rel=1e-9)


def test_budget_aware_milp_bound_is_valid_and_tighter():
    inst, trips = _sf(3)
    net = inst.network
    cands, costs = inst.candidates[:5], inst.costs[:5]
    sub = _subnetwork(net, inst.candidates[5:])
    budget = 0.4 * costs.sum()
    brute = enumerate_designs(sub, trips, cands, costs, budget=budget)
    plain = solve_dndp(sub, trips, cands, costs, budget=budget, opt_gap=0.5)  # stops at the root
    res = solve_dndp(sub, trips, cands, costs, budget=budget, opt_gap=0.5, budget_bound=True)
    assert plain.bound < res.bound <= brute.objective


def test_unknown_method_is_rejected():
    inst, trips = _sf(1)
    with pytest.raises(InputError, match="method 'fast'"):
        solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=1000.0, method="fast")


def test_time_limit_returns_incumbent_and_gap():
    inst, trips = _sf(1, size=20)
    res = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=inst.budget(0.5), time_limit=4.0)
    assert res.status == "time_limit"
    assert res.selected and res.objective < res.base_objective
    assert 0.0 < res.gap < 1.0 and res.bound < res.objective
    assert sum(inst.costs[list(res.selected)]) <= inst.budget(0.5)


def test_design_engine_on_a_regional_network_matches_assignment():
    # Anaheim (416 nodes) takes the binary-heap shortest paths; the general assignment agrees
    from solvers.assignment import assign
    from solvers.dndp._ue import Equilibrium

    net = read_tntp_network(shared_file("data", "tntp", "Anaheim", "Anaheim_net.tntp"))
    trips = read_tntp_trips(shared_file("data", "tntp", "Anaheim", "Anaheim_trips.tntp"), n_zones=net.n_zones)
    eng = Equilibrium.from_network(net, trips)
    res = eng.solve(np.ones(len(net.tail), dtype=bool), gap=1e-6, max_iterations=5000)
    reference = assign(net, trips, algorithm="gp", gap=1e-6)
    assert res.gap <= 1e-6
    assert res.tstt == pytest.approx(reference.tstt, rel=1e-5)


def test_projection_passes_reach_the_same_equilibrium_in_fewer_sweeps():
    """Extra projection passes per sweep change how fast the engine converges, not where to: on
    Rey's congested Eastern Massachusetts (demand x 4) both reach 1e-8 at the same TSTT, which
    the general assignment confirms, the passes in fewer sweeps; a negative count is refused."""
    from solvers.assignment import assign
    from solvers.dndp._ue import INNER_PASSES, Equilibrium

    inst = read_dndp_instance(shared_file("data", "dndp", "EasternMassachusetts", "EM_DNDP_10_1.txt"))
    trips = read_tntp_trips(shared_file("data", "dndp", "EasternMassachusetts", "trips.txt")) * SCALE * 4
    active = np.ones(inst.network.n_links, dtype=bool)
    active[inst.candidates] = False
    assert INNER_PASSES > 0
    plain = Equilibrium.from_network(inst.network, trips, inner_passes=0).solve(active, gap=1e-8, max_iterations=20000)
    passes = Equilibrium.from_network(inst.network, trips).solve(active, gap=1e-8, max_iterations=20000)
    assert plain.gap <= 1e-8 and passes.gap <= 1e-8
    assert passes.tstt == pytest.approx(plain.tstt, rel=1e-7)
    assert passes.iterations * 3 < plain.iterations
    reference = assign(inst.network, trips, algorithm="gp", gap=1e-8, active=active, max_iterations=20000)
    assert passes.tstt == pytest.approx(reference.tstt, rel=1e-7)
    with pytest.raises(ValueError, match="inner_passes"):
        Equilibrium.from_network(inst.network, trips, inner_passes=-1)


def test_path_store_grows_when_an_equilibrium_needs_more_routes_than_it_holds():
    """Ten parallel routes all used at equilibrium: a store of 4 paths per OD pair must grow to
    reach the equilibrium (equal route times, found by hand below); capped at 4 it stalls."""
    from solvers.dndp._ue import Equilibrium

    n = 10  # routes 0 -> 2+i -> 1; the first link of route i has free-flow time 1 + 0.1 i
    tail = np.array([0] * n + list(range(2, 2 + n)))
    head = np.array(list(range(2, 2 + n)) + [1] * n)
    fft = np.array([1.0 + 0.1 * i for i in range(n)] + [0.0] * n)
    b = np.array([1.0] * n + [0.0] * n)
    kwargs = dict(n_nodes=2 + n, tail=tail, head=head, free_flow_time=fft, b=b, capacity=np.ones(2 * n),
                  power=np.ones(2 * n), demand=np.array([[0.0, 20.0], [0.0, 0.0]]))
    engine = Equilibrium(max_paths=4, **kwargs)
    res = engine.solve(np.ones(2 * n, dtype=bool), gap=1e-10, max_iterations=5000)
    assert res.gap <= 1e-10 and engine.max_paths >= n
    # linear costs t_i = (1 + 0.1 i)(1 + x_i): all used iff the common time T satisfies
    # sum_i (T / (1 + 0.1 i) - 1) = 20
    T = (20 + n) / sum(1 / (1 + 0.1 * i) for i in range(n))
    assert res.flows[:n] == pytest.approx([T / (1 + 0.1 * i) - 1 for i in range(n)], rel=1e-6)
    capped = Equilibrium(max_paths=4, path_cap=4, **kwargs).solve(np.ones(2 * n, dtype=bool), gap=1e-10,
                                                                max_iterations=200)
    assert capped.gap > 1e-6  # four routes cannot hold the equilibrium


def test_path_rows_grow_for_a_path_longer_than_they_hold():
    """A chain of 300 links (longer than the first 128 link rows): solved, all demand on it."""
    from solvers.dndp._ue import Equilibrium

    chain = [0] + list(range(2, 301)) + [1]
    tail, head = np.array(chain[:-1]), np.array(chain[1:])
    m = len(tail)
    engine = Equilibrium(n_nodes=301, tail=tail, head=head, free_flow_time=np.ones(m), b=np.full(m, 0.15),
                         capacity=np.full(m, 10.0), power=np.full(m, 4.0), demand=np.array([[0.0, 5.0], [0.0, 0.0]]))
    res = engine.solve(np.ones(m, dtype=bool), gap=1e-9)
    assert engine.max_len >= m and res.gap <= 1e-9
    assert res.flows == pytest.approx(np.full(m, 5.0))
    assert res.tstt == pytest.approx(5.0 * m * (1 + 0.15 * 0.5 ** 4))


@pytest.mark.slow
def test_eastern_massachusetts_10_1_quarter_budget_equals_enumeration(capsys):
    """Rey's Eastern Massachusetts instance (his scaling: capacities and demand x 1e-3, demand x 4):
    the exact optimum at 25 % equals the enumeration of every budget-feasible design (57 UE solves,
    about 2 minutes: in the slow evidence run)."""
    inst = read_dndp_instance(shared_file("data", "dndp", "EasternMassachusetts", "EM_DNDP_10_1.txt"))
    trips = read_tntp_trips(shared_file("data", "dndp", "EasternMassachusetts", "trips.txt")) * SCALE * 4
    assert inst.network.n_nodes == 74 and inst.network.n_links == 258 and len(inst.candidates) == 10
    budget = inst.budget(0.25)
    brute = enumerate_designs(inst.network, trips, inst.candidates, inst.costs, budget=budget)
    assert len(brute.values) > 50  # the feasible designs
    res = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=budget)
    assert res.status == "optimal" and res.selected == brute.selected
    assert res.objective == pytest.approx(brute.objective, rel=1e-8)
    assert min(brute.values.values()) >= res.bound * (1 - 1e-9)
    # the command line with Rey's demand factor states the same problem
    cli_main(["dndp", "--instance", str(shared_file("data", "dndp", "EasternMassachusetts", "EM_DNDP_10_1.txt")),
              "--trips", str(shared_file("data", "dndp", "EasternMassachusetts", "trips.txt")),
              "--budget-fraction", "0.25", "--demand-factor", "4", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == pytest.approx(res.objective, rel=1e-8)


def test_a_polish_below_double_precision_keeps_the_value_it_reached(monkeypatch):
    """The incumbent's re-solve to 1e-10 can meet the floating-point floor (Anaheim: a stall at
    4e-9).  Below STALL_FLOOR the value stands with the gap reached, and it is not re-solved on the
    next call; above it a stall is still an error."""
    from networks.errors import SolverError
    from solvers.dndp import _problem
    from solvers.dndp._problem import STALL_FLOOR, _Evaluator

    problem = _empty_budget_problem()
    ev = _Evaluator(problem, ue_gap=1e-7, so_gap=1e-5)
    coarse, _ = ev.ue_value(0)
    ev.max_sweeps = 160  # sweeps that cannot reach an unreachable gap: a stall (at about 7e-11), below the floor
    value, reached = ev.ue_value(0, gap=1e-300)
    assert reached <= STALL_FLOOR and 0 in ev.at_floor
    assert value == pytest.approx(coarse, rel=1e-5)  # the 1e-7 equilibrium, refined
    solves = ev.ue_solves
    assert ev.ue_value(0, gap=1e-300) == (value, reached) and ev.ue_solves == solves  # not re-solved
    monkeypatch.setattr(_problem, "STALL_FLOOR", 0.0)
    strict = _Evaluator(problem, ue_gap=1e-7, so_gap=1e-5)
    strict.max_sweeps = 3
    with pytest.raises(SolverError, match="stalled"):
        strict.ue_value(0, gap=1e-300)


def test_greedy_incumbent_leaves_the_tree_search_its_share_of_the_time_limit():
    # a clock that counts UE solves: with 40 "seconds" left the greedy may spend 25 % of them
    from solvers.dndp._problem import _Problem
    from solvers.dndp.branch_and_bound import HEURISTIC_SHARE, _Search

    inst, trips = _sf(1, size=20)
    problem = _Problem(inst.network, trips, inst.candidates, inst.costs, budget=inst.budget(0.5),
                       requires=(), excludes=(), replaces=())
    solves = {}
    for deadline in (None, 40.0):
        search = _Search(problem, ue_gap=1e-4, so_gap=1e-4, opt_gap=1e-3, elapsed=lambda: 0.0, deadline=deadline)
        search.elapsed = lambda s=search: float(s.ue_solves)
        search.greedy_and_swaps()
        solves[deadline] = search.ue_solves
        assert math.isfinite(search.incumbent) and search.inc_bits != 0
    assert solves[40.0] == int(HEURISTIC_SHARE * 40.0)
    assert solves[None] > 4 * solves[40.0]


def test_a_stalled_polish_stops_when_a_chunk_no_longer_halves_the_gap():
    # SF, a gap no solve can reach: the polish meets the floor and stops after a few chunks, not
    # after its 20,000 sweeps (on Anaheim those took about 10 minutes)
    from solvers.dndp._problem import POLISH_CHUNK, STALL_FLOOR, _Evaluator

    problem = _empty_budget_problem()
    ev = _Evaluator(problem, ue_gap=1e-7, so_gap=1e-5)
    coarse, _ = ev.ue_value(0)
    sweeps = []
    solve = problem.engine.solve

    def counting(*args, **kwargs):
        res = solve(*args, **kwargs)
        sweeps.append(res.iterations)
        return res

    problem.engine.solve = counting
    value, reached = ev.ue_value(0, gap=1e-300)
    assert reached <= STALL_FLOOR and 0 in ev.at_floor
    assert value == pytest.approx(coarse, rel=1e-5)
    assert 2 <= len(sweeps) and max(sweeps) <= POLISH_CHUNK and sum(sweeps) < 20 * POLISH_CHUNK


def test_a_stalled_polish_is_accepted_three_orders_below_the_target_gap():
    # a polish cut short above STALL_FLOOR: an error for an evaluator serving 1e-5 gaps (the
    # default floor), a value that stands for one serving 0.1 % (solve_dndp passes 1e-3 x opt_gap,
    # or its ue_gap when larger)
    from networks.errors import SolverError
    from solvers.dndp._problem import STALL_FLOOR, _Evaluator

    problem = _empty_budget_problem()
    reached = {}
    for accept in (STALL_FLOOR, 1e-6):
        ev = _Evaluator(problem, ue_gap=1e-6, so_gap=1e-5, accept=accept)
        coarse, _ = ev.ue_value(0)
        ev.max_sweeps = 1  # one sweep of the polish: far from 1e-10
        if accept == STALL_FLOOR:
            with pytest.raises(SolverError, match="stalled"):
                ev.ue_value(0, gap=1e-10)
        else:
            value, reached[accept] = ev.ue_value(0, gap=1e-10)
            assert STALL_FLOOR < reached[accept] <= accept and 0 in ev.at_floor
            assert value == pytest.approx(coarse, rel=1e-5)


def test_a_value_for_information_keeps_a_stalled_polish_instead_of_raising():
    # strict=False (the base network's value, which bounds nothing): a polish cut short far above
    # its floor returns the value and the gap it reached; it is not taken as final (not at the
    # floor), so a later strict request solves again, and raises as before
    from networks.errors import SolverError
    from solvers.dndp._problem import _Evaluator

    problem = _empty_budget_problem()
    ev = _Evaluator(problem, ue_gap=1e-4, so_gap=1e-5)
    coarse, coarse_gap = ev.ue_value(0)
    ev.max_sweeps = 1
    value, reached = ev.ue_value(0, gap=1e-10, strict=False)
    assert 1e-9 < reached <= coarse_gap and 0 not in ev.at_floor
    assert value == pytest.approx(coarse, rel=1e-3)
    with pytest.raises(SolverError, match="stalled"):
        ev.ue_value(0, gap=1e-10)


def test_solve_dndp_reports_the_base_network_as_far_as_its_polish_got(monkeypatch):
    """EM_DNDP_20_10's base network (links at 24-29 times capacity) never polished below 1.8e-7
    and its 20,000 sweeps ended the 1e-5 run in an error, though the base value bounds nothing.
    Here the base's polish is cut to one sweep from a cold start: the result stands, with the
    base's best solve and its gap reported."""
    from solvers.dndp import _problem, solve as solve_module

    class Spy(_problem._Evaluator):
        def _solve_ue(self, bits, target, warm, accept=None):
            if bits == 0 and target < _problem.STALL_FLOOR:
                sweeps, self.max_sweeps = self.max_sweeps, 1
                try:
                    return super()._solve_ue(bits, target, None, accept)
                finally:
                    self.max_sweeps = sweeps
            return super()._solve_ue(bits, target, warm, accept)

    inst, trips = _sf(1)
    budget = inst.budget(0.5)
    reference = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=budget, opt_gap=1e-5)
    monkeypatch.setattr(solve_module, "_Evaluator", Spy)
    res = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=budget, opt_gap=1e-5)
    assert res.status == "optimal" and res.selected == reference.selected and res.selected
    assert res.objective == pytest.approx(reference.objective, rel=1e-9)
    # the cut polish (one cold sweep) is worse than the search's own solve of the base to 1e-7,
    # which is kept
    assert reference.base_gap_reached <= 1e-9 and 1e-9 < res.base_gap_reached <= 1e-7
    assert res.base_objective == pytest.approx(reference.base_objective, rel=1e-6)


def test_a_polish_stuck_above_its_floor_is_finished_by_the_general_assignment_solver():
    # the design engine's polish chunks make no progress (each returns its warm start unchanged,
    # as on Anaheim A_DNDP_20_10's incumbent, stuck at 2.86e-7): the value comes from
    # solvers.assignment.assign to the target instead, and it is the equilibrium's
    from solvers.assignment import assign
    from solvers.dndp._problem import POLISH_CHUNK, _Evaluator

    problem = _empty_budget_problem()
    ev = _Evaluator(problem, ue_gap=1e-6, so_gap=1e-5, accept=1e-8)
    coarse, coarse_gap = ev.ue_value(0)
    solve = problem.engine.solve

    def stuck(mask, **kwargs):
        if kwargs.get("max_iterations") == POLISH_CHUNK:
            kwargs["max_iterations"] = 0  # a chunk that does nothing
        return solve(mask, **kwargs)

    problem.engine.solve = stuck
    value, reached = ev.ue_value(0, gap=1e-10)
    assert reached <= 1e-9 < coarse_gap and ev.elsewhere == {0}
    reference = assign(problem.network, problem.engine_demand, algorithm="gp", gap=1e-10,
                       active=problem.design_mask(0), max_iterations=20000)
    assert value == pytest.approx(reference.tstt, rel=1e-12)
    assert value == pytest.approx(coarse, rel=1e-5)


def test_projection_uses_current_path_costs():
    """One Newton pass of the design engine: a shift off one path lowers the cost of another
    path sharing its steep link, and the next shift must see that (a stale cost overshoots, and
    Gauss-Seidel then circles: on Anaheim the polish stalled near a gap of 1e-8).

    Paths A (constant 10), B and C (both over link e, t = 1 + x^4, then a free link each),
    one unit on B and on C.  After B's shift e costs 1 + (2 - 7/32)^4 = 11.07, so C moves only
    until e reaches A's cost 10 from above (Newton on a convex cost never passes the root);
    with B's stale cost 17 it would move 7/22.6 and leave e at 5.7, far below A.
    """
    from solvers.dndp import _ue

    fft = np.array([10.0, 1.0, 0.0, 0.0])  # links A, e, f, g
    b = np.array([0.0, 1.0, 0.0, 0.0])
    cap = np.ones(4)
    pw = np.array([4.0, 4.0, 4.0, 4.0])
    P = np.zeros((1, 3, 2), dtype=np.int64)
    P[0, 0, 0] = 0
    P[0, 1, :] = (1, 2)
    P[0, 2, :] = (1, 3)
    plen = np.array([[1, 2, 2]], dtype=np.int64)
    h = np.array([[0.0, 1.0, 1.0]])
    npath = np.array([3], dtype=np.int64)
    x = np.array([0.0, 2.0, 1.0, 1.0])
    cost, deriv = np.empty(4), np.empty(4)
    for a in range(4):
        cost[a], deriv[a] = _ue._cost_and_derivative(a, x[a], fft, b, cap, pw, 0.0)
    _ue._project_od(P, plen, h, npath, 0, x, cost, deriv, fft, b, cap, pw, 0.0, np.empty(3), np.zeros(4, np.int64))
    assert h.sum() == pytest.approx(2.0, abs=1e-12)
    assert x[1] == pytest.approx(h[0, 1] + h[0, 2], abs=1e-12)
    assert h[0, 1] == pytest.approx(1.0 - 7.0 / 32.0, abs=1e-12)  # B: diff 17 - 10 over e's slope 32
    t_e = 1.0 + x[1] ** 4
    assert 10.0 <= t_e <= 10.1  # C stopped at A's cost, from above: no overshoot
    x1 = 2.0 - 7.0 / 32.0  # C's Newton step from e's flow after B's shift, with C's current cost
    assert x[1] == pytest.approx(x1 - (1.0 + x1**4 - 10.0) / (4.0 * x1**3), abs=1e-12)


def test_status_is_optimal_only_within_the_target_after_the_polish():
    """With loose evaluations (UE gap 1e-3) the search closes a 0.2 % gap on values the final
    re-solve of the incumbent to 1e-10 then moves: Sioux Falls instance 1 at 75 % ends 0.37 %
    apart.  That is reported as ``above_target``, never as ``optimal``; at the default 1e-7 the
    same case is optimal within the target."""
    inst, trips = _sf(1)
    loose = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=inst.budget(0.75),
                       opt_gap=2e-3, ue_gap=1e-3)
    assert loose.gap > 2e-3 and loose.status == "above_target"
    assert "left the gap above 0.002" in loose.message
    tight = solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=inst.budget(0.75), opt_gap=2e-3)
    assert tight.status == "optimal" and tight.gap <= 2e-3
    assert tight.objective <= loose.objective * (1 + 1e-9)


def test_solve_dndp_accepts_a_stalled_polish_at_the_larger_of_its_two_floors(monkeypatch):
    """A stalled polish stands at three orders below the target gap or at the search's own UE
    gap, whichever is larger (A_DNDP_20_4 at 25 % stalls at 3.0e-8: an error at a 1e-5 target
    under the first rule alone, though every design the search pruned with was solved to 1e-7)."""
    from solvers.dndp import _problem, solve as solve_module

    seen = []

    class Spy(_problem._Evaluator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append(self.accept)

    monkeypatch.setattr(solve_module, "_Evaluator", Spy)
    inst, trips = _sf(1)
    for opt_gap, ue_gap in ((1e-5, 1e-7), (1e-3, 1e-7), (1e-5, 1e-9)):
        solve_dndp(inst.network, trips, inst.candidates, inst.costs, budget=700.0, opt_gap=opt_gap, ue_gap=ue_gap)
    assert seen == [pytest.approx(1e-7), pytest.approx(1e-6), pytest.approx(_problem.STALL_FLOOR)]
