"""Deliveries from any broker, gathered into batches; and what is held unacked meanwhile.

A transport (``ingest/mqtt_input.py``, ``ingest/amqp_input.py``) puts each message it
receives on a queue as a :class:`Delivery`; the :class:`Batcher` takes them off, has each
judged (decoded and validated) and returns a :class:`Batch` when it holds ``max_items``
items or its oldest message has waited ``max_age_s``. Neither knows a broker or a
database, so both are tested without either.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from ingest.writer import ReceivedMessage


@dataclass(slots=True)
class Delivery:
    """One message as a transport received it; ``token`` is what the transport acks with."""

    seq: int
    topic: str
    payload: bytes
    received_at: datetime
    received_mono: float
    size: int
    qos: int
    token: object = None


@dataclass
class Batch:
    messages: list[ReceivedMessage] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    items: int = 0
    started: float = 0.0

    def add(self, delivery: Delivery, message: ReceivedMessage) -> None:
        if not self.deliveries:
            self.started = time.monotonic()
        self.deliveries.append(delivery)
        self.messages.append(message)
        self.items += len(message.readings) + len(message.rejections)


class Batcher:
    """Gathers deliveries from ``queue`` into batches, each judged by ``accept``."""

    def __init__(
        self,
        queue: asyncio.Queue[Delivery],
        accept: Callable[[Delivery], Awaitable[ReceivedMessage]],
        max_items: int,
        max_age_s: float,
        idle_s: float = 0.5,
    ) -> None:
        self.queue, self.accept = queue, accept
        self.max_items, self.max_age_s, self.idle_s = max_items, max_age_s, idle_s
        self._batch = Batch()

    async def next_batch(self, stop: asyncio.Event) -> Batch | None:
        """The next full or old-enough batch; None after ``idle_s`` without one, or on stop.

        A batch being gathered is kept across calls; :meth:`rest` hands it over at the end.
        """
        while not stop.is_set():
            batch = self._batch
            wait = (
                self.max_age_s - (time.monotonic() - batch.started)
                if batch.deliveries
                else self.idle_s
            )
            try:
                delivery = await asyncio.wait_for(self.queue.get(), timeout=max(wait, 0.0))
            except TimeoutError:
                delivery = None
            if delivery is not None:
                await self._add(delivery)
                while batch.items < self.max_items and not self.queue.empty():
                    await self._add(self.queue.get_nowait())
            if batch.deliveries and (
                batch.items >= self.max_items or time.monotonic() - batch.started >= self.max_age_s
            ):
                self._batch = Batch()
                return batch
            if delivery is None and not batch.deliveries:
                return None
        return None

    async def rest(self) -> Batch:
        """The batch being gathered, with everything already queued (when stopping)."""
        while not self.queue.empty():
            await self._add(self.queue.get_nowait())
        batch, self._batch = self._batch, Batch()
        return batch

    async def _add(self, delivery: Delivery) -> None:
        message = await self.accept(delivery)
        delivery.payload = b""  # the message keeps what it needs; free the rest now
        self._batch.add(delivery, message)


class InFlight:
    """Messages received and not yet acked, kept thread-safe for health and back-pressure.

    Transports admit each message as it arrives and release it when acked. The gauges
    and /healthz read it from the HTTP thread, so they tell the truth even while the loop
    waits on a stalled database. ``admit(wait=True)`` blocks a network thread while more
    than ``max_bytes`` of payload are held: it stops reading the socket, and the backlog
    stays in the broker (TCP back-pressure) even when the broker overshoots its window.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Condition()
        # receive time of each message by sequence number, in arrival order
        self._received: dict[int, float] = {}
        self._bytes = 0
        self._seq = 0
        self._closing = False

    def admit(self, size: int, wait: bool) -> tuple[int, float]:
        """A new message of ``size`` bytes: its sequence number and monotonic receive time."""
        with self._lock:
            while (
                wait and self._bytes and self._bytes + size > self.max_bytes and not self._closing
            ):
                self._lock.wait(1.0)
            self._bytes += size
            self._seq += 1
            now = time.monotonic()
            self._received[self._seq] = now
            return self._seq, now

    def release(self, deliveries: list[Delivery]) -> None:
        with self._lock:
            for d in deliveries:
                if self._received.pop(d.seq, None) is not None:
                    self._bytes -= d.size
            self._lock.notify_all()

    def close(self) -> None:
        """Let a waiting network thread go (the service is stopping)."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()

    def count(self) -> float:
        with self._lock:
            return float(len(self._received))

    def oldest_age(self) -> float:
        """Seconds the oldest message received and not yet acked has waited (0: none)."""
        with self._lock:
            oldest = next(iter(self._received.values()), None)
        return time.monotonic() - oldest if oldest is not None else 0.0
