"""Wastewater API: anomaly flags (mounted under /api/v1/wastewater/ by api.py).

Readers of the wastewater data (offices, police, the lab) list and read the flags of their jurisdiction; the
offices and the police review them (confirm, dismiss, reopen) in their capture scope; offices start a run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from jindu.core.apiutil import ERRORS, ErrorOut, PageNumber, date_parameter_value
from jindu.core.scoping import WRITE, require_permission
from jindu.wastewater import anomalies as engine
from jindu.wastewater import selectors
from jindu.wastewater.models import WastewaterAnomaly
from jindu.wastewater.permissions import VIEW_WASTEWATER
from jindu.wastewater.schemas import JobOut

router = Router(tags=["wastewater"])


class AnomalyOut(Schema):
    id: int
    rule: str
    rule_label: str
    level: str
    status: str
    site: str
    site_name: str
    org_unit: str
    sample: int | None
    analyte: str | None
    day: dt.date
    explanation: str
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    review_note: str
    created: dt.datetime
    last_updated: dt.datetime

    @staticmethod
    def resolve_rule_label(obj: WastewaterAnomaly) -> str:
        return engine.rule_label(obj.rule)

    @staticmethod
    def resolve_site(obj: WastewaterAnomaly) -> str:
        return obj.site.code

    @staticmethod
    def resolve_site_name(obj: WastewaterAnomaly) -> str:
        return obj.site.name

    @staticmethod
    def resolve_org_unit(obj: WastewaterAnomaly) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_sample(obj: WastewaterAnomaly) -> int | None:
        return obj.sample_id

    @staticmethod
    def resolve_analyte(obj: WastewaterAnomaly) -> str | None:
        return obj.analyte.code if obj.analyte is not None else None

    @staticmethod
    def resolve_explanation(obj: WastewaterAnomaly) -> str:
        return engine.anomaly_explanation(obj)

    @staticmethod
    def resolve_reviewed_by(obj: WastewaterAnomaly) -> str | None:
        return obj.reviewed_by.get_username() if obj.reviewed_by is not None else None


class AnomalyDetailOut(AnomalyOut):
    message: str
    params: dict[str, Any]
    evidence: list[dict[str, Any]]


class ReviewIn(Schema):
    status: str = Field(
        ..., max_length=12, description="confirmed, dismissed, or new to reopen a reviewed flag"
    )
    note: str = Field(..., max_length=2000, description="why (at least 5 characters)")


class RunIn(Schema):
    as_of: dt.date | None = Field(None, description="the last day judged (default today)")
    full_history: bool = Field(False, description="judge every day since each site's first sample")
    sites: list[str] = Field(
        default_factory=list, description="site codes (default: every site I may capture)"
    )


class PrecisionOut(Schema):
    rule: str
    label: str
    new: int
    confirmed: int
    dismissed: int
    precision: float | None


@router.get(
    "/anomalies/precision",
    response={200: list[PrecisionOut], **ERRORS},
    summary="Per rule: flags new, confirmed, dismissed and precision = confirmed / reviewed, over my scope",
)
def anomaly_precision(request: HttpRequest) -> Any:
    require_permission(request.user, VIEW_WASTEWATER)
    return engine.rule_precision(request.user)


@router.get(
    "/anomalies",
    response={200: list[AnomalyOut], **ERRORS},
    summary="Anomaly flags of my jurisdiction (newest day first)",
)
@paginate(PageNumber)
def list_anomalies(
    request: HttpRequest, site: str = "", rule: str = "", level: str = "", status: str = ""
) -> Any:
    """Filters: ``site`` (id or code), ``rule``, ``level``, ``status``, ``from`` and ``to`` (days, inclusive)."""
    require_permission(request.user, VIEW_WASTEWATER)
    return engine.anomalies_search(
        request.user,
        site=selectors.access_site(request.user, site) if site else None,
        rule=rule,
        level=level,
        status=status,
        first=date_parameter_value(request.GET.get("from"), "from"),
        last=date_parameter_value(request.GET.get("to"), "to"),
    )


@router.post(
    "/anomalies/run",
    response={202: JobOut, **ERRORS},
    summary="Run the anomaly rules over my sites (a job; offices)",
)
def run_anomalies(request: HttpRequest, payload: RunIn) -> Any:
    job = engine.anomalies_run_start(
        actor=request.user, as_of=payload.as_of, full_history=payload.full_history, site_codes=payload.sites
    )
    return Status(202, {"id": job.pk, "name": job.name, "status": job.status})


@router.get("/anomalies/{anomaly_id}", response={200: AnomalyDetailOut, **ERRORS}, summary="One flag")
def get_anomaly(request: HttpRequest, anomaly_id: int) -> Any:
    return engine.access_anomaly(request.user, anomaly_id)


@router.post(
    "/anomalies/{anomaly_id}/review",
    response={200: AnomalyDetailOut, 409: ErrorOut, **ERRORS},
    summary="Confirm or dismiss a new flag, or reopen a reviewed one, with a note",
)
def review_anomaly(request: HttpRequest, anomaly_id: int, payload: ReviewIn) -> Any:
    anomaly = engine.access_anomaly(request.user, anomaly_id, action=WRITE)
    engine.anomaly_review(actor=request.user, anomaly=anomaly, status=payload.status, note=payload.note)
    return engine.access_anomaly(request.user, anomaly_id)
