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
from reports.annual.tables import (
    AVERAGING_LABELS,
    parameter_label,
    pollutant_short,
    station_label,
)

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
        if e.exceeded == 0:
            continue
        unit = "giờ" if e.averaging == "1h" else "ngày"
        parts.append(f"{pollutant_short(e.parameter)} ({AVERAGING_LABELS[e.averaging]}): "
                     f"{w.integer(e.exceeded)} {unit}")
    scope = "" if per_station else " (tính theo ngày/giờ có ít nhất một trạm vượt)"
    if not parts:
        if not f.exceedances:
            return None
        return f"Không có lần vượt giới hạn 1 giờ, 8 giờ hay 24 giờ nào của {regulations}{scope}."
    return f"Số lần vượt giới hạn {regulations}{scope}: " + "; ".join(parts) + "."


def network_paragraphs(report: AnnualAssessment) -> list[str]:
    """Which stations the year had, and which came or went during it."""
    names = (": " + ", ".join(s.name for s in report.stations)
             if len(report.stations) <= MAX_NAMES_IN_TEXT else " (danh sách ở Bảng 1)")
    paragraphs = [
        f"Năm {report.year}, mạng lưới quan trắc chất lượng không khí của tỉnh "
        f"{report.province} có {len(report.stations)} trạm quan trắc tự động, cố định được "
        f"công bố VN_AQI (Điều 29–30 Thông tư 10/2021/TT-BTNMT){names}."
    ]
    if report.indicative:
        others = ", ".join(s.name for s in report.indicative[:MAX_NAMES_IN_TEXT])
        paragraphs.append(
            f"Ngoài ra có {len(report.indicative)} điểm quan trắc chỉ cung cấp số liệu tham "
            f"khảo (cảm biến chi phí thấp, trạm di động): {others}. Số liệu của các điểm này "
            "không được tính vào số ngày theo VN_AQI, trung bình toàn tỉnh, đánh giá QCVN và "
            "các ngày ô nhiễm nhất; chúng được trình bày riêng ở phụ lục số liệu tham khảo."
        )
    changes = []
    for s in (*report.stations, *report.indicative):
        rec = s.station
        if rec is None:
            continue
        if rec.installed_on is not None and rec.installed_on > report.days[0]:
            changes.append(f"{station_label(rec.name)} bắt đầu hoạt động từ "
                           f"{w.day(rec.installed_on)}")
        if rec.retired_on is not None and rec.retired_on < report.days[-1]:
            changes.append(f"{station_label(rec.name)} ngừng hoạt động sau ngày "
                           f"{w.day(rec.retired_on)}")
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
    label = station_label(s.name)
    paragraphs = [
        f"{label[0].upper()}{label[1:]} (mã {s.key}) hoạt động {w.integer(s.active_days)} "
        f"ngày trong năm {report.year}{period}; thông số đo: {measured}.",
        category_sentence(s.category_days),
    ]
    regulations = regulations_of_year(report.year)
    annual_pm25 = annual_pm25_sentence(s, annual_regulation(report.year))
    exceeded = exceedance_sentence(s, per_station=True, regulations=regulations)
    for sentence in (worst_month_sentence(s), annual_pm25, exceeded):
        if sentence:
            paragraphs.append(sentence)
    return paragraphs


def comparison_paragraphs(report: AnnualAssessment) -> list[str]:
    """Whether the year improved on the previous one, like for like (same stations)."""
    p = report.province_findings
    if report.previous_year is None:
        return [f"Không có số liệu năm {report.year - 1} để so sánh."]
    parts = []
    for a in p.annual:
        if a.previous is None or a.previous.value is None or a.comparable is None \
                or a.comparable.value is None:
            continue
        n = sum(1 for s in report.stations for b in s.annual if b.parameter == a.parameter
                and b.previous is not None and b.previous.value is not None
                and b.mean.value is not None)
        change = a.comparable.value - a.previous.value
        before = f"{w.number(a.previous.value)} µg/m³ ({report.year - 1})"
        after = f"{w.number(a.comparable.value)} µg/m³ ({report.year})"
        trend = (f"giảm từ {before} xuống {after}" if change < 0
                 else f"tăng từ {before} lên {after}" if change > 0
                 else f"không đổi ({after})")
        parts.append(f"trên cùng {n} trạm có đủ số liệu cả hai năm, nồng độ "
                     f"{pollutant_short(a.parameter)} trung bình năm {trend}")
    if not parts:
        return [f"Không trạm nào có đủ số liệu cả năm {report.year - 1} và năm {report.year} "
                "để so sánh (năm có dưới 75 % số ngày hợp lệ không được so sánh như cả năm)."]
    return ["So với năm trước: " + "; ".join(parts) + "."]


def episode_paragraphs(report: AnnualAssessment) -> list[str]:
    """Episodes of bad days and the Decree 08/2022 Art. 10 criterion, stated even when
    never met."""
    paragraphs = []
    if report.episodes:
        longest = report.episodes[0]
        paragraphs.append(
            f"Trong năm có {len(report.episodes)} đợt ô nhiễm (chuỗi ngày liên tiếp có ít nhất "
            "một trạm VN_AQI từ 201 trở lên); đợt dài nhất kéo dài "
            f"{w.integer(longest.days)} ngày, từ {w.day(longest.first_day)} đến "
            f"{w.day(longest.last_day)}, VN_AQI cao nhất {longest.peak_aqi} tại "
            f"{station_label(longest.peak_station)}."
        )
    else:
        paragraphs.append("Trong năm không có ngày nào có trạm với VN_AQI từ 201 (Xấu) trở lên.")
    met = [c for c in report.serious_pollution if c.met]
    if met:
        names = ", ".join(f"{station_label(c.station_name)} ({c.longest_run} ngày từ "
                          f"{w.day(c.run_start)})" for c in met if c.run_start is not None)
        paragraphs.append(
            "Tiêu chí ô nhiễm không khí nghiêm trọng cấp tỉnh của Điều 10 Nghị định "
            "08/2022/NĐ-CP (VN_AQI ngày ≥ 301 trong 3 ngày liên tiếp) đã xảy ra tại: "
            f"{names}."
        )
    else:
        longest_run = max((c.longest_run for c in report.serious_pollution), default=0)
        paragraphs.append(
            "Tiêu chí ô nhiễm không khí nghiêm trọng cấp tỉnh của Điều 10 Nghị định "
            "08/2022/NĐ-CP (VN_AQI ngày ≥ 301 trong 3 ngày liên tiếp) đã được đánh giá cho "
            f"{len(report.serious_pollution)} trạm và không xảy ra trong năm "
            f"(chuỗi dài nhất: {longest_run} ngày)."
        )
    return paragraphs


def conclusions(report: AnnualAssessment) -> list[str]:
    """Generated conclusions from the figures (the officer adds causes and measures)."""
    p = report.province_findings
    out = [category_sentence(p.category_days, "ngày-trạm")]
    out.append(stations_over_pm25_limit(report))
    months = p.monthly.get("pm25")
    if months:
        limit = report.annual_limits.get("pm25")
        high = [str(i + 1) for i, m in enumerate(months)
                if m.value is not None and limit is not None and m.value > limit]
        if high:
            out.append("Các tháng có nồng độ PM2.5 trung bình toàn tỉnh cao hơn giới hạn năm "
                       f"({w.number(limit or 0, 0)} µg/m³): tháng {', '.join(high)}.")
    out += comparison_paragraphs(report)
    out += episode_paragraphs(report)[-1:]
    return out
