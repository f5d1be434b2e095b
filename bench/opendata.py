"""Benchmark: ``aqm opendata export`` of one year × N stations against PostgreSQL's COPY.

Run: ``.venv/bin/python -m bench.opendata [--stations N] [--parameters N] [--no-record]``.

Starts a private TimescaleDB, registers N fixed automatic stations that may publish an
AQI, and generates one local year (2025, Asia/Ho_Chi_Minh) of hourly means (~2 %
incomplete hours) and hourly and daily VN_AQI rows inside the database (untimed). Then,
timed, as ``aqm_reader``:

1. the baseline, in the same run: ``COPY (SELECT * …) TO STDOUT (FORMAT csv)`` of the
   same rows of ``hourly``, ``aqi_hourly`` and ``aqi_daily`` (PostgreSQL writing the
   bare tables as CSV, the bytes read and dropped by the client);
2. the export: every station-year's CSV and Parquet files (three datasets), written
   atomically with their digests, then the province files joined from them, the
   manifest and the pages.

The row counts of the files are checked against the tables. The result is appended to
the ``## Open data export`` section of docs/benchmarks.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

from aqm.localservices import PostgresInstance, free_port
from bench.machine import describe
from bench.record import append_to_section
from opendata.export import (
    Publication,
    export_pairs,
    prepare_session,
    rebuild_province_year,
    station_years,
)
from opendata.files import read_manifest
from storage.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO_ROOT / "docs" / "benchmarks.md"
SECTION = "## Open data export"
YEAR = 2025
TIMEZONE = "Asia/Ho_Chi_Minh"
ALL_PARAMETERS = ("pm25", "pm10", "o3", "no2", "so2", "co")

STATIONS_SQL = """
INSERT INTO stations (station_id, name, latitude, longitude, station_type, public_aqi,
                      report_interval_s, parameters)
SELECT 'BN' || lpad(i::text, 3, '0'), format('Trạm quan trắc %%s', i), 21.0 + i * 0.001,
       106.0 + i * 0.001, 'fixed_automatic', true, 300, %(parameters)s
FROM generate_series(1, %(stations)s) AS i
"""

HOURLY_SQL = """
INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged, n_expected,
                    completeness, valid, min_completeness, n_qc_spike, rules_version)
SELECT s.station_id, p.parameter, t.hour, v.mean, v.n, 0, 12, v.n / 12.0, v.n >= 9, 0.75,
       CASE WHEN random() < 0.01 THEN 1 ELSE 0 END, 'bench'
FROM stations AS s
CROSS JOIN unnest(%(parameters)s::text[]) AS p(parameter)
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - INTERVAL '1 hour',
                           INTERVAL '1 hour') AS t(hour)
CROSS JOIN LATERAL (
    SELECT round((20 + 60 * random())::numeric, 2)::float8 AS mean,
           CASE WHEN random() < 0.02 THEN 5 ELSE 12 END AS n
    WHERE t.hour IS NOT NULL
) AS v
"""

AQI_HOURLY_SQL = """
INSERT INTO aqi_hourly (station_id, standard, hour, aqi, category, dominant, sub_pm25,
                        nowcast_pm25, method_version)
SELECT s.station_id, 'vn_1459_2019', t.hour, a.aqi, a.category, 'pm25', a.aqi, 30.0,
       'vn_1459_2019/aqm-1'
FROM stations AS s
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - INTERVAL '1 hour',
                           INTERVAL '1 hour') AS t(hour)
CROSS JOIN LATERAL (
    SELECT x AS aqi, 1 + (x > 50)::int + (x > 100)::int + (x > 150)::int + (x > 200)::int
                       + (x > 300)::int AS category
    FROM (SELECT (random() * 220)::int AS x WHERE t.hour IS NOT NULL) AS r
) AS a
"""

AQI_DAILY_SQL = """
INSERT INTO aqi_daily (station_id, standard, day, aqi, category, dominant, pm25_mean,
                       n_hours_pm25, method_version)
SELECT s.station_id, 'vn_1459_2019', d::date, a.aqi, a.category, 'pm25', 30.0, 24,
       'vn_1459_2019/aqm-1'
