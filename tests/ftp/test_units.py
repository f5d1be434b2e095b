"""The pure parts of FTP in and forwarding out: names, templates, the built file, the
destinations file, accounts, and spool completeness (no servers needed)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aqm_core.parameters import canonical_parameter
from forward.circular_file import circular_file
from forward.config import ForwardConfigError, load_destinations
from ingest.files.accounts import Accounts
from ingest.files.naming import expand, measured_at_from_name
from ingest.files.spool import SpoolWatcher, is_temporary
from stations.catalogue import load_catalogue
from stations.ftp_accounts import ftp_account_entries
from stations.mosquitto_passwords import hash_password

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
REPO = Path(__file__).resolve().parents[2]


def test_the_circular_file_name_gives_the_local_measurement_time() -> None:
    # Circular 10/2021 Annex: <Province>_<Facility>_<Station>_yyyyMMddHHmmss.txt
    assert measured_at_from_name("HN/2025/03/01/HN_ABCD_NUO001_20250301080500.txt", ICT) == (
        datetime(2025, 3, 1, 1, 5, tzinfo=UTC)
    )
    assert measured_at_from_name("readings.txt", ICT) is None
    assert measured_at_from_name("X_20251301080500.txt", ICT) is None  # month 13


def test_templates_expand_station_and_local_date_fields() -> None:
    ts = datetime(2025, 2, 28, 17, 5, tzinfo=UTC)  # 1 March 00:05 in UTC+7
    fields = {
        "province": "BN",
        "facility": "SOTNMT",
        "station": "BN-01",
        "measured_at": ts,
        "local_tz": ICT,
    }
    assert expand("{station}/{yyyy}/{MM}/{dd}", **fields) == "BN-01/2025/03/01"  # type: ignore[arg-type]
    assert expand("{province}_{facility}_{station}_{stamp}.txt", **fields) == (  # type: ignore[arg-type]
        "BN_SOTNMT_BN-01_20250301000500.txt"
    )
    with pytest.raises(KeyError):
        expand("{nope}", **fields)  # type: ignore[arg-type]


def test_the_circulars_symbols_map_to_aqm_parameters() -> None:
    assert {canonical_parameter(s) for s in ("PM2,5", "PM-2,5", "PM2.5")} == {"pm25"}
    assert canonical_parameter("P") == "pressure"


def test_a_built_file_has_one_line_per_parameter_with_status_and_local_time() -> None:
    ts = datetime(2025, 3, 1, 1, 5, tzinfo=UTC)
    content = circular_file(ts, [("co", 1250.0, "00"), ("pm25", 35.2, "02")], ICT)
    assert (
        content
        == b"PM2,5\t35.2\tug/m3\t20250301080500\t02\r\nCO\t1.25\tmg/m3\t20250301080500\t00\r\n"
    )


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "forward.toml"
    path.write_text(body)
    return path


def test_destinations_read_passwords_from_the_environment_or_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    path = _config(
        tmp_path,
        f"""
[[destination]]
name = "a"
host = "h"
password_env = "PW_A"
stations = ["BN-01"]
[[destination]]
name = "b"
host = "h"
tls = true
password_file = "{secret}"
""",
    )
    a, b = load_destinations(path, {"PW_A": "from-env"})
    assert (a.password, b.password, b.tls) == ("from-env", "from-file", True)
    assert a.wants("BN-01") and not a.wants("BN-02") and b.wants("BN-02")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[destination]]\nname = "a"\nhost = "h"\ncolour = 1\n', "unknown key 'colour'"),
        ('[[destination]]\nname = "a"\nhost = "h"\npassword_env = "NOPE_X"\n', "NOPE_X is not set"),
        ('[[destination]]\nname = "a"\nhost = "h"\nfile_name = "{when}.txt"\n', "unknown field"),
        ('[[destination]]\nname = "a"\nhost = "h"\nport = 0\n', "port must be"),
        ('[[destination]]\nhost = "h"\n', "name must be"),
        ("x = 1\n", "no [[destination]]"),
        ("[[destination\n", "not valid TOML"),
    ],
)
def test_a_bad_destinations_file_names_the_file_and_the_fault(
    tmp_path: Path, body: str, message: str
) -> None:
    path = _config(tmp_path, body)
    with pytest.raises(ForwardConfigError) as caught:
        load_destinations(path, {})
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_ftp_accounts_are_the_active_stations_with_their_broker_hash() -> None:
    catalogue = load_catalogue(REPO / "stations" / "catalogue.example.yaml")
    active = [s.station_id for s in catalogue.active()]
    broker = {"aqm-ingest": "$7$1$x$y", **{sid: f"$7$1$s$h{sid}" for sid in active}}
    assert ftp_account_entries(catalogue, broker) == {sid: f"$7$1$s$h{sid}" for sid in active}


def test_accounts_check_passwords_and_follow_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ftp-users"
    path.write_text(f"BN-01:{hash_password('right-password-1', iterations=1000)}\n")
    accounts = Accounts(path)
    assert accounts.check("BN-01", "right-password-1")
    assert accounts.check("BN-01", "right-password-1")  # the remembered answer
    assert not accounts.check("BN-01", "wrong-password-1")
    assert not accounts.check("BN-02", "right-password-1")
    path.write_text(f"BN-02:{hash_password('other-password-2', iterations=1000)}\n")
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock
    assert not accounts.check("BN-01", "right-password-1")  # removed from the file
    assert accounts.check("BN-02", "other-password-2")


def test_temporary_names_wait_for_the_rename() -> None:
    assert all(is_temporary(n) for n in ("a.txt.part", ".a.txt", "d/a.TMP", "a.filepart"))
    assert not any(is_temporary(n) for n in ("a.txt", "2025/03/01/a.txt", "a.part.txt"))


def test_a_spool_file_is_complete_when_stable_and_ended_by_a_line_break(tmp_path: Path) -> None:
    station = tmp_path / "BN-01"
    station.mkdir()
    (tmp_path / "not a station!").mkdir()
    done = station / "a.txt"
    done.write_bytes(b"PM10\t1\tug/m3\t20250301080500\t00\r\n")
    cut = station / "b.txt"
    cut.write_bytes(b"PM10\t1\tug/m")
    watcher = SpoolWatcher(tmp_path, settle_s=5)
    assert watcher.scan(now=100) == []  # first sight
    assert watcher.scan(now=104) == []  # not settled
    assert [f.name for f in watcher.scan(now=106)] == ["a.txt"]
    # ten settle times unchanged: the cut file too
    assert {f.name for f in watcher.scan(now=160)} == {"a.txt", "b.txt"}
    cut.write_bytes(b"PM10\t1\tug/m3\t2025")  # changed again: waits afresh
    assert "b.txt" not in [f.name for f in watcher.scan(now=161)]
