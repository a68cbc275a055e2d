"""Precursors API: inspections, 排查 campaigns, findings and their photos, rectification orders and evidence,
penalty cases (mounted by api.py under /api/v1/precursors/).

No ``from __future__ import annotations`` here: ninja's ``@paginate`` reads the response annotations at import."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from jindu.core.apiutil import ERRORS, PageNumber
from jindu.core.scoping import WRITE, access_object
from jindu.core.storedfiles import check_upload_size
from jindu.precursors import inspections as svc
from jindu.precursors.models import IndustrialPark
from jindu.precursors.models.inspections import (
    EvidenceFile,
    Finding,
    Inspection,
    PenaltyCase,
    RectificationOrder,
)
from jindu.precursors.selectors import access_enterprise

router = Router(tags=["precursors"])


# Schemas --------------------------------------------------------------------------------------------------


class EvidenceOut(Schema):
    id: int
    file_name: str
    content_type: str
    size: int
    digest: str
    uploaded_at: dt.datetime = Field(alias="created")


class RectificationOut(Schema):
    id: int
    finding: int = Field(alias="finding_id")
    inspection: int
    enterprise: str
    enterprise_name: str
    item_key: str
    description: str
    deadline: dt.date
    status: str
    overdue: bool
    submission_note: str
    submitted_at: dt.datetime | None
    verified_at: dt.datetime | None
    rejection_reason: str
    closed_on: dt.date | None
    evidence: list[EvidenceOut] = []

    @staticmethod
    def resolve_inspection(obj: RectificationOrder) -> int:
        return obj.finding.inspection_id

    @staticmethod
    def resolve_enterprise(obj: RectificationOrder) -> str:
        return obj.enterprise.uscc

    @staticmethod
    def resolve_enterprise_name(obj: RectificationOrder) -> str:
        return obj.enterprise.name

    @staticmethod
    def resolve_item_key(obj: RectificationOrder) -> str:
        return obj.finding.item_key

    @staticmethod
    def resolve_description(obj: RectificationOrder) -> str:
        return obj.finding.description

    @staticmethod
    def resolve_overdue(obj: RectificationOrder) -> bool:
        return obj.is_overdue(timezone.localdate())

    @staticmethod
    def resolve_evidence(obj: RectificationOrder) -> list[EvidenceFile]:
        cached = getattr(obj, "_evidence", None)
        return cached if cached is not None else []


class FindingOut(Schema):
    id: int
    item_key: str
    area: str
    description: str
    severity: str
    photos: list[EvidenceOut]
    rectification: RectificationOut | None

    @staticmethod
    def resolve_photos(obj: Finding) -> list[EvidenceFile]:
        return list(obj.photos.all())

    @staticmethod
    def resolve_rectification(obj: Finding) -> RectificationOrder | None:
        order = getattr(obj, "order", None)
        if order is not None:
            order.finding = obj
            order._evidence = list(order.evidence.all())
        return order


class InspectionOut(Schema):
    id: int
    enterprise_id: int
    enterprise: str
    enterprise_name: str
    campaign: int | None = Field(None, alias="campaign_id")
    kind: str
    planned_on: dt.date
    done_on: dt.date | None
    status: str
    inspector: str | None
    checklist_version: int | None = Field(None, alias="checklist_id")
    results: dict[str, str]
    notes: str
    overdue_rectifications: int = 0

    @staticmethod
    def resolve_enterprise(obj: Inspection) -> str:
        return obj.enterprise.uscc

    @staticmethod
    def resolve_enterprise_name(obj: Inspection) -> str:
        return obj.enterprise.name

    @staticmethod
    def resolve_inspector(obj: Inspection) -> str | None:
        return obj.inspector.username if obj.inspector_id and obj.inspector else None

    @staticmethod
    def resolve_overdue_rectifications(obj: Inspection) -> int:
        return int(getattr(obj, "overdue_count", 0) or 0)


class InspectionDetailOut(InspectionOut):
    findings: list[FindingOut]

    @staticmethod
    def resolve_findings(obj: Inspection) -> list[Finding]:
        return svc.findings_of(obj)


class CampaignIn(Schema):
    park: str = Field(description="the park's code")
    name: str
    planned_on: dt.date


class CampaignOut(Schema):
    id: int
    park: str
    name: str
    planned_on: dt.date
    inspections: list[int]


class ScheduleIn(Schema):
    planned_on: dt.date
    kind: str = "follow_up"


class ResultsIn(Schema):
    """Every checklist item's result (pass, fail or na); ``descriptions`` describe failed items."""

    results: dict[str, Any]
    done_on: dt.date | None = None
    notes: str = ""
    descriptions: dict[str, str] = {}


class RefuseIn(Schema):
    reason: str = ""
    done_on: dt.date | None = None


class OrderIn(Schema):
    deadline: dt.date


class VerifyIn(Schema):
    accept: bool
    reason: str = ""


