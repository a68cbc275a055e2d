"""Monthly mass balances from captured events, checked by hand."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from jindu.core.testing.helpers import api_client
from jindu.precursors.balance import BalanceSettings
from jindu.precursors.balances import monthly_balances
from jindu.precursors.conftest import FIRM_A, ledger_document
from jindu.precursors.models import Substance
from jindu.precursors.tests.test_epcis_capture import ACETONE, CAPTURE, event, ledger_events

pytestmark = pytest.mark.django_db


def test_a_months_balance_of_captured_events(firms):
    client = api_client(firms["user_a"])
    april = [
        event(
            "ObjectEvent",
            "2026-04-30T17:00:00+08:00",
            bizStep="stock_taking",
            quantityList=[
                {"epcClass": ACETONE, "quantity": 500, "uom": "KGM"},
                {"epcClass": "urn:jindu:class:67-64-1:LOT-2", "quantity": 40, "uom": "KGM"},
            ],
        )
    ]
    response = client.post(
        CAPTURE,
        data=json.dumps(ledger_document(FIRM_A, ledger_events() + april)),
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    balances = {
        (b.substance_id, b.month): b.result
        for b in monthly_balances(first_month=dt.date(2026, 3, 1), months=2, settings=BalanceSettings())
    }
    acetone = Substance.objects.get(code="acetone").pk
    march = balances[(acetone, dt.date(2026, 3, 1))]
    # Opening 0 (no earlier stocktake) + receipts 1000 − shipments 300 − consumption 150 − losses 2 = 548;
    # the stocktake counted 540, so 8 kg are unaccounted for.
    assert (
        march.book_stock == Decimal("548")
        and march.closing_stock == Decimal("540")
        and march.muf == Decimal("8")
    )
    # σ = √((0.001·1000)² + (0.001·300)² + (0.01·150)² + (0.10·2)² + (0.005·540)²) = √10.67 = 3.2665:
    # 8 kg is 2.45 σ, beyond the 2σ warning, short of the 3σ alert.
    assert march.sigma_muf == pytest.approx(3.2665, abs=1e-4)
    assert march.status == "warning"
    # April opens at March's count; its stocktake counts two lots (500 + 40) in one event: nothing missing.
    april_result = balances[(acetone, dt.date(2026, 4, 1))]
    assert april_result.terms.opening_stock == Decimal("540") and april_result.muf == Decimal("0")
    assert april_result.status == "ok"
    # The acid was received but never counted: no stocktake, no verdict.
    acid = Substance.objects.get(code="hydrochloric-acid").pk
    assert balances[(acid, dt.date(2026, 3, 1))].status == "no_stocktake"
    assert balances[(acid, dt.date(2026, 3, 1))].book_stock == Decimal("2000")
    # Another firm's balances are not mixed in, and a firm filter works.
    assert (
        monthly_balances(
            first_month=dt.date(2026, 3, 1),
            months=2,
            settings=BalanceSettings(),
            enterprise_ids=[firms["b"].pk],
        )
        == []
    )


def test_a_stocktake_before_the_window_opens_the_first_month(firms):
    client = api_client(firms["user_a"])
    events = [
        event(
            "ObjectEvent",
            "2026-02-27T17:00:00+08:00",
            bizStep="stock_taking",
            quantityList=[{"epcClass": ACETONE, "quantity": 100, "uom": "KGM"}],
        ),
        event(
            "ObjectEvent",
            "2026-03-31T17:00:00+08:00",
            bizStep="stock_taking",
            quantityList=[{"epcClass": ACETONE, "quantity": 100, "uom": "KGM"}],
        ),
    ]
    client.post(CAPTURE, data=json.dumps(ledger_document(FIRM_A, events)), content_type="application/json")
    [march] = monthly_balances(first_month=dt.date(2026, 3, 1), months=1, settings=BalanceSettings())
    assert march.result.terms.opening_stock == Decimal("100") and march.result.muf == Decimal("0")
