"""Casework around a person: help measures (帮扶), social-worker assignment (指派), caseloads against the
staffing ratio (社工配比), and a worker's monthly summary.

Services (``help_refer``, ``help_record_outcome``, ``worker_assign``) check the role and the capture scope,
validate, then write and audit in one transaction; ``actor`` None is the server operator (CLI, imports,
demo). Selectors read within the user's scope; the aggregates they return hold counts and staff names
only, no personal data of the persons counted.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.errors import NotFound, ServiceError, join_problems
from jindu.core.models import AuditAction, OrgLevel, OrgUnit, OrgUnitClosure, PolicyVersion, User
from jindu.core.policy import policy_in_force
from jindu.core.roles import Role
from jindu.core.scoping import (
    READ,
    WRITE,
    capture_root_ids,
    in_roots,
    path_condition,
    require_permission,
    root_paths,
    user_may,
)
from jindu.people.models import (
    Contact,
    ContactKind,
    ControlStatus,
    DrugTest,
    HelpKind,
    HelpMeasure,
    HelpOutcome,
    Person,
    TestKind,
    TestResult,
    WorkerAssignment,
)
from jindu.people.permissions import ASSIGN_WORKER
from jindu.people.policies import DEFAULT_STAFFING_POLICY, STAFFING_POLICY

STAFFING_POLICY_KIND = STAFFING_POLICY
# At most 30 persons per full-time worker, and at least one worker per street: the practice of 南京
# (社区戒毒(康复)工作规范) and 湛江 (2016: 每30名实有吸毒人员原则上至少配备1名专职工作人员). The shipped default
# staffing PolicyVersion says the same; this value applies only where no version is in force.
DEFAULT_MAX_PERSONS_PER_WORKER: int = DEFAULT_STAFFING_POLICY["max_persons_per_worker"]
# Persons who make up a caseload: under 社区戒毒/社区康复, or under 社会面管控 after release.
CASELOAD_STATUSES = (ControlStatus.UNDER_MEASURE, ControlStatus.SOCIAL_CONTROL)
FINAL_OUTCOMES = [
    str(outcome) for outcome in (HelpOutcome.SUCCEEDED, HelpOutcome.FAILED, HelpOutcome.DECLINED)
]
PROVIDER_MAX_LENGTH: int = HelpMeasure._meta.get_field("provider").max_length or 0
NOTE_MAX_LENGTH: int = HelpMeasure._meta.get_field("note").max_length or 0
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


class CaseworkConflict(ServiceError):
    """The request contradicts the case's current state (an outcome already recorded, the same worker)."""

    status = 409


def _check_case_writable(actor: Any, org_unit_id: int, sealed: bool) -> None:
    """The actor's role may change case records and the record lies in their capture scope. Sealed
    (无感化) cases are read-only for everybody; like anything out of scope they look missing."""
    if sealed:
        raise NotFound()
    if actor is None:
        return
    if not user_may(actor, HelpMeasure, WRITE) or not in_roots(org_unit_id, capture_root_ids(actor)):
        raise NotFound()


def _date_problem(day: dt.date | None, *, not_before: dt.date | None = None) -> str:
    """Why ``day`` is not acceptable for a record of something that already happened ("" if it is)."""
    if day is None:
        return _("required")
    if day > timezone.localdate():
        return _("a date in the future")
    if not_before is not None and day < not_before:
        return _("before %(date)s") % {"date": not_before.isoformat()}
    return ""


def _refuse(message: str, fields: dict[str, str]) -> None:
    if fields:
        raise ServiceError(message % {"problems": join_problems(fields.values())}, fields=fields)


def _actor_user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# Help measures (帮扶) -----------------------------------------------------------------------------------


