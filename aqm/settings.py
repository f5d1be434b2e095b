"""Settings for every aqm process, from ``AQM_*`` environment variables and a TOML file.

Precedence (highest first): explicit arguments, environment variables, the file named by
``AQM_CONFIG`` (default ``aqm.toml`` in the working directory, if present), defaults.
The defaults point at the private services that ``make run`` starts under ``.aqm/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_PORT = 55432
DEFAULT_MQTT_PORT = 51883


class MqttEndpoint(BaseModel):
    """A broker address parsed from ``mqtt://user:pass@host:port`` or ``mqtts://…``."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts"}:
            raise ValueError(f"MQTT URL {url!r} must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} has no host")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def _config_file() -> Path:
    return Path(os.environ.get("AQM_CONFIG", "aqm.toml"))


class Settings(BaseSettings):
    """Every setting aqm reads; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="AQM_", extra="ignore")

    database_url: str = Field(
        default=f"postgresql://postgres@127.0.0.1:{DEFAULT_PG_PORT}/aqm",
        description="PostgreSQL/TimescaleDB connection URL",
    )
    mqtt_url: str = Field(
        default=f"mqtt://127.0.0.1:{DEFAULT_MQTT_PORT}",
        description="Broker URL, mqtt://user:pass@host:port or mqtts:// for TLS",
    )
    mqtt_ca_file: Path | None = Field(default=None, description="CA certificate for mqtts://")
    mqtt_protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT protocol version")
    mqtt_client_id: str = Field(
        default="aqm-ingest", description="Fixed client id (persistent session)"
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=0, description="MQTT 5 session expiry"
    )
    mqtt_shared_group: str | None = Field(
        default=None, description="Subscribe as $share/<group>/… so instances split the load"
    )
    topic_prefix: str = Field(
        default="aqm/v1/stations", description="Topic prefix before <station>/readings"
    )
    stations_file: Path = Field(
        default=REPO_ROOT / "stations" / "catalogue.example.yaml",
        description="Station catalogue (YAML)",
    )
    province: str = Field(default="Bắc Ninh", description="Province named in reports")
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh", description="Local time zone of days and reports"
    )
    data_dir: Path = Field(
        default=REPO_ROOT / ".aqm", description="Private data folder for local services"
    )
    pg_port: int = Field(
        default=DEFAULT_PG_PORT, description="Port of the local PostgreSQL (make run)"
    )
    mqtt_port: int = Field(
        default=DEFAULT_MQTT_PORT, description="Port of the local Mosquitto (make run)"
    )
    batch_size: int = Field(default=5000, gt=0, description="Readings per database batch")
    batch_max_age_ms: int = Field(
        default=200, gt=0, description="Oldest reading waits at most this long"
    )
    max_unacked: int = Field(
        default=50_000,
        gt=0,
        description="MQTT 5 ReceiveMaximum: unacked messages the broker may send (bounds memory)",
    )
    max_unacked_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Payload bytes held unacked before ingest stops reading the socket",
    )
    future_tolerance_s: int = Field(
        default=300, ge=0, description="Readings this far in the future pass"
    )
    past_horizon_days: int = Field(
        default=400,
        gt=0,
        # Older readings would predate 1999 and the epoch arithmetic of the hourly plan.
        le=10_000,
        description="Readings older than this are rejected (at most 10,000 days)",
    )
    max_payload_bytes: int = Field(
        default=1_048_576, gt=0, description="Larger payloads are rejected"
    )
    hourly_min_completeness: float = Field(
        default=0.75, gt=0, le=1, description="Share of expected samples an hourly mean needs"
    )
    metrics_port: int = Field(
        default=9108, ge=0, description="Prometheus metrics and /healthz (0: off)"
    )
    worker_poll_s: float = Field(default=1.0, gt=0, description="AQI worker idle poll interval")
    worker_batch_hours: int = Field(
        default=2000, gt=0, description="Dirty station-hours per worker claim"
    )

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        MqttEndpoint.parse(value)
        return value

    @property
    def mqtt(self) -> MqttEndpoint:
        return MqttEndpoint.parse(self.mqtt_url)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml, file_secret_settings)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and the config file, with explicit overrides."""
    return Settings(**overrides)  # type: ignore[arg-type]
