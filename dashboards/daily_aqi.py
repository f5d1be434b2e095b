"""Dashboard "AQI ngày": daily VN_AQI per station as a calendar in band colours; days per band.

Every station-day counts: a local day with an ``aqi_daily`` row is counted in its band (or
as "no data" when its AQI is NULL), and a day without any row is a day without data too,
from the station's ``installed_on`` to its ``retired_on`` (catalogue dates; an empty date
leaves that side open). A day that has not ended yet counts only once its row exists.

The dashboard shows VN_AQI (Decision 1459/QĐ-TCMT), the index the province publishes and
Decree 08/2022 Art. 10 refers to; its band names are the column headers and value
mappings. US AQI stays on the overview and station dashboards.
"""

from __future__ import annotations

from aqi.categories import categories
from dashboards.aqi_style import (
    INDICATIVE_COLOUR,
    INDICATIVE_SUFFIX,
    INDICATIVE_TEXT,
    INDICATIVE_VALUE,
    NO_DATA_COLOUR,
    NO_DATA_TEXT,
    VN_STANDARD,
    aqi_thresholds,
    band_index_sql,
    band_range_mappings,
    bands_values_sql,
    category_name_mappings,
    publishable,
    publishable_join,
)
from dashboards.links import STATION_ID_FIELD, station_link_override
from dashboards.panels import DAILY_GAP_MS, Json, Panel, dashboard, override, sql_query
from dashboards.sql_fragments import (
    LOCAL_TZ,
    TIME_FROM,
    TIME_TO,
    local_date,
    local_day_start,
    local_days_in_range,
)
from dashboards.variables import station_variable

UID = "aqm-aqi-ngay"
NO_DATA_VALUE = -1
"""The calendar's value for a station-day without a daily AQI (mapped to grey "no data")."""
INDICATIVE_DAYS = "Ngày chỉ thị (không công bố AQI)"
"""Column of the per-station table: days the station's class could not publish AQI."""


def station_days_cte() -> str:
    """CTEs ``station_days`` (every counted station-day) with ``aqi``, band ``idx`` and
    ``pub``.

    ``pub`` says whether the station's class that day may publish AQI (``aqi_publishable``,
    through ``station_class_periods``). ``aqi`` and ``idx`` are NULL for a day without data
    (no row, or a row without AQI) and for a day that may not be published: an indicative
    station's AQI never reaches a count, a band or a colour.
    """
    return f"""days AS (
  SELECT g::date AS day
  FROM generate_series({local_date(TIME_FROM)}::timestamp, {local_date(TIME_TO)}::timestamp,
                       interval '1 day') g
),
station_days AS (
  SELECT s.station_id, s.name, d.day, {publishable()} AS pub,
         CASE WHEN {publishable()} THEN a.aqi END AS aqi,
         CASE WHEN {publishable()} THEN {band_index_sql("a.aqi")} END AS idx
  FROM stations s
  CROSS JOIN days d
  {publishable_join("s.station_id", "d.day")}
  LEFT JOIN aqi_daily a
    ON a.station_id = s.station_id AND a.standard = '{VN_STANDARD}' AND a.day = d.day
   AND {local_days_in_range("a.day")}
  WHERE s.station_id IN ($station)
    AND (s.installed_on IS NULL OR d.day >= s.installed_on)
    AND (s.retired_on IS NULL OR d.day <= s.retired_on)
    AND (a.day IS NOT NULL OR {local_day_start("d.day + 1")} <= {TIME_TO})
)"""


# The time column is the instant the local day begins, so Grafana (dashboard zone
# Asia/Ho_Chi_Minh) draws each cell from local midnight to local midnight.
CALENDAR_SQL = f"""
WITH {station_days_cte()}
SELECT {local_day_start("sd.day")} AS "time", sd.name AS metric,
       CASE WHEN sd.pub THEN coalesce(sd.aqi, {NO_DATA_VALUE}) ELSE {INDICATIVE_VALUE} END
         AS value
FROM station_days sd
ORDER BY 1, 2
"""

DAYS_PER_BAND_SQL = f"""
WITH {station_days_cte()}
SELECT c."Mức", c."Số ngày"
FROM (
  SELECT band.idx AS ord, band.name_vi AS "Mức", count(sd.day) AS "Số ngày"
  FROM {bands_values_sql([VN_STANDARD])}
  LEFT JOIN station_days sd ON sd.idx = band.idx
  GROUP BY band.idx, band.name_vi
  UNION ALL
  SELECT 1000, '{NO_DATA_TEXT}', count(*) FROM station_days WHERE pub AND idx IS NULL
) c
ORDER BY c.ord
"""


