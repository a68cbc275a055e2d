"""The evaluation of a person on a day: measure and phase, derived schedule, 脱管, abstinence, worklist.

Everything takes ``as_of``: records dated after it are ignored and the lifecycle is read from dated
fields and events, so a back-dated evaluation answers what the system would have said that day.

The evaluation itself (``evaluate``) is a pure function of ``PersonFacts`` and the policies; loading the
facts (``load_facts``) takes a fixed number of queries for any number of persons, which is what lets the
nightly run evaluate everyone at thousands of persons per second.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max

from jindu.people.models import (
    AbstinenceAssessment,
    Contact,
    DrugTest,
    Enrollment,
    EnrollmentEvent,
    Person,
    RiskAssessment,
    Seizure,
    Violation,
)
from jindu.people.policies import ABSTINENCE_POLICY, CONTACT_POLICY, RISK_INSTRUMENT, Policy, PolicyBook

TREATMENT = ("community_treatment", "community_rehabilitation")
# Items become "due" (on the worklist) this many days before their due date.
DUE_HORIZON_DAYS = 7
# Lifecycle events that change whether a measure is supervised on a given day.
HISTORY_EVENTS = ("suspended", "resumed", "transfer_out", "transfer_reported")


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end (31 January + 1 month = 28/29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: dt.date, years: int) -> dt.date:
    return add_months(day, 12 * years)


# Facts ------------------------------------------------------------------------------------------------


@dataclass
class EnrollmentFacts:
    id: int
    measure: str
    status: str
    decision_date: dt.date
    report_deadline: dt.date
    reported_on: dt.date | None
    term_end: dt.date | None
    ended_on: dt.date | None
    transfer_deadline: dt.date | None
    serious_violation_on: dt.date | None
    events: list[tuple[str, dt.date]] = field(default_factory=list)


@dataclass
class PersonFacts:
    """What the evaluation of one person needs, as of one day (nothing dated later)."""

    id: int
    org_unit_id: int
    org_path: str
    worker_id: int | None
    first_found_date: dt.date | None
    enrollments: list[EnrollmentFacts] = field(default_factory=list)
    last_test: dict[str, dt.date] = field(default_factory=dict)  # by kind
    last_positive: dt.date | None = None
    last_contact: dict[str, dt.date] = field(default_factory=dict)  # by kind
    last_seizure: dt.date | None = None
    last_violation: dt.date | None = None
    risk: tuple[dt.date, str] | None = None  # latest assessment: date, final colour
    abstinence: tuple[dt.date, str] | None = None  # latest assessment: date, outcome


def _latest(current: dt.date | None, candidate: dt.date | None) -> dt.date | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


PERSON_FACT_FIELDS = ("pk", "org_unit_id", "org_path", "assigned_worker_id", "first_found_date")


def load_facts(
    person_ids: Iterable[int],
    as_of: dt.date,
    *,
    person_rows: Iterable[tuple[int, int, str, int | None, dt.date | None]] | None = None,
) -> dict[int, PersonFacts]:
    """Facts of many persons in nine queries (persons, enrollments, events, tests, contacts, seizures,
    violations, risk and abstinence assessments), whatever their number. A caller that has read the
    persons already (``PERSON_FACT_FIELDS``, in that order) passes them as ``person_rows``: eight queries.

    The ids go to the database as one array parameter (``__any``): with thousands of ids, building an
    ``IN`` list of literals cost more than the queries themselves."""
    ids = list(person_ids)
    facts: dict[int, PersonFacts] = {}
    if person_rows is None:
        person_rows = Person.objects.filter(pk__any=ids).values_list(*PERSON_FACT_FIELDS)
    for pk, org_unit_id, org_path, worker_id, first_found in person_rows:
        facts[pk] = PersonFacts(pk, org_unit_id, org_path, worker_id, first_found)
    by_enrollment: dict[int, EnrollmentFacts] = {}
    for row in (
        Enrollment.objects.filter(person_id__any=ids, decision_date__lte=as_of)
        .order_by("decision_date", "id")
        .values_list(
            "person_id",
            "id",
            "measure",
            "status",
            "decision_date",
            "report_deadline",
            "reported_on",
            "term_end",
            "ended_on",
            "transfer_deadline",
            "serious_violation_on",
        )
    ):
        enrollment = EnrollmentFacts(*row[1:])
        by_enrollment[enrollment.id] = enrollment
        facts[row[0]].enrollments.append(enrollment)
    if by_enrollment:
        for enrollment_id, kind, day in (
            EnrollmentEvent.objects.filter(person_id__any=ids, kind__in=HISTORY_EVENTS, date__lte=as_of)
            .order_by("date", "id")
            .values_list("enrollment_id", "kind", "date")
        ):
            if enrollment_id in by_enrollment:
                by_enrollment[enrollment_id].events.append((kind, day))
    for person_id, kind, result, last in (
        DrugTest.objects.filter(person_id__any=ids, sample_date__lte=as_of)
        .values_list("person_id", "kind", "result")
        .annotate(last=Max("sample_date"))
        .order_by()
    ):
        person = facts[person_id]
        person.last_test[kind] = _latest(person.last_test.get(kind), last)  # type: ignore[assignment]
        if result == "positive":
            person.last_positive = _latest(person.last_positive, last)
    for person_id, kind, last in (
        Contact.objects.filter(person_id__any=ids, date__lte=as_of)
        .values_list("person_id", "kind")
        .annotate(last=Max("date"))
        .order_by()
    ):
        facts[person_id].last_contact[kind] = last
    for person_id, last in (
        Seizure.objects.filter(person_id__any=ids, date__lte=as_of)
        .values_list("person_id")
        .annotate(last=Max("date"))
        .order_by()
    ):
        facts[person_id].last_seizure = last
    for person_id, last in (
        Violation.objects.filter(person_id__any=ids, date__lte=as_of)
        .values_list("person_id")
        .annotate(last=Max("date"))
        .order_by()
    ):
        facts[person_id].last_violation = last
    # The latest assessment of each person, picked here: sorting every assessment in SQL costs more.
    latest_risk: dict[int, tuple[dt.date, int, str]] = {}
    for person_id, day, pk, color in (
        RiskAssessment.objects.filter(person_id__any=ids, date__lte=as_of)
        .order_by()
        .values_list("person_id", "date", "id", "final_color")
    ):
        if person_id not in latest_risk or (day, pk) > latest_risk[person_id][:2]:
            latest_risk[person_id] = (day, pk, color)
    for person_id, (day, _pk, color) in latest_risk.items():
        facts[person_id].risk = (day, color)
    for person_id, day, outcome in (
        AbstinenceAssessment.objects.filter(person_id__any=ids, date__lte=as_of)
        .order_by("date", "id")
        .values_list("person_id", "date", "outcome")
    ):
        facts[person_id].abstinence = (day, outcome)
    return facts


# Evaluation -------------------------------------------------------------------------------------------


@dataclass
class WorkItem:
    """One thing to do: ``kind`` is a WorkItemKind, ``item`` what (urine, hair, contact, report…)."""

    kind: str
    item: str
    due_date: dt.date | None
    policy_id: int | None = None


@dataclass
class PersonStatus:
    """The evaluation of one person on ``as_of``."""

    person_id: int
    as_of: dt.date
    control_status: str
    measure: str | None = None
    enrollment_id: int | None = None
    phase: str | None = None
    risk_color: str | None = None
    abstinence_anchor: dt.date | None = None
    anchor_kind: str | None = None
    abstinent_days: int | None = None
    lost_contact: bool = False
    abstinent_3y: str = "no"
    schedule: list[WorkItem] = field(default_factory=list)  # next due date of every scheduled item
    items: list[WorkItem] = field(default_factory=list)  # the worklist entries
    tests_up_to_date: bool = True
    contacts_up_to_date: bool = True
    policy_ids: dict[str, int] = field(default_factory=dict)

    @property
    def overdue(self) -> list[WorkItem]:
        return [item for item in self.items if item.kind == "overdue"]

    @property
    def next_due(self) -> dt.date | None:
        dates = [item.due_date for item in self.schedule if item.due_date is not None]
        return min(dates) if dates else None


def _in_force(enrollment: EnrollmentFacts, as_of: dt.date) -> bool:
    return enrollment.decision_date <= as_of and (enrollment.ended_on is None or enrollment.ended_on > as_of)


def _last_event(enrollment: EnrollmentFacts, kinds: tuple[str, ...]) -> tuple[str, dt.date] | None:
    matching = [event for event in enrollment.events if event[0] in kinds]
    return matching[-1] if matching else None


def contact_rule(policy: Policy, measure: str, phase_year: int | None, color: str | None) -> dict[str, int]:
    """Intervals (months) for a measure, year and colour: the measure's own rule for that year, tightened
    by the colour's overlay (the shorter interval wins)."""
    rules = policy.payload.get("rules", [])
    base: dict[str, Any] = {}
    for rule in rules:
        # The measure's own rule for this year; a rule without a year applies to every year.
        own = rule.get("measure") == measure and not rule.get("risk_color")
        if own and rule.get("phase") in (None, phase_year) and (not base or rule.get("phase") == phase_year):
            base = rule
    intervals = {
        key[: -len("_months")]: value for key, value in base.items() if key.endswith("_months") and value
    }
    if color:
        for rule in rules:
            if rule.get("risk_color") == color and rule.get("measure") in (None, "*", measure):
                for key, value in rule.items():
                    if key.endswith("_months") and value:
                        name = key[: -len("_months")]
                        intervals[name] = min(intervals.get(name, value), value)
    return intervals


