"""The evaluation of everyone (nightly) and of one person after each write.

The nightly run evaluates every person who is not sealed, in batches, and stores what it derived: one
``PersonState`` per person, the ``WorklistItem`` rows, one ``ComplianceSnapshot`` per supervised person
and day, and the 脱管 alerts with their escalation steps. Worklists for the run's day read these rows
(an index range per scope), so a street's worklist does not re-evaluate thousands of persons.

After a write about one person (a test, a visit, a transition) ``refresh_person`` re-evaluates that
person for the day of the latest run, so the stored worklist stays true between runs.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from jindu.core.audit import audit_write
from jindu.core.jobs import JobReporter, register_job
from jindu.core.models import AuditAction
from jindu.people.evaluation import PERSON_FACT_FIELDS, PersonStatus, evaluate_persons, status_detail
from jindu.people.models import (
    Alert,
    AlertEscalation,
    ComplianceSnapshot,
    EvaluationRun,
    Person,
    PersonState,
    WorklistItem,
)
from jindu.people.policies import CONTACT_POLICY, PolicyBook

BATCH_SIZE = 5000
LEVELS = ["worker", "street_office", "police"]
STATE_FIELDS = [
    "as_of",
    "control_status",
    "measure",
    "phase",
    "risk_color",
    "abstinence_anchor",
    "lost_contact",
    "abstinent_3y",
    "tests_up_to_date",
    "contacts_up_to_date",
    "next_due",
    "detail",
    "worker",
    "org_unit",
    "org_path",
    "last_updated",
]


def latest_run_day() -> dt.date | None:
    """The day of the latest finished run (worklists for that day read the stored rows)."""
    return (
        EvaluationRun.objects.filter(finished_at__isnull=False)
        .order_by("-day", "-finished_at")
        .values_list("day", flat=True)
        .first()
    )


def _store(
    statuses: list[PersonStatus],
    persons: dict[int, tuple[int, str, int | None]],
    as_of: dt.date,
    *,
    snapshots: bool,
) -> int:
    """Replace the stored state and worklist items of these persons; add the day's snapshots."""
    if connection.vendor == "postgresql":
        return _store_by_copy(statuses, persons, as_of, snapshots=snapshots)
    now = timezone.now()
    person_ids = [status.person_id for status in statuses]
    states, items, day_snapshots = [], [], []
    for status in statuses:
        org_unit_id, org_path, worker_id = persons[status.person_id]
        states.append(
            PersonState(
                person_id=status.person_id,
                as_of=as_of,
                control_status=status.control_status,
                measure=status.measure or "",
                phase=int(status.phase[5:]) if status.phase and status.phase.startswith("year_") else None,
                risk_color=status.risk_color or "",
                abstinence_anchor=status.abstinence_anchor,
                lost_contact=status.lost_contact,
                abstinent_3y=status.abstinent_3y,
                tests_up_to_date=status.tests_up_to_date,
                contacts_up_to_date=status.contacts_up_to_date,
                next_due=status.next_due,
                detail=status_detail(status),
                worker_id=worker_id,
                org_unit_id=org_unit_id,
                org_path=org_path,
                last_updated=now,
            )
        )
        for item in status.items:
            items.append(
                WorklistItem(
                    person_id=status.person_id,
                    as_of=as_of,
                    kind=item.kind,
                    item=item.item,
                    due_date=item.due_date,
                    policy_id=item.policy_id,
                    worker_id=worker_id,
                    org_unit_id=org_unit_id,
                    org_path=org_path,
                )
            )
        if snapshots and status.control_status in ("under_measure", "social_control"):
            day_snapshots.append(_snapshot(status, persons[status.person_id], as_of))
    WorklistItem.objects.filter(person_id__any=person_ids).delete()
    PersonState.objects.bulk_create(
        states, update_conflicts=True, unique_fields=["person"], update_fields=STATE_FIELDS
    )
    WorklistItem.objects.bulk_create(items)
    _write_snapshots(day_snapshots)
    return len(items)


# Columns written by the PostgreSQL path (COPY); the model fields behind them are in STATE_FIELDS etc.
_STATE_COLUMNS = (
    "person_id",
    "org_unit_id",
    "org_path",
    "created",
    "last_updated",
    "as_of",
    "control_status",
    "measure",
    "phase",
    "risk_color",
    "abstinence_anchor",
    "lost_contact",
    "abstinent_3y",
    "tests_up_to_date",
    "contacts_up_to_date",
    "next_due",
    "detail",
    "worker_id",
)
_ITEM_COLUMNS = (
    "person_id",
    "org_unit_id",
    "org_path",
    "created",
    "last_updated",
    "as_of",
    "kind",
    "item",
    "due_date",
    "policy_id",
    "worker_id",
)
_SNAPSHOT_COLUMNS = (
    "person_id",
    "org_unit_id",
    "org_path",
    "created",
    "last_updated",
    "day",
    "measure",
    "risk_color",
    "tests_up_to_date",
    "contacts_up_to_date",
    "lost_contact",
)


