"""Benchmark: the people registry at city scale on PostgreSQL (issue 3, acceptance point 3).

Run from the repository root (``make bench`` runs it after ``bench_orgtree.py``)::

    .venv/bin/python bench/bench_people.py [--persons N] [--records-per-person M] [--database-url URL]
                                           [--reuse] [--drop] [--batch-size N] [--profile] [--json FILE]

Targets, with 1,000,000 persons and 30,000,000 drug tests and contacts:

- one street's worklist (``GET /api/v1/people/worklist?as_of=<run day>&org_unit=<street>``, end to end
  through the Django test client, as a street-office user whose capture scope is that street): p95 under
  100 ms;
- the nightly evaluation of everyone (``jindu.people.nightly.evaluation_run``): 2,000 persons per second
  or more;
- the person page (``/people/persons/<id>/``): at most 10 queries.

The script creates (or, with ``--reuse``, keeps) a dedicated database (default ``jindu_bench_people``),
migrates it, builds a city (10 districts x 15 streets x 10 communities) and bulk-loads persons,
enrollments, lifecycle events, drug tests, contacts, risk and abstinence assessments with PostgreSQL COPY.
Records are loaded in date order, as a live system would have written them, with secondary indexes and
foreign keys dropped during the load and rebuilt (and validated) before anything is measured. The keys
of the data set live in ``var/bench-people/<database>.keys.json``, kept with the database they belong
to. See ``docs/benchmarks.md`` for the data set and the results.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO / "src"))

from bench_orgtree import machine_info, percentile, postgres_admin_url  # noqa: E402
from benchlib import configure_django, database_exists, key_check, log, recreate_database, server_version  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/jindu_bench_people"
KEY_DIR = REPO / "var" / "bench-people"  # one key file per bench database: <database>.keys.json
SEED = 20261124
DATA_VERSION = 1  # bump when the generator changes, so that --reuse rebuilds an older data set

TARGET_WORKLIST_P95_MS = 100.0
TARGET_PERSONS_PER_SECOND = 2000.0
TARGET_PAGE_QUERIES = 10

# The city: 10 districts x 15 streets x 10 communities (1,662 org units).
DISTRICTS = 10
STREETS_PER_DISTRICT = 15
COMMUNITIES_PER_STREET = 10
PERSONS_PER_WORKER = 30  # the shipped staffing policy: one social worker for 30 persons

# Tables bulk-loaded by the script: secondary indexes and foreign keys are dropped during the load.
LOADED_TABLES = (
    "people_person",
    "people_enrollment",
    "people_enrollmentevent",
    "people_drugtest",
    "people_contact",
    "people_riskassessment",
    "people_abstinenceassessment",
)


# ----------------------------------------------------------------------------------------------------
# The database and its keys.
# ----------------------------------------------------------------------------------------------------


def stored_meta(url: str) -> dict[str, Any] | None:
    """What the last complete load wrote into ``bench_people_meta`` (None when there is none)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT value FROM bench_people_meta WHERE key = 'load' AND value ? 'complete'"
            ).fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


# ----------------------------------------------------------------------------------------------------
# The city and its users.
# ----------------------------------------------------------------------------------------------------


@dataclass
class Community:
    id: int
    code: str
    path: str
    street_code: str
    district_code: str
    workers: list[int] = field(default_factory=list)


def build_city() -> list[Community]:
    """Bulk-insert 1 province, 1 city, 10 districts, 150 streets and 1,500 communities with their paths
    and closure rows (what ``orgunit_create`` writes)."""
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from jindu.core.models import OrgLevel, OrgUnit, OrgUnitClosure

    units: list[OrgUnit] = []
    closure: list[OrgUnitClosure] = []
    communities: list[Community] = []
    next_id = 1

    def add(code: str, name: str, level: str, parent: OrgUnit | None, ancestors: list[int]) -> OrgUnit:
        nonlocal next_id
        unit = OrgUnit(
            id=next_id,
            code=code,
            name=name,
            level=level,
            parent_id=parent.pk if parent else None,
            depth=(parent.depth + 1) if parent else 0,
            path=(parent.path if parent else "") + code + "/",
        )
        next_id += 1
        units.append(unit)
        closure.append(OrgUnitClosure(ancestor_id=unit.pk, descendant_id=unit.pk, distance=0))
        for distance, ancestor_id in enumerate(reversed(ancestors), start=1):
            closure.append(OrgUnitClosure(ancestor_id=ancestor_id, descendant_id=unit.pk, distance=distance))
        return unit

    province = add("330000", "Bench province", OrgLevel.PROVINCE, None, [])
    city = add("330100", "Bench city", OrgLevel.CITY, province, [province.pk])
    for d in range(DISTRICTS):
        d_code = f"3301{d + 2:02d}"
        district = add(d_code, f"District {d}", OrgLevel.DISTRICT, city, [province.pk, city.pk])
        for s in range(STREETS_PER_DISTRICT):
            s_code = f"{d_code}{s + 1:03d}"
            chain = [province.pk, city.pk, district.pk]
            street = add(s_code, f"Street {d}-{s}", OrgLevel.STREET, district, chain)
            for c in range(COMMUNITIES_PER_STREET):
                c_code = f"{s_code}{c + 1:03d}"
                unit = add(c_code, f"Community {d}-{s}-{c}", OrgLevel.COMMUNITY, street, [*chain, street.pk])
                communities.append(Community(unit.pk, c_code, unit.path, s_code, d_code))
    with transaction.atomic():
        OrgUnit.objects.bulk_create(units, batch_size=5000)
        OrgUnitClosure.objects.bulk_create(closure, batch_size=10000)
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [OrgUnit]):
            cursor.execute(statement)
    return communities


def measured_street_codes() -> list[str]:
    """Five streets, one in each of five districts, for the street-office users."""
    return [f"3301{d + 2:02d}{s + 1:03d}" for d, s in ((0, 0), (2, 4), (4, 8), (6, 11), (8, 14))]


