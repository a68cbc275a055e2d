"""KPIs: hand-computed values for a small world, versioned definitions, scoping and the authorization matrix.

The world (period of reference: March 2024). District A has street_a (with community_a) and street_a2;
district B has community_b. ``P`` numbers are persons; every expected value below is counted by hand in
the comment next to it.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from jindu.core.models import PolicyVersion
from jindu.core.policy import policy_publish
from jindu.core.roles import Role
from jindu.core.testing.helpers import (
    api_client,
    assert_error_shape,
    assert_max_queries,
    make_user,
    ui_client,
)
from jindu.core.validators import id_number_check_char
from jindu.people.kpis import (
    DEFAULT_KPI_DEFINITIONS,
    DEFAULT_KPI_EFFECTIVE_FROM,
    KPI_DEFINITIONS,
    anchors_reaching,
    kpi_compute,
    kpi_definition_problems,
)
from jindu.people.models import (
    AbstinenceAssessment,
    ComplianceSnapshot,
    DrugTest,
    Enrollment,
    Person,
    PersonState,
    Seizure,
)

pytestmark = pytest.mark.django_db

D = dt.date
MARCH = (D(2024, 3, 1), D(2024, 3, 31))
ALL_CODES = [
    "existing_users",
    "newly_found",
    "execution_rate",
    "report_rate",
    "control_rate",
    "test_on_time_rate",
    "relapse_rate",
    "consolidation_rate",
    "lost_contact_rate",
    "worker_ratio",
]


@pytest.fixture(autouse=True)
def kpi_defaults(db):
    """The shipped national definitions, installed by a data migration (and put back by the people
    conftest after a transactional test flushed them)."""
    shipped = PolicyVersion.objects.get(
        kind=KPI_DEFINITIONS, region=None, effective_from=DEFAULT_KPI_EFFECTIVE_FROM
    )
    assert shipped.payload == DEFAULT_KPI_DEFINITIONS and shipped.is_default
    return shipped


# Building the world ---------------------------------------------------------------------------------------

_serial = iter(range(1, 999))


def person(unit, status, *, since=None, first_found=None, sealed=False, created=None):
    first17 = f"33020319800101{next(_serial):03d}"
    created_person = Person.objects.create(
        id_number=first17 + id_number_check_char(first17),
        name="测试",
        sex="male",
        birth_date=D(1980, 1, 1),
        org_unit=unit,
        control_status=status,
        control_status_since=since,
        first_found_date=first_found,
        sealed=sealed,
    )
    if created is not None:
        Person.objects.filter(pk=created_person.pk).update(
            created=timezone.make_aware(dt.datetime.combine(created, dt.time(10, 0)))
        )
    return created_person


def enrollment(who, unit, measure, decided, *, reported=None, status="in_progress", ended=None, sealed=False):
    return Enrollment.objects.create(
        person=who,
        org_unit=unit,
        measure=measure,
        status=status,
        decision_date=decided,
        report_deadline=decided + dt.timedelta(days=15),
        reported_on=reported,
        ended_on=ended,
        sealed=sealed,
    )


def drug_test(who, measure_enrollment, day, result):
    return DrugTest.objects.create(
        person=who,
        enrollment=measure_enrollment,
        org_unit=measure_enrollment.org_unit,
        kind="urine",
        sample_date=day,
        result=result,
    )


def assessment(who, day, outcome, anchor, policy, *, sealed=False):
    return AbstinenceAssessment.objects.create(
        person=who,
        org_unit=who.org_unit,
        date=day,
        outcome=outcome,
        anchor=anchor,
        policy=policy,
        sealed=sealed,
    )


def snapshots(rows):
    """rows: (person, day, tests_up_to_date, contacts_up_to_date, lost_contact)."""
    ComplianceSnapshot.objects.bulk_create(
        ComplianceSnapshot(
            person=who,
            org_unit=who.org_unit,
            org_path=who.org_unit.path,
            day=day,
            tests_up_to_date=tests,
            contacts_up_to_date=contacts,
            lost_contact=lost,
        )
        for who, day, tests, contacts, lost in rows
    )


@pytest.fixture
def world(tree, users, kpi_defaults):
    community_a, street_a, street_a2 = tree["community_a"], tree["street_a"], tree["street_a2"]
    community_b = tree["community_b"]
    policy = kpi_defaults  # any policy version will do as the assessments' rule
    T, R, S = "community_treatment", "community_rehabilitation", "social_control"
    p = {}
    p[1] = person(community_a, "under_measure", since=D(2024, 3, 4), first_found=D(2024, 3, 2))
    p[2] = person(community_a, "social_control", since=D(2023, 6, 1), first_found=D(2020, 1, 1))
    p[3] = person(community_a, "abstinent_3y", since=D(2024, 2, 10), first_found=D(2015, 1, 1))
    p[4] = person(community_a, "no_contact", since=D(2024, 3, 20), first_found=D(2010, 1, 1), sealed=True)
    p[5] = person(community_a, "abstinent_3y", since=D(2024, 4, 15), first_found=D(2014, 1, 1))
    p[6] = person(community_a, "registered")  # registered today, no first-found date
    p[7] = person(street_a, "registered", created=D(2024, 3, 10))  # registered in March, no first-found date
    p[8] = person(street_a2, "under_measure", since=D(2024, 3, 10), first_found=D(2024, 3, 8))
    p[9] = person(street_a2, "referred", since=D(2024, 3, 17), first_found=D(2022, 6, 1))
    p[10] = person(community_b, "under_measure", since=D(2024, 3, 3), first_found=D(2024, 3, 2))
    p[11] = person(community_a, "under_measure", since=D(2024, 3, 20), first_found=D(2019, 1, 1))
    p[12] = person(community_a, "under_measure", since=D(2024, 2, 16), first_found=D(2018, 6, 1))
    p[13] = person(community_a, "social_control", since=D(2021, 3, 10), first_found=D(2017, 1, 1))
    p[14] = person(community_a, "social_control", since=D(2021, 3, 15), first_found=D(2016, 1, 1))
    p[15] = person(community_b, "abstinent_3y", since=D(2024, 3, 5), first_found=D(2015, 1, 1))

    e = {}
    e[1] = enrollment(p[1], community_a, T, D(2024, 3, 4), reported=D(2024, 3, 8))  # 4 days
    e[2] = enrollment(p[8], street_a2, T, D(2024, 3, 10), reported=D(2024, 3, 22))  # 12 days
    e[3] = enrollment(p[9], street_a2, R, D(2024, 3, 1), status="not_reported", ended=D(2024, 3, 17))
    e[4] = enrollment(p[10], community_b, T, D(2024, 3, 3), reported=D(2024, 3, 5))
    e[5] = enrollment(p[11], community_a, T, D(2024, 3, 20), reported=D(2024, 3, 25))  # 5 days
    e[6] = enrollment(p[12], community_a, R, D(2024, 2, 16), reported=D(2024, 3, 5))  # 18 days: late (import)
    e[7] = enrollment(p[2], community_a, S, D(2023, 6, 1), reported=D(2023, 6, 1))
    e[8] = enrollment(
        p[2], community_a, T, D(2020, 2, 1), reported=D(2020, 2, 5), status="released", ended=D(2023, 6, 1)
    )
    e[10] = enrollment(
        p[5],
        community_a,
        S,
        D(2021, 3, 20),
        reported=D(2021, 3, 20),
        status="terminated",
        ended=D(2024, 4, 15),
    )
    e[11] = enrollment(
        p[4], community_a, T, D(2013, 4, 1), reported=D(2013, 4, 5), status="released", ended=D(2016, 5, 1),
        sealed=True,
    )  # fmt: skip

    drug_test(p[1], e[1], D(2024, 3, 12), "positive")
    drug_test(p[1], e[1], D(2024, 3, 20), "positive")
    drug_test(p[8], e[2], D(2024, 3, 15), "negative")
    drug_test(
        p[9], e[3], D(2024, 3, 5), "positive"
    )  # never reported: not supervised, not a relapse of the rate
    drug_test(p[10], e[4], D(2024, 3, 10), "positive")
    drug_test(p[12], e[6], D(2024, 2, 20), "positive")  # February
    drug_test(p[12], e[6], D(2024, 3, 20), "negative")
    Seizure.objects.create(person=p[11], org_unit=p[11].org_unit, date=D(2024, 3, 28))

    assessment(p[3], D(2024, 2, 10), "abstinent_3y", D(2021, 2, 10), policy)
    assessment(p[4], D(2019, 5, 1), "abstinent_3y", D(2016, 5, 1), policy, sealed=True)
    assessment(p[4], D(2024, 3, 20), "no_contact", D(2016, 5, 1), policy, sealed=True)
    assessment(p[5], D(2024, 4, 15), "abstinent_3y", D(2021, 3, 20), policy)
    assessment(p[14], D(2024, 3, 25), "not_confirmed", D(2021, 3, 15), policy)
    assessment(p[15], D(2024, 3, 5), "abstinent_3y", D(2021, 3, 1), policy)
    PersonState.objects.create(
        person=p[13], org_unit=p[13].org_unit, as_of=D(2024, 3, 31), control_status="social_control",
        abstinence_anchor=D(2021, 3, 10),
    )  # fmt: skip

    snapshots(
        [
            (p[1], D(2024, 3, 31), True, True, False),
            (p[2], D(2024, 3, 31), True, False, False),
            (p[8], D(2024, 3, 31), False, True, False),
            (p[11], D(2024, 3, 31), True, True, False),
            (p[12], D(2024, 3, 31), False, False, True),
            (p[10], D(2024, 3, 31), True, True, False),
            (p[1], D(2024, 3, 15), True, True, False),
            (p[2], D(2024, 3, 15), True, True, True),
            (p[8], D(2024, 3, 15), True, True, False),
            (p[12], D(2024, 3, 15), True, True, False),
            (p[10], D(2024, 3, 15), False, False, True),
            (p[11], D(2024, 2, 28), False, False, True),  # February: outside the period
            (p[1], D(2024, 4, 1), False, False, True),  # April: outside the period
        ]
    )

    # Social workers: worker_a (community_a) from the fixture, one for street_a2, one for district B; an
    # inactive worker and a street office account never count.
    make_user("t_worker_a2", Role.SOCIAL_WORKER, "330203002")
    make_user("t_worker_b", Role.SOCIAL_WORKER, "330213001001")
    gone = make_user("t_worker_gone", Role.SOCIAL_WORKER, "330203001001")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    return p


def values_of(unit, start=MARCH[0], end=MARCH[1], codes=None):
    return {value.code: value for value in kpi_compute(unit, start, end, codes)}


def triple(value):
    return (value.value, value.numerator, value.denominator)


# Hand-computed values --------------------------------------------------------------------------------------


def test_every_kpi_for_district_a_in_march(tree, world):
    kpis = values_of(tree["district_a"])
    assert list(kpis) == ALL_CODES
    # P1 P2 P5 (abstinent only from 15 April) P7 (registered 10 March) P8 P9 (referred) P11 P12 P13 P14;
    # not P3 (abstinent since February), P4 (无感化), P6 (registered today).
    assert triple(kpis["existing_users"]) == (10, 10, None)
    assert triple(kpis["newly_found"]) == (3, 3, None)  # P1 (2 March), P8 (8 March), P7 (registered 10 March)
    # Windows closing in March (decided 15 Feb – 16 March): P1 (4 days), P8 (12 days), P9 (never), P12 (18).
    assert triple(kpis["execution_rate"]) == (75.0, 3, 4)
    assert triple(kpis["report_rate"]) == (50.0, 2, 4)
    # Last evaluated day 31 March: P1, P2, P8, P11, P12 active; P1 and P11 fully up to date.
    assert triple(kpis["control_rate"]) == (40.0, 2, 5)
    assert triple(kpis["test_on_time_rate"]) == (60.0, 3, 5)  # P1, P2, P11
    # Supervised in March: P1, P2 (social control), P5, P8, P11, P12; relapsed: P1 (test), P11 (查获).
    assert triple(kpis["relapse_rate"]) == (33.33, 2, 6)
    # Anchor in March 2021: P5 (confirmed), P13 (not assessed yet), P14 (not confirmed).
    assert triple(kpis["consolidation_rate"]) == (33.33, 1, 3)
    # 脱管 on some day of March: P2 (15th), P12 (31st) among P1, P2, P8, P11, P12.
    assert triple(kpis["lost_contact_rate"]) == (40.0, 2, 5)
    # Under a measure or social control now: P1 P2 P8 P11 P12 P13 P14; workers: worker_a, t_worker_a2.
    assert triple(kpis["worker_ratio"]) == (3.5, 7, 2)
    assert kpis["worker_ratio"].target == 30 and kpis["worker_ratio"].on_target is True
    first = kpis["existing_users"]
    assert (first.definition_label, first.start, first.end, first.org_unit_code) == (
        "Default (shipped)",
        *MARCH,
        "330203",
    )


def test_streets_and_district_b(tree, world):
    street_a = values_of(tree["street_a"])
    assert [triple(street_a[code]) for code in ALL_CODES] == [
        (8, 8, None),
        (2, 2, None),
        (100.0, 2, 2),
        (50.0, 1, 2),
        (50.0, 2, 4),
        (75.0, 3, 4),
        (40.0, 2, 5),
        (33.33, 1, 3),
        (50.0, 2, 4),
        (6.0, 6, 1),
    ]
    street_a2 = values_of(tree["street_a2"])
    assert [triple(street_a2[code]) for code in ALL_CODES] == [
        (2, 2, None),
        (1, 1, None),
        (50.0, 1, 2),
        (50.0, 1, 2),
        (0.0, 0, 1),
        (0.0, 0, 1),
        (0.0, 0, 1),
        (None, 0, 0),  # nobody's anchor fell in March: no value, not zero
        (0.0, 0, 1),
        (1.0, 1, 1),
    ]
    # District B: P10 only (P15 abstinent since 5 March), with its own worker.
    district_b = values_of(tree["district_b"])
    assert [triple(district_b[code]) for code in ALL_CODES] == [
        (1, 1, None),
        (1, 1, None),
        (100.0, 1, 1),
        (100.0, 1, 1),
        (100.0, 1, 1),
        (100.0, 1, 1),
        (100.0, 1, 1),
        (100.0, 1, 1),
        (100.0, 1, 1),
        (1.0, 1, 1),
    ]


def test_district_equals_the_sum_of_its_streets(tree, world):
    """Every numerator and denominator is additive over the streets (each worker here has one street)."""
    district = values_of(tree["district_a"])
    streets = [values_of(tree["street_a"]), values_of(tree["street_a2"])]
    for code in ALL_CODES:
        assert district[code].numerator == sum(street[code].numerator for street in streets), code
        if district[code].denominator is not None:
            assert district[code].denominator == sum(street[code].denominator for street in streets), code


def test_a_person_of_district_b_never_counts_for_district_a(tree, world):
    before = {code: triple(value) for code, value in values_of(tree["district_a"]).items()}
    # Another 吸毒人员 of district B with a relapse, a late report and 脱管 in March: nothing changes in A.
    other = person(tree["community_b"], "under_measure", first_found=D(2024, 3, 3))
    measure = enrollment(
        other, tree["community_b"], "community_treatment", D(2024, 3, 4), reported=D(2024, 3, 30)
    )
    drug_test(other, measure, D(2024, 3, 6), "positive")
    snapshots([(other, D(2024, 3, 31), False, False, True)])
    assert {code: triple(value) for code, value in values_of(tree["district_a"]).items()} == before
    assert triple(values_of(tree["district_b"])["newly_found"]) == (2, 2, None)


def test_short_periods_use_the_last_evaluated_day(tree, world):
    # 1–20 March: the last snapshot day is the 15th, when P1, P2, P8 and P12 were all up to date.
    kpis = values_of(tree["district_a"], D(2024, 3, 1), D(2024, 3, 20), ["control_rate", "lost_contact_rate"])
    assert triple(kpis["control_rate"]) == (100.0, 4, 4)
    assert triple(kpis["lost_contact_rate"]) == (25.0, 1, 4)  # P2 on the 15th
    # No snapshot at all in the period: no value.
    assert triple(values_of(tree["district_a"], D(2023, 1, 1), D(2023, 1, 31))["control_rate"]) == (
        None,
        0,
        0,
    )


def test_sealed_persons_count_in_aggregates_but_not_in_existing_users(tree, world):
    # End of 2018: P3, P4 (sealed today, but confirmed abstinent only in May 2019), P5, P12, P13, P14.
    assert values_of(tree["district_a"], D(2018, 12, 1), D(2018, 12, 31))["existing_users"].value == 6
    # The cohort of May 2016 anchors is P4 alone, confirmed: sealed records still count.
    assert triple(values_of(tree["district_a"], D(2019, 5, 1), D(2019, 5, 31))["consolidation_rate"]) == (
        100.0, 1, 1,
    )  # fmt: skip
    # In 2014 P4 was under 社区戒毒 (a sealed enrollment).
    assert values_of(tree["district_a"], D(2014, 1, 1), D(2014, 12, 31))["relapse_rate"].denominator == 1
    # Today P4 (无感化) is not an existing user, like P3 (戒断三年未复吸).
    today = timezone.localdate()
    # Now: P5 has left (abstinent since April 2024), P6 has joined (registered today).
    assert values_of(tree["district_a"], today.replace(day=1), today)["existing_users"].value == 10


def test_a_newer_definition_changes_only_the_periods_after_its_date(tree, world):
    later = (D(2024, 3, 11), D(2024, 4, 15))
    march_before = triple(values_of(tree["district_a"])["report_rate"])
    # Decided 25 Feb – 31 March: P1 (4 days), P8 (12), P9 (never), P11 (5).
    assert triple(values_of(tree["district_a"], *later)["report_rate"]) == (75.0, 3, 4)

    payload = json.loads(json.dumps(DEFAULT_KPI_DEFINITIONS))
    for code in ("execution_rate", "report_rate"):
        for part in ("numerator", "denominator"):
            payload[code][part]["params"]["window_days"] = 10
    version = policy_publish(
        actor=None,
        kind=KPI_DEFINITIONS,
        region=None,
        effective_from=D(2024, 4, 1),
        label="10 days",
        payload=payload,
    )
    assert triple(values_of(tree["district_a"])["report_rate"]) == march_before == (50.0, 2, 4)
    after = values_of(tree["district_a"], *later)
    # Decided 1 March – 5 April: the same four, but P8's 12 days are now late.
    assert triple(after["report_rate"]) == (50.0, 2, 4)
    assert (after["report_rate"].definition_id, after["report_rate"].definition_label) == (
        version.pk,
        "10 days",
    )


def test_a_region_composes_its_own_definition(tree, world):
    """District A counts 检测按时率 over person-days instead of at the period's end, from March 2024."""
    payload = json.loads(json.dumps(DEFAULT_KPI_DEFINITIONS))
    payload["test_on_time_rate"]["numerator"] = {
        "count": "snapshot_person_days",
        "params": {"tests_up_to_date": True},
    }
    payload["test_on_time_rate"]["denominator"] = {"count": "snapshot_person_days", "params": {}}
    policy_publish(
        actor=None, kind=KPI_DEFINITIONS, region=tree["district_a"], effective_from=D(2024, 3, 1),
        label="海曙 person-days", payload=payload,
    )  # fmt: skip
    value = values_of(tree["street_a"])["test_on_time_rate"]
    # Person-days of street_a in March: 15th P1 P2 P12 up to date; 31st P1 P2 P11 yes, P12 no.
    assert triple(value) == (85.71, 6, 7) and value.definition_region == "330203"
    assert triple(values_of(tree["district_a"])["test_on_time_rate"]) == (77.78, 7, 9)
    assert triple(values_of(tree["district_b"])["test_on_time_rate"]) == (100.0, 1, 1)  # national default


