"""Writes of the people app: one transaction each, audit written explicitly."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.errors import NotFound, ServiceError, join_problems
from jindu.core.fields import blind_index
from jindu.core.masking import mask_id_number
from jindu.core.models import AuditAction, OrgLevel, OrgUnit
from jindu.core.scoping import WRITE, capture_root_ids, in_roots, user_may
from jindu.core.validators import id_number_birth_date, validate_id_number, validate_mobile
from jindu.people.models import Person, Sex

# A person's residence is where the case is managed: a street, a community or a grid.
RESIDENCE_LEVELS = {OrgLevel.STREET, OrgLevel.COMMUNITY, OrgLevel.GRID}


class DuplicatePerson(ServiceError):
    status = 409


@dataclass
class Registered:
    person: Person
    possible_duplicate: Person | None


def sex_from_id_number(id_number: str) -> str:
    """GB 11643: the 17th character is odd for men, even for women."""
    return Sex.MALE if int(id_number[16]) % 2 else Sex.FEMALE


def person_register(
    *,
    actor: Any,
    id_number: str,
    name: str,
    residence_code: str,
    phone: str = "",
    household_registration_code: str = "",
    first_found_date: dt.date | None = None,
    substances: list[str] | None = None,
) -> Registered:
    """Register a person managed by the residence org unit (in the actor's capture scope; ``actor`` None is
    the server operator: the CLI, imports and the demo).

    The same ID number twice is refused (409); the same name and birth date as someone else is accepted
    but flagged as a possible duplicate for a human to check."""
    if actor is not None and not user_may(actor, Person, WRITE):
        raise NotFound()
    fields: dict[str, str] = {}
    clean_id = clean_phone = ""
    try:
        clean_id = validate_id_number(id_number or "")
    except ValidationError as error:
        fields["id_number"] = " ".join(error.messages)
    name = "".join((name or "").split())
    if not name:
        fields["name"] = _("a name is required")
    elif len(name) > 50:
        fields["name"] = _("at most 50 characters")
    try:
        clean_phone = validate_mobile(phone) if phone else ""
    except ValidationError as error:
        fields["phone"] = " ".join(error.messages)
    residence = OrgUnit.objects.filter(code=residence_code or "").first()
    if residence is None or (actor is not None and not in_roots(residence.pk, capture_root_ids(actor))):
        fields["residence"] = _("org unit %(code)s is not in your capture scope") % {"code": residence_code}
    elif residence.level not in RESIDENCE_LEVELS:
        fields["residence"] = _("the residence is a street, community or grid")
    household = None
    if household_registration_code:
        household = OrgUnit.objects.filter(code=household_registration_code).first()
        if household is None:
            fields["household_registration"] = _("org unit %(code)s does not exist") % {
                "code": household_registration_code
            }
    today = timezone.localdate()
    if first_found_date is not None and first_found_date > today:
        fields["first_found_date"] = _("a date in the future")
    if fields:
        raise ServiceError(
            _("The person cannot be registered: %(problems)s") % {"problems": join_problems(fields)},
            fields=fields,
        )
    if Person.objects.filter(
        id_number_index=blind_index(clean_id, context="people.person.id_number")
    ).exists():
        raise DuplicatePerson(
            _("A person with this ID number is already registered."),
            code="duplicate_person",
            fields={"id_number": _("already registered")},
        )
    birth_date = id_number_birth_date(clean_id)
    # Flag a namesake only where the registering user could look at it: never a sealed (无感化) record, and
    # never a record outside their own scope (the flag must not reveal that somebody exists elsewhere).
    namesakes = Person.objects.filter(
        name_index=blind_index(name, context="people.person.name"), birth_date=birth_date, sealed=False
    )
    if actor is not None:
        namesakes = namesakes.for_user(actor)
    twin = namesakes.order_by("pk").first()
    assert residence is not None  # checked with the fields above
    try:
        with transaction.atomic():
            person = Person.objects.create(
                org_unit=residence,
                id_number=clean_id,
                name=name,
                sex=sex_from_id_number(clean_id),
                birth_date=birth_date,
                household_registration=household,
                phone=clean_phone,
                first_found_date=first_found_date,
                substances=sorted(set(substances or [])),
                possible_duplicate_of=twin,
            )
            audit_write(
                action=AuditAction.CREATE,
                actor=actor,
                obj=person,
                detail={
                    "id_number": mask_id_number(clean_id),
                    **({"possible_duplicate_of": twin.pk} if twin else {}),
                },
            )
    except IntegrityError:
        # Two clerks registering the same ID number at the same moment: the unique index decides.
        raise DuplicatePerson(
            _("A person with this ID number is already registered."), code="duplicate_person"
        ) from None
    return Registered(person=person, possible_duplicate=twin)


# Enrollments ------------------------------------------------------------------------------------------

REPORT_DAYS = 15  # 戒毒条例 art. 14, 22 and 37: report within 15 days (of the decision, of a transfer)
TERM_MONTHS = {"community_treatment": 36, "community_rehabilitation": 36}  # 社康: "up to" 3 years
EXECUTING_LEVELS = {OrgLevel.STREET, OrgLevel.COMMUNITY}
# 戒毒条例 art. 20: 严重违反协议.
SERIOUS_TEST_VIOLATIONS = 3
SERIOUS_UNAUTHORISED_LEAVES = 3
SERIOUS_DAYS_AWAY = 30


class InvalidTransition(ServiceError):
    status = 409


def _add_months(day: dt.date, months: int) -> dt.date:
    from jindu.people.evaluation import add_months

    return add_months(day, months)


def _not_in_future(day: dt.date | None, field: str) -> None:
    if day is None:
        raise ServiceError(_("A date is required."), code="invalid", fields={field: _("required")})
    if day > timezone.localdate():
        raise ServiceError(
            _("The date lies in the future."), code="invalid", fields={field: _("a date in the future")}
        )


def _not_before(day: dt.date, earliest: dt.date | None, field: str, what: str) -> None:
    if earliest is not None and day < earliest:
        raise ServiceError(
            _("The date cannot precede %(what)s (%(date)s).") % {"what": what, "date": earliest.isoformat()},
            code="invalid",
            fields={field: _("too early")},
        )


def _reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ServiceError(_("Give a reason."), code="invalid", fields={field: _("required")})
    return reason[:200]


def _move(enrollment: Any, target: str) -> None:
    from jindu.people.models import TRANSITIONS

    if target not in TRANSITIONS[enrollment.status]:
        raise InvalidTransition(
            _("An enrollment in status %(status)s cannot become %(target)s.")
            % {"status": enrollment.get_status_display(), "target": target},
            code="invalid_transition",
        )


def _event(actor: Any, enrollment: Any, kind: str, day: dt.date, **detail: Any) -> Any:
    from jindu.people.models import EnrollmentEvent

    end_date = detail.pop("end_date", None)
    return EnrollmentEvent.objects.create(
        enrollment=enrollment,
        person_id=enrollment.person_id,
        org_unit_id=enrollment.org_unit_id,
        kind=kind,
        date=day,
        end_date=end_date,
        detail={key: value for key, value in detail.items() if value not in (None, "")},
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _set_control_status(person_id: int, control_status: str, day: dt.date) -> None:
    Person.objects.filter(pk=person_id).update(control_status=control_status, control_status_since=day)


def _commit_transition(
    *,
    actor: Any,
    enrollment: Any,
    status: str,
    transition: str,
    day: dt.date,
    detail: dict[str, Any] | None = None,
    person_status: str | None = None,
    **changes: Any,
) -> Any:
    """Save one checked transition, its dated event and its audit record in one transaction, then bring
    the person's evaluated state up to date."""
    with transaction.atomic():
        enrollment.status = status
        for name, value in changes.items():
            setattr(enrollment, name, value)
        enrollment.save(update_fields=["status", *changes, "last_updated"])
        _event(actor, enrollment, transition, day, **(detail or {}))
        if person_status:
            _set_control_status(enrollment.person_id, person_status, day)
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=enrollment,
            detail={"transition": transition, "date": day.isoformat(), **(detail or {})},
        )
    _refresh(enrollment.person_id)
    return enrollment


