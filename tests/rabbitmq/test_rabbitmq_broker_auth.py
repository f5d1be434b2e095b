"""Logins through `aqm broker-auth`, as the deployment's rabbitmq.conf configures them.

A real RabbitMQ node with ``rabbitmq_auth_backend_http`` asks a real ``aqm broker-auth``
process (on a free port, reading the definitions the node loads) about every login:
stations over MQTT with their login as client id, ingest over AMQP without one. What the
service answers decides the CONNACK; permissions stay the definitions'.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.ingest.conftest import wait_until
from tests.rabbitmq.conftest import (
    BrokerAuth,
    Station,
    flood,
    ingest_settings,
    ingest_url,
    publish_from,
    start_broker_auth,
    stop_broker_auth,
)
from tests.rabbitmq.test_rabbitmq_access import queued
from tests.rabbitmq_nodes import RabbitNode, password, write_definitions
from tests.reliability.station_traffic import expected, messages, stored


def refusals(auth: BrokerAuth) -> list[str]:
    return [line for line in auth.output().splitlines() if "refused login" in line]


async def test_stations_under_their_own_login_reach_the_database_through_ingest_over_amqp(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth, rabbit_db: str, start_ingest: Any
) -> None:
    earlier = len(refusals(broker_auth))
    # ingest's AMQP login goes through broker-auth too, without a client id
    await start_ingest(ingest_settings(rabbit_db, ingest_url(rabbit_auth)))
    sent = messages(["BN-01", "BN-02"], 10)
    stations = [Station(s, [rabbit_auth.mqtt_port], client_id=s) for s in ("BN-01", "BN-02")]
    acked = await asyncio.to_thread(publish_from, stations, sent)
    assert acked == len(sent)
    # the node is shared by the run: readings other tests left queued may be stored too
    await wait_until(lambda: expected(sent) <= stored(rabbit_db), 60, "every reading stored")
    assert refusals(broker_auth)[earlier:] == []


def test_a_wrong_password_is_refused_and_logged_without_it(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth
) -> None:
    earlier = len(refusals(broker_auth))
    wrong = Station("BN-03", [rabbit_auth.mqtt_port], client_id="BN-03")
    wrong.client.username_pw_set("BN-03", password("BN-02"))  # another station's password
    try:
        assert not wrong.connect(wait=5)
        assert wrong.refused
    finally:
        wrong.close()
    lines = refusals(broker_auth)[earlier:]
    assert lines and all("user 'BN-03'" in line and "wrong password" in line for line in lines)
    assert not any(password("BN-02") in line for line in refusals(broker_auth))


def test_an_empty_client_id_gets_one_generated_by_rabbitmq_and_is_refused(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth
) -> None:
    before, earlier = queued(rabbit_auth), len(refusals(broker_auth))
    anonymous_id = Station("BN-03", [rabbit_auth.mqtt_port], client_id="")
    try:
        assert not anonymous_id.connect(wait=5)
        assert anonymous_id.refused
    finally:
        anonymous_id.close()
    assert queued(rabbit_auth) == before
    ids = [
        found[1]
        for line in refusals(broker_auth)[earlier:]
        if "user 'BN-03'" in line and "not the login" in line
        for found in [re.search(r"client id '([^']*)'", line)]
        if found
    ]
    # RabbitMQ replaced the empty id before asking: a random one, not the login
    assert ids and all(i and i != "BN-03" for i in ids), ids


def test_open_connections_survive_a_broker_auth_outage_and_new_logins_wait_for_it(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth
) -> None:
    connected = Station("BN-01", [rabbit_auth.mqtt_port], client_id="BN-01")
    latecomer = Station("BN-02", [rabbit_auth.mqtt_port], client_id="BN-02")
    try:
        assert connected.connect(), connected.refused
        stop_broker_auth(broker_auth)
        during = messages(["BN-01"], 3)
        # publishing asks broker-auth nothing: each PUBACK is the quorum queue's confirm
        assert flood([connected], during) == 3
        assert connected.disconnects == 0
        assert not latecomer.connect(wait=5)  # a node that cannot ask refuses the login
        assert latecomer.refused
    finally:
        latecomer.close()
        restarted = start_broker_auth(broker_auth.definitions, broker_auth.log, broker_auth.port)
        broker_auth.process = restarted.process  # the session's service is back
    try:
        again = Station("BN-02", [rabbit_auth.mqtt_port], client_id="BN-02")
        assert again.connect(), again.refused
        again.close()
    finally:
        connected.close()


def test_a_station_added_after_boot_logs_in_once_its_permissions_are_imported(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth
) -> None:
    """broker-auth reads the new file at once; the node's permissions come from its import."""
    earlier = len(refusals(broker_auth))
    write_definitions(broker_auth.definitions, ("BN-01", "BN-02", "BN-03", "BN-04"))
    newcomer = Station("BN-04", [rabbit_auth.mqtt_port], client_id="BN-04")
    try:
        assert not newcomer.connect(wait=5)  # password accepted, no permission on the vhost
        assert newcomer.refused
    finally:
        newcomer.close()
    assert refusals(broker_auth)[earlier:] == []  # the node refused it, not broker-auth
    rabbit_auth.ctl("import_definitions", str(broker_auth.definitions))
    newcomer = Station("BN-04", [rabbit_auth.mqtt_port], client_id="BN-04")
    try:
        assert newcomer.connect(), newcomer.refused
        reading = messages(["BN-04"], 1)[0]
        assert newcomer.send(reading)
        newcomer.wait_settled(10)
        assert newcomer.acked == [reading]
    finally:
        newcomer.close()