class PenaltyIn(Schema):
    enterprise_id: int
    basis: str
    amount: str | int | float | None = Field(None, description="goods' value or illegal gain, ¥")
    inspection_id: int | None = None
    facts: str = ""


class DecideIn(Schema):
    fine: str | int | float
    decided_on: dt.date | None = None


class PenaltyOut(Schema):
    id: int
    enterprise_id: int
    enterprise: str
    enterprise_name: str
    inspection: int | None = Field(None, alias="inspection_id")
    basis: str
    basis_label: str
    citation: str
    citation_verified: bool
    amount_kind: str
    amount: Decimal | None
    facts: str
    fine_min: Decimal
    fine_max: Decimal
    policy_version: int = Field(alias="policy_id")
    status: str
    decided_fine: Decimal | None
    decided_on: dt.date | None

    @staticmethod
    def resolve_enterprise(obj: PenaltyCase) -> str:
        return obj.enterprise.uscc

    @staticmethod
    def resolve_enterprise_name(obj: PenaltyCase) -> str:
        return obj.enterprise.name


class InspectionFilter(Schema):
    status: str = ""
    enterprise_id: int | None = None


class RectificationFilter(Schema):
    status: str = Field("", description="open, submitted, closed, or active (open or submitted)")
    overdue: bool = False


# Inspections ------------------------------------------------------------------------------------------------


@router.get("/inspections", response={200: list[InspectionOut], **ERRORS}, summary="Inspections I may see")
@paginate(PageNumber)
def list_inspections(request: HttpRequest, filters: Query[InspectionFilter]) -> Any:
    inspections = svc.inspections_for_user(request.user)
    if filters.status:
        inspections = inspections.filter(status=filters.status)
    if filters.enterprise_id is not None:
        inspections = inspections.filter(enterprise_id=filters.enterprise_id)
    return inspections


@router.get(
    "/inspections/{inspection_id}", response={200: InspectionDetailOut, **ERRORS}, summary="One inspection"
)
def get_inspection(request: HttpRequest, inspection_id: int) -> Any:
    return svc.access_inspection(request.user, inspection_id)


@router.post(
    "/enterprises/{enterprise_id}/inspection-plan",
    response={201: list[InspectionOut], **ERRORS},
    summary="Plan the firm's routine inspections from its credit rating",
)
def plan_inspections(request: HttpRequest, enterprise_id: int) -> Any:
    firm = access_enterprise(request.user, enterprise_id, action=WRITE)
    return Status(201, svc.inspection_plan_from_rating(actor=request.user, enterprise=firm))


@router.post(
    "/enterprises/{enterprise_id}/inspections",
    response={201: InspectionOut, **ERRORS},
    summary="Plan one inspection (follow-up or routine)",
)
def schedule_inspection(request: HttpRequest, enterprise_id: int, payload: ScheduleIn) -> Any:
    firm = access_enterprise(request.user, enterprise_id, action=WRITE)
    inspection = svc.inspection_schedule(
        actor=request.user, enterprise=firm, planned_on=payload.planned_on, kind=payload.kind
    )
    return Status(201, inspection)


@router.post("/campaigns", response={201: CampaignOut, **ERRORS}, summary="A 排查 campaign over a park")
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Any:
    park = IndustrialPark.objects.filter(code=payload.park).first()
    park = access_object(request.user, IndustrialPark, park.pk if park else None, action=WRITE)
    campaign = svc.campaign_create(
        actor=request.user, park=park, name=payload.name, planned_on=payload.planned_on
    )
    return Status(
        201,
        {
            "id": campaign.pk,
            "park": park.code,
            "name": campaign.name,
            "planned_on": campaign.planned_on,
            "inspections": list(campaign.inspections.order_by("pk").values_list("pk", flat=True)),
        },
    )


@router.post(
    "/inspections/{inspection_id}/results",
    response={200: InspectionDetailOut, **ERRORS},
    summary="Record the checklist results",
)
def record_results(request: HttpRequest, inspection_id: int, payload: ResultsIn) -> Any:
    inspection = svc.access_inspection(request.user, inspection_id, action=WRITE)
    return svc.inspection_record(
        actor=request.user,
        inspection=inspection,
        results=payload.results,
        done_on=payload.done_on,
        notes=payload.notes,
        descriptions=payload.descriptions,
    )


@router.post(
    "/inspections/{inspection_id}/refuse",
    response={200: InspectionOut, **ERRORS},
    summary="The firm refused the inspection (veto)",
)
def refuse_inspection(request: HttpRequest, inspection_id: int, payload: RefuseIn) -> Any:
    inspection = svc.access_inspection(request.user, inspection_id, action=WRITE)
    return svc.inspection_refuse(
        actor=request.user, inspection=inspection, reason=payload.reason, done_on=payload.done_on
    )


