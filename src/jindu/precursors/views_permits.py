"""Pages of the online applications (全程网办): the firm's home, applications and their decisions, permits with
their certificates, and the public verification pages (no login)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jindu.core.apiutil import RateLimited, rate_limit
from jindu.core.errors import ServiceError
from jindu.core.forms import add_service_error
from jindu.core.scoping import WRITE, capture_root_ids, in_roots, user_may
from jindu.core.storedfiles import check_upload_size
from jindu.core.views import ACCESS_ERRORS, show_refusal, ui_errors
from jindu.precursors import permits
from jindu.precursors.annual_reports import open_years
from jindu.precursors.forms_permits import ApplicationForm, AttachmentForm, ReasonForm, VerifyForm
from jindu.precursors.models import Enterprise
from jindu.precursors.models.permits import (
    PENDING_STATUSES,
    ApplicationStatus,
    Permit,
    PermitApplication,
)
from jindu.precursors.permit_rules import PermitRuleError
from jindu.precursors.selectors import access_enterprise, is_enterprise_user

FIRM_ACTIONS = ("submit", "withdraw")
OFFICE_ACTIONS = ("accept", "approve", "reject")
PAGE_SIZE = 50


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


def _may_decide(user: Any, application: PermitApplication | Permit) -> bool:
    return user_may(user, type(application), WRITE) and in_roots(
        application.org_unit_id, capture_root_ids(user)
    )


def _is_firm_user(user: Any) -> bool:
    return is_enterprise_user(user) and not user.has_jindu_perm("precursors.view_precursors")


def _firm_context(request: HttpRequest, firm: Enterprise, *, own: bool) -> dict[str, Any]:
    today = timezone.localdate()
    applications = permits.with_sla(permits.enterprise_applications(firm)[:PAGE_SIZE], today)
    if not own:  # officials never see a firm's drafts
        applications = [a for a in applications if a.status != ApplicationStatus.DRAFT]
    issued = list(permits.enterprise_permits(firm)[:PAGE_SIZE])
    for permit in issued:
        permit.current = permit.current_status(today)  # type: ignore[attr-defined]
    return {
        "firm": firm,
        "own": own,
        # Last year's annual report: due, submitted on time or late, missing.
        "annual_report": open_years(firm, today, count=1)[0],
        "applications": applications,
        "permits": issued,
        "form": ApplicationForm(initial={"activity": "purchase"}) if own else None,
    }


@login_required
@require_GET
@ui_errors
def enterprise_home(request: HttpRequest) -> HttpResponse:
    """The firm user's home: their firm, its applications (status, SLA), permits, and a new application."""
    if not _is_firm_user(request.user):
        return redirect("precursors:application_list")
    firm = permits.filing_enterprise(request.user)
    return render(request, "precursors/enterprise_home.html", _firm_context(request, firm, own=True))


