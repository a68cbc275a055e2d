"""Pages of inspections: the officials' list with the overdue badge, recording the checklist on the inspection page,
photos, ordering and verifying rectification, penalty cases, the firm's rectification page with its evidence form,
and who may open what."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jindu.core.testing.helpers import assert_ui_matrix, ui_client
from jindu.precursors import inspections as svc
from jindu.precursors.models.inspections import (
    EvidenceFile,
    Inspection,
    PenaltyCase,
    RectificationOrder,
)

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ITEMS = [item["key"] for item in svc.DEFAULT_CHECKLIST["items"]]


@pytest.fixture(autouse=True)
def _policies(db: Any) -> None:
    svc.install_default_inspection_policies()


def messages_of(response: Any) -> str:
    return " ".join(m.message for m in response.context["messages"]) if response.context else ""


def planned(firm: Any) -> Inspection:
    return Inspection.objects.create(
        enterprise=firm, org_unit_id=firm.org_unit_id, kind="routine", planned_on=timezone.localdate()
    )


def test_an_official_records_orders_verifies_and_penalises_from_the_pages(firms, users):
    inspection = planned(firms["a"])
    office = ui_client(users["district_a"])
    listing = office.get("/precursors/inspections/")
    assert listing.status_code == 200 and "甲化工有限公司" in listing.content.decode()
    page = office.get(f"/precursors/inspections/{inspection.pk}/").content.decode()
    assert 'data-testid="checklist-form"' in page and "双人双锁" in page
    # A missing item is refused with a message naming it; nothing is recorded.
    form = {f"item_{key}": "pass" for key in ITEMS[1:]}
    response = office.post(f"/precursors/inspections/{inspection.pk}/record/", form, follow=True)
    assert "results.dual_lock" in messages_of(response)
    assert Inspection.objects.get(pk=inspection.pk).status == "planned"
    form.update({"item_dual_lock": "fail", "desc_dual_lock": "仓库仅一把锁"})
    response = office.post(f"/precursors/inspections/{inspection.pk}/record/", form, follow=True)
    html = response.content.decode()
    assert 'data-status="done"' in html and "仓库仅一把锁" in html and 'data-testid="order-form"' in html
    finding = Inspection.objects.get(pk=inspection.pk).findings.get()
    office.post(
        f"/precursors/findings/{finding.pk}/photos/",
        {"file": SimpleUploadedFile("lock.png", PNG, content_type="image/png")},
    )
    assert EvidenceFile.objects.filter(finding=finding).count() == 1
    past = office.post(
        f"/precursors/findings/{finding.pk}/rectification/", {"deadline": "2020-01-01"}, follow=True
    )
    assert "deadline" in messages_of(past)
    office.post(
        f"/precursors/findings/{finding.pk}/rectification/",
        {"deadline": str(timezone.localdate() + dt.timedelta(days=5))},
    )
    order = RectificationOrder.objects.get(finding=finding)

    # The firm sees its open order and submits evidence there.
    firm = ui_client(firms["user_a"])
    assert firm.get("/precursors/inspections/")["Location"] == "/precursors/rectifications/"
    mine = firm.get("/precursors/rectifications/").content.decode()
    assert 'data-testid="evidence-form"' in mine and "仓库仅一把锁" in mine
    empty = firm.post(f"/precursors/rectifications/{order.pk}/submit/", {"note": ""}, follow=True)
    assert "note" in messages_of(empty)
    firm.post(
        f"/precursors/rectifications/{order.pk}/submit/",
        {"note": "已加装第二把锁", "files": [SimpleUploadedFile("new.png", PNG, content_type="image/png")]},
    )
    order.refresh_from_db()
    assert order.status == "submitted" and order.evidence.count() == 1
    # Another firm's user and another district cannot reach it.
    assert (
        ui_client(firms["user_b"])
        .post(f"/precursors/rectifications/{order.pk}/submit/", {"note": "x"})
        .status_code
        == 404
    )
    assert (
        ui_client(users["district_b"])
        .post(f"/precursors/rectifications/{order.pk}/verify/", {"decision": "accept"})
        .status_code
        == 404
    )

    detail = office.get(f"/precursors/inspections/{inspection.pk}/").content.decode()
    assert 'data-testid="verify-form"' in detail and "已加装第二把锁" in detail and "new.png" in detail
    office.post(f"/precursors/rectifications/{order.pk}/verify/", {"decision": "accept"})
    order.refresh_from_db()
    assert order.status == "closed"

    # Penalty: open from the inspection, a fine outside the range is refused with the range named.
    office.post(
        f"/precursors/inspections/{inspection.pk}/penalty/",
        {"basis": "beyond_licence_scope", "amount": "0", "facts": "标签不全"},
    )
    case = PenaltyCase.objects.get()
    outside = office.post(f"/precursors/penalties/{case.pk}/decide/", {"fine": "25000"}, follow=True)
    assert "10,000.00–20,000.00" in messages_of(outside)
    office.post(f"/precursors/penalties/{case.pk}/decide/", {"fine": "15000"})
    case.refresh_from_db()
    assert case.status == "decided"
    assert "条款未核对" in office.get("/precursors/penalties/").content.decode()  # citation unverified


def test_the_list_shows_the_overdue_badge(firms, users):
    done = svc.inspection_record(
        actor=users["district_a"],
        inspection=planned(firms["a"]),
        results={**{key: "pass" for key in ITEMS}, "anti_theft": "fail"},
    )
    order = svc.rectification_order(
        actor=users["district_a"], finding=done.findings.get(), deadline=timezone.localdate()
    )
    RectificationOrder.objects.filter(pk=order.pk).update(
        deadline=timezone.localdate() - dt.timedelta(days=2)
    )
    html = ui_client(users["district_a"]).get("/precursors/inspections/?status=done").content.decode()
    assert 'data-testid="overdue-badge"' in html
    assert (
        'data-testid="overdue-badge"'
        not in ui_client(users["district_b"]).get("/precursors/inspections/").content.decode()
    )
    firm_page = ui_client(firms["user_a"]).get("/precursors/rectifications/").content.decode()
    assert 'data-testid="overdue"' in firm_page


def test_a_refusal_is_recorded_from_the_page(firms, users):
    inspection = planned(firms["a"])
    ui_client(users["district_a"]).post(
        f"/precursors/inspections/{inspection.pk}/record/", {"refuse": "1", "reason": "拒绝开门"}
    )
    assert Inspection.objects.get(pk=inspection.pk).status == "refused"


def test_page_matrix(firms, users):
    inspection = planned(firms["a"])
    assert_ui_matrix(
        list_url="/precursors/inspections/?status=all",
        detail_url=f"/precursors/inspections/{inspection.pk}/",
        marker="甲化工有限公司",
        allowed=[users["district_a"], users["city"], users["police_a"]],
        denied=[users["district_b"], users["worker_a"]],
    )
    # The firm reads its own inspection without the forms; firm B does not reach it.
    own = ui_client(firms["user_a"]).get(f"/precursors/inspections/{inspection.pk}/")
    assert own.status_code == 200 and 'data-testid="checklist-form"' not in own.content.decode()
    assert ui_client(firms["user_b"]).get(f"/precursors/inspections/{inspection.pk}/").status_code == 404
    # Police of district A may read the city but not record in district B.
    other = planned(firms["b"])
    page = ui_client(users["police_a"]).get(f"/precursors/inspections/{other.pk}/").content.decode()
    assert 'data-testid="checklist-form"' not in page
    assert (
        ui_client(users["police_a"]).post(f"/precursors/inspections/{other.pk}/record/", {}).status_code
        == 404
    )


def test_pages_keep_a_bounded_number_of_queries(firms, users, django_assert_max_num_queries):
    for _ in range(4):
        done = svc.inspection_record(
            actor=users["district_a"],
            inspection=Inspection.objects.create(
                enterprise=firms["a"],
                org_unit_id=firms["a"].org_unit_id,
                kind="follow_up",
                planned_on=timezone.localdate(),
            ),
            results={**{key: "pass" for key in ITEMS}, "anti_theft": "fail", "dual_lock": "fail"},
        )
        for finding in done.findings.all():
            svc.rectification_order(actor=users["district_a"], finding=finding, deadline=timezone.localdate())
    office, firm = ui_client(users["district_a"]), ui_client(firms["user_a"])
    office.get("/precursors/inspections/")  # warm the session and the menu
    with django_assert_max_num_queries(20):
        assert office.get("/precursors/inspections/?status=all").status_code == 200
    with django_assert_max_num_queries(30):
        assert office.get(f"/precursors/inspections/{done.pk}/").status_code == 200
    firm.get("/precursors/rectifications/")
    with django_assert_max_num_queries(20):
        assert firm.get("/precursors/rectifications/").status_code == 200
