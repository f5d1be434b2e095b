"""Hypothesis-generated garbage through the real service: nothing escapes, all is kept.

Every payload ends stored or in ``rejected_messages``, and the service keeps running.
What each payload should become is computed with the decoders alone (the unit under
test here is the service path: batching, writing, acking).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aqm.localservices import MosquittoInstance
from ingest.decode import decode
from ingest.validate import StationInfo, ValidationPolicy, judge
from ingest.writer import MAX_REJECT_ROWS_PER_MESSAGE
from tests.payload_strategies import garbage_payloads

from .conftest import STATIONS, as_role, count, seed_stations
from .test_delivery import publish_all

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

TOPIC = "aqm/v1/stations/BN-01/readings"
REGISTRY = {sid: StationInfo(active=(status == "active")) for sid, status in STATIONS}


@pytest.fixture(scope="module")
def service(database_url: str, broker: MosquittoInstance) -> Iterator[subprocess.Popen[bytes]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE readings, rejected_messages, rejected_payloads, aqi_dirty_hours, stations CASCADE"
        )
    seed_stations(database_url)
    env = dict(
        os.environ,
        AQM_DATABASE_URL=as_role(database_url),
        AQM_MQTT_URL=broker.url(),
        AQM_MQTT_CLIENT_ID=f"aqm-garbage-{time.time_ns()}",
        AQM_METRICS_PORT="0",
        AQM_BATCH_MAX_AGE_MS="50",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "aqm", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    probe = json.dumps(
        {"station": "BN-02", "ts": datetime.now(UTC).isoformat(), "values": {"pm25": 1.0}}
    ).encode()
    deadline = time.monotonic() + 30
    while count(database_url, "SELECT count(*) FROM readings WHERE station_id = 'BN-02'") < 1:
        assert time.monotonic() < deadline, "ingest did not start"
        publish_all(broker, [("aqm/v1/stations/BN-02/readings", probe)])
        time.sleep(0.3)
    yield proc
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(garbage_payloads, min_size=20, max_size=40, unique=True))
def test_garbage_ends_stored_or_rejected_and_the_service_survives(
    service: subprocess.Popen[bytes],
    database_url: str,
    broker: MosquittoInstance,
    payloads: list[bytes],
) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:  # a payload seen in an earlier example is
        seen = {
            bytes(r[0])
            for r in conn.execute(  # stored once (by its digest)
                "SELECT DISTINCT payload_digest FROM rejected_messages"
            )
        }
    expected_rejects = 0
    valid: set[tuple[str, str, datetime]] = set()
    for p in payloads:
        if hashlib.sha256(TOPIC.encode() + b"\0" + p).digest() in seen:
            continue
        verdict = judge(
            decode(p, ZoneInfo("Asia/Ho_Chi_Minh"), now, 1_048_576),
            "BN-01",
            REGISTRY,
            ValidationPolicy(),
            now,
        )
        n = len(verdict.rejections) or (0 if verdict.readings else 1)
        # one message adds at most MAX_REJECT_ROWS_PER_MESSAGE rows and one more_rejects row
        expected_rejects += min(n, MAX_REJECT_ROWS_PER_MESSAGE) + (n > MAX_REJECT_ROWS_PER_MESSAGE)
        valid |= {(r.station_id, r.parameter, r.ts) for r in verdict.readings}
    rejected_before = count(database_url, "SELECT count(*) FROM rejected_messages")
    readings_before = count(database_url, "SELECT count(*) FROM readings")
    publish_all(broker, [(TOPIC, p) for p in payloads])
    deadline = time.monotonic() + 60
    while (
        count(database_url, "SELECT count(*) FROM rejected_messages")
        < rejected_before + expected_rejects
    ):
        assert service.poll() is None, "the service died"
        assert time.monotonic() < deadline, "rejects missing"
        time.sleep(0.1)
    time.sleep(0.3)
    assert service.poll() is None
    assert (
        count(database_url, "SELECT count(*) FROM rejected_messages")
        == rejected_before + expected_rejects
    )
    # garbage may hold valid readings (or repeat earlier ones): at most what was valid
    assert count(database_url, "SELECT count(*) FROM readings") - readings_before <= len(valid)
