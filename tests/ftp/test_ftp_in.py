"""``aqm ftp`` against real clients (ftplib, curl) and a real TimescaleDB."""

from __future__ import annotations

import contextlib
import ftplib
import io
import shutil
import socket
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.ftp.conftest import count, rows
from tests.ftp_servers import PASSWORDS, AqmFtp, tt10_name, tt10_text, wait_for


def login(server: AqmFtp, station: str = "BN-01", password: str | None = None) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", server.port, timeout=10)
    ftp.login(station, password if password is not None else PASSWORDS[station])
    return ftp


def upload(ftp: ftplib.FTP, path: str, content: bytes) -> str:
    folder, _, name = path.rpartition("/")
    for part in folder.split("/") if folder else []:
        with contextlib.suppress(ftplib.error_perm):  # exists
            ftp.mkd(part)
        ftp.cwd(part)
    reply = ftp.storbinary(f"STOR {name}", io.BytesIO(content))
    ftp.cwd("/")
    return reply


def recent(minutes: int = 10) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes + now.minute % 5)


def circular_path(station: str, ts: datetime) -> str:
    local = ts.astimezone(ZONE)
    return f"{station}/{local:%Y/%m/%d}/{tt10_name(station, ts)}"


from zoneinfo import ZoneInfo  # noqa: E402

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
VALUES = {
    "PM2,5": ("35,2", "ug/m3"),
    "PM10": ("61.0", "ug/m3"),
    "CO": ("1.25", "mg/m3"),
    "NO2": ("42.0", "ug/Nm3"),
    "Temp": ("28.5", "oC"),
    "RH": ("81", "%"),
}


def test_a_circular_file_is_stored_with_its_parameters_and_archived(
    aqm_ftp: AqmFtp, ftp_db: str
) -> None:
    ts = recent()
    path = circular_path("BN-01", ts)
    with login(aqm_ftp) as ftp:
        assert upload(ftp, path, tt10_text(ts, VALUES)).startswith("226")
    wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 1)
    stored = dict(
        rows(
            ftp_db,
            "SELECT parameter, value FROM readings WHERE station_id = 'BN-01' AND ts = %s",
            ts,
        )
    )
    # PM2,5 (the Circular's decimal-comma symbol) with a decimal-comma value; CO mg → µg
    assert stored == {
        "pm25": 35.2,
        "pm10": 61.0,
        "co": 1250.0,
        "no2": 42.0,
        "temperature": 28.5,
        "humidity": 81.0,
    }
    assert count(ftp_db, "SELECT count(*) FROM rejected_messages") == 0
    ((name, measured, n, payload),) = rows(
        ftp_db, "SELECT file_name, measured_at, readings, payload FROM ftp_files"
    )
    assert name == path and measured == ts and n == 6 and bytes(payload) == tt10_text(ts, VALUES)
    archived = wait_for(lambda: list((aqm_ftp.data / "archive" / "BN-01").rglob("*.txt")))
    assert archived[0].read_bytes() == tt10_text(ts, VALUES)
    assert not [p for p in (aqm_ftp.data / "incoming").rglob("*") if p.is_file()]
    assert not [p for p in (aqm_ftp.data / "upload").rglob("*") if p.is_file()]


def test_the_station_comes_from_the_account_never_the_file_name(
    aqm_ftp: AqmFtp, ftp_db: str
) -> None:
    ts = recent()
    with login(aqm_ftp, "BN-02") as ftp:  # BN-02 uploads a file named for BN-01
        upload(ftp, tt10_name("BN-01", ts), tt10_text(ts, {"PM10": ("50", "ug/m3")}))
        upload(ftp, "any-name.dat", tt10_text(ts, {"PM2.5": ("20", "ug/m3")}))
    wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 2)
    assert rows(ftp_db, "SELECT DISTINCT station_id FROM readings") == [("BN-02",)]
    assert count(ftp_db, "SELECT count(*) FROM readings") == 2


def test_a_malformed_file_is_rejected_whole_with_its_name(aqm_ftp: AqmFtp, ftp_db: str) -> None:
    ts = recent()
    bad = tt10_text(ts, {"PM10": ("50", "ug/m3")}) + b"PM2.5\tabc\tug/m3\t20250301080500\t00\r\n"
    garbage = b"\x00\xff not a Circular 10 file"
    with login(aqm_ftp) as ftp:
        upload(ftp, "a.txt", bad)
        upload(ftp, "b.txt", garbage)
    wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 2)
    assert count(ftp_db, "SELECT count(*) FROM readings") == 1  # the good line of a.txt
    got = {
        (topic, code, bytes(payload))
        for topic, code, payload in rows(
            ftp_db, "SELECT topic, reason_code, payload FROM rejected_messages_with_payload"
        )
    }
    assert got == {
        ("ftp:BN-01/a.txt", "malformed_line", bad),
        ("ftp:BN-01/b.txt", "invalid_utf8", garbage),
    }