def create_users(communities: list[Community], persons: int) -> dict[str, Any]:
    """The measured users through the real account service (street-office users for five streets, one
    social worker), and enough plain worker accounts for every community (one per 30 persons)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from jindu.core.models import User
    from jindu.core.roles import Role
    from jindu.core.testing.helpers import make_user

    street_users = [
        make_user(f"bench_street_{code}", Role.STREET_OFFICE, code) for code in measured_street_codes()
    ]
    worker = make_user("bench_worker", Role.SOCIAL_WORKER, communities[0].code)
    per_community = max(1, round(persons / len(communities) / PERSONS_PER_WORKER))
    now = timezone.now()
    batch = []
    for community in communities:
        for k in range(per_community):
            if community is communities[0] and k == 0:
                continue  # the measured worker is this community's first worker
            batch.append(
                User(
                    username=f"w{community.code}_{k:03d}",
                    password="!",
                    org_unit_id=community.id,
                    org_path=community.path,
                    date_joined=now,
                )
            )
    with transaction.atomic():
        User.objects.bulk_create(batch, batch_size=5000)
    rows = User.objects.filter(username__startswith="w").values_list("pk", "org_unit_id")
    by_unit: dict[int, list[int]] = defaultdict(list)
    for pk, unit_id in rows:
        by_unit[unit_id].append(pk)
    communities[0].workers.append(worker.pk)
    for community in communities:
        community.workers.extend(sorted(by_unit[community.id]))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE core_user")
    return {"street_users": street_users, "worker": worker, "workers_per_community": per_community}


# ----------------------------------------------------------------------------------------------------
# Generated data.
# ----------------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌波辉宁海林峰"
SUBSTANCES = ['["methamphetamine"]', '["heroin"]', '["ketamine"]', '["heroin", "methamphetamine"]', "[]"]
COLORS = (("green", 0.50, 20), ("yellow", 0.30, 40), ("orange", 0.15, 55), ("red", 0.05, 75))
CONTACT_KINDS = (("visit", 0.45), ("talk", 0.40), ("phone", 0.15))


@dataclass
class Segment:
    """A stretch of supervision: tests and contacts of these days belong to this enrollment."""

    enrollment_id: int
    start: int  # ordinal days
    end: int


@dataclass
class PersonPlan:
    id: int
    community: int  # index into the community list
    segments: list[Segment]
    last_activity: int  # ordinal of the last test and contact (lapsed persons stopped earlier)


class Days:
    """ISO strings of ordinal days, precomputed (formatting dates is a large part of generating rows)."""

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        self.text = [dt.date.fromordinal(day).isoformat() for day in range(first, last + 1)]

    def __call__(self, ordinal: int) -> str:
        return self.text[ordinal - self.first]


def pick(
    rng: random.Random, weighted: tuple[tuple[Any, float], ...] | tuple[tuple[Any, float, int], ...]
) -> Any:
    roll = rng.random()
    for entry in weighted:
        roll -= entry[1]
        if roll <= 0:
            return entry
    return weighted[-1]


class Loader:
    """Generates the data set and COPYs it in: persons and enrollments first (explicit ids), then events,
    tests, contacts and assessments through unlogged staging tables, inserted in date order."""

    def __init__(
        self, conn: Any, communities: list[Community], persons: int, per_person: int, today: dt.date
    ):
        from jindu.people.models import Person

        self.conn = conn
        self.communities = communities
        self.persons = persons
        self.per_person = per_person
        self.today = today
        self.T = today.toordinal()
        self.days = Days(dt.date(1955, 1, 1).toordinal(), self.T + 4 * 366)
        self.rng = random.Random(SEED)
        self.plans: list[PersonPlan] = []
        self.counts: Counter[str] = Counter()
        self.person_field = {name: Person._meta.get_field(name) for name in ("id_number", "name", "phone")}
        self.index_field = {
            name: Person._meta.get_field(f"{name}_index") for name in ("id_number", "name", "phone")
        }
        self.stamp = f"{today.isoformat()} 08:00:00+08"

    # -- helpers ------------------------------------------------------------------------------------

    def encrypt(self, field_name: str, value: str) -> tuple[str, str]:
        """Ciphertext and blind index exactly as the model fields compute them on save."""
        return self.person_field[field_name].get_prep_value(value), self.index_field[field_name].compute(
            value
        )

    def copy(self, table: str, columns: list[str], rows: Iterator[str]) -> int:
        """COPY text rows (tab-separated, newline-terminated) into ``table``, in chunks of about 4 MB."""
        count = 0
        with (
            self.conn.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            buffer: list[str] = []
            size = 0
            for row in rows:
                buffer.append(row)
                size += len(row)
                count += 1
                if size > 4_000_000:
                    copy.write("".join(buffer))
                    buffer, size = [], 0
            if buffer:
                copy.write("".join(buffer))
        return count

    # -- persons and enrollments -------------------------------------------------------------------

    def pools(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        rng = random.Random(SEED + 1)
        names = set()
        while len(names) < 3000:
            names.add(rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))))
        name_pool = [self.encrypt("name", name) for name in sorted(names)]
        phone_pool = [
            self.encrypt("phone", f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}")
            for _ in range(3000)
        ]
        return name_pool, phone_pool

    def person_and_enrollment_rows(self) -> tuple[list[str], list[str], list[str], list[str]]:
        """Generate every person's story; return the COPY rows of persons, enrollments, events and
        abstinence assessments, and remember each person's supervised segments for the records."""
        from jindu.core.validators import id_number_check_char
        from jindu.people.evaluation import add_months

        rng, T, day = self.rng, self.T, self.days
        name_pool, phone_pool = self.pools()
        stamp = self.stamp
        persons: list[str] = []
        enrollments: list[str] = []
        events: list[str] = []
        abstinence: list[str] = []
        birth_base = dt.date(1962, 1, 1).toordinal()
        enrollment_id = 0
        communities = self.communities
        N = "\\N"  # COPY's NULL

        def months_after(ordinal: int, months: int) -> int:
            return add_months(dt.date.fromordinal(ordinal), months).toordinal()

        def enrollment(
            person_id: int,
            unit: Community,
            measure: str,
            status: str,
            decided: int,
            reported: int | None,
            term: int | None,
            ended: int | None = None,
            end_reason: str = "",
            transfer_deadline: int | None = None,
        ) -> int:
            nonlocal enrollment_id
            enrollment_id += 1
            term_end = months_after(reported, term) if reported is not None and term else None
            deadline = decided + 15 if measure != "social_control" else decided
            enrollments.append(
                f"{enrollment_id}\t{unit.path}\t{day(decided)} 09:00:00+08\t{stamp}\t{measure}\t{status}\t"
                f"{day(decided)}\t{day(deadline)}\t{day(reported) if reported else N}\t"
                f"{day(reported) if reported else N}\t{day(term_end) if term_end else N}\t"
                f"{day(ended) if ended else N}\t{unit.id}\t{person_id}\t{end_reason}\tf\t"
                f"{term if term else N}\t{day(transfer_deadline) if transfer_deadline else N}\n"
            )
            self.counts["enrollments"] += 1
            return enrollment_id

        def event(
            person_id: int, unit: Community, enrolled: int, kind: str, when: int, detail: str = "{}"
        ) -> None:
            events.append(f"{person_id}\t{enrolled}\t{unit.id}\t{kind}\t{day(when)}\t{detail}\n")
            self.counts["events"] += 1

        for person_id in range(1, self.persons + 1):
            unit_index = rng.randrange(len(communities))
            unit = communities[unit_index]
            k = person_id - 1
            birth = birth_base + k % 15000
            first17 = f"{unit.district_code}{dt.date.fromordinal(birth):%Y%m%d}{(k // 15000) % 1000:03d}"
            id_number = first17 + id_number_check_char(first17)
            id_cipher, id_index = self.encrypt("id_number", id_number)
            name_cipher, name_index = name_pool[rng.randrange(len(name_pool))]
            phone_cipher, phone_index = (
                phone_pool[rng.randrange(len(phone_pool))] if rng.random() < 0.9 else ("", "")
            )
            worker = unit.workers[rng.randrange(len(unit.workers))] if rng.random() < 0.92 else None
            segments: list[Segment] = []
            last_activity = T - rng.randint(0, 25)
            lapsed = rng.random() < 0.08  # stopped reporting for tests and contacts: overdue, maybe 脱管
            if lapsed:
                last_activity = T - rng.randint(20, 200)
            roll = rng.random()
            treatment = "community_treatment" if rng.random() < 0.55 else "community_rehabilitation"
            if roll < 0.62:  # under a treatment measure, reported within the last three years
                decided = T - rng.randint(16, 1125)
                reported = min(T, decided + rng.randint(0, 10))
                variant = rng.random()
                status, transfer_deadline = "in_progress", None
                suspended_on = resumed_on = transfer_on = None
                if variant < 0.03:
                    suspended_on = rng.randint(reported, T)
                    resumed_on = suspended_on + rng.randint(10, 120)
                    if resumed_on > T:
                        status, resumed_on = "suspended", None
                        last_activity = min(last_activity, suspended_on)
                elif variant < 0.05:
                    transfer_on = rng.randint(max(reported, T - 30), T)
                    status, transfer_deadline = "transferring", transfer_on + 15
                eid = enrollment(
                    person_id,
                    unit,
                    treatment,
                    status,
                    decided,
                    reported,
                    36,
                    transfer_deadline=transfer_deadline,
                )
                event(person_id, unit, eid, "decided", decided)
                event(person_id, unit, eid, "reported", reported)
                event(person_id, unit, eid, "agreement", reported)
                if suspended_on is not None:
                    event(person_id, unit, eid, "suspended", suspended_on, '{"reason": "detained"}')
                    if resumed_on is not None:
                        event(person_id, unit, eid, "resumed", resumed_on)
                if transfer_on is not None:
                    event(person_id, unit, eid, "transfer_out", transfer_on, '{"from": "bench"}')
                segments.append(Segment(eid, reported, T))
                control, since = "under_measure", decided
            elif roll < 0.65:  # decided, awaiting 报到 (some already past the 15-day deadline)
                decided = T - rng.randint(0, 25)
                eid = enrollment(person_id, unit, treatment, "decided", decided, None, 36)
                event(person_id, unit, eid, "decided", decided)
                control, since = "under_measure", decided
            elif roll < 0.93:  # released at term end, now under 社会面管控; or 戒断三年 confirmed
                confirmed = roll >= 0.87
                reported = T - rng.randint(
                    3 * 365 + 90 if confirmed else 3 * 365 + 1, 9 * 365 if confirmed else 8 * 365
                )
                decided = reported - rng.randint(0, 10)
                released = months_after(reported, 36)
                first = enrollment(
                    person_id, unit, treatment, "released", decided, reported, 36, ended=released
                )
                for kind, when in (("decided", decided), ("reported", reported), ("agreement", reported)):
                    event(person_id, unit, first, kind, when)
                event(person_id, unit, first, "released", released)
                if confirmed and months_after(released, 36) + 60 <= T:
                    assessed = months_after(released, 36) + rng.randint(0, 60)
                    social = enrollment(
                        person_id,
                        unit,
                        "social_control",
                        "released",
                        released,
                        released,
                        None,
                        ended=assessed,
                        end_reason="abstinent_3y",
                    )
                    event(person_id, unit, social, "decided", released, f'{{"after": {first}}}')
                    abstinence.append(
                        f"{unit.path}\t{day(assessed)} 10:00:00+08\t{stamp}\tf\t{day(assessed)}\tabstinent_3y\t"
                        f"{day(released)}\t\t{unit.id}\t{person_id}\t{{abstinence_policy}}\n"
                    )
                    self.counts["abstinence_assessments"] += 1
                    segments += [Segment(first, reported, released), Segment(social, released, assessed)]
                    last_activity = assessed - rng.randint(0, 20)
                    control, since = "abstinent_3y", assessed
                else:
                    social = enrollment(
                        person_id, unit, "social_control", "in_progress", released, released, None
                    )
                    event(person_id, unit, social, "decided", released, f'{{"after": {first}}}')
                    segments += [Segment(first, reported, released), Segment(social, released, T)]
                    control, since = "social_control", released
            elif roll < 0.97:  # referred to the police, or terminated
                decided = T - rng.randint(60, 2000)
                reported = decided + rng.randint(0, 10)
                ended = min(T - 1, reported + rng.randint(30, 900))
                status = "referred" if rng.random() < 0.6 else "terminated"
                eid = enrollment(
                    person_id, unit, treatment, status, decided, reported, 36, ended=ended, end_reason="bench"
                )
                for kind, when in (("decided", decided), ("reported", reported), ("agreement", reported)):
                    event(person_id, unit, eid, kind, when)
                event(person_id, unit, eid, status, ended)
                segments.append(Segment(eid, reported, ended))
                last_activity = ended - rng.randint(0, 20)
                control, since = ("referred" if status == "referred" else "ended"), ended
            else:  # registered, no measure yet
                control, since = "registered", T - rng.randint(0, 300)
            first_found = min(since, segments[0].start if segments else since) - rng.randint(0, 1500)
            persons.append(
                f"{person_id}\t{unit.path}\t{day(first_found)} 09:00:00+08\t{stamp}\t{id_cipher}\t{id_index}\t"
                f"{name_cipher}\t{name_index}\t{'male' if int(id_number[16]) % 2 else 'female'}\t"
                f"{day(birth)}\t{phone_cipher}\t{phone_index}\t{day(first_found)}\t"
                f"{SUBSTANCES[rng.randrange(len(SUBSTANCES))]}\t{unit.id}\t{worker if worker else N}\t"
                f"{control}\t{day(since)}\tf\n"
            )
            self.plans.append(PersonPlan(person_id, unit_index, segments, last_activity))
        self.counts["persons"] = self.persons
        return persons, enrollments, events, abstinence

    # -- tests, contacts and risk assessments ------------------------------------------------------

    def record_rows(self, which: str) -> Iterator[str]:
        """Drug tests (``which='tests'``) or contacts, spread over each person's supervised days: the
        number per person is proportional to the days supervised, scaled to the requested average; the
        last one lies near the person's last activity (recent for most, weeks or months ago for the
        lapsed)."""
        rng = random.Random(SEED + (2 if which == "tests" else 3))
        day = self.days
        supervised = sum(sum(s.end - s.start for s in plan.segments) for plan in self.plans) or 1
        share = 0.5
        factor = self.per_person * self.persons * share / supervised
        communities = self.communities
        for plan in self.plans:
            if not plan.segments:
                continue
            start = plan.segments[0].start
            last = max(start, min(plan.last_activity, plan.segments[-1].end))
            span = sum(s.end - s.start for s in plan.segments)
            n = max(1, round(span * factor * (0.6 + 0.8 * rng.random())))
            unit_id = communities[plan.community].id
            step = (last - start) / n
            segments = plan.segments
            for j in range(n):
                when = last if j == n - 1 else start + int((j + rng.random()) * step)
                segment = segments[0]
                for candidate in segments:
                    if candidate.start <= when <= candidate.end:
                        segment = candidate
                        break
                head = f"{plan.id}\t{segment.enrollment_id}\t{unit_id}\t"
                if which == "tests":
                    kind = "hair" if rng.random() < 0.03 else "urine"
                    result = "positive" if rng.random() < 0.005 else "negative"
                    yield f"{head}{kind}\t{day(when)}\t{result}\t{'t' if rng.random() < 0.1 else 'f'}\n"
                else:
                    roll = rng.random()
                    kind = "visit" if roll < 0.45 else "talk" if roll < 0.85 else "phone"
                    yield f"{head}{kind}\t{day(when)}\n"

    def risk_rows(self) -> Iterator[str]:
        """An intake grading for most supervised persons, then one about every six months."""
        rng = random.Random(SEED + 4)
        day, T = self.days, self.T
        communities = self.communities
        for plan in self.plans:
            if not plan.segments or rng.random() > 0.85:
                continue
            unit_id = communities[plan.community].id
            when = plan.segments[0].start + rng.randint(0, 14)
            trigger = "intake"
            end = min(T, plan.segments[-1].end)
            while when <= end:
                color, _share, total = pick(rng, COLORS)
                yield f"{plan.id}\t{unit_id}\t{day(when)}\t{total + rng.randint(0, 9)}\t{color}\t{trigger}\n"
                trigger = "scheduled"
                when += rng.randint(150, 240)
                if rng.random() < 0.25:
                    break

    # -- the load ------------------------------------------------------------------------------------

    def stage(self, name: str, columns: str) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE UNLOGGED TABLE {name} ({columns})")

    def run(self, log: Callable[[str], None]) -> dict[str, float]:
        from jindu.people.policies import ABSTINENCE_POLICY, RISK_INSTRUMENT

        seconds: dict[str, float] = {}
        with self.conn.cursor() as cursor:
            policies = dict(
                cursor.execute(
                    "SELECT kind, id FROM core_policyversion WHERE kind IN (%s, %s) AND region_id IS NULL",
                    [ABSTINENCE_POLICY, RISK_INSTRUMENT],
                ).fetchall()
            )
        started = time.perf_counter()
        persons, enrollments, events, abstinence = self.person_and_enrollment_rows()
        seconds["generate persons"] = time.perf_counter() - started
        log(
            f"generated {len(persons):,} persons, {len(enrollments):,} enrollments in {seconds['generate persons']:.0f} s"
        )

        t0 = time.perf_counter()
        self.copy(
            "people_person",
            [
                "id",
                "org_path",
                "created",
                "last_updated",
                "id_number",
                "id_number_index",
                "name",
                "name_index",
                "sex",
                "birth_date",
                "phone",
                "phone_index",
                "first_found_date",
                "substances",
                "org_unit_id",
                "assigned_worker_id",
                "control_status",
                "control_status_since",
                "sealed",
            ],
            iter(persons),
        )
        self.copy(
            "people_enrollment",
            [
                "id",
                "org_path",
                "created",
                "last_updated",
                "measure",
                "status",
                "decision_date",
                "report_deadline",
                "reported_on",
                "agreement_signed_on",
                "term_end",
                "ended_on",
                "org_unit_id",
                "person_id",
                "end_reason",
                "sealed",
                "term_months",
                "transfer_deadline",
            ],
            iter(enrollments),
        )
        abstinence_policy = str(policies[ABSTINENCE_POLICY])
        self.copy(
            "people_abstinenceassessment",
            [
                "org_path",
                "created",
                "last_updated",
                "sealed",
                "date",
                "outcome",
                "anchor",
                "note",
                "org_unit_id",
                "person_id",
                "policy_id",
            ],
            (row.replace("{abstinence_policy}", abstinence_policy) for row in abstinence),
        )
        with self.conn.cursor() as cursor:
            for table in ("people_person", "people_enrollment"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        self.conn.commit()
        del persons, enrollments, abstinence
        seconds["copy persons"] = time.perf_counter() - t0
        log(f"copied persons and enrollments in {seconds['copy persons']:.0f} s")

        self.stage(
            "bench_stage_event",
            "person_id bigint, enrollment_id bigint, org_unit_id bigint, kind text, d date, detail text",
        )
        self.stage(
            "bench_stage_test",
            "person_id bigint, enrollment_id bigint, org_unit_id bigint, kind text, d date, result text, "
            "is_random boolean",
        )
        self.stage(
            "bench_stage_contact",
            "person_id bigint, enrollment_id bigint, org_unit_id bigint, kind text, d date",
        )
        self.stage(
            "bench_stage_risk",
            "person_id bigint, org_unit_id bigint, d date, total int, color text, trigger text",
        )
        t0 = time.perf_counter()
        self.copy(
            "bench_stage_event",
            ["person_id", "enrollment_id", "org_unit_id", "kind", "d", "detail"],
            iter(events),
        )
        del events
        self.counts["tests"] = self.copy(
            "bench_stage_test",
            ["person_id", "enrollment_id", "org_unit_id", "kind", "d", "result", "is_random"],
            self.record_rows("tests"),
        )
        log(f"staged {self.counts['tests']:,} tests")
        self.counts["contacts"] = self.copy(
            "bench_stage_contact",
            ["person_id", "enrollment_id", "org_unit_id", "kind", "d"],
            self.record_rows("contacts"),
        )
        log(f"staged {self.counts['contacts']:,} contacts")
        self.counts["risk_assessments"] = self.copy(
            "bench_stage_risk",
            ["person_id", "org_unit_id", "d", "total", "color", "trigger"],
            self.risk_rows(),
        )
        self.conn.commit()
        seconds["generate and stage records"] = time.perf_counter() - t0
        log(f"generated and staged the records in {seconds['generate and stage records']:.0f} s")

        # Into the real tables in date order, as a live system writes them (a person's records are spread
        # over the whole table, not side by side); org_path from the owning unit, as save() would.
        t0 = time.perf_counter()
        inserts = {
            "people_enrollmentevent": (
                "org_path, created, last_updated, sealed, kind, date, end_date, detail, enrollment_id, "
                "org_unit_id, person_id, recorded_by_id",
                "u.path, s.d + time '10:00', s.d + time '10:00', false, s.kind, s.d, NULL, s.detail::jsonb, "
                "s.enrollment_id, s.org_unit_id, s.person_id, NULL",
                "bench_stage_event",
            ),
            "people_drugtest": (
                "org_path, created, last_updated, sealed, kind, sample_date, result, substances, is_random, "
                "tester, org_unit_id, recorded_by_id, enrollment_id, person_id",
                "u.path, s.d + time '11:00', s.d + time '11:00', false, s.kind, s.d, s.result, "
                "CASE WHEN s.result = 'positive' THEN '[\"methamphetamine\"]'::jsonb ELSE '[]'::jsonb END, "
                "s.is_random, '', s.org_unit_id, NULL, s.enrollment_id, s.person_id",
                "bench_stage_test",
            ),
            "people_contact": (
                "org_path, created, last_updated, sealed, kind, date, note, org_unit_id, recorded_by_id, "
                "enrollment_id, person_id",
                "u.path, s.d + time '15:00', s.d + time '15:00', false, s.kind, s.d, '', s.org_unit_id, NULL, "
                "s.enrollment_id, s.person_id",
                "bench_stage_contact",
            ),
            "people_riskassessment": (
                "org_path, created, last_updated, sealed, date, factor_scores, total, suggested_color, "
                "final_color, override_reason, trigger, assessor_id, instrument_id, org_unit_id, person_id",
                f"u.path, s.d + time '16:00', s.d + time '16:00', false, s.d, '{{}}'::jsonb, s.total, s.color, "
                f"s.color, '', s.trigger, NULL, {policies[RISK_INSTRUMENT]}, s.org_unit_id, s.person_id",
                "bench_stage_risk",
            ),
        }
        with self.conn.cursor() as cursor:
            for table, (columns, expressions, source) in inserts.items():
                t1 = time.perf_counter()
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {expressions} FROM {source} s "
                    f"JOIN core_orgunit u ON u.id = s.org_unit_id ORDER BY s.d"
                )
                inserted = cursor.rowcount
                self.conn.commit()
                cursor.execute(f"DROP TABLE {source}")
                self.conn.commit()
                log(f"{table}: {inserted:,} rows in date order in {time.perf_counter() - t1:.0f} s")
        seconds["insert in date order"] = time.perf_counter() - t0
        return seconds


