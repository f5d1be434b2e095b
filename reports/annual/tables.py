"""The report's tables, built once from the findings and rendered twice.

Each :class:`Table` is one sheet of the XLSX annex (the whole table, every station and
the province) and, filtered by :meth:`Table.rows_for`, the table of a station's or the
province's section in the DOCX — so the annex and the document always show the same
numbers. Headers and labels are Vietnamese; cells hold raw values (floats at full
precision, dates), formatting is the renderers' job. Where a station lacks the data for
a value the cell holds :data:`INSUFFICIENT` instead of a misleading number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from aqi.categories import VN_CATEGORIES
from aqm_core.parameters import PARAMETERS
from reports.annual.assessment import (
    PROVINCE_KEY,
    AnnualAssessment,
    CategoryDays,
    Findings,
    LimitRegime,
)
from reports.annual.limits_in_force import annual_regulation, regulations_of_year
from reports.annual.statistics import MIN_HOURS_PER_DAY, PeriodMean

Cell = str | int | float | date | datetime | None

INSUFFICIENT: Final = "Không đủ dữ liệu (< 75 % số ngày)"
"""The note beside an empty mean cell that the completeness rule does not allow; numeric
columns stay numeric (empty cell) so the annex can be computed with."""

AVERAGING_LABELS: Final = {"1h": "1 giờ", "8h": "8 giờ", "24h": "24 giờ", "year": "năm"}
COUNT_UNITS: Final = {"1h": "giờ", "8h": "ngày", "24h": "ngày"}
STATION_TYPE_LABELS: Final = {
    "fixed_automatic": "Trạm cố định tự động",
    "mobile": "Trạm di động",
    "low_cost_sensor": "Cảm biến chi phí thấp",
}
STATUS_LABELS: Final = {"active": "Đang hoạt động", "retired": "Đã ngừng"}


@dataclass(frozen=True)
class Column:
    header: str
    number_format: str | None = None
    """Excel number format of the column's numbers, e.g. ``0.0``."""
    width: float = 14.0


@dataclass(frozen=True)
class Table:
    sheet: str
    """XLSX sheet name (≤ 31 characters)."""
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    key_columns: int = 2
    """Leading columns naming the scope (station id and name, or the province)."""

    def rows_for(self, key: str) -> Table:
        """The rows whose first column is ``key``, without the scope columns."""
        k = self.key_columns
        return Table(
            self.sheet, self.title, self.columns[k:],
            tuple(row[k:] for row in self.rows if row[0] == key), 0,
        )  # fmt: skip


def parameter_label(parameter: str) -> str:
    return PARAMETERS[parameter].name_vi if parameter in PARAMETERS else parameter


def pollutant_short(parameter: str | None) -> str:
    labels = {"pm25": "PM2.5", "pm10": "PM10", "tsp": "TSP"}
    if parameter is None:
        return "—"
    return labels.get(parameter, parameter.upper())


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


def _mean_cell(mean: PeriodMean) -> Cell:
    return mean.value


def _mean_note(*means: PeriodMean | None) -> Cell:
    return INSUFFICIENT if any(m is not None and m.value is None for m in means) else None


def limit_cell(regimes: Sequence[LimitRegime]) -> Cell:
    """The limit in force at the end of the year (a number); see :func:`limit_note`."""
    return regimes[-1].value if regimes else None


def limit_note(regimes: Sequence[LimitRegime]) -> Cell:
    """Each limit with its dates when the limit changed during the year, else nothing."""
    if len({r.value for r in regimes}) <= 1:
        return None
    return "Giới hạn thay đổi trong năm: " + "; ".join(
        f"{r.value:g} µg/m³ từ {r.first_day:%d/%m} đến {r.last_day:%d/%m}" for r in regimes
    )


def station_label(name: str) -> str:
    """A station's name as a sentence names it: "trạm X" unless the name already says
    what it is (Trạm …, Cảm biến …, Xe …), so no "Trạm Trạm …"."""
    first = name.split(" ", 1)[0].casefold()
    if first in ("trạm", "cảm", "xe", "điểm", "thiết"):
        return name
    return f"trạm {name}"


