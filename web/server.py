"""Serve :func:`web.app.create_app` with uvicorn (what ``aqm web`` runs).

With ``AQM_WEB_WORKERS`` above 1, uvicorn's supervisor runs that many processes on one
listening socket; each builds its own application (pool, cache, rate limits) from the
same settings.
"""

from __future__ import annotations

import functools
import gc
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from uvicorn.supervisors import Multiprocess

from aqm_core.settings import Settings
from web.app import create_app

MAX_CONCURRENT_CONNECTIONS = 1000
"""Beyond this (per process) uvicorn answers 503 at once instead of queueing without bound."""


def sub_applications(settings: Settings) -> list[Mount]:
    """Further read-only applications served beside the page and the SensorThings API."""
    return []


def build_app(settings: Settings, data_dir: Path | None) -> Starlette:
    """The application of one server process."""
    app = create_app(settings, data_dir=data_dir, mounts=sub_applications(settings))
    settle_heap()
    return app


def settle_heap() -> None:
    """Leave what start-up made (modules, the query grammar, the application) out of the
    garbage collector's generations.

    A page of 1,000 SensorThings entities allocates some 5,000 containers; every few pages
    that set off a full collection, which walked all start-up objects again: a pause of
    tens of milliseconds in the middle of a request (docs/benchmarks.md, "SensorThings
    API"). Frozen, they are never walked, and a full collection sees only what requests
    made. Objects made later are collected as before.
    """
    gc.collect()
    gc.freeze()


def serve(settings: Settings, *, data_dir: Path | None = None) -> None:
    config = uvicorn.Config(
        # a picklable factory: each worker process builds its own application
        functools.partial(build_app, settings, data_dir),
        factory=True,
        host=settings.web_host,
        port=settings.web_port,
        workers=settings.web_workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.web_forwarded_allow_ips,
        server_header=False,
        loop="auto",  # uvloop and httptools when installed (they are dependencies)
        http="auto",
        limit_concurrency=MAX_CONCURRENT_CONNECTIONS,
        timeout_keep_alive=5,
        access_log=False,
        log_level="info",
    )
    if settings.web_workers == 1:
        uvicorn.Server(config).run()
    else:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
