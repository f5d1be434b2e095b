"""Meteorology where stations measure it (chapter on weather): wind rose by season from
hourly mean wind speed and direction, rain by month, and the weather during episodes.

Seasons are the meteorological ones of northern Viet Nam by local month: winter (12, 1,
2), spring (3–5), summer (6–8), autumn (9–11). A wind hour needs a valid hourly mean of
both wind speed and direction; below :data:`CALM_MS` it is calm and has no direction.
Directions fall into eight 45° sectors centred on N, NE, … (N: 337.5°–22.5°). Rain is
the sum of the hourly values (mm, each the hour's rainfall) and the hours with rain.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reports.annual.assessment import Episode
from reports.annual.charts import DPI, FONT, WIDTH_IN
from reports.annual.source import YearData
from reports.annual.statistics import HOURS_PER_DAY
from reports.annual.tables import Cell, Column, Table

MET_PARAMETERS: Final = ("wind_speed", "wind_direction", "rain")
CALM_MS: Final = 0.5
"""Wind speed (m/s) below which an hour is calm (WMO practice for wind roses)."""
SECTORS: Final = ("Bắc", "Đông Bắc", "Đông", "Đông Nam", "Nam", "Tây Nam", "Tây", "Tây Bắc")
CALM_LABEL: Final = "Lặng gió"
SEASONS: Final = (
    ("Đông (tháng 12–2)", (12, 1, 2)),
    ("Xuân (tháng 3–5)", (3, 4, 5)),
    ("Hè (tháng 6–8)", (6, 7, 8)),
    ("Thu (tháng 9–11)", (9, 10, 11)),
)


def sector_of(direction: np.ndarray) -> np.ndarray:
    """0…7 for N, NE, …, NW (N centred on 0°)."""
    return np.floor(((np.asarray(direction) % 360.0) + 22.5) / 45.0).astype(int) % 8


@dataclass(frozen=True)
class StationWeather:
    station_id: str
    name: str
    rose: dict[str, tuple[int, list[int]]]
    """Season → (wind hours, hours per sector N…NW then calm)."""
    rain_by_month: list[tuple[float, int]]
    """Per month: (rain mm, hours with rain)."""
    mean_speed: float | None
    speed_by_day: np.ndarray
    rain_by_day: np.ndarray
    has_wind: bool
    has_rain: bool


@dataclass(frozen=True)
class Meteorology:
    year: int
    days: tuple[date, ...]
    stations: tuple[StationWeather, ...]
    episodes: tuple[Episode, ...]


def assess_meteorology(
    met: YearData, names: dict[str, str], episodes: Sequence[Episode]
) -> Meteorology:
    """The weather figures of every station that measured wind or rain in the year."""
    n_days = len(met.days)
    month_of_hour = np.repeat([d.month for d in met.days], HOURS_PER_DAY)
    ws_i, wd_i, rain_i = (met.parameters.index(p) for p in MET_PARAMETERS)
    found = []
    for s, station_id in enumerate(met.station_ids):
        speed, direction, rain = met.hourly[s, ws_i], met.hourly[s, wd_i], met.hourly[s, rain_i]
        wind = ~np.isnan(speed) & ~np.isnan(direction)
        has_rain = bool((~np.isnan(rain)).any())
        if not wind.any() and not has_rain:
            continue
        calm = wind & (speed < CALM_MS)
        sectors = sector_of(np.where(np.isnan(direction), 0.0, direction))
        rose = {}
        for season, months in SEASONS:
            in_season = wind & np.isin(month_of_hour, months)
            counts = [int(np.count_nonzero(in_season & ~calm & (sectors == k))) for k in range(8)]
            rose[season] = (int(np.count_nonzero(in_season)),
                            [*counts, int(np.count_nonzero(in_season & calm))])  # fmt: skip
        rain_months = []
        for month in range(1, 13):
            values = rain[(month_of_hour == month) & ~np.isnan(rain)]
            rain_months.append((float(values.sum()), int(np.count_nonzero(values > 0))))
        by_day_speed = np.where(wind, speed, np.nan).reshape(n_days, HOURS_PER_DAY)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # days without wind: NaN
            speed_by_day = np.nanmean(by_day_speed, axis=1)
        rain_by_day = np.nansum(rain.reshape(n_days, HOURS_PER_DAY), axis=1)
        found.append(StationWeather(
            station_id, names.get(station_id, station_id), rose, rain_months,
            float(speed[wind].mean()) if wind.any() else None, speed_by_day, rain_by_day,
            bool(wind.any()), has_rain,
        ))  # fmt: skip
    return Meteorology(met.year, met.days, tuple(found), tuple(episodes))


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


def wind_rose_table(met: Meteorology) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for s in met.stations:
        if not s.has_wind:
            continue
        for season, (hours, counts) in s.rose.items():
            for label, n in zip((*SECTORS, CALM_LABEL), counts, strict=True):
                rows.append((s.station_id, s.name, season, label, n, _percent(n, hours)))
    return Table(
        "Hoa gió",
        f"Tần suất hướng gió theo mùa, năm {met.year} (giờ có tốc độ và hướng gió hợp lệ; "
        f"lặng gió: dưới {CALM_MS:g} m/s)".replace(".", ","),
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Mùa", width=18), Column("Hướng gió", width=14),
            Column("Số giờ", "0"), Column("Tần suất (%)", "0.0"),
        ),
        tuple(rows),
    )  # fmt: skip


def rain_table(met: Meteorology) -> Table:
    rows = [
        (s.station_id, s.name, month, mm, hours)
        for s in met.stations if s.has_rain
        for month, (mm, hours) in enumerate(s.rain_by_month, start=1)
    ]  # fmt: skip
    return Table(
        "Lượng mưa",
        f"Lượng mưa theo tháng, năm {met.year}",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Tháng", "0"), Column("Lượng mưa (mm)", "0.0"),
            Column("Số giờ có mưa", "0"),
        ),
        tuple(rows),
    )  # fmt: skip


def episode_weather_table(met: Meteorology) -> Table:
    """Per episode and station with wind or rain: mean wind speed during the episode
    against the station's annual mean, and the rain that fell."""
    index = {d: i for i, d in enumerate(met.days)}
    rows: list[tuple[Cell, ...]] = []
    for e in met.episodes:
        span = slice(index[e.first_day], index[e.last_day] + 1)
        for s in met.stations:
            days = s.speed_by_day[span]
            valid = days[~np.isnan(days)]
            rows.append((
                s.station_id, s.name, e.first_day, e.last_day,
                float(valid.mean()) if valid.size else None, s.mean_speed,
                float(s.rain_by_day[span].sum()) if s.has_rain else None,
            ))  # fmt: skip
    return Table(
        "Khí tượng trong đợt ô nhiễm",
        "Gió và mưa trong các đợt ô nhiễm",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Từ ngày", "dd/mm/yyyy"), Column("Đến ngày", "dd/mm/yyyy"),
            Column("Tốc độ gió trung bình trong đợt (m/s)", "0.0"),
            Column("Tốc độ gió trung bình năm (m/s)", "0.0"),
            Column("Lượng mưa trong đợt (mm)", "0.0"),
        ),
        tuple(rows),
    )  # fmt: skip


