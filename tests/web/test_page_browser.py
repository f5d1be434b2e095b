"""The citizens' page in a real headless Chromium (Debian's package) on a phone-sized
screen, against a real ``aqm web`` and TimescaleDB: what a person sees.

Screenshots of each case are saved in the test's temporary folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aqm.localservices import PostgresInstance
from tests.web.seed import KEM, TOT, H, Seeded, seed
from tests.web.server import running_web, web_settings

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}


def _missing_browser() -> str | None:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return "Debian's chromium is not installed (scripts/install-services.sh installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (make venv installs it)"
    return None


pytestmark = pytest.mark.skipif(_missing_browser() is not None, reason=str(_missing_browser()))


@pytest.fixture(scope="module")
def web(database_url: str, postgres: PostgresInstance) -> Iterator[tuple[str, Seeded]]:
    seeded = seed(database_url)
    with running_web(web_settings(postgres.url(user="aqm_reader"))) as url:
        yield url, seeded


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, web: tuple[str, Seeded]) -> Iterator[Any]:
    # the browser's own zone is UTC: the page must still show Vietnamese local hours
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN", timezone_id="UTC"
    )
    page = context.new_page()
    page.requests = []
    page.problems = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.goto(web[0] + "/")
    page.wait_for_selector("#stations li")
    try:
        yield page
    finally:
        context.close()


def rgb(colour: tuple[int, int, int]) -> str:
    return "rgb({}, {}, {})".format(*colour)


def card(page: Any, station: str) -> Any:
    return page.locator(f'#stations li[data-station="{station}"]')


def marker(page: Any, station: str) -> Any:
    return page.locator(f'#map g[data-station="{station}"]')


def test_every_station_is_on_the_map_in_its_band_colour(page: Any, tmp_path: Path) -> None:
    page.screenshot(path=tmp_path / "page.png", full_page=True)
    assert page.locator("#map g.marker").count() == 5
    assert page.locator("h1").inner_text() == "Chất lượng không khí tỉnh Bắc Ninh"
    fresh = marker(page, "BN-FRESH")
    assert fresh.locator("text").text_content() == "135"
    assert fresh.locator("circle").evaluate("c => getComputedStyle(c).fill") == rgb(KEM[1])
    verified = marker(page, "BN-VERIFIED")
    assert verified.locator("text").text_content() == "45"
    assert verified.locator("circle").evaluate("c => getComputedStyle(c).fill") == rgb(TOT[1])
    badge = card(page, "BN-FRESH").locator(".badge")
    assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == rgb(KEM[1])
    assert "Kém · VN_AQI 135" in card(page, "BN-FRESH").inner_text()
    assert "Tốt · VN_AQI 45" in card(page, "BN-VERIFIED").inner_text()
    # the legend lists the six bands of Decision 1459
    legend = page.locator("#legend").inner_text()
    for name in ("Tốt", "Trung bình", "Kém", "Xấu", "Rất xấu", "Nguy hại"):
        assert name in legend


def test_the_map_draws_the_province_and_credits_its_source(page: Any) -> None:
    # the bundled outline (tests/web/test_province_outline.py): one polygon, Natural Earth
    assert page.locator("#map path.outline").count() == 1
    note = page.locator("#map-note").inner_text()
    assert "Natural Earth" in note  # the feature's `attribution`
    assert "202/2025/QH15" in note and "không phải ranh giới pháp lý" in note  # its `note`


def test_the_hour_is_local_time(page: Any, web: tuple[str, Seeded]) -> None:
    from tests.web.test_api import local_hour

    hour = local_hour(web[1].base - H)
    assert f"Giờ {hour}" in card(page, "BN-FRESH").inner_text()


def test_an_indicative_station_is_labelled_and_shows_no_aqi(page: Any, tmp_path: Path) -> None:
    text = card(page, "BN-LCS").inner_text()
    assert "Cảm biến giá rẻ" in text and "không phải chỉ số VN_AQI" in text
    assert "PM2.5 35,4 µg/m³" in text and "PM10 50,2 µg/m³" in text
    assert "99" not in text and "VN_AQI 9" not in text
    lcs = marker(page, "BN-LCS")
    assert lcs.locator("circle").count() == 0  # a square, not an AQI disc
    assert [t.text_content() for t in lcs.locator("text").all()] == ["PM2.5", "35"]
    assert lcs.locator("rect").evaluate("r => getComputedStyle(r).fill") == rgb((255, 255, 255))
    card(page, "BN-LCS").locator("button").click()
    detail = page.locator("#detail")
    detail.locator(".charts svg").first.wait_for()
    page.screenshot(path=tmp_path / "indicative.png", full_page=True)
    assert "không công bố chỉ số VN_AQI" in detail.inner_text()
    assert detail.locator(".bandbox").count() == 0


def test_silent_and_empty_stations_say_so_not_zero(page: Any, tmp_path: Path) -> None:
    silent = card(page, "BN-SILENT").inner_text()
    assert "Trạm không gửi số liệu hơn 2 giờ" in silent
    assert "42" not in silent.split("lúc")[0]  # the stale value is not presented as current
    assert marker(page, "BN-SILENT").locator("text").text_content() == "—"
    grey = marker(page, "BN-SILENT").locator("circle").evaluate("c => getComputedStyle(c).fill")
    assert grey == rgb((224, 224, 224))
    assert "Chưa có số liệu" in card(page, "BN-EMPTY").inner_text()
    assert marker(page, "BN-EMPTY").locator("text").text_content() == "—"
    page.screenshot(path=tmp_path / "silent.png", full_page=True)


def test_a_station_shows_band_advice_source_and_charts(page: Any, tmp_path: Path) -> None:
    marker(page, "BN-FRESH").click()
    detail = page.locator("#detail")
    detail.locator(".charts svg").nth(1).wait_for()
    page.screenshot(path=tmp_path / "detail.png", full_page=True)
    text = detail.inner_text()
    assert detail.locator(".bandbox").evaluate("b => getComputedStyle(b).backgroundColor") == rgb(
        KEM[1]
    )
    assert "Kém" in detail.locator(".bandbox").inner_text()
    # Decision 1459's recommendations for 101-150, general public and sensitive groups
    assert "nên cân nhắc giảm hoạt động ngoài trời" in text
    assert "hen suyễn" in text
    assert "Nhóm nhạy cảm" in text and "Người bình thường" in text
    assert "Số liệu tạm thời" in text
    assert "Chất ô nhiễm chính\nPM2.5" in text or "Chất ô nhiễm chính\tPM2.5" in text
    assert "Nguồn số liệu" in text and "21.1861° B, 106.0763° Đ" in text
    hourly, daily = detail.locator(".charts svg").all()
    assert hourly.locator("rect").count() == 24
    assert hourly.locator('rect[data-missing="true"]').count() == 1
    assert daily.locator("rect").count() == 30
    assert daily.locator('rect[data-missing="true"]').count() == 2


def test_nothing_is_loaded_from_elsewhere_and_nothing_breaks(
    page: Any, web: tuple[str, Seeded]
) -> None:
    marker(page, "BN-FRESH").click()
    page.locator("#detail .charts svg").first.wait_for()
    assert page.requests and all(u.startswith(web[0]) for u in page.requests)
    assert page.problems == []
