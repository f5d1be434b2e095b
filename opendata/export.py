"""Write the open data files of station-years and of the whole province.

Per station and local year (``AQM_TIMEZONE``), each dataset of :mod:`opendata.datasets`
becomes ``<year>/stations/<station>-<year>-<dataset>.csv`` and ``.parquet``. PostgreSQL
writes the CSV itself (``COPY … TO STDOUT (FORMAT csv)``: exact float text, NULL as an
empty field); the Parquet file is parsed from the same bytes, so the two formats agree
row for row. A dataset with no rows has no file (an old one is removed). The province
files ``<year>/<province>-<year>-<dataset>.*`` are the station files of the year joined
in station order, built from the files on disk rather than from the database.

Every file is written atomically (:mod:`opendata.files`) and listed in ``index.json``;
one station-year at a time holds the folder's lock, so a concurrent writer waits
seconds, not a whole rebuild.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import sql

from aqm_core.settings import Settings
from opendata import pages
from opendata.datasets import DATASETS, Dataset
from opendata.files import (
    FileEntry,
    bytes_writer,
    folder_lock,
    read_manifest,
    utc_stamp,
    write_atomically,
    write_manifest,
)

Connection = psycopg.Connection[Any]
FORMATS = ("csv", "parquet")
PARQUET_COMPRESSION = "zstd"


@dataclass(frozen=True)
class Publication:
    """Where the files go and what they say about themselves."""

    root: Path
    timezone: str
    province: str
    publisher: str

    @classmethod
    def from_settings(cls, settings: Settings, root: Path | None = None) -> Publication:
        publisher = settings.opendata_publisher or (
            f"Sở Nông nghiệp và Môi trường tỉnh {settings.province}"
        )
        return cls(root or settings.opendata_dir, settings.timezone, settings.province, publisher)

    @property
    def province_slug(self) -> str:
        return slug(self.province) or "province"


@dataclass
class ExportSummary:
    station_years: int = 0
    files_written: int = 0
    files_removed: int = 0
    rows: int = 0
    bytes: int = 0
    written: list[FileEntry] = field(default_factory=list)

    def add(self, other: ExportSummary) -> None:
        self.station_years += other.station_years
        self.files_written += other.files_written
        self.files_removed += other.files_removed
        self.rows += other.rows
        self.bytes += other.bytes
        self.written += other.written


def slug(text: str) -> str:
    """ASCII file-name form of a Vietnamese name: ``Bắc Ninh`` → ``bac-ninh``."""
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def station_path(year: int, station_id: str, dataset: Dataset, fmt: str) -> str:
    return f"{year}/stations/{station_id}-{year}-{dataset.name}.{fmt}"


def province_path(pub: Publication, year: int, dataset: Dataset, fmt: str) -> str:
    return f"{year}/{pub.province_slug}-{year}-{dataset.name}.{fmt}"


EXPORT_WORK_MEM = "64MB"
"""Sorting a station-year in memory (the default 4 MB spills it to disk)."""


def prepare_session(conn: Connection, timezone: str) -> None:
    """The session time zone the queries' local times are written in, and their memory."""
    conn.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
    conn.execute("SELECT set_config('work_mem', %s, false)", (EXPORT_WORK_MEM,))


def year_bounds(year: int, timezone: str) -> dict[str, object]:
    """Query parameters of one local year."""
    zone = ZoneInfo(timezone)
    return {
        "timezone": timezone,
        "start": dt.datetime(year, 1, 1, tzinfo=zone),
        "end": dt.datetime(year + 1, 1, 1, tzinfo=zone),
        "first_day": dt.date(year, 1, 1),
        "last_day": dt.date(year, 12, 31),
    }


