"""Readings through RabbitMQ: MQTT in, quorum queue, AMQP to ingest, acked after commit.

A real RabbitMQ node (Debian's package, the definitions `aqm stations credentials`
writes) and a real TimescaleDB.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.ingest.conftest import count, wait_until
from tests.rabbitmq.conftest import (
    Station,
    flood,
    ingest_settings,
    ingest_url,
)
from tests.rabbitmq_nodes import QUEUE, RabbitNode
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
    try:
        for s in stations:
            assert s.connect(), s.refused
        acked = await asyncio.to_thread(flood, stations, sent)
    finally:
        for s in stations:
            s.close()
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