def _store_by_copy(
    statuses: list[PersonStatus],
    persons: dict[int, tuple[int, str, int | None]],
    as_of: dt.date,
    *,
    snapshots: bool,
) -> int:
    """``_store`` for PostgreSQL: rows go in with COPY (worklist items straight into their table, states
    and snapshots through temporary tables and one INSERT … ON CONFLICT each). Building model instances
    for a million rows a night cost more than the evaluation itself."""
    now = timezone.now()
    state_table = PersonState._meta.db_table
    item_table = WorklistItem._meta.db_table
    snapshot_table = ComplianceSnapshot._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS jindu_state_batch ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(_STATE_COLUMNS)} FROM {state_table} WITH NO DATA"
        )
        # Several batches may share one transaction (a refresh inside a request, tests): start empty.
        raw.execute("DELETE FROM jindu_state_batch")
        raw.execute(f"DELETE FROM {item_table} WHERE person_id = ANY(%s)", [[s.person_id for s in statuses]])
        with raw.copy(f"COPY jindu_state_batch ({', '.join(_STATE_COLUMNS)}) FROM STDIN") as copy:
            for status in statuses:
                org_unit_id, org_path, worker_id = persons[status.person_id]
                phase = status.phase or ""
                copy.write_row(
                    (
                        status.person_id,
                        org_unit_id,
                        org_path,
                        now,
                        now,
                        as_of,
                        status.control_status,
                        status.measure or "",
                        int(phase[5:]) if phase.startswith("year_") else None,
                        status.risk_color or "",
                        status.abstinence_anchor,
                        status.lost_contact,
                        status.abstinent_3y,
                        status.tests_up_to_date,
                        status.contacts_up_to_date,
                        status.next_due,
                        json.dumps(status_detail(status)),
                        worker_id,
                    )
                )
        items = 0
        with raw.copy(f"COPY {item_table} ({', '.join(_ITEM_COLUMNS)}) FROM STDIN") as copy:
            for status in statuses:
                org_unit_id, org_path, worker_id = persons[status.person_id]
                for item in status.items:
                    copy.write_row(
                        (
                            status.person_id,
                            org_unit_id,
                            org_path,
                            now,
                            now,
                            as_of,
                            item.kind,
                            item.item,
                            item.due_date,
                            item.policy_id,
                            worker_id,
                        )
                    )
                    items += 1
        updates = ", ".join(
            f"{column} = EXCLUDED.{column}"
            for column in _STATE_COLUMNS
            if column not in ("person_id", "created")
        )
        raw.execute(
            f"INSERT INTO {state_table} ({', '.join(_STATE_COLUMNS)}) "
            f"SELECT {', '.join(_STATE_COLUMNS)} FROM jindu_state_batch "
            f"ON CONFLICT (person_id) DO UPDATE SET {updates}"
        )
        if snapshots:
            raw.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS jindu_snapshot_batch ON COMMIT DELETE ROWS AS "
                f"SELECT {', '.join(_SNAPSHOT_COLUMNS)} FROM {snapshot_table} WITH NO DATA"
            )
            raw.execute("DELETE FROM jindu_snapshot_batch")
            with raw.copy(f"COPY jindu_snapshot_batch ({', '.join(_SNAPSHOT_COLUMNS)}) FROM STDIN") as copy:
                for status in statuses:
                    if status.control_status not in ("under_measure", "social_control"):
                        continue
                    org_unit_id, org_path, _worker = persons[status.person_id]
                    copy.write_row(
                        (
                            status.person_id,
                            org_unit_id,
                            org_path,
                            now,
                            now,
                            as_of,
                            status.measure or "",
                            status.risk_color or "",
                            status.tests_up_to_date,
                            status.contacts_up_to_date,
                            status.lost_contact,
                        )
                    )
            snapshot_updates = ", ".join(
                f"{column} = EXCLUDED.{column}"
                for column in (
                    "measure",
                    "risk_color",
                    "tests_up_to_date",
                    "contacts_up_to_date",
                    "lost_contact",
                )
            )
            raw.execute(
                f"INSERT INTO {snapshot_table} ({', '.join(_SNAPSHOT_COLUMNS)}) "
                f"SELECT {', '.join(_SNAPSHOT_COLUMNS)} FROM jindu_snapshot_batch "
                f"ON CONFLICT (person_id, day) DO UPDATE SET {snapshot_updates}"
            )
    return items


