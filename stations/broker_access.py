"""Who may use the broker: one Mosquitto user per active station, plus the ingest service.

Identity is enforced at the broker as well as in ingest: each station logs in with its
id as username and may publish only on its own readings topic (``TopicLayout`` in
``ingest.topics`` names it), so a compromised datalogger cannot speak for another
station. The ingest service user may only read the readings topics. Retired stations
and users the catalogue no longer names lose their entries.

A user's password comes from the secrets file when it lists the user (see
``broker_secrets``); otherwise an existing hash is kept (a datalogger in the field keeps
working), and a new user, or one named in ``rotate``, gets a fresh random password,
returned once in plain text for the field engineer and stored only as a hash.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aqm_core.errors import AqmError
from ingest.topics import TopicLayout
from stations.catalogue import Catalogue
from stations.mosquitto_passwords import hash_password, new_password, verify_password


@dataclass(frozen=True)
class ServiceUser:
    """A non-station broker user that reads every station's readings (the ingest service)."""

    username: str
    password: str | None = None  # None: from the secrets, the stored hash, or generated


@dataclass(frozen=True)
class BrokerAccess:
    """The password file entries and ACL text for a catalogue, and what changed."""

    password_entries: dict[str, str]  # username -> $7$ hash, in file order
    acl: str
    new_credentials: dict[str, str]  # username -> plain password (generated ones only)
    removed_users: tuple[str, ...]


class BrokerAccessError(AqmError, ValueError):
    """The catalogue and the requested users cannot be turned into broker access."""


def plan_broker_access(
    catalogue: Catalogue,
    topics: TopicLayout,
    existing: Mapping[str, str],
    service_users: Collection[ServiceUser] = (),
    rotate: Collection[str] = (),
    secrets: Mapping[str, str] = MappingProxyType({}),
) -> BrokerAccess:
    """Password entries and ACL for every active station and ``service_users``.

    ``existing`` is the current password file (``username -> hash``); ``rotate`` names
    users whose generated password must change; ``secrets`` gives plain passwords
    (``username -> password``) chosen outside aqm, which win over stored hashes.
    """
    active = catalogue.active()
    active_ids = {s.station_id for s in active}
    service_names = {u.username for u in service_users}
    for user in service_users:
        if catalogue.get(user.username) is not None:
            raise BrokerAccessError(
                f"service user {user.username!r} has the id of a station in {catalogue.path}"
            )
    unknown = sorted(set(rotate) - active_ids - service_names)
    if unknown:
        raise BrokerAccessError(
            f"cannot rotate {', '.join(unknown)}: not an active station in {catalogue.path}"
        )
    strangers = sorted(set(secrets) - active_ids - service_names)
    if strangers:
        raise BrokerAccessError(
            f"the secrets name {', '.join(strangers)}: neither an active station in "
            f"{catalogue.path} nor a service user"
        )
    fixed = {u.username: u.password for u in service_users if u.password is not None}
    fixed |= dict(secrets)
    clash = sorted(set(rotate) & set(fixed))
    if clash:
        raise BrokerAccessError(
            f"cannot rotate {', '.join(clash)}: the password is given (secrets file or "
            "AQM_MQTT_URL); change it there"
        )

    entries: dict[str, str] = {}
    new_credentials: dict[str, str] = {}
    users = [u.username for u in sorted(service_users, key=lambda u: u.username)]
    users += [s.station_id for s in active]
    for username in users:
        kept = existing.get(username)
        password = fixed.get(username)
        if password is not None:
            # Re-hashing an unchanged password would rewrite the file on every run.
            entries[username] = (
                kept if kept and verify_password(password, kept) else hash_password(password)
            )
        elif kept and username not in rotate:
            entries[username] = kept
        else:
            password = new_password()
            entries[username] = hash_password(password)
            new_credentials[username] = password

    removed = tuple(sorted(set(existing) - set(entries)))
    return BrokerAccess(entries, acl_text(catalogue, topics, service_users), new_credentials,
                        removed)


def acl_text(
    catalogue: Catalogue, topics: TopicLayout, service_users: Collection[ServiceUser] = ()
) -> str:
    """A Mosquitto ``acl_file``: anything not granted here is denied."""
    lines = [
        f"# Mosquitto ACL for the stations in {catalogue.path}.",
        "# Written by `aqm stations credentials`; edits are lost on the next run.",
        "# A station may publish only on its own readings topic; services only read.",
    ]
    for user in sorted(service_users, key=lambda u: u.username):
        lines += ["", f"user {user.username}", f"topic read {topics.subscription()}"]
    for station in catalogue.active():
        lines += ["", f"# {station.name}", f"user {station.station_id}",
                  f"topic write {topics.readings(station.station_id)}"]
    return "\n".join(lines) + "\n"
