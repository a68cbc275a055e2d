"""Versioned configuration: the nearest region and the latest effective date win."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import PolicyVersion
from jindu.core.policy import policy_in_force, policy_publish

pytestmark = pytest.mark.django_db

D = dt.date


def test_nearest_region_then_latest_date(tree):
    national_2020 = policy_publish(
        actor=None,
        kind="test_frequency",
        region=None,
        effective_from=D(2020, 1, 1),
        label="国家默认",
        payload={"months": 1},
    )
    national_2025 = policy_publish(
        actor=None,
        kind="test_frequency",
        region=None,
        effective_from=D(2025, 1, 1),
        label="国家2025",
        payload={"months": 2},
    )
    zhejiang = policy_publish(
        actor=None,
        kind="test_frequency",
        region=tree["province"],
        effective_from=D(2023, 6, 1),
        label="浙江",
        payload={"months": 3},
    )
    fenghua = policy_publish(
        actor=None,
        kind="test_frequency",
        region=tree["district_b"],
        effective_from=D(2026, 1, 1),
        label="奉化",
        payload={"months": 4},
    )

    assert policy_in_force("test_frequency", tree["community_a"], D(2022, 1, 1)) == national_2020
    assert policy_in_force("test_frequency", tree["community_a"], D(2024, 1, 1)) == zhejiang
    # A nearer region wins over a later national version.
    assert policy_in_force("test_frequency", tree["community_a"], D(2025, 6, 1)) == zhejiang
    assert policy_in_force("test_frequency", tree["community_b"], D(2025, 12, 31)) == zhejiang
    assert policy_in_force("test_frequency", tree["community_b"], D(2026, 1, 1)) == fenghua
    assert policy_in_force("test_frequency", None, D(2025, 6, 1)) == national_2025
    with pytest.raises(NotFound):
        policy_in_force("test_frequency", tree["community_a"], D(2019, 12, 31))
    with pytest.raises(NotFound):
        policy_in_force("other_kind", tree["community_a"], D(2025, 1, 1))


def test_versions_are_unique_per_region_and_date(tree):
    policy_publish(
        actor=None, kind="k", region=None, effective_from=D(2024, 1, 1), label="a", payload={"x": 1}
    )
    with pytest.raises(ServiceError) as duplicate:
        policy_publish(
            actor=None, kind="k", region=None, effective_from=D(2024, 1, 1), label="b", payload={"x": 2}
        )
    assert duplicate.value.code == "duplicate_policy"
    # The database itself refuses a second national default for the same date.
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyVersion.objects.create(
            kind="k", region=None, effective_from=D(2024, 1, 1), label="c", payload={"x": 3}
        )
    with pytest.raises(ServiceError):
        policy_publish(actor=None, kind="k", region=None, effective_from=D(2024, 2, 1), label="d", payload={})
