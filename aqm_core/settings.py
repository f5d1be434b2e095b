"""Settings for every aqm process, from ``AQM_*`` environment variables and a TOML file.

Precedence (highest first): explicit arguments, environment variables, the file named by
``AQM_CONFIG`` (default ``aqm.toml`` in the working directory, if present), defaults.
The defaults point at the private services that ``make run`` starts under ``.aqm/``.

:func:`load_settings` is the one place settings are read: whatever is wrong (a value, a
TOML file that does not parse, an ``AQM_CONFIG`` naming no file) becomes a
:class:`SettingsError` naming the variable, the command-line option or the file and line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from aqm_core.defaults import (
    DEFAULT_AMQP_PORT,
    DEFAULT_BROKER_AUTH_PORT,
    DEFAULT_FTP_PORT,
    DEFAULT_METRICS_PORT,
    DEFAULT_MQTT_PORT,
    DEFAULT_PG_PORT,
    DEFAULT_TIMEZONE,
    MAX_PORT,
)
from aqm_core.errors import AqmError

REPO_ROOT = Path(__file__).resolve().parent.parent
# The production broker's message_size_limit (provisioning/mosquitto/mosquitto.conf):
# larger messages never reach ingest, so AQM_MAX_PAYLOAD_BYTES stays below it.
BROKER_MESSAGE_SIZE_LIMIT = 16 * 1024 * 1024
DEFAULT_INGEST_CLIENT_ID = "aqm-ingest"
DEFAULT_DATABASE_URL = f"postgresql://postgres@127.0.0.1:{DEFAULT_PG_PORT}/aqm"
# Database roles whose passwords ``aqm db migrate`` sets, and the setting holding each.
ROLE_PASSWORD_SETTINGS = {
    "aqm_ingest": "ingest_password",
    "aqm_worker": "worker_password",
    "aqm_reader": "reader_password",
    "aqm_forward": "forward_password",
    "aqm_validator": "validator_password",
}


class SettingsError(AqmError, ValueError):
    """Settings cannot be used; the message names the variable, option or file:line at fault."""


# key=value connection strings and URL query parameters: password=secret or password='a b'
_PASSWORD_PARAMETER = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&']*)", re.I)


def _password_spans(url: str) -> list[tuple[int, int]]:
    """Where passwords sit in a URL or connection string (start, end), in order."""
    spans = [m.span(2) for m in _PASSWORD_PARAMETER.finditer(url) if m.group(2)]
    scheme_end = url.find("://")
    if scheme_end >= 0:
        start = scheme_end + 3
        # The user info ends at the last "@" of the part before any query or fragment,
        # whatever a careless password holds ("/", "@"): masking too much beats leaking.
        end = min(
            (i for i in (url.find("?", start), url.find("#", start)) if i >= 0), default=len(url)
        )
        at = url.rfind("@", start, end)
        colon = url.find(":", start, at) if at >= 0 else -1
        if colon >= 0:
            spans.append((colon + 1, at))
    return sorted(spans)


def redact(url: str) -> str:
    """The URL (or key=value connection string) without its password, for messages."""
    masked, last = [], 0
    for start, end in _password_spans(url):
        if start < last:
            continue
        masked += [url[last:start], "***"]
        last = end
    return "".join(masked) + url[last:]


def redact_in(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error about ``url``) with the password of ``url`` masked.

    Drivers quote pieces of a URL they cannot parse, password included.
    """
    text = text.replace(url, redact(url))
    secrets = {url[a:b] for a, b in _password_spans(url)}
    secrets |= {unquote(s) for s in secrets}
    for secret in sorted(secrets - {""}, key=len, reverse=True):
        # A very short password would mask unrelated letters; mask it where quoted.
        quoted = f"(?<=[\"']){re.escape(secret)}(?=[\"'])"
        pattern = re.escape(secret) if len(secret) >= 4 else quoted
        text = re.sub(pattern, "***", text)
    return text


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
            raise ValueError(f"MQTT URL {redact(url)!r} must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"MQTT URL {redact(url)!r} has no host")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


CONFIG_VARIABLE = "AQM_CONFIG"
DEFAULT_CONFIG_FILE = Path("aqm.toml")


def config_file() -> Path | None:
    """The TOML file settings come from: the one ``AQM_CONFIG`` names, which must exist
    (an empty ``AQM_CONFIG`` means none), else ``aqm.toml`` in the working directory if
    there is one."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named is None:
        return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None
    if not named:
        return None
    path = Path(named).expanduser()
    if path.is_dir():
        raise SettingsError(f"{CONFIG_VARIABLE}={path}: is a folder, not a TOML file")
    if not path.is_file():
        raise SettingsError(
            f"{CONFIG_VARIABLE}={path}: no such file (leave {CONFIG_VARIABLE} "
            "empty to read no file)"
        )
    return path


class Settings(BaseSettings):
    """Every setting aqm reads; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="AQM_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="PostgreSQL/TimescaleDB connection URL",
    )
    mqtt_url: str = Field(
        default=f"mqtt://127.0.0.1:{DEFAULT_MQTT_PORT}",
        description="Broker URL, mqtt://user:pass@host:port or mqtts:// for TLS",
    )
    mqtt_ca_file: Path | None = Field(default=None, description="CA certificate for mqtts://")
    mqtt_protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT protocol version")
    mqtt_client_id: str = Field(
        default="",
        validate_default=True,
        description="Fixed client id (persistent session); the broker user when there is one",
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=0, description="MQTT 5 session expiry"
    )
    mqtt_shared_group: str | None = Field(
        default=None, description="Subscribe as $share/<group>/… so instances split the load"
    )
    broker: Literal["mosquitto", "rabbitmq"] = Field(
        default="mosquitto",
        description="Where ingest reads: MQTT from Mosquitto, or AMQP from a RabbitMQ quorum queue",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ AMQP URL; several separated by ',' (cluster nodes, tried in turn)",
    )
    amqp_queue: str = Field(
        default="aqm.readings",
        min_length=1,
        max_length=255,
        description="Quorum queue bound to amq.topic for every station's readings",
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
        default=DEFAULT_TIMEZONE, description="Local time zone of days and reports"
    )
    report_parent_agency: str = Field(
        default="", description="Annual report: the issuing agency's parent (Decree 30 header)"
    )
    report_agency: str = Field(
        default="", description="Annual report: issuing agency (e.g. SỞ NÔNG NGHIỆP VÀ MÔI TRƯỜNG)"
    )
    report_number: str = Field(
        default="", description="Annual report: number and symbol (e.g. 15/BC-SNNMT)"
    )
    report_place: str = Field(default="", description="Annual report: place in the date line")
    report_signer_title: str = Field(
        default="", description="Annual report: signer's title (e.g. KT. GIÁM ĐỐC / PHÓ GIÁM ĐỐC)"
    )
    report_signer_name: str = Field(default="", description="Annual report: signer's name")
    report_recipients: str = Field(
        default="", description="Annual report: Nơi nhận, separated by ';'"
    )
    data_dir: Path = Field(
        default=REPO_ROOT / ".aqm", description="Private data folder for local services"
    )
    pg_port: int = Field(
        default=DEFAULT_PG_PORT, ge=1, le=MAX_PORT,
        description="Port of the local PostgreSQL (make run)",
    )  # fmt: skip
    mqtt_port: int = Field(
        default=DEFAULT_MQTT_PORT, ge=1, le=MAX_PORT,
        description="Port of the local Mosquitto (make run)",
    )  # fmt: skip
    amqp_port: int = Field(
        default=DEFAULT_AMQP_PORT, ge=1, le=MAX_PORT,
        description="AMQP port of the local RabbitMQ (make run with AQM_BROKER=rabbitmq)",
    )  # fmt: skip
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
        default=1_048_576,
        gt=0,
        lt=BROKER_MESSAGE_SIZE_LIMIT,
        description="Larger payloads are rejected (below the broker's message_size_limit)",
    )
    health_max_unacked_age_s: float = Field(
        default=60.0,
        gt=0,
        description="Ingest reports unhealthy when a message waits longer than this for its commit",
    )
    hourly_min_completeness: float = Field(
        default=0.75, gt=0, le=1, description="Share of expected samples an hourly mean needs"
    )
    metrics_port: int = Field(
        default=DEFAULT_METRICS_PORT,
        ge=0,
        le=MAX_PORT,
        description="Prometheus metrics and /healthz (0: off)",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address /metrics and /healthz listen on (0.0.0.0: every interface)",
    )
    worker_poll_s: float = Field(default=1.0, gt=0, description="AQI worker idle poll interval")
    worker_batch_hours: int = Field(
        default=2000, gt=0, description="Dirty station-hours per worker claim"
    )
    worker_metrics_port: int = Field(
        default=0, ge=0, le=MAX_PORT,
        description="/metrics of the AQI worker: missing samples per station (0: off)",
    )  # fmt: skip
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the AQI worker's /metrics listens on"
    )
    ftp_host: str = Field(default="127.0.0.1", description="Address aqm ftp listens on")
    ftp_port: int = Field(
        default=DEFAULT_FTP_PORT, ge=1, le=MAX_PORT, description="FTP control port of aqm ftp"
    )
    ftp_passive_ports: str = Field(
        default="52200-52299", description="Passive data ports, FIRST-LAST"
    )
    ftp_masquerade_address: str | None = Field(
        default=None, description="Address announced for passive data connections (NAT)"
    )
    ftp_tls_cert: Path | None = Field(
        default=None, description="PEM certificate: offer explicit TLS (FTPS, AUTH TLS)"
    )
    ftp_tls_key: Path | None = Field(
        default=None, description="PEM private key of ftp_tls_cert (if not in the same file)"
    )
    ftp_tls_required: bool = Field(
        default=False, description="Refuse logins and transfers without TLS"
    )
    ftp_dir: Path = Field(
        default=REPO_ROOT / ".aqm" / "ftp", description="Upload, incoming and archive folders"
    )
    ftp_accounts_file: Path = Field(
        default=REPO_ROOT / ".aqm" / "run" / "secrets" / "ftp-users",
        description="FTP accounts (station:hash), written by aqm stations credentials",
    )
    ftp_archive_days: int = Field(
        default=60, ge=0, description="Days stored files stay in the archive (0: delete)"
    )
    ftp_max_file_bytes: int = Field(
        default=1_048_576, gt=0, description="Larger uploads are cut off (552)"
    )
    ftp_spool_settle_s: float = Field(
        default=10.0, gt=0, description="Spool mode: a file unchanged this long is complete"
    )
    ftp_metrics_port: int = Field(
        default=9110, ge=0, le=MAX_PORT, description="Prometheus metrics of aqm ftp (0: off)"
    )
    datalogger_password: str | None = Field(
        default=None, description="aqm ftp deliver: the simulated datalogger's FTP password"
    )
    forward_config: Path | None = Field(
        default=None, description="Destinations of aqm forward (TOML)"
    )
    forward_metrics_port: int = Field(
        default=9111, ge=0, le=MAX_PORT, description="Prometheus metrics of aqm forward (0: off)"
    )
    pg_bindir: Path | None = Field(
        default=None,
        description="Folder of initdb and pg_ctl for the local PostgreSQL (default: the newest "
        "under /usr/lib/postgresql)",
    )
    ingest_password: str | None = Field(
        default=None, description="aqm db migrate sets the aqm_ingest role's password to this"
    )
    worker_password: str | None = Field(
        default=None, description="aqm db migrate sets the aqm_worker role's password to this"
    )
    reader_password: str | None = Field(
        default=None, description="aqm db migrate sets the aqm_reader role's password to this"
    )
    forward_password: str | None = Field(
        default=None, description="aqm db migrate sets the aqm_forward role's password to this"
    )
    validator_password: str | None = Field(
        default=None, description="aqm db migrate sets the aqm_validator role's password to this"
    )
    qc_rules_file: Path = Field(
        default=REPO_ROOT / "qaqc" / "rules.toml",
        description="Automatic QA/QC rules (TOML, versioned; docs/qaqc.md)",
    )
    web_host: str = Field(
        default="127.0.0.1", min_length=1, description="Address aqm web listens on"
    )
    web_port: int = Field(
        default=8080, ge=1, le=MAX_PORT, description="Port of aqm web (the public page and API)"
    )
    web_database_url: str | None = Field(
        default=None,
        description="aqm web's database URL, as aqm_reader (default: AQM_DATABASE_URL's server "
        "as the aqm_reader user)",
    )
    web_workers: int = Field(
        default=1, ge=1, le=32,
        description="Server processes of aqm web (each with its own pool, cache and rate limits)",
    )  # fmt: skip
    web_pool_size: int = Field(
        default=8, ge=1, le=100, description="Database connections of aqm web at most"
    )
    web_cache_s: float = Field(
        default=60.0, ge=0, le=3600, description="Seconds aqm web keeps a JSON document"
    )
    web_rate_per_minute: int = Field(
        default=240, ge=1, description="Requests a client may make per minute (burst: the same)"
    )
    web_request_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="A request running longer is answered 503"
    )
    web_forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For names the client (comma-separated; *: any)",
    )
    web_source: str = Field(
        default="",
        description="Data source named on the public page (default: the province's network)",
    )
    web_map_file: Path | None = Field(
        default=None,
        description="GeoJSON province outline for the page (default: the bundled outline)",
    )
    opendata_dir: Path = Field(
        default=REPO_ROOT / ".aqm" / "opendata",
        description="Bulk open data files (CSV, Parquet, index.json), served at /data/",
    )
    opendata_interval_s: float = Field(
        default=3600.0,
        ge=0,
        description="aqm worker rewrites a changed open-data file at most this often (0: never)",
    )
    opendata_publisher: str = Field(
        default="",
        description="Agency named in the open data's attribution (default: the province's "
        "Department of Agriculture and Environment)",
    )
    broker_auth_host: str = Field(
        default="127.0.0.1", min_length=1,
        description="Address aqm broker-auth listens on (RabbitMQ's HTTP authentication)",
    )  # fmt: skip
    broker_auth_port: int = Field(
        default=DEFAULT_BROKER_AUTH_PORT, ge=1, le=MAX_PORT, description="Port of aqm broker-auth"
    )
    broker_auth_definitions_file: Path = Field(
        default=REPO_ROOT / ".aqm" / "run" / "secrets" / "rabbitmq-definitions.json",
        description="RabbitMQ definitions whose password hashes aqm broker-auth checks",
    )

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        MqttEndpoint.parse(value)
        return value

    @field_validator("mqtt_client_id")
    @classmethod
    def _check_client_id(cls, value: str, info: ValidationInfo) -> str:
        # The production broker takes the login as client id (use_username_as_clientid):
        # a different client id would be ignored there, and two instances sharing a user
        # would share one session. So the user is the client id; each instance has its own.
        url = info.data.get("mqtt_url")
        user = MqttEndpoint.parse(url).username if isinstance(url, str) else None
        if not value:
            return user or DEFAULT_INGEST_CLIENT_ID
        if user is not None and value != user:
            raise ValueError(
                f"client id {value!r} differs from the broker user {user!r} of AQM_MQTT_URL; "
                "the broker uses the user as client id: leave the client id unset and give "
                "each ingest instance its own broker user"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value == DEFAULT_DATABASE_URL:
            return value  # valid (a test checks it); commands without a database start faster
        # psycopg.connect parses with the same function; a bad URL fails here, named.
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(value)
        except psycopg.ProgrammingError as exc:
            reason = redact_in(str(exc).strip(), value)
            raise ValueError(f"{redact(value)!r} is not a PostgreSQL URL: {reason}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError, OSError):  # not found, malformed key, a tz folder
            raise ValueError(
                f"{value!r} is not an IANA time zone such as Asia/Ho_Chi_Minh"
            ) from None
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _check_topic_prefix(cls, value: str) -> str:
        # The prefix is written into ACL lines and published to: a wildcard there would
        # grant or publish on every matching topic, and "$" topics belong to the broker.
        problem = (
            "is empty" if not value
            else "contains the MQTT wildcard '#' or '+'" if "#" in value or "+" in value
            else "contains a NUL character" if "\0" in value
            else "starts with '$' (reserved for the broker's topics)" if value.startswith("$")
            else "starts or ends with '/'" if value.startswith("/") or value.endswith("/")
            else "has an empty level ('//')" if "//" in value
            else None
        )  # fmt: skip
        if problem:
            raise ValueError(
                f"topic prefix {value!r} {problem}; expected levels like aqm/v1/stations"
            )
        return value

    @field_validator("mqtt_shared_group")
    @classmethod
    def _check_shared_group(cls, value: str | None) -> str | None:
        # MQTT 5 §4.8.2: a ShareName is at least one character and contains no "/", "+"
        # or "#"; otherwise $share/<group>/… is not a shared subscription at all.
        if value is not None and (not value or any(c in value for c in "/+#\0")):
            raise ValueError(
                f"shared group {value!r} must be a non-empty name without '/', '+' or '#'"
            )
        return value

    @field_validator("ftp_passive_ports")
    @classmethod
    def _check_passive_ports(cls, value: str) -> str:
        first, sep, last = value.partition("-")
        if not (first.strip().isdigit() and (not sep or last.strip().isdigit())):
            raise ValueError(f"{value!r} is not a port range such as 52200-52299")
        low, high = int(first), int(last if sep else first)
        if not 1 <= low <= high <= MAX_PORT:
            raise ValueError(f"{value!r}: ports must be 1…{MAX_PORT}, the first not above the last")
        return value

    @property
    def mqtt(self) -> MqttEndpoint:
        return MqttEndpoint.parse(self.mqtt_url)

    @property
    def role_passwords(self) -> dict[str, str | None]:
        """Database role → the password ``aqm db migrate`` sets (``None``: left as it is)."""
        return {role: getattr(self, field) for role, field in ROLE_PASSWORD_SETTINGS.items()}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml, file_secret_settings)


def load_settings(
    *, options: Mapping[str, tuple[str, object | None]] | None = None, **overrides: object
) -> Settings:
    """Read settings from the environment and the config file, with explicit overrides.

    ``options`` maps a field to the command-line option that sets it and the value given
    (``{"metrics_port": ("--metrics-port", 8000)}``); ``None`` (not given) is left out.
    Raises :class:`SettingsError`, naming the option, the ``AQM_*`` variable or the
    TOML file and line of each bad value.
    """
    named = {field: option for field, (option, value) in (options or {}).items()
             if value is not None}  # fmt: skip
    given = {field: value for field, (_, value) in (options or {}).items() if value is not None}
    given |= overrides
    path = config_file()
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [_describe(error, named, path) for error in exc.errors()]
        raise SettingsError("; ".join(problems)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(_toml_error(path, exc)) from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SettingsError(f"{exc.filename or path}: cannot read: {exc.strerror}") from None


def _toml_error(path: Path | None, exc: tomllib.TOMLDecodeError) -> str:
    """``file:line: message`` from tomllib's "message (at line L, column C)"."""
    text = str(exc)
    where = re.search(r"\s*\(at line (\d+), column \d+\)$", text)
    if where is None:
        return f"{path}: not valid TOML: {text}"
    return f"{path}:{where[1]}: not valid TOML: {text[: where.start()]}"


def _describe(error: Mapping[str, object], options: Mapping[str, str], path: Path | None) -> str:
    """One validation error as ``<where>: <message>``; where the value came from first."""
    loc = error.get("loc")
    field = str(loc[0]) if isinstance(loc, tuple) and loc else ""
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    variable = f"AQM_{field.upper()}"
    if field in options:
        where = options[field]
    elif given_variable := next((k for k in os.environ if k.upper() == variable), None):
        where = given_variable
    elif path is not None and (line := _toml_line(path, field)) is not None:
        where = f"{path}:{line}: {field}"
    else:
        where = field or "settings"
    return f"{where}: {message}"


def _toml_line(path: Path, key: str) -> int | None:
    """The line of ``path`` that sets the top-level ``key``, if one does."""
    name = re.escape(key)
    assignment = re.compile(rf"""^\s*(?:{name}|"{name}"|'{name}')\s*=""")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("["):
            return None  # a table: keys below are not settings
        if assignment.match(line):
            return number
    return None
