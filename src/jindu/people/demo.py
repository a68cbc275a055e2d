"""Demo persons for the demo city: synthetic identities with three years of realistic history.

``generate_demo_persons`` registers persons spread over the city's communities (and their grids) and
gives each a life that the lifecycle services could have written: 查获 and 吸毒成瘾认定, measures decided,
reported, agreed, released into 社会面管控, confirmed 戒断三年 or sealed as 无感化, referred, suspended,
transferred; drug tests and visits that follow the contact policy in force (with realistic gaps: some
persons overdue, some 脱管), relapses, violations, risk gradings with the instrument in force, help
measures and worker assignments. Finally the nightly evaluation runs, for a few past days (compliance
snapshots for the KPIs, 脱管 alerts with their escalation) and for today (state and worklists).

Speed matters (the whole ``jindu demo`` setup should take a minute or two on a small machine), so rows
are written in bulk in one transaction instead of through the services (which write an audit record
per row and re-evaluate the person after every write): ``bulk_create`` for persons, enrollments and
alerts (other rows need their ids), ``executemany`` built from the models' own fields for the rest;
one summary audit record covers the seeding. What the services would have done is mirrored here: ``org_path`` on every row, blind
indexes, the dated ``EnrollmentEvent`` rows the evaluation reads, alerts with their escalation steps,
the 15-day reporting window, terms counted from 报到, the art. 20 violation counters, and sealing.

Everything is deterministic for a seed and a day. Names, ID numbers and phone numbers are synthetic.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Model
from django.utils import timezone

from jindu.core.audit import audit_write
from jindu.core.demo import synthetic_id_number, synthetic_phone
from jindu.core.fields import EncryptedTextField, blind_index
from jindu.core.models import AuditAction, OrgLevel, OrgUnit, User
from jindu.core.roles import Role
from jindu.core.validators import id_number_birth_date
from jindu.people.evaluation import TREATMENT, add_months, add_years, contact_rule
from jindu.people.models import (
    AbstinenceAssessment,
    AddictionFinding,
    Alert,
    AlertEscalation,
    Contact,
    DrugTest,
    Enrollment,
    EnrollmentEvent,
    HelpMeasure,
    Person,
    RiskAssessment,
    Seizure,
    Violation,
    WorkerAssignment,
)
from jindu.people.nightly import evaluation_run
from jindu.people.policies import ABSTINENCE_POLICY, CONTACT_POLICY, RISK_INSTRUMENT, Policy, PolicyBook
from jindu.people.services import REPORT_DAYS, sex_from_id_number

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌波辉宁海林峰"
SUBSTANCES = ["methamphetamine", "heroin", "ketamine", "mdma", "cannabis", "cocaine"]
# How the risk instrument's "substance" factor classes each substance.
SUBSTANCE_CLASS = {
    "methamphetamine": "synthetic",
    "ketamine": "synthetic",
    "mdma": "synthetic",
    "heroin": "opioid",
    "cannabis": "other",
    "cocaine": "other",
}

DEFAULT_COUNT = 5000
HISTORY_YEARS = 3  # tests, contacts and gradings are written for this many years back
# Compliance snapshots for past days come from real evaluation runs (each takes a second or two for 5000
# persons), so only every SNAPSHOT_STEP_DAYS-th day of the last SNAPSHOT_DAYS days is evaluated.
SNAPSHOT_DAYS = 90
SNAPSHOT_STEP_DAYS = 14
PERSONS_PER_WORKER = 25  # persons placed in each demo social worker's capture scope

# Where persons stand today, as shares of all persons (the rest are merely registered).
CATEGORY_SHARES: dict[str, float] = {
    "treatment": 0.44,  # 社区戒毒/社区康复 in progress (some with violations, resumptions, transfers…)
    "awaiting_report": 0.02,  # decision served, 报到 awaited (some past the 15 days)
    "suspended": 0.02,  # 中止
    "transferring": 0.015,  # 变更执行地, report at the new place awaited
    "serious_open": 0.005,  # 严重违反协议 reached, not yet referred
    "relapsed": 0.05,  # released, relapsed under social control, ordered into a new measure
    "social": 0.14,  # 社会面管控
    "social_almost": 0.03,  # … three years without relapse reached within 30–80 days
    "social_eligible": 0.03,  # … three years reached, not assessed yet
    "abstinent": 0.08,  # 戒断三年 confirmed
    "no_contact": 0.01,  # 无感化 (sealed)
    "not_reported": 0.02,  # 未报到 → 移交公安
    "referred": 0.02,  # 严重违反 → 移交公安
    "ended": 0.02,  # 终止
}
SUPERVISED = (
    "treatment",
    "awaiting_report",
    "suspended",
    "transferring",
    "serious_open",
    "relapsed",
    "social",
    "social_almost",
    "social_eligible",
)
COLOUR_SHARES = {"red": 0.05, "orange": 0.15, "yellow": 0.30, "green": 0.50}
COLOUR_RANK = ["green", "yellow", "orange", "red"]
OVERDUE_SHARE = 0.10  # of supervised persons: a test or visit overdue today
LOST_SHARE = 0.03  # of supervised persons: 脱管 (nothing for 40+ days and something overdue)
HELP_SHARE = 0.20  # of supervised persons: help measures (帮扶)
PHONE_SHARE = 0.12  # of persons: phone calls besides the visits

RAISE_REASONS = [
    "家属反映近期情绪不稳定，提高一级管控",
    "近期与涉毒人员有接触，提高一级",
    "无固定住所且失业，提高一级管控",
]
LOWER_REASONS = [
    "已稳定就业且家庭支持良好，降低一级",
    "长期主动配合检测，降低一级",
    "参加职业技能培训表现良好，降低一级",
]
SUSPEND_REASONS = ["因违法行为被行政拘留", "涉嫌犯罪被刑事拘留", "被依法逮捕"]
TERMINATE_REASONS = ["因犯罪被判处有期徒刑", "被决定强制隔离戒毒", "死亡"]
REFER_REASON = "严重违反社区戒毒协议，移交公安机关"
TESTERS = ["社区戒毒康复工作站", "街道禁毒办检测点", "派出所检测室"]
PROVIDERS = {
    "vocational_training": "区人力社保局培训中心",
    "job_placement": "街道就业服务站",
    "legal_aid": "区法律援助中心",
    "counselling": "心理咨询工作室",
    "medical_aid": "社区卫生服务中心",
    "subsistence": "街道民政办",
    "welfare_post": "社区公益性岗位",
}
FINDING_BASIS = ["urine_positive", "own_statement", "withdrawal_symptoms", "prior_record"]

EARLY_DAYS = 10  # tests and visits are usually done up to this many days before they fall due
GRACE_LATE_DAYS = 5  # … sometimes a few days late (within the policy's grace)


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


@dataclass
class _Unit:
    """An org unit a person can live in, with the community (or street) that executes measures there."""

    pk: int
    code: str
    path: str
    executing: _Unit | None = None
    district_pk: int | None = None

    @property
    def executor(self) -> _Unit:
        return self.executing or self


class _Row:
    """A row to insert: its model and its values by field name or attribute name (related objects are
    resolved to their ids when written, after the parents have theirs)."""

    __slots__ = ("model", "values")

    def __init__(self, model: type[Model], values: dict[str, Any]) -> None:
        self.model, self.values = model, values


@dataclass
class _Segment:
    """A supervised stretch of one enrollment: the schedule runs from ``start`` (报到, 恢复, or the start of
    social control) and records are written up to ``end``."""

    enrollment: Enrollment
    start: dt.date
    end: dt.date
    reported_on: dt.date | None  # phase years count from here (treatment only)
    positives: list[dt.date] = field(default_factory=list)


@dataclass
class _Case:
    """One person being built: the rows written about them and what the history generator needs."""

    person: Person
    category: str
    unit: _Unit  # residence (after a transfer: the new one)
    substances: list[str]
    first_found: dt.date
    old_unit: _Unit | None = None  # before a transfer
    transfer_day: dt.date | None = None
    segments: list[_Segment] = field(default_factory=list)
    violations: list[dt.date] = field(default_factory=list)
    colour: str | None = None
    mode: str = "compliant"
    rows: list[Any] = field(default_factory=list)  # model instances and _Row
    # 指派: (worker, from, until) once assigned; records on those days name the worker.
    assignment: tuple[User | None, dt.date | None, dt.date | None] = (None, None, None)

    @property
    def supervised_now(self) -> bool:
        return self.category in SUPERVISED


class _Progress:
    """Maps the phases of the work onto ``total`` units of the caller's progress callback."""

    def __init__(self, total: int, callback: Callable[[int], None] | None) -> None:
        self.total, self.callback, self.done = total, callback, 0

    def to(self, fraction: float) -> None:
        target = min(self.total, int(self.total * fraction))
        if self.callback and target > self.done:
            self.callback(target - self.done)
        self.done = max(self.done, target)


