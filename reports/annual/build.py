"""Produce the annual report: read → assess → tables → charts, XLSX annex, DOCX.

The one place that knows the order of the steps and the names of the output files;
each step lives in its own module. Progress is shown per station (rich) for the steps
that scale with the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
from rich.progress import Progress

from aqm_core import __version__
from aqm_core.defaults import DEFAULT_TIMEZONE
from aqm_core.errors import AqmError
from reports.annual import chart_pool, source
from reports.annual.assessment import REPORT_PARAMETERS, AnnualAssessment, assess
from reports.annual.charts import (
    AqiCalendarChart,
    MonthlyMeansChart,
    category_days_chart,
    daily_pm25_chart,
)
from reports.annual.docx_document import (
    ChartFiles,
    Letterhead,
    WeatherSection,
    methodology,
    write_report,
)
from reports.annual.meteorology import (
    MET_PARAMETERS,
    Meteorology,
    assess_meteorology,
    episode_weather_table,
    rain_table,
    wind_rose_chart,
    wind_rose_table,
)
from reports.annual.tables import build_tables
from reports.annual.trend import TREND_PARAMETERS, TrendYear, trend_table, trend_year
from reports.annual.validation import (
    SUMMED_COLUMNS,
    NetworkValidation,
    data_levels_table,
    qc_flags_table,
    read_validation,
)
from reports.annual.xlsx_annex import write_annex

log = logging.getLogger(__name__)

CHARTS_DIR: Final = "charts"
READ_PARAMETERS: Final = (*REPORT_PARAMETERS, "humidity")
"""What the report reads: its pollutants, and relative humidity for PM2.5 corrections."""


class ReportDataError(AqmError, ValueError):
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
    draft: bool = False
    """Whether the document was marked "DỰ THẢO" (asked, or provisional data included)."""


@dataclass(frozen=True)
class DataQuality:
    validation: NetworkValidation
    provisional: bool
    """Whether any hourly mean of the year the report reads is still provisional."""
    weather: Meteorology


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
    timings: dict[str, float], progress: Progress | None = None, compare_years: int = 1,
) -> tuple[AnnualAssessment, list[TrendYear], DataQuality]:
    """Read the year (and up to ``compare_years`` years before, where they have data) and
    compute the findings, each year's figures for the trend, and the year's data capture
    and validation."""
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
        # The years before are read on a second connection in the same snapshot while
        # this one reads the report year: the server scans both at once.
        with ThreadPoolExecutor(max_workers=1) as pool:
            earlier_years = pool.submit(
                _read_earlier, database_url, source.export_snapshot(conn), year,
                compare_years, ids, timezone,
            )  # fmt: skip
            both, rows = source.scan_year(conn, year, ids, (*READ_PARAMETERS, *MET_PARAMETERS),
                                          timezone, SUMMED_COLUMNS)  # fmt: skip
            data = source.select_parameters(both, READ_PARAMETERS)
            met = source.select_parameters(both, MET_PARAMETERS)
            validation = read_validation(conn, year, ids, data.start_utc, len(data.days), rows)
            provisional = bool(rows.provisional_means)
            earlier = earlier_years.result()
    start_local = data.start_utc.astimezone(ZoneInfo(timezone))
    with _step(timings, "assess"):
        report = assess(registry, data, province, start_local, earlier.get(year - 1),
                        on_station=_ticker(progress, "Tính toán theo trạm", len(ids)))
        years = [trend_year(registry, d) for d in (*earlier.values(), data)]
        names = {r.station_id: r.name for r in registry}
        weather = assess_meteorology(met, names, report.episodes)
    quality = DataQuality(validation, provisional, weather)
    return report, sorted(years, key=lambda t: t.year), quality


def _read_earlier(
    database_url: str, snapshot_id: str, year: int, compare_years: int, ids: Sequence[str],
    timezone: str,
) -> dict[int, source.YearData]:
    """The years before ``year`` that have data, in snapshot ``snapshot_id``: the year
    before with every parameter the report compares, the others with the trend's."""
    earlier = {}
    with source.snapshot(database_url, snapshot_id) as conn:
        for back in range(1, max(compare_years, 1) + 1):
            if any(source.year_has_rows(conn, year - back, timezone)):
                parameters = READ_PARAMETERS if back == 1 else TREND_PARAMETERS
                earlier[year - back] = source.read_year(conn, year - back, ids, parameters,
                                                        timezone)  # fmt: skip
    return earlier


