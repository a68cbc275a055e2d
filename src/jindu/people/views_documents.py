"""Pages of 一人一档: a person's case file documents (a panel loaded into the person page), generation,
uploads, audited downloads and archiving."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jindu.core.errors import ServiceError
from jindu.core.scoping import WRITE, access_object, capture_root_ids, in_roots, user_may
from jindu.core.storedfiles import check_upload_size
from jindu.core.views import show_refusal, ui_errors
from jindu.people import documents, selectors
from jindu.people.forms_documents import ArchiveForm, DocumentGenerateForm, DocumentUploadForm
from jindu.people.models import CaseDocument, Person

# Refusals that mean "not yours" rather than "bad input": ui_errors turns them into 404/403/break glass.


def _back(person_id: int) -> HttpResponse:
    return redirect(reverse("people:person_detail", args=[person_id]) + "#person-documents")


def _form_errors(request: HttpRequest, form: DocumentGenerateForm | DocumentUploadForm | ArchiveForm) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        text = " ".join(str(error) for error in errors)
        messages.error(request, f"{label}: {text}" if label else text)


@login_required
@require_GET
@ui_errors
def person_documents(request: HttpRequest, pk: int) -> HttpResponse:
    """The case file panel: loaded by htmx into the person page, or a page of its own without htmx."""
    person = selectors.access_person(request.user, pk)
    may_write = user_may(request.user, CaseDocument, WRITE) and in_roots(
        person.org_unit_id, capture_root_ids(request.user)
    )
    listed = list(documents.documents_of(request.user, person))
    for document in listed:
        document.kind_label = documents.kind_label(document.kind)  # type: ignore[attr-defined]
    context = {
        "person": person,
        "documents": listed,
        "checklist": documents.archive_checklist(person),
        "may_write": may_write,
        "generate_form": DocumentGenerateForm(),
        "upload_form": DocumentUploadForm(),
        "archive_form": ArchiveForm(),
    }
    if request.headers.get("HX-Request"):
        return render(request, "people/_documents_panel.html", context)
    return render(request, "people/person_documents.html", context)


@login_required
@require_POST
@ui_errors
def document_generate(request: HttpRequest, pk: int) -> HttpResponse:
    person = access_object(request.user, Person, pk, action=WRITE)
    form = DocumentGenerateForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(person.pk)
    try:
        document = documents.document_generate(
            actor=request.user, person=person, kind=form.cleaned_data["kind"], fields=form.values()
        )
    except ServiceError as error:
        show_refusal(request, error)
    else:
        messages.success(request, _("Generated: %(title)s.") % {"title": document.title})
    return _back(person.pk)


@login_required
@require_POST
@ui_errors
def document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    person = access_object(request.user, Person, pk, action=WRITE)
    form = DocumentUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(person.pk)
    upload = form.cleaned_data["file"]
    try:
        check_upload_size(upload.size or 0)
        document = documents.document_upload(
            actor=request.user,
            person=person,
            kind=form.cleaned_data["kind"],
            file_name=upload.name or "",
            content_type=upload.content_type or "",
            data=upload.read(),
        )
    except ServiceError as error:
        show_refusal(request, error)
    else:
        messages.success(request, _("Uploaded: %(title)s.") % {"title": document.title})
    return _back(person.pk)


@login_required
@require_GET
@ui_errors
def document_content(request: HttpRequest, pk: int) -> HttpResponse:
    """Download a document (audited as EXPORT)."""
    document = documents.access_document(request.user, pk)
    try:
        data = documents.document_content(request.user, document)
    except ServiceError as error:
        show_refusal(request, error)
        return _back(document.person_id)
    response = HttpResponse(data, content_type=document.content_type)
    response["Content-Disposition"] = content_disposition_header(True, document.file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
@ui_errors
def person_archive(request: HttpRequest, pk: int) -> HttpResponse:
    person = access_object(request.user, Person, pk, action=WRITE)
    form = ArchiveForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(person.pk)
    try:
        documents.person_archive(actor=request.user, person=person, date=form.cleaned_data["date"])
    except ServiceError as error:
        show_refusal(request, error)
    else:
        messages.success(request, _("The case file is archived."))
    return _back(person.pk)