def _snapshot(
    status: PersonStatus, person: tuple[int, str, int | None], as_of: dt.date
) -> ComplianceSnapshot:
    return ComplianceSnapshot(
        person_id=status.person_id,
        day=as_of,
        measure=status.measure or "",
        risk_color=status.risk_color or "",
        tests_up_to_date=status.tests_up_to_date,
        contacts_up_to_date=status.contacts_up_to_date,
        lost_contact=status.lost_contact,
        org_unit_id=person[0],
        org_path=person[1],
    )


def _write_snapshots(snapshots: list[ComplianceSnapshot]) -> None:
    if snapshots:
        ComplianceSnapshot.objects.bulk_create(
            snapshots,
            update_conflicts=True,
            unique_fields=["person", "day"],
            update_fields=[
                "measure",
                "risk_color",
                "tests_up_to_date",
                "contacts_up_to_date",
                "lost_contact",
            ],
        )


def _store_snapshots(
    statuses: list[PersonStatus], persons: dict[int, tuple[int, str, int | None]], as_of: dt.date
) -> int:
    snapshots = [
        _snapshot(status, persons[status.person_id], as_of)
        for status in statuses
        if status.control_status in ("under_measure", "social_control")
    ]
    _write_snapshots(snapshots)
    return len(snapshots)


def _sync_lost_contact_alerts(
    statuses: list[PersonStatus],
    persons: dict[int, tuple[int, str, int | None]],
    as_of: dt.date,
    book: PolicyBook,
) -> int:
    """Raise, escalate and resolve 脱管 alerts: one open alert per person, climbing 社工 → 街道禁毒办 →
    社区民警 after the policy's number of days at each level; every step is a dated escalation row."""
    lost = {status.person_id: status for status in statuses if status.lost_contact}
    open_alerts = {
        alert.person_id: alert
        for alert in Alert.objects.filter(
            person_id__any=[status.person_id for status in statuses],
            kind="lost_contact",
            resolved_on__isnull=True,
        )
    }
    raised = 0
    new_alerts, steps, changed = [], [], []
    for person_id, status in lost.items():
        alert = open_alerts.get(person_id)
        if alert is None:
            new_alerts.append(
                Alert(
                    person_id=person_id,
                    enrollment_id=status.enrollment_id,
                    org_unit_id=persons[person_id][0],
                    org_path=persons[person_id][1],
                    kind="lost_contact",
                    raised_on=as_of,
                    level="worker",
                )
            )
            continue
        policy = book.resolve(CONTACT_POLICY, persons[person_id][1], as_of)
        waits = (policy.payload if policy else {}).get("escalation_days", [7, 7])
        level_index = LEVELS.index(alert.level)
        last_step = alert.raised_on + dt.timedelta(days=sum(waits[:level_index]))
        if level_index < len(waits) and as_of >= last_step + dt.timedelta(days=waits[level_index]):
            alert.level = LEVELS[level_index + 1]
            changed.append(alert)
            steps.append(
                AlertEscalation(
                    alert=alert, level=alert.level, date=last_step + dt.timedelta(days=waits[level_index])
                )
            )
    for person_id, alert in open_alerts.items():
        if person_id not in lost and alert.raised_on <= as_of:
            alert.resolved_on, alert.resolution = as_of, "contact_restored"
            changed.append(alert)
            steps.append(AlertEscalation(alert=alert, level=alert.level, date=as_of, note="resolved"))
    if new_alerts:
        created = Alert.objects.bulk_create(new_alerts)
        raised = len(created)
        steps.extend(AlertEscalation(alert=alert, level="worker", date=as_of) for alert in created)
    if changed:
        Alert.objects.bulk_update(changed, ["level", "resolved_on", "resolution"])
    AlertEscalation.objects.bulk_create(steps)
    return raised


def evaluate_and_store(
    person_ids: Iterable[int],
    as_of: dt.date,
    book: PolicyBook,
    *,
    snapshots: bool,
    alerts: bool,
    current: bool = True,
) -> tuple[int, int, int]:
    """Evaluate these persons on ``as_of`` and store the results in one transaction: state, worklist,
    snapshots and alerts when ``as_of`` is the current day of the stored results, else only snapshots.
    Returns (persons, worklist items or snapshots, alerts raised)."""
    rows = Person.objects.filter(pk__any=list(person_ids), sealed=False).values_list(*_PERSON_ROW)
    return _evaluate_and_store_rows(
        list(rows), as_of, book, snapshots=snapshots, alerts=alerts, current=current
    )


