"""Browser test of issue 5, acceptance point 4 (Debian Chromium + Playwright): an analyst of the city office imports
a lab file through the import page (a first file with a bad cell is refused whole with its row and column named,
nothing stored), then the corrected file, follows the link to the site and sees the trend chart with its interval
band. Screenshots are kept in test-artifacts/wastewater-import-*.png."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from jindu.core.roles import Role
from jindu.core.testing.helpers import build_tree, make_user
from jindu.core.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Session, path_of
from jindu.wastewater.models import AnalyteResult, LabImport, WastewaterSample
from jindu.wastewater.services import site_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPTION = "(selector) => echarts.getInstanceByDom(document.querySelector(selector)).getOption()"
FIRST_DAY = dt.date(2026, 3, 2)  # a Monday
DAYS = 28


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


def lab_file(path: Path, *, bad_row: int | None = None) -> Path:
    """Four weeks of a plant's daily composites in the wide layout labs send (Chinese headers, 万m³/d,
    below-LOQ as <LOQ(n)). ``bad_row`` (1-based data row) gets a concentration that is not a number."""
    lines = ["点位编码,采样结束日期,进水流量(万m³/d),浓度单位,检测机构,检测方法,甲基苯丙胺,苯丙胺,氯胺酮"]
    for index in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=index)
        meth = "九十" if bad_row == index + 1 else f"{90 + 4 * (index % 7) + index:.1f}"
        amp = "<LOQ(2)" if index % 5 == 0 else f"{8 + index % 3:.1f}"
        lines.append(
            f"HS-01,{day.isoformat()},5.0{index % 10},ng/L,宁波大学,JD/YJY02.10-2021,{meth},{amp},3.5"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_analyst_imports_a_lab_file_and_sees_the_trend_with_its_band(
    browser: Browser, live_server, tmp_path: Path
) -> None:
    build_tree()
    make_user("b_analyst", Role.CITY_OFFICE, "330200", full_name="周分析")
    site_create(actor=None, code="HS-01", name="海曙污水处理厂", org_unit_code="330203", population=200_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    session = Session(browser, live_server.url)
    try:
        page = session.login("b_analyst")
        page.goto("/wastewater/import/")
        expect(page.get_by_test_id("template-xlsx")).to_be_visible()

        # A file with one bad cell is refused whole, the cell named by row and column.
        page.locator("input[type=file]").set_input_files(str(lab_file(tmp_path / "第一批.csv", bad_row=3)))
        page.get_by_test_id("import").click()
        problems = page.get_by_test_id("problems")
        expect(problems).to_be_visible()
        expect(problems).to_contain_text("甲基苯丙胺")
        expect(problems).to_contain_text("4")  # data row 3 is the sheet's row 4
        page.screenshot(path=str(ARTIFACTS / "wastewater-import-refused.png"), full_page=True)
        assert WastewaterSample.objects.count() == 0 and LabImport.objects.count() == 0

        # The corrected file goes in: 28 samples, their results computed.
        page.locator("input[type=file]").set_input_files(str(lab_file(tmp_path / "第一批-更正.csv")))
        page.get_by_test_id("import").click()
        expect(page.get_by_test_id("created")).to_have_text(str(DAYS))
        page.screenshot(path=str(ARTIFACTS / "wastewater-import-done.png"), full_page=True)
        assert AnalyteResult.objects.filter(status="computed", analyte__code="METH").count() == DAYS
        assert AnalyteResult.objects.filter(status="below_loq", analyte__code="AMP").count() == 6

        # From the import to the site, and the weekly trend of methamphetamine with its interval band.
        page.get_by_test_id("sites").get_by_role("link").first.click()
        page.wait_for_load_state()
        assert path_of(page) == "/wastewater/sites/HS-01/"
        form = page.get_by_test_id("chart-form")
        form.locator("select[name=analyte]").select_option("METH")
        form.locator("select[name=period]").select_option("week")
        form.locator("input[name=first]").fill(FIRST_DAY.isoformat())
        form.locator("input[name=last]").fill((FIRST_DAY + dt.timedelta(days=DAYS - 1)).isoformat())
        form.locator("button[type=submit]").click()
        chart = page.get_by_test_id("trend-chart")
        expect(chart).to_have_attribute("data-rendered", "1")
        expect(chart.locator("canvas")).to_have_count(1)
        option = page.evaluate(OPTION, "[data-testid=trend-chart]")
        series = {item["id"]: item for item in option["series"]}
        assert series["band"]["stack"] == series["band-base"]["stack"] and "areaStyle" in series["band"]
        values = series["value"]["data"]
        assert len(option["xAxis"][0]["data"]) == len(values) == 4  # four ISO weeks
        for low, height, value in zip(
            series["band-base"]["data"], series["band"]["data"], values, strict=True
        ):
            assert height > 0 and low < value < low + height
        # The first week's point is the mean of its seven loads per 1000 (5.0x 万m³/d, 200,000 people).
        week = AnalyteResult.objects.filter(
            analyte__code="METH", end_date__lt=FIRST_DAY + dt.timedelta(days=7)
        ).values_list("per_1000", flat=True)
        assert values[0] == pytest.approx(sum(week) / 7, rel=1e-3)
        page.screenshot(path=str(ARTIFACTS / "wastewater-import-trend.png"), full_page=True)
        assert session.foreign_requests() == []
    finally:
        session.close()
