"""Prometheus metrics of ``aqm ftp``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class FtpMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.files_received = Counter(
            "aqm_ftp_files_received", "Files whose upload completed (or found complete)",
            registry=r,
        )  # fmt: skip
        self.uploads_incomplete = Counter(
            "aqm_ftp_uploads_incomplete", "Uploads interrupted or refused, by reason",
            ["reason"], registry=r,
        )  # fmt: skip
        self.files_stored = Counter(
            "aqm_ftp_files_stored", "Files whose transaction committed", registry=r
        )
        self.readings_stored = Counter(
            "aqm_ftp_readings_stored", "Readings newly stored from files", registry=r
        )
        self.readings_duplicate = Counter(
            "aqm_ftp_readings_duplicate", "Readings of files already stored", registry=r
        )
        self.items_rejected = Counter(
            "aqm_ftp_items_rejected", "Readings or whole files rejected", registry=r
        )
        self.pending_files = Gauge(
            "aqm_ftp_pending_files", "Complete files waiting to be stored", registry=r
        )
        self.receive_to_commit_seconds = Histogram(
            "aqm_ftp_receive_to_commit_seconds", "From upload complete to commit",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300), registry=r,
        )  # fmt: skip
        self.db_errors = Counter("aqm_ftp_db_errors", "Database errors", registry=r)
        self.db_connected = Gauge("aqm_ftp_db_connected", "1 when connected", registry=r)