# ----------------------------------------------------------------------------------------------------
# Secondary indexes and foreign keys around the load.
# ----------------------------------------------------------------------------------------------------


def drop_secondary(conn: Any) -> dict[str, list[tuple[str, str]]]:
    """Drop the secondary indexes (not the primary keys, not unique constraints) and the foreign keys of
    the loaded tables; return their definitions to rebuild them."""
    saved: dict[str, list[tuple[str, str]]] = {"indexes": [], "foreign_keys": []}
    with conn.cursor() as cursor:
        for table in LOADED_TABLES:
            for name, definition in cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'f'",
                [table],
            ).fetchall():
                saved["foreign_keys"].append(
                    (table, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                )
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, definition in cursor.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = %s::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
                [table],
            ).fetchall():
                saved["indexes"].append((name, definition))
                cursor.execute(f'DROP INDEX "{name}"')
    conn.commit()
    return saved


def rebuild_secondary(conn: Any, saved: dict[str, list[tuple[str, str]]], log: Callable[[str], None]) -> None:
    with conn.cursor() as cursor:
        for name, definition in saved["indexes"]:
            t0 = time.perf_counter()
            cursor.execute(definition)
            conn.commit()
            if time.perf_counter() - t0 > 5:
                log(f"index {name}: {time.perf_counter() - t0:.0f} s")
        for _table, statement in saved["foreign_keys"]:
            cursor.execute(statement)  # validates every row against the referenced table
            conn.commit()


