"""The report's generated Vietnamese prose: the main facts, stated plainly.

Pure functions from findings to paragraphs (lists of strings); the DOCX renderer only
places them. Every sentence is built from numbers that also appear in a table.
"""

from __future__ import annotations

from aqi.categories import VN_CATEGORIES
from reports.annual import wording as w
from reports.annual.assessment import (
    AnnualAssessment,
    AnnualMean,
    CategoryDays,
    Exceedance,
    Findings,
    StationFindings,
)
from reports.annual.limits_in_force import annual_regulation, regulations_of_year
from reports.annual.tables import AVERAGING_LABELS, parameter_label, pollutant_short

MAX_NAMES_IN_TEXT = 10
"""Above this many stations the prose gives a count and points to the tables."""


def _annual(f: Findings, parameter: str) -> AnnualMean | None:
    return next((a for a in f.annual if a.parameter == parameter), None)


def _exceedance(f: Findings, parameter: str, averaging: str) -> Exceedance | None:
    return next(
        (e for e in f.exceedances if e.parameter == parameter and e.averaging == averaging), None
    )


def category_sentence(days: CategoryDays, unit: str = "ngày") -> str:
    """Share of good and moderate days, and the days at Kém or worse."""
    total = days.with_aqi
    if total == 0:
        return "Không có ngày nào có chỉ số VN_AQI trong năm."
    good, moderate = days.counts[0], days.counts[1]
    poor = total - good - moderate
    share = days.good_or_moderate_share or 0.0
    text = (
        f"Trong {w.integer(total)} {unit} có chỉ số VN_AQI, {w.percent(share)} ở mức "
        f"{VN_CATEGORIES[0].name_vi} hoặc {VN_CATEGORIES[1].name_vi} "
        f"({w.integer(good)} {unit} {VN_CATEGORIES[0].name_vi}, {w.integer(moderate)} {unit} "
        f"{VN_CATEGORIES[1].name_vi}); {w.integer(poor)} {unit} ở mức "
        f"{VN_CATEGORIES[2].name_vi} trở lên"
    )
    worst = [f"{w.integer(n)} {unit} {c.name_vi}"
             for c, n in zip(VN_CATEGORIES[2:], days.counts[2:], strict=True) if n]
    return text + (f" ({', '.join(worst)})." if worst else ".")


def worst_month_sentence(f: Findings) -> str | None:
    """The month with the highest mean PM2.5 (PM10 where PM2.5 is not measured)."""
    for parameter in ("pm25", "pm10"):
        months = f.monthly.get(parameter)
        if not months:
            continue
        valid = [(m.value, i + 1) for i, m in enumerate(months) if m.value is not None]
        if not valid:
            return (f"Không tháng nào đủ dữ liệu để tính nồng độ {pollutant_short(parameter)} "
                    "trung bình tháng.")
        value, month = max(valid)
        return (f"Tháng ô nhiễm nhất là tháng {month}, với nồng độ "
                f"{pollutant_short(parameter)} trung bình {w.number(value)} µg/m³.")
    return None


def annual_pm25_sentence(f: Findings, regulation: str) -> str | None:
    """The PM2.5 annual mean against the annual limit of ``regulation`` (its name)."""
    annual = _annual(f, "pm25")
    if annual is None:
        return None
    if annual.mean.value is None:
        return (f"Nồng độ PM2.5 trung bình năm: {w.percent(annual.mean.share)} số ngày trong năm "
                "có dữ liệu hợp lệ (cần ≥ 75 %), không đủ dữ liệu để tính.")
    limit = "" if annual.limit is None else (
        f", {'vượt' if annual.exceeds else 'không vượt'} giới hạn năm "
        f"{w.number(annual.limit, 0)} µg/m³ của {regulation}"
    )
    return f"Nồng độ PM2.5 trung bình năm là {w.number(annual.mean.value)} µg/m³{limit}."


def exceedance_sentence(f: Findings, per_station: bool, regulations: str) -> str | None:
    """Exceedance counts; ``regulations`` names the regulation(s) of the year's limits."""
    parts = []
    for e in f.exceedances:
        if e.exceeded == 0 or (e.averaging == "1h" and e.parameter != "no2"):
            continue
        unit = "giờ" if e.averaging == "1h" else "ngày"
        parts.append(f"{pollutant_short(e.parameter)} ({AVERAGING_LABELS[e.averaging]}): "
                     f"{w.integer(e.exceeded)} {unit}")
    no2 = _exceedance(f, "no2", "1h")
    scope = "" if per_station else " (tính theo ngày/giờ có ít nhất một trạm vượt)"
    if not parts:
        tail = " và giới hạn 1 giờ của NO2" if no2 is not None else ""
        return f"Không có lần vượt giới hạn 24 giờ{tail} nào của {regulations}{scope}."
    return f"Số lần vượt giới hạn {regulations}{scope}: " + "; ".join(parts) + "."


