"""Deliver one destination's files in time order (oldest measurement first).

A file is recorded delivered only after the server confirmed it (``226``). While the
destination is down, the oldest file is retried with backoff (doubling up to
``max_backoff_s``) and nothing newer overtakes it, so the destination catches up in time
order. A file a previous attempt may have stored without its confirmation reaching us is
first looked up (``SIZE``): found whole, it is recorded, not sent again. A file the
server refuses permanently (a 5xx reply to ``STOR``) ``max_attempts`` times is given up,
logged, and the next one goes.
"""

from __future__ import annotations

import contextlib
import ftplib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from forward.config import Destination
from forward.ftp_client import Connection
from forward.metrics import ForwardMetrics
from forward.planner import plan

log = logging.getLogger("aqm.forward")

PENDING = """
SELECT id, station_id, measured_at, file_name, remote_path, payload, attempts
FROM forward_deliveries
WHERE destination = %s AND delivered_at IS NULL AND given_up_at IS NULL
ORDER BY measured_at, id
LIMIT 500
"""

BACKLOG = """
SELECT count(*), coalesce(extract(epoch FROM now() - min(available_at)), 0)
FROM forward_deliveries
WHERE destination = %s AND delivered_at IS NULL AND given_up_at IS NULL
"""

DELIVERED = """
UPDATE forward_deliveries
SET attempts = attempts + 1, last_attempt_at = now(), delivered_at = now()
WHERE id = %s
RETURNING extract(epoch FROM delivered_at - available_at)
"""

FAILED = """
UPDATE forward_deliveries
SET attempts = attempts + 1, last_attempt_at = now(),
    first_error = coalesce(first_error, %(error)s),
    first_error_at = coalesce(first_error_at, now()),
    last_error = %(error)s, last_error_at = now(),
    given_up_at = CASE WHEN %(give_up)s THEN now() END
WHERE id = %(id)s
"""


@dataclass(frozen=True)
class Pending:
    id: int
    station: str
    measured_at: datetime
    file_name: str
    remote_path: str
    payload: bytes
    attempts: int


class Forwarder:
    def __init__(
        self,
        database_url: str,
        destination: Destination,
        metrics: ForwardMetrics,
        timezone: str,
        plan_every_s: float = 5.0,
        poll_s: float = 2.0,
    ) -> None:
        self.database_url = database_url
        self.destination = destination
        self.metrics = metrics
        self.local_tz = ZoneInfo(timezone)
        self.plan_every_s = plan_every_s
        self.poll_s = poll_s
        self.connection = Connection(destination)
        self._db: psycopg.Connection[Any] | None = None
        self.backoff = 1.0

    def _conn(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed or self._db.broken:
            self._db = psycopg.connect(
                self.database_url,
                autocommit=True,
                connect_timeout=5,
                application_name=f"aqm-forward-{self.destination.name}",
            )
        return self._db

    def run(self, stop: threading.Event) -> None:
        name = self.destination.name
        last_plan = 0.0
        while not stop.is_set():
            try:
                db = self._conn()
                if time.monotonic() - last_plan >= self.plan_every_s:
                    added = plan(db, self.destination, self.local_tz)
                    last_plan = time.monotonic()
                    if added:
                        log.info("%s: %d files to deliver", name, added)
                self._update_backlog(db)
                pending = [Pending(*row) for row in db.execute(PENDING, (name,))]
                if not pending:
                    stop.wait(self.poll_s)
                    continue
                for item in pending:
                    if stop.is_set():
                        break
                    if not self._send(db, item):
                        log.warning("%s: retry in %.0f s", name, self.backoff)
                        stop.wait(self.backoff)
                        self.backoff = min(self.backoff * 2, self.destination.max_backoff_s)
                        break
                    self.backoff = 1.0
            except (psycopg.Error, OSError) as exc:
                log.error("%s: database error (%s); retry in 5 s", name, exc)
                if self._db is not None:
                    with contextlib.suppress(psycopg.Error):
                        self._db.close()
                self._db = None
                stop.wait(5)
        self.connection.close()
        if self._db is not None:
            self._db.close()

    def _update_backlog(self, db: psycopg.Connection[Any]) -> None:
        row = db.execute(BACKLOG, (self.destination.name,)).fetchone()
        if row is not None:
            self.metrics.pending.labels(self.destination.name).set(row[0])
            self.metrics.oldest_pending_seconds.labels(self.destination.name).set(float(row[1]))

    def _send(self, db: psycopg.Connection[Any], item: Pending) -> bool:
        """True when the file is done with (delivered or given up); False: back off."""
        name = self.destination.name
        where = f"{item.remote_path}/{item.file_name}"
        try:
            self.connection.open()
        except (OSError, EOFError, ftplib.Error) as exc:
            self._failed(
                db,
                item,
                f"cannot reach {self.destination.host}:{self.destination.port}: {_why(exc)}",
                give_up=False,
            )
            self.metrics.destination_up.labels(name).set(0)
            return False
        self.metrics.destination_up.labels(name).set(1)
        try:
            if item.attempts and self.connection.already_there(
                item.remote_path, item.file_name, len(item.payload)
            ):
                log.info("%s: %s was stored by an earlier attempt; recorded", name, where)
            else:
                self.connection.upload(item.remote_path, item.file_name, item.payload)
        except ftplib.error_perm as exc:
            give_up = item.attempts + 1 >= self.destination.max_attempts
            self._failed(db, item, f"refused: {_why(exc)}", give_up=give_up)
            if give_up:
                self.metrics.given_up.labels(name).inc()
                log.error(
                    "%s: %s refused %d times (%s); given up",
                    name,
                    where,
                    item.attempts + 1,
                    _why(exc),
                )
                return True
            return False
        except (OSError, EOFError, ftplib.Error) as exc:
            self._failed(db, item, f"upload failed: {_why(exc)}", give_up=False)
            self.connection.close()
            return False
        row = db.execute(DELIVERED, (item.id,)).fetchone()
        self.metrics.delivered.labels(name).inc()
        if row is not None and row[0] is not None:
            self.metrics.delay_seconds.labels(name).observe(max(0.0, float(row[0])))
        log.debug("%s: delivered %s", name, where)
        return True

    def _failed(
        self, db: psycopg.Connection[Any], item: Pending, error: str, give_up: bool
    ) -> None:
        self.metrics.failed_attempts.labels(self.destination.name).inc()
        log.warning("%s: %s/%s: %s", self.destination.name, item.remote_path, item.file_name, error)
        db.execute(FAILED, {"error": error[:500], "give_up": give_up, "id": item.id})


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
