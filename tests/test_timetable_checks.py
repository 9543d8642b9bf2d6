"""The timetable checks: rows derived from a full timetable, and each row routed on the network of its date."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from networks.errors import CatalogueError
from transit.config import load_config
from transit.model import build_model
from transit.validation import timetable_check

from conftest import REPO

COLUMNS = ["origin_city", "destination_city", "origin_station", "destination_station", "fastest_min", "train",
           "timetable_date", "source"]


def _script():
    spec = importlib.util.spec_from_file_location("derive_timetable_checks",
                                                  REPO / "scripts" / "derive_timetable_checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TIMETABLE = """G1
上海虹桥\t23:50\t23:50
嘉兴南\t00:17\t00:19
杭州东\t00:35\t00:35

D2
杭州东\t08:00\t08:00
上海虹桥\t08:40\t08:40

K3
上海\t07:00\t07:00
杭州\t07:30\t07:30

G5
杭州东\t10:00\t10:00
义乌\t10:20\t10:22
金华\t10:40\t10:40
"""


def test_rows_from_a_full_timetable_follow_the_stated_rule(tmp_path):
    script = _script()
    path = tmp_path / "timetable.txt"
    path.write_text(TIMETABLE, encoding="utf-8")
    trains = script.read_timetable(path)
    # past midnight is the next day: G1 runs 23:50 -> 00:35, 45 min
    assert trains["G1"][-1][1] - trains["G1"][0][2] == 45
    rows = script.derive(trains, date="2024-06-02", source="test").set_index(["origin_city", "destination_city"])
    got = {tuple(sorted(k)): (r.fastest_min, r.train, r.origin_station, r.destination_station)
           for k, r in rows.iterrows()}
    assert got == {
        # D2 (40 min, either direction) beats G1 (45); K3 (30) is not an EMU and is left out
        ("Hangzhou", "Shanghai"): (40, "D2", "Hangzhou East", "Shanghai Hongqiao"),
        ("Hangzhou", "Jiaxing"): (16, "G1", "Jiaxing South", "Hangzhou East"),
        ("Jiaxing", "Shanghai"): (27, "G1", "Shanghai Hongqiao", "Jiaxing South"),
        # Yiwu is a county-level city of Jinhua, not a station bearing Jinhua's name: only Jinhua counts
        ("Hangzhou", "Jinhua"): (40, "G5", "Hangzhou East", "Jinhua"),
    }
    assert set(rows["timetable_date"]) == {"2024-06-02"}


def test_a_broken_timetable_line_names_the_line(tmp_path):
    path = tmp_path / "timetable.txt"
    path.write_text("G1\n上海虹桥\t08:00\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        _script().read_timetable(path)
    path.write_text("G1\n上海虹桥\t8h00\t08:00\n", encoding="utf-8")
    with pytest.raises(ValueError, match="G1.*8h00"):
        _script().read_timetable(path)
    path.write_text("G1\n上海虹桥\t08:00\t08:00\n\nG1\n杭州东\t09:00\t09:00\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 4: train G1 appears twice"):
        _script().read_timetable(path)


@pytest.fixture(scope="module")
def model():
    return build_model(load_config())


def _row(a: str, b: str, date: str) -> dict:
    return dict(zip(COLUMNS, ["Shanghai", "Huzhou", a, b, 60, "", date, "https://example.org"]))


def test_each_row_is_routed_on_the_network_of_its_date(model):
    # Shanghai Hongqiao - Huzhou: before the Shanghai-Suzhou-Huzhou HSR (opened 2024-12-26) the
    # journey runs via Hangzhou East; after it, directly.  Today's network (dated=False) is the
    # 2025 one for this pair (the only later line, Hangzhou-Quzhou, is elsewhere).
    table = pd.DataFrame([_row("Shanghai Hongqiao", "Huzhou", "2024-06-02"),
                          _row("Shanghai Hongqiao", "Huzhou", "2025-01-01")])
    dated = timetable_check(model, table=table)["modelled_min"].to_numpy()
    today = timetable_check(model, table=table, dated=False)["modelled_min"].to_numpy()
    assert dated[0] > dated[1] + 15
    assert today[0] == today[1] == pytest.approx(dated[1], abs=0.05)


def test_a_row_before_its_line_opened_or_with_a_bad_date_is_refused(model):
    early = pd.DataFrame([_row("Shanghai Songjiang", "Suzhou South", "2020-01-01")])
    with pytest.raises(CatalogueError, match="Suzhou South.*2020-01-01"):
        timetable_check(model, table=early)
    assert timetable_check(model, table=early, missing="skip").empty
    bad = pd.DataFrame([_row("Shanghai Hongqiao", "Huzhou", "2024/06/02")])
    with pytest.raises(CatalogueError, match="row 1: timetable_date '2024/06/02'"):
        timetable_check(model, table=bad)


def test_the_dated_check_is_cached_by_its_inputs(model, tmp_path, monkeypatch):
    monkeypatch.setenv("YRD_TRANSIT_CACHE", str(tmp_path))
    table = pd.DataFrame([_row("Shanghai Hongqiao", "Huzhou", "2024-06-02"),
                          _row("Shanghai Hongqiao", "Huzhou", "2025-01-01")])
    fresh = timetable_check(model, table=table)
    files = list((tmp_path / "timetable_check").glob("*.json"))
    assert len(files) == 1
    again = timetable_check(model, table=table)
    pd.testing.assert_frame_equal(fresh, again)
    pd.testing.assert_frame_equal(fresh, timetable_check(model, table=table, use_cache=False))
    # another table is another key; a corrupt file is rebuilt with a warning, not trusted
    timetable_check(model, table=table.iloc[:1])
    assert len(list((tmp_path / "timetable_check").glob("*.json"))) == 2
    files[0].write_text("{", encoding="utf-8")
    with pytest.warns(UserWarning, match="unreadable"):
        pd.testing.assert_frame_equal(fresh, timetable_check(model, table=table))


def test_every_city_pair_of_the_axes_and_the_bay_link_with_rail_is_checked(model):
    from transit.catalogue import load_axes, load_cities, load_rail_lines
    from transit.model.calibration import rail_table

    wanted = {frozenset(p) for axis in load_axes(load_cities()) for p in axis.pairs()}
    assert len(wanted) == 30
    served = {s.get("city") for line in load_rail_lines() for s in line["stations"]}
    with_rail = {p for p in wanted if p <= served}
    assert len(with_rail) == len(wanted) - 2  # Zhoushan has no railway (its pairs with Shanghai, Jiaxing)
    table = rail_table(model)
    checked = {frozenset(p) for p in zip(table["origin_city"], table["destination_city"])}
    assert with_rail <= checked
    assert table.loc[[frozenset(p) in with_rail for p in zip(table["origin_city"], table["destination_city"])],
                     "train"].ne("").mean() >= 0.75
