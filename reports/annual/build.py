"""Produce the annual report: read → assess → tables → charts, XLSX annex, DOCX.

The one place that knows the order of the steps and the names of the output files;
each step lives in its own module. Progress is shown per station (rich) for the steps
that scale with the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from rich.progress import Progress

from aqm import __version__
from reports.annual import source
from reports.annual.assessment import REPORT_PARAMETERS, AnnualAssessment, assess
from reports.annual.charts import AqiCalendarChart, MonthlyMeansChart, category_days_chart
from reports.annual.docx_document import ChartFiles, methodology, write_report
from reports.annual.tables import build_tables
from reports.annual.xlsx_annex import write_annex

log = logging.getLogger(__name__)

CHARTS_DIR: Final = "charts"


class ReportDataError(ValueError):
    """The database does not hold what a report for the requested year needs."""


def docx_name(year: int) -> str:
    return f"bao-cao-chat-luong-khong-khi-{year}.docx"


def xlsx_name(year: int) -> str:
    return f"phu-luc-so-lieu-{year}.xlsx"


@dataclass
class ReportFiles:
    docx: Path
    xlsx: Path
    charts: list[Path]
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step (read, assess, charts, xlsx, docx)."""


@contextmanager
def _step(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started
    log.info("%s took %.2f s", name, timings[name])


def _ticker(progress: Progress | None, label: str, total: int) -> Callable[[str], None]:
    if progress is None:
        return lambda _key: None
    task = progress.add_task(label, total=total)
    return lambda _key: progress.advance(task)


def read_and_assess(
    database_url: str, year: int, province: str, timezone: str,
    timings: dict[str, float], progress: Progress | None = None,
) -> AnnualAssessment:
    """Read the year (and the year before, where it has data) and compute the findings."""
    with _step(timings, "read"), source.snapshot(database_url) as conn:
        registry = source.read_stations(conn)
        has_hourly, has_daily = source.year_has_rows(conn, year, timezone)
        if not (has_hourly or has_daily):
            raise ReportDataError(
                f"--year {year}: the database holds no rows in hourly or aqi_daily "
                f"(standard {source.VN_STANDARD}) for the local year {year} ({timezone})"
            )
        if not registry:
            raise ReportDataError(
                f"--year {year}: the stations table is empty; the report names stations from it"
            )
        ids = [r.station_id for r in registry]
        data = source.read_year(conn, year, ids, REPORT_PARAMETERS, timezone)
        previous = None
        if any(source.year_has_rows(conn, year - 1, timezone)):
            previous = source.read_year(conn, year - 1, ids, REPORT_PARAMETERS, timezone)
    start_local = data.start_utc.astimezone(ZoneInfo(timezone))
    with _step(timings, "assess"):
        return assess(registry, data, province, start_local, previous,
                      on_station=_ticker(progress, "Tính toán theo trạm", len(ids)))


def render_charts(
    report: AnnualAssessment, charts_dir: Path, progress: Progress | None = None
) -> ChartFiles:
    charts_dir.mkdir(parents=True, exist_ok=True)
    year = report.year
    stations = report.stations
    category = category_days_chart(
        [s.name for s in stations], [s.category_days.counts for s in stations],
        [s.category_days.without_aqi for s in stations], year,
        charts_dir / f"so-ngay-theo-aqi-{year}.png",
    )  # fmt: skip
    limits_24h = {p: v for (p, a), v in report.daily_limits.items() if a == "24h"}
    scopes = [*stations, report.province_findings]
    highest = {
        p: max([m.value for f in scopes for m in f.monthly.get(p, []) if m.value is not None],
               default=0.0)
        for p in REPORT_PARAMETERS
    }
    monthly = MonthlyMeansChart(report.days, limits_24h, report.annual_limits, highest)
    province_monthly = monthly.render(
        f"Toàn tỉnh {report.province} — trung bình tháng năm {year}",
        report.province_findings.monthly, charts_dir / f"trung-binh-thang-toan-tinh-{year}.png",
    )  # fmt: skip
    calendar = AqiCalendarChart(report.days)
    tick = _ticker(progress, "Vẽ biểu đồ theo trạm", len(stations))
    station_monthly, station_calendar = {}, {}
    for s in stations:
        station_monthly[s.key] = monthly.render(
            f"{s.name} — trung bình tháng năm {year}", s.monthly,
            charts_dir / f"trung-binh-thang-{s.key}-{year}.png",
        )  # fmt: skip
        station_calendar[s.key] = calendar.render(
            f"{s.name} — VN_AQI ngày năm {year}", s.daily_category,
            charts_dir / f"lich-aqi-{s.key}-{year}.png",
        )  # fmt: skip
        tick(s.key)
    return ChartFiles(category, province_monthly, station_monthly, station_calendar)


def build_annual_report(
    database_url: str,
    year: int,
    out_dir: Path,
    province: str,
    timezone: str = "Asia/Ho_Chi_Minh",
    progress: Progress | None = None,
) -> ReportFiles:
    """Write the DOCX report, the XLSX annex and the PNG charts of ``year`` to ``out_dir``."""
    timings: dict[str, float] = {}
    report = read_and_assess(database_url, year, province, timezone, timings, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = build_tables(report)
    with _step(timings, "charts"):
        charts = render_charts(report, out_dir / CHARTS_DIR, progress)
    xlsx = out_dir / xlsx_name(year)
    with _step(timings, "xlsx"):
        write_annex(
            tables.all(), xlsx,
            f"Phụ lục số liệu — Báo cáo chất lượng không khí năm {year}, tỉnh {province}",
            methodology(report),
        )  # fmt: skip
    docx = out_dir / docx_name(year)
    with _step(timings, "docx"):
        write_report(report, tables, charts, docx, xlsx.name, f"aqm {__version__}",
                     on_station=_ticker(progress, "Viết báo cáo DOCX", len(report.stations)))
    chart_files = [charts.category_days, charts.province_monthly,
                   *charts.station_monthly.values(), *charts.station_calendar.values()]
    return ReportFiles(docx, xlsx, chart_files, timings)
