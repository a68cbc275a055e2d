"""Credit ratings from captured ledgers: facts, versioned scheme, vetoes, and who sees what."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from jindu.core.policy import policy_publish
from jindu.core.testing.helpers import api_client, assert_error_shape, ui_client
from jindu.precursors.conftest import FIRM_A, ledger_document
from jindu.precursors.credit import DEFAULT_CREDIT_SCHEME
from jindu.precursors.models import CreditRating, Enterprise
from jindu.precursors.rating import CREDIT_SCHEME, credit_facts, rate_enterprises
from jindu.precursors.tests.test_epcis_capture import CAPTURE, ledger_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(firms):
    events = ledger_events()
    events[1]["jd:paymentMethod"] = "cash"  # the shipment of 5 March was paid in cash
    response = api_client(firms["user_a"]).post(
        CAPTURE, data=json.dumps(ledger_document(FIRM_A, events)), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    rate_enterprises()
    return firms


def test_facts_come_from_the_ledger(rated):
    firms = rated
    facts = credit_facts([firms["a"].pk, firms["b"].pk], timezone.localdate())
    kinds = sorted(fact.kind for fact in facts[firms["a"].pk])
    # The March shipment was captured months later (category 3: due within 30 days): a late sales report;
    # March's balance broke 2σ (8 kg missing); the cash payment is a veto item.
    assert kinds == ["cash_trade", "late_sales_report", "muf_2sigma"]
    assert all(":" in fact.evidence for fact in facts[firms["a"].pk])
    assert facts[firms["b"].pk] == []


def test_ratings_scores_grades_and_the_firms_copy(rated):
    firms = rated
    a = CreditRating.objects.get(enterprise=firms["a"])
    b = CreditRating.objects.get(enterprise=firms["b"])
    # 100 − 1 (one late report) − 5 (one 2σ month) = 94, graded A by score, but the cash trade vetoes: D.
    assert (a.score, a.grade_by_score, a.grade) == (94, "A", "D")
    assert [veto["veto_key"] for veto in a.vetoes] == ["cash_trade"]
    assert {reason["rule_key"] for reason in a.reasons} == {"late_sales_report", "muf_2sigma"}
    assert a.supervision["inspections_per_year"] == 12 and len(a.inspection_plan) == 12
    assert (b.score, b.grade, len(b.inspection_plan)) == (100, "A", 1)
    assert Enterprise.objects.get(pk=firms["a"].pk).credit_grade == "D"
    assert Enterprise.objects.get(pk=firms["b"].pk).credit_score == 100


def test_a_district_scheme_of_its_own_takes_effect(rated, users):
    firms = rated
    stricter = json.loads(json.dumps(DEFAULT_CREDIT_SCHEME))
    for rule in stricter["deductions"]:
        if rule["key"] == "late_sales_report":
            rule["points"] = 4
    policy_publish(
        actor=None,
        kind=CREDIT_SCHEME,
        region=firms["a"].org_unit,
        effective_from=dt.date(2026, 1, 1),
        label="海曙区 2026",
        payload=stricter,
    )
    rate_enterprises(enterprise_ids=[firms["a"].pk, firms["b"].pk], trigger="manual")
    latest = CreditRating.objects.filter(enterprise=firms["a"]).latest("pk")
    assert latest.score == 91 and latest.scheme.label == "海曙区 2026"
    # The other district keeps the shipped scheme.
    assert CreditRating.objects.filter(enterprise=firms["b"]).latest("pk").scheme.is_default


def test_credit_api_and_page_matrix(rated, users):
    firms = rated
    url = f"/api/v1/precursors/enterprises/{firms['a'].pk}/credit"
    for user in (firms["user_a"], users["district_a"], users["city"]):
        body = api_client(user).get(url).json()
        assert body["grade"] == "D" and body["enterprise"] == FIRM_A and body["reasons"], user.username
    for user in (firms["user_b"], users["district_b"], users["worker_a"]):
        assert_error_shape(api_client(user).get(url), 404)
    assert_error_shape(api_client(None).get(url), 401)
    recompute = f"{url}/recompute"
    assert api_client(users["district_a"]).post(recompute).status_code == 201
    for user in (firms["user_a"], users["district_b"], users["worker_a"]):
        assert_error_shape(api_client(user).post(recompute), 404)
    page = ui_client(firms["user_a"]).get(f"/precursors/enterprises/{firms['a'].pk}/credit/").content.decode()
    assert (
        'data-testid="grade">D<' in page
        and 'data-rule="muf_2sigma"' in page
        and 'data-veto="cash_trade"' in page
    )
    assert (
        ui_client(users["district_b"]).get(f"/precursors/enterprises/{firms['a'].pk}/credit/").status_code
        == 404
    )


def test_the_monthly_task_rates_everyone_as_a_job(firms, django_capture_on_commit_callbacks):
    from jindu.core.models import Job
    from jindu.precursors.tasks import rate_everyone

    with django_capture_on_commit_callbacks(execute=True):
        rate_everyone()
    job = Job.objects.get(name="precursors_credit")
    assert job.status == "completed", job.log
    assert job.result == {"firms": 2} and CreditRating.objects.count() == 2


def test_inspection_facts_enter_the_rating(firms, users):
    from jindu.precursors.inspections import inspection_credit_facts, inspection_refuse, inspection_schedule

    inspection = inspection_schedule(
        actor=users["district_a"], enterprise=firms["a"], planned_on=timezone.localdate(), kind="routine"
    )
    inspection_refuse(
        actor=users["district_a"], inspection=inspection, done_on=timezone.localdate(), reason="gate shut"
    )
    assert [
        fact.kind for fact in inspection_credit_facts([firms["a"].pk], timezone.localdate())[firms["a"].pk]
    ] == ["refused_inspection"]
    rate_enterprises(enterprise_ids=[firms["a"].pk], trigger="manual")
    rating = CreditRating.objects.get(enterprise=firms["a"])
    assert rating.grade == "D" and [veto["veto_key"] for veto in rating.vetoes] == ["refused_inspection"]


def test_month_arithmetic_across_year_ends():
    from jindu.precursors.balances import month_start

    assert month_start(dt.date(2026, 11, 23), -12) == dt.date(2025, 11, 1)
    assert month_start(dt.date(2026, 1, 31), -1) == dt.date(2025, 12, 1)
    assert month_start(dt.date(2026, 12, 1), 1) == dt.date(2027, 1, 1)
    assert month_start(dt.date(2026, 3, 15), 14) == dt.date(2027, 5, 1)
