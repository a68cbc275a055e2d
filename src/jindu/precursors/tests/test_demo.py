"""The demo world: coherent ledgers through the capture service, and the planted cases the balances find."""

from __future__ import annotations

import datetime as dt

import pytest

from jindu.core.testing.helpers import build_tree
from jindu.precursors.balance import BalanceSettings
from jindu.precursors.balances import monthly_balances
from jindu.precursors.demo import build_ledgers, capture_ledgers, register_firms
from jindu.precursors.models import EpcisEvent, EpcisQuantity

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    build_tree()
    firms = register_firms(40, seed=7)
    events, planted = build_ledgers(firms, first_month=dt.date(2026, 1, 1), months=4, seed=7)
    stored = capture_ledgers(firms, events)
    return firms, events, planted, stored


def test_every_generated_event_is_captured_once_and_resolves_to_a_substance(world):
    firms, events, _planted, stored = world
    assert stored == sum(len(e) for e in events.values()) == EpcisEvent.objects.count()
    assert not EpcisQuantity.objects.filter(substance__isnull=True).exists()
    # Every shipment to a firm has its receipt, but for the planted missing one.
    shipments = EpcisQuantity.objects.filter(balance_term="shipment").count()
    receipts = EpcisQuantity.objects.filter(balance_term="receipt").count()
    assert shipments == receipts + 1
    # Parties and locations are all registered: no capture warnings but the planted cash sale has none either.
    assert not EpcisEvent.objects.exclude(warnings=[]).exists()


def test_the_balances_find_the_leaks_and_nothing_else(world):
    firms, _events, planted, _stored = world
    balances = monthly_balances(first_month=dt.date(2026, 1, 1), months=4, settings=BalanceSettings())
    flagged = {b.enterprise_id for b in balances if b.result.status in ("warning", "alert")}
    assert set(planted.leaking) <= flagged
    assert flagged == set(planted.leaking)
    assert all(b.result.status != "no_stocktake" for b in balances)


def test_the_planted_sale_cases_are_in_the_ledgers(world):
    _firms, _events, planted, _stored = world
    cash = [
        e
        for e in EpcisEvent.objects.filter(enterprise_id=planted.cash_sale)
        if "jd:paymentMethod" in e.document
    ]
    assert len(cash) == 1 and cash[0].document["jd:paymentMethod"] == "cash"
    assert EpcisEvent.objects.filter(enterprise_id=planted.theft, disposition="stolen").count() == 1
    sellers = {
        party["source"]
        for e in EpcisEvent.objects.filter(enterprise_id=planted.company_shopping, biz_step="receiving")
        for party in e.document["sourceList"]
        if e.event_time >= dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    }
    assert len(sellers) >= 3


def test_the_warnings_find_every_planted_case_and_nothing_else(world):
    from jindu.precursors.demo import replay_warnings, simulate_timely_capture
    from jindu.precursors.models.warnings import DiversionWarning

    firms, events, planted, _stored = world
    simulate_timely_capture([firm.pk for firm in firms])
    replay_warnings(dt.date(2026, 1, 1), dt.date(2026, 5, 10))
    found = {(w.rule, w.enterprise_id) for w in DiversionWarning.objects.all()}
    # The shipment whose receipt never came is the buyer's warning (A09 goes to the receiving firm).
    unreceived_buyer = next(
        firm.pk
        for firm in firms
        if any(
            party["destination"] == firm.party_uri
            for event in events[planted.missing_receipt]
            if event.get("bizStep") == "shipping"
            for party in event["destinationList"]
        )
        and not any(
            event.get("bizStep") == "receiving"
            and event["sourceList"][0]["source"]
            == next(f.party_uri for f in firms if f.pk == planted.missing_receipt)
            and event["eventTime"].startswith("2026-03")
            for event in events[firm.pk]
        )
    )
    expected = {("A03", planted.cash_sale), ("A07", planted.company_shopping), ("A12", planted.theft)}
    expected |= {("A08", firm_id) for firm_id in planted.leaking} | {("A09", unreceived_buyer)}
    assert found == expected