def network_paragraphs(report: AnnualAssessment) -> list[str]:
    """Which stations the year had, and which came or went during it."""
    names = (": " + ", ".join(s.name for s in report.stations)
             if len(report.stations) <= MAX_NAMES_IN_TEXT else " (danh sách ở mục 3)")
    paragraphs = [
        f"Năm {report.year}, mạng lưới quan trắc chất lượng không khí tự động của tỉnh "
        f"{report.province} có {len(report.stations)} trạm hoạt động{names}."
    ]
    changes = []
    for s in report.stations:
        rec = s.station
        if rec is None:
            continue
        if rec.installed_on is not None and rec.installed_on > report.days[0]:
            changes.append(f"trạm {rec.name} bắt đầu hoạt động từ {w.day(rec.installed_on)}")
        if rec.retired_on is not None and rec.retired_on < report.days[-1]:
            changes.append(f"trạm {rec.name} ngừng hoạt động sau ngày {w.day(rec.retired_on)}")
    if changes:
        paragraphs.append("Thay đổi mạng lưới trong năm: " + "; ".join(changes) + ".")
    return paragraphs


def province_paragraphs(report: AnnualAssessment) -> list[str]:
    """Province-wide facts: category shares, worst month, stations over the PM2.5 limit."""
    p = report.province_findings
    paragraphs = [category_sentence(p.category_days, "ngày-trạm")]
    month = worst_month_sentence(p)
    if month:
        paragraphs.append("Trên toàn tỉnh: " + month[0].lower() + month[1:])
    paragraphs.append(stations_over_pm25_limit(report))
    exceed = exceedance_sentence(p, per_station=False, regulations=regulations_of_year(report.year))
    if exceed:
        paragraphs.append(exceed)
    return paragraphs


def summary(report: AnnualAssessment) -> list[str]:
    """The summary at the top of the report."""
    return network_paragraphs(report) + province_paragraphs(report)


def stations_over_pm25_limit(report: AnnualAssessment) -> str:
    over, insufficient, limit = [], [], None
    for s in report.stations:
        annual = _annual(s, "pm25")
        if annual is None:
            continue
        limit = annual.limit
        if annual.mean.value is None:
            insufficient.append(s.name)
        elif annual.exceeds:
            over.append(f"{s.name} ({w.number(annual.mean.value)} µg/m³)")
    limit_text = "" if limit is None else f" ({w.number(limit, 0)} µg/m³)"
    regulation = annual_regulation(report.year)
    if len(over) > MAX_NAMES_IN_TEXT:
        text = (f"{len(over)} trạm có nồng độ PM2.5 trung bình năm vượt giới hạn năm của "
                f"{regulation}{limit_text} (xem bảng trung bình năm).")
    elif over:
        text = (f"Các trạm có nồng độ PM2.5 trung bình năm vượt giới hạn năm của "
                f"{regulation}{limit_text}: {', '.join(over)}.")
    else:
        text = (f"Không trạm nào có nồng độ PM2.5 trung bình năm vượt giới hạn năm của "
                f"{regulation}{limit_text}.")
    if len(insufficient) > MAX_NAMES_IN_TEXT:
        text += f" Không đủ dữ liệu để tính trung bình năm PM2.5 tại {len(insufficient)} trạm."
    elif insufficient:
        text += (" Không đủ dữ liệu để tính trung bình năm PM2.5 tại: "
                 f"{', '.join(insufficient)}.")
    return text


def station_paragraphs(report: AnnualAssessment, s: StationFindings) -> list[str]:
    rec = s.station
    period = ""
    if rec is not None and rec.installed_on is not None and rec.installed_on > report.days[0]:
        period += f" từ {w.day(rec.installed_on)}"
    if rec is not None and rec.retired_on is not None and rec.retired_on < report.days[-1]:
        period += f" đến {w.day(rec.retired_on)}"
    measured = ", ".join(parameter_label(p) for p in s.parameters) or "không có thông số nào"
    paragraphs = [
        f"Trạm {s.name} (mã {s.key}) hoạt động {w.integer(s.active_days)} ngày trong năm "
        f"{report.year}{period}; thông số đo: {measured}.",
        category_sentence(s.category_days),
    ]
    regulations = regulations_of_year(report.year)
    annual_pm25 = annual_pm25_sentence(s, annual_regulation(report.year))
    exceeded = exceedance_sentence(s, per_station=True, regulations=regulations)
    for sentence in (worst_month_sentence(s), annual_pm25, exceeded):
        if sentence:
            paragraphs.append(sentence)
    return paragraphs