def dataset_csv(conn: Connection, dataset: Dataset, station_id: str, year: int,
                timezone: str) -> bytes:  # fmt: skip
    """One station-year of ``dataset`` as CSV bytes, header included (rows as PostgreSQL
    writes them)."""
    params = {"station": station_id, **year_bounds(year, timezone)}
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(sql.SQL(dataset.sql))
    buffer = io.BytesIO()
    buffer.write((",".join(dataset.column_names) + "\n").encode())
    with conn.cursor() as cur, cur.copy(statement, params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    return buffer.getvalue()


def csv_to_table(data: bytes, dataset: Dataset, timezone: str) -> pa.Table:
    """The CSV bytes as an Arrow table of the dataset's schema (empty fields: null)."""
    schema = dataset.schema(timezone)
    options = pa_csv.ConvertOptions(
        column_types={f.name: f.type for f in schema},
        null_values=[""],
        strings_can_be_null=True,
        true_values=["true"],
        false_values=["false"],
    )
    table = pa_csv.read_csv(io.BytesIO(data), convert_options=options)
    return table.select(schema.names).cast(schema)


def _write_parquet(table: pa.Table) -> Callable[[IO[bytes]], None]:
    def write(handle: IO[bytes]) -> None:
        pq.write_table(table, handle, compression=PARQUET_COMPRESSION)

    return write


def _entry(path: str, dataset: Dataset, fmt: str, year: int, station_id: str | None,
           rows: int, size: int, digest: str) -> FileEntry:  # fmt: skip
    return FileEntry(path, dataset.name, fmt, year, station_id, rows, size, digest, utc_stamp())


def _remove(pub: Publication, entries: dict[str, FileEntry], path: str) -> int:
    target = pub.root / path
    existed = target.exists() or path in entries
    target.unlink(missing_ok=True)
    entries.pop(path, None)
    return int(existed)


def export_station_year(conn: Connection, pub: Publication, station_id: str,
                        year: int) -> ExportSummary:  # fmt: skip
    """Rewrite (or remove) the files of one station-year and update the manifest."""
    summary = ExportSummary(station_years=1)
    tables: list[tuple[Dataset, bytes, pa.Table]] = []
    for dataset in DATASETS:
        data = dataset_csv(conn, dataset, station_id, year, pub.timezone)
        tables.append((dataset, data, csv_to_table(data, dataset, pub.timezone)))
    with folder_lock(pub.root):
        entries = read_manifest(pub.root)
        for dataset, data, table in tables:
            csv_rel = station_path(year, station_id, dataset, "csv")
            parquet_rel = station_path(year, station_id, dataset, "parquet")
            if table.num_rows == 0:
                summary.files_removed += _remove(pub, entries, csv_rel)
                summary.files_removed += _remove(pub, entries, parquet_rel)
                continue
            for rel, write in (
                (csv_rel, bytes_writer(data)),
                (parquet_rel, _write_parquet(table)),
            ):
                size, digest = write_atomically(pub.root / rel, write)
                fmt = rel.rsplit(".", 1)[1]
                entry = _entry(rel, dataset, fmt, year, station_id, table.num_rows, size, digest)
                entries[rel] = entry
                summary.written.append(entry)
                summary.files_written += 1
                summary.bytes += size
            summary.rows += table.num_rows
        _publish_index(pub, entries)
    return summary


def rebuild_province_year(pub: Publication, year: int) -> ExportSummary:
    """Join the station files of ``year`` into the province files (or remove them when no
    station has any)."""
    summary = ExportSummary()
    with folder_lock(pub.root):
        entries = read_manifest(pub.root)
        for dataset in DATASETS:
            for fmt in FORMATS:
                parts = sorted(
                    (e for e in entries.values()
                     if e.station_id is not None and e.year == year
                     and e.dataset == dataset.name and e.format == fmt),
                    key=lambda e: e.station_id or "",
                )  # fmt: skip
                rel = province_path(pub, year, dataset, fmt)
                if not parts:
                    summary.files_removed += _remove(pub, entries, rel)
                    continue
                joiner = _join_csv if fmt == "csv" else _join_parquet
                files = [pub.root / e.path for e in parts]
                size, digest = write_atomically(
                    pub.root / rel, joiner(files, dataset, pub.timezone)
                )
                rows = sum(e.rows for e in parts)
                entry = _entry(rel, dataset, fmt, year, None, rows, size, digest)
                entries[rel] = entry
                summary.written.append(entry)
                summary.files_written += 1
                summary.bytes += size
        _publish_index(pub, entries)
    return summary


def _join_csv(files: Sequence[Path], dataset: Dataset,
              timezone: str) -> Callable[[IO[bytes]], None]:  # fmt: skip
    header = (",".join(dataset.column_names) + "\n").encode()

    def write(handle: IO[bytes]) -> None:
        handle.write(header)
        for path in files:
            with path.open("rb") as part:
                first = part.readline()
                if first != header:
                    raise ValueError(f"{path}: unexpected header {first!r}")
                while chunk := part.read(1 << 20):
                    handle.write(chunk)

    return write


def _join_parquet(files: Sequence[Path], dataset: Dataset,
                  timezone: str) -> Callable[[IO[bytes]], None]:  # fmt: skip
    schema = dataset.schema(timezone)

    def write(handle: IO[bytes]) -> None:
        with pq.ParquetWriter(handle, schema, compression=PARQUET_COMPRESSION) as writer:
            for path in files:
                writer.write_table(pq.read_table(path, schema=schema))

    return write


def _publish_index(pub: Publication, entries: dict[str, FileEntry]) -> None:
    """The manifest and the pages beside it (README, LICENSE, index.html)."""
    write_manifest(pub.root, entries, pages.manifest_header(pub.province, pub.publisher))
    pages.write_pages(pub.root, pub.province, pub.publisher, pub.timezone, entries)


def stale_province_years(pub: Publication) -> dict[int, dt.datetime]:
    """Years whose province files are older than a station file of the year, or list
    another set of stations; with the newest station file's time."""
    entries = read_manifest(pub.root)
    stale: dict[int, dt.datetime] = {}
    years = {e.year for e in entries.values()}
    for year in years:
        of_year = [e for e in entries.values() if e.year == year]
        stations = [e for e in of_year if e.station_id is not None]
        province = [e for e in of_year if e.station_id is None]
        newest_station = max((e.last_modified for e in stations), default="")
        oldest_province = min((e.last_modified for e in province), default="")
        expected = {(e.dataset, e.format) for e in stations}
        present = {(e.dataset, e.format) for e in province}
        if expected != present or newest_station > oldest_province:
            stale[year] = dt.datetime.fromisoformat(
                (newest_station or utc_stamp()).replace("Z", "+00:00")
            )
    return stale


def station_years(conn: Connection, timezone: str, *, station_id: str | None = None,
                  year: int | None = None) -> list[tuple[str, int]]:  # fmt: skip
    """The (station, local year) pairs with hourly means or AQI rows, in order."""
    where = "WHERE station_id = %(station)s" if station_id else ""
    rows = conn.execute(
        f"""
        SELECT station_id, min(t), max(t) FROM (
            SELECT station_id, min(hour) AS t FROM hourly {where} GROUP BY station_id
            UNION ALL SELECT station_id, max(hour) FROM hourly {where} GROUP BY station_id
            UNION ALL SELECT station_id, min(hour) FROM aqi_hourly {where} GROUP BY station_id
            UNION ALL SELECT station_id, max(hour) FROM aqi_hourly {where} GROUP BY station_id
            UNION ALL SELECT station_id, min(day)::timestamp AT TIME ZONE %(timezone)s
                      FROM aqi_daily {where} GROUP BY station_id
            UNION ALL SELECT station_id, max(day)::timestamp AT TIME ZONE %(timezone)s
                      FROM aqi_daily {where} GROUP BY station_id
        ) AS spans GROUP BY station_id ORDER BY station_id
        """,
        {"station": station_id, "timezone": timezone},
    ).fetchall()
    zone = ZoneInfo(timezone)
    pairs = []
    for station, first, last in rows:
        for y in range(first.astimezone(zone).year, last.astimezone(zone).year + 1):
            if year is None or y == year:
                pairs.append((str(station), y))
    return pairs


def export(
    conn: Connection,
    pub: Publication,
    *,
    year: int | None = None,
    station_id: str | None = None,
    on_start: Callable[[int], None] | None = None,
    on_station_year: Callable[[str, int, ExportSummary], None] | None = None,
) -> ExportSummary:
    """Rewrite the files of every station-year with data (narrowed to ``year`` and/or
    ``station_id``), remove listed files whose data are gone, then the province files of
    the years concerned and the pages."""
    prepare_session(conn, pub.timezone)
    pairs = set(station_years(conn, pub.timezone, station_id=station_id, year=year))
    for entry in read_manifest(pub.root).values():  # files whose data may be gone
        if (
            entry.station_id is not None
            and (year is None or entry.year == year)
            and (station_id is None or entry.station_id == station_id)
        ):
            pairs.add((entry.station_id, entry.year))
    ordered = sorted(pairs, key=lambda p: (p[1], p[0]))
    if on_start:
        on_start(len(ordered))
    total = ExportSummary()
    for station, y in ordered:
        done = export_station_year(conn, pub, station, y)
        total.add(done)
        if on_station_year:
            on_station_year(station, y, done)
    for y in sorted({y for _, y in ordered}):
        province = rebuild_province_year(pub, y)
        total.files_written += province.files_written
        total.files_removed += province.files_removed
        total.bytes += province.bytes
        total.written += province.written
    if not ordered:
        with folder_lock(pub.root):
            _publish_index(pub, read_manifest(pub.root))
    return total


def export_pairs(conn: Connection, pub: Publication,
                 pairs: Iterable[tuple[str, int]]) -> ExportSummary:  # fmt: skip
    """Rewrite the given station-years (no province files)."""
    prepare_session(conn, pub.timezone)
    total = ExportSummary()
    for station, year in pairs:
        total.add(export_station_year(conn, pub, station, year))
    return total