def test_an_oversized_upload_is_cut_off_and_ends_as_one_payload_too_large_reject(
    tmp_path: Path, ftp_db: str, accounts: Path
) -> None:
    server = AqmFtp(tmp_path / "ftp", ftp_db, accounts, ftp_max_file_bytes="4096").start()
    big = tt10_text(recent(), {"PM10": ("50", "ug/m3")}) * 2000
    try:
        for _attempt in range(2):  # the datalogger retries the same file
            with login(server) as ftp, pytest.raises(ftplib.error_perm, match="552"):
                upload(ftp, "big.txt", big)
        with login(server) as ftp:  # the server is still there, the next file goes in
            upload(ftp, "small.txt", tt10_text(recent(), {"PM10": ("50", "ug/m3")}))
        wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") >= 2)
        wait_for(lambda: not [p for p in (server.data / "incoming").rglob("*") if p.is_file()])
        assert count(ftp_db, "SELECT count(*) FROM readings") == 1  # small.txt's only
        rejects = rows(
            ftp_db,
            "SELECT station_id, topic, reason_code, reason, payload, payload_bytes"
            " FROM rejected_messages_with_payload",
        )
        assert len(rejects) == 1, rejects
        station, topic, code, reason, payload, size = rejects[0]
        assert (station, topic, code) == ("BN-01", "ftp:BN-01/big.txt", "payload_too_large")
        assert 4096 < size < len(big)  # what was received before the cut
        assert reason == (
            f"big.txt: {size} bytes received, more than the limit of 4096 bytes"
            " (AQM_FTP_MAX_FILE_BYTES); not read"
        )
        assert payload == big[:4097]  # the first bytes received, up to the cut
        assert sorted(rows(ftp_db, "SELECT file_name, readings FROM ftp_files")) == [
            ("big.txt", 0),
            ("small.txt", 1),
        ]
        assert not list((server.data / "upload").rglob("big.txt"))
        assert "exceeded the size limit" in server.logs()
    finally:
        server.stop()


def _interrupted_upload(server: AqmFtp, name: str, content: bytes) -> None:
    """Send half a file, then lose power: both connections reset, no reply awaited."""
    ftp = login(server)
    conn = ftp.transfercmd(f"STOR {name}")
    conn.sendall(content[: len(content) // 2])
    partial = server.data / "upload" / "BN-01" / name
    wait_for(partial.is_file, 10)  # the server has opened the upload
    for sock in (conn, ftp.sock):
        assert sock is not None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST, not FIN: the upload did not complete


def test_an_interrupted_upload_is_never_half_read(aqm_ftp: AqmFtp, ftp_db: str) -> None:
    ts = recent()
    content = tt10_text(ts, VALUES)
    _interrupted_upload(aqm_ftp, "cut.txt", content)
    # The server logs "was interrupted" when the reset reaches an accepted data connection;
    # a reset racing the accept leaves the opened upload unread until the session ends.
    # Either way nothing of the half file may be stored, whatever arrives after it.
    with login(aqm_ftp) as ftp:  # the datalogger sends it again, whole
        upload(ftp, "cut.txt", content)
    wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 1)
    assert count(ftp_db, "SELECT count(*) FROM readings") == len(VALUES)
    assert count(ftp_db, "SELECT count(*) FROM rejected_messages") == 0


def test_the_same_file_twice_stores_nothing_twice_and_a_correction_is_a_conflict(
    aqm_ftp: AqmFtp, ftp_db: str
) -> None:
    ts = recent()
    bad = tt10_text(ts, {"PM10": ("50", "ug/m3"), "XYZ": ("1", "ug/m3")})
    with login(aqm_ftp) as ftp:
        upload(ftp, "f.txt", bad)
        upload(ftp, "f.txt", bad)
    wait_for(lambda: count(ftp_db, "SELECT count(*) FROM rejected_messages") >= 1)
    wait_for(lambda: not [p for p in (aqm_ftp.data / "incoming").rglob("*") if p.is_file()])
    assert count(ftp_db, "SELECT count(*) FROM readings") == 1
    assert count(ftp_db, "SELECT count(*) FROM ftp_files") == 1
    assert rows(ftp_db, "SELECT reason_code FROM rejected_messages") == [("unknown_parameter",)]
    corrected = tt10_text(ts, {"PM10": ("55", "ug/m3")})
    with login(aqm_ftp) as ftp:
        upload(ftp, "f.txt", corrected)
    wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 2)
    assert rows(ftp_db, "SELECT value FROM readings") == [(50.0,)]
    assert rows(
        ftp_db,
        "SELECT reason_code, payload FROM rejected_messages_with_payload"
        " WHERE reason_code = 'conflicting_value'",
    ) == [("conflicting_value", corrected)]


