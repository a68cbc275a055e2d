"""一人一档: generated PDFs (Chinese, footer, page numbers), uploads, encrypted storage with an SM3 digest,
audited downloads, the archive checklist and archiving, and the authorization matrix of every endpoint
and page."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import zlib

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import translation

from jindu.core.crypto import get_provider
from jindu.core.models import AuditRecord
from jindu.core.storedfiles import MAX_UPLOAD_BYTES, UPLOAD_TYPES
from jindu.core.testing.helpers import (
    TREE_KEYS,
    api_client,
    assert_api_matrix,
    assert_error_shape,
    assert_max_queries,
    assert_ui_matrix,
    ui_client,
)
from jindu.people import documents
from jindu.people.models import CaseDocument, Person
from jindu.people.services import (
    enrollment_create,
    enrollment_not_reported,
    enrollment_release,
    enrollment_report,
    enrollment_sign_agreement,
    enrollment_terminate,
    person_register,
)
from jindu.people.tests.test_persons import MAN

pytestmark = pytest.mark.django_db

NAME = "张三"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64
SCAN = b"%PDF-1.4\n% a scanned document\n%%EOF\n"


# Helpers ----------------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    """The text shown by a reportlab PDF, read without reportlab: inflate each content stream
    (ASCII85 + Flate), take the string operands of Tj and decode them as UCS-2 (the font's encoding)."""
    shown: list[str] = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = match.group(1).strip()
        try:
            content = zlib.decompress(base64.a85decode(raw, adobe=True))
        except ValueError:
            continue
        for literal in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S):
            string = re.sub(
                rb"\\([0-7]{1,3}|.)",
                lambda m: bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit() else m.group(1),
                literal.group(1),
                flags=re.S,
            )
            shown.append(string.decode("utf-16-be", errors="replace") if len(string) % 2 == 0 else "")
    return "\n".join(shown)


def assert_pdf(data: bytes) -> str:
    """Structure of a complete PDF: header, trailer, a cross-reference table where startxref says, the
    page tree, and the built-in Chinese CID font. Returns the shown text."""
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")
    offset = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    assert data[offset : offset + 4] == b"xref"
    assert b"/Type /Catalog" in data and b"/Type /Pages" in data
    assert b"/BaseFont /STSong-Light" in data and b"/Encoding /UniGB-UCS2-H" in data
    return pdf_text(data)


def page_count(data: bytes) -> int:
    return int(re.search(rb"/Count (\d+)", data).group(1))


@pytest.fixture
def person(tree):
    return person_register(
        actor=None, id_number=MAN, name=NAME, residence_code=TREE_KEYS["community_a"]
    ).person


def enroll(person, decision=dt.date(2020, 1, 2), *, report=True, sign=True):
    enrollment = enrollment_create(
        actor=None,
        person=person,
        measure="community_treatment",
        decision_date=decision,
        org_unit_code=TREE_KEYS["street_a"],
    )
    if report:
        enrollment_report(actor=None, enrollment=enrollment, date=decision + dt.timedelta(days=8))
    if report and sign:
        enrollment_sign_agreement(actor=None, enrollment=enrollment, date=decision + dt.timedelta(days=8))
    return enrollment


@pytest.fixture
def enrolled(person):
    enroll(person)
    return person


def generate(client, person, kind, **fields):
    return client.post(
        f"/api/v1/people/persons/{person.pk}/documents",
        {"kind": kind, "fields": fields},
        content_type="application/json",
    )


def upload(client, person, kind="agreement", name="scan.pdf", data=SCAN, content_type="application/pdf"):
    return client.post(
        f"/api/v1/people/persons/{person.pk}/documents/upload",
        {"kind": kind, "file": SimpleUploadedFile(name, data, content_type=content_type)},
    )


