"""``aqm gaps``: missing samples of a station (or of all), as a table and as a CSV an
officer can send to the station's vendor, whose datalogger keeps 60 days of data.

Heavy modules (numpy, psycopg, the finder) are imported in the handler so that
``aqm gaps --help`` answers at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aqm.cli import CliError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    import psycopg

    from storage.gaps import CatalogueStation
    from worker.gap_report import StationGaps

    OnStation = Callable[[CatalogueStation], None] | None
    Run = Callable[[OnStation, list[CatalogueStation]], list[StationGaps]]

CSV_HEADER = (
    "Mã trạm / Station ID",
    "Tên trạm / Station name",
    "Thông số / Parameters",
    "Mã thông số / Parameter codes",
    "Từ thời điểm / From",
    "Đến thời điểm / To",
    "Số mẫu thiếu / Missing samples",
    "Chu kỳ (giây) / Interval (s)",
)
"""Bilingual headers: the officer writes the letter in Vietnamese, vendors' support
teams are often abroad, and the codes are aqm's own names for machines."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "gaps",
        help="find missing samples and list them for the vendor to re-send",
        description=(
            "List the sample times a station should have reported but are not stored: each "
            "station is expected every stations.report_interval_s seconds (on multiples of "
            "the interval: :00, :05 … for 5 minutes), from its installed_on day to its "
            "retired_on day; a reading within half an interval of a sample time fills it, "
            "whatever its status code, and each parameter the station lists is checked on "
            "its own. Consecutive missing samples with the same missing parameters form one "
            "period (first and last missing sample time, both included). Without --station, "
            "every station expected to report in the range is checked. Prints a table and, "
            "with -o, writes a CSV (UTF-8 with BOM for Excel, Vietnamese/English headers, "
            "local times with their UTC offset) to send to the vendor: dataloggers keep about "
            "60 days, and re-sent readings are stored once (docs/reliability.md, "
            '"Gap detection"). Times are in AQM_TIMEZONE.'
        ),
    )
    p.add_argument("--station", metavar="ID", help="only this station (default: all)")
    p.add_argument(
        "--from", dest="start", required=True, metavar="TIME",
        help="start: a local date (2025-03-01 = 00:00 that day) or an ISO 8601 time, with "
             "offset (2025-03-01T08:00+07:00) or without (read as local time)",
    )  # fmt: skip
    p.add_argument(
        "--to", dest="end", metavar="TIME",
        help="end (excluded), same forms; a date includes that whole day (default and at "
             "most: 15 minutes ago, as later samples may still be on their way)",
    )  # fmt: skip
    p.add_argument(
        "--parameter", action="append", metavar="P",
        help="only this parameter (canonical name, e.g. pm25; repeat for several)",
    )  # fmt: skip
    p.add_argument(
        "-o", "--output", metavar="FILE.csv",
        help="also write the gap periods to this CSV (replaced atomically)",
    )  # fmt: skip
    p.add_argument(
        "--limit", type=int, default=20, metavar="N",
        help="periods shown per station in the table (default 20; 0: all); the CSV has all",
    )  # fmt: skip
    p.add_argument("--database-url", help="override AQM_DATABASE_URL")
    p.set_defaults(handler=_run)


