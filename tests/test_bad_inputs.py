"""Every case of ``tests/bad_input_cases.py``: exit 2, one line naming the problem, output untouched."""

from __future__ import annotations

import pytest

from tests.bad_input_cases import CASES, DOC, REPO, render


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}: {c.what}" for c in CASES])
def test_bad_input(case, tmp_path, capsys):
    from transit.cli import main

    for name, text in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", errors="surrogateescape")  # \udcXX: raw bytes
    out = tmp_path / case.out if case.out else None
    if out is not None and case.existing is not None:
        out.write_text(case.existing)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{repo}", str(REPO)) for a in case.argv]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"transit {case.command}: error: "), err
    assert case.fragment in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no hidden temporary folder
    if out is not None and case.existing is not None:
        assert out.read_text() == case.existing


def test_reliability_document_is_current():
    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m tests.bad_input_cases"