# What the nightly reads of each person, once per batch: the evaluation's fields, then the status on record.
_PERSON_ROW = (*PERSON_FACT_FIELDS, "control_status")


def _evaluate_and_store_rows(
    rows: list[tuple],
    as_of: dt.date,
    book: PolicyBook,
    *,
    snapshots: bool,
    alerts: bool,
    current: bool,
) -> tuple[int, int, int]:
    """``evaluate_and_store`` for persons already read (``_PERSON_ROW`` rows, none sealed)."""
    persons: dict[int, tuple[int, str, int | None]] = {}
    recorded_status: dict[int, str] = {}
    for pk, org_unit_id, org_path, worker_id, _first_found, control_status in rows:
        persons[pk] = (org_unit_id, org_path, worker_id)
        recorded_status[pk] = control_status
    statuses = evaluate_persons(list(persons), as_of, book, person_rows=[row[:-1] for row in rows])
    with transaction.atomic():
        if not current:
            # A past day (a backfill): only its snapshots; today's state, worklist and alerts stay.
            return len(statuses), _store_snapshots(statuses, persons, as_of), 0
        items = _store(statuses, persons, as_of, snapshots=snapshots)
        _sync_control_status(statuses, recorded_status, as_of)
        raised = _sync_lost_contact_alerts(statuses, persons, as_of, book) if alerts else 0
    return len(statuses), items, raised


def _sync_control_status(statuses: list[PersonStatus], recorded: dict[int, str], as_of: dt.date) -> None:
    """Keep ``Person.control_status`` equal to what the records say (e.g. a 查获 after 戒断三年 was
    confirmed puts the person back under observation)."""
    changed: dict[str, list[int]] = {}
    for status in statuses:
        if recorded.get(status.person_id) != status.control_status:
            changed.setdefault(status.control_status, []).append(status.person_id)
    for control_status, person_ids in changed.items():
        Person.objects.filter(pk__any=person_ids).update(
            control_status=control_status, control_status_since=as_of
        )


def evaluation_run(as_of: dt.date | None = None, *, batch_size: int = BATCH_SIZE) -> EvaluationRun:
    """Evaluate everyone who is not sealed for ``as_of`` (default today): state, worklist, snapshots and
    脱管 alerts. Safe to run again for the same day (it replaces that day's results). A day before the
    latest run only backfills that day's compliance snapshots (for the KPIs)."""
    as_of = as_of or timezone.localdate()
    latest = latest_run_day()
    current = latest is None or as_of >= latest
    run = EvaluationRun.objects.create(day=as_of, started_at=timezone.now())
    book = PolicyBook()
    started = time.perf_counter()
    last_id = 0
    while True:
        # Each batch's persons are read once, in key order, and handed down to the evaluation.
        rows = list(
            Person.objects.filter(pk__gt=last_id, sealed=False)
            .order_by("pk")
            .values_list(*_PERSON_ROW)[:batch_size]
        )
        if not rows:
            break
        last_id = rows[-1][0]
        persons, items, raised = _evaluate_and_store_rows(
            rows, as_of, book, snapshots=True, alerts=True, current=current
        )
        run.persons += persons
        run.items += items
        run.alerts_raised += raised
    # Rows of persons sealed since the last run must not linger.
    PersonState.objects.filter(person__sealed=True).delete()
    WorklistItem.objects.filter(person__sealed=True).delete()
    run.finished_at = timezone.now()
    run.save()
    audit_write(
        action=AuditAction.UPDATE,
        obj=run,
        detail={
            "evaluation": as_of.isoformat(),
            "persons": run.persons,
            "items": run.items,
            "alerts_raised": run.alerts_raised,
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    return run


def refresh_person(person_id: int) -> None:
    """Re-evaluate one person for the latest run's day, if that day is today (older stored results are
    not served as current anyway: worklists for other days are evaluated live)."""
    day = latest_run_day()
    if day is None or day != timezone.localdate():
        return
    evaluate_and_store([person_id], day, PolicyBook(), snapshots=False, alerts=False)


@register_job("people_evaluation")
def people_evaluation_job(reporter: JobReporter, parameters: dict) -> dict:
    """The nightly evaluation as a job (its Job row shows progress and outcome to operators)."""
    as_of = dt.date.fromisoformat(parameters["as_of"]) if parameters.get("as_of") else None
    run = evaluation_run(as_of)
    reporter.log(
        f"evaluated {run.persons} persons for {run.day}: {run.items} items, {run.alerts_raised} alerts"
    )
    return {
        "day": run.day.isoformat(),
        "persons": run.persons,
        "items": run.items,
        "alerts": run.alerts_raised,
    }
