"""The ingest service: a transport in, batches into TimescaleDB, acks only after commit.

Whatever the broker, every message takes the same path: the transport (MQTT from
Mosquitto, ``ingest/mqtt_input.py``; AMQP from a RabbitMQ quorum queue,
``ingest/amqp_input.py``) queues a delivery; the :class:`~ingest.batcher.Batcher`
gathers deliveries, each decoded and validated on the loop; the
:class:`~ingest.writer.Writer` commits each batch; and only then does the transport ack
its messages. Messages not acked — the database away at shutdown, a crash — are
redelivered by the broker and stored once, thanks to the merge.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import psycopg

from aqm_core.settings import Settings
from ingest.batcher import Batch, Batcher, Delivery, InFlight
from ingest.clock import ClockWatch, watch
from ingest.decode import decode
from ingest.metrics import IngestMetrics
from ingest.model import Reason, Rejection
from ingest.registry import load_registry, station_zone, zone_label
from ingest.topics import TopicLayout
from ingest.validate import StationInfo, ValidationPolicy, judge
from ingest.writer import ReceivedMessage, Writer, first_line, stopped_within, text

log = logging.getLogger("aqm.ingest")

REGISTRY_REFRESH_S = 30.0
REGISTRY_MIN_REFRESH_S = 2.0


class Transport(Protocol):
    """Where messages come from: puts deliveries on a queue, acks what was committed."""

    async def start(self, queue: asyncio.Queue[Delivery], stop: asyncio.Event) -> None: ...

    async def ack(self, deliveries: list[Delivery]) -> None: ...

    async def close(self) -> None: ...


def make_transport(
    settings: Settings, metrics: IngestMetrics, inflight: InFlight, subscribed: asyncio.Event
) -> Transport:
    """The input of ``settings.broker``: MQTT from Mosquitto, AMQP from RabbitMQ."""
    if settings.broker == "rabbitmq":
        from ingest.amqp_input import AmqpInput

        return AmqpInput(settings, metrics, inflight, subscribed)
    from ingest.mqtt_input import MqttInput

    return MqttInput(settings, metrics, inflight, subscribed)


class IngestService:
    """One ingest instance; several share the load (MQTT shared group, or one AMQP queue)."""

    def __init__(
        self,
        settings: Settings,
        metrics: IngestMetrics | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or IngestMetrics()
        self.topics = TopicLayout(settings.topic_prefix)
        self.local_tz = ZoneInfo(settings.timezone)
        self.policy = ValidationPolicy(
            future_tolerance=timedelta(seconds=settings.future_tolerance_s),
            past_horizon=timedelta(days=settings.past_horizon_days),
        )
        self.registry: dict[str, StationInfo] = {}
        self.clock = ClockWatch()
        self._registry_loaded = 0.0
        self.subscribed = asyncio.Event()
        self.inflight = InFlight(settings.max_unacked_bytes)
        self.writer = Writer(settings.database_url, self.metrics)
        self.transport = transport or make_transport(
            settings, self.metrics, self.inflight, self.subscribed
        )
        self._writing: asyncio.Task[None] | None = None
        self._writer_failure: str | None = None
        self.metrics.unacked_messages.set_function(self.inflight.count)
        self.metrics.oldest_unacked_seconds.set_function(self.inflight.oldest_age)
        self.metrics.add_health_check(self._health_problem)

    def oldest_unacked_age(self) -> float:
        """Seconds the oldest message received and not yet acked has waited (0: none)."""
        return self.inflight.oldest_age()

    def _health_problem(self) -> str | None:
        if self._writer_failure:
            return f"the writer stopped: {self._writer_failure}"
        age = self.inflight.oldest_age()
        limit = self.settings.health_max_unacked_age_s
        if age > limit:
            return (
                f"the oldest unacked message has waited {age:.0f} s for its commit"
                f" (AQM_HEALTH_MAX_UNACKED_AGE_S {limit:g})"
            )
        return None

    async def refresh_registry(self, force: bool = False) -> None:
        age = time.monotonic() - self._registry_loaded
        if not force and age < (REGISTRY_MIN_REFRESH_S if self._registry_loaded else 0):
            return
        self._registry_loaded = time.monotonic()  # failures are rate-limited too
        self.registry = await load_registry(self.settings.database_url)

    # -- the pipeline ---------------------------------------------------------------

    def _judge(self, delivery: Delivery) -> ReceivedMessage:
        station = self.topics.station_of(delivery.topic)
        try:
            decoded = decode(
                delivery.payload,
                station_zone(self.registry, station, self.local_tz),
                delivery.received_at,
                self.settings.max_payload_bytes,
            )
            watch(self.clock, self.metrics.station_clock_offset_seconds, station,
                  delivery.received_at, decoded.readings, self.registry,
                  zone_label(self.registry, station, self.settings.timezone))  # fmt: skip
            verdict = judge(decoded, station, self.registry, self.policy, delivery.received_at)
            readings, rejections = verdict.readings, verdict.rejections
        except Exception as exc:
            log.exception(
                "decoding a message on %s failed; storing it as rejected", text(delivery.topic)
            )
            readings, rejections = (
                [],
                [Rejection(Reason.DECODER_ERROR, f"decoder failed: {exc!r}"[:500])],
            )
        if not readings and not rejections:
            rejections = [Rejection(Reason.NO_READINGS, "message holds no readings")]
        return ReceivedMessage.of(
            delivery.topic,
            delivery.payload,
            delivery.received_at,
            station,
            readings,
            rejections,
            self.settings.max_payload_bytes,
        )

    async def accept(self, delivery: Delivery) -> ReceivedMessage:
        """Decode and validate one delivery into the message the writer stores."""
        self.metrics.messages_received.inc()
        station = self.topics.station_of(delivery.topic)
        if station and station not in self.registry:
            try:
                await self.refresh_registry()  # a station added since the last refresh
            except (psycopg.Error, OSError) as exc:
                log.warning("could not refresh the station registry: %s", exc)
        if delivery.qos == 0:  # the broker queues nothing at QoS 0 while ingest is away
            known = station if station in self.registry else ""
            self.metrics.qos0_messages.labels(station=known).inc()
        message = self._judge(delivery)
        if station in self.registry:  # registered only: topics of strangers add no series
            self.metrics.station_last_seen.labels(station=station).set(time.time())
        return message

    async def _hand_over(self, batch: Batch, stop: asyncio.Event) -> None:
        """Start writing ``batch`` once the previous one is committed and acked.

        While one batch is in the database, the loop decodes and validates the next:
        PostgreSQL and Python work in parallel, and batches still commit in order.
        """
        if self._writing is not None:
            await asyncio.wait([self._writing])  # its failure is recorded, not raised here
        self._writing = asyncio.create_task(self._flush(batch, stop), name="aqm-ingest-write")
        self._writing.add_done_callback(self._writer_done)

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Cannot happen by design (Writer.commit absorbs everything); if it does,
            # the batch stays unacked and /healthz says so until the service restarts.
            self._writer_failure = first_line(exc)
            log.error("the writer stopped: %s", self._writer_failure, exc_info=exc)

    async def _flush(self, batch: Batch, stop: asyncio.Event) -> None:
        if not batch.deliveries:
            return
        started = time.monotonic()
        result = await self.writer.commit(batch.messages, stop)
        if result is None:
            log.warning(
                "stopping with %d messages not stored; unacked, the broker redelivers them",
                len(batch.deliveries),
            )
            return
        committed = time.monotonic()
        await self.transport.ack(batch.deliveries)
        m = self.metrics
        m.commit_seconds.observe(committed - started)
        m.batch_size.observe(batch.items)
        m.readings_received.inc(batch.items)
        m.readings_stored.inc(result.stored)
        m.readings_duplicate.inc(result.duplicates)
        m.rejected_duplicate.inc(result.rejected_duplicates)
        for reason, n in result.rejected_items.items():
            m.readings_rejected.labels(reason=reason).inc(n)
        for d in batch.deliveries:
            m.publish_to_commit_seconds.observe(committed - d.received_mono)
        log.debug(
            "committed %d messages: %d stored, %d duplicates, %d rejected",
            len(batch.deliveries),
            result.stored,
            result.duplicates,
            result.rejected,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then finish the batch in flight, ack, disconnect."""
        backoff = 0.5
        while not stop.is_set():
            try:
                await self.refresh_registry(force=True)
                break
            except (psycopg.OperationalError, OSError) as exc:
                log.warning("registry not readable (%s); retrying in %.1f s", exc, backoff)
                if await stopped_within(stop, backoff):
                    return
                backoff = min(backoff * 2, 10.0)
        # connect the writer now, so /healthz tells the truth
        await self.writer.connect_until_stopped(stop)
        queue: asyncio.Queue[Delivery] = asyncio.Queue()
        try:
            await self.transport.start(queue, stop)
            await self._consume(queue, stop)
        finally:
            self.inflight.close()
            await self.transport.close()
            await self.writer.close()
            log.info("ingest stopped")

    async def _consume(self, queue: asyncio.Queue[Delivery], stop: asyncio.Event) -> None:
        s = self.settings
        batcher = Batcher(queue, self.accept, s.batch_size, s.batch_max_age_ms / 1000)
        last_refresh = time.monotonic()
        while not stop.is_set():
            batch = await batcher.next_batch(stop)
            if batch is not None:
                await self._hand_over(batch, stop)
            if time.monotonic() - last_refresh > REGISTRY_REFRESH_S:
                last_refresh = time.monotonic()
                try:
                    await self.refresh_registry(force=True)
                except (psycopg.Error, OSError) as exc:
                    log.warning("could not refresh the station registry: %s", exc)
        # Stopping: what already arrived joins the final batch, which is committed and acked.
        await self._hand_over(await batcher.rest(), stop)
        if self._writing is not None:
            await asyncio.wait([self._writing])
