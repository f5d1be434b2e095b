"""No panel or alert query scans raw readings beyond its bound: measured with EXPLAIN ANALYZE.

The database holds 40 days of readings (5 stations × 2 parameters every 10 minutes; one
station quiet for the last 3 days). Every
query that reads ``readings`` runs as aqm_reader for a 30-day range under
``EXPLAIN (ANALYZE, FORMAT JSON)``; the rows its plan read from the readings chunks (rows
returned plus rows removed by filters, times loops) must not exceed the readings of the
last hour of the range plus one row per station-parameter lookup of the newest reading
(:func:`dashboards.sql_fragments.last_seen_cte`). The "Mẫu thiếu" queries are held to
the selected station's readings of the current hour, on readings up to now.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from dashboards.provisioning import dashboards
from dashboards.sql_fragments import RAW_READINGS_WINDOW, SILENCE_LOOKBACK
from tests.provisioning.inventory import Query, all_queries
from tests.provisioning.macros import TimeRange, expand
from tests.provisioning.seed import (
    END,
    SESSION_TIMEZONE,
    insert_stations,
    station_variables,
)

pytestmark = pytest.mark.services

# "Mẫu thiếu" reads the stored slots of the hours that have ended from reading_slots and
# raw readings only of the hour still running (docs/grafana.md, "Cost"): it is held to
# that bound below, on readings up to now, since the current hour is the wall clock's.
GAPS_DASHBOARD = "mau-thieu.json"
ALL_READINGS_QUERIES = [
    q for q in all_queries(dashboards()) if q.is_sql and re.search(r"\breadings\b", q.text)
]
READINGS_QUERIES = [q for q in ALL_READINGS_QUERIES if not q.location.startswith(GAPS_DASHBOARD)]
GAPS_QUERIES = [q for q in ALL_READINGS_QUERIES if q.location.startswith(GAPS_DASHBOARD)]
HISTORY = dt.timedelta(days=40)
STEP = dt.timedelta(minutes=10)
LONG_RANGE = TimeRange(END - dt.timedelta(days=30), END)
GAPS_RANGE = dt.timedelta(days=7)  # the "Mẫu thiếu" dashboard's default range


@pytest.fixture
def readings_db(clean_db: str) -> str:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        conn.execute(
            "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
            " original_unit, status, source_format, received_at)"
            " SELECT s, p, t, 20, 20, 'µg/m³', '00', 'aqm_json', t + interval '30 seconds'"
            " FROM unnest(ARRAY['BN01','BN02','BN03','BN04','BN05']) s,"
            " unnest(ARRAY['pm25','pm10']) p,"
            " generate_series(%s::timestamptz, %s::timestamptz, %s::interval) t",
            (END - HISTORY, END, STEP),
        )
        # BN03 has been quiet for 3 days: its newest reading is looked up per parameter
        conn.execute(
            "DELETE FROM readings WHERE station_id = 'BN03' AND ts > %s",
            (END - dt.timedelta(days=3),),
        )
        conn.execute("ANALYZE readings")
    return clean_db


@contextlib.contextmanager
def _explainer(postgres: Any, db_url: str) -> Iterator[Any]:
    """``plan(sql)``: the JSON plan of ``EXPLAIN (ANALYZE, FORMAT JSON)`` as aqm_reader,
    with the readings chunks' names."""
    with (
        psycopg.connect(db_url, autocommit=True) as admin,
        psycopg.connect(postgres.url(user="aqm_reader"), autocommit=True) as reader,
    ):
        chunks = {
            row[0]
            for row in admin.execute(
                "SELECT chunk_name FROM timescaledb_information.chunks"
                " WHERE hypertable_name = 'readings'"
            )
        } | {"readings"}
        reader.execute(f"SET TimeZone = '{SESSION_TIMEZONE}'")

        def plan(sql: str) -> tuple[dict[str, Any], set[str]]:
            row = reader.execute(("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).encode()).fetchone()
            assert row is not None
            return row[0][0]["Plan"], chunks

        yield plan


@pytest.fixture
def explain_plan(postgres: Any, readings_db: str) -> Iterator[Any]:
    with _explainer(postgres, readings_db) as plan:
        yield plan


@pytest.fixture
def explain(postgres: Any, readings_db: str) -> Iterator[Any]:
    """Rows the plan of ``sql`` read from the readings chunks."""
    with _explainer(postgres, readings_db) as plan:
        yield lambda sql: _rows_from(*plan(sql))


@pytest.fixture
def explain_plan_recent(postgres: Any, recent_readings_db: str) -> Iterator[Any]:
    with _explainer(postgres, recent_readings_db) as plan:
        yield plan


@pytest.fixture
def explain_recent(postgres: Any, recent_readings_db: str) -> Iterator[Any]:
    with _explainer(postgres, recent_readings_db) as plan:
        yield lambda sql: _rows_from(*plan(sql))


SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan"}


def _rows_from(node: dict[str, Any], relations: set[str]) -> int:
    """Rows the plan's scans of ``relations`` read (ChunkAppend parents are not scans)."""
    own = 0
    if node.get("Node Type") in SCANS and node.get("Relation Name") in relations:
        per_loop = (
            node.get("Actual Rows", 0)
            + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Index Recheck", 0)
        )
        own = int(per_loop * max(node.get("Actual Loops", 1), 1))
    return own + sum(_rows_from(child, relations) for child in node.get("Plans", []))


def _scans_of(node: dict[str, Any], relations: set[str]) -> list[dict[str, Any]]:
    own = (
        [node] if node.get("Node Type") in SCANS and node.get("Relation Name") in relations else []
    )
    return own + [scan for child in node.get("Plans", []) for scan in _scans_of(child, relations)]


def _bound(conn_url: str, time_range: TimeRange) -> int:
    """Readings of the last hour, plus one row per chunk of the lookback for each newest-
    reading probe (a station-parameter pair, at most every active one)."""
    with psycopg.connect(conn_url) as conn:
        last_hour = conn.execute(
            "SELECT count(*) FROM readings WHERE ts > %s AND ts <= %s",
            (max(time_range.start, time_range.end - RAW_READINGS_WINDOW), time_range.end),
        ).fetchone()
        lookups = conn.execute(
            "SELECT count(*) FROM stations s, parameters p WHERE s.status = 'active'"
        ).fetchone()
        chunks = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'readings' AND range_end > %s AND range_start <= %s",
            (time_range.end - SILENCE_LOOKBACK, time_range.end),
        ).fetchone()
    assert last_hour is not None and lookups is not None and chunks is not None
    return int(last_hour[0]) + int(lookups[0]) * int(chunks[0])


def _variables(query: Query) -> Any:
    if query.location.startswith("tram.json"):
        return station_variables(("BN01",), multi=False)
    return station_variables()


def test_queries_reading_raw_readings_are_known() -> None:
    """The panels and rules that may touch raw readings, and no others."""
    places = {q.location.rsplit(" › ", 1)[0] for q in ALL_READINGS_QUERIES}
    assert places == {
        "mau-thieu.json › Số mẫu thiếu theo trạm và ngày",
        "mau-thieu.json › Tổng số mẫu thiếu theo trạm",
        "mau-thieu.json › Các khoảng thiếu số liệu (đề nghị nhà cung cấp gửi lại)",
        "tong-quan.json › AQI giờ mới nhất và tín hiệu trạm",
        "tong-quan.json › Trạm im lặng",
        "tram.json › Tín hiệu trạm và thời gian im lặng (phút)",
        "chat-luong-du-lieu.json › Độ trễ đến (P95, giây) trong giờ cuối của khoảng thời gian",
        "chat-luong-du-lieu.json › Độ trễ đến theo trạm trong giờ cuối của khoảng thời gian",
        "alert aqm-tram-im-lang",
    }


@pytest.fixture
def recent_readings_db(clean_db: str) -> str:
    """8 days of readings up to now (5 stations × 2 parameters every 5 minutes), their
    slots counted as the AQI worker counts them; BN01 lists both parameters."""
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        conn.execute(
            "UPDATE stations SET parameters = '{pm25,pm10}', installed_on = NULL,"
            " status = 'active', retired_on = NULL, report_interval_s = 300"
            " WHERE station_id = 'BN01'"
        )
        conn.execute(
            "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
            " original_unit, status, source_format, received_at)"
            " SELECT s, p, t, 20, 20, 'µg/m³', '00', 'aqm_json', t + interval '30 seconds'"
            " FROM unnest(ARRAY['BN01','BN02','BN03','BN04','BN05']) s,"
            " unnest(ARRAY['pm25','pm10']) p,"
            " generate_series(date_trunc('minute', now()) - %s, now(), interval '5 minutes') t",
            (GAPS_RANGE + dt.timedelta(days=1),),
        )
        conn.execute(
            "SELECT recount_reading_slots_between(NULL, min(ts), max(ts) + interval '1 hour')"
            " FROM readings"
        )
        conn.execute("VACUUM ANALYZE readings")  # the visibility map, as autovacuum keeps it
        conn.execute("ANALYZE reading_slots")
    return clean_db


def _up_to_now() -> TimeRange:
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return TimeRange(end - GAPS_RANGE, end)


@pytest.mark.parametrize("query", GAPS_QUERIES, ids=[q.location for q in GAPS_QUERIES])
def test_gap_queries_read_raw_readings_only_of_the_current_hour(
    explain_recent: Any, recent_readings_db: str, query: Query
) -> None:
    """The dashboard's 7 days, up to now: the hours that have ended come from reading_slots; the
    readings read are the selected station's since the current hour began (less half an
    interval, whose readings fill its first slot), never another station's."""
    time_range = _up_to_now()
    text = expand(query.text, time_range, station_variables(("BN01",)),
                  interval=dt.timedelta(hours=1))  # fmt: skip
    read = explain_recent(text)
    with psycopg.connect(recent_readings_db) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE ts > time_bucket(interval '1 hour', now())"
            "                          - interval '150 seconds'),"
            "       count(*) FILTER (WHERE ts >= %s)"
            " FROM readings WHERE station_id = 'BN01' AND ts <= now()",
            (time_range.start,),
        ).fetchone()
    assert row is not None
    current_hour, whole_range = int(row[0]), int(row[1])
    assert whole_range > 100 * max(current_hour, 1)  # the bound is far below the range
    assert read <= current_hour, f"{query.location}: read {read} rows, bound {current_hour}"


