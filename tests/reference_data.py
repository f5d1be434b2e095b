"""Where the real measured reference data lives, and how tests that need it skip."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
"""../shared/data relative to the repository root (never inside the repository)."""


def skip_without_reference_data(path: Path) -> Path:
    """``path`` if it exists; otherwise skip, saying which measured data the test needs."""
    if not path.exists():
        pytest.skip(reason=f"reference data {path} is absent: this test compares against "
                    "real measured data kept in ../shared/data beside the repository")
    return path
