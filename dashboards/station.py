"""Dashboard "Trạm": one station's AQI, NowCast, concentrations against QCVN 05:2023, statuses."""

from __future__ import annotations

from aqi.averaging import EIGHT_HOUR_WINDOW
from aqi.limits import QCVN_LIMITS
from aqm_core.parameters import PARAMETERS
from dashboards.aqi_style import (
    aqi_thresholds,
    band_join,
    bands_values_sql,
    category_name_mappings,
)
from dashboards.links import STATION_DASHBOARD_UID, overview_link
from dashboards.overview import SIGNAL_COLUMN, SIGNAL_MAPPINGS
from dashboards.panels import (
    HOURLY_GAP_MS,
    STACKED_BARS,
    Json,
    Panel,
    dashboard,
    number_text_mappings,
    override,
    query_override,
    sql_query,
)
from dashboards.sql_fragments import (
    CURRENT_AQI_MAX_AGE,
    DAILY_MIN_VALID_HOURS,
    EIGHT_HOUR_MIN_VALID,
    LOCAL_TZ,
    SILENCE_LOOKBACK,
    SILENCE_RULE_VI,
    TIME_FROM,
    TIME_TO,
    interval_sql,
    last_seen_cte,
    limit_sql,
    local_date,
    local_day_start,
    silent_minutes,
)
from dashboards.variables import standard_variable, station_variable

UID = STATION_DASHBOARD_UID
CONCENTRATION_UNIT = "conμgm3"  # Grafana's unit id for µg/m³

CURRENT_AQI_SQL = f"""
SELECT a.aqi AS "AQI", band.name_vi AS "Mức", a.hour AS "Giờ AQI"
FROM aqi_hourly a
LEFT JOIN {bands_values_sql()} ON {band_join("a", "a.aqi")}
WHERE a.station_id = '$station' AND a.standard = '$standard' AND a.aqi IS NOT NULL
  AND a.hour <= {TIME_TO} AND a.hour > {TIME_TO} - {interval_sql(CURRENT_AQI_MAX_AGE)}
ORDER BY a.hour DESC
LIMIT 1
"""

SILENCE_SQL = f"""
WITH {last_seen_cte()}
SELECT silent::int AS "{SIGNAL_COLUMN}", {silent_minutes("last_ts")} AS "Im lặng (phút)",
       silent_after_min AS "Ngưỡng im lặng (phút)", last_ts AS "Số liệu cuối"
FROM last_seen
WHERE station_id = '$station'
"""

HOURLY_AQI_SQL = """
SELECT a.hour AS "time", a.aqi AS "AQI"
FROM aqi_hourly a
WHERE a.station_id = '$station' AND a.standard = '$standard' AND $__timeFilter(a.hour)
ORDER BY 1
"""

NOWCAST_SQL = """
SELECT a.hour AS "time", a.nowcast_pm25 AS "NowCast PM2.5", a.nowcast_pm10 AS "NowCast PM10"
FROM aqi_hourly a
WHERE a.station_id = '$station' AND a.standard = '$standard' AND $__timeFilter(a.hour)
ORDER BY 1
"""

# Samples per hour from the hourly aggregate (raw readings are never scanned over a range):
# status 00 counted in the mean, 01/02 stored but left out, and those that never arrived.
STATUS_SQL = """
SELECT $__timeGroupAlias(h.hour, $__interval), c.metric, sum(c.value) AS value
FROM hourly h
CROSS JOIN LATERAL (
  VALUES ('00 đo bình thường', h.n_valid),
         ('01/02 hiệu chuẩn hoặc lỗi', h.n_flagged),
         ('Không nhận được', greatest(h.n_expected - h.n_valid - h.n_flagged, 0))
) c(metric, value)
WHERE h.station_id = '$station' AND $__timeFilter(h.hour)
GROUP BY 1, 2
ORDER BY 1, 2
"""

