"""KPIs of the people domain (现有吸毒人数, 执行率, 报到率, 管控率, …) for any org unit and period.

The **counting functions** are Python (``COUNTERS``, registered with ``@counter``): each counts persons,
person-days or workers for an org unit (with its descendants, by ``org_path`` prefix range) and a period
``[start, end]`` (both days included), with keyword parameters. The **definitions** are configuration: a
versioned policy of kind ``people.kpi_definitions`` whose payload names, for each KPI code, the counting
function and parameters of its numerator and denominator, its unit, target and direction. A region
changes a definition (say the reporting window) by publishing a new version; values always name the
version they were computed with.

The version applied is the one in force for the org unit on the period's **last day**. Counting reads the
unscoped managers on purpose: KPIs are aggregates, so sealed (无感化) records count, and no function
returns or lists a person. Callers (API, pages, the assessment domain) check the caller's scope on the
org unit before calling ``kpi_compute``.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import operator
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, Exists, F, Max, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import OrgUnit, OrgUnitClosure, PolicyVersion, User
from jindu.core.policy import policy_in_force
from jindu.core.scoping import in_roots, path_condition, require_permission, search_root_ids
from jindu.people.models import (
    AbstinenceAssessment,
    ComplianceSnapshot,
    DrugTest,
    Enrollment,
    Person,
    PersonState,
    Seizure,
)
from jindu.people.permissions import VIEW_PERSON

KPI_DEFINITIONS = "people.kpi_definitions"
# 禁毒法 in force: the shipped definitions apply from this day unless a region publishes its own.
DEFAULT_KPI_EFFECTIVE_FROM = dt.date(2008, 6, 1)

UNITS = ("count", "percent", "ratio")
DIRECTIONS = ("higher_is_better", "lower_is_better")
SNAPSHOT_FLAGS = ("tests_up_to_date", "contacts_up_to_date", "lost_contact")

_TREATMENT = ["community_treatment", "community_rehabilitation"]
_SUPERVISED = ["community_treatment", "community_rehabilitation", "social_control"]


# The counting functions ---------------------------------------------------------------------------------


class Counting:
    """One org unit and one period, with a memo so that KPIs sharing a query run it once."""

    def __init__(self, org_unit: OrgUnit, start: dt.date, end: dt.date) -> None:
        self.org_unit = org_unit
        self.start = start
        self.end = end
        self._memo: dict[Any, Any] = {}

    def within(self, field: str = "org_path") -> Q:
        """Rows whose org path lies in the org unit's subtree (an index range scan)."""
        return path_condition([self.org_unit.path], field)

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def count(self, spec: dict[str, Any]) -> int:
        """The value of one ``{"count": name, "params": {...}}`` term."""
        params = spec.get("params") or {}
        key = ("count", spec["count"], json.dumps(params, sort_keys=True))
        return self.memo(key, lambda: COUNTERS[spec["count"]].function(self, **params))


@dataclass(frozen=True)
class Counter:
    """A registered counting function and the keyword parameters it takes (defaults and types)."""

    name: str
    function: Callable[..., int]
    defaults: dict[str, Any]
    types: dict[str, Any]
    doc: str


COUNTERS: dict[str, Counter] = {}