def test_a_worker_with_two_streets_counts_once(tree, world):
    worker = make_user("t_worker_both", Role.SOCIAL_WORKER, "330203001")
    worker.capture_scope.add(tree["street_a2"])
    assert values_of(tree["district_a"])["worker_ratio"].denominator == 3
    assert values_of(tree["street_a"])["worker_ratio"].denominator == 2
    assert values_of(tree["street_a2"])["worker_ratio"].denominator == 2


def test_a_whole_set_takes_a_bounded_number_of_queries(tree, world):
    tree["district_a"].refresh_from_db()
    with assert_max_queries(20):
        values = kpi_compute(tree["district_a"], *MARCH)
    assert len(values) == 10


def test_anchor_range_handles_29_february():
    assert anchors_reaching(D(2023, 2, 1), D(2023, 2, 28), 3) == (D(2020, 2, 1), D(2020, 2, 29))
    assert anchors_reaching(D(2023, 3, 1), D(2023, 3, 31), 3) == (D(2020, 3, 1), D(2020, 3, 31))
    assert anchors_reaching(D(2024, 2, 29), D(2024, 2, 29), 3) == (D(2021, 3, 1), D(2021, 2, 28))  # empty


def test_definitions_are_checked():
    assert kpi_definition_problems(DEFAULT_KPI_DEFINITIONS) == []
    broken = json.loads(json.dumps(DEFAULT_KPI_DEFINITIONS))
    broken["report_rate"]["numerator"]["count"] = "persons_guessed"
    broken["execution_rate"]["denominator"]["params"]["window"] = 15
    broken["control_rate"]["unit"] = "permille"
    broken["relapse_rate"]["denominator"] = None
    broken["worker_ratio"]["numerator"]["params"]["statuses"] = "under_measure"
    problems = "\n".join(kpi_definition_problems(broken))
    for expected in (
        "report_rate.numerator: unknown counting function 'persons_guessed'",
        "execution_rate.denominator.params: persons_ordered takes no parameter 'window'",
        "control_rate.unit",
        "relapse_rate.denominator: unknown counting function None",
        "worker_ratio.numerator.params.statuses: wrong type",
    ):
        assert expected in problems, problems


