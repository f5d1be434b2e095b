"""Nobody gets in who should not: the broker refuses forged identities, and each database
role can do only its job.

The broker files come from the stations room's credentials writer
(``stations.broker_access``), loaded into a real Mosquitto. The database checks run
against the migrated schema as each role.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.localservices import MosquittoInstance, PostgresInstance, free_port
from ingest.topics import TopicLayout
from stations.broker_access import BrokerAccess, ServiceUser, plan_broker_access
from stations.catalogue import load_catalogue
from stations.mosquitto_passwords import write_atomically, write_password_file

pytestmark = pytest.mark.services

CATALOGUE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"
TOPICS = TopicLayout("aqm/v1/stations")
INGEST = ServiceUser("aqm-ingest", "ingest password chosen by a person")


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[MosquittoInstance, BrokerAccess]]:
    tmp = tmp_path_factory.mktemp("secured-broker")
    access = plan_broker_access(load_catalogue(CATALOGUE), TOPICS, {}, [INGEST])
    write_password_file(tmp / "passwords", access.password_entries, "test")
    write_atomically(tmp / "acl", access.acl)
    broker = MosquittoInstance(tmp / "mosquitto", free_port(), tmp / "passwords", tmp / "acl")
    broker.start()
    try:
        yield broker, access
    finally:
        broker.stop()


def session(
    port: int, username: str | None, password: str | None, subscribe: str | None = None
) -> tuple[mqtt.Client, bool, queue.Queue[bytes]]:
    """Connect (and subscribe); returns the client, whether it was refused, its inbox."""
    answered = threading.Event()
    refused: list[bool] = []
    inbox: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, reconnect_on_failure=False
    )
    if username is not None:
        client.username_pw_set(username, password)

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        refused.append(bool(getattr(reason, "is_failure", False)))
        if subscribe and not refused[0]:
            c.subscribe(subscribe, qos=1)
        else:
            answered.set()

    client.on_connect = on_connect
    client.on_subscribe = lambda *_a: answered.set()

    def on_disconnect(*_args: object) -> None:
        refused.append(True)
        answered.set()

    client.on_disconnect = on_disconnect
    client.on_message = lambda _c, _u, msg: inbox.put(bytes(msg.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert answered.wait(10), f"no answer for {username}"
    return client, refused[0], inbox


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def test_broker_refuses_anonymous_wrong_passwords_and_foreign_topics(
    secured: tuple[MosquittoInstance, BrokerAccess],
) -> None:
    broker, access = secured
    creds = access.new_credentials
    stations = list(creds)
    own, other = stations[0], stations[1]
    for username, password in [
        (None, None),
        (own, "wrong"),
        (own, creds[other]),
        (own, ""),
        ("' OR 1=1 --", "x"),
        (INGEST.username, "guess"),
    ]:
        client, refused, _ = session(broker.port, username, password)
        close(client)
        assert refused, f"{username!r}/{password!r} was let in"

    ingest, refused, inbox = session(
        broker.port, INGEST.username, INGEST.password, TOPICS.subscription()
    )
    assert not refused
    station, refused, _ = session(broker.port, own, creds[own])
    assert not refused
    try:
        for topic, body in [
            (TOPICS.readings(other), b"forged"),  # another station
            ("aqm/v1/stations", b"prefix"),  # outside its grant
            (f"aqm/v1/stations/{own}/readings/extra", b"deeper"),
            (TOPICS.readings(own), b"genuine"),
        ]:
            station.publish(topic, body, qos=1).wait_for_publish(5)
        got = [inbox.get(timeout=10)]
        time.sleep(0.5)
        while not inbox.empty():
            got.append(inbox.get_nowait())
        assert got == [b"genuine"], got
        # the ingest user may only read: a forged reading in its name goes nowhere
        ingest.publish(TOPICS.readings(own), b"from ingest", qos=1).wait_for_publish(5)
        time.sleep(0.5)
        assert inbox.empty()
    finally:
        close(station)
        close(ingest)


# -- database roles -------------------------------------------------------------------

READER_DENIED = [
    "INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,"
    " source_format, received_at) VALUES ('BN-01','pm25',now(),1,1,'u','aqm_json',now())",
    "UPDATE readings SET value = 0",
    "DELETE FROM aqi_daily",
    "TRUNCATE hourly",
    "UPDATE stations SET status = 'retired'",
    "INSERT INTO aqi_dirty_hours (station_id, hour) VALUES ('BN-01', now())",
    "SELECT payload FROM rejected_messages",
    "SELECT * FROM rejected_messages",
    "SELECT payload_digest FROM rejected_messages",
    "SELECT payload FROM rejected_payloads",
    "SELECT payload FROM rejected_messages_with_payload",
    "DROP TABLE readings",
    "ALTER TABLE readings ADD COLUMN x int",
    "CREATE TABLE public.mine (x int)",
]
INGEST_DENIED = [
    "DROP TABLE readings",
    "ALTER TABLE readings DROP COLUMN value",
    "ALTER TABLE stations ADD COLUMN x int",
    "TRUNCATE readings",
    "TRUNCATE rejected_messages",
    "DELETE FROM readings",
    "DELETE FROM rejected_messages",
    "DELETE FROM aqi_dirty_hours",
    "UPDATE readings SET value = 0",
    "UPDATE stations SET status = 'retired'",
    "UPDATE rejected_messages SET reason = ''",
    "INSERT INTO stations (station_id, name, latitude, longitude, station_type)"
    " VALUES ('EVIL', 'x', 0, 0, 'mobile')",
    "SELECT value FROM readings",
    "SELECT * FROM readings",
    "SELECT payload FROM rejected_messages",
    "SELECT payload FROM rejected_payloads",
    "SELECT * FROM rejected_messages_with_payload",
    "DELETE FROM rejected_payloads",
    "UPDATE rejected_payloads SET payload = ''",
    "SELECT * FROM aqi_daily",
    "INSERT INTO aqi_daily (station_id, standard, day, method_version)"
    " VALUES ('BN-01', 'vn_1459_2019', '2025-01-01', 'x')",
    "CREATE TABLE public.mine (x int)",
    "DROP SCHEMA public CASCADE",
]


def denied(url: str, sql: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(sql)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


@pytest.mark.parametrize("sql", READER_DENIED)
def test_grafana_reader_role_cannot_write_or_read_payloads(
    clean_db: str, postgres: PostgresInstance, sql: str
) -> None:
    assert denied(postgres.url(user="aqm_reader"), sql), sql


@pytest.mark.parametrize("sql", INGEST_DENIED)
def test_ingest_role_cannot_change_the_schema_or_rewrite_history(
    clean_db: str, postgres: PostgresInstance, sql: str
) -> None:
    assert denied(postgres.url(user="aqm_ingest"), sql), sql


def test_roles_can_still_do_their_jobs(clean_db: str, postgres: PostgresInstance) -> None:
    """The refusals above are not an everything-refused artefact."""
    with psycopg.connect(clean_db, autocommit=True) as conn:  # readings need their station
        conn.execute(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type)"
            " VALUES ('BN-01', 'Trạm 1', 21.18, 106.07, 'fixed_automatic')"
        )
    with psycopg.connect(postgres.url(user="aqm_reader")) as conn:
        conn.execute("SELECT station_id, parameter, ts, value FROM readings LIMIT 1")
        conn.execute("SELECT id, reason_code, reason, topic FROM rejected_messages LIMIT 1")
        conn.execute("SELECT * FROM aqi_daily LIMIT 1")
    with psycopg.connect(postgres.url(user="aqm_ingest"), autocommit=True) as conn:
        conn.execute("SELECT station_id, status FROM stations")
        conn.execute(
            "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
            " original_unit, source_format, received_at)"
            " VALUES ('BN-01', 'pm25', now(), 1, 1, 'µg/m³', 'aqm_json', now())"
        )
        conn.execute("INSERT INTO aqi_dirty_hours (station_id, hour) VALUES ('BN-01', now())")


def _conflict_call(url: str, keys: list[tuple[str, str, str]], values: list[float]) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT * FROM ingest_conflicting_readings(%s, %s, %s::timestamptz[], %s, %s)",
            (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                values,
                ["00"] * len(keys),
            ),
        ).fetchall()
    assert all(len(r) == 1 for r in rows)  # positions only, never a stored value
    return [int(r[0]) for r in rows]


def test_ingest_cannot_recover_a_stored_value_through_the_conflict_function(
    clean_db: str, postgres: PostgresInstance
) -> None:
    """20,001 candidate values for one key, in one call, recovered a stored 37.4."""
    with psycopg.connect(clean_db, autocommit=True) as conn:  # readings need their station
        conn.execute(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type)"
            " VALUES ('BN-01', 'Trạm 1', 21.18, 106.07, 'fixed_automatic')"
        )
        conn.execute(
            "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
            " original_unit, source_format, received_at) VALUES ('BN-01', 'pm25',"
            " '2025-03-01T00:00:00Z', 37.4, 37.4, 'µg/m³', 'aqm_json', now())"
        )
    ingest = postgres.url(user="aqm_ingest")
    key = ("BN-01", "pm25", "2025-03-01T00:00:00Z")
    guesses = [round(0.1 * i, 1) for i in range(20_001)]
    with pytest.raises(psycopg.Error, match="at most"):  # many candidates of one key
        _conflict_call(ingest, [key] * len(guesses), guesses)
    with pytest.raises(psycopg.Error, match="each reading key at most once"):  # even two
        _conflict_call(ingest, [key, key], [37.4, 1.0])
    distinct = [("BN-01", "pm25", f"2025-03-02 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}+00")
                for i in range(10_001)]  # fmt: skip
    with pytest.raises(psycopg.Error, match="at most 10000"):  # beyond the bound: refused
        _conflict_call(ingest, distinct, [1.0] * len(distinct))
    # the writer's own call still works: one candidate per key, positions of those that differ
    assert _conflict_call(ingest, [key], [37.4]) == []
    assert _conflict_call(ingest, [key, ("BN-01", "pm10", key[2])], [12.0, 1.0]) == [1]