def help_refer(
    *,
    actor: Any,
    person: Person,
    kind: str,
    referred_on: dt.date | None,
    provider: str = "",
    note: str = "",
) -> HelpMeasure:
    """帮扶 referral: the person is referred to a helping agency (training, a job, legal aid, counselling,
    medical aid, 低保, a public-welfare post). The outcome is pending until recorded. The measure belongs
    to the person's org unit (the residence that manages the case)."""
    _check_case_writable(actor, person.org_unit_id, person.sealed)
    fields: dict[str, str] = {}
    if kind not in HelpKind.values:
        fields["kind"] = _("unknown kind of help")
    if problem := _date_problem(referred_on):
        fields["referred_on"] = problem
    provider = " ".join((provider or "").split())
    if len(provider) > PROVIDER_MAX_LENGTH:
        fields["provider"] = _("at most %(count)d characters") % {"count": PROVIDER_MAX_LENGTH}
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        fields["note"] = _("at most %(count)d characters") % {"count": NOTE_MAX_LENGTH}
    _refuse(_("The help measure cannot be recorded: %(problems)s"), fields)
    assert referred_on is not None
    with transaction.atomic():
        measure = HelpMeasure.objects.create(
            person=person,
            org_unit=person.org_unit,
            kind=kind,
            referred_on=referred_on,
            provider=provider,
            note=note,
            recorded_by=_actor_user(actor),
        )
        # Free text (provider, note) stays out of the audit trail: it may name people.
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=measure,
            detail={"person": person.pk, "kind": kind, "referred_on": referred_on.isoformat()},
        )
    return measure


def help_record_outcome(
    *,
    actor: Any,
    help_measure: HelpMeasure,
    outcome: str,
    outcome_on: dt.date | None,
    note: str = "",
) -> HelpMeasure:
    """Record what came of a referral (obtained, not obtained, declined by the person), once: the outcome
    moves from pending to final and is never edited. Its date lies between the referral and today. An
    outcome note is added below the referral's note (the model keeps one note of 500 characters)."""
    _check_case_writable(actor, help_measure.org_unit_id, help_measure.sealed)
    if help_measure.outcome != HelpOutcome.PENDING:
        raise CaseworkConflict(
            _("The outcome of this help measure is already recorded."), code="outcome_already_recorded"
        )
    fields: dict[str, str] = {}
    if outcome not in FINAL_OUTCOMES:
        fields["outcome"] = _("choose succeeded, failed or declined")
    if problem := _date_problem(outcome_on, not_before=help_measure.referred_on):
        fields["outcome_on"] = problem
    note = (note or "").strip()
    combined_note = "\n".join(part for part in (help_measure.note, note) if part)
    if len(combined_note) > NOTE_MAX_LENGTH:
        room = max(NOTE_MAX_LENGTH - len(help_measure.note) - 1, 0)
        fields["note"] = _("at most %(count)d characters") % {"count": room}
    _refuse(_("The outcome cannot be recorded: %(problems)s"), fields)
    assert outcome_on is not None
    with transaction.atomic():
        # Compare-and-set: of two clerks recording an outcome at the same moment, only one succeeds.
        changed = HelpMeasure.objects.filter(pk=help_measure.pk, outcome=HelpOutcome.PENDING).update(
            outcome=outcome, outcome_on=outcome_on, note=combined_note, last_updated=timezone.now()
        )
        if not changed:
            raise CaseworkConflict(
                _("The outcome of this help measure is already recorded."), code="outcome_already_recorded"
            )
        help_measure.outcome, help_measure.outcome_on, help_measure.note = outcome, outcome_on, combined_note
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=help_measure,
            detail={
                "person": help_measure.person_id,
                "outcome": outcome,
                "outcome_on": outcome_on.isoformat(),
            },
        )
    return help_measure


def help_measures_for(user: Any, person: Person) -> QuerySet[HelpMeasure]:
    """The person's help measures the user may see (capture scope: they are protected records), newest
    referral first (index ``help_person_date``)."""
    return (
        HelpMeasure.objects.for_user(user, READ)
        .filter(person=person)
        .select_related("org_unit", "recorded_by")
        .order_by("-referred_on", "-id")
    )


# Worker assignment (指派) -------------------------------------------------------------------------------


def worker_is_eligible(worker: User | None, person: Person) -> bool:
    """An active social worker whose capture scope holds the person's residence."""
    return (
        worker is not None
        and worker.is_active
        and worker.has_role(Role.SOCIAL_WORKER)
        and in_roots(person.org_unit_id, capture_root_ids(worker))
    )


