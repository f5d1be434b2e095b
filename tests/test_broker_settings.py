"""Settings that must agree with the production broker: the client id is the broker user,
payloads the broker passes are ones ingest can reject, /metrics listens where it is told."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from aqm.localservices import free_port
from aqm_core.settings import BROKER_MESSAGE_SIZE_LIMIT, SettingsError, load_settings
from ingest.metrics import IngestMetrics, serve_http


@pytest.fixture(autouse=True)
def _isolated(no_aqm_settings: None) -> None:
    """Only what a test sets counts."""


def test_the_client_id_is_the_broker_user(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().mqtt_client_id == "aqm-ingest"  # anonymous local broker
    monkeypatch.setenv("AQM_MQTT_URL", "mqtt://aqm-ingest-2:secret@mosquitto:1883")
    assert load_settings().mqtt_client_id == "aqm-ingest-2"
    monkeypatch.setenv("AQM_MQTT_CLIENT_ID", "aqm-ingest-2")
    assert load_settings().mqtt_client_id == "aqm-ingest-2"
    # the broker would ignore another id, and instances sharing a user share one session
    monkeypatch.setenv("AQM_MQTT_CLIENT_ID", "aqm-ingest-1")
    with pytest.raises(
        SettingsError,
        match=r"AQM_MQTT_CLIENT_ID: client id 'aqm-ingest-1' "
        r"differs from the broker user 'aqm-ingest-2'",
    ):
        load_settings()
    monkeypatch.delenv("AQM_MQTT_URL")
    assert load_settings().mqtt_client_id == "aqm-ingest-1"  # no user: the id is free


def test_the_payload_limit_stays_below_the_brokers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AQM_MAX_PAYLOAD_BYTES", str(BROKER_MESSAGE_SIZE_LIMIT - 1))
    assert load_settings().max_payload_bytes == BROKER_MESSAGE_SIZE_LIMIT - 1
    monkeypatch.setenv("AQM_MAX_PAYLOAD_BYTES", str(BROKER_MESSAGE_SIZE_LIMIT))
    with pytest.raises(SettingsError, match="AQM_MAX_PAYLOAD_BYTES"):
        load_settings()


def _own_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_metrics_listen_on_loopback_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert settings.metrics_host == "127.0.0.1"
    metrics = IngestMetrics()
    port = free_port()
    server = serve_http(metrics, port, metrics.healthy, settings.metrics_host)
    try:
        assert server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            assert b"aqm_ingest_messages_received_total" in page.read()
        if (address := _own_address()) is not None:
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=2).close()
    finally:
        server.shutdown()
        server.server_close()
    monkeypatch.setenv("AQM_METRICS_HOST", "0.0.0.0")
    everywhere = serve_http(metrics, free_port(), metrics.healthy, load_settings().metrics_host)
    try:
        assert everywhere.server_address[0] == "0.0.0.0"
    finally:
        everywhere.shutdown()
        everywhere.server_close()
