"""Online applications (全程网办): each permit type's workflow, validity and legal deadlines, validation errors,
illegal transitions, 智能备案, certificates that verify, the authorization matrix, and caps used up by captured
ledger events."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import zlib
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jindu.core.crypto import get_provider
from jindu.core.models import AuditRecord, OrgUnit, PolicyVersion
from jindu.core.policy import policy_publish
from jindu.core.roles import Role
from jindu.core.storedfiles import MAX_UPLOAD_BYTES
from jindu.core.testing.helpers import api_client, assert_api_matrix, assert_error_shape, make_user
from jindu.precursors import permits
from jindu.precursors.conftest import FIRM_A, FIRM_B, ledger_document, uscc
from jindu.precursors.models import Enterprise
from jindu.precursors.models.permits import ApplicationStatus, Permit, PermitApplication, PermitStatus
from jindu.precursors.permit_rules import (
    CHINA_2026_CALENDAR,
    DEFAULT_PERMIT_RULES,
    add_months,
    decision_deadline,
    rule_for,
)
from jindu.precursors.services import enterprise_register

pytestmark = pytest.mark.django_db

APPS = "/api/v1/precursors/applications"
PERMITS = "/api/v1/precursors/permits"
VERIFY = "/api/v1/precursors/permits/verify"
CAPTURE = "/api/v1/precursors/epcis/capture"
ACETONE = "urn:jindu:class:67-64-1:LOT-1"
TOLUENE = "urn:jindu:class:108-88-3:LOT-2"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
FIRM_C = uscc("91330203MA2C00001")


def post(client: Client, url: str, payload: Any = None) -> Any:
    return client.post(
        url, data=json.dumps(payload if payload is not None else {}), content_type="application/json"
    )


def purchase(**overrides: Any) -> dict[str, Any]:
    return {
        "permit_type": "purchase_filing",
        "substance": "acetone",
        "quantity_kg": "500",
        "counterparty_uscc": FIRM_B,
        "counterparty_name": "乙化工有限公司",
        "declared_use": "清洗溶剂",
        **overrides,
    }


def transport(**overrides: Any) -> dict[str, Any]:
    return {
        "permit_type": "transport_licence",
        "substance": "acetic-anhydride",
        "quantity_kg": "800",
        "counterparty_uscc": FIRM_B,
        "counterparty_name": "乙化工有限公司",
        "origin": "宁波市海曙区望春工业园区1号",
        "destination": "宁波市奉化区锦屏街道2号",
        "carrier": "宁波危险品运输有限公司",
        "vehicle_plate": "浙B12345",
        "driver_name": "王师傅",
        "window_start": "2026-12-01T08:00:00+08:00",
        "window_end": "2026-12-01T18:00:00+08:00",
        "route_corridor": [[121.50, 29.88], [121.45, 29.70], [121.40, 29.65]],
        "corridor_buffer_m": 500,
        **overrides,
    }


def create(client: Client, payload: dict[str, Any]) -> dict[str, Any]:
    response = post(client, APPS, payload)
    assert response.status_code == 201, response.content
    return response.json()


def act(client: Client, application_id: int, action: str, payload: Any = None) -> Any:
    return post(client, f"{APPS}/{application_id}/{action}", payload)


def issue(
    firms: dict[str, Any], users: dict[str, Any], payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """File, submit, accept and approve an application of firm A; the application as approved."""
    firm = api_client(firms["user_a"])
    office = api_client(users["district_a"])
    created = create(firm, {**(payload or purchase()), "submit": True})
    assert act(office, created["id"], "accept").status_code == 200
    approved = act(office, created["id"], "approve")
    assert approved.status_code == 200, approved.content
    return approved.json()


# Certificates: reading the PDF back -----------------------------------------------------------------------


def pdf_streams(data: bytes) -> list[bytes]:
    """The decoded content streams of a reportlab PDF (ASCII85 + Flate)."""
    decoded = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            decoded.append(zlib.decompress(base64.a85decode(raw.strip(), adobe=True)))
        except ValueError:
            decoded.append(raw)
    return decoded


def pdf_qr_matrix(data: bytes) -> list[list[bool]]:
    """The QR code drawn in the certificate, rebuilt from its rectangles (one per run of dark modules)."""
    best: list[tuple[int, int, int]] = []
    for stream in pdf_streams(data):
        runs = [
            (int(x), int(y), int(w)) for x, y, w in re.findall(rb"(?m)^n (\d+) (\d+) (\d+) 1 re f\*$", stream)
        ]
        if len(runs) > len(best):
            best = runs
    size = max(x + w for x, _y, w in best)
    matrix = [[False] * size for _ in range(size)]
    for x, y, w in best:
        for column in range(x, x + w):
            matrix[size - 1 - y][column] = True
    return matrix


def pdf_verification_url(data: bytes) -> str:
    for stream in pdf_streams(data):
        found = re.search(rb"\((https?://[^)]*/precursors/verify/[A-Za-z0-9_-]+/)\) Tj", stream)
        if found:
            return found.group(1).decode("ascii")
    raise AssertionError("no verification URL in the certificate")


# The workflow ---------------------------------------------------------------------------------------------


def test_purchase_filing_from_draft_to_a_certificate_that_verifies(firms, users):
    firm, office = api_client(firms["user_a"]), api_client(users["district_a"])
    draft = create(firm, purchase())
    assert draft["status"] == "draft" and draft["enterprise"] == FIRM_A and draft["category"] == 3
    assert draft["quantity_kg"] in ("500", "500.000") and draft["permit"] is None
    # Officials never see a firm's drafts.
    assert_error_shape(office.get(f"{APPS}/{draft['id']}"), 404, "not_found")

    attached = firm.post(
        f"{APPS}/{draft['id']}/attachments",
        {"kind": "contract", "file": _upload("合同.pdf", PDF, "application/pdf")},
    )
    assert attached.status_code == 201, attached.content
    assert attached.json()["digest"] == get_provider().sm3(PDF)

    submitted = act(firm, draft["id"], "submit").json()
    assert submitted["status"] == "submitted" and submitted["submitted_at"]
    # A 购买备案 has no statutory decision limit: no deadline, on time.
    assert submitted["legal_deadline"] is None and submitted["sla"] == "on_time"
    accepted = act(office, draft["id"], "accept").json()
    assert accepted["status"] == "accepted" and accepted["accepted_at"]
    approved = act(office, draft["id"], "approve").json()
    assert approved["status"] == "approved" and approved["decided_by"] == "t_district_a"
    assert approved["sla"] is None and not approved["auto_approved"]

    today = timezone.localdate()
    permit = Permit.objects.get(pk=approved["permit_id"])
    assert permit.number == f"GMB-330203-{today.year}-000001" == approved["permit"]
    # 购买备案证明: 3 months, several uses, capped at the quantity applied for.
    assert (permit.valid_from, permit.valid_until, permit.single_use) == (today, add_months(today, 3), False)
    assert permit.quantity_cap_kg == Decimal("500") and permit.status == PermitStatus.VALID
    assert permit.org_unit_id == firms["a"].org_unit_id
    assert permit.issuing_office == "浙江省宁波市海曙区公安机关"  # county 公安 of the firm's district

    download = firm.get(f"{PERMITS}/{permit.pk}/certificate")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    pdf = download.content
    assert pdf.startswith(b"%PDF-") and get_provider().sm3(pdf) == permit.certificate_digest
    assert permit.certificate_digest.encode() not in pdf  # the digest is OF the PDF, not in it
    assert AuditRecord.objects.filter(
        action="EXPORT",
        object_type="precursors.permit",
        object_id=str(permit.pk),
        actor_username="t_enterprise",
    ).exists()

    # The QR code encodes the verification URL, which is also printed under it.
    url = pdf_verification_url(pdf)
    assert url == f"http://testserver/precursors/verify/{permit.verification_token}/"
    assert pdf_qr_matrix(pdf) == permits.qr_matrix(url)

    # Any signed-in user (here the seller) may check the file, byte for byte, by its SM3 digest; the API wants
    # a token like every other endpoint (the public check is the page /precursors/verify/).
    assert_error_shape(Client().post(VERIFY, {"file": _upload("c.pdf", pdf, "application/pdf")}), 401)
    seller = api_client(firms["user_b"])
    verified = seller.post(VERIFY, {"file": _upload("certificate.pdf", pdf, "application/pdf")})
    assert verified.status_code == 200, verified.content
    body = verified.json()
    assert body["match"] is True and body["number"] == permit.number and body["status"] == "valid"
    assert body["enterprise_name"] == "甲化工有限公司" and body["substance_name"] == "丙酮"
    forged = seller.post(VERIFY, {"file": _upload("c.pdf", pdf.replace(b"500", b"900"), "application/pdf")})
    assert forged.json()["match"] is False
    page = Client().get(f"/precursors/verify/{permit.verification_token}/")
    assert page.status_code == 200 and permit.number in page.content.decode()
    assert "王" not in page.content.decode()  # no personal data on the public page

    transitions = list(
        AuditRecord.objects.filter(object_type="precursors.permitapplication", object_id=str(draft["id"]))
        .order_by("sequence")
        .values_list("action", "detail")
    )
    assert [(a, d.get("transition")) for a, d in transitions] == [
        ("CREATE", None),
        ("UPDATE", "submit"),
        ("UPDATE", "accept"),
        ("UPDATE", "approve"),
    ]
    submit_detail = transitions[1][1]
    assert submit_detail["rules_version"] == PolicyVersion.objects.get(kind=permits.PERMIT_RULES_POLICY).pk
    assert submit_detail["smart_filing"] == {"eligible": False, "why": "credit_grade_none"}


def _upload(name: str, data: bytes, content_type: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def test_certificate_is_invariant_and_numbers_count_up(firms, users):
    first = Permit.objects.get(pk=issue(firms, users)["permit_id"])
    second = Permit.objects.get(pk=issue(firms, users, purchase(quantity_kg="20"))["permit_id"])
    year = timezone.localdate().year
    assert (first.number, second.number) == (f"GMB-330203-{year}-000001", f"GMB-330203-{year}-000002")
    stored = base64.b64decode(Permit.objects.values_list("certificate", flat=True).get(pk=first.pk))
    again = permits.render_certificate(
        first,
        first.application,
        label="购买备案证明",
        url=permits.verification_url(first.verification_token, "http://testserver/"),
    )
    assert again == stored  # same permit, same bytes
    assert first.verification_token != second.verification_token and len(first.verification_token) >= 43


def test_reject_needs_a_reason_and_the_firm_sees_it(firms, users):
    firm, office = api_client(firms["user_a"]), api_client(users["district_a"])
    created = create(firm, {**purchase(), "submit": True})
    refused = act(office, created["id"], "reject", {"reason": " "})
    assert "reason" in assert_error_shape(refused, 400, "invalid")["error"]["fields"]
    rejected = act(office, created["id"], "reject", {"reason": "购销合同未盖章"}).json()
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "购销合同未盖章"
    seen = firm.get(f"{APPS}/{created['id']}").json()
    assert seen["status"] == "rejected" and seen["decision_reason"] == "购销合同未盖章"
    assert not Permit.objects.exists()


def test_illegal_transitions_are_400_with_a_clear_message(firms, users):
    firm, office = api_client(firms["user_a"]), api_client(users["district_a"])
    draft = create(firm, purchase())
    submitted = create(firm, {**purchase(), "submit": True})
    # Approve before 受理, submit twice, decide twice, withdraw after the decision.
    body = assert_error_shape(act(office, submitted["id"], "approve"), 400, "invalid_transition")
    assert "已提交" in body["error"]["message"]  # the status is named (UI language zh-hans)
    assert_error_shape(act(firm, submitted["id"], "submit"), 400, "invalid_transition")
    assert act(office, submitted["id"], "accept").status_code == 200
    assert_error_shape(act(office, submitted["id"], "accept"), 400, "invalid_transition")
    assert act(office, submitted["id"], "approve").status_code == 200
    assert_error_shape(act(office, submitted["id"], "approve"), 400, "invalid_transition")
    assert_error_shape(
        act(office, submitted["id"], "reject", {"reason": "太晚了吧"}), 400, "invalid_transition"
    )
    assert_error_shape(act(firm, submitted["id"], "withdraw"), 400, "invalid_transition")
    # The firm withdraws its draft; a withdrawn application is final.
    assert act(firm, draft["id"], "withdraw").json()["status"] == "withdrawn"
    assert_error_shape(act(firm, draft["id"], "submit"), 400, "invalid_transition")
    assert Permit.objects.count() == 1


def test_deciding_is_for_officials_of_the_firms_district(firms, users):
    firm = api_client(firms["user_a"])
    created = create(firm, {**purchase(), "submit": True})
    police_b = make_user("t_police_b", Role.POLICE, "330213", search_scope=["330200"])
    # The firm itself, the other district, the street office and police who only search district A: 404.
    for user in (firms["user_a"], users["district_b"], users["street_a"], police_b, users["sysadmin"]):
        for action, payload in (("accept", None), ("approve", None), ("reject", {"reason": "材料不全"})):
            assert_error_shape(act(api_client(user), created["id"], action, payload), 404, "not_found")
    # Police who only search district A read it, but decide nothing.
    assert api_client(police_b).get(f"{APPS}/{created['id']}").status_code == 200
    # Police of district A (capture scope 330203) decide; so does the city office (its capture scope).
    assert act(api_client(users["police_a"]), created["id"], "accept").json()["status"] == "accepted"
    assert act(api_client(users["city"]), created["id"], "approve").json()["status"] == "approved"
    # The other firm's user can neither withdraw nor read it.
    assert_error_shape(act(api_client(firms["user_b"]), created["id"], "withdraw"), 404, "not_found")
    # Only a firm's own users file applications.
    assert_error_shape(post(api_client(users["district_a"]), APPS, purchase()), 403, "forbidden")


# Validation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"substance": "unobtainium"}, {"substance"}),
        ({"quantity_kg": "0"}, {"quantity_kg"}),
        ({"quantity_kg": -5}, {"quantity_kg"}),
        ({"quantity_kg": "lots"}, {"quantity_kg"}),
        ({"quantity_kg": "1.0001"}, {"quantity_kg"}),
        # 1-苯基-2-丙酮 is category 1: a purchase needs the licence, the law has no filing for it.
        ({"substance": "p2p"}, {"permit_type"}),
        ({"permit_type": "import_licence"}, {"permit_type"}),
        ({"counterparty_uscc": "", "counterparty_name": ""}, {"counterparty_uscc", "counterparty_name"}),
        ({"counterparty_uscc": "91330206MA2AH1XQ7X"}, {"counterparty_uscc"}),
        ({"declared_use": ""}, {"declared_use"}),
        ({"vehicle_plate": "浙B12345"}, {"vehicle_plate"}),  # transport details on a purchase
    ],
)
def test_bad_applications_are_400_with_field_errors(firms, overrides, fields):
    response = post(api_client(firms["user_a"]), APPS, purchase(**overrides))
    body = assert_error_shape(response, 400, "invalid")
    assert set(body["error"]["fields"]) == fields, body
    assert not PermitApplication.objects.exists()


def test_a_suspended_firm_files_nothing(firms):
    Enterprise.objects.filter(pk=firms["a"].pk).update(status="suspended")
    assert_error_shape(post(api_client(firms["user_a"]), APPS, purchase()), 400, "enterprise_inactive")


def test_permit_type_errors_name_the_categories_the_law_has(firms):
    body = assert_error_shape(post(api_client(firms["user_a"]), APPS, purchase(substance="p2p")), 400)
    assert "category 2, 3" in body["error"]["fields"]["permit_type"]
    body = assert_error_shape(
        post(api_client(firms["user_a"]), APPS, transport(permit_type="transport_filing", substance="p2p")),
        400,
    )
    assert "transport_filing" in body["error"]["fields"]["permit_type"]


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"window_end": "2026-12-01T07:00:00+08:00"}, {"window_end"}),
        ({"window_start": "2026-12-01T08:00:00"}, {"window_start"}),  # no offset
        ({"window_start": None, "window_end": None}, {"window_start", "window_end"}),
        ({"origin": "", "driver_name": ""}, {"origin", "driver_name"}),
        ({"vehicle_plate": "ABC-123"}, {"vehicle_plate"}),
        ({"route_corridor": [[121.5, 29.9]]}, {"route_corridor"}),
        ({"route_corridor": [[121.5, 29.9], [200, 29.9]]}, {"route_corridor"}),
        ({"corridor_buffer_m": 0}, {"corridor_buffer_m"}),
        ({"route_corridor": None, "corridor_buffer_m": 100}, {"route_corridor"}),
    ],
)
def test_bad_transport_applications_are_400(firms, overrides, fields):
    body = assert_error_shape(post(api_client(firms["user_a"]), APPS, transport(**overrides)), 400, "invalid")
    assert set(body["error"]["fields"]) == fields, body


def test_transport_licence_carries_its_corridor_and_lasts_three_months(firms, users):
    approved = issue(firms, users, transport())
    assert approved["route_corridor"] == [[121.5, 29.88], [121.45, 29.7], [121.4, 29.65]]
    assert approved["corridor_buffer_m"] == 500 and approved["vehicle_plate"] == "浙B12345"
    assert approved["window_start"].startswith("2026-12-01T00:00:00") or "08:00" in approved["window_start"]
    permit = Permit.objects.get(pk=approved["permit_id"])
    today = timezone.localdate()
    # Category 2 运输许可证: county 公安 of the origin, 3 months.
    assert permit.number.startswith("YS-330203-") and permit.valid_until == add_months(today, 3)
    assert not permit.single_use and permit.issuing_office == "浙江省宁波市海曙区公安机关"
    # The driver's name is personal data: readable through the model, encrypted in the table.
    assert approved["driver_name"] == "王师傅"
    with connection.cursor() as cursor:
        cursor.execute("SELECT driver_name FROM precursors_permitapplication WHERE id = %s", [approved["id"]])
        stored = cursor.fetchone()[0]
    assert stored.startswith("sm4gcm:") and "王" not in stored


def test_transport_filing_for_category_3_is_due_the_same_day_and_single_use(firms, users):
    firm = api_client(firms["user_a"])
    created = create(firm, {**transport(permit_type="transport_filing", substance="toluene"), "submit": True})
    assert created["legal_deadline"] == created["submitted_at"][:10] or created["legal_deadline"] == str(
        timezone.localdate()
    )
    office = api_client(users["district_a"])
    act(office, created["id"], "accept")
    permit = Permit.objects.get(pk=act(office, created["id"], "approve").json()["permit_id"])
    assert permit.single_use and permit.valid_until is None and permit.number.startswith("YSB-")


# Legal deadlines, SLA and versioned rules -----------------------------------------------------------------


@pytest.fixture
def frozen(monkeypatch):
    """Freeze the clock at a given aware time (services read ``timezone.now``)."""

    def freeze(moment: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return freeze


def shanghai(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_purchase_licence_deadline_rolls_past_the_national_day_holiday(firms, frozen):
    # Thursday 24 September 2026 + 10 days = Sunday 4 October, inside 国庆 (1–7 October): moved to 8 October.
    frozen(shanghai(2026, 9, 24, 10, 0))
    application = permits.application_create(
        actor=firms["user_a"], submit=True, **purchase(permit_type="purchase_licence", substance="p2p")
    )
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.legal_deadline == dt.date(2026, 10, 8)
    assert application.rules_version.kind == permits.PERMIT_RULES_POLICY
    assert application.calendar_version.kind == permits.WORKING_CALENDAR_POLICY
    # SLA: on time well before, due soon within 2 working days, overdue after the day.
    assert permits.application_sla(application, dt.date(2026, 9, 25)) == "on_time"
    assert permits.application_sla(application, dt.date(2026, 10, 6)) == "due_soon"  # holidays do not count
    assert permits.application_sla(application, dt.date(2026, 10, 8)) == "due_soon"
    assert permits.application_sla(application, dt.date(2026, 10, 9)) == "overdue"


def test_production_licence_deadline_counts_working_days(firms, frozen):
    frozen(shanghai(2026, 3, 2, 9, 0))
    application = permits.application_create(
        actor=firms["user_a"],
        submit=True,
        permit_type="production_licence",
        substance="p2p",
        quantity_kg="1000",
    )
    rule = rule_for(DEFAULT_PERMIT_RULES, "production_licence", 1, False)
    assert application.legal_deadline == decision_deadline(rule, dt.date(2026, 3, 2), CHINA_2026_CALENDAR)
    # 60 working days after 2 March 2026 skip 清明 (4–6 April) and 劳动节 (1–5 May, 9 May is a working day).
    assert application.legal_deadline == dt.date(2026, 5, 28)


def test_a_deadline_beyond_the_calendar_years_counts_weekends_only_and_says_so(firms, frozen):
    frozen(shanghai(2026, 12, 1, 9, 0))
    application = permits.application_create(
        actor=firms["user_a"],
        submit=True,
        permit_type="production_licence",
        substance="p2p",
        quantity_kg="10",
    )
    assert application.legal_deadline is not None and application.legal_deadline.year == 2027
    record = AuditRecord.objects.filter(object_id=str(application.pk), detail__transition="submit").get()
    assert record.detail["calendar_incomplete"] is True


def test_a_regional_rules_version_overrides_the_national_default(firms, users, frozen):
    frozen(shanghai(2026, 9, 24, 10, 0))
    rules = json.loads(json.dumps(DEFAULT_PERMIT_RULES))
    for entry in rules["rules"]:
        if entry["permit_type"] == "purchase_licence":
            entry["decision_limit"] = {"kind": "working_days", "days": 5, "verified": True, "source": "local"}
    version = policy_publish(
        actor=None,
        kind=permits.PERMIT_RULES_POLICY,
        region=OrgUnit.objects.get(code="330200"),
        effective_from=dt.date(2026, 1, 1),
        label="宁波 2026",
        payload=rules,
    )
    application = permits.application_create(
        actor=firms["user_a"], submit=True, **purchase(permit_type="purchase_licence", substance="p2p")
    )
    assert application.rules_version == version
    # 5 working days after 24 September: 25, 28, 29, 30 September, then 9 October (after the holidays).
    assert application.legal_deadline == dt.date(2026, 10, 9)


def test_policies_are_installed_by_the_data_migration():
    kinds = set(PolicyVersion.objects.filter(is_default=True, region=None).values_list("kind", flat=True))
    assert {permits.PERMIT_RULES_POLICY, permits.WORKING_CALENDAR_POLICY} <= kinds
    calendar = PolicyVersion.objects.get(kind=permits.WORKING_CALENDAR_POLICY, is_default=True)
    assert calendar.payload == CHINA_2026_CALENDAR.to_payload()


def test_without_installed_policies_the_module_defaults_apply(firms):
    PolicyVersion.objects.filter(
        kind__in=[permits.PERMIT_RULES_POLICY, permits.WORKING_CALENDAR_POLICY]
    ).delete()
    applied = permits.rules_in_force(firms["a"].org_unit, timezone.localdate())
    assert applied.rules is DEFAULT_PERMIT_RULES and applied.calendar == CHINA_2026_CALENDAR
    assert applied.rules_version is None and applied.calendar_version is None
    application = permits.application_create(actor=firms["user_a"], submit=True, **purchase())
    assert application.rules_version is None and application.status == ApplicationStatus.SUBMITTED


# 智能备案 ---------------------------------------------------------------------------------------------------


def _grade(firm: Enterprise, grade: str) -> None:
    Enterprise.objects.filter(pk=firm.pk).update(credit_grade=grade)


def test_smart_filing_approves_a_repeat_filing_of_an_a_grade_firm_within_its_cap(firms, users):
    _grade(firms["a"], "A")
    first = issue(firms, users)  # decided by an official
    firm = api_client(firms["user_a"])
    repeat = create(firm, {**purchase(quantity_kg="450"), "submit": True})
    assert repeat["status"] == "approved" and repeat["auto_approved"] is True
    assert repeat["decided_by"] is None and repeat["permit"] and repeat["permit"] != first["permit"]
    assert first["permit"] in repeat["decision_reason"]
    records = AuditRecord.objects.filter(
        object_type="precursors.permitapplication", object_id=str(repeat["id"])
    )
    details = {r.detail.get("transition"): r.detail for r in records if r.detail.get("transition")}
    assert details["submit"]["smart_filing"]["eligible"] is True
    assert details["submit"]["smart_filing"]["previous_permit"] == first["permit"]
    assert details["accept"]["auto"] is True and details["approve"]["auto"] is True
    assert {r.actor_username for r in records if r.detail.get("transition") in ("accept", "approve")} == {
        "cli"
    }
    permit = Permit.objects.get(number=repeat["permit"])
    pdf = firm.get(f"{PERMITS}/{permit.pk}/certificate").content
    assert get_provider().sm3(pdf) == permit.certificate_digest

    # Over the earlier cap, another seller, or another substance: an official decides.
    for payload in (
        purchase(quantity_kg="501"),
        purchase(counterparty_uscc=FIRM_C, counterparty_name="丙公司"),
        purchase(substance="toluene"),
    ):
        assert create(firm, {**payload, "submit": True})["status"] == "submitted"


@pytest.mark.parametrize("grade", ["B", "C", "D", ""])
def test_smart_filing_is_for_a_grade_firms_only(firms, users, grade):
    issue(firms, users)
    _grade(firms["a"], grade)
    repeat = create(api_client(firms["user_a"]), {**purchase(quantity_kg="10"), "submit": True})
    assert repeat["status"] == "submitted" and not repeat["auto_approved"]
    record = AuditRecord.objects.get(object_id=str(repeat["id"]), detail__transition="submit")
    assert record.detail["smart_filing"] == {"eligible": False, "why": f"credit_grade_{grade or 'none'}"}


def test_smart_filing_never_applies_to_licences_revoked_or_old_filings(firms, users):
    _grade(firms["a"], "A")
    firm = api_client(firms["user_a"])
    licence = purchase(permit_type="purchase_licence", substance="p2p", quantity_kg="5")
    issue(firms, users, licence)
    assert create(firm, {**licence, "submit": True})["status"] == "submitted"
    # A revoked filing is no basis; nor is one issued more than 12 months ago.
    revoked = Permit.objects.get(pk=issue(firms, users)["permit_id"])
    permits.permit_revoke(actor=users["district_a"], permit=revoked, reason="违规转让")
    assert create(firm, {**purchase(), "submit": True})["status"] == "submitted"
    old = Permit.objects.get(pk=issue(firms, users)["permit_id"])
    Permit.objects.filter(pk=old.pk).update(valid_from=add_months(timezone.localdate(), -13))
    assert create(firm, {**purchase(), "submit": True})["status"] == "submitted"


# Attachments ----------------------------------------------------------------------------------------------


def test_attachments_are_checked_stored_encrypted_and_downloaded_with_an_audit(firms, users):
    firm = api_client(firms["user_a"])
    created = create(firm, purchase())
    url = f"{APPS}/{created['id']}/attachments"
    for kind, name, data, content_type, field in (
        ("contract", "x.pdf", PNG, "application/pdf", "file"),  # declared PDF, is a PNG
        ("contract", "x.exe", b"MZ\x90\x00", "application/octet-stream", "file"),
        ("contract", "x.pdf", b"", "application/pdf", "file"),
        ("passport", "x.pdf", PDF, "application/pdf", "kind"),
    ):
        body = assert_error_shape(
            firm.post(url, {"kind": kind, "file": _upload(name, data, content_type)}), 400
        )
        assert field in body["error"]["fields"]
    big = PDF + b"0" * MAX_UPLOAD_BYTES
    assert_error_shape(
        firm.post(url, {"kind": "other", "file": _upload("big.pdf", big, "application/pdf")}), 400
    )

    added = firm.post(
        url, {"kind": "business_licence", "file": _upload("../执照.png", PNG, "image/png")}
    ).json()
    assert added["file_name"] == "执照.png" and added["size"] == len(PNG)
    raw = PermitApplication.objects.get(pk=created["id"]).attachments.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM precursors_applicationattachment WHERE id = %s", [raw.pk])
        assert cursor.fetchone()[0].startswith("sm4gcm:")
    content_url = f"{url}/{added['id']}/content"
    office = api_client(users["district_a"])
    # Officials read a submitted application's attachments; drafts stay the firm's.
    assert_error_shape(office.get(content_url), 404)
    act(firm, created["id"], "submit")
    for client, username in ((firm, "t_enterprise"), (office, "t_district_a")):
        response = client.get(content_url)
        assert response.status_code == 200 and response.content == PNG
        assert AuditRecord.objects.filter(
            action="EXPORT", object_id=str(added["id"]), actor_username=username
        ).exists()
    for user in (firms["user_b"], users["district_b"]):
        assert_error_shape(api_client(user).get(content_url), 404)
    assert_error_shape(Client().get(content_url), 401)
    # After the decision, nothing more is attached; officials never attach.
    assert_error_shape(
        office.post(url, {"kind": "other", "file": _upload("a.pdf", PDF, "application/pdf")}), 404
    )
    act(office, created["id"], "accept")
    act(office, created["id"], "approve")
    body = assert_error_shape(
        firm.post(url, {"kind": "other", "file": _upload("a.pdf", PDF, "application/pdf")}), 400
    )
    assert body["error"]["code"] == "invalid_transition"


def test_a_tampered_certificate_fails_its_digest_check_and_says_so(firms, users):
    permit = Permit.objects.get(pk=issue(firms, users)["permit_id"])
    Permit.objects.filter(pk=permit.pk).update(certificate=base64.b64encode(PDF).decode("ascii"))
    response = api_client(firms["user_a"]).get(f"{PERMITS}/{permit.pk}/certificate")
    assert_error_shape(response, 500, "content_corrupt")
    failure = AuditRecord.objects.filter(action="EXPORT", object_id=str(permit.pk)).latest("sequence")
    assert failure.result == "failure" and failure.detail["problem"] == "digest_mismatch"
    with connection.cursor() as cursor:
        cursor.execute("SELECT certificate FROM precursors_permit WHERE id = %s", [permit.pk])
        raw = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE precursors_permit SET certificate = %s WHERE id = %s", [raw[:-8] + "AAAAAAAA", permit.pk]
        )
    assert_error_shape(api_client(users["district_a"]).get(f"{PERMITS}/{permit.pk}/certificate"), 500)
    failure = AuditRecord.objects.filter(action="EXPORT", object_id=str(permit.pk)).latest("sequence")
    assert failure.result == "failure" and failure.detail["problem"] == "undecryptable"
    assert not AuditRecord.objects.filter(
        action="EXPORT", object_id=str(permit.pk), result="success"
    ).exists()


# Authorization matrix and lists ---------------------------------------------------------------------------


def test_application_and_permit_matrix(firms, users):
    approved = issue(firms, users)
    allowed = [firms["user_a"], users["district_a"], users["city"], users["police_a"]]
    denied = [firms["user_b"], users["district_b"], users["street_a"], users["sysadmin"], users["auditadmin"]]
    assert_api_matrix(
        list_url=APPS, detail_url=f"{APPS}/{approved['id']}", marker=FIRM_A, allowed=allowed, denied=denied
    )
    assert_api_matrix(
        list_url=PERMITS,
        detail_url=f"{PERMITS}/{approved['permit_id']}",
        marker=FIRM_A,
        allowed=allowed,
        denied=denied,
    )
    certificate = f"{PERMITS}/{approved['permit_id']}/certificate"
    assert_error_shape(Client().get(certificate), 401)
    for user in denied:
        assert_error_shape(api_client(user).get(certificate), 404)
    for user in allowed:
        assert api_client(user).get(certificate).content.startswith(b"%PDF-")


def test_revoking_a_permit_is_for_the_district_and_shows_in_verification(firms, users):
    approved = issue(firms, users)
    url = f"{PERMITS}/{approved['permit_id']}/revoke"
    for user in (firms["user_a"], users["district_b"]):
        assert_error_shape(post(api_client(user), url, {"reason": "违规转让证明"}), 404)
    assert_error_shape(post(api_client(users["district_a"]), url, {"reason": ""}), 400)
    revoked = post(api_client(users["district_a"]), url, {"reason": "违规转让证明"}).json()
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == "违规转让证明"
    assert_error_shape(
        post(api_client(users["district_a"]), url, {"reason": "再次撤销"}), 400, "invalid_transition"
    )
    permit = Permit.objects.get(pk=approved["permit_id"])
    page = Client().get(f"/precursors/verify/{permit.verification_token}/")
    assert 'data-status="revoked"' in page.content.decode()


def test_expired_permits_read_as_expired(firms, users):
    approved = issue(firms, users)
    Permit.objects.filter(pk=approved["permit_id"]).update(
        valid_until=timezone.localdate() - dt.timedelta(days=1)
    )
    assert api_client(firms["user_a"]).get(f"{PERMITS}/{approved['permit_id']}").json()["status"] == "expired"


def test_lists_page_with_a_constant_number_of_queries(firms, users):
    firm = api_client(firms["user_a"])
    office = api_client(users["district_a"])

    def counts() -> tuple[int, int, int]:
        out = []
        for client, url in ((firm, APPS), (office, APPS + "?pending=true"), (office, PERMITS)):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            assert response.status_code == 200
            out.append(len(queries.captured_queries))
        return out[0], out[1], out[2]

    def batch(n: int) -> None:
        for _ in range(n):
            created = create(firm, {**purchase(quantity_kg="3"), "submit": True})
            firm.post(
                f"{APPS}/{created['id']}/attachments",
                {"kind": "contract", "file": _upload("c.pdf", PDF, "application/pdf")},
            )
        issue(firms, users)

    batch(2)
    counts()  # the first request of each token records its use
    small = counts()
    batch(8)
    large = counts()
    assert small == large, (small, large)
    assert max(large) <= 12, large
    listed = office.get(APPS + "?pending=true&page_size=5").json()
    assert listed["count"] == 10 and len(listed["items"]) == 5 and listed["page_size"] == 5
    assert all(item["sla"] == "on_time" for item in listed["items"])
    assert firm.get(APPS + "?status=approved").json()["count"] == 2
    assert_error_shape(firm.get(APPS + "?status=nonsense"), 400)


# Caps used up by ledger events ----------------------------------------------------------------------------


def receiving(
    number: str, kg: int, when: str = "2026-03-05T09:00:00+08:00", cls: str = ACETONE, **extra
) -> dict:
    return {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "eventTime": when,
        "eventTimeZoneOffset": "+08:00",
        "bizStep": "receiving",
        "quantityList": [{"epcClass": cls, "quantity": kg, "uom": "KGM"}],
        "bizTransactionList": [
            {"type": "jd:BTT-purchaseFiling", "bizTransaction": f"urn:jindu:permit:{number}"}
        ],
        **extra,
    }


def capture(user, firm_uscc: str, events: list[dict]) -> list[list[str]]:
    from jindu.precursors.models import EpcisEvent

    response = api_client(user).post(
        CAPTURE, data=json.dumps(ledger_document(firm_uscc, events)), content_type="application/ld+json"
    )
    assert response.status_code == 202, response.content
    stored = EpcisEvent.objects.filter(capture_id=response.json()["captureID"]).order_by("event_time", "id")
    return [
        [w["code"] for w in event.warnings if "permit" in w["code"] or w["code"] == "over_cap"]
        for event in stored
    ]


@pytest.fixture
def filing(firms, users) -> Permit:
    """Firm A's purchase filing for 500 kg of acetone from firm B, valid from 1 March 2026 for 3 months."""
    permit = Permit.objects.get(pk=issue(firms, users)["permit_id"])
    Permit.objects.filter(pk=permit.pk).update(
        valid_from=dt.date(2026, 3, 1), valid_until=dt.date(2026, 6, 1)
    )
    permit.refresh_from_db()
    return permit


