"""Stations that log in as themselves on the production broker, and what they sent.

Each station publishes with its own credentials from ``aqm stations credentials`` (the
ACL lets it write only its own topic), one observation per aqm JSON message, QoS 1, and
waits for every PUBACK: what it sent is what the broker acknowledged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.production_broker import ProductionBroker

TOPIC = "aqm/v1/stations/{}/readings"
PARAMETERS = ("pm25", "pm10")

ReadingKey = tuple[str, str, datetime, float]  # station, parameter, ts (UTC), value


@dataclass(frozen=True)
class Message:
    station: str
    payload: bytes
    readings: tuple[ReadingKey, ...]

    @property
    def topic(self) -> str:
        return TOPIC.format(self.station)


def messages(
    stations: Sequence[str], per_station: int, start: datetime | None = None, step_s: int = 60
) -> list[Message]:
    """``per_station`` one-observation messages per station, interleaved, oldest first."""
    start = start or (datetime.now(UTC) - timedelta(days=2)).replace(second=0, microsecond=0)
    out = []
    for i in range(per_station):
        ts = start + timedelta(seconds=i * step_s)
        for n, station in enumerate(stations):
            values = {
                "pm25": round(20 + (i * 7 + n) % 50 + 0.1, 1),
                "pm10": round(40 + (i * 11 + n) % 90 + 0.2, 1),
            }
            body = {"station": station, "ts": ts.isoformat(), "values": values}
            keys = tuple((station, p, ts, values[p]) for p in PARAMETERS)
            out.append(Message(station, json.dumps(body).encode(), keys))
    return out


def expected(sent: Sequence[Message]) -> set[ReadingKey]:
    return {key for message in sent for key in message.readings}


class StationClient:
    """One station's connection: its own login, QoS 1, counts PUBACKs."""

    def __init__(
        self,
        broker: ProductionBroker,
        station: str,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{station}-datalogger", protocol=protocol
        )
        self.client.username_pw_set(station, broker.passwords[station])
        self.client.max_inflight_messages_set(100)
        self._acked = threading.Condition()
        self.acks = 0
        self.failures: list[str] = []
        connected = threading.Event()
        self.client.on_connect = lambda *_: connected.set()
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert connected.wait(10), f"{station} could not connect"

    def _on_publish(
        self, _c: mqtt.Client, _u: object, _mid: int, reason: object, _p: object
    ) -> None:
        with self._acked:
            self.acks += 1
            if getattr(reason, "is_failure", False):
                self.failures.append(str(reason))
            self._acked.notify_all()

    def send(self, payload: bytes, topic: str) -> None:
        self.client.publish(topic, payload, qos=1)

    def wait_acked(self, n: int, timeout: float = 60) -> None:
        with self._acked:
            assert self._acked.wait_for(lambda: self.acks >= n, timeout), (
                f"{self.acks} of {n} PUBACKs"
            )
        assert not self.failures, self.failures

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(
    broker: ProductionBroker,
    sent: Sequence[Message],
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
) -> None:
    """Publish every message as its own station; return once the broker acked them all."""
    clients: dict[str, StationClient] = {}
    counts: dict[str, int] = {}
    try:
        for message in sent:
            client = clients.get(message.station)
            if client is None:
                client = clients[message.station] = StationClient(broker, message.station, protocol)
            client.send(message.payload, message.topic)
            counts[message.station] = counts.get(message.station, 0) + 1
        for station, client in clients.items():
            client.wait_acked(counts[station])
    finally:
        for client in clients.values():
            client.close()


def stored(url: str) -> set[ReadingKey]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT station_id, parameter, ts, value FROM readings").fetchall()
    return {(s, p, ts.astimezone(UTC), v) for s, p, ts, v in rows}


def count_readings(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0
