"""Dashboard "Tổng quan": stations mapped by current VN_AQI band, latest AQI, silent stations."""

from __future__ import annotations

from dashboards.aqi_style import (
    INDICATIVE_SUFFIX,
    INDICATIVE_TEXT,
    INDICATIVE_VALUE,
    NO_DATA_COLOUR,
    VN_STANDARD,
    aqi_thresholds,
    band_index_mappings,
    band_join,
    band_thresholds,
    bands_values_sql,
    category_name_mappings,
    publishable,
    publishable_join,
)
from dashboards.links import OVERVIEW_DASHBOARD_UID, station_link_override
from dashboards.panels import (
    HOURLY_GAP_MS,
    Json,
    Panel,
    dashboard,
    number_text_mappings,
    override,
    sql_query,
    thresholds,
)
from dashboards.sql_fragments import (
    CURRENT_AQI_MAX_AGE,
    LOCAL_TZ,
    SILENCE_RULE_VI,
    TIME_TO,
    interval_sql,
    last_seen_cte,
    local_date,
    silent_minutes,
)
from dashboards.variables import standard_variable

UID = OVERVIEW_DASHBOARD_UID

SIGNAL_COLUMN = "Tín hiệu"
SIGNAL_MAPPINGS = number_text_mappings([(0, "Đang gửi", "green"), (1, "Im lặng", "red")])
"""``Tín hiệu``: 1 when the station is silent (per-station rule of ``last_seen_cte``)."""

OFFLINE_OUTLINE = "public/maps/countries.geojson"
"""Country outlines bundled with Grafana (served by Grafana itself, no internet needed)."""

PROVINCE_OUTLINE_FILE = "web/static/province.geojson"
"""The province outline of the public page, in the repository."""
PROVINCE_OUTLINE = "public/maps/aqm-province.geojson"
"""Where Grafana serves it: docker-compose.yml mounts :data:`PROVINCE_OUTLINE_FILE` into
Grafana's own ``public/maps/`` folder, so it comes from Grafana like the country outlines."""
PROVINCE_LAYER = "Ranh giới tỉnh (Natural Earth)"

# Centre of Bắc Ninh province (with the former Bắc Giang since 1 July 2025), used until the
# map has fitted itself to the province outline.
MAP_CENTRE = (21.31, 106.49)


def latest_aqi_cte(standard_sql: str) -> str:
    """CTE ``latest``: each station's newest hourly AQI, if recent enough to be "current".

    One primary-key probe per station (``LIMIT 1`` backwards from the end of the range):
    ``aqi_hourly`` has no index on the hour alone, and its current chunk holds a month of
    every station.
    """
    return f"""latest AS (
    SELECT s.station_id, a.standard, a.hour, a.aqi, a.dominant
    FROM stations s
    CROSS JOIN LATERAL (
      SELECT a.standard, a.hour, a.aqi, a.dominant
      FROM aqi_hourly a
      WHERE a.station_id = s.station_id
        AND a.standard = {standard_sql}
        AND a.aqi IS NOT NULL
        AND a.hour <= {TIME_TO}
        AND a.hour > {TIME_TO} - {interval_sql(CURRENT_AQI_MAX_AGE)}
      ORDER BY a.hour DESC
      LIMIT 1
    ) a
  )"""


def latest_pm25_cte() -> str:
    """CTE ``pm25``: each station's newest valid hourly PM2.5 mean of the last 3 hours.

    The concentration an indicative station shows instead of an AQI (and every station's
    context in the table). One primary-key probe per station, as in :func:`latest_aqi_cte`.
    """
    return f"""pm25 AS (
    SELECT s.station_id, h.hour, h.mean
    FROM stations s
    CROSS JOIN LATERAL (
      SELECT h.hour, h.mean
      FROM hourly h
      WHERE h.station_id = s.station_id AND h.parameter = 'pm25'
        AND h.valid AND h.mean IS NOT NULL
        AND h.hour <= {TIME_TO}
        AND h.hour > {TIME_TO} - {interval_sql(CURRENT_AQI_MAX_AGE)}
      ORDER BY h.hour DESC
      LIMIT 1
    ) h
  )"""


PM25_COLUMN = "PM2.5 1 giờ (µg/m³)"
TODAY = local_date(TIME_TO)
"""The local day of the end of the range: the day whose class decides what is published."""

# An indicative station (its class today may not publish AQI) gets no AQI and no band
# colour: the band index INDICATIVE_VALUE, its name suffixed, its PM2.5 as the label.
MAP_SQL = f"""
WITH {latest_aqi_cte(f"'{VN_STANDARD}'")},
  {latest_pm25_cte()}
SELECT s.station_id AS "Mã trạm",
       CASE WHEN {publishable()} THEN s.name ELSE s.name || '{INDICATIVE_SUFFIX}' END AS "Trạm",
       s.latitude, s.longitude,
       CASE WHEN {publishable()} THEN l.aqi END AS "AQI",
       CASE WHEN {publishable()} THEN coalesce(band.idx, -1) ELSE {INDICATIVE_VALUE} END
         AS "Mức AQI",
       CASE WHEN {publishable()} THEN l.hour END AS "Giờ AQI",
       round(pm.mean::numeric, 1) AS "{PM25_COLUMN}",
       CASE WHEN {publishable()} THEN l.aqi::text
            ELSE round(pm.mean::numeric)::text || ' µg/m³' END AS "Nhãn"
FROM stations s
{publishable_join("s.station_id", TODAY)}
LEFT JOIN latest l ON l.station_id = s.station_id
LEFT JOIN pm25 pm ON pm.station_id = s.station_id
LEFT JOIN {bands_values_sql([VN_STANDARD])} ON {band_join("l", "l.aqi")}
WHERE s.status = 'active'
ORDER BY s.station_id
"""

