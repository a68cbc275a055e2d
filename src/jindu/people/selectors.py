"""Scoped, audited reads of the people app: every search and every opened record leaves a trace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from jindu.core.audit import audit_search
from jindu.core.errors import NotFound
from jindu.core.fields import blind_index
from jindu.core.models import OrgUnit
from jindu.core.scoping import access_object, capture_root_ids, in_roots, path_condition
from jindu.core.validators import normalize_id_number
from jindu.people.evaluation import PersonStatus, evaluate_person, evaluate_persons, status_from_state
from jindu.people.models import Alert, Person, PersonState, WorklistItem
from jindu.people.nightly import latest_run_day
from jindu.people.policies import PolicyBook


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
    """One person record, audited as READ; outside the capture scope only after breaking the glass.
    The stored evaluation comes with it (``person_status_today`` reads it without another query)."""
    return access_object(
        user, Person.objects.select_related("org_unit", "household_registration", "state"), pk, audit=True
    )


# Status and worklists ---------------------------------------------------------------------------------

WORKLIST_KINDS = (
    "due",
    "overdue",
    "lost_contact",
    "almost_eligible",
    "eligible",
    "report_due",
    "reassessment",
    "serious_violation",
    "release_due",
)


@dataclass
class WorklistEntry:
    """One worklist line: the person (masked), what is to be done and by when."""

    person_id: int
    person_name: str
    org_unit: str
    kind: str
    item: str
    due_date: dt.date | None
    policy_version: int | None
    worker: str | None


def person_status(user: Any, person_id: Any, as_of: dt.date) -> tuple[Person, PersonStatus]:
    """The evaluation of one person on ``as_of`` (an audited read of the person)."""
    person = access_person(user, person_id)
    return person, evaluate_person(person, as_of)


def person_status_today(person: Person, today: dt.date) -> PersonStatus:
    """Today's evaluation of a person already loaded through a scoped fetcher: the stored state when the
    nightly run (kept current after each write) covers today, else a live evaluation."""
    try:
        stored: PersonState | None = person.state
    except PersonState.DoesNotExist:
        stored = None
    if stored is not None and stored.as_of == today:
        return status_from_state(stored)
    return evaluate_person(person, today)


def _scoped_persons(user: Any, *, org_unit: OrgUnit | None, worker: Any | None) -> QuerySet[Person]:
    persons = Person.objects.for_user(user)
    if org_unit is not None:
        persons = persons.filter(path_condition([org_unit.path]))
    if worker is not None:
        persons = persons.filter(assigned_worker=worker)
    return persons


class Worklist:
    """The answer of ``worklist``: its entries, in order, with their number.

    Stored items are turned into ``WorklistEntry`` only for the slice read (a page), and the number is
    counted once, for the audit record, then given to the paginators (``count()``, ``len()``) instead of
    being counted again: at thousands of items that count is a third of a street's request."""

    def __init__(self, entries: list[WorklistEntry] | QuerySet[WorklistItem], count: int) -> None:
        self._entries = entries
        self._count = count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: slice) -> list[WorklistEntry]:
        if not isinstance(index, slice):
            raise TypeError("a worklist is read by slices (pages)")
        return [_as_entry(entry) for entry in self._entries[index]]

    def __iter__(self) -> Iterator[WorklistEntry]:
        return (_as_entry(entry) for entry in self._entries)


def _as_entry(entry: WorklistEntry | WorklistItem) -> WorklistEntry:
    return entry if isinstance(entry, WorklistEntry) else worklist_entry(entry)


def worklist(
    user: Any,
    *,
    as_of: dt.date,
    kinds: list[str] | None = None,
    org_unit: OrgUnit | None = None,
    worker: Any | None = None,
) -> Worklist:
    """What is due, overdue, lost or eligible on ``as_of`` for the persons the user manages (capture
    scope; sealed persons never appear), optionally for one org unit or one worker.

    For the day of the latest evaluation run the stored items are read (an index range per scope);
    for any other day every person in scope is evaluated live. Audited as a SEARCH."""
    kinds = [kind for kind in (kinds or WORKLIST_KINDS) if kind in WORKLIST_KINDS]
    if org_unit is not None and not in_roots(org_unit.pk, capture_root_ids(user)):
        raise NotFound()
    entries: list[WorklistEntry] | QuerySet[WorklistItem]
    if latest_run_day() == as_of:
        items = WorklistItem.objects.for_user(user).filter(as_of=as_of, kind__in=kinds)
        if org_unit is not None:
            items = items.filter(path_condition([org_unit.path]))
        if worker is not None:
            items = items.filter(worker=worker)
        entries = items.select_related("person", "org_unit", "worker").order_by("org_path", "due_date", "id")
        count = entries.count()
    else:
        entries = []
        person_ids = list(
            _scoped_persons(user, org_unit=org_unit, worker=worker).values_list("pk", flat=True)
        )
        book = PolicyBook()
        for start in range(0, len(person_ids), 2000):
            batch = person_ids[start : start + 2000]
            persons = Person.objects.filter(pk__any=batch).select_related("org_unit", "assigned_worker")
            by_id = {person.pk: person for person in persons}
            rows = [
                (
                    person.pk,
                    person.org_unit_id,
                    person.org_path,
                    person.assigned_worker_id,
                    person.first_found_date,
                )
                for person in by_id.values()
            ]
            for status in evaluate_persons(batch, as_of, book, person_rows=rows):
                person = by_id[status.person_id]
                for item in status.items:
                    if item.kind in kinds:
                        entries.append(
                            WorklistEntry(
                                person_id=person.pk,
                                person_name=person.name_masked,
                                org_unit=person.org_unit.code,
                                kind=item.kind,
                                item=item.item,
                                due_date=item.due_date,
                                policy_version=item.policy_id,
                                worker=person.assigned_worker.username if person.assigned_worker else None,
                            )
                        )
        entries.sort(key=lambda entry: (entry.org_unit, entry.due_date or as_of, entry.person_id))
        count = len(entries)
    audit_search(
        actor=user,
        object_type="people.worklist",
        query={
            "as_of": as_of.isoformat(),
            "kinds": ",".join(kinds),
            "org_unit": org_unit.code if org_unit else "",
            "worker": getattr(worker, "username", ""),
        },
        results=count,
    )
    return Worklist(entries, count)


def worklist_entry(item: WorklistItem) -> WorklistEntry:
    """A stored worklist item in the same shape as a live one."""
    return WorklistEntry(
        person_id=item.person_id,
        person_name=item.person.name_masked,
        org_unit=item.org_unit.code,
        kind=item.kind,
        item=item.item,
        due_date=item.due_date,
        policy_version=item.policy_id,
        worker=item.worker.username if item.worker else None,
    )


def alerts_search(user: Any, *, kind: str = "", open_only: bool = True) -> QuerySet[Alert]:
    """Alerts about persons the user manages (never a sealed person's), newest first; audited as SEARCH."""
    alerts = (
        Alert.objects.for_user(user)
        .select_related("person")
        .prefetch_related("escalations")
        .order_by("org_path", "-raised_on", "id")
    )
    if kind:
        alerts = alerts.filter(kind=kind)
    if open_only:
        alerts = alerts.filter(resolved_on__isnull=True)
    audit_search(
        actor=user,
        object_type="people.alert",
        query={"kind": kind, "open": open_only},
        results=alerts.count(),
    )
    return alerts
