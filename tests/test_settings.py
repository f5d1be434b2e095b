"""Settings: environment over file over defaults, URL parsing, and the README table;
every bad value a SettingsError naming the variable, option or file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from aqm_core.settings import (
    MqttEndpoint,
    Settings,
    SettingsError,
    load_settings,
    redact,
    redact_in,
)

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [
        f"AQM_{n.upper()}" for n in Settings.model_fields if f"`AQM_{n.upper()}`" not in text
    ]
    assert not missing


def test_environment_overrides_file_overrides_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aqm.toml"
    config.write_text('batch_size = 123\ntimezone = "Asia/Bangkok"\n')
    monkeypatch.setenv("AQM_CONFIG", str(config))
    monkeypatch.setenv("AQM_BATCH_SIZE", "77")
    settings = load_settings()
    assert settings.batch_size == 77
    assert settings.timezone == "Asia/Bangkok"
    assert settings.hourly_min_completeness == 0.75


def test_mqtt_urls() -> None:
    tls = MqttEndpoint.parse("mqtts://aqm-ingest:p%40ss@broker.example:8883")
    assert (tls.host, tls.port, tls.tls, tls.username, tls.password) == (
        "broker.example",
        8883,
        True,
        "aqm-ingest",
        "p@ss",
    )
    plain = MqttEndpoint.parse("mqtt://localhost")
    assert (plain.port, plain.tls, plain.username) == (1883, False, None)
    with pytest.raises(SettingsError, match="mqtt:// or mqtts://"):
        load_settings(mqtt_url="http://localhost")


def test_past_horizon_is_bounded_by_name() -> None:
    # 20,000 days back reaches 1971: hours before the epoch would stop the AQI worker.
    with pytest.raises(SettingsError, match="past_horizon_days"):
        load_settings(past_horizon_days=20_000)
    assert load_settings(past_horizon_days=10_000).past_horizon_days == 10_000


@pytest.fixture
def no_config(no_aqm_settings: None) -> None:
    """No aqm.toml and no AQM_* variable but those a test sets."""


@pytest.mark.usefixtures("no_config")
def test_a_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AQM_PG_PORT", "abc")
    with pytest.raises(SettingsError, match=r"^AQM_PG_PORT: Input should be a valid integer"):
        load_settings()
    monkeypatch.setenv("AQM_PG_PORT", "70000")
    with pytest.raises(SettingsError, match=r"^AQM_PG_PORT: .*less than or equal to 65535"):
        load_settings()


@pytest.mark.usefixtures("no_config")
def test_a_bad_option_is_named_and_options_not_given_are_left_out() -> None:
    for port, limit in ((-1, "greater than or equal to 0"), (99_999_999, "less than or equal")):
        with pytest.raises(SettingsError, match=rf"^--metrics-port: Input should be {limit}"):
            load_settings(options={"metrics_port": ("--metrics-port", port)})
    settings = load_settings(options={"metrics_port": ("--metrics-port", None)})
    assert settings.metrics_port == 9108
    assert load_settings(options={"metrics_port": ("--metrics-port", 0)}).metrics_port == 0


@pytest.mark.usefixtures("no_config")
def test_a_bad_toml_value_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aqm.toml"
    config.write_text('# local settings\nbatch_size = 10\n\ntimezone = "Mars/Base"\n')
    monkeypatch.setenv("AQM_CONFIG", str(config))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"{config}:4: timezone: 'Mars/Base' is not an IANA time zone such as Asia/Ho_Chi_Minh"
    )
    # the variable wins over the file, so it is the one at fault
    monkeypatch.setenv("AQM_TIMEZONE", "Asia/Bangkok")
    assert load_settings().timezone == "Asia/Bangkok"


@pytest.mark.usefixtures("no_config")
def test_a_toml_file_that_does_not_parse_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("batch_size = 1\npg_port = \n")
    monkeypatch.setenv("AQM_CONFIG", str(config))
    with pytest.raises(SettingsError, match=rf"^{config}:2: not valid TOML: "):
        load_settings()
    config.write_bytes(b"province = '\xff'\n")
    with pytest.raises(SettingsError, match=rf"^{config}: not UTF-8 text"):
        load_settings()


@pytest.mark.usefixtures("no_config")
def test_aqm_config_must_name_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AQM_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(SettingsError, match=rf"^AQM_CONFIG={tmp_path}/absent.toml: no such file"):
        load_settings()
    monkeypatch.setenv("AQM_CONFIG", str(tmp_path))
    with pytest.raises(SettingsError, match=rf"^AQM_CONFIG={tmp_path}: is a folder"):
        load_settings()
    monkeypatch.setenv("AQM_CONFIG", "")  # empty: no file at all, not even ./aqm.toml
    monkeypatch.chdir(tmp_path)
    (tmp_path / "aqm.toml").write_text("batch_size = 9\n")
    assert load_settings().batch_size == 5000
    monkeypatch.delenv("AQM_CONFIG")
    assert load_settings().batch_size == 9


@pytest.mark.usefixtures("no_config")
@pytest.mark.parametrize("zone", ["Mars/Base", "", "Asia", "../etc/passwd", "/etc/localtime"])
def test_the_time_zone_must_load(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AQM_TIMEZONE", zone)
    with pytest.raises(SettingsError, match=r"^AQM_TIMEZONE: .* is not an IANA time zone"):
        load_settings()


@pytest.mark.usefixtures("no_config")
def test_zones_with_dst_load_here_and_the_worker_refuses_them() -> None:
    from worker.timeline import LocalCalendar

    # Settings only check that the zone exists; the worker's calendar refuses DST itself.
    assert load_settings(timezone="Europe/Paris").timezone == "Europe/Paris"
    with pytest.raises(ValueError, match="DST"):
        LocalCalendar.for_timezone("Europe/Paris")


@pytest.mark.usefixtures("no_config")
@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("aqm/#", "wildcard"),
        ("aqm/+", "wildcard"),
        ("aqm/+/x", "wildcard"),
        ("", "is empty"),
        ("aqm//x", "empty level"),
        ("/aqm", "starts or ends with '/'"),
        ("aqm/", "starts or ends with '/'"),
        ("$SYS/aqm", "starts with '\\$'"),
        ("aqm\0x", "NUL"),
    ],
)
def test_the_topic_prefix_is_a_plain_topic(
    prefix: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SettingsError, match=rf"^topic_prefix: topic prefix .*{problem}"):
        load_settings(topic_prefix=prefix)
    assert load_settings(topic_prefix="bn/aqm-v2/stations").topic_prefix == "bn/aqm-v2/stations"


@pytest.mark.usefixtures("no_config")
def test_a_database_url_libpq_cannot_parse_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SettingsError, match=r"^--database-url: 'bad url' is not a PostgreSQL URL"):
        load_settings(options={"database_url": ("--database-url", "bad url")})
    monkeypatch.setenv("AQM_DATABASE_URL", "postgresql://u:s3 cret@h/x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("AQM_DATABASE_URL: 'postgresql://u:***@h/x' is not")
    assert "s3 cret" not in str(caught.value)


@pytest.mark.usefixtures("no_config")
def test_a_bad_mqtt_url_is_named_without_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(options={"mqtt_url": ("--mqtt-url", "http://ingest:s3cret@broker")})
    assert str(caught.value) == (
        "--mqtt-url: MQTT URL 'http://ingest:***@broker' must start with mqtt:// or mqtts://"
    )


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:s3cret@127.0.0.1:1/x", "postgresql://u:***@127.0.0.1:1/x"),
        ("postgresql://u@h/x", "postgresql://u@h/x"),
        ("postgresql://h:5432/x", "postgresql://h:5432/x"),
        ("postgresql://u:p@ss/w@h/x?sslmode=require", "postgresql://u:***@h/x?sslmode=require"),
        ("postgresql://u@h/x?password=s3cret&sslmode=require",
         "postgresql://u@h/x?password=***&sslmode=require"),
        ("host=h user=u password=s3cret dbname=x", "host=h user=u password=*** dbname=x"),
        ("host=h password='s3 cret' dbname=x", "host=h password=*** dbname=x"),
    ],
)
def test_redact_masks_every_spelling_of_a_password(url: str, masked: str) -> None:
    assert redact(url) == masked


def test_redact_in_masks_what_a_driver_quotes() -> None:
    url = "postgres://u:s3 cret@h/x"
    message = 'unexpected spaces found in "s3 cret" of postgres://u:s3 cret@h/x'
    assert redact_in(message, url) == 'unexpected spaces found in "***" of postgres://u:***@h/x'


@pytest.mark.parametrize("group", ["a/b", "ingest+", "#", ""])
def test_shared_group_must_be_an_mqtt_share_name(group: str) -> None:
    # MQTT 5 §4.8.2: no "/", "+" or "#"; "$share//…" or "$share/a/b/…" subscribes elsewhere.
    with pytest.raises(SettingsError, match=r"^mqtt_shared_group: shared group"):
        load_settings(mqtt_shared_group=group)
    assert load_settings(mqtt_shared_group="aqm-ingest").mqtt_shared_group == "aqm-ingest"


@pytest.mark.usefixtures("no_config")
def test_the_default_database_url_is_one_libpq_parses() -> None:
    """The default skips the check at load (so commands without a database start fast)."""
    from psycopg.conninfo import conninfo_to_dict

    from aqm_core.settings import DEFAULT_DATABASE_URL

    assert conninfo_to_dict(DEFAULT_DATABASE_URL) == {
        "host": "127.0.0.1", "port": "55432", "user": "postgres", "dbname": "aqm",
    }  # fmt: skip
