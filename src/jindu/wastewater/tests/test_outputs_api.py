"""The outputs API: aggregates, rankings and the office's own index — their figures, who may read them, bad
parameters (400 naming the parameter) and query counts that do not grow with the data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from jindu.core.policy import policy_publish
from jindu.core.testing.helpers import api_client, assert_api_matrix, assert_error_shape, assert_max_queries
from jindu.wastewater.policies import SETTINGS_KIND, validate_settings
from jindu.wastewater.rankings import default_quarter
from jindu.wastewater.services import MeasurementEntry, SampleEntry, samples_store, site_create
from jindu.wastewater.tests.test_aggregates import days, store

pytestmark = pytest.mark.django_db

API = "/api/v1/wastewater"
MARCH = "from=2026-03-01&to=2026-03-31"
# China-Du2020 factors (CF = M_parent / M_biomarker / excretion) and the shipped typical doses (mg).
CF = {
    "METH": 1 / 0.43,
    "KET": 1 / 0.20,
    "MOR": 369.417 / 285.343 / 0.42,
    "MDMA": 1 / 0.65,
    "BE": 303.358 / 289.331 / 0.45,
}
DOSE = {"METH": 30, "KET": 100, "MOR": 30, "MDMA": 100, "BE": 100}


def get(user, url):
    return api_client(user).get(url)


def per_1000(ng_per_l: float, population: int = 200_000) -> float:
    return ng_per_l * 50_000 * 1e-3 * 1000 / population


# --- Aggregates ----------------------------------------------------------------------------------------------------


def test_aggregates_of_a_site_by_month_with_intervals_bounds_and_year_on_year(users, sites):
    store("HS-01", {dt.date(2025, 3, 10): 100})
    store("HS-01", days(dt.date(2026, 3, 2), [100, 200, "<LOQ"]))
    response = get(users["district_a"], f"{API}/aggregates?site=HS-01&analyte=METH&period=month&{MARCH}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["subject"]["kind"] == "site" and body["subject"]["code"] == "HS-01"
    assert body["cf_set"]["name"] == "China-Du2020" and body["draws"] == 10_000
    assert body["day_split"] == {"weekday": [1, 2, 3], "weekend": [0, 4, 5, 6]}
    assert body["settings_version"]["label"]
    [march] = body["periods"]
    assert march["period"] == "2026-03" and march["start"] == "2026-03-01" and march["end"] == "2026-03-31"
    load = march["load_per_1000"]
    assert load["value"] == pytest.approx(37.5)
    assert load["p2_5"] < load["value"] < load["p97_5"]
    assert march["consumption_per_1000"]["value"] == pytest.approx(37.5 / 0.43)
    assert march["doses_per_1000"]["value"] == pytest.approx(37.5 / 0.43 / 30)
    assert (march["quantified_days"], march["below_loq_days"], march["blocked_days"]) == (2, 1, 0)
    assert march["below_loq_bounds"]["if_zero"] == pytest.approx(25.0)
    assert march["below_loq_bounds"]["if_at_loq"] == pytest.approx(1000 * (15_250 / 3) / 200_000)
    yoy = march["year_on_year"]
    assert yoy["previous"] == pytest.approx(25.0) and yoy["percent"] == pytest.approx(50.0)
    assert yoy["label"] == "increase"


def test_aggregates_of_an_org_unit_weekday_and_weekend(users, sites):
    """Week 2026-W10 at FH-01 (district B, 80,000): Monday … Sunday 10, 20, … 70 ng/L."""
    store("FH-01", days(dt.date(2026, 3, 2), [10, 20, 30, 40, 50, 60, 70]))
    url = f"{API}/aggregates?org_unit=330213&analyte=METH&period=week&from=2026-03-02&to=2026-03-08"
    weekday = get(users["district_b"], url + "&days=weekday").json()["periods"][0]
    weekend = get(users["district_b"], url + "&days=weekend").json()["periods"][0]
    assert weekday["load_per_1000"]["value"] == pytest.approx(per_1000(30, 80_000))
    assert weekend["load_per_1000"]["value"] == pytest.approx(per_1000((10 + 50 + 60 + 70) / 4, 80_000))
    assert (weekday["quantified_days"], weekend["quantified_days"]) == (3, 4)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("site=HS-01&analyte=METH&period=fortnight", "period"),
        ("site=HS-01&analyte=METH&days=sometimes", "days"),
        ("site=HS-01&analyte=METH&from=March", "from"),
        ("site=HS-01&analyte=METH&to=2026-02-30", "to"),
        ("site=HS-01&analyte=METH&from=2026-03-01&to=2026-01-01", "from"),
        ("site=HS-01&analyte=METH&period=week&from=2000-01-01&to=2026-01-01", "from"),
        ("site=HS-01&analyte=XYZ", "analyte"),
        ("site=HS-01", "analyte"),
        ("site=HS-01&org_unit=330203&analyte=METH", "site"),
        ("analyte=METH", "site"),
        ("site=HS-01&analyte=METH&cf_set=Nope", "cf_set"),
    ],
)
def test_bad_aggregate_parameters_answer_400_naming_the_parameter(users, sites, query, field):
    body = assert_error_shape(get(users["district_a"], f"{API}/aggregates?{query}"), 400)
    assert field in body["error"]["fields"], body


def test_aggregates_matrix(users, sites, lab):
    store("HS-01", days(dt.date(2026, 3, 2), [100]))
    assert_api_matrix(
        list_url=None,
        detail_url=f"{API}/aggregates?site=HS-01&analyte=METH&{MARCH}",
        marker="HS-01",
        allowed=[users["district_a"], users["city"], users["police_a"], lab],
        denied=[users["district_b"], users["sysadmin"], users["enterprise"], users["street_a"]],
    )
    by_unit = f"{API}/aggregates?org_unit=330203&analyte=METH&{MARCH}"
    for user in (users["district_a"], users["city"], users["police_a"], lab):
        assert get(user, by_unit).status_code == 200
    assert_error_shape(get(users["district_b"], by_unit), 404, "not_found")
    assert_error_shape(get(users["street_a"], by_unit), 404, "not_found")  # the district is above the street
    assert_error_shape(get(users["enterprise"], by_unit), 403, "forbidden")
    assert_error_shape(get(None, by_unit), 401, "not_authenticated")


def test_aggregate_queries_do_not_grow_with_periods_or_sites(users, sites):
    store("HS-01", {dt.date(2025, 1, 1) + dt.timedelta(days=offset): 100 for offset in range(0, 700, 5)})
    store("FH-01", {dt.date(2025, 1, 1) + dt.timedelta(days=offset): 50 for offset in range(0, 700, 7)})
    client = api_client(users["city"])
    client.get(f"{API}/aggregates?org_unit=330200&analyte=METH&{MARCH}")  # token and caches warm
    with assert_max_queries(13) as one_month:
        assert client.get(f"{API}/aggregates?org_unit=330200&analyte=METH&{MARCH}").status_code == 200
    with assert_max_queries(13) as two_years:
        response = client.get(f"{API}/aggregates?org_unit=330200&analyte=METH&from=2025-01-01&to=2026-11-30")
    assert response.status_code == 200 and len(response.json()["periods"]) == 23
    assert len(two_years.captured_queries) == len(one_month.captured_queries)


# --- Rankings ------------------------------------------------------------------------------------------------------


def test_rankings_of_the_citys_districts_with_rank_intervals(users, sites):
    """District A (HS-01, 200,000) at 100 ng/L, district B (FH-01, 80,000) at 320 ng/L: 25.0 against 200.0
    mg/day/1000, far apart even with the populations' 20 % errors."""
    store("HS-01", days(dt.date(2026, 1, 5), [100] * 10))
    store("FH-01", days(dt.date(2026, 1, 5), [320] * 10))
    store("FH-01", {dt.date(2025, 1, 6): 320})
    body = get(users["city"], f"{API}/rankings?parent=330200&analyte=METH&period=2026Q1").json()
    assert (
        body["parent"]["code"] == "330200"
        and body["period"] == "2026Q1"
        and body["measure"] == "load_per_1000"
    )
    first, second = body["items"]
    assert (first["org_unit"], first["rank"]) == ("330213", 1)
    assert (second["org_unit"], second["rank"]) == ("330203", 2)
    assert first["value"]["value"] == pytest.approx(per_1000(320, 80_000))
    assert second["value"]["value"] == pytest.approx(per_1000(100))
    assert first["value"]["p2_5"] < first["value"]["value"] < first["value"]["p97_5"]
    assert first["quantified_days"] == 10 and first["sites"] == ["FH-01"]
    assert first["year_on_year"]["label"] == "stable"
    assert second["year_on_year"]["label"] == "no_previous"
    assert first["rank_interval"] == [1, 1] and second["rank_interval"] == [2, 2]
    assert body["ranks_significant"] is True and body["note"] == ""
    # Consumption ranks the same way, times the factor.
    consumption = get(
        users["city"], f"{API}/rankings?parent=330200&analyte=METH&period=2026Q1&measure=consumption"
    )
    assert consumption.json()["items"][0]["value"]["value"] == pytest.approx(per_1000(320, 80_000) / 0.43)