@login_required
@require_GET
@ui_errors
def enterprise_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A firm's applications and permits, for the officials in scope (and the firm's own users)."""
    firm = access_enterprise(request.user, pk)
    if _is_firm_user(request.user):
        return redirect("precursors:enterprise_home")
    return render(request, "precursors/enterprise_home.html", _firm_context(request, firm, own=False))


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def application_new(request: HttpRequest) -> HttpResponse:
    """File an application (the firm's users): the activity and the substance decide the permit type."""
    firm = permits.filing_enterprise(request.user)
    form = ApplicationForm(
        request.POST or None, initial={"activity": request.GET.get("activity", "purchase")}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            permit_type = permits.permit_type_for(data["activity"], data["substance"])
        except PermitRuleError as error:
            form.add_error("activity", str(error))
        else:
            try:
                application = permits.application_create(
                    actor=request.user,
                    permit_type=permit_type,
                    substance=data["substance"],
                    quantity_kg=data["quantity_kg"],
                    counterparty_uscc=data["counterparty_uscc"],
                    counterparty_name=data["counterparty_name"],
                    declared_use=data["declared_use"],
                    origin=data["origin"],
                    destination=data["destination"],
                    carrier=data["carrier"],
                    vehicle_plate=data["vehicle_plate"],
                    driver_name=data["driver_name"],
                    window_start=data.get("window_start"),
                    window_end=data.get("window_end"),
                    route_corridor=data.get("route_corridor"),
                    corridor_buffer_m=data.get("corridor_buffer_m"),
                )
            except ServiceError as error:
                if isinstance(error, ACCESS_ERRORS):
                    raise
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _("Saved as a draft: attach the documents, then submit the application."),
                )
                return redirect("precursors:application_detail", pk=application.pk)
    return render(request, "precursors/application_form.html", {"form": form, "firm": firm})


@login_required
@require_GET
@ui_errors
def application_list(request: HttpRequest) -> HttpResponse:
    """Applications: by default those waiting for a decision (officials: of their district), with SLA state."""
    status = request.GET.get("status", "pending")
    applications = permits.applications_for_user(request.user)
    if status == "pending":
        applications = applications.filter(status__in=PENDING_STATUSES).order_by(
            "legal_deadline", "submitted_at", "id"
        )
    elif status in ApplicationStatus.values:
        applications = applications.filter(status=status)
    else:
        status = "all"
    page = Paginator(applications, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = permits.with_sla(page.object_list)
    return render(
        request,
        "precursors/application_list.html",
        {
            "page": page,
            "status": status,
            "statuses": [("pending", _("Pending")), *ApplicationStatus.choices, ("all", _("All"))],
            "firm_user": _is_firm_user(request.user),
        },
    )


@login_required
@require_GET
@ui_errors
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    application = permits.access_application(request.user, pk)
    permits.with_sla([application])
    own = _is_firm_user(request.user)
    decides = not own and _may_decide(request.user, application)
    try:
        issued: Permit | None = Permit.objects.defer("certificate").get(application=application)
    except Permit.DoesNotExist:
        issued = None
    open_statuses = (ApplicationStatus.DRAFT, *PENDING_STATUSES)
    return render(
        request,
        "precursors/application_detail.html",
        {
            "application": application,
            "attachments": list(permits.attachments_of(application)),
            "permit": issued,
            "own": own,
            "may_submit": own and application.status == ApplicationStatus.DRAFT,
            "may_withdraw": own and application.status in open_statuses,
            "may_attach": own and application.status in open_statuses,
            "may_accept": decides and application.status == ApplicationStatus.SUBMITTED,
            "may_approve": decides and application.status == ApplicationStatus.ACCEPTED,
            "may_reject": decides and application.status in PENDING_STATUSES,
            "attachment_form": AttachmentForm(),
            "reason_form": ReasonForm(),
        },
    )


@login_required
@require_POST
@ui_errors
def application_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Submit or withdraw (the firm); accept, approve or reject (officials of the firm's district)."""
    back = redirect("precursors:application_detail", pk=pk)
    if action in FIRM_ACTIONS:
        application = permits.access_application(request.user, pk)
    elif action in OFFICE_ACTIONS:
        application = permits.access_application(request.user, pk, action=WRITE)
    else:
        raise Http404()
    reason = ReasonForm(request.POST)
    reason_text = reason.cleaned_data["reason"] if reason.is_valid() else ""
    try:
        if action == "submit":
            done = permits.application_submit(
                actor=request.user, application=application, base_url=_base_url(request)
            )
            if done.auto_approved:
                messages.success(request, _("Submitted and approved automatically (智能备案)."))
            else:
                messages.success(request, _("Submitted."))
        elif action == "withdraw":
            permits.application_withdraw(actor=request.user, application=application)
            messages.success(request, _("Withdrawn."))
        elif action == "accept":
            permits.application_accept(actor=request.user, application=application)
            messages.success(request, _("Accepted."))
        elif action == "approve":
            permits.application_approve(
                actor=request.user, application=application, reason=reason_text, base_url=_base_url(request)
            )
            messages.success(request, _("Approved: the permit and its certificate are issued."))
        else:
            permits.application_reject(actor=request.user, application=application, reason=reason_text)
            messages.success(request, _("Rejected."))
    except ServiceError as error:
        show_refusal(request, error)
    return back


@login_required
@require_POST
@ui_errors
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    application = permits.access_application(request.user, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        for name, errors in form.errors.items():
            messages.error(
                request,
                f"{form.fields[name].label if name in form.fields else ''}: {' '.join(str(e) for e in errors)}",
            )
        return redirect("precursors:application_detail", pk=pk)
    upload = form.cleaned_data["file"]
    try:
        check_upload_size(upload.size or 0)
        attachment = permits.attachment_add(
            actor=request.user,
            application=application,
            kind=form.cleaned_data["kind"],
            file_name=upload.name or "",
            content_type=upload.content_type or "",
            data=upload.read(),
        )
    except ServiceError as error:
        show_refusal(request, error)
    else:
        messages.success(request, _("Attached: %(name)s.") % {"name": attachment.file_name})
    return redirect("precursors:application_detail", pk=pk)


def _download(data: bytes, content_type: str, file_name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
@ui_errors
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    attachment = permits.access_attachment(request.user, pk, attachment_pk)
    try:
        data = permits.attachment_content(request.user, attachment)
    except ServiceError as error:
        show_refusal(request, error)
        return redirect("precursors:application_detail", pk=pk)
    return _download(data, attachment.content_type, attachment.file_name)


@login_required
@require_GET
@ui_errors
def permit_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(permits.permits_for_user(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    for permit in page.object_list:
        permit.current = permit.current_status(today)  # type: ignore[attr-defined]
    return render(request, "precursors/permit_list.html", {"page": page})


@login_required
@require_GET
@ui_errors
def permit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    permit = permits.access_permit(request.user, pk)
    own = _is_firm_user(request.user)
    return render(
        request,
        "precursors/permit_detail.html",
        {
            "permit": permit,
            "current": permit.current_status(timezone.localdate()),
            "verification_url": permits.verification_url(permit.verification_token, _base_url(request)),
            "may_revoke": not own and permit.status != "revoked" and _may_decide(request.user, permit),
            "reason_form": ReasonForm(),
        },
    )


@login_required
@require_GET
@ui_errors
def permit_certificate(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the certificate PDF (audited as EXPORT)."""
    permit = permits.access_permit(request.user, pk)
    try:
        data = permits.certificate_content(request.user, permit)
    except ServiceError as error:
        show_refusal(request, error)
        return redirect("precursors:permit_detail", pk=pk)
    return _download(data, "application/pdf", permits.certificate_file_name(permit))


@login_required
@require_POST
@ui_errors
def permit_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    permit = permits.access_permit(request.user, pk, action=WRITE)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        permits.permit_revoke(actor=request.user, permit=permit, reason=reason)
    except ServiceError as error:
        show_refusal(request, error)
    else:
        messages.success(request, _("The permit is revoked."))
    return redirect("precursors:permit_detail", pk=pk)


# Public verification (no login) ---------------------------------------------------------------------------


def _summary(permit: Permit) -> dict[str, Any]:
    """What anyone holding the certificate may learn: no personal data (no driver, no users)."""
    return {"permit": permit, "current": permit.current_status(timezone.localdate())}


@require_GET
def permit_verify(request: HttpRequest, token: str) -> HttpResponse:
    """The page the certificate's QR code opens: the permit's current status and a non-personal summary."""
    try:
        rate_limit(request, scope="permit_verify_page", limit=120)
    except RateLimited as error:
        return HttpResponse(error.message, status=429)
    permit = permits.permit_by_token(token)
    if permit is None:
        return render(request, "precursors/permit_verify.html", {"permit": None}, status=404)
    return render(request, "precursors/permit_verify.html", _summary(permit))


@require_http_methods(["GET", "POST"])
def verify_upload(request: HttpRequest) -> HttpResponse:
    """Upload a certificate PDF: does it match, byte for byte (SM3), a certificate the platform issued?"""
    form = VerifyForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"form": form, "checked": False}
    if request.method == "POST" and form.is_valid():
        try:
            rate_limit(request, scope="permit_verify", limit=60)
            upload = form.cleaned_data["file"]
            check_upload_size(upload.size or 0)
        except ServiceError as error:
            form.add_error("file", error.message)
        else:
            permit = permits.permit_by_certificate(upload.read())
            context.update({"checked": True, "permit": permit})
            if permit is not None:
                context.update(_summary(permit))
                context["verify_path"] = reverse("precursors:permit_verify", args=[permit.verification_token])
    return render(request, "precursors/permit_verify_upload.html", context)
