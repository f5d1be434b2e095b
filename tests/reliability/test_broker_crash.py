"""A broker killed with SIGKILL loses no more than the documented bound.

Mosquitto keeps what it queues for ingest in memory and writes it to disk at each
autosave; a SIGTERM saves first, so a SIGTERM test proves nothing about a crash. Here the
production broker configuration (autosave every 100 changes) queues thousands of
messages, acknowledged to their stations, for an absent ingest; then the broker gets
SIGKILL — as from the kernel's OOM killer — and is started again, and ingest drains
what survived. docs/reliability.md promises that at most 100 messages are lost (gap
detection, ``aqm gaps``, finds them for the station vendor to resend): more than that,
or any reading that was never sent, fails the test. The previous time-based setting
(every 60 s) lost every message of this test.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.production_broker import INGEST_USERS, ProductionBroker

from .conftest import FaultLab
from .ingest_process import IngestProcess
from .station_traffic import count_readings, expected, messages, publish, stored

pytestmark = pytest.mark.services

# docs/reliability.md, "Broker crash": autosave_on_changes true, autosave_interval 100
MAX_LOST_MESSAGES = 100


def drain(url: str, ingest: IngestProcess, quiet_s: float = 3.0, timeout: float = 120) -> int:
    """Readings stored once nothing new has arrived for ``quiet_s``."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert ingest.proc is not None and ingest.proc.poll() is None, ingest.log.read_text()[
            -2000:
        ]
        assert time.monotonic() < deadline, "ingest never settled"
        now = count_readings(url)
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.2)
    return last


def test_kill_9_of_the_broker_loses_at_most_the_documented_bound(
    production_broker: ProductionBroker, fault_lab: FaultLab, tmp_path: Path
) -> None:
    broker = production_broker
    stations = broker.stations()
    url = fault_lab.url(fault_lab.new_database(stations))
    user = INGEST_USERS[0]
    ingest = IngestProcess(url, broker.url(user), user, tmp_path / "ingest.log")
    try:
        ingest.wait_healthy()
        # ingest's session is in place once a probe is stored; then ingest goes away
        probe = messages(
            [stations[0]], 1, start=datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        )
        deadline = time.monotonic() + 30
        while count_readings(url) == 0:
            assert time.monotonic() < deadline, "ingest never stored the probe"
            publish(broker, probe)
            time.sleep(0.5)
        assert ingest.stop() == 0

        sent = messages(stations, 1001)  # 5,005 messages: not a multiple of the interval
        publish(broker, sent)  # every one acknowledged by the broker
        broker.kill()
        broker.start()
        ingest.start()
        ingest.wait_healthy()
        drain(url, ingest)

        got = stored(url) - expected(probe)
        assert got <= expected(sent), "a reading nobody sent"
        lost_messages = sum(1 for m in sent if not set(m.readings) <= got)
        print(f"\nkill -9 with {len(sent):,} messages queued: {lost_messages} lost")
        assert lost_messages <= MAX_LOST_MESSAGES
        assert ingest.stop() == 0
    finally:
        ingest.ensure_stopped()
