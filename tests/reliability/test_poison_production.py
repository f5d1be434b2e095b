"""A poison message on the production set-up: one station's 80-byte message, then
2,400 readings of the other stations, all stored.

The broker runs with the password file and ACL that ``stations.broker_access`` writes
for the example catalogue; each station publishes with its own credentials on its own
topic, one observation per message in all three formats; ``aqm ingest`` runs as a real
process, logged in as its broker user and writing as ``aqm_ingest``. Before the fix the
not_finite reason quoting a lone surrogate killed the write task (health stayed 200),
the next message made the process exit 1, and the broker redelivered the poison to
every restart: 0 of 2,400 later readings were stored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.localservices import MosquittoInstance, free_port
from ingest.topics import TopicLayout
from stations.broker_access import BrokerAccess, ServiceUser, plan_broker_access
from stations.catalogue import load_catalogue
from stations.mosquitto_passwords import write_atomically, write_password_file

from .conftest import FaultLab
from .convergence import count
from .ingest_process import IngestProcess, counters

pytestmark = [pytest.mark.services, pytest.mark.slow]

CATALOGUE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"
TOPICS = TopicLayout("aqm/v1/stations")
INGEST = ServiceUser("aqm-ingest", "ingest-password-chosen-by-a-person")
N_READINGS = 2400


@pytest.fixture(scope="module")
def production_broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[MosquittoInstance, BrokerAccess]]:
    tmp = tmp_path_factory.mktemp("production-broker")
    access = plan_broker_access(load_catalogue(CATALOGUE), TOPICS, {}, [INGEST])
    write_password_file(tmp / "passwords", access.password_entries, "test")
    write_atomically(tmp / "acl", access.acl)
    broker = MosquittoInstance(tmp / "mosquitto", free_port(), tmp / "passwords", tmp / "acl")
    broker.start()
    try:
        yield broker, access
    finally:
        broker.stop()


class Station:
    """A station's datalogger: its own credentials, its own topic, QoS 1."""

    def __init__(self, port: int, station: str, password: str) -> None:
        self.station = station
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{station}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )  # fmt: skip
        self.client.username_pw_set(station, password)
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.sent: list[mqtt.MQTTMessageInfo] = []

    def publish(self, payload: bytes) -> None:
        self.sent.append(self.client.publish(TOPICS.readings(self.station), payload, qos=1))

    def close(self) -> None:
        for info in self.sent:
            info.wait_for_publish(60)
        self.client.disconnect()
        self.client.loop_stop()


def one_observation(station: str, fmt: int, ts: datetime, value: float) -> bytes:
    """One PM2.5 observation in aqm JSON, Circular 10/2021 text or SenML."""
    if fmt == 0:
        return json.dumps(
            {"station": station, "ts": ts.isoformat(), "values": {"pm25": value}}
        ).encode()
    if fmt == 1:
        local = ts.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        return f"PM-2-5\t{value}\tug/m3\t{local:%Y%m%d%H%M%S}\t00\r\n".encode()
    record = {"bn": f"urn:aqm:station:{station}:", "bt": ts.timestamp(), "n": "pm25",
              "u": "ug/m3", "v": value}  # fmt: skip
    return json.dumps([record]).encode()


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.timeout(300)
def test_one_poison_message_then_2400_readings_of_other_stations_all_stored(
    fault_lab: FaultLab,
    production_broker: tuple[MosquittoInstance, BrokerAccess],
    tmp_path: Path,
) -> None:
    broker, access = production_broker
    creds = access.new_credentials
    stations = sorted(s for s in creds if s != INGEST.username)
    poisoner, others = stations[0], stations[1:]
    db = fault_lab.new_database(stations)
    ingest = IngestProcess(
        fault_lab.url(db, "aqm_ingest"),
        broker.url(INGEST.username, INGEST.password),
        INGEST.username,  # the broker user is the client id
        tmp_path / "ingest.log",
    )
    url = fault_lab.url(db)
    senders = {s: Station(broker.port, s, creds[s]) for s in stations}
    try:
        ingest.wait_healthy()
        start = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
        deadline = time.monotonic() + 30
        while count(url, "SELECT count(*) FROM readings") < 1:  # then ingest is subscribed
            assert time.monotonic() < deadline, ingest.log.read_text()[-2000:]
            senders[others[0]].publish(
                one_observation(others[0], 0, start - timedelta(hours=1), 1.0)
            )
            time.sleep(0.3)
        ts = (datetime.now(UTC) - timedelta(minutes=10)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        when = ts.isoformat(timespec="seconds")
        poison = f'{{"station":"{poisoner}","ts":"{when}","values":{{"\\ud800":null,"pm25":12.5}}}}'.encode()
        assert len(poison) <= 100
        senders[poisoner].publish(poison)
        for i in range(N_READINGS):
            station = others[i % len(others)]
            at = start + timedelta(minutes=5 * (i // len(others)))
            senders[station].publish(one_observation(station, i % 3, at, 10.0 + i % 40))
        deadline = time.monotonic() + 120
        expected = 1 + 1 + N_READINGS  # probe, the poison's pm25, the others
        while (stored := count(url, "SELECT count(*) FROM readings")) < expected:
            assert ingest.proc is not None and ingest.proc.poll() is None, (
                "ingest exited: " + ingest.log.read_text()[-2000:]
            )
            assert time.monotonic() < deadline, (
                f"{stored} of {expected} readings stored; by station"
                f" {_rows(url, 'SELECT station_id, count(*) FROM readings GROUP BY 1')}; rejects"
                f" {_rows(url, 'SELECT station_id, reason_code, min(reason), count(*) FROM rejected_messages GROUP BY 1, 2')};"
                f" ingest {counters(ingest.metrics())}"
            )
            time.sleep(0.2)
        time.sleep(0.5)
        assert count(url, "SELECT count(*) FROM readings") == expected
        with psycopg.connect(url) as conn:
            rejects = conn.execute(
                "SELECT station_id, reason_code, reason, payload FROM rejected_messages_with_payload"
            ).fetchall()
        assert [(r[0], r[1], bytes(r[3])) for r in rejects] == [(poisoner, "not_finite", poison)]
        assert "\\ud800" in rejects[0][2]
        assert ingest.healthy()
        c = counters(ingest.metrics())
        assert c["received"] == c["stored"] + c["duplicate"] + c["rejected"], c
        assert c["stored"] == expected, c
        assert ingest.stop() == 0
    finally:
        for sender in senders.values():
            sender.close()
        ingest.ensure_stopped()
