"""Prometheus metrics and the /healthz endpoint of the ingest service.

Counting unit: an *item* is one reading, or a whole message that could not be read at
all. Counts reconcile: readings_received = readings_stored + readings_duplicate +
readings_rejected (+ rejected_duplicate for rejects of a redelivered message).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages_received = Counter(
            "aqm_ingest_messages_received", "MQTT messages received", registry=r
        )
        self.readings_received = Counter(
            "aqm_ingest_readings_received",
            "Items received (readings, or unreadable messages)",
            registry=r,
        )
        self.readings_stored = Counter(
            "aqm_ingest_readings_stored", "Readings newly stored", registry=r
        )
        self.readings_duplicate = Counter(
            "aqm_ingest_readings_duplicate",
            "Readings already stored (redelivery, resend)",
            registry=r,
        )
        self.readings_rejected = Counter(
            "aqm_ingest_readings_rejected", "Items rejected, by reason", ["reason"], registry=r
        )
        self.rejected_duplicate = Counter(
            "aqm_ingest_rejected_duplicate",
            "Rejects already stored (redelivered message)",
            registry=r,
        )
        self.batch_size = Histogram(
            "aqm_ingest_batch_size",
            "Items per committed batch",
            buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 20000),
            registry=r,
        )
        self.commit_seconds = Histogram(
            "aqm_ingest_commit_seconds",
            "Time to write and commit a batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.publish_to_commit_seconds = Histogram(
            "aqm_ingest_receive_to_commit_seconds",
            "From broker delivery to commit",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.unacked_messages = Gauge(
            "aqm_ingest_unacked_messages", "Messages held, not yet acked", registry=r
        )
        self.oldest_unacked_seconds = Gauge(
            "aqm_ingest_oldest_unacked_seconds", "Age of the oldest unacked message", registry=r
        )
        self.db_errors = Counter(
            "aqm_ingest_db_errors", "Failed database writes (retried)", registry=r
        )
        self.station_last_seen = Gauge(
            "aqm_ingest_station_last_seen_timestamp_seconds",
            "Last message per station (unix time)",
            ["station"],
            registry=r,
        )
        self.station_clock_offset_seconds = Gauge(
            "aqm_ingest_station_clock_offset_seconds",
            "Receive time minus measurement time per station: the median over its recent"
            " ten-minute windows of arrivals of each window's smallest lag (ingest/clock.py);"
            " hours when the datalogger's clock or time zone is wrong",
            ["station"],
            registry=r,
        )
        self.broker_connected = Gauge(
            "aqm_ingest_broker_connected", "1 when connected to the broker", registry=r
        )
        self.db_connected = Gauge(
            "aqm_ingest_db_connected", "1 when connected to the database", registry=r
        )
        self.qos0_messages = Counter(
            "aqm_ingest_qos0_messages",
            "Messages published at QoS 0, which the broker drops while ingest is away"
            " (stations must publish at QoS 1); station '' when not registered",
            ["station"],
            registry=r,
        )
        self._checks: list[Callable[[], str | None]] = []

    def add_health_check(self, check: Callable[[], str | None]) -> None:
        """``check`` returns why ingest is unhealthy, or None; called at every /healthz."""
        self._checks.append(check)

    def unhealthy_reason(self) -> str | None:
        """Why ingest is unhealthy now, or None when it is healthy."""
        if not self.broker_connected._value.get():
            return "broker not connected"
        if not self.db_connected._value.get():
            return "database not connected"
        for check in self._checks:
            reason = check()
            if reason:
                return reason
        return None

    def healthy(self) -> bool:
        return self.unhealthy_reason() is None


def serve_http(
    metrics: IngestMetrics, port: int, healthy: Callable[[], bool], host: str = "127.0.0.1"
) -> ThreadingHTTPServer:
    """Serve /metrics and /healthz on host:port in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                body, status, ctype = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path.startswith("/healthz"):
                ok = healthy()
                why = None if ok else metrics.unhealthy_reason() or "health check failed"
                body = b"ok\n" if ok else f"unhealthy: {why}\n".encode()
                status, ctype = (200 if ok else 503), "text/plain; charset=utf-8"
            else:
                body, status, ctype = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="aqm-metrics", daemon=True).start()
    return server
