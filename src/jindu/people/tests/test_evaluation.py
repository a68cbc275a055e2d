"""The evaluation: derived schedules, 脱管, relapse, 戒断三年 and 无感化 — all with back-dated ``as_of``."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from jindu.core.models import AuditRecord, OrgUnit, PolicyVersion
from jindu.core.policy import policy_publish
from jindu.core.testing.helpers import api_client, assert_error_shape
from jindu.people import services
from jindu.people.evaluation import add_months, evaluate_person
from jindu.people.models import Alert, Enrollment, Person
from jindu.people.nightly import evaluation_run
from jindu.people.policies import CONTACT_POLICY, DEFAULT_CONTACT_POLICY
from jindu.people.tests.test_persons import valid_id

pytestmark = pytest.mark.django_db

COMMUNITY_A = "330203001001"
_serial = itertools.count(100)


def new_person(found: dt.date = dt.date(2020, 1, 1)) -> Person:
    return services.person_register(
        actor=None,
        id_number=valid_id(f"330203198{next(_serial) % 10}0101{next(_serial):03d}"),
        name=f"测试{next(_serial)}",
        residence_code=COMMUNITY_A,
        first_found_date=found,
    ).person


def supervised(
    users, measure: str = "community_treatment", decided: dt.date = dt.date(2022, 3, 1), **kwargs
) -> tuple[Person, Enrollment]:
    """A person under a measure: decided, reported 9 days later, agreement the same day."""
    person = new_person(kwargs.pop("found", decided - dt.timedelta(days=30)))
    enrollment = services.enrollment_create(
        actor=None, person=person, measure=measure, decision_date=decided, org_unit_code=COMMUNITY_A, **kwargs
    )
    reported = decided + dt.timedelta(days=9)
    services.enrollment_report(actor=None, enrollment=enrollment, date=reported)
    services.enrollment_sign_agreement(actor=None, enrollment=enrollment, date=reported)
    enrollment.refresh_from_db()
    return person, enrollment


def items(status, kind=None):
    return sorted(
        (item.kind, item.item, item.due_date) for item in status.items if kind is None or item.kind == kind
    )


def default_policy_id() -> int:
    return PolicyVersion.objects.get(kind=CONTACT_POLICY, region=None, is_default=True).pk


# Schedules --------------------------------------------------------------------------------------------


def test_default_schedule_of_community_treatment_with_grace(users):
    person, enrollment = supervised(users)  # reported 2022-03-10
    assert enrollment.term_end == dt.date(2025, 3, 10)
    before = evaluate_person(person, dt.date(2022, 4, 3))
    assert before.measure == "community_treatment" and before.phase == "year_1"
    schedule = {item.item: item for item in before.schedule}
    # Monthly urine test and monthly visit in year 1, counted from 报到; no hair test by default.
    assert schedule["urine"].due_date == dt.date(2022, 4, 10)
    assert schedule["contact"].due_date == dt.date(2022, 4, 10)
    assert "hair" not in schedule
    assert schedule["urine"].policy_id == default_policy_id()  # each due item cites its policy version
    assert items(before, "due") == [
        ("due", "contact", dt.date(2022, 4, 10)),
        ("due", "urine", dt.date(2022, 4, 10)),
    ]
    # No risk grading yet: the first one is asked for from 报到.
    assert items(before, "reassessment") == [("reassessment", "intake", dt.date(2022, 3, 10))]
    # Seven days of grace: still only due on the 17th, overdue on the 18th.
    assert not evaluate_person(person, dt.date(2022, 4, 17)).overdue
    late = evaluate_person(person, dt.date(2022, 4, 18))
    assert [(i.item, i.due_date) for i in late.overdue] == [
        ("urine", dt.date(2022, 4, 10)),
        ("contact", dt.date(2022, 4, 10)),
    ]
    assert not late.tests_up_to_date and not late.contacts_up_to_date
    assert late.lost_contact  # overdue beyond grace and 39 days without any contact since 报到
    # A test on the 15th moves the next urine test to 15 May; a visit moves the contact.
    services.drug_test_record(
        actor=None, person=person, kind="urine", sample_date=dt.date(2022, 4, 15), result="negative"
    )
    services.contact_record(actor=None, person=person, kind="visit", date=dt.date(2022, 4, 16))
    after = evaluate_person(person, dt.date(2022, 4, 18))
    assert not after.overdue
    assert {i.item: i.due_date for i in after.schedule} == {
        "urine": dt.date(2022, 5, 15),
        "contact": dt.date(2022, 5, 16),
    }
    # The evaluation is back-dated: on 10 April the test of the 15th did not exist yet.
    assert {i.item: i.due_date for i in evaluate_person(person, dt.date(2022, 4, 10)).schedule}["urine"] == (
        dt.date(2022, 4, 10)
    )


def test_intervals_lengthen_by_year_and_by_measure(users):
    person, _ = supervised(users)
    services.drug_test_record(
        actor=None, person=person, kind="urine", sample_date=dt.date(2023, 3, 20), result="negative"
    )
    services.drug_test_record(
        actor=None, person=person, kind="urine", sample_date=dt.date(2024, 3, 20), result="negative"
    )
    year_2 = evaluate_person(person, dt.date(2023, 4, 1))
    assert year_2.phase == "year_2"
    assert {i.item: i.due_date for i in year_2.schedule}["urine"] == dt.date(2023, 5, 20)  # every 2 months
    year_3 = evaluate_person(person, dt.date(2024, 4, 1))
    assert year_3.phase == "year_3"
    assert {i.item: i.due_date for i in year_3.schedule}["urine"] == dt.date(2024, 6, 20)  # every 3 months
    rehab, _ = supervised(users, measure="community_rehabilitation", term_months=24)
    status = evaluate_person(rehab, dt.date(2022, 3, 20))
    assert {i.item: i.due_date for i in status.schedule}["urine"] == dt.date(2022, 5, 10)  # every 2 months


def test_regional_policy_takes_over_from_its_effective_date(users):
    person, _ = supervised(users)
    payload = {**DEFAULT_CONTACT_POLICY, "rules": [{"measure": "community_treatment", "urine_months": 2}]}
    version = policy_publish(
        actor=None,
        kind=CONTACT_POLICY,
        region=OrgUnit.objects.get(code="330203"),
        effective_from=dt.date(2022, 4, 1),
        label="海曙区 2022",
        payload=payload,
    )
    before = evaluate_person(person, dt.date(2022, 3, 31))
    after = evaluate_person(person, dt.date(2022, 4, 1))
    assert {i.item: (i.due_date, i.policy_id) for i in before.schedule}["urine"] == (
        dt.date(2022, 4, 10),
        default_policy_id(),
    )
    assert {i.item: (i.due_date, i.policy_id) for i in after.schedule}["urine"] == (
        dt.date(2022, 5, 10),
        version.pk,
    )
    # Another district keeps the national default.
    other = services.person_register(
        actor=None, id_number=valid_id("33021319800101555"), name="李四", residence_code="330213001001"
    ).person
    services.enrollment_create(
        actor=None,
        person=other,
        measure="community_treatment",
        decision_date=dt.date(2022, 3, 1),
        org_unit_code="330213001001",
    )
    assert evaluate_person(other, dt.date(2022, 4, 5)).policy_ids[CONTACT_POLICY] == default_policy_id()


def test_a_red_colour_tightens_the_schedule_and_needs_a_human(users):
    person, _ = supervised(users, measure="community_rehabilitation")
    answers = {
        "substance": "synthetic",
        "severity": "severe",
        "behaviour": "violent",
        "treatments": "one_or_two",
        "abstinence": "under_1y",
        "family": "supportive",
        "employment": "employed",
    }
    score = services.risk_score(person, answers, dt.date(2022, 3, 15))
    assert (score.total, score.suggested_color) == (83, "red")
    # The assessor may decide otherwise, but only with a reason (PIPL art. 24).
    with pytest.raises(services.ServiceError) as refused:
        services.risk_assess(
            actor=None, person=person, date=dt.date(2022, 3, 15), answers=answers, final_color="yellow"
        )
    assert refused.value.code == "override_reason_required"
    with pytest.raises(services.ServiceError) as incomplete:
        services.risk_assess(
            actor=None,
            person=person,
            date=dt.date(2022, 3, 15),
            answers={**answers, "family": "rich"},
            final_color="red",
        )
    assert "family" in incomplete.value.fields
    assessment = services.risk_assess(
        actor=None, person=person, date=dt.date(2022, 3, 15), answers=answers, final_color="red"
    )
    assert assessment.suggested_color == "red" and assessment.override_reason == ""
    # Red: urine monthly instead of every 2 months, a hair test every 6 months, from the assessment on.
    before = evaluate_person(person, dt.date(2022, 3, 14))
    after = evaluate_person(person, dt.date(2022, 3, 15))
    assert before.risk_color is None
    assert {i.item: i.due_date for i in before.schedule}["urine"] == dt.date(2022, 5, 10)
    assert after.risk_color == "red"
    assert {i.item: i.due_date for i in after.schedule} == {
        "urine": dt.date(2022, 4, 10),
        "hair": dt.date(2022, 9, 10),
        "contact": dt.date(2022, 4, 10),
    }
    overridden = services.risk_assess(
        actor=None,
        person=person,
        date=dt.date(2022, 3, 16),
        answers=answers,
        final_color="yellow",
        override_reason="家属全程陪护，已稳定就业",
        trigger="scheduled",
    )
    assert overridden.override_reason and overridden.suggested_color == "red"
    assert evaluate_person(person, dt.date(2022, 3, 16)).risk_color == "yellow"


# 脱管 ---------------------------------------------------------------------------------------------------


def test_lost_contact_needs_an_overdue_item_and_thirty_silent_days(users):
    person, _ = supervised(users)  # reported 2022-03-10, first items due 2022-04-10
    assert not evaluate_person(person, dt.date(2022, 4, 9)).lost_contact
    # Overdue beyond grace (from the 18th) and silent for more than 30 days since 报到.
    lost = evaluate_person(person, dt.date(2022, 4, 18))
    assert lost.lost_contact
    assert ("lost_contact", "contact", dt.date(2022, 3, 10)) in items(lost)
    # A phone call keeps contact (not lost) although the visit and the test are still overdue.
    services.contact_record(actor=None, person=person, kind="phone", date=dt.date(2022, 4, 12))
    called = evaluate_person(person, dt.date(2022, 4, 18))
    assert not called.lost_contact and {i.item for i in called.overdue} == {"urine", "contact"}
    assert evaluate_person(person, dt.date(2022, 5, 13)).lost_contact  # 31 days after the call


def test_nightly_run_raises_escalates_and_resolves_lost_contact_alerts(users, monkeypatch):
    person, _ = supervised(users)
    quiet, _ = supervised(users)
    services.contact_record(actor=None, person=quiet, kind="visit", date=dt.date(2022, 4, 10))
    services.drug_test_record(
        actor=None, person=quiet, kind="urine", sample_date=dt.date(2022, 4, 10), result="negative"
    )
    run = evaluation_run(dt.date(2022, 4, 20))
    assert run.persons == 2 and run.alerts_raised == 1 and run.finished_at is not None
    alert = Alert.objects.get(person=person, kind="lost_contact")
    assert (alert.raised_on, alert.level) == (dt.date(2022, 4, 20), "worker")
    assert not Alert.objects.filter(person=quiet).exists()
    # 社工 → 街道禁毒办 after 7 days → 社区民警 after 7 more; each step a dated event; runs may skip days.
    evaluation_run(dt.date(2022, 4, 26))
    alert.refresh_from_db()
    assert alert.level == "worker"
    evaluation_run(dt.date(2022, 4, 27))
    evaluation_run(dt.date(2022, 5, 9))
    alert.refresh_from_db()
    assert alert.level == "police"
    assert [(s.level, s.date) for s in alert.escalations.all()] == [
        ("worker", dt.date(2022, 4, 20)),
        ("street_office", dt.date(2022, 4, 27)),
        ("police", dt.date(2022, 5, 4)),
    ]
    assert Alert.objects.filter(kind="lost_contact").count() == 1  # one open alert, not one per run
    services.contact_record(actor=None, person=person, kind="visit", date=dt.date(2022, 5, 9))
    evaluation_run(dt.date(2022, 5, 10))
    alert.refresh_from_db()
    assert alert.resolved_on == dt.date(2022, 5, 10) and alert.resolution == "contact_restored"
    assert AuditRecord.objects.filter(object_type="people.evaluationrun").count() == 5


# Lifecycle in the evaluation -----------------------------------------------------------------------------


def test_suspension_stops_the_schedule_and_resume_restarts_it(users):
    person, enrollment = supervised(users)
    services.enrollment_suspend(
        actor=None, enrollment=enrollment, date=dt.date(2022, 4, 1), reason="行政拘留"
    )
    suspended = evaluate_person(person, dt.date(2022, 5, 30))
    assert suspended.phase == "suspended" and not suspended.schedule and not suspended.lost_contact
    with pytest.raises(services.InvalidTransition):
        services.enrollment_suspend(
            actor=None, enrollment=enrollment, date=dt.date(2022, 4, 2), reason="again"
        )
    services.enrollment_resume(actor=None, enrollment=enrollment, date=dt.date(2022, 6, 1))
    resumed = evaluate_person(person, dt.date(2022, 6, 2))
    assert {i.item: i.due_date for i in resumed.schedule}["urine"] == dt.date(2022, 7, 1)
    # Back-dated: during the suspension the schedule was empty, before it the old one held.
    assert evaluate_person(person, dt.date(2022, 5, 1)).phase == "suspended"
    assert {i.item: i.due_date for i in evaluate_person(person, dt.date(2022, 3, 20)).schedule}["urine"] == (
        dt.date(2022, 4, 10)
    )
    assert [e.kind for e in enrollment.events.order_by("date", "id")] == [
        "decided",
        "reported",
        "agreement",
        "suspended",
        "resumed",
    ]


def test_transfer_moves_the_file_and_the_term_counts_on(users):
    person, enrollment = supervised(users)
    services.drug_test_record(
        actor=None, person=person, kind="urine", sample_date=dt.date(2022, 4, 5), result="negative"
    )
    worker_client = api_client(users["worker_a"])
    moved = worker_client.post(
        f"/api/v1/people/enrollments/{enrollment.pk}/transfer",
        {"date": "2022-05-01", "org_unit": "330213001001"},
        content_type="application/json",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["status"] == "transferring" and moved.json()["transfer_deadline"] == "2022-05-16"
    # The whole file now belongs to the new community: the old worker no longer sees it.
    assert worker_client.get(f"/api/v1/people/persons/{person.pk}").status_code == 404
    person.refresh_from_db()
    assert person.org_unit.code == "330213001001"
    assert set(person.drug_tests.values_list("org_unit__code", flat=True)) == {"330213001001"}
    status = evaluate_person(person, dt.date(2022, 5, 10))
    assert status.phase == "transferring"
    assert ("report_due", "transfer_report", dt.date(2022, 5, 16)) in items(status)
    assert ("overdue", "transfer_report", dt.date(2022, 5, 16)) in items(
        evaluate_person(person, dt.date(2022, 5, 17))
    )
    late = api_client(users["district_b"]).post(
        f"/api/v1/people/enrollments/{enrollment.pk}/transfer-report",
        {"date": "2022-05-17"},
        content_type="application/json",
    )
    assert_error_shape(late, 409, "report_deadline_passed")
    reported = api_client(users["district_b"]).post(
        f"/api/v1/people/enrollments/{enrollment.pk}/transfer-report",
        {"date": "2022-05-12"},
        content_type="application/json",
    )
    assert reported.status_code == 200 and reported.json()["status"] == "in_progress"
    assert reported.json()["term_end"] == "2025-03-10"  # the term counts on from the first 报到


def test_violation_counters_reach_serious_violation(users):
    person, enrollment = supervised(users)
    first, counters = services.violation_record(
        actor=None, enrollment=enrollment, kind="test_refusal", date=dt.date(2022, 4, 1)
    )
    services.violation_record(
        actor=None, enrollment=enrollment, kind="test_evasion", date=dt.date(2022, 5, 1)
    )
    enrollment.refresh_from_db()
    assert enrollment.serious_violation_on is None
    _, counters = services.violation_record(
        actor=None, enrollment=enrollment, kind="test_refusal", date=dt.date(2022, 6, 1)
    )
    assert counters.serious and counters.test_violations == 3
    enrollment.refresh_from_db()
    assert enrollment.serious_violation_on == dt.date(2022, 6, 1)
    assert Alert.objects.get(person=person, kind="serious_violation").raised_on == dt.date(2022, 6, 1)
    status = evaluate_person(person, dt.date(2022, 6, 2))
    assert ("serious_violation", "report_police", dt.date(2022, 6, 1)) in items(status)
    assert not any(i.kind == "serious_violation" for i in evaluate_person(person, dt.date(2022, 5, 31)).items)
    services.enrollment_refer(
        actor=None, enrollment=enrollment, date=dt.date(2022, 6, 3), reason="严重违反协议"
    )
    person.refresh_from_db()
    assert person.control_status == "referred"
    assert evaluate_person(person, dt.date(2022, 6, 4)).control_status == "referred"
    assert Alert.objects.get(person=person, kind="serious_violation").resolution == "referred"

    # Days away: two unauthorised leaves of 15 and 16 days (31 > 30) are serious too.
    other, other_enrollment = supervised(users)
    services.violation_record(
        actor=None,
        enrollment=other_enrollment,
        kind="unauthorised_leave",
        date=dt.date(2022, 4, 1),
        days_away=15,
    )
    _, counters = services.violation_record(
        actor=None,
        enrollment=other_enrollment,
        kind="unauthorised_leave",
        date=dt.date(2022, 5, 1),
        days_away=16,
    )
    assert counters.serious and (counters.unauthorised_leaves, counters.days_away) == (2, 31)
    with pytest.raises(services.ServiceError) as no_days:
        services.violation_record(
            actor=None, enrollment=other_enrollment, kind="unauthorised_leave", date=dt.date(2022, 5, 2)
        )
    assert "days_away" in no_days.value.fields


def test_a_positive_test_resets_the_anchor_raises_an_alert_and_asks_for_reassessment(users):
    person, _ = supervised(users, found=dt.date(2022, 1, 1))
    answers = {
        "substance": "other",
        "severity": "occasional",
        "behaviour": "compliant",
        "treatments": "none",
        "abstinence": "under_1y",
        "family": "supportive",
        "employment": "employed",
    }
    services.risk_assess(
        actor=None, person=person, date=dt.date(2022, 3, 12), answers=answers, final_color="green"
    )
    before = evaluate_person(person, dt.date(2022, 4, 1))
    assert (before.abstinence_anchor, before.anchor_kind) == (dt.date(2022, 1, 1), "seizure")
    assert not [i for i in before.items if i.kind == "reassessment"]
    services.drug_test_record(
        actor=None,
        person=person,
        kind="urine",
        sample_date=dt.date(2022, 6, 1),
        result="positive",
        substances=["methamphetamine"],
    )
    after = evaluate_person(person, dt.date(2022, 6, 2))
    assert (after.abstinence_anchor, after.anchor_kind, after.abstinent_days) == (
        dt.date(2022, 6, 1),
        "positive_test",
        1,
    )
    assert ("reassessment", "trigger", dt.date(2022, 6, 1)) in items(after)
    alert = Alert.objects.get(person=person, kind="relapse")
    assert alert.raised_on == dt.date(2022, 6, 1) and alert.escalations.count() == 1


# 戒断三年 and 无感化 ------------------------------------------------------------------------------------------


def test_release_abstinence_three_years_and_label_removal(users):
    person, enrollment = supervised(users, decided=dt.date(2013, 1, 5), found=dt.date(2012, 12, 1))
    services.enrollment_release(actor=None, enrollment=enrollment, date=dt.date(2016, 1, 14))
    person.refresh_from_db()
    assert person.control_status == "social_control"
    social = Enrollment.objects.get(person=person, measure="social_control")
    assert (social.status, social.reported_on) == ("in_progress", dt.date(2016, 1, 14))
    # Anchor = end of the measure. Almost eligible from 90 days before three years, eligible after.
    far = evaluate_person(person, dt.date(2018, 10, 15))
    almost = evaluate_person(person, dt.date(2018, 10, 16))
    eligible = evaluate_person(person, dt.date(2019, 1, 14))
    assert far.abstinent_3y == "no" and far.control_status == "social_control"
    assert almost.abstinent_3y == "almost"
    assert ("almost_eligible", "abstinent_3y", dt.date(2019, 1, 14)) in items(almost)
    assert eligible.abstinent_3y == "eligible"
    assert ("eligible", "abstinent_3y", dt.date(2019, 1, 14)) in items(eligible)
    # Released into social control: a (re)assessment of risk is asked for.
    assert any(i.kind == "reassessment" for i in evaluate_person(person, dt.date(2016, 1, 20)).items)
    # The status changes only after a recorded assessment, and not before the date.
    with pytest.raises(services.InvalidTransition):
        services.abstinence_assess(
            actor=None, person=person, date=dt.date(2019, 1, 13), outcome="abstinent_3y"
        )
    assert evaluate_person(person, dt.date(2019, 6, 1)).control_status == "social_control"
    services.abstinence_assess(actor=None, person=person, date=dt.date(2019, 1, 20), outcome="abstinent_3y")
    person.refresh_from_db()
    social.refresh_from_db()
    assert person.control_status == "abstinent_3y" and social.ended_on == dt.date(2019, 1, 20)
    confirmed = evaluate_person(person, dt.date(2019, 2, 1))
    assert confirmed.control_status == "abstinent_3y" and not confirmed.schedule  # dynamic control stops
    assert evaluate_person(person, dt.date(2019, 1, 19)).control_status == "social_control"  # back-dated
    # 无感化 after 8 years of abstinence (default policy) and an assessment.
    with pytest.raises(services.InvalidTransition):
        services.abstinence_assess(actor=None, person=person, date=dt.date(2024, 1, 13), outcome="no_contact")
    assert ("eligible", "no_contact", dt.date(2024, 1, 14)) in items(
        evaluate_person(person, dt.date(2024, 1, 14))
    )
    services.abstinence_assess(actor=None, person=person, date=dt.date(2024, 1, 14), outcome="no_contact")
    person.refresh_from_db()
    assert person.sealed and person.control_status == "no_contact"
    assert all(Enrollment.objects.filter(person=person).values_list("sealed", flat=True))
    # Gone from every list view: the registry, the worklist (any day), the stored state.
    for user in ("worker_a", "street_a", "district_a", "city"):
        client = api_client(users[user])
        assert client.get("/api/v1/people/persons").json()["count"] == 0
        assert client.get("/api/v1/people/worklist?as_of=2024-01-14").json()["count"] == 0
    run = evaluation_run()
    assert run.persons == 0


def test_a_seizure_after_three_years_restarts_the_count(users):
    person, enrollment = supervised(users, decided=dt.date(2013, 1, 5), found=dt.date(2012, 12, 1))
    services.enrollment_release(actor=None, enrollment=enrollment, date=dt.date(2016, 1, 14))
    services.seizure_record(actor=None, person=person, date=dt.date(2018, 12, 1), note="派出所查获")
    status = evaluate_person(person, dt.date(2019, 2, 1))
    assert (status.abstinence_anchor, status.anchor_kind, status.abstinent_3y) == (
        dt.date(2018, 12, 1),
        "seizure",
        "no",
    )
    with pytest.raises(services.InvalidTransition):
        services.abstinence_assess(
            actor=None, person=person, date=dt.date(2019, 2, 1), outcome="abstinent_3y"
        )


# API contract ---------------------------------------------------------------------------------------------


def test_status_endpoint_contract_with_as_of(users):
    person, _ = supervised(users)
    client = api_client(users["worker_a"])
    response = client.get(f"/api/v1/people/persons/{person.pk}/status?as_of=2022-04-20")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["measure"] == "community_treatment" and body["phase"] == "year_1"
    assert body["abstinence_anchor"] == "2022-01-30" and body["abstinent_days"] == 80
    assert body["overdue"] == [
        {"kind": "urine", "due_date": "2022-04-10", "policy_version": default_policy_id()},
        {"kind": "contact", "due_date": "2022-04-10", "policy_version": default_policy_id()},
    ]
    assert body["lost_contact"] is True and body["abstinent_3y"] == "no" and body["risk_color"] is None
    assert AuditRecord.objects.filter(
        action="READ", object_type="people.person", object_id=str(person.pk)
    ).exists()
    future = client.get(f"/api/v1/people/persons/{person.pk}/status?as_of=2999-01-01")
    assert_error_shape(future, 400, "invalid")
    assert client.get(f"/api/v1/people/persons/{person.pk}/status?as_of=nonsense").status_code == 422


def test_worklist_stored_and_live_agree_and_leave_after_recording(users, django_assert_max_num_queries):
    today = dt.date.today()
    people = [supervised(users, decided=today - dt.timedelta(days=70))[0] for _ in range(3)]
    client = api_client(users["worker_a"])
    live = client.get(f"/api/v1/people/worklist?as_of={today}").json()
    evaluation_run(today)
    # Constant whatever the number of items (PostgreSQL adds the audit chain lock), and counted once: the
    # count written to the audit record is the one the page reports.
    with django_assert_max_num_queries(13) as queries:
        stored = client.get(f"/api/v1/people/worklist?as_of={today}").json()
    counts = [
        q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"] and "worklistitem" in q["sql"]
    ]
    assert len(counts) == 1, counts
    assert stored["count"] == len(stored["items"]) > 0
    search = AuditRecord.objects.filter(action="SEARCH", object_type="people.worklist").latest("pk")
    assert search.detail["results"] == stored["count"]
    key = lambda entry: (entry["person"], entry["kind"], entry["item"], entry["due_date"])  # noqa: E731
    assert sorted(map(key, live["items"])) == sorted(map(key, stored["items"]))
    overdue = [e for e in stored["items"] if e["kind"] == "overdue" and e["person"] == people[0].pk]
    assert {e["item"] for e in overdue} == {"urine", "contact"}
    assert all(e["person_name"].startswith("测") and "*" in e["person_name"] for e in stored["items"])
    # Recording the test and the visit takes the person's items off the overdue list at once.
    services.drug_test_record(
        actor=users["worker_a"], person=people[0], kind="urine", sample_date=today, result="negative"
    )
    services.contact_record(actor=users["worker_a"], person=people[0], kind="visit", date=today)
    again = client.get(f"/api/v1/people/worklist?as_of={today}&kind=overdue").json()
    assert people[0].pk not in {e["person"] for e in again["items"]}
    assert {people[1].pk, people[2].pk} <= {e["person"] for e in again["items"]}
    # Another district's office sees none of them.
    assert api_client(users["district_b"]).get(f"/api/v1/people/worklist?as_of={today}").json()["count"] == 0
    assert add_months(today, 0) == today


def test_nightly_job_and_command(users, capsys, django_capture_on_commit_callbacks):
    from django.core.management import CommandError, call_command

    from jindu.core.jobs import job_start
    from jindu.core.models import Job
    from jindu.people.models import EvaluationRun
    from jindu.people.tasks import evaluate_everyone

    supervised(users)
    with django_capture_on_commit_callbacks(execute=True):
        evaluate_everyone()  # eager without a broker: the Job row records the run
    job = Job.objects.get(name="people_evaluation")
    assert job.status == "completed", job.log
    assert job.result["persons"] == 1 and "evaluated 1 persons" in job.log
    with django_capture_on_commit_callbacks(execute=True):
        job_start(name="people_evaluation", parameters={"as_of": "2022-04-20"})
    assert EvaluationRun.objects.filter(day=dt.date(2022, 4, 20), persons=1).exists()
    call_command("evaluate_people", "--as-of", "2022-05-01")
    assert "evaluated 1 persons for 2022-05-01" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not a date"):
        call_command("evaluate_people", "--as-of", "yesterday")
    with pytest.raises(CommandError, match="future"):
        call_command("evaluate_people", "--as-of", "2999-01-01")


def test_alerts_are_listed_in_scope_and_resolved_once(users):
    person, _ = supervised(users)
    services.drug_test_record(
        actor=None, person=person, kind="urine", sample_date=dt.date(2022, 4, 1), result="positive"
    )
    worker = api_client(users["worker_a"])
    listed = worker.get("/api/v1/people/alerts").json()
    assert listed["count"] == 1 and listed["items"][0]["kind"] == "relapse"
    assert listed["items"][0]["escalations"] == [{"level": "worker", "date": "2022-04-01", "note": ""}]
    assert "*" in listed["items"][0]["person_name"]
    assert api_client(users["district_b"]).get("/api/v1/people/alerts").json()["count"] == 0
    alert_id = listed["items"][0]["id"]
    url = f"/api/v1/people/alerts/{alert_id}/resolve"
    outsider = api_client(users["district_b"]).post(
        url, {"date": "2022-04-02", "resolution": "已移交"}, content_type="application/json"
    )
    assert_error_shape(outsider, 404)
    early = worker.post(url, {"date": "2022-03-31", "resolution": "已移交"}, content_type="application/json")
    assert_error_shape(early, 400, "invalid")
    done = worker.post(
        url, {"date": "2022-04-02", "resolution": "已报告派出所"}, content_type="application/json"
    )
    assert done.status_code == 200 and done.json()["resolved_on"] == "2022-04-02"
    again = worker.post(url, {"date": "2022-04-03", "resolution": "again"}, content_type="application/json")
    assert_error_shape(again, 409, "already_resolved")
    assert worker.get("/api/v1/people/alerts").json()["count"] == 0
    assert worker.get("/api/v1/people/alerts?open=false").json()["count"] == 1


def test_backfilling_a_past_day_keeps_todays_results_and_status_follows_the_records(users):
    from jindu.people.models import ComplianceSnapshot, WorklistItem

    today = dt.date.today()
    person, enrollment = supervised(users, decided=today - dt.timedelta(days=70))
    evaluation_run(today)
    stored = set(WorklistItem.objects.filter(person=person).values_list("kind", "item", "as_of"))
    assert stored and all(as_of == today for _, _, as_of in stored)
    past = today - dt.timedelta(days=20)
    run = evaluation_run(past)
    assert run.persons == 1
    assert set(WorklistItem.objects.filter(person=person).values_list("kind", "item", "as_of")) == stored
    assert ComplianceSnapshot.objects.filter(person=person, day=past).exists()
    # A stale recorded status is put right by the next run.
    Person.objects.filter(pk=person.pk).update(control_status="abstinent_3y")
    evaluation_run(today)
    person.refresh_from_db()
    assert person.control_status == "under_measure"


def test_referred_persons_and_unreported_orders_give_no_abstinence_items(users):
    person = new_person(dt.date(2015, 1, 1))
    enrollment = services.enrollment_create(
        actor=None,
        person=person,
        measure="community_treatment",
        decision_date=dt.date(2015, 2, 1),
        org_unit_code=COMMUNITY_A,
    )
    services.enrollment_not_reported(actor=None, enrollment=enrollment, as_of=dt.date(2015, 3, 1))
    status = evaluate_person(person, dt.date(2019, 6, 1))
    assert status.control_status == "referred"
    # The anchor is the 查获, not the end of an order the person never reported to.
    assert (status.abstinence_anchor, status.anchor_kind) == (dt.date(2015, 1, 1), "seizure")
    assert status.abstinent_3y == "no" and not status.items


def test_person_page_takes_at_most_ten_queries(users):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jindu.core.testing.helpers import ui_client

    today = dt.date.today()
    person, _ = supervised(users, decided=today - dt.timedelta(days=70))
    for day in range(5):
        services.contact_record(actor=None, person=person, kind="phone", date=today - dt.timedelta(days=day))
    evaluation_run(today)
    client = ui_client(users["worker_a"])
    url = f"/people/persons/{person.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200 and 'data-testid="schedule"' in response.content.decode()
    # Every statement counts, the audit record's transaction control too (inside the test's transaction
    # its BEGIN and COMMIT are a SAVEPOINT and its RELEASE).
    queries = [q["sql"] for q in captured.captured_queries]
    assert len(queries) <= 10, "\n".join(queries)
    assert sum("SAVEPOINT" in sql for sql in queries) == 2, "\n".join(queries)
