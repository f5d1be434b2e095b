"""Fixtures for the open data tests: the AQI worker's fixtures (stations, readings queued
as ingest queues them, the ``aqm_worker`` settings) and a small province."""

from __future__ import annotations

from tests.worker.conftest import (  # noqa: F401  (fixtures shared with the worker tests)
    add_readings,
    db,
    rules_without_flat_line,
    series,
    settings,
    worker_url,
)
