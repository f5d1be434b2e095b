"""``aqm qc``: an officer's validation — invalidate, restore, verify — and what to review.

Every action is one append-only row of ``qc_actions`` (the database stamps who and
when, records the overlapping earlier actions as the state before, and queues the
period's station-hours for the AQI worker). docs/qaqc.md describes the workflow.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

from aqm.cli import CliError
from aqm.commands.db import connect, database_error, settings_with_database_url

# = storage.qc.REASONS, not imported (it would load numpy for every `aqm --help`);
# a test keeps the two equal.
REASONS = ("calibration", "maintenance", "instrument_fault", "power_outage",
           "exceptional_event", "other")  # fmt: skip

_TIME_HELP = ("ISO 8601 time with its UTC offset (2025-03-10T08:00+07:00) or a local date "
              "YYYY-MM-DD (AQM_TIMEZONE)")  # fmt: skip


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    qc = sub.add_parser(
        "qc",
        help="QA/QC: invalidate, restore, verify periods; list flags and the audit trail",
        description=(
            "An officer's validation of station data. invalidate marks a period invalid "
            "(its readings are then treated as never measured), restore undoes that, "
            "verify raises whole local days from provisional to verified. Each action is "
            "an append-only row of the audit trail (qc_actions) and queues the period for "
            "the AQI worker, which recomputes hourly means, AQI and data levels. "
            "--from is inclusive and --to exclusive for times; a date given to --to "
            "includes that whole local day."
        ),
    )
    actions = qc.add_subparsers(dest="qc_command", metavar="ACTION", required=True)

    def selectors(p: argparse.ArgumentParser, *, days: bool = False) -> None:
        p.add_argument("--station", required=True, metavar="ID", help="station id")
        if days:
            p.add_argument(
                "--from",
                dest="start",
                required=True,
                metavar="DAY",
                help="first local day, YYYY-MM-DD",
            )
            p.add_argument(
                "--to",
                dest="end",
                required=True,
                metavar="DAY",
                help="last local day (inclusive), YYYY-MM-DD",
            )
        else:
            p.add_argument("--from", dest="start", required=True, metavar="T", help=_TIME_HELP)
            p.add_argument("--to", dest="end", required=True, metavar="T", help=_TIME_HELP)
        p.add_argument("--database-url", help="override AQM_DATABASE_URL")

    inv = actions.add_parser(
        "invalidate", help="mark a period invalid (with a reason code)",
        description="Mark the readings of a station (one parameter, or all) in [FROM, TO) "
                    "invalid. They stay stored; every aggregate ignores them.",
    )  # fmt: skip
    selectors(inv)
    inv.add_argument("--parameter", metavar="P", help="one parameter (default: all)")
    inv.add_argument("--reason", required=True, choices=REASONS, help="reason code")
    inv.add_argument("--note", metavar="TEXT", help="free text kept with the action")
    inv.add_argument("--by", required=True, metavar="NAME", help="the officer taking the action")
    inv.set_defaults(handler=_invalidate)

    res = actions.add_parser(
        "restore", help="undo an invalidation of a period",
        description="Make the readings of a station (one parameter, or all) in [FROM, TO) "
                    "valid again for the officer's part: automatic checks still apply.",
    )  # fmt: skip
    selectors(res)
    res.add_argument("--parameter", metavar="P", help="one parameter (default: all)")
    res.add_argument("--note", metavar="TEXT", help="why (kept with the action)")
    res.add_argument("--by", required=True, metavar="NAME", help="the officer taking the action")
    res.set_defaults(handler=_restore)

    ver = actions.add_parser(
        "verify", help="mark whole local days verified",
        description="Mark the local days FROM…TO of a station verified: its hourly, "
                    "aqi_hourly and aqi_daily rows of those days say data_level = verified.",
    )  # fmt: skip
    selectors(ver, days=True)
    ver.add_argument("--note", metavar="TEXT", help="free text kept with the action")
    ver.add_argument("--by", required=True, metavar="NAME", help="the officer taking the action")
    ver.set_defaults(handler=_verify)

    fl = actions.add_parser(
        "flags", help="every automatic and manual flag of a period, as CSV",
        description="One CSV line per flagged reading (source automatic, with the rule "
                    "codes and the rules version) and per manual action overlapping the "
                    "period (source invalidate/restore/verify).",
    )  # fmt: skip
    selectors(fl)
    fl.add_argument("-o", "--output", type=Path, metavar="FILE.csv", help="default: stdout")
    fl.set_defaults(handler=_flags)

    his = actions.add_parser(
        "history", help="the audit trail of manual actions, as CSV",
        description="Every manual action, oldest first: who, when, what, why and the "
                    "state before (the earlier actions it overlapped, as JSON).",
    )  # fmt: skip
    his.add_argument("--station", metavar="ID", help="only this station")
    his.add_argument("-o", "--output", type=Path, metavar="FILE.csv", help="default: stdout")
    his.add_argument("--database-url", help="override AQM_DATABASE_URL")
    his.set_defaults(handler=_history)


def parse_time(text: str, option: str, zone: dt.tzinfo, *, end: bool) -> dt.datetime:
    """An ISO 8601 time with offset, or a local date (its start; for ``end`` the next day's)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if len(text) == 10:
            start = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(),
                                        zone)  # fmt: skip
            return start.astimezone(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"{option} {text!r}: not an ISO 8601 time or a date YYYY-MM-DD") from exc
    if moment.tzinfo is None:
        raise CliError(f"{option} {text!r}: give the UTC offset (e.g. +07:00) or a date")
    return moment.astimezone(dt.UTC)


