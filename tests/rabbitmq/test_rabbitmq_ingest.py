"""Readings through RabbitMQ: MQTT in, quorum queue, AMQP to ingest, acked after commit.

A real RabbitMQ node (Debian's package, the definitions `aqm stations credentials`
writes) and a real TimescaleDB.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from stations.rabbitmq_definitions import DELIVERY_LIMIT, dead_letter_queue
from tests.ingest.conftest import count, wait_until
from tests.rabbitmq.conftest import (
    Station,
    flood,
    ingest_settings,
    ingest_url,
    publish_from,
)
from tests.rabbitmq_nodes import QUEUE, RabbitNode, add_user, password, rabbitmq_version
from tests.reliability.station_traffic import expected, messages, stored


def queue_state(node: RabbitNode) -> dict[str, str]:
    out = node.ctl(
        "list_queues", "-q", "--no-table-headers", "name", "type", "messages_ready",
        "messages_unacknowledged",
    )  # fmt: skip
    for line in out.splitlines():
        name, kind, ready, unacked = line.split()
        if name == QUEUE:
            return {"type": kind, "ready": ready, "unacked": unacked}
    raise AssertionError(f"no queue {QUEUE} on {node.nodename}: {out!r}")


async def test_readings_published_over_mqtt_reach_the_database_through_a_quorum_queue(
    rabbit: RabbitNode, rabbit_db: str, start_ingest: Any
) -> None:
    await start_ingest(ingest_settings(rabbit_db, ingest_url(rabbit)))
    sent = messages(["BN-01", "BN-02"], 20)
    stations = [Station(s, [rabbit.mqtt_port]) for s in ("BN-01", "BN-02")]
    acked = await asyncio.to_thread(publish_from, stations, sent)
    assert acked == len(sent)
    await wait_until(lambda: stored(rabbit_db) == expected(sent), 60, "every reading stored")
    assert queue_state(rabbit)["type"] == "quorum"
    await wait_until(lambda: queue_state(rabbit)["unacked"] == "0", 20, "every message acked")
    assert queue_state(rabbit)["ready"] == "0"


async def test_a_message_is_acked_only_after_its_commit(
    rabbit: RabbitNode, rabbit_db: str, start_ingest: Any
) -> None:
    """While the database refuses ingest, the queue keeps the message unacked."""
    first = await start_ingest(ingest_settings(rabbit_db, ingest_url(rabbit)))
    # The writer now connects to a port where no database listens.
    first.service.writer.database_url = "postgresql://aqm_ingest@127.0.0.1:9/aqm"
    await first.service.writer.close()
    sent = messages(["BN-03"], 3)
    station = Station("BN-03", [rabbit.mqtt_port])
    try:
        assert station.connect(), station.refused
        assert await asyncio.to_thread(flood, [station], sent) == 3
    finally:
        station.close()
    await wait_until(lambda: queue_state(rabbit)["unacked"] == "3", 20, "3 unacked")
    assert count(rabbit_db, "SELECT count(*) FROM readings") == 0
    await first.shutdown()  # not stored, so never acked: RabbitMQ requeues the three
    await wait_until(lambda: queue_state(rabbit)["ready"] == "3", 20, "3 ready again")
    await start_ingest(ingest_settings(rabbit_db, ingest_url(rabbit)))
    await wait_until(lambda: stored(rabbit_db) == expected(sent), 60, "the three stored")
    await wait_until(lambda: queue_state(rabbit)["unacked"] == "0", 20, "acked at last")


async def test_qos_0_arrivals_through_rabbitmq_are_counted_per_station(
    rabbit: RabbitNode, rabbit_db: str, start_ingest: Any
) -> None:
    """The QoS a station used reaches ingest over AMQP (a header before RabbitMQ 3.13,
    the delivery mode in every version), so QoS 0 publishers are still counted."""
    svc = await start_ingest(ingest_settings(rabbit_db, ingest_url(rabbit)))
    sent = messages(["BN-01"], 3, start=datetime.now(UTC) - timedelta(days=1))
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="BN-01-qos", protocol=mqtt.MQTTv311)
    client.username_pw_set("BN-01", password("BN-01"))
    client.connect("127.0.0.1", rabbit.mqtt_port)
    client.loop_start()
    try:
        for message, qos in zip(sent, (0, 0, 1), strict=True):
            client.publish(message.topic, message.payload, qos=qos).wait_for_publish(10)
        await wait_until(
            lambda: stored(rabbit_db) >= expected(sent), 60, "the three messages stored"
        )
    finally:
        client.disconnect()
        client.loop_stop()
    counted = [
        s.value
        for metric in svc.service.metrics.registry.collect()
        for s in metric.samples
        if s.name == "aqm_ingest_qos0_messages_total" and s.labels.get("station") == "BN-01"
    ]
    assert counted == [2.0]


async def test_a_message_redelivered_past_the_limit_is_dead_lettered_not_dropped(
    rabbit: RabbitNode,
) -> None:
    """The definitions' policy: past DELIVERY_LIMIT redeliveries, the dead-letter queue.

    RabbitMQ 4.0 drops a quorum queue's message after 20 redeliveries by default; 3.x
    redelivers for ever. The policy makes both keep it, in ``<queue>.dead-letter``.
    """
    add_user(rabbit, "limit-tester", password("limit-tester"))
    (message,) = messages(["BN-02"], 1)
    station = Station("BN-02", [rabbit.mqtt_port])
    try:
        assert station.connect(), station.refused
        assert await asyncio.to_thread(flood, [station], [message]) == 1
    finally:
        station.close()
    connection = await aio_pika.connect(rabbit.amqp_url("limit-tester", password("limit-tester")))
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(QUEUE, ensure=False)
        returned = 0
        deadline = time.monotonic() + 60
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            got = await queue.get(no_ack=False, fail=False)
            if got is None:
                if returned >= DELIVERY_LIMIT and time.monotonic() - quiet_since > 1.0:
                    break  # not redelivered any more
                await asyncio.sleep(0.05)
                continue
            assert got.body == message.payload
            await got.nack(requeue=True)
            returned += 1
            quiet_since = time.monotonic()
        if rabbitmq_version() < (4, 0, 0):
            # 3.x dead-letters when a message's returns exceed the limit
            assert returned == DELIVERY_LIMIT + 1
        else:
            # 4.0 counts deliveries anew (the "delivery-count" of AMQP 1.0); not run here
            # yet, so either reading of "the limit" passes
            assert DELIVERY_LIMIT <= returned <= DELIVERY_LIMIT + 1
        dead = await channel.get_queue(dead_letter_queue(QUEUE), ensure=False)
        kept = None
        while kept is None and time.monotonic() < deadline:
            kept = await dead.get(no_ack=True, fail=False)
            await asyncio.sleep(0.05)
        assert kept is not None and kept.body == message.payload
    finally:
        await connection.close()
