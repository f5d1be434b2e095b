"""Send a stream of simulated publications to the broker, paced like real stations.

Pacing keeps two promises. Never ahead of the wall clock: a sample is sent only once
its true time has come, so a timestamp is never in the future by more than the
station's clock skew (ingest refuses readings more than 5 minutes ahead). And at most
``speedup`` simulated seconds per wall second: history (a start in the past) is
replayed that much faster than real time until it catches up with now, after which
the stream runs at real time, live, for as long as it lasts. ``speedup=None`` sends
history as fast as ``rate`` (messages per second, None: unlimited) allows.

Every message is QoS 1 and counted as sent only when the broker's PUBACK arrives.
Each station can log in as itself (``logins``), as it must once the broker's ACL is on.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from aqm_core.errors import AqmError
from stations.simulator import Publication

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
# Messages sent but not yet acknowledged before the sender waits for PUBACKs.
WINDOW = 1000
DRAIN_TIMEOUT_S = 10.0


class PublishError(AqmError, RuntimeError):
    """The broker cannot be reached or refused a login; the message says which."""


@dataclass(frozen=True)
class Broker:
    """Where to publish: host, port, TLS (with the CA that signed the broker's certificate)."""

    host: str
    port: int
    tls: bool = False
    ca_file: Path | None = None
    protocol: Literal["5", "3.1.1"] = "5"  # RabbitMQ before 3.13 speaks 3.1.1 only


@dataclass(frozen=True)
class Login:
    username: str | None = None
    password: str | None = None


@dataclass
class PublishReport:
    """What was sent; updated while the stream runs (for progress displays)."""

    messages: int = 0
    readings: int = 0
    unacknowledged: int = 0  # PUBACKs still missing at the end
    refused: int = 0  # PUBACKs with a failure reason (MQTT 5), e.g. not authorised by the ACL
    simulated_time: datetime | None = None
    interrupted: bool = False
    by_station: dict[str, int] = field(default_factory=dict)


class _Connection:
    """One paho client, connected and looping, for one login."""

    def __init__(self, broker: Broker, login: Login) -> None:
        self.name = login.username or "anonymous"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"aqm-sim-{self.name}-{os.getpid()}",
            protocol=mqtt.MQTTv5 if broker.protocol == "5" else mqtt.MQTTv311,
        )
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        if login.username:
            self.client.username_pw_set(login.username, login.password)
        if broker.tls:
            self.client.tls_set(
                ca_certs=str(broker.ca_file) if broker.ca_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._ready = threading.Event()
        self._refusal: str | None = None
        # mids sent and not yet acknowledged; PUBACKs arrive on paho's network thread.
        self._unacked: set[int] = set()
        self._early: set[int] = set()
        self._acked = threading.Condition()
        self.refused: list[str] = []  # reason codes of PUBACKs that refused a message
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        where = f"{broker.host}:{broker.port}"
        try:
            self.client.connect(broker.host, broker.port)
        except ssl.SSLError as exc:
            raise PublishError(f"TLS handshake with {where} failed: {exc.reason or exc}") from exc
        except OSError as exc:
            raise PublishError(f"cannot reach the broker at {where}: {exc}") from exc
        self.client.loop_start()
        if not self._ready.wait(CONNECT_TIMEOUT_S):
            self.close()
            raise PublishError(f"no answer from the broker at {where} within "
                               f"{CONNECT_TIMEOUT_S:.0f} s")
        if self._refusal is not None:
            self.close()
            raise PublishError(f"the broker at {where} refused {self.name}: {self._refusal}")
        log.info("connected to %s as %s", where, self.name)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: ReasonCode, properties: object) -> None:
        if reason.is_failure:
            self._refusal = str(reason)
            client.disconnect()
        elif self._ready.is_set():
            log.info("%s reconnected", self.name)
        self._ready.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                       reason: ReasonCode, properties: object) -> None:
        if not self._ready.is_set():
            self._refusal = self._refusal or str(reason)
            self._ready.set()
        elif reason.is_failure:
            log.warning("%s lost the broker (%s); paho reconnects and resends", self.name,
                        reason)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason: ReasonCode, properties: object) -> None:
        with self._acked:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                self._early.add(mid)  # acknowledged before publish() returned its mid
            if reason.is_failure:
                self.refused.append(str(reason))
            self._acked.notify_all()

    def publish(self, publication: Publication) -> None:
        # Not under self._acked: paho calls on_publish holding its own message lock, and
        # publish() takes that lock, so holding both here could deadlock.
        info = self.client.publish(publication.topic, publication.payload, qos=1)
        with self._acked:
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._unacked.add(info.mid)

    def settle(self, keep: int, timeout: float | None = None) -> int:
        """Wait until at most ``keep`` messages await their PUBACK; returns how many wait."""
        with self._acked:
            self._acked.wait_for(lambda: len(self._unacked) <= keep, timeout)
            return len(self._unacked)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(
    publications: Iterable[Publication],
    broker: Broker,
    *,
    login: Login = Login(),
    logins: Mapping[str, Login] | None = None,
    speedup: float | None = None,
    rate: float | None = None,
    report: PublishReport | None = None,
    on_sent: Callable[[Publication, PublishReport], None] | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PublishReport:
    """Send ``publications`` in order (QoS 1) and wait for every PUBACK.

    ``logins`` maps station ids to their own login; other stations use ``login``.
    Ctrl-C (KeyboardInterrupt) or ``stop`` ends the stream cleanly: messages already
    sent are given ``DRAIN_TIMEOUT_S`` to be acknowledged, and the report says
    ``interrupted``. A broker that drops a message its ACL denies still acknowledges it
    (MQTT 5 with a failure reason, counted in ``refused``; MQTT 3.1.1 says nothing).
    """
    report = report if report is not None else PublishReport()
    stop = stop or threading.Event()
    connections: dict[Login, _Connection] = {}
    wall0 = time.monotonic()
    sim0: datetime | None = None
    next_slot = wall0
    try:
        for publication in publications:
            station_id = publication.readings[0].station_id
            sim0 = sim0 or publication.measured_at
            # Speed-up: simulated time may run ahead of the wall by this factor only.
            due = wall0 + ((publication.measured_at - sim0).total_seconds() / speedup
                           if speedup else 0.0)
            due = max(due, next_slot)
            # Never ahead of the real clock.
            ahead = (publication.measured_at - clock()).total_seconds()
            due = max(due, time.monotonic() + ahead)
            wait = due - time.monotonic()
            if wait > 0 and stop.wait(wait):
                report.interrupted = True
                break
            if stop.is_set():
                report.interrupted = True
                break
            who = (logins or {}).get(station_id, login)
            connection = connections.get(who)
            if connection is None:
                connection = connections[who] = _Connection(broker, who)
            connection.publish(publication)
            connection.settle(WINDOW)
            report.messages += 1
            report.readings += len(publication.readings)
            report.by_station[station_id] = report.by_station.get(station_id, 0) + 1
            report.simulated_time = publication.measured_at
            if rate:
                next_slot = max(next_slot + 1 / rate, time.monotonic() - 1.0)
            if on_sent is not None:
                on_sent(publication, report)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        drain = DRAIN_TIMEOUT_S if report.interrupted else None
        report.unacknowledged = 0
        try:
            for connection in connections.values():
                report.unacknowledged += connection.settle(0, drain)
        except KeyboardInterrupt:
            report.interrupted = True
        for connection in connections.values():
            report.refused += len(connection.refused)
            if connection.refused:
                log.error("the broker refused %d messages from %s: %s", len(connection.refused),
                          connection.name, connection.refused[0])
            connection.close()
    return report