def test_the_holders_receipts_use_up_the_cap_and_excess_is_a_warning(firms, filing):
    assert capture(firms["user_a"], FIRM_A, [receiving(filing.number, 300)]) == [[]]
    filing.refresh_from_db()
    assert (filing.consumed_kg, filing.uses, filing.status) == (Decimal("300"), 1, PermitStatus.VALID)
    # 250 kg more than the 200 left: captured all the same, with an over_cap warning; the cap is used up.
    assert capture(firms["user_a"], FIRM_A, [receiving(filing.number, 250, "2026-03-09T09:00:00+08:00")]) == [
        ["over_cap"]
    ]
    filing.refresh_from_db()
    assert (filing.consumed_kg, filing.uses, filing.status) == (Decimal("550"), 2, PermitStatus.USED_UP)
    # A resent event is a duplicate: nothing more is used.
    capture(firms["user_a"], FIRM_A, [receiving(filing.number, 250, "2026-03-09T09:00:00+08:00")])
    filing.refresh_from_db()
    assert filing.consumed_kg == Decimal("550")
    record = AuditRecord.objects.filter(object_type="precursors.permit", object_id=str(filing.pk)).latest(
        "sequence"
    )
    assert record.detail["consumed_kg"] == "550.000000" and record.detail["uses"] == 2