def worker_assign(
    *, actor: Any, person: Person, worker: User | None, start: dt.date | None
) -> WorkerAssignment:
    """指派: put a social worker in charge of the person from ``start``. A current assignment to another
    worker ends on that day (a transfer); the history keeps both. The offices assign (permission
    ``people.assign_worker``); workers do not assign themselves."""
    if actor is not None:
        require_permission(actor, ASSIGN_WORKER)
    _check_case_writable(actor, person.org_unit_id, person.sealed)
    fields: dict[str, str] = {}
    if not worker_is_eligible(worker, person):
        fields["worker"] = _("not an active social worker whose capture scope holds the person's residence")
    if problem := _date_problem(start):
        fields["start"] = problem
    _refuse(_("The worker cannot be assigned: %(problems)s"), fields)
    assert worker is not None and start is not None
    with transaction.atomic():
        # Lock the person: two offices assigning at once must not both close the same assignment.
        locked = Person.objects.select_for_update().get(pk=person.pk)
        latest = WorkerAssignment.objects.filter(person=locked).order_by("-start", "-id").first()
        current = latest if latest is not None and latest.end is None else None
        current_worker_id = current.worker_id if current else locked.assigned_worker_id
        if current_worker_id == worker.pk:
            raise CaseworkConflict(
                _("This worker is already in charge of the person."),
                code="already_assigned",
                fields={"worker": _("already assigned")},
            )
        if latest is not None and start < latest.start:
            raise ServiceError(
                _("The assignment cannot start before the previous one (%(date)s).")
                % {"date": latest.start.isoformat()},
                fields={"start": _("before %(date)s") % {"date": latest.start.isoformat()}},
            )
        if current is not None:
            current.end = start
            current.save(update_fields=["end", "last_updated"])
        assignment = WorkerAssignment.objects.create(
            person=locked,
            org_unit=person.org_unit,
            worker=worker,
            start=start,
            assigned_by=_actor_user(actor),
        )
        locked.assigned_worker = worker
        locked.save(update_fields=["assigned_worker", "last_updated"])
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=assignment,
            detail={
                "person": person.pk,
                "worker": worker.username,
                "start": start.isoformat(),
                **(
                    {"closed_assignment": current.pk, "previous_worker": current.worker_id} if current else {}
                ),
            },
        )
    person.assigned_worker = worker
    return assignment


def assignments_for(user: Any, person: Person) -> QuerySet[WorkerAssignment]:
    """The person's assignment history the user may see, the current one first (index
    ``assignment_person_start``)."""
    return (
        WorkerAssignment.objects.for_user(user, READ)
        .filter(person=person)
        .select_related("worker", "assigned_by")
        .order_by("-start", "-id")
    )


def eligible_workers(person: Person) -> QuerySet[User]:
    """Active social workers whose capture scope holds the person's residence (candidates for 指派)."""
    ancestors = OrgUnitClosure.objects.filter(descendant_id=person.org_unit_id).values("ancestor_id")
    return (
        User.objects.filter(is_active=True, roles__role=Role.SOCIAL_WORKER, capture_scope__in=ancestors)
        .distinct()
        .order_by("username")
    )


def person_casework_panel(user: Any, person: Person) -> dict[str, Any]:
    """What the casework section of a person's page shows the user, and which forms it offers."""
    may_change = (
        not person.sealed
        and user_may(user, HelpMeasure, WRITE)
        and in_roots(person.org_unit_id, capture_root_ids(user))
    )
    may_assign = may_change and user.has_jindu_perm(ASSIGN_WORKER)
    return {
        "help_measures": list(help_measures_for(user, person)),
        "assignments": list(assignments_for(user, person)[:10]),
        "assigned_worker": person.assigned_worker,
        "may_change": may_change,
        "may_assign": may_assign,
        "eligible_workers": list(eligible_workers(person)) if may_assign else [],
        "help_kinds": HelpKind.choices,
        "final_outcomes": [(value, label) for value, label in HelpOutcome.choices if value in FINAL_OUTCOMES],
        "today": timezone.localdate(),
    }


# Caseloads and the staffing ratio (社工配比) -------------------------------------------------------------


