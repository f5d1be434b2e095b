"""Bad settings, options and database URLs: a one-line error (exit 2) naming what is at
fault, never a traceback, never a password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aqm.cli import main
from aqm.localservices import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "stations" / "catalogue.example.yaml"
SECRET = "s3cret-pw"
# Any local free port: nothing listens there, so connecting fails at once.
CLOSED_URL = f"postgresql://aqm:{SECRET}@127.0.0.1:{free_port()}/aqm"
CLOSED_URL_MASKED = CLOSED_URL.replace(SECRET, "***")
DATABASE_COMMANDS = [
    ["db", "migrate"],
    ["worker", "--once"],
    ["aqi", "backfill", "--from", "2025-01-01", "--to", "2025-01-02"],
    ["stations", "sync"],
    ["stations", "list"],
]


@pytest.fixture(autouse=True)
def settings_env(
    no_aqm_settings: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No aqm.toml, no AQM_* variable from outside, no services started by accident."""
    monkeypatch.setenv("AQM_STATIONS_FILE", str(EXAMPLE))
    monkeypatch.setenv("AQM_DATA_DIR", str(tmp_path / "data"))


def error_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line ``aqm args`` prints; fails unless it exits 2 with exactly that."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.endswith("\n")
    assert len(err.splitlines()) == 1, err
    return err.splitlines()[0]


# settings


def test_a_bad_variable_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQM_PG_PORT", "abc")
    assert error_of(["services", "status"], capsys) == (
        "aqm services: error: AQM_PG_PORT: Input should be a valid integer, unable to parse "
        "string as an integer"
    )


@pytest.mark.parametrize(
    ("port", "problem"),
    [("-1", "greater than or equal to 0"), ("99999999", "less than or equal to 65535")],
)
def test_a_bad_metrics_port_is_named(
    port: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert error_of(["ingest", "--metrics-port", port], capsys) == (
        f"aqm ingest: error: --metrics-port: Input should be {problem}"
    )


def test_the_metrics_port_option_shows_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ingest", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--metrics-port PORT port for /metrics and /healthz (default: AQM_METRICS_PORT if " \
           "set, else 9108; 0: off)" in help_text


def test_a_config_file_that_is_missing_or_a_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQM_CONFIG", str(tmp_path / "aqm.tolm"))
    assert error_of(["services", "status"], capsys) == (
        f"aqm services: error: AQM_CONFIG={tmp_path}/aqm.tolm: no such file (leave "
        "AQM_CONFIG empty to read no file)"
    )
    monkeypatch.setenv("AQM_CONFIG", str(tmp_path))
    assert error_of(["services", "status"], capsys) == (
        f"aqm services: error: AQM_CONFIG={tmp_path}: is a folder, not a TOML file"
    )


def test_a_bad_value_in_the_config_file_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aqm.toml"
    config.write_text('batch_size = 100\nmqtt_port = "one"\n')
    monkeypatch.setenv("AQM_CONFIG", str(config))
    assert error_of(["services", "status"], capsys) == (
        f"aqm services: error: {config}:2: mqtt_port: Input should be a valid integer, "
        "unable to parse string as an integer"
    )


@pytest.mark.parametrize("zone", ["Mars/Base", ""])
def test_a_time_zone_that_does_not_load_is_named(
    zone: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQM_TIMEZONE", zone)
    assert error_of(["simulate", "--print"], capsys) == (
        f"aqm simulate: error: AQM_TIMEZONE: {zone!r} is not an IANA time zone such as "
        "Asia/Ho_Chi_Minh"
    )


@pytest.mark.parametrize("prefix", ["aqm/#", "aqm/+"])
def test_the_simulator_refuses_a_wildcard_topic_prefix(
    prefix: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQM_TOPIC_PREFIX", prefix)
    err = error_of(["simulate", "--print", "--duration", "10m"], capsys)
    assert err.startswith(f"aqm simulate: error: AQM_TOPIC_PREFIX: topic prefix {prefix!r} "
                          "contains the MQTT wildcard")
    assert capsys.readouterr().out == ""  # nothing was generated


# aqm simulate times and speeds


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "-99999999d"], "--start: '-99999999d' reaches beyond the years 1-9999"),
        (["--start", "0001-01-01"], "--start: '0001-01-01' in UTC is outside the years 1-9999"),
        (["--start", "9999-12-31T23:59", "--duration", "1d"],
         "--duration: '1d' after --start reaches beyond the year 9999"),
        (["--duration", "999999999w"], "--duration: '999999999w' is too long a span"),
        (["--end", "+99999999999d"], "--end: '99999999999d' is too long a span"),
        (["--speedup", "nan"], "--speedup nan: must be a positive number (0: as fast as possible)"),
        (["--speedup", "inf"], "--speedup inf: must be a positive number (0: as fast as possible)"),
        (["--speedup", "-2"], "--speedup -2.0: must be a positive number (0: as fast as possible)"),
        (["--rate", "nan"], "--rate nan: must be a positive number"),
    ],
)
def test_simulate_names_a_time_or_speed_out_of_range(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert error_of(["simulate", "--print", *args], capsys) == f"aqm simulate: error: {message}"


def test_simulate_still_takes_the_edges_of_the_calendar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["simulate", "--print", "--stations", "BN-TUSON", "--start",
                 "9999-12-31T22:00", "--duration", "1h"]) == 0  # fmt: skip
    assert '"ts":"9999-12-31T22:' in capsys.readouterr().out


