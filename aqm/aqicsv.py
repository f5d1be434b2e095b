"""CSV in and out for ``aqm aqi compute``: read hourly means, validate, write AQI rows.

Input (one row per hourly mean; hours absent from the file are missing)::

    station_id,time,parameter,value
    BN01,2024-01-15T00:00:00+07:00,pm25,41.3

``time`` is ISO 8601 with a UTC offset and marks the *start* of the hour; ``parameter``
is one of ``pm25, pm10, o3, no2, so2, co``; ``value`` is µg/m³ (CO too).

File I/O lives here, outside :mod:`aqi`, which stays pure. Files are read and written
with pyarrow's CSV reader and writer (columnar, batch by batch); when that reading finds
anything it does not accept, an exact pass with Python's :mod:`csv` reads the file again
to name the line at fault, so every error names the file and the line
(``input.csv:17: unknown parameter 'pm1'``) and both passes accept the same files. Output
is written to a temporary file beside the target and renamed, so nothing is ever
half-written.
"""

from __future__ import annotations

import concurrent.futures
import csv
import datetime as dt
import io
import math
import os
import stat
import tempfile
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv

from aqi import AqiResult
from aqi.pollutants import POLLUTANTS
from aqm_core.errors import AqmError

INPUT_HEADER: Final[tuple[str, ...]] = ("station_id", "time", "parameter", "value")
SUBINDEX_COLUMNS: Final[tuple[str, ...]] = tuple(f"aqi_{p}" for p in POLLUTANTS)
HOUR_HEADER: Final[tuple[str, ...]] = (
    "station_id", "time", "aqi", "category", "dominant", *SUBINDEX_COLUMNS,
)  # fmt: skip
DAY_HEADER: Final[tuple[str, ...]] = (
    "station_id", "date", "aqi", "category", "dominant", *SUBINDEX_COLUMNS,
)  # fmt: skip
SECONDS_PER_HOUR: Final[int] = 3600
FIRST_TIME: Final[dt.datetime] = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
END_TIME: Final[dt.datetime] = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
"""Times accepted: from ``FIRST_TIME`` up to, not including, ``END_TIME`` (a typo guard)."""
MAX_STATION_HOURS: Final[int] = 10_000_000
"""Largest ``stations × hours`` grid one run lays out (the hourly AQI peaks near 2 GB)."""
BOM: Final[bytes] = "\ufeff".encode()
STRUCTURAL: Final[str] = ',"\r\n'
"""Characters that make the csv module quote a field (pyarrow's writer is told to quote none)."""
_TEXT: Final[pa.DataType] = pa.dictionary(pa.int32(), pa.string())
_SCAN_BLOCK: Final[int] = 1 << 20
SPLIT_MIN_BYTES: Final[int] = 1 << 24
"""Inputs from this size on are read in two halves side by side."""
RENDER_ROWS: Final[int] = 1 << 15
"""Output rows made at once (about 2 MB of text)."""
RELEASE_BATCHES: Final[int] = 16
"""Batches of input (of about 1 MB) decoded between returns of freed memory to the system."""


class AqiCsvError(AqmError, ValueError):
    """Invalid input; the message starts with ``file:line:`` when a line is at fault."""


@dataclass(frozen=True)
class HourlyReadings:
    """Validated hourly means of a CSV file, as parallel arrays (one item per row).

    Attributes
    ----------
    stations : tuple of str
        Station ids, sorted; ``station`` indexes it.
    station, hour, parameter : ndarray of int32
        Station index, hour (UTC hours since the epoch, hour-beginning), and index into
        :data:`aqi.pollutants.POLLUTANTS`.
    value : ndarray of float64
        µg/m³.
    """

    stations: tuple[str, ...]
    station: npt.NDArray[np.int32]
    hour: npt.NDArray[np.int32]
    parameter: npt.NDArray[np.int32]
    value: npt.NDArray[np.float64]