def test_overlapping_intervals_make_the_order_not_significant(users, sites):
    site_create(actor=None, code="FH-02", name="奉化二厂", org_unit_code="330213", population=200_000)
    store("HS-01", days(dt.date(2026, 1, 5), [100] * 5))
    store("FH-02", days(dt.date(2026, 1, 5), [98] * 5))
    body = get(users["city"], f"{API}/rankings?parent=330200&analyte=METH&period=2026Q1").json()
    first, second = body["items"]
    assert first["org_unit"] == "330203" and first["overlaps_below"] and second["overlaps_above"]
    assert body["ranks_significant"] is False and body["note"]
    assert first["rank_interval"][0] == 1 and first["rank_interval"][1] == 2


def test_rankings_scope_and_defaults(users, sites):
    store("HS-01", days(dt.date(2026, 1, 5), [100]))
    assert_error_shape(
        get(users["district_a"], f"{API}/rankings?parent=330200&period=2026Q1"), 404, "not_found"
    )
    assert_error_shape(get(None, f"{API}/rankings?parent=330200&period=2026Q1"), 401)
    assert_error_shape(get(users["enterprise"], f"{API}/rankings?parent=330200&period=2026Q1"), 403)
    # Police of district A search the whole city; a district office ranks its streets by default.
    assert get(users["police_a"], f"{API}/rankings?parent=330200&period=2026Q1").status_code == 200
    own = get(users["district_a"], f"{API}/rankings?period=2026Q1").json()
    assert own["parent"]["code"] == "330203"
    assert {item["org_unit"] for item in own["items"]} == {"330203001", "330203002"}
    assert all(item["value"] is None and item["rank"] is None for item in own["items"])
    default = get(users["city"], f"{API}/rankings").json()
    assert default["period"] == default_quarter(timezone.localdate()).label
    for query, field in (
        ("period=2026-03-04", "period"),
        ("period=2026Q5", "period"),
        ("measure=best", "measure"),
        ("analyte=NOPE", "analyte"),
        ("days=never", "days"),
    ):
        body = assert_error_shape(get(users["city"], f"{API}/rankings?parent=330200&{query}"), 400)
        assert field in body["error"]["fields"]