def raw_content(document_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM people_casedocument WHERE id = %s", [document_id])
        return cursor.fetchone()[0]


# Generation -------------------------------------------------------------------------------------------


def test_generated_documents_are_printable_chinese_pdfs_with_footer(users, enrolled):
    client = api_client(users["worker_a"])
    expected = {
        "decision_notice": ["责令社区戒毒决定书", "2020年1月17日以前", "视为拒绝接受社区戒毒"],
        "agreement": ["社区戒毒协议书", "定期接受检测", "3日以上的", "3次以上", "累计超过30日"],
        "rehabilitation_plan": ["帮教计划书", "家庭成员", "心理咨询疏导计划", "拟采取帮扶救助措施"],
        "test_notice": ["尿检通知书", "2026年12月1日", "检测3次以上"],
    }
    for kind, phrases in expected.items():
        response = generate(
            client, enrolled, kind, **({"test_date": "2026-12-01"} if kind == "test_notice" else {})
        )
        assert response.status_code == 201, (kind, response.content)
        document = CaseDocument.objects.get(pk=response.json()["id"])
        assert (document.generated, document.template_version, document.content_type) == (
            True, "1", "application/pdf"
        )  # fmt: skip
        download = client.get(f"/api/v1/people/documents/{document.pk}/content")
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        data = download.content
        assert document.size == len(data) and document.digest == get_provider().sm3(data)
        text = assert_pdf(data)
        flat = text.replace("\n", "")
        for phrase in phrases:
            assert phrase in flat, (kind, phrase)
        # Served to the person: the full name and ID number are printed; the footer says who and when.
        assert NAME in text and MAN in text
        assert "禁毒综合治理平台" in text and "生成人 t_worker_a" in text and "生成时间 20" in text
        assert f"第 1 页 / 共 {page_count(data)} 页" in text
        # Neither the title nor the file name names the person.
        assert NAME not in document.title and MAN not in document.file_name


def test_page_numbers_count_every_page(users, enrolled):
    long_text = "家庭成员情况说明。" * 400
    document = documents.document_generate(
        actor=users["worker_a"],
        person=enrolled,
        kind="rehabilitation_plan",
        fields={"family_members": long_text[:2000]},
    )
    data = documents.document_content(users["worker_a"], document)
    pages = page_count(data)
    text = assert_pdf(data)
    assert pages >= 2
    assert all(f"第 {n} 页 / 共 {pages} 页" in text for n in range(1, pages + 1))


def test_user_input_is_printed_literally_not_as_markup(users, enrolled):
    document = documents.document_generate(
        actor=users["worker_a"],
        person=enrolled,
        kind="agreement",
        fields={"other_terms": "按时<b>报告</b> & 不得<font size=40>外出</font>"},
    )
    text = assert_pdf(documents.document_content(users["worker_a"], document))
    assert "<b>报告</b> & 不得<font size=40>外出</font>" in text.replace("\n", "")


def test_release_notice_after_release_and_documents_that_do_not_apply_yet(users, person):
    client = api_client(users["worker_a"])
    assert_error_shape(generate(client, person, "decision_notice"), 409, "not_applicable")
    assert_error_shape(generate(client, person, "test_notice"), 409, "not_applicable")
    enrollment = enroll(person, report=False)
    assert generate(client, person, "decision_notice").status_code == 201
    assert_error_shape(generate(client, person, "agreement"), 409, "not_applicable")  # before 报到
    assert_error_shape(generate(client, person, "release_notice"), 409, "not_applicable")
    enrollment_report(actor=None, enrollment=enrollment, date=dt.date(2020, 1, 10))
    enrollment_sign_agreement(actor=None, enrollment=enrollment, date=dt.date(2020, 1, 10))
    enrollment_release(actor=None, enrollment=enrollment, date=dt.date(2023, 1, 10))
    response = generate(client, person, "release_notice", issuing_authority="宁波市公安局海曙分局")
    assert response.status_code == 201, response.content
    data = client.get(f"/api/v1/people/documents/{response.json()['id']}/content").content
    flat = assert_pdf(data).replace("\n", "")
    assert (
        "解除社区戒毒通知书" in flat
        and "2023年1月10日起解除社区戒毒" in flat
        and "宁波市公安局海曙分局" in flat
    )
    # After release the person is under social control: a test notice applies to that measure.
    response = generate(client, person, "test_notice")
    assert response.status_code == 201
    assert "社会面管控" in pdf_text(
        client.get(f"/api/v1/people/documents/{response.json()['id']}/content").content
    )


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("prison_letter", {}, "kind"),
        ("residence_map", {}, "kind"),  # a known kind without a template: upload only
        ("test_notice", {"test_date": "next monday"}, "test_date"),
        ("test_notice", {"colour": "red"}, "colour"),
        ("decision_notice", {"decision_number": "x" * 61}, "decision_number"),
    ],
)
def test_bad_generation_requests_are_refused(users, enrolled, kind, fields, field):
    body = assert_error_shape(
        generate(api_client(users["worker_a"]), enrolled, kind, **fields), 400, "invalid"
    )
    assert field in body["error"]["fields"]
    assert not CaseDocument.objects.exists()


