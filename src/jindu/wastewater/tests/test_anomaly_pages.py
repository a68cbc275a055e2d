"""Anomaly flags over the API and in the UI: the authorization matrix (anonymous, wrong district, roles without
the permission, the right roles), filters, pagination and query counts, the review and run endpoints, and the
pages (explanations, precision per rule, evidence, the chart's data, the review form)."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from jindu.core.models import Job, JobStatus
from jindu.core.roles import Role
from jindu.core.testing.helpers import (
    api_client,
    assert_api_matrix,
    assert_error_shape,
    assert_max_queries,
    assert_ui_matrix,
    build_tree,
    make_user,
    ui_client,
)
from jindu.wastewater import services
from jindu.wastewater.anomalies import anomaly_explanation, anomaly_review, run_anomalies
from jindu.wastewater.models import WastewaterAnomaly
from jindu.wastewater.tests.test_anomalies import (
    AS_OF,
    Below,
    Values,
    days_before,
    meth_and_amp,
    store_series,
)

# Explanations and labels are checked in their English source wording.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

API = "/api/v1/wastewater/anomalies"
PAGES = "/wastewater/anomalies/"


def _spikes(index: int, rng: random.Random) -> Values:
    """Clean METH and AMP with a dumping day (index 39) and a rain day (index 35)."""
    values = meth_and_amp(rng)
    if index == 39:
        return {"METH": values["METH"] * 10, "AMP": Below(5)}
    return values


@pytest.fixture
def flagged(sites) -> dict[str, Any]:
    # District A wants a notice on every reported rain day (not the shipped default).
    services.settings_publish(
        actor=None,
        region_code="330203",
        effective_from=dt.date(2020, 1, 1),
        label="rain days",
        payload={"anomalies": {"flow": {"rain_alone": True}}},
    )
    store_series("HS-01", 40, _spikes, rain={35})
    store_series("FH-01", 40, _spikes, seed=2)
    run_anomalies(as_of=AS_OF)
    return {
        "a": WastewaterAnomaly.objects.get(site=sites["a"], rule="meth_dumping"),
        "b": WastewaterAnomaly.objects.get(site=sites["b"], rule="meth_dumping"),
        "a_z": WastewaterAnomaly.objects.get(site=sites["a"], rule="robust_z"),
        "a_flow": WastewaterAnomaly.objects.get(site=sites["a"], rule="flow"),
    }


def _copies(anomaly: WastewaterAnomaly, count: int) -> None:
    """More flags like this one (other keys), to show that a longer list costs no more queries."""
    fields = {
        field.attname: getattr(anomaly, field.attname)
        for field in WastewaterAnomaly._meta.concrete_fields
        if field.attname not in ("id", "dedup_key")
    }
    WastewaterAnomaly.objects.bulk_create(
        WastewaterAnomaly(**fields, dedup_key=f"copy:{anomaly.pk}:{index}") for index in range(count)
    )


def _post(user: Any, url: str, body: dict[str, Any]) -> Any:
    return api_client(user).post(url, json.dumps(body), content_type="application/json")


# --- API ---------------------------------------------------------------------------------------------------------


def test_api_matrix(flagged, users, lab):
    flag = flagged["a"]
    assert_api_matrix(
        list_url=API,
        detail_url=f"{API}/{flag.pk}",
        marker=str(flag.pk),
        # Police of district A search the whole city; the city office and its lab read every district.
        allowed=[users["district_a"], users["city"], users["police_a"], lab],
        # Street A's office reads its street's sites, and plant A belongs to the district.
        denied=[
            users["district_b"],
            users["street_a"],
            users["sysadmin"],
            users["auditadmin"],
            users["enterprise"],
        ],
    )
    for user in (users["sysadmin"], users["enterprise"], users["worker_a"]):
        assert_error_shape(api_client(user).get(API), 403, "forbidden")
    assert_error_shape(Client().get(f"{API}/precision"), 401, "not_authenticated")


def test_api_list_filters_and_paginates_with_a_constant_number_of_queries(flagged, users):
    client = api_client(users["city"])
    # Token authentication, the page and its count, the rows with their site, analyte, unit and reviewer.
    with assert_max_queries(8):
        body = client.get(f"{API}?page_size=2").json()
    assert body["count"] == 5 and len(body["items"]) == 2 and body["page_size"] == 2
    with assert_max_queries(8):
        assert len(client.get(API).json()["items"]) == 5
    _copies(flagged["b"], 20)
    with assert_max_queries(8):
        assert len(client.get(API).json()["items"]) == 25
    WastewaterAnomaly.objects.filter(dedup_key__startswith="copy:").delete()
    item = client.get(f"{API}?rule=meth_dumping&site=HS-01").json()["items"][0]
    assert item["id"] == flagged["a"].pk and item["level"] == "alert" and item["status"] == "new"
    assert item["site"] == "HS-01" and item["org_unit"] == "330203" and item["analyte"] == "METH"
    assert item["rule_label"] == "Methamphetamine dumping or production waste"
    assert item["explanation"] == anomaly_explanation(flagged["a"])
    assert "AMP was under its LOQ, so AMP/METH was at most" in item["explanation"]
    by_filter = {
        "rule=flow": [flagged["a_flow"].pk],
        "level=alert": [flagged["a"].pk, flagged["b"].pk],
        f"site={flagged['b'].site_id}": list(
            WastewaterAnomaly.objects.filter(site_id=flagged["b"].site_id).values_list("pk", flat=True)
        ),
        f"from={days_before(4)}&to={days_before(1)}": [flagged["a_flow"].pk],
        f"from={days_before(0)}&rule=robust_z": [flagged["a_z"].pk]
        + list(
            WastewaterAnomaly.objects.filter(site_id=flagged["b"].site_id, rule="robust_z").values_list(
                "pk", flat=True
            )
        ),
        "status=confirmed": [],
    }
    for query, expected in by_filter.items():
        items = client.get(f"{API}?{query}").json()["items"]
        assert sorted(item["id"] for item in items) == sorted(expected), query
    # District A's office sees its plant's flags only; plant B is not a filter it may use.
    assert api_client(users["district_a"]).get(API).json()["count"] == 3
    assert_error_shape(api_client(users["district_a"]).get(f"{API}?site=FH-01"), 404, "not_found")
    for query in (
        "rule=zscore",
        "level=red",
        "status=open",
        "from=yesterday",
        f"from={AS_OF}&to={days_before(5)}",
    ):
        assert_error_shape(client.get(f"{API}?{query}"), 400)


def test_api_detail_explains_itself_with_evidence(flagged, users):
    flag = flagged["a"]
    body = api_client(users["district_a"]).get(f"{API}/{flag.pk}").json()
    meth = next(item for item in body["evidence"] if item.get("analyte") == "METH")["ng_per_l"]
    assert body["message"] == flag.message and body["params"]["ratio"] == f"{5 / meth:.3g}"
    assert body["explanation"] == anomaly_explanation(flag)
    samples = [item for item in body["evidence"] if item["kind"] == "sample"]
    assert {item["analyte"] for item in samples} == {"METH", "AMP"}
    assert all(item["sample"] == flag.sample_id for item in samples)
    assert next(item for item in samples if item["analyte"] == "AMP")["below_loq"] is True
    assert body["sample"] == flag.sample_id and body["day"] == days_before(0).isoformat()


def test_api_review_and_its_matrix(flagged, users, lab):
    flag = flagged["a"]
    url = f"{API}/{flag.pk}/review"
    assert_error_shape(Client().post(url, "{}", content_type="application/json"), 401, "not_authenticated")
    for outsider in (users["district_b"], users["street_a"], lab, users["sysadmin"]):
        assert_error_shape(
            _post(outsider, url, {"status": "confirmed", "note": "not mine"}), 404, "not_found"
        )
    # Police of district A read plant B's flags but review in their own district only.
    assert_error_shape(
        _post(
            users["police_a"], f"{API}/{flagged['b'].pk}/review", {"status": "confirmed", "note": "not mine"}
        ),
        404,
        "not_found",
    )
    short = assert_error_shape(_post(users["police_a"], url, {"status": "confirmed", "note": "ok"}), 400)
    assert "note" in short["error"]["fields"]
    assert_error_shape(_post(users["police_a"], url, {"status": "maybe", "note": "looks right"}), 400)
    assert WastewaterAnomaly.objects.get(pk=flag.pk).status == "new"
    done = _post(users["police_a"], url, {"status": "confirmed", "note": "traced to a lab in 南门街道"})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "confirmed" and done.json()["reviewed_by"] == "t_police_a"
    assert done.json()["review_note"] == "traced to a lab in 南门街道"
    assert_error_shape(_post(users["district_a"], url, {"status": "dismissed", "note": "lab error"}), 409)
    reopened = _post(users["district_a"], url, {"status": "new", "note": "lab re-measures"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "new"
    precision = {row["rule"]: row for row in api_client(users["city"]).get(f"{API}/precision").json()}
    assert precision["meth_dumping"] == {
        "rule": "meth_dumping",
        "label": "Methamphetamine dumping or production waste",
        "new": 2,
        "confirmed": 0,
        "dismissed": 0,
        "precision": None,
    }


def test_api_run_is_a_job_for_offices(flagged, users, lab, django_capture_on_commit_callbacks):
    url = f"{API}/run"
    assert_error_shape(Client().post(url, "{}", content_type="application/json"), 401, "not_authenticated")
    for user in (users["police_a"], lab, users["street_a"], users["sysadmin"]):
        assert_error_shape(_post(user, url, {}), 403, "forbidden")
    assert_error_shape(_post(users["district_b"], url, {"sites": ["HS-01"]}), 400)
    WastewaterAnomaly.objects.filter(site__code="FH-01").delete()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(users["district_b"], url, {"as_of": AS_OF.isoformat()})
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.name == "wastewater_anomalies" and job.status == JobStatus.COMPLETED, job.log
    assert job.result["sites"] == 1 and job.result["created"] == 2
    assert WastewaterAnomaly.objects.filter(site__code="FH-01").count() == 2


# --- Pages -------------------------------------------------------------------------------------------------------


def test_ui_matrix(flagged, users, lab):
    flag = flagged["a"]
    assert_ui_matrix(
        list_url=PAGES,
        detail_url=f"{PAGES}{flag.pk}/",
        marker=f'data-anomaly="{flag.pk}"',
        allowed=[users["district_a"], users["city"], users["police_a"], lab],
        denied=[users["district_b"], users["street_a"], users["sysadmin"]],
    )
    for user in (users["sysadmin"], users["worker_a"]):
        assert ui_client(user).get(PAGES).status_code == 403
    for outsider in (users["district_b"], users["street_a"], lab):
        response = ui_client(outsider).post(
            f"{PAGES}{flag.pk}/review/", {"status": "confirmed", "note": "not mine"}
        )
        assert response.status_code == 404
    assert Client().post(f"{PAGES}{flag.pk}/review/").status_code == 302
    assert ui_client(users["police_a"]).post(f"{PAGES}run/").status_code == 403
    assert WastewaterAnomaly.objects.get(pk=flag.pk).status == "new"


def test_ui_list_filters_badges_explanations_and_precision(flagged, users):
    anomaly_review(
        actor=users["district_a"], anomaly=flagged["a_flow"], status="dismissed", note="rain, as said"
    )
    client = ui_client(users["district_a"])
    with assert_max_queries(16):
        page = client.get(PAGES).content.decode()
    assert page.count("data-anomaly=") == 3
    assert 'data-level="alert"' in page and "bg-red text-white" in page
    assert escape(anomaly_explanation(flagged["a"])) in page
    assert 'data-testid="precision"' in page and page.count("data-rule=") == 3 + 9
    flow_row = page[page.index('<tr data-rule="flow">') :].split("</tr>")[0]
    assert "0 %" in flow_row
    only = client.get(PAGES, {"rule": "flow"}).content.decode()
    assert only.count("data-anomaly=") == 1 and f'data-anomaly="{flagged["a_flow"].pk}"' in only
    assert client.get(PAGES, {"status": "new"}).content.decode().count("data-anomaly=") == 2
    dated = client.get(PAGES, {"from": days_before(0).isoformat()}).content.decode()
    assert dated.count("data-anomaly=") == 2
    # A site outside my scope is not a choice: the form ignores it and the list is unfiltered.
    assert client.get(PAGES, {"site": flagged["b"].site_id}).content.decode().count("data-anomaly=") == 3
    # The same number of queries for more flags: none per row.
    _copies(flagged["a_z"], 20)
    with assert_max_queries(16):
        assert client.get(PAGES).content.decode().count("data-anomaly=") == 23


def test_ui_detail_shows_explanation_evidence_chart_and_reviews(flagged, users, lab):
    flag = flagged["a"]
    client = ui_client(users["district_a"])
    page = client.get(f"{PAGES}{flag.pk}/").content.decode()
    assert escape(anomaly_explanation(flag)) in page
    assert page.count('data-kind="sample"') == 2 and f'data-sample="{flag.sample_id}"' in page
    assert "under the LOQ of 5 ng/L" in page and 'data-role="flagged"' in page
    assert "wastewater_anomalies.js" in page and 'data-testid="review-form"' in page
    chart = json.loads(
        page.split('<script id="anomaly-chart" type="application/json">')[1].split("</script>")[0]
    )
    assert chart["flagged"] == flag.day.isoformat() and chart["series"] == "METH"
    assert len(chart["points"]) == 40 and chart["bounds"] == []
    assert [day for day, _value in chart["points"]][-1] == flag.day.isoformat()
    # The flow flag charts the flow, rain days marked.
    flow_page = client.get(f"{PAGES}{flagged['a_flow'].pk}/").content.decode()
    flow_chart = json.loads(
        flow_page.split('<script id="anomaly-chart" type="application/json">')[1].split("</script>")[0]
    )
    assert flow_chart["unit"] == "m³/d" and [point[0] for point in flow_chart["points"] if point[2]] == [
        days_before(4).isoformat()
    ]
    # Reviewing through the page: a short note is refused on the form, a good one recorded.
    response = client.post(f"{PAGES}{flag.pk}/review/", {"status": "confirmed", "note": "ok"})
    assert response.status_code == 200 and WastewaterAnomaly.objects.get(pk=flag.pk).status == "new"
    response = client.post(f"{PAGES}{flag.pk}/review/", {"status": "confirmed", "note": "traced to a lab"})
    assert response.status_code == 302
    page = client.get(f"{PAGES}{flag.pk}/").content.decode()
    assert 'data-testid="review"' in page and "traced to a lab" in page and 'value="new"' in page
    assert WastewaterAnomaly.objects.get(pk=flag.pk).status == "confirmed"
    # Readers who may not review it see no form: the lab, and district A's police on plant B's flag.
    assert 'data-testid="review-form"' not in ui_client(lab).get(f"{PAGES}{flag.pk}/").content.decode()
    other = ui_client(users["police_a"]).get(f"{PAGES}{flagged['b'].pk}/").content.decode()
    assert 'data-testid="review-form"' not in other and escape(anomaly_explanation(flagged["b"])) in other
    assert (
        'data-testid="review-form"'
        in ui_client(users["city"]).get(f"{PAGES}{flagged['b'].pk}/").content.decode()
    )
    # A flag the rules withdrew says so and takes no review; the list filters on the status.
    WastewaterAnomaly.objects.filter(pk=flagged["b"].pk).update(status="withdrawn")
    withdrawn = ui_client(users["city"]).get(f"{PAGES}{flagged['b'].pk}/").content.decode()
    assert 'data-testid="withdrawn"' in withdrawn and "no longer raises it" in withdrawn
    assert 'data-testid="review-form"' not in withdrawn
    listed = ui_client(users["city"]).get(f"{PAGES}?status=withdrawn").content.decode()
    assert listed.count("<tr data-anomaly=") == 1 and f'data-anomaly="{flagged["b"].pk}"' in listed


def test_ui_run_starts_a_job(flagged, users, django_capture_on_commit_callbacks):
    WastewaterAnomaly.objects.all().delete()
    Job.objects.all().delete()  # the runs queued when the fixture stored its samples
    client = ui_client(users["district_a"])
    assert 'data-testid="run-form"' in client.get(PAGES).content.decode()
    assert 'data-testid="run-form"' not in ui_client(users["police_a"]).get(PAGES).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{PAGES}run/")
    assert response.status_code == 302
    job = Job.objects.get(name="wastewater_anomalies")
    assert job.status == JobStatus.COMPLETED and job.parameters["site_ids"] == [flagged["a"].site_id]


# --- In a browser ----------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_a_reviewer_reads_the_chart_and_confirms_a_flag(live_server, monkeypatch):
    """Chromium: the list leads to the dumping flag, whose chart draws the series with the flagged day (no
    script error, nothing fetched from elsewhere), and the review form records the decision. Screenshots in
    test-artifacts/anomaly-*.png."""
    from playwright.sync_api import expect, sync_playwright

    from jindu.core.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Session
    from jindu.wastewater.services import site_create

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_browser.sh")
    # Playwright's sync API keeps an event loop running in this thread (see core/tests/test_browser.py).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    build_tree()
    make_user("b_reviewer", Role.DISTRICT_OFFICE, "330203", full_name="王海曙")
    site_create(actor=None, code="HS-01", name="海曙污水处理厂", org_unit_code="330203", population=200_000)
    services.settings_publish(
        actor=None,
        region_code="330203",
        effective_from=dt.date(2020, 1, 1),
        label="rain days",
        payload={"anomalies": {"flow": {"rain_alone": True}}},
    )
    store_series("HS-01", 80, _spikes, rain={75})
    run_anomalies(as_of=AS_OF)
    flag = WastewaterAnomaly.objects.get(rule="meth_dumping")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        session = Session(chromium, live_server.url)
        try:
            page = session.page
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            session.login("b_reviewer")
            page.goto("/wastewater/anomalies/")
            expect(page.locator("[data-testid=anomalies] tr[data-anomaly]")).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / "anomaly-list.png"), full_page=True)
            page.click(f"tr[data-anomaly='{flag.pk}'] a[data-testid=explanation]")
            # The browser asks for Chinese: the explanation is read in its zh-Hans translation.
            expect(page.locator("[data-testid=explanation]")).to_contain_text("AMP/METH 至多为")
            expect(page.locator("[data-anomaly-chart] canvas")).to_have_count(1)
            drawn = page.evaluate(
                """() => {
                  const option = echarts.getInstanceByDom(document.querySelector('[data-anomaly-chart]')).getOption();
                  return [option.series[0].data.length, option.series[1].data, option.series[0].markLine.data];
                }"""
            )
            # The 40 days up to the flagged one (its 39 before) and the 30 after it.
            assert drawn[0] == 70 and drawn[1][0][0] == flag.day.isoformat()
            page.screenshot(path=str(ARTIFACTS / "anomaly-detail.png"), full_page=True)
            page.select_option("#id_status", "confirmed")
            page.fill("#id_note", "溯源: 南门街道 found the lab")
            page.click("[data-testid=review-form] button[type=submit]")
            expect(page.locator("[data-testid=review]")).to_contain_text("溯源: 南门街道 found the lab")
            assert session.foreign_requests() == []
        finally:
            session.close()
            chromium.close()
    assert errors == []
    assert WastewaterAnomaly.objects.get(pk=flag.pk).status == "confirmed"
