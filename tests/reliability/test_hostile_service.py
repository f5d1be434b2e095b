"""Hostile messages end to end through the real ingest service, TimescaleDB and Mosquitto.

SQL in station ids and parameter names stays text: the tables survive and the text is
stored verbatim. A payload naming another station on its own topic is rejected. A NUL in
a key costs no valid reading, and ingest writes as its own least-privilege role.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.localservices import MosquittoInstance, PostgresInstance
from aqm_core.settings import load_settings
from ingest.service import IngestService

from .ingest_process import counters

pytestmark = pytest.mark.services

STATIONS = ("BN-01", "BN-02")
INJECTIONS = (
    "'; DROP TABLE readings; --",
    "BN-01'); DELETE FROM stations; --",
    'x"; TRUNCATE rejected_messages CASCADE; --',
    "$$; DROP SCHEMA public CASCADE; $$",
    "pm25) VALUES (1); DROP TABLE aqi_daily; --",
)


def _seed(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type)"
            " VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic') ON CONFLICT DO NOTHING",
            [(s, f"Trạm {s}") for s in STATIONS],
        )


class Service:
    def __init__(self, service: IngestService, task: asyncio.Task[None], stop: asyncio.Event):
        self.service, self.task, self.stop = service, task, stop

    def counters(self) -> dict[str, float]:
        from prometheus_client import generate_latest

        from .ingest_process import _SAMPLE

        out: dict[str, float] = {}
        for line in generate_latest(self.service.metrics.registry).decode().splitlines():
            m = _SAMPLE.match(line)
            if m:
                out[m["name"] + (f"{{{m['labels']}}}" if m["labels"] else "")] = float(m["value"])
        return counters(out)


async def _start(db_url: str, broker: MosquittoInstance) -> Service:
    settings = load_settings(
        database_url=db_url,
        mqtt_url=broker.url(),
        batch_max_age_ms=50,
        metrics_port=0,
        mqtt_client_id=f"aqm-ingest-hostile-{time.time_ns()}",
    )
    service = IngestService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.subscribed.wait(), 15)
    return Service(service, task, stop)


@pytest.fixture
async def ingest(clean_db: str, broker: MosquittoInstance) -> AsyncIterator[Service]:
    _seed(clean_db)
    running = await _start(clean_db, broker)
    yield running
    running.stop.set()
    await asyncio.wait_for(running.task, 30)


def publish(broker: MosquittoInstance, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    for info in [client.publish(t, p, qos=1) for t, p in messages]:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


async def until(url: str, sql: str, n: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (got := rows(url, sql)[0][0]) != n:
        assert time.monotonic() < deadline, f"{sql}: {got}, expected {n}"
        await asyncio.sleep(0.05)


def _ts(minutes_ago: int = 10) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


async def test_sql_in_station_ids_and_parameter_names_is_inert(
    ingest: Service, clean_db: str, broker: MosquittoInstance
) -> None:
    topic = "aqm/v1/stations/BN-01/readings"
    messages = []
    for i, text in enumerate(INJECTIONS):
        claims_station = {"station": text, "ts": _ts(i + 1), "values": {"pm25": 10.0}}
        odd_parameter = {"station": "BN-01", "ts": _ts(i + 1), "values": {text: 10.0}}
        tt10 = f"{text.replace(' ', '_')} 1.0 ug/m3 {datetime.now(UTC):%Y%m%d%H%M%S} 00\n"
        messages += [
            (topic, json.dumps(claims_station).encode()),
            (topic, json.dumps(odd_parameter).encode()),
            (topic, tt10.encode()),
        ]
    # SQL in the topic itself: the topic layout refuses it as a station id
    messages.append(
        (
            "aqm/v1/stations/BN-01' OR '1'='1/readings",
            json.dumps({"station": "BN-01", "ts": _ts(), "values": {"pm25": 11.0}}).encode(),
        )
    )
    messages.append(
        (topic, json.dumps({"station": "BN-01", "ts": _ts(), "values": {"pm25": 12.5}}).encode())
    )
    publish(broker, messages)
    await until(clean_db, "SELECT count(*) FROM rejected_messages", len(messages) - 1)
    await until(clean_db, "SELECT count(*) FROM readings", 1)
    tables = {
        r[0] for r in rows(clean_db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {"readings", "stations", "rejected_messages", "aqi_daily"} <= tables
    assert rows(clean_db, "SELECT count(*) FROM stations")[0][0] == len(STATIONS)
    stored = rows(
        clean_db, "SELECT reason_code, reason, payload, topic FROM rejected_messages_with_payload"
    )
    codes = sorted({str(r[0]) for r in stored})
    assert codes == ["bad_topic", "station_mismatch", "unknown_parameter"], codes
    payloads = {bytes(cast(bytes, r[2])) for r in stored}
    assert {p for _, p in messages[:-1]} == payloads  # every hostile payload kept verbatim
    for text in INJECTIONS:  # the text (as repr) is in a reason, character for character
        assert any(repr(text)[1:-1][:40] in str(r[1]) or text[:40] in str(r[1]) for r in stored), (
            text
        )
    assert "aqm/v1/stations/BN-01' OR '1'='1/readings" in {str(r[3]) for r in stored}
    c = ingest.counters()
    assert c["received"] == c["stored"] + c["duplicate"] + c["rejected"], c


async def test_a_payload_claiming_another_station_is_rejected(
    ingest: Service, clean_db: str, broker: MosquittoInstance
) -> None:
    forged = {"station": "BN-02", "ts": _ts(), "values": {"pm25": 999.0}}
    senml = [{"bn": "urn:aqm:station:BN-02:", "bt": time.time() - 600, "n": "pm25", "v": 998.0}]
    publish(
        broker,
        [
            ("aqm/v1/stations/BN-01/readings", json.dumps(forged).encode()),
            ("aqm/v1/stations/BN-01/readings", json.dumps(senml).encode()),
        ],
    )
    await until(
        clean_db, "SELECT count(*) FROM rejected_messages WHERE reason_code = 'station_mismatch'", 2
    )
    assert rows(clean_db, "SELECT count(*) FROM readings")[0][0] == 0


async def test_a_nul_in_a_json_key_does_not_cost_the_valid_readings(
    ingest: Service, clean_db: str, broker: MosquittoInstance
) -> None:
    good = {"station": "BN-01", "ts": _ts(5), "values": {"pm25": 20.0, "pm10": 40.0}}
    bad = {"station": "BN-01", "ts": _ts(6), "values": {"pm25": 21.0}, "evil\u0000key": 1}
    publish(broker, [("aqm/v1/stations/BN-01/readings", json.dumps([good, bad]).encode())])
    await until(clean_db, "SELECT count(*) FROM rejected_messages", 1)
    c = ingest.counters()
    assert c["received"] == c["stored"] + c["duplicate"] + c["rejected"], c
    assert rows(clean_db, "SELECT count(*) FROM readings")[0][0] == 2


async def test_ingest_stores_readings_as_the_aqm_ingest_role(
    clean_db: str, postgres: PostgresInstance, broker: MosquittoInstance
) -> None:
    _seed(clean_db)
    running = await _start(postgres.url(user="aqm_ingest"), broker)
    try:
        publish(
            broker,
            [
                (
                    "aqm/v1/stations/BN-01/readings",
                    json.dumps(
                        {"station": "BN-01", "ts": _ts(), "values": {"pm25": 20.0}}
                    ).encode(),
                )
            ],
        )
        await until(clean_db, "SELECT count(*) FROM readings", 1, timeout=10)
    finally:
        running.stop.set()
        await asyncio.wait_for(running.task, 30)