# API ----------------------------------------------------------------------------------------------------


def kpi_url(org_unit="330203", start="2024-03-01", end="2024-03-31", codes=""):
    return f"/api/v1/people/kpis?org_unit={org_unit}&start={start}&end={end}" + (
        f"&codes={codes}" if codes else ""
    )


def test_api_answers_aggregates_only(tree, users, world):
    response = api_client(users["district_a"]).get(kpi_url())
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["org_unit"] == "330203" and (body["start"], body["end"]) == ("2024-03-01", "2024-03-31")
    assert body["definition"]["label"] == "Default (shipped)" and body["definition"]["region"] is None
    assert [item["code"] for item in body["items"]] == ALL_CODES
    assert set(body["items"][0]) == {
        "code", "name_zh", "name_en", "description", "description_zh", "unit", "value", "numerator",
        "denominator", "target", "direction", "on_target",
    }  # fmt: skip
    by_code = {item["code"]: item for item in body["items"]}
    assert (by_code["execution_rate"]["value"], by_code["execution_rate"]["name_zh"]) == (75.0, "执行率")
    assert by_code["existing_users"]["value"] == 10 and by_code["existing_users"]["denominator"] is None
    # Nothing identifies a person: no ids of persons, no masked names.
    sealed_person = world[4]
    assert '"person' not in response.content.decode() and "测*" not in response.content.decode()
    assert f'"id": {sealed_person.pk},' not in response.content.decode()


