"""Fuzz regressions and a short fuzz of every reader (the long runs: ``python -m tests.fuzz``).

Every input a fuzz run found to crash a reader is saved under ``tests/fixtures/fuzz/<target>/``
and replayed here: each must now end in a typed error (or be read). A short run of every
target (one seeded round) checks that the targets still work and find nothing new.
"""

from __future__ import annotations

import pytest

from fuzz import FINDINGS, TARGETS, check, fuzz

SAVED = sorted(p for p in FINDINGS.glob("*/*") if p.is_file()) if FINDINGS.exists() else []


@pytest.mark.parametrize("path", SAVED, ids=[f"{p.parent.name}/{p.name}" for p in SAVED])
def test_saved_finding_is_now_a_typed_error(path, tmp_path):
    check(TARGETS[path.parent.name], path.read_bytes(), tmp_path)


@pytest.mark.parametrize("name", list(TARGETS))
def test_short_fuzz_finds_nothing(name):
    result = fuzz(TARGETS[name], seconds=float("inf"), examples=40, max_rounds=1)
    assert result["examples"] >= 40 and result["findings"] == []
