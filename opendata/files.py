"""Files a download may read at any moment: written whole beside their place, then renamed.

A reader (the web server) opens either the old file or the new one, never half of one:
``os.replace`` within one folder is atomic on POSIX. The manifest ``index.json`` lists
every data file with its size, SHA-256 and last-modified time; writers of one folder
take turns through an exclusive lock on ``.lock`` (the worker and ``aqm opendata
export`` may run at once).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

MANIFEST = "index.json"
LOCK = ".lock"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """One data file as the manifest lists it; ``path`` is relative to the folder."""

    path: str
    dataset: str
    format: str
    year: int
    station_id: str | None  # None: the whole province
    rows: int
    bytes: int
    sha256: str
    last_modified: str  # ISO 8601 UTC


@contextlib.contextmanager
def folder_lock(root: Path) -> Iterator[None]:
    """Hold the folder's writer lock (blocks while another writer holds it)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> tuple[int, str]:
    """Write ``path`` through ``write(handle)`` into a temporary file of the same folder,
    flush it to disk, then rename it into place; returns (bytes, sha256 hex).

    On any error the temporary file is removed and ``path`` stays as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the web server reads it
        size, digest = file_digest(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return size, digest


def bytes_writer(data: bytes) -> Callable[[IO[bytes]], None]:
    def write(handle: IO[bytes]) -> None:
        handle.write(data)

    return write


def write_bytes_atomically(path: Path, data: bytes) -> tuple[int, str]:
    return write_atomically(path, bytes_writer(data))


def file_digest(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex) of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def utc_stamp(moment: dt.datetime | None = None) -> str:
    """ISO 8601 UTC to the millisecond, e.g. ``2025-03-10T04:00:00.125Z`` (files written
    within one second still compare in order)."""
    moment = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def read_manifest(root: Path) -> dict[str, FileEntry]:
    """The manifest's entries by path; empty when there is none yet."""
    try:
        document = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {e["path"]: FileEntry(**e) for e in document.get("files", [])}


def write_manifest(root: Path, entries: dict[str, FileEntry], header: dict[str, Any]) -> None:
    """``index.json``: ``header`` (title, licence, attribution…) and the files by path."""
    files = [asdict(entries[p]) for p in sorted(entries)]
    document = {**header, "generated_at": utc_stamp(), "files": files}
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    write_bytes_atomically(root / MANIFEST, text.encode("utf-8"))
