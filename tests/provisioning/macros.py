"""Grafana's PostgreSQL query interpolation, re-implemented so panel SQL can run without Grafana.

Grafana turns a panel's ``rawSql`` into the SQL it sends in three steps, reproduced here
in the same order:

1. template variables (``$station``, ``${station}``, ``[[station]]``, ``${station:csv}``…)
   are replaced by the front end, with the SQL data sources' quoting rules: a single-value
   variable is inserted with ``'`` doubled (the query supplies the quotes), a multi-value or
   include-all variable becomes a comma-separated list of quoted literals, ``$__all`` expands
   to every option unless the variable has a custom "all" value, which goes in raw;
2. the global substitutions ``$__interval_ms``, ``$__interval``, ``$__unixEpochFrom()`` and
   ``$__unixEpochTo()`` (plain string replacement, ``_ms`` first);
3. the data source macros ``$name(args)`` (``$__timeFilter``, ``$__timeFrom``,
   ``$__timeGroup``…), matched by the regex ``\\$([_a-zA-Z0-9]+)\\(([^\\)]*)\\)``; an unknown
   macro is an error, and ``$__timeGroup(...)`` directly followed by ``,`` is rewritten to
   the alias form (Grafana's pre-5.3 compatibility rule).

Times are the panel's range converted to UTC and written in Go's RFC 3339 "nano" layout
(fraction without trailing zeros, ``Z``). See docs/grafana.md and the shared note on
Grafana's macros (§D4) for the sources.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aqm_core.errors import AqmError

ALL_VALUE = "$__all"
"""The value Grafana stores when "All" is selected in an include-all variable."""

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
# Grafana's front-end variable syntax: $name | [[name:format]] | ${name.path:format}
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}"
)
_DATE_UNIT = re.compile(r"^(\d+)([dwMy])$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS: dict[str, dt.timedelta] = {
    "ns": dt.timedelta(microseconds=0.001),
    "us": dt.timedelta(microseconds=1),
    "µs": dt.timedelta(microseconds=1),
    "ms": dt.timedelta(milliseconds=1),
    "s": dt.timedelta(seconds=1),
    "m": dt.timedelta(minutes=1),
    "h": dt.timedelta(hours=1),
}


class MacroError(AqmError, ValueError):
    """A macro Grafana would refuse (unknown name, missing or unparsable argument)."""


@dataclass(frozen=True)
class TimeRange:
    """A dashboard or alert time range; both ends must be timezone-aware."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("TimeRange needs timezone-aware datetimes")
        if self.start > self.end:
            raise ValueError(f"TimeRange starts after it ends: {self.start} > {self.end}")


@dataclass(frozen=True)
class VariableValue:
    """The current value of a dashboard template variable.

    ``selected`` holds the chosen values (``("$__all",)`` for "All"); ``options`` every
    value the variable offers (what "All" expands to); ``all_value`` a custom "all" value
    (inserted raw, as Grafana does).
    """

    selected: tuple[str, ...]
    multi: bool = False
    include_all: bool = False
    options: tuple[str, ...] = ()
    all_value: str | None = None

    @classmethod
    def single(cls, value: str) -> VariableValue:
        return cls((value,))


