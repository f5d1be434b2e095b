"""What a run left in the database, and what a clean run of the same readings leaves.

A clean run feeds the stream through ingest's own decode → judge → write path in one
process, in order, with no fault; then the AQI worker drains the queue. A fault run must
end with the same ``readings`` and, after its worker drains, the same ``hourly``,
``aqi_hourly`` and ``aqi_daily`` rows (``computed_at`` aside). Both workers run with the
same clock, so "hours that have not begun" mean the same thing in both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from aqm_core.settings import load_settings
from ingest.decode import decode
from ingest.validate import StationInfo, ValidationPolicy, judge
from ingest.writer import ReceivedMessage, prepare, write_batch
from worker.service import drain_once, run_worker

from .stream import ReadingKey

AGGREGATES = {
    "hourly": "station_id, parameter, hour",
    "aqi_hourly": "station_id, standard, hour",
    "aqi_daily": "station_id, standard, day",
}
Snapshot = dict[str, list[tuple[Any, ...]]]


def stored_readings(url: str) -> list[ReadingKey]:
    """Every row of ``readings`` as (station, parameter, ts, value) — a list, so
    duplicates would show (the primary key forbids them; the count still says so)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT station_id, parameter, ts, value FROM readings").fetchall()
    return [(str(s), str(p), t.astimezone(dt.UTC), float(v)) for s, p, t, v in rows]


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def snapshot(url: str) -> Snapshot:
    """Every aggregate row, all columns but ``computed_at``, in key order."""
    out: Snapshot = {}
    with psycopg.connect(url) as conn:
        for table, key in AGGREGATES.items():
            columns = [
                str(r[0])
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                    " AND column_name <> 'computed_at' ORDER BY ordinal_position",
                    (table,),
                )
            ]
            out[table] = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}"
            ).fetchall()
    return out


def fixed_clock(now: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: now


def drain(worker_url: str, now: dt.datetime) -> float:
    """Run one worker until the queue is empty; seconds taken."""
    started = time.monotonic()
    drain_once(worker_url, load_settings(database_url=worker_url), clock=fixed_clock(now))
    return time.monotonic() - started


def drain_with_workers(worker_url: str, now: dt.datetime, n: int, batch_hours: int) -> float:
    """Run ``n`` polling workers on one queue until it stays empty; seconds taken."""
    settings = load_settings(
        database_url=worker_url, worker_poll_s=0.05, worker_batch_hours=batch_hours
    )
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=run_worker, args=(settings, stop), kwargs={"clock": fixed_clock(now)}
        )
        for _ in range(n)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        while count(worker_url, "SELECT count(*) FROM aqi_dirty_hours") > 0:
            assert time.monotonic() - started < 120, "workers did not drain the queue"
            time.sleep(0.1)
        time.sleep(0.3)  # a claim in flight commits before the queue looks empty
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    return time.monotonic() - started


def ingest_cleanly(url: str, messages: list[tuple[str, bytes]], stations: list[str]) -> None:
    """The reference run: every message decoded, judged and written once, in order."""
    registry = {s: StationInfo(active=True) for s in stations}
    policy = ValidationPolicy(past_horizon=dt.timedelta(days=400))
    tz = ZoneInfo("Asia/Ho_Chi_Minh")

    async def run() -> None:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        await prepare(conn)
        batch: list[ReceivedMessage] = []
        for topic, payload in messages:
            now = dt.datetime.now(dt.UTC)
            station = topic.split("/")[3]
            verdict = judge(decode(payload, tz, now, 1 << 20), station, registry, policy, now)
            assert not verdict.rejections, verdict.rejections[:3]
            batch.append(ReceivedMessage.of(topic, payload, now, station, verdict.readings, []))
            if len(batch) == 100:
                await write_batch(conn, batch)
                batch = []
        if batch:
            await write_batch(conn, batch)
        await conn.close()

    asyncio.run(run())
