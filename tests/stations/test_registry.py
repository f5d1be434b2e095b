"""Copying the catalogue into the real stations table, and reading it back."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aqm.localservices import PostgresInstance
from stations.catalogue import Catalogue, CatalogueError, load_catalogue
from stations.registry import (
    RegistryError,
    StationChange,
    last_readings,
    registered_stations,
    sync_catalogue,
)

pytestmark = pytest.mark.services

EXAMPLE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"

STATION = """\
  - station_id: {sid}
    name: {name}
    latitude: {lat}
    longitude: 106.0763
    station_type: fixed_automatic
    public_aqi: true
    installed_on: 2021-06-15
    parameters: {params}
"""


def catalogue(tmp_path: Path, *stations: dict[str, Any]) -> Catalogue:
    body = "stations:\n"
    for s in stations:
        values = {"name": f"Trạm {s['sid']}", "lat": 21.1861, "params": "[pm25, pm10, no2]"} | s
        body += STATION.format(**values)
    path = tmp_path / f"catalogue-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(body, encoding="utf-8")
    return load_catalogue(path)


def table(url: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return {r["station_id"]: r for r in cur.execute("SELECT * FROM stations")}


def test_first_sync_writes_every_field_of_the_example(clean_db: str) -> None:
    cat = load_catalogue(EXAMPLE)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        report = sync_catalogue(conn, cat)
    assert report.added == tuple(s.station_id for s in cat)
    assert report.changed == () and report.unchanged == () and report.absent == ()
    rows = table(clean_db)
    assert set(rows) == {s.station_id for s in cat}
    # compared with the YAML text, not with the model that produced the rows
    kinhbac = rows["BN-KINHBAC"]
    assert kinhbac["name"] == "Trạm quan trắc không khí tự động Kinh Bắc"
    assert kinhbac["ward"] == "Phường Kinh Bắc" and kinhbac["district"] is None
    assert (kinhbac["latitude"], kinhbac["longitude"], kinhbac["elevation_m"]) == (21.1861, 106.0763, 7)
    assert kinhbac["station_type"] == "fixed_automatic" and kinhbac["public_aqi"] is True
    assert kinhbac["installed_on"] == date(2021, 6, 15) and kinhbac["retired_on"] is None
    assert kinhbac["report_interval_s"] == 300
    assert kinhbac["aliases"] == {"PM2,5": "pm25"}  # what ingest reads for this station
    assert rows["BN-BACGIANG"]["aliases"] == {}
    assert kinhbac["parameters"] == ["pm25", "pm10", "tsp", "no2", "so2", "o3", "co",
                                     "temperature", "humidity", "pressure", "wind_speed",
                                     "wind_direction", "rain"]
    retired = rows["BN-YENPHONG-LCS0"]
    assert retired["status"] == "retired" and retired["retired_on"] == date(2024, 12, 31)
    assert rows["BN-QUEVO-LCS1"]["public_aqi"] is False
    assert rows["BN-QUEVO-LCS1"]["report_interval_s"] == 60
    assert rows["BN-BACGIANG"]["notes"].startswith("Bắc Giang province station")
    assert kinhbac["timezone"] == "Asia/Ho_Chi_Minh" and rows["BN-BACGIANG"]["timezone"] is None


def test_resync_changes_only_what_changed(clean_db: str, tmp_path: Path) -> None:
    first = catalogue(tmp_path, {"sid": "BN-01"}, {"sid": "BN-02"})
    with psycopg.connect(clean_db, autocommit=True) as conn:
        sync_catalogue(conn, first)
        before = table(clean_db)
        again = sync_catalogue(conn, first)
        assert again.added == () and again.changed == () and again.unchanged == ("BN-01", "BN-02")
        assert table(clean_db) == before

        # reordering parameters is no change; a new name and latitude are
        edited = catalogue(tmp_path, {"sid": "BN-01", "params": "[no2, pm10, pm25]"},
                           {"sid": "BN-02", "name": "Trạm Bắc Giang", "lat": 21.2731})
        report = sync_catalogue(conn, edited)
    assert report.changed == (StationChange("BN-02", ("name", "latitude")),)
    assert report.unchanged == ("BN-01",)
    after = table(clean_db)
    assert after["BN-01"] == before["BN-01"]
    assert after["BN-02"]["name"] == "Trạm Bắc Giang" and after["BN-02"]["latitude"] == 21.2731
    assert after["BN-02"]["updated_at"] > before["BN-02"]["updated_at"]


def test_dry_run_writes_nothing(clean_db: str, tmp_path: Path) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        report = sync_catalogue(conn, catalogue(tmp_path, {"sid": "BN-01"}), dry_run=True)
    assert report.added == ("BN-01",) and report.dry_run
    assert "dry run" in report.summary()
    assert table(clean_db) == {}


def insert_reading(url: str, station_id: str, ts: datetime) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,"
            " source_format, received_at) VALUES (%s, 'pm25', %s, 30, 30, 'µg/m³', 'aqm_json', %s)",
            (station_id, ts, ts + timedelta(seconds=40)),
        )


def test_missing_stations_are_kept_unless_pruned_and_never_with_data(
    clean_db: str, tmp_path: Path
) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        sync_catalogue(conn, catalogue(tmp_path, {"sid": "BN-01"}, {"sid": "BN-02"},
                                       {"sid": "BN-03"}))
        insert_reading(clean_db, "BN-02", datetime(2025, 3, 1, 2, tzinfo=UTC))
        only_one = catalogue(tmp_path, {"sid": "BN-01"}, {"sid": "BN-04"})

        kept = sync_catalogue(conn, only_one)
        assert kept.absent == ("BN-02", "BN-03") and kept.pruned == ()
        assert set(table(clean_db)) == {"BN-01", "BN-02", "BN-03", "BN-04"}

        with pytest.raises(RegistryError, match=r"stored data: BN-02; keep them in .*retired"):
            sync_catalogue(conn, catalogue(tmp_path, {"sid": "BN-01"}, {"sid": "BN-05"}),
                           prune=True)
        # the refused sync was one transaction: BN-05 was not added either
        assert set(table(clean_db)) == {"BN-01", "BN-02", "BN-03", "BN-04"}

        pruned = sync_catalogue(conn, catalogue(tmp_path, {"sid": "BN-01"}, {"sid": "BN-02"}),
                                prune=True)
    assert pruned.pruned == ("BN-03", "BN-04") and pruned.absent == ()
    assert set(table(clean_db)) == {"BN-01", "BN-02"}


def test_reader_role_lists_stations_and_newest_readings(
    clean_db: str, postgres: PostgresInstance, tmp_path: Path
) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        sync_catalogue(conn, catalogue(tmp_path, {"sid": "BN-01"}, {"sid": "BN-02"}))
    base = datetime(2025, 3, 1, 0, tzinfo=UTC)
    for minutes in (0, 5, 10, 600):
        insert_reading(clean_db, "BN-01", base + timedelta(minutes=minutes))
    insert_reading(clean_db, "BN-01", base - timedelta(days=30))  # another chunk, older

    with psycopg.connect(postgres.url(user="aqm_reader")) as conn:
        rows = registered_stations(conn)
        newest = last_readings(conn)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sync_catalogue(conn, catalogue(tmp_path, {"sid": "BN-09"}))
    assert [r.station_id for r in rows] == ["BN-01", "BN-02"]
    assert rows[0].parameters == ("pm25", "pm10", "no2")
    assert set(newest) == {"BN-01"}
    assert newest["BN-01"].ts == base + timedelta(minutes=600)
    assert newest["BN-01"].received_at == base + timedelta(minutes=600, seconds=40)


def db_station_id_pattern(url: str) -> re.Pattern[str]:
    """The regular expression of the table's own CHECK constraint on station_id."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " WHERE c.conrelid = 'stations'::regclass AND pg_get_constraintdef(c.oid) LIKE %s",
            ("%station_id ~%",),
        ).fetchone()
    assert row is not None
    match = re.search(r"'(\^.*\$)'", str(row[0]))
    assert match is not None, row
    return re.compile(match.group(1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(station_id=st.one_of(
    st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,70}\Z"),
    st.text(alphabet="aZ09-_/+# .Đ", min_size=0, max_size=8),
))
def test_catalogue_accepts_exactly_the_ids_the_table_accepts(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, station_id: str
) -> None:
    path = tmp_path_factory.mktemp("ids") / "catalogue.yaml"
    path.write_text("stations:\n" + textwrap.dedent(f"""\
          - station_id: '{station_id}'
            name: Trạm
            latitude: 21.2
            longitude: 106.1
            station_type: fixed_automatic
            parameters: [pm25]
        """), encoding="utf-8")
    try:
        load_catalogue(path)
        accepted = True
    except CatalogueError:
        accepted = False
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT %s ~ %s", (station_id, db_station_id_pattern(database_url).pattern)).fetchone()
    assert row is not None
    assert accepted == row[0], station_id


def test_timezone_is_synced_and_a_change_of_zone_is_a_change(clean_db: str, tmp_path: Path) -> None:
    path = tmp_path / "zones.yaml"
    body = "stations:\n" + STATION.format(sid="BN-01", name="Trạm 1", lat=21.18, params="[pm25]")
    path.write_text(body, encoding="utf-8")
    with psycopg.connect(clean_db, autocommit=True) as conn:
        sync_catalogue(conn, load_catalogue(path))
        assert table(clean_db)["BN-01"]["timezone"] is None
        path.write_text(body + "    timezone: UTC\n", encoding="utf-8")
        report = sync_catalogue(conn, load_catalogue(path))
    assert report.changed == (StationChange("BN-01", ("timezone",)),)
    assert table(clean_db)["BN-01"]["timezone"] == "UTC"


def test_stations_table_refuses_what_cannot_be_a_zone_name(clean_db: str) -> None:
    with (
        psycopg.connect(clean_db, autocommit=True) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type, timezone)"
            " VALUES ('BN-01', 'x', 21.1, 106.1, 'fixed_automatic', '../etc/passwd')"
        )