def _scopes(report: AnnualAssessment) -> list[Findings]:
    return [*report.stations, report.province_findings]


def stations_table(report: AnnualAssessment) -> Table:
    rows = []
    for s in (*report.stations, *report.indicative):
        rec = s.station
        assert rec is not None
        rows.append((
            rec.station_id, rec.name, rec.ward,
            STATION_TYPE_LABELS.get(rec.station_type, rec.station_type),
            rec.installed_on, rec.retired_on, STATUS_LABELS.get(rec.status, rec.status),
            s.active_days, s.eligible_days, ", ".join(pollutant_short(p) for p in s.parameters),
        ))  # fmt: skip
    return Table(
        "Trạm quan trắc",
        f"Các trạm quan trắc hoạt động trong năm {report.year}, theo loại trạm",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Phường/xã", width=18), Column("Loại trạm", width=22),
            Column("Ngày lắp đặt", "dd/mm/yyyy"), Column("Ngày ngừng", "dd/mm/yyyy"),
            Column("Trạng thái", width=16), Column("Số ngày hoạt động", "0"),
            Column("Số ngày được công bố VN_AQI", "0"), Column("Thông số đo", width=30),
        ),
        tuple(rows),
        key_columns=0,
    )  # fmt: skip


def completeness_table(report: AnnualAssessment) -> Table:
    rows = [
        (s.key, s.name, parameter_label(c.parameter),
         c.valid_hours, c.possible_hours, _percent(c.valid_hours, c.possible_hours),
         c.valid_days, c.possible_days, _percent(c.valid_days, c.possible_days))
        for s in (*report.stations, *report.indicative) for c in s.completeness
    ]  # fmt: skip
    return Table(
        "Độ đầy đủ dữ liệu",
        "Độ đầy đủ dữ liệu theo trạm và thông số (trong thời gian trạm hoạt động và được "
        "công bố VN_AQI)",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Thông số", width=22), Column("Số giờ hợp lệ", "0"),
            Column("Số giờ hoạt động", "0"), Column("Tỷ lệ giờ hợp lệ (%)", "0.0"),
            Column(f"Số ngày hợp lệ (≥ {MIN_HOURS_PER_DAY} giờ)", "0"),
            Column("Số ngày hoạt động", "0"),
            Column("Tỷ lệ ngày hợp lệ (%)", "0.0"),
        ),
        tuple(rows),
    )  # fmt: skip


def gaps_table(report: AnnualAssessment) -> Table:
    rows = [
        (s.key, s.name, parameter_label(g.parameter), g.start.replace(tzinfo=None),
         g.end.replace(tzinfo=None), g.hours)
        for s in (*report.stations, *report.indicative) for g in s.gaps
    ]  # fmt: skip
    return Table(
        "Gián đoạn dữ liệu",
        "Các khoảng gián đoạn dữ liệu dài hơn một ngày (giờ địa phương)",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Thông số", width=22), Column("Từ", "dd/mm/yyyy hh:mm", 18),
            Column("Đến", "dd/mm/yyyy hh:mm", 18), Column("Số giờ", "0"),
        ),
        tuple(rows),
    )  # fmt: skip


def _category_row(key: str, name: str, days: CategoryDays) -> tuple[Cell, ...]:
    share = days.good_or_moderate_share
    return (key, name, *days.counts, days.without_aqi, days.with_aqi,
            None if share is None else 100.0 * share)  # fmt: skip


def category_days_table(report: AnnualAssessment) -> Table:
    rows = [_category_row(f.key, f.name, f.category_days) for f in _scopes(report)]
    return Table(
        "Số ngày theo AQI",
        f"Số ngày theo mức chất lượng không khí VN_AQI năm {report.year}",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            *(Column(c.name_vi, "0", 11) for c in VN_CATEGORIES),
            Column("Không có AQI", "0"), Column("Số ngày có AQI", "0"),
            Column("Tỷ lệ Tốt + Trung bình (%)", "0.0"),
        ),
        tuple(rows),
    )  # fmt: skip


