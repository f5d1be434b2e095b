"""``aqm report annual``: the yearly air-quality report (DOCX, XLSX annex, PNG charts)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from aqm.cli import CliError
from aqm.commands.db import database_error, settings_with_database_url

FIRST_YEAR = 2000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(
        "report", help="reports from the stored data",
        description="Produce reports from the hourly means and AQI tables in the database.",
    )  # fmt: skip
    kinds = report.add_subparsers(dest="report_command", metavar="KIND", required=True)
    annual = kinds.add_parser(
        "annual",
        help="annual air-quality report of the province (DOCX + XLSX + PNG)",
        description=(
            "Write the annual air-quality report for one local year (days in AQM_TIMEZONE) "
            "into --out: a Vietnamese DOCX report (summary, methodology, network and data "
            "completeness, province-wide section, one section per station), an XLSX annex "
            "with every table as a sheet, and the charts as PNG files under charts/. Days per "
            "VN_AQI category come from aqi_daily (Decision 1459/QĐ-TCMT); means and "
            "exceedances from the valid hourly means in hourly, against QCVN 05:2023/BTNMT. "
            "Reads only what the aqm_reader role may see; give its URL with --database-url "
            "or AQM_DATABASE_URL. See docs/reports.md."
        ),
    )
    annual.add_argument("--year", type=int, required=True, help="the report year, e.g. 2025")
    annual.add_argument(
        "--out", type=Path, required=True,
        help="folder for the report files (created if missing; existing files are replaced)",
    )  # fmt: skip
    annual.add_argument(
        "--province",
        help="province name on the title page (default: AQM_PROVINCE, Bắc Ninh)",
    )  # fmt: skip
    annual.add_argument("--database-url", help="override AQM_DATABASE_URL (a reader role suffices)")
    annual.add_argument("--quiet", action="store_true", help="no progress bars")
    annual.add_argument(
        "--draft", action="store_true",
        help="mark the document DỰ THẢO (watermark and a line under the title) even when "
        "every figure is verified; a year with provisional data is marked so without it",
    )  # fmt: skip
    annual.add_argument(
        "--compare-years", type=int, default=1, metavar="N",
        help="compare with up to N years before --year where they have data (trend table, "
        "like for like; default 1, at most 10)",
    )  # fmt: skip
    annual.set_defaults(handler=_annual)


def _check_arguments(args: argparse.Namespace) -> None:
    from aqm_core.settings import load_settings

    last_year = date.today().year
    if not FIRST_YEAR <= args.year <= last_year:
        raise CliError(f"--year {args.year}: expected a year from {FIRST_YEAR} to {last_year}")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: exists and is not a folder")
    if not 1 <= args.compare_years <= 10:
        raise CliError(f"--compare-years {args.compare_years}: expected 1 to 10")
    if args.province is None:
        args.province = load_settings().province
    if not args.province.strip():
        raise CliError("--province: must not be empty")


def _annual(args: argparse.Namespace) -> int:
    import psycopg
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from aqm_core.settings import redact
    from reports.annual.build import build_annual_report
    from reports.annual.docx_document import Letterhead

    _check_arguments(args)
    settings = settings_with_database_url(args.database_url)
    url = settings.database_url
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), disable=args.quiet,
    )  # fmt: skip
    try:
        with progress:
            files = build_annual_report(
                url, args.year, args.out, args.province.strip(), settings.timezone, progress,
                letterhead=Letterhead(
                    parent_agency=settings.report_parent_agency.strip(),
                    agency=settings.report_agency.strip(),
                    number=settings.report_number.strip(),
                    place=settings.report_place.strip(),
                    signer_title=settings.report_signer_title.strip(),
                    signer_name=settings.report_signer_name.strip(),
                    recipients=tuple(r.strip() for r in settings.report_recipients.split(";")
                                     if r.strip()),
                ),
                draft=args.draft, compare_years=args.compare_years,
            )  # fmt: skip
    except psycopg.errors.InsufficientPrivilege as exc:
        raise CliError(f"database role of {redact(url)} may not read what the report needs: "
                       f"{exc}") from exc
    except psycopg.OperationalError as exc:
        raise database_error(url, exc) from exc
    except PermissionError as exc:
        raise CliError(f"--out {args.out}: cannot write there ({exc})") from exc
    print(f"report: {files.docx}", file=sys.stdout)
    print(f"annex:  {files.xlsx}", file=sys.stdout)
    print(f"charts: {len(files.charts)} PNG files in {files.docx.parent / 'charts'}")
    return 0