LATEST_TABLE_SQL = f"""
WITH {latest_aqi_cte("'$standard'")},
  {latest_pm25_cte()},
  {last_seen_cte()}
SELECT ls.station_id AS "Mã trạm",
       CASE WHEN {publishable()} THEN ls.name ELSE ls.name || '{INDICATIVE_SUFFIX}' END AS "Trạm",
       CASE WHEN {publishable()} THEN l.aqi END AS "AQI",
       CASE WHEN {publishable()} THEN coalesce(band.name_vi, 'Không có dữ liệu')
            ELSE '{INDICATIVE_TEXT}' END AS "Mức",
       CASE WHEN {publishable()} THEN coalesce(p.name_vi, l.dominant) END
         AS "Chất ô nhiễm chính",
       CASE WHEN {publishable()} THEN l.hour END AS "Giờ AQI",
       round(pm.mean::numeric, 1) AS "{PM25_COLUMN}",
       ls.last_ts AS "Số liệu cuối",
       ls.silent::int AS "{SIGNAL_COLUMN}",
       {silent_minutes("ls.last_ts")} AS "Im lặng (phút)",
       ls.silent_after_min AS "Ngưỡng im lặng (phút)"
FROM last_seen ls
{publishable_join("ls.station_id", TODAY)}
LEFT JOIN latest l ON l.station_id = ls.station_id
LEFT JOIN pm25 pm ON pm.station_id = ls.station_id
LEFT JOIN {bands_values_sql()} ON {band_join("l", "l.aqi")}
LEFT JOIN parameters p ON p.parameter = l.dominant
ORDER BY ls.silent DESC, CASE WHEN {publishable()} THEN l.aqi END DESC NULLS LAST, ls.station_id
"""

ACTIVE_STATIONS_SQL = """
SELECT count(*) AS "Trạm hoạt động" FROM stations WHERE status = 'active'
"""

SILENT_COUNT_SQL = f"""
WITH {last_seen_cte()}
SELECT count(*) FILTER (WHERE silent) AS "Trạm im lặng"
FROM last_seen
"""

# Only hours whose local day the station's class may publish.
HOURLY_AQI_SQL = f"""
SELECT a.hour AS "time", s.name AS metric, a.aqi AS value
FROM aqi_hourly a
JOIN stations s ON s.station_id = a.station_id
{publishable_join("a.station_id", local_date("a.hour"))}
WHERE a.standard = '$standard' AND s.status = 'active' AND $__timeFilter(a.hour)
  AND {publishable()}
ORDER BY 1, 2
"""


def _map_panel() -> Panel:
    style: Json = {
        "size": {"fixed": 14},
        "color": {"field": "Mức AQI", "fixed": NO_DATA_COLOUR},
        "opacity": 0.9,
        "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
        "text": {"mode": "field", "field": "Nhãn", "fixed": ""},
        "textConfig": {
            "fontSize": 12,
            "offsetY": -16,
            "textAlign": "center",
            "textBaseline": "bottom",
        },
    }
    return Panel(
        "geomap",
        "Bản đồ VN_AQI hiện tại",
        [sql_query(MAP_SQL)],
        width=12,
        height=14,
        description=(
            "Màu của mỗi trạm theo mức VN_AQI giờ gần nhất (QĐ 1459/QĐ-TCMT). Màu xám: không có "
            "AQI trong 3 giờ qua (trạm mất tín hiệu hoặc thiếu số liệu), không phải không khí tốt. "
            "Màu xanh lam: trạm chỉ thị (cảm biến giá rẻ, trạm di động; TT 10/2021/TT-BTNMT "
            "Điều 29–30) không được công bố AQI, chỉ ghi nồng độ PM2.5. "
            "Bấm vào trạm để mở trang trạm. Ranh giới tỉnh: Natural Earth (phạm vi công cộng), "
            "đã khái quát hoá, chỉ để định hướng."
        ),
        threshold=band_thresholds(),
        colour_mode="thresholds",
        mappings=band_index_mappings(),
        overrides=[station_link_override()],
        options={
            # Fitted to the province outline only: with allLayers Grafana would take the
            # extent of the country outlines too, the whole world.
            "view": {
                "id": "fit",
                "lat": MAP_CENTRE[0],
                "lon": MAP_CENTRE[1],
                "zoom": 9,
                "allLayers": False,
                "layer": PROVINCE_LAYER,
                "padding": 5,
            },
            "controls": {"showZoom": True, "mouseWheelZoom": True, "showAttribution": True},
            "basemap": {"type": "default", "name": "Nền bản đồ"},
            "layers": [
                # Drawn from a file Grafana ships: the map keeps its bearings on a network
                # without tiles (the basemap follows GF_GEOMAP_DEFAULT_BASELAYER_CONFIG).
                {
                    "type": "geojson",
                    "name": "Đường biên giới (ngoại tuyến)",
                    "config": {
                        "src": OFFLINE_OUTLINE,
                        "rules": [],
                        "style": {"color": {"fixed": NO_DATA_COLOUR}, "opacity": 0.15},
                    },
                    "tooltip": False,
                },
                {
                    "type": "geojson",
                    "name": PROVINCE_LAYER,
                    "config": {
                        "src": PROVINCE_OUTLINE,
                        "rules": [],
                        "style": {
                            "color": {"fixed": "#37474f"},
                            "opacity": 0.08,
                            "lineWidth": 2,
                        },
                    },
                    "tooltip": False,
                },
                {
                    "type": "markers",
                    "name": "Trạm quan trắc",
                    "location": {
                        "mode": "coords",
                        "latitude": "latitude",
                        "longitude": "longitude",
                    },
                    "config": {"showLegend": True, "style": style},
                    "tooltip": True,
                },
            ],
            "tooltip": {"mode": "details"},
        },
    )


