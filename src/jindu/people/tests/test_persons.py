"""The person registry: registration rules, duplicates, encryption, audited reads and searches, scoping."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import (
    api_client,
    assert_api_matrix,
    assert_error_shape,
    assert_max_queries,
    assert_ui_matrix,
    ui_client,
)
from jindu.core.validators import id_number_check_char
from jindu.people.models import Person
from jindu.people.services import person_register

pytestmark = pytest.mark.django_db


def valid_id(first17: str) -> str:
    return first17 + id_number_check_char(first17)


MAN = valid_id("33020319850612031")  # 17th digit 1: male
WOMAN = valid_id("33021319920304002")  # 17th digit 2: female


def register(client, **payload):
    return client.post("/api/v1/people/persons", payload, content_type="application/json")


def test_registration_derives_sex_and_birth_date_and_encrypts(users):
    response = register(
        api_client(users["worker_a"]),
        id_number=MAN.lower(),
        name="张 三",
        residence="330203001001",
        phone="13812345678",
    )
    assert response.status_code == 201, response.content
    person = Person.objects.get(pk=response.json()["id"])
    assert (person.sex, person.birth_date) == ("male", dt.date(1985, 6, 12))
    assert person.name == "张三" and person.id_number == MAN and person.org_path.endswith("330203001001/")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, name, phone FROM people_person WHERE id = %s", [person.pk])
        raw = cursor.fetchone()
    assert all(value.startswith("sm4gcm:") for value in raw)
    assert MAN not in "".join(raw) and "13812345678" not in "".join(raw)
    created = AuditRecord.objects.get(action="CREATE", object_type="people.person", object_id=str(person.pk))
    assert created.detail["id_number"] == MAN[:6] + "********" + MAN[-4:]


def test_same_id_number_is_refused_and_nothing_changes(users):
    client = api_client(users["worker_a"])
    assert register(client, id_number=MAN, name="张三", residence="330203001001").status_code == 201
    body = assert_error_shape(
        register(client, id_number=MAN, name="李四", residence="330203001001"), 409, "duplicate_person"
    )
    assert "id_number" in body["error"]["fields"]
    assert Person.objects.count() == 1


def test_same_name_and_birth_date_is_flagged(users):
    first = person_register(actor=users["district_a"], id_number=MAN, name="王五", residence_code="330203001")
    other_id = valid_id("33020519850612051")  # another region, same birth date
    second = person_register(
        actor=users["district_a"], id_number=other_id, name="王五", residence_code="330203002"
    )
    assert second.possible_duplicate == first.person
    assert Person.objects.get(pk=second.person.pk).possible_duplicate_of_id == first.person.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"id_number": MAN[:-1] + ("0" if MAN[-1] != "0" else "1")}, "id_number"),
        ({"id_number": "330203209901010011"}, "id_number"),
        ({"residence": "330213001001"}, "residence"),
        ({"residence": "330203"}, "residence"),
        ({"phone": "12345"}, "phone"),
        ({"first_found_date": "2999-01-01"}, "first_found_date"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_input_is_a_clear_400(users, payload, field):
    client = api_client(users["worker_a"])
    body = assert_error_shape(
        register(client, **{"id_number": MAN, "name": "张三", "residence": "330203001001", **payload}), 400
    )
    assert field in body["error"]["fields"], body
    assert Person.objects.count() == 0


def test_lookup_by_exact_id_number_is_audited_and_masked(users):
    person_register(actor=users["district_a"], id_number=MAN, name="张三", residence_code="330203001001")
    person_register(
        actor=users["district_a"],
        id_number=valid_id("33020319700101002"),
        name="赵六",
        residence_code="330203001",
    )
    client = api_client(users["district_a"])
    items = client.get(f"/api/v1/people/persons?id_number={MAN.lower()}").json()["items"]
    assert (
        len(items) == 1
        and items[0]["name"] == "张*"
        and items[0]["id_number"] == MAN[:6] + "********" + MAN[-4:]
    )
    search = AuditRecord.objects.filter(action="SEARCH", object_type="people.person").latest("sequence")
    assert search.detail == {"query": {"id_number": MAN[:6] + "********" + MAN[-4:]}, "results": 1}
    assert client.get("/api/v1/people/persons?name=赵六").json()["count"] == 1


def test_authorization_matrix_for_persons(users):
    person = person_register(
        actor=users["district_a"], id_number=MAN, name="张三", residence_code="330203001001"
    ).person
    allowed = [users["worker_a"], users["street_a"], users["district_a"], users["city"], users["police_a"]]
    denied = [
        users["district_b"],
        users["sysadmin"],
        users["secadmin"],
        users["auditadmin"],
        users["enterprise"],
    ]
    assert_api_matrix(
        list_url="/api/v1/people/persons",
        detail_url=f"/api/v1/people/persons/{person.pk}",
        marker=str(person.pk),
        allowed=allowed,
        denied=denied,
    )
    assert_ui_matrix(
        list_url="/people/persons/",
        detail_url=f"/people/persons/{person.pk}/",
        marker=person.id_number_masked,
        allowed=[users["worker_a"], users["district_a"], users["city"]],
        denied=[users["district_b"], users["sysadmin"], users["auditadmin"]],
    )
    reads = AuditRecord.objects.filter(action="READ", object_type="people.person", object_id=str(person.pk))
    assert reads.count() >= len(allowed) + 3


def test_person_outside_the_capture_scope_needs_break_the_glass(users):
    # A street-level record: the worker captures one community but may search the whole street.
    person = person_register(
        actor=users["street_a"], id_number=WOMAN, name="孙七", residence_code="330203001"
    ).person
    client = api_client(users["worker_a"])
    url = f"/api/v1/people/persons/{person.pk}"
    assert_error_shape(client.get(url), 403, "break_glass_required")
    listed = [item["id"] for item in client.get("/api/v1/people/persons").json()["items"]]
    assert person.pk not in listed
    response = client.post(
        "/api/v1/break-glass",
        {
            "object_type": "people.person",
            "object_id": str(person.pk),
            "reason": "走访中发现其在本社区活动，需核实",
        },
        content_type="application/json",
    )
    assert response.status_code == 201
    assert client.get(url).status_code == 200


def test_person_list_query_count_is_constant(users):
    from django.test.utils import CaptureQueriesContext

    client = api_client(users["district_a"])
    client.get("/api/v1/people/persons")

    def queries_for_list(expected_count: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/people/persons").json()["count"] == expected_count
        return len(queries)

    for n in range(3):
        person_register(
            actor=users["district_a"],
            id_number=valid_id(f"3302031980010100{n}"),
            name=f"甲{n}",
            residence_code="330203001001",
        )
    few = queries_for_list(3)
    for n in range(3, 9):
        person_register(
            actor=users["district_a"],
            id_number=valid_id(f"3302031980010100{n}"),
            name=f"甲{n}",
            residence_code="330203001001",
        )
    assert queries_for_list(9) == few
    # token, roles, scope, paths, SEARCH audit (with the chain lock on PostgreSQL), page, count
    with assert_max_queries(12):
        client.get("/api/v1/people/persons")


def test_registration_page(users):
    client = ui_client(users["worker_a"])
    assert client.get("/people/persons/new/").status_code == 200
    response = client.post(
        "/people/persons/new/", {"id_number": MAN, "name": "张三", "residence": "330203001001", "phone": ""}
    )
    assert response.status_code == 302
    person = Person.objects.get()
    assert response["Location"] == f"/people/persons/{person.pk}/"
    again = client.post(
        "/people/persons/new/", {"id_number": MAN, "name": "张三", "residence": "330203001001"}
    )
    assert again.status_code == 200 and Person.objects.count() == 1
    assert ui_client(users["auditadmin"]).get("/people/persons/new/").status_code == 403


def test_export_is_masked_purpose_bound_watermarked_and_audited(users):
    from jindu.core.testing.helpers import ui_client

    person_register(
        actor=None, id_number=MAN, name="张三丰", residence_code="330203001001", phone="13812345678"
    )
    client = ui_client(users["worker_a"])
    refused = client.get("/people/persons/?export=csv&purpose=")
    assert refused.status_code == 200 and refused["Content-Type"].startswith("text/html")
    response = client.get("/people/persons/?export=csv&purpose=季度核查")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert "导出人 t_worker_a" in text.splitlines()[0] and "季度核查" in text.splitlines()[0]
    assert "张*" in text and "张三丰" not in text and MAN not in text and "13812345678" not in text
    export = AuditRecord.objects.get(action="EXPORT", object_type="people.person")
    assert export.detail["rows"] == 1 and export.detail["purpose"] == "季度核查"
    # Another district exports nothing of this person.
    other = ui_client(users["district_b"]).get("/people/persons/?export=csv&purpose=季度核查")
    assert "张*" not in other.content.decode("utf-8-sig")
