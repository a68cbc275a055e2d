"""People API: casework endpoints (mounted by jindu.people.api): help measures (帮扶), social-worker
assignment (指派), caseloads against the staffing ratio and a worker's monthly summary."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from jindu.core.apiutil import ERRORS, ErrorOut, PageNumber
from jindu.core.models import User
from jindu.core.scoping import WRITE, access_object
from jindu.people import casework, selectors
from jindu.people.models import HelpMeasure, Person
from jindu.people.schemas import IdOut
from jindu.people.schemas_casework import (
    AssignmentIn,
    AssignmentOut,
    CaseloadsOut,
    HelpIn,
    HelpMeasureOut,
    HelpOutcomeIn,
    WorkerSummaryOut,
)

router = Router(tags=["people"])


# Help measures ----------------------------------------------------------------------------------------


@router.post("/persons/{person_id}/help", response={201: IdOut, **ERRORS}, summary="Refer to help (帮扶)")
def refer_help(request: HttpRequest, person_id: int, payload: HelpIn) -> Any:
    person = access_object(request.user, Person.objects.select_related("org_unit"), person_id, action=WRITE)
    measure = casework.help_refer(
        actor=request.user,
        person=person,
        kind=payload.kind,
        referred_on=payload.referred_on,
        provider=payload.provider,
        note=payload.note,
    )
    return Status(201, {"id": measure.pk})


@router.post(
    "/help/{help_id}/outcome",
    response={200: HelpMeasureOut, 409: ErrorOut, **ERRORS},
    summary="Record the outcome of a help referral (once)",
)
def record_help_outcome(request: HttpRequest, help_id: int, payload: HelpOutcomeIn) -> Any:
    measure = access_object(
        request.user, HelpMeasure.objects.select_related("org_unit", "recorded_by"), help_id, action=WRITE
    )
    return casework.help_record_outcome(
        actor=request.user,
        help_measure=measure,
        outcome=payload.outcome,
        outcome_on=payload.outcome_on,
        note=payload.note,
    )


@router.get(
    "/persons/{person_id}/help",
    response={200: list[HelpMeasureOut], **ERRORS},
    summary="The person's help measures (audited read of the person)",
)
@paginate(PageNumber)
def list_help(request: HttpRequest, person_id: int) -> Any:
    person = selectors.access_person(request.user, person_id)
    return casework.help_measures_for(request.user, person)


# Assignment -------------------------------------------------------------------------------------------


@router.post(
    "/persons/{person_id}/assignment",
    response={201: AssignmentOut, 409: ErrorOut, **ERRORS},
    summary="Assign a social worker (指派; a transfer ends the current assignment)",
)
def assign_worker(request: HttpRequest, person_id: int, payload: AssignmentIn) -> Any:
    person = access_object(request.user, Person.objects.select_related("org_unit"), person_id, action=WRITE)
    worker = User.objects.filter(username=payload.worker).first()
    assignment = casework.worker_assign(actor=request.user, person=person, worker=worker, start=payload.start)
    return Status(201, assignment)


@router.get(
    "/persons/{person_id}/assignments",
    response={200: list[AssignmentOut], **ERRORS},
    summary="The person's assignment history, current first (audited read of the person)",
)
@paginate(PageNumber)
def list_assignments(request: HttpRequest, person_id: int) -> Any:
    person = selectors.access_person(request.user, person_id)
    return casework.assignments_for(request.user, person)


# Caseloads and summaries ------------------------------------------------------------------------------


@router.get(
    "/caseloads",
    response={200: CaseloadsOut, **ERRORS},
    summary="Caseloads per social worker and staffing ratio per street (社工配比)",
)
def get_caseloads(request: HttpRequest, org_unit: str = "") -> Any:
    return casework.caseloads(request.user, org_unit.strip() or None)


@router.get(
    "/workers/{username}/summary",
    response={200: WorkerSummaryOut, **ERRORS},
    summary="A social worker's monthly summary (month: YYYY-MM, default this month)",
)
def get_worker_summary(request: HttpRequest, username: str, month: str = "") -> Any:
    worker = User.objects.filter(username=username).first()
    return casework.worker_monthly_summary(request.user, worker, month)
