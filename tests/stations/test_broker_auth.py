"""The HTTP side of ``aqm broker-auth``: RabbitMQ's form POSTs in, ``allow``/``deny`` out.

Requests are built as RabbitMQ 3.10 sends them (form-encoded, seen on the wire:
``username=BN-01&password=…&vhost=%2F&client_id=BN-01``); the definitions file is the
one ``aqm stations credentials`` writes.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from ingest.topics import TopicLayout
from stations.broker_auth import MAX_BODY_BYTES, create_app
from stations.rabbitmq_definitions import definitions, rabbitmq_hash

PASSWORDS = {"BN-01": "pw one", "BN-02": "pw-two", "aqm-ingest-1": "ingest&pw=x"}


def write(path: Path, passwords: dict[str, str]) -> None:
    stations = [u for u in passwords if u.startswith("BN-")]
    ingest = [u for u in passwords if not u.startswith("BN-")]
    hashes = {u: rabbitmq_hash(p) for u, p in passwords.items()}
    path.write_text(json.dumps(definitions(stations, ingest, hashes, TopicLayout(), "q")))


@pytest.fixture
def defs(tmp_path: Path) -> Path:
    path = tmp_path / "rabbitmq-definitions.json"
    write(path, PASSWORDS)
    return path


@pytest.fixture
def client(defs: Path) -> TestClient:
    return TestClient(create_app(defs))


def login(client: TestClient, **fields: str) -> str:
    response = client.post(
        "/auth/user",
        content=urlencode(fields),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200  # RabbitMQ reads the body; any other status refuses
    text: str = response.text
    return text


def test_a_station_logging_in_as_itself_is_allowed(client: TestClient) -> None:
    assert login(client, username="BN-01", password="pw one", vhost="/", client_id="BN-01") == (
        "allow"
    )


def test_ingest_over_amqp_sends_no_client_id_and_is_allowed(client: TestClient) -> None:
    assert login(client, username="aqm-ingest-1", password="ingest&pw=x", vhost="/") == "allow"


def test_another_stations_client_id_is_denied_and_logged_without_the_password(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aqm.broker_auth"):
        answer = login(client, username="BN-02", password="pw-two", vhost="/", client_id="BN-01")
    assert answer == "deny"
    (record,) = caplog.records
    text = record.getMessage()
    assert "'BN-02'" in text and "'BN-01'" in text and "client id is not the login" in text
    assert "pw-two" not in text


def test_a_wrong_password_is_denied(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aqm.broker_auth"):
        assert login(client, username="BN-01", password="pw-two", client_id="BN-01") == "deny"
    assert "wrong password" in caplog.text and "pw-two" not in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        b"username=BN-01",  # no password
        b"password=pw+one",  # no username
        b"username=BN-01&password=pw+one&client_id=BN-01&client_id=BN-02",  # repeated field
        b"username=BN-01&password=pw%ZZone&client_id=BN-01",  # bad escape: strict parsing
        b"username=BN-01&password=\xff&client_id=BN-01",  # not UTF-8
        b"garbage",
        b"",
        b"username=BN-01&password=pw+one&client_id=BN-01&" + b"x=1&" * (MAX_BODY_BYTES // 4),
    ],
    ids=["no-password", "no-username", "repeated", "bad-escape", "not-utf8", "garbage", "empty",
         "too-large"],
)  # fmt: skip
def test_anything_malformed_is_denied(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/auth/user", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert (response.status_code, response.text) == (200, "deny")


def test_the_authorisation_paths_and_get_logins_are_denied(client: TestClient) -> None:
    query = {"username": "BN-01", "vhost": "/", "resource": "exchange", "name": "amq.topic",
             "permission": "write", "routing_key": "aqm.v1.stations.BN-01.readings"}  # fmt: skip
    for path in ("/auth/vhost", "/auth/resource", "/auth/topic"):
        assert client.post(path, content=urlencode(query)).text == "deny"
        assert client.get(path, params=query).text == "deny"
    # a node left on http_method = get would put passwords in URLs: refused
    login_query = {"username": "BN-01", "password": "pw one", "client_id": "BN-01"}
    assert client.get("/auth/user", params=login_query).text == "deny"


def test_a_changed_definitions_file_is_read_again(defs: Path, client: TestClient) -> None:
    assert login(client, username="BN-02", password="pw-two", client_id="BN-02") == "allow"
    write(defs, {"BN-01": "pw one", "BN-02": "rotated"})
    stat = defs.stat()
    os.utime(defs, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert login(client, username="BN-02", password="pw-two", client_id="BN-02") == "deny"
    assert login(client, username="BN-02", password="rotated", client_id="BN-02") == "allow"


def test_an_unreadable_file_keeps_the_users_read_before(
    defs: Path, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    defs.write_text("{ not json")
    with caplog.at_level(logging.ERROR, logger="aqm.broker_auth"):
        for _ in range(3):
            assert login(client, username="BN-01", password="pw one", client_id="BN-01") == (
                "allow"
            )
    assert len(caplog.records) == 1  # reported once, not on every login
    defs.unlink()
    assert login(client, username="BN-01", password="pw one", client_id="BN-01") == "allow"
    assert client.get("/healthz").status_code == 200


def test_health_fails_while_no_user_is_known(tmp_path: Path) -> None:
    empty = tmp_path / "defs.json"
    empty.write_text(json.dumps({"users": []}))
    client = TestClient(create_app(empty))
    assert client.get("/healthz").status_code == 503
    assert login(client, username="BN-01", password="pw one", client_id="BN-01") == "deny"
