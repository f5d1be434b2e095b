"""The three datasets: their columns (name, Arrow type, meaning) and the SQL that reads
one station-year of each, in file order.

One place for both: the files, the README written beside them and the tests all read
the columns from here. Every query returns text PostgreSQL's ``COPY … (FORMAT csv)``
writes as the CSV file itself (NULL as an empty field), so the CSV holds exactly what
the database holds; the Parquet file is parsed from those bytes with the Arrow types
below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

VN_STANDARD: Final = "vn_1459_2019"
"""aqi_hourly/aqi_daily rows of Decision 1459/QĐ-TCMT (VN_AQI); the US AQI is not published."""

TIMESTAMP_UNIT: Final = "us"


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    meaning_en: str
    meaning_vi: str


@dataclass(frozen=True)
class Dataset:
    """One kind of file: ``<station>-<year>-<name>.csv`` and ``.parquet``."""

    name: str
    title_en: str
    title_vi: str
    columns: tuple[Column, ...]
    sql: str

    def schema(self, timezone: str) -> pa.Schema:
        """The Parquet schema; ``start_local`` carries the local zone, ``start_utc`` UTC."""
        fields = []
        for c in self.columns:
            kind = c.type
            if c.name == "start_local":
                kind = pa.timestamp(TIMESTAMP_UNIT, tz=timezone)
            fields.append(pa.field(c.name, kind))
        return pa.schema(fields)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


_UTC = pa.timestamp(TIMESTAMP_UNIT, tz="UTC")
_LOCAL_PLACEHOLDER = pa.timestamp(TIMESTAMP_UNIT, tz="UTC")  # replaced by Dataset.schema

_STATION = (
    Column("station_id", pa.string(), "station identifier", "mã trạm"),
    Column("station_name", pa.string(), "station name", "tên trạm"),
    Column("latitude", pa.float64(), "latitude, degrees (WGS 84)", "vĩ độ, độ (WGS 84)"),
    Column("longitude", pa.float64(), "longitude, degrees (WGS 84)", "kinh độ, độ (WGS 84)"),
)
_TIME = (
    Column("start_utc", _UTC, "start of the averaging period, UTC (ISO 8601)",
           "thời điểm bắt đầu kỳ tính trung bình, giờ UTC (ISO 8601)"),
    Column("start_local", _LOCAL_PLACEHOLDER,
           "start of the averaging period, local time with its UTC offset",
           "thời điểm bắt đầu kỳ tính trung bình, giờ địa phương kèm độ lệch UTC"),
)  # fmt: skip
_QA = (
    Column("qa_level", pa.string(), "QA/QC level: provisional (automatic checks only) or "
           "verified (checked by an officer)",
           "mức QA/QC: provisional (tạm thời, chỉ kiểm tra tự động) hoặc verified (đã được "
           "cán bộ kiểm tra)"),
    Column("flags", pa.string(), "quality flags separated by ';' (empty: none); see below",
           "cờ chất lượng, cách nhau bởi ';' (trống: không có); xem bên dưới"),
)  # fmt: skip

# Session settings the queries rely on: TimeZone = AQM_TIMEZONE (start_local).
_START_UTC = "to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
_START_LOCAL = "to_char({t}, 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM')"


# The class (and AQI eligibility) of each local day of the year, asked once per day and
# looked up by day of the year: a join or a call per row costs most of the query.
_DAY_INDEX = "(({t} AT TIME ZONE %(timezone)s)::date - %(first_day)s::date + 1)"
_DAY_CLASS = "k.kind[" + _DAY_INDEX.format(t="h.hour") + "]"


def _bool_text(expression: str) -> str:
    return f"CASE WHEN {expression} THEN 'true' ELSE 'false' END"


HOURLY_MEANS = Dataset(
    name="hourly-means",
    title_en="Hourly means of every measured parameter",
    title_vi="Giá trị trung bình 1 giờ của mọi thông số quan trắc",
    columns=(
        *_STATION,
        Column(
            "station_type",
            pa.string(),
            "station class that day: fixed_automatic, low_cost_sensor or mobile",
            "loại trạm ngày đó: fixed_automatic (trạm tự động cố định), low_cost_sensor "
            "(cảm biến chi phí thấp) hoặc mobile (trạm di động)",
        ),
        Column(
            "indicative",
            pa.bool_(),
            "true: an indicative measurement (low-cost sensor or mobile unit), not a "
            "reference method",
            "true: số liệu tham khảo (cảm biến chi phí thấp hoặc trạm "
            "di động), không phải phương pháp chuẩn",
        ),
        Column(
            "parameter",
            pa.string(),
            "parameter code (pm25, pm10, no2, …)",
            "mã thông số (pm25, pm10, no2, …)",
        ),
        Column(
            "unit",
            pa.string(),
            "unit of value (every pollutant, CO included, in µg/m³)",
            "đơn vị của value (mọi chất ô nhiễm, kể cả CO, tính bằng µg/m³)",
        ),
        Column(
            "averaging_period",
            pa.string(),
            "averaging period (ISO 8601: PT1H = one hour)",
            "thời gian lấy trung bình (ISO 8601: PT1H = một giờ)",
        ),
        *_TIME,
        Column(
            "value",
            pa.float64(),
            "hourly mean; empty when the hour is missing or incomplete (never 0 for no data)",
            "giá trị trung bình giờ; để trống khi thiếu số liệu hoặc không đủ số liệu "
            "(không bao giờ ghi 0 thay cho thiếu)",
        ),
        *_QA,
        Column(
            "completeness",
            pa.float64(),
            "share of the expected samples that passed QA/QC (0…1)",
            "tỷ lệ số mẫu hợp lệ trên số mẫu dự kiến (0…1)",
        ),
        Column("n_valid", pa.int32(), "samples in the mean", "số mẫu dùng để tính trung bình"),
        Column(
            "n_expected",
            pa.int32(),
            "samples the station should send per hour",
            "số mẫu trạm phải gửi mỗi giờ",
        ),
    ),
    sql=f"""