def read_hourly_file(path: Path, name: str) -> HourlyReadings:
    """Parse and validate the input CSV at ``path`` (see the module docstring).

    ``name`` is used in error messages. Raises ``OSError`` if the file cannot be read,
    ``UnicodeDecodeError`` if it is not UTF-8, and :class:`AqiCsvError` as
    :func:`read_hourly_csv` does.
    """
    with path.open("rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return read_hourly_bytes(handle.read(), name)  # a pipe cannot be read twice
        start = handle.read(len(BOM) + len(",".join(INPUT_HEADER)) + 2)
        quoted = b'"' in start or _contains_quote(handle)
    readings = _read_columnar(str(path), start, quoted)
    if readings is not None:
        return readings
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return read_hourly_csv(stream, name)


def read_hourly_bytes(data: bytes, name: str) -> HourlyReadings:
    """:func:`read_hourly_file` for input already in memory (standard input)."""
    readings = _read_columnar(pa.py_buffer(data), data[:64], b'"' in data)
    if readings is not None:
        return readings
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    return read_hourly_csv(stream, name)


def _contains_quote(handle: io.BufferedReader) -> bool:
    while block := handle.read(_SCAN_BLOCK):
        if b'"' in block:
            return True
    return False


def _read_columnar(source: str | pa.Buffer, start: bytes, quoted: bool) -> HourlyReadings | None:
    """The readings by pyarrow's CSV reader, or None where the exact pass must decide.

    None for anything the exact pass might reject or read otherwise: a header not exactly
    ``station_id,time,parameter,value``, a parse or conversion error, a field the exact pass
    would strip, empty or overlong text, an unknown parameter, a time that fails the exact
    pass's own check, a non-finite value, a duplicate or too large a grid. Quoted line
    breaks need pyarrow's slower parsing, chosen only when the input has a quote.

    The text columns are read dictionary-encoded, so each distinct station, time and
    parameter is checked and converted once, in Python, and the rows only by array
    lookups. A large file is read in two halves side by side (:func:`_read_tables`).
    """
    header = ",".join(INPUT_HEADER).encode()
    start = start.removeprefix(BOM)
    if not (start == header or start.startswith((header + b"\n", header + b"\r\n"))):
        return None
    try:
        tables = _read_tables(source, quoted)
    except (pa.ArrowException, UnicodeDecodeError, OSError):
        return None
    if any(table.schema.names != list(INPUT_HEADER) for table in tables):
        return None
    table = pa.concat_tables(tables)
    del tables
    if not table.num_rows:
        return _no_readings()
    batches = table.to_batches()
    del table  # each batch is let go of once it is decoded
    pool = pa.default_memory_pool()
    pool.release_unused()  # the reader's own buffers
    limit = csv.field_size_limit()
    try:
        station_ids = sorted(_distinct(batches, 0))
        for text in station_ids:
            if not text or text != text.strip() or len(text) > limit:
                raise _Unaccepted
        codes = (
            {text: i for i, text in enumerate(station_ids)},  # numbered in sorted order
            {text: _hour_code(text, limit) for text in _distinct(batches, 1)},
            {text: _parameter_code(text) for text in _distinct(batches, 2)},
        )
    except _Unaccepted:
        return None
    n_rows = sum(len(batch) for batch in batches)
    columns = tuple(np.empty(n_rows, dtype=np.int32) for _ in codes)
    value = np.empty(n_rows, dtype=np.float64)
    row = 0
    while batches:
        batch = batches.pop(0)
        rows = slice(row, row + len(batch))
        for column, code, out in zip(batch.columns, codes, columns, strict=False):
            lookup = np.array([code[text] for text in _texts(column)], dtype=np.int32)
            np.take(lookup, column.indices.to_numpy(), out=out[rows])
        value[rows] = batch.column(3).to_numpy()
        row += len(batch)
        del batch
        if len(batches) % RELEASE_BATCHES == 0:
            pool.release_unused()  # the decoded batches' buffers, as the arrays fill
    if not np.isfinite(value).all():
        return None
    readings = HourlyReadings(tuple(station_ids), columns[0], columns[1], columns[2], value)
    if _grid_too_large(readings) or _has_duplicates(readings):
        return None
    return readings


def _read_tables(source: str | pa.Buffer, quoted: bool) -> list[pa.Table]:
    """The rows of ``source`` as tables, in order: its two halves read side by side.

    Each half is read by pyarrow on one thread (its own threads, each taking small
    blocks, made the command slower on two shared cores; two halves hand over once).
    The second half starts after the first line break past the middle, and is read as
    lines without a header; a file with quotes (line breaks may be quoted) is read whole.
    """
    size = len(source) if isinstance(source, pa.Buffer) else os.path.getsize(source)
    split = size if quoted or size < SPLIT_MIN_BYTES else _line_start_after(source, size // 2, size)
    if split >= size:
        return [_read_table(_input(source, 0, size), header=True, quoted=quoted)]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        second = pool.submit(_read_table, _input(source, split, size), header=False, quoted=False)
        first = _read_table(_input(source, 0, split), header=True, quoted=False)
        return [first, second.result()]


def _line_start_after(source: str | pa.Buffer, position: int, size: int) -> int:
    """The offset just past the first ``\\n`` in the block of bytes from ``position`` on
    (``size``, the end, if there is none there)."""
    if isinstance(source, pa.Buffer):
        block = bytes(memoryview(source)[position : position + _SCAN_BLOCK])
    else:
        with open(source, "rb") as handle:
            handle.seek(position)
            block = handle.read(_SCAN_BLOCK)
    found = block.find(b"\n")
    return position + found + 1 if found >= 0 else size


def _input(source: str | pa.Buffer, start: int, end: int) -> pa.NativeFile:
    """Bytes ``start`` to ``end`` of ``source`` as a pyarrow input stream."""
    if isinstance(source, pa.Buffer):
        return pa.BufferReader(source.slice(start, end - start))
    return pa.PythonFile(io.BufferedReader(_FileRange(source, start, end), _SCAN_BLOCK), mode="r")


class _FileRange(io.RawIOBase):
    """Bytes ``start`` to ``end`` of the file at ``path``, as a file of their own."""

    def __init__(self, path: str, start: int, end: int) -> None:
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")[: self._left]
        n = self._file.readinto(view) or 0
        self._left -= n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def _read_table(stream: pa.NativeFile, *, header: bool, quoted: bool) -> pa.Table:
    with stream:
        return pa_csv.read_csv(
            stream,
            read_options=pa_csv.ReadOptions(
                use_threads=False, column_names=None if header else list(INPUT_HEADER)
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=quoted),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(INPUT_HEADER[:3], _TEXT) | {"value": pa.float64()},
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )


class _Unaccepted(Exception):  # noqa: N818 - internal signal, never escapes
    """Text the columnar reading leaves to the exact pass."""


def _texts(column: pa.DictionaryArray) -> list[str]:
    texts: list[str] = column.dictionary.to_pylist()
    return texts


def _distinct(batches: list[pa.RecordBatch], index: int) -> set[str]:
    """The texts of a dictionary-encoded column, each once."""
    return {text for batch in batches for text in _texts(batch.column(index))}


def _hour_code(text: str, limit: int) -> int:
    """:func:`_parse_hour`, for text the exact pass would read the same way."""
    if text != text.strip() or len(text) > limit:
        raise _Unaccepted
    try:
        return _parse_hour(text, "")
    except AqiCsvError:
        raise _Unaccepted from None


_PARAMETER_INDEX: Final[dict[str, int]] = {p: i for i, p in enumerate(POLLUTANTS)}


def _parameter_code(text: str) -> int:
    if text not in _PARAMETER_INDEX:
        raise _Unaccepted
    return _PARAMETER_INDEX[text]


def _no_readings() -> HourlyReadings:
    empty = np.zeros(0, dtype=np.int32)
    return HourlyReadings((), empty, empty, empty, np.zeros(0, dtype=np.float64))


def _grid_too_large(readings: HourlyReadings) -> bool:
    n_hours = int(readings.hour.max() - readings.hour.min()) + 1
    return len(readings.stations) * n_hours > MAX_STATION_HOURS


def _has_duplicates(readings: HourlyReadings) -> bool:
    """Whether a station-hour-parameter repeats (the grid is known to fit in memory)."""
    first = int(readings.hour.min())
    n_hours = int(readings.hour.max()) - first + 1
    # Computed in place in one array of keys (below 2**31 as the grid fits).
    key = readings.station.astype(np.intp)
    key *= n_hours
    key += readings.hour
    key -= first
    key *= len(POLLUTANTS)
    key += readings.parameter
    seen = np.zeros(len(readings.stations) * n_hours * len(POLLUTANTS), dtype=np.bool_)
    seen[key] = True
    return int(np.count_nonzero(seen)) < len(key)


def read_hourly_csv(stream: TextIO, name: str) -> HourlyReadings:
    """Parse and validate an input CSV record by record, naming the line of any error.

    The exact pass behind :func:`read_hourly_file` and :func:`read_hourly_bytes`.

    Parameters
    ----------
    stream : text file
        Opened with ``newline=""``.
    name : str
        File name used in error messages.

    Raises
    ------
    AqiCsvError
        Unreadable CSV (e.g. a field over the csv module's size limit), bad header, wrong
        number of fields, empty station, unparsable or offset-less time, time not at the
        start of an hour or outside 1970-2199 (UTC), unknown parameter, unparsable or
        non-finite value, duplicate station-hour-parameter, more than
        :data:`MAX_STATION_HOURS` stations × hours. The line named is the one the record
        starts on; a record spanning several lines (quotes) says so.
    """
    expected = ",".join(INPUT_HEADER)
    records = _records(stream, name)
    record = next(records, None)
    if record is None:
        raise AqiCsvError(f"{name}:1: empty file, expected the header {expected}")
    header, first, last = record
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if tuple(field.strip() for field in header) != INPUT_HEADER:
        got = ",".join(header)
        raise AqiCsvError(_at(name, first, last, f"expected the header {expected}, got {got}"))
    parameter_index = {p: i for i, p in enumerate(POLLUTANTS)}
    station_ids: list[str] = []
    hours: list[int] = []
    parameters: list[int] = []
    values: list[float] = []
    lines: list[int] = []
    hour_cache: dict[str, int] = {}
    for row, first, last in records:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        try:
            station_id, hour, parameter, value = _parse_row(
                row, f"{name}:{first}", parameter_index, hour_cache
            )
        except AqiCsvError as exc:
            raise AqiCsvError(f"{exc}{_span_note(first, last)}") from None
        station_ids.append(station_id)
        hours.append(hour)
        parameters.append(parameter)
        values.append(value)
        lines.append(first)

    stations = tuple(sorted(set(station_ids)))
    position = {s: i for i, s in enumerate(stations)}
    readings = HourlyReadings(
        stations=stations,
        station=np.array([position[s] for s in station_ids], dtype=np.int32),
        hour=np.array(hours, dtype=np.int32),
        parameter=np.array(parameters, dtype=np.int32),
        value=np.array(values, dtype=np.float64),
    )
    line_array = np.array(lines, dtype=np.int64)
    _reject_duplicates(readings, line_array, name)
    _reject_oversized_grid(readings, line_array, name)
    return readings


def _records(stream: TextIO, name: str) -> Iterator[tuple[list[str], int, int]]:
    """Each CSV record with the lines it starts and ends on (a quoted field may span lines).

    ``reader.line_num`` is the line a record *ends* on; the next one starts on the line after.
    """
    reader = csv.reader(stream)
    while True:
        first = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise AqiCsvError(_at(name, first, reader.line_num, f"unreadable CSV: {exc}")) from None
        yield row, first, reader.line_num


def _span_note(first: int, last: int) -> str:
    if last <= first:
        return ""
    return (
        f" (the record starting on line {first} spans lines {first}-{last}: "
        "a line break inside quotes; an unclosed quote?)"
    )


def _at(name: str, first: int, last: int, message: str) -> str:
    """``name:line: message`` for the record starting on ``first`` and ending on ``last``."""
    return f"{name}:{first}: {message}{_span_note(first, last)}"


def _parse_row(
    row: list[str], where: str, parameter_index: dict[str, int], hour_cache: dict[str, int]
) -> tuple[str, int, int, float]:
    """Station id, hour, parameter index and value of one record; ``where`` is ``file:line``."""
    if len(row) != len(INPUT_HEADER):
        raise AqiCsvError(f"{where}: expected 4 fields, got {len(row)}")
    station_id, time_text, parameter, value_text = (field.strip() for field in row)
    if not station_id:
        raise AqiCsvError(f"{where}: empty station_id")
    hour = hour_cache.get(time_text)
    if hour is None:
        hour = _parse_hour(time_text, where)
        hour_cache[time_text] = hour
    if parameter not in parameter_index:
        raise AqiCsvError(
            f"{where}: unknown parameter {parameter!r} (expected one of {', '.join(POLLUTANTS)})"
        )
    try:
        value = float(value_text)
    except ValueError:
        raise AqiCsvError(f"{where}: unparsable value {value_text!r}") from None
    if not math.isfinite(value):
        raise AqiCsvError(f"{where}: value {value_text!r} is not a finite number")
    return station_id, hour, parameter_index[parameter], value


def _parse_hour(text: str, where: str) -> int:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise AqiCsvError(f"{where}: unparsable time {text!r} (expected ISO 8601)") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AqiCsvError(f"{where}: time {text!r} has no UTC offset (e.g. +07:00)")
    if not FIRST_TIME <= moment < END_TIME:
        raise AqiCsvError(
            f"{where}: time {text!r} is outside the accepted range, 1970-01-01T00:00Z to "
            "2199-12-31T23:00Z (a typo in the year?)"
        )
    seconds = moment.timestamp()
    if seconds % SECONDS_PER_HOUR:
        raise AqiCsvError(f"{where}: time {text!r} is not the start of an hour")
    return int(seconds) // SECONDS_PER_HOUR


def _reject_duplicates(readings: HourlyReadings, lines: npt.NDArray[np.int64], name: str) -> None:
    if len(lines) < 2:
        return
    n_hours = int(readings.hour.max() - readings.hour.min()) + 1
    station = readings.station.astype(np.int64)
    key = (station * n_hours + (readings.hour - readings.hour.min())) * len(
        POLLUTANTS
    ) + readings.parameter
    order = np.argsort(key, kind="stable")  # equal keys stay in file order
    repeated = np.flatnonzero(key[order][1:] == key[order][:-1]) + 1
    if not len(repeated):
        return
    later = order[repeated]
    worst = later[np.argmin(lines[later])]  # the earliest line that repeats an earlier one
    first = order[np.searchsorted(key[order], key[worst])]
    raise AqiCsvError(
        f"{name}:{lines[worst]}: duplicate station-hour-parameter "
        f"({readings.stations[readings.station[worst]]}, "
        f"{hour_text(int(readings.hour[worst]), dt.UTC)}, "
        f"{POLLUTANTS[readings.parameter[worst]]}); first on line {lines[first]}"
    )


def _reject_oversized_grid(
    readings: HourlyReadings, lines: npt.NDArray[np.int64], name: str
) -> None:
    """Refuse a ``stations × hours`` grid too big for memory (usually a typo in a year)."""
    if not len(lines):
        return
    first, last = int(np.argmin(readings.hour)), int(np.argmax(readings.hour))
    n_hours = int(readings.hour[last] - readings.hour[first]) + 1
    n_stations = len(readings.stations)
    if n_stations * n_hours <= MAX_STATION_HOURS:
        return
    raise AqiCsvError(
        f"{name}: the times run from {hour_text(int(readings.hour[first]), dt.UTC)} "
        f"(line {lines[first]}) to {hour_text(int(readings.hour[last]), dt.UTC)} "
        f"(line {lines[last]}): {n_hours:,} hours for {n_stations:,} stations make "
        f"{n_stations * n_hours:,} station-hours, more than the {MAX_STATION_HOURS:,} one "
        "run lays out in memory; a typo in a year? Otherwise split the input by time or "
        "by station"
    )


def hour_text(hour: int, zone: dt.tzinfo) -> str:
    """ISO 8601 text of the hour starting at ``hour`` (UTC hours since the epoch) in ``zone``."""
    return dt.datetime.fromtimestamp(hour * SECONDS_PER_HOUR, tz=zone).isoformat()


def resolve_timezone(name: str) -> dt.tzinfo:
    """An IANA zone (``Asia/Ho_Chi_Minh``) or ``UTC``; ``AqiCsvError`` if unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a folder of the tz database ("Asia"), a name too long for a file name.
        raise AqiCsvError(
            f"unknown time zone {name!r} (use an IANA name such as Asia/Ho_Chi_Minh or UTC)"
        ) from None


def fixed_offset_hours(zone: dt.tzinfo, first_hour: int, last_hour: int) -> int:
    """The zone's UTC offset in whole hours over the data; error if it changes or is fractional.

    Local days must be 24 hours long for the daily AQI (spec §1.6: local day = 24 hours
    starting 00:00 Asia/Ho_Chi_Minh, UTC+7, no DST).
    """
    offsets = set()
    # Weekly samples catch any DST switch (they last months) without visiting every hour.
    for hour in [*range(first_hour, last_hour + 1, 24 * 7), last_hour]:
        moment = dt.datetime.fromtimestamp(hour * SECONDS_PER_HOUR, tz=zone)
        offsets.add(moment.utcoffset())
    if len(offsets) != 1:
        raise AqiCsvError(f"time zone {zone} changes its UTC offset within the data (DST)")
    offset = offsets.pop()
    seconds = 0 if offset is None else int(offset.total_seconds())
    if seconds % SECONDS_PER_HOUR:
        raise AqiCsvError(f"time zone {zone} is not a whole number of hours from UTC")
    return seconds // SECONDS_PER_HOUR


@dataclass(frozen=True)
class StationHourGrid:
    """Readings laid out as ``stations × hours`` arrays for the engine.

    ``conc[p][s, k]`` is the mean of the hour starting ``first_hour + k`` (UTC hours since
    the epoch); ``present[s, k]`` says whether the file had any row for that station-hour.
    """

    first_hour: int
    conc: dict[str, npt.NDArray[np.float64]]
    present: npt.NDArray[np.bool_]


def to_grid(readings: HourlyReadings, first_hour: int, n_hours: int) -> StationHourGrid:
    """Place readings on an hour grid starting at ``first_hour`` (missing hours NaN)."""
    shape = (len(readings.stations), n_hours)
    size = shape[0] * shape[1]
    # Each row's place in a flattened grid, found once for all pollutants.
    cell = readings.station.astype(np.intp)
    cell *= n_hours
    cell += readings.hour
    cell -= first_hour
    present = np.zeros(size, dtype=bool)
    present[cell] = True
    found = np.flatnonzero(np.bincount(readings.parameter, minlength=len(POLLUTANTS)))
    slot = np.zeros(len(POLLUTANTS), dtype=np.intp)
    slot[found] = np.arange(len(found))
    # The pollutants' grids side by side in one array, filled in one step.
    offset = slot[readings.parameter]
    offset *= size
    cell += offset
    del offset
    grids = np.full((len(found), *shape), np.nan)
    grids.reshape(-1)[cell] = readings.value
    conc = {POLLUTANTS[index]: grids[i] for i, index in enumerate(found.tolist())}
    return StationHourGrid(first_hour, conc, present.reshape(shape))


def _integer_text(values: npt.NDArray[np.float64]) -> list[str]:
    return ["" if math.isnan(v) else str(int(v)) for v in values.tolist()]


def render_result(
    header: Sequence[str],
    result: AqiResult,
    stations: Sequence[str],
    labels: Sequence[str],
    selected: npt.NDArray[np.bool_],
) -> Iterator[memoryview]:
    """The output CSV (UTF-8, in pieces) for the selected cells of a ``stations × periods`` result.

    ``labels[k]`` is the text of period ``k`` (time or date). The category is the
    method's own name (Vietnamese for VN_AQI, English for US EPA). Rows go station by
    station, period by period; empty fields where a value is not computable. Written by
    pyarrow's CSV writer, unless a station id needs quotes (then the csv module).

    The pieces are made as they are asked for, so a writer that lets go of each piece
    holds one block of rows of text at a time, not the whole output.
    """
    if any(c in station for station in stations for c in STRUCTURAL):
        text = render_csv(header, result_rows(result, stations, labels, selected))
        yield memoryview(text.encode())
        return
    language = "vi" if result.method == "vn_1459_2019" else "en"
    rounded = result.subindex_rounded
    texts = _Texts(
        station=pa.array(list(stations), type=pa.string()),
        period=pa.array(list(labels), type=pa.string()),
        category=pa.array(
            [c.name_vi if language == "vi" else c.name_en for c in result.categories],
            type=pa.string(),
        ),
        dominant=pa.array(list(POLLUTANTS), type=pa.string()),
        number=_number_texts([result.aqi, *rounded.values()]),
    )
    aqi = result.aqi.ravel()
    category = result.category.ravel()
    dominant = result.dominant.ravel()
    subindex = {p: rounded[p].ravel() for p in rounded}
    n_periods = selected.shape[-1]
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")

    def render(cells: npt.NDArray[np.intp]) -> memoryview:
        station_index, period_index = np.divmod(cells, n_periods)
        columns = [
            _labelled(station_index, texts.station),
            _labelled(period_index, texts.period),
            _number_labels(aqi[cells], texts.number),
            _labelled(category[cells], texts.category),
            _labelled(dominant[cells], texts.dominant),
            *(
                _number_labels(subindex[p][cells], texts.number)
                if p in subindex
                else pa.nulls(len(cells))
                for p in POLLUTANTS
            ),
        ]
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(pa.Table.from_arrays(columns, names=list(header)), sink, options)
        return memoryview(sink.getvalue())

    yield memoryview((",".join(header) + "\n").encode())
    # Flat positions in row order (station by station, period by period), in blocks of
    # rows, each its own piece of text: the columns' temporaries stay small, and no
    # growing buffer is copied into a larger one.
    cells = np.flatnonzero(selected)
    blocks = (cells[start : start + RENDER_ROWS] for start in range(0, len(cells), RENDER_ROWS))
    yield from map(render, blocks)


@dataclass(frozen=True)
class _Texts:
    """The texts of the output's fields, looked up by index (pyarrow's writer is fastest
    with plain text; it would format integers and decode dictionaries row by row)."""

    station: pa.Array
    period: pa.Array
    category: pa.Array
    dominant: pa.Array
    number: pa.Array | None
    """``number[i]`` is the text of the whole number ``i``; None if the range is too wide."""


MAX_NUMBER_TEXTS: Final[int] = 100_000


def _number_texts(numbers: Sequence[npt.NDArray[np.float64]]) -> pa.Array | None:
    """Texts of the whole numbers 0 … the largest in ``numbers``, or None if any is negative
    or the largest is above :data:`MAX_NUMBER_TEXTS`."""
    # fmin/fmax skip NaN; NaN only when every value is NaN.
    low = min((float(np.fmin.reduce(v, axis=None)) for v in numbers if v.size), default=np.nan)
    high = max((float(np.fmax.reduce(v, axis=None)) for v in numbers if v.size), default=np.nan)
    if math.isnan(low) or math.isnan(high):
        return None
    if low < 0 or high > MAX_NUMBER_TEXTS:
        return None
    return pa.array([str(number) for number in range(int(high) + 1)], type=pa.string())


def _labelled(index: npt.NDArray[np.integer], texts: pa.Array) -> pa.Array:
    """Texts by index; null (an empty field) where the index is negative."""
    missing = index < 0
    mask = missing if missing.any() else None
    indices = pa.array(np.maximum(index, 0).astype(np.int32), mask=mask)
    return texts.take(indices)


def _number_labels(values: npt.NDArray[np.float64], texts: pa.Array | None) -> pa.Array:
    """Whole numbers as text (truncated toward zero); null (an empty field) where NaN."""
    missing = np.isnan(values)
    whole = np.where(missing, 0.0, values).astype(np.int64)
    mask = missing if missing.any() else None
    if texts is None:
        return pa.array(whole, mask=mask)  # formatted by the writer
    return texts.take(pa.array(whole, mask=mask))


def result_rows(
    result: AqiResult,
    stations: Sequence[str],
    labels: Sequence[str],
    selected: npt.NDArray[np.bool_],
) -> Iterable[list[str]]:
    """The rows of :func:`render_result` as lists of text (for the csv module)."""
    station_index, period_index = np.nonzero(selected)
    language = "vi" if result.method == "vn_1459_2019" else "en"
    category = result.category_names(language)[station_index, period_index].tolist()
    dominant = result.dominant_names()[station_index, period_index].tolist()
    aqi = _integer_text(result.aqi[station_index, period_index])
    rounded = result.subindex_rounded
    empty = [""] * len(station_index)
    subindex_columns = [
        _integer_text(rounded[p][station_index, period_index]) if p in rounded else empty
        for p in POLLUTANTS
    ]
    for i, (s, k) in enumerate(zip(station_index.tolist(), period_index.tolist(), strict=True)):
        yield [
            stations[s], labels[k], aqi[i], category[i], dominant[i],
            *(column[i] for column in subindex_columns),
        ]  # fmt: skip


def write_rows(stream: TextIO, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def write_atomically(path: Path, data: str | bytes | Iterable[memoryview]) -> None:
    """Write ``data`` (text as UTF-8; or pieces in order) to a temporary file beside ``path``
    and rename it over ``path``.

    Readers see the old file or the complete new one, never a partial file: if making a
    piece fails, the temporary file is removed and ``path`` is left as it was.
    """
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, str | bytes):
                handle.write(data.encode() if isinstance(data, str) else data)
            else:
                handle.writelines(data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The whole output as text (so it can be written in one atomic step)."""
    buffer = io.StringIO()
    write_rows(buffer, header, rows)
    return buffer.getvalue()