def evaluate(facts: PersonFacts, as_of: dt.date, book: PolicyBook) -> PersonStatus:
    """Evaluate one person on ``as_of`` (pure: no queries; ``book`` holds the policies)."""
    contact_policy = book.resolve(CONTACT_POLICY, facts.org_path, as_of)
    abstinence_policy = book.resolve(ABSTINENCE_POLICY, facts.org_path, as_of)
    instrument = book.resolve(RISK_INSTRUMENT, facts.org_path, as_of)
    status = PersonStatus(person_id=facts.id, as_of=as_of, control_status="registered")
    for policy in (contact_policy, abstinence_policy, instrument):
        if policy is not None:
            status.policy_ids[policy.kind] = policy.id
    status.risk_color = facts.risk[1] if facts.risk else None

    # Abstinence anchor: the latest of the last positive test, the last 查获, the end of the last
    # treatment measure.
    anchors = [
        ("positive_test", facts.last_positive),
        ("seizure", _latest(facts.last_seizure, facts.first_found_date)),
    ]
    # Only a measure the person actually underwent (reported to) ends with an anchor; a never-reported
    # order (未报到) ends in a referral, not in a period of supervised abstinence.
    ended = [
        e.ended_on
        for e in facts.enrollments
        if e.measure in TREATMENT and e.reported_on and e.ended_on and e.ended_on <= as_of
    ]
    if ended:
        anchors.append(("measure_end", max(ended)))
    dated = [(day, kind) for kind, day in anchors if day is not None]
    if dated:
        anchor, anchor_kind = max(dated)
        status.abstinence_anchor, status.anchor_kind = anchor, anchor_kind
        status.abstinent_days = (as_of - anchor).days

    current = next((e for e in reversed(facts.enrollments) if _in_force(e, as_of)), None)
    if current is not None:
        status.measure, status.enrollment_id = current.measure, current.id
        status.control_status = "under_measure" if current.measure in TREATMENT else "social_control"
        _evaluate_enrollment(facts, current, as_of, contact_policy, status)
    elif facts.enrollments and facts.enrollments[-1].status in ("not_reported", "referred"):
        status.control_status = "referred"
    elif facts.enrollments and facts.enrollments[-1].status == "terminated":
        status.control_status = "ended"

    assessed = facts.abstinence
    if (
        assessed
        and assessed[1] in ("abstinent_3y", "no_contact")
        and (status.abstinence_anchor is None or assessed[0] >= status.abstinence_anchor)
        and (current is None or current.measure not in TREATMENT)
    ):
        status.control_status = assessed[1]
    _evaluate_abstinence(facts, current, as_of, abstinence_policy, status)
    if status.control_status in ("under_measure", "social_control"):
        _evaluate_reassessment(facts, current, as_of, instrument, status)
    return status