# Every hour starting in the range (as $__timeFilter selects them) for every parameter the
# station declares or has data for: an hour without an hourly row is 0 % once it has ended
# (a dead sensor shows as 0, not as a gap); the hour still running stays blank.
COMPLETENESS_SQL = f"""
WITH params AS (
  SELECT unnest(s.parameters) AS parameter FROM stations s WHERE s.station_id = '$station'
  UNION
  SELECT DISTINCT h.parameter FROM hourly h
  WHERE h.station_id = '$station' AND $__timeFilter(h.hour)
),
hours AS (
  SELECT g AS hour
  FROM generate_series(time_bucket('1 hour', {TIME_FROM}), {TIME_TO}, interval '1 hour') g
  WHERE g >= {TIME_FROM}
)
SELECT hr.hour AS "time", coalesce(p.name_vi, pr.parameter) AS metric,
       round((100 * coalesce(h.completeness,
                             CASE WHEN hr.hour + interval '1 hour' <= {TIME_TO} THEN 0 END)
             )::numeric, 1) AS value
FROM params pr
CROSS JOIN hours hr
LEFT JOIN hourly h
  ON h.station_id = '$station' AND h.parameter = pr.parameter AND h.hour = hr.hour
 AND $__timeFilter(h.hour)
LEFT JOIN parameters p ON p.parameter = pr.parameter
ORDER BY 1, 2
"""


def pollutants() -> list[str]:
    """Pollutants that have a QCVN limit, in the parameter table's order."""
    limited = {lim.pollutant for lim in QCVN_LIMITS}
    return [name for name, p in PARAMETERS.items() if p.is_pollutant and name in limited]


def hourly_sql(pollutant: str) -> str:
    limit = limit_sql(pollutant, "1h", local_date("h.hour"))
    limit_column = f',\n       {limit} AS "Giới hạn 1 giờ"' if limit else ""
    return f"""
SELECT h.hour AS "time", CASE WHEN h.valid THEN h.mean END AS "TB 1 giờ"{limit_column}
FROM hourly h
WHERE h.station_id = '$station' AND h.parameter = '{pollutant}' AND $__timeFilter(h.hour)
ORDER BY 1
"""


DAY_END_OFFSET = "interval '1 second'"
"""The second point of a day is drawn this long before the next local midnight."""


def daily_sql(pollutant: str) -> str | None:
    """24-h means of every local day the range touches, and the 24-h limit in force.

    Each day is two points, at its local midnight and one second before the next, holding
    the same values: the line spans the whole day (the newest day included), and a day
    whose mean is NULL (fewer valid hours than the engine's minimum, or no data) is a gap
    rather than the previous day's value carried forward. A day's mean uses all its hours,
    also those after the end of the range, so it does not depend on the range.
    """
    limit = limit_sql(pollutant, "24h", "d.day")
    if limit is None:
        return None
    return f"""
WITH days AS (
  SELECT g::date AS day
  FROM generate_series({local_date(TIME_FROM)}::timestamp, {local_date(TIME_TO)}::timestamp,
                       interval '1 day') g
),
means AS (
  SELECT {local_date("h.hour")} AS day,
         avg(h.mean) FILTER (WHERE h.valid) AS mean_24h,
         count(*) FILTER (WHERE h.valid) AS n_valid
  FROM hourly h
  WHERE h.station_id = '$station' AND h.parameter = '{pollutant}'
    AND h.hour >= {local_day_start(local_date(TIME_FROM))}
    AND h.hour < {local_day_start(local_date(TIME_TO) + " + 1")}
  GROUP BY 1
)
SELECT e.at AS "time",
       CASE WHEN m.n_valid >= {DAILY_MIN_VALID_HOURS} THEN m.mean_24h END AS "TB 24 giờ",
       {limit} AS "Giới hạn 24 giờ"
FROM days d
LEFT JOIN means m ON m.day = d.day
CROSS JOIN LATERAL (
  VALUES ({local_day_start("d.day")}),
         ({local_day_start("d.day + 1")} - {DAY_END_OFFSET})
) e(at)
ORDER BY 1
"""


def eight_hour_sql(pollutant: str) -> str | None:
    """Trailing 8-h means labelled by their last hour (≥ 6 valid of 8) and the 8-h limit."""
    limit = limit_sql(pollutant, "8h", local_date("w.hour"))
    if limit is None:
        return None
    preceding = f"interval '{EIGHT_HOUR_WINDOW - 1} hours'"
    return f"""
SELECT w.hour AS "time",
       CASE WHEN w.n_valid >= {EIGHT_HOUR_MIN_VALID} THEN w.mean_8h END AS "TB 8 giờ",
       {limit} AS "Giới hạn 8 giờ"
FROM (
  SELECT h.hour,
         avg(h.mean) FILTER (WHERE h.valid) OVER w8 AS mean_8h,
         count(*) FILTER (WHERE h.valid) OVER w8 AS n_valid
  FROM hourly h
  WHERE h.station_id = '$station' AND h.parameter = '{pollutant}'
    AND h.hour >= {TIME_FROM} - {preceding} AND h.hour <= {TIME_TO}
  WINDOW w8 AS (ORDER BY h.hour RANGE BETWEEN {preceding} PRECEDING AND CURRENT ROW)
) w
WHERE $__timeFilter(w.hour)
ORDER BY 1
"""


