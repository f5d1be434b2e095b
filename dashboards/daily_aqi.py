"""Dashboard "AQI ngày": daily AQI per station as a calendar in band colours; days per band."""

from __future__ import annotations

from dashboards.aqi_style import (
    NO_DATA_TEXT,
    aqi_thresholds,
    band_join,
    bands_values_sql,
    category_name_mappings,
)
from dashboards.panels import DAILY_GAP_MS, Json, Panel, dashboard, sql_query
from dashboards.sql_fragments import LOCAL_TZ, local_day_start, local_days_in_range
from dashboards.variables import standard_variable, station_variable

UID = "aqm-aqi-ngay"

# aqi_daily.day is already the local date (Asia/Ho_Chi_Minh); the time column is the
# instant that local day begins, so Grafana (dashboard zone Asia/Ho_Chi_Minh) draws each
# cell from local midnight to local midnight.
CALENDAR_SQL = f"""
SELECT {local_day_start("a.day")} AS "time", s.name AS metric, a.aqi AS value
FROM aqi_daily a
JOIN stations s ON s.station_id = a.station_id
WHERE a.standard = '$standard' AND a.station_id IN ($station) AND {local_days_in_range("a.day")}
ORDER BY 1, 2
"""

DAYS_PER_BAND_SQL = f"""
SELECT c."Mức", c."Số ngày"
FROM (
  SELECT band.idx AS ord, band.name_vi AS "Mức", count(a.day) AS "Số ngày"
  FROM {bands_values_sql()}
  LEFT JOIN aqi_daily a
    ON {band_join("a", "a.aqi")}
   AND a.station_id IN ($station)
   AND {local_days_in_range("a.day")}
  WHERE band.standard = '$standard'
  GROUP BY band.idx, band.name_vi
  UNION ALL
  SELECT 1000, '{NO_DATA_TEXT}', count(*)
  FROM aqi_daily a
  WHERE a.standard = '$standard' AND a.aqi IS NULL
    AND a.station_id IN ($station) AND {local_days_in_range("a.day")}
) c
ORDER BY c.ord
"""

DAYS_PER_STATION_SQL = f"""
SELECT s.name AS "Trạm", coalesce(band.name_vi, '{NO_DATA_TEXT}') AS "Mức", count(*) AS "Số ngày"
FROM aqi_daily a
JOIN stations s ON s.station_id = a.station_id
LEFT JOIN {bands_values_sql()} ON {band_join("a", "a.aqi")}
WHERE a.standard = '$standard' AND a.station_id IN ($station) AND {local_days_in_range("a.day")}
GROUP BY s.name, band.idx, band.name_vi
ORDER BY s.name, band.idx NULLS LAST
"""


def build() -> Json:
    panels = [
        Panel(
            "state-timeline",
            "AQI ngày theo trạm",
            [sql_query(CALENDAR_SQL, fmt="time_series")],
            width=24,
            height=10,
            description=(
                "Mỗi ô là một ngày địa phương (00:00–24:00 giờ Việt Nam) tô màu theo mức AQI ngày. "
                "Ô trống: ngày không đủ số liệu để tính AQI hoặc không có số liệu."
            ),
            threshold=aqi_thresholds(),
            colour_mode="thresholds",
            options={
                "mergeValues": False,
                "showValue": "auto",
                "alignValue": "center",
                "rowHeight": 0.8,
                "legend": {"showLegend": False},
            },
            # A value lasts until the next point: without this the last colour before an
            # outage would cover the days without an aqi_daily row, and the newest day would
            # stretch to the end of the range.
            custom={"fillOpacity": 90, "lineWidth": 0, "insertNulls": DAILY_GAP_MS},
        ),
        Panel(
            "barchart",
            "Số ngày theo mức AQI (các trạm đã chọn)",
            [sql_query(DAYS_PER_BAND_SQL)],
            width=12,
            height=9,
            new_row=True,
            description="Số ngày-trạm ở mỗi mức trong khoảng thời gian đã chọn.",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Mức"},
                    "properties": [
                        {"id": "mappings", "value": category_name_mappings()},
                    ],
                }
            ],
            options={
                "xField": "Mức",
                "colorByField": "Mức",
                "orientation": "horizontal",
                "showValue": "always",
                "legend": {"showLegend": False},
            },
        ),
        Panel(
            "table",
            "Số ngày theo mức, từng trạm",
            [sql_query(DAYS_PER_STATION_SQL)],
            width=12,
            height=9,
            options={"showHeader": True, "cellHeight": "sm"},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Mức"},
                    "properties": [
                        {"id": "mappings", "value": category_name_mappings()},
                        {
                            "id": "custom.cellOptions",
                            "value": {"type": "color-background", "mode": "basic"},
                        },
                    ],
                }
            ],
        ),
    ]
    return dashboard(
        uid=UID,
        title="AQI ngày",
        description="AQI ngày (ngày địa phương, giờ Việt Nam) của các trạm và số ngày ở mỗi mức.",
        panels=panels,
        variables=[standard_variable(), station_variable(multi=True)],
        time_from="now-90d",
        refresh="1h",
        tags=["aqi ngày"],
        timezone=LOCAL_TZ,
    )
