"""The ingest service: MQTT in, batches into TimescaleDB, acks only after commit.

paho-mqtt's network thread only hands each delivery to the asyncio loop; decoding,
validation and database work happen on the loop, never on the network thread. A
message is acknowledged (manual ack, QoS 1) after the transaction holding its readings
commits, and only on the connection it arrived on: a message id belongs to one
connection, and after a reconnect the broker redelivers what was not acked (stored
once, thanks to the merge). Memory stays bounded because the broker never sends more
than ``ReceiveMaximum`` unacknowledged messages (MQTT 5; Mosquitto's
``max_inflight_messages`` for 3.1.1); while the database is down, the broker keeps
the backlog in its persistent session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from aqm_core.settings import Settings
from ingest.clock import ClockWatch, watch
from ingest.decode import decode
from ingest.metrics import IngestMetrics
from ingest.model import Reason, Rejection
from ingest.registry import load_registry, station_zone, zone_label
from ingest.topics import TopicLayout
from ingest.validate import StationInfo, ValidationPolicy, judge
from ingest.writer import (
    ReceivedMessage,
    WriteResult,
    prepare,
    text,
    write_batch,
    write_isolating_failures,
)

log = logging.getLogger("aqm.ingest")

REGISTRY_REFRESH_S = 30.0
REGISTRY_MIN_REFRESH_S = 2.0
MAX_DB_BACKOFF_S = 10.0
# A batch the database keeps refusing while the connection stays usable is written apart
# (``write_isolating_failures``) after this many attempts: a message that always fails
# is then the likeliest cause, and it must not hold every other station's data back.
ATTEMPTS_BEFORE_ONE_BY_ONE = 4


def _database_trouble(conn: psycopg.AsyncConnection[tuple[object, ...]], exc: Exception) -> bool:
    """True when ``exc`` says the database is away or unwell, not that a message is bad.

    Content errors are those a message can cause: data exceptions (22…), integrity
    violations (23…), program limits (54…), PostgreSQL's internal errors and anything
    raised in Python. Everything else — a lost connection, a full disk, a cancelled
    statement, a missing privilege — is retried with the whole batch held unacked.
    """
    if conn.broken or conn.closed or isinstance(exc, OSError | psycopg.InterfaceError):
        return True
    content = (
        psycopg.DataError,
        psycopg.IntegrityError,
        psycopg.InternalError,
        psycopg.errors.ProgramLimitExceeded,
    )
    return isinstance(exc, psycopg.Error) and not isinstance(exc, content)


def _first_line(exc: BaseException) -> str:
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


@dataclass(slots=True)
class Delivery:
    seq: int
    mid: int
    qos: int
    generation: int
    topic: str
    payload: bytes
    received_at: datetime
    received_mono: float
    size: int


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


class IngestService:
    """One ingest instance. Several may share a subscription (``mqtt_shared_group``)."""

    def __init__(self, settings: Settings, metrics: IngestMetrics | None = None) -> None:
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
        self._generation = 0
        self._connected = False
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Receive time of every message received and not yet acked, in arrival order,
        # kept by the network thread under ``_budget``: the gauges and /healthz read it
        # from the HTTP thread, so they tell the truth even while the loop waits on a
        # stalled database.
        self._unacked: dict[int, float] = {}
        self._seq = 0
        # Bytes of payload received and not yet acked. The network thread waits while it
        # is over budget, which stops it reading the socket: the backlog stays in the
        # broker (TCP back-pressure) even when the broker overshoots ReceiveMaximum.
        self._budget = threading.Condition()
        self._held_bytes = 0
        self._closing = False
        self._writing: asyncio.Task[None] | None = None
        self._writer_failure: str | None = None
        self.subscribed = asyncio.Event()
        self.metrics.unacked_messages.set_function(self._unacked_count)
        self.metrics.oldest_unacked_seconds.set_function(self.oldest_unacked_age)
        self.metrics.add_health_check(self._health_problem)

    # -- MQTT side (network thread) -------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        endpoint = s.mqtt
        v5 = s.mqtt_protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if endpoint.username:
            client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls:
            client.tls_set(
                ca_certs=str(s.mqtt_ca_file) if s.mqtt_ca_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        self._generation += 1
        self._connected = True
        self.metrics.broker_connected.set(1)
        topic = self.topics.subscription(self.settings.mqtt_shared_group)
        client.subscribe(topic, qos=1)
        log.info(
            "connected to broker %s:%s (session present: %s); subscribing to %s",
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            flags.session_present,
            topic,
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error("subscription refused: %s", [str(r) for r in reasons])
        elif self._loop:
            self._loop.call_soon_threadsafe(self.subscribed.set)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected = False
        self.metrics.broker_connected.set(0)
        if self._loop:
            self._loop.call_soon_threadsafe(self.subscribed.clear)
        log.warning("disconnected from broker (%s); reconnecting with backoff", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        size = len(msg.payload)
        with self._budget:
            while (
                self._held_bytes
                and self._held_bytes + size > self.settings.max_unacked_bytes
                and not self._closing
            ):
                self._budget.wait(1.0)
            self._held_bytes += size
            self._seq += 1
            seq = self._seq
            received_mono = time.monotonic()
            self._unacked[seq] = received_mono
        topic = msg._topic.decode("utf-8", errors="replace")  # never raise on this thread
        delivery = Delivery(
            seq,
            msg.mid,
            msg.qos,
            self._generation,
            topic,
            bytes(msg.payload),
            datetime.now(UTC),
            received_mono,
            size,
        )
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, delivery)

    def _ack(self, deliveries: list[Delivery]) -> None:
        client = self._client
        with self._budget:
            self._held_bytes -= sum(d.size for d in deliveries)
            for d in deliveries:
                self._unacked.pop(d.seq, None)
            self._budget.notify_all()
        for d in deliveries:
            # A mid is only meaningful on the connection that delivered it; after a
            # reconnect the broker redelivers and the merge stores it once.
            if (
                client is not None
                and d.qos > 0
                and d.generation == self._generation
                and self._connected
            ):
                client.ack(d.mid, d.qos)

    # -- health (any thread) ----------------------------------------------------------

    def _unacked_count(self) -> float:
        with self._budget:
            return float(len(self._unacked))

    def oldest_unacked_age(self) -> float:
        """Seconds the oldest message received and not yet acked has waited (0: none)."""
        with self._budget:
            # arrival order: the first entry left is the oldest
            oldest = next(iter(self._unacked.values()), None)
        return time.monotonic() - oldest if oldest is not None else 0.0

    def _health_problem(self) -> str | None:
        if self._writer_failure:
            return f"the writer stopped: {self._writer_failure}"
        age = self.oldest_unacked_age()
        limit = self.settings.health_max_unacked_age_s
        if age > limit:
            return (
                f"the oldest unacked message has waited {age:.0f} s for its commit"
                f" (AQM_HEALTH_MAX_UNACKED_AGE_S {limit:g})"
            )
        return None

    # -- database side --------------------------------------------------------------

    async def _db(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await psycopg.AsyncConnection.connect(
                self.settings.database_url,
                autocommit=True,
                application_name="aqm-ingest",
                connect_timeout=5,
            )
            await prepare(self._conn)
            self.metrics.db_connected.set(1)
            log.info("connected to the database")
        return self._conn

    async def _drop_db(self) -> None:
        self.metrics.db_connected.set(0)
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
        self._conn = None

    async def refresh_registry(self, force: bool = False) -> None:
        age = time.monotonic() - self._registry_loaded
        if not force and age < (REGISTRY_MIN_REFRESH_S if self._registry_loaded else 0):
            return
        self._registry_loaded = time.monotonic()  # failures are rate-limited too
        self.registry = await load_registry(self.settings.database_url)

    async def _write_with_retry(self, batch: Batch, stop: asyncio.Event) -> WriteResult | None:
        """Commit ``batch``; None when ``stop`` was set while the database was away.

        Nothing a message holds can stop this: a batch the database refuses for its
        content is written apart (``write_isolating_failures``), and a message it
        still refuses becomes ``store_failed`` rejects. Only the database being away or
        unwell holds the batch, unacked, for a retry with backoff.
        """
        backoff = 0.5
        attempts = 0
        while True:
            attempts += 1
            conn = None
            try:
                conn = await self._db()
                try:
                    return await write_batch(conn, batch.messages)
                except Exception as exc:
                    if _database_trouble(conn, exc) and attempts < ATTEMPTS_BEFORE_ONE_BY_ONE:
                        raise
                    self.metrics.db_errors.inc()
                    log.error(
                        "the database refused a batch of %d messages (%s); isolating the"
                        " messages at fault",
                        len(batch.messages),
                        _first_line(exc),
                    )
                    return await write_isolating_failures(conn, batch.messages)
            except Exception as exc:
                self.metrics.db_errors.inc()
                log.warning(
                    "database write failed (%s); holding %d messages unacked, retry in %.1f s",
                    _first_line(exc),
                    len(batch.deliveries),
                    backoff,
                )
                if conn is None or conn.broken or conn.closed:
                    await self._drop_db()
                if await _stopped_within(stop, backoff):
                    return None
                backoff = min(backoff * 2, MAX_DB_BACKOFF_S)

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

    async def _accept(self, delivery: Delivery, batch: Batch) -> None:
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
        delivery.payload = b""  # the message keeps what it needs; free the rest now
        if station in self.registry:  # registered only: topics of strangers add no series
            self.metrics.station_last_seen.labels(station=station).set(time.time())
        batch.add(delivery, message)

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
            # Cannot happen by design (_write_with_retry absorbs everything); if it does,
            # the batch stays unacked and /healthz says so until the service restarts.
            self._writer_failure = _first_line(exc)
            log.error("the writer stopped: %s", self._writer_failure, exc_info=exc)

    async def _flush(self, batch: Batch, stop: asyncio.Event) -> None:
        if not batch.deliveries:
            return
        started = time.monotonic()
        result = await self._write_with_retry(batch, stop)
        if result is None:
            log.warning(
                "stopping with %d messages not stored; unacked, the broker redelivers them",
                len(batch.deliveries),
            )
            return
        committed = time.monotonic()
        self._ack(batch.deliveries)
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
        self._loop = asyncio.get_running_loop()
        backoff = 0.5
        while not stop.is_set():
            try:
                await self.refresh_registry(force=True)
                await self._db()  # connect the writer now, so /healthz tells the truth
                break
            except (psycopg.OperationalError, OSError) as exc:
                log.warning("database not reachable (%s); retrying in %.1f s", exc, backoff)
                await self._drop_db()
                await _stopped_within(stop, backoff)
                backoff = min(backoff * 2, MAX_DB_BACKOFF_S)
        client = self._client = self._make_client()
        props = None
        if self.settings.mqtt_protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
            props.ReceiveMaximum = min(65535, self.settings.max_unacked)
        endpoint = self.settings.mqtt
        client.connect_async(
            endpoint.host,
            endpoint.port,
            keepalive=30,
            clean_start=False if props else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        client.loop_start()
        try:
            await self._consume(stop)
        finally:
            with self._budget:
                self._closing = True
                self._budget.notify_all()
            client.disconnect()
            client.loop_stop()
            await self._drop_db()
            log.info("ingest stopped")

    async def _consume(self, stop: asyncio.Event) -> None:
        s = self.settings
        max_age = s.batch_max_age_ms / 1000
        batch = Batch()
        last_refresh = time.monotonic()
        while not stop.is_set():
            wait = max_age - (time.monotonic() - batch.started) if batch.deliveries else 0.5
            try:
                delivery = await asyncio.wait_for(self._queue.get(), timeout=max(wait, 0.0))
            except TimeoutError:
                delivery = None
            if delivery is not None:
                await self._accept(delivery, batch)
                while batch.items < s.batch_size and not self._queue.empty():
                    await self._accept(self._queue.get_nowait(), batch)
            age = time.monotonic() - batch.started
            if batch.deliveries and (batch.items >= s.batch_size or age >= max_age):
                await self._hand_over(batch, stop)
                batch = Batch()
            if time.monotonic() - last_refresh > REGISTRY_REFRESH_S:
                last_refresh = time.monotonic()
                try:
                    await self.refresh_registry(force=True)
                except (psycopg.Error, OSError) as exc:
                    log.warning("could not refresh the station registry: %s", exc)
        # Stopping: what already arrived joins the final batch, which is committed and acked.
        while not self._queue.empty():
            await self._accept(self._queue.get_nowait(), batch)
        await self._hand_over(batch, stop)
        if self._writing is not None:
            await asyncio.wait([self._writing])


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless ``stop`` is set first; True when it was."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
