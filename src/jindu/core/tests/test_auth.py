"""Authentication: argon2, lockout, TOTP for admin roles, API tokens, idle timeout, rate limits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from jindu.core.accounts import AuthError, auth_login, check_roles, token_issue, token_lookup, user_create
from jindu.core.errors import ServiceError
from jindu.core.models import ApiToken, AuditRecord, LoginAttempt, User
from jindu.core.roles import Role
from jindu.core.testing.helpers import TEST_PASSWORD, assert_error_shape, current_otp, make_user

pytestmark = pytest.mark.django_db


def test_passwords_are_hashed_with_argon2(users):
    assert users["district_a"].password.startswith("argon2$")
    assert TEST_PASSWORD not in users["district_a"].password


def test_six_wrong_passwords_lock_the_account(users):
    user = users["district_a"]
    for _ in range(5):
        with pytest.raises(AuthError) as failure:
            auth_login(username=user.username, password="wrong-password")
        assert failure.value.code == "invalid_credentials"
    # The sixth attempt is refused even with the right password: the account is locked.
    with pytest.raises(AuthError) as locked:
        auth_login(username=user.username, password=TEST_PASSWORD)
    assert locked.value.code == "account_locked"
    user.refresh_from_db()
    assert user.locked_until is not None
    assert dt.timedelta(minutes=14) < user.locked_until - timezone.now() <= dt.timedelta(minutes=15)
    assert AuditRecord.objects.filter(action="LOGIN_FAILED", actor_username=user.username).count() == 6
    assert LoginAttempt.objects.filter(username=user.username, succeeded=False).count() == 6


def test_lock_expires_after_fifteen_minutes(users):
    user = users["district_a"]
    for _ in range(5):
        with pytest.raises(AuthError):
            auth_login(username=user.username, password="wrong-password")
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    LoginAttempt.objects.filter(username=user.username).update(
        occurred_at=timezone.now() - dt.timedelta(minutes=16)
    )
    logged_in, _device = auth_login(username=user.username, password=TEST_PASSWORD)
    assert logged_in.pk == user.pk


def test_failures_outside_the_window_do_not_lock(users):
    user = users["district_a"]
    for _ in range(4):
        with pytest.raises(AuthError):
            auth_login(username=user.username, password="wrong-password")
    LoginAttempt.objects.filter(username=user.username).update(
        occurred_at=timezone.now() - dt.timedelta(minutes=16)
    )
    with pytest.raises(AuthError):
        auth_login(username=user.username, password="wrong-password")
    logged_in, _ = auth_login(username=user.username, password=TEST_PASSWORD)
    assert logged_in.pk == user.pk


def test_unknown_user_fails_like_a_wrong_password(users):
    with pytest.raises(AuthError) as failure:
        auth_login(username="nobody", password="whatever")
    assert failure.value.code == "invalid_credentials"
    assert AuditRecord.objects.filter(action="LOGIN_FAILED", actor_username="nobody").exists()


@pytest.mark.parametrize("role_key", ["sysadmin", "secadmin", "auditadmin", "police_a"])
def test_admin_and_police_roles_cannot_log_in_without_totp(users, role_key):
    user = users[role_key]
    with pytest.raises(AuthError) as missing:
        auth_login(username=user.username, password=TEST_PASSWORD)
    assert missing.value.code == "otp_required"
    with pytest.raises(AuthError) as wrong:
        auth_login(
            username=user.username,
            password=TEST_PASSWORD,
            otp="000000" if current_otp(user) != "000000" else "111111",
        )
    assert wrong.value.code == "otp_invalid"
    # django-otp throttles a device after a wrong code (1 s, then doubling): wait it out explicitly.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.get(user=user).throttle_reset()
    logged_in, device = auth_login(username=user.username, password=TEST_PASSWORD, otp=current_otp(user))
    assert logged_in.pk == user.pk and device is not None


def test_admin_role_without_enrolled_device_cannot_log_in(users):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = users["sysadmin"]
    TOTPDevice.objects.filter(user=user).delete()
    with pytest.raises(AuthError) as failure:
        auth_login(username=user.username, password=TEST_PASSWORD, otp="123456")
    assert failure.value.code == "two_factor_not_enrolled"


def test_other_roles_log_in_with_password_only(users):
    user, device = auth_login(username=users["worker_a"].username, password=TEST_PASSWORD)
    assert device is None
    assert AuditRecord.objects.filter(action="LOGIN", actor_username=user.username).exists()


def test_separation_of_duties_between_admin_roles(tree):
    for pair in (
        [Role.SYSADMIN, Role.AUDITADMIN],
        [Role.SECADMIN, Role.SYSADMIN],
        [Role.AUDITADMIN, Role.SECADMIN],
    ):
        with pytest.raises(ServiceError) as refused:
            check_roles(pair)
        assert refused.value.code == "separation_of_duties"
    with pytest.raises(ServiceError):
        user_create(
            actor=None,
            username="both",
            password=TEST_PASSWORD,
            roles=["sysadmin", "auditadmin"],
            org_unit_code="330200",
        )
    assert not User.objects.filter(username="both").exists()
    assert check_roles([Role.SYSADMIN, Role.CITY_OFFICE]) == ["city_office", "sysadmin"]


def test_enterprise_users_need_a_valid_credit_code(tree):
    with pytest.raises(ServiceError) as missing:
        user_create(
            actor=None, username="firm", password=TEST_PASSWORD, roles=["enterprise"], org_unit_code="330203"
        )
    assert "enterprise_code" in missing.value.fields
    with pytest.raises(ServiceError) as bad:
        user_create(
            actor=None, username="firm", password=TEST_PASSWORD, roles=["enterprise"], org_unit_code="330203",
            enterprise_code="91330206MA2AH1XQ7B",
        )  # fmt: skip
    assert "enterprise_code" in bad.value.fields


def test_search_scope_defaults_to_capture_scope(tree):
    user = make_user("plain", Role.STREET_OFFICE, "330203001")
    assert list(user.capture_scope.values_list("code", flat=True)) == ["330203001"]
    assert list(user.search_scope.values_list("code", flat=True)) == ["330203001"]


# API tokens --------------------------------------------------------------------------------------------


def token_request(client: Client, **payload):
    return client.post("/api/v1/auth/token", payload, content_type="application/json")


def test_token_endpoint_issues_a_hashed_expiring_token(users):
    response = token_request(Client(), username="t_district_a", password=TEST_PASSWORD)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    stored = ApiToken.objects.get(user=users["district_a"])
    assert body["token"] not in {stored.digest, stored.prefix}
    assert len(stored.digest) == 64
    me = Client(headers={"Authorization": f"Bearer {body['token']}"}).get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "t_district_a"
    assert me.json()["capture_scope"] == ["330203"]


def test_token_endpoint_errors(users):
    client = Client()
    assert_error_shape(
        token_request(client, username="t_district_a", password="nope"), 401, "invalid_credentials"
    )
    assert_error_shape(
        token_request(client, username="t_sysadmin", password=TEST_PASSWORD), 401, "otp_required"
    )
    ok = token_request(
        client, username="t_sysadmin", password=TEST_PASSWORD, otp=current_otp(users["sysadmin"])
    )
    assert ok.status_code == 200
    body = assert_error_shape(
        client.post("/api/v1/auth/token", {"username": "x"}, content_type="application/json"), 422
    )
    assert "password" in body["error"]["fields"]


def test_expired_and_revoked_tokens_are_refused(users):
    raw, token = token_issue(user=users["district_a"])
    assert token_lookup(raw) == token
    assert token_lookup(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/v1/auth/me")
    assert_error_shape(response, 401, "not_authenticated")

    raw2, _ = token_issue(user=users["district_a"])
    client = Client(headers={"Authorization": f"Bearer {raw2}"})
    assert client.delete("/api/v1/auth/token").status_code == 204
    assert_error_shape(client.get("/api/v1/auth/me"), 401, "not_authenticated")


def test_tokens_survive_a_lockout_but_not_disabling(users):
    """A lockout stops password guessing; it must not let a stranger cut off a working client."""
    raw, _ = token_issue(user=users["district_a"])
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    assert client.get("/api/v1/auth/me").status_code == 200
    User.objects.filter(pk=users["district_a"].pk).update(
        locked_until=timezone.now() + dt.timedelta(minutes=5)
    )
    assert client.get("/api/v1/auth/me").status_code == 200
    User.objects.filter(pk=users["district_a"].pk).update(is_active=False)
    assert_error_shape(client.get("/api/v1/auth/me"), 401, "not_authenticated")


@override_settings(JINDU_AUTH_RATE_LIMIT=3)
def test_token_endpoint_is_rate_limited(users):
    from django.core.cache import cache

    cache.clear()
    client = Client(REMOTE_ADDR="10.9.8.7")
    statuses = [token_request(client, username="nobody", password="x").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert_error_shape(token_request(client, username="nobody", password="x"), 429, "rate_limited")
    cache.clear()


# Web login and sessions --------------------------------------------------------------------------------


def test_web_login_and_admin_totp(users):
    client = Client()
    page = client.get("/login/")
    assert page.status_code == 200
    response = client.post("/login/", {"username": "t_sysadmin", "password": TEST_PASSWORD})
    assert response.status_code == 200  # re-shown: one-time code missing
    assert client.get("/").status_code == 302
    response = client.post(
        "/login/",
        {"username": "t_sysadmin", "password": TEST_PASSWORD, "otp": current_otp(users["sysadmin"])},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_redirect_refuses_other_hosts(users):
    client = Client()
    response = client.post(
        "/login/", {"username": "t_district_a", "password": TEST_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"


@override_settings(JINDU_IDLE_TIMEOUT_SECONDS=60)
def test_idle_session_times_out(users):
    import time

    client = Client()
    client.post("/login/", {"username": "t_district_a", "password": TEST_PASSWORD})
    assert client.get("/").status_code == 200
    session = client.session
    session["jindu_last_activity"] = int(time.time()) - 61
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302  # the session is gone


def test_logout_is_audited(users):
    client = Client()
    client.post("/login/", {"username": "t_district_a", "password": TEST_PASSWORD})
    client.post("/logout/")
    assert AuditRecord.objects.filter(action="LOGOUT", actor_username="t_district_a").exists()
    assert client.get("/").status_code == 302


@override_settings(JINDU_IDLE_TIMEOUT_SECONDS=60)
def test_idle_timeout_also_applies_to_session_api_calls_and_is_audited(users):
    import time

    client = Client()
    client.post("/login/", {"username": "t_district_a", "password": TEST_PASSWORD})
    assert client.get("/api/v1/auth/me").status_code == 200
    session = client.session
    session["jindu_last_activity"] = int(time.time()) - 61
    session.save()
    assert_error_shape(client.get("/api/v1/auth/me"), 401, "session_expired")
    assert AuditRecord.objects.filter(action="LOGOUT", detail__reason="idle timeout").exists()


def test_missing_one_time_codes_do_not_lock_but_wrong_ones_do(users):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    admin = users["sysadmin"]
    for _ in range(6):
        with pytest.raises(AuthError):
            auth_login(username=admin.username, password=TEST_PASSWORD)  # no code yet
    with pytest.raises(AuthError):
        auth_login(username=admin.username, password="wrong-password")  # one real failure
    admin.refresh_from_db()
    assert admin.locked_until is None  # 6 missing codes + 1 wrong password: below the limit
    wrong = "000000" if current_otp(admin) != "000000" else "111111"
    for _ in range(4):
        TOTPDevice.objects.filter(user=admin).update(
            throttling_failure_count=0, throttling_failure_timestamp=None
        )
        with pytest.raises(AuthError):
            auth_login(username=admin.username, password=TEST_PASSWORD, otp=wrong)
    admin.refresh_from_db()
    assert admin.locked_until is not None


@override_settings(JINDU_AUTH_RATE_LIMIT=2)
def test_web_login_is_rate_limited_per_address(users):
    from django.core.cache import cache

    cache.clear()
    client = Client(REMOTE_ADDR="10.1.2.3")
    for _ in range(2):
        client.post("/login/", {"username": "t_district_a", "password": "wrong"})
    response = client.post("/login/", {"username": "t_district_a", "password": TEST_PASSWORD})
    assert response.status_code == 200 and "login-error" in response.content.decode()
    assert client.get("/").status_code == 302  # not logged in
    cache.clear()


@override_settings(JINDU_SESSION_MAX_SECONDS=3600)
def test_sessions_end_after_their_absolute_lifetime_despite_activity(users):
    import time

    client = Client()
    client.post("/login/", {"username": "t_district_a", "password": TEST_PASSWORD})
    assert client.get("/").status_code == 200
    session = client.session
    session["jindu_session_started"] = int(time.time()) - 3601
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert AuditRecord.objects.filter(action="LOGOUT", detail__reason="session lifetime").exists()
