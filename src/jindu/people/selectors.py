"""Scoped, audited reads of the people app: every search and every opened record leaves a trace."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jindu.core.audit import audit_search
from jindu.core.fields import blind_index
from jindu.core.scoping import access_object
from jindu.core.validators import normalize_id_number
from jindu.people.models import Person


def persons_search(user: Any, *, id_number: str = "", name: str = "") -> QuerySet[Person]:
    """Persons the user manages (capture scope: person records are protected), optionally by exact ID
    number or exact name through the blind indexes. Writes a SEARCH audit record with masked terms."""
    queryset = Person.objects.for_user(user).select_related("org_unit").order_by("org_path", "id")
    if id_number:
        queryset = queryset.filter(
            id_number_index=blind_index(normalize_id_number(id_number), context="people.person.id_number")
        )
    if name:
        queryset = queryset.filter(name_index=blind_index(name, context="people.person.name"))
    audit_search(
        actor=user,
        object_type="people.person",
        query={"id_number": id_number, "name": name},
        results=queryset.count(),
    )
    return queryset


def access_person(user: Any, pk: Any) -> Person:
    """One person record, audited as READ; outside the capture scope only after breaking the glass."""
    return access_object(
        user, Person.objects.select_related("org_unit", "household_registration"), pk, audit=True
    )
