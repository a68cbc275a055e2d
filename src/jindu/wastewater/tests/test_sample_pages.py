"""The page of one sample: who may see it (anonymous, wrong district, roles without the permission, the right
roles), what it shows (facts, the import it came from, values under the LOQ never as numbers, the results with the
same intervals as the results API, QA reasons, the flags raised on it), the links to it from the anomaly and site
pages, and a number of queries that does not grow with its analytes or flags."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.template.defaultfilters import floatformat
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from jindu.core.models import OrgUnit
from jindu.core.testing.helpers import api_client, assert_max_queries, assert_ui_matrix, ui_client
from jindu.wastewater import services
from jindu.wastewater.anomalies import anomaly_explanation, run_anomalies
from jindu.wastewater.models import LabImport, WastewaterAnomaly, WastewaterSample
from jindu.wastewater.services import MeasurementEntry, SampleEntry
from jindu.wastewater.tests.test_anomalies import AS_OF, meth_and_amp, store_series

pytestmark = pytest.mark.django_db

MEASUREMENTS = [
    MeasurementEntry(
        analyte="METH", ng_per_l=1000, lod="0.5", loq=2, recovery_percent="96.5", replicate_rsd_percent="4.2"
    ),
    MeasurementEntry(analyte="AMP", below_loq=True, loq=5, lod="1.5"),
    MeasurementEntry(analyte="MDMA", ng_per_l=20, recovery_percent=40),
    # Cotinine has no factor in the shipped set: a load, no consumption.
    MeasurementEntry(analyte="COT", ng_per_l=2500),
]


def page_url(sample: Any) -> str:
    return f"/wastewater/samples/{sample.pk}/"


def row_of(page: str, code: str) -> str:
    match = re.search(rf'<tr data-analyte="{code}"[^>]*>(.*?)</tr>', page, re.S)
    assert match, f"no row for {code}"
    return match.group(0)


def cell_of(row: str, name: str) -> dict[str, str]:
    """The data attributes of a result's estimate cell (value, low, high when it has them)."""
    match = re.search(rf'<td class="text-end" data-estimate="{name}"([^>]*)>(.*?)</td>', row, re.S)
    assert match, f"no {name} cell"
    attributes = dict(re.findall(r'data-(value|low|high)="([^"]*)"', match.group(1)))
    return {**attributes, "text": match.group(2)}


@pytest.fixture
def sample(sites, lab) -> WastewaterSample:
    """Plant A's last day of 40 (from a file the city's lab imported): a METH spike with AMP under its LOQ (so
    flags are raised on it), MDMA blocked by QA and cotinine, after 39 clean days."""
    store_series("HS-01", 39, lambda _index, rng: meth_and_amp(rng), end=AS_OF - dt.timedelta(days=1))
    lab_file = LabImport.objects.create(
        file_name="宁波检测-2025-06.xlsx",
        digest="a" * 64,
        size=2048,
        org_unit=OrgUnit.objects.get(code="330200"),
        imported_by=lab,
    )
    report = services.samples_store(
        actor=None,
        lab_import=lab_file,
        entries=[
            SampleEntry(
                site="HS-01",
                end_date=AS_OF,
                flow_m3_per_day="52000.5",
                sampling_mode="time",
                lab="宁波检测中心",
                method="JD/YJY02.10-2021",
                analysed_on=AS_OF + dt.timedelta(days=2),
                note="夜间采样",
                measurements=MEASUREMENTS,
            )
        ],
    )
    run_anomalies(as_of=AS_OF)
    return WastewaterSample.objects.get(pk=report.created[0])


def test_sample_page_matrix(sample, users, lab):
    assert_ui_matrix(
        list_url=None,
        detail_url=page_url(sample),
        marker=f'data-sample="{sample.pk}"',
        # The district's office, the city's office and its lab, police of district A (who search the city).
        allowed=[users["district_a"], users["city"], users["police_a"], lab],
        # Another district, a street of the district (the plant is the district's), and roles without the
        # wastewater view permission: all answered as if the sample did not exist, as the other detail pages do.
        denied=[
            users["district_b"],
            users["street_a"],
            users["worker_a"],
            users["enterprise"],
            users["sysadmin"],
        ],
    )
    assert ui_client(users["city"]).get("/wastewater/samples/999999/").status_code == 404
    response = Client().get(page_url(sample))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.usefixtures("english")
