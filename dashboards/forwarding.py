"""Dashboard "Truyền dữ liệu về Bộ": forwarding of Circular 10/2021 files to the Ministry
(``aqm forward``), from its delivery log (``forward_deliveries``, migration 0013), so it
shows the truth even while the forwarder itself is down.
"""

from __future__ import annotations

from dashboards.panels import Json, Panel, dashboard, sql_query, thresholds
from dashboards.sql_fragments import LOCAL_TZ

UID = "aqm-truyen-du-lieu-ve-bo"

PENDING_SQL = """
SELECT destination AS "Đích", count(*) AS "Tệp chờ gửi"
FROM forward_deliveries
WHERE delivered_at IS NULL AND given_up_at IS NULL
GROUP BY destination
ORDER BY destination
"""

OLDEST_SQL = """
SELECT destination AS "Đích",
       extract(epoch FROM now() - min(available_at)) AS "Tệp chờ lâu nhất"
FROM forward_deliveries
WHERE delivered_at IS NULL AND given_up_at IS NULL
GROUP BY destination
ORDER BY destination
"""

DELAY_P95_SQL = """
SELECT time_bucket(INTERVAL '15 minutes', delivered_at) AS time,
       destination AS metric,
       percentile_cont(0.95) WITHIN GROUP (
           ORDER BY extract(epoch FROM delivered_at - available_at)) AS value
FROM forward_deliveries
WHERE delivered_at IS NOT NULL AND $__timeFilter(delivered_at)
GROUP BY 1, 2
ORDER BY 1, 2
"""

PROBLEMS_SQL = """
SELECT destination AS "Đích", station_id AS "Trạm", measured_at AS "Thời điểm đo",
       file_name AS "Tệp", attempts AS "Số lần thử", first_error AS "Lỗi đầu tiên",
       last_error AS "Lỗi gần nhất",
       CASE WHEN given_up_at IS NOT NULL THEN 'Đã bỏ' ELSE 'Đang chờ' END AS "Trạng thái"
FROM forward_deliveries
WHERE delivered_at IS NULL AND attempts > 0
ORDER BY measured_at
LIMIT 200
"""

# Circular 10/2021 Art. 39: a result is sent no later than 5 minutes after it exists.
LIMIT_S = 300


def build() -> Json:
    panels = [
        Panel(
            "stat",
            "Tệp chờ gửi",
            [sql_query(PENDING_SQL)],
            width=6,
            height=5,
            description="Số tệp chưa được máy chủ của Bộ xác nhận, theo từng đích.",
            threshold=thresholds("green", [(50, "orange"), (500, "red")]),
            colour_mode="thresholds",
            options={"reduceOptions": {"calcs": ["lastNotNull"], "values": True}},
        ),
        Panel(
            "stat",
            "Tệp chờ lâu nhất",
            [sql_query(OLDEST_SQL)],
            width=6,
            height=5,
            unit="s",
            description=(
                "Tuổi của tệp chờ gửi lâu nhất. Thông tư 10/2021 Điều 39: gửi chậm nhất 5 phút "
                "sau khi có kết quả."
            ),
            threshold=thresholds("green", [(LIMIT_S, "red")]),
            colour_mode="thresholds",
            options={"reduceOptions": {"calcs": ["lastNotNull"], "values": True}},
        ),
        Panel(
            "timeseries",
            "Truyền dữ liệu về Bộ: độ trễ p95 theo đích",
            [sql_query(DELAY_P95_SQL, fmt="time_series")],
            width=12,
            height=8,
            unit="s",
            description=(
                "Phân vị 95 của độ trễ từ lúc aqm có số liệu đến lúc máy chủ đích xác nhận "
                "đã nhận tệp, theo khung 15 phút. Giới hạn 5 phút (Thông tư 10/2021 Điều 39)."
            ),
            threshold=thresholds("green", [(LIMIT_S, "red")]),
            custom={"thresholdsStyle": {"mode": "line"}},
        ),
        Panel(
            "table",
            "Tệp gửi lỗi",
            [sql_query(PROBLEMS_SQL)],
            width=24,
            height=8,
            description=(
                "Tệp chưa gửi được (lần thử, lỗi đầu tiên và gần nhất). Nhật ký đầy đủ: "
                "`aqm forward log --station …` (docs/ftp.md)."
            ),
            new_row=True,
        ),
    ]
    return dashboard(
        uid=UID,
        title="Truyền dữ liệu về Bộ",
        description=(
            "Chuyển tệp Thông tư 10/2021 về hệ thống của Bộ: tệp chờ gửi, tệp chờ lâu nhất, "
            "độ trễ p95 theo đích, tệp gửi lỗi."
        ),
        panels=panels,
        time_from="now-24h",
        refresh="1m",
        tags=["vận hành"],
        timezone=LOCAL_TZ,
    )
