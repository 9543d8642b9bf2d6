"""Run the benchmarks and write their results into ``docs/benchmarks.md``.

Usage::

    python -m benchmarks.run              # every benchmarks/bench_*.py
    python -m benchmarks.run skims dndp   # only those

Each ``benchmarks/bench_<name>.py`` defines ``run() -> str`` returning a Markdown section
(tables of ratios against a baseline measured in the same run).  The section replaces the
one between ``<!-- bench:<name> -->`` and ``<!-- /bench:<name> -->`` in the document, so
benchmarks can be re-run one at a time without losing the others.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import importlib
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Run all of them with `python -m benchmarks.run` (or `python -m benchmarks.run NAME ...` for
some); each section below is rewritten by its own benchmark and says the command, the machine
and the date. Figures are ratios against a baseline measured in the same run, because the
machines are noisy; absolute seconds are given for orientation only.
"""


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in (REPO / "benchmarks").glob("bench_*.py"))


def _replace_section(doc: str, name: str, body: str) -> str:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(doc):
        return pattern.sub(lambda _: block, doc)
    return doc.rstrip() + "\n\n" + block + "\n"


def _write_section(name: str, body: str) -> None:
    """Replace one section under an exclusive lock (benchmarks may finish concurrently)."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    with open(DOC.with_suffix(".md.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
        tmp = DOC.with_suffix(".md.tmp")
        tmp.write_text(_replace_section(doc, name, body), encoding="utf-8")
        tmp.replace(DOC)


def main(argv: list[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:]) or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"benchmarks: unknown benchmark(s) {unknown}; available: {available()}", file=sys.stderr)
        return 2
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.perf_counter()
        body = module.run()
        elapsed = time.perf_counter() - started
        stamp = (
            f"_Command: `python -m benchmarks.run {name}`; {_dt.date.today().isoformat()}; "
            f"{platform.processor() or platform.machine()}, Python {platform.python_version()}; "
            f"benchmark took {elapsed:.0f} s._"
        )
        _write_section(name, f"{body.strip()}\n\n{stamp}")
        print(f"benchmarks: {name} done in {elapsed:.1f} s -> {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