def _band_columns() -> str:
    return ",\n       ".join(
        f'count(*) FILTER (WHERE sd.idx = {c.index}) AS "{c.name_vi}"'
        for c in categories(VN_STANDARD)
    )


# One row per station, one column per band (pivoted in SQL), then days without data.
DAYS_PER_STATION_SQL = f"""
WITH {station_days_cte()}
SELECT sd.station_id AS "{STATION_ID_FIELD}",
       CASE WHEN bool_and(sd.pub) THEN sd.name ELSE sd.name || '{INDICATIVE_SUFFIX}' END
         AS "Trạm",
       {_band_columns()},
       count(*) FILTER (WHERE sd.pub AND sd.idx IS NULL) AS "{NO_DATA_TEXT}",
       count(*) FILTER (WHERE NOT sd.pub) AS "{INDICATIVE_DAYS}",
       count(*) AS "Số ngày"
FROM station_days sd
GROUP BY sd.station_id, sd.name
ORDER BY sd.station_id
"""


def _band_column_overrides() -> list[Json]:
    """Each band's column in its Decision 1459 colour (zero stays uncoloured)."""
    columns = [(c.name_vi, c.hex) for c in categories(VN_STANDARD)]
    columns.append((NO_DATA_TEXT, NO_DATA_COLOUR))
    columns.append((INDICATIVE_DAYS, INDICATIVE_COLOUR))
    return [
        override(
            name,
            {
                "color": {"mode": "fixed", "fixedColor": colour},
                "custom.cellOptions": {"type": "color-text"},
            },
        )
        for name, colour in columns
    ]


def build() -> Json:
    panels = [
        Panel(
            "state-timeline",
            "VN_AQI ngày theo trạm",
            [sql_query(CALENDAR_SQL, fmt="time_series")],
            width=24,
            height=10,
            description=(
                "Mỗi ô là một ngày địa phương (00:00–24:00 giờ Việt Nam) tô màu và ghi tên mức "
                "VN_AQI ngày (QĐ 1459/QĐ-TCMT). Màu xám «Không có dữ liệu»: ngày không đủ số liệu "
                "để tính AQI hoặc không có số liệu, từ ngày lắp đặt đến ngày ngừng của trạm. "
                f"Màu xanh lam «{INDICATIVE_TEXT}»: ngày trạm thuộc loại chỉ thị (cảm biến giá "
                "rẻ, trạm di động; TT 10/2021/TT-BTNMT Điều 29–30), không tính vào thống kê AQI."
            ),
            threshold=aqi_thresholds(),
            colour_mode="thresholds",
            mappings=band_range_mappings(),
            options={
                "mergeValues": False,
                "showValue": "auto",
                "alignValue": "center",
                "rowHeight": 0.8,
                "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
                "tooltip": {"mode": "single", "sort": "none"},
            },
            # A value lasts until the next point: without this the newest day would stretch
            # to the end of the range.
            custom={"fillOpacity": 90, "lineWidth": 0, "insertNulls": DAILY_GAP_MS},
        ),
        Panel(
            "barchart",
            "Số ngày theo mức VN_AQI (các trạm đã chọn)",
            [sql_query(DAYS_PER_BAND_SQL)],
            width=10,
            height=9,
            new_row=True,
            description=(
                "Số ngày-trạm ở mỗi mức trong khoảng thời gian đã chọn; «Không có dữ liệu» gồm cả "
                "những ngày không có bản ghi AQI ngày nào. Chỉ tính những ngày trạm được công bố "
                "AQI (trạm tự động cố định đủ thông số, TT 10/2021/TT-BTNMT Điều 29–30); ngày của "
                "trạm chỉ thị không được tính."
            ),
            overrides=[override("Mức", {"mappings": category_name_mappings()})],
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
            "Số ngày theo mức VN_AQI, từng trạm",
            [sql_query(DAYS_PER_STATION_SQL)],
            width=14,
            height=9,
            description=(
                "Mỗi trạm một dòng, mỗi mức một cột. Ngày trạm chỉ thị (không được công bố AQI) "
                f"chỉ được đếm ở cột «{INDICATIVE_DAYS}». Bấm tên trạm để mở trang trạm."
            ),
            options={"showHeader": True, "cellHeight": "sm"},
            overrides=[*_band_column_overrides(), station_link_override()],
        ),
    ]
    return dashboard(
        uid=UID,
        title="AQI ngày",
        description=(
            "VN_AQI ngày (ngày địa phương, giờ Việt Nam) của các trạm và số ngày ở mỗi mức."
        ),
        panels=panels,
        variables=[station_variable(multi=True)],
        time_from="now-90d",
        refresh="1h",
        tags=["aqi ngày"],
        timezone=LOCAL_TZ,
    )
