"""The ``__any`` lookup (integer keys sent as one parameter) and the org_path index check."""

from __future__ import annotations

import pytest
from django.db import connection, models
from django.test.utils import isolate_apps

from jindu.core.checks import check_org_path_indexes, org_path_index_errors
from jindu.core.models import OrgScopedModel, OrgUnit
from jindu.core.testing.sampleapp.models import SampleRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(tree):
    return [
        SampleRecord.objects.create(org_unit=tree[key], title=key)
        for key in ("community_a", "community_b", "grid_a", "community_a")
    ]


def test_any_on_a_primary_key_matches_in(records):
    wanted = [records[0].pk, records[2].pk, 10**9]
    by_any = set(SampleRecord.objects.filter(pk__any=wanted).values_list("pk", flat=True))
    by_in = set(SampleRecord.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert by_any == by_in == {records[0].pk, records[2].pk}


def test_any_on_a_foreign_key_by_attname_and_by_name(records, tree):
    units = [tree["community_a"].pk, tree["grid_a"].pk]
    by_attname = sorted(SampleRecord.objects.filter(org_unit_id__any=units).values_list("title", flat=True))
    by_name = sorted(SampleRecord.objects.filter(org_unit__any=units).values_list("title", flat=True))
    assert by_attname == by_name == ["community_a", "community_a", "grid_a"]


def test_any_with_an_empty_list_matches_nothing(records):
    assert not SampleRecord.objects.filter(pk__any=[]).exists()
    assert SampleRecord.objects.exclude(pk__any=[]).count() == len(records)


def test_any_sends_the_whole_list_as_one_parameter(records):
    wanted = [record.pk for record in records] + list(range(10**6, 10**6 + 5000))
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        assert SampleRecord.objects.filter(pk__any=wanted).count() == len(records)
    [(sql, params)] = statements
    # One placeholder, not 5,004: the statement stays short whatever the list's length.
    assert len(params) == 1
    assert sql.count("%s") == 1
    assert ("ANY(" if connection.vendor == "postgresql" else "json_each(") in sql


def test_any_accepts_a_generator_and_combines_with_other_filters(records):
    found = SampleRecord.objects.filter(pk__any=(record.pk for record in records), title="community_a")
    assert found.count() == 2


def test_any_refuses_what_is_not_a_list_of_keys_of_the_column():
    with pytest.raises(TypeError):
        list(OrgUnit.objects.filter(pk__any="12"))
    with pytest.raises(ValueError):
        list(OrgUnit.objects.filter(pk__any=["twelve"]))


def test_any_on_a_text_column(records):
    titles = ["community_a", "grid_a", "nowhere"]
    found = sorted(SampleRecord.objects.filter(title__any=titles).values_list("title", flat=True))
    assert found == ["community_a", "community_a", "grid_a"]
    assert not SampleRecord.objects.filter(title__any=[]).exists()


@isolate_apps("jindu.core.testing.sampleapp")
def test_a_scoped_model_without_an_org_path_index_fails_the_check():
    class Unindexed(OrgScopedModel):
        class Meta:
            app_label = "sampleapp"

    class Indexed(OrgScopedModel):
        class Meta:
            app_label = "sampleapp"
            indexes = [models.Index(fields=["org_path", "created"], name="indexed_scope")]

    errors = org_path_index_errors([Unindexed, Indexed])
    assert [(error.id, error.obj) for error in errors] == [("core.E010", Unindexed)]
    # The shipped models all pass.
    assert check_org_path_indexes() == []
