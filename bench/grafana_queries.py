"""Every panel's and alert rule's SQL on a year of data for 100 stations: p95 per query.

``python -m bench grafana`` (or ``python -m bench.grafana_queries [--stations N] ...``).

A private TimescaleDB is filled with one year of aggregates (``hourly`` for three
parameters, ``aqi_hourly`` and ``aqi_daily`` for both standards) for 100 stations, and raw
``readings`` at 5-minute resolution for the most recent ``--readings-days`` (35 by default:
no query reads raw readings further back than the 30-day silence lookback, and a full year
of raw readings, 31.5 M rows, takes longer to generate than this machine allows). Five
stations went quiet two days ago and two never reported, so the per-station lookups of the
silence rule run too. Each SQL query is expanded as Grafana would (tests.provisioning.macros) for
its dashboard's default time range ending at the newest reading (alerts: their own
lookback), then run as ``aqm_reader`` ``--runs`` times after two warm-up runs. The baseline
is the same run's former silence query (a 30-day aggregate of raw readings) and the former
unbounded arrival-lag table, each over the same data. The slowest ten, the number over
the goal, the machine and its load average are appended to docs/benchmarks.md.

The readings' sample slots (``reading_slots``) are counted after the fill as migration
0023 counts the readings stored before it. ``--only TEXT`` measures only the queries whose location contains
TEXT (e.g. ``mau-thieu``); its baseline is then the former "Mẫu thiếu" per-station total,
which read the range's raw readings (:data:`FORMER_GAP_TOTAL_SQL`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from aqm.localservices import PostgresInstance, free_port
from bench.machine import describe, shared_note
from bench.record import append_to_section
from dashboards import gaps
from dashboards.provisioning import dashboards
from storage.migrate import migrate
from tests.provisioning.inventory import Query, all_queries
from tests.provisioning.macros import TimeRange, VariableValue, expand, parse_interval

END = dt.datetime(2026, 6, 30, 17, 0, tzinfo=dt.UTC)  # 1 July 2026 00:00 ICT
PARAMETERS = ("pm25", "pm10", "no2")
GOAL_MS = 100.0
SECTION = "## Grafana queries"

OLD_SILENCE_SQL = """
SELECT count(*) FILTER (WHERE silent) FROM (
  SELECT s.station_id,
         (max(r.ts) IS NULL OR max(r.ts) < $__timeTo()::timestamptz - interval '1800 seconds')
           AS silent
  FROM stations s
  LEFT JOIN readings r
    ON r.station_id = s.station_id
   AND r.ts > $__timeTo()::timestamptz - interval '2592000 seconds'
   AND r.ts <= $__timeTo()::timestamptz
  WHERE s.status = 'active'
  GROUP BY s.station_id
) x
"""
OLD_LAG_SQL = """
SELECT r.station_id, count(*),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch from (r.received_at - r.ts)))
FROM readings r
WHERE r.station_id IN ($station) AND $__timeFilter(r.ts)
GROUP BY r.station_id
"""

# The "Mẫu thiếu" per-station total as it was before reading_slots: the distinct slots of
# the range's raw readings, one primary-key range per station and parameter.
FORMER_GAP_TOTAL_SQL = f"""
WITH {gaps._BOUNDS},{gaps._PAIRS},
present AS (
  SELECT p.station_id, sum(n.n) AS n
  FROM pairs p
  CROSS JOIN LATERAL (
    SELECT count(DISTINCT {gaps._SLOT}) AS n FROM {gaps._readings_of_slots("p.k0", "p.k1")}
  ) n
  GROUP BY 1
)
SELECT b.station_id, cardinality(b.parameters) * (b.k1 - b.k0 + 1) - coalesce(p.n, 0)
FROM bounds b
LEFT JOIN present p ON p.station_id = b.station_id
ORDER BY 2 DESC, 1
"""
COUNT_SLOTS_SQL = """
SELECT recount_reading_slots_between(NULL, min(ts), max(ts) + interval '1 hour') FROM readings
"""


def fill(url: str, stations: int, readings_days: int) -> dict[str, int]:
    ids = [f"BN{i:03d}" for i in range(1, stations + 1)]
    year_start = END - dt.timedelta(days=365)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
            " parameters, installed_on) VALUES (%s, %s, 21.1, 106.1, 'fixed_automatic',"
            " %s, %s)",
            [
                (sid, f"Trạm {sid}", list(PARAMETERS), dt.date(2025, 6, 1) if i % 10 else None)
                for i, sid in enumerate(ids)
            ],
        )
        active = ids[:-2]  # the last two never report
        quiet = set(active[-5:])  # quiet for two days
        for sid in active:
            until = END - dt.timedelta(days=2) if sid in quiet else END
            conn.execute(
                "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
                " original_unit, status, source_format, received_at)"
                " SELECT %s, p, t, v, v, 'µg/m³', '00', 'aqm_json',"
                "        t + (20 + 40 * random()) * interval '1 second'"
                " FROM unnest(%s::text[]) p,"
                "      generate_series(%s::timestamptz, %s::timestamptz, '5 minutes') t,"
                "      LATERAL (SELECT 10 + 40 * random() AS v) x",
                (sid, list(PARAMETERS), END - dt.timedelta(days=readings_days), until),
            )
        conn.execute(COUNT_SLOTS_SQL)
        conn.execute(
            "INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged,"
            " n_expected, completeness, valid, min_completeness)"
            " SELECT s, p, h, 10 + 40 * random(), 11, 0, 12, 11.0 / 12, true, 0.75"
            " FROM unnest(%s::text[]) s, unnest(%s::text[]) p,"
            "      generate_series(%s::timestamptz, %s::timestamptz, '1 hour') h",
            (active, list(PARAMETERS), year_start, END - dt.timedelta(hours=1)),
        )
        conn.execute(
            "INSERT INTO aqi_hourly (station_id, standard, hour, aqi, dominant, nowcast_pm25,"
            " nowcast_pm10, method_version)"
            " SELECT s, std, h, (20 + 200 * random())::int, 'pm25', 30, 50, 'bench'"
            " FROM unnest(%s::text[]) s, unnest(ARRAY['vn_1459_2019', 'us_epa_2024']) std,"
            "      generate_series(%s::timestamptz, %s::timestamptz, '1 hour') h",
            (active, year_start, END - dt.timedelta(hours=1)),
        )
        conn.execute(
            "INSERT INTO aqi_daily (station_id, standard, day, aqi, method_version)"
            " SELECT s, std, d::date,"
            "        CASE WHEN random() < 0.05 THEN NULL ELSE (20 + 330 * random())::int END,"
            "        'bench'"
            " FROM unnest(%s::text[]) s, unnest(ARRAY['vn_1459_2019', 'us_epa_2024']) std,"
            "      generate_series(%s::date, %s::date - 1, '1 day') d",
            (active, year_start.date(), (END + dt.timedelta(hours=7)).date()),
        )
        conn.execute("VACUUM ANALYZE")
        counts = {}
        for table in ("readings", "reading_slots", "hourly", "aqi_hourly", "aqi_daily"):
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def _range(query: Query, boards: dict[str, dict[str, object]]) -> TimeRange:
    if query.alert_lookback_s is not None:
        return TimeRange(END - dt.timedelta(seconds=query.alert_lookback_s), END)
    board = boards[query.location.split(" › ", 1)[0]]
    span = parse_interval(str(board["time"]["from"]).removeprefix("now-"))  # type: ignore[index]
    return TimeRange(END - span, END)


def _interval(time_range: TimeRange) -> dt.timedelta:
    """Grafana's $__interval for a ~1,000-pixel panel, floored at the 1-minute minimum."""
    span = (time_range.end - time_range.start) / 1000
    return max(dt.timedelta(minutes=1), dt.timedelta(seconds=round(span.total_seconds())))


