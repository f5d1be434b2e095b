"""QA/QC against the real TimescaleDB: automatic flags through the worker, an officer's
invalidation and restoration, the append-only audit trail, roles and data levels.

Convergence is checked against an independent run: a second database in which the
invalidated readings were never inserted, computed by the same worker from scratch.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aqm.cli import main as aqm
from aqm.localservices import PostgresInstance
from aqm_core.settings import Settings, load_settings
from storage.migrate import migrate
from worker.service import drain_once

pytestmark = pytest.mark.services

UTC = dt.UTC
LOCAL = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2025, 3, 9, 17, tzinfo=UTC)  # 2025-03-10 00:00 local
NOW = dt.datetime(2025, 3, 20, tzinfo=UTC)
ROLES = ("postgres", "aqm_ingest", "aqm_worker", "aqm_reader", "aqm_validator")

Reading = tuple[str, str, dt.datetime, float, str]


def _rows(url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def _drain(url: str, settings: Settings) -> None:
    drain_once(url, settings, clock=lambda: NOW)


def _store(url: str, readings: list[Reading]) -> None:
    """Store readings and queue their station-hours, as ingest does."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY readings (station_id, parameter, ts, value, original_value, original_unit,"
            " status, source_format, received_at) FROM STDIN"
        ) as copy:
            for s, p, ts, v, status in readings:
                copy.write_row((s, p, ts, v, v, "µg/m³", status, "aqm_json", ts))
        cur.execute(
            "INSERT INTO aqi_dirty_hours (station_id, hour)"
            " SELECT DISTINCT station_id, time_bucket(INTERVAL '1 hour', ts) FROM readings"
        )


def _station(url: str, station: str, interval_s: int = 3600) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
            " report_interval_s) VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', %s)",
            (station, f"Trạm {station}", interval_s),
        )


def _qc(url: str, *args: str) -> int:
    return aqm(["qc", *args, "--database-url", url])


def _three_days(station: str = "BN01") -> list[Reading]:
    """Hourly PM2.5, PM10, NO2 over three local days, varying (no flat lines)."""
    out: list[Reading] = []
    for h in range(72):
        ts = START + dt.timedelta(hours=h, minutes=20)
        pm25 = 20.0 + 15.0 * math.sin(h / 5.0) + (h % 7)
        out += [(station, "pm25", ts, round(pm25, 1), "00"),
                (station, "pm10", ts, round(1.8 * pm25 + 3, 1), "00"),
                (station, "no2", ts, round(35.0 + (h * 7) % 23, 1), "00")]  # fmt: skip
    return out


SNAPSHOT_QUERIES = {
    # The removal counters say what the officer removed: everything else must equal a
    # run that never saw the readings.
    "hourly": "SELECT station_id, parameter, hour, mean, n_valid, n_flagged, n_expected,"
              " completeness, valid, n_qc_range, n_qc_negative, n_qc_flat_line, n_qc_spike,"
              " n_qc_pm_ratio, data_level FROM hourly ORDER BY 1, 2, 3",
    "aqi_hourly": "SELECT * FROM aqi_hourly ORDER BY station_id, standard, hour",
    "aqi_daily": "SELECT * FROM aqi_daily ORDER BY station_id, standard, day",
    "qc_flags": "SELECT station_id, parameter, ts, flags, rules_version FROM qc_flags"
                " ORDER BY 1, 2, 3",
}  # fmt: skip


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with psycopg.connect(url) as conn:
        for table, query in SNAPSHOT_QUERIES.items():
            cur = conn.execute(query)
            names = [d.name for d in cur.description or []]
            keep = [i for i, n in enumerate(names) if n != "computed_at"]
            out[table] = [tuple(row[i] for i in keep) for row in cur.fetchall()]
    return out


@pytest.fixture(scope="session")
def reference_url(postgres: PostgresInstance, database_url: str) -> str:
    """A second migrated database on the same server, for independent runs."""
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS aqm_reference")
        conn.execute("CREATE DATABASE aqm_reference")
    url = postgres.url("aqm_reference")
    migrate(url)
    return url


@pytest.fixture
def reference(reference_url: str) -> Iterator[str]:
    with psycopg.connect(reference_url, autocommit=True) as conn:
        conn.execute("TRUNCATE readings, aqi_dirty_hours, hourly, aqi_hourly, aqi_daily,"
                     " qc_flags, stations CASCADE")  # fmt: skip
    yield reference_url


