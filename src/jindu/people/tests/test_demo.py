"""The demo persons: a small demo (200 persons on the test tree) whose generated history must be one the
lifecycle services could have written, and which the evaluation reads back as generated."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from jindu.core.models import AuditRecord, OrgUnit
from jindu.core.testing.helpers import build_tree, build_users
from jindu.people import models as people_models
from jindu.people.demo import generate_demo_persons
from jindu.people.evaluation import add_years, evaluate_person, evaluate_persons
from jindu.people.models import (
    AbstinenceAssessment,
    Alert,
    ComplianceSnapshot,
    Contact,
    DrugTest,
    Enrollment,
    EnrollmentEvent,
    Person,
    PersonState,
    RiskAssessment,
    WorkerAssignment,
    WorklistItem,
)
from jindu.people.policies import DEFAULT_ABSTINENCE_POLICY
from jindu.people.selectors import worklist
from jindu.people.services import risk_score

pytestmark = pytest.mark.django_db

COUNT = 200
# Every model holding rows about a person (sealing and org paths apply to all of them).
PERSON_MODELS = [
    people_models.Enrollment,
    people_models.EnrollmentEvent,
    people_models.Violation,
    people_models.DrugTest,
    people_models.Contact,
    people_models.Seizure,
    people_models.AddictionFinding,
    people_models.RiskAssessment,
    people_models.AbstinenceAssessment,
    people_models.Alert,
    people_models.HelpMeasure,
    people_models.WorkerAssignment,
]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One small demo for every test of the module (generating it is the slow part), built inside a
    transaction that is rolled back afterwards; each test runs in a savepoint within it."""
    with django_db_blocker.unblock(), transaction.atomic():
        build_tree()
        users = build_users()
        created = generate_demo_persons(count=COUNT, seed=11, snapshot_days=14, snapshot_step_days=7)
        yield {"created": created, "today": timezone.localdate(), "users": users}
        transaction.set_rollback(True)


def test_persons_are_created_with_encrypted_identities_and_one_summary_audit_record(demo):
    assert demo["created"] == COUNT == Person.objects.count()
    person = Person.objects.filter(sealed=False).first()
    assert len(person.id_number) == 18 and person.name and person.birth_date
    assert Person.objects.filter(id_number_index="").count() == 0
    assert Person.objects.values("id_number_index").distinct().count() == COUNT
    summary = AuditRecord.objects.filter(object_type="people.demo")
    assert summary.count() == 1
    detail = summary.get().detail
    assert detail["person"] == COUNT and detail["drugtest"] == DrugTest.objects.count()
    names = [p.name for p in Person.objects.all()]
    assert not any(name in str(detail) for name in names)


def test_every_status_agrees_with_the_evaluation(demo):
    today = demo["today"]
    persons = {p.pk: p for p in Person.objects.filter(sealed=False)}
    statuses = {status.person_id: status for status in evaluate_persons(list(persons), today)}
    disagreements = {
        pk: (person.control_status, statuses[pk].control_status)
        for pk, person in persons.items()
        if person.control_status != statuses[pk].control_status
    }
    assert not disagreements
    mix = Counter(person.control_status for person in persons.values())
    assert mix["under_measure"] > mix["social_control"] > mix["abstinent_3y"] > 0
    assert mix["referred"] and mix["ended"] and mix["registered"]
    assert Person.objects.filter(control_status="no_contact", sealed=True).exists()
    # The single-person entry point says the same.
    sample = next(p for p in persons.values() if p.control_status == "social_control")
    assert evaluate_person(sample, today).control_status == "social_control"
    # Everyone who is not sealed has a state for today; nobody sealed does.
    assert PersonState.objects.filter(as_of=today).count() == len(persons)
    assert not PersonState.objects.filter(person__sealed=True).exists()


