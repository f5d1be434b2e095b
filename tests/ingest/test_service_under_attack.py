"""One station must never stop the others: the service end to end under poison.

Real Mosquitto, real TimescaleDB, ingest writing as ``aqm_ingest``. A poison message is
followed by other stations' data, which must all be stored; every exception the write
path can raise is injected for one station's messages; health must say when the writer
is not writing; QoS 0 arrivals are counted.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import ingest.writer
from aqm.localservices import MosquittoInstance, free_port
from ingest.metrics import serve_http

from .conftest import count, make_settings, wait_until
from .test_delivery import publish_all

pytestmark = pytest.mark.services

TOPIC = "aqm/v1/stations/{}/readings"


def sample(metrics: Any, name: str, **labels: str) -> float:
    for metric in metrics.registry.collect():
        for s in metric.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def reconciled(metrics: Any) -> bool:
    rejected = sum(
        s.value
        for metric in metrics.readings_rejected.collect()
        for s in metric.samples
        if s.name.endswith("_total")
    )
    received = metrics.readings_received._value.get()
    return bool(
        received
        == metrics.readings_stored._value.get() + metrics.readings_duplicate._value.get() + rejected
    )


def others(n_messages: int, start: datetime) -> list[tuple[str, bytes]]:
    """``n_messages`` of 3 readings each from BN-02 and BN-03, all distinct."""
    out = []
    for i in range(n_messages):
        station = ("BN-02", "BN-03")[i % 2]
        ts = start + timedelta(seconds=30 * (i // 2))
        body = {"station": station, "ts": ts.isoformat(),
                "values": {"pm25": 10 + i % 50, "pm10": 30 + i % 70, "no2": 5 + i % 40}}  # fmt: skip
        out.append((TOPIC.format(station), json.dumps(body).encode()))
    return out


def healthz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


POISONS = {
    # the JSON escape of a lone UTF-16 surrogate as a key; NaN and -Infinity
    "lone-surrogate-key": '{{"station":"BN-01","ts":"{ts}","values":{{"\\ud800":null,"pm25":12.5}}}}',
    "nan": '{{"station":"BN-01","ts":"{ts}","values":{{"\\ud800":NaN,"pm25":12.5}}}}',
    "minus-infinity": '{{"station":"BN-01","ts":"{ts}","values":{{"\\udfff":-Infinity,"pm25":12.5}}}}',
    "nul-in-key": '{{"station":"BN-01","ts":"{ts}","values":{{"a\\u0000\\ud800":null,"pm25":12.5}}}}',
}


@pytest.mark.parametrize("poison", list(POISONS))
async def test_a_poison_message_stops_no_other_station(
    ingest_db: str, broker: MosquittoInstance, start_service: Any, poison: str
) -> None:
    svc = await start_service(make_settings(ingest_db, broker))
    port = free_port()
    server = serve_http(svc.metrics, port, svc.metrics.healthy)
    try:
        ts = (datetime.now(UTC) - timedelta(minutes=10)).astimezone().isoformat()
        payload = POISONS[poison].format(ts=ts).encode()
        assert len(payload) < 120
        publish_all(broker, [(TOPIC.format("BN-01"), payload)])
        publish_all(broker, others(800, datetime.now(UTC) - timedelta(days=1)))
        await wait_until(
            lambda: count(ingest_db, "SELECT count(*) FROM readings") == 1 + 2400,
            timeout=60,
            what="the poison's pm25 and 2,400 readings of BN-02 and BN-03",
        )
        rejected = count(
            ingest_db,
            "SELECT count(*) FROM rejected_messages_with_payload"
            " WHERE station_id = 'BN-01' AND reason_code = 'not_finite' AND payload = %s",
            payload,
        )
        assert rejected == 1
        assert not svc.task.done()
        assert healthz(port) == (200, "ok\n")
        await wait_until(lambda: reconciled(svc.metrics), what="counters to reconcile")
    finally:
        server.shutdown()


INJECTED = [
    UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ValueError("injected"),
    OverflowError("date value out of range"),
    TypeError("injected"),
    KeyError("injected"),
    AssertionError("injected"),
    RuntimeError("injected"),
    ZeroDivisionError("injected"),
    psycopg.DataError("injected"),
    psycopg.errors.InvalidTimeZoneDisplacementValue("injected"),
    psycopg.IntegrityError("injected"),
    psycopg.errors.CheckViolation("injected"),
    psycopg.errors.ProgramLimitExceeded("injected"),
    psycopg.InternalError("injected"),
    psycopg.OperationalError("injected, and never going away"),
]


@pytest.mark.parametrize("where", ["encoding", "database"])
@pytest.mark.parametrize("exc", INJECTED, ids=lambda e: type(e).__name__)
async def test_any_exception_in_the_writer_rejects_only_the_message_at_fault(
    ingest_db: str,
    broker: MosquittoInstance,
    start_service: Any,
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    where: str,
) -> None:
    """BN-02's readings make the writer raise ``exc``; BN-01's and BN-03's are stored."""
    if where == "encoding":
        encode = ingest.writer._reading_row

        def failing_row(r: Any, received_at: datetime) -> tuple[object, ...]:
            if r.station_id == "BN-02":
                raise exc
            return encode(r, received_at)

        monkeypatch.setattr(ingest.writer, "_reading_row", failing_row)
    else:
        write = ingest.writer._write

        async def failing_write(conn: Any, messages: list[Any]) -> Any:
            if any(m.station_id == "BN-02" and m.readings for m in messages):
                raise exc
            return await write(conn, messages)

        monkeypatch.setattr(ingest.writer, "_write", failing_write)
    svc = await start_service(make_settings(ingest_db, broker))
    ts = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    messages = [
        (TOPIC.format(s), json.dumps({"station": s, "ts": ts, "values": {"pm25": 1.0, "pm10": 2.0}}).encode())
        for s in ("BN-01", "BN-02", "BN-03")
    ]  # fmt: skip
    publish_all(broker, messages)
    await wait_until(
        lambda: (
            count(ingest_db, "SELECT count(*) FROM readings") == 4
            and count(ingest_db, "SELECT count(*) FROM rejected_messages") == 2
        ),
        timeout=30,
        what="BN-01's and BN-03's readings stored, BN-02's two kept as rejects",
    )
    kept = count(
        ingest_db,
        "SELECT count(*) FROM rejected_messages_with_payload WHERE station_id = 'BN-02'"
        " AND reason_code = 'store_failed' AND payload = %s AND reason LIKE %s",
        messages[1][1],
        f"%{type(exc).__name__}%",
    )
    assert kept == 2
    assert count(ingest_db, "SELECT count(*) FROM readings WHERE station_id = 'BN-02'") == 0
    # the writer is alive and healthy: the next batch is stored too
    later = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    body = {"station": "BN-03", "ts": later, "values": {"pm25": 3.0}}
    publish_all(broker, [(TOPIC.format("BN-03"), json.dumps(body).encode())])
    await wait_until(lambda: count(ingest_db, "SELECT count(*) FROM readings") == 5, what="5")
    assert not svc.task.done()
    assert svc.metrics.unhealthy_reason() is None
    await wait_until(lambda: reconciled(svc.metrics), what="counters to reconcile")


