"""The firm registry: validation, duplicates, audit and the authorization matrix."""

from __future__ import annotations

import pytest

from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import api_client, assert_api_matrix, assert_error_shape
from jindu.precursors.conftest import FIRM_A, FIRM_B, uscc
from jindu.precursors.models import Enterprise

pytestmark = pytest.mark.django_db
URL = "/api/v1/precursors/enterprises"


def test_an_office_registers_a_firm_of_its_district(users):
    code = uscc("91330203MA2C00001")
    response = api_client(users["district_a"]).post(
        URL,
        data={
            "uscc": code.lower(),
            "name": " 丙贸易公司 ",
            "org_unit": "330203",
            "activities": ["trade", "store"],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["uscc"] == code and body["name"] == "丙贸易公司" and body["org_unit"] == "330203"
    assert body["party_uri"] == f"urn:jindu:party:{code}"
    assert AuditRecord.objects.filter(action="CREATE", object_type="precursors.enterprise").count() == 1


def test_bad_input_gets_clear_errors_and_nothing_is_stored(users):
    client = api_client(users["district_a"])
    bad = client.post(
        URL,
        data={"uscc": "91330203MA2C000019", "name": "", "org_unit": "330213", "activities": ["smuggle"]},
        content_type="application/json",
    )
    fields = assert_error_shape(bad, 400, "invalid")["error"]["fields"]
    assert set(fields) == {"uscc", "name", "org_unit", "activities"}
    assert not Enterprise.objects.exists()
    good = {"uscc": FIRM_A, "name": "甲", "org_unit": "330203"}
    assert client.post(URL, data=good, content_type="application/json").status_code == 201
    duplicate = client.post(URL, data=good | {"name": "另一个"}, content_type="application/json")
    assert_error_shape(duplicate, 409, "duplicate_enterprise")
    assert Enterprise.objects.get().name == "甲"


def test_roles_without_the_registry_permission_cannot_register(users):
    for user in (users["worker_a"], users["enterprise"], users["sysadmin"]):
        response = api_client(user).post(
            URL, data={"uscc": FIRM_B, "name": "乙", "org_unit": "330213"}, content_type="application/json"
        )
        assert response.status_code == 404, (user.username, response.content)
    assert not Enterprise.objects.exists()


def test_authorization_matrix_for_firms(firms, users):
    firm = firms["a"]
    assert_api_matrix(
        list_url=URL,
        detail_url=f"{URL}/{firm.pk}",
        marker=FIRM_A,
        allowed=[users["district_a"], users["city"], users["police_a"], firms["user_a"]],
        denied=[users["district_b"], firms["user_b"], users["worker_a"], users["sysadmin"]],
    )


def test_the_firm_list_takes_a_constant_number_of_queries(firms, users, django_assert_max_num_queries):
    from jindu.precursors.services import enterprise_register

    for index in range(5):
        enterprise_register(
            actor=None, uscc=uscc(f"91330203MA2D0000{index}"), name=f"firm {index}", org_unit_code="330203"
        )
    client = api_client(users["city"])
    with django_assert_max_num_queries(8):
        body = client.get(URL).json()
    assert body["count"] == 7
