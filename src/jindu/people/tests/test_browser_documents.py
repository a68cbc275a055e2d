"""Browser test (Debian Chromium + Playwright): on a person's page the 一人一档 panel loads through htmx, a
社工 generates a decision notice (the POST carries the CSRF token) and downloads it. The panel is kept in
test-artifacts/documents.png."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from jindu.core.models import AuditRecord
from jindu.core.roles import Role
from jindu.core.testing.helpers import build_tree, make_user
from jindu.core.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Session
from jindu.people import services
from jindu.people.models import CaseDocument
from jindu.people.tests.test_persons import MAN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMUNITY_A = "330203001001"


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


def test_worker_generates_and_downloads_a_decision_notice(browser: Browser, live_server) -> None:
    build_tree()
    make_user("b_worker", Role.SOCIAL_WORKER, COMMUNITY_A, full_name="陈社工")
    person = services.person_register(
        actor=None, id_number=MAN, name="张三", residence_code=COMMUNITY_A
    ).person
    decided = dt.date(2024, 3, 1)
    enrollment = services.enrollment_create(
        actor=None,
        person=person,
        measure="community_treatment",
        decision_date=decided,
        org_unit_code=COMMUNITY_A,
    )
    services.enrollment_report(actor=None, enrollment=enrollment, date=decided + dt.timedelta(days=5))

    session = Session(browser, live_server.url)
    try:
        page = session.login("b_worker")
        page.goto(f"/people/persons/{person.pk}/")
        panel = page.get_by_test_id("person-documents")
        expect(panel).to_be_visible()  # swapped in by htmx
        expect(page.get_by_test_id("archive-checklist")).to_be_visible()
        page.get_by_test_id("generate-form").locator("select[name=kind]").select_option("decision_notice")
        page.get_by_test_id("generate-form").locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.get_by_test_id("document-download")).to_have_count(1)
        with page.expect_download() as download_info:
            page.get_by_test_id("document-download").click()
        path = download_info.value.path()
        assert path is not None and Path(path).read_bytes()[:5] == b"%PDF-"
        assert download_info.value.suggested_filename.endswith(".pdf")
        page.get_by_test_id("person-documents").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.get_by_test_id("person-documents").screenshot(path=str(ARTIFACTS / "documents.png"))
        assert session.foreign_requests() == []
    finally:
        session.close()
    document = CaseDocument.objects.get()
    assert AuditRecord.objects.filter(
        action="EXPORT", object_id=str(document.pk), actor_username="b_worker"
    ).exists()
