"""What makes a decoded measurement time storable, whatever format it came in.

ISO 8601 offsets are hours and minutes; PostgreSQL's ``timestamptz`` input accepts a
displacement of at most 15 hours 59 minutes (its ``MAX_TZDISP_HOUR``), and real zones
lie between −12:00 and +14:00. A time with an offset beyond ±15:59, or one with seconds
in its offset, is refused here as ``bad_timestamp`` instead of being stored and later
breaking a batch (``time zone displacement out of range``). An instant that cannot be
written in UTC within years 1–9999 (``9999-12-31T23:59:59-15:59``) is refused too: every
later step converts to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_OFFSET = timedelta(hours=15, minutes=59)


def format_offset(offset: timedelta) -> str:
    """``+07:00``, ``-15:59``, ``+23:59:30`` for an offset."""
    sign = "-" if offset < timedelta(0) else "+"
    seconds = int(abs(offset).total_seconds())
    text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def time_problem(ts: datetime) -> str | None:
    """Why ``ts`` cannot be stored as a measurement time, or None when it can."""
    offset = ts.utcoffset()
    if offset is None:
        return "time has no UTC offset"
    if not -MAX_OFFSET <= offset <= MAX_OFFSET:
        return (
            f"UTC offset {format_offset(offset)} is outside ±15:59"
            " (ISO 8601 hours and minutes, PostgreSQL's limit)"
        )
    # seconds and microseconds of a negative timedelta are normalised positive
    if offset.seconds % 60 or offset.microseconds:
        return f"UTC offset {format_offset(offset)} has seconds (ISO 8601 offsets do not)"
    if ts.year in (1, 9999):  # only there can an offset carry the instant out of range
        try:
            ts.astimezone(UTC)
        except OverflowError:
            return "time is outside years 1–9999 in UTC"
    return None
