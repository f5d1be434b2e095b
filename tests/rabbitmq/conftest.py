"""RabbitMQ nodes of the tests' own, loaded with the definitions `aqm stations credentials` writes.

Stations publish MQTT 3.1.1 with their own logins (RabbitMQ before 3.13 speaks no MQTT 5);
ingest consumes the quorum queue over AMQP as ``aqm-ingest``.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.localservices import free_port
from aqm_core.settings import Settings, load_settings
from tests.ingest.conftest import (
    as_role,
    seed_stations,
    start_service,  # noqa: F401 - a fixture used here
)
from tests.rabbitmq_nodes import (
    INGEST_USER,
    INSTALL_HINT,
    QUEUE,
    RABBITMQ_BIN,
    RabbitNode,
    make_nodes,
    password,
    rabbitmq_available,
    rabbitmq_version,
    start_nodes,
    write_definitions,
)
from tests.reliability.station_traffic import Message

STATIONS = ("BN-01", "BN-02", "BN-03")

if not rabbitmq_available():
    pytest.skip(reason=f"{INSTALL_HINT}: not found in {RABBITMQ_BIN}", allow_module_level=True)


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitNode]:
    """One RabbitMQ node shared by a module's tests (nothing in it is killed)."""
    (node,) = start_nodes(tmp_path_factory.mktemp("rabbitmq"), 1)
    try:
        yield node
    finally:
        node.stop()


REPO = Path(__file__).resolve().parents[2]
PROVISIONED_CONF = REPO / "provisioning/rabbitmq/rabbitmq.conf"
PROVISIONED_AUTH = "http://broker-auth:8089"
AUTH_PLUGIN = "rabbitmq_auth_backend_http"


@dataclass
class BrokerAuth:
    """A real ``aqm broker-auth`` process on a free port, its output in ``log``."""

    process: subprocess.Popen[bytes]
    port: int
    definitions: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_broker_auth(
    definitions: Path, log: Path, port: int | None = None, timeout: float = 30
) -> BrokerAuth:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AQM_")}
    env["AQM_CONFIG"] = ""
    command = [sys.executable, "-m", "aqm", "broker-auth", "--host", "127.0.0.1",
               "--port", str(port), "--definitions", str(definitions)]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    auth = BrokerAuth(process, port, definitions, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aqm broker-auth exited: {auth.output()}")
        try:
            with urllib.request.urlopen(f"{auth.url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return auth
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"aqm broker-auth not ready in {timeout:.0f} s: {auth.output()}")


def stop_broker_auth(auth: BrokerAuth) -> None:
    auth.process.terminate()
    try:
        auth.process.wait(15)
    except subprocess.TimeoutExpired:
        auth.process.kill()
        auth.process.wait(15)


def provisioned_auth_config(auth_url: str) -> list[str]:
    """The authentication lines of the shipped rabbitmq.conf, pointed at ``auth_url``."""
    lines = [
        line.strip().replace(PROVISIONED_AUTH, auth_url)
        for line in PROVISIONED_CONF.read_text().splitlines()
        if line.startswith(("auth_backends.", "auth_http."))
    ]
    assert any(PROVISIONED_AUTH not in line and auth_url in line for line in lines), lines
    return lines


@pytest.fixture(scope="session")
def broker_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerAuth]:
    """``aqm broker-auth`` reading the definitions the tests' nodes load (one per run:
    a node takes a while to start; the tests count messages as differences)."""
    root = tmp_path_factory.mktemp("broker-auth")
    auth = start_broker_auth(write_definitions(root / "definitions.json"), root / "auth.log")
    try:
        yield auth
    finally:
        stop_broker_auth(auth)


@pytest.fixture(scope="session")
def rabbit_auth(
    tmp_path_factory: pytest.TempPathFactory, broker_auth: BrokerAuth
) -> Iterator[RabbitNode]:
    """A node configured as the deployment's: logins checked by ``aqm broker-auth``."""
    root = tmp_path_factory.mktemp("rabbitmq-auth")
    config = [
        f"load_definitions = {broker_auth.definitions}",
        *provisioned_auth_config(broker_auth.url),
    ]
    (node,) = make_nodes(root, 1, config, plugins=(AUTH_PLUGIN,))
    node.start()
    try:
        node.wait_ready()
        yield node
    finally:
        node.stop()


def version_text() -> str:
    return ".".join(str(n) for n in rabbitmq_version())