def annual_means_table(report: AnnualAssessment) -> Table:
    rows = []
    for f in _scopes(report):
        for a in f.annual:
            verdict = {True: "Vượt", False: "Đạt", None: "—"}[a.exceeds]
            rows.append((
                f.key, f.name, parameter_label(a.parameter), _mean_cell(a.mean),
                a.mean.valid_days, a.mean.days, 100.0 * a.mean.share, a.limit, verdict,
                a.stations_used, _mean_note(a.mean),
            ))  # fmt: skip
    return Table(
        "Trung bình năm",
        f"Nồng độ trung bình năm {report.year} so với giới hạn năm của "
        f"{annual_regulation(report.year)}",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Thông số", width=22), Column("Trung bình năm (µg/m³)", "0.0", 18),
            Column("Số ngày hợp lệ", "0"), Column("Số ngày trong năm", "0"),
            Column("Tỷ lệ ngày hợp lệ (%)", "0.0"), Column("Giới hạn năm (µg/m³)", "0"),
            Column("Đánh giá", width=10), Column("Số trạm đủ dữ liệu", "0"),
            Column("Ghi chú", width=30),
        ),
        tuple(rows),
    )  # fmt: skip


def exceedances_table(report: AnnualAssessment) -> Table:
    rows = [
        (f.key, f.name, parameter_label(e.parameter), AVERAGING_LABELS[e.averaging],
         limit_cell(e.regimes), COUNT_UNITS[e.averaging], e.exceeded, e.judged, e.possible,
         _percent(e.exceeded, e.judged), limit_note(e.regimes))
        for f in _scopes(report) for e in f.exceedances
    ]  # fmt: skip
    return Table(
        "Vượt giới hạn",
        f"Số lần vượt giới hạn {regulations_of_year(report.year)} (giá trị lớn hơn giới hạn "
        "có hiệu lực vào ngày đó)",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Thông số", width=22), Column("Thời gian trung bình", width=12),
            Column("Giới hạn (µg/m³)", "0", 12), Column("Đếm theo", width=10),
            Column("Số lần vượt", "0"), Column("Số giá trị hợp lệ", "0"),
            Column("Số giá trị trong thời gian hoạt động", "0"),
            Column("Tỷ lệ vượt (%)", "0.0"), Column("Ghi chú", width=30),
        ),
        tuple(rows),
    )  # fmt: skip


def worst_days_table(report: AnnualAssessment) -> Table:
    rows = [
        (f.key, rank, w.day, w.station_id, w.station_name, w.aqi,
         VN_CATEGORIES[w.category].name_vi, pollutant_short(w.dominant))
        for f in _scopes(report) for rank, w in enumerate(f.worst_days, start=1)
    ]  # fmt: skip
    return Table(
        "10 ngày ô nhiễm nhất",
        "10 ngày có VN_AQI cao nhất và chất ô nhiễm chính (Phạm vi: mã trạm, hoặc Toàn tỉnh "
        "cho 10 ngày-trạm cao nhất của các trạm được công bố VN_AQI)",
        (
            Column("Phạm vi", width=16), Column("Hạng", "0", 6),
            Column("Ngày", "dd/mm/yyyy", 12), Column("Mã trạm", width=16),
            Column("Tên trạm", width=30), Column("VN_AQI", "0", 8),
            Column("Mức", width=12), Column("Chất ô nhiễm chính", width=12),
        ),
        tuple(rows),
        key_columns=1,
    )  # fmt: skip


