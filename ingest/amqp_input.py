"""AMQP 0-9-1 in (RabbitMQ): competing consumers of one quorum queue, acks after commit.

Stations publish MQTT to RabbitMQ's MQTT plugin, which routes each message into the
``amq.topic`` exchange with the topic as routing key (``/`` becomes ``.``); the quorum
queue bound there holds every station's readings, replicated on a Raft majority of the
cluster before the plugin sends the station its PUBACK. Every ingest instance consumes
the same queue: RabbitMQ hands each message to one of them (competing consumers) and
keeps it until that instance acks, which happens after the database commit. A delivery
tag belongs to one channel: after a reconnect the old tags are void, and RabbitMQ
redelivers what they named (stored once, thanks to the merge). ``prefetch_count`` bounds
what an instance holds unacked, as ``ReceiveMaximum`` does for MQTT.

The client is aio-pika; the nodes of ``AQM_AMQP_URL`` are tried in turn, so an instance
follows the cluster when the node it was connected to dies. Deliveries are taken from
aio-pika's underlying aiormq channel: aio-pika would wrap each in an ``IncomingMessage``
and run the callback in a task of its own, about 8 % of ingest's CPU on single-reading
messages (docs/benchmarks.md), for nothing ingest uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractQueue
from aiormq.abc import AbstractChannel as RawChannel
from aiormq.abc import DeliveredMessage

from aqm_core.settings import Settings, redact
from ingest.batcher import Delivery, InFlight
from ingest.metrics import IngestMetrics
from ingest.topics import TopicLayout, amqp_routing_key, topic_of_routing_key
from ingest.writer import first_line, stopped_within

log = logging.getLogger("aqm.ingest")

TOPIC_EXCHANGE = "amq.topic"
QUORUM = {"x-queue-type": "quorum"}
MAX_BACKOFF_S = 10.0
# RabbitMQ's MQTT plugin before 3.13 puts the QoS a station published with in this
# header; from 3.13 on (4.0 in Debian 13) only the delivery mode tells it.
MQTT_QOS_HEADER = "x-mqtt-publish-qos"
PERSISTENT = 2


def mqtt_qos(headers: dict[str, Any] | None, delivery_mode: int | None) -> int:
    """The QoS a station published with, as RabbitMQ's MQTT plugin hands it over AMQP.

    RabbitMQ 3.10–3.12 set the ``x-mqtt-publish-qos`` header; 3.13 and later convert an
    MQTT message to AMQP 0-9-1 without it, with delivery mode 2 (persistent) for QoS 1
    and 1 for QoS 0, as both do. A message published over AMQP with neither counts as
    QoS 1: it was queued, not fired and forgotten.
    """
    qos = (headers or {}).get(MQTT_QOS_HEADER)
    if isinstance(qos, int) and not isinstance(qos, bool):
        return qos
    if delivery_mode is not None and delivery_mode != PERSISTENT:
        return 0
    return 1


def readings_pattern(topic_prefix: str) -> str:
    """The binding that routes every station's readings into the queue."""
    return amqp_routing_key(TopicLayout(topic_prefix).subscription())


async def declare_readings_queue(
    channel: aio_pika.abc.AbstractChannel, name: str, topic_prefix: str
) -> AbstractQueue:
    """The durable quorum queue, bound to every station's readings topic (idempotent)."""
    queue = await channel.declare_queue(name, durable=True, arguments=dict(QUORUM))
    await queue.bind(TOPIC_EXCHANGE, routing_key=readings_pattern(topic_prefix))
    return queue


def _setter(event: asyncio.Event) -> Any:
    def set_event(*_: object) -> None:
        event.set()

    return set_event


class AmqpInput:
    """Consumes the readings queue; acks, on the delivering channel, what was committed."""

    def __init__(
        self,
        settings: Settings,
        metrics: IngestMetrics,
        inflight: InFlight,
        subscribed: asyncio.Event,
    ) -> None:
        self.settings, self.metrics, self.inflight = settings, metrics, inflight
        self.subscribed = subscribed
        self.urls = [u.strip() for u in settings.amqp_url.split(",") if u.strip()]
        self._queue: asyncio.Queue[Delivery] | None = None
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, queue: asyncio.Queue[Delivery], stop: asyncio.Event) -> None:
        self._queue = queue
        self._task = asyncio.create_task(self._run(stop), name="aqm-ingest-amqp")

    async def ack(self, deliveries: list[Delivery]) -> None:
        self.inflight.release(deliveries)
        # Deliveries of one channel arrive, are batched and are committed in tag order:
        # acking the last one with ``multiple`` acks them all.
        last: dict[int, DeliveredMessage] = {}
        for d in deliveries:
            message: DeliveredMessage = d.token  # type: ignore[assignment]
            last[id(message.channel)] = message
        for message in last.values():
            # a void tag (its channel closed): RabbitMQ redelivers, the merge stores once
            tag = message.delivery_tag
            with contextlib.suppress(Exception):
                if tag is not None:
                    await message.channel.basic_ack(tag, multiple=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        attempt = 0
        while not stop.is_set():
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            try:
                connection = await aio_pika.connect(
                    url, timeout=5, client_properties={"connection_name": "aqm-ingest"}
                )
            except Exception as exc:
                log.warning(
                    "RabbitMQ at %s not reachable (%s); retrying in %.1f s",
                    redact(url),
                    first_line(exc),
                    backoff,
                )
                if await stopped_within(stop, backoff / len(self.urls)):
                    return
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = 0.5
            self._connection = connection
            closed = asyncio.Event()
            connection.close_callbacks.add(_setter(closed))
            try:
                if await self._consume(connection, url, closed, stop):
                    return  # stopping: the connection stays open for the last acks
            except Exception as exc:
                log.warning(
                    "consuming from %s failed (%s); reconnecting", redact(url), first_line(exc)
                )
            finally:
                self.subscribed.clear()
                self.metrics.broker_connected.set(0)
            if not connection.is_closed:
                with contextlib.suppress(Exception):
                    await connection.close()

    async def _consume(
        self,
        connection: aio_pika.abc.AbstractConnection,
        url: str,
        closed: asyncio.Event,
        stop: asyncio.Event,
    ) -> bool:
        """Consume until the connection closes (False) or ``stop`` is set (True)."""
        s = self.settings
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=min(65535, s.max_unacked))
        queue = await declare_readings_queue(channel, s.amqp_queue, s.topic_prefix)
        raw: RawChannel = await channel.get_underlay_channel()
        consuming = await raw.basic_consume(queue.name, self._on_message, no_ack=False)
        tag = consuming.consumer_tag
        assert tag is not None
        self.metrics.broker_connected.set(1)
        self.subscribed.set()
        log.info("consuming queue %s at %s", s.amqp_queue, redact(url))
        waiters = [asyncio.ensure_future(closed.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if stop.is_set() and not closed.is_set():
            with contextlib.suppress(Exception):
                await raw.basic_cancel(tag)  # no more deliveries; what is held is still acked
            return True
        log.warning("RabbitMQ connection to %s closed; reconnecting", redact(url))
        return False

    async def _on_message(self, message: DeliveredMessage) -> None:
        body = message.body
        size = len(body)
        seq, received_mono = self.inflight.admit(size, wait=False)
        properties = message.header.properties
        delivery = Delivery(
            seq,
            topic_of_routing_key(message.routing_key or ""),
            body,
            datetime.now(UTC),
            received_mono,
            size,
            mqtt_qos(properties.headers, properties.delivery_mode),
            message,
        )
        assert self._queue is not None
        self._queue.put_nowait(delivery)
