"""``aqm grafana generate``: writes the provisioning files, and ``--check`` finds stale ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from aqm.cli import main
from dashboards.provisioning import DASHBOARDS_JSON_DIR, PROVISIONING_DIR


def test_check_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grafana", "generate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_generate_then_check_and_every_kind_of_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grafana"
    assert main(["grafana", "generate", "--check", "--out", str(out)]) == 1
    assert main(["grafana", "generate", "--out", str(out)]) == 0
    written = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(PROVISIONING_DIR) for p in PROVISIONING_DIR.rglob("*") if p.is_file()
    }
    assert written == committed
    capsys.readouterr()
    assert main(["grafana", "generate", "--check", "--out", str(out)]) == 0

    tram = out / DASHBOARDS_JSON_DIR / "tram.json"
    tram.write_text(tram.read_text(encoding="utf-8").replace("Trạm", "Tram"), encoding="utf-8")
    (out / "alerting" / "rules.yaml").unlink()
    (out / DASHBOARDS_JSON_DIR / "old.json").write_text("{}", encoding="utf-8")
    assert main(["grafana", "generate", "--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    for name in ("tram.json", "rules.yaml", "old.json"):
        assert f"{name}: stale" in err
    # generating repairs all three: the changed file, the missing one and the extra one
    assert main(["grafana", "generate", "--out", str(out)]) == 0
    assert main(["grafana", "generate", "--check", "--out", str(out)]) == 0
    assert not (out / DASHBOARDS_JSON_DIR / "old.json").exists()


def test_out_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("", encoding="utf-8")
    assert main(["grafana", "generate", "--out", str(not_a_folder)]) == 2
    assert f"{not_a_folder}: not a folder" in capsys.readouterr().err
