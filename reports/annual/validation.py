"""Data capture and validation of each station over the year (chapter 2).

Read in the report's snapshot (``aqm_reader`` may SELECT everything used here):

* data levels: station-hours of the local year with an hourly row, split into
  *verified* (any row of the hour inside a verified period) and *provisional*;
* readings each automatic rule removed (``hourly.n_qc_*``; each reading is counted under
  the first rule that removed it, docs/qaqc.md) and readings of status 01/02
  (``hourly.n_flagged``);
* manual invalidations by reason code (``qc_manual_periods``), clipped to the year;
* time under status 01 (calibration) and 02 (instrument fault): station-hours holding at
  least one reading with that automatic flag (``qc_flags`` bits 2 and 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import numpy as np

from reports.annual import wording as w
from reports.annual.source import Connection, HourlyRows
from reports.annual.tables import Cell, Column, Table

RULE_COLUMNS: Final = (
    ("n_qc_range", "Vượt dải đo của thiết bị"),
    ("n_qc_negative", "Giá trị âm vượt nhiễu thiết bị"),
    ("n_qc_flat_line", "Giá trị không đổi liên tiếp"),
    ("n_qc_spike", "Đột biến (spike)"),
    ("n_qc_pm_ratio", "PM2.5 lớn hơn PM10"),
)
"""Automatic rules with a removal count in ``hourly``, in the order they apply."""

REASON_LABELS: Final = {
    "calibration": "Hiệu chuẩn",
    "maintenance": "Bảo trì, bảo dưỡng",
    "instrument_fault": "Lỗi thiết bị",
    "power_outage": "Mất điện",
    "exceptional_event": "Sự kiện bất thường",
    "other": "Lý do khác",
}
"""Reason codes of ``aqm qc invalidate`` (docs/qaqc.md)."""

CALIBRATION_BIT: Final = 2
FAULT_BIT: Final = 4


@dataclass
class StationValidation:
    station_id: str
    year_hours: int
    verified_hours: int = 0
    provisional_hours: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    """Readings removed per ``n_qc_*`` column (``n_qc_manual`` included)."""
    status_readings: int = 0
    """Readings of status 01 or 02 (``n_flagged``)."""
    calibration_hours: int = 0
    fault_hours: int = 0
    manual: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Reason code → (invalidations, hours within the year)."""

    @property
    def hours_with_data(self) -> int:
        return self.verified_hours + self.provisional_hours


@dataclass(frozen=True)
class NetworkValidation:
    year: int
    stations: dict[str, StationValidation]

    def totals(self, station_ids: Sequence[str]) -> tuple[int, int]:
        """(verified, provisional) station-hours of the given stations."""
        picked = [self.stations[s] for s in station_ids if s in self.stations]
        return (sum(v.verified_hours for v in picked), sum(v.provisional_hours for v in picked))


_STATUS: Final = """
SELECT station_id,
       count(DISTINCT date_trunc('hour', ts)) FILTER (WHERE flags & %(cal)s <> 0),
       count(DISTINCT date_trunc('hour', ts)) FILTER (WHERE flags & %(fault)s <> 0)
FROM qc_flags
WHERE ts >= %(start)s AND ts < %(end)s AND station_id = ANY(%(stations)s)
  AND flags & (%(cal)s | %(fault)s) <> 0
GROUP BY station_id
"""

_MANUAL: Final = """
SELECT station_id, reason, count(*),
       sum(extract(epoch FROM least(period_end, %(end)s) - greatest(period_start, %(start)s)))
FROM qc_manual_periods
WHERE action = 'invalidate' AND period_start < %(end)s AND period_end > %(start)s
  AND station_id = ANY(%(stations)s)
GROUP BY station_id, reason
"""


SUMMED_COLUMNS: Final = ("n_flagged", "n_qc_manual", *(c for c, _ in RULE_COLUMNS))
"""Columns of ``hourly`` the chapter sums over a station's year (:func:`scan_year`)."""


