"""Every payload size a station can send ends stored or rejected, never in silence.

The broker drops a message above its ``message_size_limit`` before ingest sees it (an
MQTT 3.1.1 station even gets its PUBACK). The production broker's limit is therefore far
above ingest's ``AQM_MAX_PAYLOAD_BYTES``: this test sends, through the production
broker configuration and with MQTT 3.1.1 and MQTT 5 stations, a valid message of
exactly ingest's limit and messages just over it, twice it and close to the broker's
limit; the first is stored, the others become ``payload_too_large`` rejects keeping
their first bytes, and a station's ordinary message sent afterwards is still stored.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from aqm_core.settings import BROKER_MESSAGE_SIZE_LIMIT, Settings
from tests.production_broker import INGEST_USERS, ProductionBroker

from .conftest import FaultLab
from .ingest_process import IngestProcess
from .station_traffic import TOPIC, StationClient, count_readings, messages, publish

pytestmark = pytest.mark.services

LIMIT: int = Settings.model_fields["max_payload_bytes"].default


def padded_message(station: str, ts: datetime, size: int) -> bytes:
    """A valid aqm JSON message of exactly ``size`` bytes (JSON allows the spaces)."""
    body = json.dumps({"station": station, "ts": ts.isoformat(), "values": {"pm25": 12.5}})
    return body.encode() + b" " * (size - len(body))


def rejects(url: str) -> list[tuple[str, str, bytes]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT station_id, reason_code, payload FROM rejected_messages_with_payload ORDER BY id"
        ).fetchall()
    return [(s, r, bytes(p)) for s, r, p in rows]


@pytest.mark.parametrize(
    "protocol", [MQTTProtocolVersion.MQTTv311, MQTTProtocolVersion.MQTTv5], ids=["3.1.1", "5"]
)
def test_oversized_messages_end_as_rejects_not_silence(
    production_broker: ProductionBroker,
    fault_lab: FaultLab,
    tmp_path: Path,
    protocol: MQTTProtocolVersion,
) -> None:
    broker = production_broker
    stations = broker.stations()
    url = fault_lab.url(fault_lab.new_database(stations))
    user = INGEST_USERS[0]
    ingest = IngestProcess(url, broker.url(user), user, tmp_path / "ingest.log")
    try:
        ingest.wait_healthy()
        station, other = stations[0], stations[1]
        ts = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        at_limit = padded_message(station, ts, LIMIT)
        # distinct bytes at the start, so each reject shows which message it keeps
        oversized = {
            size: f"[{size:>12}".encode() + b"x" * (size - 13)
            for size in (LIMIT + 1, 2 * LIMIT, BROKER_MESSAGE_SIZE_LIMIT - 1024)
        }
        sender = StationClient(broker, station, protocol)
        try:
            sender.send(at_limit, TOPIC.format(station))
            for payload in oversized.values():
                sender.send(payload, TOPIC.format(station))
            sender.wait_acked(1 + len(oversized))
        finally:
            sender.close()
        # another station is not held up by them
        later = messages([other], 1, start=ts)
        publish(broker, later, mqtt.MQTTv5)

        deadline = time.monotonic() + 60
        while len(rejects(url)) < len(oversized) or count_readings(url) < 3:
            assert ingest.proc is not None and ingest.proc.poll() is None, ingest.log.read_text()[
                -2000:
            ]
            assert time.monotonic() < deadline, (
                f"{len(rejects(url))} rejects, {count_readings(url)} readings"
            )
            time.sleep(0.2)
        time.sleep(1.0)  # nothing more arrives: one row per oversized message
        rows = rejects(url)
        assert [(s, r) for s, r, _ in rows] == [(station, "payload_too_large")] * len(oversized)
        for (_, _, kept), sent in zip(rows, oversized.values(), strict=True):
            assert 0 < len(kept) < len(sent) and sent.startswith(kept)
        assert count_readings(url) == 3  # the message at the limit and the other station's
        metrics = ingest.metrics()
        assert metrics["aqm_ingest_messages_received_total"] == 1 + len(oversized) + 1
        assert ingest.stop() == 0
    finally:
        ingest.ensure_stopped()
