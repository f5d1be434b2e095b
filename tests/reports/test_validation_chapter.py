"""Chapter 2's data capture and validation, and the draft mark: every figure recomputed
here from the seeded rows (tests/reports/conftest.py) with plain Python."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from docx import Document
from openpyxl import load_workbook

from aqm.localservices import PostgresInstance

from .conftest import YEAR, BuiltReport, Seeded, local_day, local_start

pytestmark = pytest.mark.services

START = local_start(YEAR)
END = local_start(YEAR + 1)
RULES = {
    "Vượt dải đo của thiết bị": "n_qc_range",
    "Giá trị âm vượt nhiễu thiết bị": "n_qc_negative",
    "Giá trị không đổi liên tiếp": "n_qc_flat_line",
    "Đột biến (spike)": "n_qc_spike",
    "PM2.5 lớn hơn PM10": "n_qc_pm_ratio",
    "Hủy thủ công (mọi lý do)": "n_qc_manual",
    "Trạng thái 01/02 (hiệu chuẩn, lỗi thiết bị)": "n_flagged",
}
REASONS = {"maintenance": "Bảo trì, bảo dưỡng", "power_outage": "Mất điện",
           "calibration": "Hiệu chuẩn", "other": "Lý do khác"}  # fmt: skip


def _sheet(report: BuiltReport, name: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in load_workbook(report.xlsx, read_only=True)[name].iter_rows(
        min_row=2, values_only=True)]  # fmt: skip


def _hours(seed: Seeded) -> dict[str, set[datetime]]:
    hours: dict[str, set[datetime]] = defaultdict(set)
    for station, _, hour, _, _ in seed.hourly:
        if START <= hour < END:
            hours[station].add(hour)
    return hours


def _verified_share(seed: Seeded, stations: tuple[str, ...]) -> tuple[int, int]:
    hours = _hours(seed)
    verified = sum(1 for s in stations for h in hours[s] if (s, local_day(h)) in seed.verified)
    return verified, sum(len(hours[s]) for s in stations)


def test_share_of_the_year_verified_and_status_time(annual_report: BuiltReport) -> None:
    seed = annual_report.seed
    hours = _hours(seed)
    rows = {r[0]: r for r in _sheet(annual_report, "Xác nhận số liệu")}
    assert set(rows) == {"BN01", "BN02", "BN03", "BNLC", "BNXE"}
    for key, row in rows.items():
        station = str(key)
        verified = sum(1 for h in hours[station] if (station, local_day(h)) in seed.verified)
        provisional = len(hours[station]) - verified
        calibration = {t.replace(minute=0) for s, _, t, bits in seed.status_flags
                       if s == station and bits & 2 and START <= t < END}  # fmt: skip
        fault = {t.replace(minute=0) for s, _, t, bits in seed.status_flags
                 if s == station and bits & 4 and START <= t < END}  # fmt: skip
        assert row[2:] == pytest.approx((
            8760, verified, 100 * verified / 8760, provisional, 100 * provisional / 8760,
            len(calibration), len(fault),
        )), station  # fmt: skip
    assert rows["BN01"][7] == 3 and rows["BN02"][8] == 4 and rows["BN03"][4] == 100 * 24 / 8760


def test_qc_flags_by_cause(annual_report: BuiltReport) -> None:
    seed = annual_report.seed
    removed: dict[tuple[str, str], int] = defaultdict(int)
    for (station, _, hour), counts in seed.qc_counts.items():
        if START <= hour < END:
            for column, n in counts.items():
                removed[(station, column)] += n
    manual: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for action, station, _, first, last, reason in seed.manual:
        if action == "invalidate" and first < END and last > START and reason is not None:
            manual[(station, REASONS[reason])][0] += 1
            manual[(station, REASONS[reason])][1] += (
                min(last, END) - max(first, START)
            ) / timedelta(hours=1)
    rows = _sheet(annual_report, "Cờ QA-QC")
    automatic = {(r[0], r[3]): r for r in rows if r[4] is not None}
    for station in ("BN01", "BN02", "BN03", "BNLC", "BNXE"):
        for label, column in RULES.items():
            assert automatic[(station, label)][4] == removed[(station, column)], (station, label)
    officer = {(str(r[0]), str(r[3])): [r[5], r[6]] for r in rows if r[4] is None}
    assert officer == dict(manual)  # whole and half hours: exact in binary
    assert officer[("BN01", "Bảo trì, bảo dưỡng")] == [2, 7.5]
    assert officer[("BN01", "Mất điện")] == [1, 7.0]  # clipped to the year
    assert ("BN02", "Lý do khác") not in officer  # before the year


def test_docx_chapter_2_and_methods_state_the_verified_share(annual_report: BuiltReport) -> None:
    document = Document(str(annual_report.docx))
    text = "\n".join(p.text for p in document.paragraphs)
    verified, total = _verified_share(annual_report.seed, ("BN01", "BN02", "BN03"))
    share = f"{100 * verified / total:.1f}".replace(".", ",")
    assert f"{share} % số giờ-trạm có số liệu" in text
    assert "báo cáo là bản DỰ THẢO" in text  # provisional data are included
    captions = [
        p.text for p in document.paragraphs if p.style is not None and p.style.name == "Caption"
    ]
    assert any("Số liệu đã xác nhận và tạm thời theo trạm" in c for c in captions)
    assert any("Số liệu bị loại theo nguyên nhân" in c for c in captions)
    # the report marked itself a draft without --draft
    assert 'string="DỰ THẢO"' in document.sections[0].header._element.xml


def test_a_fully_verified_year_is_no_draft_unless_asked(
    seeded_url: tuple[str, Seeded], postgres: PostgresInstance, tmp_path: Path,
    annual_report: BuiltReport,
) -> None:  # fmt: skip
    from reports.annual.build import build_annual_report

    url, _ = seeded_url
    reader = postgres.url(user="aqm_reader")
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE hourly SET data_level = 'verified' WHERE hour >= %s AND hour < %s",
                     (START, END))  # fmt: skip
    try:
        files = build_annual_report(reader, YEAR, tmp_path / "final", "Bắc Ninh")
        assert not files.draft
        document = Document(str(files.docx))
        assert "DỰ THẢO" not in document.sections[0].header._element.xml
        text = "\n".join(p.text for p in document.paragraphs)
        assert "Mọi số liệu của báo cáo đều đã được xác nhận." in text
        assert "100,0 % số giờ-trạm có số liệu" in text
        forced = build_annual_report(reader, YEAR, tmp_path / "draft", "Bắc Ninh", draft=True)
        assert forced.draft
        assert 'string="DỰ THẢO"' in Document(str(forced.docx)).sections[0].header._element.xml
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE hourly SET data_level = 'provisional'"
                         " WHERE hour >= %s AND hour < %s", (START, END))  # fmt: skip
