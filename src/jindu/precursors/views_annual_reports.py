"""Pages of the annual reports (年度报告): the firm's page (its last years, the pre-filled submission form and
corrections), the office's list (every firm of the jurisdiction on a year: due, on time, late, missing, no ledger
activity), and a report's page (the platform's and the declared figures side by side, revisions, files, the
office's review)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jindu.core.errors import ServiceError
from jindu.core.scoping import WRITE, capture_root_ids, in_roots, user_may
from jindu.core.storedfiles import check_upload_size
from jindu.core.views import show_refusal, ui_errors
from jindu.precursors import annual_reports as svc
from jindu.precursors.models.annual_reports import FIGURE_LABELS, FIGURES, AnnualReport, AnnualReportStatus
from jindu.precursors.permissions import VIEW_PRECURSORS
from jindu.precursors.permits import PermitPolicyBook, substance_choices

PAGE_SIZE = 50
YEARS_SHOWN = 5


def _may_review(user: Any, report: AnnualReport) -> bool:
    return (
        not svc.acts_as_firm(user)
        and user_may(user, AnnualReport, WRITE)
        and in_roots(report.org_unit_id, capture_root_ids(user))
    )


@login_required
@require_GET
@ui_errors
def annual_report_list(request: HttpRequest) -> HttpResponse:
    """The firm's page (its last three years and its reports), or the office's list of the firms in its
    jurisdiction on a year, what needs attention first."""
    if svc.acts_as_firm(request.user):
        firm = svc.reporting_enterprise(request.user)
        return render(
            request,
            "precursors/annual_report_firm.html",
            {
                "firm": firm,
                "years": svc.open_years(firm),
                "reports": svc.with_differences(svc.reports_for_user(request.user)[:PAGE_SIZE]),
            },
        )
    if not request.user.has_jindu_perm(VIEW_PRECURSORS):  # type: ignore[union-attr]
        raise PermissionDenied()
    today = timezone.localdate()
    try:
        year = svc.clean_year_filter(request.GET.get("year") or svc.last_ended_year(today), today)
    except ServiceError as error:
        show_refusal(request, error)
        year = svc.last_ended_year(today)
    state = request.GET.get("state", "")
    if state not in svc.FilingState.values:
        state = ""
    rows = svc.filing_rows(request.user, year=year, today=today)
    counts = {value: 0 for value in svc.FilingState.values}
    for row in rows:
        counts[row.state.state] += 1
    if state:
        rows = [row for row in rows if row.state.state == state]
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "precursors/annual_report_list.html",
        {
            "page": page,
            "year": year,
            "years": [today.year - offset for offset in range(1, YEARS_SHOWN + 1)],
            "state": state,
            "states": [(value, label, counts[value]) for value, label in svc.FilingState.choices],
            "total": sum(counts.values()),
        },
    )


def _form_rows(
    lines: list[svc.PrefillLine], posted: dict[str, str] | None, errors: dict[str, str]
) -> list[dict[str, Any]]:
    rows = []
    for line in lines:
        code = line.substance.code
        cells = []
        for name in FIGURES:
            field = f"line-{code}-{name}"
            value = posted.get(field, "") if posted is not None else str(line.declared[name])
            cells.append(
                {
                    "name": name,
                    "label": FIGURE_LABELS[name],
                    "field": field,
                    "value": value,
                    "platform": line.platform[name] if line.platform else None,
                    "error": errors.get(field, ""),
                }
            )
        rows.append({"substance": line.substance, "cells": cells})
    return rows


def _posted_lines(request: HttpRequest) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The lines of the posted form, and which substance code each index stands for (to put the service's
    ``lines[i].figure`` errors next to their inputs)."""
    lines: list[dict[str, Any]] = []
    codes: dict[int, str] = {}
    for code in request.POST.getlist("substances"):
        line: dict[str, Any] = {"substance": code}
        for name in FIGURES:
            value = request.POST.get(f"line-{code}-{name}", "").strip()
            if value:
                line[name] = value
        codes[len(lines)] = code
        lines.append(line)
    added = request.POST.get("add-substance", "").strip()
    if added and added not in request.POST.getlist("substances"):
        line = {"substance": added}
        for name in FIGURES:
            value = request.POST.get(f"add-{name}", "").strip()
            if value:
                line[name] = value
        codes[len(lines)] = "add"
        lines.append(line)
    return lines, codes


