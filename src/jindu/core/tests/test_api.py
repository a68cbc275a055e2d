"""The API surface: OpenAPI, the error shape, org units, users (scoped), query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openapi_spec_validator import validate

from jindu.core.models import User
from jindu.core.roles import Role
from jindu.core.testing.helpers import (
    TEST_PASSWORD,
    api_client,
    assert_api_matrix,
    assert_error_shape,
    assert_ui_matrix,
    make_user,
)
from jindu.core.validators import id_number_check_char

pytestmark = pytest.mark.django_db


def test_openapi_document_is_valid_openapi_3():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    validate(document)
    assert "/api/v1/orgunits" in document["paths"]
    assert "/api/v1/auth/token" in document["paths"]
    assert Client().get("/api/v1/docs").status_code == 200


def test_every_data_endpoint_without_a_token_answers_401_with_the_error_shape():
    document = Client().get("/api/v1/openapi.json").json()
    client = Client()
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path == "/api/v1/auth/token" and method == "post":
                continue  # the one public endpoint: it issues tokens
            assert operation.get("security"), f"{method.upper()} {path} has no security requirement"
            url = path.replace("{", "").replace("}", "")
            for name in ("code", "user_id", "job_id", "pk"):
                url = url.replace(name, "1")
            response = client.generic(method.upper(), url, "{}", content_type="application/json")
            assert_error_shape(response, 401, "not_authenticated")
            checked += 1
    assert checked >= 10


def test_orgunit_children_listing(tree, users):
    client = api_client(users["district_a"])
    response = client.get("/api/v1/orgunits?parent=330200")
    assert response.status_code == 200
    assert response.json() == [
        {"code": "330203", "name": "海曙区", "level": "district"},
        {"code": "330213", "name": "奉化区", "level": "district"},
    ]
    assert client.get("/api/v1/orgunits").json() == [
        {"code": "330000", "name": "浙江省", "level": "province"}
    ]
    assert_error_shape(client.get("/api/v1/orgunits?parent=999999"), 404, "not_found")
    detail = client.get("/api/v1/orgunits/330203001001").json()
    assert detail["path"] == ["330000", "330200", "330203", "330203001", "330203001001"]
    assert detail["parent_code"] == "330203001"
    assert detail["children"] == 1


def test_orgunit_creation_needs_the_role_and_the_scope(tree, users):
    payload = {"code": "330213002", "name": "岳林街道", "level": "street", "parent_code": "330213"}
    assert_error_shape(
        api_client(users["district_b"]).post("/api/v1/orgunits", payload, content_type="application/json"),
        403,
    )
    sysadmin = users["sysadmin"]
    response = api_client(sysadmin).post("/api/v1/orgunits", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    bad = {"code": "33021300X", "name": "坏代码", "level": "street", "parent_code": "330213"}
    body = assert_error_shape(
        api_client(sysadmin).post(
            "/api/v1/orgunits", bad, content_type="application/json", headers={"Accept-Language": "en"}
        ),
        400,
        "invalid_orgunit",
    )
    assert "nine digits" in body["error"]["message"]
    district_sysadmin = make_user("sys_b", Role.SYSADMIN, "330213")
    outside = {"code": "330203009", "name": "越界街道", "level": "street", "parent_code": "330203"}
    assert_error_shape(
        api_client(district_sysadmin).post("/api/v1/orgunits", outside, content_type="application/json"), 404
    )


def test_users_are_scoped_by_district_in_api_and_ui(tree, users):
    colleague = make_user("colleague_a", Role.SOCIAL_WORKER, "330203001001", phone="13812345678")
    assert_api_matrix(
        list_url="/api/v1/users",
        detail_url=f"/api/v1/users/{colleague.pk}",
        marker="colleague_a",
        allowed=[users["district_a"], users["street_a"], users["city"], users["sysadmin"]],
        denied=[users["district_b"], users["auditadmin"], users["worker_a"], users["enterprise"]],
    )
    assert_ui_matrix(
        list_url="/users/",
        detail_url=f"/users/{colleague.pk}/",
        marker="colleague_a",
        allowed=[users["district_a"], users["city"], users["sysadmin"]],
        denied=[users["district_b"], users["auditadmin"]],
    )


def test_user_list_masks_identifiers(tree, users):
    first17 = "33020319900101123"
    id_number = first17 + id_number_check_char(first17)
    make_user("masked_a", Role.SOCIAL_WORKER, "330203001001", phone="13812345678", id_number=id_number)
    items = api_client(users["district_a"]).get("/api/v1/users?q=masked_a").json()["items"]
    assert items[0]["phone"] == "138****5678"
    assert items[0]["id_number"] == "330203********" + id_number[-4:]
    page = Client()
    page.force_login(users["district_a"], backend="jindu.core.auth.JinduModelBackend")
    html = page.get("/users/?q=masked_a").content.decode()
    assert "13812345678" not in html and "138****5678" in html


def test_user_list_query_count_does_not_grow_with_rows(tree, users):
    client = api_client(users["city"])
    client.get("/api/v1/users")  # warm-up (token lookup, content types)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/users?page_size=200")
        assert response.status_code == 200
        return len(queries)

    baseline = count_queries()
    for i in range(15):
        make_user(f"extra_{i}", Role.SOCIAL_WORKER, "330213001001")
    assert count_queries() == baseline
    assert baseline <= 8


def test_create_user_through_the_api(tree, users):
    client = api_client(users["sysadmin"])
    payload = {
        "username": "new_worker",
        "password": TEST_PASSWORD,
        "roles": ["social_worker"],
        "org_unit": "330203001001",
        "phone": "+86 139-0000-1111",
    }
    response = client.post("/api/v1/users", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["phone"] == "139****1111"
    assert User.objects.get(username="new_worker").phone == "13900001111"
    duplicate = assert_error_shape(
        client.post("/api/v1/users", payload, content_type="application/json"), 400
    )
    assert "username" in duplicate["error"]["fields"]
    bad = {**payload, "username": "bad_one", "phone": "12345", "roles": ["sysadmin", "auditadmin"]}
    body = assert_error_shape(client.post("/api/v1/users", bad, content_type="application/json"), 400)
    assert body["error"]["code"] == "separation_of_duties"
    assert not User.objects.filter(username="bad_one").exists()
    # Offices may read accounts but not create them.
    assert_error_shape(
        api_client(users["city"]).post(
            "/api/v1/users", {**payload, "username": "x_y"}, content_type="application/json"
        ),
        403,
    )


def test_healthz_reports_database_and_broker():
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"vendor": connection.vendor, "ok": True}
    assert body["broker"]["ok"] is True and body["broker"]["mode"] == "embedded"


def test_healthz_reports_an_unreachable_broker(settings):
    settings.JINDU_BROKER_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_assert_max_queries_helper_fails_above_the_limit(tree):
    from jindu.core.models import OrgUnit
    from jindu.core.testing.helpers import assert_max_queries

    with assert_max_queries(2):
        list(OrgUnit.objects.all())
    with pytest.raises(AssertionError, match="3 queries"), assert_max_queries(2):
        for _ in range(3):
            OrgUnit.objects.count()
