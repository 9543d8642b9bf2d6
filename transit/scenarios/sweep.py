"""Sweeps: many scenario files run in parallel on Dask, each into its own run folder.

``transit sweep SCENARIO... --workers N`` starts a local Dask cluster of ``N`` single-threaded
worker processes (``--scheduler ADDRESS`` uses an existing cluster instead). Each scenario is
one task that calls :func:`transit.scenarios.records.run_scenario`, exactly what ``transit run``
does, so a run folder from a sweep is the run folder of a serial run, byte for byte (the
manifests are compared in ``tests/test_scenarios.py`` and ``python -m benchmarks.run sweep``).
A scenario that fails (a bad file, an infeasible requirement) is reported with its one-line
error while the others complete. Dask (``pip install -e ".[sweep]"``) is only needed here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from networks.errors import InputError, TransitError

__all__ = ["SweepOutcome", "sweep"]


@dataclass(frozen=True)
class SweepOutcome:
    """One scenario of a sweep: its run folder and summary, or the error that stopped it."""

    scenario: str
    folder: str | None
    ok: bool
    message: str
    summary: dict[str, Any] | None = None


def _one(path: str, runs_dir: str, use_cache: bool) -> SweepOutcome:
    """Run one scenario file (in a worker); typed errors become a failed outcome."""
    from transit.scenarios.records import run_scenario
    from transit.scenarios.spec import load_scenario

    try:
        scenario = load_scenario(path)
        record = run_scenario(scenario, runs_dir=runs_dir, source_text=Path(path).read_bytes(),
                              argv=["transit", "sweep", path], use_cache=use_cache)
    except TransitError as exc:
        return SweepOutcome(scenario=Path(path).name, folder=None, ok=False, message=str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug in one scenario must not lose the others' results
        return SweepOutcome(scenario=Path(path).name, folder=None, ok=False,
                            message=f"internal error {type(exc).__name__}: {exc} (please report it)")
    s = record.summary()
    return SweepOutcome(scenario=scenario.name, folder=str(record.folder), ok=True,
                        message=f"{s['status']}, gap {s['gap']:.2e}", summary=s)


def _client(workers: int, scheduler: str | None, timeout: float) -> Any:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("sweeps run on Dask: install it with `pip install -e \".[sweep]\"`") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--scheduler {scheduler}: the Dask scheduler does not answer ({exc})") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster)


def sweep(paths: list[str | Path], *, workers: int = 2, scheduler: str | None = None, runs_dir: str | Path = "runs",
          use_cache: bool = True, progress: bool | None = None, timeout: float = 10.0) -> list[SweepOutcome]:
    """Run every scenario file on Dask; outcomes in the order of ``paths``.

    Raises
    ------
    InputError
        ``workers`` below 1, no scenario, two scenarios with the same file, Dask missing, or a
        scheduler that does not answer.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"--workers {workers!r}: expected a whole number >= 1")
    paths = [str(p) for p in paths]
    if not paths:
        raise InputError("no scenario files to sweep")
    if len(set(map(lambda p: str(Path(p).resolve()), paths))) != len(paths):
        raise InputError("a scenario file is listed twice")
    client = _client(workers, scheduler, timeout)
    try:
        from dask.distributed import as_completed
        from tqdm import tqdm

        futures = {client.submit(_one, p, str(runs_dir), use_cache, pure=False, key=f"scenario-{k}"): k
                   for k, p in enumerate(paths)}
        outcomes: dict[int, SweepOutcome] = {}
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(total=len(paths), desc="sweep", unit=" scenario", disable=not show) as bar:
            for future in as_completed(futures):
                outcomes[futures[future]] = future.result()
                bar.update()
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and scheduler is None:
            cluster.close()
    return [outcomes[k] for k in range(len(paths))]


def sweep_table(outcomes: list[SweepOutcome]) -> pd.DataFrame:
    """One row per scenario: ok, run folder, message, status, gap, cost, saving, selected."""
    rows = []
    for o in outcomes:
        s = o.summary or {}
        rows.append({"scenario": o.scenario, "ok": o.ok, "folder": o.folder or "", "message": o.message,
                     **{k: s.get(k) for k in ("status", "gap", "cost_bn_cny", "saving_pct", "npv_bn_cny", "selected")}})
    return pd.DataFrame(rows)