def _refresh(person_id: int) -> None:
    from jindu.people.nightly import refresh_person

    refresh_person(person_id)


def _executing_unit(actor: Any, code: str, *, in_capture: bool = True) -> OrgUnit:
    unit = OrgUnit.objects.filter(code=code or "").first()
    if unit is None or (in_capture and actor is not None and not in_roots(unit.pk, capture_root_ids(actor))):
        raise ServiceError(
            _("org unit %(code)s is not in your capture scope") % {"code": code},
            code="invalid",
            fields={"org_unit": _("outside your capture scope")},
        )
    if unit.level not in EXECUTING_LEVELS:
        raise ServiceError(
            _("A measure is executed by a street or a community."),
            code="invalid",
            fields={"org_unit": _("level")},
        )
    return unit


def enrollment_create(
    *,
    actor: Any,
    person: Person,
    measure: str,
    decision_date: dt.date,
    org_unit_code: str,
    term_months: int | None = None,
) -> Any:
    """决定送达: a measure is decided and served; the person must report within 15 days.

    A person under 社会面管控 who is ordered into a new treatment measure leaves social control on the
    decision day (the new measure supersedes it)."""
    from jindu.people.models import ACTIVE_STATUSES, Enrollment, Measure

    if measure not in (Measure.COMMUNITY_TREATMENT, Measure.COMMUNITY_REHABILITATION):
        raise ServiceError(
            _("Unknown measure %(measure)s.") % {"measure": measure}
            if measure not in Measure.values
            else _("社会面管控 starts by itself when a measure is released."),
            code="invalid",
            fields={"measure": _("unknown")},
        )
    if term_months is None:
        term_months = TERM_MONTHS[measure]
    if not 1 <= term_months <= TERM_MONTHS[measure]:
        raise ServiceError(
            _("The term is between 1 and %(max)s months.") % {"max": TERM_MONTHS[measure]},
            code="invalid",
            fields={"term_months": _("out of range")},
        )
    if measure == Measure.COMMUNITY_TREATMENT and term_months != 36:
        raise ServiceError(
            _("社区戒毒 lasts three years (禁毒法 art. 33)."), code="invalid", fields={"term_months": "36"}
        )
    _not_in_future(decision_date, "decision_date")
    unit = _executing_unit(actor, org_unit_code)
    active = list(Enrollment.objects.filter(person=person, status__in=ACTIVE_STATUSES))
    superseded = [e for e in active if e.measure == Measure.SOCIAL_CONTROL]
    if len(superseded) != len(active):
        raise InvalidTransition(_("The person already has an active measure."), code="active_measure_exists")
    for old in superseded:
        _not_before(decision_date, old.decision_date, "decision_date", _("the start of social control"))
    with transaction.atomic():
        for old in superseded:
            old.status, old.ended_on, old.end_reason = "terminated", decision_date, "superseded"
            old.save(update_fields=["status", "ended_on", "end_reason", "last_updated"])
            _event(actor, old, "terminated", decision_date, reason="superseded")
        enrollment = Enrollment.objects.create(
            person=person,
            org_unit=unit,
            measure=measure,
            decision_date=decision_date,
            report_deadline=decision_date + dt.timedelta(days=REPORT_DAYS),
            term_months=term_months,
        )
        _event(actor, enrollment, "decided", decision_date)
        _set_control_status(person.pk, "under_measure", decision_date)
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=enrollment,
            detail={"person": person.pk, "measure": measure, "decision_date": decision_date.isoformat()},
        )
    _refresh(person.pk)
    return enrollment


