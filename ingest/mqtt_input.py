"""MQTT in (Mosquitto): a persistent session, manual QoS 1 acks on the delivering connection.

paho-mqtt's network thread only hands each delivery to the asyncio loop. A message is
acknowledged only on the connection it arrived on: a message id belongs to one
connection, and after a reconnect the broker redelivers what was not acked (stored once,
thanks to the merge). Memory stays bounded because the broker never sends more than
``ReceiveMaximum`` unacknowledged messages (MQTT 5; Mosquitto's
``max_inflight_messages`` for 3.1.1) and the network thread stops reading while
``max_unacked_bytes`` are held; while the database is down, the broker keeps the backlog
in its persistent session.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from aqm_core.settings import Settings
from ingest.batcher import Delivery, InFlight
from ingest.metrics import IngestMetrics
from ingest.topics import TopicLayout

log = logging.getLogger("aqm.ingest")


def _mqtt_token(d: Delivery) -> tuple[int, int]:
    """The message id and the connection it came on."""
    token = d.token
    assert isinstance(token, tuple)
    return token[0], token[1]


class MqttInput:
    """Subscribes to every station's readings topic and acks what the writer committed."""

    def __init__(
        self,
        settings: Settings,
        metrics: IngestMetrics,
        inflight: InFlight,
        subscribed: asyncio.Event,
    ) -> None:
        self.settings, self.metrics, self.inflight = settings, metrics, inflight
        self.subscribed = subscribed
        self.topics = TopicLayout(settings.topic_prefix)
        self._generation = 0
        self._connected = False
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Delivery] | None = None

    async def start(self, queue: asyncio.Queue[Delivery], stop: asyncio.Event) -> None:
        self._loop, self._queue = asyncio.get_running_loop(), queue
        s = self.settings
        client = self._client = self._make_client()
        props = None
        if s.mqtt_protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = s.mqtt_session_expiry_s
            props.ReceiveMaximum = min(65535, s.max_unacked)
        client.connect_async(
            s.mqtt.host,
            s.mqtt.port,
            keepalive=30,
            clean_start=False if props else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        client.loop_start()

    async def ack(self, deliveries: list[Delivery]) -> None:
        client = self._client
        self.inflight.release(deliveries)
        for d in deliveries:
            mid, generation = _mqtt_token(d)
            # A mid is only meaningful on the connection that delivered it; after a
            # reconnect the broker redelivers and the merge stores it once.
            if (
                client is not None
                and d.qos > 0
                and generation == self._generation
                and self._connected
            ):
                client.ack(mid, d.qos)

    async def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    # -- the network thread -----------------------------------------------------------

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
        seq, received_mono = self.inflight.admit(size, wait=True)
        topic = msg._topic.decode("utf-8", errors="replace")  # never raise on this thread
        delivery = Delivery(
            seq,
            topic,
            bytes(msg.payload),
            datetime.now(UTC),
            received_mono,
            size,
            msg.qos,
            (msg.mid, self._generation),
        )
        assert self._loop is not None and self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, delivery)