def _limit_style(name: str) -> Json:
    return override(
        name,
        {
            "color": {"mode": "fixed", "fixedColor": "red"},
            "custom.lineStyle": {"fill": "dash", "dash": [10, 10]},
            "custom.lineInterpolation": "stepAfter",
            "custom.fillOpacity": 0,
        },
    )


def pollutant_panel(pollutant: str) -> Panel:
    param = PARAMETERS[pollutant]
    targets = [sql_query(hourly_sql(pollutant), ref_id="A", fmt="time_series")]
    overrides = [_limit_style("Giới hạn 1 giờ")]
    eight = eight_hour_sql(pollutant)
    if eight:
        targets.append(sql_query(eight, ref_id="B", fmt="time_series"))
        overrides.append(_limit_style("Giới hạn 8 giờ"))
    daily = daily_sql(pollutant)
    if daily:
        targets.append(sql_query(daily, ref_id="C", fmt="time_series"))
        overrides += [
            _limit_style("Giới hạn 24 giờ"),
            override("TB 24 giờ", {"custom.lineInterpolation": "stepAfter"}),
            # Every local day is in the result (NULL when incomplete): no nulls to insert,
            # and the hourly threshold would cut each day after its first hour.
            query_override("C", {"custom.insertNulls": False}),
        ]
    return Panel(
        "timeseries",
        f"{param.name_vi} ({param.unit}) so với QCVN 05:2023/BTNMT",
        targets,
        width=12,
        height=8,
        description=(
            "Trung bình 1 giờ hợp lệ (giờ thiếu số liệu bị bỏ trống), trung bình 8 giờ, trung "
            "bình 24 giờ của từng ngày địa phương (00:00–24:00; bỏ trống ngày có dưới "
            f"{DAILY_MIN_VALID_HOURS} giờ hợp lệ), cùng giới hạn QCVN có hiệu lực vào ngày đó "
            "(đường đỏ nét đứt)."
        ),
        unit=CONCENTRATION_UNIT,
        colour_mode="palette-classic",
        custom={
            "fillOpacity": 0,
            "spanNulls": False,
            "showPoints": "never",
            "insertNulls": HOURLY_GAP_MS,
        },
        overrides=overrides,
        min_value=0,
    )


# QA/QC (migration 0014, docs/qaqc.md): one state band per kind of mark, hour by hour.
QC_PROVISIONAL, QC_VERIFIED, QC_AUTOMATIC, QC_INVALIDATED, QC_RESTORED = 0, 1, 2, 3, 4
QC_MAPPINGS = number_text_mappings(
    [
        (QC_PROVISIONAL, "tạm thời", "#FF9830"),
        (QC_VERIFIED, "đã thẩm định", "#73BF69"),
        (QC_AUTOMATIC, "cờ tự động", "#FADE2A"),
        (QC_INVALIDATED, "vô hiệu (thủ công)", "#F2495C"),
        (QC_RESTORED, "khôi phục (thủ công)", "#5794F2"),
    ]
)
QC_LEVEL_ROW = "Mức dữ liệu AQI giờ"
QC_AUTOMATIC_ROW = "Cờ tự động"
QC_MANUAL_ROW = "Thao tác thủ công"

# Each hour's data level, from the hourly AQI row itself (provisional until an officer's
# verification covers it).
QC_LEVEL_SQL = f"""
SELECT a.hour AS "time", '{QC_LEVEL_ROW}' AS metric,
       CASE a.data_level WHEN 'verified' THEN {QC_VERIFIED} ELSE {QC_PROVISIONAL} END AS value
FROM aqi_hourly a
WHERE a.station_id = '$station' AND a.standard = '$standard' AND $__timeFilter(a.hour)
ORDER BY 1
"""

# Hours with at least one automatically flagged reading (any parameter).
QC_AUTOMATIC_SQL = f"""
SELECT time_bucket('1 hour', f.ts) AS "time", '{QC_AUTOMATIC_ROW}' AS metric,
       {QC_AUTOMATIC} AS value
FROM qc_flags_named f
WHERE f.station_id = '$station' AND $__timeFilter(f.ts)
GROUP BY 1
ORDER BY 1
"""