def _latest_table() -> Panel:
    return Panel(
        "table",
        "AQI giờ mới nhất và tín hiệu trạm",
        [sql_query(LATEST_TABLE_SQL)],
        width=12,
        height=14,
        description=(
            "AQI giờ gần nhất (trong 3 giờ qua) theo chỉ số đã chọn. Trạm im lặng "
            f"({SILENCE_RULE_VI}, cột «Ngưỡng im lặng») được tô đỏ và xếp lên đầu. "
            "Trạm chỉ thị không được công bố AQI: chỉ có nồng độ PM2.5. "
            "Bấm tên trạm để mở trang trạm."
        ),
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
        overrides=[
            override(
                "AQI",
                {
                    "thresholds": aqi_thresholds(),
                    "color": {"mode": "thresholds"},
                    "custom.cellOptions": {"type": "color-background", "mode": "basic"},
                },
            ),
            override(
                "Mức",
                {
                    "mappings": category_name_mappings(),
                    "custom.cellOptions": {"type": "color-background", "mode": "basic"},
                },
            ),
            override(
                SIGNAL_COLUMN,
                {
                    "mappings": SIGNAL_MAPPINGS,
                    "custom.cellOptions": {"type": "color-background", "mode": "basic"},
                },
            ),
            # The threshold differs per station: the colour comes from "Tín hiệu"; here only
            # "never seen in the lookback" is red.
            override(
                "Im lặng (phút)",
                {
                    "thresholds": thresholds("transparent"),
                    "color": {"mode": "thresholds"},
                    "custom.cellOptions": {"type": "color-background", "mode": "basic"},
                    "mappings": [
                        {
                            "type": "special",
                            "options": {
                                "match": "null",
                                "result": {"text": "không có số liệu 30 ngày", "color": "red"},
                            },
                        }
                    ],
                },
            ),
            override("Giờ AQI", {"unit": "time:DD/MM HH:mm"}),
            override("Số liệu cuối", {"unit": "time:DD/MM HH:mm"}),
            station_link_override(keep_standard=True),
        ],
    )


def build() -> Json:
    panels = [
        Panel(
            "stat",
            "Trạm đang hoạt động",
            [sql_query(ACTIVE_STATIONS_SQL)],
            width=6,
            height=4,
            threshold=thresholds("blue"),
            colour_mode="thresholds",
        ),
        Panel(
            "stat",
            "Trạm im lặng",
            [sql_query(SILENT_COUNT_SQL)],
            width=6,
            height=4,
            description=(
                f"Trạm hoạt động {SILENCE_RULE_VI}, tính đến cuối khoảng thời gian (ngưỡng mỗi "
                "trạm: lớn hơn trong hai giá trị đó)."
            ),
            threshold=thresholds("green", [(1, "red")]),
            colour_mode="thresholds",
        ),
        _map_panel(),
        _latest_table(),
        Panel(
            "timeseries",
            "AQI giờ theo trạm",
            [sql_query(HOURLY_AQI_SQL, fmt="time_series")],
            width=24,
            height=9,
            new_row=True,
            threshold=aqi_thresholds(),
            colour_mode="palette-classic",
            custom={
                "thresholdsStyle": {"mode": "area"},
                "fillOpacity": 0,
                "spanNulls": False,
                "insertNulls": HOURLY_GAP_MS,
            },
            min_value=0,
        ),
    ]
    # The two stats sit above the map; move them into the first row before the map/table.
    panels[2].new_row = True
    return dashboard(
        uid=UID,
        title="Tổng quan",
        description="Tình hình chất lượng không khí và tín hiệu các trạm quan trắc.",
        panels=panels,
        variables=[standard_variable()],
        time_from="now-24h",
        tags=["tổng quan"],
        timezone=LOCAL_TZ,
    )
