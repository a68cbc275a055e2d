"""Balances (API and page) and a firm's ledger page: figures, scoping and query counts."""

from __future__ import annotations

import json

import pytest

from jindu.core.testing.helpers import api_client, assert_error_shape, ui_client
from jindu.precursors.conftest import FIRM_A, FIRM_B, ledger_document
from jindu.precursors.tests.test_epcis_capture import CAPTURE, ledger_events

pytestmark = pytest.mark.django_db
BALANCES = "/api/v1/precursors/balances"


@pytest.fixture
def captured(firms):
    response = api_client(firms["user_a"]).post(
        CAPTURE, data=json.dumps(ledger_document(FIRM_A, ledger_events())), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return firms


def test_balances_api_gives_each_reader_their_firms(captured, users):
    firms = captured
    rows = api_client(firms["user_a"]).get(f"{BALANCES}?first_month=2026-03&months=1").json()
    acetone = next(row for row in rows if row["substance"] == "acetone")
    # The hand-checked March of test_balances: book 548, counted 540, 8 kg missing, a 2σ warning.
    assert acetone["enterprise"] == FIRM_A and acetone["month"] == "2026-03-01"
    assert (
        float(acetone["book_stock"]) == 548 and float(acetone["muf"]) == 8 and acetone["status"] == "warning"
    )
    for user in (users["district_a"], users["city"], users["police_a"]):
        assert {
            row["enterprise"] for row in api_client(user).get(f"{BALANCES}?first_month=2026-03").json()
        } == {FIRM_A}
    for user in (users["district_b"], firms["user_b"]):
        assert api_client(user).get(f"{BALANCES}?first_month=2026-03").json() == []
    # One firm by id: outside the reader's view it is missing, not empty.
    assert_error_shape(
        api_client(users["district_b"]).get(f"{BALANCES}?first_month=2026-03&enterprise={firms['a'].pk}"), 404
    )
    assert_error_shape(api_client(users["worker_a"]).get(f"{BALANCES}?first_month=2026-03"), 403)
    assert_error_shape(api_client(None).get(f"{BALANCES}?first_month=2026-03"), 401)
    assert_error_shape(api_client(users["city"]).get(f"{BALANCES}?first_month=March"), 400)
    assert_error_shape(api_client(users["city"]).get(f"{BALANCES}?first_month=2026-03&months=30"), 400)


def test_the_balance_page_puts_flagged_firms_first(captured, users):
    page = ui_client(users["district_a"]).get("/precursors/balances/?first_month=2026-03&months=2&flagged=on")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-firm="{FIRM_A}" data-substance="acetone" data-flagged="1"' in html
    assert 'data-status="warning"' in html
    # The acid was never counted: not flagged, so hidden by "only warnings and alerts".
    assert 'data-substance="hydrochloric-acid"' not in html
    assert (
        'data-substance="hydrochloric-acid"'
        in ui_client(users["district_a"])
        .get("/precursors/balances/?first_month=2026-03&months=2")
        .content.decode()
    )
    assert (
        FIRM_A
        not in ui_client(users["district_b"])
        .get("/precursors/balances/?first_month=2026-03")
        .content.decode()
    )
    assert ui_client(users["worker_a"]).get("/precursors/balances/").status_code == 403


def test_the_ledger_page_and_who_may_open_it(captured, users, django_assert_max_num_queries):
    firms = captured
    url = f"/precursors/enterprises/{firms['a'].pk}/ledger/"
    client = ui_client(firms["user_a"])
    client.get(url)
    with django_assert_max_num_queries(12):
        page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and html.count("<tr data-event=") == 7
    assert "unknown_party" in html and "丙酮" in html
    for user in (users["district_a"], users["city"]):
        assert ui_client(user).get(url).status_code == 200
    for user in (users["district_b"], firms["user_b"], users["worker_a"]):
        assert ui_client(user).get(url).status_code == 404, user.username
    assert ui_client(None).get(url).status_code == 302  # to the login page
    assert FIRM_B  # the other firm exists (fixture) and stays out of sight above


def test_the_firm_pages_lead_to_the_ledger_and_the_rating(firms, users):
    firm_page = ui_client(firms["user_a"]).get("/precursors/firm/").content.decode()
    for url in (
        f"/precursors/enterprises/{firms['a'].pk}/ledger/",
        f"/precursors/enterprises/{firms['a'].pk}/credit/",
    ):
        assert f'href="{url}"' in firm_page
    assert 'href="/precursors/ledger/upload/"' in firm_page
    official = (
        ui_client(users["district_a"]).get(f"/precursors/enterprises/{firms['a'].pk}/").content.decode()
    )
    assert f'href="/precursors/enterprises/{firms["a"].pk}/ledger/"' in official
    assert 'href="/precursors/ledger/upload/"' not in official