WITH classes AS MATERIALIZED (
    SELECT array_agg(c.station_type ORDER BY d) AS kind
    FROM generate_series(%(first_day)s::date, %(last_day)s::date, INTERVAL '1 day') AS d,
         station_class_on(%(station)s, d::date) AS c
)
SELECT s.station_id, s.name, s.latitude, s.longitude, {_DAY_CLASS},
       {_bool_text(f"{_DAY_CLASS} <> 'fixed_automatic'")},
       h.parameter, p.unit, 'PT1H',
       {_START_UTC.format(t="h.hour")}, {_START_LOCAL.format(t="h.hour")},
       CASE WHEN h.valid THEN h.mean END,
       h.data_level,
       NULLIF(concat_ws(';',
           CASE WHEN NOT h.valid THEN 'incomplete' END,
           CASE WHEN h.n_flagged > 0 THEN 'datalogger_status' END,
           CASE WHEN h.n_qc_manual > 0 THEN 'manual' END,
           CASE WHEN h.n_qc_range > 0 THEN 'out_of_range' END,
           CASE WHEN h.n_qc_negative > 0 THEN 'negative' END,
           CASE WHEN h.n_qc_flat_line > 0 THEN 'flat_line' END,
           CASE WHEN h.n_qc_spike > 0 THEN 'spike' END,
           CASE WHEN h.n_qc_pm_ratio > 0 THEN 'pm25_gt_pm10' END), ''),
       h.completeness, h.n_valid, h.n_expected
FROM hourly AS h
JOIN stations AS s ON s.station_id = h.station_id
JOIN parameters AS p ON p.parameter = h.parameter
CROSS JOIN classes AS k
WHERE h.station_id = %(station)s AND h.hour >= %(start)s AND h.hour < %(end)s
ORDER BY h.hour, h.parameter
""",
)

_AQI_COLUMNS = (
    *_STATION,
    Column("parameter", pa.string(), "VN_AQI (Decision 1459/QĐ-TCMT)",
           "VN_AQI (Quyết định 1459/QĐ-TCMT)"),
    Column("unit", pa.string(), "index (no unit)", "chỉ số (không có đơn vị)"),
    Column("averaging_period", pa.string(), "PT1H: hourly AQI (PM2.5 and PM10 as NowCast); "
           "P1D: daily AQI of the local day", "PT1H: AQI giờ (PM2.5, PM10 theo NowCast); "
           "P1D: AQI ngày theo ngày địa phương"),
    *_TIME,
    Column("value", pa.int16(), "VN_AQI; empty when it cannot be computed (see flags)",
           "giá trị VN_AQI; để trống khi không tính được (xem flags)"),
    Column("category", pa.int8(), "band 1…6 of Decision 1459", "mức 1…6 theo Quyết định 1459"),
    Column("band_vi", pa.string(), "band name in Vietnamese (Tốt, Trung bình, Kém, Xấu, "
           "Rất xấu, Nguy hại)", "tên mức (Tốt, Trung bình, Kém, Xấu, Rất xấu, Nguy hại)"),
    Column("band_en", pa.string(), "band name in English", "tên mức bằng tiếng Anh"),
    Column("dominant_pollutant", pa.string(), "pollutant whose sub-index sets the AQI",
           "chất ô nhiễm quyết định giá trị AQI"),
    *_QA,
)  # fmt: skip

_AQI_SELECT = """
SELECT s.station_id, s.name, s.latitude, s.longitude, 'VN_AQI', 'index', {period},
       {start_utc}, {start_local},
       a.aqi, a.category, c.name_vi, c.name_en, a.dominant, a.data_level,
       NULLIF(concat_ws(';', a.missing_reason,
                        CASE WHEN a.beyond_index THEN 'beyond_index' END), '')
