"""Benchmark: SensorThings Observations of one datastream over a year, paged at 1,000.

Run: ``.venv/bin/python -m bench.sta [--stations N] [--passes N] [--no-record]``.

Starts a private TimescaleDB and generates (untimed) a year of hourly means of PM2.5,
PM10, NO2 and O3 and of hourly VN_AQI for ``--stations`` publishing stations. The
SensorThings app runs under a real uvicorn in its own process on a free port (mounted at
/sta/v1.1 as ``aqm web`` mounts it, reading as ``aqm_reader`` through a connection pool). Timed, for
``--passes`` passes:

1. ``GET /Datastreams('BN001.pm25.hourly')/Observations?$top=1000`` and every
   ``@iot.nextLink`` after it, page by page (request, SQL, JSON, response, and the
   client reading the JSON);
2. the same for the hourly VN_AQI datastream (which also checks each day's eligibility);
3. the baseline in the same run: the plain SQL a hand-written endpoint would send for the
   same pages (``hourly`` through its primary key, keyset on the hour, 1,000 rows), as
   ``aqm_reader``, rows fetched;
4. ``GET /Observations?$top=1000`` (every Datastream's, in key order across the tables)
   and as many @iot.nextLink pages after it as a datastream has.

The server process freezes its start-up heap as ``aqm web`` does (``web.server.settle_heap``);
the client freezes its own after the warm-up, so a full collection of the client's heap
is not counted as a page's time.

Each page's time is recorded; the goal is ≤ 100 ms per page. The pages together must hold
every hourly mean of the year once (checked against the generated rows). The result is
appended to the ``## SensorThings API`` section of docs/benchmarks.md unless
``--no-record``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psycopg
import uvicorn
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.routing import Mount

from aqm.localservices import PostgresInstance, free_port, port_open
from bench.machine import describe, shared_note
from bench.record import append_to_section
from storage.migrate import migrate
from web.app import reader_connection_options
from web.server import settle_heap
from web.sta import create_sta_app

SECTION = "## SensorThings API"
GOAL_MS = 100.0
PAGE = 1000
YEAR_START = dt.datetime(2024, 12, 31, 17, tzinfo=dt.UTC)  # local 2025-01-01 00:00
HOURS = 8760

SETUP_SQL = """
INSERT INTO stations (station_id, name, latitude, longitude, station_type, public_aqi,
                      parameters)
SELECT 'BN' || lpad(i::text, 3, '0'), format('Trạm %%s', i), 21.0 + i * 0.001, 106.0,
       'fixed_automatic', true, ARRAY['pm25', 'pm10', 'no2', 'o3']
FROM generate_series(1, %(stations)s) AS i;

INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged, n_expected,
                    completeness, valid, min_completeness)
SELECT s.station_id, p.parameter, %(start)s::timestamptz + h * INTERVAL '1 hour',
       20 + 15 * sin(h / 24.0) + random() * 5, 12, 0, 12, 1.0, true, 0.75
FROM stations s
CROSS JOIN unnest(ARRAY['pm25', 'pm10', 'no2', 'o3']) AS p(parameter)
CROSS JOIN generate_series(0, %(hours)s - 1) AS h;

INSERT INTO aqi_hourly (station_id, standard, hour, aqi, category, dominant, method_version)
SELECT s.station_id, 'vn_1459_2019', %(start)s::timestamptz + h * INTERVAL '1 hour',
       (40 + 30 * sin(h / 24.0))::int, 1, 'pm25', 'bench'
FROM stations s CROSS JOIN generate_series(0, %(hours)s - 1) AS h;
"""

BASELINE_SQL = """
SELECT hour, hour + INTERVAL '1 hour' AS hour_end, mean, computed_at, data_level,
       completeness, n_valid, n_expected
