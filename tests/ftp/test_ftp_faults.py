"""``aqm ftp`` killed with SIGKILL while storing, FTPS, and spool mode."""

from __future__ import annotations

import ftplib
import io
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.ftp.conftest import count, rows
from tests.ftp_servers import PASSWORDS, AqmFtp, tt10_name, tt10_text, wait_for
from tests.tls_files import self_signed


def _files(n: int, station: str = "BN-01") -> list[tuple[str, bytes, datetime]]:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=n + 10)
    out = []
    for i in range(n):
        ts = start + timedelta(minutes=i)
        values = {
            "PM2,5": (f"{10 + i % 50},5", "ug/m3"),
            "PM10": (f"{30 + i % 70}", "ug/m3"),
            "NO2": ("40", "ug/Nm3"),
        }
        out.append((tt10_name(station, ts), tt10_text(ts, values), ts))
    return out


def test_sigkill_while_storing_then_restart_stores_every_reading_once(
    tmp_path: Path, ftp_db: str, accounts: Path
) -> None:
    files = _files(240)
    server = AqmFtp(tmp_path / "ftp", ftp_db, accounts).start()
    stop_uploading = threading.Event()
    sent: list[str] = []

    def datalogger() -> None:
        for name, content, _ in files:
            while not stop_uploading.is_set():
                try:
                    with ftplib.FTP() as ftp:
                        ftp.connect("127.0.0.1", server.port, timeout=5)
                        ftp.login("BN-01", PASSWORDS["BN-01"])
                        ftp.storbinary(f"STOR {name}", io.BytesIO(content))
                    sent.append(name)
                    break
                except (OSError, EOFError, ftplib.Error):  # server down: a datalogger retries
                    stop_uploading.wait(0.2)

    thread = threading.Thread(target=datalogger)
    thread.start()
    kills = 0
    try:
        for _ in range(3):  # kill while files are arriving and being stored
            target = 60 * (kills + 1)
            wait_for(lambda: len(sent) >= target, 120, 0.01)  # noqa: B023
            server.kill()
            kills += 1
            server.start()
        thread.join(180)
        assert not thread.is_alive()
        wait_for(
            lambda: count(ftp_db, "SELECT count(DISTINCT file_name) FROM ftp_files") == len(files),
            60,
        )
    finally:
        stop_uploading.set()
        thread.join(10)
        server.stop()
    assert kills == 3
    assert count(ftp_db, "SELECT count(*) FROM readings") == 3 * len(files)
    assert count(ftp_db, "SELECT count(*) FROM ftp_files") == len(files)
    assert count(ftp_db, "SELECT count(*) FROM rejected_messages") == 0
    expected = {(ts, float(f"{10 + i % 50}.5")) for i, (_, _, ts) in enumerate(files)}
    assert set(rows(ftp_db, "SELECT ts, value FROM readings WHERE parameter = 'pm25'")) == expected


def test_explicit_tls_is_offered_and_can_be_required(
    tmp_path: Path, ftp_db: str, accounts: Path
) -> None:
    cert, key = self_signed(tmp_path / "tls", "127.0.0.1")
    server = AqmFtp(
        tmp_path / "ftp",
        ftp_db,
        accounts,
        ftp_tls_cert=str(cert),
        ftp_tls_key=str(key),
        ftp_tls_required="true",
    ).start()
    ts = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    try:
        context = ssl.create_default_context(cafile=str(cert))
        with ftplib.FTP_TLS(context=context) as ftps:
            ftps.connect("127.0.0.1", server.port, timeout=10)
            ftps.login("BN-02", PASSWORDS["BN-02"])  # AUTH TLS first, then USER/PASS
            ftps.prot_p()
            ftps.storbinary("STOR tls.txt", io.BytesIO(tt10_text(ts, {"PM10": ("50", "ug/m3")})))
        with ftplib.FTP() as plain:  # TLS required: a clear-text login is refused
            plain.connect("127.0.0.1", server.port, timeout=10)
            with pytest.raises(ftplib.error_perm, match=r"550|530|SSL|TLS"):
                plain.login("BN-02", PASSWORDS["BN-02"])
        wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 1)
        assert rows(ftp_db, "SELECT station_id, value FROM readings") == [("BN-02", 50.0)]
    finally:
        server.stop()


def test_spool_mode_reads_complete_files_only(tmp_path: Path, ftp_db: str) -> None:
    spool = tmp_path / "spool"
    (spool / "BN-01" / "2025").mkdir(parents=True)
    (spool / "BN-02").mkdir()
    ts = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    server = AqmFtp(tmp_path / "ftp", ftp_db, spool=spool).start()
    try:
        done = spool / "BN-01" / "2025" / tt10_name("BN-01", ts)
        done.write_bytes(tt10_text(ts, {"PM10": ("50", "ug/m3")}))
        temporary = spool / "BN-02" / "x.txt.part"
        temporary.write_bytes(tt10_text(ts, {"PM10": ("60", "ug/m3")}))
        growing = spool / "BN-02" / "growing.txt"
        growing.write_bytes(b"PM10\t70\tug/m3\t")  # cut mid-line: still being written
        wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 1)
        assert rows(ftp_db, "SELECT station_id, value FROM readings") == [("BN-01", 50.0)]
        assert not done.exists() and temporary.exists() and growing.exists()
        temporary.rename(spool / "BN-02" / "x.txt")  # the uploader's rename completes it
        wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 2)
        # the file cut mid-line is not read within ten settle times
        assert count(ftp_db, "SELECT count(*) FROM readings WHERE value = 70") == 0
    finally:
        server.stop()
    assert rows(ftp_db, "SELECT station_id, file_name FROM ftp_files ORDER BY id") == [
        ("BN-01", f"2025/{tt10_name('BN-01', ts)}"),
        ("BN-02", "x.txt"),
    ]
