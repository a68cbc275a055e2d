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
    twin = Person.objects.filter(
        name_index=blind_index(name, context="people.person.name"), birth_date=birth_date
    ).first()
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

REPORT_DAYS = 15  # 戒毒条例 art. 14 and 37: report within 15 days of the decision
TERM_YEARS = {"community_treatment": 3, "community_rehabilitation": 3, "social_control": 3}
EXECUTING_LEVELS = {OrgLevel.STREET, OrgLevel.COMMUNITY}


class InvalidTransition(ServiceError):
    status = 409


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _not_in_future(day: dt.date | None, field: str) -> None:
    if day is None:
        raise ServiceError(_("A date is required."), code="invalid", fields={field: _("required")})
    if day > timezone.localdate():
        raise ServiceError(
            _("The date lies in the future."), code="invalid", fields={field: _("a date in the future")}
        )


def _move(enrollment: Any, target: str) -> None:
    from jindu.people.models import TRANSITIONS

    if target not in TRANSITIONS[enrollment.status]:
        raise InvalidTransition(
            _("An enrollment in status %(status)s cannot become %(target)s.")
            % {"status": enrollment.status, "target": target},
            code="invalid_transition",
        )


def _commit_transition(
    *, actor: Any, enrollment: Any, status: str, transition: str, day: dt.date, **changes: Any
) -> Any:
    """Save one checked transition and its audit record in one transaction."""
    with transaction.atomic():
        enrollment.status = status
        for name, value in changes.items():
            setattr(enrollment, name, value)
        enrollment.save(update_fields=["status", *changes, "last_updated"])
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=enrollment,
            detail={"transition": transition, "date": day.isoformat()},
        )
    return enrollment


def enrollment_create(
    *, actor: Any, person: Person, measure: str, decision_date: dt.date, org_unit_code: str
) -> Any:
    """决定送达: a measure is decided and served; the person must report within 15 days."""
    from jindu.people.models import ACTIVE_STATUSES, Enrollment, Measure

    if measure not in Measure.values:
        raise ServiceError(
            _("Unknown measure %(measure)s.") % {"measure": measure},
            code="invalid",
            fields={"measure": _("unknown")},
        )
    _not_in_future(decision_date, "decision_date")
    unit = OrgUnit.objects.filter(code=org_unit_code or "").first()
    if unit is None or (actor is not None and not in_roots(unit.pk, capture_root_ids(actor))):
        raise ServiceError(
            _("org unit %(code)s is not in your capture scope") % {"code": org_unit_code},
            code="invalid",
            fields={"org_unit": _("outside your capture scope")},
        )
    if unit.level not in EXECUTING_LEVELS:
        raise ServiceError(
            _("A measure is executed by a street or a community."),
            code="invalid",
            fields={"org_unit": _("level")},
        )
    if Enrollment.objects.filter(person=person, status__in=ACTIVE_STATUSES).exists():
        raise InvalidTransition(_("The person already has an active measure."), code="active_measure_exists")
    with transaction.atomic():
        enrollment = Enrollment.objects.create(
            person=person,
            org_unit=unit,
            measure=measure,
            decision_date=decision_date,
            report_deadline=decision_date + dt.timedelta(days=REPORT_DAYS),
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=enrollment,
            detail={"person": person.pk, "measure": measure, "decision_date": decision_date.isoformat()},
        )
    return enrollment


def enrollment_report(*, actor: Any, enrollment: Any, date: dt.date) -> Any:
    """报到: within 15 days of the decision; the term (3 years) counts from this day."""
    _not_in_future(date, "date")
    _move(enrollment, "reported")
    if date < enrollment.decision_date:
        raise ServiceError(
            _("报到 cannot precede the decision."), code="invalid", fields={"date": _("before the decision")}
        )
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
        transition="report",
        day=date,
        reported_on=date,
        term_end=_add_years(date, TERM_YEARS[enrollment.measure]),
    )


def enrollment_sign_agreement(*, actor: Any, enrollment: Any, date: dt.date) -> Any:
    """协议: the agreement is signed right after 报到; the measure is then in progress."""
    _not_in_future(date, "date")
    _move(enrollment, "in_progress")
    if date < enrollment.reported_on:
        raise ServiceError(
            _("The agreement cannot precede 报到."), code="invalid", fields={"date": _("before 报到")}
        )
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
        ended_on=as_of,
    )


def enrollment_release(*, actor: Any, enrollment: Any, date: dt.date) -> Any:
    """期满解除: at the end of the term (the police notice follows within 7 days)."""
    _not_in_future(date, "date")
    _move(enrollment, "released")
    if enrollment.term_end is None or date < enrollment.term_end:
        raise InvalidTransition(
            _("The term ends on %(term_end)s: release is possible from that day.")
            % {"term_end": enrollment.term_end.isoformat() if enrollment.term_end else "—"},
            code="term_not_ended",
        )
    return _commit_transition(
        actor=actor,
        enrollment=enrollment,
        status="released",
        transition="release",
        day=date,
        ended_on=date,
    )


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
) -> Any:
    """Record a urine or hair test under the measure in force on the sample date. A positive result is a
    relapse event (its audit record says so)."""
    from jindu.people.models import DrugTest, TestKind, TestResult

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
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=test,
            detail={"person": person.pk, "kind": kind, "result": result, "relapse": result == "positive"},
        )
    return test


def contact_record(*, actor: Any, person: Person, kind: str, date: dt.date) -> Any:
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
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=contact,
            detail={"person": person.pk, "kind": kind},
        )
    return contact