# Storage ----------------------------------------------------------------------------------------------


def test_content_is_encrypted_at_rest_and_audit_details_hold_no_identity(users, enrolled):
    client = api_client(users["worker_a"])
    generated = generate(client, enrolled, "decision_notice").json()["id"]
    uploaded = upload(client, enrolled, name=f"{NAME}的协议.pdf").json()["id"]
    for document_id in (generated, uploaded):
        raw = raw_content(document_id)
        assert raw.startswith("sm4gcm:")
        # Neither the PDF nor its base64 form ("JVBERi0" is "%PDF-") is readable in the column.
        assert "%PDF" not in raw and "JVBERi0" not in raw and MAN not in raw
    client.get(f"/api/v1/people/documents/{generated}/content")
    records = AuditRecord.objects.filter(object_type="people.casedocument")
    assert {r.action for r in records} == {"CREATE", "EXPORT"}
    for record in AuditRecord.objects.all():
        text = json.dumps(record.detail, ensure_ascii=False) + record.object_repr
        assert MAN not in text and NAME not in text and "协议.pdf" not in text


def test_digest_check_detects_a_replaced_or_damaged_row(users, enrolled):
    client = api_client(users["worker_a"])
    document_id = generate(client, enrolled, "decision_notice").json()["id"]
    # A valid ciphertext of other bytes (e.g. a row copied from elsewhere): decrypts, digest differs.
    CaseDocument.objects.filter(pk=document_id).update(content=base64.b64encode(b"%PDF-1.4 forged").decode())
    assert_error_shape(client.get(f"/api/v1/people/documents/{document_id}/content"), 500, "content_corrupt")
    failure = AuditRecord.objects.filter(action="EXPORT", object_id=str(document_id)).latest("sequence")
    assert failure.result == "failure" and failure.detail["problem"] == "digest_mismatch"
    # A damaged ciphertext: authentication fails.
    raw = raw_content(document_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE people_casedocument SET content = %s WHERE id = %s", [raw[:-8] + "AAAAAAAA", document_id]
        )
    assert_error_shape(client.get(f"/api/v1/people/documents/{document_id}/content"), 500, "content_corrupt")
    failure = AuditRecord.objects.filter(action="EXPORT", object_id=str(document_id)).latest("sequence")
    assert failure.result == "failure" and failure.detail["problem"] == "undecryptable"
    assert not AuditRecord.objects.filter(
        action="EXPORT", object_id=str(document_id), result="success"
    ).exists()


def test_downloads_are_audited_as_exports(users, enrolled):
    document_id = upload(api_client(users["worker_a"]), enrolled, kind="residence_map", name="map.png",
                         data=PNG, content_type="image/png").json()["id"]  # fmt: skip
    response = api_client(users["district_a"]).get(f"/api/v1/people/documents/{document_id}/content")
    assert response.status_code == 200 and response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="map.png"'
    assert response["Cache-Control"] == "no-store"
    record = AuditRecord.objects.get(action="EXPORT")
    assert record.actor_username == "t_district_a" and record.object_id == str(document_id)
    assert record.detail == {
        "person": enrolled.pk, "kind": "residence_map", "digest": get_provider().sm3(PNG), "size": len(PNG)
    }  # fmt: skip
    ui = ui_client(users["worker_a"]).get(f"/people/documents/{document_id}/content/")
    assert ui.status_code == 200 and ui.content == PNG
    assert AuditRecord.objects.filter(action="EXPORT", actor_username="t_worker_a").count() == 1


# Uploads ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type", "stored_name"),
    [
        ("scan.pdf", SCAN, "application/pdf", "scan.pdf"),
        ("../../etc/协议 扫描.PDF", SCAN, "application/pdf", "协议 扫描.pdf"),
        ("photo.jpg", JPEG, "image/jpg", "photo.jpg"),
        ("photo", PNG, "image/png", "photo.png"),
        ('a"b<c>.png', PNG, "image/png; charset=binary", "abc.png"),
    ],
)
def test_uploads_are_accepted_and_named_safely(users, enrolled, name, data, content_type, stored_name):
    response = upload(
        api_client(users["worker_a"]), enrolled, name=name, data=data, content_type=content_type
    )
    assert response.status_code == 201, response.content
    document = CaseDocument.objects.get(pk=response.json()["id"])
    assert (document.file_name, document.generated, document.title, document.size) == (
        stored_name, False, "协议书", len(data)
    )  # fmt: skip
    assert document.content_type in UPLOAD_TYPES and document.digest == get_provider().sm3(data)


