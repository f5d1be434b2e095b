"""A station's credentials cannot take over ingest's persistent session.

MQTT gives a client id's session to whoever connects with it: with a clean start the
broker discards the session and its queue, without one it hands the queue to the newcomer,
whose ACL then forbids the messages. Ingest's client id is no secret (it is in
docker-compose.yml), so the production broker takes the login as client id
(``use_username_as_clientid``): a station naming ingest's client id gets a session of its
own. These tests run ``aqm ingest`` against the production broker configuration and a
station that logs in with its own password and ingest's client id, with every
combination of protocol and clean start, while ingest is away and again and again while
it runs; every reading the stations sent must be stored.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.production_broker import INGEST_USERS, ProductionBroker

from .conftest import FaultLab
from .ingest_process import IngestProcess
from .station_traffic import count_readings, expected, messages, publish, stored

pytestmark = pytest.mark.services

INGEST_USER = INGEST_USERS[0]
ATTACKS = [
    (protocol, clean) for protocol in (mqtt.MQTTv5, mqtt.MQTTv311) for clean in (True, False)
]


def impersonate(
    broker: ProductionBroker,
    station: str,
    client_id: str,
    protocol: MQTTProtocolVersion,
    clean: bool,
    hold_s: float,
) -> bool:
    """Log in with ``station``'s credentials under ``client_id``, try to read every
    station's readings, stay ``hold_s``; whether the broker accepted the login."""
    accepted = threading.Event()
    answered = threading.Event()
    if protocol == mqtt.MQTTv5:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, clean_session=clean
        )
    client.username_pw_set(station, broker.passwords[station])

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if not getattr(reason, "is_failure", True):
            accepted.set()
            c.subscribe("aqm/v1/stations/+/readings", qos=1)
        answered.set()

    client.on_connect = on_connect
    client.on_message = lambda *_: None
    if protocol == mqtt.MQTTv5:
        client.connect("127.0.0.1", broker.port, clean_start=clean)
    else:
        client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        answered.wait(10)
        time.sleep(hold_s)
    finally:
        client.disconnect()
        client.loop_stop()
    return accepted.is_set()


def rejected(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT reason, count(*) FROM rejected_messages GROUP BY reason"
        ).fetchall()


def wait_stored(url: str, n: int, ingest: IngestProcess, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while (got := count_readings(url)) < n:
        assert ingest.proc is not None and ingest.proc.poll() is None, ingest.log.read_text()[
            -2000:
        ]
        assert time.monotonic() < deadline, (
            f"{got} of {n} readings stored; rejected: {rejected(url)}; metrics: "
            f"{ingest.metrics().get('aqm_ingest_messages_received_total')} messages received"
        )
        time.sleep(0.2)


def start_ingest(url: str, broker: ProductionBroker, log: Path) -> IngestProcess:
    """``aqm ingest`` as INGEST_USER, subscribed: a probe message has been stored."""
    ingest = IngestProcess(url, broker.url(INGEST_USER), INGEST_USER, log)
    ingest.wait_healthy()
    return ingest


def probe(url: str, broker: ProductionBroker, ingest: IngestProcess) -> int:
    """Publish one message until ingest stores it: then its subscription is in place."""
    station = broker.stations()[0]
    # Three days back: before any reading of the messages the tests send (two days back).
    first = messages(
        [station], 1, start=datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    )
    before = count_readings(url)
    deadline = time.monotonic() + 30
    while count_readings(url) == before:
        assert time.monotonic() < deadline, "ingest never stored the probe"
        publish(broker, first)
        time.sleep(0.5)
    return count_readings(url)


def test_a_station_with_ingests_client_id_cannot_touch_its_backlog_while_it_is_away(
    production_broker: ProductionBroker, fault_lab: FaultLab, tmp_path: Path
) -> None:
    broker = production_broker
    stations = broker.stations()
    url = fault_lab.url(fault_lab.new_database(stations))
    ingest = start_ingest(url, broker, tmp_path / "ingest.log")
    try:
        base = probe(url, broker, ingest)
        assert ingest.stop() == 0
        sent = messages(stations, 800)  # 4,000 messages, 8,000 readings queued
        publish(broker, sent)
        # Every kind of takeover, with a station's valid login and ingest's client id.
        attacker = stations[-1]
        for protocol, clean in ATTACKS:
            assert impersonate(broker, attacker, INGEST_USER, protocol, clean, hold_s=1.0), (
                "the station's own login must work: the test is about the client id"
            )
        ingest.start()
        wait_stored(url, base + len(expected(sent)), ingest)
        assert expected(sent) <= stored(url)
        assert count_readings(url) == base + len(expected(sent))
        assert ingest.stop() == 0
    finally:
        ingest.ensure_stopped()


def test_repeated_logins_with_ingests_client_id_while_it_runs_lose_nothing(
    production_broker: ProductionBroker, fault_lab: FaultLab, tmp_path: Path
) -> None:
    broker = production_broker
    stations = broker.stations()
    url = fault_lab.url(fault_lab.new_database(stations))
    ingest = start_ingest(url, broker, tmp_path / "ingest.log")
    stop = threading.Event()
    attempts: list[bool] = []

    def attack() -> None:
        for protocol, clean in itertools.cycle(ATTACKS):
            if stop.is_set():
                return
            attempts.append(
                impersonate(broker, stations[-1], INGEST_USER, protocol, clean, hold_s=0.05)
            )

    attacker = threading.Thread(target=attack, daemon=True)
    try:
        base = probe(url, broker, ingest)
        attacker.start()
        # The attacking station's client id is its own login, so it would knock its own
        # datalogger off: the others publish.
        sent = messages(stations[:-1], 2000)  # 8,000 messages, 16,000 readings
        for start in range(0, len(sent), 1000):  # in slices, so attacks interleave
            publish(broker, sent[start : start + 1000])
        wait_stored(url, base + len(expected(sent)), ingest)
        stop.set()
        attacker.join(15)
        assert len(attempts) >= 8 and all(attempts), attempts
        assert expected(sent) <= stored(url)
        assert count_readings(url) == base + len(expected(sent))
        assert ingest.stop() == 0
    finally:
        stop.set()
        ingest.ensure_stopped()