def test_enrollments_follow_the_lifecycle_rules(demo):
    today = demo["today"]
    paths = dict(OrgUnit.objects.values_list("pk", "path"))
    for enrollment in Enrollment.objects.all():
        assert enrollment.org_path and enrollment.org_path == paths[enrollment.org_unit_id]
        if enrollment.measure == "social_control":  # starts at release, as enrollment_release writes it
            assert enrollment.report_deadline == enrollment.decision_date == enrollment.reported_on
        else:
            assert enrollment.report_deadline == enrollment.decision_date + dt.timedelta(days=15)
            if enrollment.reported_on:
                assert enrollment.decision_date <= enrollment.reported_on <= enrollment.report_deadline
                assert enrollment.term_months == 36 and enrollment.term_end is not None
                assert enrollment.agreement_signed_on >= enrollment.reported_on
        assert enrollment.decision_date <= today
        if enrollment.status in ("released", "referred", "terminated", "not_reported"):
            assert enrollment.ended_on is not None
        else:
            assert enrollment.ended_on is None
    released = Enrollment.objects.filter(measure__in=["community_treatment", "community_rehabilitation"])
    for enrollment in released.filter(status="released"):
        assert enrollment.ended_on == enrollment.term_end
        assert Enrollment.objects.filter(
            person_id=enrollment.person_id, measure="social_control", decision_date=enrollment.ended_on
        ).exists()
    # Every enrollment has its 决定送达 event; reported ones their 报到.
    decided = set(EnrollmentEvent.objects.filter(kind="decided").values_list("enrollment_id", flat=True))
    assert decided == set(Enrollment.objects.values_list("pk", flat=True))
    statuses = Counter(Enrollment.objects.values_list("status", flat=True))
    for status in ("in_progress", "decided", "suspended", "transferring", "released", "not_reported"):
        assert statuses[status], status
    serious = Enrollment.objects.exclude(serious_violation_on=None)
    assert serious.exists()
    for enrollment in serious:
        assert enrollment.violations.filter(kind="test_evasion").count() >= 3
        assert Alert.objects.filter(enrollment=enrollment, kind="serious_violation").exists()


def test_tests_and_contacts_lie_in_the_measure_in_force(demo):
    """Each test and contact is filed under the enrollment the services would pick for its day: decided
    on or before it, not ended before it, the latest such (never a not-reported order)."""
    today = demo["today"]
    by_person: dict[int, list[Enrollment]] = {}
    for enrollment in Enrollment.objects.exclude(status="not_reported").order_by("decision_date", "id"):
        by_person.setdefault(enrollment.person_id, []).append(enrollment)

    def in_force(person_id: int, day: dt.date) -> int | None:
        candidates = [
            e
            for e in by_person.get(person_id, [])
            if e.decision_date <= day and (e.ended_on is None or e.ended_on >= day)
        ]
        return candidates[-1].pk if candidates else None

    rows = [
        *DrugTest.objects.values_list("person_id", "enrollment_id", "sample_date"),
        *Contact.objects.values_list("person_id", "enrollment_id", "date"),
    ]
    assert len(rows) > 20 * COUNT // 2
    enrollments = {e.pk: e for e in Enrollment.objects.all()}
    for person_id, enrollment_id, day in rows:
        assert day <= today
        assert in_force(person_id, day) == enrollment_id, (person_id, day)
        reported = enrollments[enrollment_id].reported_on
        assert reported is not None and reported <= day
    assert DrugTest.objects.filter(result="positive").exists()
    positives = DrugTest.objects.filter(result="positive")
    for test in positives:
        assert Alert.objects.filter(
            person_id=test.person_id, kind="relapse", raised_on=test.sample_date
        ).exists()


def test_sealed_persons_are_sealed_everywhere_and_legitimately(demo):
    sealed = list(Person.objects.filter(sealed=True))
    assert sealed and all(p.control_status == "no_contact" and p.assigned_worker_id is None for p in sealed)
    ids = [p.pk for p in sealed]
    for model in PERSON_MODELS:
        assert not model.objects.filter(person_id__in=ids, sealed=False).exists(), model.__name__
    assert not WorklistItem.objects.filter(person_id__in=ids).exists()
    assert not WorkerAssignment.objects.filter(person_id__in=ids, end=None).exists()
    years = DEFAULT_ABSTINENCE_POLICY["no_contact_years"]
    for person in sealed:
        removal = AbstinenceAssessment.objects.get(person=person, outcome="no_contact")
        confirmed = AbstinenceAssessment.objects.get(person=person, outcome="abstinent_3y")
        assert removal.anchor == confirmed.anchor
        assert add_years(removal.anchor, years) <= removal.date == person.control_status_since
        assert confirmed.date >= add_years(confirmed.anchor, DEFAULT_ABSTINENCE_POLICY["abstinent_years"])


