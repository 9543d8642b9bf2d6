"""Rows of ``data/timetable_checks.csv`` from a full national timetable (one block per train).

The input holds one block per train: a line with the train number, then one line per stop,
``station<TAB>arrival HH:MM<TAB>departure HH:MM`` (Chinese station names), blocks separated by
a blank line.  This is the layout of ``train_2024_S2.txt`` in
github.com/QDKStorm/China-Railway-Transfer-Planning-Dev (commit 85592f8, 2024-06-02), a crawl of
every passenger train of the spring-2024 timetable; the file is read from where the user put it
and never copied into this repository (see ``data/SOURCES.md``).

The rule, fixed before any modelled time was compared with its output:

* cities: ``data/cities.csv``; a city's stations: the catalogued stations
  (``data/rail_lines.json``) of that city whose Chinese name begins with the city's Chinese name
  (上海虹桥, 上海, 上海南 ... for 上海; county-level cities' stations such as 义乌 or 昆山南 are
  not the city's own);
* trains: EMU services only (numbers beginning G, D or C);
* a train serves ``a -> b`` when it calls at ``a`` and later at ``b``; its time is the arrival
  at ``b`` minus the departure from ``a`` (a time earlier than the previous one is the next day);
* per unordered city pair: the fastest such train over all station pairs of the two cities,
  either direction (ties: the lower train number).  The route is not looked at: a train through
  a third city is a direct service all the same.

    python scripts/derive_timetable_checks.py TIMETABLE --date 2024-06-02 --source URL > rows.csv
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "data"
EMU = ("G", "D", "C")


def read_timetable(path: str | Path) -> dict[str, list[tuple[str, int, int]]]:
    """Train number -> stops ``(station, arrival, departure)`` in minutes from the first day's midnight."""
    trains: dict[str, list[tuple[str, int, int]]] = {}
    current: list[tuple[str, str, str]] | None = None
    raw: dict[str, list[tuple[str, str, str]]] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            current = None
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) == 1:
            if parts[0] in raw:
                raise ValueError(f"{path}: line {number}: train {parts[0]} appears twice")
            current = raw[parts[0]] = []
            continue
        if current is None or len(parts) != 3:
            raise ValueError(f"{path}: line {number}: expected 'station<TAB>HH:MM<TAB>HH:MM' after a train number, "
                             f"got {line!r}")
        current.append((parts[0], parts[1], parts[2]))
    for train, stops in raw.items():
        out, day, previous = [], 0, None
        for station, arrival, departure in stops:
            a = _minutes(arrival, path, train) + day
            if previous is not None and a < previous:
                day += 1440
                a += 1440
            d = _minutes(departure, path, train) + day
            if d < a:
                day += 1440
                d += 1440
            out.append((station, a, d))
            previous = d
        trains[train] = out
    return trains


def _minutes(text: str, path: str | Path, train: str) -> int:
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise ValueError(f"{path}: train {train}: time {text!r} is not HH:MM") from None
    return value


def derive(trains: dict[str, list[tuple[str, int, int]]], *, date: str, source: str) -> pd.DataFrame:
    """Per city pair, the fastest EMU train between stations bearing the two cities' names."""
    stations = {s["name_zh"]: s for line in json.loads((DATA / "rail_lines.json").read_text(encoding="utf-8"))["lines"]
                for s in line["stations"]}
    cities = pd.read_csv(DATA / "cities.csv")
    city_of = {zh: c.name_en for c in cities.itertuples() for zh, s in stations.items()
               if zh.startswith(c.name_zh) and s.get("city") == c.name_en}
    best: dict[tuple[str, str], tuple[int, str, str, str]] = {}
    for train, stops in trains.items():
        if not train.startswith(EMU):
            continue
        for i, j in itertools.combinations(range(len(stops)), 2):
            a, b = stops[i][0], stops[j][0]
            if a not in city_of or b not in city_of or city_of[a] == city_of[b]:
                continue
            key = tuple(sorted((city_of[a], city_of[b])))
            candidate = (stops[j][1] - stops[i][2], train, a, b)
            if key not in best or candidate[:2] < best[key][:2]:
                best[key] = candidate
    rows = [{"origin_city": city_of[a], "destination_city": city_of[b], "origin_station": stations[a]["name_en"],
             "destination_station": stations[b]["name_en"], "fastest_min": minutes, "train": train,
             "timetable_date": date, "source": source,
             "notes": "Fastest G/D/C train between stations bearing the two cities' names in a full timetable "
                      "(scripts/derive_timetable_checks.py; see data/SOURCES.md)."}
            for (minutes, train, a, b) in (best[k] for k in sorted(best))]
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("timetable")
    parser.add_argument("--date", required=True, help="the timetable's date (YYYY-MM-DD)")
    parser.add_argument("--source", required=True, help="where the timetable was read (URL with commit)")
    args = parser.parse_args(argv)
    derive(read_timetable(args.timetable), date=args.date, source=args.source).to_csv(sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
