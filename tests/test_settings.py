"""Settings: environment over file over defaults, URL parsing, and the README table."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from aqm.settings import MqttEndpoint, Settings, load_settings

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
    with pytest.raises(ValidationError, match="mqtt:// or mqtts://"):
        load_settings(mqtt_url="http://localhost")


def test_past_horizon_is_bounded_by_name() -> None:
    # 20,000 days back reaches 1971: hours before the epoch would stop the AQI worker.
    with pytest.raises(ValidationError, match="past_horizon_days"):
        load_settings(past_horizon_days=20_000)
    assert load_settings(past_horizon_days=10_000).past_horizon_days == 10_000