def test_permit_problems_are_warnings_on_the_events(firms, users, filing):
    registered = enterprise_register(actor=None, uscc=FIRM_C, name="丙化工", org_unit_code="330203")
    user_c = make_user("t_enterprise_c", Role.ENTERPRISE, "330203", enterprise_code=registered.uscc)
    warnings = capture(
        firms["user_a"],
        FIRM_A,
        [
            receiving("GMB-330203-2026-999999", 10, "2026-03-02T09:00:00+08:00"),
            receiving(filing.number, 10, "2026-06-02T09:00:00+08:00"),  # the day after its last day
            receiving(filing.number, 10, "2026-02-27T09:00:00+08:00"),  # before it was valid
            receiving(filing.number, 10, "2026-03-03T09:00:00+08:00", cls=TOLUENE),  # another substance
        ],
    )
    assert warnings == [
        ["permit_not_yet_valid"],
        ["unknown_permit"],
        ["permit_substance_mismatch"],
        ["expired_permit"],
    ]
    # The seller (the permit's counterparty) ships against it: checked, not used up (the buyer's receipt counts).
    shipping = receiving(filing.number, 100, "2026-03-04T09:00:00+08:00", bizStep="shipping")
    assert capture(firms["user_b"], FIRM_B, [shipping]) == [[]]
    # A firm the permit does not name.
    assert capture(user_c, FIRM_C, [receiving(filing.number, 10)]) == [["permit_other_firm"]]
    filing.refresh_from_db()
    # The expired and not-yet-valid receipts of the holder still moved goods: they count (with their warnings).
    assert filing.consumed_kg == Decimal("20") and filing.uses == 2
    permits.permit_revoke(actor=users["district_a"], permit=filing, reason="违规转让证明")
    assert capture(firms["user_a"], FIRM_A, [receiving(filing.number, 5, "2026-03-10T09:00:00+08:00")]) == [
        ["permit_revoked"]
    ]