def enrollment_report(*, actor: Any, enrollment: Any, date: dt.date) -> Any:
    """报到: within 15 days of the decision; the term counts from this day."""
    _not_in_future(date, "date")
    _move(enrollment, "reported")
    _not_before(date, enrollment.decision_date, "date", _("the decision"))
    if date > enrollment.report_deadline:
        raise InvalidTransition(
            _("The reporting deadline (%(deadline)s) has passed: record the person as not reported.")
            % {"deadline": enrollment.report_deadline.isoformat()},
            code="report_deadline_passed",
        )
    return _commit_transition(
        actor=actor,
        enrollment=enrollment,
        status="reported",
        transition="reported",
        day=date,
        reported_on=date,
        term_end=_add_months(date, enrollment.term_months or 36),
    )


def enrollment_sign_agreement(*, actor: Any, enrollment: Any, date: dt.date) -> Any:
    """协议: the agreement is signed right after 报到; the measure is then in progress."""
    _not_in_future(date, "date")
    _move(enrollment, "in_progress")
    _not_before(date, enrollment.reported_on, "date", _("the report (报到)"))
    return _commit_transition(
        actor=actor,
        enrollment=enrollment,
        status="in_progress",
        transition="agreement",
        day=date,
        agreement_signed_on=date,
    )


def enrollment_not_reported(*, actor: Any, enrollment: Any, as_of: dt.date) -> Any:
    """未报到: no report by the deadline counts as refusal; the case is referred to the police."""
    _not_in_future(as_of, "as_of")
    _move(enrollment, "not_reported")
    if as_of <= enrollment.report_deadline:
        raise InvalidTransition(
            _("The person may still report until %(deadline)s.")
            % {"deadline": enrollment.report_deadline.isoformat()},
            code="report_deadline_open",
        )
    return _commit_transition(
        actor=actor,
        enrollment=enrollment,
        status="not_reported",
        transition="not_reported",
        day=as_of,
        person_status="referred",
        ended_on=as_of,
    )


def enrollment_leave(
    *, actor: Any, enrollment: Any, start: dt.date, end: dt.date, destination: str = ""
) -> Any:
    """外出报告/请假: an approved absence from the county (3 days or more need a written report)."""
    from jindu.people.models import EnrollmentStatus

    _not_before(start, enrollment.reported_on or enrollment.decision_date, "start", _("the report (报到)"))
    if end is None or end < start:
        raise ServiceError(
            _("The leave ends before it starts."), code="invalid", fields={"end": _("too early")}
        )
    if enrollment.status not in (EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.REPORTED):
        raise InvalidTransition(
            _("Leave is granted while the measure is in progress."), code="invalid_transition"
        )
    with transaction.atomic():
        event = _event(actor, enrollment, "leave", start, end_date=end, destination=destination[:100])
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=enrollment,
            detail={"transition": "leave", "date": start.isoformat(), "until": end.isoformat()},
        )
    return event


