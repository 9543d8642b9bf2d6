"""Rey's 20-candidate Eastern Massachusetts and Anaheim designs, each run alone on the machine.

``bench_dndp_large`` runs the 20-candidate instances in a side process beside its
10-candidate tables (2 cores shared), where none got past the root.  Here they run one at a
time with nothing else on the machine: method ``bb``, target gap 0.1 %, a search limit of
``DNDP_TWENTY_LIMIT`` seconds [600] per run (then the incumbent's polish to 1e-10 and the
bound's re-check, which the time column includes), scaling as ``bench_dndp_large`` (Rey's
``experiments.py``).  The yardstick is the published one: Rey (2020) reports every
20-candidate instance of these networks unsolved after 600 s (CPLEX 12.8, one thread).

Environment knobs [defaults]: ``DNDP_TWENTY_NETWORKS`` [``EasternMassachusetts,Anaheim``],
``DNDP_TWENTY_INSTANCES`` instances per network [1], ``DNDP_TWENTY_FIRST`` the first of them [1],
``DNDP_TWENTY_LIMIT`` [600],
``DNDP_TWENTY_SIZE`` candidates [20] (10 reruns single 10-candidate cases, one at a time),
``DNDP_TWENTY_GAP`` target gap [0.001],
``DNDP_TWENTY_BUDGETS`` budget fractions [``0.25,0.5,0.75``].
"""

from __future__ import annotations

import os

from benchmarks.bench_dndp_large import DNDP, FRACTIONS, HEAD, NETWORKS, _row, _run, _summary
from benchmarks.run import _write_section
from solvers.dndp.branch_and_bound import HEURISTIC_SHARE


def run() -> str:
    if not (DNDP / "EasternMassachusetts" / "trips.txt").exists():
        return "## DNDP, 20 candidates\n\nSkipped: ../shared/data/dndp is not present.\n"
    limit = float(os.environ.get("DNDP_TWENTY_LIMIT", "600"))
    count = int(os.environ.get("DNDP_TWENTY_INSTANCES", "1"))
    first = int(os.environ.get("DNDP_TWENTY_FIRST", "1"))
    size = int(os.environ.get("DNDP_TWENTY_SIZE", "20"))
    target = float(os.environ.get("DNDP_TWENTY_GAP", "0.001"))
    fractions = [float(f) for f in os.environ.get("DNDP_TWENTY_BUDGETS", ",".join(map(str, FRACTIONS))).split(",")]
    wanted = [w.strip() for w in os.environ.get("DNDP_TWENTY_NETWORKS", "EasternMassachusetts,Anaheim").split(",")]
    lines = [
        f"## DNDP, {size} candidates, each run alone (`benchmarks/bench_dndp_twenty.py`)",
        "",
        f"Method `bb`, target gap {target:g}, search limit {limit:.0f} s per run, one run at a time with nothing "
        "else on the machine; scaling as in the section above (Rey's). Published: every 20-candidate instance "
        "of these networks unsolved after 600 s (Rey 2020, CPLEX 12.8, one thread). The greedy-and-swap "
        f"incumbent gets at most {HEURISTIC_SHARE:.0%} of the limit (`solvers/dndp/branch_and_bound.py`, "
        "`HEURISTIC_SHARE`); uncapped (the run of 2026-12-03 before the cap) it used the whole 600 s on Anaheim "
        "at 25 % and 50 %, which stopped at the root with gaps of 5.2 % and 2.4 %.",
        "",
        *HEAD,
    ]
    for name, folder, prefix in NETWORKS:
        if folder not in wanted:
            continue
        results = []
        for k in range(first, first + count):
            for frac in fractions:
                *_, res = _run(folder, prefix, size, k, frac, limit, opt_gap=target)
                results.append(res)
                lines.append(_row(name, k, frac, res))
                _write_section("dndp_twenty", "\n".join(lines) + f"\n\n_Partial: {name} instance {k} at "
                               f"{int(frac * 100)} % done; the run was still going._")
        lines += ["", f"- {name}: " + _summary(results, limit, target), ""]
    skipped = [name for name, folder, _ in NETWORKS if folder not in wanted]
    if skipped:
        lines.append(f"Not run this time (`DNDP_TWENTY_NETWORKS`): {', '.join(skipped)}.")
    return "\n".join(lines)