FROM stations AS s
CROSS JOIN generate_series(%(first_day)s::date, %(last_day)s::date, INTERVAL '1 day') AS d
CROSS JOIN LATERAL (
    SELECT x AS aqi, 1 + (x > 50)::int + (x > 100)::int + (x > 150)::int + (x > 200)::int
                       + (x > 300)::int AS category
    FROM (SELECT (random() * 220)::int AS x WHERE d IS NOT NULL) AS r
) AS a
"""

BASELINE_QUERIES = (
    "SELECT * FROM hourly WHERE hour >= %(start)s AND hour < %(end)s",
    "SELECT * FROM aqi_hourly WHERE standard = 'vn_1459_2019'"
    " AND hour >= %(start)s AND hour < %(end)s",
    "SELECT * FROM aqi_daily WHERE standard = 'vn_1459_2019'"
    " AND day >= %(first_day)s AND day <= %(last_day)s",
)


def _copy_baseline(url: str, params: dict[str, object]) -> tuple[float, int]:
    """Seconds and bytes of COPY … TO STDOUT (FORMAT csv) of the same rows."""
    size = 0
    began = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for query in BASELINE_QUERIES:
            with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)", params) as copy:
                for chunk in copy:
                    size += len(chunk)
    return time.perf_counter() - began, size


def main(argv: Sequence[str] = ()) -> int:
    """Run the benchmark; ``argv`` as on the command line (``python -m bench`` passes none)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--parameters", type=int, default=4, choices=range(1, 7))
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(list(argv))
    parameters = list(ALL_PARAMETERS[: args.parameters])

    root = Path(tempfile.mkdtemp(prefix="aqm-bench-opendata-"))
    root.chmod(0o755)
    pg = PostgresInstance(root / "pg", free_port())
    try:
        pg.start()
        migrate(pg.url())
        zone_start = dt.datetime(YEAR, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=7)))
        params: dict[str, object] = {
            "stations": args.stations, "parameters": parameters,
            "start": zone_start, "end": zone_start.replace(year=YEAR + 1),
            "first_day": dt.date(YEAR, 1, 1), "last_day": dt.date(YEAR, 12, 31),
        }  # fmt: skip
        print(f"generating {args.stations} stations × {YEAR} × {len(parameters)} parameters …",
              flush=True)  # fmt: skip
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute("SELECT setseed(0.2)")
            conn.execute(STATIONS_SQL, params)
            for statement in (HOURLY_SQL, AQI_HOURLY_SQL, AQI_DAILY_SQL):
                conn.execute(statement, params)
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
            counts = [
                int(conn.execute(f"SELECT count(*) FROM ({q}) AS q", params).fetchone()[0])  # type: ignore[index]
                for q in BASELINE_QUERIES
            ]
        n_rows = sum(counts)

        reader = pg.url(user="aqm_reader")
        load_before = os.getloadavg()[0]
        _copy_baseline(reader, params)  # warms the cache for both
        baseline_s, baseline_bytes = _copy_baseline(reader, params)

        out = root / "data"
        pub = Publication(out, TIMEZONE, "Bắc Ninh", "Sở Nông nghiệp và Môi trường tỉnh Bắc Ninh")
        began = time.perf_counter()
        with psycopg.connect(reader, autocommit=True) as conn:
            prepare_session(conn, TIMEZONE)
            pairs = station_years(conn, TIMEZONE, year=YEAR)
            stations_done = export_pairs(conn, pub, pairs)
        stations_s = time.perf_counter() - began
        began = time.perf_counter()
        rebuild_province_year(pub, YEAR)
        province_s = time.perf_counter() - began
        export_s = stations_s + province_s

        entries = read_manifest(out).values()
        province_rows = sum(e.rows for e in entries if e.station_id is None and e.format == "csv")
        total_bytes = sum(e.bytes for e in entries)
        csv_lines = sum(
            sum(1 for _ in (out / e.path).open("rb")) - 1
            for e in entries if e.station_id is None and e.format == "csv"
        )  # fmt: skip
    finally:
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)

    ok = stations_done.rows == n_rows == province_rows == csv_lines
    check = "match" if ok else f"DIFFER (tables {n_rows:,}, files {stations_done.rows:,})"
    lines = [
        f"### {dt.date.today().isoformat()} — one year × {args.stations} stations × "
        f"{len(parameters)} parameters",
        "",
        f"- machine: {describe()}; load average before the run {load_before:.2f} (the "
        "machine is shared with other work)",
        f"- input: {counts[0]:,} hourly means, {counts[1]:,} hourly and {counts[2]:,} daily "
        f"VN_AQI rows; the files' row counts {check} the tables",
        f"- export as aqm_reader: **{export_s:.1f} s** ({n_rows / export_s:,.0f} rows/s) — "
        f"{len(pairs)} station-years × 3 datasets × CSV + Parquet in {stations_s:.1f} s, "
        f"province files joined from them in {province_s:.1f} s; "
        f"{total_bytes / 1e6:,.1f} MB in all",
        f"- baseline, same run: `COPY (SELECT * …) TO STDOUT (FORMAT csv)` of the same rows "
        f"as aqm_reader {baseline_s:.1f} s ({baseline_bytes / 1e6:,.1f} MB) — the export "
        f"costs **{export_s / baseline_s:.1f}×** the bare COPY",
    ]
    print("\n".join(lines))
    if not args.no_record:
        append_to_section(SECTION, lines, BENCHMARKS)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
