"""Recording drug tests and contacts: only under a measure in force, never in the future, audited."""

from __future__ import annotations

import pytest

from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import api_client, assert_error_shape
from jindu.people.models import Contact, DrugTest
from jindu.people.services import person_register
from jindu.people.tests.test_enrollments import enroll, post
from jindu.people.tests.test_persons import MAN

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolled(users):
    person = person_register(
        actor=users["district_a"], id_number=MAN, name="张三", residence_code="330203001001"
    ).person
    client = api_client(users["worker_a"])
    enrollment_id = enroll(client, person, decision_date="2023-01-10").json()["id"]
    post(client, f"/api/v1/people/enrollments/{enrollment_id}/report", date="2023-01-20")
    return person, client


def test_tests_and_contacts_are_recorded_under_the_measure(enrolled):
    person, client = enrolled
    response = post(
        client,
        f"/api/v1/people/persons/{person.pk}/tests",
        kind="urine",
        sample_date="2023-02-01",
        result="negative",
    )
    assert response.status_code == 201, response.content
    test = DrugTest.objects.get(pk=response.json()["id"])
    assert test.enrollment.person_id == person.pk and test.org_unit.code == "330203001001"
    response = post(client, f"/api/v1/people/persons/{person.pk}/contacts", kind="visit", date="2023-02-03")
    assert response.status_code == 201
    assert Contact.objects.get(pk=response.json()["id"]).kind == "visit"


def test_a_positive_result_is_audited_as_relapse(enrolled):
    person, client = enrolled
    response = post(
        client, f"/api/v1/people/persons/{person.pk}/tests",
        kind="hair", sample_date="2023-06-01", result="positive", substances=["methamphetamine"],
    )  # fmt: skip
    record = AuditRecord.objects.get(object_type="people.drugtest", object_id=str(response.json()["id"]))
    assert record.detail["relapse"] is True and record.detail["result"] == "positive"


@pytest.mark.parametrize(
    ("url_part", "payload", "field"),
    [
        ("tests", {"kind": "urine", "sample_date": "2022-12-31", "result": "negative"}, "sample_date"),
        ("tests", {"kind": "urine", "sample_date": "2999-01-01", "result": "negative"}, "sample_date"),
        ("tests", {"kind": "blood", "sample_date": "2023-02-01", "result": "negative"}, "kind"),
        ("tests", {"kind": "urine", "sample_date": "2023-02-01", "result": "maybe"}, "result"),
        ("contacts", {"kind": "visit", "date": "2023-01-09"}, "date"),
        ("contacts", {"kind": "letter", "date": "2023-02-01"}, "kind"),
    ],
)
def test_bad_records_are_refused(enrolled, url_part, payload, field):
    person, client = enrolled
    body = assert_error_shape(post(client, f"/api/v1/people/persons/{person.pk}/{url_part}", **payload), 400)
    assert field in body["error"]["fields"]
    assert not DrugTest.objects.exists() and not Contact.objects.exists()


def test_only_the_capture_scope_records(enrolled, users):
    person, _ = enrolled
    for key in ("district_b", "police_a", "sysadmin"):
        response = post(
            api_client(users[key]),
            f"/api/v1/people/persons/{person.pk}/contacts",
            kind="visit",
            date="2023-02-03",
        )
        assert_error_shape(response, 404)
    assert not Contact.objects.exists()
