"""Delivery guarantees: ack after commit survives SIGKILL; a shared subscription splits load."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.localservices import MosquittoInstance

from .conftest import as_role, count, make_settings, wait_until

pytestmark = pytest.mark.services

STATIONS = ("BN-01", "BN-02", "BN-03")


def stream_payloads(n_messages: int) -> list[tuple[str, bytes]]:
    """n messages, 3 readings each, all distinct (station, parameter, ts)."""
    start = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    out = []
    for i in range(n_messages):
        station = STATIONS[i % 3]
        ts = start + timedelta(seconds=10 * (i // 3))
        body = {
            "station": station,
            "ts": ts.isoformat(),
            "values": {"pm25": 10 + i % 50, "pm10": 30 + i % 70, "no2": 5 + i % 40},
        }
        out.append((f"aqm/v1/stations/{station}/readings", json.dumps(body).encode()))
    return out


def publish_all(
    broker: MosquittoInstance, messages: list[tuple[str, bytes]], pace_s: float = 0.0
) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"pub-{time.time_ns()}", protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    infos = []
    for i, (topic, payload) in enumerate(messages):
        infos.append(client.publish(topic, payload, qos=1))
        if pace_s and i % 50 == 0:
            time.sleep(pace_s)
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def start_ingest_process(
    db_url: str, broker: MosquittoInstance, client_id: str
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        AQM_DATABASE_URL=as_role(db_url),
        AQM_MQTT_URL=broker.url(),
        AQM_MQTT_CLIENT_ID=client_id,
        AQM_METRICS_PORT="0",
        AQM_BATCH_MAX_AGE_MS="100",
        AQM_BATCH_SIZE="500",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "aqm.cli", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(
    ingest_db: str, broker: MosquittoInstance
) -> None:
    client_id = f"aqm-ingest-kill-{time.time_ns()}"
    proc = start_ingest_process(ingest_db, broker, client_id)
    probe = [
        (
            "aqm/v1/stations/BN-01/readings",
            json.dumps(
                {
                    "station": "BN-01",
                    "ts": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
                    "values": {"pm25": 1.0},
                }
            ).encode(),
        )
    ]
    deadline = time.monotonic() + 30
    while count(ingest_db, "SELECT count(*) FROM readings") < 1:  # then the session exists
        assert time.monotonic() < deadline, "ingest never stored the probe"
        publish_all(broker, probe)
        time.sleep(0.3)
    messages = stream_payloads(6000)
    publisher = threading.Thread(target=publish_all, args=(broker, messages, 0.01))
    publisher.start()
    rng = random.Random(7)
    kills = 0
    try:
        for _ in range(3):
            time.sleep(rng.uniform(0.3, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
            proc = start_ingest_process(ingest_db, broker, client_id)
        publisher.join(120)
        expected = 1 + 3 * len(messages)
        deadline = time.monotonic() + 90
        while count(ingest_db, "SELECT count(*) FROM readings") < expected:
            assert time.monotonic() < deadline, (
                f"only {count(ingest_db, 'SELECT count(*) FROM readings')} of {expected} readings stored"
            )
            time.sleep(0.2)
        time.sleep(0.5)  # anything redelivered late must not add rows
        assert count(ingest_db, "SELECT count(*) FROM readings") == expected
        assert count(ingest_db, "SELECT count(*) FROM rejected_messages") == 0
        assert kills == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stderr.read().decode() if proc.stderr else ""


async def test_three_instances_on_a_shared_subscription_split_the_load(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    group = f"g{time.time_ns()}"
    services = [
        await start_service(make_settings(ingest_db, broker, mqtt_shared_group=group))
        for _ in range(3)
    ]
    messages = stream_payloads(600)
    thread = threading.Thread(target=publish_all, args=(broker, messages))
    thread.start()
    await wait_until(
        lambda: count(ingest_db, "SELECT count(*) FROM readings") == 1800,
        timeout=60,
        what="1800 readings",
    )
    thread.join(30)
    received = [int(s.metrics.messages_received._value.get()) for s in services]
    assert sum(received) == 600  # each message delivered to exactly one instance
    assert all(n > 0 for n in received), received
    assert sum(int(s.metrics.readings_duplicate._value.get()) for s in services) == 0
