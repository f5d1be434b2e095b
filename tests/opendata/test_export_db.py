"""Open data files against a real TimescaleDB: written by ``aqm opendata export`` as
``aqm_reader`` and by the worker's regeneration as ``aqm_worker``, read back with
Python's csv module and pyarrow, and compared with the tables row for row.

The expected rows are built here from plain SELECTs of ``hourly``, ``aqi_hourly`` and
``aqi_daily`` with Python's own time formatting; which stations may publish an AQI is
known from how the test registered them (Circular 10/2021 Art. 29-31), not asked of the
code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aqm.cli import main
from aqm.localservices import PostgresInstance
from aqm_core.settings import Settings, load_settings
from opendata.export import Publication
from opendata.regenerate import regenerate_once
from worker.service import drain_once

pytestmark = pytest.mark.services

UTC = dt.UTC
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# Local new year 2025 is 2024-12-31 17:00 UTC: the readings straddle it.
FIRST = dt.datetime(2024, 12, 30, 17, tzinfo=UTC)
HOURS = 72
ELIGIBLE = "BN01"  # fixed automatic, public_aqi, PM2.5 + O3 + NO2
NOT_DECLARED = "BN02"  # fixed automatic without public_aqi
LOW_COST = "LC01"  # low-cost sensor: indicative concentrations, never an AQI
INCOMPLETE_HOUR = FIRST + dt.timedelta(hours=20)  # one of two samples: completeness 0.5
SILENT_HOURS = range(40, 43)  # no readings at all


def _register(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        for station, kind, public, params in (
            (ELIGIBLE, "fixed_automatic", True, ["pm25", "pm10", "o3", "no2"]),
            (NOT_DECLARED, "fixed_automatic", False, ["pm25", "pm10", "o3", "no2"]),
            (LOW_COST, "low_cost_sensor", False, ["pm25", "pm10"]),
        ):
            conn.execute(
                "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
                " public_aqi, report_interval_s, parameters) VALUES (%s, %s, %s, 106.07, %s,"
                " %s, 1800, %s)",
                (station, f"Trạm {station}, Bắc Ninh", 21.18 + len(station) * 0.001, kind,
                 public, params),
            )  # fmt: skip


def _readings(station: str, parameters: list[str], hours: range) -> list[Any]:
    """Two samples per hour (every 30 minutes), values varying so no rule removes them."""
    out = []
    for i in hours:
        if i in SILENT_HOURS:
            continue
        hour = FIRST + dt.timedelta(hours=i)
        for k, parameter in enumerate(parameters):
            for minute in (0, 30):
                if hour == INCOMPLETE_HOUR and minute == 30:
                    continue
                value = 20.0 + k * 7 + (i % 5) * 3.1 + minute / 30 * 1.7
                out.append((station, parameter, hour + dt.timedelta(minutes=minute), value, "00"))
    return out


@pytest.fixture
def province(db: str, settings: Settings, add_readings: Callable[..., int]) -> Settings:
    """Three stations, three days around the local new year, aggregated by the worker."""
    _register(db)
    for station, params in ((ELIGIBLE, ["pm25", "pm10", "o3", "no2"]),
                            (NOT_DECLARED, ["pm25", "pm10", "o3", "no2"]),
                            (LOW_COST, ["pm25", "pm10"])):  # fmt: skip
        add_readings(_readings(station, params, range(HOURS)))
    drain_once(settings=settings, clock=lambda: FIRST + dt.timedelta(hours=HOURS + 12))
    return settings


def _local_year(moment: dt.datetime) -> int:
    return moment.astimezone(ZONE).year


def _num(value: float | None) -> float | str:
    """A number as the CSV must hold it: empty when missing, else the same float."""
    return "" if value is None else float(value)


MEANS_FLOATS = (2, 3, 11, 14)  # latitude, longitude, value, completeness
AQI_FLOATS = (2, 3)


def _floats(rows: list[list[str]], columns: tuple[int, ...]) -> list[list[Any]]:
    """CSV rows with the float columns read by Python's float (empty stays empty)."""
    return [[float(v) if i in columns and v != "" else v for i, v in enumerate(r)] for r in rows]


