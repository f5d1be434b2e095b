"""A simulated Circular 10/2021 datalogger that delivers by FTP: one file per
measurement, named ``<Province>_<Facility>_<Station>_yyyyMMddHHmmss.txt`` in
``<Station>/yyyy/MM/dd/``, uploaded as soon as it exists. Files that cannot be sent are
kept and sent oldest first when the server is back, as real dataloggers do
(Circular 10/2021 Art. 39).
"""

from __future__ import annotations

import contextlib
import ftplib
import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from ingest.files.naming import DEFAULT_FILE_TEMPLATE, DEFAULT_PATH_TEMPLATE, expand
from stations.simulator import Publication

log = logging.getLogger("aqm.datalogger")
RETRY_S = 2.0  # a failed upload is tried again this soon (kept files go first)


@dataclass(frozen=True)
class FtpTarget:
    host: str
    port: int
    user: str
    password: str
    tls: bool = False
    province: str = "BN"
    facility: str = "QTMT"


class _Session:
    def __init__(self, target: FtpTarget) -> None:
        self.target = target
        self.ftp: ftplib.FTP | None = None

    def store(self, folder: str, name: str, payload: bytes) -> None:
        if self.ftp is None:
            ftp = ftplib.FTP_TLS(timeout=30) if self.target.tls else ftplib.FTP(timeout=30)
            ftp.connect(self.target.host, self.target.port)
            ftp.login(self.target.user, self.target.password)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            self.ftp = ftp
        ftp = self.ftp
        ftp.cwd("/")
        for part in folder.split("/"):
            try:
                ftp.cwd(part)
            except ftplib.error_perm:
                ftp.mkd(part)
                ftp.cwd(part)
        ftp.storbinary(f"STOR {name}", io.BytesIO(payload))

    def close(self) -> None:
        if self.ftp is not None:
            with contextlib.suppress(OSError, EOFError, ftplib.Error):
                self.ftp.quit()
        self.ftp = None


def deliver(
    publications: Iterable[Publication],
    target: FtpTarget,
    local_tz: tzinfo,
    *,
    speedup: float = 0.0,
    stop: threading.Event | None = None,
    on_sent: Callable[[Publication], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Upload each publication's payload as one file; returns how many were delivered."""
    stop = stop or threading.Event()
    session = _Session(target)
    backlog: deque[tuple[str, str, bytes, Publication]] = deque()
    delivered = 0
    wall0 = time.monotonic()
    sim0: datetime | None = None
    retry_at = 0.0
    try:
        for publication in publications:
            sim0 = sim0 or publication.measured_at
            due = wall0 + ((publication.measured_at - sim0).total_seconds() / speedup
                           if speedup else 0.0)  # fmt: skip
            due = max(due, time.monotonic() + (publication.measured_at - clock()).total_seconds())
            if (wait := due - time.monotonic()) > 0 and stop.wait(wait):
                break
            if stop.is_set():
                break
            station = publication.readings[0].station_id
            fields = {"province": target.province, "facility": target.facility,
                      "station": station, "measured_at": publication.measured_at,
                      "local_tz": local_tz}  # fmt: skip
            backlog.append((expand(DEFAULT_PATH_TEMPLATE, **fields),  # type: ignore[arg-type]
                            expand(DEFAULT_FILE_TEMPLATE, **fields),  # type: ignore[arg-type]
                            publication.payload, publication))
            if time.monotonic() < retry_at:
                continue
            while backlog:
                folder, name, payload, sent = backlog[0]
                try:
                    session.store(folder, name, payload)
                except (OSError, EOFError, ftplib.Error) as exc:
                    log.warning("upload of %s failed (%s); %d files kept, retry in %.0f s",
                                name, exc, len(backlog), RETRY_S)
                    session.close()
                    retry_at = time.monotonic() + RETRY_S
                    break
                backlog.popleft()
                delivered += 1
                if on_sent is not None:
                    on_sent(sent)
    finally:
        session.close()
    return delivered
