"""Fuzz targets for every reader of user files, on hypothesis.

Usage::

    python -m tests.fuzz                       # every reader, 600 s each, results into docs/
    python -m tests.fuzz osm_xml tntp_net --seconds 60

Each target writes a mutated input file and calls the reader (the Python entry point the
command line uses). The promise checked: the reader returns, or raises one of this
project's typed errors (:class:`networks.errors.TransitError`); any other exception is a
finding. Inputs are drawn by hypothesis from a small corpus of valid files, mutated by byte
flips, deletions, duplications, truncation, insertions of awkward tokens (``nan``,
``-1e308``, ``]]>``, ``<END OF METADATA>``, ...) and replacement of numbers by such tokens, or
are plain random bytes. Each round runs a fixed number of examples from a fixed seed
(rounds 0, 1, 2, ...), so a run is reproducible; a finding is shrunk by hypothesis and saved
under ``tests/fixtures/fuzz/<target>/`` (``tests/test_fuzz.py`` replays every saved file, so
each becomes a regression test). The run's figures go to ``docs/fuzz_runs.json``, from which
``docs/reliability.md`` is written (``python -m tests.bad_input_cases``).

Not fuzzed: OMX matrices (HDF5; a mutated HDF5 file exercises the HDF5 C library, not this
project's code; ``read_od`` only turns its errors into messages).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python -m tests.fuzz` from the repository
    sys.path.insert(0, str(REPO))

from networks.errors import TransitError  # noqa: E402

FINDINGS = REPO / "tests" / "fixtures" / "fuzz"
RUNS = REPO / "docs" / "fuzz_runs.json"
EXAMPLES_PER_ROUND = 200

TOKENS = (b"nan", b"NaN", b"inf", b"-inf", b"-1", b"0", b"1e308", b"-1e308", b"1e-320", b"99999999999999999999999",
          b"", b"\x00", b"\xff\xfe", "\u00e9\u4e0a".encode(), b'"', b"'", b"<", b">", b"&", b"&amp;", b"]]>", b"{",
          b"}", b"[", b"]", b",", b";", b"\n", b"\r\n", b"\t", b"~", b"=", b":", b"<END OF METADATA>", b"null",
          b"true", b"[]", b"{}", b"0x10", b"1_000", b" ", b"-0", b"+5", b"1e3", b"999999999")
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Target:
    """A reader under test: how to call it on a file, and its corpus of valid inputs."""

    name: str
    suffix: str
    seeds: Callable[[], list[bytes]]
    call: Callable[[Path], Any]
    what: str
    notes: str = ""
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- corpora
_TNTP_NET = (b"<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 3\n"
             b"<END OF METADATA>\n~ init term capacity length fft b power speed toll type ;\n"
             b"1 3 10 1 1 0.15 4 0 0 1 ;\n3 2 10 1 1 0.15 4 0 0 1 ;\n1 2 5 2 2 0.15 4 0 0 1 ;\n")
_TRIPS = (b"<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> 3.0\n<END OF METADATA>\n\nOrigin 1\n2 : 2.0;\n\n"
          b"Origin 2\n1 : 1.0;\n")
_DNDP = (b"<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 4\n"
         b"<NUMBER OF NEW LINKS> 1\n<END OF METADATA>\n"
         b"~ init term capacity length fft b power speed toll type cost ;\n"
         b"1 3 10 1 1 0.15 4 0 0 1 0 ;\n3 2 10 1 1 0.15 4 0 0 1 0 ;\n2 1 10 2 2 0.15 4 0 0 1 0 ;\n"
         b"1 2 5 2 2 0.15 4 0 0 1 7.5 ;\n")


def _osm_seeds() -> list[bytes]:
    return [(REPO / "tests" / "fixtures" / "osm" / name).read_bytes() for name in ("roads.osm", "rail.osm")]


@cache
def _pbf_seeds() -> list[bytes]:
    from networks.osm_pbf import write_pbf

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("roads.osm", "rail.osm"):
            out.append(write_pbf(REPO / "tests" / "fixtures" / "osm" / name, Path(tmp) / f"{name}.pbf").read_bytes())
    return out


def _shared_seed(*parts: str) -> list[bytes]:
    path = REPO.parent / "shared" / Path(*parts)
    return [path.read_bytes()] if path.is_file() else []


@cache
def _model_inputs() -> tuple[Any, Any, Any, Any]:
    from transit.catalogue import load_projects
    from transit.config import load_config
    from transit.model.zones import load_zones

    members, projects = load_projects()
    return load_zones(), load_config(), members, projects


def _od_seeds() -> list[bytes]:
    zones = _model_inputs()[0]
    ids = [str(z) for z in zones["zone"].iloc[::30]]
    zone_level = "origin,destination,trips\n" + "".join(
        f"{a},{b},{100 + 7 * i}\n" for i, (a, b) in enumerate(zip(ids, ids[::-1])) if a != b)
    by_mode = "origin,destination,mode,trips\nShanghai,Hangzhou,rail,120000\nShanghai,Hangzhou,car,40000\n" \
              "Hangzhou,Ningbo,coach,5000\nNingbo,Hangzhou,rail,30000.5\n"
    return [zone_level.encode(), by_mode.encode(), b"origin,destination,trips\nShanghai,Nanjing,1e5\n"]


def _config_seeds() -> list[bytes]:
    return [(REPO / "data" / "default_config.toml").read_bytes(),
            b"[demand]\ngrowth = 0.02\n[network]\nbbox = [118.0, 28.0, 122.5, 32.5]\n",
            b"[rail]\nspeed_factor = 0.9\n[mode_choice]\ntheta = 0.05\n"]


def _shares_seeds() -> list[bytes]:
    members, projects = _model_inputs()[2:]
    p = projects[0].id
    m = [x.id for x in members][:3]
    return [f"project,member,share\n{p},{m[0]},0.5\n{p},{m[1]},0.25\n{p},{m[2]},0.25\n".encode()]


def _call_osm(path: Path) -> Any:
    from networks.osm import graph_from_osm

    return graph_from_osm(path, network="both", cache=False, progress=False)


def _call_od(path: Path) -> Any:
    from transit.model.demand import read_od

    zones, config, _, _ = _model_inputs()
    return read_od(path, zones, config)


def _call_shares(path: Path) -> Any:
    from transit.alliance import read_cost_shares

    _, _, members, projects = _model_inputs()
    return read_cost_shares(path, members=members, projects=projects)


_SCENARIO = (b'name = "all keys"\ndescription = "d"\n[network]\nsource = "embedded"\nosm_network = "both"\n'
             b'[demand]\nyear = 2030\ngrowth = 1.1\nzones = "city"\n[candidates]\ninclude = ["hangli", "jinjian"]\n'
             b'exclude = []\n[budget]\namount = 120.5\nladder_steps = 3\nmember_caps = { cr = 50 }\n'
             b'[objective]\nkind = "npv"\npairs = "all"\nfairness = "none"\nmin_improvement = { all = 1.0 }\n'
             b'[congestion]\nenabled = false\ntime_limit = 60\n[solver]\ntime_limit = 30\n')


def _call_scenario(path: Path) -> Any:
    from transit.scenarios import load_scenario

    scenario = load_scenario(path)
    scenario.optimization_arguments()  # resolves include/exclude against the catalogue
    return scenario.config()


def _call(module: str, name: str, **kwargs: Any) -> Callable[[Path], Any]:
    def call(path: Path) -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(path, **kwargs)

    return call


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("osm_xml", ".osm", _osm_seeds, _call_osm, "OSM XML to road and rail graphs",
           "graph_from_osm(network='both', cache=False)"),
    Target("osm_pbf", ".osm.pbf", _pbf_seeds, _call_osm, "OSM PBF to road and rail graphs",
           "graph_from_osm(network='both', cache=False); corpus: the XML fixtures written as PBF"),
    Target("tntp_net", "_net.tntp", lambda: [_TNTP_NET, *_shared_seed("data", "tntp", "Braess-Example",
                                                                       "Braess_net.tntp")],
           _call("networks.tntp", "read_tntp_network"), "TNTP network", "read_tntp_network"),
    Target("tntp_trips", "_trips.tntp", lambda: [_TRIPS], _call("networks.tntp", "read_tntp_trips"),
           "TNTP trips", "read_tntp_trips"),
    Target("dndp", ".txt", lambda: [_DNDP], _call("solvers.dndp", "read_dndp_instance"),
           "network-design instance (Rey's format)", "read_dndp_instance"),
    Target("od_csv", ".csv", _od_seeds, _call_od, "OD matrix, CSV long format", "read_od on the model's zones"),
    Target("config", ".toml", _config_seeds, _call("transit.config", "load_config"), "model configuration (TOML)",
           "load_config"),
    Target("projects", ".json", lambda: [(REPO / "data" / "projects.json").read_bytes()],
           _call("transit.catalogue", "load_projects"), "project catalogue (JSON)", "load_projects"),
    Target("cost_shares", ".csv", _shares_seeds, _call_shares, "negotiated cost shares (CSV)", "read_cost_shares"),
    Target("scenario", ".toml", lambda: [p.read_bytes() for p in sorted((REPO / "scenarios").glob("*.toml"))]
           + [_SCENARIO], _call_scenario, "scenario file (TOML)", "load_scenario, then the model configuration"),
)}


# ----------------------------------------------------------------------------- inputs
def draw_payload(data: Any, seeds: list[bytes]) -> bytes:
    """One fuzz input: random bytes (1 in 8) or a valid seed with 1-8 mutations."""
    from hypothesis import strategies as st

    if data.draw(st.integers(0, 7), label="kind") == 0:
        return data.draw(st.binary(max_size=512), label="random bytes")
    buf = bytearray(seeds[data.draw(st.integers(0, len(seeds) - 1), label="seed")])
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        op = data.draw(st.sampled_from(("number", "number", "token", "flip", "delete", "duplicate", "truncate")))
        pos = data.draw(st.integers(0, max(0, len(buf))), label="pos")
        if op == "number":
            spans = [m.span() for m in _NUMBER.finditer(bytes(buf))]
            if spans:
                a, b = spans[data.draw(st.integers(0, len(spans) - 1), label="which number")]
                buf[a:b] = data.draw(st.sampled_from(TOKENS), label="token")
        elif op == "token":
            buf[pos:pos] = data.draw(st.sampled_from(TOKENS), label="token")
        elif op == "flip" and buf:
            buf[min(pos, len(buf) - 1)] = data.draw(st.integers(0, 255), label="byte")
        elif op == "delete":
            del buf[pos:pos + data.draw(st.integers(1, 64), label="length")]
        elif op == "duplicate":
            length = data.draw(st.integers(1, 200), label="length")
            buf[pos:pos] = buf[pos:pos + length]
        elif op == "truncate":
            del buf[pos:]
    return bytes(buf)


def check(target: Target, payload: bytes, folder: Path) -> None:
    """Run the reader on ``payload``: a typed error is fine, anything else propagates."""
    path = folder / f"input{target.suffix}"
    path.write_bytes(payload)
    grew = _read_counting_files(target, path)
    # a library may open a file once and keep it (pyproj's proj.db): only growth on a second read is a leak
    if grew and _read_counting_files(target, path):
        raise AssertionError(f"file descriptor leak: {grew} more open after reading")


def _read_counting_files(target: Target, path: Path) -> int:
    """Call the reader on ``path`` (typed errors are fine); return how many more files are open after."""
    before = _open_files()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            target.call(path)
        except TransitError:
            pass
        except RecursionError:  # pragma: no cover - reported as a finding with a clear name
            raise AssertionError("RecursionError") from None
    after = _open_files()
    return max(0, after - before) if before is not None and after is not None else 0


def _open_files() -> int | None:
    """Open file descriptors of this process (Linux), to catch readers that leak them."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - not Linux
        return None


