"""tests.provisioning.macros expands Grafana's PostgreSQL macros and variables as Grafana does (§D4)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.provisioning.macros import (
    ALL_VALUE,
    MacroError,
    TimeRange,
    VariableValue,
    expand,
    expand_macros,
    format_interval,
    interpolate_variables,
    parse_interval,
    rfc3339_nano,
)

ICT = dt.timezone(dt.timedelta(hours=7))
RANGE = TimeRange(
    dt.datetime(2025, 3, 1, 0, 0, tzinfo=ICT),  # 2025-02-28T17:00:00Z
    dt.datetime(2025, 3, 1, 12, 30, 15, 250000, tzinfo=ICT),
)
FROM, TO = "'2025-02-28T17:00:00Z'", "'2025-03-01T05:30:15.25Z'"


def test_rfc3339_nano_is_utc_without_trailing_zeros() -> None:
    assert rfc3339_nano(RANGE.start) == "2025-02-28T17:00:00Z"
    assert rfc3339_nano(RANGE.end) == "2025-03-01T05:30:15.25Z"
    assert rfc3339_nano(dt.datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)).endswith(".000001Z")


def test_time_filter_from_to_and_time() -> None:
    assert (
        expand_macros("WHERE $__timeFilter(r.ts)", RANGE) == f"WHERE r.ts BETWEEN {FROM} AND {TO}"
    )
    assert expand_macros("$__timeFrom() $__timeTo()", RANGE) == f"{FROM} {TO}"
    assert expand_macros("SELECT $__time(ts), v", RANGE) == 'SELECT ts AS "time", v'
    assert expand_macros("$__timeEpoch(ts)", RANGE) == 'extract(epoch from ts) as "time"'


def test_time_group_with_timescaledb_and_without() -> None:
    sql = "GROUP BY $__timeGroup(ts, '5m')"
    assert expand_macros(sql, RANGE) == "GROUP BY time_bucket('300.000s',ts)"
    assert expand_macros(sql, RANGE, timescaledb=False) == (
        "GROUP BY floor(extract(epoch from ts)/300)*300"
    )
    assert expand_macros("$__timeGroupAlias(ts, 1h)", RANGE) == (
        "time_bucket('3600.000s',ts) AS \"time\""
    )
    assert expand_macros("$__timeGroup(ts, '1d', NULL)", RANGE) == "time_bucket('86400.000s',ts)"


def test_time_group_followed_by_comma_becomes_the_alias_form() -> None:
    sql = "SELECT $__timeGroup(ts,'5m'), avg(v) FROM t GROUP BY $__timeGroup(ts,'5m')"
    # Grafana looks at the first occurrence of the macro text, so both become aliases.
    assert expand_macros(sql, RANGE).count('AS "time"') == 2
    assert 'AS "time"' not in expand_macros("GROUP BY $__timeGroup(ts,'5m') ORDER BY 1", RANGE)


def test_unix_epoch_macros() -> None:
    lo, hi = int(RANGE.start.timestamp()), int(RANGE.end.timestamp())
    assert expand_macros("$__unixEpochFilter(t)", RANGE) == f"t >= {lo} AND t <= {hi}"
    assert expand_macros("$__unixEpochNanoFrom()", RANGE) == str(lo * 10**9)
    assert expand_macros("$__unixEpochNanoTo()", RANGE) == str(
        int(RANGE.end.timestamp() * 10**6) * 1000
    )
    assert expand_macros("$__unixEpochGroupAlias(t, '10s')", RANGE) == 'floor((t)/10)*10 AS "time"'


def test_unknown_macro_and_bad_arguments_fail_like_grafana() -> None:
    with pytest.raises(MacroError, match="unknown macro"):
        expand_macros("$__nope(x)", RANGE)
    with pytest.raises(MacroError, match="missing time column"):
        expand_macros("$__timeFilter()", RANGE)
    with pytest.raises(MacroError, match="interval"):
        expand_macros("$__timeGroup(ts, 'soon')", RANGE)
    with pytest.raises(MacroError, match="needs time column"):
        expand_macros("$__timeGroup(ts)", RANGE)


def test_globals_replace_interval_ms_before_interval() -> None:
    sql = "$__interval_ms $__interval $__unixEpochFrom() $__timeGroup(ts, $__interval)"
    out = expand(sql, RANGE, interval=dt.timedelta(minutes=5))
    assert out == f"300000 5m {int(RANGE.start.timestamp())} time_bucket('300.000s',ts)"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(milliseconds=200), "200ms"),
        (dt.timedelta(seconds=30), "30s"),
        (dt.timedelta(minutes=90), "1h"),
        (dt.timedelta(days=2), "2d"),
        (dt.timedelta(days=400), "1y"),
        (dt.timedelta(microseconds=10), "1ms"),
    ],
)
def test_format_interval(delta: dt.timedelta, text: str) -> None:
    assert format_interval(delta) == text


def test_parse_interval_units() -> None:
    assert parse_interval("1h30m") == dt.timedelta(minutes=90)
    assert parse_interval("1.5s") == dt.timedelta(seconds=1.5)
    assert parse_interval("2w") == dt.timedelta(days=14)
    jan31 = dt.datetime(2025, 1, 31, tzinfo=dt.UTC)
    assert parse_interval("1M", now=jan31) == dt.timedelta(days=31)  # Go: 31 Jan + 1M = 3 Mar
    assert parse_interval("1y", now=jan31) == dt.timedelta(days=365)
    with pytest.raises(MacroError):
        parse_interval("5 minutes")


def test_single_value_variable_doubles_quotes_only() -> None:
    variables = {"station": VariableValue.single("O'Brien")}
    assert interpolate_variables("s = '$station'", variables) == "s = 'O''Brien'"
    assert interpolate_variables("s = '${station}'", variables) == "s = 'O''Brien'"
    assert interpolate_variables("s = '[[station]]'", variables) == "s = 'O''Brien'"


def test_multi_value_and_all_become_quoted_lists() -> None:
    options = ("BN01", "BN02", "BN03")
    chosen = VariableValue(("BN01", "BN03"), multi=True, include_all=True, options=options)
    assert interpolate_variables("IN ($station)", {"station": chosen}) == "IN ('BN01','BN03')"
    one = VariableValue(("BN02",), multi=True, include_all=True, options=options)
    assert interpolate_variables("IN ($station)", {"station": one}) == "IN ('BN02')"
    every = VariableValue((ALL_VALUE,), multi=True, include_all=True, options=options)
    assert interpolate_variables("IN ($station)", {"station": every}) == "IN ('BN01','BN02','BN03')"
    custom = VariableValue(
        (ALL_VALUE,),
        multi=True,
        include_all=True,
        options=options,
        all_value="SELECT station_id FROM stations",
    )
    assert interpolate_variables("IN ($station)", {"station": custom}) == (
        "IN (SELECT station_id FROM stations)"
    )


def test_variable_formats_and_unknown_names() -> None:
    v = {"p": VariableValue(("a", "b'c"), multi=True)}
    assert interpolate_variables("${p:csv}", v) == "a,b'c"
    assert interpolate_variables("${p:sqlstring}", v) == "'a','b''c'"
    assert interpolate_variables("${p:singlequote}", v) == "'a','b\\'c'"
    assert (
        interpolate_variables("$__timeFilter(ts) $other $p2", v) == "$__timeFilter(ts) $other $p2"
    )
    with pytest.raises(MacroError, match="format"):
        interpolate_variables("${p:regex}", v)


def test_expand_runs_variables_then_globals_then_macros() -> None:
    sql = "SELECT * FROM t WHERE s = '$station' AND $__timeFilter(ts)"
    out = expand(sql, RANGE, {"station": VariableValue.single("BN01")})
    assert out == f"SELECT * FROM t WHERE s = 'BN01' AND ts BETWEEN {FROM} AND {TO}"


def test_time_range_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="aware"):
        TimeRange(dt.datetime(2025, 1, 1), dt.datetime(2025, 1, 2))
    with pytest.raises(ValueError, match="after"):
        TimeRange(RANGE.end, RANGE.start)
