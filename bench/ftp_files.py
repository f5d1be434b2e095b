"""Circular 10 files through ``aqm ftp`` into committed readings, and on to the Ministry.

1. Throughput: 200 stations' five-minute files uploaded by 8 parallel dataloggers, each
   file its own FTP session (connect, login, STOR, QUIT, as dataloggers do), until every
   file is committed. Baseline in the same run: the same uploads to a bare pyftpdlib
   server that stores nothing (what FTP itself allows here): the ratio is the share of
   raw FTP capacity left after decoding, validating and committing.
2. Latency at 20 files/s offered for 30 s: from the client's ``226`` to the file being
   visible as committed (a poller every 20 ms; same clock).
3. Forwarding at the same rate: ``aqm forward`` to a second pyftpdlib server playing the
   Ministry; delay = delivery confirmed − upload complete, from the delivery log.
"""

from __future__ import annotations

import ftplib
import io
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.lab import bench_services
from bench.machine import describe
from tests.ftp_servers import (
    REPO,
    AqmFtp,
    MinistryServer,
    as_role,
    tt10_name,
    tt10_text,
    write_accounts,
)

N_STATIONS = 200
FILES_PER_STATION = 30
CLIENTS = 8
PASSWORD = "bench-password-long"


def files_for(
    stations: list[str], per_station: int, start: datetime
) -> list[tuple[str, str, bytes]]:
    out = []
    for i in range(per_station):
        ts = start + timedelta(minutes=5 * i)
        for n, sid in enumerate(stations):
            values = {
                "PM2,5": (f"{20 + (n + i) % 60},4", "ug/m3"),
                "PM10": (f"{40 + i % 80}", "ug/m3"),
                "NO2": ("38.5", "ug/Nm3"),
                "CO": ("1.2", "mg/m3"),
                "O3": ("61", "ug/Nm3"),
                "SO2": ("12", "ug/Nm3"),
                "Temp": ("27.5", "oC"),
                "RH": ("80", "%"),
            }
            out.append((sid, tt10_name(sid, ts), tt10_text(ts, values)))
    return out


def upload_one(port: int, station: str, name: str, content: bytes) -> float:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=30)
        ftp.login(station, PASSWORD)
        ftp.storbinary(f"STOR {name}", io.BytesIO(content))
        done = time.monotonic()
        ftp.quit()
    return done


def upload_all(port: int, files: list[tuple[str, str, bytes]]) -> float:
    t0 = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda f: upload_one(port, *f), files))
    return time.monotonic() - t0


def drain_station(port: int, station: str, files: list[tuple[str, str, bytes]]) -> None:
    """A datalogger back online: its buffered files, oldest first, in one session."""
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=30)
        ftp.login(station, PASSWORD)
        for _, name, content in files:
            ftp.storbinary(f"STOR {name}", io.BytesIO(content))
        ftp.quit()


def drain_all(port: int, files: list[tuple[str, str, bytes]]) -> float:
    by_station: dict[str, list[tuple[str, str, bytes]]] = {}
    for f in files:
        by_station.setdefault(f[0], []).append(f)
    t0 = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda item: drain_station(port, *item), by_station.items()))
    return time.monotonic() - t0