def wind_rose_chart(station: StationWeather, year: int, path: Path) -> Path:
    """Four polar panels (one per season): share of wind hours per sector."""
    figure = Figure(figsize=(WIDTH_IN, WIDTH_IN * 0.42), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    angles = np.deg2rad(np.arange(8) * 45.0)
    top = max((100.0 * max(c[:8]) / h for h, c in station.rose.values() if h), default=1.0)
    for k, (season, (hours, counts)) in enumerate(station.rose.items()):
        ax = figure.add_subplot(1, 4, k + 1, projection="polar")
        ax.set_theta_zero_location("N")  # type: ignore[attr-defined]
        ax.set_theta_direction(-1)  # type: ignore[attr-defined]
        shares = [100.0 * c / hours if hours else 0.0 for c in counts[:8]]
        ax.bar(angles, shares, width=np.deg2rad(40), color="#4C72B0", edgecolor="white")
        ax.set_ylim(0, top * 1.1 or 1.0)
        ax.set_xticks(angles, labels=["B", "ĐB", "Đ", "ĐN", "N", "TN", "T", "TB"],
                      fontsize=FONT - 1)  # fmt: skip
        ax.tick_params(axis="y", labelsize=FONT - 2)
        calm = _percent(counts[8], hours)
        ax.set_title(f"{season}\nlặng gió {calm or 0:.0f} %".replace(".", ","),
                     fontsize=FONT)  # fmt: skip
    figure.suptitle(f"{station.name} — hoa gió theo mùa năm {year} (% số giờ)",
                    fontsize=FONT + 1.5, fontweight="bold")  # fmt: skip
    figure.savefig(path)
    return path


def weather_paragraphs(met: Meteorology) -> list[str]:
    if not met.stations:
        return ["Trong năm báo cáo không trạm nào đo gió hoặc mưa."]
    names = ", ".join(s.name for s in met.stations)
    text = [
        f"Các trạm đo khí tượng trong năm {met.year}: {names}. Hoa gió theo mùa dùng các giờ "
        "có trung bình 1 giờ hợp lệ của cả tốc độ và hướng gió; lượng mưa là tổng lượng mưa "
        "các giờ."
    ]
    if met.episodes:
        calmer = 0
        compared = 0
        for row in episode_weather_table(met).rows:
            during, annual = row[4], row[5]
            if isinstance(during, float) and isinstance(annual, float):
                compared += 1
                calmer += during < annual
        if compared:
            text.append(
                f"Trong {calmer}/{compared} trường hợp (đợt ô nhiễm × trạm đo gió), tốc độ gió "
                "trung bình trong đợt thấp hơn trung bình năm của trạm."
            )
    return text
