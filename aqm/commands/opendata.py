"""``aqm opendata export``: rewrite the bulk open data files (served at ``/data/``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aqm.cli import CliError
from aqm.commands.db import connect, database_error, settings_with_database_url

if TYPE_CHECKING:
    from opendata.export import ExportSummary

STATION_ID_HELP = "only this station's files (and the province files of its years)"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "opendata", help="bulk open data (CSV, Parquet) for /data/",
        description="The bulk open data files in AQM_OPENDATA_DIR (docs/opendata.md).",
    )  # fmt: skip
    commands = group.add_subparsers(dest="opendata_command", metavar="COMMAND", required=True)
    p = commands.add_parser(
        "export",
        help="rewrite the files of every station-year (or of one year or station)",
        description=(
            "Write hourly means, hourly and daily VN_AQI per local year and station, and for "
            "the whole province, as CSV and Parquet with README, LICENSE (CC BY 4.0), "
            "index.html and index.json into AQM_OPENDATA_DIR; files whose data are gone "
            "are removed. Every file is replaced atomically, so the web server never "
            "serves half a file. Reads with AQM_DATABASE_URL (the aqm_reader role is "
            "enough). aqm worker keeps the files current afterwards "
            "(AQM_OPENDATA_INTERVAL_S)."
        ),
    )
    p.add_argument("--year", type=int, metavar="Y", help="only this local year")
    p.add_argument("--station", metavar="ID", help=STATION_ID_HELP)
    p.add_argument("--out", type=Path, metavar="DIR", help="override AQM_OPENDATA_DIR")
    p.add_argument("--database-url", help="override AQM_DATABASE_URL")
    p.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    import psycopg
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from aqm_core.settings import redact
    from opendata.export import Publication, export

    if args.year is not None and not 1970 <= args.year <= 9999:
        raise CliError(f"--year: {args.year} is not a year (1970…9999)")
    settings = settings_with_database_url(args.database_url)
    pub = Publication.from_settings(settings, args.out)
    url = settings.database_url
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("station-years · {task.fields[last]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ) as progress:
        task = progress.add_task("open data", total=None, last="")

        def on_start(total: int) -> None:
            progress.update(task, total=total)

        def on_station_year(station: str, year: int, done: ExportSummary) -> None:
            progress.update(task, advance=1, last=f"{station} {year}: {done.rows:,} rows")

        try:
            with connect(url) as conn:
                if (
                    args.station is not None
                    and conn.execute(
                        "SELECT 1 FROM stations WHERE station_id = %s", (args.station,)
                    ).fetchone()
                    is None
                ):
                    raise CliError(f"--station: station {args.station!r} is not registered")
                summary = export(
                    conn, pub, year=args.year, station_id=args.station,
                    on_start=on_start, on_station_year=on_station_year,
                )  # fmt: skip
        except psycopg.OperationalError as exc:
            raise database_error(url, exc) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            reason = str(exc).strip().splitlines()[0]
            raise CliError(f"the database role of {redact(url)} may not read the data "
                           f"(use aqm_reader or aqm_worker): {reason}") from exc  # fmt: skip
        except OSError as exc:
            raise CliError(f"{exc.filename or pub.root}: cannot write: {exc.strerror}") from exc
    seconds = time.perf_counter() - started
    print(
        f"{summary.station_years} station-years, {summary.rows:,} rows: "
        f"{summary.files_written} files written ({summary.bytes / 1e6:,.1f} MB), "
        f"{summary.files_removed} removed, in {seconds:.1f} s → {pub.root}"
    )
    return 0