def _expected_hourly_means(db: str, station: str, year: int) -> list[list[Any]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT h.parameter, p.unit, h.hour, h.mean, h.valid, h.data_level, h.completeness,"
            " h.n_valid, h.n_expected, s.name, s.latitude, s.longitude, s.station_type"
            " FROM hourly h JOIN parameters p USING (parameter) JOIN stations s USING (station_id)"
            " WHERE station_id = %s ORDER BY h.hour, h.parameter", (station,),
        ).fetchall()  # fmt: skip
    out = []
    for (
        parameter,
        unit,
        hour,
        mean,
        valid,
        level,
        completeness,
        n_valid,
        n_exp,
        name,
        lat,
        lon,
        kind,
    ) in rows:
        if _local_year(hour) != year:
            continue
        out.append([
            station, name, _num(lat), _num(lon), kind,
            "true" if kind != "fixed_automatic" else "false",
            parameter, unit, "PT1H",
            hour.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            hour.astimezone(ZONE).isoformat(),
            _num(mean) if valid else "", level, "" if valid else "incomplete",
            _num(completeness), str(n_valid), str(n_exp),
        ])  # fmt: skip
    return out


def _expected_aqi(db: str, station: str, year: int, table: str) -> list[list[Any]]:
    time_column = "hour" if table == "aqi_hourly" else "day"
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            f"SELECT a.{time_column}, a.aqi, a.category, c.name_vi, c.name_en, a.dominant,"
            " a.data_level, a.missing_reason, a.beyond_index, s.name, s.latitude, s.longitude"
            f" FROM {table} a JOIN stations s USING (station_id)"
            " LEFT JOIN aqi_categories c ON c.standard = a.standard AND c.level = a.category"
            f" WHERE a.station_id = %s AND a.standard = 'vn_1459_2019' ORDER BY a.{time_column}",
            (station,),
        ).fetchall()  # fmt: skip
    out = []
    for (
        start,
        aqi,
        category,
        band_vi,
        band_en,
        dominant,
        level,
        reason,
        beyond,
        name,
        lat,
        lon,
    ) in rows:
        if isinstance(start, dt.datetime):
            moment, period = start, "PT1H"
        else:
            moment, period = dt.datetime(start.year, start.month, start.day, tzinfo=ZONE), "P1D"
        if _local_year(moment) != year:
            continue
        flags = ";".join(f for f in (reason, "beyond_index" if beyond else None) if f)
        out.append([
            station, name, _num(lat), _num(lon), "VN_AQI", "index", period,
            moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            moment.astimezone(ZONE).isoformat(),
            "" if aqi is None else str(aqi), "" if category is None else str(category),
            band_vi or "", band_en or "", dominant or "", level, flags,
        ])  # fmt: skip
    return out


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _export(out: Path, url: str, *extra: str) -> None:
    assert main(["opendata", "export", "--out", str(out), "--database-url", url, *extra]) == 0


@pytest.fixture
def reader_url(postgres: PostgresInstance) -> str:
    return postgres.url(user="aqm_reader")