def read_validation(
    conn: Connection, year: int, station_ids: Sequence[str], start_utc: datetime, n_days: int,
    rows: HourlyRows,
) -> NetworkValidation:
    """Data levels, QA/QC removals and status time of ``year`` for ``station_ids``;
    ``rows`` is what :func:`~reports.annual.source.scan_year` read of the year's hourly
    rows of these stations (in this order), with :data:`SUMMED_COLUMNS` summed."""
    end = start_utc + timedelta(days=n_days)
    year_hours = n_days * 24
    params = {"start": start_utc, "end": end, "stations": list(station_ids),
              "cal": CALIBRATION_BIT, "fault": FAULT_BIT}  # fmt: skip
    stations = {s: StationValidation(s, year_hours) for s in station_ids}
    verified = np.count_nonzero(rows.verified, axis=1)
    provisional = np.count_nonzero(rows.with_rows & ~rows.verified, axis=1)
    for i, station_id in enumerate(station_ids):
        v = stations[station_id]
        if not rows.with_rows[i].any():
            continue  # no hourly row: nothing to count, as for a station never read
        v.verified_hours, v.provisional_hours = int(verified[i]), int(provisional[i])
        v.status_readings = int(rows.sums["n_flagged"][i])
        v.removed = {c: int(rows.sums[c][i]) for c in SUMMED_COLUMNS if c != "n_flagged"}
    for row in conn.execute(_STATUS, params).fetchall():
        v = stations[str(row[0])]
        v.calibration_hours, v.fault_hours = int(row[1]), int(row[2])  # type: ignore[call-overload]
    for row in conn.execute(_MANUAL, params).fetchall():
        stations[str(row[0])].manual[str(row[1])] = (int(row[2]), float(row[3]) / 3600.0)  # type: ignore[call-overload, arg-type]
    return NetworkValidation(year, stations)


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


def data_levels_table(validation: NetworkValidation, names: Sequence[tuple[str, str]]) -> Table:
    """Per station: share of the year's hours verified and provisional, status 01/02 time."""
    rows: list[tuple[Cell, ...]] = []
    for key, name in names:
        v = validation.stations.get(key)
        if v is None:
            continue
        rows.append((
            key, name, v.year_hours, v.verified_hours, _percent(v.verified_hours, v.year_hours),
            v.provisional_hours, _percent(v.provisional_hours, v.year_hours),
            v.calibration_hours, v.fault_hours,
        ))  # fmt: skip
    return Table(
        "Xác nhận số liệu",
        f"Số liệu đã xác nhận và tạm thời theo trạm, năm {validation.year} (số giờ có "
        "trung bình 1 giờ; giờ ở trạng thái 01 hiệu chuẩn và 02 lỗi thiết bị)",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Số giờ trong năm", "0"), Column("Số giờ đã xác nhận", "0"),
            Column("Tỷ lệ đã xác nhận (%)", "0.0"), Column("Số giờ tạm thời", "0"),
            Column("Tỷ lệ tạm thời (%)", "0.0"), Column("Số giờ hiệu chuẩn (01)", "0"),
            Column("Số giờ lỗi thiết bị (02)", "0"),
        ),
        tuple(rows),
    )  # fmt: skip


def qc_flags_table(validation: NetworkValidation, names: Sequence[tuple[str, str]]) -> Table:
    """Per station and cause: readings removed by each automatic rule and by status 01/02,
    and the officer's invalidations by reason code (count, hours)."""
    rows: list[tuple[Cell, ...]] = []
    for key, name in names:
        v = validation.stations.get(key)
        if v is None:
            continue
        rows.append(
            (
                key,
                name,
                "Tự động",
                "Trạng thái 01/02 (hiệu chuẩn, lỗi thiết bị)",
                v.status_readings,
                None,
                None,
            )
        )
        for column, label in RULE_COLUMNS:
            rows.append((key, name, "Tự động", label, v.removed.get(column, 0), None, None))
        rows.append(
            (
                key,
                name,
                "Thủ công",
                "Hủy thủ công (mọi lý do)",
                v.removed.get("n_qc_manual", 0),
                None,
                None,
            )
        )
        for reason, label in REASON_LABELS.items():
            count, hours = v.manual.get(reason, (0, 0.0))
            if count:
                rows.append((key, name, "Thủ công", label, None, count, hours))
    return Table(
        "Cờ QA-QC",
        f"Số liệu bị loại theo nguyên nhân, năm {validation.year}: số giá trị đo bị loại "
        "bởi từng quy tắc tự động và các khoảng cán bộ hủy theo lý do",
        (
            Column("Mã trạm", width=16), Column("Tên trạm", width=30),
            Column("Loại kiểm tra", width=14), Column("Nguyên nhân", width=34),
            Column("Số giá trị bị loại", "0"), Column("Số lần hủy", "0"),
            Column("Số giờ bị hủy", "0.0"),
        ),
        tuple(rows),
    )  # fmt: skip


def levels_sentence(validation: NetworkValidation, station_ids: Sequence[str]) -> str:
    """How much of the year's data is verified, in one sentence."""
    verified, provisional = validation.totals(station_ids)
    total = verified + provisional
    if total == 0:
        return "Năm báo cáo không có trung bình 1 giờ nào của các trạm."
    share = 100.0 * verified / total
    return (
        f"Trong năm {validation.year}, {w.number(share)} % số giờ-trạm có số liệu "
        f"({w.integer(verified)}/{w.integer(total)}) đã được cán bộ xác nhận (verified); "
        f"{w.integer(provisional)} giờ-trạm còn là số liệu tạm thời (provisional), mới qua "
        "kiểm tra tự động."
    )
