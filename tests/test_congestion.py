"""Congestion-aware choice of the YRD road projects (exact DNDP on the corridor network)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from solvers import dndp
from transit.config import load_config
from transit.congestion import VERIFY_GAP, build_congestion_model, solve_road_projects
from transit.model import build_model


@pytest.fixture(scope="module")
def model():
    return build_model(load_config())


def test_congestion_model_is_the_stated_one(model):
    cm = build_congestion_model(model)
    cfg = model.config["congestion"]
    car = float(np.dot(model.demand["demand"], model.base_skim().shares[:, 1]))
    assert cm.demand.sum() == pytest.approx(car * cfg["peak_hour_share"] / model.config["mode_choice"]["car_occupancy"])
    road_projects = [m for m in model.mapped if m.project.mode == "road"]
    assert cm.project_ids == [m.project.id for m in road_projects]
    usable = 1 - cfg["background_share"]
    for links, item in zip(cm.candidates, road_projects):
        assert len(links) == len(item.arcs)
        assert np.allclose(cm.network.capacity[links], [a["capacity"] * usable for _, _, a in item.arcs])
        assert np.allclose(cm.network.free_flow_time[links], [a["travel_time"] / 3600 for _, _, a in item.arcs])
    by_id = {pid: i for i, pid in enumerate(cm.project_ids)}
    assert (by_id["yz_expy_jintang_tunnel"], by_id["yz_expy_jintang_dasha"]) in cm.requires
    assert tuple(sorted((by_id["hzbay_road_2"], by_id["huzhou_road"]))) in cm.excludes
    # the corridor network is a small part of the 61,000 road edges, but keeps every zone connected
    assert cm.network.n_links < 20_000 and cm.network.n_zones == 19


@pytest.mark.slow  # about 10 minutes on 2 cores: python -m benchmarks.run evidence
def test_exact_road_choice_equals_enumeration_on_the_yrd(model, tmp_path):
    keep = {"hzbay_road_2", "huzhou_road", "hangning_widening"}
    drop = tuple(p.id for p in model.projects if p.mode == "road" and p.id not in keep)
    small = build_model(model.config, exclude_projects=drop)
    budget = 60.0  # fits one bay crossing (exclusive anyway) and the widening
    result = solve_road_projects(small, budget=budget)
    cm = result.model
    assert set(cm.project_ids) == keep
    assert result.result.status == "optimal" and result.result.gap <= 1e-3
    costs = dict(zip(cm.project_ids, cm.costs))
    best = None
    for k in range(len(keep) + 1):
        for design in itertools.combinations(range(len(keep)), k):
            names = {cm.project_ids[i] for i in design}
            if {"hzbay_road_2", "huzhou_road"} <= names or sum(costs[n] for n in names) > budget:
                continue
            value = dndp.evaluate_design(cm.network, cm.demand, cm.candidates, design, gap=VERIFY_GAP)
            if best is None or value < best[0]:
                best = (value, names)
    assert result.result.objective == pytest.approx(best[0], rel=1e-3)
    assert result.result.objective <= result.result.base_objective
    # every project evaluated alone for the Braess check, against the same base
    assert set(result.braess["project"]) == keep
    assert np.allclose(result.braess["change_veh_h"], result.braess["tstt_alone_veh_h"] - result.braess["base_veh_h"])
    # the planner's outputs: congestion.csv and a report section next to the free-flow choice
    import pandas as pd

    from transit.optimize import run_optimization
    from transit.reports import write_outputs

    run = run_optimization(small.config, budget=budget, ladder_steps=1, model=small)
    run.congestion = result
    out = write_outputs(run, tmp_path / "out")
    table = pd.read_csv(out / "congestion.csv")
    assert set(table["project"]) == keep
    assert set(table.loc[table["selected_under_congestion"], "project"]) == set(result.selected)
    report = (out / "report.md").read_text()
    assert "Road projects under congestion" in report and "Braess check" in report
    assert result.summary()["certified"] is True and "re-checked by CP-SAT" in report