def _input_errors(error: ServiceError, codes: dict[int, str]) -> dict[str, str]:
    """``lines[3].receipts`` → the name of the input it belongs to."""
    found: dict[str, str] = {}
    for key, problem in error.fields.items():
        if not key.startswith("lines["):
            continue
        index_text, _sep, rest = key[len("lines[") :].partition("]")
        code = codes.get(int(index_text)) if index_text.isdigit() else None
        figure = rest.lstrip(".")
        if code is None:
            continue
        prefix = "add" if code == "add" else f"line-{code}"
        found[f"{prefix}-{figure}" if figure in FIGURES else f"{prefix}-substance"] = problem
    return found


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def annual_report_form(request: HttpRequest, year: int) -> HttpResponse:
    """The firm's report on ``year``, pre-filled with the platform's figures (or, when correcting, with the figures
    declared last): a new report, or a correction of one the office has not reviewed yet."""
    firm = svc.reporting_enterprise(request.user)
    try:
        year = svc.clean_year_filter(year)
    except ServiceError as error:
        show_refusal(request, error)
        return redirect("precursors:annual_report_list")
    report = svc.reports_for_user(request.user, year=year).first()
    if report is not None and report.status == AnnualReportStatus.REVIEWED:
        messages.info(request, _("The office has reviewed this report; it can no longer be changed."))
        return redirect("precursors:annual_report_detail", pk=report.pk)
    posted: dict[str, str] | None = None
    errors: dict[str, str] = {}
    if request.method == "POST":
        lines, codes = _posted_lines(request)
        upload = request.FILES.get("file")
        try:
            file = None
            if upload is not None:
                check_upload_size(upload.size or 0)
                file = (upload.name or "", upload.content_type or "", upload.read())
            note = request.POST.get("note", "")
            if report is None:
                report = svc.annual_report_submit(
                    actor=request.user, year=year, lines=lines, note=note, file=file
                )
                messages.success(request, _("Annual report submitted."))
            else:
                svc.annual_report_revise(actor=request.user, report=report, lines=lines, note=note, file=file)
                messages.success(
                    request, _("Correction submitted as revision %(n)s.") % {"n": report.revision}
                )
            return redirect("precursors:annual_report_detail", pk=report.pk)
        except ServiceError as error:
            show_refusal(request, error)
            errors = _input_errors(error, codes)
            posted = {key: str(value) for key, value in request.POST.items()}
    offered = svc.prefill(firm, year, report)
    listed = {line.substance.pk for line in offered}
    if report is None:
        due_on = svc.deadline_for(PermitPolicyBook(), firm.org_path, year)[0]
    else:
        due_on = report.due_on
    return render(
        request,
        "precursors/annual_report_form.html",
        {
            "firm": firm,
            "year": year,
            "report": report,
            "due_on": due_on,
            "rows": _form_rows(offered, posted, errors),
            "platform_available": all(line.platform is not None for line in offered),
            "figures": [(name, FIGURE_LABELS[name]) for name in FIGURES],
            "more_substances": [s for s in substance_choices() if s.pk not in listed],
            "added": (posted or {}).get("add-substance", ""),
            "add_cells": [
                {
                    "field": f"add-{name}",
                    "value": (posted or {}).get(f"add-{name}", ""),
                    "error": errors.get(f"add-{name}", ""),
                }
                for name in FIGURES
            ],
            "add_error": errors.get("add-substance", ""),
            "note": (posted or {}).get("note", ""),
        },
    )


@login_required
@require_GET
@ui_errors
def annual_report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = svc.with_differences([svc.access_report(request.user, pk)])[0]
    firm_user = svc.acts_as_firm(request.user)
    revisions = svc.revisions_of(report)
    for revision in revisions:
        revision.rows = [  # type: ignore[attr-defined]
            {"line": line, "figures": svc.line_figures(line), "differs": svc.line_differs(line)}
            for line in revision.lines.all()
        ]
    return render(
        request,
        "precursors/annual_report_detail.html",
        {
            "report": report,
            "current": revisions[0] if revisions else None,
            "earlier": revisions[1:],
            "files": list(svc.files_of(report)),
            "figures": [(name, FIGURE_LABELS[name]) for name in FIGURES],
            "firm_user": firm_user,
            "may_correct": firm_user and report.status != AnnualReportStatus.REVIEWED,
            "may_review": _may_review(request.user, report) and report.status == AnnualReportStatus.SUBMITTED,
        },
    )


@login_required
@require_POST
@ui_errors
def annual_report_review(request: HttpRequest, pk: int) -> HttpResponse:
    report = svc.access_report(request.user, pk, action=WRITE)
    accept = request.POST.get("decision") == "accept"
    try:
        svc.annual_report_review(
            actor=request.user, report=report, accept=accept, note=request.POST.get("note", "")
        )
        messages.success(request, _("Report accepted.") if accept else _("Report returned to the firm."))
    except ServiceError as error:
        show_refusal(request, error)
    return redirect("precursors:annual_report_detail", pk=pk)


@login_required
@require_POST
@ui_errors
def annual_report_file_upload(request: HttpRequest, pk: int) -> HttpResponse:
    report = svc.access_report(request.user, pk)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ServiceError(_("Choose a file."), fields={"file": _("required")})
        check_upload_size(upload.size or 0)
        stored = svc.annual_report_file_add(
            actor=request.user,
            report=report,
            file_name=upload.name or "",
            content_type=upload.content_type or "",
            data=upload.read(),
        )
        messages.success(request, _("Attached: %(name)s.") % {"name": stored.file_name})
    except ServiceError as error:
        show_refusal(request, error)
    return redirect("precursors:annual_report_detail", pk=pk)


@login_required
@require_GET
@ui_errors
def annual_report_file_download(request: HttpRequest, pk: int, file_pk: int) -> HttpResponse:
    stored = svc.access_file(request.user, pk, file_pk)
    try:
        data = svc.file_content(request.user, stored)
    except ServiceError as error:
        show_refusal(request, error)
        return redirect("precursors:annual_report_detail", pk=pk)
    response = HttpResponse(data, content_type=stored.content_type)
    response["Content-Disposition"] = content_disposition_header(True, stored.file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
