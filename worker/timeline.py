"""Hour and local-day numbers: the worker's integer time axis.

An *hour number* counts hours since 1970-01-01 00:00 UTC; hours are named by their
beginning. A *day number* counts local days since 1970-01-01 in the configured time zone
(Asia/Ho_Chi_Minh: UTC+7, no DST); a local day is the 24 hours from 00:00 local — what
Decision 1459 labels 01:00…24:00 — never a UTC-aligned day. Integers keep the work
plan and the matrices vectorised (numpy), and the mapping between hours and days is one
addition and one floor division.

Only zones with one whole-hour UTC offset all year are supported: a local day must be
24 whole UTC hours for the engine's day layout. Such zones are checked, not assumed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_DATE = dt.date(1970, 1, 1)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LocalCalendar:
    """Local days of a fixed whole-hour UTC offset."""

    timezone: str
    offset_hours: int

    @classmethod
    def for_timezone(cls, name: str) -> LocalCalendar:
        """The calendar of ``name``; ``ValueError`` if its days are not 24 whole hours."""
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone {name!r}: unknown time zone") from exc
        # Sample both halves of several years: a DST or historic change shows up here.
        offsets = {
            dt.datetime(year, month, 15, 12, tzinfo=zone).utcoffset()
            for year in range(2000, 2041)
            for month in (1, 7)
        }
        if len(offsets) != 1:
            raise ValueError(
                f"timezone {name!r}: the UTC offset changes (DST), local days vary in length"
            )
        offset = offsets.pop()
        assert offset is not None
        if offset % dt.timedelta(hours=1):
            raise ValueError(f"timezone {name!r}: offset {offset} is not a whole number of hours")
        return cls(name, offset // dt.timedelta(hours=1))

    def day_of_hour(self, hours: npt.ArrayLike) -> IntArray:
        """Local day number of each hour number."""
        return (np.asarray(hours, np.int64) + self.offset_hours) // 24

    def first_hour(self, days: npt.ArrayLike) -> IntArray:
        """Hour number of 00:00 local of each day number."""
        return np.asarray(days, np.int64) * 24 - self.offset_hours

    def day_number(self, day: dt.date) -> int:
        return (day - EPOCH_DATE).days

    def date_of(self, day_number: int) -> dt.date:
        return EPOCH_DATE + dt.timedelta(days=int(day_number))

    def day_start(self, day: dt.date) -> dt.datetime:
        """00:00 local of ``day`` as an aware UTC datetime."""
        return datetime_of_hour(int(self.first_hour(self.day_number(day))))


def hour_number(moment: dt.datetime) -> int:
    """Hour number of the hour containing ``moment`` (aware)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: a time zone is required")
    return int((moment - EPOCH) // dt.timedelta(hours=1))


def datetime_of_hour(hour: int) -> dt.datetime:
    """The UTC datetime at which hour number ``hour`` begins."""
    return EPOCH + dt.timedelta(hours=int(hour))