def test_the_page_shows_the_sample_facts_and_the_import_it_came_from(sample, users, lab):
    page = ui_client(users["city"]).get(page_url(sample)).content.decode()
    facts = page[page.index('data-testid="sample-facts"') :].split("</dl>")[0]
    assert 'href="/wastewater/sites/HS-01/"' in page and "海曙污水处理厂" in page
    assert "2025-06-30" in facts and "52000.5" in facts and "Time-proportional" in facts
    assert "宁波检测中心" in facts and "JD/YJY02.10-2021" in facts and "2025-07-02" in facts
    assert "夜间采样" in facts
    assert f'href="/wastewater/imports/{sample.lab_import_id}/"' in facts and "宁波检测-2025-06.xlsx" in facts
    assert f'href="/api/v1/wastewater/samples/{sample.pk}"' in page
    # The file is the city lab's: district A reads the sample but may not open the import, so it is no link.
    district = ui_client(users["district_a"]).get(page_url(sample)).content.decode()
    imported = district[district.index('data-testid="lab-import"') :].split("</dd>")[0]
    assert "/wastewater/imports/" not in imported and f"#{sample.lab_import_id}" in imported


@pytest.mark.usefixtures("english")
def test_a_value_under_the_loq_is_shown_as_under_its_loq_never_as_a_number(sample, users):
    page = ui_client(users["district_a"]).get(page_url(sample)).content.decode()
    row = row_of(page, "AMP")
    cell = re.search(r'data-testid="concentration" data-below-loq="1">(.*?)</td>', row, re.S)
    assert cell, row
    text = re.sub(r"<[^>]+>", "", cell.group(1))
    assert "&lt; LOQ" in text and "&lt; 5" in text
    # Nothing else in the value cell is a number: only the LOQ it is under.
    assert not re.search(r"\d", text.replace("&lt; 5", "")), text
    assert 'data-status="below_loq"' in row and "Below LOQ" in row
    # No load either: the LOQ's load per 1000 as a bound, no value attribute on any estimate.
    for name in ("load_mg_per_day", "load_per_1000", "consumption_per_1000"):
        assert "value" not in cell_of(row, name)
    assert "&lt; " in cell_of(row, "load_per_1000")["text"]
    # A quantified value is shown as the lab wrote it.
    meth = row_of(page, "METH")
    assert ">1000<" in meth and "0.5 / 2" in meth and "96.5" in meth and "4.2" in meth


@pytest.mark.usefixtures("english")
def test_the_intervals_are_those_of_the_results_api(sample, users):
    user = users["district_a"]
    page = ui_client(user).get(page_url(sample)).content.decode()
    body = api_client(user).get(f"/api/v1/wastewater/results?site=HS-01&first={AS_OF}&last={AS_OF}").json()
    assert f"{body['cf_set']['name']} v{body['cf_set']['version']}" in page
    items = {item["analyte"]: item for item in body["items"]}
    assert set(items) == {"METH", "AMP", "MDMA", "COT"}
    compared = 0
    for code, item in items.items():
        row = row_of(page, code)
        for name, digits in (("load_mg_per_day", 1), ("load_per_1000", 2), ("consumption_per_1000", 2)):
            cell = cell_of(row, name)
            estimate = item[name]
            if estimate is None:
                assert "value" not in cell, (code, name)
                continue
            assert float(cell["value"]) == estimate["value"], (code, name)
            assert float(cell["low"]) == estimate["p2_5"] and float(cell["high"]) == estimate["p97_5"]
            shown = f"{floatformat(estimate['p2_5'], digits)}–{floatformat(estimate['p97_5'], digits)}"
            assert shown in cell["text"] and floatformat(estimate["value"], digits) in cell["text"]
            compared += 1
    # METH: load, per 1000 and consumption; cotinine: load and per 1000 (no factor in the set).
    assert compared == 5
    assert items["COT"]["consumption_per_1000"] is None and items["METH"]["consumption_per_1000"]