# The hours of the range each manual invalidation or restoration touches (the latest
# action covering an hour decides, as for the data).
QC_MANUAL_SQL = f"""
SELECT h AS "time", '{QC_MANUAL_ROW}' AS metric,
       (array_agg(CASE m.action WHEN 'invalidate' THEN {QC_INVALIDATED} ELSE {QC_RESTORED} END
                  ORDER BY m.id DESC))[1] AS value
FROM qc_manual_periods m
CROSS JOIN LATERAL generate_series(
  time_bucket('1 hour', greatest(m.period_start, {TIME_FROM})),
  least(m.period_end, {TIME_TO}) - interval '1 microsecond',
  interval '1 hour') AS h
WHERE m.station_id = '$station' AND m.period_start < {TIME_TO} AND m.period_end > {TIME_FROM}
GROUP BY 1
ORDER BY 1
"""

# Every QA/QC period touching the range: verifications, manual invalidations and
# restorations, and automatic flags grouped by hour, parameter and rules.
QC_PERIODS_SQL = f"""
SELECT * FROM (
  SELECT 'đã thẩm định' AS "Loại", 'tất cả' AS "Thông số", v.period_start AS "Từ",
         v.period_end AS "Đến", NULL::text AS "Lý do", NULL::bigint AS "Số mẫu gắn cờ",
         v.performed_by AS "Người thực hiện"
  FROM qc_verified_periods v
  WHERE v.station_id = '$station' AND v.period_start < {TIME_TO} AND v.period_end > {TIME_FROM}
  UNION ALL
  SELECT CASE m.action WHEN 'invalidate' THEN 'vô hiệu (thủ công)'
                       ELSE 'khôi phục (thủ công)' END,
         coalesce(m.parameter, 'tất cả'), m.period_start, m.period_end,
         concat_ws(': ', m.reason, m.note), NULL, m.performed_by
  FROM qc_manual_periods m
  WHERE m.station_id = '$station' AND m.period_start < {TIME_TO} AND m.period_end > {TIME_FROM}
  UNION ALL
  SELECT 'cờ tự động', f.parameter, time_bucket('1 hour', f.ts),
         time_bucket('1 hour', f.ts) + interval '1 hour', array_to_string(f.codes, ', '),
         count(*), NULL
  FROM qc_flags_named f
  WHERE f.station_id = '$station' AND $__timeFilter(f.ts)
  GROUP BY f.parameter, time_bucket('1 hour', f.ts), f.codes
) q
ORDER BY "Từ", "Loại", "Thông số"
"""


def _qc_panels() -> list[Panel]:
    return [
        Panel(
            "state-timeline",
            "Kiểm soát chất lượng (QA/QC) theo giờ",
            [
                sql_query(QC_LEVEL_SQL, ref_id="A", fmt="time_series"),
                sql_query(QC_AUTOMATIC_SQL, ref_id="B", fmt="time_series"),
                sql_query(QC_MANUAL_SQL, ref_id="C", fmt="time_series"),
            ],
            width=24,
            height=6,
            new_row=True,
            description=(
                "Mức dữ liệu của AQI giờ: «tạm thời» (chỉ qua kiểm tra tự động) hoặc «đã thẩm "
                "định» (trong khoảng cán bộ đã thẩm định); giờ có số liệu bị gắn cờ tự động; "
                "giờ bị vô hiệu hoặc khôi phục thủ công (thao tác mới nhất quyết định). Xem "
                "bảng bên dưới cho lý do và người thực hiện."
            ),
            mappings=QC_MAPPINGS,
            options={
                "mergeValues": True,
                "showValue": "never",
                "alignValue": "left",
                "rowHeight": 0.8,
                "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
                "tooltip": {"mode": "single", "sort": "none"},
            },
            custom={"fillOpacity": 80, "lineWidth": 0, "insertNulls": HOURLY_GAP_MS},
        ),
        Panel(
            "table",
            "Các khoảng kiểm soát chất lượng (QA/QC)",
            [sql_query(QC_PERIODS_SQL)],
            width=24,
            height=8,
            new_row=True,
            description=(
                "Khoảng đã thẩm định, vô hiệu và khôi phục thủ công (nhật ký chỉ ghi thêm), và "
                "các giờ có mẫu bị gắn cờ tự động với mã quy tắc (docs/qaqc.md)."
            ),
            options={"showHeader": True, "cellHeight": "sm"},
            overrides=[
                override("Từ", {"unit": "time:DD/MM/YYYY HH:mm"}),
                override("Đến", {"unit": "time:DD/MM/YYYY HH:mm"}),
            ],
        ),
    ]


