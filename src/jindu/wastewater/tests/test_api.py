"""The wastewater API: the contract of the issue (cf-sets, sites, samples, results), bad input, correction,
and who may see and do what."""

import json

import pytest

from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import api_client, assert_api_matrix, assert_error_shape, assert_max_queries
from jindu.wastewater.models import AnalyteResult, CorrectionFactorSet, Measurement, WastewaterSample

pytestmark = pytest.mark.django_db


def _post(user, url, body):
    return api_client(user).post(url, json.dumps(body), content_type="application/json")


def _put(user, url, body):
    return api_client(user).put(url, json.dumps(body), content_type="application/json")


def _sample(site="HS-01", day="2026-03-04", **extra):
    body = {
        "site": site,
        "end_date": day,
        "flow_m3_per_day": 50_000,
        "measurements": [
            {"analyte": "METH", "ng_per_l": 100},
            {"analyte": "AMP", "ng_per_l": None, "below_loq": True, "loq": 5},
        ],
    }
    body.update(extra)
    return body


def test_the_issue_example_through_the_api(users, sites):
    """C = 100 ng/L, Q = 5 万m³/d, P = 200,000 → 25.0 mg/day/1000, and 58.3 with factor 2.33."""
    created = _post(
        users["city"],
        "/api/v1/wastewater/cf-sets",
        {
            "name": "Issue-2.33",
            "factors": [
                {
                    "analyte": "METH",
                    "excretion_fraction": 1 / 2.33,
                    "parent_molar_mass": 149.24,
                    "biomarker_molar_mass": 149.24,
                }
            ],
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["factors"][0]["correction_factor"] == pytest.approx(2.33)
    sample = _post(
        users["district_a"],
        "/api/v1/wastewater/samples",
        {
            "site": "HS-01",
            "end_date": "2026-03-04",
            "flow": 5,
            "flow_unit": "万m3/d",
            "measurements": [{"analyte": "METH", "ng_per_l": 100}],
        },
    )
    assert sample.status_code == 201, sample.content
    response = api_client(users["district_a"]).get(
        "/api/v1/wastewater/results?site=HS-01&from=2026-03-01&to=2026-03-31&cf_set=Issue-2.33"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cf_set"]["name"] == "Issue-2.33"
    [item] = body["items"]
    assert item["analyte"] == "METH" and item["end_date"] == "2026-03-04" and item["status"] == "computed"
    assert item["load_mg_per_day"]["value"] == pytest.approx(5000.0)
    assert item["load_per_1000"]["value"] == pytest.approx(25.0)
    # The fraction is stored to six decimals (0.429185), so the factor is 2.33 to five digits.
    assert item["consumption_per_1000"]["value"] == pytest.approx(58.25, abs=0.001)
    for key in ("load_mg_per_day", "load_per_1000", "consumption_per_1000"):
        estimate = item[key]
        assert estimate["p2_5"] < estimate["median"] < estimate["p97_5"]
        assert estimate["p2_5"] < estimate["value"] < estimate["p97_5"]
    # Consumption carries the excretion error too: its interval is relatively wider.
    load_width = item["load_per_1000"]["p97_5"] / item["load_per_1000"]["p2_5"]
    consumption_width = item["consumption_per_1000"]["p97_5"] / item["consumption_per_1000"]["p2_5"]
    assert consumption_width > load_width
    assert item["draws"] == 10_000


def test_default_factor_set_and_a_set_without_the_analyte(users, sites):
    assert _post(users["district_a"], "/api/v1/wastewater/samples", _sample()).status_code == 201
    client = api_client(users["district_a"])
    body = client.get("/api/v1/wastewater/results?site=HS-01").json()
    assert body["cf_set"]["name"] == "China-Du2020"
    by_analyte = {item["analyte"]: item for item in body["items"]}
    # METH at 43 %: CF = 1/0.43.
    assert by_analyte["METH"]["consumption_per_1000"]["value"] == pytest.approx(25.0 / 0.43)
    # Below the LOQ: no number, the LOQ's equivalent as a bound.
    amp = by_analyte["AMP"]
    assert amp["status"] == "below_loq"
    assert amp["load_per_1000"] is None and amp["consumption_per_1000"] is None
    assert amp["loq_per_1000"] == pytest.approx(5 * 50_000 * 1e-3 * 1000 / 200_000)
    gracia = client.get("/api/v1/wastewater/results?site=HS-01&cf_set=GraciaLor-2016:1").json()
    meth = next(item for item in gracia["items"] if item["analyte"] == "METH")
    assert meth["consumption_per_1000"]["value"] == pytest.approx(25.0 / 0.39)
    assert_error_shape(client.get("/api/v1/wastewater/results?site=HS-01&cf_set=Nope"), 400, "unknown_cf_set")
    assert_error_shape(client.get("/api/v1/wastewater/results?site=HS-01&from=March"), 400)
    assert_error_shape(client.get("/api/v1/wastewater/results?site=HS-01&analyte=XYZ"), 400)


def test_qa_failure_blocks_the_result(users, sites):
    body = _sample(measurements=[{"analyte": "METH", "ng_per_l": 100, "recovery_percent": 45}])
    assert _post(users["district_a"], "/api/v1/wastewater/samples", body).status_code == 201
    [item] = api_client(users["district_a"]).get("/api/v1/wastewater/results?site=HS-01").json()["items"]
    assert item["status"] == "qa_failed"
    assert "recovery 45" in item["reason"]
    assert item["load_mg_per_day"] is None


def test_cf_sets_are_versioned_never_edited(users):
    factors = [
        {
            "analyte": "甲基苯丙胺",
            "excretion_fraction": 0.43,
            "parent_molar_mass": 149.24,
            "biomarker_molar_mass": 149.24,
        }
    ]
    first = _post(users["city"], "/api/v1/wastewater/cf-sets", {"name": "Office-A", "factors": factors})
    assert first.status_code == 201 and first.json()["version"] == 1
    factors[0]["excretion_fraction"] = 0.39
    second = _post(users["city"], "/api/v1/wastewater/cf-sets", {"name": "Office-A", "factors": factors})
    assert second.status_code == 201 and second.json()["version"] == 2
    client = api_client(users["district_a"])
    assert client.get("/api/v1/wastewater/cf-sets/Office-A").json()["version"] == 2
    assert (
        client.get("/api/v1/wastewater/cf-sets/Office-A:1").json()["factors"][0]["excretion_fraction"] == 0.43
    )
    assert client.get(f"/api/v1/wastewater/cf-sets/{first.json()['id']}").json()["version"] == 1
    names = {(item["name"], item["version"]) for item in client.get("/api/v1/wastewater/cf-sets").json()}
    assert {("Office-A", 1), ("Office-A", 2), ("China-Du2020", 1), ("SCORE-2008", 1)} <= names
    assert AuditRecord.objects.filter(object_type="wastewater.correctionfactorset").count() == 2


@pytest.mark.parametrize(
    ("factor", "path"),
    [
        (
            {"analyte": "NOPE", "excretion_fraction": 0.4, "parent_molar_mass": 1, "biomarker_molar_mass": 1},
            "factors[0].analyte",
        ),
        (
            {"analyte": "METH", "excretion_fraction": 0, "parent_molar_mass": 1, "biomarker_molar_mass": 1},
            "factors[0].excretion_fraction",
        ),
        (
            {"analyte": "METH", "excretion_fraction": 1.5, "parent_molar_mass": 1, "biomarker_molar_mass": 1},
            "factors[0].excretion_fraction",
        ),
        (
            {
                "analyte": "METH",
                "excretion_fraction": 0.4,
                "parent_molar_mass": -3,
                "biomarker_molar_mass": 1,
            },
            "factors[0].parent_molar_mass",
        ),
    ],
)
def test_bad_factor_sets_are_refused_with_the_path_and_nothing_stored(users, factor, path):
    before = CorrectionFactorSet.objects.count()
    response = _post(users["city"], "/api/v1/wastewater/cf-sets", {"name": "Bad", "factors": [factor]})
    body = assert_error_shape(response, 400)
    assert path in body["error"]["fields"]
    assert CorrectionFactorSet.objects.count() == before


def test_cf_sets_need_the_analyst_role(users):
    body = {
        "name": "X",
        "factors": [
            {"analyte": "METH", "excretion_fraction": 0.4, "parent_molar_mass": 1, "biomarker_molar_mass": 1}
        ],
    }
    assert_error_shape(_post(users["police_a"], "/api/v1/wastewater/cf-sets", body), 403)
    assert_error_shape(_post(users["enterprise"], "/api/v1/wastewater/cf-sets", body), 403)
    assert_error_shape(
        api_client(None).post(
            "/api/v1/wastewater/cf-sets", json.dumps(body), content_type="application/json"
        ),
        401,
    )


def test_sites_contract_and_bad_input(users):
    created = _post(
        users["district_a"],
        "/api/v1/wastewater/sites",
        {
            "code": "HS-02",
            "name": "南门泵站",
            "population": 150_000,
            "org_unit": "330203001",
            "kind": "pumping_station",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["population"] == 150_000 and body["org_unit"] == "330203001"
    assert body["served_areas"] == [{"org_unit": "330203001", "org_unit_name": "南门街道", "share": 1.0}]
    assert body["population_estimates"][0]["method"] == "registered"
    assert body["population_estimates"][0]["rsd"] == pytest.approx(0.2)  # the method's default RSD
    assert_error_shape(
        _post(
            users["district_a"],
            "/api/v1/wastewater/sites",
            {"code": "HS-02", "name": "x", "org_unit": "330203"},
        ),
        409,
        "duplicate_site",
    )
    wrong_district = _post(
        users["district_a"], "/api/v1/wastewater/sites", {"code": "X-1", "name": "x", "org_unit": "330213"}
    )
    assert "org_unit" in assert_error_shape(wrong_district, 400)["error"]["fields"]
    bad = _post(
        users["district_a"],
        "/api/v1/wastewater/sites",
        {
            "code": "bad code!",
            "name": "",
            "org_unit": "330203",
            "population": 0,
            "catchment": {"type": "Point", "coordinates": [1, 2]},
        },
    )
    fields = assert_error_shape(bad, 400)["error"]["fields"]
    assert {"code", "name", "population", "catchment"} <= set(fields)
    assert_error_shape(
        _post(
            users["street_a"],
            "/api/v1/wastewater/sites",
            {"code": "S-1", "name": "x", "org_unit": "330203001"},
        ),
        404,
    )


def test_site_matrix(users, sites, lab):
    assert_api_matrix(
        list_url="/api/v1/wastewater/sites",
        detail_url=f"/api/v1/wastewater/sites/{sites['a'].pk}",
        marker="HS-01",
        allowed=[users["district_a"], users["city"], users["police_a"], lab],
        denied=[users["district_b"], users["sysadmin"], users["enterprise"], users["worker_a"]],
    )
    # Street offices read the sites of their street only.
    assert api_client(users["street_a"]).get("/api/v1/wastewater/sites").json()["items"] == []


def test_served_areas_and_population_estimates(users, sites):
    client = api_client(users["district_a"])
    assert _post(users["district_a"], "/api/v1/wastewater/samples", _sample()).status_code == 201
    areas = _put(
        users["district_a"],
        "/api/v1/wastewater/sites/HS-01/served-areas",
        [{"org_unit": "330203001", "share": 0.6}, {"org_unit": "330203002", "share": 0.4}],
    )
    assert areas.status_code == 200, areas.content
    assert {area["org_unit"]: area["share"] for area in areas.json()} == {"330203001": 0.6, "330203002": 0.4}
    too_much = _put(
        users["district_a"],
        "/api/v1/wastewater/sites/HS-01/served-areas",
        [{"org_unit": "330203001", "share": 0.7}, {"org_unit": "330203002", "share": 0.4}],
    )
    assert "areas" in assert_error_shape(too_much, 400)["error"]["fields"]
    outside = _put(
        users["district_a"],
        "/api/v1/wastewater/sites/HS-01/served-areas",
        [{"org_unit": "330213", "share": 1}],
    )
    assert_error_shape(outside, 400)
    assert_error_shape(_put(users["district_b"], "/api/v1/wastewater/sites/HS-01/served-areas", []), 404)
    # A new default population rewrites the site's results.
    estimate = _post(
        users["district_a"],
        "/api/v1/wastewater/sites/HS-01/population-estimates",
        {"population": 250_000, "method": "cotinine", "estimated_on": "2026-01-10", "make_default": True},
    )
    assert estimate.status_code == 201, estimate.content
    assert estimate.json()["rsd"] == pytest.approx(0.15)
    meth = next(
        i
        for i in client.get("/api/v1/wastewater/results?site=HS-01").json()["items"]
        if i["analyte"] == "METH"
    )
    assert meth["load_per_1000"]["value"] == pytest.approx(5000 * 1000 / 250_000)
    assert meth["population_estimate"] == estimate.json()["id"]
    first_estimate = next(
        estimate["id"]
        for estimate in client.get("/api/v1/wastewater/sites/HS-01").json()["population_estimates"]
        if estimate["method"] == "registered"
    )
    back = client.post(f"/api/v1/wastewater/sites/HS-01/population-estimates/{first_estimate}/default")
    assert back.status_code == 200 and back.json()["population"] == 200_000
    meth = next(
        i
        for i in client.get("/api/v1/wastewater/results?site=HS-01").json()["items"]
        if i["analyte"] == "METH"
    )
    assert meth["load_per_1000"]["value"] == pytest.approx(25.0)
    bad = _post(
        users["district_a"],
        "/api/v1/wastewater/sites/HS-01/population-estimates",
        {"population": -5, "method": "guess", "estimated_on": "2099-01-01", "rsd": 9},
    )
    assert {"population", "method", "estimated_on", "rsd"} <= set(
        assert_error_shape(bad, 400)["error"]["fields"]
    )
    assert_error_shape(client.post("/api/v1/wastewater/sites/HS-01/population-estimates/999999/default"), 404)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"site": "NOPE"}, "sample.site"),
        ({"end_date": "2099-01-01"}, "sample.end_date"),
        ({"flow_m3_per_day": 0}, "sample.flow_m3_per_day"),
        ({"flow_m3_per_day": None}, "sample.flow_m3_per_day"),
        ({"measurements": []}, "sample.measurements"),
        ({"measurements": [{"analyte": "XYZ", "ng_per_l": 1}]}, "sample.measurements[0].analyte"),
        ({"measurements": [{"analyte": "METH", "ng_per_l": -1}]}, "sample.measurements[0].ng_per_l"),
        (
            {"measurements": [{"analyte": "METH", "ng_per_l": 3, "below_loq": True, "loq": 5}]},
            "sample.measurements[0].ng_per_l",
        ),
        ({"measurements": [{"analyte": "METH", "below_loq": True}]}, "sample.measurements[0].loq"),
        ({"measurements": [{"analyte": "METH", "ng_per_l": 3, "loq": 5}]}, "sample.measurements[0].ng_per_l"),
        (
            {"measurements": [{"analyte": "METH", "ng_per_l": 3, "unit": "ppm"}]},
            "sample.measurements[0].ng_per_l",
        ),
        (
            {"measurements": [{"analyte": "METH", "ng_per_l": 3}, {"analyte": "冰毒", "ng_per_l": 4}]},
            "sample.measurements[1].analyte",
        ),
        ({"flow": 5, "flow_unit": "gallons"}, "sample.flow_unit"),
    ],
)
def test_bad_samples_are_refused_whole(users, sites, change, path):
    response = _post(users["district_a"], "/api/v1/wastewater/samples", _sample(**change))
    body = assert_error_shape(response, 400)
    assert path in body["error"]["fields"], body
    assert WastewaterSample.objects.count() == 0 and Measurement.objects.count() == 0


def test_a_second_sample_of_the_day_is_a_conflict_and_a_correction_keeps_history(users, sites):
    created = _post(users["district_a"], "/api/v1/wastewater/samples", _sample())
    assert created.status_code == 201
    sample_id = created.json()["id"]
    assert_error_shape(
        _post(users["district_a"], "/api/v1/wastewater/samples", _sample()), 409, "duplicate_sample"
    )
    assert Measurement.objects.get(sample_id=sample_id, analyte__code="METH").ng_per_l == 100
    corrected = _put(
        users["district_a"],
        f"/api/v1/wastewater/samples/{sample_id}",
        _sample(measurements=[{"analyte": "METH", "ng_per_l": 120}]),
    )
    assert corrected.status_code == 200, corrected.content
    assert corrected.json()["updated"] == [sample_id]
    # The AMP measurement the correction did not mention is kept; METH changed, its old value is in the audit.
    assert Measurement.objects.filter(sample_id=sample_id).count() == 2
    assert Measurement.objects.get(sample_id=sample_id, analyte__code="METH").ng_per_l == 120
    record = (
        AuditRecord.objects.filter(object_type="wastewater.wastewatersample").order_by("-sequence").first()
    )
    assert record.detail["changes"][0]["before"]["METH"][0] == "100.0000"
    assert AnalyteResult.objects.get(
        measurement__sample_id=sample_id, analyte__code="METH"
    ).per_1000 == pytest.approx(30.0)
    same = _put(
        users["district_a"],
        f"/api/v1/wastewater/samples/{sample_id}",
        _sample(measurements=[{"analyte": "METH", "ng_per_l": 120}]),
    )
    assert same.json()["unchanged"] == [sample_id]
    moved = _put(users["district_a"], f"/api/v1/wastewater/samples/{sample_id}", _sample(day="2026-03-05"))
    assert_error_shape(moved, 400)
    assert_error_shape(_put(users["district_b"], f"/api/v1/wastewater/samples/{sample_id}", _sample()), 404)


def test_sample_matrix_and_capture_scope(users, sites, lab):
    assert _post(lab, "/api/v1/wastewater/samples", _sample()).status_code == 201
    sample = WastewaterSample.objects.get()
    assert_api_matrix(
        list_url="/api/v1/wastewater/samples",
        detail_url=f"/api/v1/wastewater/samples/{sample.pk}",
        marker="HS-01",
        allowed=[users["district_a"], users["city"], users["police_a"], lab],
        denied=[users["district_b"], users["sysadmin"], users["enterprise"]],
    )
    # District B cannot record samples of district A's site; the police read but do not write.
    assert_error_shape(
        _post(users["district_b"], "/api/v1/wastewater/samples", _sample(day="2026-03-05")), 400
    )
    assert_error_shape(_post(users["police_a"], "/api/v1/wastewater/samples", _sample(day="2026-03-05")), 404)


def test_results_matrix(users, sites, lab):
    assert _post(lab, "/api/v1/wastewater/samples", _sample()).status_code == 201
    for user in (users["district_a"], users["city"], users["police_a"], lab):
        assert api_client(user).get("/api/v1/wastewater/results?site=HS-01").json()["count"] == 2
    for user in (users["district_b"], users["sysadmin"], users["enterprise"]):
        assert_error_shape(api_client(user).get("/api/v1/wastewater/results?site=HS-01"), 404)
    assert_error_shape(api_client(None).get("/api/v1/wastewater/results?site=HS-01"), 401)


def test_list_endpoints_have_bounded_query_counts(users, sites):
    for day in range(1, 11):
        assert (
            _post(
                users["district_a"], "/api/v1/wastewater/samples", _sample(day=f"2026-03-{day:02d}")
            ).status_code
            == 201
        )
    client = api_client(users["district_a"])
    client.get("/api/v1/wastewater/sites")  # warm the token's session lookups
    with assert_max_queries(12):
        response = client.get("/api/v1/wastewater/samples?page_size=50")
    assert response.json()["count"] == 10 and len(response.json()["items"][0]["measurements"]) == 2
    with assert_max_queries(10):
        assert client.get("/api/v1/wastewater/sites").json()["count"] == 1
    with assert_max_queries(14):
        assert client.get("/api/v1/wastewater/results?site=HS-01").json()["count"] == 20


def test_storing_samples_queues_the_anomaly_rules_for_their_sites(users, sites):
    from jindu.core.models import Job

    created = _post(users["district_a"], "/api/v1/wastewater/samples", _sample(day="2026-03-02"))
    assert created.status_code == 201
    job = Job.objects.get(name="wastewater_anomalies")
    assert job.parameters == {"site_ids": [sites["a"].pk], "since": "2026-03-02"}
    assert job.created_by == users["district_a"]
    # A correction that changes nothing queues nothing more.
    unchanged = _put(
        users["district_a"], f"/api/v1/wastewater/samples/{created.json()['id']}", _sample(day="2026-03-02")
    )
    assert unchanged.json()["unchanged"] and Job.objects.filter(name="wastewater_anomalies").count() == 1
