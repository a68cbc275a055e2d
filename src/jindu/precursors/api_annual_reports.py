"""Precursors API: annual reports (年度报告) — the firm's pre-filled figures, submission, corrections, files, the
office's review, and each firm's filing state on a year (mounted by api.py under /api/v1/precursors/).

Lists are paged by hand (``page``, ``page_size``): the report list counts each page's differences from the
platform's figures after the page is cut (one query for the page), and the state list is computed for every
firm in scope before it is cut (a few grouped queries, whatever the number of firms).

No ``from __future__ import annotations`` here: ninja reads the annotations at import."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from jindu.core.apiutil import ERRORS, ErrorOut
from jindu.core.errors import Forbidden, ServiceError
from jindu.core.scoping import WRITE
from jindu.core.storedfiles import check_upload_size
from jindu.precursors import annual_reports as svc
from jindu.precursors.models.annual_reports import (
    AnnualReport,
    AnnualReportFile,
    AnnualReportLine,
    AnnualReportRevision,
)
from jindu.precursors.permissions import VIEW_PRECURSORS
from jindu.precursors.permits import PermitPolicyBook

router = Router(tags=["precursors"])


# Schemas ------------------------------------------------------------------------------------------------------


class LineIn(Schema):
    """One substance's annual totals in kg of pure substance (to the gram); a figure left out takes the
    pre-filled value."""

    substance: str = Field(description="catalogue code, e.g. acetone")
    opening_stock: str | int | float | None = None
    receipts: str | int | float | None = None
    production: str | int | float | None = None
    shipments: str | int | float | None = None
    consumption: str | int | float | None = None
    documented_losses: str | int | float | None = None
    closing_stock: str | int | float | None = None


class ReportIn(Schema):
    """A firm's report on an ended year. ``lines`` declare figures per substance; every substance the platform
    has figures for is part of the report, at the platform's figures unless declared otherwise."""

    year: int
    lines: list[LineIn] = []
    note: str = ""


class RevisionIn(Schema):
    """A correction: figures left out keep their previous declared values."""

    lines: list[LineIn] = []
    note: str = ""


class ReviewIn(Schema):
    accept: bool
    note: str = Field("", description="the reason, required when returning the report to the firm")


class FigureOut(Schema):
    platform: Decimal | None
    declared: Decimal
    difference: Decimal | None


class LineOut(Schema):
    substance: str
    substance_name: str
    category: int
    differs: bool
    figures: dict[str, FigureOut]


class RevisionOut(Schema):
    number: int
    submitted_at: dt.datetime
    submitted_by: str | None
    note: str
    platform_available: bool
    lines: list[LineOut]


class FileOut(Schema):
    id: int
    revision: int
    file_name: str
    content_type: str
    size: int
    digest: str
    uploaded_at: dt.datetime


class ReportOut(Schema):
    id: int
    enterprise_id: int
    enterprise: str
    enterprise_name: str
    year: int
    status: str
    due_on: dt.date
    submitted_at: dt.datetime
    late: bool
    days_late: int
    revision: int
    revised_at: dt.datetime
    reviewed_at: dt.datetime | None
    reviewed_by: str | None
    review_note: str
    differences: int = Field(description="substances of the latest revision declared otherwise than computed")


class ReportDetailOut(ReportOut):
    revisions: list[RevisionOut]
    files: list[FileOut]


class ReportPage(Schema):
    items: list[ReportOut]
    count: int
    page: int
    page_size: int


class PrefillLineOut(Schema):
    substance: str
    substance_name: str
    category: int
    platform: dict[str, Decimal] | None
    declared: dict[str, Decimal]


class PrefillOut(Schema):
    enterprise: str
    year: int
    due_on: dt.date
    report_id: int | None = Field(None, description="the report on the year, when one was submitted")
    lines: list[PrefillLineOut]


class StateOut(Schema):
    enterprise_id: int
    enterprise: str
    enterprise_name: str
    district: str
    year: int
    deadline: dt.date
    state: str = Field(description="due, on_time, late, missing or no_activity")
    active: bool = Field(description="the firm has ledger activity in the year")
    report_id: int | None
    submitted_on: dt.date | None
    days_late: int
    report_status: str


class StatePage(Schema):
    items: list[StateOut]
    count: int
    page: int
    page_size: int
    year: int
    counts: dict[str, int]


class PageIn(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=500)


