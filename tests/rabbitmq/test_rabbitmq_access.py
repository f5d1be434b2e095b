"""Who may do what on RabbitMQ, with the definitions `aqm stations credentials` writes.

A station may publish only its own readings; a login is required; and, with logins
checked by `aqm broker-auth` as the deployment configures it (provisioning/rabbitmq/
rabbitmq.conf), a station's MQTT client id is its login: taking another station's client
id is refused at CONNECT, and the other station's connection stays up.

Without `aqm broker-auth` RabbitMQ does not tie a client id to a user: a station that
logs in as itself may take another's client id, and the older connection is closed
("duplicate id"). The last test pins what that variant allows: the taker gains no
permission by it, since permissions follow the user, not the client id.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.rabbitmq.conftest import BrokerAuth, Station
from tests.rabbitmq.test_rabbitmq_ingest import queue_state
from tests.rabbitmq_nodes import RabbitNode, password, rabbitmq_version
from tests.reliability.station_traffic import messages


def queued(node: RabbitNode) -> int:
    state = queue_state(node)
    return int(state["ready"]) + int(state["unacked"])


def queued_soon(node: RabbitNode, count: int, timeout: float = 20) -> int:
    """The queue's length once it is ``count`` or ``timeout`` passed (its statistics lag)."""
    deadline = time.monotonic() + timeout
    while (now := queued(node)) != count and time.monotonic() < deadline:
        time.sleep(0.5)
    return now


def test_a_station_cannot_publish_on_another_stations_topic(rabbit_auth: RabbitNode) -> None:
    rabbit = rabbit_auth
    before = queued(rabbit)
    forged = messages(["BN-01"], 1)[0]  # BN-01's reading, sent by BN-02's login
    intruder = Station("BN-02", [rabbit.mqtt_port])
    try:
        assert intruder.connect(), intruder.refused
        assert intruder.send(forged)
        intruder.wait_settled(10)
        assert intruder.acked == []  # no PUBACK: RabbitMQ closes the connection instead
        assert intruder.disconnects >= 1
    finally:
        intruder.close()
    assert queued(rabbit) == before


def test_a_login_is_required(rabbit_auth: RabbitNode) -> None:
    rabbit = rabbit_auth
    anonymous = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="nobody", protocol=mqtt.MQTTv311)
    anonymous.connect("127.0.0.1", rabbit.mqtt_port)
    anonymous.loop_start()
    try:
        time.sleep(2)
        assert not anonymous.is_connected()
    finally:
        anonymous.loop_stop()
    wrong = Station("BN-01", [rabbit.mqtt_port], user="BN-01")
    wrong.client.username_pw_set("BN-01", "not-the-password")
    try:
        assert not wrong.connect(wait=3)
        assert wrong.refused  # "Bad user name or password" / "Not authorized"
    finally:
        wrong.close()


def test_taking_another_stations_client_id_is_refused_and_the_victim_stays_connected(
    rabbit_auth: RabbitNode, broker_auth: BrokerAuth
) -> None:
    rabbit = rabbit_auth
    before = queued(rabbit)
    victim = Station("BN-01", [rabbit.mqtt_port], client_id="BN-01")
    taker = Station("BN-02", [rabbit.mqtt_port], client_id="BN-01")
    try:
        assert victim.connect(), victim.refused
        assert not taker.connect(wait=5)  # BN-02's password is right; the client id is not
        assert taker.refused, "the taker was neither connected nor refused"
        time.sleep(1)  # a takeover closes the older connection at once: give it time to show
        assert victim.disconnects == 0 and victim.connected.is_set()
        own = messages(["BN-01"], 1)[0]
        assert victim.send(own)
        victim.wait_settled(10)
        assert victim.acked == [own]  # still connected, and its readings still accepted
    finally:
        taker.close()
        victim.close()
    assert queued_soon(rabbit, before + 1) == before + 1
    refusals = [line for line in broker_auth.output().splitlines() if "refused login" in line]
    assert any(
        "user 'BN-02'" in line and "client id 'BN-01'" in line and "not the login" in line
        for line in refusals
    ), refusals
    assert not any(password("BN-02") in line for line in refusals)


def test_without_broker_auth_a_client_id_can_be_taken_but_grants_nothing(
    rabbit: RabbitNode,
) -> None:
    before = queued(rabbit)
    victim = Station("BN-01", [rabbit.mqtt_port], client_id="BN-01-logger")
    taker = Station("BN-02", [rabbit.mqtt_port], client_id="BN-01-logger")
    try:
        assert victim.connect(), victim.refused
        assert taker.connect(), taker.refused
        deadline = time.monotonic() + 10
        while victim.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert victim.disconnects >= 1  # what RabbitMQ alone enforces: one connection per id
        victim.close()  # end the tug of war: each would take the id back in turn
        # Under the victim's client id, the taker is still BN-02: BN-01's topic is refused.
        forged = messages(["BN-01"], 1)[0]
        deadline = time.monotonic() + 10
        while not taker.send(forged):
            assert time.monotonic() < deadline, "the taker never got a connection"
            time.sleep(0.05)
        taker.wait_settled(10)
        assert taker.acked == []
    finally:
        taker.close()
        victim.close()
    assert queued(rabbit) == before


def test_mqtt_5_is_spoken_from_rabbitmq_3_13_on_and_refused_before(rabbit: RabbitNode) -> None:
    """Debian 12's RabbitMQ 3.10 speaks MQTT 3.1.1 and 3.1 only; 3.13 added MQTT 5 (Debian
    13 ships 4.0). Stations publishing to a 3.10 cluster must use 3.1.1."""
    refused: list[str] = []
    connected = threading.Event()

    def on_connect(c: mqtt.Client, u: object, f: object, reason: Any, p: object) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        else:
            connected.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="BN-01-v5", protocol=mqtt.MQTTv5)
    client.username_pw_set("BN-01", password("BN-01"))
    client.on_connect = on_connect
    client.connect_async("127.0.0.1", rabbit.mqtt_port)
    client.loop_start()
    try:
        connected.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    if rabbitmq_version() >= (3, 13, 0):
        assert connected.is_set(), refused
    else:
        assert not connected.is_set()
