"""The demo world: coherent ledgers through the capture service, and the planted cases the balances, the warnings,
the annual-report list and the credit ratings find.

The world's ledgers run from December 2025 to April 2026 (the real demo's twelve months likewise start in the
previous year), so its firms owe a report on 2025 by 31 March 2026; the warnings are replayed until 10 May."""

from __future__ import annotations

import datetime as dt

import pytest

from jindu.core.testing.helpers import build_tree
from jindu.precursors.balance import BalanceSettings
from jindu.precursors.balances import monthly_balances
from jindu.precursors.demo import build_ledgers, capture_ledgers, register_firms
from jindu.precursors.models import EpcisEvent, EpcisQuantity

pytestmark = pytest.mark.django_db

FIRST_MONTH = dt.date(2025, 12, 1)
MONTHS = 5
REPLAYED_UNTIL = dt.date(2026, 5, 10)


@pytest.fixture
def world(db):
    build_tree()
    firms = register_firms(40, seed=7)
    events, planted = build_ledgers(firms, first_month=FIRST_MONTH, months=MONTHS, seed=7)
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
    balances = monthly_balances(first_month=FIRST_MONTH, months=MONTHS, settings=BalanceSettings())
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
    from jindu.precursors.demo import plant_annual_reports, replay_warnings, simulate_timely_capture
    from jindu.precursors.models.warnings import DiversionWarning

    firms, events, planted, _stored = world
    simulate_timely_capture([firm.pk for firm in firms])
    late, missing = plant_annual_reports(firms, year=2025, today=REPLAYED_UNTIL, seed=7)
    replay_warnings(FIRST_MONTH, REPLAYED_UNTIL)
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
    # The annual reports on 2025 filed late or not at all (a late one may first have been found missing: the
    # same warning, one per firm and year).
    assert late and missing and not set(late) & set(missing)
    expected |= {("A11", firm_id) for firm_id in late + missing}
    assert found == expected
    annual = {
        w.enterprise_id: w.params
        for w in DiversionWarning.objects.filter(rule="A11", dedup_key__startswith="A11:annual-report:")
    }
    assert set(annual) == set(late) | set(missing)
    assert all("submitted" in annual[firm_id] for firm_id in late)
    assert all("submitted" not in annual[firm_id] and annual[firm_id]["year"] == 2025 for firm_id in missing)


def test_the_annual_reports_show_every_state_and_feed_the_credit_rating(world):
    from jindu.precursors.annual_reports import annual_report_states
    from jindu.precursors.demo import plant_annual_reports
    from jindu.precursors.rating import credit_facts

    firms, _events, _planted, _stored = world
    pairs = [(firm.pk, firm.org_path) for firm in firms]
    # Before the deadline: the firms that will file late, or never, are still due.
    before = dt.date(2026, 3, 20)
    not_yet_late, not_yet_missing = plant_annual_reports(firms, year=2025, today=before, seed=7)
    assert not_yet_late == [] and not_yet_missing == []
    states = annual_report_states(pairs, [2025], today=before)
    assert {state.state for state in states.values()} == {"on_time", "due"}
    # Every firm had ledger activity in December 2025: all of them owe the report.
    assert all(state.active for state in states.values())
    due = {firm_id for (firm_id, _year), state in states.items() if state.state == "due"}
    # After the deadline, the same seed: the due firms filed late, or never.
    late, missing = plant_annual_reports(firms, year=2025, today=REPLAYED_UNTIL, seed=7)
    assert set(late) | set(missing) == due and late and missing
    states = annual_report_states(pairs, [2025], today=REPLAYED_UNTIL)
    by_state: dict[str, set[int]] = {}
    for (firm_id, _year), state in states.items():
        by_state.setdefault(state.state, set()).add(firm_id)
    assert by_state["late"] == set(late) and by_state["missing"] == set(missing)
    assert len(by_state["on_time"]) == len(firms) - len(late) - len(missing)
    facts = credit_facts([firm.pk for firm in firms], REPLAYED_UNTIL)
    annual = {
        firm_id for firm_id, found in facts.items() for fact in found if fact.kind == "late_annual_report"
    }
    assert annual == set(late) | set(missing)