def verify_schema(conn: Any) -> None:
    """Every index and foreign key Django's migrations define is back (compared with a fresh migrate)."""
    with conn.cursor() as cursor:
        missing = cursor.execute("SELECT value FROM bench_people_meta WHERE key = 'schema'").fetchone()[0]
        present = {
            row[0]
            for row in cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s) "
                "UNION SELECT conname FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s)",
                [list(LOADED_TABLES), list(LOADED_TABLES)],
            ).fetchall()
        }
    lost = sorted(set(missing) - present)
    if lost:
        raise SystemExit(f"indexes or constraints missing after the load: {lost}")


# ----------------------------------------------------------------------------------------------------
# Loading everything.
# ----------------------------------------------------------------------------------------------------


def load(url: str, persons: int, per_person: int, log: Callable[[str], None]) -> dict[str, Any]:
    import psycopg
    from django.core.management import call_command
    from django.utils import timezone

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    log(f"migrated in {time.perf_counter() - started:.0f} s")
    with psycopg.connect(url) as conn:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS bench_people_meta (key text PRIMARY KEY, value jsonb)")
            names = [
                row[0]
                for row in cursor.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s) "
                    "UNION SELECT conname FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s)",
                    [list(LOADED_TABLES), list(LOADED_TABLES)],
                ).fetchall()
            ]
            cursor.execute("INSERT INTO bench_people_meta VALUES ('schema', %s)", [json.dumps(sorted(names))])
        conn.commit()
    t0 = time.perf_counter()
    communities = build_city()
    users = create_users(communities, persons)
    log(
        f"city: {len(communities)} communities; {users['workers_per_community']} worker(s) per community; "
        f"in {time.perf_counter() - t0:.0f} s"
    )
    today = timezone.localdate()
    with psycopg.connect(url) as conn:
        with conn.cursor() as cursor:
            # Session settings for the load only (the server keeps its default configuration).
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute("SET work_mem = '512MB'")
            cursor.execute("SET max_parallel_maintenance_workers = 1")
            cursor.execute("SET TimeZone = 'Asia/Shanghai'")
        saved = drop_secondary(conn)
        loader = Loader(conn, communities, persons, per_person, today)
        seconds = loader.run(log)
        t0 = time.perf_counter()
        rebuild_secondary(conn, saved, log)
        seconds["indexes and foreign keys"] = time.perf_counter() - t0
        log(
            f"rebuilt {len(saved['indexes'])} indexes and {len(saved['foreign_keys'])} foreign keys in "
            f"{seconds['indexes and foreign keys']:.0f} s"
        )
        verify_schema(conn)
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    seconds["vacuum analyze"] = time.perf_counter() - t0
    log(f"VACUUM ANALYZE in {seconds['vacuum analyze']:.0f} s")
    meta = {
        "complete": True,
        "version": DATA_VERSION,
        "persons": persons,
        "records_per_person": per_person,
        "loaded_on": today.isoformat(),
        "load_seconds": time.perf_counter() - started,
        "seconds": seconds,
        "counts": dict(loader.counts),
        "communities": len(communities),
        "workers_per_community": users["workers_per_community"],
        "key_check": key_check("bench-people"),
    }
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO bench_people_meta VALUES ('load', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [json.dumps(meta)],
        )
    return meta


