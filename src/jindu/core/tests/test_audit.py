"""The audit chain: explicit records, HMAC-SM3 links, verification, append-only on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from jindu.cli import main as jindu_main
from jindu.core.audit import audit_verify, audit_write, compute_mac
from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import api_client, assert_error_shape, ui_client

pytestmark = pytest.mark.django_db


def write_some(n: int = 5) -> list[AuditRecord]:
    return [
        audit_write(
            action="READ", actor_username="tester", object_type="core.user", object_id=str(i), detail={"i": i}
        )
        for i in range(n)
    ]


def test_records_form_a_chain():
    records = write_some(4)
    assert [r.sequence for r in records] == [1, 2, 3, 4]
    assert records[0].prev_mac == ""
    for previous, record in zip(records, records[1:], strict=False):
        assert record.prev_mac == previous.mac
    assert all(len(r.mac) == 64 for r in records)
    stored = AuditRecord.objects.get(sequence=2)
    assert compute_mac(stored) == stored.mac


def test_verify_passes_on_an_untouched_chain():
    write_some(10)
    result = audit_verify()
    assert result.ok and result.checked == 10


def _tamper(sql: str, params: list) -> None:
    """Run raw SQL against the audit table, bypassing the PostgreSQL append-only trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def test_verify_names_the_edited_record():
    write_some(6)
    _tamper("UPDATE core_auditrecord SET object_id = %s WHERE sequence = %s", ["forged", 4])
    result = audit_verify()
    assert not result.ok
    assert result.broken_sequence == 4
    assert result.checked == 3
    assert "MAC" in result.problem


def test_verify_detects_a_deleted_record():
    write_some(6)
    _tamper("DELETE FROM core_auditrecord WHERE sequence = %s", [3])
    result = audit_verify()
    assert not result.ok and result.broken_sequence == 4


def test_verify_detects_a_recomputed_forgery_without_the_key():
    """Editing a record and recomputing a plain hash (no key) still breaks the chain."""
    write_some(3)
    _tamper("UPDATE core_auditrecord SET action = %s, mac = %s WHERE sequence = %s", ["DELETE", "0" * 64, 2])
    result = audit_verify()
    assert result.broken_sequence == 2


def test_cli_audit_verify_exit_codes(capsys):
    write_some(3)
    assert jindu_main(["audit", "verify"]) == 0
    assert "3 records" in capsys.readouterr().out
    _tamper("UPDATE core_auditrecord SET actor_username = %s WHERE sequence = %s", ["mallory", 2])
    assert jindu_main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "#2" in err and "BROKEN" in err


def test_plain_update_and_delete_are_refused_on_postgresql_and_detected_everywhere():
    """PostgreSQL refuses UPDATE/DELETE through a trigger; SQLite has no trigger, so there the chain is
    the control and verification must catch the edit."""
    write_some(2)
    statement = "UPDATE core_auditrecord SET actor_username = 'x' WHERE sequence = 1"
    if connection.vendor == "postgresql":
        for refused in (statement, "DELETE FROM core_auditrecord WHERE sequence = 1"):
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(refused)
        assert AuditRecord.objects.filter(sequence=1, actor_username="tester").exists()
        assert audit_verify().ok
    else:
        with connection.cursor() as cursor:
            cursor.execute(statement)
        assert audit_verify().broken_sequence == 1


def test_service_writes_roll_back_with_their_audit_record(tree):
    from jindu.core.models import OrgUnit
    from jindu.core.orgunits import orgunit_create

    before = AuditRecord.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        orgunit_create(actor=None, code="330203003", name="临时街道", level="street", parent_code="330203")
        raise RuntimeError("abort")
    assert AuditRecord.objects.count() == before
    assert not OrgUnit.objects.filter(code="330203003").exists()
    assert audit_verify().ok


def test_audit_browser_is_for_audit_admins_only(users):
    write_some(2)
    response = ui_client(users["auditadmin"]).get("/audit/?action=READ")
    assert response.status_code == 200
    assert "core.user" in response.content.decode()
    for key in ("sysadmin", "secadmin", "city", "district_a"):
        assert ui_client(users[key]).get("/audit/").status_code == 403, key


def test_audit_api_search(users):
    write_some(3)
    audit_write(action="EXPORT", actor_username="exporter", object_type="core.user", object_id="7")
    response = api_client(users["auditadmin"]).get("/api/v1/audit?action=EXPORT")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["items"][0]["actor"] == "exporter"
    assert_error_shape(api_client(users["sysadmin"]).get("/api/v1/audit"), 403, "forbidden")


def test_audit_verify_job_from_the_browser(users, django_capture_on_commit_callbacks):
    write_some(3)
    client = ui_client(users["auditadmin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/audit/", {"action": "verify"})
    assert response.status_code == 302
    from jindu.core.models import Job

    job = Job.objects.get(name="audit_verify")
    assert job.status == "completed", job.log
    assert job.result["ok"] is True
    assert job.result["checked"] >= 3


def test_audit_export_is_purpose_bound_watermarked_and_audited(users):
    write_some(3)
    client = ui_client(users["auditadmin"])
    refused = client.get("/audit/?export=csv&action=READ")
    assert refused.status_code == 200 and refused["Content-Type"].startswith("text/html")
    response = client.get("/audit/?export=csv&action=READ&purpose=季度审计检查")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert "t_auditadmin" in lines[0] and "季度审计检查" in lines[0]
    assert lines[1].startswith("sequence,time,actor")
    assert len(lines) == 2 + 3  # watermark, header and the three READ records
    export = AuditRecord.objects.filter(action="EXPORT").latest("sequence")
    assert export.actor_username == "t_auditadmin"
    assert export.detail["rows"] == 3 and export.detail["purpose"] == "季度审计检查"
    assert export.detail["filters"] == {"action": "READ"}
    assert ui_client(users["sysadmin"]).get("/audit/?export=csv&purpose=偷看一下吧").status_code == 403


def test_audit_search_records_the_query_and_the_result_count(users):
    from jindu.core.audit import audit_search

    record = audit_search(
        actor=users["district_a"], object_type="people.person", query={"name": "张", "colour": ""}, results=7
    )
    assert record.action == "SEARCH"
    assert record.detail == {"query": {"name": "张"}, "results": 7}
    assert audit_verify().ok