async def test_health_turns_unhealthy_while_the_database_holds_writes(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    """A lock on readings stalls the write: the gauges and /healthz must show it."""
    svc = await start_service(make_settings(ingest_db, broker, health_max_unacked_age_s=1.5))
    port = free_port()
    server = serve_http(svc.metrics, port, svc.metrics.healthy)
    locker = psycopg.connect(ingest_db)
    try:
        assert healthz(port) == (200, "ok\n")
        locker.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        ts = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        body = {"station": "BN-01", "ts": ts, "values": {"pm25": 5.0}}
        publish_all(broker, [(TOPIC.format("BN-01"), json.dumps(body).encode())])
        await asyncio.sleep(3.0)
        status, text = healthz(port)
        assert status == 503 and "oldest unacked message has waited" in text, text
        assert sample(svc.metrics, "aqm_ingest_oldest_unacked_seconds") > 2.0
        assert sample(svc.metrics, "aqm_ingest_unacked_messages") == 1
        locker.rollback()  # the lock goes, the write commits
        await wait_until(lambda: count(ingest_db, "SELECT count(*) FROM readings") == 1, what="1")
        await wait_until(lambda: healthz(port)[0] == 200, what="healthy again")
        assert sample(svc.metrics, "aqm_ingest_oldest_unacked_seconds") == 0.0
    finally:
        locker.close()
        server.shutdown()


async def test_stop_interrupts_retries_while_the_database_is_away_and_loses_nothing(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    settings = make_settings(ingest_db, broker)
    svc = await start_service(settings)
    service = svc.service

    async def database_away() -> Any:
        raise psycopg.OperationalError("connection refused (injected)")

    service.writer.connect = database_away
    ts = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    body = {"station": "BN-01", "ts": ts, "values": {"pm25": 7.0}}
    publish_all(broker, [(TOPIC.format("BN-01"), json.dumps(body).encode())])
    await wait_until(lambda: svc.metrics.db_errors._value.get() >= 4, what="four failed tries")
    stopped = time.monotonic()
    await svc.shutdown()  # the backoff is now 4 s or more
    assert time.monotonic() - stopped < 1.5
    assert count(ingest_db, "SELECT count(*) FROM readings") == 0
    # not acked: the broker redelivers it to the next instance with the same session
    await start_service(settings)
    await wait_until(lambda: count(ingest_db, "SELECT count(*) FROM readings") == 1, what="1")


async def test_qos_0_arrivals_are_counted_per_station(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    svc = await start_service(make_settings(ingest_db, broker))
    ts = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for i, (station, qos) in enumerate([("BN-01", 0), ("BN-01", 0), ("BN-02", 1), ("XX-9", 0)]):
            body = {"station": station, "ts": ts, "values": {"pm25": float(i)}}
            client.publish(TOPIC.format(station), json.dumps(body), qos=qos).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
    await wait_until(lambda: svc.metrics.messages_received._value.get() == 4, what="4 messages")
    name = "aqm_ingest_qos0_messages_total"
    assert sample(svc.metrics, name, station="BN-01") == 2
    assert sample(svc.metrics, name, station="BN-02") == 0
    assert sample(svc.metrics, name, station="") == 1  # a stranger adds no series of its own


async def test_payloads_around_every_size_limit_through_the_broker(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    """Every rejected payload within AQM_MAX_PAYLOAD_BYTES comes back byte for byte."""
    limit = 200_000
    svc = await start_service(make_settings(ingest_db, broker, max_payload_bytes=limit))
    now = datetime.now(UTC)
    sizes = [65_535, 65_536, 65_537, 88_454, limit - 1, limit, limit + 1, 3 * limit]
    messages = []
    for i, size in enumerate(sizes):
        good = json.dumps({"station": "BN-01", "ts": (now - timedelta(minutes=i + 1)).isoformat(),
                           "values": {"pm25": 1.0}})  # fmt: skip
        bad = json.dumps({"station": "BN-01", "ts": f"not a time {i}", "values": {"pm10": 2.0}})
        payload = f"[{good}, {bad}{' ' * (size - len(good) - len(bad) - 4)}]".encode()
        assert len(payload) == size
        messages.append((TOPIC.format("BN-01"), payload))
    publish_all(broker, messages)
    await wait_until(
        lambda: svc.metrics.messages_received._value.get() == len(sizes), what="every message"
    )
    await wait_until(
        lambda: count(ingest_db, "SELECT count(*) FROM rejected_messages") == len(sizes),
        what="one reject per message",
    )
    with psycopg.connect(ingest_db) as conn:
        kept = {
            int(r[2]): (r[0], bytes(r[1]))
            for r in conn.execute(
                "SELECT reason_code, payload, payload_bytes FROM rejected_messages_with_payload"
            )
        }
    for (_, payload), size in zip(messages, sizes, strict=True):
        code, stored = kept[size]
        if size <= limit:
            assert code != "payload_too_large" and stored == payload, size
        else:
            assert code == "payload_too_large" and stored == payload[: 64 * 1024], size
    assert count(ingest_db, "SELECT count(*) FROM readings") == sum(s <= limit for s in sizes)
