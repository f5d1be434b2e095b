"""Dashboard "Chất lượng dữ liệu": completeness per station and parameter, rejects, arrival lag."""

from __future__ import annotations

from dashboards.links import station_link_override
from dashboards.panels import STACKED_BARS, Json, Panel, dashboard, override, sql_query, thresholds
from dashboards.sql_fragments import (
    LOCAL_TZ,
    TIME_FROM,
    TIME_TO,
    last_hour_of_range,
    local_day_start,
)
from dashboards.variables import station_variable

UID = "aqm-chat-luong-du-lieu"

# The hours a station was expected to report: hours that begin inside the range and have
# ended by its end, from local midnight of installed_on to local midnight after retired_on
# (an empty date leaves that side open). Expected samples per hour: 3600 / report interval.
# Rows: every parameter each selected station declares (stations.parameters) or has hourly
# rows for in those hours, so a dead sensor is a row at 0 %, not a missing row. The
# $__timeFilter beside the per-station bounds lets TimescaleDB skip chunks at planning; the
# join to the selected stations alone picks their rows (an IN list of every station, tested
# on each row of the range, cost more than the join).
COMPLETENESS_SQL = f"""
WITH span AS (
  SELECT s.station_id, s.name, s.parameters, s.report_interval_s, b.lo, b.hi,
         -- samples an hour can count, ceil(3600 / interval) in integers: numeric
         -- arithmetic on every hourly row cost more than reading the rows
         (3600 + s.report_interval_s - 1) / s.report_interval_s AS per_hour,
         greatest(0, floor(extract(epoch from (b.hi - b.lo)) / 3600))::int AS hours
  FROM stations s
  CROSS JOIN LATERAL (
    SELECT greatest(time_bucket('1 hour', {TIME_FROM} + interval '3599.999999 seconds'),
                    coalesce({local_day_start("s.installed_on")}, '-infinity'::timestamptz)) AS lo,
           least(time_bucket('1 hour', {TIME_TO}),
                 coalesce({local_day_start("s.retired_on + 1")}, 'infinity'::timestamptz)) AS hi
  ) b
  WHERE s.station_id IN ($station)
),
agg AS (
  SELECT h.station_id, h.parameter,
         count(*) FILTER (WHERE h.valid) AS valid_hours,
         sum(least(h.n_valid, sp.per_hour)) AS valid_samples,
         sum(h.n_flagged) AS flagged
  FROM hourly h
  JOIN span sp ON sp.station_id = h.station_id AND h.hour >= sp.lo AND h.hour < sp.hi
  WHERE $__timeFilter(h.hour)
  GROUP BY h.station_id, h.parameter
),
pairs AS (
  SELECT sp.station_id, unnest(sp.parameters) AS parameter FROM span sp
  UNION
  SELECT agg.station_id, agg.parameter FROM agg
)
SELECT sp.station_id AS "Mã trạm", sp.name AS "Trạm",
       coalesce(p.name_vi, pr.parameter) AS "Thông số",
       sp.hours AS "Giờ kỳ vọng",
       coalesce(agg.valid_hours, 0) AS "Giờ hợp lệ",
       round(100.0 * coalesce(agg.valid_hours, 0) / sp.hours, 1) AS "Giờ hợp lệ (%)",
       round(100.0 * coalesce(agg.valid_samples, 0)
             / (sp.hours * 3600.0 / sp.report_interval_s), 1) AS "Mẫu hợp lệ (%)",
       coalesce(agg.flagged, 0) AS "Mẫu gắn cờ 01/02"
FROM pairs pr
JOIN span sp ON sp.station_id = pr.station_id
LEFT JOIN agg ON agg.station_id = pr.station_id AND agg.parameter = pr.parameter
LEFT JOIN parameters p ON p.parameter = pr.parameter
WHERE sp.hours > 0
ORDER BY sp.station_id, pr.parameter
"""

REJECTS_OVER_TIME_SQL = """
SELECT $__timeGroupAlias(m.received_at, '1h'), m.reason_code AS metric, count(*) AS value
FROM rejected_messages m
WHERE $__timeFilter(m.received_at)
GROUP BY 1, 2
ORDER BY 1
"""

REJECTS_BY_REASON_SQL = """
SELECT m.reason_code AS "Mã lý do",
       count(*) AS "Số lần",
       count(*) FILTER (WHERE m.reading_index = -1) AS "Cả thông điệp",
       count(DISTINCT m.station_id) AS "Số trạm",
       max(m.received_at) AS "Lần cuối",
       min(m.reason) AS "Ví dụ"
FROM rejected_messages m
WHERE $__timeFilter(m.received_at)
GROUP BY m.reason_code
ORDER BY 2 DESC, 1
"""

