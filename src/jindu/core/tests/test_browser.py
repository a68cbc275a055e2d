"""Browser tests: Debian's Chromium, driven by Playwright, logs in against pytest-django's live server
and looks at the 工作台. The workbench screenshot is kept in test-artifacts/workbench.png.

Playwright's sync API keeps an asyncio loop "running" in the test thread, so Django would refuse ORM
calls there (SynchronousOnlyOperation): DJANGO_ALLOW_ASYNC_UNSAFE is set while this module runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from jindu.core.roles import Role
from jindu.core.testing.helpers import TEST_PASSWORD, build_tree, current_otp, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[4]
ARTIFACTS = REPO_ROOT / "test-artifacts"
ZH_HANS_CATALOG = REPO_ROOT / "src" / "jindu" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
LOGIN_BUTTON = "form:has(#id_username) button[type=submit]"
# The chart's options as ECharts holds them: [x-axis labels, bar values].
CHART_DATA_JS = """() => {
  const option = echarts.getInstanceByDom(document.querySelector('.chart')).getOption();
  return [option.xAxis[0].data || [], option.series[0].data || []];
}"""
# Resolve when the chart's entry animation ends (at most 1.5 s), so the screenshot shows whole bars.
CHART_SETTLED_JS = """() => new Promise((resolve) => {
  echarts.getInstanceByDom(document.querySelector('.chart')).on('finished', () => resolve(true));
  setTimeout(() => resolve(false), 1500);
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_browser.sh")
    with pytest.MonkeyPatch.context() as patch:
        # Until the module ends: the database flush after each test also runs under Playwright's loop.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()


class Session:
    """One browser context (its own cookies) that records every URL it requests."""

    def __init__(self, browser: Browser, base_url: str, locale: str = "zh-CN") -> None:
        self.context: BrowserContext = browser.new_context(
            base_url=base_url, locale=locale, viewport={"width": 1366, "height": 900}
        )
        self.context.set_default_timeout(5_000)
        self.requested: list[str] = []
        self.context.on("request", lambda request: self.requested.append(request.url))
        self.page: Page = self.context.new_page()

    def login(self, username: str, password: str = TEST_PASSWORD, otp: str = "") -> Page:
        page = self.page
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        if otp:
            page.fill("#id_otp", otp)
        page.click(LOGIN_BUTTON)
        page.wait_for_load_state()
        return page

    def foreign_requests(self) -> list[str]:
        """Requested URLs outside this machine (the UI must work offline: no CDN, no web fonts)."""
        return [
            url
            for url in self.requested
            if urlsplit(url).scheme not in ("data", "blob", "about")
            and urlsplit(url).hostname not in LOCAL_HOSTS
        ]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_session(browser: Browser, live_server) -> Iterator:
    sessions: list[Session] = []

    def open_(locale: str = "zh-CN") -> Session:
        sessions.append(Session(browser, live_server.url, locale))
        return sessions[-1]

    yield open_
    for session in sessions:
        session.close()


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def test_district_user_logs_in_and_workbench_is_screenshotted(open_session) -> None:
    build_tree()
    make_user("b_district", Role.DISTRICT_OFFICE, "330203", full_name="王海曙")
    session = open_session()
    page = session.page

    page.goto("/login/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    session.login("b_district")

    assert path_of(page) == "/", page.url
    expect(page.get_by_test_id("current-user")).to_have_text("王海曙")
    expect(page.get_by_text("海曙区", exact=True)).to_be_visible()
    # ECharts (vendored, served by the live server) drew its canvas into the chart box.
    expect(page.locator(".chart canvas")).to_have_count(1)
    box = page.locator(".chart canvas").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200, box
    assert any(urlsplit(url).path.endswith("/vendor/echarts/echarts.min.js") for url in session.requested)
    page.evaluate(CHART_SETTLED_JS)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "workbench.png"
    screenshot.unlink(missing_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000, screenshot.stat().st_size

    assert session.foreign_requests() == []


def test_admin_needs_one_time_code_and_only_admin_sees_org_units(open_session) -> None:
    build_tree()
    admin = make_user("b_sysadmin", Role.SYSADMIN, "330200")
    make_user("b_district", Role.DISTRICT_OFFICE, "330203")
    admin_session, district_session = open_session(), open_session()

    page = admin_session.login("b_sysadmin")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    assert path_of(page) == "/login/", page.url
    expect(page.get_by_test_id("current-user")).to_have_count(0)

    page = admin_session.login("b_sysadmin", otp=current_otp(admin))
    assert path_of(page) == "/", page.url
    expect(page.get_by_test_id("current-user")).to_have_text("b_sysadmin")
    expect(page.locator('aside a[href="/orgunits/"]')).to_have_count(1)

    page = district_session.login("b_district")
    assert path_of(page) == "/", page.url
    expect(page.get_by_test_id("current-user")).to_have_text("b_district")
    expect(page.locator('aside a.nav-link[href="/"]')).to_have_count(1)
    expect(page.locator('a[href="/orgunits/"]')).to_have_count(0)

    assert admin_session.foreign_requests() == []
    assert district_session.foreign_requests() == []


def test_login_page_defaults_to_chinese_and_switches_to_english(open_session) -> None:
    # A browser that prefers no language the platform offers gets the default, 简体中文.
    session = open_session(locale="fr-FR")
    page = session.page
    page.goto("/login/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert ZH_HANS_CATALOG.exists(), f"{ZH_HANS_CATALOG} is missing: compile the messages"
    expect(page.locator(LOGIN_BUTTON)).to_have_text("登录")

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()

    assert path_of(page) == "/login/", page.url
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(LOGIN_BUTTON)).to_have_text("Log in")
    expect(page.get_by_role("button", name="简体中文")).to_be_visible()
    assert session.foreign_requests() == []


def test_sidebar_is_visible(open_session) -> None:
    build_tree()
    admin = make_user("b_sysadmin", Role.SYSADMIN, "330200")
    session = open_session()
    page = session.login("b_sysadmin", otp=current_otp(admin))
    assert path_of(page) == "/", page.url
    expect(page.get_by_test_id("current-user")).to_be_visible()
    expect(page.locator("aside")).to_be_visible(timeout=1_000)
    expect(page.locator('aside a[href="/orgunits/"]')).to_be_visible(timeout=1_000)


def test_workbench_chart_draws_bars(open_session) -> None:
    build_tree()
    make_user("b_district", Role.DISTRICT_OFFICE, "330203")
    session = open_session()
    page = session.login("b_district")
    assert path_of(page) == "/", page.url
    expect(page.locator(".chart canvas")).to_have_count(1)
    labels, values = page.evaluate(CHART_DATA_JS)
    # 海曙区 and below: 1 district, 2 streets, 1 community, 1 grid.
    assert labels == ["区县", "乡镇街道", "村社区", "网格"], labels
    assert values == [1, 2, 1, 1], values
