"""A reproducible stream of station readings and a publisher that never drops one.

The stream is what simulated stations would send: every station reports every five
minutes, one aqm JSON message per station and hour (12 observations × 4 pollutants), so
100,000+ readings travel in about two thousand messages. ``expected`` is the exact set of
(station, parameter, ts, value) the database must end up holding.

The publisher keeps a persistent MQTT 5 session and lets paho resend every message the
broker has not acknowledged after a reconnect, so a broker restart tests ingest, not the
publisher. It counts PUBACKs itself instead of ``wait_for_publish``, which raises for
messages queued while the connection was down.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

TOPIC = "aqm/v1/stations/{}/readings"
PARAMETERS = ("pm25", "pm10", "no2", "o3")
REPORT_INTERVAL_S = 300
OBSERVATIONS_PER_MESSAGE = 12  # one hour of five-minute observations

ReadingKey = tuple[str, str, datetime, float]  # station, parameter, ts (UTC), value


def station_ids(n: int) -> list[str]:
    return [f"BN-R{i:02d}" for i in range(1, n + 1)]


@dataclass(frozen=True)
class Stream:
    stations: list[str]
    probe: tuple[str, bytes]  # published until stored: then ingest is subscribed
    messages: list[tuple[str, bytes]]
    expected: frozenset[ReadingKey]
    first_ts: datetime
    last_ts: datetime

    @property
    def n_readings(self) -> int:
        return len(self.expected)


def _value(parameter: str, station: int, step: int) -> float:
    """A plausible, deterministic concentration with a daily cycle and station offsets."""
    base = {"pm25": 35.0, "pm10": 70.0, "no2": 30.0, "o3": 60.0}[parameter]
    daily = (step % 288) / 288  # 288 five-minute steps a day
    wave = 1.0 + 0.6 * (1 - abs(2 * daily - 1))
    return round(base * wave + (station * 7 + step * 13) % 23 - 11 + station, 1)


def build_stream(n_stations: int, hours: int, start: datetime) -> Stream:
    """``n_stations`` × ``hours`` messages of 48 readings each, hour by hour."""
    stations = station_ids(n_stations)
    messages: list[tuple[str, bytes]] = []
    probe_ts = start - timedelta(hours=1)
    probe = {"station": stations[0], "ts": probe_ts.isoformat(), "values": {"pm25": 20.0}}
    expected: set[ReadingKey] = {(stations[0], "pm25", probe_ts, 20.0)}
    for hour in range(hours):
        for s, station in enumerate(stations):
            observations = []
            for k in range(OBSERVATIONS_PER_MESSAGE):
                step = hour * OBSERVATIONS_PER_MESSAGE + k
                ts = start + timedelta(seconds=REPORT_INTERVAL_S * step)
                values = {p: _value(p, s, step) for p in PARAMETERS}
                observations.append({"station": station, "ts": ts.isoformat(), "values": values})
                expected.update((station, p, ts, v) for p, v in values.items())
            messages.append((TOPIC.format(station), json.dumps(observations).encode()))
    last = start + timedelta(seconds=REPORT_INTERVAL_S * (hours * OBSERVATIONS_PER_MESSAGE - 1))
    return Stream(
        stations,
        (TOPIC.format(stations[0]), json.dumps(probe).encode()),
        messages,
        frozenset(expected),
        start,
        last,
    )


def stream_start(days_ago: int = 9) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days_ago)).replace(minute=0, second=0, microsecond=0)


class DurablePublisher:
    """QoS 1 publisher with a persistent session; resends what the broker did not ack."""

    def __init__(self, port: int, client_id: str, max_inflight: int = 100) -> None:
        self._acked = 0
        self._lock = threading.Condition()
        self.reconnects = -1
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)  # unlimited: nothing dropped locally
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_publish = self._on_publish
        self.client.on_connect = self._on_connect
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()

    def _on_connect(self, *_args: object) -> None:
        self.reconnects += 1

    def _on_publish(self, *_args: object) -> None:
        with self._lock:
            self._acked += 1
            self._lock.notify_all()

    @property
    def acked(self) -> int:
        return self._acked

    def publish(self, messages: list[tuple[str, bytes]], rate_msgs: float | None = None) -> None:
        """Queue every message (paced at ``rate_msgs`` per second when given)."""
        start = time.monotonic()
        for i, (topic, payload) in enumerate(messages):
            if rate_msgs:
                delay = start + i / rate_msgs - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self.client.publish(topic, payload, qos=1)

    def wait_acked(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._acked < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"broker acked {self._acked} of {n} messages")
                self._lock.wait(min(remaining, 0.5))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
