"""The report's charts as PNG files (matplotlib, Agg canvas, no pyplot state).

A chart drawn for every station (monthly means, AQI calendar) is built once and then
only its data, title and scale are swapped before each save: building a matplotlib
figure costs more than drawing it, and a province of 100 stations needs 200 of them.
Colours of the VN_AQI categories come from :mod:`aqi.categories` (Decision 1459).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.text import Text
from PIL import Image

from aqi.categories import VN_CATEGORIES
from reports.annual.statistics import FloatArray, PeriodMean

DPI: Final = 200
"""Print resolution; figures are drawn at the width they take on the page (16 cm), so
font sizes below are the sizes an officer reads on paper."""
WIDTH_IN: Final = 16 / 2.54
FONT: Final = 8.5
NO_AQI_COLOUR: Final = "#BDBDBD"
BORDER_PT: Final = 0.8
"""White line between the calendar's day cells."""
INACTIVE_COLOUR: Final = "#F0F0F0"
NO_DATE_COLOUR: Final = "#FFFFFF"
BAR_COLOUR: Final = "#4C72B0"
MONTH_LABELS: Final = [f"T{m}" for m in range(1, 13)]
MONTH_NUMBERS: Final = [str(m) for m in range(1, 13)]
MONTHLY_PARAMETERS: Final = ("pm25", "pm10", "no2")
_LABELS: Final = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO2"}


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    value = int(hex_colour.lstrip("#"), 16)
    return ((value >> 16) / 255.0, ((value >> 8) & 0xFF) / 255.0, (value & 0xFF) / 255.0)


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


class _Blitter:
    """Save a reused figure by redrawing only what changes between stations.

    The static parts (axes, ticks, legend, limit lines) are laid out and drawn once and
    kept as a pixel background; each save restores it, draws the changing artists on
    top and writes the pixels. Laying out and drawing axes text is what costs in
    matplotlib, so this is what keeps 200 charts within seconds.
    """

    def __init__(self, figure: Figure, dynamic: Sequence[Artist]) -> None:
        self.figure = figure
        self.dynamic = list(dynamic)
        canvas = figure.canvas
        assert isinstance(canvas, FigureCanvasAgg)
        self.canvas = canvas
        canvas.draw()  # type: ignore[no-untyped-call]  # lays out once, titles included
        figure.set_layout_engine("none")
        visible = [a.get_visible() for a in self.dynamic]
        for artist in self.dynamic:
            artist.set_visible(False)
        canvas.draw()  # type: ignore[no-untyped-call]
        self.background = canvas.copy_from_bbox(figure.bbox)  # type: ignore[no-untyped-call]
        for artist, was_visible in zip(self.dynamic, visible, strict=True):
            artist.set_visible(was_visible)

    def save(
        self, path: Path, paint: Callable[[npt.NDArray[np.uint8]], None] | None = None
    ) -> Path:
        """Draw the changing artists on the background and write the PNG; ``paint`` may
        then change the RGB pixels (rows from the top) in place before they are written."""
        self.canvas.restore_region(self.background)  # type: ignore[no-untyped-call]
        for artist in self.dynamic:
            if artist.get_visible():
                self.figure.draw_artist(artist)
        pixels = np.asarray(self.canvas.buffer_rgba())  # type: ignore[no-untyped-call]
        rgb = np.ascontiguousarray(pixels[..., :3])
        if paint is not None:
            paint(rgb)
        Image.fromarray(rgb).save(path, format="PNG", compress_level=1)
        return path


def category_days_chart(
    names: Sequence[str], counts: Sequence[Sequence[int]], without_aqi: Sequence[int],
    year: int, path: Path, province_title: str = "Toàn tỉnh",
) -> Path:
    """Days in each VN_AQI category per station: one stacked horizontal bar per station."""
    height = 1.8 + 0.24 * max(len(names), 1)
    figure = _figure(WIDTH_IN, height)
    ax = figure.add_subplot()
    y = np.arange(len(names))
    left = np.zeros(len(names))
    data = np.asarray(counts, dtype=float).reshape(len(names), len(VN_CATEGORIES))
    for i, category in enumerate(VN_CATEGORIES):
        ax.barh(y, data[:, i], left=left, color=category.hex, edgecolor="white",
                linewidth=0.4, label=category.name_vi)
        left += data[:, i]
    ax.barh(y, np.asarray(without_aqi, dtype=float), left=left, color=NO_AQI_COLOUR,
            edgecolor="white", linewidth=0.4, label="Không có AQI")
    ax.set_yticks(y, labels=list(names), fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT)
    ax.invert_yaxis()
    ax.set_xlabel("Số ngày", fontsize=FONT)
    ax.set_xlim(0, 366)
    figure.suptitle(f"{province_title} — số ngày theo mức VN_AQI năm {year}\n"
                    "(các trạm được công bố VN_AQI)", fontsize=FONT + 1.5, fontweight="bold")
    figure.legend(loc="outside lower center", ncols=4, fontsize=FONT, frameon=False)
    figure.savefig(path)
    return path


