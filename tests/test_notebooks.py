"""The notebooks run: every code cell is executed in order, as Jupyter would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{path.name}[cell {number}]", "exec"), namespace)
    summary = namespace["summary"]
    assert len(summary) == 5 and (summary["status"] == "OPTIMAL").all()
    # a capped member cannot spend more than its cap; a bigger budget never does worse
    assert summary.loc["base 300 bn", "objective"] <= summary.loc["tight 120 bn", "objective"]
    assert "huyong_rail" not in summary.loc["no Jinshan-Cixi rail", "selected"].split()