def _quota(shares: dict[str, float], total: int, rest: str, rng: random.Random) -> list[str]:
    """``total`` labels in the given shares (at least one of each share when there is room), shuffled."""
    labels: list[str] = []
    for label, share in shares.items():
        labels += [label] * max(1 if total >= 2 * len(shares) else 0, round(share * total))
    labels = labels[:total] + [rest] * max(0, total - len(labels))
    rng.shuffle(labels)
    return labels


def _load_units() -> tuple[list[_Unit], dict[int, list[_Unit]]]:
    """Executing units (communities, or streets where the tree has none) and the residences of each
    (the unit itself and the grids under it)."""
    rows = list(OrgUnit.objects.filter(is_active=True).values_list("pk", "code", "path", "level"))
    district_by_code = {code: pk for pk, code, _path, level in rows if level == OrgLevel.DISTRICT}
    executing_level = (
        OrgLevel.COMMUNITY if any(level == OrgLevel.COMMUNITY for *_, level in rows) else OrgLevel.STREET
    )

    def district_of(path: str) -> int | None:
        return next((district_by_code[c] for c in path.split("/") if c in district_by_code), None)

    executors = {
        path: _Unit(pk, code, path, None, district_of(path))
        for pk, code, path, level in rows
        if level == executing_level
    }
    residences: dict[int, list[_Unit]] = {unit.pk: [unit] for unit in executors.values()}
    for pk, code, path, level in rows:
        if level != OrgLevel.GRID:
            continue
        prefix = path
        while prefix and prefix not in executors:
            prefix = prefix[: prefix.rstrip("/").rfind("/") + 1]
        if prefix:
            owner = executors[prefix]
            residences[owner.pk].append(_Unit(pk, code, path, owner, owner.district_pk))
    return sorted(executors.values(), key=lambda unit: unit.path), residences


def _load_workers() -> list[tuple[User, list[str]]]:
    """Active social workers with the paths of their capture-scope roots."""
    workers = []
    for user in (
        User.objects.filter(is_active=True, roles__role=Role.SOCIAL_WORKER)
        .distinct()
        .order_by("username")
        .prefetch_related("capture_scope")
    ):
        paths = sorted(unit.path for unit in user.capture_scope.all())
        if paths:
            workers.append((user, paths))
    return workers


def _risk_answers(instrument: Policy) -> dict[tuple[str, str], list[tuple[dict[str, str], int]]]:
    """Every combination of answers of the instrument, by (suggested colour, substance answer) and by
    (suggested colour, "*")."""
    factors = instrument.payload.get("factors", [])
    cutoffs = instrument.payload.get("cutoffs", {})
    grouped: dict[tuple[str, str], list[tuple[dict[str, str], int]]] = {}
    for options in itertools.product(*[factor["options"] for factor in factors]):
        total = sum(option["points"] for option in options)
        colour = next(
            (c for c in ("red", "orange", "yellow") if c in cutoffs and total >= cutoffs[c]), "green"
        )
        answers = {factor["code"]: option["code"] for factor, option in zip(factors, options, strict=True)}
        substance = answers.get("substance", "*")
        grouped.setdefault((colour, substance), []).append((answers, total))
        grouped.setdefault((colour, "*"), []).append((answers, total))
    return grouped


