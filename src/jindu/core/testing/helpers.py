"""Reusable test helpers for every Jindu app: a small org tree with two districts, users per role,
API clients with bearer tokens, and the authorization matrix (anonymous / wrong district / right
district / admin roles) for list and detail endpoints, in the API and in the UI.

Typical use in an app's tests::

    def test_person_scoping(tree, users):
        person = make_person(org_unit=tree["community_a"])
        assert_api_matrix(
            list_url="/api/v1/people/persons",
            detail_url=f"/api/v1/people/persons/{person.pk}",
            marker=str(person.pk),
            allowed=[users["district_a"], users["street_a"]],
            denied=[users["district_b"], users["sysadmin"], users["auditadmin"]],
        )
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from jindu.core.accounts import token_issue, user_create
from jindu.core.models import OrgUnit, User
from jindu.core.orgunits import orgunit_create
from jindu.core.roles import Role

TEST_PASSWORD = "correct-horse-battery-staple-42"

# code, name, level, parent
TREE = [
    ("330000", "浙江省", "province", None),
    ("330200", "宁波市", "city", "330000"),
    ("330203", "海曙区", "district", "330200"),
    ("330213", "奉化区", "district", "330200"),
    ("330203001", "南门街道", "street", "330203"),
    ("330203002", "江厦街道", "street", "330203"),
    ("330213001", "锦屏街道", "street", "330213"),
    ("330203001001", "和平社区", "community", "330203001"),
    ("330213001001", "幸福社区", "community", "330213001"),
    ("330203001001001", "第1网格", "grid", "330203001001"),
]
TREE_KEYS = {
    "province": "330000",
    "city": "330200",
    "district_a": "330203",
    "district_b": "330213",
    "street_a": "330203001",
    "street_a2": "330203002",
    "street_b": "330213001",
    "community_a": "330203001001",
    "community_b": "330213001001",
    "grid_a": "330203001001001",
}


def build_tree() -> dict[str, OrgUnit]:
    """The test tree (two districts of 宁波市 with a street and a community each)."""
    for code, name, level, parent in TREE:
        orgunit_create(actor=None, code=code, name=name, level=level, parent_code=parent)
    units = {unit.code: unit for unit in OrgUnit.objects.all()}
    return {key: units[code] for key, code in TREE_KEYS.items()}


def make_user(
    username: str,
    role: str,
    org_unit_code: str,
    *,
    search_scope: list[str] | None = None,
    password: str = TEST_PASSWORD,
    **extra: Any,
) -> User:
    """Create a user through the real service (two-factor roles get a confirmed TOTP device)."""
    if role == Role.ENTERPRISE:
        extra.setdefault("enterprise_code", "91330206MA2AH1XQ7C")
    created = user_create(
        actor=None,
        username=username,
        password=password,
        roles=[role],
        org_unit_code=org_unit_code,
        search_scope_codes=search_scope,
        **extra,
    )
    return User.objects.get(pk=created.user.pk)


def build_users() -> dict[str, User]:
    """One user per relevant role and place, named by what the matrix needs."""
    return {
        "sysadmin": make_user("t_sysadmin", Role.SYSADMIN, "330200"),
        "secadmin": make_user("t_secadmin", Role.SECADMIN, "330200"),
        "auditadmin": make_user("t_auditadmin", Role.AUDITADMIN, "330200"),
        "city": make_user("t_city", Role.CITY_OFFICE, "330200"),
        "district_a": make_user("t_district_a", Role.DISTRICT_OFFICE, "330203"),
        "district_b": make_user("t_district_b", Role.DISTRICT_OFFICE, "330213"),
        "street_a": make_user("t_street_a", Role.STREET_OFFICE, "330203001"),
        # A worker who writes in one community but may search the whole street.
        "worker_a": make_user("t_worker_a", Role.SOCIAL_WORKER, "330203001001", search_scope=["330203001"]),
        # Police of district A who may search the whole city.
        "police_a": make_user("t_police_a", Role.POLICE, "330203", search_scope=["330200"]),
        "enterprise": make_user("t_enterprise", Role.ENTERPRISE, "330203"),
    }


def current_otp(user: User) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def api_client(user: User | None) -> Client:
    """A test client that sends a bearer token for ``user`` (no token for None)."""
    if user is None:
        return Client()
    raw, _token = token_issue(user=user)
    return Client(headers={"Authorization": f"Bearer {raw}"})


def ui_client(user: User | None) -> Client:
    """A test client with a logged-in session for ``user`` (as after a successful login)."""
    client = Client()
    if user is not None:
        client.force_login(user, backend="jindu.core.auth.JinduModelBackend")
    return client


def assert_error_shape(response: Any, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    assert {"code", "message", "fields"} <= set(body["error"]), body
    assert body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


def _items(response: Any) -> list:
    body = json.loads(response.content)
    return body["items"] if isinstance(body, dict) and "items" in body else body


def _contains(items: list, marker: str) -> bool:
    return any(marker in {str(v) for v in item.values()} for item in items)


def assert_api_matrix(
    *,
    list_url: str | None,
    detail_url: str,
    marker: str,
    allowed: Iterable[User],
    denied: Iterable[User],
) -> None:
    """Anonymous: 401 with the error shape. Denied users: the object is absent from the list (or the list
    is 403 for their role) and the detail is 404. Allowed users: listed and 200."""
    anonymous = Client()
    if list_url:
        assert_error_shape(anonymous.get(list_url), 401, "not_authenticated")
    assert_error_shape(anonymous.get(detail_url), 401, "not_authenticated")
    for user in denied:
        client = api_client(user)
        if list_url:
            response = client.get(list_url)
            assert response.status_code in (200, 403), (
                user.username,
                response.status_code,
                response.content[:300],
            )
            if response.status_code == 200:
                assert not _contains(_items(response), marker), f"{user.username} sees {marker} in {list_url}"
            else:
                assert_error_shape(response, 403)
        assert_error_shape(client.get(detail_url), 404, "not_found")
    for user in allowed:
        client = api_client(user)
        if list_url:
            response = client.get(list_url)
            assert response.status_code == 200, (user.username, response.status_code, response.content[:300])
            assert _contains(_items(response), marker), f"{user.username} does not see {marker} in {list_url}"
        response = client.get(detail_url)
        assert response.status_code == 200, (user.username, response.status_code, response.content[:300])


def assert_ui_matrix(
    *,
    list_url: str | None,
    detail_url: str,
    marker: str,
    allowed: Iterable[User],
    denied: Iterable[User],
) -> None:
    """Anonymous: redirected to the login page. Denied: 404 on the detail page, marker absent from the
    list page (or 403). Allowed: both pages 200 and showing the marker."""
    anonymous = Client()
    for url in filter(None, [list_url, detail_url]):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], (url, response.status_code)
    for user in denied:
        client = ui_client(user)
        if list_url:
            response = client.get(list_url)
            assert response.status_code in (200, 403), (user.username, response.status_code)
            if response.status_code == 200:
                assert marker not in response.content.decode(), f"{user.username} sees {marker} on {list_url}"
        assert client.get(detail_url).status_code == 404, user.username
    for user in allowed:
        client = ui_client(user)
        for url in filter(None, [list_url, detail_url]):
            response = client.get(url)
            assert response.status_code == 200, (user.username, url, response.status_code)
            assert marker in response.content.decode(), f"{user.username} does not see {marker} on {url}"


class assert_max_queries:  # noqa: N801 - used as a context manager, like pytest.raises
    """``with assert_max_queries(5): ...`` fails if the block runs more SQL queries, and prints them."""

    def __init__(self, limit: int) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.limit = limit
        self.context = CaptureQueriesContext(connection)

    def __enter__(self) -> Any:
        return self.context.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.context.__exit__(*exc)
        if exc[0] is None:
            executed = len(self.context.captured_queries)
            sql = "\n".join(query["sql"][:200] for query in self.context.captured_queries)
            assert executed <= self.limit, f"{executed} queries, at most {self.limit} expected:\n{sql}"