class MonthlyMeansChart:
    """Monthly means of PM2.5, PM10 and NO2, one panel each, with the QCVN annual limit.

    A monthly mean is not compared with the 24-h limit (different averaging periods);
    the annual limit is drawn as the reference of a long-term mean, labelled as such.

    Parameters
    ----------
    days : sequence of date
        Days of the report year.
    annual_limits : dict
        Per parameter, the annual limit (or None).
    highest : dict
        Per parameter, the highest monthly mean of any chart to come: every station is
        drawn on the same scale, so their charts compare at a glance.
    """

    def __init__(
        self,
        days: Sequence[date],
        annual_limits: dict[str, float | None],
        highest: dict[str, float],
    ) -> None:
        self.figure = _figure(WIDTH_IN, 3.0)
        axes = self.figure.subplots(1, len(MONTHLY_PARAMETERS), sharex=True)
        self.title = self.figure.suptitle("", fontsize=FONT + 1.5, fontweight="bold")
        x = np.arange(12)
        self.axes = list(axes)
        self.bars = []
        self.missing: list[list[Text]] = []
        self.not_measured = []
        dynamic: list[Artist] = [self.title]
        for ax, parameter in zip(self.axes, MONTHLY_PARAMETERS, strict=True):
            self.bars.append(ax.bar(x, np.zeros(12), width=0.8, color=BAR_COLOUR))
            dynamic.extend(self.bars[-1])
            tops = [0.0, highest.get(parameter, 0.0)]
            annual = annual_limits.get(parameter)
            if annual is not None:
                dynamic.append(ax.axhline(annual, color="#D62728", linewidth=1.4,
                                          label="Giới hạn trung bình năm (QCVN 05:2023/BTNMT)"))
                tops.append(annual)
            top = max(tops)
            ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
            self.missing.append([
                ax.text(i, 0, "×", ha="center", va="bottom", color="#777777", fontsize=FONT)
                for i in range(12)
            ])
            self.not_measured.append(ax.text(0.5, 0.5, "Không đo", transform=ax.transAxes,
                                             ha="center", va="center", color="#777777",
                                             fontsize=FONT))
            dynamic.extend([*self.missing[-1], self.not_measured[-1]])
            ax.set_title(f"{_LABELS[parameter]} (µg/m³)", fontsize=FONT + 0.5)
            ax.set_xticks(x[::2], labels=MONTH_NUMBERS[::2], fontsize=FONT)
            ax.set_xlabel("Tháng", fontsize=FONT)
            ax.tick_params(axis="y", labelsize=FONT)
            ax.set_xlim(-0.6, 11.6)
        handles, labels = self.axes[0].get_legend_handles_labels()
        handles.append(Patch(color=BAR_COLOUR, label="Trung bình tháng"))
        labels.append("Trung bình tháng (× : không đủ dữ liệu)")
        self.figure.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=FONT,
                           frameon=False)
        self.title.set_text("Trạm — trung bình tháng năm 2000")  # typical size for the layout
        self.blitter = _Blitter(self.figure, dynamic)

    def render(self, title: str, monthly: dict[str, list[PeriodMean]], path: Path) -> Path:
        """Draw one station's (or the province's) monthly means and save as PNG."""
        self.title.set_text(title)
        for k, parameter in enumerate(MONTHLY_PARAMETERS):
            means = monthly.get(parameter)
            values = [np.nan] * 12 if means is None else [
                np.nan if m.value is None else m.value for m in means
            ]
            for bar, marker, value in zip(self.bars[k], self.missing[k], values, strict=True):
                bar.set_height(0.0 if np.isnan(value) else value)
                marker.set_visible(means is not None and bool(np.isnan(value)))
            self.not_measured[k].set_visible(means is None)
        return self.blitter.save(path)


