"""Diversion warnings over the API and in the UI: the authorization matrix (anonymous, wrong district, firms'
own users, the right roles), filters, pagination and query counts, the lifecycle actions, evidence shown inline
only where the reader may read it, rule precision, and the nightly job."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from jindu.core.models import Job, JobStatus
from jindu.core.testing.helpers import (
    api_client,
    assert_api_matrix,
    assert_error_shape,
    assert_ui_matrix,
    ui_client,
)
from jindu.precursors.conftest import FIRM_B
from jindu.precursors.models.warnings import DiversionWarning, WarningEvent
from jindu.precursors.tests.test_warnings import (
    ACETONE,
    ANHYDRIDE,
    AS_OF,
    capture,
    ev,
    install_default_rules,
    more_firms,
    paid,
    party,
    run,
    ship,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/precursors/warnings"
PAGES = "/precursors/warnings/"


@pytest.fixture(autouse=True)
def _rules_policy(db: Any) -> None:
    install_default_rules()


def theft(firm: Any, day: str = "06-10") -> DiversionWarning:
    [event] = capture(
        firm,
        [
            ev(
                "ObjectEvent",
                day,
                bizStep="inspecting",
                disposition="stolen",
                quantityList=[{"epcClass": ACETONE, "quantity": 30, "uom": "KGM"}],
            )
        ],
    )
    run("A12")
    return DiversionWarning.objects.get(rule="A12", evidence__0__id=event)


def cash(firm: Any, day: str) -> None:
    capture(firm, [paid(ship(day, 100, party(FIRM_B)), "cash")])


# --- API ---------------------------------------------------------------------------------------------------


def test_api_matrix_firm_users_never_see_warnings(firms, users):
    warning = theft(firms["a"])
    assert_api_matrix(
        list_url=API,
        detail_url=f"{API}/{warning.pk}",
        marker=str(warning.pk),
        allowed=[users["district_a"], users["city"], users["police_a"]],
        # firms["user_a"] is the account of the very firm the warning is about.
        denied=[
            users["district_b"],
            firms["user_a"],
            firms["user_b"],
            users["sysadmin"],
            users["auditadmin"],
        ],
    )
    for user in (firms["user_a"], firms["user_b"]):
        assert_error_shape(api_client(user).get(API), 403, "forbidden")
        assert_error_shape(api_client(user).get(f"{API}/precision"), 403, "forbidden")
    assert_error_shape(Client().get(f"{API}/precision"), 401, "not_authenticated")


def test_api_list_filters_paginates_with_a_constant_number_of_queries(
    firms, users, django_assert_max_num_queries
):
    for day in ("06-01", "06-02", "06-03"):
        cash(firms["a"], day)
    capture(firms["b"], [paid(ship("06-04", 100, party(firms["a"].uscc)), "barter")])
    run("A03")
    stolen = theft(firms["a"])
    client = api_client(users["city"])
    with django_assert_max_num_queries(10):
        body = client.get(f"{API}?page_size=2").json()
    assert body["count"] == 5 and len(body["items"]) == 2 and body["page_size"] == 2
    # The same number of queries for a page of 5: no query per row.
    with django_assert_max_num_queries(10):
        assert len(client.get(API).json()["items"]) == 5
    by = {
        "rule=A12": [stolen.pk],
        "level=warning": list(DiversionWarning.objects.filter(level="warning").values_list("pk", flat=True)),
        f"enterprise={firms['b'].pk}": list(
            DiversionWarning.objects.filter(enterprise=firms["b"]).values_list("pk", flat=True)
        ),
        "status=closed": [],
    }
    for query, expected in by.items():
        items = client.get(f"{API}?{query}").json()["items"]
        assert sorted(item["id"] for item in items) == sorted(expected), query
    item = client.get(f"{API}?rule=A12").json()["items"][0]
    assert item["level"] == "alert" and item["status"] == "new" and item["enterprise_uscc"] == firms["a"].uscc
    assert item["org_unit"] == "330203" and item["substance"] is None and item["overdue"] is True
    # District A's office sees its firm's warnings only.
    district_a = api_client(users["district_a"]).get(API).json()
    assert district_a["count"] == 4


def test_api_detail_shows_explanation_evidence_and_history(firms, users):
    warning = theft(firms["a"])
    body = api_client(users["district_a"]).get(f"{API}/{warning.pk}").json()
    assert body["rule"] == "A12" and body["message"] == warning.message and body["params"]["hours"] == "1"
    assert body["explanation"] == warning.explanation
    [evidence] = body["evidence"]
    assert evidence["kind"] == "epcis_event" and evidence["id"] == str(warning.evidence[0]["id"])
    assert "stolen" in evidence["summary"] and "30 kg" in evidence["summary"]
    assert [step["kind"] for step in body["history"]] == ["raised"]
    assert body["policy_version"] == warning.policy_version_id is not None


def test_api_lifecycle_actions(firms, users):
    warning = theft(firms["a"])
    url = f"{API}/{warning.pk}"
    official = api_client(users["district_a"])
    # Wrong step, bad outcome, missing field: the error shape.
    assert_error_shape(official.post(f"{url}/verify", {"note": "x"}, content_type="application/json"), 409)
    assert_error_shape(
        official.post(f"{url}/assign", {"assignee": "t_district_b"}, content_type="application/json"), 400
    )
    assert_error_shape(official.post(f"{url}/close", {}, content_type="application/json"), 422)
    response = official.post(
        f"{url}/assign", {"assignee": "t_district_a", "note": "mine"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "assigned" and response.json()["assignee"] == "t_district_a"
    response = official.post(f"{url}/verify", {"note": "Store visited."}, content_type="application/json")
    assert response.json()["status"] == "verified"
    assert_error_shape(
        official.post(f"{url}/close", {"outcome": "maybe"}, content_type="application/json"), 400, "invalid"
    )
    response = official.post(f"{url}/close", {"outcome": "referred"}, content_type="application/json")
    assert response.json()["status"] == "closed" and response.json()["outcome"] == "referred"
    assert [step["kind"] for step in response.json()["history"]] == [
        "raised",
        "assigned",
        "verified",
        "closed",
    ]
    precision = {row["rule"]: row for row in official.get(f"{API}/precision").json()}
    assert precision["A12"]["closed"] == 1 and precision["A12"]["precision"] == 1.0


def test_api_actions_matrix(firms, users):
    warning = theft(firms["a"])
    url = f"{API}/{warning.pk}"
    payloads = {
        "assign": {"assignee": "t_district_a"},
        "verify": {"note": "x"},
        "close": {"outcome": "corrected"},
    }
    for action, payload in payloads.items():
        assert_error_shape(
            Client().post(f"{url}/{action}", payload, content_type="application/json"),
            401,
            "not_authenticated",
        )
        for outsider in (users["district_b"], firms["user_a"], firms["user_b"], users["sysadmin"]):
            response = api_client(outsider).post(f"{url}/{action}", payload, content_type="application/json")
            assert_error_shape(response, 404, "not_found")
    # Police of district A read the whole city but act in district A only: they may; B's office may not.
    response = api_client(users["police_a"]).post(
        f"{url}/assign", {"assignee": "t_police_a"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert WarningEvent.objects.filter(warning=warning).count() == 2


# --- Pages --------------------------------------------------------------------------------------------------


def test_ui_matrix(firms, users):
    warning = theft(firms["a"])
    assert_ui_matrix(
        list_url=PAGES,
        detail_url=f"{PAGES}{warning.pk}/",
        marker=f'data-warning="{warning.pk}"',
        allowed=[users["district_a"], users["city"]],
        denied=[users["district_b"], firms["user_a"], firms["user_b"], users["sysadmin"]],
    )
    for user in (firms["user_a"], firms["user_b"]):
        assert ui_client(user).get(PAGES).status_code == 403
        assert ui_client(user).get(f"{PAGES}precision/").status_code == 403


def test_ui_list_filters_badges_and_sla(firms, users):
    cash(firms["a"], "06-01")
    run("A03")
    stolen = theft(firms["a"])
    client = ui_client(users["district_a"])
    page = client.get(PAGES).content.decode()
    assert page.count("data-warning=") == 2
    assert 'data-level="alert"' in page and "bg-red text-white" in page and 'data-testid="due"' in page
    only = client.get(PAGES, {"rule": "A12"}).content.decode()
    assert only.count("data-warning=") == 1 and f'data-warning="{stolen.pk}"' in only
    # Closed warnings leave the default (open) list and show under "all".
    DiversionWarning.objects.filter(pk=stolen.pk).update(status="closed", outcome="corrected")
    assert client.get(PAGES).content.decode().count("data-warning=") == 1
    assert client.get(PAGES, {"status": "all"}).content.decode().count("data-warning=") == 2


def test_ui_detail_shows_events_inline_and_works_the_warning(firms, users):
    warning = theft(firms["a"])
    client = ui_client(users["district_a"])
    page = client.get(f"{PAGES}{warning.pk}/").content.decode()
    event_id = warning.evidence[0]["id"]
    assert 'data-testid="explanation"' in page and warning.explanation in page
    assert f'href="/precursors/warnings/{warning.pk}/events/{event_id}/"' in page
    assert "inspecting / stolen" in page and "30 kg" in page and "2026-06-10 10:00" in page
    assert 'data-testid="assign-form"' in page and 'data-testid="verify-form"' not in page
    event_page = client.get(f"{PAGES}{warning.pk}/events/{event_id}/")
    assert (
        event_page.status_code == 200
        and "&quot;disposition&quot;: &quot;stolen&quot;" in event_page.content.decode()
    )
    assert client.get(f"{PAGES}{warning.pk}/events/{event_id + 999}/").status_code == 404
    response = client.post(f"{PAGES}{warning.pk}/assign/", {"assignee": "t_district_a", "note": "on it"})
    assert response.status_code == 302
    page = client.get(f"{PAGES}{warning.pk}/").content.decode()
    assert 'data-testid="verify-form"' in page and 'data-kind="assigned"' in page
    # An empty note is refused on the form; the warning stays assigned.
    response = client.post(f"{PAGES}{warning.pk}/verify/", {"note": ""})
    assert response.status_code == 200 and DiversionWarning.objects.get(pk=warning.pk).status == "assigned"
    client.post(f"{PAGES}{warning.pk}/verify/", {"note": "Checked the store."})
    client.post(f"{PAGES}{warning.pk}/close/", {"outcome": "false_positive", "note": "Found later."})
    warning.refresh_from_db()
    assert warning.status == "closed" and warning.outcome == "false_positive"
    page = client.get(f"{PAGES}{warning.pk}/").content.decode()
    assert 'data-testid="outcome"' in page and "close-form" not in page
    precision = client.get(f"{PAGES}precision/").content.decode()
    assert 'data-rule="A12"' in precision and "A04" in precision  # the missing rules are listed too
    # Nobody outside district A acts through the pages either.
    for outsider in (users["district_b"], firms["user_a"]):
        assert (
            ui_client(outsider).post(f"{PAGES}{warning.pk}/assign/", {"assignee": "t_district_a"}).status_code
            == 404
        )


def test_evidence_of_another_district_stays_a_summary(firms, users):
    """Company shopping by firm B (district B) from sellers in district A: B's office reads the warning, but the
    sellers' events are outside its scope, so it sees their summary lines, not the events."""
    extra = more_firms(users)
    sold = [
        *capture(firms["a"], [ship("06-01", 100, party(FIRM_B), ANHYDRIDE)]),
        *capture(extra["c"], [ship("06-10", 100, party(FIRM_B), ANHYDRIDE)]),
        *capture(extra["d"], [ship("06-20", 100, party(FIRM_B), ANHYDRIDE)]),
    ]
    run("A07")
    warning = DiversionWarning.objects.get(rule="A07")
    client = ui_client(users["district_b"])
    page = client.get(f"{PAGES}{warning.pk}/").content.decode()
    assert page.count("超出您的查询范围") == 3 and 'data-testid="evidence-link"' not in page
    assert client.get(f"{PAGES}{warning.pk}/events/{sold[0]}/").status_code == 404
    # The city office reads every district: the events show inline.
    page = ui_client(users["city"]).get(f"{PAGES}{warning.pk}/").content.decode()
    assert page.count('data-testid="evidence-link"') == 3


# --- The nightly job ---------------------------------------------------------------------------------------


def test_nightly_task_runs_the_engine_as_a_job(firms, django_capture_on_commit_callbacks):
    from jindu.core.jobs import job_start

    cash(firms["a"], "06-10")
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(name="precursors_warnings", parameters={"as_of": AS_OF.isoformat()})
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.COMPLETED, job.log
    # The cash sale (A03), and B has not recorded receiving it (A09).
    assert job.result["created"] == 2 and job.result["by_rule"]["A03"] == job.result["by_rule"]["A09"] == 1
    assert "2 new" in job.log
    assert sorted(DiversionWarning.objects.values_list("rule", flat=True)) == ["A03", "A09"]

    from jindu.precursors.tasks import run_diversion_warnings

    with django_capture_on_commit_callbacks(execute=True):
        queued = run_diversion_warnings()
    assert Job.objects.get(pk=queued["job"]).status == JobStatus.COMPLETED
    assert json.dumps(Job.objects.get(pk=queued["job"]).result)  # a JSON summary
