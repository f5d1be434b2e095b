"""The QoS a station published with, read from what RabbitMQ's MQTT plugin hands over AMQP.

RabbitMQ 3.10–3.12 (Debian 12 ships 3.10) set an ``x-mqtt-publish-qos`` header; 3.13
and later (Debian 13 ships 4.0) convert MQTT to AMQP 0-9-1 without it. Both map QoS 1
to delivery mode 2 (persistent) and QoS 0 to delivery mode 1 (AMQP 0-9-1 §1.8,
``delivery-mode``: 1 non-persistent, 2 persistent).
"""

from __future__ import annotations

from ingest.amqp_input import mqtt_qos


def test_the_header_of_rabbitmq_before_3_13_is_read() -> None:
    assert mqtt_qos({"x-mqtt-publish-qos": 0, "x-mqtt-dup": False}, 1) == 0
    assert mqtt_qos({"x-mqtt-publish-qos": 1, "x-mqtt-dup": False}, 2) == 1


def test_without_the_header_the_delivery_mode_tells_the_qos() -> None:
    assert mqtt_qos(None, 1) == 0
    assert mqtt_qos({}, 1) == 0
    assert mqtt_qos(None, 2) == 1


def test_a_message_with_neither_counts_as_queued() -> None:
    assert mqtt_qos(None, None) == 1
    assert mqtt_qos({"x-mqtt-publish-qos": "0"}, None) == 1  # not an MQTT plugin header
    assert mqtt_qos({"x-mqtt-publish-qos": True}, 2) == 1
