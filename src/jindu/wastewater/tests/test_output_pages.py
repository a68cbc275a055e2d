"""The output pages: who may see them (anonymous, wrong district, right role), what they show (the site list's
latest figures, the trend chart's band data, the weekday profile, year on year, rankings with the index label, the
map's catchments and points), the population forms, downloads from the export and report pages, and query counts
that do not grow with the number of sites."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.test import Client
from openpyxl import load_workbook

from jindu.core.models import AuditAction, AuditRecord
from jindu.core.testing.helpers import assert_max_queries, assert_ui_matrix, ui_client
from jindu.people.tests.test_documents import assert_pdf
from jindu.wastewater.models import AnalyteResult, PopulationEstimate, SamplingSite
from jindu.wastewater.services import served_areas_set, site_create
from jindu.wastewater.tests.test_aggregates import days, store

pytestmark = pytest.mark.django_db

CATCHMENT = {
    "type": "Polygon",
    "coordinates": [[[121.50, 29.85], [121.56, 29.85], [121.56, 29.90], [121.50, 29.90], [121.50, 29.85]]],
}


def chart_data(response, name: str) -> dict:
    """The JSON a chart embeds (json_script with that id)."""
    match = re.search(
        rf'<script id="{name}" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert match, f"no {name} in the page"
    return json.loads(match.group(1))


# --- Site list ----------------------------------------------------------------------------------------------------


def test_site_pages_matrix(users, sites, lab):
    assert_ui_matrix(
        list_url="/wastewater/sites/",
        detail_url="/wastewater/sites/HS-01/",
        marker="HS-01",
        allowed=[users["district_a"], users["city"], users["police_a"], lab],
        denied=[users["district_b"], users["enterprise"], users["street_a"]],
    )


def test_the_site_list_shows_population_last_sample_and_latest_meth(users, sites):
    store("HS-01", days(dt.date(2026, 3, 2), [100, 120, "<LOQ"]))
    response = ui_client(users["city"]).get("/wastewater/sites/")
    page = response.content.decode()
    row = re.search(r'<tr data-site="HS-01">(.*?)</tr>', page, re.S).group(1)
    assert (
        "200000" in row and "2026-03-04" in row
    )  # population; the last sample (below the LOQ, still a sample)
    assert "30.00" in row and "2026-03-03" in row  # the latest quantified METH: 120 ng/L on 3 March
    assert 'data-site="FH-01"' in page
    filtered = ui_client(users["city"]).get("/wastewater/sites/?org_unit=330213").content.decode()
    assert 'data-site="FH-01"' in filtered and 'data-site="HS-01"' not in filtered
    searched = ui_client(users["city"]).get("/wastewater/sites/?q=海曙").content.decode()
    assert 'data-site="HS-01"' in searched and 'data-site="FH-01"' not in searched


def test_the_site_list_query_count_does_not_grow_with_sites(users, sites):
    client = ui_client(users["city"])
    store("HS-01", days(dt.date(2026, 3, 2), [100]))
    client.get("/wastewater/sites/")
    with assert_max_queries(20) as few:
        assert client.get("/wastewater/sites/").status_code == 200
    for number in range(8):
        site_create(
            actor=None, code=f"X-{number}", name=f"泵站{number}", org_unit_code="330213", population=1000
        )
        store(f"X-{number}", days(dt.date(2026, 3, 2), [50]))
    with assert_max_queries(20) as many:
        response = client.get("/wastewater/sites/")
    assert response.content.decode().count("<tr data-site=") == 10
    assert len(many.captured_queries) == len(few.captured_queries)


# --- Site page --------------------------------------------------------------------------------------------------------


def test_the_site_page_has_the_trend_band_weekday_profile_and_year_on_year(users, sites):
    store("HS-01", {dt.date(2025, 2, 10): 100})
    store("HS-01", days(dt.date(2026, 1, 5), [100, 200, "<LOQ"]))
    store("HS-01", days(dt.date(2026, 2, 2), [100, 110, 120, 130, 140, 150, 160]))
    client = ui_client(users["district_a"])
    response = client.get("/wastewater/sites/HS-01/?period=month&first=2026-01-01&last=2026-02-28")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="trend-chart"' in page and 'data-ww-chart="trend-data"' in page
    assert "jindu/wastewater.js" in page
    trend = chart_data(response, "trend-data")
    assert trend["type"] == "trend" and trend["labels"] == ["2026-01", "2026-02"]
    assert trend["value"][0] == pytest.approx(37.5)
    assert trend["low"][0] < trend["value"][0] < trend["high"][0]
    assert trend["value"][1] == pytest.approx(1000 * 130 * 50 / 200_000)
    weekday = chart_data(response, "weekday-data")
    assert weekday["weekday_days"] == [1, 2, 3] and weekday["weekend_days"] == [0, 4, 5, 6]
    # Weekdays of 2026-W06 (2 … 8 February): Tue 110, Wed 120, Thu 130; January: Tue 6 Jan 200.
    assert weekday["weekday_mean"] == pytest.approx(
        sum(1000 * v * 50 / 200_000 for v in (110, 120, 130, 200)) / 4
    )
    assert weekday["counts"] == [2, 2, 1, 1, 1, 1, 1]
    assert re.search(r'data-period="2026-02" data-yoy="increase"', page)
    assert re.search(r'data-period="2026-01" data-yoy="no_previous"', page)
    # Daily: the stored results with their stored intervals; the below-LOQ day apart at its LOQ.
    daily = chart_data(
        client.get("/wastewater/sites/HS-01/?period=day&first=2026-01-01&last=2026-01-31"), "trend-data"
    )
    assert daily["labels"] == ["2026-01-05", "2026-01-06", "2026-01-07"]
    assert daily["value"] == [pytest.approx(25.0), pytest.approx(50.0), None]
    assert daily["loq"] == [None, None, pytest.approx(1.25)]
    result = AnalyteResult.objects.get(site=sites["a"], end_date=dt.date(2026, 1, 5))
    assert daily["low"][0] == pytest.approx(result.per_1000_p2_5)
    weekend_only = chart_data(
        client.get("/wastewater/sites/HS-01/?period=day&days=weekend&first=2026-02-01&last=2026-02-28"),
        "trend-data",
    )
    assert weekend_only["labels"] == ["2026-02-02", "2026-02-06", "2026-02-07", "2026-02-08"]


def test_the_site_page_defaults_to_the_last_year_of_data_and_reports_bad_input(users, sites):
    store("HS-01", days(dt.date(2025, 6, 2), [100]))
    client = ui_client(users["district_a"])
    trend = chart_data(client.get("/wastewater/sites/HS-01/"), "trend-data")
    assert trend["labels"][-1] == "2025-06" and trend["labels"][0] == "2024-06"
    bad = client.get("/wastewater/sites/HS-01/?first=2026-03-01&last=2026-01-01")
    assert bad.status_code == 200 and 'data-testid="trend-chart"' not in bad.content.decode()
    assert ui_client(users["district_b"]).get("/wastewater/sites/HS-01/").status_code == 404


def test_population_forms_add_an_estimate_and_choose_the_default(users, sites):
    store("HS-01", days(dt.date(2026, 3, 2), [100]))
    client = ui_client(users["district_a"])
    page = client.get("/wastewater/sites/HS-01/").content.decode()
    assert 'data-testid="population-form"' in page and 'data-testid="default-estimate"' in page
    response = client.post(
        "/wastewater/sites/HS-01/population/",
        {"population": 250_000, "method": "cotinine", "estimated_on": "2026-03-01", "rsd": "0.15"},
    )
    assert response.status_code == 302
    estimate = PopulationEstimate.objects.get(site=sites["a"], method="cotinine")
    assert float(estimate.rsd) == 0.15
    assert SamplingSite.objects.get(pk=sites["a"].pk).default_population_id != estimate.pk
    response = client.post(f"/wastewater/sites/HS-01/population/{estimate.pk}/default/")
    assert response.status_code == 302
    assert SamplingSite.objects.get(pk=sites["a"].pk).default_population_id == estimate.pk
    assert AnalyteResult.objects.get(site=sites["a"]).per_1000 == pytest.approx(1000 * 5000 / 250_000)
    # Bad input is refused with a message, nothing stored.
    client.post(
        "/wastewater/sites/HS-01/population/",
        {"population": 0, "method": "cotinine", "estimated_on": "2026-03-01"},
    )
    assert PopulationEstimate.objects.filter(site=sites["a"]).count() == 2
    future = client.post(
        "/wastewater/sites/HS-01/population/",
        {"population": 1000, "method": "cotinine", "estimated_on": "2099-01-01"},
        follow=True,
    )
    assert (
        PopulationEstimate.objects.filter(site=sites["a"]).count() == 2
        and "alert-danger" in future.content.decode()
    )
    # Readers without the right, or outside the capture scope, get no form and 404 on posting.
    police_page = ui_client(users["police_a"]).get("/wastewater/sites/HS-01/").content.decode()
    assert 'data-testid="population-form"' not in police_page
    for user in (users["police_a"], users["district_b"]):
        denied = ui_client(user).post(
            "/wastewater/sites/HS-01/population/",
            {"population": 1000, "method": "cotinine", "estimated_on": "2026-03-01"},
        )
        assert denied.status_code == 404
        assert (
            ui_client(user).post(f"/wastewater/sites/HS-01/population/{estimate.pk}/default/").status_code
            == 404
        )
    anonymous = Client().post(f"/wastewater/sites/HS-01/population/{estimate.pk}/default/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert ui_client(users["district_a"]).get("/wastewater/sites/HS-01/population/").status_code == 405


# --- Rankings, map ----------------------------------------------------------------------------------------------------


def test_the_rankings_page(users, sites):
    store("HS-01", days(dt.date(2026, 1, 5), [100] * 3))
    store("FH-01", days(dt.date(2026, 1, 5), [320] * 3))
    client = ui_client(users["city"])
    response = client.get(
        "/wastewater/rankings/?parent=330200&period=2026Q1&analyte=METH&measure=load_per_1000"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index('data-unit="330213" data-rank="1"') < page.index('data-unit="330203" data-rank="2"')
    chart = chart_data(response, "ranking-data")
    assert chart["labels"] == ["奉化区", "海曙区"] and chart["value"][0] == pytest.approx(200.0)
    assert chart["low"][0] < 200.0 < chart["high"][0]
    index = client.get("/wastewater/rankings/?parent=330200&period=2026Q1&measure=index").content.decode()
    assert 'data-testid="index-label"' in index and "本地测算" in index and "METH ÷ 30 mg" in index
    bad = client.get("/wastewater/rankings/?parent=330200&period=2026Q9").content.decode()
    assert "alert-danger" in bad and 'data-testid="ranking-table"' not in bad
    # A district office ranks its own streets; the city is not among its choices and answers 404.
    own = ui_client(users["district_a"]).get("/wastewater/rankings/")
    assert own.status_code == 200 and 'data-unit="330203001"' in own.content.decode()
    assert ui_client(users["district_a"]).get("/wastewater/rankings/?parent=330200").status_code == 200
    assert (
        'data-unit="330213"'
        not in ui_client(users["district_a"]).get("/wastewater/rankings/?parent=330200").content.decode()
    )
    assert ui_client(users["enterprise"]).get("/wastewater/rankings/").status_code == 403
    anonymous = Client().get("/wastewater/rankings/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_the_map_draws_catchments_and_points(users, sites, english):
    SamplingSite.objects.filter(pk=sites["a"].pk).update(catchment=CATCHMENT)
    SamplingSite.objects.filter(pk=sites["b"].pk).update(latitude=29.65, longitude=121.40)
    site_create(actor=None, code="NO-GEO", name="无坐标", org_unit_code="330213", population=1000)
    store("HS-01", days(dt.date(2026, 1, 5), [100]))
    response = ui_client(users["city"]).get("/wastewater/map/?analyte=METH&period=2026Q1")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="map-chart"' in page
    chart = chart_data(response, "map-data")
    assert chart["geojson"]["type"] == "FeatureCollection"
    feature, extent = chart["geojson"]["features"]
    assert feature["properties"]["name"] == "HS-01" and feature["geometry"] == CATCHMENT
    # An invisible box holds the catchment and the point outside it.
    [ring] = extent["geometry"]["coordinates"]
    assert extent["properties"]["name"] == "__extent__"
    assert min(x for x, _y in ring) < 121.40 and max(y for _x, y in ring) > 29.90
    assert chart["regions"] == [
        {"name": "HS-01", "value": pytest.approx(25.0), "label": "海曙污水处理厂 (HS-01)", "days": 1}
    ]
    assert [point["name"] for point in chart["points"]] == ["FH-01"]
    assert chart["points"][0]["value"][:2] == [121.40, 29.65] and chart["points"][0]["value"][2] is None
    assert "not drawn" in re.search(r'<tr data-site="NO-GEO">(.*?)</tr>', page, re.S).group(1)
    # District B sees its own sites only.
    district_b = chart_data(ui_client(users["district_b"]).get("/wastewater/map/?period=2026Q1"), "map-data")
    assert district_b["regions"] == [] and [p["name"] for p in district_b["points"]] == ["FH-01"]
    assert district_b["geojson"]["features"][0]["properties"]["name"] == "__extent__"
    assert ui_client(users["enterprise"]).get("/wastewater/map/").status_code == 403


# --- Export and report pages -------------------------------------------------------------------------------------------


def test_the_export_page_downloads_the_workbook(users, sites):
    store("HS-01", days(dt.date(2026, 3, 2), [100]))
    client = ui_client(users["district_a"])
    form = client.get("/wastewater/export/")
    assert form.status_code == 200 and 'data-testid="export-page-form"' in form.content.decode()
    missing = client.get(
        "/wastewater/export/?download=1&site=HS-01&first=2026-03-01&last=2026-03-31&period=month"
    )
    assert missing["Content-Type"].startswith("text/html") and "purpose" in missing.content.decode()
    response = client.get(
        "/wastewater/export/?download=1&site=HS-01&first=2026-03-01&last=2026-03-31&period=month&purpose=专项分析"
    )
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    daily = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert "专项分析" in list(daily.values)[0][0]
    assert AuditRecord.objects.filter(action=AuditAction.EXPORT, actor_username="t_district_a").count() == 1
    other = ui_client(users["district_b"]).get(
        "/wastewater/export/?download=1&site=HS-01&first=2026-03-01&last=2026-03-31&period=month&purpose=专项分析"
    )
    assert other["Content-Type"].startswith("text/html")  # HS-01 is not among district B's choices
    assert AuditRecord.objects.filter(action=AuditAction.EXPORT).count() == 1


def test_the_reports_page_downloads_the_pdf(users, sites):
    store("HS-01", days(dt.date(2026, 1, 5), [100]))
    client = ui_client(users["city"])
    page = client.get("/wastewater/reports/").content.decode()
    assert 'data-testid="report-form"' in page and "2026Q1" in page
    response = client.get(
        "/wastewater/reports/?download=1&org_unit=330200&quarter=2026Q1&analyte=METH&purpose=季度通报"
    )
    assert response["Content-Type"] == "application/pdf"
    assert "宁波市污水毒情监测季度报告" in assert_pdf(response.content)
    assert AuditRecord.objects.filter(action=AuditAction.EXPORT, object_type="wastewater.report").count() == 1
    refused = ui_client(users["district_a"]).get(
        "/wastewater/reports/?download=1&org_unit=330200&quarter=2026Q1&analyte=METH&purpose=季度通报"
    )
    assert refused["Content-Type"].startswith("text/html")  # not a choice for district A: the form says so
    assert AuditRecord.objects.filter(action=AuditAction.EXPORT).count() == 1


def test_menu_items_appear(users, sites):
    page = ui_client(users["city"]).get("/wastewater/sites/").content.decode()
    for url in ("/wastewater/sites/", "/wastewater/rankings/", "/wastewater/map/", "/wastewater/reports/"):
        assert f'href="{url}"' in page


def test_a_shared_site_shows_its_share_in_the_ranking(users, sites):
    served_areas_set(actor=None, site=sites["a"], areas=[("330203", 0.6), ("330213", 0.4)])
    store("HS-01", days(dt.date(2026, 1, 5), [100]))
    page = ui_client(users["city"]).get("/wastewater/rankings/?parent=330200&period=2026Q1").content.decode()
    row = re.search(r'<tr data-unit="330213"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert "HS-01 (0.4)" in row


@pytest.mark.parametrize(
    "url", ["/wastewater/rankings/", "/wastewater/map/", "/wastewater/export/", "/wastewater/reports/"]
)
def test_area_pages_need_a_login_and_the_wastewater_role(users, url):
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert ui_client(users["enterprise"]).get(url).status_code == 403
    assert ui_client(users["sysadmin"]).get(url).status_code == 403
    assert ui_client(users["district_b"]).get(url).status_code == 200


def test_ranking_and_map_queries_do_not_grow_with_sites(users, sites):
    store("HS-01", days(dt.date(2026, 1, 5), [100]))
    client = ui_client(users["city"])
    urls = ("/wastewater/rankings/?parent=330200&period=2026Q1", "/wastewater/map/?period=2026Q1")
    for url in urls:
        client.get(url)
    counts = []
    for url in urls:
        with assert_max_queries(30) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries.captured_queries))
    for number in range(6):
        code = f"Y-{number}"
        site_create(
            actor=None,
            code=code,
            name=f"泵站{number}",
            org_unit_code=("330203", "330213")[number % 2],
            population=5000,
        )
        store(code, days(dt.date(2026, 1, 5), [60 + number]))
    for url, before in zip(urls, counts, strict=True):
        with assert_max_queries(30) as queries:
            assert client.get(url).status_code == 200
        assert len(queries.captured_queries) == before, url
