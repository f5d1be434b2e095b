"""The topic layout, in one place: ``<prefix>/<station_id>/readings``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_STATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class TopicLayout:
    prefix: str = "aqm/v1/stations"

    def readings(self, station_id: str) -> str:
        return f"{self.prefix}/{station_id}/readings"

    def subscription(self, shared_group: str | None = None) -> str:
        topic = f"{self.prefix}/+/readings"
        return f"$share/{shared_group}/{topic}" if shared_group else topic

    def station_of(self, topic: str) -> str | None:
        """The station id a readings topic names, or None if the topic is not one."""
        head = self.prefix + "/"
        if not topic.startswith(head) or not topic.endswith("/readings"):
            return None
        station = topic[len(head) : -len("/readings")]
        return station if _STATION_ID.match(station) else None


def amqp_routing_key(topic: str) -> str:
    """The routing key RabbitMQ's MQTT plugin gives a topic or filter: "/" and "." swap."""
    return topic.translate(_SWAP).replace("+", "*")


def topic_of_routing_key(key: str) -> str:
    return key.translate(_SWAP)


_SWAP = str.maketrans("./", "/.")