@pytest.mark.usefixtures("english")
def test_a_measurement_blocked_by_qa_shows_its_reason(sample, users):
    page = ui_client(users["district_a"]).get(page_url(sample)).content.decode()
    row = row_of(page, "MDMA")
    assert 'data-status="qa_failed"' in row and "Blocked by QA" in row
    assert "recovery 40 % outside 70–130 %" in row and ">40<" in row
    assert all("value" not in cell_of(row, name) for name in ("load_mg_per_day", "load_per_1000"))


def test_the_page_is_in_chinese_by_default(sample, users):
    page = ui_client(users["district_a"]).get(page_url(sample)).content.decode()
    mdma = row_of(page, "MDMA")
    assert "质控未通过" in mdma and "回收率 40 %" in mdma and "recovery" not in mdma
    assert "定量限" in row_of(page, "AMP") and "校正因子集" in page and "样本" in page


@pytest.mark.usefixtures("english")
def test_the_flags_of_the_sample_are_listed_with_links(sample, users):
    flags = list(WastewaterAnomaly.objects.filter(sample=sample))
    assert flags and "meth_dumping" in {flag.rule for flag in flags}
    page = ui_client(users["police_a"]).get(page_url(sample)).content.decode()
    table = page[page.index('data-testid="flags"') :].split("</table>")[0]
    assert table.count("<tr data-anomaly=") == len(flags)
    for flag in flags:
        assert f'data-anomaly="{flag.pk}"' in table and f'href="/wastewater/anomalies/{flag.pk}/"' in table
        assert escape(anomaly_explanation(flag)) in table
    assert "bg-red text-white" in table and 'data-status="new"' in table
    # A flag of another sample of the site is not listed.
    other = WastewaterAnomaly.objects.exclude(sample=sample).filter(site=sample.site).first()
    assert other is None or f'data-anomaly="{other.pk}"' not in table


def test_the_anomaly_and_site_pages_link_to_the_sample_page(sample, users):
    client = ui_client(users["district_a"])
    flag = WastewaterAnomaly.objects.filter(sample=sample).first()
    anomaly_page = client.get(f"/wastewater/anomalies/{flag.pk}/").content.decode()
    assert f'href="{page_url(sample)}" data-testid="sample-link"' in anomaly_page
    assert "/api/v1/wastewater/samples/" not in anomaly_page
    site_page = client.get("/wastewater/sites/HS-01/").content.decode()
    latest = site_page[site_page.index('data-testid="latest-samples"') :].split("</table>")[0]
    assert f'href="{page_url(sample)}"' in latest


def _more_flags(anomaly: WastewaterAnomaly, count: int) -> None:
    fields = {
        field.attname: getattr(anomaly, field.attname)
        for field in WastewaterAnomaly._meta.concrete_fields
        if field.attname not in ("id", "dedup_key")
    }
    WastewaterAnomaly.objects.bulk_create(
        WastewaterAnomaly(**fields, dedup_key=f"more:{anomaly.pk}:{index}") for index in range(count)
    )


def test_the_query_count_does_not_grow_with_analytes_or_flags(sample, users):
    client = ui_client(users["district_a"])
    client.get(page_url(sample))
    with assert_max_queries(20), CaptureQueriesContext(connection) as few:
        page = client.get(page_url(sample)).content.decode()
    assert page.count("<tr data-analyte=") == 4
    more = ["BE", "MOR", "6MAM", "COD", "KET", "NK", "THCCOOH", "MDA", "COC", "EPH"]
    services.samples_store(
        actor=None,
        replace=True,
        entries=[
            SampleEntry(
                site="HS-01",
                end_date=AS_OF,
                flow_m3_per_day="52000.5",
                sampling_mode="time",
                lab="宁波检测中心",
                method="JD/YJY02.10-2021",
                analysed_on=AS_OF + dt.timedelta(days=2),
                note="夜间采样",
                measurements=[MeasurementEntry(analyte=code, ng_per_l=50) for code in more],
            )
        ],
    )
    _more_flags(WastewaterAnomaly.objects.filter(sample=sample).first(), 15)
    with CaptureQueriesContext(connection) as many:
        page = client.get(page_url(sample)).content.decode()
    assert page.count("<tr data-analyte=") == 4 + len(more)
    assert page.count("<tr data-anomaly=") == WastewaterAnomaly.objects.filter(sample=sample).count() >= 16
    assert len(many.captured_queries) == len(few.captured_queries)