def staffing_limit(org_unit: OrgUnit | None, on: dt.date) -> tuple[int, PolicyVersion | None]:
    """At most how many active persons per worker, for the org unit on the date, and the policy version
    that says so (None: no version in force, the 30:1 fallback)."""
    try:
        version = policy_in_force(STAFFING_POLICY_KIND, org_unit, on)
    except NotFound:
        return DEFAULT_MAX_PERSONS_PER_WORKER, None
    limit = version.payload.get("max_persons_per_worker")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        return DEFAULT_MAX_PERSONS_PER_WORKER, version
    return limit, version


def _staffing_limits(units: list[OrgUnit], on: dt.date) -> dict[int, tuple[int, PolicyVersion | None]]:
    """``staffing_limit`` for many units at a constant number of queries: units under the same set of
    regional versions share one answer, so ``policy_in_force`` runs once per such set (once in all when
    only the national default exists)."""
    region_paths = set(
        PolicyVersion.objects.filter(
            kind=STAFFING_POLICY_KIND, effective_from__lte=on, region__isnull=False
        ).values_list("region__path", flat=True)
    )
    answers: dict[frozenset[str], tuple[int, PolicyVersion | None]] = {}
    limits: dict[int, tuple[int, PolicyVersion | None]] = {}
    for unit in units:
        key = frozenset(path for path in region_paths if unit.path.startswith(path))
        if key not in answers:
            answers[key] = staffing_limit(unit, on)
        limits[unit.pk] = answers[key]
    return limits


@dataclass
class WorkerCaseload:
    """One social worker's active caseload against the staffing limit."""

    worker: User
    street: OrgUnit | None  # the street the worker's capture scope lies in, if it lies in one
    active_persons: int
    max_persons: int

    @property
    def over_limit(self) -> bool:
        return self.active_persons > self.max_persons


@dataclass
class StreetStaffing:
    """One street: active persons, the social workers working in it, and the ratio against the limit."""

    street: OrgUnit
    active_persons: int
    unassigned_persons: int
    workers: int
    max_persons: int
    policy: PolicyVersion | None

    @property
    def ratio(self) -> float | None:
        """Active persons per worker (None without a worker)."""
        return round(self.active_persons / self.workers, 1) if self.workers else None

    @property
    def flag(self) -> str:
        """Why the street is flagged: no_worker (every street needs one), over_ratio (more persons per
        worker than the staffing policy allows), or the empty string."""
        if not self.workers:
            return "no_worker"
        if self.active_persons > self.max_persons * self.workers:
            return "over_ratio"
        return ""


@dataclass
class Caseloads:
    """Caseloads in an area (the user's capture scope or one org unit in it) on a date."""

    as_of: dt.date
    area: list[str]  # the paths of the area's roots
    workers: list[WorkerCaseload] = field(default_factory=list)
    streets: list[StreetStaffing] = field(default_factory=list)

    @property
    def flagged_streets(self) -> int:
        return sum(1 for street in self.streets if street.flag)


def _street_of(path: str, streets_by_path: dict[str, OrgUnit]) -> OrgUnit | None:
    """The street among ``streets_by_path`` that ``path`` lies in (or is)."""
    prefix = ""
    for code in path.split("/")[:-1]:
        prefix += code + "/"
        if prefix in streets_by_path:
            return streets_by_path[prefix]
    return None


def _under_any(paths: list[str], field_name: str) -> Q:
    """Org units (or rows naming one) whose path lies under any of ``paths``. ``OrgUnit.path`` has the
    database's collation, so this is a prefix match (LIKE), not the bytewise range of ``path_condition``."""
    condition = Q(pk__in=[])
    for path in paths:
        condition |= Q(**{f"{field_name}__startswith": path})
    return condition


def _common_street(paths: list[str], streets_by_path: dict[str, OrgUnit]) -> OrgUnit | None:
    """The street that every one of ``paths`` lies in, if there is one."""
    found = {_street_of(path, streets_by_path) for path in paths}
    return found.pop() if len(found) == 1 else None


