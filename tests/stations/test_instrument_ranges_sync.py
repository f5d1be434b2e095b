"""Instrument ranges: catalogue → stations table → back, through the station sync."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from stations.catalogue import load_catalogue
from stations.registry import StationChange, StationRow, registered_stations, sync_catalogue

pytestmark = pytest.mark.services

EXAMPLE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"

STATION = """\
stations:
  - station_id: BN-01
    name: Trạm 1
    latitude: 21.18
    longitude: 106.07
    station_type: fixed_automatic
    parameters: [pm25, pm10, no2]
"""


def test_example_ranges_round_trip_through_the_table(clean_db: str) -> None:
    catalogue = load_catalogue(EXAMPLE)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        sync_catalogue(conn, catalogue)
        stored = {row.station_id: row for row in registered_stations(conn)}
        column: dict[str, object] = dict(
            conn.execute("SELECT station_id, instrument_ranges FROM stations").fetchall()
        )
    # the same rows come back as the catalogue gave, and the jsonb is what the worker reads
    assert stored == {s.station_id: StationRow.from_station(s) for s in catalogue}
    assert stored["BN-KINHBAC"].instrument_ranges == (("no2", 0.0, 500.0), ("pm25", 0.0, 1000.0))
    assert column["BN-KINHBAC"] == {"pm25": [0.0, 1000.0], "no2": [0.0, 500.0]}
    assert column["BN-BACGIANG"] == {}


def test_a_changed_range_is_a_change_and_removing_it_clears_the_column(
    clean_db: str, tmp_path: Path
) -> None:
    path = tmp_path / "catalogue.yaml"
    with psycopg.connect(clean_db, autocommit=True) as conn:
        path.write_text(STATION + "    instrument_ranges: {no2: [0, 500]}\n", encoding="utf-8")
        sync_catalogue(conn, load_catalogue(path))
        again = sync_catalogue(conn, load_catalogue(path))
        assert again.unchanged == ("BN-01",)
        path.write_text(STATION + "    instrument_ranges: {no2: [0, 1000]}\n", encoding="utf-8")
        changed = sync_catalogue(conn, load_catalogue(path))
        assert changed.changed == (StationChange("BN-01", ("instrument_ranges",)),)
        assert registered_stations(conn)[0].instrument_ranges == (("no2", 0.0, 1000.0),)
        path.write_text(STATION, encoding="utf-8")
        sync_catalogue(conn, load_catalogue(path))
        (row,) = conn.execute("SELECT instrument_ranges FROM stations").fetchall()
    assert row == ({},)


def test_the_table_refuses_ranges_that_are_not_an_object(clean_db: str) -> None:
    with psycopg.connect(clean_db) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
            " instrument_ranges) VALUES ('X1', 'X', 21.1, 106.1, 'fixed_automatic', '[0, 5]')"
        )