def enrollment_transfer(*, actor: Any, enrollment: Any, org_unit_code: str, date: dt.date) -> Any:
    """变更执行地: the case file moves to the new street or community, which owns it from now on; the person
    reports there within 15 days; the term counts on (戒毒条例 art. 22)."""
    from jindu.people.models import WorkerAssignment

    _not_in_future(date, "date")
    _move(enrollment, "transferring")
    _not_before(date, enrollment.reported_on, "date", _("the report (报到)"))
    # The new place may lie outside the sender's jurisdiction: that is the point of a transfer.
    unit = _executing_unit(actor, org_unit_code, in_capture=False)
    if unit.pk == enrollment.org_unit_id:
        raise ServiceError(
            _("The new place of execution is the current one."),
            code="invalid",
            fields={"org_unit": _("same")},
        )
    old_code = enrollment.org_unit.code
    with transaction.atomic():
        _move_case_file(enrollment.person_id, unit)
        WorkerAssignment.objects.filter(person_id=enrollment.person_id, end__isnull=True).update(end=date)
        Person.objects.filter(pk=enrollment.person_id).update(assigned_worker=None)
        enrollment.refresh_from_db()
        return _commit_transition(
            actor=actor,
            enrollment=enrollment,
            status="transferring",
            transition="transfer_out",
            day=date,
            detail={"from": old_code, "to": unit.code},
            transfer_deadline=date + dt.timedelta(days=REPORT_DAYS),
        )


def case_file_models() -> list[Any]:
    """Every kind of sealable record about a person (the case file), read off the models themselves so
    that a new record type is moved and sealed with the rest without a list to keep in step."""
    from django.apps import apps

    from jindu.core.models import SealableMixin

    return [
        model
        for model in apps.get_app_config("people").get_models()
        if issubclass(model, SealableMixin) and model is not Person and hasattr(model, "person_id")
    ]


def _move_case_file(person_id: int, unit: OrgUnit) -> None:
    """Every record of the person moves to the new owner (the file is forwarded, nothing is copied)."""
    from jindu.people.models import PersonState, WorklistItem

    Person.objects.filter(pk=person_id).update(org_unit=unit, org_path=unit.path)
    for model in (*case_file_models(), PersonState, WorklistItem):
        model.objects.filter(person_id=person_id).update(org_unit=unit, org_path=unit.path)


def enrollment_transfer_report(*, actor: Any, enrollment: Any, date: dt.date) -> Any:
    """报到 at the new place of execution, with a new agreement (戒毒条例 art. 22)."""
    _not_in_future(date, "date")
    _move(enrollment, "in_progress")
    if enrollment.status != "transferring":
        raise InvalidTransition(_("No transfer is pending."), code="invalid_transition")
    if date > enrollment.transfer_deadline:
        raise InvalidTransition(
            _("The deadline to report at the new place (%(deadline)s) has passed.")
            % {"deadline": enrollment.transfer_deadline.isoformat()},
            code="report_deadline_passed",
        )
    last_move = enrollment.transfer_deadline - dt.timedelta(days=REPORT_DAYS)
    _not_before(date, last_move, "date", _("the transfer"))
    return _commit_transition(
        actor=actor,
        enrollment=enrollment,
        status="in_progress",
        transition="transfer_reported",
        day=date,
        agreement_signed_on=date,
        transfer_deadline=None,
    )


def enrollment_suspend(*, actor: Any, enrollment: Any, date: dt.date, reason: str) -> Any:
    """中止 (拘留/逮捕): no schedule while suspended; the measure resumes on release."""
    _not_in_future(date, "date")
    _move(enrollment, "suspended")
    _not_before(date, enrollment.reported_on, "date", _("the report (报到)"))
    return _commit_transition(
        actor=actor,
        enrollment=enrollment,
        status="suspended",
        transition="suspended",
        day=date,
        detail={"reason": _reason(reason)},
    )


def enrollment_resume(*, actor: Any, enrollment: Any, date: dt.date) -> Any:
    """恢复: the schedule starts again from this day."""
    from jindu.people.models import EnrollmentEvent

    _not_in_future(date, "date")
    if enrollment.status != "suspended":
        raise InvalidTransition(_("The measure is not suspended."), code="invalid_transition")
    suspended = (
        EnrollmentEvent.objects.filter(enrollment=enrollment, kind="suspended").order_by("-date").first()
    )
    _not_before(date, suspended.date if suspended else None, "date", _("the suspension"))
    return _commit_transition(
        actor=actor, enrollment=enrollment, status="in_progress", transition="resumed", day=date
    )


@dataclass
class ViolationCounters:
    """Art. 20 counters of one enrollment and whether they reach 严重违反."""

    test_violations: int
    unauthorised_leaves: int
    days_away: int

    @property
    def serious(self) -> bool:
        return (
            self.test_violations >= SERIOUS_TEST_VIOLATIONS
            or self.unauthorised_leaves >= SERIOUS_UNAUTHORISED_LEAVES
            or self.days_away > SERIOUS_DAYS_AWAY
        )


