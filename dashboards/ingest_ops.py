"""Dashboard "Vận hành ingest": health of the ingest service from its Prometheus metrics.

Metric names are those ``ingest/metrics.py`` exports (a test checks every name used here
against that registry).
"""

from __future__ import annotations

from dashboards.panels import (
    Json,
    Panel,
    dashboard,
    number_text_mappings,
    prom_query,
    thresholds,
)
from dashboards.sql_fragments import LOCAL_TZ, SILENT_AFTER, SILENT_REPORT_INTERVALS

UID = "aqm-van-hanh-ingest"
RATE = "[$__rate_interval]"


def _connection_stat(title: str, metric: str) -> Panel:
    return Panel(
        "stat",
        title,
        [prom_query(f"min({metric})", legend=title, instant=True)],
        width=6,
        height=4,
        mappings=number_text_mappings([(1, "Đã kết nối", "green"), (0, "Mất kết nối", "red")]),
        threshold=thresholds("red", [(1, "green")]),
        colour_mode="thresholds",
        options={"colorMode": "background", "graphMode": "none"},
    )


def _quantiles(metric: str) -> list[Json]:
    return [
        prom_query(
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{RATE})))",
            legend=f"p{round(q * 100)}",
            ref_id=ref,
        )
        for q, ref in ((0.5, "A"), (0.95, "B"))
    ]


def build() -> Json:
    silent_s = SILENT_AFTER.total_seconds()
    panels = [
        _connection_stat("Kết nối broker MQTT", "aqm_ingest_broker_connected"),
        _connection_stat("Kết nối cơ sở dữ liệu", "aqm_ingest_db_connected"),
        Panel(
            "stat",
            "Thông điệp chưa xác nhận",
            [prom_query("sum(aqm_ingest_unacked_messages)", legend="chưa xác nhận", instant=True)],
            width=6,
            height=4,
            threshold=thresholds("green", [(10_000, "orange"), (40_000, "red")]),
            colour_mode="thresholds",
        ),
        Panel(
            "stat",
            "Thông điệp chờ lâu nhất",
            [
                prom_query(
                    "max(aqm_ingest_oldest_unacked_seconds)", legend="chờ lâu nhất", instant=True
                )
            ],
            width=6,
            height=4,
            unit="s",
            threshold=thresholds("green", [(30, "orange"), (300, "red")]),
            colour_mode="thresholds",
        ),
        Panel(
            "timeseries",
            "Lưu lượng (mỗi giây)",
            [
                prom_query(
                    f"sum(rate(aqm_ingest_messages_received_total{RATE}))",
                    legend="thông điệp nhận",
                    ref_id="A",
                ),
                prom_query(
                    f"sum(rate(aqm_ingest_readings_received_total{RATE}))",
                    legend="số đo nhận",
                    ref_id="B",
                ),
                prom_query(
                    f"sum(rate(aqm_ingest_readings_stored_total{RATE}))",
                    legend="số đo lưu mới",
                    ref_id="C",
                ),
                prom_query(
                    f"sum(rate(aqm_ingest_readings_duplicate_total{RATE}))",
                    legend="số đo trùng",
                    ref_id="D",
                ),
            ],
            width=12,
            height=8,
            new_row=True,
            unit="ops",
            colour_mode="palette-classic",
        ),
        Panel(
            "timeseries",
            "Bị từ chối theo lý do (mỗi giây)",
            [
                prom_query(
                    f"sum by (reason) (rate(aqm_ingest_readings_rejected_total{RATE}))",
                    legend="{{reason}}",
                )
            ],
            width=12,
            height=8,
            unit="ops",
            colour_mode="palette-classic",
        ),
        Panel(
            "timeseries",
            "Kích thước lô ghi",
            _quantiles("aqm_ingest_batch_size"),
            width=8,
            height=8,
            new_row=True,
            colour_mode="palette-classic",
        ),
        Panel(
            "timeseries",
            "Thời gian ghi và commit một lô",
            _quantiles("aqm_ingest_commit_seconds"),
            width=8,
            height=8,
            unit="s",
            colour_mode="palette-classic",
        ),
        Panel(
            "timeseries",
            "Từ lúc nhận đến lúc commit",
            _quantiles("aqm_ingest_receive_to_commit_seconds"),
            width=8,
            height=8,
            unit="s",
            colour_mode="palette-classic",
        ),
        Panel(
            "timeseries",
            "Thông điệp chưa xác nhận và lỗi ghi cơ sở dữ liệu",
            [
                prom_query("sum(aqm_ingest_unacked_messages)", legend="chưa xác nhận", ref_id="A"),
                prom_query(
                    f"sum(increase(aqm_ingest_db_errors_total{RATE}))",
                    legend="lỗi ghi CSDL",
                    ref_id="B",
                ),
            ],
            width=12,
            height=8,
            new_row=True,
            colour_mode="palette-classic",
        ),
        Panel(
            "bargauge",
            "Thời gian từ thông điệp cuối theo trạm",
            [
                prom_query(
                    "time() - max by (station) (aqm_ingest_station_last_seen_timestamp_seconds)",
                    legend="{{station}}",
                    instant=True,
                )
            ],
            width=12,
            height=8,
            unit="s",
            # Prometheus does not know stations.report_interval_s: this is the rule's floor.
            description=(
                f"Đỏ: trạm không gửi thông điệp quá {silent_s / 60:g} phút. Trạm gửi thưa hơn "
                f"{silent_s / 60 / SILENT_REPORT_INTERVALS:g} phút một lần chỉ bị coi là im lặng "
                f"khi quá {SILENT_REPORT_INTERVALS} chu kỳ gửi (xem bảng điều khiển Tổng quan và "
                "cảnh báo «Trạm im lặng»)."
            ),
            threshold=thresholds("green", [(silent_s, "red")]),
            colour_mode="thresholds",
            options={"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True},
        ),
    ]
    return dashboard(
        uid=UID,
        title="Vận hành ingest",
        description="Sức khỏe dịch vụ nhận số liệu (MQTT → TimescaleDB) từ số liệu Prometheus.",
        panels=panels,
        time_from="now-6h",
        refresh="30s",
        tags=["vận hành"],
        timezone=LOCAL_TZ,
    )
