"""`aqm run` refuses what it cannot run before it starts any service."""

from __future__ import annotations

from pathlib import Path

import pytest

from aqm.cli import main


@pytest.fixture(autouse=True)
def settings_env(
    no_aqm_settings: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("AQM_DATA_DIR", str(data))
    return data


def test_a_bad_catalogue_stops_run_before_the_services_start(
    tmp_path: Path, settings_env: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    catalogue = tmp_path / "stations.yaml"
    catalogue.write_text("stations:\n  - station_id: BN-01\n    name: Trạm\n", encoding="utf-8")
    monkeypatch.setenv("AQM_STATIONS_FILE", str(catalogue))
    assert main(["run", "--no-live", "--duration", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"aqm run: error: {catalogue}: ")
    assert f"{catalogue}:2: station BN-01: latitude: required field is missing" in err
    assert not settings_env.exists()  # no database or broker was created, let alone started


def test_a_missing_catalogue_is_named(
    tmp_path: Path, settings_env: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    missing = tmp_path / "absent.yaml"
    monkeypatch.setenv("AQM_STATIONS_FILE", str(missing))
    assert main(["run", "--no-live"]) == 2
    assert f"{missing}: file not found" in capsys.readouterr().err
    assert not settings_env.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speedup", "nan"], "--speedup nan: must be a positive number (0: as fast as possible)"),
        (["--history-hours", "-1"], "--history-hours -1.0: must be a number of hours, 0 or more"),
        (["--duration", "inf"], "--duration inf: must be a positive number of seconds"),
    ],
)
def test_bad_numbers_stop_run_before_the_services_start(
    args: list[str], message: str, settings_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *args]) == 2
    assert capsys.readouterr().err == f"aqm run: error: {message}\n"
    assert not settings_env.exists()


def test_bad_settings_stop_run_before_the_services_start(
    settings_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQM_MQTT_PORT", "0")
    assert main(["run"]) == 2
    assert capsys.readouterr().err == (
        "aqm run: error: AQM_MQTT_PORT: Input should be greater than or equal to 1\n"
    )
    assert not settings_env.exists()
