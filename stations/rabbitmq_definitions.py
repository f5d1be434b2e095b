"""Who may use a RabbitMQ broker, as a definitions file RabbitMQ imports at boot.

The same access as Mosquitto's ACL (``broker_access``), in RabbitMQ's terms. Stations
publish MQTT; RabbitMQ's MQTT plugin turns each publish into one on the ``amq.topic``
exchange whose routing key is the topic with ``/`` as ``.``. So:

- every active station is a user that may write to ``amq.topic`` only, and whose
  *topic permission* on ``amq.topic`` lets it write only its own readings routing key;
  it may configure and read nothing (it cannot subscribe, nor declare a queue);
- every ingest user may consume the readings queue, and nothing else;
- the readings queue is declared here, durable and quorum-replicated, and bound to every
  station's readings routing key, so a reading published before ingest ever started is
  kept: a message that reaches no queue would be confirmed and dropped;
- a policy sets the readings queue's delivery limit and dead-letters what exceeds it
  into a second quorum queue, ``<queue>.dead-letter``, where an operator finds it. From
  RabbitMQ 4.0 on a quorum queue drops a message after 20 redeliveries unless told
  otherwise; ingest redelivers only when it loses its channel (a crash, a restart), so
  a crash loop while the database is away could otherwise drop acknowledged readings.

Passwords are stored as RabbitMQ's salted SHA-256 hashes. Mosquitto's hashes cannot be
converted, so a user's RabbitMQ hash comes from a password known to this run (the secrets
file, AQM_MQTT_URL, or one just generated), or is kept from the previous file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from aqm_core.errors import AqmError
from ingest.topics import TopicLayout, amqp_routing_key

HASHING = "rabbit_password_hashing_sha256"
VHOST = "/"
TOPIC_EXCHANGE = "amq.topic"
DEAD_LETTER_EXCHANGE = "amq.direct"
# RabbitMQ 4.0's default, stated so that 3.x (no default: unlimited) behaves the same.
DELIVERY_LIMIT = 20


def dead_letter_queue(queue: str) -> str:
    """Where messages redelivered more than DELIVERY_LIMIT times are kept."""
    return f"{queue}.dead-letter"


def readings_policy(queue: str) -> dict[str, Any]:
    """The policy of the readings queue: its delivery limit, and dead-lettering past it.

    At-least-once dead-lettering (RabbitMQ 3.10 and later) keeps a dead-lettered message
    in the source queue until the dead-letter queue confirmed it; it needs the
    ``reject-publish`` overflow, which without a length limit never refuses anything.
    """
    return {
        "vhost": VHOST,
        "name": f"{queue}-delivery-limit",
        "pattern": f"^{re.escape(queue)}$",
        "apply-to": "queues",
        "priority": 0,
        "definition": {
            "delivery-limit": DELIVERY_LIMIT,
            "dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "dead-letter-routing-key": dead_letter_queue(queue),
            "dead-letter-strategy": "at-least-once",
            "overflow": "reject-publish",
        },
    }


class DefinitionsFileError(AqmError, ValueError):
    """An existing definitions file cannot be read."""


def rabbitmq_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``password_hash``: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = os.urandom(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def rabbitmq_hash_matches(password: str, stored: str) -> bool:
    try:
        raw = base64.b64decode(stored, validate=True)
    except ValueError:
        return False
    return len(raw) == 36 and hmac.compare_digest(rabbitmq_hash(password, raw[:4]), stored)


def read_hashes(path: Path) -> dict[str, str]:
    """``user -> password_hash`` of a definitions file written before (none: empty)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DefinitionsFileError(f"{path}: not a RabbitMQ definitions file ({exc})") from exc
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, list):
        raise DefinitionsFileError(f"{path}: not a RabbitMQ definitions file (no users list)")
    return {
        u["name"]: u["password_hash"]
        for u in users
        if isinstance(u, dict)
        and isinstance(u.get("name"), str)
        and isinstance(u.get("password_hash"), str)
    }


