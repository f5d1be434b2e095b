"""Recovery end to end: readings a station sent are missing (as after a broker crash),
``aqm gaps`` lists them in its CSV, the vendor re-sends through the broker and the real
``aqm ingest`` process, and they are stored exactly once until no gap is left."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.cli import main
from aqm.localservices import MosquittoInstance, PostgresInstance
from tests.gaps.conftest import AddStation

pytestmark = pytest.mark.services

STEP = dt.timedelta(minutes=5)
N_SLOTS = 72  # six hours
TOPIC = "aqm/v1/stations/BN-01/readings"


def message(ts: dt.datetime, parameters: list[str]) -> tuple[str, bytes]:
    values = {p: 10.0 + i for i, p in enumerate(parameters)}
    body = {"station": "BN-01", "ts": ts.isoformat(), "values": values}
    return TOPIC, json.dumps(body).encode()


def publish_all(broker: MosquittoInstance, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bn01-{time.time_ns()}",
                         protocol=mqtt.MQTTv5)  # fmt: skip
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def wait_for_count(url: str, expected: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (n := count(url, "SELECT count(*) FROM readings")) < expected:
        assert time.monotonic() < deadline, f"{n} of {expected} readings stored"
        time.sleep(0.2)
    time.sleep(1.0)  # anything late must not add rows
    assert count(url, "SELECT count(*) FROM readings") == expected


def run_gaps(url: str, start: dt.datetime, end: dt.datetime, out: Path) -> list[list[str]]:
    assert main(["gaps", "--station", "BN-01", "--from", start.isoformat(), "--to",
                 end.isoformat(), "-o", str(out), "--database-url", url]) == 0  # fmt: skip
    return list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))[1:]


def test_listed_gaps_are_resent_stored_once_and_disappear(
    add_station: AddStation, clean_db: str, broker: MosquittoInstance,
    postgres: PostgresInstance, tmp_path: Path, no_aqm_settings: None,
) -> None:  # fmt: skip
    add_station("BN-01", ["pm25", "pm10"], 300)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first = now - dt.timedelta(hours=7) - dt.timedelta(seconds=now.timestamp() % 300)
    slots = [first + i * STEP for i in range(N_SLOTS)]
    env = dict(os.environ, AQM_CONFIG="", AQM_DATABASE_URL=postgres.url(user="aqm_ingest"),
               AQM_MQTT_URL=broker.url(), AQM_MQTT_CLIENT_ID=f"aqm-ingest-gaps-{time.time_ns()}",
               AQM_METRICS_PORT="0", AQM_BATCH_MAX_AGE_MS="100")  # fmt: skip
    ingest = subprocess.Popen([sys.executable, "-m", "aqm.cli", "ingest"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        # what reached the database: an hour lost entirely (slots 20-31), and pm10 of
        # slots 40-42 (the analyser was out of the messages)
        lost = set(range(20, 32))
        delivered = [
            message(ts, ["pm25"] if 40 <= i <= 42 else ["pm25", "pm10"])
            for i, ts in enumerate(slots)
            if i not in lost
        ]
        deadline = time.monotonic() + 30
        publish_all(broker, delivered[:1])
        while count(clean_db, "SELECT count(*) FROM readings") == 0:
            assert time.monotonic() < deadline, "ingest never stored the first message"
            publish_all(broker, delivered[:1])
            time.sleep(0.3)
        publish_all(broker, delivered[1:])
        stored_before = 2 * (N_SLOTS - len(lost)) - 3
        wait_for_count(clean_db, stored_before)

        reader = postgres.url(user="aqm_reader")
        end = slots[-1] + STEP
        rows = run_gaps(reader, first, end, tmp_path / "gui-nha-cung-cap.csv")
        local = dt.timezone(dt.timedelta(hours=7))
        assert [(r[3], r[4], r[5], r[6]) for r in rows] == [
            ("pm25;pm10", slots[20].astimezone(local).isoformat(sep=" "),
             slots[31].astimezone(local).isoformat(sep=" "), "12"),
            ("pm10", slots[40].astimezone(local).isoformat(sep=" "),
             slots[42].astimezone(local).isoformat(sep=" "), "3"),
        ]  # fmt: skip

        # the vendor re-sends each listed period from the datalogger, with every
        # parameter it logged, and then the whole six hours once more for good measure
        resent = []
        for row in rows:
            a = dt.datetime.fromisoformat(row[4])
            b = dt.datetime.fromisoformat(row[5])
            resent += [message(ts, ["pm25", "pm10"]) for ts in slots if a <= ts <= b]
        publish_all(broker, resent)
        publish_all(broker, [message(ts, ["pm25", "pm10"]) for ts in slots])
        wait_for_count(clean_db, 2 * N_SLOTS)
        with psycopg.connect(clean_db) as conn:
            keys = conn.execute(
                "SELECT count(DISTINCT (parameter, ts)), min(ts), max(ts) FROM readings"
            ).fetchone()
        assert keys == (2 * N_SLOTS, slots[0], slots[-1])
        assert count(clean_db, "SELECT count(*) FROM rejected_messages") == 0
        assert run_gaps(reader, first, end, tmp_path / "sau-khi-gui-lai.csv") == []
    finally:
        ingest.send_signal(signal.SIGTERM)
        _, err = ingest.communicate(timeout=30)
        assert ingest.returncode == 0, err.decode()