class ReportFilter(PageIn):
    year: int | None = None


class StateFilter(PageIn):
    year: int | None = Field(None, description="an ended year; the last one by default")
    state: str = Field("", description="due, on_time, late, missing or no_activity")


# Output -------------------------------------------------------------------------------------------------------


def _report_out(report: AnnualReport) -> dict[str, Any]:
    return {
        "id": report.pk,
        "enterprise_id": report.enterprise_id,
        "enterprise": report.enterprise.uscc,
        "enterprise_name": report.enterprise.name,
        "year": report.year,
        "status": report.status,
        "due_on": report.due_on,
        "submitted_at": report.submitted_at,
        "late": report.is_late,
        "days_late": report.days_late,
        "revision": report.revision,
        "revised_at": report.revised_at,
        "reviewed_at": report.reviewed_at,
        "reviewed_by": report.reviewed_by.username if report.reviewed_by else None,
        "review_note": report.review_note,
        "differences": getattr(report, "differences", 0),
    }


def _line_out(line: AnnualReportLine) -> dict[str, Any]:
    rows = svc.line_figures(line)
    return {
        "substance": line.substance.code,
        "substance_name": line.substance.name_zh,
        "category": line.substance.category,
        "differs": svc.line_differs(line),
        "figures": {
            row.name: {"platform": row.platform, "declared": row.declared, "difference": row.difference}
            for row in rows
        },
    }


def _revision_out(revision: AnnualReportRevision) -> dict[str, Any]:
    return {
        "number": revision.number,
        "submitted_at": revision.submitted_at,
        "submitted_by": revision.submitted_by.username if revision.submitted_by else None,
        "note": revision.note,
        "platform_available": revision.platform_available,
        "lines": [_line_out(line) for line in revision.lines.all()],
    }


def _file_out(stored: AnnualReportFile) -> dict[str, Any]:
    return {
        "id": stored.pk,
        "revision": stored.revision,
        "file_name": stored.file_name,
        "content_type": stored.content_type,
        "size": stored.size,
        "digest": stored.digest,
        "uploaded_at": stored.uploaded_at,
    }


def _detail(request: HttpRequest, report_id: int) -> dict[str, Any]:
    report = svc.with_differences([svc.access_report(request.user, report_id)])[0]
    return {
        **_report_out(report),
        "revisions": [_revision_out(revision) for revision in svc.revisions_of(report)],
        "files": [_file_out(stored) for stored in svc.files_of(report)],
    }


def _lines(lines: list[LineIn]) -> list[dict[str, Any]]:
    return [line.model_dump(exclude_none=True) for line in lines]


def _require_reader(request: HttpRequest) -> None:
    """The firm's own users and the officials who read firms' records; nobody else."""
    if not svc.acts_as_firm(request.user) and not request.user.has_jindu_perm(VIEW_PRECURSORS):  # type: ignore[union-attr]
        raise Forbidden()


# Reports ------------------------------------------------------------------------------------------------------


