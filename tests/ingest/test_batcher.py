"""The batcher and the unacked book-keeping without a broker or a database."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

from ingest.batcher import Batcher, Delivery, InFlight
from ingest.model import Reason, Rejection
from ingest.writer import ReceivedMessage


def delivery(seq: int, items: int = 1, size: int = 10) -> Delivery:
    # the payload says how many items the message holds; ``accept`` reads it back
    return Delivery(seq, "t", str(items).encode(), datetime.now(UTC), time.monotonic(), size, 1)


async def accept(d: Delivery) -> ReceivedMessage:
    n = int(d.payload)
    rejections = [Rejection(Reason.NO_READINGS, "x", i) for i in range(n)]
    return ReceivedMessage.of(d.topic, d.payload, d.received_at, None, [], rejections)


async def test_a_batch_closes_when_it_holds_enough_items() -> None:
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for seq in range(1, 8):
        queue.put_nowait(delivery(seq, items=2))
    batcher = Batcher(queue, accept, max_items=6, max_age_s=60)
    first = await batcher.next_batch(asyncio.Event())
    assert first is not None
    assert [d.seq for d in first.deliveries] == [1, 2, 3]  # 6 items: full
    assert first.items == 6
    second = await batcher.next_batch(asyncio.Event())
    assert second is not None and [d.seq for d in second.deliveries] == [4, 5, 6]
    assert all(d.payload == b"" for d in first.deliveries)  # freed once judged


async def test_a_batch_closes_when_its_oldest_message_is_old_enough() -> None:
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    queue.put_nowait(delivery(1))
    batcher = Batcher(queue, accept, max_items=1000, max_age_s=0.2)
    started = time.monotonic()
    batch = await batcher.next_batch(asyncio.Event())
    waited = time.monotonic() - started
    assert batch is not None and [d.seq for d in batch.deliveries] == [1]
    assert 0.15 <= waited < 2.0


async def test_an_idle_batcher_returns_none_and_stopping_keeps_what_arrived() -> None:
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    batcher = Batcher(queue, accept, max_items=1000, max_age_s=60, idle_s=0.05)
    assert await batcher.next_batch(asyncio.Event()) is None
    queue.put_nowait(delivery(1))
    stop = asyncio.Event()
    stop.set()
    assert await batcher.next_batch(stop) is None
    queue.put_nowait(delivery(2))
    rest = await batcher.rest()
    assert [d.seq for d in rest.deliveries] == [1, 2]


def test_in_flight_counts_releases_and_holds_a_network_thread_over_budget() -> None:
    inflight = InFlight(max_bytes=100)
    seq1, _ = inflight.admit(80, wait=True)
    assert inflight.count() == 1
    admitted = threading.Event()

    def network_thread() -> None:
        inflight.admit(50, wait=True)  # 80 + 50 > 100: waits for a release
        admitted.set()

    thread = threading.Thread(target=network_thread)
    thread.start()
    assert not admitted.wait(0.3)
    inflight.release([delivery(seq1, size=80)])
    assert admitted.wait(5)
    thread.join(5)
    assert inflight.count() == 1
    assert inflight.oldest_age() >= 0.0