def _evaluate_enrollment(
    facts: PersonFacts,
    enrollment: EnrollmentFacts,
    as_of: dt.date,
    policy: Policy | None,
    status: PersonStatus,
) -> None:
    """Phase, the derived schedule, overdue items and 脱管 for the measure in force."""
    payload = policy.payload if policy else {}
    grace = dt.timedelta(days=payload.get("grace_days", 7))
    policy_id = policy.id if policy else None
    if enrollment.reported_on is None or enrollment.reported_on > as_of:
        status.phase = "awaiting_report"
        kind = "overdue" if as_of > enrollment.report_deadline else "report_due"
        status.items.append(WorkItem(kind, "report", enrollment.report_deadline, None))
        return
    last_history = _last_event(enrollment, ("suspended", "resumed"))
    if last_history and last_history[0] == "suspended":
        status.phase = "suspended"  # 中止: no schedule until it resumes
        return
    start = enrollment.reported_on
    if last_history:  # resumed: the schedule starts again from that day
        start = max(start, last_history[1])
    years = (as_of.year - enrollment.reported_on.year) - (
        (as_of.month, as_of.day) < (enrollment.reported_on.month, enrollment.reported_on.day)
    )
    phase_year = min(years + 1, 3) if enrollment.measure in TREATMENT else None
    status.phase = f"year_{phase_year}" if phase_year else "social_control"
    transfer = _last_event(enrollment, ("transfer_out", "transfer_reported"))
    if transfer and transfer[0] == "transfer_out":
        status.phase = "transferring"
        deadline = enrollment.transfer_deadline or transfer[1] + dt.timedelta(days=15)
        kind = "overdue" if as_of > deadline else "report_due"
        status.items.append(WorkItem(kind, "transfer_report", deadline, None))
    if enrollment.term_end and enrollment.term_end <= as_of:
        status.items.append(WorkItem("release_due", "release", enrollment.term_end, None))
    if enrollment.serious_violation_on and enrollment.serious_violation_on <= as_of:
        status.items.append(WorkItem("serious_violation", "report_police", enrollment.serious_violation_on))
    if policy is None:
        return
    intervals = contact_rule(policy, enrollment.measure, phase_year, status.risk_color)
    contact_kinds = payload.get("contact_kinds", ["visit", "talk"])
    last_done = {
        "urine": facts.last_test.get("urine"),
        "hair": facts.last_test.get("hair"),
        "contact": max(
            (facts.last_contact[k] for k in contact_kinds if k in facts.last_contact), default=None
        ),
    }
    overdue_kinds = set()
    for item in ("urine", "hair", "contact"):
        months = intervals.get(item)
        if not months:
            continue
        done = last_done[item]
        base = start if done is None or done < start else done
        due = add_months(base, months)
        status.schedule.append(WorkItem("scheduled", item, due, policy_id))
        if as_of > due + grace:
            overdue_kinds.add(item)
            status.items.append(WorkItem("overdue", item, due, policy_id))
        elif as_of >= due - dt.timedelta(days=DUE_HORIZON_DAYS):
            status.items.append(WorkItem("due", item, due, policy_id))
    status.tests_up_to_date = not overdue_kinds & {"urine", "hair"}
    status.contacts_up_to_date = "contact" not in overdue_kinds
    # 脱管: something overdue beyond grace and no contact of any kind (tests, visits, talks, calls) for
    # ``lost_contact_days``.
    any_contact = max(
        [start, *(d for d in facts.last_test.values()), *(d for d in facts.last_contact.values())]
    )
    silent_days = (as_of - any_contact).days
    if overdue_kinds and silent_days > payload.get("lost_contact_days", 30):
        status.lost_contact = True
        status.items.append(WorkItem("lost_contact", "contact", any_contact, policy_id))


