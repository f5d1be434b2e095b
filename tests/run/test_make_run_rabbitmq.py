"""`aqm run` and `aqm services` with AQM_BROKER=rabbitmq: the same pipeline on a private
RabbitMQ node under AQM_DATA_DIR/run/rabbitmq, stopped cleanly with everything else."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm import local_rabbitmq
from aqm.cli import main
from aqm.localservices import free_port, port_open
from ingest.topics import TopicLayout, amqp_routing_key
from stations.rabbitmq_definitions import definitions, publisher
from tests.run.pipeline import run_until_vn_aqi

ON_RABBITMQ = pytest.mark.skipif(
    not (local_rabbitmq.RABBITMQ_BIN / "rabbitmq-server").exists(),
    reason="Debian's rabbitmq-server is not installed (scripts/install-services.sh installs it)",
)


def _processes_under(folder: Path) -> list[str]:
    """Command lines of the running processes that name ``folder`` (a node's VM names its
    HOME, PostgreSQL its data folder)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in text and cmdline.parent.name != str(os.getpid()):
            found.append(f"{cmdline.parent.name}: {text[:300]}")
    return found


@pytest.fixture
def rabbit_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings of a private run on free ports; whatever is left running is stopped after."""
    tmp_path.chmod(0o755)
    pg_port = free_port()
    env = dict(
        os.environ,
        AQM_BROKER="rabbitmq",
        AQM_DATA_DIR=str(tmp_path / "aqm"),
        AQM_OPENDATA_DIR=str(tmp_path / "opendata"),
        AQM_PG_PORT=str(pg_port),
        AQM_MQTT_PORT=str(free_port()),
        AQM_AMQP_PORT=str(free_port()),
        AQM_METRICS_PORT=str(free_port()),
        AQM_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{pg_port}/aqm",
        AQM_FTP_PORT=str(free_port()),
        AQM_WEB_PORT=str(free_port()),
        AQM_FTP_PASSIVE_PORTS="{0}-{0}".format(free_port()),
        COLUMNS="160",
    )
    for name in ("AQM_MQTT_URL", "AQM_AMQP_URL", "AQM_AMQP_QUEUE", "AQM_MQTT_PROTOCOL"):
        env.pop(name, None)
    yield env
    subprocess.run(
        [sys.executable, "-m", "aqm", "services", "stop"],
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip


def _aqm(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "aqm", *args],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@ON_RABBITMQ
@pytest.mark.services
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_run_on_rabbitmq_stores_readings_shows_vn_aqi_and_stops_cleanly(
    rabbit_env: dict[str, str],
) -> None:
    env = rabbit_env
    mqtt_port, amqp_port = int(env["AQM_MQTT_PORT"]), int(env["AQM_AMQP_PORT"])
    pg_port = int(env["AQM_PG_PORT"])
    data = Path(env["AQM_DATA_DIR"])

    def stations_and_node() -> tuple[int, int]:
        """Stations with readings stored, and the node's pid, while everything runs."""
        with psycopg.connect(env["AQM_DATABASE_URL"]) as conn:
            row = conn.execute("SELECT count(DISTINCT station_id) FROM readings").fetchone()
        pid = int((data / "run" / "rabbitmq" / "node.pid").read_text())
        return (int(row[0]) if row else 0), pid

    finished, seen = run_until_vn_aqi(env, stations_and_node, within_s=200, stop_timeout_s=120)
    text = finished.text
    assert finished.readings > 0 and finished.aqi_values > 0 and seen is not None, text[-3000:]
    stations_stored, node_pid = seen
    # The catalogue has four active stations, one of which delivers by FTP: readings of
    # more than one station went simulator → RabbitMQ (MQTT) → queue → ingest (AMQP).
    assert stations_stored >= 2, text[-3000:]
    assert f"MQTT 127.0.0.1:{mqtt_port}, AMQP 127.0.0.1:{amqp_port}, queue aqm.readings" in text
    assert "Trạm quan trắc" in text  # the status table was shown
    logs = data / "run" / "logs"
    ingest_log = (logs / "ingest.log").read_text()
    assert f"consuming queue aqm.readings at amqp://aqm-ingest:***@127.0.0.1:{amqp_port}/" in (
        ingest_log
    ), ingest_log[-2000:]
    simulator_log = (logs / "simulator.log").read_text()
    assert f"connected to 127.0.0.1:{mqtt_port} as aqm-simulator" in simulator_log
    finished.assert_stopped_cleanly()
    assert not any(port_open(p) for p in (pg_port, mqtt_port, amqp_port)), "services left running"
    assert not local_rabbitmq.process_alive(node_pid), "the RabbitMQ node still runs"
    assert _processes_under(data) == []