class AqiCalendarChart:
    """Daily VN_AQI category of one station as a month × day grid coloured per 1459."""

    def __init__(self, days: Sequence[date]) -> None:
        self.figure = _figure(WIDTH_IN, 3.4)
        ax = self.figure.add_subplot()
        self.title = self.figure.suptitle("", fontsize=FONT + 1.5, fontweight="bold")
        self.rows = np.array([d.month - 1 for d in days])
        self.cols = np.array([d.day - 1 for d in days])
        # palette index: 0 inactive, 1 no AQI, 2… categories; white where no such date
        self.palette = np.array(
            [_rgb(INACTIVE_COLOUR), _rgb(NO_AQI_COLOUR), *(_rgb(c.hex) for c in VN_CATEGORIES)]
        )
        self.blank = np.ones((12, 31, 3))
        self.image = ax.imshow(self.blank, aspect="auto", interpolation="nearest")
        ax.set_yticks(np.arange(12), labels=MONTH_LABELS, fontsize=FONT)
        ax.set_xticks(np.arange(0, 31, 2), labels=[str(d) for d in range(1, 32, 2)],
                      fontsize=FONT)
        ax.set_xlabel("Ngày trong tháng", fontsize=FONT)
        # cell borders, part of the background; cells are painted inside them
        ax.vlines(np.arange(-0.5, 31, 1), -0.5, 11.5, color="white", linewidth=BORDER_PT)
        ax.hlines(np.arange(-0.5, 12, 1), -0.5, 30.5, color="white", linewidth=BORDER_PT)
        legend = [Patch(color=c.hex, label=c.name_vi) for c in VN_CATEGORIES]
        legend += [Patch(color=NO_AQI_COLOUR, label="Không có AQI"),
                   Patch(facecolor=INACTIVE_COLOUR, edgecolor="#BBBBBB",
                         label="Trạm chưa/không hoạt động")]
        self.figure.legend(handles=legend, loc="outside lower center", ncols=4, fontsize=FONT,
                           frameon=False)
        self.title.set_text("Trạm — VN_AQI ngày năm 2000")
        # The grid (white, with its borders) is background; each station's cells are
        # painted into the pixels with numpy, inside the borders: resampling an image
        # through matplotlib for each of 100 stations at 200 dpi costs seconds.
        self.blitter = _Blitter(self.figure, [self.title])
        self.cells = self._cell_pixels(ax, BORDER_PT)
        self.palette_u8 = np.round(self.palette * 255).astype(np.uint8)

    def _cell_pixels(self, ax: Any, border_pt: float) -> list[tuple[slice, slice]]:
        """Pixel rows and columns (from the top) inside each day's cell, border excluded."""
        height = self.figure.bbox.height
        inset = int(np.ceil(border_pt * DPI / 72 / 2)) + 1
        cells = []
        for row, col in zip(self.rows, self.cols, strict=True):
            (x0, y0), (x1, y1) = ax.transData.transform(
                [(col - 0.5, row - 0.5), (col + 0.5, row + 0.5)]
            )
            top, bottom = sorted((height - y0, height - y1))
            cells.append((slice(int(np.ceil(top)) + inset, int(np.floor(bottom)) - inset + 1),
                          slice(int(np.ceil(x0)) + inset, int(np.floor(x1)) - inset + 1)))
        return cells

    def render(self, title: str, daily_category: npt.NDArray[np.int8], path: Path) -> Path:
        """``daily_category``: per day 0…5, -1 no AQI, -2 station did not exist."""
        colours = self.palette_u8[daily_category.astype(np.int64) + 2]

        def paint(pixels: npt.NDArray[np.uint8]) -> None:
            for (rows, cols), colour in zip(self.cells, colours, strict=True):
                pixels[rows, cols] = colour

        self.title.set_text(title)
        return self.blitter.save(path, paint)


def daily_pm25_chart(
    days: Sequence[date], daily: FloatArray, limits: FloatArray, title: str, path: Path
) -> Path:
    """Daily mean PM2.5 of the stations (rows of ``daily``) against the 24-h limit in force
    on each day: the highest station and the mean of the stations, day by day."""
    figure = _figure(WIDTH_IN, 3.0)
    ax = figure.add_subplot()
    x = np.arange(len(days))
    counts = np.count_nonzero(~np.isnan(daily), axis=0)
    filled = np.nan_to_num(daily, nan=0.0)
    highest = np.where(counts > 0, np.max(np.where(np.isnan(daily), -np.inf, daily), axis=0,
                                          initial=-np.inf), np.nan)
    mean = np.where(counts > 0, filled.sum(axis=0) / np.maximum(counts, 1), np.nan)
    ax.plot(x, highest, color="#E07B39", linewidth=0.8, label="Trạm cao nhất trong ngày")
    ax.plot(x, mean, color=BAR_COLOUR, linewidth=1.0, label="Trung bình các trạm")
    ax.step(x, limits, where="mid", color="#D62728", linestyle="--", linewidth=1.2,
            label="Giới hạn 24 giờ có hiệu lực (QCVN 05:2023/BTNMT)")
    starts = [i for i, d in enumerate(days) if d.day == 1]
    ax.set_xticks(starts, labels=[f"T{days[i].month}" for i in starts], fontsize=FONT)
    ax.tick_params(axis="y", labelsize=FONT)
    ax.set_ylabel("PM2.5 trung bình 24 giờ (µg/m³)", fontsize=FONT)
    ax.set_xlim(-1, len(days))
    ax.set_ylim(bottom=0)
    figure.suptitle(title, fontsize=FONT + 1.5, fontweight="bold")
    figure.legend(loc="outside lower center", ncols=2, fontsize=FONT, frameon=False)
    figure.savefig(path)
    return path
