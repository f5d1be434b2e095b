"""kill -9 of a RabbitMQ node holding a backlog: what it acknowledged survives.

Mosquitto loses what it acknowledged since its last save (docs/reliability.md); a
quorum queue writes each message to its log and fsyncs it before confirming, and
RabbitMQ's MQTT plugin sends the PUBACK only on that confirmation.

One precondition, measured on RabbitMQ 3.10 (docs/scaling.md, "A new queue's first
minutes"): the node must have saved the queue's registration (Ra's ``names.dets``), which
it does on a clean stop or on its own within minutes of the queue's creation. Killed
before that, the node restarts the queue as a new, empty member (3 of 6 runs lost all 900
acknowledged messages that way). The test stops and starts the node cleanly once before
the flood, as a node that has run past its first minutes would be.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.ingest.conftest import wait_until
from tests.rabbitmq.conftest import Station, ingest_settings, ingest_url, publish_from
from tests.rabbitmq_nodes import start_nodes
from tests.reliability.station_traffic import expected, messages, stored

STATIONS = ["BN-01", "BN-02", "BN-03"]


async def test_a_node_killed_and_restarted_loses_nothing_it_acknowledged(
    tmp_path: Path, rabbit_db: str, start_ingest: Any
) -> None:
    (node,) = await asyncio.to_thread(start_nodes, tmp_path / "rabbitmq", 1)
    try:
        await asyncio.to_thread(node.stop)  # the queue's registration saved
        node.start()
        await asyncio.to_thread(node.wait_ready)
        sent = messages(STATIONS, 300)
        stations = [Station(s, [node.mqtt_port]) for s in STATIONS]
        acked = await asyncio.to_thread(publish_from, stations, sent)
        assert acked == len(sent)  # nobody consumed: all of it is the queue's backlog
        node.kill9()
        node.start()
        await asyncio.to_thread(node.wait_ready)
        # a restarted node recovers its quorum queue (an election) before it serves it
        await start_ingest(ingest_settings(rabbit_db, ingest_url(node)), subscribe_timeout=60)
        want = expected([m for s in stations for m in s.acked])
        await wait_until(lambda: stored(rabbit_db) == want, 120, "every acked reading")
    finally:
        node.stop()
