"""Who may do what on RabbitMQ, with the definitions `aqm stations credentials` writes.

A station may publish only its own readings; a login is required. RabbitMQ (3.10 at
least) does not tie an MQTT client id to a user: a station that logs in as itself may
take another station's client id, and the older connection is closed ("duplicate id").
What the tests pin down is that the taker gains nothing by it: permissions follow the
user, not the client id, so it still cannot publish on the other station's topic.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.rabbitmq.conftest import Station
from tests.rabbitmq.test_rabbitmq_ingest import queue_state
from tests.rabbitmq_nodes import RabbitNode, password, rabbitmq_version
from tests.reliability.station_traffic import messages


def queued(node: RabbitNode) -> int:
    state = queue_state(node)
    return int(state["ready"]) + int(state["unacked"])


def test_a_station_cannot_publish_on_another_stations_topic(rabbit: RabbitNode) -> None:
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


def test_a_login_is_required(rabbit: RabbitNode) -> None:
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


def test_taking_another_stations_client_id_disconnects_it_but_grants_nothing(
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
        assert victim.disconnects >= 1  # what RabbitMQ enforces: one connection per id
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
