"""core.bulk.bulk_insert on both databases: aware datetimes and JSON stored right, and rows produced by a generator
that itself queries the database (which would hang a PostgreSQL COPY consumed lazily)."""

import datetime as dt

import pytest

from jindu.core.bulk import bulk_insert
from jindu.core.models import OrgUnit, PolicyVersion
from jindu.core.testing.sampleapp.models import SampleRecord

pytestmark = pytest.mark.django_db


def test_rows_from_a_querying_generator_are_inserted(tree):
    now = dt.datetime(2026, 3, 4, 12, 30, tzinfo=dt.UTC)

    def rows():
        for index in range(3):
            unit = OrgUnit.objects.get(code="330203")  # a query while the rows are being consumed
            yield (unit.pk, unit.path, now, now, f"record {index}")

    written = bulk_insert(
        SampleRecord, ("org_unit_id", "org_path", "created", "last_updated", "title"), rows()
    )
    assert written == 3
    stored = list(SampleRecord.objects.order_by("title"))
    assert [record.title for record in stored] == ["record 0", "record 1", "record 2"]
    assert stored[0].created == now and stored[0].org_path == tree["district_a"].path
    assert SampleRecord.objects.filter(org_path__startswith=tree["city"].path).count() == 3


def test_json_and_dates_round_trip(db):
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    payload = {"名称": "测试", "values": [1, 2.5, None], "nested": {"ok": True}}
    bulk_insert(
        PolicyVersion,
        ("kind", "effective_from", "label", "payload", "source", "is_default", "created"),
        [("test.kind", dt.date(2026, 1, 1), "label", payload, "", False, now)],
    )
    stored = PolicyVersion.objects.get(kind="test.kind")
    assert (
        stored.payload == payload and stored.effective_from == dt.date(2026, 1, 1) and stored.created == now
    )
    assert bulk_insert(PolicyVersion, ("kind",), []) == 0


def test_repeated_and_alternating_values_are_each_stored_as_given(db):
    """Each column converts a value repeated from the row before once: alternating values must not mix up."""
    first = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    second = dt.datetime(2027, 6, 7, 8, 9, 10, tzinfo=dt.UTC)
    days = [dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 1, 1)]
    stamps = [first, first, second, first]
    bulk_insert(
        PolicyVersion,
        ("kind", "effective_from", "label", "payload", "source", "is_default", "created"),
        [
            (f"test.kind{index}", day, "label", {}, "", False, stamp)
            for index, (day, stamp) in enumerate(zip(days, stamps, strict=True))
        ],
    )
    stored = list(PolicyVersion.objects.filter(kind__startswith="test.kind").order_by("kind"))
    assert [version.effective_from for version in stored] == days
    assert [version.created for version in stored] == stamps
