"""Accounts created by an administrator: the owner sets their own password and enrols their own
authenticator at first login; administrator roles come only from the CLI (三权分立)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from jindu.core.accounts import AuthError, SetupRequired, auth_login, user_create, user_set_active
from jindu.core.errors import Forbidden, ServiceError
from jindu.core.models import AuditRecord, User
from jindu.core.testing.helpers import TEST_PASSWORD, api_client, assert_error_shape

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "my-own-secret-password-77"


@pytest.fixture
def police_by_admin(users):
    created = user_create(
        actor=users["sysadmin"],
        username="new_police",
        password=TEST_PASSWORD,
        roles=["police"],
        org_unit_code="330203",
        search_scope_codes=["330200"],
    )
    assert created.otpauth_uri == ""
    return User.objects.get(pk=created.user.pk)


def test_administrators_cannot_grant_administrator_roles(users):
    for role in ("sysadmin", "secadmin", "auditadmin"):
        with pytest.raises(ServiceError) as refused:
            user_create(
                actor=users["sysadmin"],
                username=f"x_{role}",
                password=TEST_PASSWORD,
                roles=[role],
                org_unit_code="330200",
            )
        assert "roles" in refused.value.fields
        assert not User.objects.filter(username=f"x_{role}").exists()
    body = assert_error_shape(
        api_client(users["sysadmin"]).post(
            "/api/v1/users",
            {
                "username": "evil_aud",
                "password": TEST_PASSWORD,
                "roles": ["auditadmin"],
                "org_unit": "330200",
            },
            content_type="application/json",
        ),
        400,
    )
    assert "roles" in body["error"]["fields"]


def test_administrator_accounts_cannot_be_disabled_from_the_ui(users):
    with pytest.raises(Forbidden):
        user_set_active(actor=users["sysadmin"], user=users["auditadmin"], active=False)
    assert User.objects.get(pk=users["auditadmin"].pk).is_active


def test_first_login_requires_own_password_and_authenticator(police_by_admin):
    with pytest.raises(SetupRequired):
        auth_login(username="new_police", password=TEST_PASSWORD)
    client = Client()
    response = client.post("/login/", {"username": "new_police", "password": TEST_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/login/setup/"
    assert client.get("/").status_code == 302  # not logged in yet
    page = client.get("/login/setup/").content.decode()
    assert 'data-testid="setup-qr"' in page
    device = TOTPDevice.objects.get(user=police_by_admin, confirmed=False)
    right = f"{totp(device.bin_key):06d}"
    same = client.post(
        "/login/setup/", {"new_password": TEST_PASSWORD, "new_password_again": TEST_PASSWORD, "otp": right}
    )
    assert same.status_code == 200 and 'data-testid="setup-error"' in same.content.decode()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = client.post(
        "/login/setup/", {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD, "otp": wrong}
    )
    assert response.status_code == 200
    device.throttle_reset()
    response = client.post(
        "/login/setup/", {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD, "otp": right}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    police = User.objects.get(pk=police_by_admin.pk)
    assert not police.must_change_password and police.check_password(NEW_PASSWORD)
    assert TOTPDevice.objects.get(user=police).confirmed
    assert AuditRecord.objects.filter(object_id=str(police.pk), detail__first_login="completed").exists()
    # From now on: the new password and a one-time code; the initial password is dead.
    with pytest.raises(AuthError):
        auth_login(username="new_police", password=TEST_PASSWORD)
    with pytest.raises(AuthError) as missing:
        auth_login(username="new_police", password=NEW_PASSWORD)
    assert missing.value.code == "otp_required"


def test_first_login_without_two_factor_role(users):
    created = user_create(
        actor=users["sysadmin"],
        username="new_worker",
        password=TEST_PASSWORD,
        roles=["social_worker"],
        org_unit_code="330203001001",
    )
    client = Client()
    client.post("/login/", {"username": "new_worker", "password": TEST_PASSWORD})
    page = client.get("/login/setup/").content.decode()
    assert 'data-testid="setup-qr"' not in page and 'name="otp"' not in page
    response = client.post(
        "/login/setup/", {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert not User.objects.get(pk=created.user.pk).must_change_password


def test_api_refuses_a_token_until_setup_is_done(police_by_admin):
    response = Client().post(
        "/api/v1/auth/token",
        {"username": "new_police", "password": TEST_PASSWORD},
        content_type="application/json",
    )
    assert_error_shape(response, 401, "setup_required")


def test_setup_page_needs_a_fresh_password_check(police_by_admin):
    assert Client().get("/login/setup/").status_code == 302