# ----------------------------------------------------------------------------------------------------
# Measurements.
# ----------------------------------------------------------------------------------------------------


class SqlTimer:
    """``connection.execute_wrapper``: time spent in the database (execute, incl. transfer) per statement
    kind and table."""

    PATTERN = re.compile(r'^\s*(SELECT|INSERT|UPDATE|DELETE)\b.*?\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.S)

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        match = self.PATTERN.match(sql)
        key = f"{match.group(1)} {match.group(2)}" if match else sql.split(None, 1)[0].upper()
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[key] += time.perf_counter() - start
            self.calls[key] += 1


@dataclass
class Timers:
    seconds: Counter[str] = field(default_factory=Counter)

    def wrap(self, module: Any, name: str, label: str) -> Callable[[], None]:
        original = getattr(module, name, None)
        if original is None:  # renamed in the code under test: no split for this part
            return lambda: None

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        setattr(module, name, timed)
        return lambda: setattr(module, name, original)


class CpuClock:
    """CPU seconds used by this process and by its PostgreSQL backend (read from /proc: the server runs
    on the same machine). On a shared machine wall-clock figures include waiting for a core; the CPU
    figures do not, and their sum estimates the wall-clock time on an idle machine (the nightly alternates
    between Python and the database, it does not overlap them)."""

    def __init__(self) -> None:
        from django.db import connection

        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.pid = cursor.fetchone()[0]
        self.python = time.process_time()
        self.backend = self.backend_seconds()

    def backend_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def read(self) -> dict[str, float | None]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            same = cursor.fetchone()[0] == self.pid
        now = self.backend_seconds() if same else None
        return {
            "python_cpu": time.process_time() - self.python,
            "postgres_cpu": now - self.backend if now is not None and self.backend is not None else None,
        }


def run_nightly(day: dt.date, batch_size: int | None) -> dict[str, Any]:
    """``evaluation_run(day)`` with its time split: facts loading, the pure evaluation, storing, alerts;
    the time spent inside the database per statement; and the CPU time of Python and of PostgreSQL."""
    from django.db import connection

    from jindu.people import evaluation, nightly

    timers = Timers()
    restore = [
        timers.wrap(evaluation, "load_facts", "load facts (8 queries per batch)"),
        timers.wrap(evaluation, "evaluate", "evaluate (pure Python)"),
        timers.wrap(nightly, "_store", "store state, items, snapshots"),
        timers.wrap(nightly, "_sync_lost_contact_alerts", "脱管 alerts"),
        timers.wrap(nightly, "_sync_control_status", "control status sync"),
    ]
    sql = SqlTimer()
    clock = CpuClock()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        with connection.execute_wrapper(sql):
            run = nightly.evaluation_run(as_of=day, batch_size=batch_size or nightly.BATCH_SIZE)
    finally:
        for undo in restore:
            undo()
    seconds = time.perf_counter() - start
    cpu = clock.read()
    cpu_total = cpu["python_cpu"] + (cpu["postgres_cpu"] or 0.0)
    split = dict(timers.seconds)
    split["other (batch persons, commit, cleanup)"] = seconds - sum(timers.seconds.values())
    return {
        "day": day.isoformat(),
        "persons": run.persons,
        "items": run.items,
        "alerts_raised": run.alerts_raised,
        "seconds": seconds,
        "persons_per_second": run.persons / seconds if seconds else 0.0,
        "batch_size": batch_size or nightly.BATCH_SIZE,
        "split": split,
        "sql_seconds": dict(sql.seconds.most_common()),
        "sql_calls": dict(sql.calls),
        **cpu,
        "persons_per_cpu_second": run.persons / cpu_total if cpu_total else 0.0,
        "loadavg": [load_before, os.getloadavg()[0]],
    }


def profile_nightly(day: dt.date, batch_size: int | None, batches: int) -> dict[str, Any]:
    """cProfile over a few batches of ``evaluate_and_store`` (the nightly's unit of work)."""
    from jindu.people.models import Person
    from jindu.people.nightly import BATCH_SIZE, evaluate_and_store
    from jindu.people.policies import PolicyBook

    batch_size = batch_size or BATCH_SIZE
    ids = list(
        Person.objects.filter(sealed=False)
        .order_by("pk")
        .values_list("pk", flat=True)[: batch_size * batches]
    )
    book = PolicyBook()
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for offset in range(0, len(ids), batch_size):
        evaluate_and_store(ids[offset : offset + batch_size], day, book, snapshots=True, alerts=True)
    profiler.disable()
    seconds = time.perf_counter() - start
    report = {}
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
        report[order] = out.getvalue()
    return {"persons": len(ids), "seconds": seconds, "report": report}


def timed_requests(
    client: Any, urls: list[str], repeat: int, warmup: int, check: Callable[[Any], None]
) -> list[float]:
    samples = []
    for index in range(warmup + repeat):
        url = urls[index % len(urls)]
        start = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - start) * 1000
        check(response)
        if index >= warmup:
            samples.append(elapsed)
    return sorted(samples)


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
        "max": samples[-1],
    }


