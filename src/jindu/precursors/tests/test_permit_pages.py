"""Pages of the online applications: the firm's home and its application form, attachments, the officials'
pending list with SLA and their decisions, permit pages and certificate downloads, the public verification
pages, and who may open what."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import assert_ui_matrix, ui_client
from jindu.precursors import permits
from jindu.precursors.conftest import FIRM_B
from jindu.precursors.models import Substance
from jindu.precursors.models.permits import ApplicationStatus, Permit, PermitApplication

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def form_data(**overrides: Any) -> dict[str, Any]:
    return {
        "activity": "purchase",
        "substance": "acetone",
        "quantity_kg": "500",
        "counterparty_uscc": FIRM_B,
        "counterparty_name": "乙化工有限公司",
        "declared_use": "清洗溶剂",
        **overrides,
    }


def file_application(client: Client, **overrides: Any) -> PermitApplication:
    response = client.post("/precursors/applications/new/", form_data(**overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    application = PermitApplication.objects.latest("id")
    assert response["Location"] == f"/precursors/applications/{application.pk}/"
    return application


def messages_of(response: Any) -> str:
    return " ".join(m.message for m in response.context["messages"]) if response.context else ""


def test_the_firm_home_shows_applications_permits_and_the_purchase_form(firms, users):
    client = ui_client(firms["user_a"])
    page = client.get("/precursors/firm/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="application-form"' in html and "甲化工有限公司" in html
    assert 'data-testid="application-table"' in html and 'data-testid="permit-table"' in html
    # Only listed substances are offered, by catalogue code.
    assert 'value="acetone"' in html and Substance.objects.get(code="acetone").name_zh in html
    # Officials have no firm home: they land on the pending applications.
    response = ui_client(users["district_a"]).get("/precursors/firm/")
    assert response.status_code == 302 and response["Location"] == "/precursors/applications/"


def test_a_firm_files_attaches_and_submits_an_application(firms):
    client = ui_client(firms["user_a"])
    application = file_application(client)
    assert application.permit_type == "purchase_filing"  # acetone is category 3: a filing
    assert application.status == ApplicationStatus.DRAFT and application.applicant == firms["user_a"]
    detail = client.get(f"/precursors/applications/{application.pk}/").content.decode()
    assert 'data-testid="submit-application"' in detail and 'data-testid="attachment-form"' in detail
    assert 'data-testid="accept-application"' not in detail

    upload = SimpleUploadedFile("合同.pdf", PDF, content_type="application/pdf")
    response = client.post(
        f"/precursors/applications/{application.pk}/attachments/",
        {"kind": "contract", "file": upload},
        follow=True,
    )
    assert "合同.pdf" in messages_of(response)
    attachment = application.attachments.get()
    download = client.get(f"/precursors/applications/{application.pk}/attachments/{attachment.pk}/")
    assert download.status_code == 200 and download.content == PDF
    bad = SimpleUploadedFile("x.pdf", b"GIF89a", content_type="application/pdf")
    response = client.post(
        f"/precursors/applications/{application.pk}/attachments/",
        {"kind": "contract", "file": bad},
        follow=True,
    )
    assert "PDF" in messages_of(response) or "pdf" in messages_of(response)
    assert application.attachments.count() == 1

    response = client.post(f"/precursors/applications/{application.pk}/submit/", follow=True)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED and application.submitted_at
    home = client.get("/precursors/firm/").content.decode()
    assert f'data-application="{application.pk}"' in home and 'data-sla="on_time"' in home


def test_form_problems_are_shown_on_the_form(firms):
    client = ui_client(firms["user_a"])
    response = client.post("/precursors/applications/new/", form_data(counterparty_uscc="", declared_use=""))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="form-errors"' in html and "invalid-feedback" in html
    response = client.post("/precursors/applications/new/", form_data(quantity_kg="0"))
    assert response.status_code == 200 and "invalid-feedback" in response.content.decode()
    response = client.post(
        "/precursors/applications/new/",
        form_data(activity="transport", window_start="2026-12-01T10:00", window_end="2026-12-01T09:00"),
    )
    assert response.status_code == 200
    assert "window_end" in response.context["form"].errors
    assert not PermitApplication.objects.exists()


def test_officials_decide_from_the_pending_list_and_issue_the_certificate(firms, users):
    firm = ui_client(firms["user_a"])
    application = file_application(firm)
    firm.post(f"/precursors/applications/{application.pk}/submit/")
    office = ui_client(users["district_a"])
    listing = office.get("/precursors/applications/").content.decode()
    assert f'data-application="{application.pk}"' in listing and 'data-sla="on_time"' in listing
    detail = office.get(f"/precursors/applications/{application.pk}/").content.decode()
    assert 'data-testid="accept-application"' in detail and 'data-testid="reject-form"' in detail
    assert 'data-testid="submit-application"' not in detail and 'data-testid="attachment-form"' not in detail

    office.post(f"/precursors/applications/{application.pk}/accept/")
    detail = office.get(f"/precursors/applications/{application.pk}/").content.decode()
    assert 'data-testid="approve-application"' in detail
    response = office.post(f"/precursors/applications/{application.pk}/approve/", follow=True)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    permit = Permit.objects.get(application=application)
    assert 'data-testid="permit-link"' in response.content.decode()

    page = office.get(f"/precursors/permits/{permit.pk}/").content.decode()
    assert (
        permit.number in page and permit.certificate_digest in page and 'data-permit-status="valid"' in page
    )
    link = re.search(r'data-testid="verification-link">([^<]+)<', page)
    assert link and link.group(1) == f"http://testserver/precursors/verify/{permit.verification_token}/"
    for client, username in ((office, "t_district_a"), (firm, "t_enterprise")):
        download = client.get(f"/precursors/permits/{permit.pk}/certificate/")
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        assert download["Content-Disposition"] == f'attachment; filename="{permit.number}.pdf"'
        assert permits.permit_by_certificate(download.content) == permit
        assert AuditRecord.objects.filter(
            action="EXPORT", object_id=str(permit.pk), actor_username=username
        ).exists()
    # The permit now shows on the firm's home, and not in the pending list any more.
    assert permit.number in firm.get("/precursors/firm/").content.decode()
    assert (
        f'data-application="{application.pk}"' not in office.get("/precursors/applications/").content.decode()
    )


def test_rejection_needs_a_reason_and_wrong_offices_get_404(firms, users):
    firm = ui_client(firms["user_a"])
    application = file_application(firm)
    firm.post(f"/precursors/applications/{application.pk}/submit/")
    for user in (users["district_b"], users["street_a"]):
        assert (
            ui_client(user)
            .post(f"/precursors/applications/{application.pk}/reject/", {"reason": "不行不行"})
            .status_code
            == 404
        )
    assert firm.post(f"/precursors/applications/{application.pk}/accept/").status_code == 404
    office = ui_client(users["district_a"])
    response = office.post(f"/precursors/applications/{application.pk}/reject/", {"reason": ""}, follow=True)
    assert response.status_code == 200 and "reason" in messages_of(response).lower()
    office.post(f"/precursors/applications/{application.pk}/reject/", {"reason": "购销合同未盖章"})
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REJECTED
    seen = firm.get(f"/precursors/applications/{application.pk}/").content.decode()
    assert "购销合同未盖章" in seen and 'data-status="rejected"' in seen
    # A second decision is refused with a message, not an error page.
    response = office.post(f"/precursors/applications/{application.pk}/approve/", follow=True)
    assert response.status_code == 200 and messages_of(response)


def test_drafts_are_the_firms_own_and_pages_follow_the_scopes(firms, users):
    firm = ui_client(firms["user_a"])
    draft = file_application(firm)
    assert ui_client(users["district_a"]).get(f"/precursors/applications/{draft.pk}/").status_code == 404
    submitted = file_application(firm)
    firm.post(f"/precursors/applications/{submitted.pk}/submit/")
    assert_ui_matrix(
        list_url="/precursors/applications/?status=all",
        detail_url=f"/precursors/applications/{submitted.pk}/",
        marker="甲化工有限公司",
        allowed=[users["district_a"], users["city"], users["police_a"], firms["user_a"]],
        denied=[users["district_b"], firms["user_b"], users["sysadmin"]],
    )
    office = ui_client(users["district_a"])
    office.post(f"/precursors/applications/{submitted.pk}/accept/")
    office.post(f"/precursors/applications/{submitted.pk}/approve/")
    permit = Permit.objects.get()
    assert_ui_matrix(
        list_url="/precursors/permits/",
        detail_url=f"/precursors/permits/{permit.pk}/",
        marker=permit.number,
        allowed=[users["district_a"], users["city"], firms["user_a"]],
        denied=[users["district_b"], firms["user_b"]],
    )
    for user in (users["district_b"], firms["user_b"]):
        assert ui_client(user).get(f"/precursors/permits/{permit.pk}/certificate/").status_code == 404
    # The firm's page for officials lists what was submitted, never drafts.
    page = office.get(f"/precursors/enterprises/{firms['a'].pk}/").content.decode()
    assert f'data-application="{submitted.pk}"' in page and f'data-application="{draft.pk}"' not in page
    assert ui_client(users["district_b"]).get(f"/precursors/enterprises/{firms['a'].pk}/").status_code == 404


def test_revoking_from_the_permit_page(firms, users):
    firm = ui_client(firms["user_a"])
    application = file_application(firm)
    firm.post(f"/precursors/applications/{application.pk}/submit/")
    office = ui_client(users["district_a"])
    office.post(f"/precursors/applications/{application.pk}/accept/")
    office.post(f"/precursors/applications/{application.pk}/approve/")
    permit = Permit.objects.get()
    assert 'data-testid="revoke-form"' in office.get(f"/precursors/permits/{permit.pk}/").content.decode()
    assert 'data-testid="revoke-form"' not in firm.get(f"/precursors/permits/{permit.pk}/").content.decode()
    assert (
        firm.post(f"/precursors/permits/{permit.pk}/revoke/", {"reason": "违规转让证明"}).status_code == 404
    )
    office.post(f"/precursors/permits/{permit.pk}/revoke/", {"reason": "违规转让证明"})
    permit.refresh_from_db()
    assert permit.status == "revoked"


def test_public_verification_pages_need_no_login(firms, users):
    firm = ui_client(firms["user_a"])
    application = file_application(firm)
    firm.post(f"/precursors/applications/{application.pk}/submit/")
    office = ui_client(users["district_a"])
    office.post(f"/precursors/applications/{application.pk}/accept/")
    office.post(f"/precursors/applications/{application.pk}/approve/")
    permit = Permit.objects.get()
    pdf = firm.get(f"/precursors/permits/{permit.pk}/certificate/").content

    anonymous = Client()
    page = anonymous.get(f"/precursors/verify/{permit.verification_token}/")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-status="valid"' in html and permit.number in html
    assert "t_district_a" not in html and "t_enterprise" not in html
    missing = anonymous.get("/precursors/verify/not-a-token/")
    assert missing.status_code == 404 and 'data-status="unknown"' in missing.content.decode()

    assert anonymous.get("/precursors/verify/").status_code == 200
    checked = anonymous.post(
        "/precursors/verify/", {"file": SimpleUploadedFile("c.pdf", pdf, "application/pdf")}
    )
    assert 'data-status="valid"' in checked.content.decode() and permit.number in checked.content.decode()
    forged = anonymous.post(
        "/precursors/verify/", {"file": SimpleUploadedFile("c.pdf", pdf + b"\n", "application/pdf")}
    )
    assert 'data-status="no_match"' in forged.content.decode()
