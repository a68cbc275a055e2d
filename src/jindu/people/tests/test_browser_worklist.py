"""Browser test (Debian Chromium + Playwright): a 社工 opens the worklist, records a urine test and a visit,
and the person's items leave the overdue list. The page is kept in test-artifacts/worklist.png."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect, sync_playwright

from jindu.core.roles import Role
from jindu.core.testing.helpers import build_tree, make_user
from jindu.core.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Session, path_of
from jindu.people import services
from jindu.people.models import DrugTest
from jindu.people.nightly import evaluation_run
from jindu.people.tests.test_persons import valid_id

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


def supervised_person(name: str, first17: str, decided: dt.date):
    person = services.person_register(
        actor=None, id_number=valid_id(first17), name=name, residence_code=COMMUNITY_A
    ).person
    enrollment = services.enrollment_create(
        actor=None,
        person=person,
        measure="community_treatment",
        decision_date=decided,
        org_unit_code=COMMUNITY_A,
    )
    services.enrollment_report(actor=None, enrollment=enrollment, date=decided + dt.timedelta(days=5))
    services.enrollment_sign_agreement(actor=None, enrollment=enrollment, date=decided + dt.timedelta(days=5))
    return person


def test_worker_records_a_urine_test_and_a_visit_and_the_items_leave_the_overdue_list(
    browser: Browser, live_server
) -> None:
    build_tree()
    make_user("b_worker", Role.SOCIAL_WORKER, COMMUNITY_A, full_name="陈社工")
    today = timezone.localdate()
    decided = today - dt.timedelta(days=60)  # first monthly test and visit due ~25 days ago: overdue
    zhang = supervised_person("张伟", "33020319850612031", decided)
    li = supervised_person("李娜", "33020319900101042", decided)
    evaluation_run(today)

    session = Session(browser, live_server.url)
    try:
        page = session.login("b_worker")
        page.goto("/people/worklist/?kind=overdue")
        worklist = page.get_by_test_id("worklist")
        zhang_items = worklist.locator(f"[data-person='{zhang.pk}'][data-kind='overdue']")
        expect(zhang_items).to_have_count(2)  # the urine test and the visit
        expect(worklist.locator(f"[data-person='{li.pk}'][data-kind='overdue']")).to_have_count(2)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "worklist.png"), full_page=True)

        zhang_items.first.click()
        page.wait_for_load_state()
        assert path_of(page) == f"/people/persons/{zhang.pk}/"
        expect(page.get_by_test_id("overdue")).to_be_visible()

        test_form = page.get_by_test_id("test-form")
        test_form.locator("select[name=kind]").select_option("urine")
        test_form.locator("input[name=sample_date]").fill(today.isoformat())
        test_form.locator("select[name=result]").select_option("negative")
        test_form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator(".alert-success")).to_be_visible()

        contact_form = page.get_by_test_id("contact-form")
        contact_form.locator("select[name=kind]").select_option("visit")
        contact_form.locator("input[name=date]").fill(today.isoformat())
        contact_form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.get_by_test_id("overdue")).to_have_count(0)

        page.goto("/people/worklist/?kind=overdue")
        worklist = page.get_by_test_id("worklist")
        expect(worklist.locator(f"[data-person='{zhang.pk}']")).to_have_count(0)
        expect(worklist.locator(f"[data-person='{li.pk}'][data-kind='overdue']")).to_have_count(2)
        assert not session.foreign_requests()
    finally:
        session.close()
    recorded = DrugTest.objects.get(person=zhang)
    assert (recorded.kind, recorded.result, recorded.sample_date) == ("urine", "negative", today)
    assert recorded.recorded_by.username == "b_worker"