# --- The office's own index ------------------------------------------------------------------------------------------


def _full_panel(site: str, first: dt.date, count: int, values: dict[str, float]) -> None:
    entries = [
        SampleEntry(
            site=site,
            end_date=first + dt.timedelta(days=offset),
            flow_m3_per_day=50_000,
            measurements=[MeasurementEntry(analyte=code, ng_per_l=value) for code, value in values.items()],
        )
        for offset in range(count)
    ]
    samples_store(actor=None, entries=entries)


def test_the_index_is_weighted_doses_labelled_as_the_offices_formula(users, sites):
    values = {"METH": 100, "KET": 40, "MOR": 30, "MDMA": 5, "BE": 10}
    _full_panel("HS-01", dt.date(2026, 1, 5), 3, values)
    body = get(
        users["district_a"], f"{API}/index?site=HS-01&period=quarter&from=2026-01-01&to=2026-03-31"
    ).json()
    assert "本地测算" in body["label"] and body["official"] is False
    assert "1 × METH ÷ 30 mg" in body["formula"] and "China-Du2020:1" in body["formula"]
    assert [c["analyte"] for c in body["components"]] == ["METH", "MDMA", "BE", "MOR", "KET"]
    [q1] = body["periods"]
    expected = sum(per_1000(value) * CF[code] / DOSE[code] for code, value in values.items())
    assert q1["index"]["value"] == pytest.approx(expected, rel=1e-4)
    assert q1["index"]["p2_5"] < q1["index"]["value"] < q1["index"]["p97_5"]
    shares = {c["analyte"]: c["points"] for c in q1["components"]}
    assert shares["METH"] == pytest.approx(per_1000(100) * CF["METH"] / 30, rel=1e-4)
    assert q1["year_on_year"]["label"] == "no_previous"