def violation_counters(enrollment: Any) -> ViolationCounters:
    from django.db.models import Count, Q, Sum

    totals = enrollment.violations.aggregate(
        tests=Count("id", filter=Q(kind__in=["test_evasion", "test_refusal"])),
        leaves=Count("id", filter=Q(kind="unauthorised_leave")),
        days=Sum("days_away", filter=Q(kind="unauthorised_leave")),
    )
    return ViolationCounters(totals["tests"], totals["leaves"], totals["days"] or 0)


def violation_record(
    *, actor: Any, enrollment: Any, kind: str, date: dt.date, days_away: int = 0, note: str = ""
) -> tuple[Any, ViolationCounters]:
    """违反协议. When the counters reach 严重违反 (3 test evasions or refusals, 3 unauthorised leaves, or
    more than 30 days away in all) the enrollment is marked, a serious-violation alert is raised, and the
    worker must report to the police (戒毒条例 art. 21)."""
    from jindu.people.models import Alert, AlertEscalation, Violation, ViolationKind

    if kind not in ViolationKind.values:
        raise ServiceError(_("Unknown violation."), code="invalid", fields={"kind": _("unknown")})
    _not_in_future(date, "date")
    _not_before(date, enrollment.reported_on or enrollment.decision_date, "date", _("the report (报到)"))
    if enrollment.status not in ("reported", "in_progress", "transferring"):
        raise InvalidTransition(_("The measure is not in progress."), code="invalid_transition")
    if kind == "unauthorised_leave" and not 1 <= (days_away or 0) <= 3650:
        raise ServiceError(
            _("Give the number of days away."), code="invalid", fields={"days_away": _("required")}
        )
    with transaction.atomic():
        violation = Violation.objects.create(
            enrollment=enrollment,
            person_id=enrollment.person_id,
            org_unit_id=enrollment.org_unit_id,
            kind=kind,
            date=date,
            days_away=days_away if kind == "unauthorised_leave" else 0,
            note=(note or "")[:200],
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        counters = violation_counters(enrollment)
        detail = {"kind": kind, "date": date.isoformat(), **counters.__dict__}
        if counters.serious and enrollment.serious_violation_on is None:
            enrollment.serious_violation_on = date
            enrollment.save(update_fields=["serious_violation_on", "last_updated"])
            _event(actor, enrollment, "serious_violation", date, **counters.__dict__)
            alert = Alert.objects.create(
                person_id=enrollment.person_id,
                enrollment=enrollment,
                org_unit_id=enrollment.org_unit_id,
                kind="serious_violation",
                raised_on=date,
            )
            AlertEscalation.objects.create(alert=alert, level="worker", date=date)
            detail["serious"] = True
        audit_write(action=AuditAction.CREATE, actor=actor, obj=violation, detail=detail)
    _refresh(enrollment.person_id)
    return violation, counters


def enrollment_refer(*, actor: Any, enrollment: Any, date: dt.date, reason: str) -> Any:
    """移交公安: after 严重违反 or relapse the case goes to the police (who may order 强制隔离戒毒)."""
    from jindu.people.models import Alert

    _not_in_future(date, "date")
    _move(enrollment, "referred")
    _not_before(date, enrollment.reported_on, "date", _("the report (报到)"))
    result = _commit_transition(
        actor=actor,
        enrollment=enrollment,
        status="referred",
        transition="referred",
        day=date,
        detail={"reason": _reason(reason)},
        person_status="referred",
        ended_on=date,
        end_reason=_reason(reason),
    )
    Alert.objects.filter(enrollment=enrollment, kind="serious_violation", resolved_on__isnull=True).update(
        resolved_on=date, resolution="referred"
    )
    return result


def enrollment_terminate(*, actor: Any, enrollment: Any, date: dt.date, reason: str) -> Any:
    """终止: imprisonment, a compulsory educational measure or death (戒毒条例 art. 24)."""
    _not_in_future(date, "date")
    _move(enrollment, "terminated")
    _not_before(date, enrollment.decision_date, "date", _("the decision"))
    return _commit_transition(
        actor=actor,
        enrollment=enrollment,
        status="terminated",
        transition="terminated",
        day=date,
        detail={"reason": _reason(reason)},
        person_status="ended",
        ended_on=date,
        end_reason=_reason(reason),
    )


def enrollment_release(*, actor: Any, enrollment: Any, date: dt.date) -> Any:
    """期满解除 at the end of the term (the police notice follows within 7 days). The person passes into
    社会面管控 (a social-control enrollment at the same place) until 戒断三年 is confirmed."""
    from jindu.people.models import Enrollment

    _not_in_future(date, "date")
    _move(enrollment, "released")
    if enrollment.term_end is None or date < enrollment.term_end:
        raise InvalidTransition(
            _("The term ends on %(term_end)s: release is possible from that day.")
            % {"term_end": enrollment.term_end.isoformat() if enrollment.term_end else "—"},
            code="term_not_ended",
        )
    with transaction.atomic():
        _commit_transition(
            actor=actor,
            enrollment=enrollment,
            status="released",
            transition="released",
            day=date,
            person_status="social_control",
            ended_on=date,
        )
        social = Enrollment.objects.create(
            person_id=enrollment.person_id,
            org_unit_id=enrollment.org_unit_id,
            measure="social_control",
            status="in_progress",
            decision_date=date,
            report_deadline=date,
            reported_on=date,
            agreement_signed_on=date,
        )
        _event(actor, social, "decided", date, after=enrollment.pk)
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=social,
            detail={"person": enrollment.person_id, "measure": "social_control", "after": enrollment.pk},
        )
    _refresh(enrollment.person_id)
    return enrollment


