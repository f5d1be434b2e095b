"""``aqm stations …`` as an operator runs it: exit status, output, errors with lines."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from aqm.cli import main
from aqm.localservices import PostgresInstance
from stations.mosquitto_passwords import read_password_file, verify_password

EXAMPLE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"
ACTIVE = ["BN-KINHBAC", "BN-BACGIANG", "BN-TUSON", "BN-QUEVO-LCS1", "BN-MOBILE-01"]


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Only what each test sets: no aqm.toml from the working directory, no AQM_* leaks.
    monkeypatch.setenv("AQM_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("AQM_STATIONS_FILE", str(EXAMPLE))
    monkeypatch.setenv("AQM_MQTT_URL", "mqtt://aqm-ingest:ingest%20pw@127.0.0.1:1883")


def test_check_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stations", "check"]) == 0
    out = capsys.readouterr().out
    assert f"{EXAMPLE}: 6 stations (5 active), no problems" in out
    assert all(sid in out for sid in ACTIVE)


def test_check_reports_every_problem_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "stations:\n"
        "  - station_id: BN-01\n"
        "    name: Trạm\n"
        "    latitude: 21.2\n"
        "    longitude: 106.1\n"
        "    station_type: low_cost_sensor\n"
        "    public_aqi: true\n"
        "    parameters: [pm25, PM10]\n",
        encoding="utf-8",
    )
    assert main(["stations", "validate", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"aqm stations: error: {bad}: 1 problem"
    assert err[1] == (f"{bad}:8: station BN-01: parameters[1]: 'PM10' is a datalogger name; "
                      "write the canonical name 'pm10'")
    bad.write_text(bad.read_text().replace("PM10", "pm10"), encoding="utf-8")
    assert main(["stations", "check", "--file", str(bad)]) == 2
    assert f"{bad}:7: station BN-01: public_aqi: a low_cost_sensor station is a reference " \
           "station" in capsys.readouterr().err


@pytest.mark.services
def test_sync_then_list(
    clean_db: str, postgres: PostgresInstance, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AQM_DATABASE_URL", clean_db)
    assert main(["stations", "sync", "--dry-run"]) == 0
    assert "6 added" in capsys.readouterr().out
    with psycopg.connect(clean_db) as conn:
        assert conn.execute("SELECT count(*) FROM stations").fetchone() == (0,)

    assert main(["stations", "sync", str(EXAMPLE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:6] == [f"+ {sid}" for sid in [*ACTIVE, "BN-YENPHONG-LCS0"]]
    assert lines[-1] == "stations: 6 added, 0 changed, 0 unchanged"
    assert main(["stations", "sync"]) == 0
    assert capsys.readouterr().out.splitlines() == ["stations: 0 added, 0 changed, 6 unchanged"]

    assert main(["stations", "list", "--database-url", postgres.url(user="aqm_reader")]) == 0
    out = capsys.readouterr().out
    assert "6 stations registered, 5 active" in out
    assert out.count("never") == 6


def test_sync_without_a_database_names_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aqm.localservices import free_port

    port = free_port()
    monkeypatch.setenv("AQM_DATABASE_URL", f"postgresql://u:topsecret@127.0.0.1:{port}/aqm")
    assert main(["stations", "sync"]) == 2
    err = capsys.readouterr().err
    assert f"cannot connect to the database at 127.0.0.1:{port}/aqm" in err
    assert "topsecret" not in err


def generated(out: str) -> dict[str, str]:
    """The secrets-file lines the credentials command printed."""
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    return {user: json.loads(quoted) for user, quoted in (line.split(": ", 1) for line in lines)}


def test_credentials_write_private_files_and_print_new_passwords_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broker"
    args = ["stations", "credentials", str(EXAMPLE), "--out", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    printed = generated(captured.out)
    assert list(printed) == ACTIVE  # the ingest password is the one in AQM_MQTT_URL
    entries = read_password_file(out / "passwd")
    assert list(entries) == ["aqm-ingest", *ACTIVE]
    assert verify_password("ingest pw", entries["aqm-ingest"])
    assert all(verify_password(printed[sid], entries[sid]) for sid in ACTIVE)
    for name in ("passwd", "acl"):
        assert (out / name).stat().st_mode & 0o777 == 0o600
    acl = (out / "acl").read_text()
    assert "user aqm-ingest\ntopic read aqm/v1/stations/+/readings" in acl
    assert "user BN-TUSON\ntopic write aqm/v1/stations/BN-TUSON/readings" in acl
    assert "1 from secrets, 5 generated, 0 kept, 0 removed" in captured.err
    # the printed lines are a secrets file
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(captured.out)
    from stations.broker_secrets import load_secrets

    assert load_secrets(secrets) == printed

    assert main(args) == 0
    assert capsys.readouterr().out == ""
    assert read_password_file(out / "passwd") == entries

    assert main([*args, "--rotate", "BN-TUSON"]) == 0
    rotated = generated(capsys.readouterr().out)
    assert list(rotated) == ["BN-TUSON"]
    assert verify_password(rotated["BN-TUSON"], read_password_file(out / "passwd")["BN-TUSON"])

    assert main([*args, "--rotate", "BN-YENPHONG-LCS0"]) == 2
    assert "cannot rotate BN-YENPHONG-LCS0: not an active station" in capsys.readouterr().err


def test_credentials_take_passwords_from_the_secrets_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQM_MQTT_URL", "mqtt://127.0.0.1:1883")  # no user: aqm-ingest
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text('# chosen by the operator\naqm-ingest: "ingest passphrase"\n'
                       'BN-TUSON: "tuson passphrase 1"\n')
    out = tmp_path / "broker"
    args = ["stations", "credentials", str(EXAMPLE), "--out", str(out), "--secrets", str(secrets)]
    assert main(args) == 0
    printed = generated(capsys.readouterr().out)
    assert sorted(printed) == sorted(set(ACTIVE) - {"BN-TUSON"})  # secrets are never printed
    entries = read_password_file(out / "passwd")
    assert verify_password("ingest passphrase", entries["aqm-ingest"])
    assert verify_password("tuson passphrase 1", entries["BN-TUSON"])

    # a changed secret replaces the stored hash
    secrets.write_text('aqm-ingest: "ingest passphrase"\nBN-TUSON: "tuson passphrase 2"\n')
    assert main(args) == 0
    assert capsys.readouterr().out == ""
    assert verify_password("tuson passphrase 2", read_password_file(out / "passwd")["BN-TUSON"])
    assert main([*args, "--rotate", "BN-TUSON"]) == 2
    assert "the password is given" in capsys.readouterr().err

    secrets.write_text('aqm-ingest: "ingest passphrase"\nBN-TUSON: short\n')
    assert main(args) == 2
    assert f"{secrets}:2: BN-TUSON: the password has 5 characters" in capsys.readouterr().err
    secrets.write_text('aqm-ingest: "ingest passphrase"\nBN-TUSSON: "tuson passphrase 2"\n')
    assert main(args) == 2
    assert "the secrets name BN-TUSSON: neither an active station" in capsys.readouterr().err


def test_credentials_never_write_into_the_repository(
    capsys: pytest.CaptureFixture[str],
) -> None:
    inside = EXAMPLE.parent / "broker-credentials-test"
    assert main(["stations", "credentials", str(EXAMPLE), "--out", str(inside)]) == 2
    assert "not ignored by git; broker secrets must never be committed" in capsys.readouterr().err
    assert not inside.exists()


def test_validate_takes_the_file_as_argument_and_keeps_the_old_spellings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["validate", str(EXAMPLE)], ["check", str(EXAMPLE)],
                 ["check", "--file", str(EXAMPLE)], ["validate"]):
        assert main(["stations", *args]) == 0, args
        assert f"{EXAMPLE}: 6 stations (5 active), no problems" in capsys.readouterr().out
    missing = tmp_path / "absent.yaml"
    assert main(["stations", "validate", str(missing)]) == 2
    assert f"{missing}: file not found" in capsys.readouterr().err