def test_api_selects_codes(users, world):
    body = api_client(users["district_a"]).get(kpi_url(codes="report_rate,existing_users")).json()
    assert [item["code"] for item in body["items"]] == ["existing_users", "report_rate"]
    body = assert_error_shape(
        api_client(users["district_a"]).get(kpi_url(codes="report_rate,guess")), 400, "unknown_kpi"
    )
    assert "codes" in body["error"]["fields"]


def test_api_authorization_matrix(users, world):
    assert_error_shape(api_client(None).get(kpi_url()), 401, "not_authenticated")
    for role in ("sysadmin", "secadmin", "auditadmin", "enterprise"):
        assert_error_shape(api_client(users[role]).get(kpi_url()), 403, "forbidden")
    # Outside the search scope, or unknown: 404 like anything else out of scope.
    assert_error_shape(api_client(users["district_b"]).get(kpi_url()), 404, "not_found")
    assert_error_shape(api_client(users["worker_a"]).get(kpi_url()), 404, "not_found")
    assert_error_shape(api_client(users["district_a"]).get(kpi_url("330213")), 404, "not_found")
    assert_error_shape(api_client(users["district_a"]).get(kpi_url("999999")), 404, "not_found")
    for role, code in (
        ("district_a", "330203"),
        ("city", "330203"),
        ("street_a", "330203001"),
        ("worker_a", "330203001"),  # the worker's search scope is the street
        ("police_a", "330213"),  # police of district A may search the whole city
        ("district_b", "330213"),
    ):
        response = api_client(users[role]).get(kpi_url(code))
        assert response.status_code == 200, (role, response.content)