class _Publisher:
    """An MQTT 3.1.1 client (what RabbitMQ 3.10 speaks) that records its PUBACKs."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.acked: set[int] = set()
        self.connected = threading.Event()
        self.turned_away = threading.Event()  # refused, or the connection closed
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-{user}", protocol=mqtt.MQTTv311
        )
        self.client.username_pw_set(user, password)
        self.client.on_connect = lambda c, u, f, reason, p: (
            self.turned_away.set() if reason.is_failure else self.connected.set()
        )
        self.client.on_disconnect = lambda c, u, f, r, p: self.turned_away.set()
        self.client.on_publish = lambda c, u, mid, r, p: self.acked.add(mid)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _queue_depth(node: local_rabbitmq.RabbitNode, queue: str, expected: int) -> int:
    """The messages in ``queue``, once ``expected`` (the figures lag by a few seconds)."""
    deadline = time.monotonic() + 30
    while True:
        lines = node.ctl("list_queues", "name", "messages", "--quiet").splitlines()
        depth = next((int(f[1]) for f in map(str.split, lines) if f and f[0] == queue), None)
        assert depth is not None, f"no queue {queue}: {lines}"
        if depth == expected or time.monotonic() > deadline:
            return depth
        time.sleep(1)


@ON_RABBITMQ
@pytest.mark.services
@pytest.mark.timeout(300)
def test_services_start_status_stop_on_rabbitmq(rabbit_env: dict[str, str]) -> None:
    env = rabbit_env
    mqtt_port, amqp_port = int(env["AQM_MQTT_PORT"]), int(env["AQM_AMQP_PORT"])
    data = Path(env["AQM_DATA_DIR"])
    root = data / "run" / "rabbitmq"
    broker_line = f"rabbitmq    running  mqtt://127.0.0.1:{mqtt_port} amqp://127.0.0.1:{amqp_port}"

    assert broker_line in _aqm(env, "services", "start")
    assert port_open(mqtt_port) and port_open(amqp_port)
    assert broker_line in _aqm(env, "services", "status")
    credentials = root / "credentials.json"
    assert credentials.stat().st_mode & 0o077 == 0  # the passwords are the owner's only
    passwords = json.loads(credentials.read_text())
    assert set(passwords) == {"aqm-ingest", "aqm-simulator"}

    # The queue and its binding are there before any consumer: a reading is kept.
    instance = local_rabbitmq.RabbitMQInstance(root, mqtt_port, amqp_port)
    station = _Publisher(mqtt_port, "aqm-simulator", passwords["aqm-simulator"])
    try:
        assert station.connected.wait(15), "the simulator's login was refused"
        info = station.client.publish("aqm/v1/stations/BN-01/readings", b"{}", qos=1)
        info.wait_for_publish(15)
        assert info.mid in station.acked
    finally:
        station.close()
    assert _queue_depth(instance.node, "aqm.readings", 1) == 1
    # No anonymous login, and a wrong password is refused.
    for user, password in (("", ""), ("aqm-simulator", "wrong")):
        stranger = _Publisher(mqtt_port, user, password)
        try:
            assert stranger.turned_away.wait(15) and not stranger.connected.is_set()
        finally:
            stranger.close()

    stopped = _aqm(env, "services", "stop")
    assert f"rabbitmq    stopped  mqtt://127.0.0.1:{mqtt_port}" in stopped
    assert "postgresql  stopped" in stopped
    assert not port_open(mqtt_port) and not port_open(amqp_port)
    assert _processes_under(data) == []
    assert "rabbitmq    stopped" in _aqm(env, "services", "status")

    # Started again, the node still holds the reading nobody consumed (a durable queue).
    _aqm(env, "services", "start")
    assert _queue_depth(instance.node, "aqm.readings", 1) == 1
    _aqm(env, "services", "stop")
    assert _processes_under(data) == []


def test_a_missing_rabbitmq_is_named_before_anything_starts(
    no_aqm_settings: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    data = tmp_path / "data"
    monkeypatch.setenv("AQM_DATA_DIR", str(data))
    monkeypatch.setenv("AQM_BROKER", "rabbitmq")
    monkeypatch.setattr(local_rabbitmq, "RABBITMQ_BIN", tmp_path / "absent")
    assert main(["services", "start"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"aqm services: error: RabbitMQ ({tmp_path}/absent/rabbitmq-server, Debian's "
        "rabbitmq-server package) not found; run scripts/install-services.sh "
        "(make services does it) to install it\n"
    )
    assert main(["run", "--no-live", "--duration", "1"]) == 2
    assert "Debian's rabbitmq-server package) not found" in capsys.readouterr().err
    assert not data.exists()  # neither PostgreSQL nor a node was started


def test_the_local_publisher_may_write_every_stations_readings_and_nothing_else() -> None:
    document = definitions((), ["aqm-ingest"], {"aqm-ingest": "x"}, TopicLayout(), "q")
    publisher(document, "aqm-simulator", "y", TopicLayout())
    (granted,) = [p for p in document["topic_permissions"] if p["user"] == "aqm-simulator"]
    write = re.compile(granted["write"])
    for key in ("aqm.v1.stations.BN-01.readings", "aqm.v1.stations.HN_02.readings"):
        assert write.fullmatch(key)
    for key in (
        "aqm.v1.stations.BN-01.status",
        "aqm.v1.stations.BN-01.readings.extra",
        "aqm.v1.stationsXBN-01.readings",
        "other.aqm.v1.stations.BN-01.readings",
        "aqm.v1.stations..readings",
    ):
        assert not write.search(key), key
    # the routing key RabbitMQ's MQTT plugin makes of a station's readings topic
    assert write.search(amqp_routing_key("aqm/v1/stations/BN-01/readings"))
    (perm,) = [p for p in document["permissions"] if p["user"] == "aqm-simulator"]
    assert (perm["configure"], perm["write"], perm["read"]) == ("^$", "^amq\\.topic$", "^$")


@ON_RABBITMQ
def test_a_taken_port_is_named_and_no_node_starts(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        instance = local_rabbitmq.RabbitMQInstance(tmp_path / "rabbitmq", taken, free_port())
        with pytest.raises(local_rabbitmq.PortInUseError, match=f"port {taken} \\(AQM_MQTT_PORT\\)"):
            instance.start()
    assert not instance.running() and instance.node.process is None
    assert _processes_under(tmp_path) == []