@pytest.fixture
def shipped_settings(worker_url: str) -> Settings:
    """The worker with the rules as shipped in qaqc/rules.toml."""
    return load_settings(database_url=worker_url, worker_batch_hours=500)


# --- automatic rules through the worker ---------------------------------------------


def test_worker_flags_each_rule_and_means_use_only_unflagged_readings(
    db: str, worker_url: str, shipped_settings: Settings
) -> None:
    """Five-minute PM2.5/PM10 with one fault of each kind, flags written in the test.

    Shipped thresholds (qaqc/rules.toml): PM spike 300 (PM2.5) / 400 (PM10), flat line
    12, range 1000, negative below −10, PM2.5 > PM10·1.1 + 5.
    """
    _station(db, "QC01", 300)
    h0 = START  # hour 0: calibration status; hour 1: spike; hour 2: PM2.5 > PM10
    pm25 = [10.0 + (i % 5) for i in range(60)]  # five hours of 5-minute values
    pm10 = [30.0 + (i % 4) for i in range(60)]
    status25 = ["00"] * 60
    status25[2] = "01"  # hour 0, 10 min: calibration
    pm25[17] = 400.0  # hour 1, 25 min: spike (neighbours 11 and 13: 400 − 12 > 300)
    for i in range(24, 36):  # hour 2: PM2.5 ≈ 60 > PM10 ≈ 31.5 · 1.1 + 5
        pm25[i] = 60.0 + (i % 3)
    for i in range(36, 48):  # hour 3: stuck PM10 at 33.3, twelve times
        pm10[i] = 33.3
    pm25[50] = -12.0  # hour 4, 10 min: negative beyond noise
    pm10[55] = 1500.0  # hour 4, 35 min: beyond the instrument range
    readings: list[Reading] = []
    for i in range(60):
        ts = h0 + dt.timedelta(minutes=5 * i)
        readings += [("QC01", "pm25", ts, pm25[i], status25[i]),
                     ("QC01", "pm10", ts, pm10[i], "00")]  # fmt: skip
    _store(db, readings)
    _drain(worker_url, shipped_settings)

    def at(i: int) -> dt.datetime:
        return h0 + dt.timedelta(minutes=5 * i)

    expected = {("pm25", at(2)): ["calibration"], ("pm25", at(17)): ["spike"],
                ("pm25", at(50)): ["negative"], ("pm10", at(55)): ["out_of_range"]}  # fmt: skip
    expected |= {("pm10", at(i)): ["flat_line"] for i in range(36, 48)}
    expected |= {(p, at(i)): ["pm25_gt_pm10"] for i in range(24, 36) for p in ("pm25", "pm10")}
    flags = _rows(db, "SELECT parameter, ts, codes, rules_version FROM qc_flags_named"
                      " WHERE station_id = 'QC01'")  # fmt: skip
    assert {(p, ts): codes for p, ts, codes, _ in flags} == expected
    assert {v for *_, v in flags} == {"aqm-qc-1"}

    hourly = {
        (p, int((h - h0).total_seconds() // 3600)): rest
        for p, h, *rest in _rows(
            db, "SELECT parameter, hour, n_valid, n_flagged, n_qc_spike, n_qc_pm_ratio,"
                " n_qc_flat_line, n_qc_negative, n_qc_range, mean FROM hourly"
                " WHERE station_id = 'QC01'",
        )
    }  # fmt: skip
    assert hourly[("pm25", 0)][:7] == [11, 1, 0, 0, 0, 0, 0]
    assert hourly[("pm25", 1)][:7] == [11, 0, 1, 0, 0, 0, 0]
    assert hourly[("pm25", 2)][:7] == [0, 0, 0, 12, 0, 0, 0]
    assert hourly[("pm10", 2)][:7] == [0, 0, 0, 12, 0, 0, 0]
    assert hourly[("pm10", 3)][:7] == [0, 0, 0, 0, 12, 0, 0]
    assert hourly[("pm25", 4)][:7] == [11, 0, 0, 0, 0, 1, 0]
    assert hourly[("pm10", 4)][:7] == [11, 0, 0, 0, 0, 0, 1]
    # The spike hour's mean is that of the other eleven readings, in time order.
    others = [pm25[i] for i in range(12, 24) if i != 17]
    assert hourly[("pm25", 1)][7] == pytest.approx(sum(others) / 11, rel=1e-12)
    assert hourly[("pm25", 2)][7] is None
    # The raw readings are untouched.
    assert _rows(db, "SELECT value, status FROM readings WHERE station_id = 'QC01'"
                     " AND parameter = 'pm25' AND ts = %s", at(17)) == [(400.0, "00")]  # fmt: skip


def test_station_instrument_range_replaces_the_default_range(
    db: str, worker_url: str, shipped_settings: Settings, tmp_path: Path
) -> None:
    """A reading inside the rules file's range (PM2.5 up to 1000) but above the range the
    catalogue gives the station's instrument (0-100) is flagged and left out of the mean;
    the same reading at a station without a range is kept."""
    from stations.catalogue import load_catalogue
    from stations.registry import sync_catalogue

    station = """\
  - station_id: {sid}
    name: Trạm {sid}
    latitude: 21.18
    longitude: 106.07
    station_type: fixed_automatic
    report_interval_s: 300
    parameters: [pm25]
"""
    path = tmp_path / "catalogue.yaml"
    path.write_text("stations:\n" + station.format(sid="QC05")
                    + "    instrument_ranges: {pm25: [0, 100]}\n"
                    + station.format(sid="QC06"), encoding="utf-8")  # fmt: skip
    with psycopg.connect(db, autocommit=True) as conn:
        sync_catalogue(conn, load_catalogue(path))
    pm25 = [20.0 + (i % 5) for i in range(24)]  # two hours of 5-minute values
    pm25[17] = 150.0  # hour 1, 25 min: a step of 128 (below the 300 spike bound)
    readings = [(sid, "pm25", START + dt.timedelta(minutes=5 * i), v, "00")
                for sid in ("QC05", "QC06") for i, v in enumerate(pm25)]  # fmt: skip
    _store(db, readings)
    _drain(worker_url, shipped_settings)

    flags = _rows(db, "SELECT station_id, parameter, ts, codes FROM qc_flags_named"
                      " WHERE station_id IN ('QC05', 'QC06')")  # fmt: skip
    assert flags == [("QC05", "pm25", START + dt.timedelta(minutes=85), ["out_of_range"])]
    hourly = {
        (sid, int((h - START).total_seconds() // 3600)): (n_valid, n_range, mean)
        for sid, h, n_valid, n_range, mean in _rows(
            db, "SELECT station_id, hour, n_valid, n_qc_range, mean FROM hourly"
                " WHERE station_id IN ('QC05', 'QC06') AND parameter = 'pm25'",
        )
    }  # fmt: skip
    others = [pm25[i] for i in range(12, 24) if i != 17]
    assert hourly[("QC05", 1)] == (11, 1, pytest.approx(sum(others) / 11, rel=1e-12))
    assert hourly[("QC06", 1)] == (12, 0, pytest.approx(sum(pm25[12:24]) / 12, rel=1e-12))
    assert hourly[("QC05", 0)] == hourly[("QC06", 0)] == (12, 0, pytest.approx(sum(pm25[:12]) / 12))


def test_late_reading_rechecks_the_flags_of_the_hours_around_it(
    db: str, worker_url: str, shipped_settings: Settings
) -> None:
    """A late reading that completes a flat line flags readings in hours already computed."""
    _station(db, "QC02", 3600)
    values = [20.0, 21.0, 22.0] + [30.0] * 11 + [23.0, 24.0]  # hours 3…13: eleven 30s
    readings = [("QC02", "no2", START + dt.timedelta(hours=h, minutes=10), v, "00")
                for h, v in enumerate(values)]  # fmt: skip
    late = readings.pop(14)  # hour 14 (a 24) arrives later; the run stays 11 long
    _store(db, readings)
    _drain(worker_url, shipped_settings)
    assert _rows(db, "SELECT count(*) FROM qc_flags WHERE station_id = 'QC02'") == [(0,)]
    # Now hour 2 is re-sent as 30 (a datalogger backlog with the stuck value): run of 12.
    with psycopg.connect(db) as conn:
        conn.execute("DELETE FROM readings WHERE station_id = 'QC02' AND ts = %s",
                     (START + dt.timedelta(hours=2, minutes=10),))  # fmt: skip
    _store(db, [("QC02", "no2", START + dt.timedelta(hours=2, minutes=10), 30.0, "00"), late])
    _drain(worker_url, shipped_settings)
    flagged = _rows(db, "SELECT ts FROM qc_flags WHERE station_id = 'QC02' ORDER BY ts")
    assert [t for (t,) in flagged] == [START + dt.timedelta(hours=h, minutes=10)
                                       for h in range(2, 14)]  # fmt: skip
    valid = _rows(db, "SELECT count(*) FROM hourly WHERE station_id = 'QC02' AND valid")
    assert valid == [(len(values) - 12,)]


# --- an officer's invalidation converges to a run without the period ------------------


@pytest.mark.parametrize("parameter", [None, "pm25"])
def test_invalidate_then_restore_converge_to_independent_runs(
    db: str, worker_url: str, settings: Settings, reference: str, postgres: PostgresInstance,
    parameter: str | None,
) -> None:  # fmt: skip
    readings = _three_days()
    # A spike right after the period (PM2.5 400, PM10 800 at hour 37): invalidated,
    # the period leaves it without a neighbour within 90 minutes, so it is not flagged.
    s, _, ts, _, st = readings[37 * 3]
    readings[37 * 3] = (s, "pm25", ts, 400.0, st)
    readings[37 * 3 + 1] = (s, "pm10", ts, 800.0, st)
    period = (START + dt.timedelta(hours=30), START + dt.timedelta(hours=36, minutes=30))
    for url in (db, reference):
        _station(url, "BN01")
    _store(db, readings)
    _drain(worker_url, settings)
    full = _snapshot(db)
    assert _rows(db, "SELECT parameter FROM qc_flags WHERE ts = %s ORDER BY 1", ts) == [
        ("pm10",),
        ("pm25",),
    ]

    validator = postgres.url(user="aqm_validator")
    args = ["--station", "BN01", "--from", period[0].astimezone(LOCAL).isoformat(),
            "--to", period[1].isoformat()]  # fmt: skip
    if parameter:
        args += ["--parameter", parameter]
    assert _qc(validator, "invalidate", *args, "--reason", "maintenance",
               "--note", "filter change", "--by", "Nguyễn Văn A") == 0  # fmt: skip
    _drain(worker_url, settings)

    def inside(r: Reading) -> bool:
        return period[0] <= r[2] < period[1] and parameter in (None, r[1])

    _store(reference, [r for r in readings if not inside(r)])
    _drain(postgres.url("aqm_reference", "aqm_worker"), settings)
    invalidated = _snapshot(db)
    assert invalidated == _snapshot(reference)
    assert invalidated != full  # the period mattered
    spike_flags = _rows(db, "SELECT parameter FROM qc_flags WHERE ts = %s ORDER BY 1", ts)
    assert spike_flags == ([] if parameter is None else [("pm10",)])
    gone = _rows(db, "SELECT DISTINCT parameter FROM hourly WHERE hour >= %s AND hour < %s ORDER BY 1",
                 period[0], period[1])  # fmt: skip
    assert gone == ([] if parameter is None else [("no2",), ("pm10",)])
    # The readings themselves are all still stored.
    assert _rows(db, "SELECT count(*) FROM readings")[0][0] == len(readings)

    assert _qc(validator, "restore", *args, "--note", "filter change was logged on the wrong "
               "station", "--by", "Trần Thị B") == 0  # fmt: skip
    _drain(worker_url, settings)
    assert _snapshot(db) == full


def test_restore_of_one_parameter_inside_an_invalidated_station(
    db: str, worker_url: str, settings: Settings, reference: str, postgres: PostgresInstance
) -> None:
    readings = _three_days()
    period = (START + dt.timedelta(hours=10), START + dt.timedelta(hours=20))
    for url in (db, reference):
        _station(url, "BN01")
    _store(db, readings)
    _drain(worker_url, settings)
    validator = postgres.url(user="aqm_validator")
    sel = ["--station", "BN01", "--from", period[0].isoformat(), "--to", period[1].isoformat()]
    assert _qc(validator, "invalidate", *sel, "--reason", "power_outage", "--by", "A") == 0
    assert _qc(validator, "restore", *sel, "--parameter", "no2", "--by", "A") == 0
    _drain(worker_url, settings)
    _store(reference, [r for r in readings
                       if not (period[0] <= r[2] < period[1] and r[1] != "no2")])  # fmt: skip
    _drain(postgres.url("aqm_reference", "aqm_worker"), settings)
    assert _snapshot(db) == _snapshot(reference)


# --- audit trail ------------------------------------------------------------------------


def test_audit_rows_record_who_when_what_why_and_the_state_before(
    db: str, postgres: PostgresInstance, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _station(db, "BN01")
    validator = postgres.url(user="aqm_validator")
    assert _qc(validator, "invalidate", "--station", "BN01", "--from", "2025-03-10",
               "--to", "2025-03-10", "--reason", "calibration", "--by", "A") == 0  # fmt: skip
    assert _qc(validator, "restore", "--station", "BN01", "--parameter", "pm25",
               "--from", "2025-03-10T06:00+07:00", "--to", "2025-03-10T08:00+07:00",
               "--note", "checked", "--by", "B") == 0  # fmt: skip
    rows = _rows(db, "SELECT id, action, parameter, period_start, period_end, reason, note,"
                     " performed_by, db_user, state_before FROM qc_actions ORDER BY id")  # fmt: skip
    first, second = rows
    # A local date is the whole local day: 00:00 +07:00 to the next 00:00.
    assert first[1:9] == ("invalidate", None, dt.datetime(2025, 3, 9, 17, tzinfo=UTC),
                          dt.datetime(2025, 3, 10, 17, tzinfo=UTC), "calibration", None, "A",
                          "aqm_validator")  # fmt: skip
    assert first[9] == []
    assert second[1:9] == ("restore", "pm25", dt.datetime(2025, 3, 9, 23, tzinfo=UTC),
                           dt.datetime(2025, 3, 10, 1, tzinfo=UTC), None, "checked", "B",
                           "aqm_validator")  # fmt: skip
    assert [(s["id"], s["action"], s["reason"]) for s in second[9]] == [
        (first[0], "invalidate", "calibration")
    ]
    # Both queued their station-hours (24 and 2) for the AQI worker.
    assert _rows(db, "SELECT count(*) FROM aqi_dirty_hours WHERE station_id = 'BN01'") == [(26,)]

    capsys.readouterr()
    out = tmp_path / "history.csv"
    assert _qc(validator, "history", "--station", "BN01", "-o", str(out)) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,performed_at,performed_by,db_user,action")
    assert len(lines) == 3 and ",restore," in lines[2]


@pytest.mark.parametrize("role", ROLES)
def test_audit_rows_are_append_only_for_every_role(
    db: str, postgres: PostgresInstance, role: str
) -> None:
    with psycopg.connect(db) as conn:
        conn.execute(
            "INSERT INTO qc_actions (action, station_id, period_start, period_end, reason,"
            " performed_by, db_user, performed_at, state_before) VALUES ('invalidate', 'BN01',"
            " %s, %s, 'other', 'A', '', now(), '[]')", (START, START + dt.timedelta(hours=1)),
        )  # fmt: skip
    url = postgres.url(user=role)
    for statement in ("UPDATE qc_actions SET note = 'changed'",
                      "UPDATE qc_actions SET performed_by = 'someone else'",
                      "DELETE FROM qc_actions", "TRUNCATE qc_actions"):  # fmt: skip
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    assert _rows(db, "SELECT note, performed_by FROM qc_actions") == [(None, "A")]


def test_the_server_stamps_who_and_when_whatever_the_client_sends(
    db: str, postgres: PostgresInstance
) -> None:
    with psycopg.connect(postgres.url(user="aqm_validator")) as conn:
        conn.execute(
            "INSERT INTO qc_actions (action, station_id, period_start, period_end, reason,"
            " performed_by, db_user, performed_at, state_before) VALUES ('invalidate', 'BN01',"
            " %s, %s, 'other', 'A', 'postgres', '2000-01-01', '[{\"forged\": 1}]')",
            (START, START + dt.timedelta(hours=1)),
        )  # fmt: skip
    ((user, at, before),) = _rows(db, "SELECT db_user, performed_at, state_before FROM qc_actions")
    assert user == "aqm_validator" and before == []
    assert at > dt.datetime.now(UTC) - dt.timedelta(minutes=5)


# --- roles ------------------------------------------------------------------------------


def _denied(url: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement, params)


def test_validator_writes_the_validation_table_and_nothing_else(
    db: str, postgres: PostgresInstance
) -> None:
    url = postgres.url(user="aqm_validator")
    hour = (START,)
    _denied(url, "INSERT INTO aqi_dirty_hours (station_id, hour) VALUES ('BN01', %s)", hour)
    _denied(url, "INSERT INTO qc_flags (station_id, parameter, ts, flags, rules_version)"
                 " VALUES ('BN01', 'pm25', %s, 8, 'x')", hour)  # fmt: skip
    _denied(url, "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
                 " original_unit, source_format, received_at) VALUES ('BN01', 'pm25', %s, 1, 1,"
                 " 'µg/m³', 'aqm_json', now())", hour)  # fmt: skip
    _denied(url, "UPDATE hourly SET mean = 0")
    _denied(url, "DELETE FROM aqi_hourly")
    _denied(url, "UPDATE stations SET public_aqi = true")
    _denied(url, "CREATE TABLE forged (x int)")
    with psycopg.connect(url) as conn:  # what it may do
        conn.execute("SELECT * FROM qc_flags_named, qc_actions, hourly LIMIT 1")


def test_reader_sees_flags_and_levels_but_records_nothing(
    db: str, postgres: PostgresInstance
) -> None:
    url = postgres.url(user="aqm_reader")
    with psycopg.connect(url) as conn:
        conn.execute("SELECT codes FROM qc_flags_named LIMIT 1")
        conn.execute("SELECT * FROM qc_verified_periods, qc_manual_periods, qc_rule_codes LIMIT 1")
        conn.execute("SELECT data_level FROM hourly UNION ALL SELECT data_level FROM aqi_hourly"
                     " UNION ALL SELECT data_level FROM aqi_daily")  # fmt: skip
    _denied(url, "INSERT INTO qc_actions (action, station_id, period_start, period_end,"
                 " reason, performed_by, db_user, performed_at, state_before) VALUES"
                 " ('invalidate', 'BN01', %s, %s, 'other', 'A', '', now(), '[]')",
            (START, START + dt.timedelta(hours=1)))  # fmt: skip
    _denied(postgres.url(user="aqm_worker"), "INSERT INTO qc_actions (action, station_id,"
            " period_start, period_end, reason, performed_by, db_user, performed_at,"
            " state_before) VALUES ('invalidate', 'BN01', %s, %s, 'other', 'A', '', now(),"
            " '[]')", (START, START + dt.timedelta(hours=1)))  # fmt: skip


def test_cli_names_a_role_that_may_not_validate(
    db: str, postgres: PostgresInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    _station(db, "BN01")
    code = _qc(postgres.url(user="aqm_reader"), "invalidate", "--station", "BN01",
               "--from", "2025-03-10", "--to", "2025-03-10", "--reason", "other", "--by", "A")  # fmt: skip
    assert code == 2
    assert "may not record" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-03-10T08:00", "--to", "2025-03-11"], "give the UTC offset"),
        (["--from", "10/03/2025", "--to", "2025-03-11"], "--from '10/03/2025'"),
        (["--from", "2025-03-11", "--to", "2025-03-10"], "is not before"),
        (["--from", "2025-03-10", "--to", "2025-03-10", "--parameter", "pm1"], "--parameter"),
    ],
)
def test_cli_errors_name_the_option(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    _station(db, "BN01")
    code = _qc(db, "invalidate", "--station", "BN01", *args, "--reason", "other", "--by", "A")
    assert code == 2
    assert message in capsys.readouterr().err
    code = _qc(db, "invalidate", "--station", "XX99", "--from", "2025-03-10", "--to",
               "2025-03-10", "--reason", "other", "--by", "A")  # fmt: skip
    assert code == 2 and "--station 'XX99'" in capsys.readouterr().err


def test_cli_reason_codes_are_the_storage_codes() -> None:
    from aqm.commands.qc import REASONS as CLI_REASONS
    from storage.qc import REASONS

    assert CLI_REASONS == REASONS


# --- data levels ------------------------------------------------------------------------


def test_verified_days_raise_every_row_of_those_days_to_verified(
    db: str, worker_url: str, settings: Settings, postgres: PostgresInstance,
    tmp_path: Path,
) -> None:  # fmt: skip
    _station(db, "BN01")
    _store(db, _three_days())
    _drain(worker_url, settings)
    assert _rows(db, "SELECT DISTINCT data_level FROM hourly UNION SELECT DISTINCT data_level"
                     " FROM aqi_hourly UNION SELECT DISTINCT data_level FROM aqi_daily") == [
        ("provisional",)
    ]  # fmt: skip
    assert _qc(postgres.url(user="aqm_validator"), "verify", "--station", "BN01",
               "--from", "2025-03-11", "--to", "2025-03-11", "--by", "A") == 0  # fmt: skip
    _drain(worker_url, settings)
    day_start, day_end = START + dt.timedelta(days=1), START + dt.timedelta(days=2)
    for table in ("hourly", "aqi_hourly"):
        levels = _rows(db, f"SELECT hour >= %s AND hour < %s, data_level, count(*) FROM {table}"
                           " GROUP BY 1, 2 ORDER BY 1", day_start, day_end)  # fmt: skip
        assert [(inside, level) for inside, level, _ in levels] == [
            (False, "provisional"),
            (True, "verified"),
        ], table
    daily = _rows(db, "SELECT day, data_level FROM aqi_daily WHERE standard = 'vn_1459_2019'"
                      " ORDER BY day")  # fmt: skip
    assert len(daily) >= 4  # the days the data reach (neighbours included)
    assert [(d.isoformat(), level) for d, level in daily if level == "verified"] == [
        ("2025-03-11", "verified")
    ]
    # The flags export lists the verification beside the automatic flags.
    out = tmp_path / "flags.csv"
    assert _qc(db, "flags", "--station", "BN01", "--from", "2025-03-10", "--to", "2025-03-12",
               "-o", str(out)) == 0  # fmt: skip
    assert any(line.startswith("verify,BN01,*,") for line in out.read_text().splitlines())


def test_settings_fixture_uses_the_shipped_rules_except_flat_line(
    rules_without_flat_line: Path,
) -> None:
    from qaqc.rules import load_rules

    shipped, test = load_rules(), load_rules(rules_without_flat_line)
    assert all(p.flat_line_n == 0 for p in test.parameters.values())
    assert {k: (p.spike, p.range_max, p.negative_below) for k, p in shipped.parameters.items()} == {
        k: (p.spike, p.range_max, p.negative_below) for k, p in test.parameters.items()
    }


def test_a_change_of_rules_is_applied_to_history_by_backfill_with_its_version(
    db: str, worker_url: str, shipped_settings: Settings, tmp_path: Path
) -> None:
    from worker.backfill import run_backfill

    _station(db, "BN01")
    readings = _three_days()
    s, p, ts, _, st = readings[40 * 3]  # PM2.5 at hour 40: 95, neighbours ≈ 20–40
    readings[40 * 3] = (s, p, ts, 95.0, st)
    readings[40 * 3 + 1] = (s, "pm10", ts, 300.0, st)
    _store(db, readings)
    _drain(worker_url, shipped_settings)
    assert _rows(db, "SELECT count(*) FROM qc_flags") == [(0,)]  # 95 is no spike at 300
    stricter = tmp_path / "rules.toml"
    text = shipped_settings.qc_rules_file.read_text(encoding="utf-8")
    stricter.write_text(
        text.replace('version = "aqm-qc-1"', 'version = "province-2"').replace(
            "spike = 300.0", "spike = 50.0", 1
        ),
        encoding="utf-8",
    )
    settings = load_settings(database_url=worker_url, qc_rules_file=stricter)
    run_backfill(worker_url, settings, dt.date(2025, 3, 10), dt.date(2025, 3, 12), now=NOW)
    assert _rows(db, "SELECT parameter, ts, codes, rules_version FROM qc_flags_named") == [
        ("pm25", ts, ["spike"], "province-2")
    ]
    assert _rows(db, "SELECT DISTINCT rules_version FROM hourly") == [("province-2",)]
    # The flags export names the rule and its version.
    out = tmp_path / "flags.csv"
    assert _qc(db, "flags", "--station", "BN01", "--from", "2025-03-10", "--to", "2025-03-12",
               "-o", str(out)) == 0  # fmt: skip
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ("source,station_id,parameter,time_from,time_to,value,status,code,"
                        "rules_version,action_id,note,performed_by")  # fmt: skip
    assert lines[1:] == [f"automatic,BN01,pm25,{ts.isoformat()},{ts.isoformat()},95.0,00,spike,"
                         "province-2,,,"]  # fmt: skip
