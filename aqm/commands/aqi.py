"""``aqm aqi``: air-quality indices from the command line.

Subcommands are added by the functions in :data:`SUBCOMMANDS`: ``compute`` (CSV in,
CSV out, here) and ``backfill`` (recompute stored history, ``aqm.commands.backfill``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:

    from aqi import AqiResult
    from aqi.nowcast import NowcastForm
    from aqm import aqicsv

from aqm.cli import CliError
from aqm.commands.backfill import add_backfill_parser
from aqm_core.defaults import DEFAULT_TIMEZONE

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

METHOD_BY_STANDARD: Final[dict[tuple[str, str], str]] = {
    ("vn", "2024"): "vn_1459_2019",
    ("vn", "2012"): "vn_1459_2019",
    ("us", "2024"): "us_epa_2024",
    ("us", "2012"): "us_epa_2012",
}
NOWCAST_HISTORY_HOURS: Final[int] = 12
"""Hours before the first input hour laid out for the NowCast (11 needed) and 8-h means."""
DAY_HOURS_AROUND: Final[int] = 7
"""Hours before/after the days for the 8-h O3 windows (VN trailing; US into the next day)."""
STDIO: Final[str] = "-"
"""``INPUT.csv`` / ``-o`` value meaning stdin / stdout."""


def register(sub: Subparsers) -> None:
    group = sub.add_parser(
        "aqi",
        help="compute VN_AQI or US EPA AQI",
        description=(
            "Air-quality indices: VN_AQI per Decision 1459/QĐ-TCMT (method vn_1459_2019) and "
            "the US EPA AQI (us_epa_2024; us_epa_2012 for comparison with older tools). "
            "See docs/aqi-engine.md."
        ),
    )
    actions = group.add_subparsers(dest="aqi_command", metavar="ACTION", required=True)
    for add_subcommand in SUBCOMMANDS:
        add_subcommand(actions)


def add_compute(actions: Subparsers) -> None:
    compute = actions.add_parser(
        "compute",
        help="hourly or daily AQI of a CSV of hourly means",
        description=(
            "Read hourly means from INPUT.csv (header station_id,time,parameter,value; time "
            "ISO 8601 with UTC offset marking the START of the hour; parameter one of pm25, "
            "pm10, o3, no2, so2, co; value in µg/m³, CO too; absent hours are missing) and "
            "write one row per station-hour (--period hour) or station-day (--period day) "
            "present in the input: station_id,time|date,aqi,category,dominant,aqi_pm25,"
            "aqi_pm10,aqi_o3,aqi_no2,aqi_so2,aqi_co. Hourly PM uses the NowCast of the 12 "
            "hours ending with the hour; daily values need 18 valid hours (8-h means 6 of 8). "
            "AQI and sub-indices are rounded half-up; empty when not computable (e.g. no PM). "
            "Bad input stops with an error naming the line, and nothing is written."
        ),
    )
    compute.add_argument(
        "--standard",
        choices=("vn", "us"),
        required=True,
        help="vn = VN_AQI (Decision 1459/QĐ-TCMT); us = US EPA AQI",
    )
    compute.add_argument(
        "--period",
        choices=("hour", "day"),
        required=True,
        help="hour = hourly AQI (AQI^h); day = daily AQI of each local day (AQI^d)",
    )
    compute.add_argument("input", metavar="INPUT.csv", help="input CSV, or - for stdin")
    compute.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT.csv",
        help=(
            "output CSV (UTF-8), replaced atomically; - or no -o for stdout "
            "(./- for a file named -)"
        ),
    )
    compute.add_argument(
        "--timezone",
        help=(
            "IANA time zone of the local day and of the output times "
            f"(default AQM_TIMEZONE, else {DEFAULT_TIMEZONE}; days need a zone without DST)"
        ),
    )
    compute.add_argument(
        "--epa-table",
        choices=("2024", "2012"),
        default="2024",
        help="US breakpoints: 2024 revision (default) or the pre-2024 tables (us_epa_2012)",
    )
    compute.add_argument(
        "--nowcast-form",
        choices=("normalised", "literal"),
        default="normalised",
        help=(
            "PM NowCast for w = 1/2: normalised (default, project decision) or the literal "
            "Decision 1459 text without the denominator (to reproduce a publisher)"
        ),
    )
    compute.set_defaults(handler=run_compute)


SUBCOMMANDS: Final[tuple[Callable[[Subparsers], None], ...]] = (add_compute, add_backfill_parser)


def run_compute(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from aqm import aqicsv

    method = METHOD_BY_STANDARD[(args.standard, args.epa_table)]
    # The time zone is found (the settings loaded) on a thread of its own while the
    # input is read, most of which pyarrow does without holding the GIL.
    with ThreadPoolExecutor(1) as pool:
        zone_found = pool.submit(_time_zone, args.timezone)
        try:
            inputs = [_read(args.input)]
        except BaseException:
            zone_found.result()  # a settings or --timezone error is the one reported
            raise
        zone = zone_found.result()
    # The readings are handed on (popped from their list), not kept here, so each step
    # can let go of them.
    if args.period == "hour":
        data = _hourly_csv(inputs.pop(), method, zone, args.nowcast_form)
    else:
        data = _daily_csv(inputs.pop(), method, zone)
    # Everything is computed before anything is written: an error leaves no output. A
    # file is written as the text is made (into a temporary file, renamed when complete);
    # standard output only once all the text is made.
    if args.output is None or args.output == STDIO:
        return _write_stdout(list(data))
    try:
        aqicsv.write_atomically(Path(args.output), data)
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write: {exc.strerror or exc}") from exc
    return 0


def _time_zone(name: str | None) -> dt.tzinfo:
    """The zone named by ``--timezone``, else the configured one (AQM_TIMEZONE)."""
    from aqm import aqicsv

    if name is None:
        from aqm_core.settings import load_settings

        return aqicsv.resolve_timezone(load_settings().timezone)
    try:
        return aqicsv.resolve_timezone(name)
    except aqicsv.AqiCsvError as exc:
        raise CliError(f"--timezone: {exc}") from exc


def _write_stdout(data: list[memoryview]) -> int:
    """Write UTF-8 whatever the locale; exit 1 quietly if the reader went away (``| head``).

    The recipe of the Python docs (signal module, "Note on SIGPIPE"): point stdout at
    devnull so the flush at exit does not fail again.
    """
    try:
        sys.stdout.flush()
        sys.stdout.buffer.writelines(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
        return 1
    except OSError as exc:  # e.g. a full disk
        _stdout_to_devnull()
        raise CliError(f"<stdout>: cannot write: {exc.strerror or exc}") from exc
    return 0


def _stdout_to_devnull() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _read(name: str) -> aqicsv.HourlyReadings:
    from aqm import aqicsv

    label = "<stdin>" if name == STDIO else name
    try:
        if name == STDIO:
            return aqicsv.read_hourly_bytes(sys.stdin.buffer.read(), label)
        return aqicsv.read_hourly_file(Path(name), name)
    except OSError as exc:
        raise CliError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{label}: not UTF-8 text ({exc.reason})") from exc


def _hourly_csv(
    readings: aqicsv.HourlyReadings, method: str, zone: dt.tzinfo, nowcast_form: NowcastForm
) -> Iterator[memoryview]:
    import numpy as np

    from aqi import hourly_aqi
    from aqm import aqicsv

    if not len(readings.hour):
        return iter([memoryview(aqicsv.render_csv(aqicsv.HOUR_HEADER, []).encode())])
    first_hour = int(readings.hour.min()) - NOWCAST_HISTORY_HOURS
    n_hours = int(readings.hour.max()) - first_hour + 1
    stations = readings.stations
    grid = aqicsv.to_grid(readings, first_hour, n_hours)
    del readings  # on the grid now
    result = hourly_aqi(
        grid.conc, method, hours_before=NOWCAST_HISTORY_HOURS, nowcast_form=nowcast_form
    )
    selected = grid.present[:, NOWCAST_HISTORY_HOURS:]
    del grid  # the concentrations are not written
    result = _written_part(result)
    used = [bool(flag) for flag in np.any(selected, axis=0)]
    labels = [
        aqicsv.hour_text(first_hour + NOWCAST_HISTORY_HOURS + k, zone) if used[k] else ""
        for k in range(selected.shape[1])
    ]
    return aqicsv.render_result(aqicsv.HOUR_HEADER, result, stations, labels, selected)


def _daily_csv(
    readings: aqicsv.HourlyReadings, method: str, zone: dt.tzinfo
) -> Iterator[memoryview]:
    import numpy as np

    from aqi import daily_aqi
    from aqm import aqicsv

    if not len(readings.hour):
        return iter([memoryview(aqicsv.render_csv(aqicsv.DAY_HEADER, []).encode())])
    offset = aqicsv.fixed_offset_hours(zone, int(readings.hour.min()), int(readings.hour.max()))
    local_day = (readings.hour + offset) // 24  # local days since 1970-01-01
    first_day = int(local_day.min())
    n_days = int(local_day.max()) - first_day + 1
    first_hour = first_day * 24 - offset - DAY_HOURS_AROUND
    n_hours = DAY_HOURS_AROUND + 24 * n_days + DAY_HOURS_AROUND
    stations = readings.stations
    selected = np.zeros((len(stations), n_days), dtype=bool)
    selected[readings.station, local_day - first_day] = True
    del local_day
    grid = aqicsv.to_grid(readings, first_hour, n_hours)
    del readings  # on the grid now
    result = daily_aqi(
        grid.conc, method, hours_before=DAY_HOURS_AROUND, hours_after=DAY_HOURS_AROUND
    )
    del grid
    result = _written_part(result)
    epoch = dt.date(1970, 1, 1)
    labels = [(epoch + dt.timedelta(days=first_day + k)).isoformat() for k in range(n_days)]
    return aqicsv.render_result(aqicsv.DAY_HEADER, result, stations, labels, selected)


def _written_part(result: AqiResult) -> AqiResult:
    """``result`` without the arrays the output has no column for, so they can be freed."""
    import dataclasses

    return dataclasses.replace(result, components={}, concentration={}, n_valid={})
