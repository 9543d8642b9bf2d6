"""A sweep of 8 scenarios on a local Dask cluster against the same 8 run one after the other.

Eight scenario files (budgets 40 to 320 bn CNY, every other one with demand grown to 2035) are
run serially with ``run_scenario`` and then by ``transit.scenarios.sweep`` on a local cluster of
2 single-threaded workers. Every run folder of the sweep must equal the serial one byte for
byte (their manifests); the table gives both wall times and the ratio.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

SCENARIOS = [(f"budget-{b}" + ("-2035" if k % 2 else ""), b, 2035 if k % 2 else None)
             for k, b in enumerate(range(40, 321, 40))]


def run() -> str:
    from transit.scenarios import load_run, load_scenario, run_scenario, sweep

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp)
        files = []
        for name, budget, year in SCENARIOS:
            path = root / f"{name}.toml"
            demand = f"[demand]\nyear = {year}\n" if year else ""
            path.write_text(f'name = "{name}"\n{demand}[budget]\namount = {budget}\nladder_steps = 1\n')
            files.append(path)
        started = time.perf_counter()
        serial = [run_scenario(load_scenario(p), runs_dir=root / "serial", source_text=p.read_bytes()) for p in files]
        serial_s = time.perf_counter() - started
        started = time.perf_counter()
        outcomes = sweep(files, workers=2, runs_dir=root / "dask", progress=False)
        dask_s = time.perf_counter() - started
        equal = [o.ok and load_run(o.folder).manifest["files"] == s.manifest["files"] for o, s in zip(outcomes, serial)]
        rows = [f"| {s.name} | {s.summary()['status']} | {s.summary()['cost_bn_cny']:.1f} | "
                f"{'identical' if e else 'DIFFERENT'} |" for s, e in zip(serial, equal)]
    lines = [
        "## Scenario sweep on Dask (`transit sweep`)",
        "",
        f"{len(files)} scenarios (`ladder_steps = 1`), serial `run_scenario` vs a local Dask cluster of 2 "
        "single-threaded worker processes, same machine, same run.",
        "",
        "| | wall s |",
        "|---|---:|",
        f"| serial (baseline) | {serial_s:.0f} |",
        f"| Dask, 2 workers | {dask_s:.0f} |",
        f"| serial / Dask | {serial_s / dask_s:.2f}x |",
        "",
        f"Run folders equal to the serial ones (every file's SHA-256 in the manifest): {sum(equal)} of {len(equal)}.",
        "",
        "| scenario | status | cost bn CNY | sweep vs serial |",
        "|---|---|---:|---|",
        *rows,
    ]
    return "\n".join(lines)
