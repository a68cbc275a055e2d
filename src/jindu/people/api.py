"""People API: registry, lifecycle, records, status and worklists (casework, documents and KPIs live in
their own router modules)."""

import datetime as dt
from datetime import date
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from ninja.pagination import paginate

from jindu.core.apiutil import ERRORS, ErrorOut, PageNumber
from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import OrgUnit, User
from jindu.core.scoping import (
    WRITE,
    access_object,
    capture_root_ids,
    path_condition,
    require_permission,
    root_paths,
)
from jindu.people import selectors, services
from jindu.people.models import Alert, Enrollment, Person
from jindu.people.permissions import ASSESS_PERSON, VIEW_PERSON
from jindu.people.schemas import (
    AbstinenceIn,
    AlertOut,
    ContactIn,
    DateIn,
    DrugTestIn,
    EnrollmentIn,
    EnrollmentOut,
    FindingIn,
    IdOut,
    LeaveIn,
    PersonCreatedOut,
    PersonIn,
    PersonOut,
    ReasonDateIn,
    ResolveIn,
    RiskIn,
    RiskOut,
    SeizureIn,
    StatusOut,
    TransferIn,
    ViolationIn,
    ViolationOut,
    WorklistItemOut,
    WorklistQuery,
)

router = Router(tags=["people"])
# Areas with their own modules (one owner each) are mounted under the same prefix.
router.add_router("", "jindu.people.api_casework.router")
router.add_router("", "jindu.people.api_documents.router")
router.add_router("", "jindu.people.api_kpis.router")


@router.post(
    "/persons", response={201: PersonCreatedOut, 409: ErrorOut, **ERRORS}, summary="Register a person"
)
def register_person(request: HttpRequest, payload: PersonIn) -> Any:
    registered = services.person_register(
        actor=request.user,
        id_number=payload.id_number,
        name=payload.name,
        residence_code=payload.residence,
        phone=payload.phone or "",
        household_registration_code=payload.household_registration or "",
        first_found_date=payload.first_found_date,
        substances=payload.substances,
    )
    duplicate = registered.possible_duplicate.pk if registered.possible_duplicate else None
    return Status(201, {"id": registered.person.pk, "possible_duplicate_of": duplicate})


@router.get(
    "/persons", response={200: list[PersonOut], **ERRORS}, summary="Persons I manage (audited search)"
)
@paginate(PageNumber)
def list_persons(request: HttpRequest, id_number: str = "", name: str = "") -> Any:
    return selectors.persons_search(request.user, id_number=id_number, name=name)


@router.get("/persons/{person_id}", response={200: PersonOut, **ERRORS}, summary="One person (audited read)")
def get_person(request: HttpRequest, person_id: int) -> Any:
    return selectors.access_person(request.user, person_id)


# Enrollments ------------------------------------------------------------------------------------------


