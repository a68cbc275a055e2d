"""Administrators are scoped too: audit trail, jobs and the security page follow the jurisdiction."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import Client, override_settings
from django.utils import timezone, translation

from jindu.core.accounts import token_issue
from jindu.core.audit import audit_write
from jindu.core.models import ApiToken, Job, User
from jindu.core.roles import Role
from jindu.core.testing.helpers import TEST_PASSWORD, api_client, assert_error_shape, make_user, ui_client

pytestmark = pytest.mark.django_db


def test_district_audit_admin_sees_only_the_district_trail(users):
    audit_write(action="READ", actor_username="x", object_type="t.a", org_unit_code="330203001001")
    audit_write(action="READ", actor_username="x", object_type="t.b", org_unit_code="330213001001")
    audit_write(action="READ", actor_username="x", object_type="t.none")
    district_auditor = make_user("aud_a", Role.AUDITADMIN, "330203")
    seen = {
        item["object_type"]
        for item in api_client(district_auditor).get("/api/v1/audit?page_size=500").json()["items"]
    }
    assert "t.a" in seen and "t.b" not in seen and "t.none" not in seen
    city_seen = {
        item["object_type"]
        for item in api_client(users["auditadmin"]).get("/api/v1/audit?page_size=500").json()["items"]
    }
    assert {"t.a", "t.b", "t.none"} <= city_seen


def test_jobs_are_visible_to_their_creator_and_to_scoped_administrators(users):
    mine = Job.objects.create(name="audit_verify", created_by=users["district_b"])
    system = Job.objects.create(name="audit_verify")
    assert ui_client(users["district_b"]).get(f"/jobs/{mine.pk}/").status_code == 200
    assert ui_client(users["district_a"]).get(f"/jobs/{mine.pk}/").status_code == 404
    assert ui_client(users["district_a"]).get(f"/jobs/{system.pk}/").status_code == 404
    assert ui_client(users["sysadmin"]).get(f"/jobs/{mine.pk}/").status_code == 200
    assert ui_client(users["sysadmin"]).get(f"/jobs/{system.pk}/").status_code == 200
    district_sysadmin = make_user("sys_a2", Role.SYSADMIN, "330203")
    assert ui_client(district_sysadmin).get(f"/jobs/{mine.pk}/").status_code == 404


def test_security_page_is_scoped_and_rejects_bad_token_ids(users):
    _, token_b = token_issue(user=users["district_b"])
    district_secadmin = make_user("sec_a", Role.SECADMIN, "330203")
    client = ui_client(district_secadmin)
    assert token_b.prefix not in client.get("/security/").content.decode()
    client.post("/security/", {"token": token_b.pk})
    assert ApiToken.objects.get(pk=token_b.pk).revoked_at is None
    assert client.post("/security/", {"token": "abc"}).status_code == 302
    city_client = ui_client(users["secadmin"])
    assert token_b.prefix in city_client.get("/security/").content.decode()


@override_settings(JINDU_IDLE_TIMEOUT_SECONDS=60)
def test_an_authorization_header_does_not_bypass_the_idle_timeout(users):
    client = Client()
    client.post("/login/", {"username": "t_district_a", "password": TEST_PASSWORD})
    session = client.session
    session["jindu_last_activity"] = int(time.time()) - 61
    session.save()
    response = client.get("/users/", headers={"Authorization": "Bearer x"})
    assert response.status_code == 302 and response["Location"] == "/login/"


def test_a_lockout_does_not_end_an_established_session(users):
    client = ui_client(users["district_a"])
    User.objects.filter(pk=users["district_a"].pk).update(
        locked_until=timezone.now() + dt.timedelta(minutes=10)
    )
    assert client.get("/").status_code == 200
    User.objects.filter(pk=users["district_a"].pk).update(is_active=False)
    assert client.get("/").status_code == 302


def test_unknown_job_id_in_the_api(users):
    assert_error_shape(api_client(users["sysadmin"]).get("/api/v1/jobs/999999"), 404)


def test_import_cannot_rename_or_add_outside_the_capture_scope(tree):
    from jindu.core.models import AuditRecord, OrgUnit
    from jindu.core.orgunits import orgunits_import, parse_orgunit_csv

    district_admin = make_user("sys_imp", Role.SYSADMIN, "330203")
    text = (
        "code,name,level,parent_code\n"
        "330200,PWNED-CITY,city,330000\n"
        "330213,PWNED-district,district,330200\n"
        "990000,Rogue province,province,\n"
    )
    rows, _ = parse_orgunit_csv(text)
    with translation.override("en"):
        report = orgunits_import(actor=district_admin, rows=rows)
    assert len([e for e in report.errors if "line 2" in e or "line 3" in e]) >= 2
    assert any("line 4" in e for e in report.errors)
    assert OrgUnit.objects.get(code="330200").name == "宁波市"
    assert not OrgUnit.objects.filter(code="990000").exists()
    # Inside the scope it works, and the audit record says what changed.
    rows, _ = parse_orgunit_csv(
        "code,name,level,parent_code\n330203001,南门街道新名,street,330203\n330203009,新街道,street,330203\n"
    )
    report = orgunits_import(actor=district_admin, rows=rows)
    assert report.errors == []
    record = AuditRecord.objects.filter(object_type="core.orgunit", actor_username="sys_imp").latest(
        "sequence"
    )
    assert record.detail["created_codes"] == ["330203009"]
    assert record.detail["renamed"] == [["330203001", "南门街道", "南门街道新名"]]


def test_exports_neutralise_spreadsheet_formulas():
    from jindu.core.exports import spreadsheet_safe

    assert spreadsheet_safe('=HYPERLINK("http://evil/")') == '\'=HYPERLINK("http://evil/")'
    assert (
        spreadsheet_safe("+1") == "'+1"
        and spreadsheet_safe("@x") == "'@x"
        and spreadsheet_safe("-2") == "'-2"
    )
    assert (
        spreadsheet_safe("海曙区") == "海曙区" and spreadsheet_safe(42) == 42 and spreadsheet_safe(None) == ""
    )


def test_audit_search_masks_identifiers_in_search_terms(users):
    from jindu.core.audit import audit_search

    record = audit_search(
        actor=users["district_a"],
        object_type="people.person",
        query={"id_number": "33020319900101123X", "phone": "+86 138-1234-5678", "name": "张"},
        results=1,
    )
    assert record.detail["query"] == {"id_number": "330203********123X", "phone": "138****5678", "name": "张"}
