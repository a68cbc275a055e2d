"""The UI shell: workbench, language, account pages, security administration."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from jindu.core.accounts import token_issue
from jindu.core.models import ApiToken, AuditRecord, User
from jindu.core.testing.helpers import TEST_PASSWORD, ui_client

pytestmark = pytest.mark.django_db


def test_pages_are_chinese_by_default_and_english_on_request(users):
    client = ui_client(users["district_a"])
    page = client.get("/").content.decode()
    assert 'lang="zh-hans"' in page and "工作台" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/").content.decode()
    assert 'lang="en"' in page and "Workbench" in page


def test_menu_follows_the_role(users):
    def links(key: str) -> set[str]:
        html = ui_client(users[key]).get("/").content.decode()
        return {
            path
            for path in ("/orgunits/", "/users/", "/audit/", "/security/", "/jobs/")
            if f'href="{path}"' in html
        }

    assert links("sysadmin") == {"/orgunits/", "/users/", "/jobs/"}
    assert links("secadmin") == {"/users/", "/security/"}
    assert links("auditadmin") == {"/audit/"}
    assert links("district_a") == {"/users/"}
    assert links("worker_a") == set()


def test_two_factor_enrolment_from_the_profile(users):
    worker = users["worker_a"]
    client = ui_client(worker)
    client.post("/profile/", {"action": "start"})
    device = TOTPDevice.objects.get(user=worker)
    assert not device.confirmed
    assert "<svg" in client.get("/profile/").content.decode()
    right = f"{totp(device.bin_key):06d}"
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert client.post("/profile/", {"action": "confirm", "otp": wrong}).status_code == 200
    device.refresh_from_db()
    assert not device.confirmed
    device.throttle_reset()  # django-otp delays the next try after a wrong code
    assert client.post("/profile/", {"action": "confirm", "otp": right}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    # From now on this user also needs the code to log in.
    fresh = Client()
    fresh.post("/login/", {"username": worker.username, "password": TEST_PASSWORD})
    assert fresh.get("/").status_code == 302


def test_password_change_revokes_tokens(users):
    user = users["district_a"]
    raw, token = token_issue(user=user)
    client = ui_client(user)
    wrong = client.post(
        "/profile/",
        {"action": "password", "current_password": "nope", "new_password": "x", "new_password_again": "x"},
    )
    assert wrong.status_code == 200
    assert User.objects.get(pk=user.pk).check_password(TEST_PASSWORD)
    new_password = "another-long-password-2026"
    ok = client.post(
        "/profile/",
        {
            "action": "password",
            "current_password": TEST_PASSWORD,
            "new_password": new_password,
            "new_password_again": new_password,
        },
    )
    assert ok.status_code == 302
    assert User.objects.get(pk=user.pk).check_password(new_password)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert client.get("/").status_code == 200  # the current session stays logged in
    assert AuditRecord.objects.filter(
        action="UPDATE", object_id=str(user.pk), detail__password="changed"
    ).exists()


def test_security_admin_unlocks_accounts_and_revokes_tokens(users):
    victim = users["district_a"]
    User.objects.filter(pk=victim.pk).update(locked_until=timezone.now() + dt.timedelta(minutes=10))
    raw, token = token_issue(user=victim)
    client = ui_client(users["secadmin"])
    page = client.get("/security/").content.decode()
    assert victim.username in page and token.prefix in page
    assert client.post("/security/", {"token": token.pk}).status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert client.post(f"/users/{victim.pk}/", {"action": "unlock"}).status_code == 302
    assert User.objects.get(pk=victim.pk).locked_until is None
    # Nobody else gets the security page.
    for key in ("sysadmin", "auditadmin", "city"):
        assert ui_client(users[key]).get("/security/").status_code == 403


def test_system_admin_creates_and_disables_accounts(users):
    client = ui_client(users["sysadmin"])
    assert client.get("/users/new/").status_code == 200
    response = client.post(
        "/users/new/",
        {
            "username": "ui_police",
            "password": TEST_PASSWORD,
            "roles": ["police"],
            "org_unit": "330213",
            "search_scope": "330200",
            "phone": "13900002222",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = User.objects.get(username="ui_police")
    # The creator never sees an authenticator secret: the owner enrols at first login.
    assert "otpauth://" not in client.get(response["Location"]).content.decode()
    assert created.must_change_password
    assert not TOTPDevice.objects.filter(user=created).exists()
    assert set(created.search_scope.values_list("code", flat=True)) == {"330200"}
    bad = client.post(
        "/users/new/", {"username": "ui_bad", "password": "short", "roles": ["lab"], "org_unit": "330200"}
    )
    assert bad.status_code == 200 and not User.objects.filter(username="ui_bad").exists()
    assert client.post(f"/users/{created.pk}/", {"action": "disable"}).status_code == 302
    assert not User.objects.get(pk=created.pk).is_active
    assert ui_client(users["city"]).get("/users/new/").status_code == 403


def test_unknown_api_paths_answer_with_the_error_shape():
    from jindu.core.testing.helpers import assert_error_shape

    assert_error_shape(Client().get("/api/v1/no-such-thing"), 404, "not_found")
