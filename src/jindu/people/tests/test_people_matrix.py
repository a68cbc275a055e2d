"""The authorization matrix of every people endpoint and page, and 无感化 end to end (issue 3, point 2).

For every write: anonymous 401 (pages: the login redirect), the wrong district, police and the
administrator roles are refused and nothing changes in the database, the worker of the capture scope
succeeds. For every read: anonymous 401, outsiders 404 (or 403 for role-wide lists), the managers and
police of the district 200. A sealed (无感化) person is gone from every list and every detail, and only
the district office of the owner org unit opens it, after breaking the glass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from jindu.core.models import AuditRecord, BreakGlassGrant
from jindu.core.testing.helpers import (
    api_client,
    assert_api_matrix,
    assert_error_shape,
    assert_ui_matrix,
    ui_client,
)
from jindu.people.evaluation import add_years
from jindu.people.models import Contact, DrugTest, Enrollment, Person, PersonState, WorklistItem
from jindu.people.nightly import evaluation_run
from jindu.people.policies import ABSTINENCE_POLICY, DEFAULT_ABSTINENCE_POLICY, PolicyBook
from jindu.people.services import (
    abstinence_assess,
    enrollment_create,
    enrollment_release,
    enrollment_report,
    enrollment_sign_agreement,
    enrollment_suspend,
    enrollment_transfer,
    person_register,
)
from jindu.people.tests.test_persons import MAN, WOMAN, valid_id

pytestmark = pytest.mark.django_db

API = "/api/v1/people"
ADMINS = ("sysadmin", "secadmin", "auditadmin")
EVERYONE = (
    "sysadmin", "secadmin", "auditadmin", "city", "district_a", "district_b",
    "street_a", "worker_a", "police_a", "enterprise",
)  # fmt: skip
# Those who manage (or, for police, may read) a person of community_a; and those who may not see it.
READERS = ("worker_a", "street_a", "district_a", "city", "police_a")
OUTSIDERS = ("district_b", *ADMINS, "enterprise")
# Those who must not write about a person of community_a (police reads but never writes).
NON_WRITERS = ("district_b", "police_a", *ADMINS, "enterprise")

FIRST_FOUND = dt.date(2021, 6, 1)
DECIDED = dt.date(2022, 3, 1)  # report deadline 2022-03-16
REPORTED = dt.date(2022, 3, 10)  # the 36-month term ends on 2025-03-10
COMMUNITY_A = "330203001001"
STREET_A2 = "330203002"


def post(client: Client, url: str, payload: dict[str, Any]) -> Any:
    return client.post(url, payload, content_type="application/json")


def db_state() -> dict[str, Any]:
    """Everything a write of the people app could change: row counts of every people model, the lifecycle
    columns of persons and enrollments, people audit records and break-the-glass grants."""
    state: dict[str, Any] = {
        model._meta.label: model._default_manager.count()
        for model in apps.get_app_config("people").get_models()
    }
    state["persons"] = sorted(
        Person.objects.values_list("pk", "control_status", "org_unit_id", "sealed", "assigned_worker_id")
    )
    state["enrollments"] = sorted(
        Enrollment.objects.values_list("pk", "status", "org_unit_id", "reported_on", "ended_on", "sealed")
    )
    state["audit"] = AuditRecord.objects.filter(object_type__startswith="people.").count()
    state["grants"] = BreakGlassGrant.objects.count()
    return state


def make_case(users: dict, state: str | None) -> tuple[Person | None, Enrollment | None]:
    """A person of community_a (found 2021-06-01) whose 社区戒毒 is in ``state``; for "transferring" the
    case was executed in another street and is being transferred to community_a (the worker's)."""
    if state is None:
        return None, None
    office = users["district_a"]
    residence = STREET_A2 if state == "transferring" else COMMUNITY_A
    person = person_register(
        actor=office, id_number=MAN, name="张三", residence_code=residence, first_found_date=FIRST_FOUND
    ).person
    if state == "registered":
        return person, None
    enrollment = enrollment_create(
        actor=office,
        person=person,
        measure="community_treatment",
        decision_date=DECIDED,
        org_unit_code=residence,
    )
    if state != "decided":
        enrollment_report(actor=office, enrollment=enrollment, date=REPORTED)
    if state not in ("decided", "reported"):
        enrollment_sign_agreement(actor=office, enrollment=enrollment, date=REPORTED)
    if state == "transferring":
        enrollment_transfer(
            actor=office, enrollment=enrollment, org_unit_code=COMMUNITY_A, date=dt.date(2022, 4, 1)
        )
    if state == "suspended":
        enrollment_suspend(actor=office, enrollment=enrollment, date=dt.date(2022, 4, 1), reason="行政拘留")
    person.refresh_from_db()
    enrollment.refresh_from_db()
    return person, enrollment


# Writes -----------------------------------------------------------------------------------------------

GREEN_ANSWERS = {
    "substance": "other", "severity": "occasional", "behaviour": "compliant", "treatments": "none",
    "abstinence": "over_3y", "family": "supportive", "employment": "employed",
}  # fmt: skip


@dataclass(frozen=True)
class Write:
    """One write endpoint: the state it is valid in, its payload, and who succeeds with which status."""

    name: str
    state: str | None
    url: str
    payload: dict[str, Any]
    ok: int
    writers: tuple[str, ...] = ("worker_a",)
    result: dict[str, Any] = field(default_factory=dict)

    def path(self, person: Person | None, enrollment: Enrollment | None) -> str:
        return API + self.url.format(
            person=person.pk if person else 0, enrollment=enrollment.pk if enrollment else 0
        )

    def denial(self, key: str) -> tuple[int, str]:
        """What a user who may not write gets."""
        if self.name == "abstinence-assessments" and key != "district_b":
            # The permission is checked first: neither the worker nor a role without it learns more.
            return 403, "forbidden"
        if self.name == "register" and key == "district_b":
            # Nothing to hide: the residence simply lies outside the office's capture scope.
            return 400, "invalid"
        return 404, "not_found"


WRITES = [
    Write(
        "register", None, "/persons",
        {"id_number": WOMAN, "name": "李四", "residence": COMMUNITY_A, "first_found_date": "2022-01-05"}, 201,
    ),
    Write(
        "enrollments", "registered", "/persons/{person}/enrollments",
        {"measure": "community_treatment", "decision_date": "2022-03-01", "org_unit": COMMUNITY_A}, 201,
    ),
    Write("report", "decided", "/enrollments/{enrollment}/report", {"date": "2022-03-10"}, 200,
          result={"status": "reported", "reported_on": "2022-03-10"}),
    Write("agreement", "reported", "/enrollments/{enrollment}/agreement", {"date": "2022-03-10"}, 200,
          result={"status": "in_progress"}),
    Write("not-reported", "decided", "/enrollments/{enrollment}/not-reported", {"date": "2022-03-17"}, 200,
          result={"status": "not_reported"}),
    Write("release", "in_progress", "/enrollments/{enrollment}/release", {"date": "2025-03-10"}, 200,
          result={"status": "released", "ended_on": "2025-03-10"}),
    Write("leave", "in_progress", "/enrollments/{enrollment}/leave",
          {"start": "2022-04-01", "end": "2022-04-05", "destination": "杭州"}, 201),
    Write("transfer", "in_progress", "/enrollments/{enrollment}/transfer",
          {"date": "2022-04-01", "org_unit": STREET_A2}, 200,
          result={"status": "transferring", "org_unit": STREET_A2}),
    Write("transfer-report", "transferring", "/enrollments/{enrollment}/transfer-report",
          {"date": "2022-04-05"}, 200, result={"status": "in_progress", "org_unit": COMMUNITY_A}),
    Write("suspend", "in_progress", "/enrollments/{enrollment}/suspend",
          {"date": "2022-04-01", "reason": "行政拘留"}, 200, result={"status": "suspended"}),
    Write("resume", "suspended", "/enrollments/{enrollment}/resume", {"date": "2022-04-15"}, 200,
          result={"status": "in_progress"}),
    Write("violations", "in_progress", "/enrollments/{enrollment}/violations",
          {"kind": "test_refusal", "date": "2022-04-01"}, 201, result={"test_violations": 1, "serious": False}),
    Write("refer", "in_progress", "/enrollments/{enrollment}/refer",
          {"date": "2022-04-01", "reason": "严重违反协议"}, 200, result={"status": "referred"}),
    Write("terminate", "in_progress", "/enrollments/{enrollment}/terminate",
          {"date": "2022-04-01", "reason": "被判处有期徒刑"}, 200, result={"status": "terminated"}),
    Write("tests", "in_progress", "/persons/{person}/tests",
          {"kind": "urine", "sample_date": "2022-04-01", "result": "negative"}, 201),
    Write("contacts", "in_progress", "/persons/{person}/contacts", {"kind": "visit", "date": "2022-04-01"}, 201),
    Write("seizures", "registered", "/persons/{person}/seizures", {"date": "2022-01-01"}, 201),
    Write("addiction-findings", "registered", "/persons/{person}/addiction-findings",
          {"conclusion": "addicted", "date": "2022-01-02", "officers": ["王警官", "李警官"]}, 201),
    Write("risk-assessments", "in_progress", "/persons/{person}/risk-assessments",
          {"date": "2022-04-01", "answers": GREEN_ANSWERS, "final_color": "green"}, 201,
          result={"suggested_color": "green", "final_color": "green"}),
    # 戒断三年 and 无感化 are the office's to confirm; ``not_confirmed`` is valid for anyone with an anchor.
    Write("abstinence-assessments", "registered", "/persons/{person}/abstinence-assessments",
          {"date": "2022-06-01", "outcome": "not_confirmed"}, 201, writers=("street_a", "district_a")),
]  # fmt: skip


@pytest.mark.parametrize("write", WRITES, ids=[write.name for write in WRITES])
def test_write_matrix(users, write):
    person, enrollment = make_case(users, write.state)
    url = write.path(person, enrollment)
    refused = [key for key in (*NON_WRITERS, "worker_a") if key not in write.writers]
    clients = {key: api_client(users[key]) for key in (*refused, *write.writers)}
    before = db_state()

    assert_error_shape(post(Client(), url, write.payload), 401, "not_authenticated")
    for key in refused:
        status, code = write.denial(key)
        body = assert_error_shape(post(clients[key], url, write.payload), status, code)
        if status == 400:
            assert "residence" in body["error"]["fields"], body
    assert db_state() == before, "a refused write changed the database"

    for key in write.writers:
        response = post(clients[key], url, write.payload)
        assert response.status_code == write.ok, (key, response.status_code, response.content[:400])
        body = response.json()
        assert {name: body.get(name) for name in write.result} == write.result, body
        after = db_state()
        assert after != before, f"{key}: {write.name} answered {write.ok} but changed nothing"
        before = after


def test_a_neighbouring_street_is_as_foreign_as_another_district(users):
    """A person of street_a2 (same district): street_a and its worker neither read nor write it; the
    district office does both."""
    person = person_register(
        actor=users["district_a"],
        id_number=MAN,
        name="张三",
        residence_code=STREET_A2,
        first_found_date=FIRST_FOUND,
    ).person
    url = f"{API}/persons/{person.pk}"
    for key in ("street_a", "worker_a"):
        client = api_client(users[key])
        before = db_state()
        assert_error_shape(post(client, f"{url}/seizures", {"date": "2022-01-01"}), 404, "not_found")
        assert db_state() == before
    # street_a searches only its own street; the worker may search street_a, not street_a2.
    assert_error_shape(api_client(users["street_a"]).get(url), 404, "not_found")
    assert_error_shape(api_client(users["worker_a"]).get(url), 404, "not_found")
    office = api_client(users["district_a"])
    assert office.get(url).status_code == 200
    assert post(office, f"{url}/seizures", {"date": "2022-01-01"}).status_code == 201


# Reads ------------------------------------------------------------------------------------------------


def test_read_endpoint_matrix(users):
    person, enrollment = make_case(users, "in_progress")
    allowed = [users[key] for key in READERS]
    denied = [users[key] for key in OUTSIDERS]
    assert_api_matrix(
        list_url=f"{API}/persons",
        detail_url=f"{API}/persons/{person.pk}",
        marker=str(person.pk),
        allowed=allowed,
        denied=denied,
    )
    assert_api_matrix(
        list_url=None,
        detail_url=f"{API}/enrollments/{enrollment.pk}",
        marker=str(enrollment.pk),
        allowed=allowed,
        denied=denied,
    )
    status_url = f"{API}/persons/{person.pk}/status?as_of=2022-04-20"
    assert_api_matrix(
        list_url=None, detail_url=status_url, marker=str(person.pk), allowed=allowed, denied=denied
    )
    # Police read the status of a person of their district (and nothing of the content is hidden from them).
    body = api_client(users["police_a"]).get(status_url).json()
    assert (body["person"], body["control_status"], body["measure"]) == (
        person.pk, "under_measure", "community_treatment"
    )  # fmt: skip
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert_error_shape(
        api_client(users["worker_a"]).get(f"{API}/persons/{person.pk}/status?as_of={tomorrow}"),
        400,
        "invalid",
    )
    reads = AuditRecord.objects.filter(action="READ", object_type="people.person", object_id=str(person.pk))
    assert set(reads.values_list("actor_username", flat=True)) == {users[key].username for key in READERS}
    # Writes are another matter: police read but never write (see test_write_matrix for every endpoint).
    assert_error_shape(
        post(
            api_client(users["police_a"]),
            f"{API}/persons/{person.pk}/contacts",
            {"kind": "visit", "date": "2022-04-01"},
        ),
        404,
        "not_found",
    )


def _worklist_people(response: Any) -> set[int]:
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return {item["person"] for item in response.json()["items"]}


def test_worklist_matrix(users):
    person, _ = make_case(users, "in_progress")
    url = f"{API}/worklist?as_of=2022-04-20"
    assert_error_shape(Client().get(url), 401, "not_authenticated")
    for key in (*ADMINS, "enterprise"):
        assert_error_shape(api_client(users[key]).get(url), 403, "forbidden")
    assert person.pk not in _worklist_people(api_client(users["district_b"]).get(url))
    for key in READERS:
        assert person.pk in _worklist_people(api_client(users[key]).get(url)), key
    # Filters cannot reach outside the scope, nor name what does not exist.
    district_b = api_client(users["district_b"])
    assert_error_shape(district_b.get(f"{url}&org_unit={COMMUNITY_A}"), 404, "not_found")
    assert_error_shape(district_b.get(f"{url}&org_unit=999999"), 404, "not_found")
    assert_error_shape(district_b.get(f"{url}&worker=nobody"), 404, "not_found")
    assert person.pk in _worklist_people(api_client(users["street_a"]).get(f"{url}&org_unit={COMMUNITY_A}"))
    searches = AuditRecord.objects.filter(action="SEARCH", object_type="people.worklist")
    assert searches.filter(actor_username=users["worker_a"].username).exists()


def test_worklist_worker_filter_reveals_no_account_outside_the_scope(users):
    """Outside the scope is indistinguishable from missing: a worker of another district is as unknown to
    the worker filter as a username that does not exist (no enumeration of accounts)."""
    url = f"{API}/worklist?as_of=2022-04-20"
    district_b = api_client(users["district_b"])
    assert_error_shape(district_b.get(f"{url}&worker=nobody"), 404, "not_found")
    assert_error_shape(district_b.get(f"{url}&worker={users['worker_a'].username}"), 404, "not_found")


# Pages ------------------------------------------------------------------------------------------------


def test_person_pages_matrix(users):
    person, _ = make_case(users, "in_progress")
    assert_ui_matrix(
        list_url="/people/persons/",
        detail_url=f"/people/persons/{person.pk}/",
        marker=person.id_number_masked,
        allowed=[users[key] for key in READERS],
        denied=[users[key] for key in OUTSIDERS],
    )
    # The list is a people page: roles without the permission are refused outright.
    for key in (*ADMINS, "enterprise"):
        assert ui_client(users[key]).get("/people/persons/").status_code == 403, key


def test_worklist_page_matrix(users):
    person, _ = make_case(users, "in_progress")
    url = "/people/worklist/?as_of=2022-04-20"
    marker = f'data-person="{person.pk}"'
    response = Client().get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    for key in (*ADMINS, "enterprise"):
        assert ui_client(users[key]).get(url).status_code == 403, key
    response = ui_client(users["district_b"]).get(url)
    assert response.status_code == 200 and marker not in response.content.decode()
    for key in READERS:
        response = ui_client(users[key]).get(url)
        assert response.status_code == 200 and marker in response.content.decode(), key


def test_register_page_matrix(users):
    url = "/people/persons/new/"
    form = {"id_number": WOMAN, "name": "李四", "residence": COMMUNITY_A, "phone": ""}
    for method in ("get", "post"):
        response = getattr(Client(), method)(url, form if method == "post" else None)
        assert response.status_code == 302 and "/login/" in response["Location"], method
    for key in ("police_a", *ADMINS, "enterprise"):
        client = ui_client(users[key])
        assert client.get(url).status_code == 403, key
        assert client.post(url, form).status_code == 403, key
    # The wrong district sees the form, but may not register a resident of another district.
    response = ui_client(users["district_b"]).post(url, form)
    assert response.status_code == 200 and "330203001001" in response.content.decode()
    assert not Person.objects.exists()
    response = ui_client(users["worker_a"]).post(url, form)
    person = Person.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/people/persons/{person.pk}/"


@pytest.mark.parametrize(
    ("page", "model", "form"),
    [
        ("tests", DrugTest, {"kind": "urine", "sample_date": "2022-04-01", "result": "negative"}),
        ("contacts", Contact, {"kind": "visit", "date": "2022-04-01"}),
    ],
)
def test_record_pages_matrix(users, page, model, form):
    person, _ = make_case(users, "in_progress")
    url = f"/people/persons/{person.pk}/{page}/"
    before = db_state()
    response = Client().post(url, form)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert ui_client(users["worker_a"]).get(url).status_code == 405
    for key in NON_WRITERS:
        assert ui_client(users[key]).post(url, form).status_code == 404, key
    assert db_state() == before
    response = ui_client(users["worker_a"]).post(url, form)
    assert response.status_code == 302 and response["Location"] == f"/people/persons/{person.pk}/"
    assert model.objects.filter(person=person).count() == 1


# 无感化 end to end ----------------------------------------------------------------------------------------

FOUND = dt.date(2012, 1, 1)
DECISION = dt.date(2013, 1, 5)
REPORT = dt.date(2013, 1, 10)  # the 36-month term ends on 2016-01-10
RELEASE = dt.date(2016, 1, 10)  # the abstinence anchor (the end of the treatment measure)
ABSTINENT_ON = add_years(RELEASE, DEFAULT_ABSTINENCE_POLICY["abstinent_years"])
NO_CONTACT_ON = add_years(RELEASE, DEFAULT_ABSTINENCE_POLICY["no_contact_years"])
DAY = dt.timedelta(days=1)
REASON = "当事人申请复核无感化前的戒毒记录"


def released_case(users: dict) -> tuple[Person, Enrollment]:
    """A person found in 2012, under 社区戒毒 2013–2016, then under 社会面管控 (the worker does all of it)."""
    worker = users["worker_a"]
    person = person_register(
        actor=worker, id_number=MAN, name="张三", residence_code=COMMUNITY_A, first_found_date=FOUND
    ).person
    enrollment = enrollment_create(
        actor=worker,
        person=person,
        measure="community_treatment",
        decision_date=DECISION,
        org_unit_code=COMMUNITY_A,
    )
    enrollment_report(actor=worker, enrollment=enrollment, date=REPORT)
    enrollment_sign_agreement(actor=worker, enrollment=enrollment, date=REPORT)
    enrollment_release(actor=worker, enrollment=enrollment, date=RELEASE)
    person.refresh_from_db()
    return person, enrollment


@pytest.fixture
def sealed(users):
    person, treatment = released_case(users)
    abstinence_assess(actor=users["street_a"], person=person, date=ABSTINENT_ON, outcome="abstinent_3y")
    abstinence_assess(actor=users["street_a"], person=person, date=NO_CONTACT_ON, outcome="no_contact")
    person.refresh_from_db()
    assert person.sealed
    return person, list(Enrollment.objects.filter(person=person).order_by("pk"))


def test_the_district_office_confirms_when_eligible_on_the_dates_of_the_policy(users):
    assert (dt.date(2019, 1, 10), dt.date(2024, 1, 10)) == (ABSTINENT_ON, NO_CONTACT_ON)
    person, _ = released_case(users)
    # The shipped version is in force for the person on both days (no regional override in the test tree).
    book = PolicyBook()
    for day in (ABSTINENT_ON, NO_CONTACT_ON):
        assert book.resolve(ABSTINENCE_POLICY, person.org_path, day).payload == DEFAULT_ABSTINENCE_POLICY
    url = f"{API}/persons/{person.pk}/abstinence-assessments"
    payload = {"date": ABSTINENT_ON.isoformat(), "outcome": "abstinent_3y"}
    for key, status in (("worker_a", 403), ("police_a", 403), ("enterprise", 403), ("district_b", 404)):
        assert_error_shape(post(api_client(users[key]), url, payload), status)
    response = post(api_client(users["district_a"]), url, payload)
    assert response.status_code == 201, response.content
    person.refresh_from_db()
    assert person.control_status == "abstinent_3y" and not person.sealed


def test_sealing_end_to_end(users):
    worker, office = api_client(users["worker_a"]), api_client(users["street_a"])
    response = post(
        worker,
        f"{API}/persons",
        {"id_number": MAN, "name": "张三", "residence": COMMUNITY_A, "first_found_date": FOUND.isoformat()},
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    response = post(
        worker,
        f"{API}/persons/{pk}/enrollments",
        {"measure": "community_treatment", "decision_date": DECISION.isoformat(), "org_unit": COMMUNITY_A},
    )
    assert response.status_code == 201, response.content
    treatment = response.json()["id"]
    for step, day in (("report", REPORT), ("agreement", REPORT)):
        response = post(worker, f"{API}/enrollments/{treatment}/{step}", {"date": day.isoformat()})
        assert response.status_code == 200, (step, response.content)
    assert_error_shape(
        post(worker, f"{API}/enrollments/{treatment}/release", {"date": (RELEASE - DAY).isoformat()}),
        409,
        "term_not_ended",
    )
    released = post(worker, f"{API}/enrollments/{treatment}/release", {"date": RELEASE.isoformat()}).json()
    assert (released["status"], released["ended_on"]) == ("released", RELEASE.isoformat())
    social = Enrollment.objects.get(person_id=pk, measure="social_control")

    def status(on: dt.date) -> dict:
        response = worker.get(f"{API}/persons/{pk}/status?as_of={on.isoformat()}")
        assert response.status_code == 200, response.content
        return response.json()

    before = status(ABSTINENT_ON - DAY)
    assert (before["control_status"], before["abstinence_anchor"], before["anchor_kind"]) == (
        "social_control", RELEASE.isoformat(), "measure_end"
    )  # fmt: skip
    assert before["abstinent_3y"] == "almost" and status(ABSTINENT_ON)["abstinent_3y"] == "eligible"

    # 戒断三年: the office confirms, not the worker; not a day early.
    url = f"{API}/persons/{pk}/abstinence-assessments"
    assert_error_shape(
        post(worker, url, {"date": ABSTINENT_ON.isoformat(), "outcome": "abstinent_3y"}), 403, "forbidden"
    )
    assert_error_shape(
        post(office, url, {"date": (ABSTINENT_ON - DAY).isoformat(), "outcome": "abstinent_3y"}),
        409,
        "not_eligible",
    )
    assert post(office, url, {"date": ABSTINENT_ON.isoformat(), "outcome": "abstinent_3y"}).status_code == 201
    assert status(ABSTINENT_ON)["control_status"] == "abstinent_3y"
    social.refresh_from_db()
    assert (social.status, social.ended_on) == ("released", ABSTINENT_ON)

    # Before sealing the person is on the worklist (stored items of a run, and live), almost eligible.
    evaluation_run(NO_CONTACT_ON - DAY)
    stored = f"{API}/worklist?as_of={(NO_CONTACT_ON - DAY).isoformat()}"
    assert pk in _worklist_people(worker.get(stored))
    assert WorklistItem.objects.filter(person_id=pk, item="no_contact", kind="almost_eligible").exists()
    assert pk in _worklist_people(
        worker.get(f"{API}/worklist?as_of={(NO_CONTACT_ON - 30 * DAY).isoformat()}")
    )

    # 无感化: the office, not a day before the longer period, not by the worker.
    assert_error_shape(
        post(worker, url, {"date": NO_CONTACT_ON.isoformat(), "outcome": "no_contact"}), 403, "forbidden"
    )
    assert_error_shape(
        post(office, url, {"date": (NO_CONTACT_ON - DAY).isoformat(), "outcome": "no_contact"}),
        409,
        "not_eligible",
    )
    assert not Person.objects.get(pk=pk).sealed
    assert post(office, url, {"date": NO_CONTACT_ON.isoformat(), "outcome": "no_contact"}).status_code == 201

    person = Person.objects.get(pk=pk)
    assert person.sealed and person.control_status == "no_contact" and person.assigned_worker_id is None
    for model in apps.get_app_config("people").get_models():
        if hasattr(model, "sealed") and hasattr(model, "person_id") and model is not Person:
            assert not model._default_manager.filter(person_id=pk, sealed=False).exists(), model
    assert not PersonState.objects.filter(person_id=pk).exists()
    assert not WorklistItem.objects.filter(person_id=pk).exists()
    assert pk not in _worklist_people(worker.get(stored))
    assert_error_shape(worker.get(f"{API}/persons/{pk}"), 404, "not_found")
    assert_error_shape(worker.get(f"{API}/persons/{pk}/status"), 404, "not_found")


def test_sealed_person_is_in_no_list(users, sealed):
    person, _ = sealed
    marker = person.id_number_masked
    for key in EVERYONE:
        client = api_client(users[key])
        for query in ("", f"?id_number={MAN}", "?name=张三"):
            response = client.get(f"{API}/persons{query}")
            assert response.status_code in (200, 403), (key, response.status_code)
            if response.status_code == 200:
                assert person.pk not in [item["id"] for item in response.json()["items"]], (key, query)
    today = timezone.localdate()
    days = (
        DECISION + 20 * DAY,
        RELEASE + 30 * DAY,
        ABSTINENT_ON - DAY,
        NO_CONTACT_ON - DAY,
        NO_CONTACT_ON,
        today,
    )
    for key in READERS:
        client = api_client(users[key])
        for day in days:
            assert person.pk not in _worklist_people(client.get(f"{API}/worklist?as_of={day.isoformat()}")), (
                key, day
            )  # fmt: skip
        # Neither does the page show it.
        for url in ("/people/persons/", f"/people/worklist/?as_of={(NO_CONTACT_ON - DAY).isoformat()}"):
            response = ui_client(users[key]).get(url)
            assert response.status_code == 200, (key, url)
            assert marker not in response.content.decode() and f'data-person="{person.pk}"' not in (
                response.content.decode()
            ), (key, url)
    # Nor does tonight's run bring it back.
    evaluation_run(today)
    assert not WorklistItem.objects.filter(person=person).exists()
    for key in READERS:
        assert person.pk not in _worklist_people(api_client(users[key]).get(f"{API}/worklist")), key


def test_sealed_person_opens_only_for_the_district_office_through_break_the_glass(users, sealed):
    person, enrollments = sealed
    url = f"{API}/persons/{person.pk}"
    for key in ("worker_a", "street_a", "police_a", "city", *OUTSIDERS):
        client = api_client(users[key])
        assert_error_shape(client.get(url), 404, "not_found")
        assert_error_shape(client.get(f"{url}/status"), 404, "not_found")
        for enrollment in enrollments:
            assert_error_shape(client.get(f"{API}/enrollments/{enrollment.pk}"), 404, "not_found")
    assert_error_shape(Client().get(url), 401, "not_authenticated")
    # The pages answer alike.
    for key in ("worker_a", "street_a", "police_a", "city", "district_b"):
        assert ui_client(users[key]).get(f"/people/persons/{person.pk}/").status_code == 404, key

    # Nobody but the district office of the owner org unit can even break the glass.
    glass = {"object_type": "people.person", "object_id": str(person.pk), "reason": REASON}
    for key in ("district_b", "worker_a", "street_a", "police_a", "city"):
        assert_error_shape(post(api_client(users[key]), "/api/v1/break-glass", glass), 404, "not_found")
    assert not BreakGlassGrant.objects.exists()

    office = api_client(users["district_a"])
    body = assert_error_shape(office.get(url), 403, "break_glass_required")
    assert body["error"]["fields"] == {"object_type": "people.person", "object_id": str(person.pk)}
    assert_error_shape(office.get(f"{url}/status"), 403, "break_glass_required")
    response = ui_client(users["district_a"]).get(f"/people/persons/{person.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/break-glass/?")
    assert (
        not AuditRecord.objects.filter(action="READ", object_type="people.person", object_id=str(person.pk))
        .filter(actor_username=users["district_a"].username)
        .exists()
    )
    assert_error_shape(
        post(office, "/api/v1/break-glass", {**glass, "reason": "看看"}), 400, "reason_required"
    )

    response = post(office, "/api/v1/break-glass", glass)
    assert response.status_code == 201, response.content
    response = office.get(url)
    assert response.status_code == 200, response.content
    assert response.json()["id_number"] == person.id_number_masked
    assert office.get(f"{url}/status").json()["control_status"] == "no_contact"
    assert ui_client(users["district_a"]).get(f"/people/persons/{person.pk}/").status_code == 200
    trail = AuditRecord.objects.filter(
        object_type="people.person", object_id=str(person.pk), actor_username=users["district_a"].username
    )
    assert trail.filter(action="BREAK_GLASS", detail__reason=REASON).count() == 1
    assert trail.filter(action="READ").count() >= 1
    # The grant opens one record: the list stays without it, and the other district still sees nothing.
    assert person.pk not in [item["id"] for item in office.get(f"{API}/persons").json()["items"]]
    assert_error_shape(api_client(users["district_b"]).get(url), 404, "not_found")
    # The enrollments are records of their own: the office breaks the glass for each.
    for enrollment in enrollments:
        assert_error_shape(office.get(f"{API}/enrollments/{enrollment.pk}"), 403, "break_glass_required")
    treatment = enrollments[0]
    glass = {"object_type": "people.enrollment", "object_id": str(treatment.pk), "reason": REASON}
    assert_error_shape(post(api_client(users["worker_a"]), "/api/v1/break-glass", glass), 404, "not_found")
    assert post(office, "/api/v1/break-glass", glass).status_code == 201
    assert office.get(f"{API}/enrollments/{treatment.pk}").json()["ended_on"] == RELEASE.isoformat()
    # The break-the-glass page refuses the other district the same way.
    response = ui_client(users["district_b"]).post(
        f"/break-glass/?object_type=people.person&object_id={person.pk}", {"reason": REASON}
    )
    assert response.status_code == 404
    assert not BreakGlassGrant.objects.filter(user=users["district_b"]).exists()


SEALED_WRITES = [
    ("/persons/{person}/tests", {"kind": "urine", "sample_date": "2024-02-01", "result": "negative"}),
    ("/persons/{person}/contacts", {"kind": "visit", "date": "2024-02-01"}),
    ("/persons/{person}/seizures", {"date": "2024-02-01"}),
    ("/persons/{person}/addiction-findings",
     {"conclusion": "addicted", "date": "2024-02-01", "officers": ["王警官", "李警官"]}),
    ("/persons/{person}/risk-assessments", {"date": "2024-02-01", "answers": GREEN_ANSWERS, "final_color": "green"}),
    ("/persons/{person}/abstinence-assessments", {"date": "2024-02-01", "outcome": "not_confirmed"}),
    ("/persons/{person}/enrollments",
     {"measure": "community_treatment", "decision_date": "2024-02-01", "org_unit": COMMUNITY_A}),
    ("/enrollments/{treatment}/terminate", {"date": "2024-02-01", "reason": "被判处有期徒刑"}),
    ("/enrollments/{social}/suspend", {"date": "2024-02-01", "reason": "行政拘留"}),
    ("/enrollments/{social}/violations", {"kind": "other", "date": "2024-02-01"}),
]  # fmt: skip


def test_sealed_person_accepts_no_write(users, sealed):
    person, (treatment, social) = sealed
    writers = ("worker_a", "street_a", "district_a", "city", "district_b", "police_a", *ADMINS, "enterprise")
    clients = {key: api_client(users[key]) for key in writers}
    # Even the glass broken by the district office opens the record for reading only.
    glass = {"object_type": "people.person", "object_id": str(person.pk), "reason": REASON}
    assert post(clients["district_a"], "/api/v1/break-glass", glass).status_code == 201
    before = db_state()
    for template, payload in SEALED_WRITES:
        url = API + template.format(person=person.pk, treatment=treatment.pk, social=social.pk)
        assert_error_shape(post(Client(), url, payload), 401, "not_authenticated")
        for key, client in clients.items():
            response = post(client, url, payload)
            # The assessment checks the role first (403); everything else answers as if nothing existed.
            assessors = ("street_a", "district_a", "city", "district_b")
            expected = 403 if template.endswith("abstinence-assessments") and key not in assessors else 404
            assert response.status_code == expected, (key, url, response.status_code, response.content[:300])
            assert_error_shape(response, expected)
    for page, form in (
        ("tests", {"kind": "urine", "sample_date": "2024-02-01", "result": "negative"}),
        ("contacts", {"kind": "visit", "date": "2024-02-01"}),
    ):
        for key in ("worker_a", "district_a"):
            assert ui_client(users[key]).post(f"/people/persons/{person.pk}/{page}/", form).status_code == 404
    assert db_state() == before


def test_registering_a_namesake_does_not_reveal_the_sealed_person(users, sealed):
    """Same name and birth date as the sealed person: the duplicate hint must not point at a record that,
    for the worker, does not exist (无感化: invisible to workers)."""
    person, _ = sealed
    namesake = valid_id("33020519850612051")  # another region, the same birth date as MAN
    response = post(
        api_client(users["worker_a"]),
        f"{API}/persons",
        {"id_number": namesake, "name": "张三", "residence": COMMUNITY_A},
    )
    assert response.status_code == 201, response.content
    assert response.json()["possible_duplicate_of"] != person.pk
