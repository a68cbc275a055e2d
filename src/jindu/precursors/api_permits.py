"""Precursors API: online applications (全程网办), issued permits, certificates and their verification (mounted
by api.py under /api/v1/precursors/).

Lists are paged by hand (``page``, ``page_size``) because the SLA of each listed application is computed after
the page is cut (one policy look-up for the page), so this module does not use ``@paginate``."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from jindu.core.apiutil import ERRORS, ErrorOut, rate_limit
from jindu.core.crypto import get_provider
from jindu.core.errors import ServiceError
from jindu.core.scoping import WRITE
from jindu.core.storedfiles import check_upload_size
from jindu.precursors import permits
from jindu.precursors.models.permits import (
    PENDING_STATUSES,
    ApplicationAttachment,
    ApplicationStatus,
    Permit,
    PermitApplication,
)

router = Router(tags=["precursors"])


# Schemas --------------------------------------------------------------------------------------------------


class ApplicationIn(Schema):
    """A new application. ``substance`` is the catalogue code (e.g. ``acetone``); ``quantity_kg`` is kg of
    pure substance. Purchases name the seller and the declared use; transports the consignee, the route, the
    vehicle and driver, the time window (with offsets) and optionally a corridor of [lon, lat] points (WGS 84)
    with a buffer in metres. ``submit`` submits it at once."""

    permit_type: str
    substance: str = ""
    quantity_kg: str | int | float = ""
    counterparty_uscc: str = ""
    counterparty_name: str = ""
    declared_use: str = ""
    origin: str = ""
    destination: str = ""
    carrier: str = ""
    vehicle_plate: str = ""
    driver_name: str = ""
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    route_corridor: list[Any] | None = None
    corridor_buffer_m: int | None = None
    submit: bool = False


class ReasonIn(Schema):
    reason: str = ""


class AttachmentOut(Schema):
    id: int
    kind: str
    file_name: str
    content_type: str
    size: int
    digest: str
    uploaded_at: dt.datetime


class ApplicationOut(Schema):
    id: int
    enterprise: str
    enterprise_name: str
    permit_type: str
    permit_type_label: str
    substance: str
    substance_name: str
    cas: str
    category: int
    quantity_kg: Decimal
    counterparty_uscc: str
    counterparty_name: str
    declared_use: str
    origin: str
    destination: str
    carrier: str
    vehicle_plate: str
    driver_name: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    route_corridor: list[Any]
    corridor_buffer_m: int | None
    status: str
    submitted_at: dt.datetime | None
    accepted_at: dt.datetime | None
    decided_at: dt.datetime | None
    decided_by: str | None
    decision_reason: str
    legal_deadline: dt.date | None
    sla: str | None = Field(None, description="on_time, due_soon or overdue while pending")
    auto_approved: bool
    permit: str | None = Field(None, description="number of the issued permit")
    permit_id: int | None
    attachments: list[AttachmentOut]


class ApplicationPage(Schema):
    items: list[ApplicationOut]
    count: int
    page: int
    page_size: int


class PermitOut(Schema):
    id: int
    number: str
    application: int
    enterprise: str
    enterprise_name: str
    permit_type: str
    permit_type_label: str
    substance: str
    substance_name: str
    cas: str
    category: int
    counterparty_uscc: str
    quantity_cap_kg: Decimal | None
    consumed_kg: Decimal
    remaining_kg: Decimal | None
    valid_from: dt.date
    valid_until: dt.date | None
    single_use: bool
    uses: int
    status: str
    issued_at: dt.datetime
    issuing_office: str
    auto_approved: bool
    revoked_at: dt.datetime | None
    revocation_reason: str
    certificate_digest: str
    verification_url: str


class PermitPage(Schema):
    items: list[PermitOut]
    count: int
    page: int
    page_size: int


class VerifyOut(Schema):
    """Whether an uploaded file is, byte for byte, a certificate the platform issued; a non-personal summary
    of the permit when it is."""

    match: bool
    digest: str
    number: str | None = None
    status: str | None = None
    permit_type: str | None = None
    permit_type_label: str | None = None
    enterprise_name: str | None = None
    enterprise_uscc: str | None = None
    substance_name: str | None = None
    cas: str | None = None
    quantity_cap_kg: Decimal | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    issuing_office: str | None = None


class PageIn(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=500)


class ApplicationFilter(PageIn):
    status: str = ""
    pending: bool = False


# Output ----------------------------------------------------------------------------------------------------


def _attachment_out(attachment: ApplicationAttachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "kind": attachment.kind,
        "file_name": attachment.file_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "digest": attachment.digest,
        "uploaded_at": attachment.uploaded_at,
    }


def _issued(application: PermitApplication) -> Permit | None:
    try:
        return application.permit
    except Permit.DoesNotExist:
        return None


def application_out(application: PermitApplication) -> dict[str, Any]:
    permit = _issued(application)
    return {
        "id": application.pk,
        "enterprise": application.enterprise.uscc,
        "enterprise_name": application.enterprise.name,
        "permit_type": application.permit_type,
        "permit_type_label": str(application.get_permit_type_display()),
        "substance": application.substance.code,
        "substance_name": application.substance.name_zh,
        "cas": application.substance.cas,
        "category": application.category,
        "quantity_kg": application.quantity_kg,
        "counterparty_uscc": application.counterparty_uscc,
        "counterparty_name": application.counterparty_name,
        "declared_use": application.declared_use,
        "origin": application.origin,
        "destination": application.destination,
        "carrier": application.carrier,
        "vehicle_plate": application.vehicle_plate,
        "driver_name": application.driver_name,
        "window_start": application.window_start,
        "window_end": application.window_end,
        "route_corridor": application.route_corridor,
        "corridor_buffer_m": application.corridor_buffer_m,
        "status": application.status,
        "submitted_at": application.submitted_at,
        "accepted_at": application.accepted_at,
        "decided_at": application.decided_at,
        "decided_by": application.decided_by.username if application.decided_by else None,
        "decision_reason": application.decision_reason,
        "legal_deadline": application.legal_deadline,
        "sla": getattr(application, "sla", None),
        "auto_approved": application.auto_approved,
        "permit": permit.number if permit else None,
        "permit_id": permit.pk if permit else None,
        "attachments": [_attachment_out(a) for a in application.attachments.all()],
    }


def permit_out(permit: Permit, today: dt.date | None = None) -> dict[str, Any]:
    return {
        "id": permit.pk,
        "number": permit.number,
        "application": permit.application_id,
        "enterprise": permit.enterprise.uscc,
        "enterprise_name": permit.enterprise.name,
        "permit_type": permit.permit_type,
        "permit_type_label": str(permit.get_permit_type_display()),
        "substance": permit.substance.code,
        "substance_name": permit.substance.name_zh,
        "cas": permit.substance.cas,
        "category": permit.category,
        "counterparty_uscc": permit.counterparty_uscc,
        "quantity_cap_kg": permit.quantity_cap_kg,
        "consumed_kg": permit.consumed_kg,
        "remaining_kg": permit.remaining_kg,
        "valid_from": permit.valid_from,
        "valid_until": permit.valid_until,
        "single_use": permit.single_use,
        "uses": permit.uses,
        "status": permit.current_status(today or timezone.localdate()),
        "issued_at": permit.issued_at,
        "issuing_office": permit.issuing_office,
        "auto_approved": permit.application.auto_approved,
        "revoked_at": permit.revoked_at,
        "revocation_reason": permit.revocation_reason,
        "certificate_digest": permit.certificate_digest,
        "verification_url": permits.verification_path(permit.verification_token),
    }


def _with_details(applications: QuerySet[PermitApplication]) -> QuerySet[PermitApplication]:
    return (
        applications.select_related("permit")
        .defer("permit__certificate")
        .prefetch_related(
            Prefetch("attachments", queryset=ApplicationAttachment.objects.defer("content").order_by("id"))
        )
    )


def _detail(request: HttpRequest, application_id: int) -> dict[str, Any]:
    found = permits.access_application(request.user, application_id)
    application = _with_details(
        PermitApplication.objects.select_related("enterprise", "substance", "decided_by")
    ).get(pk=found.pk)
    return application_out(permits.with_sla([application])[0])


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


# Applications ---------------------------------------------------------------------------------------------


@router.get(
    "/applications",
    response={200: ApplicationPage, **ERRORS},
    summary="Applications I may see (a firm's own, drafts included; officials: submitted ones in scope)",
)
def list_applications(request: HttpRequest, filters: Query[ApplicationFilter]) -> Any:
    applications = permits.applications_for_user(request.user)
    if filters.pending:
        applications = applications.filter(status__in=PENDING_STATUSES)
    if filters.status:
        if filters.status not in ApplicationStatus.values:
            raise ServiceError(
                _("Unknown status %(status)s.") % {"status": filters.status},
                fields={"status": _("one of: %(known)s") % {"known": ", ".join(ApplicationStatus.values)}},
            )
        applications = applications.filter(status=filters.status)
    offset = (filters.page - 1) * filters.page_size
    page = permits.with_sla(_with_details(applications)[offset : offset + filters.page_size])
    return {
        "items": [application_out(application) for application in page],
        "count": applications.count(),
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.post(
    "/applications",
    response={201: ApplicationOut, **ERRORS},
    summary="File an application for my firm (a draft, or submitted with submit=true)",
)
def create_application(request: HttpRequest, payload: ApplicationIn) -> Any:
    application = permits.application_create(
        actor=request.user,
        permit_type=payload.permit_type,
        substance=payload.substance,
        quantity_kg=payload.quantity_kg,
        counterparty_uscc=payload.counterparty_uscc,
        counterparty_name=payload.counterparty_name,
        declared_use=payload.declared_use,
        origin=payload.origin,
        destination=payload.destination,
        carrier=payload.carrier,
        vehicle_plate=payload.vehicle_plate,
        driver_name=payload.driver_name,
        window_start=payload.window_start,
        window_end=payload.window_end,
        route_corridor=payload.route_corridor,
        corridor_buffer_m=payload.corridor_buffer_m,
        submit=payload.submit,
        base_url=_base_url(request),
    )
    return Status(201, _detail(request, application.pk))


@router.get(
    "/applications/{application_id}", response={200: ApplicationOut, **ERRORS}, summary="One application"
)
def get_application(request: HttpRequest, application_id: int) -> Any:
    return _detail(request, application_id)


@router.post(
    "/applications/{application_id}/submit", response={200: ApplicationOut, **ERRORS}, summary="Submit (firm)"
)
def submit_application(request: HttpRequest, application_id: int) -> Any:
    application = permits.access_application(request.user, application_id)
    permits.application_submit(actor=request.user, application=application, base_url=_base_url(request))
    return _detail(request, application_id)


@router.post(
    "/applications/{application_id}/withdraw",
    response={200: ApplicationOut, **ERRORS},
    summary="Withdraw (firm)",
)
def withdraw_application(request: HttpRequest, application_id: int) -> Any:
    application = permits.access_application(request.user, application_id)
    permits.application_withdraw(actor=request.user, application=application)
    return _detail(request, application_id)


@router.post(
    "/applications/{application_id}/accept",
    response={200: ApplicationOut, **ERRORS},
    summary="Accept (受理; office)",
)
def accept_application(request: HttpRequest, application_id: int) -> Any:
    application = permits.access_application(request.user, application_id, action=WRITE)
    permits.application_accept(actor=request.user, application=application)
    return _detail(request, application_id)


@router.post(
    "/applications/{application_id}/approve",
    response={200: ApplicationOut, **ERRORS},
    summary="Approve and issue the permit with its certificate (office)",
)
def approve_application(request: HttpRequest, application_id: int, payload: ReasonIn | None = None) -> Any:
    application = permits.access_application(request.user, application_id, action=WRITE)
    permits.application_approve(
        actor=request.user,
        application=application,
        reason=payload.reason if payload else "",
        base_url=_base_url(request),
    )
    return _detail(request, application_id)


@router.post(
    "/applications/{application_id}/reject",
    response={200: ApplicationOut, **ERRORS},
    summary="Reject, with a reason (office)",
)
def reject_application(request: HttpRequest, application_id: int, payload: ReasonIn) -> Any:
    application = permits.access_application(request.user, application_id, action=WRITE)
    permits.application_reject(actor=request.user, application=application, reason=payload.reason)
    return _detail(request, application_id)


@router.post(
    "/applications/{application_id}/attachments",
    response={201: AttachmentOut, **ERRORS},
    summary="Attach a file (PDF, JPEG or PNG, at most 10 MB; firm)",
)
def add_attachment(
    request: HttpRequest, application_id: int, kind: Form[str], file: File[UploadedFile]
) -> Any:
    application = permits.access_application(request.user, application_id)
    check_upload_size(file.size or 0)
    attachment = permits.attachment_add(
        actor=request.user,
        application=application,
        kind=kind,
        file_name=file.name or "",
        content_type=file.content_type or "",
        data=file.read(),
    )
    return Status(201, _attachment_out(attachment))


def _file_response(data: bytes, content_type: str, file_name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@router.get(
    "/applications/{application_id}/attachments/{attachment_id}/content",
    response={200: None, 500: ErrorOut, **ERRORS},
    summary="Download an attachment (audited as EXPORT)",
)
def attachment_content(request: HttpRequest, application_id: int, attachment_id: int) -> Any:
    attachment = permits.access_attachment(request.user, application_id, attachment_id)
    data = permits.attachment_content(request.user, attachment)
    return _file_response(data, attachment.content_type, attachment.file_name)


# Permits --------------------------------------------------------------------------------------------------


@router.get("/permits", response={200: PermitPage, **ERRORS}, summary="Issued permits I may see")
def list_permits(request: HttpRequest, filters: Query[PageIn]) -> Any:
    issued = permits.permits_for_user(request.user)
    offset = (filters.page - 1) * filters.page_size
    today = timezone.localdate()
    return {
        "items": [permit_out(p, today) for p in issued[offset : offset + filters.page_size]],
        "count": issued.count(),
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.post(
    "/permits/verify",
    response={200: VerifyOut, **ERRORS},
    summary="Verify a certificate PDF: does its SM3 digest match an issued permit?",
)
def verify_certificate(request: HttpRequest, file: File[UploadedFile]) -> Any:
    """Any signed-in user (a seller checking a buyer's certificate, an inspector) may check a file; the
    public, no-login check is the page /precursors/verify/ (every API endpoint needs a token)."""
    rate_limit(request, scope="permit_verify", limit=60)
    check_upload_size(file.size or 0)
    data = file.read()
    digest = get_provider().sm3(data) if data else ""
    permit = permits.permit_by_certificate(data)
    if permit is None:
        return {"match": False, "digest": digest}
    return {
        "match": True,
        "digest": digest,
        "number": permit.number,
        "status": permit.current_status(timezone.localdate()),
        "permit_type": permit.permit_type,
        "permit_type_label": str(permit.get_permit_type_display()),
        "enterprise_name": permit.enterprise.name,
        "enterprise_uscc": permit.enterprise.uscc,
        "substance_name": permit.substance.name_zh,
        "cas": permit.substance.cas,
        "quantity_cap_kg": permit.quantity_cap_kg,
        "valid_from": permit.valid_from,
        "valid_until": permit.valid_until,
        "issuing_office": permit.issuing_office,
    }


@router.get("/permits/{permit_id}", response={200: PermitOut, **ERRORS}, summary="One permit")
def get_permit(request: HttpRequest, permit_id: int) -> Any:
    return permit_out(permits.access_permit(request.user, permit_id))


@router.get(
    "/permits/{permit_id}/certificate",
    response={200: None, 500: ErrorOut, **ERRORS},
    summary="Download the certificate PDF (audited as EXPORT; checked against its SM3 digest)",
)
def permit_certificate(request: HttpRequest, permit_id: int) -> Any:
    permit = permits.access_permit(request.user, permit_id)
    data = permits.certificate_content(request.user, permit)
    return _file_response(data, "application/pdf", permits.certificate_file_name(permit))


@router.post(
    "/permits/{permit_id}/revoke",
    response={200: PermitOut, **ERRORS},
    summary="Revoke, with a reason (office)",
)
def revoke_permit(request: HttpRequest, permit_id: int, payload: ReasonIn) -> Any:
    permit = permits.access_permit(request.user, permit_id, action=WRITE)
    permits.permit_revoke(actor=request.user, permit=permit, reason=payload.reason)
    return permit_out(permits.access_permit(request.user, permit_id))