"""

AQI_HOURLY = Dataset(
    name="aqi-hourly",
    title_en="Hourly VN_AQI of the stations that may publish it",
    title_vi="VN_AQI giờ của các trạm được phép công bố",
    columns=_AQI_COLUMNS,
    sql=_AQI_SELECT.format(
        period="'PT1H'", start_utc=_START_UTC.format(t="a.hour"),
        start_local=_START_LOCAL.format(t="a.hour"),
    )
    + f"""
FROM aqi_hourly AS a
JOIN stations AS s ON s.station_id = a.station_id
LEFT JOIN aqi_categories AS c ON c.standard = a.standard AND c.level = a.category
CROSS JOIN (
    SELECT array_agg(aqi_publishable(%(station)s, d::date) ORDER BY d) AS publishable
    FROM generate_series(%(first_day)s::date, %(last_day)s::date, INTERVAL '1 day') AS d
) AS k
WHERE a.station_id = %(station)s AND a.standard = '{VN_STANDARD}'
  AND a.hour >= %(start)s AND a.hour < %(end)s
  AND k.publishable[{_DAY_INDEX.format(t="a.hour")}]
ORDER BY a.hour
""",
)  # fmt: skip

_DAY_START = "(a.day::timestamp AT TIME ZONE %(timezone)s)"

AQI_DAILY = Dataset(
    name="aqi-daily",
    title_en="Daily VN_AQI (local days) of the stations that may publish it",
    title_vi="VN_AQI ngày (theo ngày địa phương) của các trạm được phép công bố",
    columns=_AQI_COLUMNS,
    sql=_AQI_SELECT.format(
        period="'P1D'", start_utc=_START_UTC.format(t=_DAY_START),
        start_local=_START_LOCAL.format(t=_DAY_START),
    )
    + f"""
FROM aqi_daily AS a
JOIN stations AS s ON s.station_id = a.station_id
LEFT JOIN aqi_categories AS c ON c.standard = a.standard AND c.level = a.category
WHERE a.station_id = %(station)s AND a.standard = '{VN_STANDARD}'
  AND a.day >= %(first_day)s AND a.day <= %(last_day)s
  AND aqi_publishable(a.station_id, a.day)
ORDER BY a.day
""",
)  # fmt: skip

DATASETS: Final = (HOURLY_MEANS, AQI_HOURLY, AQI_DAILY)

FLAGS: Final = (
    ("incomplete", "fewer valid samples than the completeness rule asks (value left empty)",
     "không đủ số mẫu hợp lệ theo quy tắc về độ đầy đủ (value để trống)"),
    ("datalogger_status", "the datalogger marked samples as calibrating or faulty "
     "(status 01/02, Circular 10/2021/TT-BTNMT)",
     "datalogger đánh dấu mẫu đang hiệu chuẩn hoặc lỗi thiết bị (trạng thái 01/02, "
     "Thông tư 10/2021/TT-BTNMT)"),
    ("manual", "samples an officer invalidated", "mẫu bị cán bộ loại bỏ"),
    ("out_of_range", "samples above the instrument's measuring range",
     "mẫu vượt dải đo của thiết bị"),
    ("negative", "samples negative beyond instrument noise", "mẫu âm vượt nhiễu thiết bị"),
    ("flat_line", "samples repeating the same value (stuck instrument)",
     "mẫu lặp lại cùng một giá trị (thiết bị bị treo)"),
    ("spike", "isolated spikes", "đột biến đơn lẻ"),
    ("pm25_gt_pm10", "PM2.5 above PM10 beyond tolerance", "PM2.5 lớn hơn PM10 quá dung sai"),
    ("no_data", "AQI: no hourly means at all", "AQI: không có số liệu giờ nào"),
    ("no_pm", "AQI: no PM2.5 or PM10 (Decision 1459 requires one)",
     "AQI: không có PM2.5 hoặc PM10 (Quyết định 1459 yêu cầu ít nhất một)"),
    ("insufficient_data", "AQI: too few valid hours", "AQI: không đủ số giờ hợp lệ"),
    ("beyond_index", "AQI: a concentration above the top of the breakpoint table",
     "AQI: nồng độ vượt ngưỡng cao nhất của bảng"),
)  # fmt: skip
"""Every flag a file may carry; a rule's flag on an hourly mean means it removed at least
one sample of the hour."""
