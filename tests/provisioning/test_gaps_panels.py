"""The "Mẫu thiếu" dashboard's SQL, run as aqm_reader like Grafana, against gaps written
here and against the Python finder (worker/gaps.py) on random losses."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from dashboards.gaps import GAP_PERIODS_SQL, MISSING_PER_DAY_SQL, MISSING_PER_STATION_SQL
from tests.provisioning.macros import TimeRange, VariableValue
from tests.provisioning.seed import Runner
from worker.gap_report import gap_report
from worker.gaps import Schedule, expected_slots

ICT = dt.timezone(dt.timedelta(hours=7))
DAY1 = dt.datetime(2025, 3, 1, tzinfo=ICT)
DAY2 = DAY1 + dt.timedelta(days=1)
RANGE = TimeRange(DAY1, DAY2 + dt.timedelta(days=1))
IDS = ("BN-01", "BN-02", "BN-03")

pytestmark = pytest.mark.services


def variables(selected: tuple[str, ...] = ("$__all",)) -> dict[str, VariableValue]:
    return {"station": VariableValue(selected, multi=True, include_all=True, options=IDS)}


def execute(url: str, statement: str, *params: object) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def add_station(url: str, station_id: str, parameters: list[str], interval: int,
                installed_on: dt.date | None = None, retired_on: dt.date | None = None) -> None:  # fmt: skip
    execute(url, "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
                 " report_interval_s, parameters, installed_on, retired_on, status)"
                 " VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', %s, %s, %s, %s, %s)",
            station_id, f"Trạm {station_id}", interval, parameters, installed_on, retired_on,
            "retired" if retired_on else "active")  # fmt: skip


def add_series(url: str, station_id: str, parameter: str, start: dt.datetime,
               end: dt.datetime, step_s: int, status: str = "00") -> None:  # fmt: skip
    execute(url, "INSERT INTO readings SELECT %s, %s, ts, 1, 1, 'µg/m³', %s, 'aqm_json', now()"
                 " FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 us',"
                 " make_interval(secs => %s)) ts",
            station_id, parameter, status, start, end, step_s)  # fmt: skip


def recount_slots(url: str) -> None:
    """Count the stored slots of every hour with readings, as the migration does for the
    readings stored before it (the panels read the hours that have ended from
    reading_slots; tests/worker/test_reading_slots.py has the worker count them)."""
    execute(url, "SELECT recount_reading_slots_between(NULL, min(ts), max(ts) + interval"
                 " '1 hour') FROM readings")  # fmt: skip


@pytest.fixture
def gaps_db(clean_db: str) -> str:
    """BN-01 (5 min, pm25 + no2): pm25 10:00-10:10 lost on day 1, both 14:00-14:55 lost,
    no2 08:00 arrived 2 min late, a status-01 reading; nothing on day 2 after 12:00.
    BN-02 (hourly) installed on day 2, silent. BN-03 (hourly) retired on day 2, 05:00
    lost on day 1."""
    add_station(clean_db, "BN-01", ["pm25", "no2"], 300)
    for p in ("pm25", "no2"):
        add_series(clean_db, "BN-01", p, DAY1, DAY2 + dt.timedelta(hours=12), 300)
    h = dt.timedelta(hours=1)
    execute(clean_db, "DELETE FROM readings WHERE parameter = 'pm25' AND ts >= %s AND ts < %s",
            DAY1 + 10 * h, DAY1 + 10 * h + dt.timedelta(minutes=15))  # fmt: skip
    execute(
        clean_db, "DELETE FROM readings WHERE ts >= %s AND ts < %s", DAY1 + 14 * h, DAY1 + 15 * h
    )
    execute(clean_db, "UPDATE readings SET ts = ts + interval '2 minutes'"
                      " WHERE parameter = 'no2' AND ts = %s", DAY1 + 8 * h)  # fmt: skip
    execute(clean_db, "UPDATE readings SET status = '01' WHERE ts = %s", DAY1 + 9 * h)
    add_station(clean_db, "BN-02", ["pm25"], 3600, installed_on=DAY2.date())
    add_station(clean_db, "BN-03", ["pm25", "pm10"], 3600, retired_on=DAY2.date())
    for p in ("pm25", "pm10"):
        add_series(clean_db, "BN-03", p, DAY1, DAY2, 3600)
    execute(clean_db, "DELETE FROM readings WHERE station_id = 'BN-03' AND ts = %s", DAY1 + 5 * h)
    recount_slots(clean_db)
    return clean_db


def test_missing_per_station_and_day(gaps_db: str, run_sql: Runner) -> None:
    rows = run_sql(MISSING_PER_DAY_SQL, RANGE, variables()).as_dicts()
    got = {(r["time"].astimezone(ICT).date().day, r["metric"]): r["value"] for r in rows}
    assert got == {
        (1, "Trạm BN-01"): 3 + 2 * 12,  # pm25 10:00-10:10, both 14:00-14:55
        (2, "Trạm BN-01"): 2 * 144,  # nothing from 12:00
        (2, "Trạm BN-02"): 24,
        (1, "Trạm BN-03"): 2,
    }
    times = [r["time"] for r in rows]
    assert times == sorted(times)


def test_missing_per_station(gaps_db: str, run_sql: Runner) -> None:
    rows = run_sql(MISSING_PER_STATION_SQL, RANGE, variables()).rows
    assert [(*r[:1], *r[2:5], float(r[5])) for r in rows] == [
        ("BN-01", 300, 2 * 576, 27 + 288, round(100 * 315 / 1152, 1)),
        ("BN-02", 3600, 24, 24, 100.0),
        ("BN-03", 3600, 48, 2, round(100 * 2 / 48, 1)),
    ]


def test_gap_periods_table(gaps_db: str, run_sql: Runner) -> None:
    rows = run_sql(GAP_PERIODS_SQL, RANGE, variables(("BN-01", "BN-03"))).rows

    def t(day: dt.datetime, hh: int, mm: int = 0) -> dt.datetime:
        return day + dt.timedelta(hours=hh, minutes=mm)

    got = [(r[0], r[2].astimezone(ICT), r[3].astimezone(ICT), r[4], r[5]) for r in rows]
    assert got == [
        ("BN-01", t(DAY1, 10), t(DAY1, 10, 10), 3, "Bụi PM2.5"),
        ("BN-01", t(DAY1, 14), t(DAY1, 14, 55), 12, "Bụi PM2.5, NO2"),
        ("BN-01", t(DAY2, 12), t(DAY2, 23, 55), 144, "Bụi PM2.5, NO2"),
        ("BN-03", t(DAY1, 5), t(DAY1, 5), 1, "Bụi PM2.5, Bụi PM10"),
    ]


def _finder_runs(conn: psycopg.Connection[Any]) -> set[tuple[str, str, dt.datetime, dt.datetime]]:
    """Per-parameter runs of missing slots, from the Python finder."""
    runs = set()
    for found in gap_report(conn, RANGE.start, RANGE.end, ZoneInfo("Asia/Ho_Chi_Minh")):
        schedule = Schedule.single(
            np.datetime64(found.start.astimezone(dt.UTC).replace(tzinfo=None), "us"),
            np.datetime64(found.end.astimezone(dt.UTC).replace(tzinfo=None), "us"),
            found.station.report_interval_s,
        )
        slots, _ = expected_slots(schedule)
        for g in range(len(found.gaps)):
            mask = int(found.gaps.parameters[g])
            for p, name in enumerate(found.parameters):
                if mask >> p & 1:
                    runs.add((found.station.station_id, name,
                              found.gaps.start[g].item(), found.gaps.end[g].item()))  # fmt: skip
        del slots
    return runs


def test_sql_and_python_finder_agree_on_random_losses(
    clean_db: str, run_sql: Runner, postgres: Any
) -> None:
    rng = random.Random(15)
    for i, interval in enumerate((60, 300, 900, 3600)):
        sid = IDS[i % 3] if i < 3 else "BN-04"
        add_station(clean_db, sid, ["pm25", "pm10", "no2"], interval,
                    installed_on=DAY1.date() + dt.timedelta(days=rng.randint(0, 1)))  # fmt: skip
        for p in ("pm25", "pm10", "no2"):
            add_series(clean_db, sid, p, DAY1, RANGE.end, interval)
        # random outages of one parameter or all, and jitter of up to half an interval
        for _ in range(6):
            start = DAY1 + dt.timedelta(seconds=rng.randrange(0, 2 * 86400))
            end = start + dt.timedelta(seconds=rng.randrange(interval, 40 * interval))
            which = rng.choice([["pm25"], ["no2"], ["pm25", "pm10", "no2"]])
            execute(clean_db, "DELETE FROM readings WHERE station_id = %s AND parameter = ANY(%s)"
                              " AND ts >= %s AND ts < %s", sid, which, start, end)  # fmt: skip
        execute(clean_db, "UPDATE readings SET ts = ts + make_interval(secs => %s * (random() - 0.5))"
                          " WHERE station_id = %s AND random() < 0.2", interval, sid)  # fmt: skip
    recount_slots(clean_db)
    selected = (*IDS, "BN-04")
    vars_ = {"station": VariableValue(selected, multi=True, include_all=True, options=selected)}
    sql_total = sum(r["value"] for r in run_sql(MISSING_PER_DAY_SQL, RANGE, vars_).as_dicts())
    with psycopg.connect(postgres.url(user="aqm_reader")) as conn:
        report = gap_report(conn, RANGE.start, RANGE.end, ZoneInfo("Asia/Ho_Chi_Minh"))
        python_runs = _finder_runs(conn)
    assert sql_total == sum(found.missing_samples for found in report) > 0
    # per-parameter runs: SQL rows name each parameter whose run has those ends
    names = {"Bụi PM2.5": "pm25", "Bụi PM10": "pm10", "NO2": "no2"}
    sql_runs = {
        (
            r[0],
            names[n],
            r[2].astimezone(dt.UTC).replace(tzinfo=None),
            r[3].astimezone(dt.UTC).replace(tzinfo=None),
        )
        for r in run_sql(GAP_PERIODS_SQL, RANGE, vars_).rows
        for n in r[5].split(", ")
    }
    # the finder splits where the set of missing parameters changes: merge its pieces
    # back into per-parameter runs before comparing
    assert _merge(python_runs, report) == sql_runs


def _merge(runs: set[tuple[str, str, Any, Any]], report: Any) -> set[tuple[str, str, Any, Any]]:
    intervals = {found.station.station_id: found.station.report_interval_s for found in report}
    merged: set[tuple[str, str, Any, Any]] = set()
    by_key: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
    for sid, p, a, b in runs:
        by_key.setdefault((sid, p), []).append((a, b))
    for (sid, p), spans in by_key.items():
        step = dt.timedelta(seconds=intervals[sid])
        spans.sort()
        cur_a, cur_b = spans[0]
        for a, b in spans[1:]:
            if a == cur_b + step:
                cur_b = b
            else:
                merged.add((sid, p, cur_a, cur_b))
                cur_a, cur_b = a, b
        merged.add((sid, p, cur_a, cur_b))
    return merged
