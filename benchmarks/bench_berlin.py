"""Assignment at city scale: Berlin-Center (12,981 nodes, 28,376 links, 865 zones) against AequilibraE.

Issue 16 asks for at most 1.0x AequilibraE's best time (BFW, the same cores) at relative gaps
1e-4, 1e-5 and 1e-6, the memory, iterations, time per iteration and where the time goes.  Each
solve runs in a fresh process (its own peak memory, ``ru_maxrss``), after a warm-up that loads
numba's cached kernels: ours ``gp`` and ``bfw`` (their all-or-nothing assignments on numba's
threads, 2 here; ``gp``'s Gauss-Seidel sweeps are sequential), AequilibraE 1.7 ``bfw`` on 2
threads (``OMP_WAIT_POLICY=PASSIVE``, as in ``bench_assignment``).  Every solution's gap is
re-measured with our shortest paths, ``(TSTT - SPTT) / TSTT``.  "Shortest paths" is the time of
one all-or-nothing assignment (every origin's Dijkstra and the loading), measured apart on 2
threads and on one: a FW iteration is one of them plus the line search; a ``gp`` iteration is a
sweep (one Dijkstra per origin in sequence, plus the path shifts) and a gap check (an
all-or-nothing without loading).  The time to 1e-4 is also measured on Sioux Falls and Anaheim
(best of 3), for how it grows with links and zones.  The network's README lists six duplicated links; as in the TNTP convention since 2013,
both copies are kept as separate links (they are parallel arcs to the solvers).  AequilibraE
refuses the 8,806 links of zero free-flow time (zone connectors): it gets 1e-6 min on them.

Knobs: ``BERLIN_LIMIT`` seconds per solve of ours [300] (a solve that has not reached its gap by
then is reported with the gap it reached); ``BERLIN_REPEATS`` solves per row, the fastest
reported [3] (the machine is noisy: AequilibraE's time to 1e-4 was 3.6 s in one run and 6.1 s
in another).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BERLIN = REPO.parent / "shared" / "data" / "tntp" / "Berlin-Center"
GAPS = (1e-4, 1e-5, 1e-6)

_CHILD = r'''
import json, os, resource, sys, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("AEQ_SHOW_PROGRESS", "FALSE")
import numpy as np
from networks.tntp import read_tntp_network, read_tntp_trips
from solvers.assignment import assign, relative_gap
folder, who, gap, limit, repeats = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
net = read_tntp_network(os.path.join(folder, "berlin-center_net.tntp"))
q = read_tntp_trips(os.path.join(folder, "berlin-center_trips.tntp"), n_zones=net.n_zones)
out = {}
if who in ("gp", "bfw"):
    assign(net, q, algorithm=who, gap=1e-1, max_iterations=2)  # numba's cached kernels loaded
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        r = assign(net, q, algorithm=who, gap=gap, max_iterations=100000, time_limit=limit)
        runs.append(time.perf_counter() - t)
    out.update(seconds=min(runs), iterations=int(r.iterations), flows=r.flows.tolist())
elif who == "parts":  # where the time goes
    import numba
    from solvers.assignment._problem import _setup
    from solvers.vdf import BPR
    prob = _setup(net, q, active=None, vdf=BPR(), system_optimal=False, toll_weight=0.0, length_weight=0.0)
    g, _, _ = prob.evaluate(np.zeros(net.n_links))
    prob.aon(g)
    def best(f, n=3):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return min(times)
    threads = numba.get_num_threads()
    out["aon_threads"] = threads
    out["aon"] = best(lambda: prob.aon(g))
    numba.set_num_threads(1)
    out["aon_1"] = best(lambda: prob.aon(g))
    numba.set_num_threads(threads)
    # a FW iteration: 3 iterations less 1, halved
    assign(net, q, algorithm="fw", gap=0.0, max_iterations=1)
    runs = {n: best(lambda n=n: assign(net, q, algorithm="fw", gap=0.0, max_iterations=n), 1) for n in (1, 3)}
    out["fw_iteration"] = (runs[3] - runs[1]) / 2
    # gp: each logged iteration is a sweep and a gap check (an all-or-nothing without loading)
    stamps = []
    assign(net, q, algorithm="gp", gap=1e-6, max_iterations=100, log=lambda it, gp, el: stamps.append(el))
    out["gp_iterations"] = [b - a for a, b in zip(stamps, stamps[1:])]
    out["gap_check"] = best(lambda: prob.aon(g, load=False))
    out.update(seconds=0.0, iterations=0, flows=[])
elif who.startswith("grow:"):  # time to 1e-4 with gp on a smaller network
    name, stem = who[5:].split("/")
    small = read_tntp_network(os.path.join(os.path.dirname(folder), name, stem + "_net.tntp"))
    sq = read_tntp_trips(os.path.join(os.path.dirname(folder), name, stem + "_trips.tntp"), n_zones=small.n_zones)
    assign(small, sq, algorithm="gp", gap=1e-1, max_iterations=2)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        r = assign(small, sq, algorithm="gp", gap=gap, max_iterations=100000)
        times.append(time.perf_counter() - t)
    out.update(seconds=min(times), iterations=int(r.iterations), flows=[], gap=float(r.gap),
               nodes=small.n_nodes, links=small.n_links, zones=small.n_zones)
else:
    sys.path.insert(0, os.path.join(os.environ["REPO"]))
    from benchmarks.bench_assignment import _aeq_bfw, _aeq_inputs
    # AequilibraE refuses links of zero free-flow time (8,806 here, the zone connectors): 1e-6 min
    # for it (the shortest positive is 0.33 min); our solvers take the file as it is
    import dataclasses
    aeq_net = dataclasses.replace(net, free_flow_time=np.maximum(net.free_flow_time, 1e-6))
    graph, matrix = _aeq_inputs(aeq_net, q)
    runs = []
    for _ in range(repeats):
        seconds, iterations, flows = _aeq_bfw(net, graph, matrix, gap, 2)
        runs.append(seconds)
    out.update(seconds=min(runs), iterations=iterations, flows=flows.tolist())
if out["flows"]:
    from solvers.vdf import BPR
    f = np.asarray(out["flows"])
    out["gap"] = float(relative_gap(net, q, f))
    t = net.free_flow_time * (1 + net.b * (f / net.capacity) ** net.power)
    out["tstt"] = float(np.dot(f, t))
out.pop("flows")
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
'''


def _solve(who: str, gap: float, limit: float, repeats: int = 1) -> dict:
    env = dict(os.environ, REPO=str(REPO))
    done = subprocess.run([sys.executable, "-c", _CHILD, str(BERLIN), who, repr(gap), repr(limit), str(repeats)], cwd=REPO,
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> str:
    if not (BERLIN / "berlin-center_net.tntp").exists():
        return "## Assignment at city scale: Berlin-Center\n\nSkipped: ../shared/data/tntp/Berlin-Center is not present.\n"
    try:
        import aequilibrae  # noqa: F401
    except ImportError:
        return "## Assignment at city scale: Berlin-Center\n\nSkipped: AequilibraE is not installed (`.[bench]`).\n"
    limit = float(os.environ.get("BERLIN_LIMIT", "300"))
    repeats = int(os.environ.get("BERLIN_REPEATS", "3"))
    parts = _solve("parts", 0.0, limit)
    growth = []
    for name, stem in (("SiouxFalls", "SiouxFalls"), ("Anaheim", "Anaheim")):
        r = _solve(f"grow:{name}/{stem}", 1e-4, limit)
        growth.append({**r, "name": name})
    berlin = _solve("gp", 1e-4, limit, repeats)
    if "error" not in berlin:
        growth.append({**berlin, "name": "Berlin-Center", "nodes": 12981, "links": 28376, "zones": 865})
    lines = [
        "## Assignment at city scale: Berlin-Center (`benchmarks/bench_berlin.py`)",
        "",
        "Berlin-Center (TNTP; 12,981 nodes, 28,376 links, 865 zones, 168,222 trips), BPR. Each solve in a fresh "
        f"process; 2 threads for both (ours: the all-or-nothing assignments; `gp`'s sweeps are sequential), "
        f"AequilibraE `bfw`; ours stop at {limit:.0f} s; fastest of {repeats} solves per row. Gap re-measured with our "
        "shortest paths. Ratio: seconds / AequilibraE's at the same target gap.",
        "",
        "| target gap | solver | iterations | gap reached | TSTT | seconds | s / iteration | peak MB | ratio to AequilibraE |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for gap in GAPS:
        rows = {who: _solve(who, gap, limit, repeats) for who in ("aequilibrae", "gp", "bfw")}
        base = rows["aequilibrae"].get("seconds")
        for who, label in (("aequilibrae", "AequilibraE 1.7 bfw, 2 threads"), ("gp", "ours `gp`"),
                           ("bfw", "ours `bfw`")):
            r = rows[who]
            if "error" in r:
                lines.append(f"| {gap:.0e} | {label} | failed: {r['error']} | | | | | | |")
                continue
            per = r["seconds"] / r["iterations"] if r["iterations"] else float("nan")
            ratio = f"{r['seconds'] / base:.2f}" if base else ""
            lines.append(f"| {gap:.0e} | {label} | {r['iterations']} | {r['gap']:.2e} | {r['tstt']:,.0f} | "
                         f"{r['seconds']:.2f} | {per:.3f} | {r['peak_mb']:.0f} | {ratio} |")
    if "error" not in parts:
        sweeps = parts["gp_iterations"]
        sweep = sum(sweeps) / len(sweeps) if sweeps else float("nan")
        lines += [
            "", "### Where the time goes", "",
            f"- One all-or-nothing assignment (Dijkstra from each of the 865 origins on the compact graph, and the "
            f"loading): {parts['aon']:.3f} s on {parts['aon_threads']} threads, {parts['aon_1']:.3f} s on one "
            f"({parts['aon_1'] / parts['aon']:.2f}x).",
            f"- One `fw` iteration (that, then the exact line search): {parts['fw_iteration']:.3f} s; the line search "
            f"and bookkeeping are the difference, {max(parts['fw_iteration'] - parts['aon'], 0.0):.3f} s. A `bfw` "
            "iteration adds the conjugate direction (a few vector operations).",
            f"- One `gp` iteration (a sweep, then the gap check): {sweep:.3f} s on average over {len(sweeps)}; the gap "
            f"check (an all-or-nothing without loading, {parts['aon_threads']} threads) takes {parts['gap_check']:.3f} s "
            f"of it; the sweep the rest, {sweep - parts['gap_check']:.3f} s: one Dijkstra per origin in sequence "
            f"(about {parts['aon_1']:.3f} s, as the one-thread all-or-nothing) and the path shifts.",
        ]
    grow = [r for r in growth if "error" not in r]
    if grow:
        lines += ["", "### Time to a gap of 1e-4 as the network grows (ours `gp`, best of 3 in one process)", "",
                  "| network | nodes | links | zones | iterations | gap reached | seconds | seconds / Sioux Falls |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        first = grow[0]["seconds"]
        for r in grow:
            lines.append(f"| {r['name']} | {r['nodes']:,} | {r['links']:,} | {r['zones']:,} | {r['iterations']} | "
                         f"{r['gap']:.2e} | {r['seconds']:.3f} | {r['seconds'] / first:,.0f} |")
        a, z = grow[0], grow[-1]
        size = (z["links"] * z["zones"]) / (a["links"] * a["zones"])
        lines += ["", f"From {a['name']} to {z['name']}, links x zones (the work of one all-or-nothing assignment with a "
                  f"binary heap, up to a log factor) grow {size:,.0f}x and the time to 1e-4 {z['seconds'] / a['seconds']:,.0f}x: "
                  "on the small networks the time is mostly fixed cost per call and iteration (set-up, Python, about a millisecond), and Berlin-Center needs fewer iterations (3 against 6) and uses both threads for its gap checks."]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(run())