@pytest.mark.parametrize(
    ("kind", "data", "content_type", "field"),
    [
        ("agreement", b"hello", "text/plain", "file"),
        ("agreement", PNG, "application/pdf", "file"),  # the signature says PNG
        ("agreement", b"", "application/pdf", "file"),
        ("agreement", b"%PDF-" + b"0" * MAX_UPLOAD_BYTES, "application/pdf", "file"),
        ("prison_letter", SCAN, "application/pdf", "kind"),
    ],
)
def test_bad_uploads_are_refused_clearly(users, enrolled, kind, data, content_type, field):
    response = upload(
        api_client(users["worker_a"]), enrolled, kind=kind, data=data, content_type=content_type
    )
    body = assert_error_shape(response, 400, "invalid")
    assert field in body["error"]["fields"]
    assert not CaseDocument.objects.exists()


def test_upload_service_checks_size_without_the_api(users, enrolled):
    with translation.override("en"), pytest.raises(documents.ServiceError) as refused:
        documents.document_upload(
            actor=users["worker_a"], person=enrolled, kind="agreement", file_name="big.pdf",
            content_type="application/pdf", data=b"%PDF-" + b"0" * MAX_UPLOAD_BYTES,
        )  # fmt: skip
    assert "10 MB" in refused.value.fields["file"]


# Archive ----------------------------------------------------------------------------------------------


def archive(client, person, date="2024-01-01"):
    return client.post(
        f"/api/v1/people/persons/{person.pk}/archive", {"date": date}, content_type="application/json"
    )


def test_archive_is_refused_until_the_case_ended_and_documents_are_complete(users, person):
    client = api_client(users["worker_a"])
    # One decision never led to 报到: it needs no documents. The second reached 报到: it needs both.
    first = enroll(person, dt.date(2019, 1, 2), report=False)
    enrollment_not_reported(actor=None, enrollment=first, as_of=dt.date(2019, 2, 1))
    second = enroll(person, dt.date(2020, 1, 2))
    assert_error_shape(archive(client, person), 409, "active_measure")
    enrollment_terminate(actor=None, enrollment=second, date=dt.date(2023, 6, 1), reason="收监执行")

    status = client.get(f"/api/v1/people/persons/{person.pk}/archive").json()
    assert (
        status["complete"] is False and status["may_archive"] is False and status["active_enrollments"] == 0
    )
    assert [(i["kind"], i["required"], i["present"], i["missing"]) for i in status["items"]] == [
        ("decision_notice", 1, 0, 1), ("agreement", 1, 0, 1)
    ]  # fmt: skip
    body = assert_error_shape(archive(client, person), 400, "documents_missing")
    assert set(body["error"]["fields"]) == {"decision_notice", "agreement"}

    assert generate(client, person, "decision_notice").status_code == 201
    body = assert_error_shape(archive(client, person), 400, "documents_missing")
    assert set(body["error"]["fields"]) == {"agreement"}
    assert upload(client, person, kind="agreement").status_code == 201  # the signed paper, scanned

    assert "date" in assert_error_shape(archive(client, person, "2099-01-01"), 400)["error"]["fields"]
    assert "date" in assert_error_shape(archive(client, person, "2023-05-31"), 400)["error"]["fields"]
    response = archive(client, person, "2023-06-02")
    assert response.status_code == 200, response.content
    assert response.json()["archived_on"] == "2023-06-02" and response.json()["complete"] is True
    person.refresh_from_db()
    assert person.archived_on == dt.date(2023, 6, 2) and person.archived_by == users["worker_a"]
    record = AuditRecord.objects.filter(object_type="people.person", action="UPDATE").latest("sequence")
    assert record.detail == {
        "transition": "archive", "date": "2023-06-02", "documents": {"decision_notice": 1, "agreement": 1}
    }  # fmt: skip
    # Archived and closed: no second archive, no new documents while no measure is in progress.
    assert_error_shape(archive(client, person, "2023-06-03"), 409, "already_archived")
    assert_error_shape(generate(client, person, "decision_notice"), 409, "case_file_archived")
    assert_error_shape(upload(client, person), 409, "case_file_archived")