def monthly_means_table(report: AnnualAssessment) -> Table:
    rows = [
        (f.key, f.name, parameter_label(p), *(m.value for m in f.monthly[p]))
        for f in _scopes(report) for p in f.parameters
    ]  # fmt: skip
    return Table(
        "Trung bình tháng",
        "Nồng độ trung bình tháng (µg/m³); ô trống: không đủ dữ liệu (< 75 % số ngày)",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Thông số", width=22),
            *(Column(f"T{m}", "0.0", 8) for m in range(1, 13)),
        ),
        tuple(rows),
    )  # fmt: skip


def previous_year_table(report: AnnualAssessment) -> Table:
    """This year against the year before, like for like: a station only where both years
    have a valid figure; the province over the stations that have one in both years, with
    their number (the province's own figure for the year is in the other tables)."""
    rows: list[tuple[Cell, ...]] = []
    for f in _scopes(report):
        province = f.key == PROVINCE_KEY
        for a in f.annual:
            if a.previous is None or a.previous.value is None:
                continue
            now_mean = a.comparable if province else a.mean
            if now_mean is None or now_mean.value is None:
                continue
            compared = sum(
                1 for s in report.stations for b in s.annual
                if b.parameter == a.parameter and b.previous is not None
                and b.previous.value is not None and b.mean.value is not None
            ) if province else 1  # fmt: skip
            rows.append((f.key, f.name,
                         f"Trung bình năm {parameter_label(a.parameter)} (µg/m³)", compared,
                         a.previous.value, now_mean.value, now_mean.value - a.previous.value))
        prev = f.previous_category_days
        now_days = f.comparable_category_days if province else f.category_days
        if (prev is not None and prev.good_or_moderate_share is not None
                and now_days is not None and now_days.good_or_moderate_share is not None):
            compared = sum(
                1 for s in report.stations if s.previous_category_days is not None
            ) if province else 1  # fmt: skip
            now = now_days.good_or_moderate_share
            rows.append((
                f.key, f.name, "Tỷ lệ ngày Tốt + Trung bình (%)", compared,
                100.0 * prev.good_or_moderate_share, 100.0 * now,
                100.0 * (now - prev.good_or_moderate_share),
            ))  # fmt: skip
    return Table(
        "So sánh năm trước",
        f"So sánh với năm {report.year - 1} trên cùng các trạm (chỉ các trạm có số liệu đủ "
        "cả hai năm; năm trước không đủ 75 % số ngày thì không so sánh)",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Chỉ tiêu", width=40), Column("Số trạm so sánh", "0"),
            Column(f"Năm {report.year - 1}", "0.0"),
            Column(f"Năm {report.year} (cùng trạm)", "0.0"),
            Column("Thay đổi", "+0.0;-0.0;0.0"),
        ),
        tuple(rows),
    )  # fmt: skip


def maxima_table(report: AnnualAssessment) -> Table:
    rows = [
        (s.key, s.name, parameter_label(p), high_1h, high_24h)
        for s in report.stations for p, (high_1h, high_24h) in s.maxima.items()
    ]  # fmt: skip
    return Table(
        "Giá trị lớn nhất",
        f"Giá trị 1 giờ và trung bình 24 giờ lớn nhất năm {report.year} theo trạm (µg/m³)",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Thông số", width=22), Column("Lớn nhất 1 giờ", "0.0"),
            Column("Lớn nhất trung bình 24 giờ", "0.0"),
        ),
        tuple(rows),
    )  # fmt: skip


def episodes_table(report: AnnualAssessment) -> Table:
    rows = [
        (PROVINCE_KEY, i, e.first_day, e.last_day, e.days, e.stations, e.peak_aqi,
         e.peak_station)
        for i, e in enumerate(report.episodes, start=1)
    ]  # fmt: skip
    return Table(
        "Đợt ô nhiễm",
        "Các đợt ô nhiễm: chuỗi ngày liên tiếp có ít nhất một trạm VN_AQI ngày từ 201 (Xấu) "
        "trở lên",
        (
            Column("Phạm vi", width=12), Column("Đợt", "0", 6),
            Column("Từ ngày", "dd/mm/yyyy", 12), Column("Đến ngày", "dd/mm/yyyy", 12),
            Column("Số ngày", "0", 8), Column("Số trạm", "0", 8),
            Column("VN_AQI cao nhất", "0", 10), Column("Tại trạm", width=30),
        ),
        tuple(rows),
        key_columns=1,
    )  # fmt: skip