@router.post(
    "/findings/{finding_id}/photos", response={201: EvidenceOut, **ERRORS}, summary="Add a photo to a finding"
)
def add_photo(request: HttpRequest, finding_id: int, file: File[UploadedFile]) -> Any:
    finding = svc.access_finding(request.user, finding_id, action=WRITE)
    check_upload_size(file.size or 0)
    evidence = svc.finding_photo_add(
        actor=request.user,
        finding=finding,
        file_name=file.name or "",
        content_type=file.content_type or "",
        data=file.read(),
    )
    return Status(201, evidence)


@router.get("/evidence/{evidence_id}/content", response={200: None, **ERRORS}, summary="Download a file")
def evidence_download(request: HttpRequest, evidence_id: int) -> Any:
    evidence = svc.access_evidence(request.user, evidence_id)
    data = svc.evidence_content(request.user, evidence)
    response = HttpResponse(data, content_type=evidence.content_type)
    response["Content-Disposition"] = content_disposition_header(True, evidence.file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


# Rectification ------------------------------------------------------------------------------------------------


def _order_out(order: RectificationOrder) -> RectificationOrder:
    order._evidence = list(svc.evidence_of(order))  # type: ignore[attr-defined]
    return order


@router.post(
    "/findings/{finding_id}/rectification",
    response={201: RectificationOut, **ERRORS},
    summary="Order rectification by a deadline",
)
def order_rectification(request: HttpRequest, finding_id: int, payload: OrderIn) -> Any:
    finding = svc.access_finding(request.user, finding_id, action=WRITE)
    order = svc.rectification_order(actor=request.user, finding=finding, deadline=payload.deadline)
    return Status(201, _order_out(order))


@router.get(
    "/rectifications", response={200: list[RectificationOut], **ERRORS}, summary="Rectification orders"
)
@paginate(PageNumber)
def list_rectifications(request: HttpRequest, filters: Query[RectificationFilter]) -> Any:
    return svc.rectifications_for_user(request.user, status=filters.status, overdue=filters.overdue)


@router.get(
    "/rectifications/{order_id}",
    response={200: RectificationOut, **ERRORS},
    summary="One rectification order",
)
def get_rectification(request: HttpRequest, order_id: int) -> Any:
    return _order_out(svc.access_rectification(request.user, order_id))


@router.post(
    "/rectifications/{order_id}/submit",
    response={200: RectificationOut, **ERRORS},
    summary="The firm submits its evidence (a note and/or files)",
)
def submit_rectification(
    request: HttpRequest,
    order_id: int,
    note: Form[str] = "",
    files: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> Any:
    order = svc.access_rectification(request.user, order_id)
    uploads = []
    for upload in files or []:
        check_upload_size(upload.size or 0)
        uploads.append((upload.name or "", upload.content_type or "", upload.read()))
    order = svc.rectification_submit(actor=request.user, order=order, note=note, files=uploads)
    return _order_out(order)


@router.post(
    "/rectifications/{order_id}/verify",
    response={200: RectificationOut, **ERRORS},
    summary="Accept (close) or reject the firm's evidence",
)
def verify_rectification(request: HttpRequest, order_id: int, payload: VerifyIn) -> Any:
    order = svc.access_rectification(request.user, order_id, action=WRITE)
    order = svc.rectification_verify(
        actor=request.user, order=order, accept=payload.accept, reason=payload.reason
    )
    return _order_out(order)


# Penalties ----------------------------------------------------------------------------------------------------


@router.post("/penalties", response={201: PenaltyOut, **ERRORS}, summary="Open a penalty case")
def open_penalty(request: HttpRequest, payload: PenaltyIn) -> Any:
    firm = access_enterprise(request.user, payload.enterprise_id, action=WRITE)
    inspection = (
        svc.access_inspection(request.user, payload.inspection_id, action=WRITE)
        if payload.inspection_id is not None
        else None
    )
    case = svc.penalty_open(
        actor=request.user,
        enterprise=firm,
        basis=payload.basis,
        amount=payload.amount,
        inspection=inspection,
        facts=payload.facts,
    )
    return Status(201, case)


@router.get("/penalties", response={200: list[PenaltyOut], **ERRORS}, summary="Penalty cases")
@paginate(PageNumber)
def list_penalties(request: HttpRequest) -> Any:
    return svc.penalties_for_user(request.user)


@router.get("/penalties/{case_id}", response={200: PenaltyOut, **ERRORS}, summary="One penalty case")
def get_penalty(request: HttpRequest, case_id: int) -> Any:
    return svc.access_penalty(request.user, case_id)


@router.post("/penalties/{case_id}/decide", response={200: PenaltyOut, **ERRORS}, summary="Decide the fine")
def decide_penalty(request: HttpRequest, case_id: int, payload: DecideIn) -> Any:
    case = svc.access_penalty(request.user, case_id, action=WRITE)
    return svc.penalty_decide(actor=request.user, case=case, fine=payload.fine, decided_on=payload.decided_on)
