"""Fixtures for ingest tests: a registry of stations and a running service."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from aqm.localservices import MosquittoInstance
from aqm_core.settings import Settings, load_settings
from ingest.metrics import IngestMetrics
from ingest.service import IngestService

STATIONS = [
    ("BN-01", "active"),
    ("BN-02", "active"),
    ("BN-03", "active"),
    ("BN-09", "retired"),
]
_client_ids = itertools.count(1)


def seed_stations(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type, status)"
            " VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', %s)"
            " ON CONFLICT (station_id) DO UPDATE SET status = EXCLUDED.status",
            [(sid, f"Trạm {sid}", status) for sid, status in STATIONS],
        )


@pytest.fixture
def ingest_db(clean_db: str) -> str:
    seed_stations(clean_db)
    return clean_db


def as_role(url: str, role: str = "aqm_ingest") -> str:
    """The same database as ``role`` (trust authentication in the test cluster)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


def make_settings(db_url: str, broker: MosquittoInstance, **overrides: Any) -> Settings:
    """Settings of an ingest instance that writes as ``aqm_ingest``, as in production."""
    values: dict[str, Any] = {
        "database_url": as_role(db_url),
        "mqtt_url": broker.url(),
        "mqtt_client_id": f"aqm-ingest-test-{next(_client_ids)}-{time.time_ns()}",
        "batch_max_age_ms": 50,
        "metrics_port": 0,
    }
    values.update(overrides)
    return load_settings(**values)


class RunningService:
    def __init__(
        self,
        service: IngestService,
        task: asyncio.Task[None],
        stop: asyncio.Event,
        shutdown_timeout: float = 30,
    ) -> None:
        self.service, self.task, self.stop = service, task, stop
        self.shutdown_timeout = shutdown_timeout

    @property
    def metrics(self) -> IngestMetrics:
        return self.service.metrics

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, self.shutdown_timeout)


@pytest.fixture
async def start_service() -> AsyncIterator[Callable[..., Any]]:
    """Start ``aqm ingest`` in this loop; every one still running is stopped afterwards."""
    running: list[RunningService] = []

    async def start(
        settings: Settings, *, subscribe_timeout: float = 15, shutdown_timeout: float = 30
    ) -> RunningService:
        service = IngestService(settings)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await asyncio.wait_for(service.subscribed.wait(), subscribe_timeout)
        handle = RunningService(service, task, stop, shutdown_timeout)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        if not handle.task.done():
            await handle.shutdown()


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        return int(row[0]) if row else 0