class _DemoBuilder:
    """Builds the cases of all persons in memory (``_write`` then stores them in bulk)."""

    def __init__(
        self,
        rng: random.Random,
        today: dt.date,
        executors: list[_Unit],
        residences: dict[int, list[_Unit]],
        workers: list[tuple[User, list[str]]],
    ) -> None:
        self.rng = rng
        self.today = today
        self.history_start = add_years(today, -HISTORY_YEARS)
        self.executors = executors
        self.residences = residences
        self.workers = workers
        self.book = PolicyBook()
        city_path = executors[0].path if executors else ""
        contact_policy = self.book.resolve(CONTACT_POLICY, city_path, today)
        abstinence_policy = self.book.resolve(ABSTINENCE_POLICY, city_path, today)
        instrument = self.book.resolve(RISK_INSTRUMENT, city_path, today)
        if contact_policy is None or abstinence_policy is None or instrument is None:
            raise RuntimeError("the people policies are not installed (run the migrations)")
        self.contact_policy: Policy = contact_policy
        self.abstinence_policy: Policy = abstinence_policy
        self.instrument: Policy = instrument
        abstinence = self.abstinence_policy.payload
        self.abstinent_years = abstinence.get("abstinent_years", 3)
        self.no_contact_years = abstinence.get("no_contact_years", 8)
        self.almost_days = abstinence.get("almost_days", 90)
        self.grace_days = self.contact_policy.payload.get("grace_days", 7)
        self.contact_kinds = list(self.contact_policy.payload.get("contact_kinds", ["visit", "talk"]))
        self.reassess_months = self.instrument.payload.get("reassess_months", 6)
        self.answers = _risk_answers(self.instrument)
        self.rule_cache: dict[tuple[str, int | None, str | None], dict[str, int]] = {}
        self.cases: list[_Case] = []
        self.seen_ids: set[str] = set()

    # Helpers ---------------------------------------------------------------------------------------

    def between(self, first: dt.date, last: dt.date) -> dt.date:
        """A random day in [first, last] (first when the range is empty)."""
        span = (last - first).days
        return first + _days(self.rng.randint(0, span)) if span > 0 else first

    def intervals(self, measure: str, phase_year: int | None, colour: str | None) -> dict[str, int]:
        key = (measure, phase_year, colour)
        if key not in self.rule_cache:
            self.rule_cache[key] = contact_rule(self.contact_policy, measure, phase_year, colour)
        return self.rule_cache[key]

    @staticmethod
    def phase_year(reported_on: dt.date | None, day: dt.date) -> int | None:
        """The year of a treatment measure on ``day`` (1–3), as the evaluation counts it."""
        if reported_on is None:
            return None
        years = (day.year - reported_on.year) - ((day.month, day.day) < (reported_on.month, reported_on.day))
        return min(years + 1, 3)

    def scoped(self, case: _Case, model: type[Model], **values: Any) -> Any:
        """A row of ``model`` about the case's person, owned by its residence (or ``unit``): a model
        instance for the tables whose ids other rows need, a ``_Row`` for the others."""
        unit: _Unit = values.pop("unit", case.unit)
        values.update(person=case.person, org_unit_id=unit.pk, org_path=unit.path)
        if case.category == "no_contact":
            values["sealed"] = True
        row = model(**values) if model in INSTANCE_MODELS else _Row(model, values)
        case.rows.append(row)
        return row

    def event(self, case: _Case, enrollment: Enrollment, kind: str, day: dt.date, **detail: Any) -> None:
        self.scoped(
            case,
            EnrollmentEvent,
            unit=case.unit.executor,
            enrollment=enrollment,
            kind=kind,
            date=day,
            detail=detail,
        )

    # Persons ---------------------------------------------------------------------------------------

    def new_person(self, unit: _Unit, category: str) -> _Case:
        rng = self.rng
        while True:
            id_number = synthetic_id_number(rng, unit.code[:6])
            if id_number not in self.seen_ids:
                self.seen_ids.add(id_number)
                break
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        phone = synthetic_phone(rng) if rng.random() < 0.85 else ""
        person = Person(
            org_unit_id=unit.pk,
            org_path=unit.path,
            id_number=id_number,
            id_number_index=blind_index(id_number, context="people.person.id_number"),
            name=name,
            name_index=blind_index(name, context="people.person.name"),
            phone=phone,
            phone_index=blind_index(phone, context="people.person.phone"),
            sex=sex_from_id_number(id_number),
            birth_date=id_number_birth_date(id_number),
            household_registration_id=unit.district_pk if rng.random() < 0.7 else None,
            substances=sorted(rng.sample(SUBSTANCES, rng.choice((1, 1, 1, 2)))),
        )
        case = _Case(person, category, unit, person.substances, self.today)
        self.cases.append(case)
        return case

    def found(self, case: _Case, day: dt.date, conclusion: str) -> None:
        """查获 on ``day`` (the first-found date) and the 吸毒成瘾认定 a few days later."""
        rng = self.rng
        case.first_found = day
        case.person.first_found_date = day
        self.scoped(case, Seizure, date=day, note="首次查获")
        officers = rng.sample(range(100000, 999999), 2)
        self.scoped(
            case,
            AddictionFinding,
            conclusion=conclusion,
            date=min(day + _days(rng.randint(0, 3)), self.today),
            officer_1=f"民警{officers[0]}",
            officer_2=f"民警{officers[1]}",
            basis=sorted(rng.sample(FINDING_BASIS, 2)),
            sample_type=rng.choice(("urine", "urine", "hair")),
        )

    def set_status(self, case: _Case, status: str, since: dt.date | None) -> None:
        case.person.control_status, case.person.control_status_since = status, since

    # Enrollments -----------------------------------------------------------------------------------

    def treatment(
        self,
        case: _Case,
        reported_on: dt.date,
        *,
        measure: str | None = None,
        decided: dt.date | None = None,
        first: bool = True,
    ) -> Enrollment:
        """A treatment measure decided up to 15 days before ``reported_on`` (or on ``decided``), agreed
        right after; in progress (the caller ends it when it ended). A first measure also records the
        查获 and the finding that led to it."""
        rng = self.rng
        measure = measure or rng.choice(("community_treatment",) * 3 + ("community_rehabilitation",) * 2)
        decided = decided or reported_on - _days(rng.randint(0, REPORT_DAYS))
        if first:
            # 社区康复 follows two years of 强制隔离戒毒; 社区戒毒 follows the finding within weeks.
            lead = rng.randint(600, 800) if measure == "community_rehabilitation" else rng.randint(10, 60)
            conclusion = "severely_addicted" if measure == "community_rehabilitation" else "addicted"
            self.found(case, decided - _days(lead), conclusion)
        agreed = min(reported_on + _days(rng.choice((0, 0, 1, 2))), self.today)
        enrollment = self.scoped(
            case,
            Enrollment,
            unit=case.unit.executor,
            measure=measure,
            status="in_progress",
            decision_date=decided,
            report_deadline=decided + _days(REPORT_DAYS),
            reported_on=reported_on,
            agreement_signed_on=agreed,
            term_months=36,
            term_end=add_months(reported_on, 36),
        )
        self.event(case, enrollment, "decided", decided)
        self.event(case, enrollment, "reported", reported_on)
        self.event(case, enrollment, "agreement", agreed)
        self.set_status(case, "under_measure", decided)
        return enrollment

    def release(self, case: _Case, enrollment: Enrollment) -> Enrollment:
        """期满解除 at the term end and the social-control enrollment that starts that day."""
        day = enrollment.term_end
        assert day is not None  # set at 报到
        enrollment.status, enrollment.ended_on = "released", day
        self.event(case, enrollment, "released", day)
        social = self.scoped(
            case,
            Enrollment,
            unit=case.unit.executor,
            measure="social_control",
            status="in_progress",
            decision_date=day,
            report_deadline=day,
            reported_on=day,
            agreement_signed_on=day,
        )
        self.event(case, social, "decided", day, after=enrollment)
        self.set_status(case, "social_control", day)
        return social

    def released_before(self, case: _Case, release_day: dt.date) -> tuple[Enrollment, Enrollment]:
        """A first treatment measure whose term ended on (about) ``release_day``, and its social control."""
        reported = add_months(release_day, -36)
        treatment = self.treatment(case, reported)
        social = self.release(case, treatment)
        case.segments.append(_Segment(treatment, reported, social.decision_date - _days(1), reported))
        return treatment, social

    def violation_series(
        self, case: _Case, enrollment: Enrollment, days: list[dt.date], *, serious: bool
    ) -> dt.date | None:
        """Violations on ``days``; with ``serious`` they are test evasions reaching art. 20 on the third."""
        kinds = ["test_evasion"] * len(days) if serious else []
        if not serious:
            kinds = [self.rng.choice(("test_evasion", "unauthorised_leave", "other")) for _ in days]
        for day, kind in zip(days, kinds, strict=True):
            self.scoped(
                case,
                Violation,
                unit=case.unit.executor,
                enrollment=enrollment,
                kind=kind,
                date=day,
                days_away=self.rng.randint(1, 5) if kind == "unauthorised_leave" else 0,
                note="",
            )
        case.violations += days
        if not serious:
            return None
        reached = days[2]
        enrollment.serious_violation_on = reached
        self.event(
            case,
            enrollment,
            "serious_violation",
            reached,
            test_violations=3,
            unauthorised_leaves=0,
            days_away=0,
        )
        return reached

    def alert(
        self, case: _Case, enrollment: Enrollment, kind: str, day: dt.date, resolved: tuple | None
    ) -> None:
        alert = self.scoped(
            case,
            Alert,
            unit=case.unit.executor,
            enrollment=enrollment,
            kind=kind,
            raised_on=day,
            level="worker",
        )
        case.rows.append(_Row(AlertEscalation, {"alert": alert, "level": "worker", "date": day}))
        if resolved:
            alert.resolved_on, alert.resolution = resolved
            step = {"alert": alert, "level": "worker", "date": resolved[0], "note": "resolved"}
            case.rows.append(_Row(AlertEscalation, step))

    # Categories ------------------------------------------------------------------------------------

    def build(self, case: _Case) -> None:
        getattr(self, f"build_{case.category}")(case)

    def build_treatment(self, case: _Case) -> None:
        rng, today = self.rng, self.today
        variant = rng.choices(
            ("plain", "release_due", "recent", "violations", "transferred", "resumed"),
            weights=(77, 3, 4, 10, 3, 3),
        )[0]
        if variant == "release_due":
            reported = add_months(today, -36) - _days(rng.randint(1, 25))
        elif variant == "recent":
            reported = today - _days(rng.randint(0, 10))
        else:
            reported = self.between(add_months(today, -36) + _days(20), today - _days(20))
        if variant == "transferred" and (today - reported).days < 120:
            variant = "plain"
        if variant == "transferred":
            case.old_unit = self.other_unit(case.unit)
        enrollment = self.treatment(case, reported)
        start = reported
        if variant == "resumed" and (today - reported).days > 150:
            suspended = self.between(reported + _days(30), today - _days(100))
            resumed = suspended + _days(rng.randint(10, 90))
            case.segments.append(_Segment(enrollment, reported, suspended, reported))
            self.event(case, enrollment, "suspended", suspended, reason=rng.choice(SUSPEND_REASONS))
            self.event(case, enrollment, "resumed", resumed)
            start = resumed
        if variant == "transferred":
            moved = self.between(reported + _days(30), today - _days(60))
            arrived = moved + _days(rng.randint(2, REPORT_DAYS))
            assert case.old_unit is not None
            self.event(
                case,
                enrollment,
                "transfer_out",
                moved,
                **{"from": case.old_unit.executor.code, "to": case.unit.executor.code},
            )
            self.event(case, enrollment, "transfer_reported", arrived)
            enrollment.agreement_signed_on = arrived
            case.transfer_day = moved
        if variant == "violations" and (today - reported).days > 60:
            count = rng.choice((1, 1, 2))
            days = sorted(self.between(reported + _days(10), today - _days(1)) for _ in range(count))
            self.violation_series(case, enrollment, days, serious=False)
        case.segments.append(_Segment(enrollment, start, today, reported))
        self.maybe_positive(case, 0.04)

    def build_awaiting_report(self, case: _Case) -> None:
        decided = self.today - _days(self.rng.randint(0, 25))
        self.found(case, decided - _days(self.rng.randint(7, 40)), "addicted")
        enrollment = self.scoped(
            case,
            Enrollment,
            unit=case.unit.executor,
            measure=self.rng.choice(("community_treatment", "community_rehabilitation")),
            status="decided",
            decision_date=decided,
            report_deadline=decided + _days(REPORT_DAYS),
            term_months=36,
        )
        self.event(case, enrollment, "decided", decided)
        self.set_status(case, "under_measure", decided)

    def build_suspended(self, case: _Case) -> None:
        reported = self.between(add_months(self.today, -30), self.today - _days(60))
        enrollment = self.treatment(case, reported)
        suspended = self.between(reported + _days(30), self.today - _days(1))
        enrollment.status = "suspended"
        self.event(case, enrollment, "suspended", suspended, reason=self.rng.choice(SUSPEND_REASONS))
        case.segments.append(_Segment(enrollment, reported, suspended, reported))

    def build_transferring(self, case: _Case) -> None:
        case.old_unit = self.other_unit(case.unit)
        reported = self.between(add_months(self.today, -30), self.today - _days(60))
        enrollment = self.treatment(case, reported)
        moved = self.today - _days(self.rng.randint(1, 25))  # some past the 15 days: overdue
        enrollment.status, enrollment.transfer_deadline = "transferring", moved + _days(REPORT_DAYS)
        self.event(
            case,
            enrollment,
            "transfer_out",
            moved,
            **{"from": case.old_unit.executor.code, "to": case.unit.executor.code},
        )
        case.transfer_day = moved
        case.segments.append(_Segment(enrollment, reported, moved, reported))

    def build_serious_open(self, case: _Case) -> None:
        reported = self.between(add_months(self.today, -30), self.today - _days(150))
        enrollment = self.treatment(case, reported, measure="community_treatment")
        first = self.between(self.today - _days(100), self.today - _days(60))
        days = [first, first + _days(self.rng.randint(10, 25)), self.today - _days(self.rng.randint(1, 20))]
        reached = self.violation_series(case, enrollment, days, serious=True)
        assert reached is not None
        self.alert(case, enrollment, "serious_violation", reached, None)
        case.segments.append(_Segment(enrollment, reported, first, reported))

    def build_relapsed(self, case: _Case) -> None:
        rng, today = self.rng, self.today
        reported_again = self.between(add_months(today, -34), today - _days(15))
        decided_again = reported_again - _days(rng.randint(0, REPORT_DAYS))
        relapse = decided_again - _days(rng.randint(7, 30))
        release = relapse - _days(rng.randint(60, 600))
        _first, social = self.released_before(case, release)
        release = social.decision_date
        relapse = max(relapse, release + _days(30))
        social_segment = _Segment(social, release, relapse, None, positives=[relapse])
        case.segments.append(social_segment)
        if rng.random() < 0.5:
            self.scoped(case, Seizure, date=relapse, note="复吸查获")
        decided_again = max(decided_again, relapse + _days(3))
        reported_again = max(reported_again, decided_again)
        social.status, social.ended_on, social.end_reason = "terminated", decided_again, "superseded"
        self.event(case, social, "terminated", decided_again, reason="superseded")
        social_segment.end = decided_again - _days(1)
        again = self.treatment(
            case, reported_again, measure="community_treatment", decided=decided_again, first=False
        )
        case.segments.append(_Segment(again, reported_again, today, reported_again))

    def build_social(self, case: _Case) -> None:
        almost = add_years(self.today, -self.abstinent_years) + _days(self.almost_days + 5)
        self.social_case(case, self.between(almost, self.today - _days(1)), relapse_share=0.08)

    def build_social_almost(self, case: _Case) -> None:
        self.social_case(case, add_years(self.today, -self.abstinent_years) + _days(self.rng.randint(30, 80)))

    def build_social_eligible(self, case: _Case) -> None:
        due = add_years(self.today, -self.abstinent_years)
        self.social_case(case, due - _days(self.rng.randint(0, 400)))

    def social_case(self, case: _Case, release: dt.date, relapse_share: float = 0.0) -> None:
        _treatment, social = self.released_before(case, release)
        case.segments.append(_Segment(social, social.decision_date, self.today, None))
        if relapse_share:
            self.maybe_positive(case, relapse_share)

    def build_abstinent(self, case: _Case) -> None:
        latest = add_years(self.today, -self.abstinent_years) - _days(30)
        earliest = add_years(self.today, -self.no_contact_years) - _days(100)
        release = self.between(earliest, latest)
        self.abstinent_case(case, release)

    def abstinent_case(self, case: _Case, release: dt.date) -> dt.date:
        _treatment, social = self.released_before(case, release)
        anchor = social.decision_date
        assessed = min(
            add_years(anchor, self.abstinent_years) + _days(self.rng.randint(0, 60)), self.today - _days(1)
        )
        case.segments.append(_Segment(social, anchor, assessed - _days(1), None))
        social.status, social.ended_on, social.end_reason = "released", assessed, "abstinent_3y"
        self.event(case, social, "released", assessed, reason="abstinent_3y")
        self.scoped(
            case,
            AbstinenceAssessment,
            date=assessed,
            outcome="abstinent_3y",
            anchor=anchor,
            policy_id=self.abstinence_policy.id,
            note="",
        )
        self.set_status(case, "abstinent_3y", assessed)
        return anchor

    def build_no_contact(self, case: _Case) -> None:
        release = add_years(self.today, -self.no_contact_years) - _days(self.rng.randint(10, 700))
        anchor = self.abstinent_case(case, release)
        removed = self.between(add_years(anchor, self.no_contact_years), self.today - _days(1))
        self.scoped(
            case,
            AbstinenceAssessment,
            date=removed,
            outcome="no_contact",
            anchor=anchor,
            policy_id=self.abstinence_policy.id,
            note="",
        )
        self.set_status(case, "no_contact", removed)
        case.person.sealed = True

    def build_not_reported(self, case: _Case) -> None:
        decided = self.today - _days(self.rng.randint(20, 700))
        self.found(case, decided - _days(self.rng.randint(7, 40)), "addicted")
        noted = min(decided + _days(REPORT_DAYS + 1 + self.rng.randint(0, 10)), self.today)
        enrollment = self.scoped(
            case,
            Enrollment,
            unit=case.unit.executor,
            measure="community_treatment",
            status="not_reported",
            decision_date=decided,
            report_deadline=decided + _days(REPORT_DAYS),
            term_months=36,
            ended_on=noted,
        )
        self.event(case, enrollment, "decided", decided)
        self.event(case, enrollment, "not_reported", noted)
        self.set_status(case, "referred", noted)

    def build_referred(self, case: _Case) -> None:
        reported = self.between(add_months(self.today, -30), self.today - _days(150))
        enrollment = self.treatment(case, reported, measure="community_treatment")
        first = self.between(reported + _days(20), self.today - _days(90))
        days = [first, first + _days(self.rng.randint(10, 30)), first + _days(self.rng.randint(40, 70))]
        reached = self.violation_series(case, enrollment, days, serious=True)
        assert reached is not None
        referred = min(reached + _days(self.rng.randint(1, 10)), self.today)
        enrollment.status, enrollment.ended_on, enrollment.end_reason = "referred", referred, REFER_REASON
        self.event(case, enrollment, "referred", referred, reason=REFER_REASON)
        self.alert(case, enrollment, "serious_violation", reached, (referred, "referred"))
        self.set_status(case, "referred", referred)
        case.segments.append(_Segment(enrollment, reported, first, reported))

    def build_ended(self, case: _Case) -> None:
        reported = self.between(add_months(self.today, -30), self.today - _days(60))
        enrollment = self.treatment(case, reported)
        ended = self.between(reported + _days(30), self.today - _days(1))
        reason = self.rng.choice(TERMINATE_REASONS)
        enrollment.status, enrollment.ended_on, enrollment.end_reason = "terminated", ended, reason
        self.event(case, enrollment, "terminated", ended, reason=reason)
        self.set_status(case, "ended", ended)
        case.segments.append(_Segment(enrollment, reported, ended, reported))

    def build_registered(self, case: _Case) -> None:
        if self.rng.random() < 0.6:  # recently found, a decision is awaited
            self.found(case, self.today - _days(self.rng.randint(0, 60)), "addicted")
        else:  # found, not addicted: no measure
            self.found(case, self.today - _days(self.rng.randint(30, 900)), "not_addicted")
        self.set_status(case, "registered", None)

    def maybe_positive(self, case: _Case, share: float) -> None:
        """A positive test (relapse, 复吸) somewhere in the last supervised segment."""
        segment = case.segments[-1]
        first = max(segment.start + _days(30), self.today - _days(700))
        if self.rng.random() < share and first < segment.end:
            segment.positives.append(self.between(first, segment.end))

    def other_unit(self, unit: _Unit) -> _Unit:
        """Where a transferred person lived before (another executing unit)."""
        others = [u for u in self.executors if u.pk != unit.executor.pk]
        return self.rng.choice(others) if others else unit.executor

    # Risk gradings, tests and contacts -----------------------------------------------------------------

    def grade(self, case: _Case, until: dt.date) -> list[tuple[dt.date, str]]:
        """Risk gradings through the supervised segments (intake or release, every ``reassess_months``,
        after relapses and violations), the latest with the case's colour. Returns (date, colour)."""
        rng = self.rng
        window = add_months(self.history_start, -self.reassess_months)
        triggers = sorted(
            [(day, "positive_test") for s in case.segments for day in s.positives]
            + [(day, "violation") for day in case.violations]
        )
        dates: list[tuple[dt.date, str]] = []
        for segment in case.segments:
            if segment.end < window:
                continue
            if segment.enrollment.measure == "social_control":
                first_trigger = "release"
            elif segment.start == segment.enrollment.reported_on:
                first_trigger = "intake"
            else:
                first_trigger = "scheduled"  # resumed after a suspension
            day = max(segment.start + _days(rng.randint(0, 7)), window)
            trigger = first_trigger if day - segment.start < _days(10) else "scheduled"
            while day <= min(segment.end, until):
                dates.append((day, trigger))
                scheduled = add_months(day, self.reassess_months) - _days(rng.randint(1, 20))
                fired = [t for t in triggers if day < t[0] and t[0] + _days(14) < min(scheduled, self.today)]
                if fired:
                    day, trigger = fired[0][0] + _days(rng.randint(1, 7)), fired[0][1]
                else:
                    day, trigger = scheduled, "scheduled"
        if not dates:
            return []
        colours = [case.colour or rng.choice(COLOUR_RANK)]
        for _ in dates[1:]:
            rank = COLOUR_RANK.index(colours[-1]) + rng.choice((0, 0, 0, 1))
            colours.append(COLOUR_RANK[min(rank, 3)])
        colours.reverse()  # older gradings tend to be riskier
        timeline = []
        for (day, trigger), final in zip(dates, colours, strict=True):
            suggested = final
            if rng.random() < 0.12:
                rank = COLOUR_RANK.index(final) + rng.choice((-1, 1))
                suggested = COLOUR_RANK[max(0, min(rank, 3))]
            answers, total = rng.choice(
                self.answers.get((suggested, SUBSTANCE_CLASS[case.substances[0]]))
                or self.answers[(suggested, "*")]
            )
            raised = COLOUR_RANK.index(final) > COLOUR_RANK.index(suggested)
            self.scoped(
                case,
                RiskAssessment,
                date=day,
                instrument_id=self.instrument.id,
                factor_scores=dict(answers),
                total=total,
                suggested_color=suggested,
                final_color=final,
                override_reason=(
                    "" if final == suggested else rng.choice(RAISE_REASONS if raised else LOWER_REASONS)
                ),
                trigger=trigger,
                assessor=self.worker_on(case, day),
            )
            timeline.append((day, final))
        return timeline

    def worker_on(self, case: _Case, day: dt.date) -> User | None:
        worker, start, end = case.assignment
        if worker is None or start is None or day < start or (end is not None and day >= end):
            return None
        return worker

    def history(self, case: _Case) -> None:
        """Tests, contacts and gradings of every supervised segment; gaps by the case's mode."""
        rng, today = self.rng, self.today
        if not case.segments:
            return
        current = case.segments[-1]
        base_intervals = self.intervals(
            current.enrollment.measure, self.phase_year(current.reported_on, today), None
        )
        stop: dict[str, dt.date] = {}
        if case.mode == "lost" and base_intervals:
            shortest = min(base_intervals.values())
            stop_all = add_months(today - _days(self.grace_days + rng.randint(3, 40)), -shortest)
            stop = {item: stop_all for item in ("urine", "hair", "contact", "phone", "grading")}
        elif case.mode == "overdue" and base_intervals:
            item = rng.choice(sorted(base_intervals))
            stop[item] = add_months(
                today - _days(self.grace_days + rng.randint(3, 40)), -base_intervals[item]
            )
            if item == "urine":
                stop["hair"] = stop[item]
        timeline = self.grade(case, stop.get("grading", today))
        colour_days = [day for day, _colour in timeline]

        def colour_at(day: dt.date) -> str | None:
            index = bisect.bisect_right(colour_days, day) - 1
            return timeline[index][1] if index >= 0 else None

        last: dict[str, dt.date | None] = {"urine": None, "hair": None, "contact": None}
        for segment in case.segments:
            until = min(segment.end, today)
            phase_changes = (
                [add_years(segment.reported_on, k) for k in (1, 2)]
                if segment.enrollment.measure in TREATMENT and segment.reported_on
                else []
            )
            changes = sorted({*phase_changes, *colour_days})

            def months(item: str, day: dt.date, segment: _Segment = segment) -> int | None:
                year = self.phase_year(segment.reported_on, day)
                measure = segment.enrollment.measure
                return self.intervals(measure, year if measure in TREATMENT else None, colour_at(day)).get(
                    item
                )

            for item in ("urine", "hair", "contact"):
                end = min(until, stop.get(item, until)) if segment is current else until
                fixed = sorted(segment.positives) if item == "urine" else []
                days, last[item] = self.schedule(item, segment.start, end, last[item], months, changes, fixed)
                for day, positive in days:
                    if day >= self.history_start:
                        self.record(case, segment, item, day, positive)
            # Phone calls keep contact (against 脱管) without replacing visits; an overdue person's worker
            # calls at least monthly.
            calls = case.mode == "overdue" or rng.random() < PHONE_SHARE
            gaps = (18, 30) if case.mode == "overdue" else (25, 45)
            if calls:
                phone_end = min(until, stop.get("phone", until)) if segment is current else until
                day = max(segment.start, self.history_start) + _days(rng.randint(5, 30))
                while day <= phone_end:
                    self.scoped(
                        case,
                        Contact,
                        unit=case.unit.executor,
                        enrollment=segment.enrollment,
                        kind="phone",
                        date=day,
                        note="",
                        recorded_by=self.worker_on(case, day),
                    )
                    day += _days(rng.randint(*gaps))

    def schedule(
        self,
        item: str,
        start: dt.date,
        until: dt.date,
        last: dt.date | None,
        months: Callable[[str, dt.date], int | None],
        changes: list[dt.date],
        fixed: list[dt.date],
    ) -> tuple[list[tuple[dt.date, bool]], dt.date | None]:
        """The days of ``item`` in [start, until] when it is done on time (a little early, now and then a
        little late within the grace), as the evaluation derives its due dates: from the later of the last
        one and ``start``, by the interval of the phase and colour in force. ``fixed`` days (positive
        tests) are done whatever the schedule. Returns the (day, fixed) pairs and the new last day."""
        rng = self.rng
        out: list[tuple[dt.date, bool]] = []
        fixed = [day for day in fixed if start <= day <= until]
        cursor = start
        while True:
            interval = months(item, cursor)
            at = bisect.bisect_right(changes, cursor)
            jump = changes[at] if at < len(changes) else None
            planned = None
            if interval:
                base = start if last is None or last < start else last
                due = add_months(base, interval)
                if jump is None or jump >= due:
                    if rng.random() < 0.08:
                        planned = due + _days(rng.randint(1, GRACE_LATE_DAYS))
                    else:
                        planned = due - _days(rng.randint(0, EARLY_DAYS))
                    if planned <= cursor:
                        planned = cursor + _days(rng.randint(0, 3))
                    if last is not None and planned <= last:
                        planned = last + _days(1)
            horizon = planned if planned is not None else jump
            if fixed and (horizon is None or fixed[0] <= horizon):
                day = fixed.pop(0)
                out.append((day, True))
                last = cursor = day
                continue
            if planned is None:
                if jump is None or jump > until:
                    break
                cursor = jump
                continue
            if planned > until:
                break
            out.append((planned, False))
            last = cursor = planned
        return out, last

    def record(self, case: _Case, segment: _Segment, item: str, day: dt.date, positive: bool) -> None:
        rng = self.rng
        worker = self.worker_on(case, day)
        if item == "contact":
            self.scoped(
                case,
                Contact,
                unit=case.unit.executor,
                enrollment=segment.enrollment,
                kind=rng.choice(self.contact_kinds),
                date=day,
                note="",
                recorded_by=worker,
            )
            return
        self.scoped(
            case,
            DrugTest,
            unit=case.unit.executor,
            enrollment=segment.enrollment,
            kind=item,
            sample_date=day,
            result="positive" if positive else "negative",
            substances=list(case.substances) if positive else [],
            is_random=rng.random() < 0.1,
            tester=rng.choice(TESTERS),
            recorded_by=worker,
        )
        if positive:
            # 复吸: an alert at the worker; older ones were dealt with (reassessed or a new measure).
            resolved = None
            if (self.today - day).days > 60:
                resolved = (day + _days(rng.randint(8, 30)), "reassessed")
            self.alert(case, segment.enrollment, "relapse", day, resolved)

    def help_measures(self, case: _Case) -> None:
        rng, today = self.rng, self.today
        first = max(case.segments[-1].start, self.history_start) if case.segments else case.first_found
        for _ in range(rng.choice((1, 1, 2))):
            referred = self.between(first, today)
            kind = rng.choice(sorted(PROVIDERS))
            outcome, outcome_on = "pending", None
            if (today - referred).days > 45 or rng.random() < 0.2:
                outcome = rng.choices(
                    ("succeeded", "failed", "declined", "pending"), weights=(45, 20, 15, 20)
                )[0]
                if outcome != "pending":
                    outcome_on = min(referred + _days(rng.randint(7, 90)), today)
            self.scoped(
                case,
                HelpMeasure,
                kind=kind,
                referred_on=referred,
                provider=PROVIDERS[kind],
                outcome=outcome,
                outcome_on=outcome_on,
                note="",
                recorded_by=self.worker_on(case, referred),
            )

    def assign(self, case: _Case) -> None:
        """指派 to a social worker whose capture scope holds the residence (before a transfer: the old one)."""
        unit = case.unit
        if case.category == "transferring" and case.old_unit is not None:
            unit = case.old_unit
        eligible = [user for user, paths in self.workers if any(unit.path.startswith(p) for p in paths)]
        if not eligible:
            return
        worker = self.rng.choice(eligible)
        decided = [row.decision_date for row in case.rows if isinstance(row, Enrollment)]
        start = min([*decided, case.first_found])
        end = None
        if case.category == "transferring":
            end = case.transfer_day  # the case file moved; the new place assigns someone
        elif case.category == "no_contact":
            end = case.person.control_status_since
        case.assignment = (worker, start, end)
        self.scoped(case, WorkerAssignment, worker=worker, start=start, end=end)
        if end is None:
            case.person.assigned_worker = worker