# Tests and contacts -----------------------------------------------------------------------------------


def _enrollment_on(person: Person, day: dt.date) -> Any:
    """The measure in force for the person on ``day``: decided on or before it and not ended before it."""
    from django.db.models import Q

    from jindu.people.models import Enrollment

    return (
        Enrollment.objects.filter(person=person, decision_date__lte=day)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=day))
        .exclude(status="not_reported")
        .select_related("org_unit")
        .order_by("-decision_date")
        .first()
    )


def _record_guard(person: Person, day: dt.date | None, field: str) -> Any:
    _not_in_future(day, field)
    assert day is not None
    enrollment = _enrollment_on(person, day)
    if enrollment is None:
        raise ServiceError(
            _("No measure was in force for this person on %(date)s.") % {"date": day.isoformat()},
            code="no_measure_in_force",
            fields={field: _("outside any measure")},
        )
    return enrollment


def drug_test_record(
    *,
    actor: Any,
    person: Person,
    kind: str,
    sample_date: dt.date,
    result: str,
    substances: list[str] | None = None,
    is_random: bool = False,
    tester: str = "",
) -> Any:
    """Record a urine or hair test under the measure in force on the sample date. A positive result is a
    relapse event: it resets the abstinence anchor (the evaluation reads it), raises a relapse alert and
    calls for a risk reassessment (a worklist item)."""
    from jindu.people.models import Alert, AlertEscalation, DrugTest, TestKind, TestResult

    fields = {}
    if kind not in TestKind.values:
        fields["kind"] = _("unknown")
    if result not in TestResult.values:
        fields["result"] = _("unknown")
    if fields:
        raise ServiceError(_("The test cannot be recorded."), code="invalid", fields=fields)
    enrollment = _record_guard(person, sample_date, "sample_date")
    with transaction.atomic():
        test = DrugTest.objects.create(
            person=person,
            enrollment=enrollment,
            org_unit=enrollment.org_unit,
            kind=kind,
            sample_date=sample_date,
            result=result,
            substances=sorted(set(substances or [])),
            is_random=is_random,
            tester=(tester or "")[:50],
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if result == TestResult.POSITIVE:
            alert = Alert.objects.create(
                person=person,
                enrollment=enrollment,
                org_unit=enrollment.org_unit,
                kind="relapse",
                raised_on=sample_date,
            )
            AlertEscalation.objects.create(alert=alert, level="worker", date=sample_date)
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=test,
            detail={"person": person.pk, "kind": kind, "result": result, "relapse": result == "positive"},
        )
    _refresh(person.pk)
    return test


def contact_record(*, actor: Any, person: Person, kind: str, date: dt.date, note: str = "") -> Any:
    """Record a visit, talk or phone contact under the measure in force on that day."""
    from jindu.people.models import Contact, ContactKind

    if kind not in ContactKind.values:
        raise ServiceError(
            _("The contact cannot be recorded."), code="invalid", fields={"kind": _("unknown")}
        )
    enrollment = _record_guard(person, date, "date")
    with transaction.atomic():
        contact = Contact.objects.create(
            person=person,
            enrollment=enrollment,
            org_unit=enrollment.org_unit,
            kind=kind,
            date=date,
            note=(note or "")[:500],
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=contact,
            detail={"person": person.pk, "kind": kind},
        )
    _refresh(person.pk)
    return contact


# Registry events: 查获 and 吸毒成瘾认定 ------------------------------------------------------------------


def seizure_record(*, actor: Any, person: Person, date: dt.date, note: str = "") -> Any:
    """查获: the person was caught using drugs; the abstinence anchor moves to this day."""
    from jindu.people.models import Seizure

    _not_in_future(date, "date")
    with transaction.atomic():
        seizure = Seizure.objects.create(
            person=person, org_unit_id=person.org_unit_id, date=date, note=(note or "")[:200]
        )
        audit_write(action=AuditAction.CREATE, actor=actor, obj=seizure, detail={"person": person.pk})
    _refresh(person.pk)
    return seizure


