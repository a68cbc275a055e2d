"""The correction-factor set pages: sets and versions, factors with CF computed, unverified and default marks, and
the form that adds a set or a version through the service."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from jindu.core.testing.helpers import assert_max_queries, assert_ui_matrix, ui_client
from jindu.wastewater import services
from jindu.wastewater.models import CorrectionFactor, CorrectionFactorSet

pytestmark = pytest.mark.django_db
LIST = "/wastewater/cf-sets/"
NEW = "/wastewater/cf-sets/new/"


def office_set(actor, fraction: float = 0.43) -> CorrectionFactorSet:
    return services.cf_set_create(
        actor=actor,
        name="Office-A",
        factors=[
            {
                "analyte": "METH",
                "excretion_fraction": fraction,
                "parent_molar_mass": 149.237,
                "biomarker_molar_mass": 149.237,
            }
        ],
    )


def detail_url(factor_set: CorrectionFactorSet) -> str:
    return f"/wastewater/cf-sets/{factor_set.pk}/"


def cf_cells(html: str) -> dict[str, str]:
    """Analyte code → the CF shown on its row."""
    return dict(
        re.findall(r'<tr data-analyte="([^"]+)">.*?data-testid="cf"><strong>([^<]+)</strong>', html, re.S)
    )


def test_the_list_shows_every_set_and_version_and_marks_the_default(users):
    office_set(users["city"])
    office_set(users["city"], 0.39)
    page = ui_client(users["district_a"]).get(LIST)
    html = page.content.decode()
    for name in ("SCORE-2008", "China-Du2020", "GraciaLor-2016"):
        assert f'data-set="{name}" data-version="1"' in html
    assert 'data-set="Office-A" data-version="1"' in html and 'data-set="Office-A" data-version="2"' in html
    default_row = html[html.index('data-set="China-Du2020"') :].split("</tr>")[0]
    assert 'data-testid="default-badge"' in default_row and html.count('data-testid="default-badge"') == 1
    # No form for readers without the analyst's permission.
    assert 'data-testid="add-set"' in html
    assert 'data-testid="add-set"' not in ui_client(users["police_a"]).get(LIST).content.decode()


def test_the_default_follows_the_settings_of_the_readers_region(users):
    services.settings_publish(
        actor=users["district_a"],
        region_code="330203",
        effective_from=dt.date(2026, 1, 1),
        label="海曙区采用 Gracia-Lor",
        payload={"default_cf_set": "GraciaLor-2016"},
    )
    mine = ui_client(users["district_a"]).get(LIST).content.decode()
    row = mine[mine.index('data-set="GraciaLor-2016"') :].split("</tr>")[0]
    assert 'data-testid="default-badge"' in row
    other = ui_client(users["district_b"]).get(LIST).content.decode()
    row = other[other.index('data-set="China-Du2020"') :].split("</tr>")[0]
    assert 'data-testid="default-badge"' in row


def test_a_set_shows_its_factors_with_cf_computed_and_unverified_values_marked(users):
    shipped = CorrectionFactorSet.objects.get(name="China-Du2020", version=1)
    page = ui_client(users["district_a"]).get(detail_url(shipped))
    html = page.content.decode()
    cells = cf_cells(html)
    factors = CorrectionFactor.objects.filter(factor_set=shipped).select_related("analyte")
    assert set(cells) == {factor.analyte.code for factor in factors}
    for factor in factors:
        expected = float(factor.parent_molar_mass / factor.biomarker_molar_mass / factor.excretion_fraction)
        assert float(cells[factor.analyte.code]) == pytest.approx(expected, abs=0.005)
    assert cells["METH"] == "2.33" and cells["KET"] == "5.00"
    assert html.count('data-testid="unverified"') == sum(1 for factor in factors if not factor.verified) > 0
    meth_row = html[html.index('<tr data-analyte="METH">') :].split("</tr>")[0]
    assert 'data-testid="unverified"' not in meth_row  # Baselt, re-read: verified
    assert 'data-testid="default-badge"' in html and 'data-testid="not-latest"' not in html
    score = ui_client(users["district_a"]).get(detail_url(CorrectionFactorSet.objects.get(name="SCORE-2008")))
    assert 'data-testid="default-badge"' not in score.content.decode()


def test_an_older_version_says_so_and_links_its_versions(users):
    first = office_set(users["city"])
    second = office_set(users["city"], 0.39)
    html = ui_client(users["district_a"]).get(detail_url(first)).content.decode()
    assert 'data-testid="not-latest"' in html and detail_url(second) in html
    assert cf_cells(html)["METH"] == "2.33"
    latest = ui_client(users["district_a"]).get(detail_url(second)).content.decode()
    assert 'data-testid="not-latest"' not in latest and cf_cells(latest)["METH"] == "2.56"
    # An analyst's values are never verified by the platform.
    assert 'data-testid="unverified"' in latest


def _form(**factors) -> dict[str, str]:
    data = {"name": "Office-B", "description": "本地测算用", "source": "本办公室", "factors-TOTAL_FORMS": "4"}
    data.update({"factors-INITIAL_FORMS": "0", "factors-MIN_NUM_FORMS": "0", "factors-MAX_NUM_FORMS": "60"})
    for key, value in factors.items():
        data[key] = value
    return data


def test_the_form_adds_a_set_and_then_a_version(users):
    client = ui_client(users["city"])
    assert client.get(NEW).status_code == 200
    data = _form(
        **{
            "factors-0-analyte": "METH",
            "factors-0-excretion_fraction": "0.39",
            "factors-0-parent_molar_mass": "149.237",
            "factors-0-biomarker_molar_mass": "149.237",
            "factors-1-analyte": "BE",
            "factors-1-excretion_fraction": "0.29",
            "factors-1-parent_molar_mass": "303.358",
            "factors-1-biomarker_molar_mass": "289.331",
            "factors-1-excretion_rsd": "0.26",
            "factors-1-source": "Castiglioni 2013",
        }
    )
    created = client.post(NEW, data)
    factor_set = CorrectionFactorSet.objects.get(name="Office-B")
    assert created.status_code == 302 and created["Location"] == detail_url(factor_set)
    assert factor_set.version == 1 and factor_set.created_by == users["city"]
    be = factor_set.factors.get(analyte__code="BE")
    assert float(be.excretion_rsd) == 0.26 and be.source == "Castiglioni 2013" and not be.verified
    assert factor_set.factors.count() == 2  # the two empty rows are ignored
    # "New version from this one" starts from its factors.
    start = client.get(f"{NEW}?from={factor_set.pk}").content.decode()
    assert 'value="Office-B"' in start and 'value="0.39"' in start and 'value="0.29"' in start
    again = client.post(NEW, data)
    assert again.status_code == 302
    assert list(CorrectionFactorSet.objects.filter(name="Office-B").values_list("version", flat=True)) == [
        2,
        1,
    ]


def test_the_form_shows_the_services_problems_on_their_rows_and_stores_nothing(users):
    before = CorrectionFactorSet.objects.count()
    data = _form(
        **{
            "factors-0-analyte": "METH",
            "factors-0-excretion_fraction": "0.43",
            "factors-0-parent_molar_mass": "149.237",
            "factors-0-biomarker_molar_mass": "149.237",
            "factors-2-analyte": "AMP",
            "factors-2-excretion_fraction": "1.5",
            "factors-2-parent_molar_mass": "abc",
            "factors-2-biomarker_molar_mass": "135.21",
        }
    )
    data["name"] = "bad name!"
    page = ui_client(users["city"]).post(NEW, data)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="form-errors"' in html
    # The third row of the form is the second filled one: its two bad inputs are marked there.
    third_row = html[html.index('<tr data-row="2">') :].split("</tr>")[0]
    assert third_row.count('data-testid="row-error"') == 2
    first_row = html[html.index('<tr data-row="0">') :].split("</tr>")[0]
    assert 'data-testid="row-error"' not in first_row
    assert page.context["form"].errors["name"]
    assert CorrectionFactorSet.objects.count() == before


def test_who_may_see_and_add_sets(users, lab):
    office = office_set(users["city"])
    # Sets are platform-wide configuration: every wastewater reader sees them, whatever the district.
    assert_ui_matrix(
        list_url=LIST,
        detail_url=detail_url(office),
        marker="Office-A",
        allowed=[users["district_a"], users["district_b"], users["police_a"], users["street_a"], lab],
        denied=[users["sysadmin"], users["enterprise"], users["worker_a"]],
    )
    for user in (users["police_a"], users["street_a"], users["sysadmin"]):
        assert ui_client(user).get(NEW).status_code == 403
        assert ui_client(user).post(NEW, _form()).status_code == 403
    assert ui_client(lab).get(NEW).status_code == 200
    assert ui_client(None).get(NEW).status_code == 302
    assert ui_client(users["city"]).get("/wastewater/cf-sets/999999/").status_code == 404


def test_set_pages_have_bounded_query_counts(users):
    for fraction in (0.43, 0.42, 0.41, 0.40, 0.39):
        office_set(users["city"], fraction)
    client = ui_client(users["district_a"])
    client.get(LIST)
    with assert_max_queries(8):
        html = client.get(LIST).content.decode()
    assert html.count("<tr data-set=") == 8
    shipped = CorrectionFactorSet.objects.get(name="China-Du2020")
    client.get(detail_url(shipped))
    with assert_max_queries(10):
        assert client.get(detail_url(shipped)).status_code == 200
