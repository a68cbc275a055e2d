"""Precursors API: diversion warnings (mounted by api.py under the same prefix).

Officials (offices, police) list and read the warnings of the firms in their scope and work them through
assign → verify → close in their capture scope. Firms' own users never see warnings (403 on the list, 404 on
one warning)."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field

from jindu.core.apiutil import ERRORS, ErrorOut, PageNumber
from jindu.core.models import User
from jindu.core.scoping import WRITE, require_permission
from jindu.precursors import tasks as _tasks  # noqa: F401  (registers the job "precursors_warnings")
from jindu.precursors import warnings as engine
from jindu.precursors.models.warnings import DiversionWarning, WarningEvent
from jindu.precursors.permissions import VIEW_PRECURSORS

router = Router(tags=["precursors"])


class WarningOut(Schema):
    id: int
    rule: str
    rule_label: str
    level: str
    status: str
    enterprise_id: int
    enterprise: str
    enterprise_uscc: str
    org_unit: str
    substance: str | None
    window_start: dt.date | None
    window_end: dt.date | None
    explanation: str
    raised_at: dt.datetime
    as_of: dt.date
    due_at: dt.datetime
    overdue: bool
    assignee: str | None
    outcome: str

    @staticmethod
    def resolve_rule_label(obj: DiversionWarning) -> str:
        return str(obj.get_rule_display())

    @staticmethod
    def resolve_enterprise(obj: DiversionWarning) -> str:
        return obj.enterprise.name

    @staticmethod
    def resolve_enterprise_uscc(obj: DiversionWarning) -> str:
        return obj.enterprise.uscc

    @staticmethod
    def resolve_org_unit(obj: DiversionWarning) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_substance(obj: DiversionWarning) -> str | None:
        return obj.substance.code if obj.substance is not None else None

    @staticmethod
    def resolve_overdue(obj: DiversionWarning) -> bool:
        return obj.is_open and obj.due_at < timezone.now()

    @staticmethod
    def resolve_assignee(obj: DiversionWarning) -> str | None:
        return obj.assignee.get_username() if obj.assignee is not None else None


class HistoryOut(Schema):
    kind: str
    status: str
    actor: str | None
    at: dt.datetime
    note: str
    detail: dict[str, Any]

    @staticmethod
    def resolve_actor(obj: WarningEvent) -> str | None:
        return obj.actor.get_username() if obj.actor is not None else None


class EvidenceOut(Schema):
    kind: str
    id: str
    summary: str
    role: str = ""
    data: dict[str, Any] = {}


class WarningDetailOut(WarningOut):
    message: str
    params: dict[str, Any]
    evidence: list[EvidenceOut]
    history: list[HistoryOut]
    policy_version: int | None

    @staticmethod
    def resolve_evidence(obj: DiversionWarning) -> list[dict[str, Any]]:
        return [
            {
                "kind": str(item.get("kind", "")),
                "id": str(item.get("id", "")),
                "summary": str(item.get("summary", "")),
                "role": str(item.get("role", "")),
                "data": item.get("data") or {},
            }
            for item in obj.evidence or []
        ]

    @staticmethod
    def resolve_history(obj: DiversionWarning) -> list[WarningEvent]:
        return engine.warning_history(obj)

    @staticmethod
    def resolve_policy_version(obj: DiversionWarning) -> int | None:
        return obj.policy_version_id


class WarningQuery(Schema):
    rule: str = Field("", max_length=3)
    level: str = Field("", max_length=8)
    status: str = Field("", max_length=10)
    enterprise: int | None = None


class AssignIn(Schema):
    assignee: str = Field(..., max_length=64, description="username of an official of the firm's district")
    note: str = Field("", max_length=2000)


class VerifyIn(Schema):
    note: str = Field(..., max_length=2000, description="what was checked")


class CloseIn(Schema):
    outcome: str = Field(..., max_length=16, description="false_positive, corrected, referred or case_opened")
    note: str = Field("", max_length=2000)


class PrecisionOut(Schema):
    rule: str
    label: str
    implemented: bool
    open: int
    closed: int
    true_positive: int
    false_positive: int
    precision: float | None


@router.get(
    "/warnings/precision",
    response={200: list[PrecisionOut], **ERRORS},
    summary="Precision of each warning rule (true positives / closed) over my scope",
)
def warning_precision(request: HttpRequest) -> Any:
    require_permission(request.user, VIEW_PRECURSORS)
    return engine.rule_precision(request.user)


@router.get(
    "/warnings",
    response={200: list[WarningOut], **ERRORS},
    summary="Diversion warnings of the firms in my scope (newest first)",
)
@paginate(PageNumber)
def list_warnings(request: HttpRequest, filters: Query[WarningQuery]) -> Any:
    require_permission(request.user, VIEW_PRECURSORS)
    return engine.warnings_search(
        request.user,
        rule=filters.rule,
        level=filters.level,
        status=filters.status,
        enterprise_id=filters.enterprise,
    )


@router.get("/warnings/{warning_id}", response={200: WarningDetailOut, **ERRORS}, summary="One warning")
def get_warning(request: HttpRequest, warning_id: int) -> Any:
    return engine.access_warning(request.user, warning_id)


@router.post(
    "/warnings/{warning_id}/assign",
    response={200: WarningDetailOut, 409: ErrorOut, **ERRORS},
    summary="Assign the warning to an official of the firm's district",
)
def assign_warning(request: HttpRequest, warning_id: int, payload: AssignIn) -> Any:
    warning = engine.access_warning(request.user, warning_id, action=WRITE)
    assignee = User.objects.filter(username=payload.assignee).first()
    engine.warning_assign(actor=request.user, warning=warning, assignee=assignee, note=payload.note)
    return engine.access_warning(request.user, warning_id)


@router.post(
    "/warnings/{warning_id}/verify",
    response={200: WarningDetailOut, 409: ErrorOut, **ERRORS},
    summary="Record that the facts were checked",
)
def verify_warning(request: HttpRequest, warning_id: int, payload: VerifyIn) -> Any:
    warning = engine.access_warning(request.user, warning_id, action=WRITE)
    engine.warning_verify(actor=request.user, warning=warning, note=payload.note)
    return engine.access_warning(request.user, warning_id)


@router.post(
    "/warnings/{warning_id}/close",
    response={200: WarningDetailOut, 409: ErrorOut, **ERRORS},
    summary="Close a verified warning with its outcome",
)
def close_warning(request: HttpRequest, warning_id: int, payload: CloseIn) -> Any:
    warning = engine.access_warning(request.user, warning_id, action=WRITE)
    engine.warning_close(actor=request.user, warning=warning, outcome=payload.outcome, note=payload.note)
    return engine.access_warning(request.user, warning_id)