def counter(name: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Register a counting function ``f(counting, *, param=default, ...) -> int`` under ``name``."""

    def register(function: Callable[..., int]) -> Callable[..., int]:
        parameters = list(inspect.signature(function).parameters.values())[1:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), name
        hints = typing.get_type_hints(function)
        COUNTERS[name] = Counter(
            name=name,
            function=function,
            defaults={p.name: p.default for p in parameters},
            types={p.name: hints[p.name] for p in parameters},
            doc=inspect.getdoc(function) or "",
        )
        return function

    return register


def _any_of(conditions: Iterable[Any]) -> Any:
    conditions = list(conditions)
    return functools.reduce(operator.or_, conditions) if conditions else Q(pk__in=[])


@counter("persons_existing")
def persons_existing(counting: Counting, *, exclude_statuses: list[str] | None = None) -> int:
    """Persons residing in the org unit and known by the end of the period (first found, or registered when
    no first-found date is recorded, on or before the last day) whose control status on the last day was
    not one of ``exclude_statuses``. The status on the last day is reconstructed from the current status:
    a person now in an excluded status counts when that status began after the period (its start is the
    latest 戒断三年 assessment for 戒断三年 and 无感化, otherwise ``control_status_since``)."""
    excluded = exclude_statuses if exclude_statuses is not None else ["abstinent_3y", "no_contact"]
    end = counting.end
    known = Q(first_found_date__lte=end) | Q(first_found_date__isnull=True, created__date__lte=end)
    latest_confirmation = (
        AbstinenceAssessment.objects.filter(person=OuterRef("pk"), outcome="abstinent_3y")
        .order_by("-date")
        .values("date")[:1]
    )
    excluded_since = Case(
        When(
            control_status__in=["abstinent_3y", "no_contact"],
            then=Coalesce(Subquery(latest_confirmation), "control_status_since"),
        ),
        default=F("control_status_since"),
    )
    persons = Person.objects.filter(counting.within(), known).annotate(excluded_since=excluded_since)
    return persons.filter(~Q(control_status__in=excluded) | Q(excluded_since__gt=end)).count()


@counter("persons_first_found")
def persons_first_found(counting: Counting) -> int:
    """Persons residing in the org unit first found (first 查获 or 登记) during the period; the registration
    day stands in where no first-found date is recorded."""
    period = (counting.start, counting.end)
    return Person.objects.filter(
        counting.within(),
        Q(first_found_date__range=period) | Q(first_found_date__isnull=True, created__date__range=period),
    ).count()


def _decisions(counting: Counting, measures: list[str], window_days: int) -> list[tuple[int, dt.date, Any]]:
    """(person, decision day, reported day) of the decisions of the org unit (executing unit) whose
    reporting window, ``window_days`` after the decision, closed during the period."""
    window = dt.timedelta(days=window_days)

    def load() -> list[tuple[int, dt.date, Any]]:
        return list(
            Enrollment.objects.filter(
                counting.within(),
                measure__in=measures,
                decision_date__range=(counting.start - window, counting.end - window),
            ).values_list("person_id", "decision_date", "reported_on")
        )

    return counting.memo(("decisions", tuple(sorted(measures)), window_days), load)


@counter("persons_ordered")
def persons_ordered(counting: Counting, *, measures: list[str] | None = None, window_days: int = 15) -> int:
    """Persons ordered into one of ``measures`` (决定送达) by a decision whose reporting window
    (``window_days`` after the decision) closed during the period, attributed to the executing unit."""
    rows = _decisions(counting, measures or _TREATMENT, window_days)
    return len({person for person, _decided, _reported in rows})


@counter("persons_reported")
def persons_reported(
    counting: Counting, *, measures: list[str] | None = None, window_days: int = 15, on_time: bool = False
) -> int:
    """Of ``persons_ordered``, those who reported (报到): at any time, or with ``on_time`` within
    ``window_days`` of the decision."""
    rows = _decisions(counting, measures or _TREATMENT, window_days)
    window = dt.timedelta(days=window_days)
    return len(
        {
            person
            for person, decided, reported in rows
            if reported is not None and (not on_time or reported <= decided + window)
        }
    )


def _snapshot_flags(
    tests_up_to_date: bool | None, contacts_up_to_date: bool | None, lost_contact: bool | None
) -> dict[str, bool]:
    flags = {
        "tests_up_to_date": tests_up_to_date,
        "contacts_up_to_date": contacts_up_to_date,
        "lost_contact": lost_contact,
    }
    return {name: value for name, value in flags.items() if value is not None}


def last_evaluated_day(counting: Counting) -> dt.date | None:
    """The latest day of the period with compliance snapshots in the org unit (the period's last day once
    the nightly evaluation has run for it)."""
    return counting.memo(
        "last_evaluated_day",
        lambda: ComplianceSnapshot.objects.filter(
            counting.within(), day__range=(counting.start, counting.end)
        ).aggregate(day=Max("day"))["day"],
    )


@counter("snapshot_persons_at_end")
def snapshot_persons_at_end(
    counting: Counting,
    *,
    tests_up_to_date: bool | None = None,
    contacts_up_to_date: bool | None = None,
    lost_contact: bool | None = None,
) -> int:
    """Active persons (one compliance snapshot each) residing in the org unit on the last evaluated day of
    the period, optionally only those whose snapshot has the given flags."""
    day = last_evaluated_day(counting)
    if day is None:
        return 0
    flags = _snapshot_flags(tests_up_to_date, contacts_up_to_date, lost_contact)
    return ComplianceSnapshot.objects.filter(counting.within(), day=day, **flags).count()


@counter("snapshot_persons_in_period")
def snapshot_persons_in_period(
    counting: Counting,
    *,
    tests_up_to_date: bool | None = None,
    contacts_up_to_date: bool | None = None,
    lost_contact: bool | None = None,
) -> int:
    """Distinct persons residing in the org unit with at least one snapshot during the period (with the
    given flags, if any): active at some time in the period, or e.g. 脱管 on at least one day."""
    flags = _snapshot_flags(tests_up_to_date, contacts_up_to_date, lost_contact)
    return ComplianceSnapshot.objects.filter(
        counting.within(), day__range=(counting.start, counting.end), **flags
    ).aggregate(persons=Count("person", distinct=True))["persons"]


@counter("snapshot_person_days")
def snapshot_person_days(
    counting: Counting,
    *,
    tests_up_to_date: bool | None = None,
    contacts_up_to_date: bool | None = None,
    lost_contact: bool | None = None,
) -> int:
    """Person-days (snapshots) of the period in the org unit, with the given flags if any."""
    flags = _snapshot_flags(tests_up_to_date, contacts_up_to_date, lost_contact)
    return ComplianceSnapshot.objects.filter(
        counting.within(), day__range=(counting.start, counting.end), **flags
    ).count()


def _supervised_persons(counting: Counting, measures: list[str]) -> Any:
    """Ids of persons under one of ``measures`` at some time in the period, by executing unit: decided on
    or before the last day, not ended before the first, never-reported orders (未报到) left out."""
    return (
        Enrollment.objects.filter(counting.within(), measure__in=measures, decision_date__lte=counting.end)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=counting.start))
        .exclude(status="not_reported")
        .values("person_id")
    )


@counter("persons_supervised")
def persons_supervised(counting: Counting, *, measures: list[str] | None = None) -> int:
    """Persons under 社区戒毒, 社区康复 or 社会面管控 (or the given ``measures``) during the period."""
    return _supervised_persons(counting, measures or _SUPERVISED).aggregate(
        persons=Count("person_id", distinct=True)
    )["persons"]


@counter("persons_relapsed")
def persons_relapsed(
    counting: Counting,
    *,
    measures: list[str] | None = None,
    positive_tests: bool = True,
    seizures: bool = True,
) -> int:
    """Of ``persons_supervised``, those with a positive drug test (sample day) or a 查获 during the period."""
    period = (counting.start, counting.end)
    relapse = []
    if positive_tests:
        relapse.append(
            Exists(
                DrugTest.objects.filter(person=OuterRef("pk"), result="positive", sample_date__range=period)
            )
        )
    if seizures:
        relapse.append(Exists(Seizure.objects.filter(person=OuterRef("pk"), date__range=period)))
    supervised = _supervised_persons(counting, measures or _SUPERVISED)
    return Person.objects.filter(_any_of(relapse), pk__in=supervised).count()


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (or earlier); 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def anchors_reaching(start: dt.date, end: dt.date, years: int) -> tuple[dt.date, dt.date]:
    """The range of abstinence anchors whose ``years``-th anniversary falls in ``[start, end]``."""
    one_day = dt.timedelta(days=1)
    lowest = add_years(start, -years)
    while add_years(lowest - one_day, years) >= start:
        lowest -= one_day
    while add_years(lowest, years) < start:
        lowest += one_day
    highest = add_years(end, -years)
    while add_years(highest + one_day, years) <= end:
        highest += one_day
    while add_years(highest, years) > end:
        highest -= one_day
    return lowest, highest


@counter("persons_abstinence_due")
def persons_abstinence_due(counting: Counting, *, years: int = 3, include_unassessed: bool = True) -> int:
    """Cohort: persons residing in the org unit whose abstinence anchor plus ``years`` fell in the period,
    by the anchor of any 戒断三年 assessment, and (``include_unassessed``) by the anchor the evaluation
    holds now for persons not assessed yet."""
    anchors = anchors_reaching(counting.start, counting.end, years)
    reached = [Exists(AbstinenceAssessment.objects.filter(person=OuterRef("pk"), anchor__range=anchors))]
    if include_unassessed:
        reached.append(
            Exists(PersonState.objects.filter(person=OuterRef("pk"), abstinence_anchor__range=anchors))
        )
    return Person.objects.filter(counting.within(), _any_of(reached)).count()


@counter("persons_abstinence_confirmed")
def persons_abstinence_confirmed(
    counting: Counting, *, years: int = 3, outcomes: list[str] | None = None
) -> int:
    """Of the cohort, persons confirmed 戒断三年未复吸 (or later 无感化) by an assessment with such an anchor,
    whenever the assessment took place."""
    anchors = anchors_reaching(counting.start, counting.end, years)
    confirmed = AbstinenceAssessment.objects.filter(
        person=OuterRef("pk"), anchor__range=anchors, outcome__in=outcomes or ["abstinent_3y", "no_contact"]
    )
    return Person.objects.filter(counting.within(), Exists(confirmed)).count()


@counter("persons_in_status")
def persons_in_status(counting: Counting, *, statuses: list[str] | None = None) -> int:
    """Persons residing in the org unit whose control status is now one of ``statuses`` (default: under a
    measure or under social control). A point-in-time count: the statuses as they are when computed."""
    return Person.objects.filter(
        counting.within(), control_status__in=statuses or ["under_measure", "social_control"]
    ).count()


@counter("active_workers")
def active_workers(counting: Counting, *, role: str = "social_worker") -> int:
    """Active accounts holding ``role`` with at least one capture-scope root inside the org unit's subtree
    (each counted once). A point-in-time count: the accounts as they are when computed."""
    subtree = OrgUnitClosure.objects.filter(ancestor=counting.org_unit).values("descendant_id")
    return User.objects.filter(is_active=True, roles__role=role, capture_scope__in=subtree).aggregate(
        users=Count("pk", distinct=True)
    )["users"]


# The shipped definitions ---------------------------------------------------------------------------------

_SOURCE = "docs/people_kpis.md; casemgmt.md §1.7 (proposed formulas after DHIS2 program indicators)"

DEFAULT_KPI_DEFINITIONS: dict[str, dict[str, Any]] = {
    "existing_users": {
        "order": 1,
        "name_zh": "现有吸毒人数",
        "name_en": "Existing drug users",
        "description": "Persons residing in the org unit, known by the last day of the period, whose status "
        "on that day was not 戒断三年未复吸 or 无感化 (casemgmt.md §1.7).",
        "description_zh": "统计期最后一日现居住地在本单位（含下级）、已发现登记，且当日管控状态不是戒断三年未复吸或无感化的人数。",
        "numerator": {
            "count": "persons_existing",
            "params": {"exclude_statuses": ["abstinent_3y", "no_contact"]},
        },
        "denominator": None,
        "unit": "count",
        "target": None,
        "direction": "lower_is_better",
        "attribution": "person's residence (现居住地) now",
        "period": "stock on the last day",
        "source": _SOURCE,
    },
    "newly_found": {
        "order": 2,
        "name_zh": "新发现吸毒人数",
        "name_en": "Newly found drug users",
        "description": "Persons residing in the org unit first found (first 查获 or 登记) during the period.",
        "description_zh": "统计期内首次发现（首次查获或登记）、现居住地在本单位（含下级）的人数。",
        "numerator": {"count": "persons_first_found", "params": {}},
        "denominator": None,
        "unit": "count",
        "target": None,
        "direction": "lower_is_better",
        "attribution": "person's residence (现居住地) now",
        "period": "first-found day in the period",
        "source": _SOURCE,
    },
    "execution_rate": {
        "order": 3,
        "name_zh": "执行率",
        "name_en": "Execution rate",
        "description": "Persons who reported (报到, at any time) ÷ persons ordered into 社区戒毒 or 社区康复 "
        "whose 15-day reporting window closed during the period.",
        "description_zh": "已报到人数（不论早晚）÷ 15日报到期限在统计期内届满的责令社区戒毒、社区康复人数，按执行地统计。",
        "numerator": {
            "count": "persons_reported",
            "params": {"measures": _TREATMENT, "window_days": 15, "on_time": False},
        },
        "denominator": {"count": "persons_ordered", "params": {"measures": _TREATMENT, "window_days": 15}},
        "unit": "percent",
        "target": None,
        "direction": "higher_is_better",
        "attribution": "executing unit (street or community) of the enrollment",
        "period": "decision day + 15 days in the period",
        "source": _SOURCE + "; 戒毒条例 art. 14, 37",
    },
    "report_rate": {
        "order": 4,
        "name_zh": "报到率",
        "name_en": "On-time reporting rate",
        "description": "Persons who reported within 15 days of the decision ÷ persons ordered into 社区戒毒 "
        "or 社区康复 whose 15-day reporting window closed during the period.",
        "description_zh": "决定送达后15日内报到的人数 ÷ 15日报到期限在统计期内届满的责令社区戒毒、社区康复人数，按执行地统计。",
        "numerator": {
            "count": "persons_reported",
            "params": {"measures": _TREATMENT, "window_days": 15, "on_time": True},
        },
        "denominator": {"count": "persons_ordered", "params": {"measures": _TREATMENT, "window_days": 15}},
        "unit": "percent",
        "target": None,
        "direction": "higher_is_better",
        "attribution": "executing unit (street or community) of the enrollment",
        "period": "decision day + 15 days in the period",
        "source": _SOURCE + "; 戒毒条例 art. 14, 37",
    },
    "control_rate": {
        "order": 5,
        "name_zh": "管控率",
        "name_en": "Control rate",
        "description": "On the last evaluated day of the period: active persons whose tests and contacts "
        "were both up to date ÷ active persons (one compliance snapshot per person).",
        "description_zh": "统计期最后一个评估日：检测和走访均按时的在管人数 ÷ 在管人数（每人每日一条合规快照）。",
        "numerator": {
            "count": "snapshot_persons_at_end",
            "params": {"tests_up_to_date": True, "contacts_up_to_date": True},
        },
        "denominator": {"count": "snapshot_persons_at_end", "params": {}},
        "unit": "percent",
        "target": None,
        "direction": "higher_is_better",
        "attribution": "person's residence on the snapshot day",
        "period": "last day of the period with a snapshot",
        "source": _SOURCE,
    },
    "test_on_time_rate": {
        "order": 6,
        "name_zh": "检测按时率",
        "name_en": "On-time testing rate",
        "description": "On the last evaluated day of the period: active persons whose drug tests were up to "
        "date (no scheduled test overdue beyond the grace days) ÷ active persons.",
        "description_zh": "统计期最后一个评估日：检测按时（无超过宽限期的逾期检测）的在管人数 ÷ 在管人数。",
        "numerator": {"count": "snapshot_persons_at_end", "params": {"tests_up_to_date": True}},
        "denominator": {"count": "snapshot_persons_at_end", "params": {}},
        "unit": "percent",
        "target": None,
        "direction": "higher_is_better",
        "attribution": "person's residence on the snapshot day",
        "period": "last day of the period with a snapshot",
        "source": _SOURCE,
    },
    "relapse_rate": {
        "order": 7,
        "name_zh": "复吸率",
        "name_en": "Relapse rate",
        "description": "Persons with a positive drug test or a 查获 during the period ÷ persons under "
        "社区戒毒, 社区康复 or 社会面管控 at some time in the period (never-reported orders left out).",
        "description_zh": "统计期内检测阳性或被查获的人数 ÷ 统计期内处于社区戒毒、社区康复或社会面管控的人数（未报到者除外），按执行地统计。",
        "numerator": {
            "count": "persons_relapsed",
            "params": {"measures": _SUPERVISED, "positive_tests": True, "seizures": True},
        },
        "denominator": {"count": "persons_supervised", "params": {"measures": _SUPERVISED}},
        "unit": "percent",
        "target": None,
        "direction": "lower_is_better",
        "attribution": "executing unit of the enrollment",
        "period": "test sample day or 查获 day in the period; measure overlapping the period",
        "source": _SOURCE,
    },
    "consolidation_rate": {
        "order": 8,
        "name_zh": "巩固率",
        "name_en": "Abstinence consolidation rate",
        "description": "Cohort: persons confirmed 戒断三年未复吸 ÷ persons whose abstinence anchor plus three "
        "years fell in the period (assessed or not).",
        "description_zh": "队列：经评估确认戒断三年未复吸的人数 ÷ 戒断起算日满三年之日在统计期内的人数（不论是否已评估）。",
        "numerator": {
            "count": "persons_abstinence_confirmed",
            "params": {"years": 3, "outcomes": ["abstinent_3y", "no_contact"]},
        },
        "denominator": {
            "count": "persons_abstinence_due",
            "params": {"years": 3, "include_unassessed": True},
        },
        "unit": "percent",
        "target": None,
        "direction": "higher_is_better",
        "attribution": "person's residence (现居住地) now",
        "period": "anchor + 3 years in the period (cohort)",
        "source": _SOURCE + "; 戒毒条例 art. 7",
    },
    "lost_contact_rate": {
        "order": 9,
        "name_zh": "脱管率",
        "name_en": "Lost-contact rate",
        "description": "Persons flagged 脱管 on at least one day of the period ÷ persons active on at least "
        "one day of the period (compliance snapshots).",
        "description_zh": "统计期内至少一日被标记脱管的人数 ÷ 统计期内至少一日在管的人数（合规快照）。",
        "numerator": {"count": "snapshot_persons_in_period", "params": {"lost_contact": True}},
        "denominator": {"count": "snapshot_persons_in_period", "params": {}},
        "unit": "percent",
        "target": None,
        "direction": "lower_is_better",
        "attribution": "person's residence on the snapshot day",
        "period": "any day of the period",
        "source": _SOURCE,
    },
    "worker_ratio": {
        "order": 10,
        "name_zh": "社工配比",
        "name_en": "Persons per social worker",
        "description": "Persons now under a measure or under social control ÷ active social-worker accounts "
        "whose capture scope lies in the org unit (target: at most 30 per worker). Current values, "
        "whatever the period.",
        "description_zh": "当前社区戒毒、社区康复和社会面管控人数 ÷ 采集范围在本单位（含下级）的在职禁毒社工账号数（目标：每名社工不超过30人）。取当前值，与统计期无关。",
        "numerator": {
            "count": "persons_in_status",
            "params": {"statuses": ["under_measure", "social_control"]},
        },
        "denominator": {"count": "active_workers", "params": {"role": "social_worker"}},
        "unit": "ratio",
        "target": 30,
        "direction": "lower_is_better",
        "attribution": "person's residence now; worker's capture scope",
        "period": "now (point in time)",
        "source": _SOURCE + "; 南京 社区戒毒(康复)工作规范 30:1",
    },
}


# Checking a definitions payload ---------------------------------------------------------------------------


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a parameter's annotation (bool, int, str, ``list[str]``, ``X | None``)."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return any(_type_ok(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(element, item) for element in value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _term_problems(code: str, part: str, term: Any) -> list[str]:
    if not isinstance(term, dict) or term.get("count") not in COUNTERS:
        name = term.get("count") if isinstance(term, dict) else term
        return [f"{code}.{part}: unknown counting function {name!r}"]
    registered = COUNTERS[term["count"]]
    params = term.get("params") or {}
    if not isinstance(params, dict):
        return [f"{code}.{part}.params: not an object"]
    problems = []
    for name, value in params.items():
        if name not in registered.defaults:
            problems.append(f"{code}.{part}.params: {term['count']} takes no parameter {name!r}")
        elif not _type_ok(value, registered.types[name]):
            problems.append(f"{code}.{part}.params.{name}: wrong type")
    return problems


def kpi_definition_problems(payload: Any) -> list[str]:
    """What is wrong with a definitions payload (empty when it can be used)."""
    if not isinstance(payload, dict) or not payload:
        return ["the payload is not an object of KPI definitions"]
    problems: list[str] = []
    for code, definition in payload.items():
        if not isinstance(definition, dict):
            problems.append(f"{code}: not an object")
            continue
        for name in ("name_zh", "name_en"):
            if not isinstance(definition.get(name), str) or not definition[name]:
                problems.append(f"{code}.{name}: required")
        unit = definition.get("unit")
        if unit not in UNITS:
            problems.append(f"{code}.unit: one of {', '.join(UNITS)}")
        if definition.get("direction") not in DIRECTIONS:
            problems.append(f"{code}.direction: one of {', '.join(DIRECTIONS)}")
        target = definition.get("target")
        if target is not None and (isinstance(target, bool) or not isinstance(target, int | float)):
            problems.append(f"{code}.target: a number or null")
        problems += _term_problems(code, "numerator", definition.get("numerator"))
        if unit == "count":
            if definition.get("denominator") is not None:
                problems.append(f"{code}.denominator: a count has none")
        elif unit in UNITS:
            problems += _term_problems(code, "denominator", definition.get("denominator"))
    return problems


def validate_kpi_definitions(payload: Any) -> None:
    """Raise ``ServiceError`` if the payload names unknown counting functions, parameters or units."""
    problems = kpi_definition_problems(payload)
    if problems:
        raise ServiceError(
            _("The KPI definitions are not valid: %(problems)s") % {"problems": "; ".join(problems)},
            code="invalid_kpi_definitions",
        )


# Computing ----------------------------------------------------------------------------------------------


def _english() -> bool:
    return (get_language() or "zh").startswith("en")


@dataclass(frozen=True)
class KpiValue:
    """One KPI for one org unit and period, with the definition version it was computed with."""

    code: str
    name_zh: str
    name_en: str
    description: str
    description_zh: str
    unit: str
    value: float | int | None
    numerator: int
    denominator: int | None
    target: float | None
    direction: str
    org_unit_code: str
    start: dt.date
    end: dt.date
    definition_id: int
    definition_label: str
    definition_effective_from: dt.date
    definition_region: str | None = None

    @property
    def name(self) -> str:
        """The name in the active language (Chinese unless the user chose English)."""
        return self.name_en if _english() else self.name_zh

    @property
    def explanation(self) -> str:
        """The description in the active language (the English one where no Chinese one is given)."""
        return self.description if _english() or not self.description_zh else self.description_zh

    @property
    def on_target(self) -> bool | None:
        """Whether the value meets the target (None without a value or a target)."""
        if self.value is None or self.target is None:
            return None
        if self.direction == "lower_is_better":
            return self.value <= self.target
        return self.value >= self.target


def kpi_period_check(start: dt.date, end: dt.date) -> None:
    """A period is ``[start, end]``, both included; it cannot start in the future."""
    if start is None or end is None:
        raise ServiceError(
            _("A period needs a first and a last day."),
            code="invalid_period",
            fields={name: _("required") for name, day in (("start", start), ("end", end)) if day is None},
        )
    if end < start:
        raise ServiceError(
            _("The period ends (%(end)s) before it starts (%(start)s).")
            % {"start": start.isoformat(), "end": end.isoformat()},
            code="invalid_period",
            fields={"end": _("before the start")},
        )
    if start > timezone.localdate():
        raise ServiceError(
            _("The period starts in the future (%(start)s).") % {"start": start.isoformat()},
            code="invalid_period",
            fields={"start": _("a date in the future")},
        )


def kpi_definitions_in_force(org_unit: OrgUnit, on: dt.date) -> PolicyVersion:
    """The definitions version for the org unit on the day (nearest region, latest effective date)."""
    try:
        return policy_in_force(KPI_DEFINITIONS, org_unit, on)
    except NotFound:
        raise ServiceError(
            _("No KPI definitions are in force on %(date)s.") % {"date": on.isoformat()},
            code="no_kpi_definitions",
            fields={"end": _("no definitions in force")},
        ) from None


def _value(unit: str, numerator: int, denominator: int | None) -> float | int | None:
    if unit == "count":
        return numerator
    if not denominator:
        return None
    if unit == "percent":
        return round(100 * numerator / denominator, 2)
    return round(numerator / denominator, 2)


def kpi_compute(
    org_unit: OrgUnit, start: dt.date, end: dt.date, codes: Iterable[str] | None = None
) -> list[KpiValue]:
    """The KPIs (all, or ``codes`` in definition order) of the org unit with its descendants for the period
    ``[start, end]``, by the definitions in force for the org unit on ``end``. A rate whose denominator is
    zero has the value None. The caller checks that the org unit lies in its user's scope."""
    kpi_period_check(start, end)
    version = kpi_definitions_in_force(org_unit, end)
    definitions = version.payload
    validate_kpi_definitions(definitions)
    ordered = sorted(definitions, key=lambda code: (definitions[code].get("order", 10_000), code))
    wanted = [code for code in dict.fromkeys(codes or ()) if code]
    if wanted:
        unknown = [code for code in wanted if code not in definitions]
        if unknown:
            raise ServiceError(
                _("Unknown KPI %(codes)s; the definitions in force have: %(known)s.")
                % {"codes": ", ".join(unknown), "known": ", ".join(ordered)},
                code="unknown_kpi",
                fields={"codes": _("unknown: %(codes)s") % {"codes": ", ".join(unknown)}},
            )
        ordered = [code for code in ordered if code in wanted]
    region = version.region.code if version.region is not None else None
    counting = Counting(org_unit, start, end)
    values = []
    for code in ordered:
        definition = definitions[code]
        numerator = counting.count(definition["numerator"])
        denominator = counting.count(definition["denominator"]) if definition["unit"] != "count" else None
        values.append(
            KpiValue(
                code=code,
                name_zh=definition["name_zh"],
                name_en=definition["name_en"],
                description=definition.get("description", ""),
                description_zh=definition.get("description_zh", ""),
                unit=definition["unit"],
                value=_value(definition["unit"], numerator, denominator),
                numerator=numerator,
                denominator=denominator,
                target=definition.get("target"),
                direction=definition["direction"],
                org_unit_code=org_unit.code,
                start=start,
                end=end,
                definition_id=version.pk,
                definition_label=version.label,
                definition_effective_from=version.effective_from,
                definition_region=region,
            )
        )
    return values


def kpi_org_unit(user: Any, code: str) -> OrgUnit:
    """The org unit a user asks KPIs for: the role must carry ``people.view_person`` (else Forbidden) and
    the unit must lie in the user's search scope (else NotFound, as for a missing code)."""
    require_permission(user, VIEW_PERSON)
    unit = OrgUnit.objects.filter(code=(code or "").strip()).first()
    if unit is None or not in_roots(unit.pk, search_root_ids(user)):
        raise NotFound()
    return unit