def _evaluate_abstinence(
    facts: PersonFacts,
    current: EnrollmentFacts | None,
    as_of: dt.date,
    policy: Policy | None,
    status: PersonStatus,
) -> None:
    """戒断三年 eligibility (and, once confirmed, 无感化 eligibility): only outside treatment measures."""
    anchor = status.abstinence_anchor
    if policy is None or anchor is None or (current is not None and current.measure in TREATMENT):
        return
    if status.control_status in ("referred", "ended"):
        return  # with the police (强戒) or out of the programme: nothing to assess here
    if status.control_status == "no_contact":
        status.abstinent_3y = "eligible"
        return
    almost = dt.timedelta(days=policy.payload.get("almost_days", 90))
    eligible_on = add_years(anchor, policy.payload.get("abstinent_years", 3))
    if eligible_on <= as_of:
        status.abstinent_3y = "eligible"
    elif eligible_on - almost <= as_of:
        status.abstinent_3y = "almost"
    if status.control_status == "abstinent_3y":
        # Confirmed: the next question is 无感化 after the longer period.
        no_contact_on = add_years(anchor, policy.payload.get("no_contact_years", 8))
        if no_contact_on <= as_of:
            status.items.append(WorkItem("eligible", "no_contact", no_contact_on, policy.id))
        elif no_contact_on - almost <= as_of:
            status.items.append(WorkItem("almost_eligible", "no_contact", no_contact_on, policy.id))
        return
    if status.abstinent_3y == "eligible":
        status.items.append(WorkItem("eligible", "abstinent_3y", eligible_on, policy.id))
    elif status.abstinent_3y == "almost":
        status.items.append(WorkItem("almost_eligible", "abstinent_3y", eligible_on, policy.id))