@pytest.mark.parametrize(
    ("start", "end", "status", "code", "field"),
    [
        ("2024-03-31", "2024-03-01", 400, "invalid_period", "end"),
        ("2999-01-01", "2999-01-31", 400, "invalid_period", "start"),
        ("2008-01-01", "2008-05-31", 400, "no_kpi_definitions", "end"),
        ("2024-02-30", "2024-03-31", 422, "validation_error", "start"),
    ],
)
def test_api_refuses_bad_periods(users, start, end, status, code, field):
    body = assert_error_shape(
        api_client(users["district_a"]).get(kpi_url(start=start, end=end)), status, code
    )
    assert field in body["error"]["fields"], body


# UI -----------------------------------------------------------------------------------------------------


def row(content: str, code: str) -> str:
    match = re.search(rf'<tr data-kpi="{code}">(.*?)</tr>', content, re.S)
    assert match, code
    return re.sub(r"\s+", " ", match.group(1))


def test_page_defaults_to_the_first_capture_root_and_this_month(users, world):
    response = ui_client(users["district_a"]).get("/people/kpis/")
    assert response.status_code == 200
    content = response.content.decode()
    today = timezone.localdate()
    assert 'value="330203"' in content and f'value="{today.replace(day=1).isoformat()}"' in content
    assert 'data-testid="kpi-table"' in content and "现有吸毒人数" in content
    assert 'data-chart="kpi-chart"' in content and 'id="kpi-chart"' in content


