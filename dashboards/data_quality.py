"""Dashboard "Chất lượng dữ liệu": completeness per station and parameter, rejects, arrival lag."""

from __future__ import annotations

from dashboards.panels import STACKED_BARS, Json, Panel, dashboard, override, sql_query, thresholds
from dashboards.sql_fragments import LOCAL_TZ, TIME_FROM, TIME_TO
from dashboards.variables import station_variable

UID = "aqm-chat-luong-du-lieu"

# Hour starts inside the range, counted exactly as $__timeFilter(h.hour) selects them.
# Rows: every parameter each selected active station declares (stations.parameters) or has
# hourly rows for, so a dead sensor is a row at 0 %, not a missing row.
COMPLETENESS_SQL = f"""
WITH span AS (
  SELECT count(*) AS hours
  FROM generate_series(time_bucket('1 hour', {TIME_FROM}), {TIME_TO}, interval '1 hour') g
  WHERE g >= {TIME_FROM}
),
pairs AS (
  SELECT s.station_id, unnest(s.parameters) AS parameter
  FROM stations s
  WHERE s.status = 'active' AND s.station_id IN ($station)
  UNION
  SELECT DISTINCT h.station_id, h.parameter
  FROM hourly h
  JOIN stations s ON s.station_id = h.station_id AND s.status = 'active'
  WHERE h.station_id IN ($station) AND $__timeFilter(h.hour)
)
SELECT s.name AS "Trạm", coalesce(p.name_vi, pr.parameter) AS "Thông số",
       count(*) FILTER (WHERE h.valid) AS "Giờ hợp lệ",
       round(100.0 * count(*) FILTER (WHERE h.valid) / greatest(span.hours, 1), 1)
         AS "Giờ hợp lệ (%)",
       round(100.0 * sum(h.n_valid) / nullif(sum(h.n_expected), 0), 1) AS "Mẫu hợp lệ (%)",
       coalesce(sum(h.n_flagged), 0) AS "Mẫu gắn cờ 01/02"
FROM pairs pr
JOIN stations s ON s.station_id = pr.station_id
LEFT JOIN hourly h
  ON h.station_id = pr.station_id AND h.parameter = pr.parameter AND $__timeFilter(h.hour)
LEFT JOIN parameters p ON p.parameter = pr.parameter
CROSS JOIN span
GROUP BY s.name, pr.station_id, p.name_vi, pr.parameter, span.hours
ORDER BY pr.station_id, pr.parameter
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

LAG_OVER_TIME_SQL = """
SELECT $__timeGroupAlias(r.ts, $__interval), s.name AS metric,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch from (r.received_at - r.ts)))
         AS value
FROM readings r
JOIN stations s ON s.station_id = r.station_id
WHERE r.station_id IN ($station) AND $__timeFilter(r.ts)
GROUP BY 1, 2
ORDER BY 1
"""

LAG_BY_STATION_SQL = """
SELECT s.name AS "Trạm",
       count(*) AS "Số đo",
       round(percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch from (r.received_at - r.ts)))::numeric, 1) AS "Trung vị (s)",
       round(percentile_cont(0.95) WITHIN GROUP (
         ORDER BY extract(epoch from (r.received_at - r.ts)))::numeric, 1) AS "P95 (s)",
       round(max(extract(epoch from (r.received_at - r.ts)))::numeric, 1) AS "Lớn nhất (s)",
       count(*) FILTER (WHERE r.received_at - r.ts > interval '1 hour') AS "Đến trễ > 1 giờ"
FROM readings r
JOIN stations s ON s.station_id = r.station_id
WHERE r.station_id IN ($station) AND $__timeFilter(r.ts)
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
                "Mỗi thông số khai báo của trạm đang hoạt động có một dòng, kể cả khi không có số "
                "liệu nào (0 %). Giờ hợp lệ: giờ có trung bình đạt tỷ lệ mẫu tối thiểu, so với số "
                "giờ của khoảng thời gian. Mẫu hợp lệ: mẫu mã 00 so với số mẫu kỳ vọng của các "
                "giờ có số liệu (để trống khi không có giờ nào có số liệu)."
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
            ],
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
            "Độ trễ đến (P95, giây): từ lúc đo đến lúc nhận",
            [sql_query(LAG_OVER_TIME_SQL, fmt="time_series")],
            width=12,
            height=8,
            new_row=True,
            unit="s",
            colour_mode="palette-classic",
        ),
        Panel(
            "table",
            "Độ trễ đến theo trạm",
            [sql_query(LAG_BY_STATION_SQL)],
            width=12,
            height=8,
            options={"showHeader": True, "cellHeight": "sm"},
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