def test_the_index_needs_every_component_and_follows_the_published_weights(tree, users, sites):
    _full_panel("HS-01", dt.date(2026, 1, 5), 2, {"METH": 100, "KET": 40})
    body = get(
        users["district_a"], f"{API}/index?site=HS-01&period=quarter&from=2026-01-01&to=2026-03-31"
    ).json()
    [q1] = body["periods"]
    assert q1["index"] is None and set(q1["missing"]) == {"MOR", "MDMA", "BE"}
    policy_publish(
        actor=None,
        kind=SETTINGS_KIND,
        region=tree["district_a"],
        effective_from=dt.date(2025, 1, 1),
        label="海曙 本地指数",
        payload={"index": {"name": "海曙指数", "components": {"METH": 2, "MOR": 0, "MDMA": 0, "BE": 0}}},
    )
    body = get(
        users["district_a"], f"{API}/index?site=HS-01&period=quarter&from=2026-01-01&to=2026-03-31"
    ).json()
    assert body["label"].startswith("海曙指数 · ") and "本地测算" in body["label"]
    assert [c["analyte"] for c in body["components"]] == ["METH", "KET"]
    [q1] = body["periods"]
    expected = 2 * per_1000(100) * CF["METH"] / 30 + per_1000(40) * CF["KET"] / 100
    assert q1["index"]["value"] == pytest.approx(expected, rel=1e-4)
    # Ranked by the index.
    ranked = get(users["city"], f"{API}/rankings?parent=330200&period=2026Q1&measure=index").json()
    assert "本地测算" in ranked["index"]["label"] and ranked["unit"].startswith("weighted doses")
    a = next(item for item in ranked["items"] if item["org_unit"] == "330203")
    b = next(item for item in ranked["items"] if item["org_unit"] == "330213")
    # The city's settings (shipped) need all five components: district A lacks three, district B has no data.
    assert a["value"] is None and set(a["missing"]) == {"MOR", "MDMA", "BE"}
    assert b["value"] is None


def test_a_set_without_a_component_leaves_it_out_and_says_so(users, sites):
    _full_panel("HS-01", dt.date(2026, 1, 5), 2, {"METH": 100})
    created = api_client(users["city"]).post(
        f"{API}/cf-sets",
        {
            "name": "Meth-only",
            "factors": [
                {
                    "analyte": "METH",
                    "excretion_fraction": 0.43,
                    "parent_molar_mass": 1,
                    "biomarker_molar_mass": 1,
                }
            ],
        },
        content_type="application/json",
    )
    assert created.status_code == 201
    body = get(
        users["district_a"], f"{API}/index?site=HS-01&cf_set=Meth-only&from=2026-01-01&to=2026-03-31"
    ).json()
    assert len(body["problems"]) == 4 and any("KET" in problem for problem in body["problems"])
    [q1] = body["periods"]
    assert q1["index"]["value"] == pytest.approx(per_1000(100) / 0.43 / 30, rel=1e-4)


def test_index_settings_are_validated_with_messages_naming_the_key():
    assert validate_settings({}) == []
    problems = validate_settings({"index": {"components": {"NOPE": 1, "METH": -1}, "formula": "magic"}})
    assert any("index.components.NOPE" in problem for problem in problems)
    assert any("index.components.METH" in problem for problem in problems)
    assert any("index.formula" in problem for problem in problems)
    zero = validate_settings({"index": {"components": {code: 0 for code in DOSE}}})
    assert any("at least one weight" in problem for problem in zero)
    assert any("index must be an object" in problem for problem in validate_settings({"index": []}))


def test_index_matrix(users, sites):
    url = f"{API}/index?site=HS-01&from=2026-01-01&to=2026-03-31"
    assert_api_matrix(
        list_url=None,
        detail_url=url,
        marker="HS-01",
        allowed=[users["district_a"], users["city"], users["police_a"]],
        denied=[users["district_b"], users["enterprise"]],
    )
    assert_error_shape(get(users["district_a"], url + "&period=day"), 400)