def _time(conn: psycopg.Connection[tuple[object, ...]], sql: str, runs: int) -> list[float]:
    for _ in range(2):
        conn.execute(sql.encode()).fetchall()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        conn.execute(sql.encode()).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--readings-days", type=int, default=35)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", help="measure only queries whose location contains this")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="aqm-bench-grafana-"))
    root.chmod(0o755)
    pg = PostgresInstance(root / "pg", free_port())
    pg.start()
    try:
        migrate(pg.url())
        started = time.perf_counter()
        counts = fill(pg.url(), args.stations, args.readings_days)
        print(f"filled in {time.perf_counter() - started:.0f} s: {counts}", flush=True)
        boards = dashboards()
        ids = tuple(f"BN{i:03d}" for i in range(1, args.stations + 1))
        multi = {
            "station": VariableValue(("$__all",), multi=True, include_all=True, options=ids),
            "standard": VariableValue.single("vn_1459_2019"),
        }
        single = {"station": VariableValue.single(ids[0]), **{"standard": multi["standard"]}}
        results: list[tuple[str, str, float, float]] = []
        with psycopg.connect(pg.url(user="aqm_reader"), autocommit=True) as conn:
            for query in all_queries(boards):
                if not query.is_sql or (args.only and args.only not in query.location):
                    continue
                time_range = _range(query, boards)
                variables = single if query.location.startswith("tram.json") else multi
                sql = expand(query.text, time_range, variables, interval=_interval(time_range))
                times = _time(conn, sql, args.runs)
                span = time_range.end - time_range.start
                label = f"{span.days} d" if span.days else f"{span.seconds // 3600} h"
                results.append((query.location, label, statistics.median(times), p95(times)))
                print(f"{p95(times):8.1f} ms p95  {query.location} ({label})", flush=True)
            month = TimeRange(END - dt.timedelta(days=30), END)
            baseline = []
            comparisons = (
                (
                    (
                        "Mẫu thiếu total per station (raw readings of the range → reading_slots),"
                        " 7-day range",
                        FORMER_GAP_TOTAL_SQL,
                        gaps.MISSING_PER_STATION_SQL,
                    ),
                )
                if args.only
                else (
                    (
                        "silence (30-day aggregate → last hour + key probes)",
                        OLD_SILENCE_SQL,
                        next(
                            q.text
                            for q in all_queries(boards)
                            if q.location.startswith("tong-quan.json › Trạm im lặng")
                        ),
                    ),
                    (
                        "arrival lag by station (range → last hour), 30-day range",
                        OLD_LAG_SQL,
                        next(
                            q.text
                            for q in all_queries(boards)
                            if "Độ trễ đến theo trạm" in q.location
                        ),
                    ),
                )
            )
            week = TimeRange(END - dt.timedelta(days=7), END)
            for name, old, new in comparisons:
                measured = week if args.only else month
                old_t = p95(_time(conn, expand(old, measured, multi), max(5, args.runs // 4)))
                new_t = p95(_time(conn, expand(new, measured, multi), args.runs))
                baseline.append((name, old_t, new_t))
        worst = sorted(results, key=lambda r: -r[3])
        over = [r for r in results if r[3] > GOAL_MS]
        load = os.getloadavg()[0]
        cores = os.cpu_count() or 1
        shared = shared_note(load_before)
        lines = [
            f"Run of `python -m bench grafana`: {describe()}; load average {load_before:.1f}"
            f" at the start and {load:.1f} at the end on {cores} cores{shared}."
            + (f" Only the queries of `{args.only}`." if args.only else "")
            + f" {args.stations}"
            " stations; rows: " + ", ".join(f"`{t}` {n:,}" for t, n in counts.items()) + ".",
            "",
            "| query (dashboard › panel › ref) | range | median | p95 |",
            "|---|---|---|---|",
            *(
                f"| {location} | {label} | {median:.1f} ms | {high:.1f} ms |"
                for location, label, median, high in worst[:10]
            ),
            "",
            f"{len(results)} SQL queries; {len(over)} above {GOAL_MS:.0f} ms p95.",
            "",
            "| baseline → now | before p95 | now p95 | ratio |",
            "|---|---|---|---|",
            *(
                f"| {name} | {old_t:.1f} ms | {new_t:.1f} ms | {old_t / new_t:.0f}× |"
                for name, old_t, new_t in baseline
            ),
        ]
        print("\n" + "\n".join(lines))
        append_to_section(SECTION, lines)
    finally:
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