def serious_pollution_table(report: AnnualAssessment) -> Table:
    rows = [
        (c.station_id, c.station_name, c.longest_run, c.run_start,
         "Đạt tiêu chí" if c.met else "Không")
        for c in report.serious_pollution
    ]  # fmt: skip
    return Table(
        "Điều 10 NĐ 08-2022",
        "Tiêu chí ô nhiễm nghiêm trọng cấp tỉnh (Điều 10 Nghị định 08/2022/NĐ-CP: VN_AQI "
        "ngày ≥ 301 trong 3 ngày liên tiếp)",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Chuỗi ngày VN_AQI ≥ 301 dài nhất", "0", 14),
            Column("Bắt đầu từ", "dd/mm/yyyy", 12), Column("Tiêu chí", width=14),
        ),
        tuple(rows),
        key_columns=0,
    )  # fmt: skip


def indicative_table(report: AnnualAssessment) -> Table:
    rows = []
    for s in report.indicative:
        rec = s.station
        assert rec is not None
        for a in s.annual:
            high_1h, high_24h = s.maxima.get(a.parameter, (None, None))
            note = _mean_note(a.mean)
            if a.parameter == "pm25" and s.pm25_correction is not None:
                total = s.pm25_corrected_hours + s.pm25_raw_hours
                share = 0.0 if total == 0 else s.pm25_corrected_hours / total
                note = (f"Đã hiệu chỉnh ({s.pm25_correction}) {100 * share:.0f} % số giờ; "
                        "còn lại dùng giá trị thô")
            rows.append((
                s.key, s.name, STATION_TYPE_LABELS.get(rec.station_type, rec.station_type),
                parameter_label(a.parameter), a.mean.value, a.mean.valid_days, high_1h,
                high_24h, note,
            ))  # fmt: skip
    return Table(
        "Số liệu tham khảo",
        f"Số liệu tham khảo năm {report.year} (cảm biến chi phí thấp, trạm di động, trạm "
        "không đủ điều kiện công bố VN_AQI): nồng độ, không dùng để đánh giá QCVN",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Loại trạm", width=22), Column("Thông số", width=22),
            Column("Trung bình năm (µg/m³)", "0.0", 14), Column("Số ngày hợp lệ", "0"),
            Column("Lớn nhất 1 giờ", "0.0"), Column("Lớn nhất 24 giờ", "0.0"),
            Column("Ghi chú", width=40),
        ),
        tuple(rows),
    )  # fmt: skip


@dataclass(frozen=True)
class ReportTables:
    stations: Table
    completeness: Table
    gaps: Table
    category_days: Table
    annual_means: Table
    exceedances: Table
    worst_days: Table
    monthly_means: Table
    previous_year: Table
    maxima: Table
    episodes: Table
    serious_pollution: Table
    indicative: Table

    def all(self) -> tuple[Table, ...]:
        return (self.stations, self.completeness, self.gaps, self.category_days,
                self.annual_means, self.exceedances, self.maxima, self.worst_days,
                self.episodes, self.serious_pollution, self.monthly_means,
                self.previous_year, self.indicative)  # fmt: skip


def build_tables(report: AnnualAssessment) -> ReportTables:
    return ReportTables(
        stations=stations_table(report),
        completeness=completeness_table(report),
        gaps=gaps_table(report),
        category_days=category_days_table(report),
        annual_means=annual_means_table(report),
        exceedances=exceedances_table(report),
        worst_days=worst_days_table(report),
        monthly_means=monthly_means_table(report),
        previous_year=previous_year_table(report),
        maxima=maxima_table(report),
        episodes=episodes_table(report),
        serious_pollution=serious_pollution_table(report),
        indicative=indicative_table(report),
    )
