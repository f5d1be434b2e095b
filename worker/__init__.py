"""The AQI worker: keeps ``hourly``, ``aqi_hourly`` and ``aqi_daily`` current.

Entry points: :func:`worker.service.run_worker`, :func:`worker.service.drain_once`,
:func:`worker.backfill.run_backfill`. Developer documentation: docs/worker.md.
"""