def parse_time(text: str, option: str, zone: dt.tzinfo, *, end: bool = False) -> dt.datetime:
    """A date (local midnight; with ``end`` the next midnight, so the day is included)
    or an ISO 8601 time (local when it has no offset)."""
    text = text.strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if len(text) == 10:  # YYYY-MM-DD, not a week or ordinal date
            moment = dt.datetime.combine(day, dt.time(), zone)
            return moment + dt.timedelta(days=1) if end else moment
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"{option}: {text!r} is neither a date YYYY-MM-DD nor an ISO 8601 time such as "
            "2025-03-01T08:00+07:00"
        ) from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _run(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    import psycopg

    from aqm.commands.db import connect, database_error, settings_with_database_url
    from aqm_core.parameters import PARAMETERS, canonical_parameter
    from worker.gap_report import NOT_YET_DUE, UnknownStationError, gap_report

    settings = settings_with_database_url(args.database_url)
    zone = ZoneInfo(settings.timezone)
    start = parse_time(args.start, "--from", zone)
    end = parse_time(args.end, "--to", zone, end=True) if args.end else None
    if end is not None and start >= end:
        raise CliError(f"--from {start.isoformat()} is not before --to {end.isoformat()}")
    due = dt.datetime.now(zone) - NOT_YET_DUE
    if end is None or end > due:
        end = due
        if start >= end:
            raise CliError(
                f"--from {start.isoformat()}: no sample is due yet after it (the "
                f"last {NOT_YET_DUE.seconds // 60} minutes are not yet counted)"
            )
    parameters = None
    if args.parameter:
        parameters = []
        for name in args.parameter:
            if name not in PARAMETERS:
                known = canonical_parameter(name)
                hint = f"; did you mean {known}?" if known else ""
                raise CliError(
                    f"--parameter: unknown parameter {name!r} (one of "
                    f"{', '.join(PARAMETERS)}){hint}"
                )
            parameters.append(name)
    if args.limit < 0:
        raise CliError(f"--limit must be 0 (all) or more, got {args.limit}")
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir():
        raise CliError(f"-o: {output}: folder {output.parent} does not exist")

    url = settings.database_url
    with connect(url) as conn:
        try:
            report = _with_progress(
                lambda on_station, stations: gap_report(
                    conn, start, end, zone, station_id=args.station, parameters=parameters,
                    on_station=on_station, stations=stations,
                ),
                conn, args.station,
            )  # fmt: skip
        except UnknownStationError as exc:
            raise CliError(f"--station: {exc}") from exc
        except psycopg.OperationalError as exc:
            raise database_error(url, exc) from exc
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
            raise CliError(
                f"the database schema is older than this aqm ({exc.diag.message_primary}): "
                "run `aqm db migrate`"
            ) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CliError(
                f"the database role may not read what gaps need ({exc.diag.message_primary}): "
                "use aqm_reader, aqm_worker or the owner"
            ) from exc
    print(render_table(report, start, end, zone, limit=args.limit), end="")
    if output is not None:
        from aqm.aqicsv import write_atomically

        try:
            write_atomically(output, "\ufeff" + render_csv(report, zone))
        except OSError as exc:
            raise CliError(f"-o: {output}: cannot write: {exc.strerror or exc}") from exc
        print(f"wrote {output}")
    return 0


def _with_progress(
    run: Run, conn: psycopg.Connection[Any], station_id: str | None
) -> list[StationGaps]:
    """Run the report with a progress bar on a terminal (a year of 100 stations takes
    a while), silently otherwise."""
    from storage.gaps import catalogue_stations

    stations = catalogue_stations(conn, station_id)
    if not sys.stderr.isatty() or len(stations) < 2:
        return run(None, stations)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("gaps"), BarColumn(), MofNCompleteColumn(), TextColumn("stations"),
        console=Console(stderr=True), transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("gaps", total=len(stations))
        return run(lambda _station: progress.advance(task), stations)


def _local(moment: object, zone: dt.tzinfo) -> str:
    """A datetime64[us] (UTC) as local ISO 8601 with offset, to the second."""
    import numpy as np

    seconds = int(np.datetime64(moment, "s").astype(np.int64))  # type: ignore[call-overload]
    return dt.datetime.fromtimestamp(seconds, zone).isoformat(sep=" ")


def _names(found: StationGaps, mask: int) -> tuple[list[str], list[str]]:
    from aqm_core.parameters import PARAMETERS
    from worker.gap_report import ANY_PARAMETER
    from worker.gaps import parameters_of

    codes = parameters_of(mask, found.parameters)
    names = [
        "tất cả / all" if c == ANY_PARAMETER else PARAMETERS[c].name_vi if c in PARAMETERS else c
        for c in codes
    ]
    return codes, names


def csv_rows(report: list[StationGaps], zone: dt.tzinfo) -> list[list[str]]:
    rows = []
    for found in report:
        g = found.gaps
        for i in range(len(g)):
            codes, names = _names(found, int(g.parameters[i]))
            rows.append([
                found.station.station_id, found.station.name, ", ".join(names), ";".join(codes),
                _local(g.start[i], zone), _local(g.end[i], zone), str(int(g.missing[i])),
                str(found.station.report_interval_s),
            ])  # fmt: skip
    return rows


def render_csv(report: list[StationGaps], zone: dt.tzinfo) -> str:
    from aqm.aqicsv import render_csv as render

    return render(CSV_HEADER, csv_rows(report, zone))


def render_table(
    report: list[StationGaps], start: dt.datetime, end: dt.datetime, zone: dt.tzinfo,
    *, limit: int = 0,
) -> str:  # fmt: skip
    """The terminal view: one summary line per station, then its gap periods (the first
    ``limit`` of them; 0: all)."""
    span = (
        f"{start.astimezone(zone).isoformat(sep=' ')} … {end.astimezone(zone).isoformat(sep=' ')}"
    )
    lines = [f"missing samples {span} (end excluded)", ""]
    total = 0
    for found in report:
        station = found.station
        expected, missing = found.expected_samples, found.missing_samples
        total += missing
        share = f" ({missing / expected:.1%})" if expected else ""
        if found.start >= found.end:
            lines.append(
                f"{station.station_id}: not expected to report in this range "
                f"(installed_on {station.installed_on}, retired_on {station.retired_on})"
            )
            continue
        lines.append(
            f"{station.station_id} ({station.name}), every {station.report_interval_s} s, "
            f"{', '.join(found.parameters) or 'no parameter'}: {missing:,} of {expected:,} "
            f"samples missing{share}, {len(found.gaps)} periods"
        )
        g = found.gaps
        shown = len(g) if not limit else min(limit, len(g))
        for i in range(shown):
            codes, _ = _names(found, int(g.parameters[i]))
            lines.append(
                f"  {_local(g.start[i], zone)}  {_local(g.end[i], zone)}  "
                f"{int(g.missing[i]):>7,}  {', '.join(codes)}"
            )
        if shown < len(g):
            lines.append(f"  … {len(g) - shown:,} more periods (--limit 0 shows all; -o writes "
                         "all to a CSV)")  # fmt: skip
    lines.append("")
    stations = f"{len(report)} station{'' if len(report) == 1 else 's'}"
    lines.append(f"{stations}, {total:,} samples missing")
    return "\n".join(lines) + "\n"