def user_hashes(
    users: Collection[str], passwords: Mapping[str, str], existing: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Hashes for ``users``, and the users for whom no password is known."""
    hashes: dict[str, str] = {}
    unknown: list[str] = []
    for user in users:
        kept, password = existing.get(user), passwords.get(user)
        if password is not None:
            same = kept is not None and rabbitmq_hash_matches(password, kept)
            hashes[user] = kept if same and kept is not None else rabbitmq_hash(password)
        elif kept is not None:
            hashes[user] = kept
        else:
            unknown.append(user)
    return hashes, unknown


def definitions(
    stations: Collection[str],
    ingest_users: Collection[str],
    hashes: Mapping[str, str],
    topics: TopicLayout,
    queue: str,
) -> dict[str, Any]:
    """The definitions document: users, permissions, topic permissions, queue, binding."""
    users: list[dict[str, Any]] = []
    permissions: list[dict[str, str]] = []
    topic_permissions: list[dict[str, str]] = []
    queue_only = f"^{re.escape(queue)}$"
    for user in ingest_users:
        if user not in hashes:
            continue
        users.append(_user(user, hashes[user]))
        # consuming needs read on the queue; declaring and binding it (idempotent) needs
        # configure on it, write on it and read on the exchange
        queue_or_exchange = f"^({re.escape(queue)}|{re.escape(TOPIC_EXCHANGE)})$"
        permissions.append(_permission(user, queue_only, queue_only, queue_or_exchange))
    for station in stations:
        if station not in hashes:
            continue
        users.append(_user(station, hashes[station]))
        permissions.append(_permission(station, "^$", f"^{re.escape(TOPIC_EXCHANGE)}$", "^$"))
        topic_permissions.append(
            {
                "user": station,
                "vhost": VHOST,
                "exchange": TOPIC_EXCHANGE,
                "write": f"^{re.escape(amqp_routing_key(topics.readings(station)))}$",
                "read": "^$",
            }
        )
    return {
        "users": users,
        "vhosts": [{"name": VHOST}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "queues": [
            {
                "name": name,
                "vhost": VHOST,
                "durable": True,
                "auto_delete": False,
                "arguments": {"x-queue-type": "quorum"},
            }
            for name in (queue, dead_letter_queue(queue))
        ],
        "policies": [readings_policy(queue)],
        "bindings": [
            {
                "source": TOPIC_EXCHANGE,
                "vhost": VHOST,
                "destination": queue,
                "destination_type": "queue",
                "routing_key": amqp_routing_key(topics.subscription()),
                "arguments": {},
            },
            {
                "source": DEAD_LETTER_EXCHANGE,
                "vhost": VHOST,
                "destination": dead_letter_queue(queue),
                "destination_type": "queue",
                "routing_key": dead_letter_queue(queue),
                "arguments": {},
            },
        ],
    }


def publisher(
    document: dict[str, Any], user: str, password_hash: str, topics: TopicLayout
) -> dict[str, Any]:
    """Add to ``document`` a user that may publish every station's readings, and nothing else.

    For a broker of one's own (the station simulator of ``make run``), where one login
    plays all stations; a deployment gives each station its own (:func:`definitions`).
    """
    head = re.escape(amqp_routing_key(topics.prefix))
    document["users"].append(_user(user, password_hash))
    document["permissions"].append(
        _permission(user, "^$", f"^{re.escape(TOPIC_EXCHANGE)}$", "^$")
    )
    document["topic_permissions"].append(
        {
            "user": user,
            "vhost": VHOST,
            "exchange": TOPIC_EXCHANGE,
            "write": rf"^{head}\.[^.]+\.readings$",
            "read": "^$",
        }
    )
    return document


def _user(name: str, password_hash: str) -> dict[str, Any]:
    return {"name": name, "password_hash": password_hash, "hashing_algorithm": HASHING, "tags": []}


def _permission(user: str, configure: str, write: str, read: str) -> dict[str, str]:
    return {"user": user, "vhost": VHOST, "configure": configure, "write": write, "read": read}
