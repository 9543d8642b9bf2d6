"""Shared test fixtures.

Data in ``../shared`` (beside the repository root) is read from there, never copied; tests
that need it skip with a clear reason when it is absent, so a user's fresh clone passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_file(*parts: str) -> Path:
    """Return ``../shared/<parts>`` or skip the calling test if it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the project's shared test data beside the repository); not present")
    return path


@pytest.fixture
def shared() -> "callable":
    return shared_file
