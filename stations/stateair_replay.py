"""Replay a real hourly PM2.5 series (US State Department "StateAir" files) as one station.

The files in ``../shared/data`` (``stateair_Hanoi_PM2.5_*.csv``; provenance in its
SOURCES.md §1) have the header ``Site,Parameter,Date (LT),Year,Month,Day,Hour,NowCast
Conc.,AQI,AQI Category,Raw Conc.,Conc. Unit,Duration,QC Name``. ``Raw Conc.`` is the
1-hour mean in µg/m³, ``-999`` when missing; ``Date (LT)`` is local time (UTC+7) and
labels the END of the hour (a year runs from 01:00 on 1 January to 00:00 on 1 January
of the next), so the value is published at the hour's BEGINNING, in UTC — the hour
convention of the whole project.

On the US daylight-saving start date (second Sunday of March) the files skip the label
``02:00 AM`` and write ``03:00 AM`` twice, although Vietnam has no DST; the rows stay a
continuous hourly sequence, so the first of two equal labels is read as the hour before
(SOURCES.md §1, "US-DST label artefact").

Missing values and rows the publisher marked ``Invalid`` or ``Missing`` are not sent
(a gap); ``Valid`` and ``Suspect`` values are sent as the file has them, small negative
ones included (ingest records those as out of range, as it would from a real station).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from aqm_core.errors import AqmError
from ingest.topics import TopicLayout
from stations.payload_formats import PayloadFormat, SimulatedReading, encode, unit_sent
from stations.simulator import DEFAULT_TOPICS, Publication

STATEAIR_COLUMNS = (
    "Site", "Parameter", "Date (LT)", "Year", "Month", "Day", "Hour", "NowCast Conc.", "AQI",
    "AQI Category", "Raw Conc.", "Conc. Unit", "Duration", "QC Name",
)
MISSING = -999.0
NOT_SENT_QC = ("Invalid", "Missing")
# The files' local time: Vietnam, UTC+7, no daylight saving.
STATEAIR_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR = timedelta(hours=1)


class StateAirFileError(AqmError, ValueError):
    """The file is not a StateAir hourly file; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class HourlyValue:
    """One hour of the series: its beginning in UTC and the raw 1-hour mean (µg/m³)."""

    hour: datetime
    value: float
    qc: str


def read_stateair(path: Path) -> list[HourlyValue]:
    """The hours of ``path`` that carry a usable raw concentration, in file order."""
    values: list[HourlyValue] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header) != STATEAIR_COLUMNS:
                raise StateAirFileError(
                    f"{path}:1: not a StateAir hourly file; expected the header "
                    f"{','.join(STATEAIR_COLUMNS)}"
                )
            index = {name: i for i, name in enumerate(STATEAIR_COLUMNS)}
            previous_label: datetime | None = None
            previous_kept = False
            for number, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(STATEAIR_COLUMNS):
                    raise StateAirFileError(f"{path}:{number}: {len(row)} columns, expected "
                                            f"{len(STATEAIR_COLUMNS)}")
                label = row[index["Date (LT)"]]
                try:
                    end_local = datetime.strptime(label, "%Y-%m-%d %I:%M %p")
                    raw = float(row[index["Raw Conc."]])
                except ValueError as exc:
                    raise StateAirFileError(f"{path}:{number}: {exc}") from exc
                unit = row[index["Conc. Unit"]].strip().upper()
                if unit != "UG/M3":
                    raise StateAirFileError(f"{path}:{number}: unit {unit!r}, expected UG/M3")
                if end_local == previous_label and previous_kept:
                    before = values[-1]
                    values[-1] = HourlyValue(before.hour - HOUR, before.value, before.qc)
                previous_label = end_local
                qc = row[index["QC Name"]].strip()
                previous_kept = not (raw == MISSING or not math.isfinite(raw)
                                     or qc in NOT_SENT_QC)
                if not previous_kept:
                    continue
                start_local = end_local.replace(tzinfo=STATEAIR_TZ) - HOUR
                values.append(HourlyValue(start_local.astimezone(UTC), raw, qc))
    except OSError as exc:
        raise StateAirFileError(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise StateAirFileError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    return values


def shift_to_recent(values: list[HourlyValue], now: datetime) -> timedelta:
    """A shift by whole weeks that puts the series' last hour within the week before ``now``.

    Whole weeks keep the hour of day and the day of the week (traffic patterns); the
    season moves by about a day and a quarter per year of shift.
    """
    if not values:
        return timedelta(0)
    last = max(v.hour for v in values)
    weeks = (now - HOUR - last) // timedelta(weeks=1)
    return timedelta(weeks=weeks)


def replay(
    values: Iterable[HourlyValue],
    station_id: str,
    fmt: PayloadFormat = "aqm_json",
    *,
    shift: timedelta = timedelta(0),
    start: datetime | None = None,
    end: datetime | None = None,
    topics: TopicLayout = DEFAULT_TOPICS,
    local_tz: tzinfo = STATEAIR_TZ,
) -> Iterator[Publication]:
    """One publication per hour: the hour's PM2.5 for ``station_id``, stamped at its start.

    ``shift`` moves every hour (see :func:`shift_to_recent`); ``start`` and ``end``
    select shifted hours (``start`` inclusive, ``end`` exclusive).
    """
    topic = topics.readings(station_id)
    for item in sorted(values, key=lambda v: v.hour):
        hour = item.hour + shift
        if (start is not None and hour < start) or (end is not None and hour >= end):
            continue
        reading = SimulatedReading(station_id, "pm25", hour, item.value,
                                   unit_sent(fmt, "pm25"), "00")
        yield Publication(topic, encode(fmt, [reading], local_tz), [reading], hour, fmt)
