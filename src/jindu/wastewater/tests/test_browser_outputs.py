"""Browser test (Debian Chromium + Playwright): the output charts draw in a real browser from the vendored ECharts,
offline. The site page's trend chart has its interval band (a stacked area between p2.5 and p97.5) under the point
line, readable through ``echarts.getInstanceByDom``; the weekday profile, the ranking's interval bars and the map of
catchments draw too. The site page is kept in test-artifacts/wastewater-site.png."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from jindu.core.roles import Role
from jindu.core.testing.helpers import build_tree, make_user
from jindu.core.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Session
from jindu.wastewater.models import SamplingSite
from jindu.wastewater.services import MeasurementEntry, SampleEntry, samples_store, site_create
from jindu.wastewater.tests.test_output_pages import CATCHMENT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPTION = "(selector) => echarts.getInstanceByDom(document.querySelector(selector)).getOption()"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_browser.sh")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()


def _samples(site: str, first: dt.date, values: list[float]) -> None:
    samples_store(
        actor=None,
        entries=[
            SampleEntry(
                site=site,
                end_date=first + dt.timedelta(days=offset),
                flow_m3_per_day=50_000,
                measurements=[MeasurementEntry(analyte="METH", ng_per_l=value)],
            )
            for offset, value in enumerate(values)
        ],
    )


def test_the_output_charts_draw_with_the_interval_band(browser: Browser, live_server) -> None:
    build_tree()
    make_user("b_city", Role.CITY_OFFICE, "330200", full_name="李市办")
    site_create(actor=None, code="HS-01", name="海曙污水处理厂", org_unit_code="330203", population=200_000)
    site_create(actor=None, code="FH-01", name="奉化污水处理厂", org_unit_code="330213", population=80_000)
    SamplingSite.objects.filter(code="HS-01").update(catchment=CATCHMENT)
    SamplingSite.objects.filter(code="FH-01").update(latitude=29.65, longitude=121.40)
    _samples("HS-01", dt.date(2026, 1, 5), [100 + 5 * (day % 7) for day in range(60)])
    _samples("FH-01", dt.date(2026, 1, 5), [320] * 20)

    session = Session(browser, live_server.url)
    try:
        page = session.login("b_city")
        page.goto("/wastewater/sites/HS-01/?period=week&first=2026-01-05&last=2026-03-05")
        chart = page.get_by_test_id("trend-chart")
        expect(chart).to_have_attribute("data-rendered", "1")
        expect(chart.locator("canvas")).to_have_count(1)
        option = page.evaluate(OPTION, "[data-testid=trend-chart]")
        series = {item["id"]: item for item in option["series"]}
        assert series["band-base"]["stack"] == series["band"]["stack"] == "band"
        assert "areaStyle" in series["band"] and series["value"]["type"] == "line"
        weeks = len(option["xAxis"][0]["data"])
        assert weeks == 9 and len(series["value"]["data"]) == weeks
        # The band spans p2.5 … p97.5 around every point.
        for low, height, value in zip(
            series["band-base"]["data"], series["band"]["data"], series["value"]["data"], strict=True
        ):
            assert low < value < low + height
        expect(page.get_by_test_id("weekday-chart")).to_have_attribute("data-rendered", "1")
        weekday = page.evaluate(OPTION, "[data-testid=weekday-chart]")
        assert [item["id"] for item in weekday["series"]] == ["means", "weekday-mean", "weekend-mean"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "wastewater-site.png"
        screenshot.unlink(missing_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)

        page.goto("/wastewater/rankings/?parent=330200&period=2026Q1&analyte=METH&measure=load_per_1000")
        expect(page.get_by_test_id("ranking-chart")).to_have_attribute("data-rendered", "1")
        ranking = page.evaluate(OPTION, "[data-testid=ranking-chart]")
        page.screenshot(path=str(ARTIFACTS / "wastewater-rankings.png"), full_page=True)
        assert ranking["yAxis"][0]["data"] == ["奉化区", "海曙区"]
        assert [item["id"] for item in ranking["series"]] == ["base", "interval", "value"]

        page.goto("/wastewater/map/?analyte=METH&period=2026Q1")
        expect(page.get_by_test_id("map-chart")).to_have_attribute("data-rendered", "1")
        drawn = page.evaluate(OPTION, "[data-testid=map-chart]")
        page.screenshot(path=str(ARTIFACTS / "wastewater-map.png"), full_page=True)
        assert drawn["series"][0]["data"][0]["name"] == "HS-01"
        assert drawn["series"][1]["data"][0]["name"] == "FH-01"
        assert session.foreign_requests() == []
    finally:
        session.close()