def count(url: str, sql: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def wait_count(url: str, sql: str, expected: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while count(url, sql) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{sql}: fewer than {expected} after {timeout} s")
        time.sleep(0.05)
    return time.monotonic()


def raw_ftp_baseline(root: Path, files: list[tuple[str, str, bytes]], drain: bool) -> float:
    """The same uploads to a bare pyftpdlib server in its own process (nothing stored)."""
    from aqm.localservices import free_port, port_open

    port = free_port()
    stations = sorted({f[0] for f in files})
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_ftp_server", str(root), str(port), PASSWORD, *stations],
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the bare FTP server did not start")
            time.sleep(0.1)
        return drain_all(port, files) if drain else upload_all(port, files)
    finally:
        server.terminate()
        server.wait(30)


def paced_latency(
    url: str, port: int, files: list[tuple[str, str, bytes]], rate: float
) -> list[float]:
    seen: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                for (name,) in conn.execute(
                    "SELECT station_id || '/' || file_name FROM ftp_files"
                    " WHERE recorded_at > now() - interval '2 minutes'"
                ):
                    seen.setdefault(name, time.monotonic())
                time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    done: dict[str, float] = {}
    t0 = time.monotonic()
    lock = threading.Lock()

    def send(i: int, f: tuple[str, str, bytes]) -> None:
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        stamp = upload_one(port, *f)
        with lock:
            done[f"{f[0]}/{f[1]}"] = stamp

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda a: send(*a), enumerate(files)))
    deadline = time.monotonic() + 60
    while len(set(done) & set(seen)) < len(done) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    poller.join(5)
    return sorted(seen[k] - done[k] for k in done if k in seen)


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def main() -> None:
    # per-command lines of both servers would measure the terminal, not FTP
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    stations = [f"BN-{i:03d}" for i in range(1, N_STATIONS + 1)]
    print(f"machine: {describe()}")
    with bench_services("aqm-bench-ftp-", stations) as (pg, _mq):
        url = pg.url()
        root = Path(tempfile.mkdtemp(prefix="aqm-bench-ftp-files-"))
        accounts = write_accounts(root / "ftp-users", dict.fromkeys(stations, PASSWORD))
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=3)
        files = files_for(stations, FILES_PER_STATION, start)

        drained = files_for(stations, FILES_PER_STATION, start - timedelta(days=1))
        raw = raw_ftp_baseline(root / "raw", files, drain=False)
        raw_rate = len(files) / raw
        print(
            f"  bare pyftpdlib, nothing stored, a session per file: {len(files)} files in "
            f"{raw:.1f} s = {raw_rate:.0f} files/s"
        )
        raw_d = raw_ftp_baseline(root / "raw-drain", drained, drain=True)
        raw_d_rate = len(drained) / raw_d
        print(
            f"  bare pyftpdlib, nothing stored, each station draining its buffer in one "
            f"session: {len(drained)} files in {raw_d:.1f} s = {raw_d_rate:.0f} files/s"
        )

        server = AqmFtp(root / "aqm", url, accounts).start()
        try:
            for label, batch, send, base in (
                ("a session per file", files, upload_all, raw_rate),
                ("each station draining its buffer in one session", drained, drain_all, raw_d_rate),
            ):
                before = count(url, "SELECT count(*) FROM ftp_files")
                t0 = time.monotonic()
                send(server.port, batch)
                t_end = wait_count(url, "SELECT count(*) FROM ftp_files", before + len(batch), 600)
                rate = len(batch) / (t_end - t0)
                print(
                    f"  aqm ftp, {label}, upload start to last commit: {len(batch)} files "
                    f"({8 * len(batch)} readings) in {t_end - t0:.1f} s = {rate:.0f} files/s; "
                    f"ratio to bare FTP {rate / base:.2f}"
                )
            readings = count(url, "SELECT count(*) FROM readings")
            assert readings == 8 * (len(files) + len(drained)), readings

            # latency and forwarding at 20 files/s for 30 s
            ministry = MinistryServer(root / "ministry").start()
            config = root / "forward.toml"
            config.write_text(f"""[[destination]]
name = "bo-tnmt"
host = "127.0.0.1"
port = {ministry.port}
user = "{ministry.user}"
password_env = "BENCH_MINISTRY_PASSWORD"
backfill_hours = 0
""")
            env = dict(
                os.environ,
                AQM_CONFIG="",
                AQM_FORWARD_CONFIG=str(config),
                AQM_DATABASE_URL=as_role(url, "aqm_forward"),
                AQM_FORWARD_METRICS_PORT="0",
                BENCH_MINISTRY_PASSWORD=ministry.password,
            )
            forward = subprocess.Popen(
                [sys.executable, "-m", "aqm", "forward"],
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # forwarding starts at its first plan (backfill_hours = 0): wait for it
            wait_count(url, "SELECT count(*) FROM forward_cursors", 1, 120)
            paced = files_for(stations, 3, start + timedelta(days=1))[:600]
            lat = paced_latency(url, server.port, paced, 20.0)
            print(
                f"  upload complete → committed at 20 files/s: p50 {statistics.median(lat) * 1000:.0f} ms, "
                f"p99 {quantile(lat, 0.99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms over {len(lat)} files"
            )
            wait_count(
                url,
                "SELECT count(*) FROM forward_deliveries WHERE delivered_at IS NOT NULL",
                len(paced),
                300,
            )
            with psycopg.connect(url) as conn:
                delays = sorted(
                    float(d)
                    for (d,) in conn.execute(
                        "SELECT extract(epoch FROM delivered_at - available_at) FROM forward_deliveries"
                        " WHERE delivered_at IS NOT NULL"
                    )
                )
            print(
                f"  forward delay (upload complete → Ministry's 226) at 20 files/s: p50 "
                f"{statistics.median(delays):.1f} s, p95 {quantile(delays, 0.95):.1f} s, "
                f"p99 {quantile(delays, 0.99):.1f} s over {len(delays)} files"
            )
            forward.send_signal(signal.SIGTERM)
            forward.wait(30)
            ministry.stop()
        finally:
            server.stop()
