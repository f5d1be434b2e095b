"""``aqm aqi backfill``: recompute hourly means and AQI history for a range of local days.

The ``aqm aqi`` group calls :func:`add_backfill_parser` with its subparsers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import TYPE_CHECKING

from aqm.cli import CliError
from aqm.commands.db import database_error, settings_with_database_url

if TYPE_CHECKING:
    from storage.dirty_queue import BackfillJob
    from worker.backfill import ChunkDone


def add_backfill_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backfill",
        help="recompute hourly means and AQI for a range of days (resumable)",
        description=(
            "Recompute hourly, aqi_hourly and aqi_daily from the stored readings for the "
            "local days FROM…TO (in AQM_TIMEZONE), re-evaluating the "
            "automatic QA/QC flags with the current rules (AQM_QC_RULES_FILE; run it after "
            "changing them), in chunks of days, each "
            "committed with the job's cursor (table aqi_backfill_jobs). Interrupted runs "
            "resume where they stopped when the same command is run again; a finished "
            "range is recomputed from the start. Hours and days that depend on the range "
            "(the 11 hours after it, neighbouring days) are recomputed too. Stations are "
            "split into --parallel groups, each on its own database connection. "
            "SIGTERM/SIGINT: finish the chunks in flight, then stop."
        ),
    )
    p.add_argument("--from", dest="from_day", required=True, type=_date, metavar="DATE",
                   help="first local day, YYYY-MM-DD")
    p.add_argument("--to", dest="to_day", required=True, type=_date, metavar="DATE",
                   help="last local day (inclusive), YYYY-MM-DD")
    p.add_argument("--station", metavar="ID", help="only this station (default: all)")
    # 31 = worker.backfill.DEFAULT_CHUNK_DAYS (not imported here: it would load numpy
    # for every `aqm --help`); a test keeps the two equal.
    p.add_argument("--chunk-days", type=int, default=31, metavar="N",
                   help="days per transaction (default 31; shorter chunks hold station "
                        "locks for less time but redo more of the overlap between chunks)")
    p.add_argument("--parallel", type=int, default=None, metavar="N",
                   help="station groups backfilled at once, one connection each "
                        "(default: the number of CPUs)")
    p.add_argument("--restart", action="store_true",
                   help="start an interrupted backfill of this range over instead of resuming")
    p.add_argument("--indices-only", action="store_true",
                   help="keep the stored hourly means and recompute only aqi_hourly and "
                        "aqi_daily (e.g. after a change of AQI method); much faster")
    p.add_argument("--database-url", help="override AQM_DATABASE_URL")
    p.set_defaults(handler=_run)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def _run(args: argparse.Namespace) -> int:
    import signal
    import threading

    import psycopg
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from worker.backfill import UnknownStationError, run_backfill

    if args.from_day > args.to_day:
        raise CliError(f"--from {args.from_day} is after --to {args.to_day}")
    if args.chunk_days < 1:
        raise CliError(f"--chunk-days must be at least 1, got {args.chunk_days}")
    if args.parallel is not None and args.parallel < 1:
        raise CliError(f"--parallel must be at least 1, got {args.parallel}")
    settings = settings_with_database_url(args.database_url)
    url = settings.database_url
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: stop.set())

    # Progress counts station-days: parallel groups each advance their own stations.
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("station-days · {task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ) as progress:
        task = progress.add_task("backfill", total=None, rate="")
        done_hours = 0
        started = time.perf_counter()

        def on_start(job: BackfillJob) -> None:
            total = len(job.cursors) * ((args.to_day - args.from_day).days + 1)
            progress.update(task, total=total, completed=total - job.station_days_left,
                            description=f"backfill {args.from_day}…{args.to_day}")

        def on_chunk(chunk: ChunkDone) -> None:
            nonlocal done_hours
            done_hours += chunk.report.station_hours
            seconds = time.perf_counter() - started
            rate = f"{done_hours / seconds:,.0f} station-hours/s" if seconds else ""
            progress.update(task, advance=chunk.station_days, rate=rate)

        try:
            summary = run_backfill(
                url, settings, args.from_day, args.to_day,
                station_id=args.station, chunk_days=args.chunk_days, parallelism=args.parallel,
                restart=args.restart, stop=stop, on_start=on_start, on_chunk=on_chunk,
                indices_only=args.indices_only,
            )  # fmt: skip
        except UnknownStationError as exc:
            raise CliError(f"--station: {exc}") from exc
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        except psycopg.OperationalError as exc:
            raise database_error(url, exc) from exc

    if summary.resumed_from:
        print(f"resumed at {summary.resumed_from}")
    if not summary.finished:
        print(f"stopped after {summary.days_done} days; run the same command again to resume")
        return 0
    print(f"backfill {args.from_day}…{args.to_day} done: {summary.report.describe()}")
    return 0
