"""The lifecycle and assessment steps offered on the person page (forms posting to the same services)."""

from __future__ import annotations

import datetime as dt

import pytest

from jindu.core.testing.helpers import ui_client
from jindu.people.models import Enrollment, RiskAssessment, Seizure
from jindu.people.services import person_register
from jindu.people.tests.test_persons import MAN

pytestmark = pytest.mark.django_db

COMMUNITY_A = "330203001001"


@pytest.fixture
def person(users):
    return person_register(actor=None, id_number=MAN, name="张三", residence_code=COMMUNITY_A).person


def act(client, person, action, **data):
    response = client.post(f"/people/persons/{person.pk}/actions/{action}/", data)
    return response


def messages_of(client, person):
    page = client.get(f"/people/persons/{person.pk}/").content.decode()
    return page


def test_a_worker_walks_the_lifecycle_from_the_page(users, person):
    worker = ui_client(users["worker_a"])
    panel = worker.get(f"/people/persons/{person.pk}/actions/").content.decode()
    assert 'data-action="enroll"' in panel and 'data-action="report"' not in panel
    assert 'data-action="abstinence"' not in panel  # the office assesses, not the worker
    response = act(
        worker,
        person,
        "enroll",
        measure="community_treatment",
        decision_date="2022-03-01",
        org_unit=COMMUNITY_A,
    )
    assert response.status_code == 302
    enrollment = Enrollment.objects.get(person=person)
    assert enrollment.status == "decided"
    assert 'data-action="report"' in worker.get(f"/people/persons/{person.pk}/actions/").content.decode()
    # A report after the deadline is refused with the service's message, nothing changes.
    act(worker, person, "report", date="2022-03-20")
    page = messages_of(worker, person)
    assert "2022-03-16" in page
    enrollment.refresh_from_db()
    assert enrollment.status == "decided"
    act(worker, person, "report", date="2022-03-10")
    act(worker, person, "agreement", date="2022-03-10")
    act(worker, person, "violation", kind="test_refusal", date="2022-04-01")
    act(worker, person, "suspend", date="2022-05-01", reason="行政拘留")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.violations.count()) == ("suspended", 1)
    act(worker, person, "resume", date="2022-05-15")
    act(worker, person, "seizure", date="2022-06-01", note="")
    enrollment.refresh_from_db()
    assert enrollment.status == "in_progress" and Seizure.objects.filter(person=person).count() == 1
    assert [e.kind for e in enrollment.events.order_by("date", "id")] == [
        "decided",
        "reported",
        "agreement",
        "suspended",
        "resumed",
    ]
    risk = {
        "date": "2022-06-02",
        "factor_substance": "synthetic",
        "factor_severity": "addicted",
        "factor_behaviour": "violations",
        "factor_treatments": "none",
        "factor_abstinence": "under_1y",
        "factor_family": "supportive",
        "factor_employment": "employed",
        "final_color": "yellow",
        "trigger": "scheduled",
        "override_reason": "",
    }
    act(worker, person, "risk", **risk)  # 55 points suggest orange: a different colour needs a reason
    assert not RiskAssessment.objects.exists()
    act(worker, person, "risk", **{**risk, "override_reason": "家庭支持良好，已就业"})
    assessment = RiskAssessment.objects.get()
    assert (assessment.total, assessment.suggested_color, assessment.final_color) == (55, "orange", "yellow")


def test_steps_are_for_writers_of_the_scope_only(users, person):
    before = Enrollment.objects.count()
    for user in ("district_b", "police_a", "sysadmin"):
        client = ui_client(users[user])
        response = act(
            client,
            person,
            "enroll",
            measure="community_treatment",
            decision_date="2022-03-01",
            org_unit=COMMUNITY_A,
        )
        assert response.status_code in (403, 404), user
        assert client.get(f"/people/persons/{person.pk}/actions/").status_code in (403, 404), user
    assert Enrollment.objects.count() == before
    assert (
        ui_client(users["worker_a"]).post(f"/people/persons/{person.pk}/actions/nonsense/").status_code == 404
    )
    anonymous = ui_client(None).post(f"/people/persons/{person.pk}/actions/enroll/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    # The office sees the abstinence assessment; a worker who posts it anyway is refused.
    assert (
        'data-action="abstinence"'
        in ui_client(users["street_a"]).get(f"/people/persons/{person.pk}/actions/").content.decode()
    )
    refused = act(
        ui_client(users["worker_a"]), person, "abstinence", date="2022-03-01", outcome="abstinent_3y"
    )
    assert refused.status_code == 403
    assert dt.date.today() >= dt.date(2022, 3, 1)