def test_a_station_cannot_reach_another_stations_folder(aqm_ftp: AqmFtp, ftp_db: str) -> None:
    with login(aqm_ftp, "BN-02") as ftp:
        upload(ftp, "mine.txt.part", b"x")  # a temporary name stays in BN-02's folder
    with login(aqm_ftp, "BN-01") as ftp:
        assert ftp.pwd() == "/"
        for target in ("../BN-02", "/../BN-02", "../../incoming"):
            with pytest.raises(ftplib.error_perm):
                ftp.cwd(target)
            assert ftp.pwd() == "/"
        for name in ("../BN-02/evil.txt", "/../../incoming/BN-02/evil.txt"):
            with pytest.raises(ftplib.error_perm):
                ftp.storbinary(f"STOR {name}", io.BytesIO(b"PM10\t1\tug/m3\t20250301080500\t00"))
        with pytest.raises(ftplib.error_perm):
            ftp.retrbinary("RETR ../BN-02/mine.txt.part", lambda b: None)
        assert "mine.txt.part" not in " ".join(ftp.nlst())
        with pytest.raises(ftplib.error_perm):
            ftp.delete("../BN-02/mine.txt.part")
    assert (aqm_ftp.data / "upload" / "BN-02" / "mine.txt.part").read_bytes() == b"x"
    assert not list(aqm_ftp.data.rglob("evil.txt"))


def test_wrong_password_unknown_user_and_anonymous_are_refused(aqm_ftp: AqmFtp) -> None:
    for user, password in (
        ("BN-01", "wrong-password"),
        ("BN-01", PASSWORDS["BN-02"]),
        ("anonymous", "guest@"),
        ("BN-77", "whatever-long"),
    ):
        with pytest.raises(ftplib.error_perm, match="530"):
            login(aqm_ftp, user, password)


def test_a_temporary_name_is_read_only_after_the_rename(aqm_ftp: AqmFtp, ftp_db: str) -> None:
    ts = recent()
    with login(aqm_ftp) as ftp:
        upload(ftp, "x.txt.part", tt10_text(ts, {"PM10": ("50", "ug/m3")}))
        assert count(ftp_db, "SELECT count(*) FROM ftp_files") == 0
        ftp.rename("x.txt.part", "x.txt")
    wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 1)
    assert rows(ftp_db, "SELECT file_name FROM ftp_files") == [("x.txt",)]


@pytest.mark.skipif(
    shutil.which("curl") is None,
    reason="curl is not installed (scripts/install-services.sh installs it)",
)
def test_curl_as_a_datalogger(aqm_ftp: AqmFtp, ftp_db: str, tmp_path: Path) -> None:
    ts = recent()
    local = tmp_path / tt10_name("BN-03", ts)
    local.write_bytes(tt10_text(ts, VALUES))
    folder = ts.astimezone(ZONE).strftime("BN-03/%Y/%m/%d/")
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--ftp-create-dirs",
            "-T",
            str(local),
            "--user",
            f"BN-03:{PASSWORDS['BN-03']}",
            f"ftp://127.0.0.1:{aqm_ftp.port}/{folder}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    wait_for(lambda: count(ftp_db, "SELECT count(*) FROM ftp_files") == 1)
    assert count(ftp_db, "SELECT count(*) FROM readings WHERE station_id = 'BN-03'") == 6
    refused = subprocess.run(
        [
            "curl",
            "-sS",
            "-T",
            str(local),
            "--user",
            "BN-03:wrong-password-x",
            f"ftp://127.0.0.1:{aqm_ftp.port}/",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode == 67  # CURLE_LOGIN_DENIED
