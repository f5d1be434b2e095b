"""Station classes decide what is published (Circular 10/2021 Art. 29-31): the pure
function and the SQL function of migration 0015 give the same answer, including for
stations that change class during the year."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from stations.catalogue import CatalogueError, load_catalogue
from stations.eligibility import ClassPeriod, aqi_publishable, class_on, publishable_days
from stations.registry import sync_catalogue

AUTOMATIC = ["pm25", "pm10", "o3", "no2"]


def test_only_fixed_automatic_public_stations_with_art30_parameters_publish() -> None:
    day = date(2025, 6, 1)
    assert aqi_publishable(day, "fixed_automatic", True, AUTOMATIC)
    assert aqi_publishable(day, "fixed_automatic", True, ["pm25", "o3", "co"])
    assert aqi_publishable(day, "fixed_automatic", True, ["pm25", "o3", "so2"])
    # Art. 30(1)(a): PM2.5, O3 and one of NO2/SO2/CO
    assert not aqi_publishable(day, "fixed_automatic", True, ["pm25", "pm10", "no2"])
    assert not aqi_publishable(day, "fixed_automatic", True, ["pm10", "o3", "no2"])
    assert not aqi_publishable(day, "fixed_automatic", True, ["pm25", "o3", "pm10"])
    # Art. 29: reference stations publish concentrations only
    assert not aqi_publishable(day, "fixed_automatic", False, AUTOMATIC)
    assert not aqi_publishable(day, "low_cost_sensor", True, AUTOMATIC)
    assert not aqi_publishable(day, "mobile", True, AUTOMATIC)


UPGRADED = (
    ClassPeriod(date(2024, 5, 1), "low_cost_sensor", False),
    ClassPeriod(date(2025, 3, 15), "fixed_automatic", True),
)
LAPSED = (
    ClassPeriod(date(2023, 1, 1), "fixed_automatic", True),
    ClassPeriod(date(2025, 7, 1), "fixed_automatic", False),
    ClassPeriod(date(2025, 10, 1), "fixed_automatic", True),
)


def test_a_station_changing_class_publishes_only_while_its_class_allows() -> None:
    assert class_on(date(2020, 1, 1), "fixed_automatic", True, UPGRADED) == (
        "low_cost_sensor", False)  # before the first entry: the first entry
    assert not aqi_publishable(date(2025, 3, 14), "fixed_automatic", True, AUTOMATIC, UPGRADED)
    assert aqi_publishable(date(2025, 3, 15), "fixed_automatic", True, AUTOMATIC, UPGRADED)
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(365)]
    mask = publishable_days(days, "fixed_automatic", True, AUTOMATIC, LAPSED)
    expected = [not (date(2025, 7, 1) <= d < date(2025, 10, 1)) for d in days]
    assert mask.tolist() == expected
    assert mask.sum() == 365 - 92


CATALOGUE = """\
version: 1
stations:
  - station_id: AUTO
    name: Trạm tự động
    latitude: 21.1
    longitude: 106.0
    station_type: fixed_automatic
    public_aqi: true
    parameters: [pm25, pm10, o3, no2]
  - station_id: NOO3
    name: Trạm không đo O3
    latitude: 21.1
    longitude: 106.0
    station_type: fixed_automatic
    public_aqi: true
    parameters: [pm25, pm10, no2]
  - station_id: LCS
    name: Cảm biến
    latitude: 21.1
    longitude: 106.0
    station_type: low_cost_sensor
    parameters: [pm25, pm10, o3, no2, humidity]
    pm25_correction: us_epa_2021
  - station_id: VAN
    name: Xe quan trắc
    latitude: 21.1
    longitude: 106.0
    station_type: mobile
    parameters: [pm25, o3, co]
  - station_id: UPGRADED
    name: Trạm nâng cấp
    latitude: 21.1
    longitude: 106.0
    station_type: fixed_automatic
    public_aqi: true
    parameters: [pm25, o3, so2]
    classes:
      - {from: 2024-05-01, station_type: low_cost_sensor, public_aqi: false}
      - {from: 2025-03-15, station_type: fixed_automatic, public_aqi: true}
  - station_id: LAPSED
    name: Trạm tạm dừng công bố
    latitude: 21.1
    longitude: 106.0
    station_type: fixed_automatic
    public_aqi: true
    parameters: [pm25, o3, co]
    classes:
      - {from: 2023-01-01, station_type: fixed_automatic, public_aqi: true}
      - {from: 2025-07-01, station_type: fixed_automatic, public_aqi: false}
      - {from: 2025-10-01, station_type: fixed_automatic, public_aqi: true}
