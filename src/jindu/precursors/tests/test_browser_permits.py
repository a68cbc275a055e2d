"""Browser test of issue 4, acceptance point 4 (Debian Chromium + Playwright): a firm user files a purchase
application through the form and attaches its contract, a district office accepts and approves it and downloads
the certificate PDF, and the certificate verifies: its SM3 digest matches through the public upload page and the
API, and its QR code opens the public verification page, which says it is valid. Screenshots are kept in
test-artifacts/permit-*.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from jindu.core.accounts import token_issue
from jindu.core.crypto import get_provider
from jindu.core.models import User
from jindu.core.roles import Role
from jindu.core.testing.helpers import build_tree, make_user
from jindu.core.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Session, path_of
from jindu.precursors import permits
from jindu.precursors.catalogue import install_catalogue
from jindu.precursors.conftest import FIRM_A, FIRM_B
from jindu.precursors.models import MixtureRule, Substance
from jindu.precursors.models.permits import ApplicationStatus, Permit, PermitApplication
from jindu.precursors.services import enterprise_register
from jindu.precursors.tests.test_permits import pdf_qr_matrix, pdf_verification_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTRACT = b"%PDF-1.4\n% purchase contract\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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


def test_a_firm_files_a_purchase_application_an_office_approves_it_and_the_certificate_verifies(
    browser: Browser, live_server
) -> None:
    # A transactional test database may have been flushed by an earlier browser test: reinstall the shipped
    # catalogue and policies (as the data migrations do).
    install_catalogue(Substance, MixtureRule)
    permits.install_default_permit_policies()
    build_tree()
    enterprise_register(actor=None, uscc=FIRM_A, name="甲化工有限公司", org_unit_code="330203")
    make_user("b_firm", Role.ENTERPRISE, "330203", enterprise_code=FIRM_A, full_name="李经理")
    make_user("b_office", Role.DISTRICT_OFFICE, "330203", full_name="王海曙")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    firm = Session(browser, live_server.url)
    office = Session(browser, live_server.url)
    public = Session(browser, live_server.url)
    try:
        # The firm files a purchase application for 500 kg of acetone from firm B.
        page = firm.login("b_firm")
        page.goto("/precursors/firm/")
        form = page.get_by_test_id("application-form")
        form.locator("select[name=activity]").select_option("purchase")
        form.locator("select[name=substance]").select_option("acetone")
        form.locator("input[name=quantity_kg]").fill("500")
        form.locator("input[name=counterparty_uscc]").fill(FIRM_B)
        form.locator("input[name=counterparty_name]").fill("乙化工有限公司")
        form.locator("textarea[name=declared_use]").fill("电子元件清洗溶剂")
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        application = PermitApplication.objects.get()
        assert path_of(page) == f"/precursors/applications/{application.pk}/"
        attach = page.get_by_test_id("attachment-form")
        attach.locator("select[name=kind]").select_option("contract")
        attach.locator("input[name=file]").set_input_files(
            {"name": "购销合同.pdf", "mimeType": "application/pdf", "buffer": CONTRACT}
        )
        attach.locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.get_by_test_id("attachment-download")).to_have_text("购销合同.pdf")
        page.get_by_test_id("submit-application").click()
        page.wait_for_load_state()
        expect(page.locator("[data-status='submitted']").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "permit-application.png"), full_page=True)

        # The district office finds it among the pending applications (with its SLA), accepts and approves it.
        page = office.login("b_office")
        page.goto("/precursors/applications/")
        row = page.locator(f"[data-application='{application.pk}']")
        expect(row.locator("[data-sla]")).to_have_attribute("data-sla", "on_time")
        row.locator("a").first.click()
        page.wait_for_load_state()
        expect(page.get_by_test_id("attachment-download")).to_have_text("购销合同.pdf")
        page.get_by_test_id("accept-application").click()
        page.wait_for_load_state()
        page.get_by_test_id("approve-application").click()
        page.wait_for_load_state()
        expect(page.locator(".alert-success")).to_be_visible()
        page.get_by_test_id("permit-link").click()
        page.wait_for_load_state()
        permit = Permit.objects.get(application=application)
        expect(page.get_by_test_id("permit-number")).to_have_text(permit.number)
        page.screenshot(path=str(ARTIFACTS / "permit-detail.png"), full_page=True)
        with page.expect_download() as download_info:
            page.get_by_test_id("certificate-download").click()
        assert download_info.value.suggested_filename == f"{permit.number}.pdf"
        downloaded = download_info.value.path()
        assert downloaded is not None
        pdf = Path(downloaded).read_bytes()
        assert pdf.startswith(b"%PDF-")

        # The certificate verifies: the digest of the downloaded bytes is the one issued ...
        assert get_provider().sm3(pdf) == permit.certificate_digest
        page = public.page
        page.goto("/precursors/verify/")
        page.get_by_test_id("verify-form").locator("input[name=file]").set_input_files(
            {"name": "certificate.pdf", "mimeType": "application/pdf", "buffer": pdf}
        )
        page.get_by_test_id("verify-form").locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.get_by_test_id("verification-result")).to_have_attribute("data-status", "valid")
        expect(page.get_by_test_id("verified-number")).to_have_text(permit.number)
        # ... the API says the same (to a signed-in client, here with the office user's token) ...
        raw_token, _token = token_issue(user=User.objects.get(username="b_office"))
        answer = page.request.post(
            f"{live_server.url}/api/v1/precursors/permits/verify",
            headers={"Authorization": f"Bearer {raw_token}"},
            multipart={"file": {"name": "c.pdf", "mimeType": "application/pdf", "buffer": pdf}},
        )
        assert answer.status == 200, answer.text()
        body = json.loads(answer.text())
        assert body["match"] is True and body["number"] == permit.number and body["status"] == "valid"
        assert body["digest"] == permit.certificate_digest
        # ... and the QR code opens the public verification page.
        url = pdf_verification_url(pdf)
        assert pdf_qr_matrix(pdf) == permits.qr_matrix(url)
        assert url == f"{live_server.url}/precursors/verify/{permit.verification_token}/"
        page.goto(url)
        expect(page.get_by_test_id("verification-result")).to_have_attribute("data-status", "valid")
        expect(page.get_by_test_id("verified-number")).to_have_text(permit.number)
        page.screenshot(path=str(ARTIFACTS / "permit-verify.png"), full_page=True)

        for session in (firm, office, public):
            assert session.foreign_requests() == []
    finally:
        for session in (firm, office, public):
            session.close()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.decided_by is not None and application.decided_by.username == "b_office"