def test_a_person_without_measures_can_be_archived(users, person):
    response = archive(api_client(users["worker_a"]), person)
    assert response.status_code == 200 and response.json()["items"][0]["required"] == 0


def test_sealed_documents_do_not_count_and_are_not_listed(users, person):
    enrollment_terminate(actor=None, enrollment=enroll(person), date=dt.date(2021, 1, 1), reason="收监执行")
    client = api_client(users["worker_a"])
    generate(client, person, "decision_notice")
    upload(client, person)
    CaseDocument.objects.filter(kind="agreement").update(sealed=True)
    assert [
        d["kind"] for d in client.get(f"/api/v1/people/persons/{person.pk}/documents").json()["items"]
    ] == ["decision_notice"]
    assert_error_shape(archive(client, person), 400, "documents_missing")


# Listing ----------------------------------------------------------------------------------------------


def test_list_has_no_content_and_a_constant_number_of_queries(users, enrolled):
    client = api_client(users["worker_a"])
    url = f"/api/v1/people/persons/{enrolled.pk}/documents"
    generate(client, enrolled, "decision_notice")
    with assert_max_queries(15) as few:
        first = client.get(url)
    one_document = len(few.captured_queries)  # read now: the next request resets the query log
    for _ in range(4):
        upload(client, enrolled, kind="test_records")
    with assert_max_queries(one_document):
        response = client.get(url)
    assert first.status_code == 200 and response.status_code == 200
    body = response.json()
    assert body["count"] == 5 and body["items"][0]["kind"] == "decision_notice"
    item = body["items"][0]
    assert "content" not in item and item["created_by"] == "t_worker_a" and item["kind_label"]
    assert item["title"] == "责令社区戒毒决定书（送达告知联）" and item["generated"] is True
    # Listing is an audited read of the person.
    assert AuditRecord.objects.filter(
        action="READ", object_type="people.person", actor_username="t_worker_a"
    ).exists()


# Authorization ----------------------------------------------------------------------------------------

ALLOWED_READERS = ("worker_a", "street_a", "district_a", "city", "police_a")
DENIED = ("district_b", "sysadmin", "secadmin", "auditadmin", "enterprise")


def test_api_authorization_matrix_for_reads(users, enrolled):
    document_id = generate(api_client(users["worker_a"]), enrolled, "decision_notice").json()["id"]
    assert_api_matrix(
        list_url=None,
        detail_url=f"/api/v1/people/documents/{document_id}/content",
        marker=str(document_id),
        allowed=[users[key] for key in ALLOWED_READERS],
        denied=[users[key] for key in DENIED],
    )
    for url in (
        f"/api/v1/people/persons/{enrolled.pk}/documents",
        f"/api/v1/people/persons/{enrolled.pk}/archive",
    ):
        assert_error_shape(Client().get(url), 401, "not_authenticated")
        for key in DENIED:
            assert_error_shape(api_client(users[key]).get(url), 404, "not_found")
        for key in ALLOWED_READERS:
            response = api_client(users[key]).get(url)
            assert response.status_code == 200, (key, url, response.status_code)
    listed = api_client(users["police_a"]).get(f"/api/v1/people/persons/{enrolled.pk}/documents").json()
    assert [item["id"] for item in listed["items"]] == [document_id]


def test_api_authorization_matrix_for_writes(users, enrolled):
    writes = {
        "generate": lambda client: generate(client, enrolled, "decision_notice"),
        "upload": lambda client: upload(client, enrolled),
        "archive": lambda client: archive(client, enrolled),
    }
    for call in writes.values():
        assert_error_shape(call(Client()), 401, "not_authenticated")
        # Police may read the file but not write it; other districts and administrators see nothing.
        for key in (*DENIED, "police_a"):
            assert_error_shape(call(api_client(users[key])), 404, "not_found")
    assert not CaseDocument.objects.exists() and Person.objects.get(pk=enrolled.pk).archived_on is None
    assert generate(api_client(users["worker_a"]), enrolled, "decision_notice").status_code == 201
    assert upload(api_client(users["street_a"]), enrolled).status_code == 201
    # The person is under a measure: archiving is refused for the rule, not for access.
    assert_error_shape(archive(api_client(users["district_a"]), enrolled), 409, "active_measure")