def rfc3339_nano(moment: dt.datetime) -> str:
    """``moment`` in UTC, formatted like Go's ``time.RFC3339Nano``."""
    utc = moment.astimezone(dt.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_interval(text: str, now: dt.datetime | None = None) -> dt.timedelta:
    """A Grafana interval (``5m``, ``1h30m``, ``1d``, ``2w``, ``1M``, ``1y``) as a duration.

    Day, week, month and year units are calendar steps from ``now`` in UTC (Grafana's
    ``gtime.ParseInterval``); the others follow Go's ``time.ParseDuration``.
    """
    match = _DATE_UNIT.match(text)
    if match is None:
        return _parse_go_duration(text)
    count, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return dt.timedelta(days=count)
    if unit == "w":
        return dt.timedelta(days=7 * count)
    start = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    months = count if unit == "M" else 12 * count
    return _add_months(start, months) - start


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    # Go's AddDate normalises overflowing days (31 Jan + 1 month = 3 Mar), unlike clamping.
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    first = moment.replace(year=year, month=month, day=1)
    return first + dt.timedelta(days=moment.day - 1)


def _parse_go_duration(text: str) -> dt.timedelta:
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return dt.timedelta(0)
    pos, total = 0, dt.timedelta(0)
    while pos < len(body):
        part = _GO_DURATION_PART.match(body, pos)
        if part is None:
            raise MacroError(f"invalid interval {text!r}")
        total += float(part.group(1)) * _GO_UNITS[part.group(2)]
        pos = part.end()
    if not body:
        raise MacroError(f"invalid interval {text!r}")
    return -total if text.startswith("-") else total


def format_interval(interval: dt.timedelta) -> str:
    """Grafana's short text of an interval (``gtime.FormatInterval``): ``30s``, ``5m``, ``1d``."""
    units = (
        (dt.timedelta(days=365), "y"),
        (dt.timedelta(days=1), "d"),
        (dt.timedelta(hours=1), "h"),
        (dt.timedelta(minutes=1), "m"),
        (dt.timedelta(seconds=1), "s"),
        (dt.timedelta(milliseconds=1), "ms"),
    )
    for unit, suffix in units:
        if interval >= unit:
            return f"{interval // unit}{suffix}"
    return "1ms"


# --- step 1: template variables ------------------------------------------------------------


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _values_of(variable: VariableValue) -> tuple[str, ...] | str:
    """The variable's value(s); a custom all value comes back as a raw string."""
    if ALL_VALUE in variable.selected:
        if variable.all_value is not None:
            return variable.all_value
        return variable.options
    return variable.selected


def _format_sql_default(values: Sequence[str], variable: VariableValue) -> str:
    # Grafana's SQL data sources (interpolateVariable): arrays and multi/all variables
    # are quoted literals joined by commas; a plain single value only has ' doubled.
    if variable.multi or variable.include_all or len(values) != 1:
        return ",".join(_quote_literal(v) for v in values)
    return values[0].replace("'", "''")


_FORMATS: dict[str, Callable[[Sequence[str]], str]] = {
    "raw": ",".join,
    "csv": ",".join,
    "singlequote": lambda vs: ",".join("'" + v.replace("'", "\\'") + "'" for v in vs),
    "doublequote": lambda vs: ",".join('"' + v.replace('"', '\\"') + '"' for v in vs),
    "sqlstring": lambda vs: ",".join(_quote_literal(v) for v in vs),
}


def interpolate_variables(sql: str, variables: Mapping[str, VariableValue]) -> str:
    """Replace the template variables Grafana knows; unknown ``$names`` stay as they are."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        variable = variables.get(name)
        if variable is None:
            return match.group(0)
        values = _values_of(variable)
        if isinstance(values, str):
            return values
        if fmt is None:
            return _format_sql_default(values, variable)
        if fmt not in _FORMATS:
            raise MacroError(f"unsupported variable format {fmt!r} in {match.group(0)!r}")
        return _FORMATS[fmt](values)

    return _VARIABLE.sub(replace, sql)


# --- step 2: global substitutions -------------------------------------------------------------


def interpolate_globals(sql: str, time_range: TimeRange, interval: dt.timedelta) -> str:
    """Grafana's ``sqleng.Interpolate``: interval and epoch substitutions, ``_ms`` first."""
    sql = sql.replace("$__interval_ms", str(interval // dt.timedelta(milliseconds=1)))
    sql = sql.replace("$__interval", format_interval(interval))
    sql = sql.replace("$__unixEpochFrom()", str(_epoch_seconds(time_range.start)))
    return sql.replace("$__unixEpochTo()", str(_epoch_seconds(time_range.end)))


def _epoch_seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp() // 1)


def _epoch_nanos(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta // dt.timedelta(microseconds=1)) * 1000


# --- step 3: data source macros ---------------------------------------------------------------


def _seconds_text(interval: dt.timedelta) -> str:
    """Go's ``%v`` of a float64 number of seconds (``300``, ``0.5``)."""
    seconds = interval.total_seconds()
    return str(int(seconds)) if seconds.is_integer() else repr(seconds)


def _group(args: list[str], timescaledb: bool, name: str) -> str:
    if len(args) < 2:
        raise MacroError(f"macro {name} needs time column and interval and optional fill value")
    try:
        interval = parse_interval(args[1].strip("'"))
    except MacroError as exc:
        raise MacroError(f"error parsing interval {args[1]}") from exc
    if len(args) == 3 and args[2] not in ("NULL", "previous") and not _is_number(args[2]):
        raise MacroError(f"error parsing fill value {args[2]}")
    if name == "__unixEpochGroup":
        secs = _seconds_text(interval)
        return f"floor(({args[0]})/{secs})*{secs}"
    if timescaledb:
        return f"time_bucket('{interval.total_seconds():.3f}s',{args[0]})"
    secs = _seconds_text(interval)
    return f"floor(extract(epoch from {args[0]})/{secs})*{secs}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _evaluate(name: str, args: list[str], time_range: TimeRange, timescaledb: bool) -> str:
    start, end = rfc3339_nano(time_range.start), rfc3339_nano(time_range.end)
    needs_column = {
        "__time",
        "__timeEpoch",
        "__timeFilter",
        "__unixEpochFilter",
        "__unixEpochNanoFilter",
    }
    if name in needs_column and (not args or args == [""]):
        raise MacroError(f"missing time column argument for macro {name}")
    if name == "__time":
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        return f"{args[0]} BETWEEN '{start}' AND '{end}'"
    if name == "__timeFrom":
        return f"'{start}'"
    if name == "__timeTo":
        return f"'{end}'"
    if name in ("__timeGroup", "__unixEpochGroup"):
        return _group(args, timescaledb, name)
    if name in ("__timeGroupAlias", "__unixEpochGroupAlias"):
        return _group(args, timescaledb, name.removesuffix("Alias")) + ' AS "time"'
    if name == "__unixEpochFilter":
        lo, hi = _epoch_seconds(time_range.start), _epoch_seconds(time_range.end)
        return f"{args[0]} >= {lo} AND {args[0]} <= {hi}"
    if name == "__unixEpochNanoFilter":
        lo, hi = _epoch_nanos(time_range.start), _epoch_nanos(time_range.end)
        return f"{args[0]} >= {lo} AND {args[0]} <= {hi}"
    if name == "__unixEpochNanoFrom":
        return str(_epoch_nanos(time_range.start))
    if name == "__unixEpochNanoTo":
        return str(_epoch_nanos(time_range.end))
    raise MacroError(f"unknown macro {name!r}")


def expand_macros(sql: str, time_range: TimeRange, *, timescaledb: bool = True) -> str:
    """Expand the PostgreSQL data source macros (step 3) as Grafana's macro engine does."""
    original = sql

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "__timeGroup":
            # Grafana checks the character after the *first* occurrence of this exact text.
            index = original.find(match.group(0)) + len(match.group(0))
            if index < len(original) and original[index] == ",":
                name = "__timeGroupAlias"
        args = [arg.strip(" ") for arg in match.group(2).split(",")]
        return _evaluate(name, args, time_range, timescaledb)

    return _MACRO.sub(replace, sql)


def expand(
    sql: str,
    time_range: TimeRange,
    variables: Mapping[str, VariableValue] | None = None,
    *,
    interval: dt.timedelta = dt.timedelta(minutes=1),
    timescaledb: bool = True,
) -> str:
    """The SQL Grafana would send for ``sql``: variables, then globals, then macros."""
    text = interpolate_variables(sql, variables or {})
    text = interpolate_globals(text, time_range, interval)
    return expand_macros(text, time_range, timescaledb=timescaledb)
