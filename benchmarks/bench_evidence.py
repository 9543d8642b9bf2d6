"""The long evidence tests (``pytest -m slow``): run here, not on every CI run.

Each test marked ``slow`` (full enumerations against brute force, refits of the calibration,
exact network design on the YRD roads against enumeration) runs in a fresh ``pytest`` process;
the section lists each with its outcome and duration.  A failing test makes the section say so
(and the command's exit status stays 0: the document records it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run() -> str:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "slow", "-p", "no:cacheprovider", "--durations=0",
         "-o", "addopts="],
        cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    durations = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*([0-9.]+)s call\s+(\S+)", line)
        if m:
            durations[m.group(2)] = float(m.group(1))
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "(no output)"
    failed = set(re.findall(r"FAILED (\S+)", proc.stdout))
    rows = ["| test | outcome | seconds |", "|---|---|---|"]
    for test, seconds in sorted(durations.items()):
        rows.append(f"| `{test}` | {'FAILED' if test in failed else 'passed'} | {seconds:.0f} |")
    return f"""### Long evidence tests (`pytest -m slow`)

Deselected from the default test command (`pyproject.toml`: `-m 'not slow'`) to keep CI short;
run here. Result: **{summary}** ({elapsed:.0f} s in all).

{chr(10).join(rows)}
"""