def test_a_single_use_licence_is_used_once(firms, users):
    permit = Permit.objects.get(
        pk=issue(firms, users, purchase(permit_type="purchase_licence", substance="p2p", quantity_kg="50"))[
            "permit_id"
        ]
    )
    Permit.objects.filter(pk=permit.pk).update(valid_from=dt.date(2026, 1, 1))
    p2p = "urn:jindu:class:103-79-7:L1"
    assert capture(firms["user_a"], FIRM_A, [receiving(permit.number, 20, cls=p2p)]) == [[]]
    permit.refresh_from_db()
    assert permit.status == PermitStatus.USED_UP and permit.uses == 1
    assert capture(
        firms["user_a"], FIRM_A, [receiving(permit.number, 20, "2026-03-06T09:00:00+08:00", cls=p2p)]
    ) == [["permit_already_used"]]


def test_events_that_change_no_stock_are_checked_but_use_nothing(firms, filing):
    transaction_event = {
        "type": "TransactionEvent",
        "action": "ADD",
        "eventTime": "2026-03-05T09:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "urn:jindu:po:1"},
            {"type": "jd:BTT-purchaseFiling", "bizTransaction": f"urn:jindu:permit:{filing.number}"},
        ],
        "quantityList": [{"epcClass": ACETONE, "quantity": 400, "uom": "KGM"}],
    }
    assert capture(firms["user_a"], FIRM_A, [transaction_event]) == [[]]
    filing.refresh_from_db()
    assert filing.consumed_kg == 0 and filing.uses == 0


