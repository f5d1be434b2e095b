"""The dashboards' local days follow AQM_TIMEZONE when they are generated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_dashboards_use_the_configured_zone(tmp_path: Path) -> None:
    env = {**os.environ, "AQM_TIMEZONE": "Asia/Bangkok", "AQM_CONFIG": ""}
    subprocess.run(
        [sys.executable, "-m", "aqm", "grafana", "generate", "--out", str(tmp_path)],
        cwd=REPO, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    text = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file())
    assert "AT TIME ZONE 'Asia/Bangkok'" in text
    assert "Asia/Ho_Chi_Minh" not in text
