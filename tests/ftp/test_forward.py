"""``aqm forward`` between real servers: ``aqm ftp`` receiving, a second pyftpdlib server
playing the Ministry, and the delivery log in TimescaleDB."""

from __future__ import annotations

import ftplib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.ftp.conftest import count, rows
from tests.ftp_servers import (
    ICT,
    PASSWORDS,
    REPO,
    AqmFtp,
    MinistryServer,
    as_role,
    tt10_name,
    tt10_text,
    wait_for,
)


class Forward:
    def __init__(self, root: Path, database_url: str, ministry: MinistryServer) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "forward.toml"
        self.config.write_text(f"""
[[destination]]
name = "bo-tnmt"
host = "127.0.0.1"
port = {ministry.port}
user = "{ministry.user}"
password_env = "TEST_MINISTRY_PASSWORD"
province = "BN"
facility = "SOTNMT"
remote_path = "{{station}}/{{yyyy}}/{{MM}}/{{dd}}"
file_name = "{{province}}_{{facility}}_{{station}}_{{stamp}}.txt"
backfill_hours = 6
settle_s = 1
max_backoff_s = 2
timeout_s = 5
""")
        self.log = root / "forward.log"
        self.env = dict(
            os.environ,
            AQM_CONFIG="",
            AQM_FORWARD_CONFIG=str(self.config),
            AQM_DATABASE_URL=as_role(database_url, "aqm_forward"),
            AQM_FORWARD_METRICS_PORT="0",
            AQM_TIMEZONE="Asia/Ho_Chi_Minh",
            TEST_MINISTRY_PASSWORD=ministry.password,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Forward:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "aqm", "forward"],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=out,
            )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def ministry(tmp_path: Path) -> Iterator[MinistryServer]:
    server = MinistryServer(tmp_path / "ministry").start()
    try:
        yield server
    finally:
        server.stop()


def _upload(server: AqmFtp, station: str, name: str, content: bytes) -> None:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", server.port, timeout=10)
        ftp.login(station, PASSWORDS[station])
        ftp.storbinary(f"STOR {name}", io.BytesIO(content))


