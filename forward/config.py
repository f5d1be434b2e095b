"""Destinations of ``aqm forward``, from a TOML file (``AQM_FORWARD_CONFIG``)::

    [[destination]]
    name = "bo-tnmt"                      # names the destination in the delivery log
    host = "ftp.example.gov.vn"
    port = 21
    tls = true                            # explicit TLS (AUTH TLS), data protected
    ca_file = "/etc/aqm/ministry-ca.pem"  # optional; default: the system's CAs
    user = "sotnmt-bacninh"
    password_env = "FORWARD_BO_TNMT_PASSWORD"   # or password_file = "/run/secrets/bo"
    province = "BN"                       # the Circular's <Province> and <Facility>
    facility = "SOTNMT"
    remote_path = "{station}/{yyyy}/{MM}/{dd}"
    file_name = "{province}_{facility}_{station}_{stamp}.txt"
    stations = ["BN-01", "BN-02"]         # optional; default: every station
    backfill_hours = 0                    # at first start, forward this far back

Passwords never sit in the file itself. Every fault names the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aqm_core.errors import AqmError
from ingest.files.naming import DEFAULT_FILE_TEMPLATE, DEFAULT_PATH_TEMPLATE, expand

KNOWN_KEYS = {
    "name", "host", "port", "tls", "ca_file", "user", "password_env", "password_file",
    "province", "facility", "remote_path", "file_name", "stations", "backfill_hours",
    "timeout_s", "max_attempts", "max_backoff_s", "settle_s",
}  # fmt: skip


class ForwardConfigError(AqmError, ValueError):
    """The destinations file cannot be used; names the file and key."""


@dataclass(frozen=True)
class Destination:
    name: str
    host: str
    port: int = 21
    tls: bool = False
    ca_file: Path | None = None
    user: str = "anonymous"
    password: str = field(default="", repr=False)
    province: str = "BN"
    facility: str = "SOTNMT"
    remote_path: str = DEFAULT_PATH_TEMPLATE
    file_name: str = DEFAULT_FILE_TEMPLATE
    stations: frozenset[str] | None = None
    backfill_hours: float = 0.0
    timeout_s: float = 30.0
    max_attempts: int = 20  # a file the server refuses permanently (5xx) this often is given up
    max_backoff_s: float = 300.0
    settle_s: float = 20.0  # a reading group is built into a file once this old

    def wants(self, station: str) -> bool:
        return self.stations is None or station in self.stations


def load_destinations(path: Path, environ: dict[str, str] | None = None) -> list[Destination]:
    env = dict(os.environ) if environ is None else environ
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ForwardConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ForwardConfigError(f"{path}: not valid TOML: {exc}") from None
    items = document.get("destination")
    if not isinstance(items, list) or not items:
        raise ForwardConfigError(f"{path}: no [[destination]] table")
    destinations: list[Destination] = []
    for number, item in enumerate(items, start=1):
        destinations.append(_destination(path, number, item, env))
    names = [d.name for d in destinations]
    if len(set(names)) != len(names):
        raise ForwardConfigError(f"{path}: destination names must differ: {names}")
    return destinations


def _destination(path: Path, number: int, item: dict[str, Any], env: dict[str, str]) -> Destination:
    where = f"{path}: destination {number}"
    unknown = sorted(set(item) - KNOWN_KEYS)
    if unknown:
        raise ForwardConfigError(f"{where}: unknown key {unknown[0]!r}")
    for key in ("name", "host"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise ForwardConfigError(f"{where}: {key} must be a non-empty string")
    where = f"{path}: destination {item['name']!r}"
    password = ""
    if "password_env" in item and "password_file" in item:
        raise ForwardConfigError(f"{where}: give password_env or password_file, not both")
    if "password_env" in item:
        variable = str(item["password_env"])
        if variable not in env:
            raise ForwardConfigError(f"{where}: password_env: {variable} is not set")
        password = env[variable]
    elif "password_file" in item:
        secret = Path(str(item["password_file"]))
        try:
            password = secret.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ForwardConfigError(f"{where}: password_file {secret}: {exc.strerror}") from None
    values: dict[str, Any] = {k: v for k, v in item.items()
                              if k not in {"password_env", "password_file"}}  # fmt: skip
    if "ca_file" in values:
        values["ca_file"] = Path(str(values["ca_file"]))
    if "stations" in values:
        stations = values["stations"]
        if not isinstance(stations, list) or not all(isinstance(s, str) for s in stations):
            raise ForwardConfigError(f"{where}: stations must be a list of station ids")
        values["stations"] = frozenset(stations)
    port = values.get("port", 21)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ForwardConfigError(f"{where}: port must be 1…65535")
    for key in ("remote_path", "file_name"):
        template = values.get(key)
        if template is None:
            continue
        try:
            expand(
                str(template),
                province="P",
                facility="F",
                station="S",
                measured_at=datetime(2025, 1, 1, tzinfo=UTC),
                local_tz=UTC,
            )
        except (KeyError, ValueError, IndexError) as exc:
            raise ForwardConfigError(
                f"{where}: {key} {template!r}: unknown field {exc}; use {{province}}, "
                "{facility}, {station}, {yyyy}, {MM}, {dd}, {HH}, {mm}, {ss}, {stamp}"
            ) from None
    try:
        return Destination(password=password, **values)
    except TypeError as exc:
        raise ForwardConfigError(f"{where}: {exc}") from None
