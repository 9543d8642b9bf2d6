"""The programme's outer approximation (solvers.programme.outer): valid cuts, a valid bound that
couples the years, and convergence to the brute-force optimum."""

from __future__ import annotations

import math

import pytest

from solvers.programme import ProgrammeProject, brute_force_programme, solve_programme
from solvers.programme._setup import _setup
from solvers.programme.local_search import _Valuer
from solvers.programme.outer import _RecordCuts, outer_programme
from tests.test_programme import SCHEDULE, YEARS, _instance, _weights


def _the_setup(budget, **extra):
    layers, projects, markets = _instance()
    kw = dict(years=YEARS, schedule=extra.pop("schedule", SCHEDULE), yearly_budget=budget, weights=_weights(),
              weight_after=3000.0, start_costs=extra.pop("start_costs", None), member_caps=extra.pop("member_caps", None))
    return (layers, projects, markets, kw), _setup(layers, projects, markets, **kw)


def test_record_cut_bounds_every_network_and_is_exact_at_its_own():
    _, setup = _the_setup(5.0)
    n = len(setup.ids)
    valuer = _Valuer(setup)
    cuts = _RecordCuts(setup)
    saving = {x: valuer.saving(x) for x in range(1 << n)}
    assert len(set(round(v, 6) for v in saving.values())) > n  # the savings interact: a real test
    over = 0
    for o in range(1 << n):
        base, g = cuts.cut(o)
        assert base == pytest.approx(saving[o], rel=1e-12, abs=1e-9)
        for x in range(1 << n):
            estimate = base + sum(g[i] for i in range(n) if x >> i & 1 and not o >> i & 1)
            assert saving[x] <= estimate + 1e-9 * max(1.0, abs(estimate))
            assert estimate >= cuts.cap(x | o) - 1e-9 * max(1.0, estimate)  # R(X) <= R(X | O) <= the cut
            over += saving[x] < estimate - 1e-9 * max(1.0, estimate)
    assert over > 0  # an outer approximation, not the function itself


@pytest.mark.parametrize("budget", [3.0, 5.0, 9.0])
def test_outer_approximation_bounds_every_programme_and_converges_to_brute_force(budget):
    (layers, projects, markets, kw), setup = _the_setup(budget)
    brute = brute_force_programme(layers, projects, markets, **kw)
    got = outer_programme(setup, [], deadline=None)
    assert got.converged
    assert got.value == pytest.approx(brute.objective, rel=1e-6)
    assert got.bound >= brute.objective - 1e-9 * brute.objective
    assert got.bound - got.value <= 1e-5 * got.value
    assert all(bound >= brute.objective - 1e-9 * brute.objective for _, bound, _ in got.history)
    assert [b for _, b, _ in got.history] == sorted((b for _, b, _ in got.history), reverse=True)
    again = outer_programme(setup, [], deadline=None)  # without a deadline the run repeats exactly
    assert (again.best, again.bound, again.iterations, again.cuts) == (got.best, got.bound, got.iterations, got.cuts)


def test_outer_approximation_with_start_costs_member_caps_and_a_fixed_start_equals_brute_force():
    schedule = {**SCHEDULE, "d": ProgrammeProject(duration=1, fixed_start=2026)}
    start_costs = {"a": {2026: 900.0, 2027: 700.0, 2028: 500.0}, "e": {2028: 200.0, 2029: 150.0}}
    (layers, projects, markets, kw), setup = _the_setup(9.0, schedule=schedule, start_costs=start_costs,
                                                        member_caps={"m1": 5.0})
    brute = brute_force_programme(layers, projects, markets, **kw)
    got = outer_programme(setup, [], deadline=None)
    assert got.converged and got.best.get("d") == 2026
    assert got.value == pytest.approx(brute.objective, rel=1e-6)
    assert got.bound >= brute.objective - 1e-9 * abs(brute.objective)


def test_solve_programme_within_a_gap_from_the_outer_bound_alone():
    (layers, projects, markets, kw), _ = _the_setup(5.0)
    brute = brute_force_programme(layers, projects, markets, **kw)
    got = solve_programme(layers, projects, markets, **kw, relative_gap=0.05)
    assert got.status == "OPTIMAL" and got.stats["bound_from"] == "outer approximation"
    assert brute.objective - 1e-9 * brute.objective <= got.bound <= got.objective * 1.05
    assert got.objective >= brute.objective / 1.05
    exact = solve_programme(layers, projects, markets, **kw)
    assert exact.stats["outer_bound"] >= brute.objective - 1e-9 * brute.objective
    assert exact.objective == pytest.approx(brute.objective, rel=1e-9)
    off = solve_programme(layers, projects, markets, **kw, outer_bound=False)
    assert "outer_bound" not in off.stats and off.objective == pytest.approx(brute.objective, rel=1e-9)
    assert math.isfinite(exact.stats["outer_value"])
