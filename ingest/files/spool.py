"""Spool mode: files a Department's own FTP server (vsftpd and the like) writes into
per-station folders ``DIR/<station>/…``.

Such a server gives no signal when an upload completed, so a file counts as complete
when all of these hold:

- its name is not a temporary one (a leading ``.``, or ending ``.tmp``, ``.part``,
  ``.partial``, ``.filepart``, ``.uploading``): dataloggers that upload under such a
  name and rename afterwards are read only after the rename — the reliable way;
- its size and modification time have not changed for ``settle_s`` seconds;
- it ends with a line break, or it has been unchanged for ten times ``settle_s`` (a
  Circular 10 file ends each line with CRLF: a file cut mid-line is still being
  written, or was abandoned).

The station is the first folder under DIR, never a name inside the file. A complete
file is stored like an uploaded one and moved to the archive after its commit; until
then it stays where it is, so a crash reprocesses it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.files.inbox import STATION_FOLDER, InboxFile

TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".uploading")


def is_temporary(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.startswith(".") or base.lower().endswith(TEMPORARY_SUFFIXES)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time this size and mtime were first seen


class SpoolWatcher:
    def __init__(self, root: Path, settle_s: float) -> None:
        self.root = root
        self.settle_s = settle_s
        self._seen: dict[Path, _Seen] = {}

    def scan(self, now: float | None = None) -> list[InboxFile]:
        """The files that became complete, oldest first (each is returned until stored)."""
        now = time.monotonic() if now is None else now
        complete: list[tuple[int, InboxFile]] = []
        present: set[Path] = set()
        if not self.root.is_dir():
            return []
        for station_dir in self.root.iterdir():
            if not station_dir.is_dir() or not STATION_FOLDER.match(station_dir.name):
                continue
            for dirpath, dirs, files in os.walk(station_dir):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for base in files:
                    path = Path(dirpath) / base
                    name = path.relative_to(station_dir).as_posix()
                    if is_temporary(name):
                        continue
                    try:
                        st = path.stat()
                    except FileNotFoundError:
                        continue
                    present.add(path)
                    seen = self._seen.get(path)
                    if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
                        self._seen[path] = _Seen(st.st_size, st.st_mtime_ns, now)
                        continue
                    stable = now - seen.since
                    if stable < self.settle_s:
                        continue
                    if stable < 10 * self.settle_s and not _ends_with_newline(path, st.st_size):
                        continue
                    received = datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)
                    complete.append(
                        (st.st_mtime_ns, InboxFile(station_dir.name, name, path, received))
                    )
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return [f for _, f in sorted(complete, key=lambda c: c[0])]


def _ends_with_newline(path: Path, size: int) -> bool:
    if size == 0:
        return False
    try:
        with open(path, "rb") as handle:
            handle.seek(size - 1)
            return handle.read(1) == b"\n"
    except OSError:
        return False
