"""People API: 一人一档, the documents of a person's case file (mounted by jindu.people.api)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from jindu.core.apiutil import ERRORS, ErrorOut, PageNumber
from jindu.core.scoping import WRITE, access_object
from jindu.core.storedfiles import check_upload_size
from jindu.people import documents
from jindu.people.models import Person
from jindu.people.schemas import IdOut
from jindu.people.schemas_documents import ArchiveIn, ArchiveStatusOut, DocumentGenerateIn, DocumentOut

router = Router(tags=["people"])


def _status(checklist: documents.ArchiveChecklist) -> dict[str, Any]:
    return {
        "archived_on": checklist.archived_on,
        "complete": checklist.complete,
        "may_archive": checklist.may_archive,
        "active_enrollments": checklist.active_enrollments,
        "items": [{**vars(item), "missing": item.missing} for item in checklist.items],
    }


@router.get(
    "/persons/{person_id}/documents",
    response={200: list[DocumentOut], **ERRORS},
    summary="The person's case file documents (audited read; no content)",
)
@paginate(PageNumber)
def list_documents(request: HttpRequest, person_id: int) -> Any:
    person = access_object(request.user, Person, person_id, audit=True)
    return documents.documents_of(request.user, person)


@router.post(
    "/persons/{person_id}/documents",
    response={201: IdOut, 409: ErrorOut, **ERRORS},
    summary="Generate a document of the case file from its template (PDF)",
)
def generate_document(request: HttpRequest, person_id: int, payload: DocumentGenerateIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    document = documents.document_generate(
        actor=request.user, person=person, kind=payload.kind, fields=payload.fields
    )
    return Status(201, {"id": document.pk})


@router.post(
    "/persons/{person_id}/documents/upload",
    response={201: IdOut, 409: ErrorOut, **ERRORS},
    summary="Upload a document of the case file (PDF, JPEG or PNG, at most 10 MB)",
)
def upload_document(request: HttpRequest, person_id: int, kind: Form[str], file: File[UploadedFile]) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    # Refuse an oversize file before reading it into memory (Django has spooled it to a temporary file).
    check_upload_size(file.size or 0)
    document = documents.document_upload(
        actor=request.user,
        person=person,
        kind=kind,
        file_name=file.name or "",
        content_type=file.content_type or "",
        data=file.read(),
    )
    return Status(201, {"id": document.pk})


@router.get(
    "/documents/{document_id}/content",
    response={200: None, 500: ErrorOut, **ERRORS},
    summary="Download a document (audited as EXPORT; checked against its SM3 digest)",
)
def document_content(request: HttpRequest, document_id: int) -> Any:
    document = documents.access_document(request.user, document_id)
    data = documents.document_content(request.user, document)
    response = HttpResponse(data, content_type=document.content_type)
    response["Content-Disposition"] = content_disposition_header(True, document.file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@router.get(
    "/persons/{person_id}/archive",
    response={200: ArchiveStatusOut, **ERRORS},
    summary="Archive status and checklist of the case file (audited read)",
)
def archive_status(request: HttpRequest, person_id: int) -> Any:
    person = access_object(request.user, Person, person_id, audit=True)
    return _status(documents.archive_checklist(person))


@router.post(
    "/persons/{person_id}/archive",
    response={200: ArchiveStatusOut, 409: ErrorOut, **ERRORS},
    summary="Archive the case file (归档)",
)
def archive_person(request: HttpRequest, person_id: int, payload: ArchiveIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    return _status(documents.person_archive(actor=request.user, person=person, date=payload.date))