def build() -> Json:
    panels = [
        Panel(
            "stat",
            "AQI hiện tại",
            [sql_query(CURRENT_AQI_SQL)],
            width=6,
            height=5,
            threshold=aqi_thresholds(),
            colour_mode="thresholds",
            options={
                "reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": "/^AQI$/"},
                "colorMode": "background",
                "graphMode": "none",
            },
        ),
        Panel(
            "stat",
            "Mức chất lượng không khí",
            [sql_query(CURRENT_AQI_SQL)],
            width=6,
            height=5,
            mappings=category_name_mappings(),
            options={
                "reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": "/^Mức$/"},
                "colorMode": "background",
                "graphMode": "none",
            },
        ),
        Panel(
            "stat",
            "Tín hiệu trạm và thời gian im lặng (phút)",
            [sql_query(SILENCE_SQL)],
            width=6,
            height=5,
            description=(
                f"Im lặng: {SILENCE_RULE_VI} (ngưỡng của trạm: lớn hơn trong hai giá trị đó). "
                "Phút kể từ số đo gần nhất đến cuối khoảng thời gian."
            ),
            options={
                "reduceOptions": {
                    "values": False,
                    "calcs": ["lastNotNull"],
                    "fields": f"/^({SIGNAL_COLUMN}|Im lặng \\(phút\\))$/",
                },
                "colorMode": "background",
                "graphMode": "none",
                "textMode": "value_and_name",
            },
            overrides=[
                override(SIGNAL_COLUMN, {"mappings": SIGNAL_MAPPINGS}),
                override(
                    "Im lặng (phút)",
                    {
                        "color": {"mode": "fixed", "fixedColor": "transparent"},
                        "mappings": [
                            {
                                "type": "special",
                                "options": {
                                    "match": "null",
                                    "result": {
                                        "text": f"không có số liệu {SILENCE_LOOKBACK.days} ngày",
                                        "color": "red",
                                    },
                                },
                            }
                        ],
                    },
                ),
            ],
        ),
        Panel(
            "timeseries",
            "AQI giờ",
            [sql_query(HOURLY_AQI_SQL, fmt="time_series")],
            width=12,
            height=8,
            new_row=True,
            threshold=aqi_thresholds(),
            colour_mode="thresholds",
            custom={
                "gradientMode": "scheme",
                "fillOpacity": 20,
                "spanNulls": False,
                "insertNulls": HOURLY_GAP_MS,
            },
            min_value=0,
        ),
        Panel(
            "timeseries",
            "NowCast bụi (µg/m³)",
            [sql_query(NOWCAST_SQL, fmt="time_series")],
            width=12,
            height=8,
            unit=CONCENTRATION_UNIT,
            colour_mode="palette-classic",
            custom={"fillOpacity": 0, "spanNulls": False, "insertNulls": HOURLY_GAP_MS},
            min_value=0,
        ),
        *[pollutant_panel(p) for p in pollutants()],
        Panel(
            "timeseries",
            "Trạng thái số đo (số mẫu theo mã trạng thái, mọi thông số)",
            [sql_query(STATUS_SQL, fmt="time_series")],
            width=12,
            height=8,
            new_row=True,
            description=(
                "Từ số liệu trung bình giờ: mẫu mã 00 (tính vào trung bình), mã 01 (hiệu chuẩn) "
                "và 02 (lỗi thiết bị) được lưu nhưng không tính, và số mẫu kỳ vọng không nhận được."
            ),
            colour_mode="palette-classic",
            custom=STACKED_BARS,
        ),
        Panel(
            "timeseries",
            "Độ đầy đủ số liệu theo giờ (%)",
            [sql_query(COMPLETENESS_SQL, fmt="time_series")],
            width=12,
            height=8,
            description=(
                "Tỷ lệ mẫu hợp lệ (mã 00) so với số mẫu kỳ vọng của mỗi giờ, cho mọi thông số "
                "của trạm: giờ đã qua không có số liệu là 0 %; giờ đang diễn ra để trống."
            ),
            unit="percent",
            colour_mode="palette-classic",
            custom={"spanNulls": False, "insertNulls": HOURLY_GAP_MS},
            min_value=0,
            max_value=100,
        ),
        *_qc_panels(),
    ]
    return dashboard(
        uid=UID,
        title="Trạm",
        description="Số liệu chi tiết của một trạm quan trắc.",
        panels=panels,
        variables=[station_variable(multi=False), standard_variable()],
        time_from="now-2d",
        tags=["trạm"],
        timezone=LOCAL_TZ,
        links=[overview_link()],
    )