FROM hourly
WHERE station_id = %s AND parameter = 'pm25' AND valid AND mean IS NOT NULL AND hour > %s
ORDER BY hour
LIMIT %s
"""


async def _serve(reader_url: str, port: int) -> None:
    # connections and heap as aqm web's (web/app.py, web/server.py)
    options = reader_connection_options(timeout_ms=10_000)  # the default request limit
    async with AsyncConnectionPool(reader_url, min_size=2, max_size=4, kwargs=options) as pool:
        app = Starlette(routes=[Mount("/sta/v1.1", create_sta_app(pool))])
        settle_heap()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        await uvicorn.Server(config).serve()


class Server:
    """The app under uvicorn in its own process (as ``aqm web`` runs it), so the client's
    work does not share the server's interpreter."""

    def __init__(self, reader_url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/sta/v1.1"
        self.command = [sys.executable, "-m", "bench.sta", "--serve", reader_url, str(self.port)]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(self.command)
        deadline = time.monotonic() + 60
        while not port_open(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the SensorThings server did not start")
            time.sleep(0.1)
        return self

    def cpu_seconds(self) -> float:
        """User and system CPU time the server process has used so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


def api_pages(
    client: httpx.Client, url: str, max_pages: int | None = None
) -> tuple[list[float], list[str]]:
    """Seconds per page and the ids of every Observation, following @iot.nextLink."""
    times: list[float] = []
    ids: list[str] = []
    next_url: str | None = url
    while next_url is not None and (max_pages is None or len(times) < max_pages):
        began = time.perf_counter()
        response = client.get(next_url)
        response.raise_for_status()
        page = response.json()
        times.append(time.perf_counter() - began)
        ids.extend(o["@iot.id"] for o in page["value"])
        next_url = page.get("@iot.nextLink")
    return times, ids


def sql_pages(
    conn: psycopg.Connection[tuple[object, ...]], station: str
) -> tuple[list[float], int]:
    times: list[float] = []
    rows_seen = 0
    after = YEAR_START - dt.timedelta(hours=1)
    while True:
        began = time.perf_counter()
        rows = conn.execute(BASELINE_SQL, (station, after, PAGE)).fetchall()
        times.append(time.perf_counter() - began)
        rows_seen += len(rows)
        if len(rows) < PAGE:
            return times, rows_seen
        after = rows[-1][0]  # type: ignore[assignment]


def _ms(values: Sequence[float]) -> str:
    ordered = sorted(values)
    median = statistics.median(ordered) * 1000
    return f"median {median:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def main(argv: Sequence[str] = ()) -> int:
    """Run the benchmark; ``argv`` as on the command line (``python -m bench`` passes none)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--serve", nargs=2, metavar=("READER_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv))
    if args.serve:
        serving = _serve(args.serve[0], int(args.serve[1]))
        try:  # the event loop aqm web's uvicorn picks (loop="auto"), where it is installed
            import uvloop
        except ImportError:
            asyncio.run(serving)
        else:
            uvloop.run(serving)
        return 0

    root = Path(tempfile.mkdtemp(prefix="aqm-bench-sta-"))
    root.chmod(0o755)
    pg = PostgresInstance(root / "pg", free_port())
    try:
        pg.start()
        migrate(pg.url())
        print(f"generating a year of hourly data for {args.stations} stations …", flush=True)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            params = {"stations": args.stations, "start": YEAR_START, "hours": HOURS}
            for statement in SETUP_SQL.split(";")[:-1]:
                conn.execute(statement.encode(), params)
            conn.execute("VACUUM ANALYZE hourly")
            conn.execute("VACUUM ANALYZE aqi_hourly")
            expected = conn.execute(
                "SELECT count(*) FROM hourly WHERE station_id = 'BN001' AND parameter = 'pm25'"
            ).fetchone()
        n_expected = int(expected[0]) if expected else 0

        reader = pg.url(user="aqm_reader")
        load_before = os.getloadavg()[0]
        api_times: list[float] = []
        aqi_times: list[float] = []
        sql_times: list[float] = []
        all_times: list[float] = []
        complete = True
        server_cpu = 0.0
        with Server(reader) as server, httpx.Client(base_url=server.base, timeout=60) as client:
            means_url = f"Datastreams('BN001.pm25.hourly')/Observations?$top={PAGE}"
            aqi_url = f"Datastreams('BN001.vn_aqi.hourly')/Observations?$top={PAGE}"
            all_url = f"Observations?$top={PAGE}"
            pages = -(-n_expected // PAGE)
            api_pages(client, means_url)  # warm-up: caches, pool, JIT-free plans
            api_pages(client, all_url, max_pages=pages)
            # This client imports the server's modules too; its full collections (up to
            # 100 ms on a loaded machine) are no part of the API's time: frozen like the
            # server's heap (settle_heap).
            settle_heap()
            with psycopg.connect(reader, autocommit=True) as conn:
                sql_pages(conn, "BN001")
                for _ in range(args.passes):
                    cpu_before = server.cpu_seconds()
                    times, ids = api_pages(client, means_url)
                    server_cpu += server.cpu_seconds() - cpu_before
                    api_times.extend(times)
                    complete &= len(ids) == len(set(ids)) == n_expected
                    times, ids = api_pages(client, aqi_url)
                    aqi_times.extend(times)
                    complete &= len(ids) == len(set(ids)) == HOURS
                    times, n_rows = sql_pages(conn, "BN001")
                    sql_times.extend(times)
                    complete &= n_rows == n_expected
                    times, ids = api_pages(client, all_url, max_pages=pages)
                    all_times.extend(times)
                    complete &= len(ids) == len(set(ids)) == pages * PAGE
        load_after = os.getloadavg()[0]
    finally:
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)

    ratio = statistics.median(api_times) / statistics.median(sql_times)
    worst = max(api_times + aqi_times) * 1000
    verdict = "within" if worst <= GOAL_MS else "OVER"
    lines = [
        f"### {dt.date.today().isoformat()} — Observations of one datastream, a year of hourly "
        f"values, pages of {PAGE}",
        "",
        f"- machine: {describe()}; load average before the run {load_before:.2f}, "
        f"after it {load_after:.2f}{shared_note(load_before)}",
        f"- data: {args.stations} stations × 4 parameters × {HOURS} hourly means, and their "
        f"hourly VN_AQI; {pages} pages per datastream, {args.passes} passes after a warm-up",
        f"- `Datastreams('BN001.pm25.hourly')/Observations?$top={PAGE}` and its "
        f"@iot.nextLink pages over HTTP (uvicorn, aqm_reader pool): **{_ms(api_times)}** "
        f"per page; the server process's own CPU time "
        f"{1000 * server_cpu / len(api_times):.1f} ms per page (PostgreSQL's not counted)",
        f"- the hourly VN_AQI datastream (eligibility checked per day): {_ms(aqi_times)} per page",
        f"- every Datastream's Observations, `Observations?$top={PAGE}` (key order across the "
        f"tables), its first {pages} pages: {_ms(all_times)} per page",
        f"- baseline, same run: the plain keyset SQL for the same pages as aqm_reader: "
        f"{_ms(sql_times)} per page — the API costs **{ratio:.1f}×** the bare query "
        "(JSON of 1,000 entities with links, and the HTTP round trip)",
        f"- goal ≤ {GOAL_MS:.0f} ms per page: {verdict} (slowest page {worst:.1f} ms); every "
        f"page together held each of the {n_expected:,} values once: "
        f"{'yes' if complete else 'NO'}",
    ]
    print("\n".join(lines))
    if not args.no_record:
        append_to_section(SECTION, lines)
    return 0 if complete and worst <= GOAL_MS else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
