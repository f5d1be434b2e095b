"""A real uvicorn serving the SensorThings app (mounted at /sta/v1.1 as ``aqm web`` does)
on a free port, reading the seeded TimescaleDB as aqm_reader."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.routing import Mount

from aqm.localservices import PostgresInstance, free_port
from tests.sta.seed import seed
from web.sta import create_sta_app


class StaServer:
    """uvicorn in a thread with its own event loop and connection pool."""

    def __init__(self, reader_url: str) -> None:
        self.reader_url = reader_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/sta/v1.1"
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        async with AsyncConnectionPool(self.reader_url, min_size=1, max_size=4) as pool:
            app = Starlette(routes=[Mount("/sta/v1.1", create_sta_app(pool))])
            config = uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
            self.server = uvicorn.Server(config)
            await self.server.serve()

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not (self.server is not None and self.server.started):
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the SensorThings test server did not start on {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="module")
def sta_server(postgres: PostgresInstance, database_url: str) -> Iterator[StaServer]:
    seed(database_url)
    server = StaServer(postgres.url(user="aqm_reader"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sta(sta_server: StaServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sta_server.base, timeout=30) as client:
        yield client