# Writing ------------------------------------------------------------------------------------------------

# Rows of these tables are model instances written with bulk_create (other rows need their ids); the
# rest, the bulk of the rows, are inserted with executemany from the models' own field lists.
INSTANCE_MODELS = (Enrollment, Alert)
RAW_ORDER: list[type[Model]] = [
    EnrollmentEvent,
    Violation,
    Seizure,
    AddictionFinding,
    RiskAssessment,
    AbstinenceAssessment,
    DrugTest,
    Contact,
    AlertEscalation,
    HelpMeasure,
    WorkerAssignment,
]
PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.BooleanField)


def _ids(value: Any) -> Any:
    """Related objects inside JSON values (an event's ``after``) become their ids."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, dict):
        return {key: _ids(item) for key, item in value.items()}
    return value


def _insert(model: type[Model], rows: list[_Row], now: dt.datetime) -> None:
    """INSERT the rows with executemany: every concrete column, values prepared as Django would (related
    objects by id, dates adapted for the database, JSON encoded, ``auto_now`` stamps, field defaults)."""
    ops = connection.ops
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    stamp = ops.adapt_datetimefield_value(now)
    getters = [_getter(f, stamp) for f in fields]
    columns = ", ".join(ops.quote_name(str(f.column)) for f in fields)
    sql = (
        f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(
                sql, [tuple(get(row.values) for get in getters) for row in rows[start : start + 5000]]
            )


def _getter(f: Any, stamp: Any) -> Callable[[dict[str, Any]], Any]:
    """How to take one column's database value from a row's values."""
    if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
        return lambda values: stamp
    if f.is_relation:
        return lambda values: (
            values[f.attname] if f.attname in values else getattr(values.get(f.name), "pk", None)
        )
    default = f.get_default()
    if isinstance(f, models.DateField):
        adapt = connection.ops.adapt_datefield_value
        return lambda values: adapt(values.get(f.name, default))
    if isinstance(f, PLAIN_FIELDS) and not isinstance(f, EncryptedTextField):
        return lambda values: values.get(f.name, default)
    return lambda values: f.get_db_prep_save(_ids(values.get(f.name, default)), connection)


def _write(cases: list[_Case], progress: _Progress, start: float, share: float) -> Counter:
    """Store every row of the cases, parents first (rows refer to their parents' instances)."""
    instances: dict[type[Model], list[Model]] = {Person: [], Enrollment: [], Alert: []}
    rows: dict[type[Model], list[_Row]] = {model: [] for model in RAW_ORDER}
    for case in cases:
        instances[Person].append(case.person)
        for row in case.rows:
            if isinstance(row, _Row):
                rows[row.model].append(row)
            else:
                instances[type(row)].append(row)
    counts: Counter = Counter()
    steps = len(instances) + len(rows)
    for index, (model, batch) in enumerate(instances.items()):
        model._default_manager.bulk_create(batch, batch_size=500)
        counts[model._meta.model_name] = len(batch)
        progress.to(start + share * (index + 1) / steps)
    now = timezone.now()
    for index, (model, raw) in enumerate(rows.items(), start=len(instances)):
        _insert(model, raw, now)
        counts[model._meta.model_name] = len(raw)
        progress.to(start + share * (index + 1) / steps)
    return counts


def _evaluate(today: dt.date, days_back: int, step: int) -> int:
    """The nightly evaluation for a few past days (oldest first: snapshots, 脱管 alerts climbing their
    levels) and finally for today (state and worklists)."""
    past = [today - _days(step * k) for k in range(days_back // step, 0, -1)] if step > 0 else []
    for day in [*past, today]:
        evaluation_run(as_of=day)
    return len(past) + 1


def generate_demo_persons(
    *,
    count: int = DEFAULT_COUNT,
    seed: int = 2027,
    today: dt.date | None = None,
    snapshot_days: int = SNAPSHOT_DAYS,
    snapshot_step_days: int = SNAPSHOT_STEP_DAYS,
    persons_per_worker: int = PERSONS_PER_WORKER,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Register ``count`` persons over the org tree's communities (and grids) with a history of up to
    ``HISTORY_YEARS`` years up to ``today``, then run the evaluation for every ``snapshot_step_days``-th day
    of the last ``snapshot_days`` days (0 for none) and for today. ``persons_per_worker`` persons are
    placed in each social worker's capture scope and assigned to them. ``progress`` receives increments
    that add up to ``count``. Returns the number of persons created."""
    today = today or timezone.localdate()
    rng = random.Random(seed)
    tracker = _Progress(count, progress)
    executors, residences = _load_units()
    if not executors or count <= 0:
        return 0
    workers = _load_workers()
    builder = _DemoBuilder(rng, today, executors, residences, workers)
    categories = _quota(CATEGORY_SHARES, count, "registered", rng)
    placed: list[_Unit] = []
    for _user, paths in workers:
        own = [u for u in executors if any(u.path.startswith(p) for p in paths)]
        if own:
            placed += [rng.choice(own) for _ in range(persons_per_worker)]
    for index, category in enumerate(categories):
        executor = placed[index] if index < len(placed) else rng.choice(executors)
        homes = residences[executor.pk]
        unit = executor if len(homes) == 1 or rng.random() < 0.65 else rng.choice(homes[1:])
        builder.build(builder.new_person(unit, category))
        if index % 100 == 0:
            tracker.to(0.25 * index / count)

    supervised = [case for case in builder.cases if case.supervised_now]
    for case, colour in zip(supervised, _quota(COLOUR_SHARES, len(supervised), "green", rng), strict=True):
        case.colour = colour
    # Gaps only where a schedule has run long enough to fall behind.
    gaps = [
        case
        for case in supervised
        if case.category in ("treatment", "relapsed", "social", "social_almost", "social_eligible")
        and case.segments
        and (today - case.segments[-1].start).days > 200
        and not case.segments[-1].positives
    ]
    rng.shuffle(gaps)
    lost = round(LOST_SHARE * len(supervised))
    overdue = round(OVERDUE_SHARE * len(supervised))
    for position, case in enumerate(gaps[: lost + overdue]):
        case.mode = "lost" if position < lost else "overdue"
    for case in builder.cases:
        builder.assign(case)
        builder.history(case)
        if case.supervised_now and rng.random() < HELP_SHARE:
            builder.help_measures(case)
    tracker.to(0.35)

    with transaction.atomic():
        counts = _write(builder.cases, tracker, 0.35, 0.4)
        counts.update(f"status_{case.person.control_status}" for case in builder.cases)
        audit_write(
            action=AuditAction.CREATE,
            object_type="people.demo",
            object_repr="demo persons",
            detail={"seed": seed, "today": today.isoformat(), **dict(sorted(counts.items()))},
        )
    _evaluate(today, snapshot_days, snapshot_step_days)
    tracker.to(1.0)
    return len(builder.cases)