def render_charts(
    report: AnnualAssessment, charts_dir: Path, progress: Progress | None = None,
    met: Meteorology | None = None, workers: int | None = None,
) -> tuple[ChartFiles, dict[str, Path]]:
    """Every chart of the report (and the wind roses of ``met``) as PNG files, drawn in
    ``workers`` processes (default: one per CPU); returns the files and the wind roses
    by station id."""
    charts_dir.mkdir(parents=True, exist_ok=True)
    year = report.year
    stations = report.stations
    jobs: list[chart_pool.Job] = [partial(
        category_days_chart,
        [s.name for s in stations], [s.category_days.counts for s in stations],
        [s.category_days.without_aqi for s in stations], year,
        charts_dir / f"so-ngay-theo-aqi-{year}.png",
        f"Tỉnh {report.province}",
    )]  # fmt: skip
    limit_pm25 = report.daily_limits.get(("pm25", "24h"))
    if limit_pm25 is not None:
        jobs.append(partial(
            daily_pm25_chart,
            report.days,
            np.array([s.daily_pm25 for s in stations]).reshape(len(stations), len(report.days)),
            limit_pm25,
            f"Tỉnh {report.province} — PM2.5 trung bình 24 giờ năm {year}",
            charts_dir / f"pm25-ngay-toan-tinh-{year}.png",
        ))  # fmt: skip
    roses = [s for s in met.stations if s.has_wind] if met is not None else []
    jobs.extend(
        partial(wind_rose_chart, s, year, charts_dir / f"hoa-gio-{s.station_id}-{year}.png")
        for s in roses
    )
    scopes = [*stations, report.province_findings]
    highest = {
        p: max([m.value for f in scopes for m in f.monthly.get(p, []) if m.value is not None],
               default=0.0)
        for p in REPORT_PARAMETERS
    }
    monthly = MonthlyMeansChart(report.days, report.annual_limits, highest)
    jobs.append(partial(
        monthly.render,
        f"Toàn tỉnh {report.province} — trung bình tháng năm {year}",
        report.province_findings.monthly, charts_dir / f"trung-binh-thang-toan-tinh-{year}.png",
    ))  # fmt: skip
    calendar = AqiCalendarChart(report.days)
    for s in stations:
        jobs.append(partial(
            monthly.render, f"{s.name} — trung bình tháng năm {year}", s.monthly,
            charts_dir / f"trung-binh-thang-{s.key}-{year}.png",
        ))  # fmt: skip
        jobs.append(partial(
            calendar.render, f"{s.name} — VN_AQI ngày năm {year}", s.daily_category,
            charts_dir / f"lich-aqi-{s.key}-{year}.png",
        ))  # fmt: skip
    tick = _ticker(progress, "Vẽ biểu đồ", len(jobs))
    paths = chart_pool.render(jobs, workers, on_done=lambda path: tick(path.name))
    single = 2 if limit_pm25 is not None else 1
    category, daily = paths[0], paths[1] if limit_pm25 is not None else None
    rose_paths = paths[single:single + len(roses)]
    rest = paths[single + len(roses):]
    province_monthly, per_station = rest[0], rest[1:]
    files = ChartFiles(
        category, province_monthly,
        {s.key: per_station[2 * i] for i, s in enumerate(stations)},
        {s.key: per_station[2 * i + 1] for i, s in enumerate(stations)},
        daily,
    )  # fmt: skip
    return files, {s.station_id: p for s, p in zip(roses, rose_paths, strict=True)}


def build_annual_report(
    database_url: str,
    year: int,
    out_dir: Path,
    province: str,
    timezone: str = DEFAULT_TIMEZONE,
    progress: Progress | None = None,
    letterhead: Letterhead | None = None,
    draft: bool = False,
    compare_years: int = 1,
) -> ReportFiles:
    """Write the DOCX report, the XLSX annex and the PNG charts of ``year`` to ``out_dir``.

    The document is marked "DỰ THẢO" (watermark and a line under the title) whenever a
    valid hourly mean of the year is still provisional, and always with ``draft``;
    ``compare_years`` is how many years before ``year`` the trend covers (where they
    have data)."""
    timings: dict[str, float] = {}
    report, years, quality = read_and_assess(database_url, year, province, timezone, timings,
                                             progress, compare_years)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = build_tables(report)
    names = [(s.key, s.name) for s in (*report.stations, *report.indicative)]
    levels = data_levels_table(quality.validation, names)
    flags = qc_flags_table(quality.validation, names)
    draft = draft or quality.provisional
    met = quality.weather
    weather_tables = (wind_rose_table(met), rain_table(met), episode_weather_table(met))
    trend = trend_table(years) if len(years) > 1 else None
    with _step(timings, "charts"):
        charts, roses = render_charts(report, out_dir / CHARTS_DIR, progress, met)
    xlsx = out_dir / xlsx_name(year)
    with _step(timings, "xlsx"):
        write_annex(
            (*tables.all(), levels, flags, *weather_tables,
             *([trend] if trend is not None else [])), xlsx,
            f"Phụ lục số liệu — Báo cáo chất lượng không khí năm {year}, tỉnh {province}",
            methodology(report),
        )  # fmt: skip
    docx = out_dir / docx_name(year)
    with _step(timings, "docx"):
        write_report(report, tables, charts, docx, xlsx.name, f"aqm {__version__}",
                     on_station=_ticker(progress, "Viết báo cáo DOCX", len(report.stations)),
                     letterhead=letterhead, draft=draft, trend=trend,
                     validation=(quality.validation, levels, flags, quality.provisional),
                     weather=WeatherSection(met, roses, weather_tables[1], weather_tables[2])
                     if met.stations else None)
    chart_files = [charts.category_days, charts.province_monthly,
                   *([charts.daily_pm25] if charts.daily_pm25 is not None else []),
                   *charts.station_monthly.values(), *charts.station_calendar.values(),
                   *roses.values()]
    return ReportFiles(docx, xlsx, chart_files, timings, draft)