@pytest.mark.parametrize("query", GAPS_QUERIES, ids=[q.location for q in GAPS_QUERIES])
def test_gap_queries_read_no_raw_readings_for_a_range_that_has_ended(
    explain_recent: Any, recent_readings_db: str, query: Query
) -> None:
    """Yesterday and before: every hour shown has ended, none is read from readings."""
    end = _up_to_now().end - dt.timedelta(days=1)
    text = expand(query.text, TimeRange(end - GAPS_RANGE, end),
                  station_variables(("BN01",)), interval=dt.timedelta(hours=1))  # fmt: skip
    assert explain_recent(text) == 0, query.location


@pytest.mark.parametrize("query", GAPS_QUERIES, ids=[q.location for q in GAPS_QUERIES])
def test_gap_queries_read_readings_only_from_the_primary_key_index(
    explain_plan_recent: Any, recent_readings_db: str, query: Query
) -> None:
    """Index-only scans of (station_id, parameter, ts): no heap page, no other index."""
    text = expand(
        query.text, _up_to_now(), station_variables(("BN01",)), interval=dt.timedelta(hours=1)
    )
    plan, chunks = explain_plan_recent(text)
    scans = _scans_of(plan, chunks)
    assert scans, f"{query.location}: no scan of readings"
    for scan in scans:
        assert scan["Node Type"] == "Index Only Scan", (query.location, scan["Node Type"])
        assert scan["Index Name"].endswith("readings_pkey"), (query.location, scan["Index Name"])
        assert scan.get("Heap Fetches", 0) == 0, (query.location, scan["Heap Fetches"])


@pytest.mark.parametrize("query", READINGS_QUERIES, ids=[q.location for q in READINGS_QUERIES])
def test_query_reads_at_most_the_last_hour_of_raw_readings(
    explain: Any, readings_db: str, query: Query
) -> None:
    text = expand(query.text, LONG_RANGE, _variables(query), interval=dt.timedelta(hours=1))
    bound = _bound(readings_db, LONG_RANGE)
    read = explain(text)
    assert read <= bound, f"{query.location}: read {read} readings rows, bound {bound}"


def test_the_measure_sees_a_scan_over_the_range(explain: Any, readings_db: str) -> None:
    """A query that aggregates the range's readings is caught (30 days here, 43 000 rows)."""
    text = expand(
        "SELECT station_id, max(ts) FROM readings WHERE $__timeFilter(ts) GROUP BY 1",
        LONG_RANGE,
        {},
    )
    assert explain(text) > 40_000 > 10 * _bound(readings_db, LONG_RANGE)