# Where each statement of a request comes from, by the table it reads or writes first.
TABLE_AREAS = {
    "django_session": "session and login",
    "core_apitoken": "session and login",
    "core_userrole": "session and login",
    "core_auditrecord": "audit record",
    "core_orgunit": "org units and scope checks",
    "core_orgunitclosure": "org units and scope checks",
    "core_policyversion": "evaluation (policies, facts)",
    "people_worklistitem": "worklist",
    "people_evaluationrun": "worklist",
    "people_helpmeasure": "casework and documents panels",
    "people_workerassignment": "casework and documents panels",
    "people_casedocument": "casework and documents panels",
}
FACT_TABLES = {
    "people_enrollment",
    "people_enrollmentevent",
    "people_drugtest",
    "people_contact",
    "people_seizure",
    "people_violation",
    "people_riskassessment",
    "people_abstinenceassessment",
}
MAIN_TABLE = re.compile(r'^(?:SELECT .*?\bFROM|INSERT INTO|UPDATE|DELETE FROM)\s+"(\w+)"', re.S)


def query_area(sql: str, previous: str) -> str:
    if re.match(r"(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", sql):
        return "transaction control"
    if "pg_advisory_xact_lock" in sql:
        return "audit record"
    match = MAIN_TABLE.match(sql)
    table = match.group(1) if match else ""
    if table == "core_user":
        # The user read right after the session or token is the login; others are other users.
        return "session and login" if previous == "session and login" else "users"
    if table == "people_person":
        return (
            "evaluation (policies, facts)" if ' AS "pk"' in sql.split("FROM", 1)[0] else "the person record"
        )
    if table in FACT_TABLES:
        return "evaluation (policies, facts)"
    return TABLE_AREAS.get(table, "other")


def query_areas(statements: list[str]) -> dict[str, int]:
    """How many statements of a request each area issued."""
    areas: Counter[str] = Counter()
    previous = ""
    for sql in statements:
        previous = query_area(sql, previous)
        areas[previous] += 1
    return dict(areas)


