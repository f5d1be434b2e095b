"""The folders of ``aqm ftp`` under ``AQM_FTP_DIR``, and how a file moves through them.

::

    upload/<station>/…     the station's FTP home: uploads being written
    incoming/<station>/…   complete files waiting to be stored (moved here by rename
                           before the server answers 226, so a file the datalogger
                           thinks delivered is never lost)
    archive/<station>/yyyy/MM/dd/…   stored files, kept AQM_FTP_ARCHIVE_DAYS days

A file leaves ``incoming`` only after the transaction holding its readings committed;
whatever is found there at start is stored again, harmlessly. A name in ``incoming``
carries the upload-complete time as a suffix (``name.~<ns>~``) so that two uploads of
the same name never overwrite each other before they are stored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("aqm.ftp")

# Station ids as the stations table allows them (migration 0001).
STATION_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_ARRIVAL_SUFFIX = re.compile(r"^(?P<name>.+)\.~(?P<ns>\d{19})~$")


@dataclass(frozen=True, slots=True)
class InboxFile:
    """A complete file: the station it arrived for, its name in the station's folder."""

    station: str
    name: str  # relative to the station's folder, '/'-separated, as uploaded
    path: Path  # where it is now
    received_at: datetime

    @property
    def topic(self) -> str:
        """What ``rejected_messages.topic`` says of this file."""
        return f"ftp:{self.station}/{self.name}"


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Inbox:
    def __init__(self, root: Path, archive_days: int) -> None:
        self.root = root
        self.upload = root / "upload"
        self.incoming = root / "incoming"
        self.archive_root = root / "archive"
        self.archive_days = archive_days

    def prepare(self, stations: list[str]) -> None:
        """Create every station's folders; remove what interrupted uploads left."""
        for folder in (self.upload, self.incoming, self.archive_root):
            folder.mkdir(parents=True, exist_ok=True)
        for station in stations:
            if STATION_FOLDER.match(station):
                (self.upload / station).mkdir(exist_ok=True)
        # A file still in upload/ never got its 226: the datalogger sends it again.
        for path in _files_under(self.upload):
            log.warning(
                "%s: upload was interrupted (server stopped); removed, the "
                "datalogger sends it again",
                path,
            )
            path.unlink(missing_ok=True)

    def home(self, station: str) -> Path:
        return self.upload / station

    def accept(self, station: str, uploaded: Path) -> InboxFile:
        """Move a completed upload into ``incoming`` (durably, before the 226 reply)."""
        home = self.home(station)
        name = uploaded.relative_to(home).as_posix()
        now_ns = time.time_ns()
        target = self.incoming / station / f"{name}.~{now_ns:019d}~"
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(uploaded, "rb") as handle:
            os.fsync(handle.fileno())
        uploaded.rename(target)
        fsync_dir(target.parent)
        return InboxFile(station, name, target, datetime.fromtimestamp(now_ns / 1e9, UTC))

    def pending(self) -> list[InboxFile]:
        """Every complete file not yet stored, oldest first."""
        found = []
        if not self.incoming.is_dir():
            return []
        for station_dir in self.incoming.iterdir():
            if not station_dir.is_dir():
                continue
            for path in _files_under(station_dir):
                match = _ARRIVAL_SUFFIX.match(path.name)
                if match is None:
                    continue
                name = path.relative_to(station_dir).parent.joinpath(match["name"]).as_posix()
                ns = int(match["ns"])
                found.append(
                    InboxFile(station_dir.name, name, path, datetime.fromtimestamp(ns / 1e9, UTC))
                )
        return sorted(found, key=lambda f: f.received_at)

    def done(self, file: InboxFile) -> None:
        """The file's transaction committed: archive it (or delete it)."""
        if self.archive_days <= 0:
            file.path.unlink(missing_ok=True)
            return
        day = file.received_at.strftime("%Y/%m/%d")
        base = file.name.rsplit("/", 1)[-1]
        target = self.archive_root / file.station / day / base
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target = target.with_name(f"{base}.~{time.time_ns():019d}~")
        try:
            file.path.rename(target)
        except OSError:  # another file system (a spool folder): copy, then remove
            import shutil

            shutil.copy2(file.path, target)
            file.path.unlink(missing_ok=True)

    def purge_archive(self, now: float | None = None) -> int:
        """Delete archived files older than the retention; returns how many."""
        if self.archive_days <= 0 or not self.archive_root.is_dir():
            return 0
        limit = (now or time.time()) - self.archive_days * 86400
        removed = 0
        for path in _files_under(self.archive_root):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
        for folder in sorted(self.archive_root.rglob("*"), reverse=True):
            if folder.is_dir():
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only empty ones go
        return removed


def _files_under(folder: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            yield Path(dirpath) / name
