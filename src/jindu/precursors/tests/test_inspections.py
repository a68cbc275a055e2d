"""Inspections, rectification and penalties: the shipped configuration and its checks, the discretion table,
planning from the credit rating, 排查 campaigns over a park, recording results, photos, the rectification cycle,
penalty cases, the credit facts, the API with its authorization matrix and paged lists."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from jindu.core.models import AuditRecord, PolicyVersion
from jindu.core.policy import policy_publish
from jindu.core.testing.helpers import api_client, assert_api_matrix, assert_error_shape
from jindu.precursors import inspections as svc
from jindu.precursors.conftest import FIRM_A, uscc
from jindu.precursors.credit import DEFAULT_CREDIT_SCHEME, score_enterprise
from jindu.precursors.models import CreditRating, Enterprise, IndustrialPark
from jindu.precursors.models.inspections import (
    EvidenceFile,
    Finding,
    Inspection,
    InspectionStatus,
    RectificationOrder,
)
from jindu.precursors.rating import rate_enterprises
from jindu.precursors.services import enterprise_register

pytestmark = pytest.mark.django_db

API = "/api/v1/precursors"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
ITEMS = [item["key"] for item in svc.DEFAULT_CHECKLIST["items"]]


@pytest.fixture(autouse=True)
def _policies(db: Any) -> None:
    svc.install_default_inspection_policies()


def post(client: Client, url: str, payload: Any = None) -> Any:
    return client.post(url, data=json.dumps(payload or {}), content_type="application/json")


def all_pass(**overrides: str) -> dict[str, str]:
    return {**{key: "pass" for key in ITEMS}, **overrides}


def today() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()


def planned(firm: Enterprise, **kw: Any) -> Inspection:
    return Inspection.objects.create(
        enterprise=firm,
        org_unit_id=firm.org_unit_id,
        kind=kw.pop("kind", "follow_up"),
        planned_on=today(),
        **kw,
    )


def inspected(firms: dict[str, Any], users: dict[str, Any], **results: str) -> Inspection:
    """An inspection of firm A, recorded with the given failures."""
    return svc.inspection_record(
        actor=users["district_a"], inspection=planned(firms["a"]), results=all_pass(**results)
    )


# Configuration -------------------------------------------------------------------------------------------


def test_defaults_are_installed_by_the_migration_and_valid():
    checklist = PolicyVersion.objects.get(kind=svc.CHECKLIST_POLICY, region=None, is_default=True)
    discretion = PolicyVersion.objects.get(kind=svc.DISCRETION_POLICY, region=None, is_default=True)
    assert svc.validate_checklist(checklist.payload) == []
    assert svc.validate_discretion(discretion.payload) == []
    areas = {item["area"] for item in checklist.payload["items"]}
    assert areas == set(svc.AREAS)
    assert {"dual_lock", "video_surveillance", "ledger_kept_two_years", "no_cash_trade"} <= set(ITEMS)
    # Citations from memory are marked unverified.
    assert all(basis["verified"] is False for basis in discretion.payload["bases"])


def test_checks_name_the_problems_of_a_bad_payload():
    bad = {"items": [{"key": "a", "area": "roof", "severity": "huge", "label_zh": "x"}, {"key": "a"}]}
    problems = " ".join(svc.validate_checklist(bad))
    assert "area must be one of" in problems and "severity" in problems and "duplicate key 'a'" in problems
    assert svc.validate_checklist({}) == ["items must be a non-empty list."]
    bad_bands = {
        "bases": [
            {
                "key": "x",
                "label_zh": "x",
                "label_en": "x",
                "citation": "c",
                "verified": True,
                "amount": "illegal_gain",
                "rule": {"type": "bands", "bands": [{"up_to": "5", "min": "2", "max": "1"}, {"up_to": "9"}]},
            }
        ]
    }
    problems = " ".join(svc.validate_discretion(bad_bands))
    assert "band 0 needs 0 ≤ min ≤ max" in problems and "last band has up_to null" in problems


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", ("10000.00", "10000.00")),  # 20 × 100 = 2,000 < 10,000: the fine is ¥10,000
        ("499.99", ("10000.00", "10000.00")),
        ("500", ("5000.00", "10000.00")),  # 20 × 500 = 10,000 is not lower: 10–20 × value
        ("800", ("8000.00", "16000.00")),
        ("3150", ("31500.00", "63000.00")),
    ],
)
def test_unlicensed_activity_fines_ten_to_twenty_times_the_value_at_least_ten_thousand(value, expected):
    basis = svc.DEFAULT_DISCRETION["bases"][0]
    assert svc.fine_range(basis, Decimal(value)) == tuple(Decimal(v) for v in expected)


@pytest.mark.parametrize(
    ("gain", "expected"),
    [
        ("0", (10000, 20000)),
        ("0.01", (20000, 30000)),
        ("5000", (20000, 30000)),
        ("5000.01", (30000, 40000)),
        ("10000", (30000, 40000)),
        ("10000.01", (40000, 50000)),
        ("1000000", (40000, 50000)),
    ],
)
def test_article_30_fines_are_graded_by_the_illegal_gain(gain, expected):
    basis = svc.DEFAULT_DISCRETION["bases"][1]
    assert svc.fine_range(basis, Decimal(gain)) == (Decimal(expected[0]), Decimal(expected[1]))


# Planning ---------------------------------------------------------------------------------------------------


def test_plan_follows_the_latest_rating_idempotently_and_cancels_dropped_dates(firms, users):
    firm = firms["a"]
    with pytest.raises(svc.ServiceError) as refused:
        svc.inspection_plan_from_rating(actor=users["district_a"], enterprise=firm)
    assert refused.value.code == "not_rated"
    next_year = today().year + 1
    rate_enterprises(
        as_of=dt.date(next_year, 1, 5), enterprise_ids=[firm.pk]
    )  # no facts: grade A, once a year
    first = svc.inspection_plan_from_rating(actor=users["district_a"], enterprise=firm)
    assert [i.planned_on for i in first] == [dt.date(next_year, 7, 2)]
    again = svc.inspection_plan_from_rating(actor=users["district_a"], enterprise=firm)
    assert [i.pk for i in again] == [i.pk for i in first]
    assert Inspection.objects.filter(enterprise=firm).count() == 1
    # The grade falls to C (quarterly): four dates; the A date is not among them and is cancelled.
    rating = CreditRating.objects.get(enterprise=firm)
    rating.pk = None
    rating.as_of, rating.grade = dt.date(next_year, 2, 1), "C"
    rating.inspection_plan = [
        f"{next_year}-02-15",
        f"{next_year}-05-16",
        f"{next_year}-08-15",
        f"{next_year}-11-15",
    ]
    rating.save()
    plan = svc.inspection_plan_from_rating(actor=users["district_a"], enterprise=firm)
    assert len(plan) == 4 and all(i.status == InspectionStatus.PLANNED for i in plan)
    assert Inspection.objects.get(pk=first[0].pk).status == InspectionStatus.CANCELLED
    assert AuditRecord.objects.filter(object_type="precursors.enterprise", detail__grade="C").exists()
    # Other districts and firm users cannot plan.
    for user in (users["district_b"], firms["user_a"]):
        with pytest.raises(svc.NotFound):
            svc.inspection_plan_from_rating(actor=user, enterprise=firm)


def test_plan_api(firms, users):
    rate_enterprises(as_of=today(), enterprise_ids=[firms["a"].pk])
    url = f"{API}/enterprises/{firms['a'].pk}/inspection-plan"
    assert_error_shape(Client().post(url), 401)
    for user in (users["district_b"], firms["user_a"], firms["user_b"], users["worker_a"]):
        assert_error_shape(post(api_client(user), url), 404)
    response = post(api_client(users["district_a"]), url)
    assert response.status_code == 201, response.content
    assert [row["kind"] for row in response.json()] == ["routine"]


def test_a_campaign_plans_one_inspection_per_active_firm_of_the_park(firms, users, tree):
    park = IndustrialPark.objects.create(code="wangchun", name="望春工业园区", org_unit=tree["district_a"])
    Enterprise.objects.filter(pk=firms["a"].pk).update(park=park)
    enterprise_register(
        actor=users["district_a"],
        uscc=uscc("91330203MA2C00001"),
        name="丙",
        org_unit_code="330203",
        park_code="wangchun",
    )
    closed = enterprise_register(
        actor=users["district_a"],
        uscc=uscc("91330203MA2C00002"),
        name="丁",
        org_unit_code="330203",
        park_code="wangchun",
    )
    Enterprise.objects.filter(pk=closed.pk).update(status="closed")
    payload = {"park": "wangchun", "name": "2026年望春园区排查", "planned_on": str(today())}
    assert_error_shape(post(Client(), f"{API}/campaigns", payload), 401)
    for user in (users["district_b"], firms["user_a"], users["worker_a"]):
        assert_error_shape(post(api_client(user), f"{API}/campaigns", payload), 404)
    bad = post(
        api_client(users["district_a"]),
        f"{API}/campaigns",
        {**payload, "name": " ", "planned_on": "2020-01-01"},
    )
    body = assert_error_shape(bad, 400, "invalid")
    assert set(body["error"]["fields"]) == {"name", "planned_on"}
    response = post(api_client(users["district_a"]), f"{API}/campaigns", payload)
    assert response.status_code == 201, response.content
    created = Inspection.objects.filter(pk__in=response.json()["inspections"])
    assert created.count() == 2 and {i.kind for i in created} == {"campaign"}
    assert closed.pk not in {i.enterprise_id for i in created}


# Results and findings ---------------------------------------------------------------------------------------


def test_recording_results_makes_findings_of_failed_items(firms, users):
    inspection = planned(firms["a"])
    url = f"{API}/inspections/{inspection.pk}/results"
    office = api_client(users["district_a"])
    results = all_pass(dual_lock="fail", packaging_labels="fail", yearly_training="na")
    response = post(office, url, {"results": results, "descriptions": {"dual_lock": "仓库仅一把锁"}})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "done" and body["done_on"] == str(today()) and body["checklist_version"]
    findings = {f["item_key"]: f for f in body["findings"]}
    assert set(findings) == {"dual_lock", "packaging_labels"}
    assert (
        findings["dual_lock"]["description"] == "仓库仅一把锁"
        and findings["dual_lock"]["severity"] == "major"
    )
    assert findings["packaging_labels"]["area"] == "packaging"
    # Twice: refused with a clear message.
    assert_error_shape(post(office, url, {"results": results}), 400, "invalid_transition")


def test_unknown_missing_or_bad_items_are_400_naming_them(firms, users):
    inspection = planned(firms["a"])
    url = f"{API}/inspections/{inspection.pk}/results"
    results = all_pass(dual_lock="maybe", roof="pass")
    del results["anti_theft"]
    body = assert_error_shape(
        post(api_client(users["district_a"]), url, {"results": results}), 400, "invalid"
    )
    assert set(body["error"]["fields"]) == {"results.dual_lock", "results.roof", "results.anti_theft"}
    future = str(today() + dt.timedelta(days=1))
    body = assert_error_shape(
        post(api_client(users["district_a"]), url, {"results": all_pass(), "done_on": future}), 400
    )
    assert "done_on" in body["error"]["fields"]
    assert Inspection.objects.get(pk=inspection.pk).status == "planned" and not Finding.objects.exists()


def test_a_regional_checklist_applies_to_its_district(firms, users, tree):
    payload = {"items": [svc.DEFAULT_CHECKLIST["items"][0]]}
    policy_publish(
        actor=None,
        kind=svc.CHECKLIST_POLICY,
        region=tree["district_a"],
        effective_from=dt.date(2026, 1, 1),
        label="海曙区",
        payload=payload,
    )
    done = svc.inspection_record(
        actor=users["district_a"], inspection=planned(firms["a"]), results={"dual_lock": "pass"}
    )
    assert done.checklist.region_id == tree["district_a"].pk and done.results == {"dual_lock": "pass"}


def test_photos_are_checked_encrypted_and_downloaded_with_an_audit(firms, users):
    finding = inspected(firms, users, video_surveillance="fail").findings.get()
    url = f"{API}/findings/{finding.pk}/photos"
    office = api_client(users["district_a"])
    bad = office.post(url, {"file": SimpleUploadedFile("x.png", b"GIF89a", content_type="image/png")})
    assert "image/png" in assert_error_shape(bad, 400)["error"]["fields"]["file"]
    for user in (users["district_b"], firms["user_a"]):
        denied = api_client(user).post(
            url, {"file": SimpleUploadedFile("p.png", PNG, content_type="image/png")}
        )
        assert_error_shape(denied, 404)
    response = office.post(url, {"file": SimpleUploadedFile("../现场.png", PNG, content_type="image/png")})
    assert response.status_code == 201, response.content
    photo = response.json()
    assert photo["file_name"] == "现场.png" and photo["size"] == len(PNG)
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM precursors_evidencefile")
        assert cursor.fetchone()[0].startswith("sm4gcm:")
    download = f"{API}/evidence/{photo['id']}/content"
    assert_error_shape(Client().get(download), 401)
    assert_error_shape(api_client(users["district_b"]).get(download), 404)
    assert_error_shape(api_client(firms["user_b"]).get(download), 404)
    for user in (users["district_a"], firms["user_a"]):
        assert api_client(user).get(download).content == PNG
    assert AuditRecord.objects.filter(action="EXPORT", object_type="precursors.evidencefile").count() == 2


# Rectification --------------------------------------------------------------------------------------------


def order_for(
    firms: dict[str, Any], users: dict[str, Any], deadline: dt.date | None = None
) -> RectificationOrder:
    finding = inspected(firms, users, dual_lock="fail").findings.get()
    return svc.rectification_order(
        actor=users["district_a"], finding=finding, deadline=deadline or today() + dt.timedelta(days=10)
    )


def test_rectification_cycle_submit_reject_resubmit_accept(firms, users):
    finding = inspected(firms, users, dual_lock="fail").findings.get()
    office, firm = api_client(users["district_a"]), api_client(firms["user_a"])
    url = f"{API}/findings/{finding.pk}/rectification"
    past = assert_error_shape(post(office, url, {"deadline": "2020-01-01"}), 400)
    assert "deadline" in past["error"]["fields"]
    assert_error_shape(post(firm, url, {"deadline": str(today())}), 404)
    created = post(office, url, {"deadline": str(today() + dt.timedelta(days=7))})
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["status"] == "open" and order["overdue"] is False
    assert_error_shape(post(office, url, {"deadline": str(today())}), 400, "duplicate")
    submit = f"{API}/rectifications/{order['id']}/submit"
    verify = f"{API}/rectifications/{order['id']}/verify"
    # Nothing to submit; officials and other firms do not submit.
    assert "note" in assert_error_shape(firm.post(submit, {"note": "  "}), 400)["error"]["fields"]
    assert_error_shape(office.post(submit, {"note": "已整改"}), 403)
    assert_error_shape(api_client(firms["user_b"]).post(submit, {"note": "已整改"}), 404)
    assert_error_shape(post(office, verify, {"accept": True}), 400, "invalid_transition")
    first = firm.post(submit, {"note": "已加装第二把锁"})
    assert first.status_code == 200 and first.json()["status"] == "submitted"
    assert_error_shape(post(firm, verify, {"accept": True}), 404)
    assert "reason" in assert_error_shape(post(office, verify, {"accept": False}), 400)["error"]["fields"]
    rejected = post(office, verify, {"accept": False, "reason": "请提供照片"})
    assert rejected.json()["status"] == "open" and rejected.json()["rejection_reason"] == "请提供照片"
    second = firm.post(
        submit,
        {
            "note": "附照片",
            "files": [
                SimpleUploadedFile("lock.jpg", JPEG, content_type="image/jpeg"),
                SimpleUploadedFile("rules.pdf", PDF, content_type="application/pdf"),
            ],
        },
    )
    assert second.status_code == 200, second.content
    assert [e["file_name"] for e in second.json()["evidence"]] == ["lock.jpg", "rules.pdf"]
    accepted = post(office, verify, {"accept": True})
    assert accepted.json()["status"] == "closed" and accepted.json()["closed_on"] == str(today())
    assert (
        AuditRecord.objects.filter(object_type="precursors.rectificationorder").count() == 5
    )  # order, submit, reject, submit, accept


def test_a_bad_evidence_file_stores_nothing(firms, users):
    order = order_for(firms, users)
    response = api_client(firms["user_a"]).post(
        f"{API}/rectifications/{order.pk}/submit",
        {"note": "x", "files": [SimpleUploadedFile("a.pdf", b"not a pdf", content_type="application/pdf")]},
    )
    assert "files[0]" in assert_error_shape(response, 400)["error"]["fields"]
    assert RectificationOrder.objects.get(pk=order.pk).status == "open" and not EvidenceFile.objects.exists()


def test_overdue_is_not_closed_and_past_the_deadline(firms, users):
    order = order_for(firms, users)
    RectificationOrder.objects.filter(pk=order.pk).update(deadline=today() - dt.timedelta(days=1))
    order.refresh_from_db()
    assert order.is_overdue(today())
    listed = api_client(users["district_a"]).get(f"{API}/rectifications?overdue=true").json()
    assert [row["id"] for row in listed["items"]] == [order.pk] and listed["items"][0]["overdue"] is True
    assert svc.overdue_rectification_count(users["district_a"]) == 1
    assert svc.overdue_rectification_count(users["district_b"]) == 0
    inspection = api_client(users["district_a"]).get(f"{API}/inspections").json()["items"][0]
    assert inspection["overdue_rectifications"] == 1


# Penalties ------------------------------------------------------------------------------------------------


def test_penalty_range_from_the_discretion_table_and_the_decision_within_it(firms, users):
    office = api_client(users["district_a"])
    inspection = inspected(firms, users, within_scope="fail")
    bad = post(office, f"{API}/penalties", {"enterprise_id": firms["a"].pk, "basis": "nope"})
    assert "basis" in assert_error_shape(bad, 400)["error"]["fields"]
    no_amount = post(
        office, f"{API}/penalties", {"enterprise_id": firms["a"].pk, "basis": "beyond_licence_scope"}
    )
    assert "amount" in assert_error_shape(no_amount, 400)["error"]["fields"]
    for user in (users["district_b"], firms["user_a"], users["worker_a"]):
        denied = post(
            api_client(user),
            f"{API}/penalties",
            {"enterprise_id": firms["a"].pk, "basis": "management_duties"},
        )
        assert_error_shape(denied, 404)
    created = post(
        office,
        f"{API}/penalties",
        {
            "enterprise_id": firms["a"].pk,
            "basis": "beyond_licence_scope",
            "amount": "6000",
            "inspection_id": inspection.pk,
        },
    )
    assert created.status_code == 201, created.content
    case = created.json()
    assert (Decimal(case["fine_min"]), Decimal(case["fine_max"])) == (Decimal(30000), Decimal(40000))
    assert case["citation_verified"] is False and "第三十条" in case["citation"]
    decide = f"{API}/penalties/{case['id']}/decide"
    outside = assert_error_shape(post(office, decide, {"fine": "45000"}), 400)
    assert "30,000.00–40,000.00" in outside["error"]["fields"]["fine"]
    assert_error_shape(post(api_client(users["district_b"]), decide, {"fine": "35000"}), 404)
    decided = post(office, decide, {"fine": "35000"})
    assert decided.json()["status"] == "decided" and Decimal(decided.json()["decided_fine"]) == 35000
    assert_error_shape(post(office, decide, {"fine": "35000"}), 400, "invalid_transition")


def test_penalty_uses_the_discretion_version_of_the_firms_district(firms, users, tree):
    payload = json.loads(json.dumps(svc.DEFAULT_DISCRETION))
    payload["bases"][2]["rule"] = {"type": "range", "min": "5000", "max": "30000"}
    policy_publish(
        actor=None,
        kind=svc.DISCRETION_POLICY,
        region=tree["district_b"],
        effective_from=dt.date(2026, 1, 1),
        label="奉化区",
        payload=payload,
    )
    a = svc.penalty_open(actor=users["district_a"], enterprise=firms["a"], basis="management_duties")
    b = svc.penalty_open(actor=users["district_b"], enterprise=firms["b"], basis="management_duties")
    assert (a.fine_min, a.fine_max) == (Decimal(10000), Decimal(50000))
    assert (b.fine_min, b.fine_max) == (Decimal(5000), Decimal(30000)) and b.policy.region_id == tree[
        "district_b"
    ].pk


# Credit facts ---------------------------------------------------------------------------------------------


def test_credit_facts_of_inspections_rectifications_and_penalties(firms, users):
    firm_a, firm_b = firms["a"], firms["b"]
    storage = inspected(firms, users, dual_lock="fail", video_surveillance="fail", packaging_labels="fail")
    findings = {f.item_key: f for f in storage.findings.all()}
    late = svc.rectification_order(actor=users["district_a"], finding=findings["dual_lock"], deadline=today())
    still_open = svc.rectification_order(
        actor=users["district_a"], finding=findings["video_surveillance"], deadline=today()
    )
    on_time = svc.rectification_order(
        actor=users["district_a"], finding=findings["packaging_labels"], deadline=today()
    )
    svc.rectification_submit(actor=firms["user_a"], order=late, note="done")
    svc.rectification_verify(actor=users["district_a"], order=late, accept=True)
    svc.rectification_submit(actor=firms["user_a"], order=on_time, note="done")
    svc.rectification_verify(actor=users["district_a"], order=on_time, accept=True)
    # The first was in fact closed three days after its deadline; the second is still open past it.
    deadline = today() - dt.timedelta(days=10)
    RectificationOrder.objects.filter(pk=late.pk).update(
        deadline=deadline, closed_on=deadline + dt.timedelta(days=3)
    )
    RectificationOrder.objects.filter(pk=still_open.pk).update(deadline=deadline)
    minor = svc.penalty_open(actor=users["district_a"], enterprise=firm_a, basis="management_duties")
    svc.penalty_decide(actor=users["district_a"], case=minor, fine="20000")
    major = svc.penalty_open(
        actor=users["district_a"], enterprise=firm_a, basis="beyond_licence_scope", amount="0"
    )
    svc.penalty_decide(actor=users["district_a"], case=major, fine="15000")
    svc.penalty_open(actor=users["district_a"], enterprise=firm_a, basis="management_duties")  # open: no fact
    refused = svc.inspection_refuse(actor=users["district_b"], inspection=planned(firm_b), reason="拒绝开门")

    facts = svc.inspection_credit_facts([firm_a.pk, firm_b.pk], today())
    kinds = sorted((f.kind, f.evidence) for f in facts[firm_a.pk])
    assert kinds == sorted(
        [
            ("storage_item_failed", f"inspection:{storage.pk}"),
            ("storage_item_failed", f"inspection:{storage.pk}"),
            ("finding_closed_late", f"rectification:{late.pk}"),
            ("finding_closed_late", f"rectification:{still_open.pk}"),
            ("penalty_minor", f"penalty:{minor.pk}"),
            ("penalty_minor", f"penalty:{major.pk}"),
        ]
    )
    dates = {f.evidence: f.date for f in facts[firm_a.pk] if f.kind == "finding_closed_late"}
    assert dates == {
        f"rectification:{late.pk}": deadline + dt.timedelta(days=3),
        f"rectification:{still_open.pk}": deadline + dt.timedelta(days=1),
    }
    assert [(f.kind, f.evidence) for f in facts[firm_b.pk]] == [
        ("refused_inspection", f"inspection:{refused.pk}")
    ]
    # Facts after as_of are not read; every fact is a kind of the default scheme.
    assert svc.inspection_credit_facts([firm_a.pk], today() - dt.timedelta(days=30)) == {}
    score = score_enterprise(facts[firm_b.pk], DEFAULT_CREDIT_SCHEME, today())
    assert score.grade == "D" and score.veto_reasons[0].veto_key == "refused_inspection"
    assert score_enterprise(facts[firm_a.pk], DEFAULT_CREDIT_SCHEME, today()).score < 100


def test_a_fine_above_twenty_thousand_is_a_major_penalty(firms, users):
    case = svc.penalty_open(actor=users["district_a"], enterprise=firms["a"], basis="management_duties")
    svc.penalty_decide(actor=users["district_a"], case=case, fine="20000.01")
    assert [f.kind for f in svc.inspection_credit_facts([firms["a"].pk], today())[firms["a"].pk]] == [
        "penalty_major"
    ]


# Authorization matrix and lists ---------------------------------------------------------------------------


def test_read_matrix_of_inspections_rectifications_and_penalties(firms, users):
    order = order_for(firms, users)
    case = svc.penalty_open(actor=users["district_a"], enterprise=firms["a"], basis="management_duties")
    allowed = [firms["user_a"], users["district_a"], users["city"], users["police_a"]]
    denied = [firms["user_b"], users["district_b"], users["worker_a"], users["street_a"], users["sysadmin"]]
    inspection_id = order.finding.inspection_id
    for list_url, detail_url in (
        (f"{API}/inspections", f"{API}/inspections/{inspection_id}"),
        (f"{API}/rectifications", f"{API}/rectifications/{order.pk}"),
        (f"{API}/penalties", f"{API}/penalties/{case.pk}"),
    ):
        assert_api_matrix(
            list_url=list_url, detail_url=detail_url, marker=FIRM_A, allowed=allowed, denied=denied
        )
    # A firm's users read; they do not record, order, verify or decide.
    firm = api_client(firms["user_a"])
    assert_error_shape(post(firm, f"{API}/inspections/{inspection_id}/results", {"results": all_pass()}), 404)
    assert_error_shape(post(firm, f"{API}/inspections/{inspection_id}/refuse", {"reason": "x"}), 404)
    assert_error_shape(post(firm, f"{API}/penalties/{case.pk}/decide", {"fine": "10000"}), 404)
    # The police of district A may search the whole city but write in district A only.
    assert_error_shape(
        post(
            api_client(users["police_a"]),
            f"{API}/enterprises/{firms['b'].pk}/inspections",
            {"planned_on": str(today())},
        ),
        404,
    )


def test_lists_page_with_a_bounded_number_of_queries(firms, users, django_assert_max_num_queries):
    office, firm = api_client(users["district_a"]), api_client(firms["user_a"])
    for _ in range(3):
        order_for(firms, users)
        svc.penalty_open(actor=users["district_a"], enterprise=firms["a"], basis="management_duties")
    for client in (office, firm):
        for url in (f"{API}/inspections", f"{API}/rectifications", f"{API}/penalties"):
            with django_assert_max_num_queries(8):
                response = client.get(url + "?page_size=2")
            assert response.status_code == 200 and response.json()["count"] == 3, (url, response.content)
            assert len(response.json()["items"]) == 2


def test_schedule_a_follow_up_and_refuse(firms, users):
    office = api_client(users["district_a"])
    url = f"{API}/enterprises/{firms['a'].pk}/inspections"
    assert_error_shape(post(office, url, {"planned_on": str(today()), "kind": "campaign"}), 400)
    created = post(office, url, {"planned_on": str(today()), "kind": "routine"})
    assert created.status_code == 201
    assert_error_shape(post(office, url, {"planned_on": str(today()), "kind": "routine"}), 400, "duplicate")
    refuse = f"{API}/inspections/{created.json()['id']}/refuse"
    assert "reason" in assert_error_shape(post(office, refuse, {}), 400)["error"]["fields"]
    assert post(office, refuse, {"reason": "企业拒绝检查"}).json()["status"] == "refused"
