"""Who may log in to a RabbitMQ broker, and under which MQTT client id.

RabbitMQ's HTTP authentication backend (``rabbitmq_auth_backend_http``) asks, for every
login, whether ``username`` with ``password`` may connect; an MQTT login also carries the
``client_id`` of the CONNECT packet, an AMQP 0-9-1 login none. The rule is the one the
Mosquitto deployment enforces (``use_username_as_clientid``): a station is its login, so
its MQTT client id is its login. Two connections can then share a client id only if they
share a login, and no station can close another's connection by taking its id (MQTT
3.1.1 §3.1.4: the server disconnects the existing client with the same id).

An empty client id never reaches this decision as such: for a clean session RabbitMQ
generates a random one before it authenticates (3.10 and 4.0, ``gen_client_id`` /
``ensure_client_id``), and refuses a persistent session without one (MQTT 3.1.1
§3.1.3.1). The generated id is indistinguishable from a chosen one, so it is refused like
any id that is not the login; a datalogger must send its station id as client id. An empty
``client_id`` parameter (another plugin's call) is refused too.

The password is checked first, so a client-id refusal names a holder of the password
(a misconfigured datalogger, or a station's credentials used against another).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stations.rabbitmq_definitions import rabbitmq_hash_matches


@dataclass(frozen=True)
class LoginDecision:
    """Whether a login may proceed, and why (never containing the password)."""

    allowed: bool
    reason: str


def decide_login(
    username: str, password: str, client_id: str | None, hashes: Mapping[str, str]
) -> LoginDecision:
    """Allow ``username`` if ``password`` matches its RabbitMQ hash and, for an MQTT login
    (``client_id`` given), the client id is the login itself.

    ``hashes`` maps each user of the definitions file to its ``password_hash``
    (RabbitMQ's salted SHA-256, :func:`stations.rabbitmq_definitions.rabbitmq_hash`).
    """
    stored = hashes.get(username)
    if stored is None:
        return LoginDecision(False, "unknown user")
    if not password or not rabbitmq_hash_matches(password, stored):
        return LoginDecision(False, "wrong password")
    if client_id is None:
        return LoginDecision(True, "password matches (no MQTT client id: AMQP login)")
    if client_id != username:
        return LoginDecision(False, "MQTT client id is not the login")
    return LoginDecision(True, "password matches and the MQTT client id is the login")
