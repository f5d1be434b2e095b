"""Atomic writes: a reader sees the old file or the new one, never part of either."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

import pytest

from opendata.files import bytes_writer, write_atomically


def test_the_old_file_stays_in_place_until_the_new_one_is_complete(tmp_path: Path) -> None:
    target = tmp_path / "2025" / "x.csv"
    write_atomically(target, bytes_writer(b"old\n"))
    seen_during_write = []

    def write(handle: IO[bytes]) -> None:
        handle.write(b"new, first half\n")
        seen_during_write.append(target.read_bytes())  # what a download would get now
        handle.write(b"new, second half\n")

    size, digest = write_atomically(target, write)
    assert seen_during_write == [b"old\n"]
    new = b"new, first half\nnew, second half\n"
    assert target.read_bytes() == new
    assert (size, digest) == (len(new), hashlib.sha256(new).hexdigest())
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.csv"]
    assert target.stat().st_mode & 0o644 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "x.parquet"
    target.write_bytes(b"complete old file")

    def fail(handle: IO[bytes]) -> None:
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, fail)
    assert target.read_bytes() == b"complete old file"
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]