def test_files_hold_exactly_the_database_rows(
    province: Settings, db: str, reader_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "data"
    _export(out, reader_url)
    for year in (2024, 2025):
        stations = out / str(year) / "stations"
        for station in (ELIGIBLE, NOT_DECLARED, LOW_COST):
            header, rows = _read_csv(stations / f"{station}-{year}-hourly-means.csv")
            assert header[:4] == ["station_id", "station_name", "latitude", "longitude"]
            expected = _expected_hourly_means(db, station, year)
            assert expected and _floats(rows, MEANS_FLOATS) == expected
        for name, table in (("aqi-hourly", "aqi_hourly"), ("aqi-daily", "aqi_daily")):
            header, rows = _read_csv(stations / f"{ELIGIBLE}-{year}-{name}.csv")
            expected = _expected_aqi(db, ELIGIBLE, year, table)
            assert expected and _floats(rows, AQI_FLOATS) == expected
            assert "value" in header and "qa_level" in header and "flags" in header
    # The hour 00:00 local on 1 January belongs to 2025, the hour before to 2024.
    _, rows_2025 = _read_csv(out / "2025" / "stations" / f"{ELIGIBLE}-2025-hourly-means.csv")
    assert rows_2025[0][10] == "2025-01-01T00:00:00+07:00"
    assert rows_2025[0][9] == "2024-12-31T17:00:00Z"


def test_aqi_only_where_the_station_may_publish_it(
    province: Settings, db: str, reader_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "data"
    _export(out, reader_url)
    with psycopg.connect(db) as conn:  # the worker computed an AQI for every station
        computed = {r[0] for r in conn.execute("SELECT DISTINCT station_id FROM aqi_hourly")}
    assert computed == {ELIGIBLE, NOT_DECLARED, LOW_COST}
    names = {p.name for p in out.rglob("*-aqi-*")}
    assert names and all(n.startswith(ELIGIBLE) or n.startswith("bac-ninh") for n in names)
    for year in (2024, 2025):
        _, rows = _read_csv(out / str(year) / f"bac-ninh-{year}-aqi-hourly.csv")
        assert {r[0] for r in rows} == {ELIGIBLE}
        # Indicative concentrations are published, labelled as such.
        _, means = _read_csv(out / str(year) / f"bac-ninh-{year}-hourly-means.csv")
        indicative = {r[0]: r[5] for r in means}
        assert indicative == {ELIGIBLE: "false", NOT_DECLARED: "false", LOW_COST: "true"}


def test_missing_values_are_empty_never_zero(
    province: Settings, db: str, reader_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "data"
    _export(out, reader_url)
    _, rows = _read_csv(out / "2024" / "stations" / f"{ELIGIBLE}-2024-hourly-means.csv")
    local = INCOMPLETE_HOUR.astimezone(ZONE).isoformat()
    incomplete = [r for r in rows if r[10] == local]
    assert len(incomplete) == 4
    assert all(r[11] == "" and r[13] == "incomplete" and float(r[14]) == 0.5 for r in incomplete)
    assert all(r[11] != "0" and r[11] != "0.0" for r in rows)
    # Parquet: the same hours are null, not 0 or NaN.
    table = pq.read_table(out / "2024" / "stations" / f"{ELIGIBLE}-2024-hourly-means.parquet")
    values = table.column("value").to_pylist()
    assert values.count(None) == sum(1 for r in rows if r[11] == "")
    assert not any(v is not None and math.isnan(v) for v in values)
    # AQI rows without an index (the NowCast runs out during the silent hours) are empty.
    with psycopg.connect(db) as conn:
        n_missing = conn.execute(
            "SELECT count(*) FROM aqi_hourly WHERE station_id = %s AND standard = 'vn_1459_2019'"
            " AND aqi IS NULL", (ELIGIBLE,)).fetchone()  # fmt: skip
    assert n_missing is not None
    empty = 0
    for year in (2024, 2025):
        _, aqi = _read_csv(out / str(year) / "stations" / f"{ELIGIBLE}-{year}-aqi-hourly.csv")
        empty += sum(1 for r in aqi if r[9] == "")
        assert all(r[14] for r in aqi if r[9] == "")  # a reason is given
    assert empty == n_missing[0]


def test_parquet_types_and_values_match_the_csv(
    province: Settings, reader_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "data"
    _export(out, reader_url)
    for kind in ("hourly-means", "aqi-hourly", "aqi-daily"):
        for scope in (f"2025/stations/{ELIGIBLE}-2025-{kind}", f"2025/bac-ninh-2025-{kind}"):
            table = pq.read_table(out / f"{scope}.parquet")
            header, rows = _read_csv(out / f"{scope}.csv")
            assert table.column_names == header and table.num_rows == len(rows)
            schema = table.schema
            assert schema.field("start_utc").type == pa.timestamp("us", tz="UTC")
            assert schema.field("start_local").type == pa.timestamp("us", tz="Asia/Ho_Chi_Minh")
            assert schema.field("latitude").type == pa.float64()
            value_type = pa.float64() if kind == "hourly-means" else pa.int16()
            assert schema.field("value").type == value_type
            for row, record in zip(rows, table.to_pylist(), strict=True):
                assert record["station_id"] == row[0]
                start = dt.datetime.fromisoformat(row[header.index("start_utc")])
                assert record["start_utc"] == start
                assert record["start_local"] == start
                assert str(record["start_local"].tzinfo) == "Asia/Ho_Chi_Minh"
                text = row[header.index("value")]
                assert record["value"] == (None if text == "" else type(record["value"])(text))
                assert record["flags"] == (row[header.index("flags")] or None)


def test_manifest_sizes_digests_and_province_files(
    province: Settings, reader_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "data"
    _export(out, reader_url)
    manifest = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert manifest["licence"]["name"] == "CC BY 4.0"
    assert "Sở Nông nghiệp và Môi trường tỉnh Bắc Ninh" in manifest["attribution"]
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.suffix in (".csv", ".parquet")}
    assert listed == on_disk
    for f in manifest["files"]:
        data = (out / f["path"]).read_bytes()
        assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
        assert dt.datetime.fromisoformat(f["last_modified"].replace("Z", "+00:00")).tzinfo
    # The province file is every station file of the year, in station order.
    for year in (2024, 2025):
        _, province_rows = _read_csv(out / str(year) / f"bac-ninh-{year}-hourly-means.csv")
        joined = []
        for station in sorted((ELIGIBLE, NOT_DECLARED, LOW_COST)):
            joined += _read_csv(
                out / str(year) / "stations" / f"{station}-{year}-hourly-means.csv"
            )[1]
        assert province_rows == joined
    licence = (out / "LICENSE").read_text(encoding="utf-8")
    assert "creativecommons.org/licenses/by/4.0" in licence and "Bắc Ninh" in licence
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.index("Dữ liệu mở") < page.index("Open air-quality data")
    assert 'href="2025/bac-ninh-2025-aqi-daily.csv"' in page
    assert "http://" not in page.replace("https://creativecommons.org", "")
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "`start_local`" in readme and "µg/m³" in readme


def test_worker_regenerates_changed_station_years_at_most_once_per_interval(
    province: Settings, db: str, worker_url: str, add_readings: Callable[..., int],
    tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "data"
    pub = Publication.from_settings(province, out)
    with psycopg.connect(db) as conn:
        marked = conn.execute(
            "SELECT station_id, year FROM opendata_pending ORDER BY 1, 2"
        ).fetchall()
    assert marked == [
        (s, y) for s in sorted((ELIGIBLE, NOT_DECLARED, LOW_COST)) for y in (2024, 2025)
    ]
    hour = dt.timedelta(hours=1)
    now = dt.datetime.now(UTC)  # the files are stamped with the real time
    with psycopg.connect(worker_url, autocommit=True) as conn:
        first = regenerate_once(conn, pub, hour, now)
        assert (first.station_years, first.province_years) == (6, 2)
        assert conn.execute("SELECT count(*) FROM opendata_pending").fetchone() == (0,)
        before = (out / "2025" / "stations" / f"{ELIGIBLE}-2025-hourly-means.csv").read_bytes()

        # Late readings of 2025 for one station: only its 2025 files change.
        late = FIRST + dt.timedelta(hours=HOURS)
        add_readings(_readings(ELIGIBLE, ["pm25", "pm10", "o3", "no2"], range(HOURS, HOURS + 3)))
        drain_once(settings=province, clock=lambda: late + dt.timedelta(hours=12))
        assert conn.execute("SELECT station_id, year FROM opendata_pending").fetchall() == [
            (ELIGIBLE, 2025)
        ]

        # Within the interval of its last rewrite the file waits; its mark stays.
        waiting = regenerate_once(conn, pub, hour, now + dt.timedelta(minutes=10))
        assert (waiting.station_years, waiting.waiting) == (0, 1)
        assert (
            out / "2025" / "stations" / f"{ELIGIBLE}-2025-hourly-means.csv"
        ).read_bytes() == before

        later = regenerate_once(conn, pub, hour, now + dt.timedelta(minutes=61))
        assert (later.station_years, later.province_years) == (1, 1)
    _, rows = _read_csv(out / "2025" / "stations" / f"{ELIGIBLE}-2025-hourly-means.csv")
    assert _floats(rows, MEANS_FLOATS) == _expected_hourly_means(db, ELIGIBLE, 2025)
    assert any(r[9] == late.strftime("%Y-%m-%dT%H:%M:%SZ") for r in rows)
    _, province_rows = _read_csv(out / "2025" / "bac-ninh-2025-hourly-means.csv")
    assert sum(1 for r in province_rows if r[0] == ELIGIBLE) == len(rows)


def test_a_station_year_whose_data_are_gone_loses_its_files(
    province: Settings, db: str, reader_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "data"
    _export(out, reader_url)
    with psycopg.connect(db, autocommit=True) as conn:
        for table in ("hourly", "aqi_hourly", "aqi_daily"):
            conn.execute(f"DELETE FROM {table} WHERE station_id = %s", (LOW_COST,))
    _export(out, reader_url, "--station", LOW_COST)
    assert not list(out.rglob(f"{LOW_COST}-*"))
    manifest = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert not [f for f in manifest["files"] if f["station_id"] == LOW_COST]
    _, rows = _read_csv(out / "2025" / "bac-ninh-2025-hourly-means.csv")
    assert {r[0] for r in rows} == {ELIGIBLE, NOT_DECLARED}


def test_export_errors_name_the_option(
    province: Settings, reader_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["opendata", "export", "--out", str(tmp_path), "--database-url", reader_url,
                 "--station", "NOPE"])  # fmt: skip
    assert code == 2 and "--station" in capsys.readouterr().err
    assert main(["opendata", "export", "--year", "99"]) == 2
    assert "--year" in capsys.readouterr().err


def test_settings_name_the_folder_and_interval(no_aqm_settings: None) -> None:
    settings = load_settings()
    assert settings.opendata_dir.parts[-2:] == (".aqm", "opendata")
    assert settings.opendata_interval_s == 3600
    assert Publication.from_settings(settings).publisher == (
        "Sở Nông nghiệp và Môi trường tỉnh Bắc Ninh"
    )


def test_a_station_upgraded_on_new_year_publishes_its_aqi_from_that_day(
    province: Settings, db: str, reader_url: str, tmp_path: Path
) -> None:
    # A low-cost site until 31 December 2024, a certified automatic station from
    # 1 January 2025 (local days): AQI from the first local hour of 2025 only.
    classes = (
        '[{"from": "2024-01-01", "station_type": "low_cost_sensor", "public_aqi": false},'
        ' {"from": "2025-01-01", "station_type": "fixed_automatic", "public_aqi": true}]'
    )
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "UPDATE stations SET classes = %s::jsonb WHERE station_id = %s", (classes, NOT_DECLARED)
        )
    out = tmp_path / "data"
    _export(out, reader_url)
    assert not (out / "2024" / "stations" / f"{NOT_DECLARED}-2024-aqi-hourly.csv").exists()
    _, aqi = _read_csv(out / "2025" / "stations" / f"{NOT_DECLARED}-2025-aqi-hourly.csv")
    assert aqi and aqi[0][8] == "2025-01-01T00:00:00+07:00"
    for year, kind, indicative in (
        (2024, "low_cost_sensor", "true"),
        (2025, "fixed_automatic", "false"),
    ):
        _, means = _read_csv(
            out / str(year) / "stations" / f"{NOT_DECLARED}-{year}-hourly-means.csv"
        )
        assert {(r[4], r[5]) for r in means} == {(kind, indicative)}


def test_the_worker_thread_writes_the_marked_station_years(
    province: Settings, worker_url: str, tmp_path: Path
) -> None:
    import threading

    from opendata.regenerate import start_regenerator

    out = tmp_path / "data"
    settings = load_settings(database_url=worker_url, opendata_dir=out, opendata_interval_s=0.01,
                             worker_poll_s=0.05)  # fmt: skip
    stop = threading.Event()
    thread = start_regenerator(settings, stop)
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=60)
        while not (out / "2025" / "bac-ninh-2025-hourly-means.parquet").exists():
            assert dt.datetime.now() < deadline, "no province file after 60 s"
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    manifest = json.loads((out / "index.json").read_text(encoding="utf-8"))
    stations = {f["station_id"] for f in manifest["files"]}
    assert stations == {ELIGIBLE, NOT_DECLARED, LOW_COST, None}