# database URLs


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_a_database_url_that_does_not_parse_is_named(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = error_of([*command, "--database-url", "bad url"], capsys)
    assert err.endswith(": error: --database-url: 'bad url' is not a PostgreSQL URL: "
                        'missing "=" after "bad" in connection info string')


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_a_malformed_variable_url_is_named_without_its_password(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # libpq quotes the part it cannot read: here, the password itself
    monkeypatch.setenv("AQM_DATABASE_URL", f"postgresql://aqm:{SECRET} x@127.0.0.1/aqm")
    err = error_of(command, capsys)
    assert ": error: AQM_DATABASE_URL: 'postgresql://aqm:***@127.0.0.1/aqm' is not a " \
           "PostgreSQL URL: unexpected spaces found in \"***\"" in err
    assert SECRET not in err


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_an_unreachable_database_is_named_without_its_password(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--database-url", CLOSED_URL]) == 2
    captured = capsys.readouterr()
    last = captured.err.splitlines()[-1]
    assert f": error: cannot connect to the database at {CLOSED_URL_MASKED}: " in last
    assert SECRET not in captured.err + captured.out


def test_as_a_process_nothing_shows_a_traceback_or_the_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("AQM_")}
    env |= {"AQM_CONFIG": "", "AQM_DATA_DIR": str(tmp_path / "data")}
    cases = [
        (["db", "migrate", "--database-url", CLOSED_URL], {}),
        (["worker", "--once", "--database-url", "bad url"], {}),
        (["services", "status"], {"AQM_PG_PORT": "abc"}),
        (["simulate", "--print", "--start", "0001-01-01"], {}),
        (["stations", "validate"], {"AQM_CONFIG": str(tmp_path)}),
    ]
    for args, extra in cases:
        done = subprocess.run([sys.executable, "-m", "aqm", *args], env=env | extra,
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        assert SECRET not in done.stderr + done.stdout
        assert done.stderr.splitlines()[-1].startswith(f"aqm {args[0]}: error: ")



def test_broker_auth_names_where_its_missing_definitions_file_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "rabbitmq-definitions.json"
    monkeypatch.setenv("AQM_BROKER_AUTH_DEFINITIONS_FILE", str(missing))
    hint = "`aqm stations credentials … --out DIR` writes DIR/rabbitmq-definitions.json"
    assert error_of(["broker-auth"], capsys) == (
        f"aqm broker-auth: error: AQM_BROKER_AUTH_DEFINITIONS_FILE {missing}: no such file; "
        + hint
    )
    given = tmp_path / "elsewhere.json"
    assert error_of(["broker-auth", "--definitions", str(given)], capsys) == (
        f"aqm broker-auth: error: --definitions {given}: no such file; " + hint
    )
