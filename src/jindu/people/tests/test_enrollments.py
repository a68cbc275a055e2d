"""Enrollment lifecycle: 决定送达 → 报到 (15 days) → 协议 → 期满解除, or 未报到 → 移交公安."""

from __future__ import annotations

import datetime as dt

import pytest

from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import api_client, assert_api_matrix, assert_error_shape
from jindu.people.models import Enrollment
from jindu.people.services import person_register
from jindu.people.tests.test_persons import MAN

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(users):
    return person_register(
        actor=users["district_a"], id_number=MAN, name="张三", residence_code="330203001001"
    ).person


def post(client, url, **payload):
    return client.post(url, payload, content_type="application/json")


def enroll(
    client, person, decision_date="2022-03-01", measure="community_treatment", org_unit="330203001001"
):
    return post(
        client,
        f"/api/v1/people/persons/{person.pk}/enrollments",
        measure=measure,
        decision_date=decision_date,
        org_unit=org_unit,
    )


def test_full_lifecycle_with_backdated_dates(users, person):
    client = api_client(users["worker_a"])
    response = enroll(client, person)
    assert response.status_code == 201, response.content
    enrollment_id = response.json()["id"]
    enrollment = Enrollment.objects.get(pk=enrollment_id)
    assert enrollment.status == "decided" and enrollment.report_deadline == dt.date(2022, 3, 16)

    reported = post(client, f"/api/v1/people/enrollments/{enrollment_id}/report", date="2022-03-16").json()
    assert reported["status"] == "reported" and reported["term_end"] == "2025-03-16"  # 3 years from 报到
    signed = post(client, f"/api/v1/people/enrollments/{enrollment_id}/agreement", date="2022-03-16").json()
    assert signed["status"] == "in_progress"
    early = post(client, f"/api/v1/people/enrollments/{enrollment_id}/release", date="2025-03-15")
    assert_error_shape(early, 409, "term_not_ended")
    released = post(client, f"/api/v1/people/enrollments/{enrollment_id}/release", date="2025-03-16").json()
    assert released["status"] == "released" and released["ended_on"] == "2025-03-16"
    transitions = AuditRecord.objects.filter(object_type="people.enrollment", object_id=str(enrollment_id))
    assert [r.detail.get("transition") for r in transitions.order_by("sequence")] == [
        None, "reported", "agreement", "released"
    ]  # fmt: skip


def test_reporting_after_fifteen_days_is_refused_and_leads_to_referral(users, person):
    client = api_client(users["worker_a"])
    enrollment_id = enroll(client, person).json()["id"]
    late = post(client, f"/api/v1/people/enrollments/{enrollment_id}/report", date="2022-03-17")
    assert_error_shape(late, 409, "report_deadline_passed")
    too_early = post(client, f"/api/v1/people/enrollments/{enrollment_id}/not-reported", date="2022-03-16")
    assert_error_shape(too_early, 409, "report_deadline_open")
    referred = post(
        client, f"/api/v1/people/enrollments/{enrollment_id}/not-reported", date="2022-03-17"
    ).json()
    assert referred["status"] == "not_reported"
    # A closed enrollment accepts no further transitions.
    assert_error_shape(
        post(client, f"/api/v1/people/enrollments/{enrollment_id}/report", date="2022-03-10"), 409
    )
    assert Enrollment.objects.get(pk=enrollment_id).reported_on is None


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"measure": "prison"}, 400, "measure"),
        ({"decision_date": "2999-01-01"}, 400, "decision_date"),
        ({"org_unit": "330213001"}, 400, "org_unit"),
        ({"org_unit": "330203"}, 400, "org_unit"),
    ],
)
def test_bad_enrollments_are_refused(users, person, changes, status, field):
    client = api_client(users["district_a"])
    body = assert_error_shape(enroll(client, person, **changes), status)
    assert field in body["error"]["fields"]
    assert not Enrollment.objects.exists()


def test_only_one_active_measure_at_a_time(users, person):
    client = api_client(users["district_a"])
    assert enroll(client, person).status_code == 201
    assert_error_shape(enroll(client, person, decision_date="2022-04-01"), 409, "active_measure_exists")


def test_report_before_the_decision_is_refused(users, person):
    client = api_client(users["worker_a"])
    enrollment_id = enroll(client, person).json()["id"]
    body = assert_error_shape(
        post(client, f"/api/v1/people/enrollments/{enrollment_id}/report", date="2022-02-28"), 400
    )
    assert "date" in body["error"]["fields"]


def test_enrollment_authorization_matrix(users, person):
    enrollment_id = enroll(api_client(users["district_a"]), person).json()["id"]
    assert_api_matrix(
        list_url=None,
        detail_url=f"/api/v1/people/enrollments/{enrollment_id}",
        marker=str(enrollment_id),
        allowed=[users["worker_a"], users["district_a"], users["city"], users["police_a"]],
        denied=[users["district_b"], users["sysadmin"], users["auditadmin"], users["enterprise"]],
    )
    # Writing needs the change permission in the capture scope: police may read, not record transitions.
    response = post(
        api_client(users["police_a"]), f"/api/v1/people/enrollments/{enrollment_id}/report", date="2022-03-02"
    )
    assert_error_shape(response, 404)
    response = post(
        api_client(users["district_b"]),
        f"/api/v1/people/enrollments/{enrollment_id}/report",
        date="2022-03-02",
    )
    assert_error_shape(response, 404)
    assert_error_shape(enroll(api_client(users["district_b"]), person), 404)