# Arrival lag needs raw readings: both panels read only the last hour of the range.
LAG_OVER_TIME_SQL = f"""
SELECT $__timeGroupAlias(r.ts, '5m'), s.name AS metric,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch from (r.received_at - r.ts)))
         AS value
FROM readings r
JOIN stations s ON s.station_id = r.station_id
WHERE r.station_id IN ($station) AND {last_hour_of_range("r.ts")}
GROUP BY 1, 2
ORDER BY 1
"""

LAG_BY_STATION_SQL = f"""
SELECT r.station_id AS "Mã trạm", s.name AS "Trạm",
       count(*) AS "Số đo",
       round(percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch from (r.received_at - r.ts)))::numeric, 1) AS "Trung vị (s)",
       round(percentile_cont(0.95) WITHIN GROUP (
         ORDER BY extract(epoch from (r.received_at - r.ts)))::numeric, 1) AS "P95 (s)",
       round(max(extract(epoch from (r.received_at - r.ts)))::numeric, 1) AS "Lớn nhất (s)",
       count(*) FILTER (WHERE r.received_at - r.ts > interval '5 minutes') AS "Đến trễ > 5 phút"
FROM readings r
JOIN stations s ON s.station_id = r.station_id
WHERE r.station_id IN ($station) AND {last_hour_of_range("r.ts")}
GROUP BY s.name, r.station_id
ORDER BY r.station_id
"""


def build() -> Json:
    completeness = thresholds("red", [(50, "orange"), (75, "green")])
    panels = [
        Panel(
            "table",
            "Độ đầy đủ số liệu theo trạm và thông số",
            [sql_query(COMPLETENESS_SQL)],
            width=24,
            height=10,
            description=(
                "Mỗi thông số khai báo của trạm có một dòng, kể cả khi không có số liệu nào (0 %). "
                "Giờ kỳ vọng: các giờ đã kết thúc trong khoảng thời gian, từ ngày lắp đặt đến ngày "
                "ngừng hoạt động của trạm (theo danh mục trạm). Giờ hợp lệ: giờ có trung bình đạt "
                "tỷ lệ mẫu tối thiểu. Mẫu hợp lệ: mẫu mã 00 so với số mẫu kỳ vọng (3600 giây / chu "
                "kỳ gửi số liệu của trạm, mỗi giờ kỳ vọng). Bấm tên trạm để mở trang trạm."
            ),
            options={"showHeader": True, "cellHeight": "sm"},
            overrides=[
                override(
                    name,
                    {
                        "unit": "percent",
                        "thresholds": completeness,
                        "color": {"mode": "thresholds"},
                        "custom.cellOptions": {"type": "color-background", "mode": "basic"},
                    },
                )
                for name in ("Giờ hợp lệ (%)", "Mẫu hợp lệ (%)")
            ]
            + [station_link_override()],
        ),
        Panel(
            "timeseries",
            "Thông điệp/số đo bị từ chối theo lý do (mỗi giờ)",
            [sql_query(REJECTS_OVER_TIME_SQL, fmt="time_series")],
            width=12,
            height=8,
            new_row=True,
            colour_mode="palette-classic",
            custom=STACKED_BARS,
        ),
        Panel(
            "table",
            "Lý do từ chối",
            [sql_query(REJECTS_BY_REASON_SQL)],
            width=12,
            height=8,
            description=(
                "Nội dung gốc của thông điệp bị từ chối không hiển thị ở đây "
                "(chỉ quản trị viên xem)."
            ),
            options={"showHeader": True, "cellHeight": "sm"},
            overrides=[override("Lần cuối", {"unit": "time:DD/MM HH:mm"})],
        ),
        Panel(
            "timeseries",
            "Độ trễ đến (P95, giây) trong giờ cuối của khoảng thời gian",
            [sql_query(LAG_OVER_TIME_SQL, fmt="time_series")],
            width=12,
            height=8,
            new_row=True,
            description=(
                "Từ lúc đo đến lúc nhận, mỗi 5 phút. Chỉ giờ cuối cùng của khoảng thời gian đã "
                "chọn: độ trễ được tính từ từng số đo gốc, đọc cả năm sẽ quá nặng."
            ),
            unit="s",
            colour_mode="palette-classic",
        ),
        Panel(
            "table",
            "Độ trễ đến theo trạm trong giờ cuối của khoảng thời gian",
            [sql_query(LAG_BY_STATION_SQL)],
            width=12,
            height=8,
            description="Số đo của giờ cuối cùng trong khoảng thời gian đã chọn.",
            options={"showHeader": True, "cellHeight": "sm"},
            overrides=[station_link_override()],
        ),
    ]
    return dashboard(
        uid=UID,
        title="Chất lượng dữ liệu",
        description="Độ đầy đủ, số liệu bị từ chối và độ trễ truyền của các trạm.",
        panels=panels,
        variables=[station_variable(multi=True)],
        time_from="now-7d",
        refresh="5m",
        tags=["chất lượng dữ liệu"],
        timezone=LOCAL_TZ,
    )
