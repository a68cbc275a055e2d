"""Pages of inspections, rectification and penalties: the officials' inspection list (with the overdue
rectifications badge), an inspection's page (checklist form, findings with photos, rectification orders and their
verification, penalty cases), the rectification list (firm users submit their evidence there) and the penalty
list."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jindu.core.errors import ServiceError
from jindu.core.policy import policy_in_force
from jindu.core.scoping import WRITE, capture_root_ids, in_roots, user_may
from jindu.core.storedfiles import check_upload_size
from jindu.core.views import show_refusal, ui_errors
from jindu.precursors import inspections as svc
from jindu.precursors.models.inspections import (
    Inspection,
    InspectionStatus,
    ItemResult,
    PenaltyStatus,
    RectificationStatus,
)

PAGE_SIZE = 50


def _may_write(user: Any, obj: Any) -> bool:
    return (
        not svc.acts_as_firm(user)
        and user_may(user, type(obj), WRITE)
        and in_roots(obj.org_unit_id, capture_root_ids(user))
    )


@login_required
@require_GET
@ui_errors
def inspection_list(request: HttpRequest) -> HttpResponse:
    """Inspections of the firms in scope: planned (soonest first), done, or all; the overdue badge counts the
    rectification orders past their deadline."""
    if svc.acts_as_firm(request.user):
        return redirect("precursors:rectification_list")
    status = request.GET.get("status", "planned")
    inspections = svc.inspections_for_user(request.user)
    if status == "planned":
        inspections = inspections.filter(status=InspectionStatus.PLANNED).order_by("planned_on", "id")
    elif status in InspectionStatus.values:
        inspections = inspections.filter(status=status)
    else:
        status = "all"
    page = Paginator(inspections, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "precursors/inspection_list.html",
        {
            "page": page,
            "status": status,
            "statuses": [*InspectionStatus.choices, ("all", _("All"))],
            "overdue": svc.overdue_rectification_count(request.user),
            "today": timezone.localdate(),
        },
    )


@login_required
@require_GET
@ui_errors
def inspection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    inspection = svc.access_inspection(request.user, pk)
    may_write = _may_write(request.user, inspection)
    today = timezone.localdate()
    items: list[dict[str, Any]] = []
    if inspection.checklist is not None:
        items = svc.checklist_items(inspection.checklist)
    elif inspection.status == InspectionStatus.PLANNED and may_write:
        items = svc.checklist_items(
            policy_in_force(svc.CHECKLIST_POLICY, inspection.enterprise.org_unit, today)
        )
    items = [{**item, "result": inspection.results.get(item["key"], "")} for item in items]
    findings = svc.findings_of(inspection)
    for finding in findings:
        order = getattr(finding, "order", None)
        if order is not None:
            order.overdue = order.is_overdue(today)
    penalties = list(inspection.penalties.order_by("id"))
    return render(
        request,
        "precursors/inspection_detail.html",
        {
            "inspection": inspection,
            "items": items,
            "results": ItemResult.choices,
            "findings": findings,
            "penalties": penalties,
            "may_write": may_write,
            "may_record": may_write and inspection.status == InspectionStatus.PLANNED,
            "bases": svc.discretion_bases(inspection.enterprise) if may_write else [],
            "today": today,
            "submitted": RectificationStatus.SUBMITTED,
            "open_case": PenaltyStatus.OPEN,
        },
    )


@login_required
@require_POST
@ui_errors
def inspection_record(request: HttpRequest, pk: int) -> HttpResponse:
    """The checklist form: ``item_<key>`` = pass/fail/na, ``desc_<key>`` describes a failed item."""
    inspection = svc.access_inspection(request.user, pk, action=WRITE)
    posted = {name: str(value) for name, value in request.POST.items()}
    results = {name[5:]: value for name, value in posted.items() if name.startswith("item_")}
    descriptions = {
        name[5:]: value for name, value in posted.items() if name.startswith("desc_") and value.strip()
    }
    try:
        if request.POST.get("refuse"):
            svc.inspection_refuse(
                actor=request.user, inspection=inspection, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Recorded: the firm refused the inspection."))
        else:
            done = svc.inspection_record(
                actor=request.user,
                inspection=inspection,
                results=results,
                done_on=request.POST.get("done_on") or None,
                notes=request.POST.get("notes", ""),
                descriptions=descriptions,
            )
            messages.success(
                request,
                _("Recorded: %(n)s findings.") % {"n": done.findings.count()},
            )
    except ServiceError as error:
        show_refusal(request, error)
    return redirect("precursors:inspection_detail", pk=pk)


@login_required
@require_POST
@ui_errors
def finding_photo(request: HttpRequest, pk: int) -> HttpResponse:
    finding = svc.access_finding(request.user, pk, action=WRITE)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ServiceError(_("Choose a file."), fields={"file": _("required")})
        check_upload_size(upload.size or 0)
        svc.finding_photo_add(
            actor=request.user,
            finding=finding,
            file_name=upload.name or "",
            content_type=upload.content_type or "",
            data=upload.read(),
        )
        messages.success(request, _("Photo added."))
    except ServiceError as error:
        show_refusal(request, error)
    return redirect("precursors:inspection_detail", pk=finding.inspection_id)


@login_required
@require_POST
@ui_errors
def rectification_order(request: HttpRequest, pk: int) -> HttpResponse:
    finding = svc.access_finding(request.user, pk, action=WRITE)
    try:
        svc.rectification_order(
            actor=request.user, finding=finding, deadline=request.POST.get("deadline") or None
        )
        messages.success(request, _("Rectification ordered."))
    except ServiceError as error:
        show_refusal(request, error)
    return redirect("precursors:inspection_detail", pk=finding.inspection_id)


@login_required
@require_POST
@ui_errors
def rectification_verify(request: HttpRequest, pk: int) -> HttpResponse:
    order = svc.access_rectification(request.user, pk, action=WRITE)
    accept = request.POST.get("decision") == "accept"
    try:
        svc.rectification_verify(
            actor=request.user, order=order, accept=accept, reason=request.POST.get("reason", "")
        )
        messages.success(request, _("Closed.") if accept else _("Returned to the firm."))
    except ServiceError as error:
        show_refusal(request, error)
    return redirect("precursors:inspection_detail", pk=order.finding.inspection_id)


@login_required
@require_GET
@ui_errors
def rectification_list(request: HttpRequest) -> HttpResponse:
    """Rectification orders not closed yet, overdue first: the firm's own (with the evidence form), or those of
    the firms in scope (officials)."""
    firm_user = svc.acts_as_firm(request.user)
    orders = svc.rectifications_for_user(request.user, status="active")
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "precursors/rectification_list.html",
        {"page": page, "firm_user": firm_user, "open": RectificationStatus.OPEN},
    )


@login_required
@require_POST
@ui_errors
def rectification_submit(request: HttpRequest, pk: int) -> HttpResponse:
    order = svc.access_rectification(request.user, pk)
    try:
        files = []
        for upload in request.FILES.getlist("files"):
            check_upload_size(upload.size or 0)
            files.append((upload.name or "", upload.content_type or "", upload.read()))
        svc.rectification_submit(
            actor=request.user, order=order, note=request.POST.get("note", ""), files=files
        )
        messages.success(request, _("Evidence submitted: the office will check it."))
    except ServiceError as error:
        show_refusal(request, error)
    return redirect("precursors:rectification_list")


@login_required
@require_GET
@ui_errors
def evidence_download(request: HttpRequest, pk: int) -> HttpResponse:
    evidence = svc.access_evidence(request.user, pk)
    data = svc.evidence_content(request.user, evidence)
    response = HttpResponse(data, content_type=evidence.content_type)
    response["Content-Disposition"] = content_disposition_header(True, evidence.file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
@ui_errors
def penalty_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a penalty case from an inspection's page."""
    inspection: Inspection = svc.access_inspection(request.user, pk, action=WRITE)
    try:
        svc.penalty_open(
            actor=request.user,
            enterprise=inspection.enterprise,
            inspection=inspection,
            basis=request.POST.get("basis", ""),
            amount=request.POST.get("amount") or None,
            facts=request.POST.get("facts", ""),
        )
        messages.success(request, _("Penalty case opened."))
    except ServiceError as error:
        show_refusal(request, error)
    return redirect("precursors:inspection_detail", pk=pk)


@login_required
@require_POST
@ui_errors
def penalty_decide(request: HttpRequest, pk: int) -> HttpResponse:
    case = svc.access_penalty(request.user, pk, action=WRITE)
    try:
        svc.penalty_decide(actor=request.user, case=case, fine=request.POST.get("fine", ""))
        messages.success(request, _("Fine decided."))
    except ServiceError as error:
        show_refusal(request, error)
    if case.inspection_id:
        return redirect("precursors:inspection_detail", pk=case.inspection_id)
    return redirect("precursors:penalty_list")


@login_required
@require_GET
@ui_errors
def penalty_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(svc.penalties_for_user(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "precursors/penalty_list.html", {"page": page})
