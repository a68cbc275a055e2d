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
                actor_username="" if actor else "cli",
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