"""


@pytest.mark.usefixtures("clean_db")
def test_sql_function_and_view_agree_with_the_python_function(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(CATALOGUE, encoding="utf-8")
    catalogue = load_catalogue(path)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(0, 731, 3)]
    days += [date(2025, 3, 14), date(2025, 3, 15), date(2025, 6, 30), date(2025, 7, 1),
             date(2025, 9, 30), date(2025, 10, 1)]
    with psycopg.connect(database_url) as conn:
        sync_catalogue(conn, catalogue)
        for station in catalogue:
            classes = tuple(ClassPeriod(c.valid_from, c.station_type, c.public_aqi)
                            for c in station.classes)
            sql_answers = [
                row[0] for row in conn.execute(
                    "SELECT aqi_publishable(%s, d) FROM unnest(%s::date[]) AS d",
                    (station.station_id, days),
                )
            ]
            python = [aqi_publishable(d, station.station_type, station.public_aqi,
                                      station.parameters, classes) for d in days]
            assert sql_answers == python, station.station_id
            # the view's periods give the same answer on each day
            periods = conn.execute(
                "SELECT valid_from, valid_to, aqi_publishable FROM station_class_periods"
                " WHERE station_id = %s", (station.station_id,),
            ).fetchall()
            for d, expected in zip(days, python, strict=True):
                covering = [p for p in periods
                            if (p[0] is None or p[0] <= d) and (p[1] is None or d < p[1])]
                assert len(covering) == 1 and covering[0][2] == expected, (station, d)
        expected_simple = {"AUTO": True, "NOO3": False, "LCS": False, "VAN": False}
        for station_id, expected in expected_simple.items():
            row = conn.execute("SELECT aqi_publishable(%s, '2025-06-01')", (station_id,))
            assert row.fetchone() == (expected,)
        unknown = conn.execute("SELECT aqi_publishable('NOPE', '2025-06-01')").fetchone()
        assert unknown == (False,)


@pytest.mark.usefixtures("clean_db")
def test_reader_role_may_ask(postgres: object, database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(CATALOGUE, encoding="utf-8")
    with psycopg.connect(database_url) as conn:
        sync_catalogue(conn, load_catalogue(path))
    url = postgres.url(user="aqm_reader")  # type: ignore[attr-defined]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT aqi_publishable('UPGRADED', '2025-04-01')").fetchone() == (
            True,)
        assert conn.execute("SELECT count(*) FROM station_class_periods").fetchone() == (9,)  # 4 + 2 + 3 periods


@pytest.mark.parametrize(("entry", "message"), [
    ("{from: 2025-01-01, station_type: low_cost_sensor, public_aqi: true}", "public_aqi must"),
    ("{from: 2025-01-01, station_type: fixed_automatic, public_aqi: false}", "latest entry"),
])
def test_catalogue_refuses_contradictory_class_history(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(
        "stations:\n  - station_id: X\n    name: X\n    latitude: 21.1\n    longitude: 106.0\n"
        "    station_type: fixed_automatic\n    public_aqi: true\n"
        "    parameters: [pm25, o3, no2]\n"
        f"    classes:\n      - {entry}\n", encoding="utf-8",
    )
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(path)


def test_catalogue_refuses_a_correction_without_humidity(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(
        "stations:\n  - station_id: X\n    name: X\n    latitude: 21.1\n    longitude: 106.0\n"
        "    station_type: low_cost_sensor\n    parameters: [pm25]\n"
        "    pm25_correction: us_epa_2021\n", encoding="utf-8",
    )
    with pytest.raises(CatalogueError, match="humidity"):
        load_catalogue(path)