def test_a_capture_naming_no_permit_does_not_query_permits(firms):
    with CaptureQueriesContext(connection) as queries:
        capture(
            firms["user_a"],
            FIRM_A,
            [
                receiving("x", 1)
                | {"bizTransactionList": [{"type": "po", "bizTransaction": "urn:jindu:po:9"}]}
            ],
        )
    assert not [q for q in queries.captured_queries if "precursors_permit" in q["sql"]]


# Every permit type the law has: the whole workflow, and the validity its rule gives ---------------------

# (permit type, category, 药品类): one substance of that kind from the shipped catalogue.
SUBSTANCE_OF = {
    (1, False): "piperonal",
    (1, True): "ephedrines",
    (2, False): "acetic-anhydride",
    (3, False): "acetone",
}


def _combinations() -> list[tuple[str, int, bool]]:
    from jindu.precursors.permit_rules import DEFAULT_PERMIT_RULES

    return [
        (rule["permit_type"], rule["category"], bool(rule.get("drug_class")))
        for rule in DEFAULT_PERMIT_RULES["rules"]
    ]


@pytest.mark.parametrize(("permit_type", "category", "drug_class"), _combinations())
def test_every_permit_type_goes_through_the_workflow_with_its_validity(
    firms, users, permit_type, category, drug_class
):
    from jindu.precursors.permit_rules import DEFAULT_PERMIT_RULES, rule_for, validity

    substance = SUBSTANCE_OF[(category, drug_class)]
    payload = (
        transport(permit_type=permit_type, substance=substance)
        if permit_type.startswith("transport")
        else purchase(permit_type=permit_type, substance=substance)
    )
    approved = issue(firms, users, payload)
    permit = Permit.objects.get(pk=approved["permit_id"])
    expected = validity(
        rule_for(DEFAULT_PERMIT_RULES, permit_type, category, drug_class), timezone.localdate()
    )
    assert (permit.valid_from, permit.valid_until, permit.single_use) == (
        expected.valid_from,
        expected.valid_until,
        expected.single_use,
    )
    assert permit.quantity_cap_kg == Decimal(payload["quantity_kg"])
    assert approved["status"] == "approved" and permit.certificate_digest