def test_ui_panel_and_download_authorization_matrix(users, enrolled):
    document = documents.document_generate(actor=users["worker_a"], person=enrolled, kind="decision_notice")
    assert_ui_matrix(
        list_url=None,
        detail_url=f"/people/persons/{enrolled.pk}/documents/",
        marker=document.title,
        allowed=[users[key] for key in ALLOWED_READERS],
        denied=[users[key] for key in DENIED],
    )
    url = f"/people/documents/{document.pk}/content/"
    response = Client().get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    for key in DENIED:
        assert ui_client(users[key]).get(url).status_code == 404, key
    for key in ALLOWED_READERS:
        response = ui_client(users[key]).get(url)
        assert response.status_code == 200 and response.content.startswith(b"%PDF-"), key
        assert response["Content-Disposition"].startswith("attachment;")


def test_ui_panel_loads_into_the_person_page_and_offers_forms_to_writers(users, enrolled):
    page = ui_client(users["worker_a"]).get(f"/people/persons/{enrolled.pk}/").content.decode()
    assert f'hx-get="/people/persons/{enrolled.pk}/documents/"' in page
    fragment = ui_client(users["worker_a"]).get(
        f"/people/persons/{enrolled.pk}/documents/", headers={"HX-Request": "true"}
    )
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert 'data-testid="generate-form"' in html and 'data-testid="upload-form"' in html
    assert 'data-testid="archive-form"' in html and 'data-testid="archive-checklist"' in html
    readonly = ui_client(users["police_a"]).get(f"/people/persons/{enrolled.pk}/documents/").content.decode()
    assert 'data-testid="archive-checklist"' in readonly and 'data-testid="generate-form"' not in readonly


def test_ui_generate_upload_and_archive(users, person):
    enrollment_terminate(actor=None, enrollment=enroll(person), date=dt.date(2021, 1, 1), reason="收监执行")
    client = ui_client(users["worker_a"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # messages are checked in English
    base = f"/people/persons/{person.pk}"
    response = client.post(f"{base}/documents/generate/", {"kind": "decision_notice",
                           "decision_notice__issuing_authority": "海曙分局", "agreement__other_terms": "ignored"})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == f"{base}/#person-documents"
    document = CaseDocument.objects.get(kind="decision_notice")
    text = pdf_text(documents.document_content(users["worker_a"], document))
    assert "海曙分局" in text and "ignored" not in text
    # A refused archive says why, on the person page.
    response = client.post(f"{base}/archive/", {"date": "2021-02-01"}, follow=True)
    assert response.status_code == 200 and "Documents are missing: Agreement (1)" in response.content.decode()
    response = client.post(
        f"{base}/documents/upload/",
        {"kind": "agreement", "file": SimpleUploadedFile("x.txt", b"hello", content_type="text/plain")},
        follow=True,
    )
    assert "PDF, JPEG or PNG" in response.content.decode() and CaseDocument.objects.count() == 1
    response = client.post(
        f"{base}/documents/upload/",
        {"kind": "agreement", "file": SimpleUploadedFile("signed.pdf", SCAN, content_type="application/pdf")},
    )
    assert response.status_code == 302 and CaseDocument.objects.count() == 2
    assert client.post(f"{base}/archive/", {"date": "2021-02-01"}).status_code == 302
    assert Person.objects.get(pk=person.pk).archived_on == dt.date(2021, 2, 1)


def test_ui_writes_authorization_matrix(users, enrolled):
    base = f"/people/persons/{enrolled.pk}"
    posts = {
        f"{base}/documents/generate/": {"kind": "decision_notice"},
        f"{base}/documents/upload/": {
            "kind": "agreement",
            "file": SimpleUploadedFile("s.pdf", SCAN, "application/pdf"),
        },
        f"{base}/archive/": {"date": "2024-01-01"},
    }
    for url, data in posts.items():
        response = Client().post(url, data)
        assert response.status_code == 302 and "/login/" in response["Location"], url
        for key in (*DENIED, "police_a"):
            if "file" in data:
                data["file"].seek(0)
            assert ui_client(users[key]).post(url, data).status_code == 404, (url, key)
        assert ui_client(users["worker_a"]).get(url).status_code == 405, url
    assert not CaseDocument.objects.exists()