def _evaluate_reassessment(
    facts: PersonFacts,
    current: EnrollmentFacts | None,
    as_of: dt.date,
    instrument: Policy | None,
    status: PersonStatus,
) -> None:
    """A risk (re)assessment is due at intake, on schedule, and after a trigger (positive test,
    violation, 脱管, release)."""
    if instrument is None or current is None:
        return
    start = current.reported_on or current.decision_date
    if facts.risk is None:
        status.items.append(WorkItem("reassessment", "intake", start, instrument.id))
        return
    assessed_on = facts.risk[0]
    triggers = [facts.last_positive, facts.last_violation]
    if current.measure not in TREATMENT:
        triggers.append(current.decision_date)  # released into social control
    if status.lost_contact:
        triggers.append(as_of)
    fired = [day for day in triggers if day is not None and day > assessed_on]
    if fired:
        status.items.append(WorkItem("reassessment", "trigger", min(fired), instrument.id))
        return
    due = add_months(assessed_on, instrument.payload.get("reassess_months", 6))
    if as_of >= due - dt.timedelta(days=DUE_HORIZON_DAYS):
        status.items.append(WorkItem("reassessment", "scheduled", due, instrument.id))


def evaluate_persons(
    person_ids: Iterable[int],
    as_of: dt.date,
    book: PolicyBook | None = None,
    *,
    person_rows: Iterable[tuple[int, int, str, int | None, dt.date | None]] | None = None,
) -> list[PersonStatus]:
    """Evaluate many persons on ``as_of`` with one load of their facts (see ``load_facts``)."""
    book = book or PolicyBook()
    facts = load_facts(person_ids, as_of, person_rows=person_rows)
    return [evaluate(person_facts, as_of, book) for person_facts in facts.values()]


def evaluate_person(person: Any, as_of: dt.date, book: PolicyBook | None = None) -> PersonStatus:
    return evaluate_persons([person.pk], as_of, book)[0]


def _item_row(item: WorkItem) -> list[Any]:
    return [item.kind, item.item, item.due_date.isoformat() if item.due_date else None, item.policy_id]


def _item_of(row: list[Any]) -> WorkItem:
    return WorkItem(row[0], row[1], dt.date.fromisoformat(row[2]) if row[2] else None, row[3])


def status_detail(status: PersonStatus) -> dict[str, Any]:
    """What ``PersonState`` keeps beyond its columns, as JSON."""
    return {
        "measure": status.measure,
        "enrollment": status.enrollment_id,
        "phase": status.phase,
        "anchor_kind": status.anchor_kind,
        "schedule": [_item_row(item) for item in status.schedule],
        "items": [_item_row(item) for item in status.items],
        "policies": status.policy_ids,
    }


def status_from_state(state: Any) -> PersonStatus:
    """The stored evaluation of a person (``PersonState``) as a ``PersonStatus``."""
    detail = state.detail or {}
    anchor = state.abstinence_anchor
    return PersonStatus(
        person_id=state.person_id,
        as_of=state.as_of,
        control_status=state.control_status,
        measure=detail.get("measure"),
        enrollment_id=detail.get("enrollment"),
        phase=detail.get("phase"),
        risk_color=state.risk_color or None,
        abstinence_anchor=anchor,
        anchor_kind=detail.get("anchor_kind"),
        abstinent_days=(state.as_of - anchor).days if anchor else None,
        lost_contact=state.lost_contact,
        abstinent_3y=state.abstinent_3y,
        schedule=[_item_of(row) for row in detail.get("schedule", [])],
        items=[_item_of(row) for row in detail.get("items", [])],
        tests_up_to_date=state.tests_up_to_date,
        contacts_up_to_date=state.contacts_up_to_date,
        policy_ids=detail.get("policies", {}),
    )
