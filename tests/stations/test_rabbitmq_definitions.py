"""`aqm stations credentials` writes the RabbitMQ definitions beside Mosquitto's files.

That RabbitMQ accepts these hashes and enforces these permissions is tested on real
nodes in tests/rabbitmq/ (their users come from the same ``definitions``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from aqm.cli import main
from stations.rabbitmq_definitions import rabbitmq_hash_matches
from tests.stations.test_cli import ACTIVE, EXAMPLE, generated


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AQM_CONFIG", "")
    monkeypatch.setenv("AQM_STATIONS_FILE", str(EXAMPLE))
    monkeypatch.setenv("AQM_MQTT_URL", "mqtt://aqm-ingest:ingest%20pw@127.0.0.1:1883")


def test_the_hash_is_rabbitmqs_salted_sha256() -> None:
    # RabbitMQ's rabbit_password_hashing_sha256: base64(salt ‖ SHA-256(salt ‖ password))
    salt = b"\x90\x8d\xc6\x0a"
    stored = base64.b64encode(salt + hashlib.sha256(salt + b"test12").digest()).decode()
    assert rabbitmq_hash_matches("test12", stored)
    assert not rabbitmq_hash_matches("test13", stored)
    assert not rabbitmq_hash_matches("test12", "not base64!")


def test_credentials_write_the_rabbitmq_definitions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broker"
    args = ["stations", "credentials", str(EXAMPLE), "--out", str(out)]
    assert main(args) == 0
    printed = generated(capsys.readouterr().out)
    path = out / "rabbitmq-definitions.json"
    assert path.stat().st_mode & 0o777 == 0o600
    document = json.loads(path.read_text())
    users = {u["name"]: u["password_hash"] for u in document["users"]}
    assert sorted(users) == sorted(["aqm-ingest", *ACTIVE])
    assert rabbitmq_hash_matches("ingest pw", users["aqm-ingest"])
    assert all(rabbitmq_hash_matches(printed[s], users[s]) for s in ACTIVE)
    topic = {p["user"]: p for p in document["topic_permissions"]}
    assert topic["BN-TUSON"]["exchange"] == "amq.topic"
    assert topic["BN-TUSON"]["write"] == r"^aqm\.v1\.stations\.BN\-TUSON\.readings$"
    assert "aqm-ingest" not in topic  # it publishes nothing, and binds with any key
    perms = {p["user"]: p for p in document["permissions"]}
    assert (perms["BN-TUSON"]["configure"], perms["BN-TUSON"]["read"]) == ("^$", "^$")
    assert document["queues"][0]["arguments"] == {"x-queue-type": "quorum"}
    assert document["bindings"][0]["routing_key"] == "aqm.v1.stations.*.readings"
    # RabbitMQ 4.0's default delivery limit, stated, with a dead-letter target to keep
    # what exceeds it: a quorum queue of its own, reached through amq.direct
    (policy,) = document["policies"]
    assert policy["pattern"] == r"^aqm\.readings$"
    assert policy["definition"]["delivery-limit"] == 20
    assert policy["definition"]["dead-letter-strategy"] == "at-least-once"
    dead = policy["definition"]["dead-letter-routing-key"]
    assert dead == "aqm.readings.dead-letter"
    queues = {q["name"]: q["arguments"] for q in document["queues"]}
    assert queues[dead] == {"x-queue-type": "quorum"}
    assert {(b["source"], b["destination"], b["routing_key"]) for b in document["bindings"]} >= {
        ("amq.direct", dead, dead)
    }

    # a second run knows no station password but keeps every hash
    assert main(args) == 0
    capsys.readouterr()
    again = {u["name"]: u["password_hash"] for u in json.loads(path.read_text())["users"]}
    assert again == users


def test_users_whose_password_is_unknown_are_left_out_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broker"
    args = ["stations", "credentials", str(EXAMPLE), "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    (out / "rabbitmq-definitions.json").unlink()  # as for a deployment from before RabbitMQ
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1 RabbitMQ users" in err  # only the ingest user, whose password is in the URL
    assert f"no password known (give it in --secrets or --rotate): {', '.join(ACTIVE)}" in err