def save_finding(target: Target, payload: bytes) -> Path:
    FINDINGS.joinpath(target.name).mkdir(parents=True, exist_ok=True)
    path = FINDINGS / target.name / f"crash-{hashlib.sha256(payload).hexdigest()[:12]}{target.suffix}"
    path.write_bytes(payload)
    return path


def fuzz(target: Target, *, seconds: float, examples: int = EXAMPLES_PER_ROUND, max_rounds: int | None = None) -> dict:
    """Fuzz ``target`` for ``seconds`` (whole rounds) and return the run's figures."""
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st

    seeds = target.seeds()
    counter = {"n": 0}
    findings: dict[str, str] = {}
    started = time.perf_counter()
    rounds = 0
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target.name}-") as tmp:
        folder = Path(tmp)
        last: dict[str, bytes] = {}

        @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck), phases=(Phase.generate, Phase.shrink),
                  report_multiple_bugs=False, print_blob=False)
        @given(st.data())
        def one(data: Any) -> None:
            payload = draw_payload(data, seeds)
            last["payload"] = payload
            counter["n"] += 1
            check(target, payload, folder)

        while time.perf_counter() - started < seconds and (max_rounds is None or rounds < max_rounds):
            try:
                seed(rounds)(one)()
            except Exception as exc:  # a finding: hypothesis re-raises it after shrinking
                where = traceback.extract_tb(exc.__traceback__)[-1]
                key = f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno}"
                if key not in findings:
                    saved = save_finding(target, last["payload"])
                    findings[key] = f"{key}: {str(exc)[:160]} ({saved.relative_to(REPO)})"
            rounds += 1
    return {"target": target.name, "what": target.what, "entry": target.notes, "seconds": round(time.perf_counter() - started),
            "rounds": rounds, "examples": counter["n"], "findings": sorted(findings.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], default=[], metavar="TARGET",
                        help=f"readers to fuzz (default: all): {', '.join(TARGETS)}")
    parser.add_argument("--seconds", type=float, default=600.0, help="time per reader (whole rounds)")
    parser.add_argument("--no-record", action="store_true", help="do not write docs/fuzz_runs.json")
    args = parser.parse_args(argv)
    names = args.targets or list(TARGETS)
    for name in names:
        result = fuzz(TARGETS[name], seconds=args.seconds)
        result["command"] = f"python -m tests.fuzz {name} --seconds {args.seconds:g}"
        result["date"] = time.strftime("%Y-%m-%d")
        print(json.dumps(result), flush=True)
        if not args.no_record:
            _record(name, result)
    return 0


def _record(name: str, result: dict) -> None:
    """Merge one run into docs/fuzz_runs.json under a lock (several runs may finish at once)."""
    import fcntl

    with open(RUNS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs = json.loads(RUNS.read_text(encoding="utf-8")) if RUNS.exists() else {}
        runs[name] = result
        tmp = RUNS.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(dict(sorted(runs.items())), indent=1) + "\n", encoding="utf-8")
        tmp.replace(RUNS)


if __name__ == "__main__":
    raise SystemExit(main())
