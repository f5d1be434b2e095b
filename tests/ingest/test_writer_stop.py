"""``stop`` ends the writer's waiting for a database that is away or does not answer."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from aqm.localservices import free_port
from ingest.model import Reason, Rejection
from ingest.writer import ReceivedMessage, Writer


def message() -> ReceivedMessage:
    rejection = Rejection(Reason.NO_READINGS, "message holds no readings")
    return ReceivedMessage.of("t", b"{}", datetime.now(UTC), None, [], [rejection])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung database)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


async def stop_after(stop: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(seconds)
    stop.set()


async def test_stop_ends_the_retries_while_no_database_listens() -> None:
    writer = Writer(f"postgresql://aqm_ingest@127.0.0.1:{free_port()}/aqm")
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(1.5, stop.set)
    started = time.monotonic()
    assert await writer.commit([message()], stop) is None
    assert time.monotonic() - started < 3.0
    assert writer.metrics.db_errors._value.get() >= 2  # it did retry meanwhile


async def test_stop_ends_a_connect_that_hangs(silent_server: int) -> None:
    writer = Writer(f"postgresql://aqm_ingest@127.0.0.1:{silent_server}/aqm?connect_timeout=60")
    stop = asyncio.Event()
    task = asyncio.create_task(writer.connect_until_stopped(stop))
    await asyncio.sleep(0.5)
    assert not task.done()  # the server took the connection and says nothing
    started = time.monotonic()
    stop.set()
    assert await asyncio.wait_for(task, 5) is False
    assert time.monotonic() - started < 2.0
