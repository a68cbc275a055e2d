"""The shipped substance catalogue: valid CAS numbers, dated listings, unverified rows marked."""

from __future__ import annotations

import datetime as dt

import pytest

from jindu.core.testing.helpers import api_client, assert_error_shape
from jindu.precursors.catalogue import SEED_SUBSTANCES
from jindu.precursors.models import MixtureRule, Substance
from jindu.precursors.quantities import validate_cas

pytestmark = pytest.mark.django_db


def test_every_shipped_cas_number_has_a_valid_check_digit():
    for row in SEED_SUBSTANCES:
        for cas in [row[3], *row[4]]:
            if cas:
                assert validate_cas(cas) == cas, row[0]


def test_the_migration_installs_the_catalogue_with_its_categories():
    assert Substance.objects.count() == len(SEED_SUBSTANCES)
    by_category = {c: Substance.objects.filter(category=c).count() for c in (1, 2, 3)}
    # 2005: 12 + 5 + 6 items; later listings add to categories 1 and 2 and two solvents to category 3.
    assert by_category[3] == 8 and by_category[1] == 19
    assert Substance.objects.get(code="ephedrines").drug_class is True
    assert Substance.objects.get(code="acetic-anhydride").cas == "108-24-7"
    gbl = MixtureRule.objects.filter(substance__code="gbl").order_by("max_fraction")
    assert [str(rule.max_fraction) for rule in gbl] == ["0.20000", "0.60000"]


def test_the_catalogue_on_a_day_holds_only_what_was_listed_by_then():
    codes = lambda day: set(Substance.objects.listed_on(day).values_list("code", flat=True))  # noqa: E731
    assert "4-ap" not in codes(dt.date(2024, 8, 31)) and "4-ap" in codes(dt.date(2024, 9, 1))
    assert "gbl" not in codes(dt.date(2020, 12, 31)) and "acetone" in codes(dt.date(2006, 1, 1))
    Substance.objects.filter(code="acetone").update(listed_until=dt.date(2030, 1, 1))
    assert "acetone" in codes(dt.date(2029, 12, 31)) and "acetone" not in codes(dt.date(2030, 1, 1))


def test_rows_known_only_to_the_year_are_unverified_with_a_note():
    row = Substance.objects.get(code="benzyl-cyanide")
    assert row.listed_from == dt.date(2021, 1, 1) and not row.verified and "year only" in row.note
    assert Substance.objects.get(code="npp").verified  # a dated, sourced listing


def test_the_catalogue_api(users):
    client = api_client(users["worker_a"])
    listed = client.get("/api/v1/precursors/substances?on=2020-01-01").json()
    assert "gbl" not in {row["code"] for row in listed} and "acetone" in {row["code"] for row in listed}
    assert {"cas", "verified", "category", "listed_from"} <= set(listed[0])
    assert_error_shape(api_client(None).get("/api/v1/precursors/substances"), 401)
    assert client.get("/api/v1/precursors/substances?on=nonsense").status_code == 422