@router.post(
    "/persons/{person_id}/enrollments",
    response={201: IdOut, 409: ErrorOut, **ERRORS},
    summary="A measure is decided and served (决定送达)",
)
def create_enrollment(request: HttpRequest, person_id: int, payload: EnrollmentIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    enrollment = services.enrollment_create(
        actor=request.user,
        person=person,
        measure=payload.measure,
        decision_date=payload.decision_date,
        org_unit_code=payload.org_unit,
        term_months=payload.term_months,
    )
    return Status(201, {"id": enrollment.pk})


def _transition(request: HttpRequest, enrollment_id: int, service: Any, **kwargs: Any) -> Any:
    enrollment = access_object(
        request.user, Enrollment.objects.select_related("org_unit"), enrollment_id, action=WRITE
    )
    service(actor=request.user, enrollment=enrollment, **kwargs)
    enrollment.refresh_from_db()
    return enrollment


@router.post(
    "/enrollments/{enrollment_id}/report",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="报到",
)
def report_enrollment(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_report, date=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/agreement",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="协议 signed",
)
def sign_agreement(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_sign_agreement, date=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/not-reported",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="未报到: referred to the police",
)
def mark_not_reported(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_not_reported, as_of=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/release",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="期满解除",
)
def release_enrollment(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_release, date=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/leave",
    response={201: IdOut, 409: ErrorOut, **ERRORS},
    summary="外出报告/请假 (approved leave)",
)
def record_leave(request: HttpRequest, enrollment_id: int, payload: LeaveIn) -> Any:
    enrollment = access_object(request.user, Enrollment, enrollment_id, action=WRITE)
    event = services.enrollment_leave(
        actor=request.user,
        enrollment=enrollment,
        start=payload.start,
        end=payload.end,
        destination=payload.destination,
    )
    return Status(201, {"id": event.pk})


@router.post(
    "/enrollments/{enrollment_id}/transfer",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="变更执行地: the case moves to another street or community",
)
def transfer_enrollment(request: HttpRequest, enrollment_id: int, payload: TransferIn) -> Any:
    return _transition(
        request,
        enrollment_id,
        services.enrollment_transfer,
        org_unit_code=payload.org_unit,
        date=payload.date,
    )


@router.post(
    "/enrollments/{enrollment_id}/transfer-report",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="报到 at the new place of execution (new agreement)",
)
def transfer_report(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_transfer_report, date=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/suspend",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="中止 (拘留/逮捕)",
)
def suspend_enrollment(request: HttpRequest, enrollment_id: int, payload: ReasonDateIn) -> Any:
    return _transition(
        request, enrollment_id, services.enrollment_suspend, date=payload.date, reason=payload.reason
    )


@router.post(
    "/enrollments/{enrollment_id}/resume",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="恢复",
)
def resume_enrollment(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_resume, date=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/violations",
    response={201: ViolationOut, 409: ErrorOut, **ERRORS},
    summary="违反协议 (counters decide 严重违反)",
)
def record_violation(request: HttpRequest, enrollment_id: int, payload: ViolationIn) -> Any:
    enrollment = access_object(request.user, Enrollment, enrollment_id, action=WRITE)
    violation, counters = services.violation_record(
        actor=request.user,
        enrollment=enrollment,
        kind=payload.kind,
        date=payload.date,
        days_away=payload.days_away,
        note=payload.note,
    )
    return Status(201, {"id": violation.pk, "serious": counters.serious, **counters.__dict__})


@router.post(
    "/enrollments/{enrollment_id}/refer",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="移交公安 (严重违反 or relapse)",
)
def refer_enrollment(request: HttpRequest, enrollment_id: int, payload: ReasonDateIn) -> Any:
    return _transition(
        request, enrollment_id, services.enrollment_refer, date=payload.date, reason=payload.reason
    )


@router.post(
    "/enrollments/{enrollment_id}/terminate",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="终止 (imprisonment, compulsory education, death)",
)
def terminate_enrollment(request: HttpRequest, enrollment_id: int, payload: ReasonDateIn) -> Any:
    return _transition(
        request, enrollment_id, services.enrollment_terminate, date=payload.date, reason=payload.reason
    )


@router.get(
    "/enrollments/{enrollment_id}",
    response={200: EnrollmentOut, **ERRORS},
    summary="One enrollment (audited)",
)
def get_enrollment(request: HttpRequest, enrollment_id: int) -> Any:
    return access_object(request.user, Enrollment, enrollment_id, audit=True)


# Tests and contacts -----------------------------------------------------------------------------------


@router.post(
    "/persons/{person_id}/tests", response={201: IdOut, **ERRORS}, summary="Record a urine or hair test"
)
def record_test(request: HttpRequest, person_id: int, payload: DrugTestIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    test = services.drug_test_record(
        actor=request.user,
        person=person,
        kind=payload.kind,
        sample_date=payload.sample_date,
        result=payload.result,
        substances=payload.substances,
        is_random=payload.random,
        tester=payload.tester,
    )
    return Status(201, {"id": test.pk})


@router.post(
    "/persons/{person_id}/contacts", response={201: IdOut, **ERRORS}, summary="Record a visit, talk or call"
)
def record_contact(request: HttpRequest, person_id: int, payload: ContactIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    contact = services.contact_record(
        actor=request.user, person=person, kind=payload.kind, date=payload.date, note=payload.note
    )
    return Status(201, {"id": contact.pk})


@router.post("/persons/{person_id}/seizures", response={201: IdOut, **ERRORS}, summary="查获")
def record_seizure(request: HttpRequest, person_id: int, payload: SeizureIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    seizure = services.seizure_record(actor=request.user, person=person, date=payload.date, note=payload.note)
    return Status(201, {"id": seizure.pk})


@router.post(
    "/persons/{person_id}/addiction-findings", response={201: IdOut, **ERRORS}, summary="吸毒成瘾认定"
)
def record_finding(request: HttpRequest, person_id: int, payload: FindingIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    finding = services.addiction_finding_record(
        actor=request.user,
        person=person,
        conclusion=payload.conclusion,
        date=payload.date,
        officers=payload.officers,
        basis=payload.basis,
        sample_type=payload.sample_type,
    )
    return Status(201, {"id": finding.pk})


# Assessments ------------------------------------------------------------------------------------------


@router.post(
    "/persons/{person_id}/risk-assessments",
    response={201: RiskOut, **ERRORS},
    summary="Risk grading: the instrument suggests, the assessor decides",
)
def assess_risk(request: HttpRequest, person_id: int, payload: RiskIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    assessment = services.risk_assess(
        actor=request.user,
        person=person,
        date=payload.date,
        answers=payload.answers,
        final_color=payload.final_color,
        override_reason=payload.override_reason,
        trigger=payload.trigger,
    )
    return Status(201, assessment)


@router.post(
    "/persons/{person_id}/abstinence-assessments",
    response={201: IdOut, 409: ErrorOut, **ERRORS},
    summary="戒断三年 / 无感化 assessment (changes the status)",
)
def assess_abstinence(request: HttpRequest, person_id: int, payload: AbstinenceIn) -> Any:
    require_permission(request.user, ASSESS_PERSON)
    person = access_object(request.user, Person, person_id, action=WRITE)
    assessment = services.abstinence_assess(
        actor=request.user, person=person, date=payload.date, outcome=payload.outcome, note=payload.note
    )
    return Status(201, {"id": assessment.pk})


# Status and worklists ---------------------------------------------------------------------------------


def _as_of(value: dt.date | None) -> dt.date:
    today = timezone.localdate()
    if value is not None and value > today:
        raise ServiceError(
            _("The evaluation date lies in the future."),
            code="invalid",
            fields={"as_of": _("a date in the future")},
        )
    return value or today


@router.get(
    "/persons/{person_id}/status",
    response={200: StatusOut, **ERRORS},
    summary="Measure, phase, colour, abstinence, overdue items and 脱管 on a day (audited read)",
)
def get_status(request: HttpRequest, person_id: int, as_of: date | None = None) -> Any:
    person, status = selectors.person_status(request.user, person_id, _as_of(as_of))
    due = [
        {"kind": item.item, "due_date": item.due_date, "policy_version": item.policy_id}
        for item in status.overdue
        if item.item in ("urine", "hair", "contact", "report", "transfer_report")
    ]
    return {
        "person": person.pk,
        "as_of": status.as_of,
        "control_status": status.control_status,
        "measure": status.measure,
        "phase": status.phase,
        "risk_color": status.risk_color,
        "abstinence_anchor": status.abstinence_anchor,
        "anchor_kind": status.anchor_kind,
        "abstinent_days": status.abstinent_days,
        "overdue": due,
        "schedule": [
            {"kind": item.item, "due_date": item.due_date, "policy_version": item.policy_id}
            for item in status.schedule
        ],
        "lost_contact": status.lost_contact,
        "abstinent_3y": status.abstinent_3y,
        "policy_versions": status.policy_ids,
    }


@router.get(
    "/worklist",
    response={200: list[WorklistItemOut], **ERRORS},
    summary="Due, overdue, 脱管 and eligibility items in my scope (audited)",
)
@paginate(PageNumber)
def get_worklist(request: HttpRequest, filters: Query[WorklistQuery]) -> Any:
    require_permission(request.user, VIEW_PERSON)
    as_of, kind, org_unit, worker = filters.as_of, filters.kind, filters.org_unit, filters.worker
    unit = None
    if org_unit:
        unit = OrgUnit.objects.filter(code=org_unit).first()
        if unit is None:
            raise NotFound()
    worker_user = None
    if worker:
        # Only a worker inside my own capture scope: a name elsewhere answers 404 like a missing one.
        worker_user = (
            request.user
            if worker == "me"
            else User.objects.filter(username=worker)
            .filter(path_condition(root_paths(capture_root_ids(request.user))))
            .first()
        )
        if worker_user is None:
            raise NotFound()
    # Stored items or live entries, paginated alike, counted once.
    return selectors.worklist(
        request.user,
        as_of=_as_of(as_of),
        kinds=[k for k in kind.split(",") if k] or None,
        org_unit=unit,
        worker=worker_user,
    )


# Alerts -----------------------------------------------------------------------------------------------


@router.get("/alerts", response={200: list[AlertOut], **ERRORS}, summary="Alerts in my scope (audited)")
@paginate(PageNumber)
def list_alerts(request: HttpRequest, kind: str = "", open: bool = True) -> Any:
    return selectors.alerts_search(request.user, kind=kind, open_only=open)


@router.post(
    "/alerts/{alert_id}/resolve",
    response={200: AlertOut, 409: ErrorOut, **ERRORS},
    summary="Resolve an alert with what was done",
)
def resolve_alert(request: HttpRequest, alert_id: int, payload: ResolveIn) -> Any:
    alert = access_object(request.user, Alert.objects.select_related("person"), alert_id, action=WRITE)
    services.alert_resolve(actor=request.user, alert=alert, date=payload.date, resolution=payload.resolution)
    return alert
