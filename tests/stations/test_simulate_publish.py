"""``aqm simulate`` and ``stations.publisher`` against a real Mosquitto."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.cli import main
from aqm.localservices import MosquittoInstance, free_port
from ingest.topics import TopicLayout
from stations.broker_access import ServiceUser, plan_broker_access
from stations.catalogue import load_catalogue
from stations.mosquitto_passwords import write_atomically, write_password_file
from stations.publisher import Broker, Login, PublishError, publish
from stations.simulator import Realism, generate

pytestmark = pytest.mark.services

EXAMPLE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"
TOPICS = TopicLayout("aqm/v1/stations")


@dataclass
class Received:
    topic: str
    payload: bytes
    at: datetime  # wall clock on arrival


class Subscriber:
    """An ingest-like subscriber on every station's readings topic."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None):
        self.messages: queue.Queue[Received] = queue.Queue()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, *_: c.subscribe(TOPICS.subscription(), qos=1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = lambda _c, _u, m: self.messages.put(
            Received(m.topic, bytes(m.payload), datetime.now(UTC)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10), "subscription not confirmed"

    def take(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        got: list[Received] = []
        while len(got) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {len(got)} of {count} messages arrived"
            got.append(self.messages.get(timeout=remaining))
        return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(broker: MosquittoInstance) -> Iterator[Subscriber]:
    sub = Subscriber(broker.port)
    yield sub
    sub.close()


def test_published_stream_reaches_a_subscriber_byte_for_byte(
    broker: MosquittoInstance, subscriber: Subscriber
) -> None:
    catalogue = load_catalogue(EXAMPLE)
    start = datetime(2025, 2, 1, tzinfo=UTC)
    pubs = list(generate(catalogue, start, start + timedelta(hours=3), fmt="mixed", seed=9))
    report = publish(pubs, Broker("127.0.0.1", broker.port))
    assert report.messages == len(pubs) and report.unacknowledged == 0 and not report.interrupted
    assert report.readings == sum(len(p.readings) for p in pubs)
    got = subscriber.take(len(pubs))
    # per topic, MQTT keeps the order
    for topic in {p.topic for p in pubs}:
        assert [r.payload for r in got if r.topic == topic] == [p.payload for p in pubs
                                                                 if p.topic == topic]
    time.sleep(0.2)
    assert subscriber.messages.empty()


def test_history_is_sped_up_and_nothing_is_sent_before_its_time(
    broker: MosquittoInstance, subscriber: Subscriber
) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(minutes=20)
    end = now + timedelta(seconds=6)
    pubs = list(generate(["BN-T1"], start, end, interval_s=5,
                         realism=Realism(gap_rate=0, max_clock_skew_s=0)))
    began = time.monotonic()
    report = publish(pubs, Broker("127.0.0.1", broker.port), speedup=1200)
    elapsed = time.monotonic() - began
    got = subscriber.take(len(pubs))
    assert report.messages == len(pubs) >= 240
    # 20 minutes of history at 1200x take about a second; the last samples wait for the
    # clock. The bounds below are loose on purpose (a loaded machine must not fail them):
    # they only fail if history is not sped up at all.
    future = [p for p in pubs if p.measured_at > now]
    assert future, "the range should reach past the start of the test"
    assert elapsed < 6 + 60
    for publication, arrival in zip(pubs, got, strict=True):
        assert arrival.payload == publication.payload
        assert arrival.at >= publication.measured_at  # never ahead of the real clock
    history = [a for p, a in zip(pubs, got, strict=True) if p.measured_at < now - timedelta(seconds=60)]
    assert history[-1].at - history[0].at < timedelta(seconds=60)  # 19 min of history


def test_cli_publishes_an_hour_of_history_and_exits(
    broker: MosquittoInstance, subscriber: Subscriber, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AQM_CONFIG", "")  # read no file
    monkeypatch.setenv("AQM_STATIONS_FILE", str(EXAMPLE))
    monkeypatch.setenv("AQM_MQTT_URL", broker.url())
    args = ["simulate", "--start", "-1d", "--end", "-23h", "--speedup", "0", "--stations",
            "BN-TUSON", "BN-KINHBAC", "--format", "tt10_text", "--seed", "3"]
    assert main(args) == 0
    err = capsys.readouterr().err
    count = int(err.strip().splitlines()[-1].split()[0])
    assert 10 <= count <= 24  # two stations, 12 samples each in the hour, a few gaps
    got = subscriber.take(count)
    assert {r.topic for r in got} == {TOPICS.readings("BN-TUSON"), TOPICS.readings("BN-KINHBAC")}
    assert all(r.payload.endswith(b"\r\n") for r in got)


def test_cli_refuses_unknown_stations_and_bad_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AQM_CONFIG", "")  # read no file
    monkeypatch.setenv("AQM_STATIONS_FILE", str(EXAMPLE))
    assert main(["simulate", "--stations", "BN-NOPE", "--print"]) == 2
    assert f"{EXAMPLE}: no active station BN-NOPE" in capsys.readouterr().err
    assert main(["simulate", "--stations", "BN-YENPHONG-LCS0", "--print"]) == 2  # retired
    capsys.readouterr()
    assert main(["simulate", "--start", "yesterday", "--print"]) == 2
    assert "'yesterday' is not 'now', '-24h'" in capsys.readouterr().err
    assert main(["simulate", "--start", "-1h", "--end", "-2h", "--print"]) == 2
    assert "is not after --start" in capsys.readouterr().err
    assert main(["simulate", "--gap-rate", "1.5", "--print"]) == 2
    assert "gap-rate must be in [0, 1)" in capsys.readouterr().err


def test_cli_print_writes_what_generate_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AQM_CONFIG", "")  # read no file
    monkeypatch.setenv("AQM_STATIONS_FILE", str(EXAMPLE))
    assert main(["simulate", "--start", "2025-01-15T07:00", "--duration", "1h", "--seed", "4",
                 "--format", "senml", "--print"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # 2025-01-15 07:00 local is 00:00 UTC
    start = datetime(2025, 1, 15, 0, tzinfo=UTC)
    pubs = list(generate(load_catalogue(EXAMPLE), start, start + timedelta(hours=1),
                         fmt="senml", seed=4))
    assert lines == [line for p in pubs for line in (p.topic, p.payload.decode())]


# -- stations logging in as themselves --------------------------------------------------


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[MosquittoInstance, dict[str, str]]]:
    catalogue = load_catalogue(EXAMPLE)
    access = plan_broker_access(catalogue, TOPICS, {}, [ServiceUser("aqm-ingest", "ingest pw 12345")])
    write_password_file(tmp_path / "passwd", access.password_entries)
    write_atomically(tmp_path / "acl", access.acl)
    instance = MosquittoInstance(tmp_path / "mq", free_port(), tmp_path / "passwd",
                                 tmp_path / "acl")
    instance.start()
    try:
        yield instance, access.new_credentials
    finally:
        instance.stop()


def test_with_acls_each_station_publishes_as_itself(
    secured: tuple[MosquittoInstance, dict[str, str]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    instance, passwords = secured
    ingest = Subscriber(instance.port, "aqm-ingest", "ingest pw 12345")
    try:
        start = datetime(2025, 2, 1, tzinfo=UTC)
        pubs = list(generate(load_catalogue(EXAMPLE), start, start + timedelta(minutes=30)))
        logins = {sid: Login(sid, pw) for sid, pw in passwords.items()}
        report = publish(pubs, Broker("127.0.0.1", instance.port), logins=logins)
        assert report.refused == 0 and report.unacknowledged == 0
        assert len(ingest.take(len(pubs))) == len(pubs)

        # one login for all: the ACL drops every other station's messages, and says so
        tuson = Login("BN-TUSON", passwords["BN-TUSON"])
        report = publish(pubs, Broker("127.0.0.1", instance.port), login=tuson)
        own = [p for p in pubs if p.topic == TOPICS.readings("BN-TUSON")]
        assert report.refused == len(pubs) - len(own)
        got = ingest.take(len(own))
        assert {r.topic for r in got} == {TOPICS.readings("BN-TUSON")}
        time.sleep(0.3)
        assert ingest.messages.empty()

        with pytest.raises(PublishError, match="refused BN-TUSON"):
            publish(pubs, Broker("127.0.0.1", instance.port),
                    login=Login("BN-TUSON", "wrong password"))

        # the CLI reads the stations' passwords from a secrets file
        secrets = tmp_path / "secrets.yaml"
        secrets.write_text("".join(f'{sid}: "{pw}"\n' for sid, pw in passwords.items()))
        monkeypatch.setenv("AQM_CONFIG", "")  # read no file
        monkeypatch.setenv("AQM_STATIONS_FILE", str(EXAMPLE))
        monkeypatch.setenv("AQM_MQTT_URL", instance.url())
        assert main(["simulate", "--start", "-20m", "--end", "-10m", "--speedup", "0",
                     "--secrets", str(secrets)]) == 0
        count = int(capsys.readouterr().err.strip().splitlines()[-1].split()[0])
        assert count > 0
        assert len(ingest.take(count)) == count
        secrets.write_text(f'BN-TUSON: "{passwords["BN-TUSON"]}"\n')
        assert main(["simulate", "--secrets", str(secrets), "--start", "-20m", "--end",
                     "-10m"]) == 2
        assert f"{secrets}: no password for BN-KINHBAC" in capsys.readouterr().err
    finally:
        ingest.close()


def test_ctrl_c_stops_a_live_run_cleanly(
    broker: MosquittoInstance, subscriber: Subscriber, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = os.environ | {"AQM_CONFIG": "",
                        "AQM_STATIONS_FILE": str(EXAMPLE), "AQM_MQTT_URL": broker.url()}
    # three hours of history at 60x would take three minutes: interrupted on the way
    proc = subprocess.Popen([sys.executable, "-m", "aqm", "simulate", "--speedup", "60"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    first = subscriber.take(1, timeout=30)
    assert first
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    summary = err.strip().splitlines()[-1]
    assert summary.endswith("published; interrupted"), summary
    count = int(summary.split()[0])
    assert count > 1
    got = first + subscriber.take(count - 1)
    assert len(got) == count
    time.sleep(0.3)
    assert subscriber.messages.empty()
    assert "Traceback" not in err