def test_confirmed_abstinence_matches_the_evaluated_anchor(demo):
    today = demo["today"]
    confirmed = Person.objects.filter(control_status="abstinent_3y")
    assert confirmed.exists()
    statuses = {s.person_id: s for s in evaluate_persons([p.pk for p in confirmed], today)}
    for person in confirmed:
        assessment = AbstinenceAssessment.objects.get(person=person)
        assert assessment.anchor == statuses[person.pk].abstinence_anchor
        assert assessment.date == person.control_status_since
        social = Enrollment.objects.get(person=person, measure="social_control")
        assert social.status == "released" and social.ended_on == assessment.date


def test_the_city_worklist_holds_every_kind_of_work(demo):
    today, users = demo["today"], demo["users"]
    items = list(worklist(users["city"], as_of=today))
    kinds = Counter(item.kind for item in items)
    assert kinds["overdue"] and kinds["lost_contact"] and kinds["due"]
    assert kinds["almost_eligible"] and kinds["eligible"]
    assert kinds["reassessment"] and kinds["report_due"]
    # Lost contact is a minority, overdue more common.
    assert kinds["lost_contact"] < kinds["overdue"]
    assert Alert.objects.filter(kind="lost_contact", resolved_on=None).exists()


def test_risk_gradings_are_valid_and_every_colour_occurs(demo):
    today = demo["today"]
    colours = Counter(
        PersonState.objects.filter(as_of=today, control_status__in=["under_measure", "social_control"])
        .exclude(risk_color="")
        .values_list("risk_color", flat=True)
    )
    assert set(colours) == {"red", "orange", "yellow", "green"}
    assert colours["green"] > colours["yellow"] > colours["orange"] > colours["red"]
    gradings = list(RiskAssessment.objects.select_related("person", "instrument")[:40])
    for grading in gradings:
        assert grading.instrument.kind == "people.risk_instrument"
        score = risk_score(grading.person, grading.factor_scores, grading.date)
        assert (score.total, score.suggested_color) == (grading.total, grading.suggested_color)
    overridden = RiskAssessment.objects.exclude(final_color=F("suggested_color"))
    assert overridden.exists() and not overridden.filter(override_reason="").exists()
    assert (
        not RiskAssessment.objects.filter(final_color=F("suggested_color"))
        .exclude(override_reason="")
        .exists()
    )


def test_the_social_worker_is_assigned_the_persons_of_their_community(demo):
    worker = demo["users"]["worker_a"]
    assigned = Person.objects.filter(assigned_worker=worker)
    assert assigned.count() >= 20
    community_path = worker.capture_scope.get().path
    assert all(person.org_path.startswith(community_path) for person in assigned)
    open_assignments = WorkerAssignment.objects.filter(worker=worker, end=None)
    assert set(open_assignments.values_list("person_id", flat=True)) == set(
        assigned.values_list("pk", flat=True)
    )
    # Records of the worker's persons name the worker.
    assert DrugTest.objects.filter(recorded_by=worker).exists()
    assert (
        not Person.objects.exclude(org_path__startswith=community_path)
        .filter(assigned_worker=worker)
        .exists()
    )


def test_snapshots_cover_past_days_and_help_measures_exist(demo):
    today = demo["today"]
    days = set(ComplianceSnapshot.objects.values_list("day", flat=True))
    assert {today, today - dt.timedelta(days=7), today - dt.timedelta(days=14)} <= days
    assert people_models.HelpMeasure.objects.exists()
    outcomes = set(people_models.HelpMeasure.objects.values_list("outcome", flat=True))
    assert "pending" in outcomes and len(outcomes) >= 2