def addiction_finding_record(
    *,
    actor: Any,
    person: Person,
    conclusion: str,
    date: dt.date,
    officers: list[str],
    basis: list[str] | None = None,
    sample_type: str = "",
) -> Any:
    """吸毒成瘾认定: the conclusion of two officers (公安部令115 art. 6) with its basis."""
    from jindu.people.models import AddictionConclusion, AddictionFinding

    fields = {}
    if conclusion not in AddictionConclusion.values:
        fields["conclusion"] = _("unknown")
    officers = [" ".join((officer or "").split()) for officer in officers or []]
    if len([o for o in officers if o]) != 2 or officers[0] == officers[1]:
        fields["officers"] = _("two different officers")
    if fields:
        raise ServiceError(_("The finding cannot be recorded."), code="invalid", fields=fields)
    _not_in_future(date, "date")
    with transaction.atomic():
        finding = AddictionFinding.objects.create(
            person=person,
            org_unit_id=person.org_unit_id,
            conclusion=conclusion,
            date=date,
            officer_1=officers[0][:50],
            officer_2=officers[1][:50],
            basis=sorted(set(basis or [])),
            sample_type=(sample_type or "")[:20],
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=finding,
            detail={"person": person.pk, "conclusion": conclusion},
        )
    return finding


# Risk grading -----------------------------------------------------------------------------------------


@dataclass
class RiskScore:
    total: int
    suggested_color: str
    instrument: Any


def risk_score(person: Person, answers: dict[str, str], date: dt.date) -> RiskScore:
    """Score the answers with the instrument in force for the person on ``date`` (every factor answered
    with one of its options); the colour is only a suggestion."""
    from jindu.core.policy import policy_in_force
    from jindu.people.policies import RISK_INSTRUMENT

    instrument = policy_in_force(RISK_INSTRUMENT, person.org_unit, date)
    factors = instrument.payload.get("factors", [])
    fields: dict[str, str] = {}
    total = 0
    for factor in factors:
        points = {option["code"]: option["points"] for option in factor["options"]}
        answer = (answers or {}).get(factor["code"])
        if answer not in points:
            fields[factor["code"]] = _("choose one of %(options)s") % {"options": ", ".join(points)}
        else:
            total += points[answer]
    unknown = set(answers or {}) - {factor["code"] for factor in factors}
    for code in sorted(unknown):
        fields[code] = _("not a factor of this instrument")
    if fields:
        raise ServiceError(
            _("The assessment is incomplete: %(problems)s") % {"problems": join_problems(fields)},
            code="invalid",
            fields=fields,
        )
    cutoffs = instrument.payload.get("cutoffs", {})
    suggested = "green"
    for color in ("red", "orange", "yellow"):
        if color in cutoffs and total >= cutoffs[color]:
            suggested = color
            break
    return RiskScore(total=total, suggested_color=suggested, instrument=instrument)


def risk_assess(
    *,
    actor: Any,
    person: Person,
    date: dt.date,
    answers: dict[str, str],
    final_color: str,
    override_reason: str = "",
    trigger: str = "scheduled",
) -> Any:
    """Record a risk grading. The instrument suggests a colour; the assessor sets the final colour, and a
    colour other than the suggestion needs a reason (PIPL art. 24). The colour changes the contact policy
    from this day on."""
    from jindu.people.models import RiskAssessment, RiskColor, RiskTrigger

    _not_in_future(date, "date")
    if final_color not in RiskColor.values:
        raise ServiceError(_("Unknown colour."), code="invalid", fields={"final_color": _("unknown")})
    if trigger not in RiskTrigger.values:
        raise ServiceError(_("Unknown trigger."), code="invalid", fields={"trigger": _("unknown")})
    score = risk_score(person, answers, date)
    override_reason = " ".join((override_reason or "").split())
    if final_color != score.suggested_color and len(override_reason) < 5:
        raise ServiceError(
            _("The colour differs from the suggestion (%(suggested)s): give the reason.")
            % {"suggested": score.suggested_color},
            code="override_reason_required",
            fields={"override_reason": _("required")},
        )
    with transaction.atomic():
        assessment = RiskAssessment.objects.create(
            person=person,
            org_unit_id=person.org_unit_id,
            date=date,
            instrument=score.instrument,
            factor_scores=dict(answers),
            total=score.total,
            suggested_color=score.suggested_color,
            final_color=final_color,
            override_reason=override_reason[:500] if final_color != score.suggested_color else "",
            trigger=trigger,
            assessor=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=assessment,
            detail={
                "person": person.pk,
                "total": score.total,
                "suggested": score.suggested_color,
                "final": final_color,
                "override": final_color != score.suggested_color,
                "instrument": score.instrument.pk,
            },
        )
    _refresh(person.pk)
    return assessment


# 戒断三年 and 无感化 --------------------------------------------------------------------------------------