def count_queries(client: Any, url: str) -> tuple[int, list[str], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    return (
        len(context.captured_queries),
        [query["sql"] for query in context.captured_queries],
        response.status_code,
    )


def measure_requests(day: dt.date, repeat: int) -> dict[str, Any]:
    from django.db.models import Count
    from django.test import Client

    from jindu.core.accounts import token_issue
    from jindu.core.models import OrgUnit, User
    from jindu.people.models import DrugTest, Person, PersonState, WorklistItem

    host = {"HTTP_HOST": "localhost"}
    results: dict[str, Any] = {}
    street_users = list(User.objects.filter(username__startswith="bench_street_").order_by("username"))
    worker = User.objects.get(username="bench_worker")

    def api_client(user: Any) -> Client:
        raw, _token = token_issue(user=user)
        return Client(headers={"Authorization": f"Bearer {raw}"}, **host)

    def ok_page(response: Any) -> None:
        if response.status_code != 200:
            raise SystemExit(f"worklist answered {response.status_code}: {response.content[:300]!r}")
        body = response.json()
        if not body["items"]:
            raise SystemExit("the worklist page is empty: nothing to measure")

    # One street's worklist: a street-office user per street, each asking for their own street.
    street_samples: list[float] = []
    street_sizes = {}
    queries = None
    for user in street_users:
        code = user.username.removeprefix("bench_street_")
        client = api_client(user)
        url = f"/api/v1/people/worklist?as_of={day.isoformat()}&org_unit={code}"
        street_samples += timed_requests(client, [url], max(1, repeat // len(street_users)), 3, ok_page)
        unit = OrgUnit.objects.get(code=code)
        street_sizes[code] = {
            "persons": Person.objects.filter(org_path__startswith=unit.path).count(),
            "items": WorklistItem.objects.filter(org_path__startswith=unit.path, as_of=day).count(),
        }
        if queries is None:
            queries, street_sql, _status = count_queries(client, url)
    results["worklist_street"] = summary(sorted(street_samples)) | {
        "queries": queries,
        "sql": street_sql,
        "areas": query_areas(street_sql),
        "streets": street_sizes,
    }

    # The worker's own list (worker=me), first page.
    client = api_client(worker)
    url = f"/api/v1/people/worklist?as_of={day.isoformat()}&worker=me"
    samples = timed_requests(client, [url], repeat, 3, ok_page)
    results["worklist_worker"] = summary(samples) | {
        "queries": count_queries(client, url)[0],
        "persons": Person.objects.filter(assigned_worker=worker).count(),
        "items": WorklistItem.objects.filter(worker=worker, as_of=day).count(),
    }

    # The person page: a person of the worker's community under a treatment measure, the one with the
    # most tests among the first 200 (the page's queries do not depend on it; its time does, a little).
    candidates = list(
        PersonState.objects.filter(
            worker=worker, control_status="under_measure", phase__isnull=False
        ).values_list("person_id", flat=True)[:200]
    )
    counts = dict(
        DrugTest.objects.filter(person_id__in=candidates)
        .values_list("person_id")
        .annotate(n=Count("id"))
        .values_list("person_id", "n")
    )
    person_id = max(candidates, key=lambda pk: counts.get(pk, 0)) if candidates else Person.objects.first().pk
    page = f"/people/persons/{person_id}/"
    for label, user in (("street", street_users[0]), ("worker", worker)):
        ui = Client(**host)
        ui.force_login(user, backend="jindu.core.auth.JinduModelBackend")

        def ok_html(response: Any, label: str = label) -> None:
            if response.status_code != 200:
                raise SystemExit(f"the person page answered {response.status_code} to {label}")

        samples = timed_requests(ui, [page], max(10, repeat // 2), 3, ok_html)
        number, sql, status = count_queries(ui, page)
        areas = query_areas(sql)
        results[f"person_page_{label}"] = summary(samples) | {
            "queries": number,
            # BEGIN/COMMIT (of the audit record's transaction) are transaction control, not queries;
            # CaptureQueriesContext and assert_max_queries count them too.
            "queries_without_transaction_control": number - areas.get("transaction control", 0),
            "sql": sql,
            "areas": areas,
            "status": status,
            "person": person_id,
            "tests": counts.get(person_id, 0),
        }
    return results


def table_counts() -> dict[str, int]:
    from django.db import connection

    tables = [
        "people_person",
        "people_enrollment",
        "people_enrollmentevent",
        "people_drugtest",
        "people_contact",
        "people_riskassessment",
        "people_abstinenceassessment",
        "people_personstate",
        "people_worklistitem",
        "people_compliancesnapshot",
        "people_alert",
        "core_orgunit",
        "core_user",
    ]
    counts = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        counts["database_bytes"] = cursor.fetchone()[0]
    return counts


# ----------------------------------------------------------------------------------------------------
# Main.
# ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    args = parse_args(argv)
    machine = machine_info()
    admin_url, name = postgres_admin_url(args.database_url)
    try:
        machine["postgresql"] = server_version(admin_url)
    except Exception as error:  # noqa: BLE001 - every connection problem is reported the same way
        print(f"PostgreSQL is unreachable at {args.database_url}: {error}", file=sys.stderr)
        return 2
    print(
        f"Jindu people benchmark: {args.persons:,} persons, {args.records_per_person} tests and contacts per "
        f"person\nMachine: {machine['cpus']} CPUs, {machine['cpu_model']}, {machine['memory']} RAM, "
        f"{machine['os']}\nPython {machine['python']}, PostgreSQL {machine['postgresql']}"
    )

    key_file = KEY_DIR / f"{name}.keys.json"
    meta = stored_meta(args.database_url) if args.reuse and database_exists(admin_url, name) else None
    reuse = (
        meta is not None
        and meta.get("version") == DATA_VERSION
        and meta.get("persons") == args.persons
        and meta.get("records_per_person") == args.records_per_person
        and key_file.is_file()
    )
    if not reuse:
        log(f"creating the database {name} and its keys")
        recreate_database(admin_url, name)
        from jindu.core.keyring import generate_keyring, write_key_file

        write_key_file(key_file, generate_keyring())
    var_dir = Path(tempfile.mkdtemp(prefix="jindu-bench-people-"))
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    configure_django(args.database_url, key_file=key_file, var_dir=var_dir)
    if reuse:
        assert meta is not None
        if meta.get("key_check") != key_check("bench-people"):
            raise SystemExit(f"{key_file} does not belong to the data in {name}: run without --reuse")
        log(f"reusing the data loaded on {meta['loaded_on']} in {meta['load_seconds']:.0f} s")
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)  # migrations added since the load
    else:
        meta = load(args.database_url, args.persons, args.records_per_person, log)
        log(f"loaded in {meta['load_seconds']:.0f} s")
    if args.load_only:
        print(json.dumps(meta, indent=2))
        return 0

    from django.db import connection
    from django.utils import timezone

    from jindu.people.models import EvaluationRun, PersonState

    results: dict[str, Any] = {"machine": machine, "load": meta, "args": vars(args)}
    today = timezone.localdate()
    nightly = []
    if not PersonState.objects.exists():
        # The first night fills empty tables; the figure held to the target is the next night's, which
        # replaces every person's state and items (the steady state).
        log(f"nightly evaluation for {today - dt.timedelta(days=1)} (first run: empty state tables) ...")
        nightly.append(run_nightly(today - dt.timedelta(days=1), args.batch_size) | {"first": True})
        log(f"  {nightly[-1]['persons']:,} persons in {nightly[-1]['seconds']:.0f} s")
    if args.skip_nightly and EvaluationRun.objects.filter(day=today, finished_at__isnull=False).exists():
        log("skipping the nightly evaluation (a run for today exists)")
    else:
        log(f"nightly evaluation for {today} ...")
        nightly.append(run_nightly(today, args.batch_size) | {"first": False})
        log(f"  {nightly[-1]['persons']:,} persons in {nightly[-1]['seconds']:.0f} s")
    results["nightly"] = nightly
    with connection.cursor() as cursor:
        # What autovacuum does shortly after the nightly run has rewritten these tables.
        for table in (
            "people_personstate",
            "people_worklistitem",
            "people_compliancesnapshot",
            "people_alert",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    steady = [run for run in nightly if not run["first"]]
    if steady and (args.profile or steady[-1]["persons_per_second"] < TARGET_PERSONS_PER_SECOND):
        log("profiling the nightly unit of work (cProfile) ...")
        results["profile"] = profile_nightly(today, args.batch_size, args.profile_batches)
    counts = table_counts()
    results["counts"] = counts
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind || '/' || item, count(*) FROM people_worklistitem WHERE as_of = %s "
            "GROUP BY 1 ORDER BY 2 DESC",
            [today],
        )
        results["item_kinds"] = dict(cursor.fetchall())
    log("timing requests ...")
    results["requests"] = measure_requests(today, args.repeat)
    results["loadavg"] = list(os.getloadavg())
    ok = report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"Wrote {args.json}")
    if args.drop:
        connection.close()
        recreate_database(admin_url, name, drop_only=True)
        key_file.unlink(missing_ok=True)
        log(f"dropped {name}")
    return 0 if ok else 1


def report(results: dict[str, Any]) -> bool:
    machine, meta, counts = results["machine"], results["load"], results["counts"]
    print("\n" + "=" * 100)
    print(
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory']} RAM; "
        f"Python {machine['python']}; PostgreSQL {machine['postgresql']}; load average now "
        f"{results['loadavg'][0]:.2f}"
    )
    print(
        f"Data: {counts['people_person']:,} persons, {counts['people_drugtest']:,} tests + "
        f"{counts['people_contact']:,} contacts = {counts['people_drugtest'] + counts['people_contact']:,} "
        f"records, {counts['people_enrollment']:,} enrollments, {counts['people_enrollmentevent']:,} events, "
        f"{counts['people_riskassessment']:,} risk assessments; database {counts['database_bytes'] / 2**30:.1f} GiB; "
        f"loaded on {meta['loaded_on']} in {meta['load_seconds'] / 60:.1f} min"
    )
    print(
        "Derived: "
        + ", ".join(
            f"{counts[t]:,} {t.removeprefix('people_')}"
            for t in (
                "people_personstate",
                "people_worklistitem",
                "people_compliancesnapshot",
                "people_alert",
            )
        )
    )
    for run in results["nightly"]:
        label = "first night (empty tables)" if run["first"] else "steady state"
        print(
            f"Nightly {run['day']} ({label}): {run['persons']:,} persons, {run['items']:,} items, "
            f"{run['alerts_raised']:,} alerts raised, {run['seconds']:.1f} s = "
            f"{run['persons_per_second']:,.0f} persons/s (batches of {run['batch_size']:,}; load average {run['loadavg'][0]:.1f} -> "
            f"{run['loadavg'][1]:.1f})"
        )
        postgres_cpu = run["postgres_cpu"]
        print(
            f"    CPU: Python {run['python_cpu']:.1f} s, PostgreSQL backend "
            + (f"{postgres_cpu:.1f} s" if postgres_cpu is not None else "n/a")
            + f" -> {run['persons_per_cpu_second']:,.0f} persons per CPU second (idle-machine estimate)"
        )
        for part, seconds in run["split"].items():
            print(f"    {part:<46} {seconds:8.1f} s  {seconds / run['seconds'] * 100:5.1f} %")
        sql_total = sum(run["sql_seconds"].values())
        print(
            f"    of which inside the database (execute):       {sql_total:8.1f} s  "
            f"{sql_total / run['seconds'] * 100:5.1f} %"
        )
        for key, seconds in list(run["sql_seconds"].items())[:8]:
            print(f"        {key:<42} {seconds:8.1f} s  ({run['sql_calls'][key]} statements)")
    if "profile" in results:
        profile = results["profile"]
        print(
            f"\ncProfile of evaluate_and_store over {profile['persons']:,} persons ({profile['seconds']:.1f} s):"
        )
        print("\n".join(profile["report"]["tottime"].splitlines()[:45]))

    requests = results["requests"]
    steady = [run for run in results["nightly"] if not run["first"]]
    rows = []
    if steady:
        rate = steady[-1]["persons_per_second"]
        rows.append(
            (
                "Nightly evaluation of everyone",
                f"{rate:,.0f} persons/s",
                f">= {TARGET_PERSONS_PER_SECOND:,.0f}/s",
                rate >= TARGET_PERSONS_PER_SECOND,
            )
        )
    else:
        print("The nightly evaluation was not run (--skip-nightly): its target is not judged.")
    street = requests["worklist_street"]
    rows.append(
        (
            "One street's worklist (API, first page) p95",
            f"{street['p95']:.1f} ms",
            f"< {TARGET_WORKLIST_P95_MS:.0f} ms",
            street["p95"] < TARGET_WORKLIST_P95_MS,
        )
    )
    for label in ("street", "worker"):
        page = requests[f"person_page_{label}"]
        queries = page["queries_without_transaction_control"]
        rows.append(
            (
                f"Person page queries ({label} user)",
                f"{queries} (+{page['queries'] - queries} BEGIN/COMMIT)",
                f"<= {TARGET_PAGE_QUERIES}",
                queries <= TARGET_PAGE_QUERIES,
            )
        )
    print()
    header = f"{'target':<48}{'measured':>22}  {'goal':<12}verdict"
    print(header)
    print("-" * len(header))
    for name, value, goal, passed in rows:
        print(f"{name:<48}{value:>22}  {goal:<12}{'PASS' if passed else 'FAIL'}")
    print()
    print(f"{'request (ms)':<48}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'statements':>12}")
    for key, label in (
        ("worklist_street", "worklist, street-office user, org_unit=street"),
        ("worklist_worker", "worklist, social worker, worker=me"),
        ("person_page_street", "person page, street-office user"),
        ("person_page_worker", "person page, social worker"),
    ):
        m = requests[key]
        print(
            f"{label:<48}{m['p50']:>8.1f}{m['p95']:>8.1f}{m['p99']:>8.1f}{m['max']:>8.1f}{m['queries']:>12}"
        )
    sizes = ", ".join(
        f"{code}: {s['persons']:,} persons / {s['items']:,} items" for code, s in street["streets"].items()
    )
    print(f"streets: {sizes}")
    worker = requests["worklist_worker"]
    print(f"worker: {worker['persons']:,} persons / {worker['items']:,} items")
    for key in ("worklist_street", "person_page_street", "person_page_worker"):
        areas = ", ".join(f"{area} {n}" for area, n in requests[key]["areas"].items())
        print(f"queries of {key}: {areas}")
    page = requests["person_page_worker"]
    print(f"person page: person {page['person']} ({page['tests']} tests); statements (social worker):")
    for sql in page["sql"]:
        print(f"    {sql[:150]}")
    print("worklist items by kind/item: " + ", ".join(f"{k} {n:,}" for k, n in results["item_kinds"].items()))
    ok = all(passed for *_rest, passed in rows)
    print(f"\nOverall: {'PASS' if ok else 'FAIL'}")
    return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000, help="persons (default 1000000)")
    parser.add_argument(
        "--records-per-person", type=int, default=30, help="drug tests + contacts per person on average (30)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("JINDU_BENCH_PEOPLE_URL", DEFAULT_URL),
        help=f"the bench database, dropped and created unless reused (default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the loaded database when it has the requested size"
    )
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="nightly batch size (default: the code's BATCH_SIZE)"
    )
    parser.add_argument("--repeat", type=int, default=50, help="timed requests per figure (default 50)")
    parser.add_argument("--profile", action="store_true", help="cProfile the nightly even when it passes")
    parser.add_argument("--profile-batches", type=int, default=5, help="batches to profile (default 5)")
    parser.add_argument(
        "--skip-nightly", action="store_true", help="with --reuse: do not rerun a nightly already run today"
    )
    parser.add_argument("--load-only", action="store_true", help="load (or check) the data set and stop")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    if args.persons < 2000 or args.records_per_person < 1:
        parser.error("--persons must be at least 2000 and --records-per-person at least 1")
    return args


if __name__ == "__main__":
    sys.exit(main())