def caseloads(user: Any, org_unit: OrgUnit | str | None = None, *, on: dt.date | None = None) -> Caseloads:
    """Per social worker in the user's capture scope (workers whose whole capture scope lies in it): the
    active persons assigned; per street in the area: active persons, the social workers whose capture
    scope lies in that street, the ratio, and a flag when a worker would carry more persons than the
    staffing policy allows or the street has no worker at all. ``org_unit`` (a unit or its code) narrows
    the area to one subtree of the capture scope. Needs ``people.assign_worker``."""
    require_permission(user, ASSIGN_WORKER)
    on = on or timezone.localdate()
    roots = capture_root_ids(user)
    if org_unit is not None and org_unit != "":
        unit = org_unit if isinstance(org_unit, OrgUnit) else OrgUnit.objects.filter(code=org_unit).first()
        if unit is None or not in_roots(unit.pk, roots):
            raise NotFound()
        area = [unit.path]
    else:
        area = root_paths(roots)
    report = Caseloads(as_of=on, area=area)
    if not area:
        return report
    streets = list(OrgUnit.objects.filter(_under_any(area, "path"), level=OrgLevel.STREET).order_by("path"))
    streets_by_path = {street.path: street for street in streets}

    # Workers: every capture root of each active social worker who has a root in the area.
    through = User.capture_scope.through
    with_root_in_area = through.objects.filter(
        _under_any(area, "orgunit__path"), user__is_active=True, user__roles__role=Role.SOCIAL_WORKER
    ).values("user_id")
    roots_of: dict[int, list[str]] = {}
    for user_id, path in through.objects.filter(user_id__in=with_root_in_area).values_list(
        "user_id", "orgunit__path"
    ):
        roots_of.setdefault(user_id, []).append(path)
    worker_ids = [
        user_id
        for user_id, paths in roots_of.items()
        if all(any(path.startswith(prefix) for prefix in area) for path in paths)
    ]
    workers = list(
        User.objects.filter(pk__in=worker_ids).select_related("org_unit").order_by("org_path", "username")
    )

    visible = Person.objects.for_user(user, READ).filter(control_status__in=CASELOAD_STATUSES)
    per_worker = dict(
        visible.filter(assigned_worker_id__in=worker_ids)
        .values_list("assigned_worker_id")
        .annotate(count=Count("id"))
        .values_list("assigned_worker_id", "count")
    )
    per_street: dict[int, list[int]] = {street.pk: [0, 0] for street in streets}
    for path, count, unassigned in (
        visible.filter(path_condition(area))
        .values_list("org_path")
        .annotate(count=Count("id"), unassigned=Count("id", filter=Q(assigned_worker__isnull=True)))
        .values_list("org_path", "count", "unassigned")
    ):
        street = _street_of(path, streets_by_path)
        if street is not None:
            per_street[street.pk][0] += count
            per_street[street.pk][1] += unassigned

    worker_street = {worker.pk: _common_street(roots_of[worker.pk], streets_by_path) for worker in workers}
    workers_per_street: dict[int, int] = {}
    for street in worker_street.values():
        if street is not None:
            workers_per_street[street.pk] = workers_per_street.get(street.pk, 0) + 1

    limit_units = {street.pk: street for street in streets}
    for worker in workers:
        owner = worker_street[worker.pk] or worker.org_unit
        limit_units.setdefault(owner.pk, owner)
    limits = _staffing_limits(list(limit_units.values()), on)

    for worker in workers:
        owner = worker_street[worker.pk] or worker.org_unit
        report.workers.append(
            WorkerCaseload(
                worker=worker,
                street=worker_street[worker.pk],
                active_persons=per_worker.get(worker.pk, 0),
                max_persons=limits[owner.pk][0],
            )
        )
    for street in streets:
        limit, version = limits[street.pk]
        report.streets.append(
            StreetStaffing(
                street=street,
                active_persons=per_street[street.pk][0],
                unassigned_persons=per_street[street.pk][1],
                workers=workers_per_street.get(street.pk, 0),
                max_persons=limit,
                policy=version,
            )
        )
    return report


# A worker's monthly summary -----------------------------------------------------------------------------


