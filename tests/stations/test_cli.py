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
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only what each test sets: no aqm.toml from the working directory, no AQM_* leaks.
    monkeypatch.setenv("AQM_CONFIG", "")
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
    assert err.startswith("aqm stations: error: cannot connect to the database at "
                          f"postgresql://u:***@127.0.0.1:{port}/aqm: connection failed: ")
    assert len(err.splitlines()) == 1  # libpq's two lines joined
    assert "topsecret" not in err


@pytest.mark.parametrize("action", ["sync", "list"])
def test_a_database_url_that_does_not_parse_is_named(
    action: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["stations", action, "--database-url", "bad url"]) == 2
    assert capsys.readouterr().err == (
        "aqm stations: error: --database-url: 'bad url' is not a PostgreSQL URL: "
        'missing "=" after "bad" in connection info string\n'
    )
    monkeypatch.setenv("AQM_DATABASE_URL", "postgresql://u:top secret@h/aqm")
    assert main(["stations", action]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aqm stations: error: AQM_DATABASE_URL: "
                          "'postgresql://u:***@h/aqm' is not a PostgreSQL URL: ")
    assert "top secret" not in err


def test_a_config_file_that_does_not_parse_is_named_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aqm.toml"
    config.write_text('province = "Bắc Ninh"\nbatch_size =\n', encoding="utf-8")
    monkeypatch.setenv("AQM_CONFIG", str(config))
    assert main(["stations", "validate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aqm stations: error: {config}:2: not valid TOML: ")
    assert len(err.splitlines()) == 1


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


def test_credentials_name_an_out_path_they_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder\n")
    base = ["stations", "credentials", str(EXAMPLE), "--out"]
    assert main([*base, str(a_file)]) == 2
    assert capsys.readouterr().err == f"aqm stations: error: --out {a_file}: exists and is " \
                                      "not a folder\n"
    assert main([*base, str(a_file / "sub")]) == 2
    assert capsys.readouterr().err == f"aqm stations: error: {a_file}/sub/passwd: cannot " \
                                      "read: Not a directory\n"
    folder = tmp_path / "broker"
    (folder / "passwd").mkdir(parents=True)
    assert main([*base, str(folder)]) == 2
    assert capsys.readouterr().err == f"aqm stations: error: {folder}/passwd: cannot read: " \
                                      "Is a directory\n"
    (folder / "passwd").rmdir()
    (folder / "passwd").write_bytes(b"# users\nBN-TUSON:$7$101$\xff\xfe\n")
    assert main([*base, str(folder)]) == 2
    assert capsys.readouterr().err == f"aqm stations: error: {folder}/passwd:2: not UTF-8 " \
                                      "text; is this a Mosquitto password file?\n"
    assert not (folder / "acl").exists()


@pytest.mark.parametrize(
    ("user", "problem"),
    [("a:b", "contains ':'"), ("a b", "contains whitespace or a control character"),
     ("a\tb", "contains whitespace or a control character"), ("", "is empty"),
     ("#ingest", "starts with '#'")],
)
def test_credentials_refuse_an_ingest_user_the_password_file_cannot_hold(
    user: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broker"
    args = ["stations", "credentials", str(EXAMPLE), "--out", str(out), "--ingest-user", user]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"aqm stations: error: --ingest-user {user!r}: not a broker user name ({problem})\n"
    )
    assert not out.exists()


def test_credentials_refuse_a_user_in_the_mqtt_url_the_password_file_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQM_MQTT_URL", "mqtt://aqm%3Aingest:ingest%20pw@127.0.0.1:1883")
    out = tmp_path / "broker"
    assert main(["stations", "credentials", str(EXAMPLE), "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("aqm stations: error: AQM_MQTT_URL: the user name "
                                       "'aqm:ingest': not a broker user name (contains ':')\n")
    assert not out.exists()


def test_a_good_ingest_user_is_stable_across_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broker"
    args = ["stations", "credentials", str(EXAMPLE), "--out", str(out),
            "--ingest-user", "ingest-2"]
    assert main(args) == 0
    assert "ingest-2" in generated(capsys.readouterr().out)
    assert main(args) == 0  # read back as the same user: nothing removed, nothing new
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "0 generated, 6 kept, 0 removed" in captured.err


@pytest.mark.parametrize("prefix", ["aqm/#", "aqm/+", "/aqm", "aqm//x", "$SYS/aqm"])
def test_credentials_refuse_a_topic_prefix_that_is_not_a_plain_topic(
    prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AQM_TOPIC_PREFIX", prefix)
    out = tmp_path / "broker"
    assert main(["stations", "credentials", str(EXAMPLE), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aqm stations: error: AQM_TOPIC_PREFIX: topic prefix {prefix!r} ")
    assert not out.exists()


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


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('"ops team": "a long passphrase"', "'ops team' is not a broker username: it contains whitespace or a control character"),
        ('"#admin": "a long passphrase"', "'#admin' is not a broker username: it starts with '#'"),
        ('"a:b": "a long passphrase"', "'a:b' is not a broker username: it contains ':'"),
        ('1234: "a long passphrase"', "1234 is not a broker username: it is not text"),
    ],
)
def test_secrets_refuse_users_the_password_file_cannot_hold(
    tmp_path: Path, line: str, problem: str
) -> None:
    """Same rule as the Mosquitto password file: such a user would be read back as another."""
    from stations.broker_secrets import SecretsFileError, load_secrets

    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f'aqm-ingest: "ingest passphrase"\n{line}\n')
    with pytest.raises(SecretsFileError) as caught:
        load_secrets(secrets)
    assert str(caught.value) == f"{secrets}:2: {problem}"


def test_credentials_write_the_ftp_accounts_with_each_stations_broker_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broker"
    args = ["stations", "credentials", str(EXAMPLE), "--out", str(out)]
    assert main(args) == 0
    printed = generated(capsys.readouterr().out)
    accounts = read_password_file(out / "ftp-users")
    assert list(accounts) == ACTIVE  # stations only: no FTP account for the ingest user
    assert all(verify_password(printed[sid], accounts[sid]) for sid in ACTIVE)
    assert (out / "ftp-users").stat().st_mode & 0o777 == 0o600
    assert main([*args, "--rotate", "BN-TUSON"]) == 0
    rotated = generated(capsys.readouterr().out)
    assert verify_password(rotated["BN-TUSON"], read_password_file(out / "ftp-users")["BN-TUSON"])