def test_page_shows_the_values_the_definition_and_the_chart(users, world):
    response = ui_client(users["district_a"]).get(
        "/people/kpis/?org_unit=330203&start=2024-03-01&end=2024-03-31"
    )
    content = response.content.decode()
    assert "75.00%" in row(content, "execution_rate") and "执行率" in row(content, "execution_rate")
    assert ">10<" in row(content, "existing_users").replace(" ", "")
    assert "3.50" in row(content, "worker_ratio") and "≤ 30" in row(content, "worker_ratio")
    assert "33.33%" in row(content, "consolidation_rate")
    assert "Default (shipped)" in re.search(r'data-testid="kpi-definition">(.*?)</div>', content, re.S).group(
        1
    )
    chart = json.loads(
        re.search(r'<script id="kpi-chart" type="application/json">(.*?)</script>', content).group(1)
    )
    assert chart["labels"][:2] == ["执行率", "报到率"] and chart["values"][:2] == [75.0, 50.0]
    assert len(chart["labels"]) == 7  # the rates; counts and the worker ratio are not on a percent axis


def test_page_in_english_uses_the_english_names(users, world):
    client = ui_client(users["district_a"])
    client.cookies["django_language"] = "en"
    content = client.get("/people/kpis/?org_unit=330203002&start=2024-03-01&end=2024-03-31").content.decode()
    assert "On-time reporting rate" in row(content, "report_rate")
    assert "—" in row(content, "consolidation_rate")  # no cohort in street_a2: no value


def test_page_refuses_bad_periods_on_the_form(users, world):
    response = ui_client(users["district_a"]).get(
        "/people/kpis/?org_unit=330203&start=2024-03-31&end=2024-03-01"
    )
    content = response.content.decode()
    assert response.status_code == 200 and 'data-testid="kpi-table"' not in content
    assert "alert-danger" in content


def test_page_authorization_matrix(users, world):
    response = ui_client(None).get("/people/kpis/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    for role in ("sysadmin", "secadmin", "auditadmin", "enterprise"):
        assert ui_client(users[role]).get("/people/kpis/").status_code == 403, role
    assert ui_client(users["district_b"]).get("/people/kpis/?org_unit=330203").status_code == 404
    assert ui_client(users["worker_a"]).get("/people/kpis/?org_unit=330203").status_code == 404
    assert ui_client(users["district_a"]).get("/people/kpis/?org_unit=999999").status_code == 404
    for role in ("district_a", "street_a", "worker_a", "police_a", "district_b"):
        assert ui_client(users[role]).get("/people/kpis/").status_code == 200, role
    assert ui_client(users["police_a"]).get("/people/kpis/?org_unit=330213").status_code == 200