def _mqtt_readings(url: str, station: str, times: list[datetime]) -> None:
    """Readings as MQTT ingest stores them (aqm JSON), for the file-building path."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
            " original_unit, status, source_format, received_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, 'aqm_json', now())",
            [
                (station, p, ts, v, v, u, st)
                for ts in times
                for p, v, u, st in (("pm25", 41.5, "µg/m³", "00"), ("co", 1250.0, "µg/m³", "01"))
            ],
        )


def _start_of(n: int) -> list[datetime]:
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    return [base + timedelta(minutes=5 * i) for i in range(n)]


def test_ftp_files_as_received_and_mqtt_readings_as_circular_files(
    tmp_path: Path, ftp_db: str, aqm_ftp: AqmFtp, ministry: MinistryServer
) -> None:
    times = _start_of(6)
    sent = {}
    for ts in times:
        name = tt10_name("BN-01", ts)
        sent[name] = tt10_text(ts, {"PM2,5": ("20,5", "ug/m3"), "PM10": ("40", "ug/m3")})
        _upload(aqm_ftp, "BN-01", name, sent[name])
    _mqtt_readings(ftp_db, "BN-02", times[:3])
    forward = Forward(tmp_path / "fwd", ftp_db, ministry).start()
    try:
        wait_for(
            lambda: (
                count(
                    ftp_db, "SELECT count(*) FROM forward_deliveries WHERE delivered_at IS NOT NULL"
                )
                == 9
            ),
            60,
        )
    finally:
        forward.stop()
    for name, content in sent.items():
        ts = next(t for t in times if tt10_name("BN-01", t) == name)
        folder = ts.astimezone(ICT).strftime("BN-01/%Y/%m/%d")
        assert (ministry.home / folder / name).read_bytes() == content  # as received
    ts = times[0]
    local = ts.astimezone(ICT)
    built = (
        ministry.home
        / local.strftime("BN-02/%Y/%m/%d")
        / (f"BN_SOTNMT_BN-02_{local:%Y%m%d%H%M%S}.txt")
    )
    stamp = f"{local:%Y%m%d%H%M%S}"
    # µg/m³ as stored; CO in mg/m³ as dataloggers write it; status codes kept
    assert (
        built.read_bytes()
        == (f"PM2,5\t41.5\tug/m3\t{stamp}\t00\r\nCO\t1.25\tmg/m3\t{stamp}\t01\r\n").encode()
    )
    log = rows(
        ftp_db, "SELECT attempts, first_error, delivered_at - available_at FROM forward_deliveries"
    )
    assert all(a == 1 and e is None and d < timedelta(minutes=5) for a, e, d in log)
    assert len(ministry.received) == 9
    # the answer to "where is this file?"
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "aqm",
            "forward",
            "log",
            "--station",
            "BN-01",
            "--database-url",
            ftp_db,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
        env=dict(os.environ, AQM_CONFIG="", COLUMNS="250"),
    ).stdout
    first = tt10_name("BN-01", times[0])
    assert first in shown and "6 deliveries" in shown and "pending" not in shown


def test_a_destination_down_then_back_gets_every_file_once_in_time_order(
    tmp_path: Path, ftp_db: str, aqm_ftp: AqmFtp, ministry: MinistryServer
) -> None:
    ministry.stop()
    forward = Forward(tmp_path / "fwd", ftp_db, ministry).start()
    times = _start_of(12)
    try:
        for ts in reversed(times):  # a datalogger draining its buffer arrives out of order
            _upload(
                aqm_ftp, "BN-03", tt10_name("BN-03", ts), tt10_text(ts, {"PM10": ("40", "ug/m3")})
            )
        wait_for(lambda: count(ftp_db, "SELECT count(*) FROM forward_deliveries") == 12, 60)
        wait_for(lambda: count(ftp_db, "SELECT max(attempts) FROM forward_deliveries") >= 3, 60)
        assert (
            count(ftp_db, "SELECT count(*) FROM forward_deliveries WHERE delivered_at IS NOT NULL")
            == 0
        )
        ministry.start()
        wait_for(
            lambda: (
                count(
                    ftp_db, "SELECT count(*) FROM forward_deliveries WHERE delivered_at IS NOT NULL"
                )
                == 12
            ),
            90,
        )
    finally:
        forward.stop()
    expected = [
        ts.astimezone(ICT).strftime("BN-03/%Y/%m/%d/") + tt10_name("BN-03", ts) for ts in times
    ]
    assert ministry.received == expected  # each once, oldest measurement first
    ((first_error, last_error, attempts),) = rows(
        ftp_db,
        "SELECT first_error, last_error, attempts FROM forward_deliveries"
        " ORDER BY measured_at LIMIT 1",
    )
    assert "cannot reach" in first_error and attempts >= 4
    assert last_error is not None


def test_a_corrected_re_upload_is_not_forwarded_the_ministry_keeps_the_stored_version(
    tmp_path: Path, ftp_db: str, aqm_ftp: AqmFtp, ministry: MinistryServer
) -> None:
    (ts,) = _start_of(1)
    name = tt10_name("BN-01", ts)
    first = tt10_text(ts, {"PM10": ("40", "ug/m3")})
    corrected = tt10_text(ts, {"PM10": ("45", "ug/m3")})
    forward = Forward(tmp_path / "fwd", ftp_db, ministry).start()
    try:
        _upload(aqm_ftp, "BN-01", name, first)
        wait_for(
            lambda: (
                count(
                    ftp_db, "SELECT count(*) FROM forward_deliveries WHERE delivered_at IS NOT NULL"
                )
                == 1
            ),
            60,
        )
        _upload(aqm_ftp, "BN-01", name, corrected)
        wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 2)
        # the planner has read past the correction (its cursor moved beyond its record)
        wait_for(
            lambda: (
                count(
                    ftp_db,
                    "SELECT count(*) FROM forward_cursors c WHERE c.ftp_recorded_at >"
                    " (SELECT max(recorded_at) FROM ftp_files)",
                )
                == 1
            ),
            60,
        )
    finally:
        forward.stop()
    assert rows(ftp_db, "SELECT value FROM readings WHERE station_id = 'BN-01'") == [(40.0,)]
    assert rows(ftp_db, "SELECT reason_code, payload FROM rejected_messages_with_payload") == [
        ("conflicting_value", corrected)
    ]
    assert count(ftp_db, "SELECT count(*) FROM forward_deliveries") == 1
    folder = ts.astimezone(ICT).strftime("BN-01/%Y/%m/%d")
    assert ministry.received == [f"{folder}/{name}"]  # once
    assert (ministry.home / folder / name).read_bytes() == first  # the stored version