def parse_month(month: str | None) -> tuple[dt.date, dt.date]:
    """The first and last day of a month written "YYYY-MM" (not a month still to come; empty: this
    month)."""
    month = (month or "").strip() or timezone.localdate().strftime("%Y-%m")
    match = MONTH_PATTERN.match(month)
    first = None
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1900:
        first = dt.date(int(match.group(1)), int(match.group(2)), 1)
    if first is None:
        raise ServiceError(
            _("Give the month as YYYY-MM."), fields={"month": _("use YYYY-MM, for example 2024-03")}
        )
    if first > timezone.localdate():
        raise ServiceError(_("The month lies in the future."), fields={"month": _("a month in the future")})
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def worker_in_view(user: Any, worker: User | None) -> User:
    """The social worker whose figures the user may see: themselves, or, with ``people.assign_worker``,
    a worker whose whole capture scope lies in the user's capture scope. Anyone else looks missing."""
    if worker is None or not worker.is_active or not worker.has_role(Role.SOCIAL_WORKER):
        raise NotFound()
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise NotFound()
    if worker.pk == user.pk and user_may(user, Person, READ):
        return worker
    if not user.has_jindu_perm(ASSIGN_WORKER):
        raise NotFound()
    roots = capture_root_ids(user)
    worker_roots = capture_root_ids(worker)
    if not worker_roots or not all(in_roots(root, roots) for root in worker_roots):
        raise NotFound()
    return worker


def _done_by(worker: User, date_field: str) -> Q:
    """Records the worker made, or about a person the worker was in charge of on the record's date."""
    in_charge = WorkerAssignment.objects.filter(
        worker=worker, person=OuterRef("person"), start__lte=OuterRef(date_field)
    ).filter(Q(end__isnull=True) | Q(end__gt=OuterRef(date_field)))
    return Q(recorded_by=worker) | Q(Exists(in_charge))


def _counts(queryset: QuerySet, field_name: str, values: list[str], **extra: Q) -> dict[str, int]:
    """Row counts of ``queryset`` in total, per value of ``field_name`` and per ``extra`` condition (one
    query)."""
    aggregates = {"total": Count("id")}
    aggregates.update({str(value): Count("id", filter=Q(**{field_name: value})) for value in values})
    aggregates.update({name: Count("id", filter=condition) for name, condition in extra.items()})
    return queryset.aggregate(**aggregates)


@dataclass
class MonthlySummary:
    """What a social worker did in a month, and how many persons they had at its end."""

    worker: User
    month: str
    first_day: dt.date
    last_day: dt.date
    as_of: dt.date  # the month's last day, or today for the current month
    drug_tests: dict[str, int]  # total, positive, per kind
    contacts: dict[str, int]  # total, per kind
    help_referrals: dict[str, int]  # total, per kind of help
    help_outcomes: dict[str, int]  # total, per outcome
    persons_assigned: int


def worker_monthly_summary(user: Any, worker: User | None, month: str | None = None) -> MonthlySummary:
    """Drug tests, contacts (per kind), help referrals and outcomes of one month that the worker recorded
    or that concern persons in the worker's charge on their date, and the persons assigned to the worker
    at the end of the month; counted within the user's scope."""
    worker = worker_in_view(user, worker)
    first, last = parse_month(month)
    as_of = min(last, timezone.localdate())
    tests = DrugTest.objects.for_user(user, READ).filter(sample_date__range=(first, last))
    tests = tests.filter(_done_by(worker, "sample_date"))
    contacts = Contact.objects.for_user(user, READ).filter(date__range=(first, last))
    helps = HelpMeasure.objects.for_user(user, READ)
    referrals = helps.filter(referred_on__range=(first, last)).filter(_done_by(worker, "referred_on"))
    outcomes = helps.filter(outcome_on__range=(first, last)).filter(_done_by(worker, "outcome_on"))
    assigned = (
        WorkerAssignment.objects.for_user(user, READ)
        .filter(worker=worker, start__lte=as_of)
        .filter(Q(end__isnull=True) | Q(end__gt=as_of))
        .values("person_id")
        .distinct()
        .count()
    )
    return MonthlySummary(
        worker=worker,
        month=first.strftime("%Y-%m"),
        first_day=first,
        last_day=last,
        as_of=as_of,
        drug_tests=_counts(tests, "kind", TestKind.values, positive=Q(result=TestResult.POSITIVE)),
        contacts=_counts(contacts.filter(_done_by(worker, "date")), "kind", ContactKind.values),
        help_referrals=_counts(referrals, "kind", HelpKind.values),
        help_outcomes=_counts(outcomes, "outcome", FINAL_OUTCOMES),
        persons_assigned=assigned,
    )