@router.get("/annual-reports", response={200: ReportPage, **ERRORS}, summary="Annual reports I may see")
def list_reports(request: HttpRequest, filters: Query[ReportFilter]) -> Any:
    _require_reader(request)
    reports = svc.reports_for_user(request.user, year=filters.year)
    offset = (filters.page - 1) * filters.page_size
    page = svc.with_differences(reports[offset : offset + filters.page_size])
    return {
        "items": [_report_out(report) for report in page],
        "count": reports.count(),
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.post(
    "/annual-reports",
    response={201: ReportDetailOut, 409: ErrorOut, **ERRORS},
    summary="Submit the firm's annual report on an ended year (firm)",
)
def submit_report(request: HttpRequest, payload: ReportIn) -> Any:
    report = svc.annual_report_submit(
        actor=request.user, year=payload.year, lines=_lines(payload.lines), note=payload.note
    )
    return Status(201, _detail(request, report.pk))


@router.get(
    "/annual-reports/prefill",
    response={200: PrefillOut, **ERRORS},
    summary="The platform's figures for the firm's report on a year (firm)",
)
def prefill(request: HttpRequest, year: int) -> Any:
    firm = svc.reporting_enterprise(request.user)
    clean_year = svc.clean_year_filter(year)
    report = svc.reports_for_user(request.user, year=clean_year).first()
    due_on = report.due_on if report else svc.deadline_for(PermitPolicyBook(), firm.org_path, clean_year)[0]
    return {
        "enterprise": firm.uscc,
        "year": clean_year,
        "due_on": due_on,
        "report_id": report.pk if report else None,
        "lines": [
            {
                "substance": line.substance.code,
                "substance_name": line.substance.name_zh,
                "category": line.substance.category,
                "platform": line.platform,
                "declared": line.declared,
            }
            for line in svc.prefill(firm, clean_year, report)
        ],
    }


@router.get(
    "/annual-reports/states",
    response={200: StatePage, **ERRORS},
    summary="Each firm's filing state on a year: due, on time, late, missing, no ledger activity",
)
def list_states(request: HttpRequest, filters: Query[StateFilter]) -> Any:
    _require_reader(request)
    year = svc.clean_year_filter(filters.year if filters.year is not None else svc.last_ended_year())
    if filters.state and filters.state not in svc.FilingState.values:
        known = ", ".join(svc.FilingState.values)
        raise ServiceError(
            _("Unknown state %(state)s (known: %(known)s).") % {"state": filters.state, "known": known},
            fields={"state": known},
        )
    rows = svc.filing_rows(request.user, year=year)
    counts = {state: 0 for state in svc.FilingState.values}
    for row in rows:
        counts[row.state.state] += 1
    if filters.state:
        rows = [row for row in rows if row.state.state == filters.state]
    offset = (filters.page - 1) * filters.page_size
    return {
        "items": [
            {
                "enterprise_id": row.enterprise_id,
                "enterprise": row.uscc,
                "enterprise_name": row.name,
                "district": row.district,
                "year": row.state.year,
                "deadline": row.state.deadline,
                "state": row.state.state,
                "active": row.state.active,
                "report_id": row.state.report_id,
                "submitted_on": row.state.submitted_on,
                "days_late": row.state.days_late,
                "report_status": row.state.report_status,
            }
            for row in rows[offset : offset + filters.page_size]
        ],
        "count": len(rows),
        "page": filters.page,
        "page_size": filters.page_size,
        "year": year,
        "counts": counts,
    }


@router.get("/annual-reports/{report_id}", response={200: ReportDetailOut, **ERRORS}, summary="One report")
def get_report(request: HttpRequest, report_id: int) -> Any:
    return _detail(request, report_id)


@router.post(
    "/annual-reports/{report_id}/revisions",
    response={200: ReportDetailOut, 409: ErrorOut, **ERRORS},
    summary="Correct the report before the office's review (firm): a new revision",
)
def revise_report(request: HttpRequest, report_id: int, payload: RevisionIn) -> Any:
    report = svc.access_report(request.user, report_id)
    svc.annual_report_revise(
        actor=request.user, report=report, lines=_lines(payload.lines), note=payload.note
    )
    return _detail(request, report_id)


@router.post(
    "/annual-reports/{report_id}/review",
    response={200: ReportDetailOut, 409: ErrorOut, **ERRORS},
    summary="Accept the report, or return it to the firm with the reason (office)",
)
def review_report(request: HttpRequest, report_id: int, payload: ReviewIn) -> Any:
    report = svc.access_report(request.user, report_id, action=WRITE)
    svc.annual_report_review(actor=request.user, report=report, accept=payload.accept, note=payload.note)
    return _detail(request, report_id)


@router.post(
    "/annual-reports/{report_id}/files",
    response={201: FileOut, 409: ErrorOut, **ERRORS},
    summary="Attach a file (PDF, JPEG or PNG, at most 10 MB; firm)",
)
def add_file(request: HttpRequest, report_id: int, file: File[UploadedFile]) -> Any:
    report = svc.access_report(request.user, report_id)
    check_upload_size(file.size or 0)
    stored = svc.annual_report_file_add(
        actor=request.user,
        report=report,
        file_name=file.name or "",
        content_type=file.content_type or "",
        data=file.read(),
    )
    return Status(201, _file_out(stored))


@router.get(
    "/annual-reports/{report_id}/files/{file_id}/content",
    response={200: None, 500: ErrorOut, **ERRORS},
    summary="Download a file (audited as EXPORT)",
)
def download_file(request: HttpRequest, report_id: int, file_id: int) -> Any:
    stored = svc.access_file(request.user, report_id, file_id)
    data = svc.file_content(request.user, stored)
    response = HttpResponse(data, content_type=stored.content_type)
    response["Content-Disposition"] = content_disposition_header(True, stored.file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