def abstinence_assess(*, actor: Any, person: Person, date: dt.date, outcome: str, note: str = "") -> Any:
    """The recorded assessment that changes a person's status: 戒断三年未复吸 (dynamic control stops,
    social control ends) or, after the longer period, 无感化 (the record is sealed: no schedules, no
    visits, gone from every list; readable only by the designated role through break-the-glass).
    ``not_confirmed`` records an assessment that changes nothing."""
    from jindu.people.evaluation import add_years, evaluate_person
    from jindu.people.models import AbstinenceAssessment, AbstinenceOutcome, Enrollment
    from jindu.people.policies import ABSTINENCE_POLICY, PolicyBook

    if outcome not in AbstinenceOutcome.values:
        raise ServiceError(_("Unknown outcome."), code="invalid", fields={"outcome": _("unknown")})
    _not_in_future(date, "date")
    book = PolicyBook()
    status = evaluate_person(person, date, book)
    policy = book.resolve(ABSTINENCE_POLICY, person.org_path, date)
    if policy is None or status.abstinence_anchor is None:
        raise InvalidTransition(_("There is no abstinence period to assess."), code="not_eligible")
    if outcome == AbstinenceOutcome.ABSTINENT_3Y and (
        status.abstinent_3y != "eligible" or status.control_status not in ("social_control", "registered")
    ):
        raise InvalidTransition(
            _("Not yet eligible: three years without relapse are reached on %(date)s.")
            % {"date": add_years(status.abstinence_anchor, policy.payload["abstinent_years"]).isoformat()}
            if status.control_status in ("social_control", "registered")
            else _("Only a person under social control can be assessed for this."),
            code="not_eligible",
        )
    if outcome == AbstinenceOutcome.NO_CONTACT:
        due = add_years(status.abstinence_anchor, policy.payload["no_contact_years"])
        if status.control_status != "abstinent_3y" or due > date:
            raise InvalidTransition(
                _("无感化 needs a confirmed 戒断三年 and abstinence until %(date)s.")
                % {"date": due.isoformat()},
                code="not_eligible",
            )
    with transaction.atomic():
        assessment = AbstinenceAssessment.objects.create(
            person=person,
            org_unit_id=person.org_unit_id,
            date=date,
            outcome=outcome,
            anchor=status.abstinence_anchor,
            policy_id=policy.id,
            note=(note or "")[:500],
            assessor=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=assessment,
            detail={"person": person.pk, "outcome": outcome, "anchor": status.abstinence_anchor.isoformat()},
        )
        if outcome == AbstinenceOutcome.ABSTINENT_3Y:
            for social in Enrollment.objects.filter(
                person=person, measure="social_control", ended_on__isnull=True
            ):
                social.status, social.ended_on, social.end_reason = "released", date, "abstinent_3y"
                social.save(update_fields=["status", "ended_on", "end_reason", "last_updated"])
                _event(actor, social, "released", date, reason="abstinent_3y")
            _set_control_status(person.pk, "abstinent_3y", date)
        elif outcome == AbstinenceOutcome.NO_CONTACT:
            _set_control_status(person.pk, "no_contact", date)
            _seal_person(person.pk, date)
    if outcome != AbstinenceOutcome.NO_CONTACT:
        _refresh(person.pk)
    return assessment


def _seal_person(person_id: int, date: dt.date) -> None:
    """撕掉标签: seal the person and every record about them; drop derived state and worklist items;
    close open alerts and assignments. Aggregates still count the person."""
    from jindu.people import models as people_models

    Person.objects.filter(pk=person_id).update(sealed=True, assigned_worker=None)
    for model in case_file_models():
        model.objects.filter(person_id=person_id).update(sealed=True)
    people_models.Alert.objects.filter(person_id=person_id, resolved_on__isnull=True).update(
        resolved_on=date, resolution="no_contact"
    )
    people_models.WorkerAssignment.objects.filter(person_id=person_id, end__isnull=True).update(end=date)
    people_models.PersonState.objects.filter(person_id=person_id).delete()
    people_models.WorklistItem.objects.filter(person_id=person_id).delete()


# Alerts -----------------------------------------------------------------------------------------------


def alert_resolve(*, actor: Any, alert: Any, date: dt.date, resolution: str) -> Any:
    """Close an open alert with what was done (a relapse handled, a person found again…). A 脱管 alert
    that is closed by hand while the person is still lost is raised again by the next evaluation."""
    from jindu.people.models import AlertEscalation

    _not_in_future(date, "date")
    if alert.resolved_on is not None:
        raise InvalidTransition(_("The alert is already resolved."), code="already_resolved")
    _not_before(date, alert.raised_on, "date", _("the alert"))
    resolution = _reason(resolution, "resolution")
    with transaction.atomic():
        alert.resolved_on, alert.resolution = date, resolution
        alert.save(update_fields=["resolved_on", "resolution", "last_updated"])
        AlertEscalation.objects.create(alert=alert, level=alert.level, date=date, note="resolved")
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=alert,
            detail={"resolved_on": date.isoformat(), "kind": alert.kind},
        )
    return alert
