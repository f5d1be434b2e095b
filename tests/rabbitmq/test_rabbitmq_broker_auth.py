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
    start_broker_auth,
    stop_broker_auth,
)
from tests.rabbitmq.test_rabbitmq_access import queued
from tests.rabbitmq_nodes import RabbitNode, password
from tests.reliability.station_traffic import expected, messages, stored


def refusals(auth: BrokerAuth) -> list[str]:
    return [line for line in auth.output().splitlines() if "refused login" in line]


async def test_stations_under_their_own_login_reach_the_database_through_ingest_over_amqp(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth, rabbit_db: str, start_ingest: Any
) -> None:
    # ingest's AMQP login goes through broker-auth too, without a client id
    await start_ingest(ingest_settings(rabbit_db, ingest_url(rabbit_auth)))
    sent = messages(["BN-01", "BN-02"], 10)
    stations = [Station(s, [rabbit_auth.mqtt_port], client_id=s) for s in ("BN-01", "BN-02")]
    try:
        for s in stations:
            assert s.connect(), s.refused
        acked = await asyncio.to_thread(flood, stations, sent)
    finally:
        for s in stations:
            s.close()
    assert acked == len(sent)
    await wait_until(lambda: stored(rabbit_db) == expected(sent), 60, "every reading stored")
    assert not any("aqm-ingest" in line or "'BN-0" in line for line in refusals(broker_auth))


def test_a_wrong_password_is_refused_and_logged_without_it(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth
) -> None:
    wrong = Station("BN-03", [rabbit_auth.mqtt_port], client_id="BN-03")
    wrong.client.username_pw_set("BN-03", password("BN-02"))  # another station's password
    try:
        assert not wrong.connect(wait=5)
        assert wrong.refused
    finally:
        wrong.close()
    lines = [line for line in refusals(broker_auth) if "user 'BN-03'" in line]
    assert lines and all("wrong password" in line for line in lines), lines
    assert not any(password("BN-02") in line for line in refusals(broker_auth))


def test_an_empty_client_id_gets_one_generated_by_rabbitmq_and_is_refused(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth
) -> None:
    before = queued(rabbit_auth)
    anonymous_id = Station("BN-03", [rabbit_auth.mqtt_port], client_id="")
    try:
        assert not anonymous_id.connect(wait=5)
        assert anonymous_id.refused
    finally:
        anonymous_id.close()
    assert queued(rabbit_auth) == before
    ids = [
        found[1]
        for line in refusals(broker_auth)
        if "user 'BN-03'" in line and "not the login" in line
        for found in [re.search(r"client id '([^']*)'", line)]
        if found
    ]
    # RabbitMQ replaced the empty id before asking: a random one, not the login
    assert ids and all(i and i != "BN-03" for i in ids), ids


def test_open_connections_survive_a_broker_auth_outage_and_new_logins_wait_for_it(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth
) -> None:
    before = queued(rabbit_auth)
    connected = Station("BN-01", [rabbit_auth.mqtt_port], client_id="BN-01")
    latecomer = Station("BN-02", [rabbit_auth.mqtt_port], client_id="BN-02")
    try:
        assert connected.connect(), connected.refused
        stop_broker_auth(broker_auth)
        during = messages(["BN-01"], 3)
        assert flood([connected], during) == 3  # publishing asks broker-auth nothing
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
    assert queued(rabbit_auth) == before + 3
