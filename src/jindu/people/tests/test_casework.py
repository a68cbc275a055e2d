"""Casework: help measures (帮扶), worker assignment (指派) with its history, caseloads against the staffing
ratio (社工配比), a worker's monthly summary; the API and the pages with their authorization matrices."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from jindu.core.errors import Forbidden, NotFound, ServiceError
from jindu.core.models import AuditRecord, PolicyVersion
from jindu.core.policy import policy_publish
from jindu.core.roles import ROLE_PERMISSIONS, Role, grant
from jindu.core.testing.helpers import (
    TREE_KEYS,
    api_client,
    assert_error_shape,
    assert_max_queries,
    assert_ui_matrix,
    make_user,
    ui_client,
)
from jindu.core.validators import id_number_check_char
from jindu.people import casework
from jindu.people.casework import CaseworkConflict
from jindu.people.models import HelpMeasure, Person, WorkerAssignment
from jindu.people.permissions import ASSIGN_WORKER
from jindu.people.services import (
    contact_record,
    drug_test_record,
    enrollment_create,
    enrollment_report,
    person_register,
)

pytestmark = pytest.mark.django_db

ADMINS = ("sysadmin", "secadmin", "auditadmin")
_serial = itertools.count()


@pytest.fixture(autouse=True)
def casework_setup(db):
    """The office roles assign workers (granted in apps.py), and the default 30:1 staffing policy exists
    (shipped by a data migration); both are ensured here in case they are not there yet."""
    for role in (Role.STREET_OFFICE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE):
        if ASSIGN_WORKER not in ROLE_PERMISSIONS[role]:
            grant(role, ASSIGN_WORKER)
    if not PolicyVersion.objects.filter(kind=casework.STAFFING_POLICY_KIND, region__isnull=True).exists():
        policy_publish(
            actor=None,
            kind=casework.STAFFING_POLICY_KIND,
            region=None,
            effective_from=dt.date(2008, 6, 1),
            label="default",
            payload={"max_persons_per_worker": 30},
            is_default=True,
        )


def make_person(residence: str = TREE_KEYS["community_a"], status: str = "under_measure") -> Person:
    """A registered person (unique synthetic ID number), set to the given control status."""
    serial = next(_serial)
    first17 = f"330203{1950 + serial // 1000}0101{serial % 1000:03d}"
    person = person_register(
        actor=None, id_number=first17 + id_number_check_char(first17), name="测试", residence_code=residence
    ).person
    Person.objects.filter(pk=person.pk).update(control_status=status)
    person.control_status = status
    return person


@pytest.fixture
def person(users):
    return make_person()


@pytest.fixture
def worker_a2(users):
    """A second social worker of community A (for transfers)."""
    return make_user("t_worker_a2", Role.SOCIAL_WORKER, TREE_KEYS["community_a"])


def post(client, url, **payload):
    return client.post(url, payload, content_type="application/json")


# Help measures: services ---------------------------------------------------------------------------------


def test_referral_belongs_to_the_person_and_is_audited_without_free_text(users, person):
    measure = casework.help_refer(
        actor=users["worker_a"],
        person=person,
        kind="job_placement",
        referred_on=dt.date(2024, 3, 1),
        provider="  区人社局  就业服务中心 ",
        note="本人愿意",
    )
    assert measure.org_unit_id == person.org_unit_id and measure.org_path == person.org_path
    assert (measure.outcome, measure.provider, measure.recorded_by) == (
        "pending",
        "区人社局 就业服务中心",
        users["worker_a"],
    )
    record = AuditRecord.objects.get(
        action="CREATE", object_type="people.helpmeasure", object_id=str(measure.pk)
    )
    assert record.detail == {"person": person.pk, "kind": "job_placement", "referred_on": "2024-03-01"}
    assert record.actor_username == "t_worker_a"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "cash_gift"}, "kind"),
        ({"referred_on": None}, "referred_on"),
        ({"referred_on": "tomorrow"}, "referred_on"),
        ({"provider": "x" * 101}, "provider"),
        ({"note": "x" * 501}, "note"),
    ],
)
def test_bad_referrals_are_refused(users, person, kwargs, field):
    arguments = {"kind": "legal_aid", "referred_on": dt.date(2024, 3, 1), **kwargs}
    if arguments["referred_on"] == "tomorrow":
        arguments["referred_on"] = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ServiceError) as refused:
        casework.help_refer(actor=users["worker_a"], person=person, **arguments)
    assert field in refused.value.fields and refused.value.status == 400
    assert not HelpMeasure.objects.exists()


def test_referral_outside_the_capture_scope_or_without_the_role_looks_missing(users, person):
    for key in ("district_b", "police_a", *ADMINS):
        with pytest.raises(NotFound):
            casework.help_refer(
                actor=users[key], person=person, kind="legal_aid", referred_on=dt.date(2024, 3, 1)
            )
    assert not HelpMeasure.objects.exists()


def test_outcome_is_recorded_once_with_its_note_and_audited(users, person):
    measure = casework.help_refer(
        actor=users["worker_a"],
        person=person,
        kind="counselling",
        referred_on=dt.date(2024, 3, 1),
        note="转介",
    )
    casework.help_record_outcome(
        actor=users["street_a"], help_measure=measure, outcome="succeeded", outcome_on=dt.date(2024, 3, 1),
        note="已完成6次咨询",
    )  # fmt: skip
    measure.refresh_from_db()
    assert (measure.outcome, measure.outcome_on, measure.note) == (
        "succeeded",
        dt.date(2024, 3, 1),
        "转介\n已完成6次咨询",
    )
    record = AuditRecord.objects.get(
        action="UPDATE", object_type="people.helpmeasure", object_id=str(measure.pk)
    )
    assert record.detail == {"person": person.pk, "outcome": "succeeded", "outcome_on": "2024-03-01"}
    with pytest.raises(CaseworkConflict) as conflict:
        casework.help_record_outcome(
            actor=users["street_a"], help_measure=measure, outcome="failed", outcome_on=dt.date(2024, 3, 2)
        )
    assert conflict.value.status == 409 and conflict.value.code == "outcome_already_recorded"
    # A stale copy loaded before the first outcome cannot overwrite it either (compare-and-set).
    stale = HelpMeasure.objects.get(pk=measure.pk)
    stale.outcome = "pending"
    with pytest.raises(CaseworkConflict):
        casework.help_record_outcome(
            actor=users["street_a"], help_measure=stale, outcome="failed", outcome_on=dt.date(2024, 3, 2)
        )
    assert HelpMeasure.objects.get(pk=measure.pk).outcome == "succeeded"


@pytest.mark.parametrize(
    ("outcome", "outcome_on", "field"),
    [
        ("pending", dt.date(2024, 3, 5), "outcome"),
        ("maybe", dt.date(2024, 3, 5), "outcome"),
        ("failed", dt.date(2024, 2, 29), "outcome_on"),  # before the referral
        ("failed", None, "outcome_on"),
        ("failed", "tomorrow", "outcome_on"),
    ],
)
def test_bad_outcomes_are_refused(users, person, outcome, outcome_on, field):
    measure = casework.help_refer(
        actor=users["worker_a"], person=person, kind="medical_aid", referred_on=dt.date(2024, 3, 1)
    )
    if outcome_on == "tomorrow":
        outcome_on = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ServiceError) as refused:
        casework.help_record_outcome(
            actor=users["worker_a"], help_measure=measure, outcome=outcome, outcome_on=outcome_on
        )
    assert field in refused.value.fields
    assert HelpMeasure.objects.get(pk=measure.pk).outcome == "pending"
    assert not AuditRecord.objects.filter(action="UPDATE", object_type="people.helpmeasure").exists()


def test_outcome_note_must_fit_beside_the_referral_note(users, person):
    measure = casework.help_refer(
        actor=users["worker_a"],
        person=person,
        kind="subsistence",
        referred_on=dt.date(2024, 3, 1),
        note="x" * 490,
    )
    with pytest.raises(ServiceError) as refused:
        casework.help_record_outcome(
            actor=users["worker_a"], help_measure=measure, outcome="succeeded", outcome_on=dt.date(2024, 3, 2),
            note="y" * 10,
        )  # fmt: skip
    assert "9" in refused.value.fields["note"]


# Assignment: services --------------------------------------------------------------------------------------


def test_assignment_and_transfer_close_the_history(users, person, worker_a2):
    first = casework.worker_assign(
        actor=users["street_a"], person=person, worker=users["worker_a"], start=dt.date(2024, 1, 10)
    )
    person.refresh_from_db()
    assert person.assigned_worker == users["worker_a"]
    assert (first.end, first.assigned_by, first.org_unit_id) == (None, users["street_a"], person.org_unit_id)

    second = casework.worker_assign(
        actor=users["district_a"], person=person, worker=worker_a2, start=dt.date(2024, 5, 1)
    )
    first.refresh_from_db()
    person.refresh_from_db()
    assert first.end == dt.date(2024, 5, 1) and second.end is None
    assert person.assigned_worker == worker_a2
    assert list(
        WorkerAssignment.objects.filter(person=person)
        .order_by("start")
        .values_list("worker__username", "end")
    ) == [("t_worker_a", dt.date(2024, 5, 1)), ("t_worker_a2", None)]
    record = AuditRecord.objects.get(
        action="CREATE", object_type="people.workerassignment", object_id=str(second.pk)
    )
    assert record.detail == {
        "person": person.pk,
        "worker": "t_worker_a2",
        "start": "2024-05-01",
        "closed_assignment": first.pk,
        "previous_worker": users["worker_a"].pk,
    }
    # Back to the first worker on the same day as the last change is still a transfer.
    casework.worker_assign(
        actor=users["street_a"], person=person, worker=users["worker_a"], start=dt.date(2024, 5, 1)
    )
    assert WorkerAssignment.objects.filter(person=person, end__isnull=True).count() == 1


def test_assignment_refusals(users, person, worker_a2):
    casework.worker_assign(
        actor=users["street_a"], person=person, worker=users["worker_a"], start=dt.date(2024, 3, 1)
    )
    with pytest.raises(CaseworkConflict) as again:
        casework.worker_assign(
            actor=users["street_a"], person=person, worker=users["worker_a"], start=dt.date(2024, 4, 1)
        )
    assert again.value.code == "already_assigned" and again.value.status == 409
    with pytest.raises(ServiceError) as early:
        casework.worker_assign(
            actor=users["street_a"], person=person, worker=worker_a2, start=dt.date(2024, 2, 28)
        )
    assert "start" in early.value.fields
    with pytest.raises(ServiceError) as future:
        casework.worker_assign(
            actor=users["street_a"],
            person=person,
            worker=worker_a2,
            start=timezone.localdate() + dt.timedelta(days=1),
        )
    assert "start" in future.value.fields
    assert WorkerAssignment.objects.filter(person=person).count() == 1
    assert WorkerAssignment.objects.get(person=person).end is None


@pytest.mark.parametrize("who", ["street_office", "other_community", "inactive", "nobody"])
def test_only_an_active_social_worker_covering_the_residence_is_assigned(users, person, who):
    if who == "street_office":
        worker = users["street_a"]
    elif who == "other_community":
        worker = make_user("t_worker_b", Role.SOCIAL_WORKER, TREE_KEYS["community_b"])
    elif who == "inactive":
        worker = make_user("t_worker_gone", Role.SOCIAL_WORKER, TREE_KEYS["community_a"])
        worker.is_active = False
        worker.save(update_fields=["is_active"])
    else:
        worker = None
    with pytest.raises(ServiceError) as refused:
        casework.worker_assign(
            actor=users["street_a"], person=person, worker=worker, start=dt.date(2024, 3, 1)
        )
    assert "worker" in refused.value.fields
    assert not WorkerAssignment.objects.exists()


def test_workers_do_not_assign_and_other_districts_see_nothing(users, person):
    with pytest.raises(Forbidden):
        casework.worker_assign(
            actor=users["worker_a"], person=person, worker=users["worker_a"], start=dt.date(2024, 3, 1)
        )
    with pytest.raises(NotFound):
        casework.worker_assign(
            actor=users["district_b"], person=person, worker=users["worker_a"], start=dt.date(2024, 3, 1)
        )
    assert not WorkerAssignment.objects.exists()


# Caseloads and the ratio -----------------------------------------------------------------------------------


def active_persons(count: int, residence: str = TREE_KEYS["community_a"], worker=None) -> list[Person]:
    persons = [make_person(residence) for _ in range(count)]
    if worker is not None:
        Person.objects.filter(pk__in=[p.pk for p in persons]).update(assigned_worker=worker)
    return persons


def streets_of(report) -> dict[str, object]:
    return {row.street.code: row for row in report.streets}


def test_ratio_flag_at_31_persons_per_worker_and_at_a_street_without_worker(users):
    active_persons(30, worker=users["worker_a"])
    make_person(status="registered")  # not active: counts for nobody
    make_person(status="abstinent_3y")
    report = casework.caseloads(users["district_a"])
    streets = streets_of(report)
    assert set(streets) == {TREE_KEYS["street_a"], TREE_KEYS["street_a2"]}
    street_a = streets[TREE_KEYS["street_a"]]
    assert (street_a.active_persons, street_a.workers, street_a.ratio, street_a.flag) == (30, 1, 30.0, "")
    assert street_a.max_persons == 30 and street_a.policy.is_default and street_a.policy.region is None
    # 江厦街道 has neither persons nor a worker: every street needs one.
    street_a2 = streets[TREE_KEYS["street_a2"]]
    assert (street_a2.workers, street_a2.ratio, street_a2.flag) == (0, None, "no_worker")
    [worker_row] = report.workers
    assert (worker_row.worker, worker_row.active_persons, worker_row.over_limit) == (
        users["worker_a"],
        30,
        False,
    )
    assert worker_row.street.code == TREE_KEYS["street_a"]

    active_persons(1)  # the 31st, not yet assigned
    report = casework.caseloads(users["district_a"])
    street_a = streets_of(report)[TREE_KEYS["street_a"]]
    assert (street_a.active_persons, street_a.unassigned_persons, street_a.ratio, street_a.flag) == (
        31,
        1,
        31.0,
        "over_ratio",
    )
    assert report.flagged_streets == 2
    Person.objects.filter(assigned_worker__isnull=True, control_status="under_measure").update(
        assigned_worker=users["worker_a"]
    )
    assert casework.caseloads(users["district_a"]).workers[0].over_limit


def test_a_second_worker_brings_the_street_back_under_the_ratio(users, worker_a2):
    active_persons(31)
    street_a = streets_of(casework.caseloads(users["street_a"]))[TREE_KEYS["street_a"]]
    assert (street_a.workers, street_a.ratio, street_a.flag) == (2, 15.5, "")


def test_a_regional_policy_overrides_the_default(users, tree):
    policy_publish(
        actor=None,
        kind=casework.STAFFING_POLICY_KIND,
        region=tree["district_a"],
        effective_from=dt.date(2020, 1, 1),
        label="海曙 20:1",
        payload={"max_persons_per_worker": 20},
    )
    active_persons(21)
    make_person(TREE_KEYS["community_b"])
    street_a = streets_of(casework.caseloads(users["city"]))[TREE_KEYS["street_a"]]
    assert (street_a.max_persons, street_a.policy.label, street_a.flag) == (20, "海曙 20:1", "over_ratio")
    street_b = streets_of(casework.caseloads(users["city"]))[TREE_KEYS["street_b"]]
    assert (street_b.max_persons, street_b.active_persons, street_b.flag) == (30, 1, "no_worker")
    # Before the regional version took effect, the default applied.
    street_a = streets_of(casework.caseloads(users["city"], on=dt.date(2019, 12, 31)))[TREE_KEYS["street_a"]]
    assert (street_a.max_persons, street_a.flag) == (30, "")


def test_without_any_policy_the_ratio_falls_back_to_30(users):
    PolicyVersion.objects.filter(kind=casework.STAFFING_POLICY_KIND).delete()
    active_persons(31)
    street_a = streets_of(casework.caseloads(users["district_a"]))[TREE_KEYS["street_a"]]
    assert (street_a.max_persons, street_a.policy, street_a.flag) == (30, None, "over_ratio")


def test_caseloads_stay_in_scope_and_need_the_permission(users, tree):
    active_persons(2, worker=users["worker_a"])
    make_user("t_worker_b", Role.SOCIAL_WORKER, TREE_KEYS["community_b"])
    # A worker who captures in both districts lies in neither district's scope.
    make_user("t_worker_both", Role.SOCIAL_WORKER, TREE_KEYS["community_a"], capture_scope_codes=[
        TREE_KEYS["community_a"], TREE_KEYS["community_b"],
    ])  # fmt: skip
    report_b = casework.caseloads(users["district_b"])
    assert [row.worker.username for row in report_b.workers] == ["t_worker_b"]
    assert set(streets_of(report_b)) == {TREE_KEYS["street_b"]}
    assert [row.worker.username for row in casework.caseloads(users["district_a"]).workers] == ["t_worker_a"]
    assert {row.worker.username for row in casework.caseloads(users["city"]).workers} == {
        "t_worker_a",
        "t_worker_b",
        "t_worker_both",
    }
    narrowed = casework.caseloads(users["city"], TREE_KEYS["street_a2"])
    assert set(streets_of(narrowed)) == {TREE_KEYS["street_a2"]} and narrowed.workers == []
    with pytest.raises(NotFound):
        casework.caseloads(users["district_b"], TREE_KEYS["district_a"])
    with pytest.raises(NotFound):
        casework.caseloads(users["district_a"], "999999")
    for key in ("worker_a", "police_a", *ADMINS):
        with pytest.raises(Forbidden):
            casework.caseloads(users[key])


# Monthly summary ----------------------------------------------------------------------------------------


@pytest.fixture
def march(users, worker_a2):
    """March 2024: person one is in worker A's charge from the 10th; person two from the 1st until a
    transfer to worker A2 on the 31st."""
    one, two = make_person(), make_person()
    enrollment = enrollment_create(
        actor=None, person=one, measure="community_treatment", decision_date=dt.date(2024, 1, 10),
        org_unit_code=TREE_KEYS["community_a"],
    )  # fmt: skip
    enrollment_report(actor=None, enrollment=enrollment, date=dt.date(2024, 1, 20))
    office, worker = users["district_a"], users["worker_a"]
    casework.worker_assign(actor=office, person=one, worker=worker, start=dt.date(2024, 3, 10))
    casework.worker_assign(actor=office, person=two, worker=worker, start=dt.date(2024, 3, 1))
    casework.worker_assign(actor=office, person=two, worker=worker_a2, start=dt.date(2024, 3, 31))
    test = dict(person=one, kind="urine", result="negative")
    drug_test_record(
        actor=office, sample_date=dt.date(2024, 3, 5), **test
    )  # before the assignment: not counted
    drug_test_record(actor=office, **{**test, "result": "positive"}, sample_date=dt.date(2024, 3, 15))
    drug_test_record(actor=worker, **{**test, "kind": "hair"}, sample_date=dt.date(2024, 3, 20))
    drug_test_record(actor=worker, sample_date=dt.date(2024, 4, 2), **test)  # next month
    contact_record(actor=worker, person=one, kind="visit", date=dt.date(2024, 3, 12))
    contact_record(actor=office, person=one, kind="phone", date=dt.date(2024, 3, 13))
    contact_record(actor=office, person=one, kind="talk", date=dt.date(2024, 3, 9))  # before: not counted
    help_measure = casework.help_refer(
        actor=office, person=one, kind="job_placement", referred_on=dt.date(2024, 3, 11)
    )
    casework.help_record_outcome(
        actor=office, help_measure=help_measure, outcome="succeeded", outcome_on=dt.date(2024, 3, 25)
    )
    casework.help_refer(actor=office, person=two, kind="legal_aid", referred_on=dt.date(2024, 2, 20))
    return one, two


def test_monthly_summary_counts_what_the_worker_did_and_whom_they_had(users, march):
    summary = casework.worker_monthly_summary(users["district_a"], users["worker_a"], "2024-03")
    assert (summary.first_day, summary.last_day, summary.as_of) == (
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 31),
        dt.date(2024, 3, 31),
    )
    assert summary.drug_tests == {"total": 2, "urine": 1, "hair": 1, "positive": 1}
    assert summary.contacts == {"total": 2, "visit": 1, "talk": 0, "phone": 1}
    assert summary.help_referrals["total"] == 1 and summary.help_referrals["job_placement"] == 1
    assert summary.help_outcomes == {"total": 1, "succeeded": 1, "failed": 0, "declined": 0}
    assert summary.persons_assigned == 1  # person two went to worker A2 on the 31st
    february = casework.worker_monthly_summary(users["worker_a"], users["worker_a"], "2024-02")
    assert february.persons_assigned == 0 and february.help_referrals["total"] == 0
    assert (
        casework.worker_monthly_summary(users["street_a"], users["worker_a"], "2024-04").drug_tests["total"]
        == 1
    )


@pytest.mark.parametrize("month", ["2024-13", "2024-3", "march", "2999-01"])
def test_summary_month_must_be_a_past_or_current_month(users, month):
    with pytest.raises(ServiceError) as refused:
        casework.worker_monthly_summary(users["district_a"], users["worker_a"], month)
    assert "month" in refused.value.fields


def test_summary_of_this_month_runs_until_today(users):
    summary = casework.worker_monthly_summary(users["worker_a"], users["worker_a"], "")
    assert summary.as_of == timezone.localdate() and summary.month == timezone.localdate().strftime("%Y-%m")


# API ---------------------------------------------------------------------------------------------------------


def denied_everywhere(users):
    """Users who may neither read nor write a person of district A: the other district and the admins."""
    return [users["district_b"], *(users[key] for key in ADMINS)]


def test_api_refer_and_record_outcome_matrix(users, person):
    url = f"/api/v1/people/persons/{person.pk}/help"
    payload = {"kind": "vocational_training", "referred_on": "2024-03-01", "provider": "区职业技能培训中心"}
    assert_error_shape(post(api_client(None), url, **payload), 401, "not_authenticated")
    for user in [*denied_everywhere(users), users["police_a"]]:
        assert_error_shape(post(api_client(user), url, **payload), 404, "not_found")
    assert not HelpMeasure.objects.exists()
    created = []
    for key in ("worker_a", "street_a", "district_a", "city"):
        response = post(api_client(users[key]), url, **payload)
        assert response.status_code == 201, (key, response.content)
        created.append(response.json()["id"])
    measure = HelpMeasure.objects.get(pk=created[0])
    assert (measure.kind, measure.recorded_by, measure.org_unit_id) == (
        "vocational_training",
        users["worker_a"],
        person.org_unit_id,
    )
    body = assert_error_shape(
        post(api_client(users["worker_a"]), url, kind="cash", referred_on="2024-03-01"), 400
    )
    assert "kind" in body["error"]["fields"]
    assert_error_shape(post(api_client(users["worker_a"]), url, kind="legal_aid"), 422, "validation_error")

    outcome_url = f"/api/v1/people/help/{created[0]}/outcome"
    outcome = {"outcome": "declined", "outcome_on": "2024-03-04", "note": "本人拒绝"}
    assert_error_shape(post(api_client(None), outcome_url, **outcome), 401, "not_authenticated")
    for user in [*denied_everywhere(users), users["police_a"]]:
        assert_error_shape(post(api_client(user), outcome_url, **outcome), 404, "not_found")
    body = assert_error_shape(
        post(api_client(users["worker_a"]), outcome_url, outcome="declined", outcome_on="2024-02-01"), 400
    )
    assert "outcome_on" in body["error"]["fields"]
    response = post(api_client(users["worker_a"]), outcome_url, **outcome)
    assert response.status_code == 200, response.content
    assert response.json() | {"id": 0} == {
        "id": 0,
        "person": person.pk,
        "kind": "vocational_training",
        "referred_on": "2024-03-01",
        "provider": "区职业技能培训中心",
        "outcome": "declined",
        "outcome_on": "2024-03-04",
        "note": "本人拒绝",
        "org_unit": TREE_KEYS["community_a"],
        "recorded_by": "t_worker_a",
    }
    assert_error_shape(
        post(api_client(users["street_a"]), outcome_url, **outcome), 409, "outcome_already_recorded"
    )
    assert_error_shape(
        post(api_client(users["worker_a"]), "/api/v1/people/help/999999/outcome", **outcome), 404
    )


def test_api_help_list_matrix_and_query_count(users, person):
    url = f"/api/v1/people/persons/{person.pk}/help"
    for day in (1, 2):
        casework.help_refer(actor=None, person=person, kind="counselling", referred_on=dt.date(2024, 3, day))
    assert_error_shape(api_client(None).get(url), 401, "not_authenticated")
    for user in denied_everywhere(users):
        assert_error_shape(api_client(user).get(url), 404, "not_found")
    for key in ("worker_a", "street_a", "district_a", "city", "police_a"):
        response = api_client(users[key]).get(url)
        assert response.status_code == 200, (key, response.content)
        assert [item["referred_on"] for item in response.json()["items"]] == ["2024-03-02", "2024-03-01"]
    reads = AuditRecord.objects.filter(action="READ", object_type="people.person", object_id=str(person.pk))
    assert reads.count() == 5  # every list is an audited read of the person

    client = api_client(users["worker_a"])
    with assert_max_queries(14) as few:  # 13 on SQLite; PostgreSQL adds the audit advisory lock
        client.get(url)
    for day in range(3, 13):
        casework.help_refer(
            actor=users["worker_a"], person=person, kind="legal_aid", referred_on=dt.date(2024, 3, day)
        )
    with assert_max_queries(len(few.captured_queries)):
        assert client.get(url).json()["count"] == 12


def test_api_assignment_matrix_and_history(users, person, worker_a2):
    url = f"/api/v1/people/persons/{person.pk}/assignment"
    assert_error_shape(
        post(api_client(None), url, worker="t_worker_a", start="2024-01-10"), 401, "not_authenticated"
    )
    for user in [*denied_everywhere(users), users["police_a"]]:
        assert_error_shape(
            post(api_client(user), url, worker="t_worker_a", start="2024-01-10"), 404, "not_found"
        )
    # Social workers do not assign, not even themselves.
    assert_error_shape(post(api_client(users["worker_a"]), url, worker="t_worker_a", start="2024-01-10"), 403)
    assert not WorkerAssignment.objects.exists()

    response = post(api_client(users["street_a"]), url, worker="t_worker_a", start="2024-01-10")
    assert response.status_code == 201, response.content
    assert response.json() | {"id": 0} == {
        "id": 0,
        "person": person.pk,
        "worker": "t_worker_a",
        "worker_name": "",
        "start": "2024-01-10",
        "end": None,
        "assigned_by": "t_street_a",
    }
    assert_error_shape(
        post(api_client(users["district_a"]), url, worker="t_worker_a", start="2024-02-01"),
        409,
        "already_assigned",
    )
    body = assert_error_shape(
        post(api_client(users["district_a"]), url, worker="t_street_a", start="2024-02-01"), 400
    )
    assert "worker" in body["error"]["fields"]
    body = assert_error_shape(
        post(api_client(users["district_a"]), url, worker="nobody", start="2024-02-01"), 400
    )
    assert "worker" in body["error"]["fields"]
    assert (
        post(api_client(users["district_a"]), url, worker="t_worker_a2", start="2024-02-01").status_code
        == 201
    )
    assert post(api_client(users["city"]), url, worker="t_worker_a", start="2024-03-01").status_code == 201

    history_url = f"/api/v1/people/persons/{person.pk}/assignments"
    assert_error_shape(api_client(None).get(history_url), 401, "not_authenticated")
    for user in denied_everywhere(users):
        assert_error_shape(api_client(user).get(history_url), 404, "not_found")
    for key in ("worker_a", "street_a", "district_a", "city", "police_a"):
        response = api_client(users[key]).get(history_url)
        assert response.status_code == 200, (key, response.content)
    history = [(item["worker"], item["start"], item["end"]) for item in response.json()["items"]]
    assert history == [
        ("t_worker_a", "2024-03-01", None),
        ("t_worker_a2", "2024-02-01", "2024-03-01"),
        ("t_worker_a", "2024-01-10", "2024-02-01"),
    ]
    client = api_client(users["district_a"])
    with assert_max_queries(14) as few:  # 13 on SQLite; PostgreSQL adds the audit advisory lock
        client.get(history_url)
    for month in range(4, 10):
        worker = worker_a2 if month % 2 == 0 else users["worker_a"]
        casework.worker_assign(actor=None, person=person, worker=worker, start=dt.date(2024, month, 1))
    with assert_max_queries(len(few.captured_queries)):
        assert client.get(history_url).json()["count"] == 9


def test_api_caseloads_matrix_and_query_count(users, worker_a2):
    active_persons(31, worker=users["worker_a"])
    url = "/api/v1/people/caseloads"
    assert_error_shape(api_client(None).get(url), 401, "not_authenticated")
    for key in ("worker_a", "police_a", *ADMINS):
        assert_error_shape(api_client(users[key]).get(url), 403, "forbidden")
    response = api_client(users["district_b"]).get(url)
    assert response.status_code == 200
    assert (
        "t_worker_a" not in response.content.decode()
        and TREE_KEYS["street_a"] not in response.content.decode()
    )
    assert_error_shape(api_client(users["district_b"]).get(url, {"org_unit": TREE_KEYS["district_a"]}), 404)
    for key in ("street_a", "district_a", "city"):
        response = api_client(users[key]).get(url)
        assert response.status_code == 200, (key, response.content)
        workers = {row["username"]: row for row in response.json()["workers"]}
        assert workers["t_worker_a"]["active_persons"] == 31 and workers["t_worker_a"]["over_limit"] is True
        assert workers["t_worker_a2"]["active_persons"] == 0
    body = api_client(users["district_a"]).get(url, {"org_unit": TREE_KEYS["district_a"]}).json()
    streets = {row["code"]: row for row in body["streets"]}
    assert streets[TREE_KEYS["street_a"]] == {
        "code": TREE_KEYS["street_a"],
        "name": "南门街道",
        "active_persons": 31,
        "unassigned_persons": 0,
        "workers": 2,
        "ratio": 15.5,
        "max_persons": 30,
        "policy": PolicyVersion.objects.get(kind=casework.STAFFING_POLICY_KIND, region__isnull=True).label,
        "flag": "",
    }
    assert streets[TREE_KEYS["street_a2"]]["flag"] == "no_worker"

    client = api_client(users["city"])
    with assert_max_queries(16) as few:
        client.get(url)
    for number in range(4):
        make_user(f"t_worker_b{number}", Role.SOCIAL_WORKER, TREE_KEYS["community_b"])
    active_persons(5, TREE_KEYS["community_b"])
    with assert_max_queries(len(few.captured_queries)):
        assert len(client.get(url).json()["workers"]) == 6


def test_api_worker_summary_matrix(users, worker_a2):
    url = "/api/v1/people/workers/t_worker_a/summary"
    assert_error_shape(api_client(None).get(url, {"month": "2024-03"}), 401, "not_authenticated")
    for user in [users["district_b"], users["police_a"], worker_a2, *(users[key] for key in ADMINS)]:
        assert_error_shape(api_client(user).get(url, {"month": "2024-03"}), 404, "not_found")
        # A bad month does not reveal the worker either.
        assert_error_shape(api_client(user).get(url, {"month": "bad"}), 404, "not_found")
    for key in ("worker_a", "street_a", "district_a", "city"):
        response = api_client(users[key]).get(url, {"month": "2024-03"})
        assert response.status_code == 200, (key, response.content)
        assert response.json()["worker"] == "t_worker_a" and response.json()["month"] == "2024-03"
    body = assert_error_shape(api_client(users["district_a"]).get(url, {"month": "2024-13"}), 400)
    assert "month" in body["error"]["fields"]
    assert_error_shape(api_client(users["district_a"]).get("/api/v1/people/workers/t_street_a/summary"), 404)
    assert_error_shape(api_client(users["district_a"]).get("/api/v1/people/workers/nobody/summary"), 404)
    client = api_client(users["district_a"])
    with assert_max_queries(17):
        assert client.get(url, {"month": "2024-03"}).status_code == 200


# UI ------------------------------------------------------------------------------------------------------


def test_ui_caseload_and_summary_pages_matrix(users):
    active_persons(31, worker=users["worker_a"])
    assert_ui_matrix(
        list_url="/people/caseloads/",
        detail_url="/people/workers/t_worker_a/summary/?month=2024-03",
        marker="t_worker_a",
        allowed=[users["street_a"], users["district_a"], users["city"]],
        denied=[users["district_b"], users["police_a"], *(users[key] for key in ADMINS)],
    )
    page = ui_client(users["district_a"]).get("/people/caseloads/").content.decode()
    assert 'data-street="330203001" data-flag="over_ratio"' in page
    assert 'data-street="330203002" data-flag="no_worker"' in page
    assert page.count("bg-red") >= 3  # two flagged streets, the worker over the ratio (and the count)
    narrowed = ui_client(users["district_a"]).get("/people/caseloads/", {"org_unit": TREE_KEYS["street_a2"]})
    assert narrowed.status_code == 200 and "t_worker_a" not in narrowed.content.decode()
    assert (
        ui_client(users["district_b"])
        .get("/people/caseloads/", {"org_unit": TREE_KEYS["district_a"]})
        .status_code
        == 404
    )
    # Workers see their own summary, not the caseload page.
    assert ui_client(users["worker_a"]).get("/people/caseloads/").status_code == 403
    for person in active_persons(2):
        casework.worker_assign(
            actor=None, person=person, worker=users["worker_a"], start=timezone.localdate()
        )
    own = ui_client(users["worker_a"]).get("/people/workers/t_worker_a/summary/")
    assert own.status_code == 200 and 'data-testid="persons-assigned">2<' in own.content.decode()
    bad_month = ui_client(users["worker_a"]).get("/people/workers/t_worker_a/summary/", {"month": "2999-01"})
    assert (
        bad_month.status_code == 200 and timezone.localdate().strftime("%Y-%m") in bad_month.content.decode()
    )


def test_ui_person_page_shows_casework_and_offers_the_right_forms(users, person, worker_a2):
    casework.help_refer(
        actor=users["worker_a"], person=person, kind="welfare_post", referred_on=dt.date(2024, 3, 1)
    )
    casework.worker_assign(actor=None, person=person, worker=users["worker_a"], start=dt.date(2024, 3, 1))
    # The section is a fragment the person page loads with htmx.
    assert (
        f"/people/persons/{person.pk}/casework/"
        in ui_client(users["worker_a"]).get(f"/people/persons/{person.pk}/").content.decode()
    )
    url = f"/people/persons/{person.pk}/casework/"
    assert_ui_matrix(
        list_url=None,
        detail_url=url,
        marker='data-testid="help-measures"',
        allowed=[users["worker_a"], users["street_a"], users["district_a"]],
        denied=[users["district_b"], *(users[key] for key in ADMINS)],
    )
    worker_page = ui_client(users["worker_a"]).get(url).content.decode()
    assert 'data-testid="help-form"' in worker_page and 'data-testid="assign-form"' not in worker_page
    assert (
        "t_worker_a" in worker_page and f"/people/help/{HelpMeasure.objects.get().pk}/outcome/" in worker_page
    )
    office_page = ui_client(users["district_a"]).get(url).content.decode()
    assert 'data-testid="assign-form"' in office_page and 'value="t_worker_a2"' in office_page


def test_ui_forms_post_to_the_services(users, person, worker_a2):
    worker, office = ui_client(users["worker_a"]), ui_client(users["district_a"])
    back = f"/people/persons/{person.pk}/#casework"
    response = worker.post(
        f"/people/persons/{person.pk}/help/", {"kind": "legal_aid", "referred_on": "2024-03-01"}
    )
    assert response.status_code == 302 and response["Location"] == back
    measure = HelpMeasure.objects.get()
    response = worker.post(
        f"/people/persons/{person.pk}/help/", {"kind": "cash", "referred_on": "2024-03-01"}
    )
    assert response.status_code == 302 and HelpMeasure.objects.count() == 1  # the form refuses it
    assert "alert-danger" in worker.get(back.split("#")[0]).content.decode()
    response = worker.post(
        f"/people/help/{measure.pk}/outcome/", {"outcome": "failed", "outcome_on": "2024-02-01"}
    )
    assert response.status_code == 302
    measure.refresh_from_db()
    assert measure.outcome == "pending"  # refused: before the referral
    page = worker.get(back.split("#")[0]).content.decode()
    assert "2024-03-01" in page and "alert-danger" in page
    worker.post(f"/people/help/{measure.pk}/outcome/", {"outcome": "failed", "outcome_on": "2024-03-02"})
    measure.refresh_from_db()
    assert (measure.outcome, measure.outcome_on) == ("failed", dt.date(2024, 3, 2))

    assert (
        worker.post(
            f"/people/persons/{person.pk}/assignment/", {"worker": "t_worker_a", "start": "2024-03-01"}
        ).status_code
        == 403
    )
    response = office.post(
        f"/people/persons/{person.pk}/assignment/", {"worker": "t_worker_a2", "start": "2024-03-01"}
    )
    assert response.status_code == 302 and response["Location"] == back
    assert Person.objects.get(pk=person.pk).assigned_worker == worker_a2

    for user in (users["district_b"], users["sysadmin"]):
        client = ui_client(user)
        assert (
            client.post(
                f"/people/persons/{person.pk}/help/", {"kind": "legal_aid", "referred_on": "2024-03-01"}
            ).status_code
            == 404
        )
        assert (
            client.post(
                f"/people/help/{measure.pk}/outcome/", {"outcome": "failed", "outcome_on": "2024-03-02"}
            ).status_code
            == 404
        )
        assert (
            client.post(
                f"/people/persons/{person.pk}/assignment/", {"worker": "t_worker_a", "start": "2024-03-02"}
            ).status_code
            == 404
        )
    anonymous = ui_client(None).post(f"/people/persons/{person.pk}/help/", {"kind": "legal_aid"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert worker.get(f"/people/persons/{person.pk}/help/").status_code == 405
    assert HelpMeasure.objects.count() == 1 and WorkerAssignment.objects.count() == 1
