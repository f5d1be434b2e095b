"""Prometheus metrics of ``aqm forward``, per destination."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ForwardMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.delivered = Counter(
            "aqm_forward_files_delivered", "Files the destination confirmed (226)",
            ["destination"], registry=r,
        )  # fmt: skip
        self.failed_attempts = Counter(
            "aqm_forward_failed_attempts", "Upload attempts that failed",
            ["destination"], registry=r,
        )  # fmt: skip
        self.given_up = Counter(
            "aqm_forward_files_given_up", "Files the destination refused permanently",
            ["destination"], registry=r,
        )  # fmt: skip
        self.pending = Gauge(
            "aqm_forward_files_pending", "Files not yet delivered", ["destination"], registry=r
        )
        self.oldest_pending_seconds = Gauge(
            "aqm_forward_oldest_pending_seconds", "Age of the oldest file not yet delivered",
            ["destination"], registry=r,
        )  # fmt: skip
        self.destination_up = Gauge(
            "aqm_forward_destination_up", "1 when the last attempt reached the destination",
            ["destination"], registry=r,
        )  # fmt: skip
        self.delay_seconds = Histogram(
            "aqm_forward_delay_seconds", "From data available in aqm to delivery confirmed",
            ["destination"], buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600),
            registry=r,
        )  # fmt: skip