def _day(text: str, option: str) -> dt.date:
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise CliError(f"{option} {text!r}: not a date YYYY-MM-DD")


def _record(args: argparse.Namespace, action: str) -> int:
    from zoneinfo import ZoneInfo

    import psycopg

    from storage.qc import Action, record_action

    settings = settings_with_database_url(args.database_url)
    zone = ZoneInfo(settings.timezone)
    if action == "verify":
        first, last = _day(args.start, "--from"), _day(args.end, "--to")
        if first > last:
            raise CliError(f"--from {first} is after --to {last}")
        start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    else:
        start = parse_time(args.start, "--from", zone, end=False)
        end = parse_time(args.end, "--to", zone, end=True)
        if start >= end:
            raise CliError(f"--from {args.start} is not before --to {args.end}")
    by = (args.by or "").strip()
    if not by:
        raise CliError("--by: give the name of the officer taking the action")
    parameter = getattr(args, "parameter", None)
    with connect(settings.database_url) as conn:
        _check_selectors(conn, args.station, parameter)
        try:
            with conn.transaction():
                action_id, before = record_action(conn, Action(
                    action=action, station_id=args.station, parameter=parameter,
                    start=start, end=end, reason=getattr(args, "reason", None),
                    note=args.note, performed_by=by,
                ))  # fmt: skip
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CliError(f"the database role may not record QA/QC actions: {exc}") from exc
    hours = int((end - start) / dt.timedelta(hours=1))
    what = f"{args.station} {parameter or 'all parameters'}"
    print(f"action #{action_id}: {action} {what} {start.isoformat()} … {end.isoformat()} "
          f"by {by}; about {hours} station-hours queued for the AQI worker")  # fmt: skip
    if isinstance(before, list) and before:
        print(f"state before: {len(before)} earlier action(s) overlap: "
              + ", ".join(f"#{b['id']} {b['action']}" for b in before))  # fmt: skip
    return 0


def _check_selectors(
    conn: psycopg.Connection[tuple[object, ...]], station: str, parameter: str | None
) -> None:
    if conn.execute("SELECT FROM stations WHERE station_id = %s", (station,)).fetchone() is None:
        raise CliError(f"--station {station!r}: no such station in the registry")
    if (
        parameter is not None
        and conn.execute("SELECT FROM parameters WHERE parameter = %s", (parameter,)).fetchone()
        is None
    ):
        known = ", ".join(str(r[0]) for r in conn.execute("SELECT parameter FROM parameters"))
        raise CliError(f"--parameter {parameter!r}: unknown (one of {known})")


def _invalidate(args: argparse.Namespace) -> int:
    return _record(args, "invalidate")


def _restore(args: argparse.Namespace) -> int:
    return _record(args, "restore")


def _verify(args: argparse.Namespace) -> int:
    return _record(args, "verify")


def _flags(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from storage.qc import FLAGS_COLUMNS, FLAGS_QUERY

    settings = settings_with_database_url(args.database_url)
    zone = ZoneInfo(settings.timezone)
    start = parse_time(args.start, "--from", zone, end=False)
    end = parse_time(args.end, "--to", zone, end=True)
    if start >= end:
        raise CliError(f"--from {args.start} is not before --to {args.end}")
    with connect(settings.database_url) as conn:
        _check_selectors(conn, args.station, None)
        rows = conn.execute(FLAGS_QUERY, {"station": args.station, "t_from": start,
                                          "t_to": end}).fetchall()  # fmt: skip
    return _write_csv(args.output, FLAGS_COLUMNS, rows)


def _history(args: argparse.Namespace) -> int:
    from storage.qc import HISTORY_COLUMNS, HISTORY_QUERY

    settings = settings_with_database_url(args.database_url)
    with connect(settings.database_url) as conn:
        rows = conn.execute(HISTORY_QUERY, {"station": args.station}).fetchall()
    return _write_csv(args.output, HISTORY_COLUMNS, rows)


def _write_csv(path: Path | None, columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> int:
    import csv
    import io

    def text(value: object) -> object:
        return value.astimezone(dt.UTC).isoformat() if isinstance(value, dt.datetime) else value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([text(v) for v in row] for row in rows)
    if path is None:
        sys.stdout.write(buffer.getvalue())
        return 0
    try:
        path.write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}") from exc
    print(f"{len(rows)} rows written to {path}")
    return 0


__all__ = ["database_error", "parse_time", "register"]