def ingest_settings(db_url: str, amqp_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": as_role(db_url),
        "broker": "rabbitmq",
        "amqp_url": amqp_url,
        "amqp_queue": QUEUE,
        "batch_max_age_ms": 50,
        "metrics_port": 0,
    }
    values.update(overrides)
    return load_settings(**values)


def ingest_url(node: RabbitNode) -> str:
    return node.amqp_url(INGEST_USER, password(INGEST_USER))


@pytest.fixture
def rabbit_db(clean_db: str) -> str:
    seed_stations(clean_db)
    return clean_db


@pytest.fixture
def start_ingest(start_service: Callable[..., Any]) -> Callable[..., Any]:  # noqa: F811
    """``start_service`` with the patience a RabbitMQ node's first connection needs."""
    return functools.partial(start_service, subscribe_timeout=60, shutdown_timeout=60)


@dataclass
class Station:
    """One station's MQTT 3.1.1 connection that records which messages were PUBACKed.

    A PUBACK from RabbitMQ means the quorum queue confirmed the message. After the
    node it is connected to dies, the station connects to the next port given.
    """

    station: str
    ports: list[int]
    user: str | None = None
    client_id: str | None = None
    acked: list[Message] = field(default_factory=list)
    _pending: dict[int, Message] = field(default_factory=dict)
    _early: set[int] = field(default_factory=set)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    connected: threading.Event = field(default_factory=threading.Event)
    refused: list[str] = field(default_factory=list)
    disconnects: int = 0

    def __post_init__(self) -> None:
        user = self.user or self.station
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id if self.client_id is not None else user,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self.client.username_pw_set(user, password(user))
        self.client.max_inflight_messages_set(50)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self._port_index = 0

    def connect(self, wait: float = 15) -> bool:
        self.client.connect_async("127.0.0.1", self.ports[0])
        self.client.loop_start()
        return self.connected.wait(wait)

    def _on_connect(self, c: mqtt.Client, u: object, f: object, reason: Any, p: object) -> None:
        if reason.is_failure:
            self.refused.append(str(reason))
        else:
            self.connected.set()

    def _on_disconnect(self, c: mqtt.Client, u: object, f: object, r: object, p: object) -> None:
        self.connected.clear()
        self.disconnects += 1
        # the next node of the cluster, if there are several
        self._port_index = (self._port_index + 1) % len(self.ports)
        c._port = self.ports[self._port_index]
        with self._lock:
            self._pending.clear()  # clean session: what was not acked is not resent
            self._early.clear()
            self._lock.notify_all()

    def _on_publish(self, c: mqtt.Client, u: object, mid: int, r: object, p: object) -> None:
        with self._lock:
            message = self._pending.pop(mid, None)
            if message is not None:
                self.acked.append(message)
            else:  # acked before ``send`` recorded it
                self._early.add(mid)
            self._lock.notify_all()

    def send(self, message: Message, topic: str | None = None) -> bool:
        """Publish at QoS 1 when connected; False when not (the caller may retry)."""
        if not self.connected.is_set():
            return False
        # Not under the lock: paho's network thread holds its own locks while it calls
        # ``_on_publish``, which takes this one.
        info = self.client.publish(topic or message.topic, message.payload, qos=1)
        with self._lock:
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return False
            if info.mid in self._early:
                self._early.discard(info.mid)
                self.acked.append(message)
            else:
                self._pending[info.mid] = message
            return True

    def wait_settled(self, timeout: float = 30) -> None:
        """Until every publish is acked or lost with its connection."""
        with self._lock:
            self._lock.wait_for(lambda: not self._pending, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_from(stations: list[Station], sent: list[Message]) -> int:
    """Connect every station, send ``sent`` through them, close them: how many were acked."""
    try:
        for s in stations:
            assert s.connect(), s.refused
        return flood(stations, sent)
    finally:
        for s in stations:
            s.close()


def flood(stations: list[Station], sent: list[Message], rate_per_s: float | None = None) -> int:
    """Send ``sent`` through each message's station, retrying while it is reconnecting."""
    by_station = {s.station: s for s in stations}
    start = time.monotonic()
    for i, message in enumerate(sent):
        station = by_station[message.station]
        deadline = time.monotonic() + 60
        while not station.send(message):
            assert time.monotonic() < deadline, f"{message.station} stayed disconnected"
            time.sleep(0.05)
        if rate_per_s:
            ahead = start + (i + 1) / rate_per_s - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    for station in stations:
        station.wait_settled()
    return sum(len(s.acked) for s in stations)
