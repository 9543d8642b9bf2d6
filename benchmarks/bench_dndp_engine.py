"""The network design's equilibrium engine: extra projection passes per sweep against none.

``solvers.dndp``'s path-based engine (``solvers/dndp/_ue.py``) evaluates every design; after
each Gauss-Seidel sweep (one shortest-path tree per origin, then flow shifts) it now makes
``INNER_PASSES`` more projection passes over the known paths, as ``solvers.assignment``'s
``gp`` does.  The baseline is the same engine with ``INNER_PASSES = 0`` (no extra passes; the
change's other edits, shifts that leave links common to both paths alone and the BPR power 4
without ``pow()``, are in both), measured in the same process, alternating:

* single user-equilibrium solves from an empty start to a relative gap of 1e-7 on Sioux
  Falls, Eastern Massachusetts and Anaheim (Rey's scaling), every candidate link closed;
* the exact design (method ``bb``, 0.1 % target, 120 s search limit) of instance 1 of the
  10-candidate Eastern Massachusetts and Anaheim sets at 25/50/75 % budgets.

Both variants certify the same gaps; only the time to reach them differs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from networks.tntp import read_tntp_trips
from solvers.dndp import _ue, read_dndp_instance, solve_dndp

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DNDP = SHARED / "dndp"
SF_TRIPS = SHARED / "tntp" / "SiouxFalls" / "SiouxFalls_trips.tntp"
CASES = (("Sioux Falls", "SF_DNDP_10_1.txt", None), ("Eastern Massachusetts", "EasternMassachusetts/EM_DNDP_10_1.txt",
         "EasternMassachusetts"), ("Anaheim", "Anaheim/A_DNDP_10_1.txt", "Anaheim"))
FRACTIONS = (0.25, 0.5, 0.75)
LIMIT = 120.0


def _demand(folder: str | None) -> np.ndarray:
    if folder is None:  # Sioux Falls as in bench_dndp: trips x 0.001
        return read_tntp_trips(SF_TRIPS) * 1e-3
    return read_tntp_trips(DNDP / folder / "trips.txt") * 1e-3 * 4.0  # Rey's scaling (bench_dndp_large)


def _cold_solve(inst, demand: np.ndarray, passes: int) -> tuple[float, int, float]:
    _ue.INNER_PASSES = passes
    engine = _ue.Equilibrium.from_network(inst.network, demand)
    active = np.ones(len(inst.network.head), dtype=bool)
    active[list(inst.candidates)] = False
    started = time.perf_counter()
    res = engine.solve(active, gap=1e-7, max_iterations=50000)
    return time.perf_counter() - started, res.iterations, res.tstt


def run() -> str:
    if not DNDP.exists():
        return "## DNDP equilibrium engine\n\nSkipped: ../shared/data/dndp is not present.\n"
    new = _ue.INNER_PASSES
    lines = [
        "## DNDP equilibrium engine: projection passes per sweep (`solvers/dndp/_ue.py`)",
        "",
        f"Baseline: the same engine without the extra passes (`INNER_PASSES = 0`; the change's other edits, "
        f"shifts that leave links common to both paths alone and the BPR power 4 without `pow()`, are in "
        f"both); new: `INNER_PASSES = {new}`. Same process, alternating, numba caches warm.",
        "",
        "### One user equilibrium from an empty start to relative gap 1e-7 (candidates closed; best of 2)",
        "",
        "| network | links | OD pairs | sweeps, baseline | sweeps, new | s, baseline | s, new | time ratio new / baseline | TSTT difference |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    insts = {name: (read_dndp_instance(DNDP / path), _demand(folder)) for name, path, folder in CASES}
    _cold_solve(*insts["Sioux Falls"], new)  # load the compiled kernels
    try:
        for name, _, _ in CASES:
            inst, demand = insts[name]
            runs = {0: [], new: []}
            for _rep in range(2):
                for passes in (0, new):
                    runs[passes].append(_cold_solve(inst, demand, passes))
            base, mine = min(runs[0]), min(runs[new])
            n_od = int(np.count_nonzero(demand[~np.eye(len(demand), dtype=bool)] > 0))
            lines.append(f"| {name} | {len(inst.network.head)} | {n_od} | {base[1]} | {mine[1]} | {base[0]:.3f} | "
                         f"{mine[0]:.3f} | {mine[0] / base[0]:.2f} | {abs(mine[2] - base[2]) / base[2]:.1e} |")
        lines += [
            "",
            f"### Exact design, instance 1 of 10 candidates (`bb`, target 0.1 %, search limit {LIMIT:.0f} s)",
            "",
            "| network | budget | variant | status | gap | objective | UE solves | SO solves | s | time ratio new / baseline |",
            "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        same = []
        for name, _, folder in CASES[1:]:
            inst, demand = insts[name]
            for frac in FRACTIONS:
                got = {}
                for passes in (0, new):
                    _ue.INNER_PASSES = passes
                    got[passes] = solve_dndp(inst.network, demand, inst.candidates, inst.costs,
                                             budget=inst.budget(frac), time_limit=LIMIT, opt_gap=1e-3)
                for passes, label in ((0, "baseline"), (new, "new")):
                    r = got[passes]
                    ratio = f"{got[new].seconds / got[0].seconds:.2f}" if passes == new else ""
                    lines.append(f"| {name} | {int(frac * 100)} % | {label} | {r.status} | {r.gap:.2e} | "
                                 f"{r.objective:.4f} | {r.ue_solves} | {r.so_solves} | {r.seconds:.1f} | {ratio} |")
                both = got[0].status == got[new].status == "optimal"
                same.append(not both or abs(got[0].objective - got[new].objective) <= 1e-3 * got[0].objective)
        lines += ["", f"Where both are proved, the optima agree within the 0.1 % target: "
                      f"{'yes' if all(same) else 'NO'} ({sum(same)} of {len(same)} cases)."]
    finally:
        _ue.INNER_PASSES = new
    return "\n".join(lines) + "\n"
