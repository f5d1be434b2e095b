"""The committed provisioning files: fresh, well-formed, consistent uids, colours from aqi/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

from aqi.categories import categories
from dashboards.aqi_style import INDICATIVE_COLOUR, NO_DATA_COLOUR
from dashboards.datasources import EXPRESSION_UID
from dashboards.provisioning import (
    CONTAINER_ROOT,
    DASHBOARDS_JSON_DIR,
    PROVISIONING_DIR,
    stale_files,
)
from ingest.metrics import IngestMetrics
from tests.provisioning.inventory import all_queries, dashboard_queries

JSON_DIR = PROVISIONING_DIR / DASHBOARDS_JSON_DIR
EXPECTED_TITLES = {"Tổng quan", "Trạm", "AQI ngày", "Chất lượng dữ liệu", "Vận hành ingest"}
EXPECTED_TITLES |= {"Mẫu thiếu"}
EXPECTED_TITLES |= {"Truyền dữ liệu về Bộ"}


def _yaml(rel: str) -> Any:
    return yaml.safe_load((PROVISIONING_DIR / rel).read_text(encoding="utf-8"))


def _boards() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(JSON_DIR.glob("*.json"))
    }


def _provisioned_uids() -> set[str]:
    return {ds["uid"] for ds in _yaml("datasources/aqm.yaml")["datasources"]}


def test_committed_files_match_a_fresh_generation() -> None:
    assert stale_files() == [], "provisioning/grafana is stale: run `aqm grafana generate`"


def test_stale_file_is_detected(tmp_path: Path) -> None:
    assert set(stale_files(tmp_path)) >= {
        "datasources/aqm.yaml",
        f"{DASHBOARDS_JSON_DIR}/tram.json",
    }


def test_dashboards_parse_with_unique_uids_and_vietnamese_titles() -> None:
    boards = _boards()
    assert {b["title"] for b in boards.values()} == EXPECTED_TITLES
    uids = [b["uid"] for b in boards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in boards.items():
        assert board["timezone"] == "Asia/Ho_Chi_Minh", name
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids), name
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, f"{name} › {panel['title']}"


def test_every_panel_and_query_uses_a_provisioned_datasource() -> None:
    provisioned = _provisioned_uids()
    for name, board in _boards().items():
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] in provisioned, f"{name} › {panel['title']}"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == panel["datasource"]["uid"]
        for query in dashboard_queries(name, board):
            assert query.datasource_uid in provisioned, query.location
    for group in _yaml("alerting/rules.yaml")["groups"]:
        for rule in group["rules"]:
            for item in rule["data"]:
                assert item["datasourceUid"] in provisioned | {EXPRESSION_UID}, rule["uid"]


def test_datasource_is_timescaledb_as_read_only_role_with_secret_from_env() -> None:
    pg = next(
        d for d in _yaml("datasources/aqm.yaml")["datasources"] if d["uid"] == "aqm-timescaledb"
    )
    assert pg["user"] == "aqm_reader"
    assert pg["jsonData"]["timescaledb"] is True
    assert pg["secureJsonData"]["password"] == "$__env{AQM_READER_PASSWORD}"
    assert "$" in pg["url"] and "$" in pg["jsonData"]["database"]


def test_provider_points_at_the_mounted_json_folder() -> None:
    provider = _yaml("dashboards/aqm.yaml")["providers"][0]
    assert provider["options"]["path"] == f"{CONTAINER_ROOT}/{DASHBOARDS_JSON_DIR}"
    assert provider["options"]["path"] == "/etc/grafana/provisioning/dashboards/json"


def test_alert_rules_are_well_formed() -> None:
    rules = [r for g in _yaml("alerting/rules.yaml")["groups"] for r in g["rules"]]
    assert len({r["uid"] for r in rules}) == len(rules) >= 3
    for rule in rules:
        ref_ids = {d["refId"] for d in rule["data"]}
        assert rule["condition"] in ref_ids
        sql_items = [d for d in rule["data"] if d["datasourceUid"] != EXPRESSION_UID]
        assert {d["model"]["format"] for d in sql_items} == {"time_series"}
    notifications = _yaml("alerting/notifications.yaml")
    receiver = notifications["contactPoints"][0]["receivers"][0]
    assert receiver["settings"]["addresses"] == "${AQM_ALERT_EMAIL}"
    assert notifications["policies"][0]["receiver"] == notifications["contactPoints"][0]["name"]


DAILY_UTC_PATTERNS = [
    re.compile(r"time_bucket\(\s*'(1 day|1d|24 hours?|86400(\.0+)?s)'\s*,\s*[^,()]+\)", re.I),
    re.compile(r"\$__timeGroup(Alias)?\([^)]*,\s*'?(1d|24h|86400s)'?", re.I),
    re.compile(r"date_trunc\(\s*'day'", re.I),
]


def test_no_query_buckets_days_in_utc() -> None:
    queries = [q for q in all_queries(_boards()) if q.is_sql]
    assert queries
    for query in queries:
        for pattern in DAILY_UTC_PATTERNS:
            assert not pattern.search(query.text), f"{query.location}: UTC-aligned daily bucket"


@pytest.mark.parametrize(
    "text",
    [
        "time_bucket('1 day', h.hour)",
        "$__timeGroupAlias(ts, '1d')",
        "date_trunc('day', ts)",
    ],
)
def test_utc_daily_bucket_patterns_catch_offenders(text: str) -> None:
    assert any(p.search(text) for p in DAILY_UTC_PATTERNS)
    assert not any(
        p.search("time_bucket('1 day', h.hour, 'Asia/Ho_Chi_Minh')") for p in DAILY_UTC_PATTERNS
    )


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


def test_aqi_colours_and_bounds_come_from_the_category_tables() -> None:
    vn = categories("vn_1459_2019")
    expected_by_value = [[vn[0].hex, None]] + [[c.hex, c.lower] for c in vn[1:]]
    # -2 (indicative station, no AQI published) below -1 (no data): neither a band colour
    expected_by_band = [[INDICATIVE_COLOUR, None], [NO_DATA_COLOUR, -1]] + [
        [c.hex, c.index] for c in vn
    ]
    seen_value = seen_band = 0
    for board in _boards().values():
        for node in _walk(board):
            steps = node.get("steps")
            if node.get("mode") != "absolute" or not steps:
                continue
            pairs = [[s["color"], s["value"]] for s in steps]
            if pairs == expected_by_value:
                seen_value += 1
            elif pairs == expected_by_band:
                seen_band += 1
            elif any(s["color"] in {c.hex for c in vn} for s in steps[1:]):
                pytest.fail(f"AQI colours with other bounds: {pairs}")
    assert seen_value >= 4 and seen_band == 1
    tong_quan = json.dumps(_boards()["tong-quan.json"], ensure_ascii=False)
    for cat in vn:
        assert f'"{cat.name_vi}"' in tong_quan and cat.hex in tong_quan


def _exported_names() -> set[str]:
    metrics = IngestMetrics()
    names: set[str] = set()
    for attr in vars(metrics).values():
        if isinstance(attr, Counter):
            names.add(attr._name + "_total")
        elif isinstance(attr, Histogram):
            names |= {attr._name + suffix for suffix in ("_bucket", "_sum", "_count")}
        elif isinstance(attr, Gauge):
            names.add(attr._name)
    return names


def test_promql_uses_only_metrics_the_ingest_service_exports() -> None:
    exported = _exported_names()
    assert "aqm_ingest_readings_stored_total" in exported
    used = set()
    for query in all_queries(_boards()):
        if query.fmt == "promql":
            used |= set(re.findall(r"aqm_ingest_[a-z_]+", query.text))
    assert used and used <= exported, f"not exported by ingest/metrics.py: {used - exported}"


def _panel(board: str, title: str) -> dict[str, Any]:
    return next(p for p in _boards()[board]["panels"] if p["title"] == title)


def test_hourly_series_break_at_missing_hours() -> None:
    """SQL rows exist only for hours with data: Grafana must insert the gaps (insertNulls)."""
    tram = _boards()["tram.json"]
    hourly = [
        p
        for p in tram["panels"]
        if p["type"] == "timeseries"
        and not p["title"].startswith("Trạng thái số đo")  # stacked bars per interval
        and any(
            key in json.dumps(p["targets"], ensure_ascii=False)
            for key in ("FROM hourly", "FROM aqi_hourly")
        )
    ]
    titles = {p["title"] for p in hourly}
    assert {"AQI giờ", "NowCast bụi (µg/m³)", "Độ đầy đủ số liệu theo giờ (%)"} <= titles
    assert sum("so với QCVN" in t for t in titles) >= 5
    for panel in [*hourly, _panel("tong-quan.json", "AQI giờ theo trạm")]:
        custom = panel["fieldConfig"]["defaults"]["custom"]
        assert custom["insertNulls"] == 3_600_000, panel["title"]
        assert custom["spanNulls"] is False, panel["title"]


def test_daily_series_are_not_cut_after_one_hour() -> None:
    """The 24-h query returns every local day itself; the hourly gap rule must not apply."""
    for panel in _boards()["tram.json"]["panels"]:
        daily = [t["refId"] for t in panel["targets"] if '"TB 24 giờ"' in t.get("rawSql", "")]
        if not daily:
            continue
        frame_overrides = [
            o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["id"] == "byFrameRefID"
        ]
        assert [o["matcher"]["options"] for o in frame_overrides] == daily, panel["title"]
        assert frame_overrides[0]["properties"] == [{"id": "custom.insertNulls", "value": False}]


def test_daily_aqi_cells_end_with_their_day() -> None:
    calendar = _panel("aqi-ngay.json", "VN_AQI ngày theo trạm")
    assert calendar["type"] == "state-timeline"
    assert calendar["fieldConfig"]["defaults"]["custom"]["insertNulls"] == 86_400_000


def _station_links(panel: dict[str, Any]) -> list[str]:
    return [
        link["url"]
        for o in panel["fieldConfig"]["overrides"]
        for prop in o["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]


def test_station_rows_and_map_points_link_to_the_station_dashboard() -> None:
    expected = {
        ("tong-quan.json", "Bản đồ VN_AQI hiện tại"),
        ("tong-quan.json", "AQI giờ mới nhất và tín hiệu trạm"),
        ("aqi-ngay.json", "Số ngày theo mức VN_AQI, từng trạm"),
        ("chat-luong-du-lieu.json", "Độ đầy đủ số liệu theo trạm và thông số"),
        ("chat-luong-du-lieu.json", "Độ trễ đến theo trạm trong giờ cuối của khoảng thời gian"),
    }
    found = set()
    for name, board in _boards().items():
        for panel in board["panels"]:
            urls = _station_links(panel)
            if not urls:
                continue
            found.add((name, panel["title"]))
            for url in urls:
                assert url.startswith("/d/aqm-tram/"), url
                assert 'var-station=${__data.fields["Mã trạm"]}' in url
                assert "${__url_time_range}" in url
            # the field the link reads is a column of the panel's query
            assert all('AS "Mã trạm"' in t["rawSql"] for t in panel["targets"]), panel["title"]
    assert found == expected


def test_station_dashboard_links_back_to_the_overview() -> None:
    tram = _boards()["tram.json"]
    back = [link for link in tram["links"] if link["type"] == "link"]
    assert back and back[0]["url"] == "/d/aqm-tong-quan/tong-quan" and back[0]["keepTime"]


def test_band_names_are_value_mappings_of_the_daily_calendar() -> None:
    calendar = _panel("aqi-ngay.json", "VN_AQI ngày theo trạm")
    mappings = calendar["fieldConfig"]["defaults"]["mappings"]
    ranges = [
        (m["options"]["from"], m["options"]["to"], m["options"]["result"]["text"])
        for m in mappings
        if m["type"] == "range"
    ]
    assert ranges == [
        (0, 50, "Tốt"),
        (51, 100, "Trung bình"),
        (101, 150, "Kém"),
        (151, 200, "Xấu"),
        (201, 300, "Rất xấu"),
        (301, 500, "Nguy hại"),
    ]
    assert calendar["options"]["legend"]["showLegend"] is True
