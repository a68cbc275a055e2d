"""Wastewater API: lab-file imports and the published template (mounted under /api/v1/wastewater/ by api.py).

``POST /imports`` takes a lab file (multipart ``file``): 201 with the new import and its counts, 200 when the same
bytes were imported before (nothing changed), or 400 with the validation report — ``fields`` keyed by cell
(``row 7.甲基苯丙胺``, ``header.进水流量``) and ``problems``, a list of ``{"row", "column", "cell", "message"}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.http import content_disposition_header
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from jindu.core.apiutil import ERRORS, PageNumber, error_body
from jindu.core.scoping import access_object, require_permission
from jindu.wastewater import lab_import
from jindu.wastewater.models import LabImport, WastewaterSample
from jindu.wastewater.permissions import CAPTURE_SAMPLES, VIEW_WASTEWATER

router = Router(tags=["wastewater"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportOut(Schema):
    id: int
    file_name: str
    digest: str
    size: int
    rows: int
    samples_created: int
    samples_updated: int
    samples_unchanged: int
    org_unit: str
    imported_by: str
    created: dt.datetime

    @staticmethod
    def resolve_org_unit(obj: Any) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_imported_by(obj: Any) -> str:
        # The server operator's imports (jindu wastewater import) have no account.
        return obj.imported_by.get_username() if obj.imported_by_id else "cli"


class ImportDetailOut(ImportOut):
    sites: list[str]

    @staticmethod
    def resolve_sites(obj: Any) -> list[str]:
        """The sites of the samples this import created or changed."""
        return sorted(
            set(
                WastewaterSample.objects.filter(lab_import=obj)
                .values_list("site__code", flat=True)
                .distinct()
            )
        )


class ImportResultOut(Schema):
    already_imported: bool
    message: str
    sites: list[str]
    # Null when the same file was imported before by an office outside the caller's jurisdiction.
    lab_import: ImportDetailOut | None = None


def _imports() -> Any:
    return LabImport.objects.select_related("org_unit", "imported_by")


@router.post(
    "/imports",
    response={200: ImportResultOut, 201: ImportResultOut, **ERRORS},
    summary="Import a lab file (.xlsx or .csv): stored whole, or refused with a row-by-row report",
)
def create_import(request: HttpRequest, file: File[UploadedFile]) -> Any:
    """One sample per row (or one measurement per row, with a 指标 column); see the template. Any problem refuses
    the whole file (400) with the row and column of each; the same bytes again answer 200 and change nothing."""
    require_permission(request.user, CAPTURE_SAMPLES)
    lab_import.check_size(file.size or 0)
    try:
        outcome = lab_import.lab_file_import(
            actor=request.user, file_name=file.name or "", content=file.read()
        )
    except lab_import.LabFileRefused as refused:
        body = error_body(refused.code, refused.message, refused.fields)
        body["error"]["problems"] = [problem.as_dict() for problem in refused.problems]
        body["error"]["total"] = refused.total
        return JsonResponse(body, status=400, json_dumps_params={"ensure_ascii": False})
    found = _imports().get(pk=outcome.lab_import.pk) if outcome.lab_import else None
    result = {
        "already_imported": outcome.already_imported,
        "message": lab_import.describe_outcome(outcome),
        "sites": outcome.site_codes or (ImportDetailOut.resolve_sites(found) if found else []),
        "lab_import": found,
    }
    return Status(200 if outcome.already_imported else 201, result)


@router.get("/imports", response={200: list[ImportOut], **ERRORS}, summary="Lab imports I may see")
@paginate(PageNumber)
def list_imports(request: HttpRequest) -> Any:
    require_permission(request.user, VIEW_WASTEWATER)
    return _imports().for_user(request.user).order_by("-created", "-pk")


@router.get("/imports/{import_id}", response={200: ImportDetailOut, **ERRORS}, summary="One lab import")
def get_import(request: HttpRequest, import_id: int) -> Any:
    return access_object(request.user, _imports(), import_id)


def template_response(kind: str) -> HttpResponse:
    """The template as a download (also served by the import page)."""
    if kind == "xlsx":
        response = HttpResponse(lab_import.template_xlsx(), content_type=XLSX)
    else:
        response = HttpResponse(lab_import.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"污水检测结果模板.{kind}")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.get(
    "/import-template.xlsx",
    response={200: None, **ERRORS},
    summary="The lab-file template (.xlsx: data sheet with an example row, notes sheet)",
)
def template_xlsx(request: HttpRequest) -> Any:
    require_permission(request.user, CAPTURE_SAMPLES)
    return template_response("xlsx")


@router.get(
    "/import-template.csv",
    response={200: None, **ERRORS},
    summary="The lab-file template (.csv, UTF-8 with BOM: header and an example row)",
)
def template_csv(request: HttpRequest) -> Any:
    require_permission(request.user, CAPTURE_SAMPLES)
    return template_response("csv")
