"""Diversion warnings: each rule fires on a planted case (with the right evidence) and stays silent on a clean
one; reruns never duplicate; thresholds come from the versioned policy; the lifecycle services and precision."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import F
from django.utils import translation

from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import AuditRecord, OrgUnit, PolicyVersion
from jindu.core.policy import policy_publish
from jindu.core.roles import Role
from jindu.core.testing.helpers import make_user
from jindu.precursors import services
from jindu.precursors.annual_reports import annual_report_submit
from jindu.precursors.conftest import FIRM_A, FIRM_B, date_report_back, ledger_document, uscc
from jindu.precursors.models import Enterprise, EpcisEvent
from jindu.precursors.models.warnings import DiversionWarning, RuleCode, WarningEvent
from jindu.precursors.warnings import (
    DEFAULT_WARNING_RULES,
    WARNING_RULES,
    WarningConflict,
    install_default_rules,
    rule_precision,
    run_warnings,
    warning_assign,
    warning_close,
    warning_verify,
)

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 30)
PIPERONAL = "urn:jindu:class:120-57-0:LOT-P"  # category 1
ANHYDRIDE = "urn:jindu:class:108-24-7:LOT-A"  # category 2
ACETONE = "urn:jindu:class:67-64-1:LOT-1"  # category 3
FIRM_C = uscc("91330203MA2C00001")
FIRM_D = uscc("91330203MA2D00001")
UNREGISTERED = "urn:jindu:party:" + uscc("91330000MA2X00001")
OTHER_UNREGISTERED = "urn:jindu:party:" + uscc("91330000MA2Y00001")


@pytest.fixture(autouse=True)
def _rules_policy(db: Any) -> None:
    """The shipped thresholds come from a data migration; a transactional test elsewhere may flush them."""
    install_default_rules()


def party(code: str) -> str:
    return f"urn:jindu:party:{code}"


def when(day: str, hour: int = 10) -> str:
    """``"06-10"`` → 2026-06-10 at ``hour``:00 in Beijing time (``"2025-06-10"`` for another year)."""
    full = day if day.count("-") == 2 else f"2026-{day}"
    return f"{full}T{hour:02d}:00:00+08:00"


def ev(kind: str, day: str, hour: int = 10, **fields: Any) -> dict:
    body: dict[str, Any] = {"type": kind, "eventTime": when(day, hour), "eventTimeZoneOffset": "+08:00"}
    if kind != "TransformationEvent":
        body["action"] = fields.pop("action", "OBSERVE")
    body.update(fields)
    return body


def ship(day: str, kg: float, buyer: str, epc_class: str = ACETONE, hour: int = 10, **fields: Any) -> dict:
    return ev(
        "ObjectEvent",
        day,
        hour,
        bizStep="shipping",
        disposition="in_transit",
        quantityList=[{"epcClass": epc_class, "quantity": kg, "uom": "KGM"}],
        destinationList=[{"type": "owning_party", "destination": buyer}],
        **fields,
    )


def receive(day: str, kg: float, seller: str | None, epc_class: str = ACETONE, hour: int = 10) -> dict:
    fields: dict[str, Any] = {}
    if seller:
        fields["sourceList"] = [{"type": "owning_party", "source": seller}]
    return ev(
        "ObjectEvent",
        day,
        hour,
        bizStep="receiving",
        quantityList=[{"epcClass": epc_class, "quantity": kg, "uom": "KGM"}],
        **fields,
    )


def paid(event: dict, method: str) -> dict:
    """The event with the firm's payment-method extension field."""
    return {**event, "jd:paymentMethod": method}


def count(day: str, kg: float, epc_class: str = ACETONE) -> dict:
    return ev(
        "ObjectEvent",
        day,
        17,
        bizStep="stock_taking",
        quantityList=[{"epcClass": epc_class, "quantity": kg, "uom": "KGM"}],
    )


def consume(day: str, kg: float, epc_class: str = ACETONE, order: str = "WO") -> dict:
    return ev(
        "TransformationEvent",
        day,
        12,
        bizStep="jd:consuming",
        transformationID=f"urn:jindu:transformation:{order}-{day}",
        inputQuantityList=[{"epcClass": epc_class, "quantity": kg, "uom": "KGM"}],
    )


def capture(
    firm: Enterprise, events: list[dict], *, delay: dt.timedelta = dt.timedelta(hours=1)
) -> list[int]:
    """Capture through the service, then set each event's record time to its event time + ``delay`` (a firm
    recording as things happen); returns the event ids in document order."""
    stored = services.epcis_capture(actor=None, enterprise=firm, document=ledger_document(firm.uscc, events))
    assert stored.event_count == len(events), stored
    EpcisEvent.objects.filter(capture=stored).update(record_time=F("event_time") + delay)
    return list(EpcisEvent.objects.filter(capture=stored).order_by("pk").values_list("pk", flat=True))


def more_firms(users: dict) -> dict[str, Enterprise]:
    c = services.enterprise_register(actor=None, uscc=FIRM_C, name="丙化工", org_unit_code="330203")
    d = services.enterprise_register(actor=None, uscc=FIRM_D, name="丁化工", org_unit_code="330203")
    return {"c": c, "d": d}


def warnings_of(rule: str) -> list[DiversionWarning]:
    return list(DiversionWarning.objects.filter(rule=rule).order_by("pk"))


def event_ids(warning: DiversionWarning) -> list[int]:
    return [item["id"] for item in warning.evidence if item["kind"] == "epcis_event"]


def run(*rules: str) -> dict:
    return run_warnings(AS_OF, rules=list(rules) or None)


# --- A01 order far above the buyer's usual quantity -------------------------------------------------------


def test_a01_fires_on_a_shipment_far_above_the_buyers_median(firms):
    ids = capture(
        firms["a"],
        [
            ship("02-10", 100, party(FIRM_B)),
            ship("03-10", 120, party(FIRM_B)),
            ship("04-10", 80, party(FIRM_B)),
            ship("05-01", 100, party(FIRM_B)),
            ship("06-10", 500, party(FIRM_B)),  # 5× the median of 100: a warning
            ship("06-12", 250, party(FIRM_B)),  # 2.3× the median: silent
            ship("06-20", 1200, party(FIRM_B)),  # 10.9× the median of 110: an alert
            ship("06-21", 1000, UNREGISTERED),  # no history for this buyer: not A01's business
        ],
    )
    summary = run("A01")
    assert summary["by_rule"] == {"A01": 2} and summary["created"] == 2
    first, second = warnings_of("A01")
    assert event_ids(first) == [ids[4]] and event_ids(second) == [ids[6]]
    assert first.level == "warning" and second.level == "alert"
    assert first.enterprise == firms["a"] and first.org_unit.code == "330203"
    assert first.params["ratio"] == "5.0" and first.params["median"] == "100"
    with translation.override("en"):
        assert "5.0× the median" in first.explanation
    assert first.params["buyer"] == "乙化工有限公司"
    assert first.evidence[0]["summary"].startswith(
        "2026-06-10 10:00 甲化工有限公司: shipping / in_transit, 500 kg"
    )
    assert first.substance.code == "acetone" and first.window_start == dt.date(2026, 6, 10)


def test_a01_is_silent_on_usual_quantities(firms):
    capture(firms["a"], [ship(f"0{m}-10", 100 + m, party(FIRM_B)) for m in range(1, 7)])
    assert run("A01")["findings"] == 0


# --- A02 new customer -----------------------------------------------------------------------------------------


def test_a02_flags_new_customers_category_1_always_and_2_3_above_p90(firms):
    history = [
        ship(day, kg, party(FIRM_B))
        for day, kg in [
            ("01-10", 100),
            ("02-10", 100),
            ("03-10", 110),
            ("04-10", 90),
            ("05-01", 100),
            ("05-05", 120),
        ]
    ]
    ids = capture(
        firms["a"],
        [
            *history,
            ship("06-05", 5, UNREGISTERED, PIPERONAL),  # category 1 to a new buyer: always
            ship("06-06", 500, OTHER_UNREGISTERED),  # acetone above the p90 (120 kg) to a new buyer
            ship("06-07", 50, party(FIRM_C)),  # a new buyer, but an ordinary quantity
            ship("06-08", 5, party(FIRM_B), PIPERONAL),  # category 1, but B has bought before
            ship("06-09", 3, UNREGISTERED, PIPERONAL),  # no longer a new customer
        ],
    )
    assert run("A02")["by_rule"] == {"A02": 2}
    category_1, above_p90 = warnings_of("A02")
    assert event_ids(category_1) == [ids[6]] and category_1.level == "warning"
    assert category_1.params["category"] == 1 and category_1.substance.code == "piperonal"
    assert event_ids(above_p90) == [ids[7]] and above_p90.level == "notice"
    assert above_p90.params["threshold"] == "120" and above_p90.params["percentile"] == 90


def test_a02_is_silent_for_a_regular_customer(firms):
    capture(firms["a"], [ship(f"0{m}-10", 5, party(FIRM_B), PIPERONAL) for m in range(1, 7)])
    assert run("A02")["findings"] == 0


# --- A03 payment -----------------------------------------------------------------------------------------


def test_a03_flags_cash_as_alert_and_third_party_payment_as_warning(firms):
    ids = capture(
        firms["a"],
        [
            paid(ship("06-10", 100, party(FIRM_B)), "cash"),
            paid(ship("06-11", 100, party(FIRM_B)), "third_party"),
            paid(ship("06-12", 100, party(FIRM_B)), "bank_transfer"),
            ship("06-13", 100, party(FIRM_B)),
        ],
    )
    run("A03")
    cash, third_party = warnings_of("A03")
    assert (event_ids(cash), cash.level, cash.params["method"]) == ([ids[0]], "alert", "cash")
    assert (event_ids(third_party), third_party.level) == ([ids[1]], "warning")
    # An alert is due at once, a warning within 72 hours (the shipped SLA).
    assert cash.due_at == cash.raised_at
    assert third_party.due_at - third_party.raised_at == dt.timedelta(hours=72)


def test_a03_is_silent_on_bank_transfers(firms):
    capture(firms["a"], [paid(ship("06-12", 100, party(FIRM_B)), "bank_transfer")])
    assert run("A03")["findings"] == 0


# --- A07 company shopping -------------------------------------------------------------------------------------


def test_a07_flags_a_buyer_supplied_by_three_sellers_in_30_days(firms, users):
    extra = more_firms(users)
    from_a = capture(firms["a"], [ship("06-01", 100, party(FIRM_B), ANHYDRIDE)])
    from_c = capture(extra["c"], [ship("06-10", 100, party(FIRM_B), ANHYDRIDE)])
    from_d = capture(
        extra["d"],
        [
            ship("06-20", 100, party(FIRM_B), ANHYDRIDE),
            # Σ above the category-2 cap (1,000 kg) from one seller within 30 days.
            ship("06-03", 600, OTHER_UNREGISTERED, ANHYDRIDE),
            ship("06-21", 600, OTHER_UNREGISTERED, ANHYDRIDE),
        ],
    )
    # B's own receipt of A's delivery names A: the same seller, counted once.
    received = capture(firms["b"], [receive("06-02", 100, party(FIRM_A), ANHYDRIDE)])
    # Two sellers only, well under the cap: silent.
    capture(firms["a"], [ship("06-01", 100, UNREGISTERED, ANHYDRIDE)])
    capture(extra["c"], [ship("06-15", 100, UNREGISTERED, ANHYDRIDE)])
    assert run("A07")["by_rule"] == {"A07": 2}
    shopping = DiversionWarning.objects.get(rule="A07", enterprise=firms["b"])
    assert sorted(event_ids(shopping)) == sorted([*from_a, *from_c, from_d[0], *received])
    assert shopping.params["sellers"] == 3 and shopping.org_unit.code == "330213"
    over_cap = DiversionWarning.objects.get(rule="A07", enterprise=extra["d"])
    assert sorted(event_ids(over_cap)) == sorted(from_d[1:])
    assert over_cap.params["kg"] == "1200" and over_cap.params["sellers"] == 1


# --- A08 mass balance ----------------------------------------------------------------------------------------


def test_a08_flags_a_month_that_does_not_close_and_not_a_balanced_one(firms):
    capture(
        firms["a"],
        [receive("05-02", 1000, None), count("05-28", 1000), consume("06-10", 200), count("06-28", 700)],
    )
    capture(
        firms["b"],
        [receive("05-02", 500, None), count("05-28", 500), consume("06-10", 100), count("06-28", 400)],
    )
    assert run("A08")["by_rule"] == {"A08": 1}
    [muf] = warnings_of("A08")
    acetone = muf.substance
    assert muf.enterprise == firms["a"] and muf.level == "alert" and acetone.code == "acetone"
    assert muf.evidence[0]["kind"] == "balance"
    assert muf.evidence[0]["id"] == f"{firms['a'].pk}:{acetone.pk}:2026-06"
    assert muf.evidence[0]["data"]["muf"] == "100" and muf.evidence[0]["data"]["book"] == "800"
    assert muf.window_start == dt.date(2026, 6, 1) and muf.window_end == dt.date(2026, 6, 30)


def _monthly(months: list[str], leak: int) -> list[dict]:
    """A firm receiving 1,000 kg a month, using it and keeping 500 kg; ``leak`` kg a month go missing, which
    no single month shows beyond 2σ."""
    events = []
    for index, month in enumerate(months):
        events += [
            receive(f"{month}-02", 1000, None),
            consume(f"{month}-10", 500 if index == 0 else 1000 - leak, order=month),
            count(f"{month}-28", 500 - leak),
        ]
    return events


def test_a08_cusum_catches_a_slow_leak_that_no_month_shows(firms, users):
    extra = more_firms(users)
    months = ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    capture(extra["c"], _monthly(months, leak=10))
    capture(extra["d"], _monthly(months, leak=0))
    assert run("A08")["by_rule"] == {"A08": 1}
    [leak] = warnings_of("A08")
    assert leak.enterprise == extra["c"] and leak.dedup_key.startswith("A08:cusum:")
    assert [item["data"]["month"] for item in leak.evidence] == ["2025-10", "2025-11", "2025-12", "2026-01"]
    assert leak.params["month"] == "2026-01" and leak.params["count"] == 4
    assert all(item["data"]["status"] == "ok" for item in leak.evidence)  # no month alone beyond 2σ


# --- A09 shipper–receiver ----------------------------------------------------------------------------------


def test_a09_flags_a_short_receipt_and_a_missing_one(firms):
    shipped = capture(
        firms["a"],
        [
            ship("06-01", 100, party(FIRM_B)),
            ship("06-10", 200, party(FIRM_B)),
            ship("06-15", 80, party(FIRM_B)),  # never received
            ship("06-27", 50, party(FIRM_B)),  # still in transit on 06-30
            ship("06-05", 70, UNREGISTERED),  # to a firm not on the platform: nothing to match
        ],
    )
    received = capture(
        firms["b"], [receive("06-02", 100, party(FIRM_A)), receive("06-11", 190, party(FIRM_A))]
    )
    assert run("A09")["by_rule"] == {"A09": 2}
    short, missing = warnings_of("A09")
    assert event_ids(short) == [shipped[1], received[1]] and short.params["percent"] == "5.00%"
    assert event_ids(missing) == [shipped[2]] and missing.params["days"] == 7
    with translation.override("en"):
        assert "no receipt within 7 days" in missing.explanation
    assert short.enterprise == firms["b"] and missing.enterprise == firms["b"]


# --- A10 permits --------------------------------------------------------------------------------------------


def test_a10_raises_permit_problems_found_at_capture(firms):
    ids = capture(firms["a"], [ship("06-10", 100, party(FIRM_B)), ship("06-11", 100, party(FIRM_B))])
    EpcisEvent.objects.filter(pk=ids[0]).update(
        warnings=[
            {"code": "unknown_party", "path": "destinationList[0]", "message": "not registered"},
            {"code": "over_cap", "path": "bizTransactionList[0]", "message": "120 kg over the permit's cap"},
            {"code": "expired_permit", "path": "bizTransactionList[0]", "message": "expired on 2026-05-31"},
        ]
    )
    EpcisEvent.objects.filter(pk=ids[1]).update(
        warnings=[{"code": "unknown_party", "path": "destinationList[0]", "message": "not registered"}]
    )
    run("A10")
    [permit] = warnings_of("A10")
    assert permit.level == "alert" and event_ids(permit) == [ids[0]]
    assert [(i["kind"], i.get("code")) for i in permit.evidence] == [
        ("epcis_event", None),
        ("capture_warning", "over_cap"),
        ("capture_warning", "expired_permit"),
    ]
    assert permit.params["codes"] == "over_cap, expired_permit"


# --- A12 theft --------------------------------------------------------------------------------------------


def test_a12_raises_an_immediate_alert_for_stolen_goods(firms):
    stolen = ev(
        "ObjectEvent",
        "06-10",
        bizStep="inspecting",
        disposition="stolen",
        quantityList=[{"epcClass": ACETONE, "quantity": 30, "uom": "KGM"}],
    )
    [stolen_id] = capture(firms["a"], [stolen], delay=dt.timedelta(hours=30))
    capture(
        firms["a"],
        [
            ev(
                "ObjectEvent",
                "06-11",
                bizStep="inspecting",
                disposition="in_progress",
                quantityList=[{"epcClass": ACETONE, "quantity": 30, "uom": "KGM"}],
            )
        ],
    )
    run("A12")
    [theft] = warnings_of("A12")
    assert theft.level == "alert" and event_ids(theft) == [stolen_id] and theft.due_at == theft.raised_at
    assert theft.params["hours"] == "30" and theft.params["disposition"] == "stolen"


# --- A13 after-the-fact edits ----------------------------------------------------------------------------


def _days(first: int, count: int) -> list[str]:
    return [f"06-{day:02d}" for day in range(first, first + count)]


def test_a13_flags_late_recording_and_repeated_corrections(firms, users):
    extra = more_firms(users)
    capture(firms["a"], [ship(day, 10, party(FIRM_B)) for day in _days(1, 8)])
    late = capture(
        firms["a"], [ship(day, 11, party(FIRM_B)) for day in _days(11, 4)], delay=dt.timedelta(days=10)
    )
    capture(firms["b"], [receive(day, 10, None) for day in _days(1, 11)])
    capture(firms["b"], [receive("06-20", 12, None)], delay=dt.timedelta(days=10))  # 1 of 12 late: fine
    corrections = capture(
        extra["c"],
        [
            {
                **receive(day, 10, None),
                "errorDeclaration": {"declarationTime": when(day, 18), "reason": "incorrect_data"},
            }
            for day in _days(1, 3)
        ],
    )
    assert run("A13")["by_rule"] == {"A13": 2}
    a13 = {w.enterprise_id: w for w in warnings_of("A13")}
    assert sorted(event_ids(a13[firms["a"].pk])) == sorted(late)
    assert a13[firms["a"].pk].params["late"] == 4 and a13[firms["a"].pk].params["share"] == "33%"
    assert sorted(event_ids(a13[extra["c"].pk])) == sorted(corrections)
    assert a13[extra["c"].pk].params["corrected"] == 3


# --- A14 dormant firm ------------------------------------------------------------------------------------


def test_a14_flags_a_firm_active_again_after_a_year(firms, users):
    extra = more_firms(users)
    woke = capture(
        firms["a"], [receive("2025-03-01", 10, None), receive("06-10", 10, None), receive("06-11", 10, None)]
    )
    capture(firms["b"], [receive("05-01", 10, None), receive("06-10", 10, None)])  # 40 days idle: fine
    capture(extra["c"], [receive("06-10", 10, None)])  # new to the platform: no history, no warning
    run("A14")
    [dormant] = warnings_of("A14")
    assert dormant.enterprise == firms["a"] and event_ids(dormant) == [woke[1]]
    assert dormant.params["days"] == 466 and dormant.params["since"] == "2025-03-01"


# --- A05 KYC at sale -------------------------------------------------------------------------------------------


def kyc(event: dict, **checks: bool) -> dict:
    """The event with the firm's know-your-customer checklist extension field."""
    return {**event, "jd:kycChecklist": checks}


def test_a05_flags_a_sale_whose_kyc_checklist_has_a_no(firms):
    ids = capture(
        firms["a"],
        [
            kyc(
                ship("06-10", 50, party(FIRM_B)),
                buyerIdentityVerified=True,
                declaredUseConsistent=False,
                agentAuthorised=True,
            ),
            kyc(ship("06-12", 50, party(FIRM_B)), buyerIdentityVerified=True, declaredUseConsistent=True),
        ],
    )
    # A district version written before A05 existed: the rule keeps its shipped defaults there.
    version = policy_publish(
        actor=None,
        kind=WARNING_RULES,
        region=OrgUnit.objects.get(code="330203"),
        effective_from=dt.date(2026, 1, 1),
        label="海曙 2026",
        payload={"rules": {"A01": {"multiple": 6}}},
    )
    assert run("A05")["by_rule"] == {"A05": 1}
    [warning] = warnings_of("A05")
    assert event_ids(warning) == [ids[0]] and warning.evidence[0]["role"] == "sale"
    assert warning.enterprise == firms["a"] and warning.level == "warning"
    assert warning.params["checks"] == "declaredUseConsistent"
    assert warning.params["buyer"] == "乙化工有限公司" and warning.policy_version == version
    with translation.override("en"):
        assert "know-your-customer checklist failed: declaredUseConsistent" in warning.explanation
    assert run("A05")["created"] == 0  # a rerun adds nothing


def test_a05_is_silent_without_the_checklist_or_when_every_check_passes(firms):
    capture(
        firms["a"],
        [
            ship("06-10", 50, party(FIRM_B)),  # no checklist recorded: A05 cannot see anything
            kyc(ship("06-11", 50, party(FIRM_B)), buyerIdentityVerified=True, declaredUseConsistent=True),
            # A "no" recorded at receiving is not a sale.
            kyc(receive("06-12", 50, party(FIRM_B)), buyerIdentityVerified=False),
        ],
    )
    assert run("A05")["findings"] == 0


# --- A06 unusual combinations ----------------------------------------------------------------------------------

PHENYLACETIC = "urn:jindu:class:103-82-2:LOT-PA"  # category 2
CHLOROFORM = "urn:jindu:class:67-66-3:LOT-CF"  # category 2
HCL = "urn:jindu:class:7647-01-0:LOT-H"  # category 3


def test_a06_flags_a_buyer_whose_basket_matches_a_route_template(firms, users):
    extra = more_firms(users)
    [shipped] = capture(firms["a"], [ship("06-01", 50, party(FIRM_B), PHENYLACETIC)])
    received = capture(
        firms["b"],
        [
            receive("06-02", 50, party(FIRM_A), PHENYLACETIC),
            receive("06-20", 100, UNREGISTERED, ANHYDRIDE),
            receive("06-21", 100, UNREGISTERED, ACETONE),  # not in the template: no evidence
        ],
    )
    # An unregistered buyer seen through two registered sellers: the latest seller gets the warning.
    [to_unregistered] = capture(firms["a"], [ship("06-05", 10, OTHER_UNREGISTERED, PHENYLACETIC)])
    [latest] = capture(extra["c"], [ship("06-15", 20, OTHER_UNREGISTERED, ANHYDRIDE)])
    assert run("A06")["by_rule"] == {"A06": 2}
    by_firm = {warning.enterprise_id: warning for warning in warnings_of("A06")}
    basket = by_firm[firms["b"].pk]
    assert event_ids(basket) == sorted([shipped, received[0], received[1]])
    assert basket.params["template"] == "P-2-P (amphetamine / methamphetamine) from phenylacetic acid"
    assert basket.dedup_key == f"A06:{party(FIRM_B)}:p2p-from-phenylacetic-acid"
    assert basket.window_start == dt.date(2026, 6, 1) and basket.window_end == dt.date(2026, 6, 20)
    assert event_ids(by_firm[extra["c"].pk]) == [to_unregistered, latest]
    assert run("A06")["created"] == 0


def test_a06_is_silent_on_a_partial_basket_or_one_spread_beyond_the_window(firms):
    capture(
        firms["b"],
        [
            receive("2026-02-01", 100, UNREGISTERED, ANHYDRIDE),  # 139 days before the phenylacetic acid
            receive("06-20", 50, UNREGISTERED, PHENYLACETIC),
            receive("06-21", 50, UNREGISTERED, CHLOROFORM),  # heroin template lacks hydrochloric acid
        ],
    )
    assert run("A06")["findings"] == 0


# --- A15 watch list ------------------------------------------------------------------------------------------

NITROETHANE = "urn:jindu:class:79-24-3:LOT-NE"  # not listed in China; on the PROPOSED watch list
BENZALDEHYDE = "urn:jindu:class:100-52-7:LOT-BZ"


def test_a15_flags_watch_list_chemicals_above_the_threshold(firms):
    received = capture(
        firms["a"],
        [
            receive("06-05", 60, UNREGISTERED, NITROETHANE),
            receive("06-20", 50, UNREGISTERED, NITROETHANE),  # 110 kg in 30 days > 100 kg: a notice
            ev(
                "ObjectEvent",
                "06-21",
                bizStep="receiving",
                quantityList=[{"epcClass": NITROETHANE, "quantity": 500, "uom": "LTR"}],
            ),  # a volume without a density: skipped
            ship("06-22", 1500, party(FIRM_B), NITROETHANE),  # > 10 × the threshold: a warning
        ],
    )
    assert run("A15")["by_rule"] == {"A15": 2}
    notice, warning = sorted(warnings_of("A15"), key=lambda w: w.level)
    assert notice.level == "notice" and event_ids(notice) == received[:2]
    assert notice.params["kg"] == "110" and notice.params["cas"] == "79-24-3"
    assert notice.params["chemical"] == "nitroethane" and notice.enterprise == firms["a"]
    assert notice.dedup_key == f"A15:{firms['a'].pk}:79-24-3:receipt"
    with translation.override("en"):
        assert "received 110 kg of nitroethane (CAS 79-24-3" in notice.explanation
    assert warning.level == "warning" and event_ids(warning) == [received[3]]
    assert run("A15")["created"] == 0


def test_a15_is_silent_below_the_threshold_and_for_unwatched_classes(firms):
    capture(
        firms["a"],
        [
            receive("06-01", 40, UNREGISTERED, NITROETHANE),
            receive("06-20", 40, UNREGISTERED, NITROETHANE),
            receive("04-20", 90, UNREGISTERED, BENZALDEHYDE),  # 90 + 90 kg, but 61 days apart
            receive("06-20", 90, UNREGISTERED, BENZALDEHYDE),
            receive("06-21", 5000, UNREGISTERED, "urn:jindu:class:7732-18-5:LOT-W"),  # water: not watched
        ],
    )
    assert run("A15")["findings"] == 0


def test_the_migration_adds_the_new_rules_to_the_shipped_default_version():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("jindu.precursors.migrations.0008_warning_rules_a05_a06_a15")
    national = PolicyVersion.objects.get(kind=WARNING_RULES, region=None, is_default=True)
    old = {**DEFAULT_WARNING_RULES, "rules": dict(DEFAULT_WARNING_RULES["rules"])}
    for code in ("A05", "A06", "A15"):
        del old["rules"][code]
    national.payload = old
    national.save(update_fields=["payload"])
    migration.add_rule_defaults(apps, None)
    national.refresh_from_db()
    assert national.payload == DEFAULT_WARNING_RULES


def test_the_migration_adds_the_annual_report_thresholds_to_the_shipped_a11():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("jindu.precursors.migrations.0011_warning_rules_a11_annual_reports")
    national = PolicyVersion.objects.get(kind=WARNING_RULES, region=None, is_default=True)
    old = {**DEFAULT_WARNING_RULES, "rules": dict(DEFAULT_WARNING_RULES["rules"])}
    old["rules"]["A11"] = {
        key: value
        for key, value in DEFAULT_WARNING_RULES["rules"]["A11"].items()
        if key not in migration.NEW_A11_KEYS
    }
    assert len(old["rules"]["A11"]) == len(DEFAULT_WARNING_RULES["rules"]["A11"]) - 3
    national.payload = old
    national.save(update_fields=["payload"])
    migration.add_a11_defaults(apps, None)
    national.refresh_from_db()
    assert national.payload == DEFAULT_WARNING_RULES
    migration.remove_a11_defaults(apps, None)
    national.refresh_from_db()
    assert national.payload == old


def test_the_migration_adds_a04_and_a11_to_the_shipped_default_version():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("jindu.precursors.migrations.0009_warning_rules_a04_a11")
    national = PolicyVersion.objects.get(kind=WARNING_RULES, region=None, is_default=True)
    old = {**DEFAULT_WARNING_RULES, "rules": dict(DEFAULT_WARNING_RULES["rules"])}
    for code in ("A04", "A11"):
        del old["rules"][code]
    national.payload = old
    national.save(update_fields=["payload"])
    migration.add_rule_defaults(apps, None)
    national.refresh_from_db()
    assert national.payload == DEFAULT_WARNING_RULES
    migration.remove_rule_defaults(apps, None)
    national.refresh_from_db()
    assert national.payload == old


# --- A04 unusual delivery (transport permit vs the shipment) -------------------------------------------------


def transport_permit(firms: dict, users: dict, *, start: str = "06-10", end: str = "06-12") -> str:
    """Firm A's transport licence for acetic anhydride to firm B, its window from ``start`` 08:00 to ``end``
    18:00; its number."""
    from jindu.precursors import permits
    from jindu.precursors.models.permits import Permit

    office = users["district_a"]
    application = permits.application_create(
        actor=None,
        enterprise=firms["a"],
        permit_type="transport_licence",
        substance="acetic-anhydride",
        quantity_kg="800",
        counterparty_uscc=FIRM_B,
        counterparty_name="乙化工有限公司",
        origin="宁波市海曙区望春工业园区1号",
        destination="宁波市奉化区锦屏街道2号",
        carrier="宁波危险品运输有限公司",
        vehicle_plate="浙B12345",
        driver_name="王师傅",
        window_start=dt.datetime.fromisoformat(when(start, 8)),
        window_end=dt.datetime.fromisoformat(when(end, 18)),
        route_corridor=[[121.50, 29.88], [121.45, 29.70]],
        corridor_buffer_m=500,
        submit=True,
    )
    permits.application_accept(actor=office, application=application)
    permits.application_approve(actor=office, application=application)
    return Permit.objects.get(application=application).number


def under_permit(event: dict, number: str) -> dict:
    return {
        **event,
        "bizTransactionList": [{"type": "jd:BTT-permit", "bizTransaction": f"urn:jindu:permit:{number}"}],
    }


def test_a04_flags_a_delivery_to_another_consignee_or_outside_the_window(firms, users):
    extra = more_firms(users)
    number = transport_permit(firms, users)
    ids = capture(
        firms["a"],
        [
            under_permit(ship("06-11", 100, party(FIRM_B), ANHYDRIDE), number),  # as permitted
            under_permit(ship("06-11", 100, party(FIRM_C), ANHYDRIDE, hour=11), number),  # another consignee
            under_permit(ship("06-20", 100, party(FIRM_B), ANHYDRIDE), number),  # after the window
            under_permit(ship("06-21", 100, party(FIRM_C), ANHYDRIDE), "GMB-330203-2026-999999"),  # A10's
        ],
    )
    assert run("A04")["by_rule"] == {"A04": 2}
    by_key = {w.dedup_key: w for w in warnings_of("A04")}
    assert set(by_key) == {f"A04:{ids[1]}:{number}:consignee", f"A04:{ids[2]}:{number}:window"}
    for key, event_id in (
        (f"A04:{ids[1]}:{number}:consignee", ids[1]),
        (f"A04:{ids[2]}:{number}:window", ids[2]),
    ):
        warning = by_key[key]
        assert warning.level == "alert" and warning.enterprise == firms["a"]
        assert [(item["kind"], item["id"]) for item in warning.evidence] == [
            ("epcis_event", event_id),
            ("permit", number),
        ]
        assert warning.evidence[1]["data"]["consignee"] == FIRM_B
    consignee = by_key[f"A04:{ids[1]}:{number}:consignee"]
    assert (
        consignee.params["destination"] == extra["c"].name
        and consignee.params["consignee"] == "乙化工有限公司"
    )
    assert by_key[f"A04:{ids[2]}:{number}:window"].params["window"] == "2026-06-10 08:00 – 2026-06-12 18:00"
    assert run("A04")["created"] == 0  # a rerun never duplicates


def test_a04_is_silent_on_deliveries_as_permitted(firms, users):
    number = transport_permit(firms, users)
    capture(
        firms["a"],
        [
            under_permit(ship("06-10", 100, party(FIRM_B), ANHYDRIDE, hour=9), number),  # window's edges
            under_permit(ship("06-12", 100, party(FIRM_B), ANHYDRIDE, hour=17), number),
            ship("06-20", 100, party(FIRM_C), ANHYDRIDE),  # names no permit
            under_permit(receive("06-20", 100, party(FIRM_C), ANHYDRIDE), number),  # not a shipment
        ],
    )
    assert run("A04")["findings"] == 0


# --- A11 late or missing filings ---------------------------------------------------------------------------


def test_a11_flags_sales_recorded_after_their_reporting_deadline(firms):
    timely = capture(
        firms["a"], [ship("05-20", 100, party(FIRM_B))], delay=dt.timedelta(days=8)
    )  # cat 3: 30 days
    [category_1] = capture(
        firms["a"], [ship("06-01", 5, party(FIRM_B), PIPERONAL)], delay=dt.timedelta(days=8)
    )
    [category_2] = capture(
        firms["a"], [ship("05-01", 50, party(FIRM_B), ANHYDRIDE)], delay=dt.timedelta(days=40)
    )
    # Category 1 sold on 28 June: due on 3 July, not yet late on 30 June even though not recorded by then.
    not_due = capture(firms["a"], [ship("06-28", 5, party(FIRM_B), PIPERONAL)], delay=dt.timedelta(days=7))
    run("A11")
    late = {w.dedup_key: w for w in warnings_of("A11") if w.dedup_key.startswith("A11:sales-report:")}
    assert set(late) == {f"A11:sales-report:{category_1}", f"A11:sales-report:{category_2}"}
    first = late[f"A11:sales-report:{category_1}"]
    assert first.level == "notice" and event_ids(first) == [category_1] and first.enterprise == firms["a"]
    assert (
        first.params["category"],
        first.params["deadline"],
        first.params["recorded"],
        first.params["days"],
    ) == (
        1,
        "2026-06-06",
        "2026-06-09",
        3,
    )
    # Sold before the scan window, recorded within it: still found.
    second = late[f"A11:sales-report:{category_2}"]
    assert second.params["deadline"] == "2026-05-31" and second.params["days"] == 10
    assert timely[0] not in [i for w in late.values() for i in event_ids(w)] and not_due[0] not in event_ids(
        first
    )
    assert run("A11")["created"] == 0


def test_a11_flags_a_month_with_flows_and_no_stocktake(firms, users):
    extra = more_firms(users)
    # B ships without any recorded stock and never counts it: its book stock runs negative, carried on until a
    # count shows the gap (no stocktake, no MUF verdict), no balance fails, and A11 asks for the stocktake.
    capture(firms["b"], [ship(f"{m}-10", 100, party(FIRM_A)) for m in ("04", "05", "06")])
    # A counts May: fine; June's stocktake is not due before 10 July.
    capture(
        firms["a"],
        [receive("05-11", 100, party(FIRM_B)), count("05-28", 100), receive("06-11", 100, party(FIRM_B))],
    )
    # C moved goods in April only: its deadline (10 May) fell before the scan window, an earlier run's business.
    capture(extra["c"], [receive("04-11", 100, None)])
    summary = run("A08", "A11")
    assert summary["balance_errors"]["count"] == 0
    [missing] = warnings_of("A11")
    acetone = missing.substance_id
    assert missing.enterprise == firms["b"] and missing.level == "notice"
    assert missing.dedup_key == f"A11:stocktake:{firms['b'].pk}:{acetone}:2026-05"
    assert missing.params["month"] == "2026-05" and missing.params["deadline"] == "2026-06-10"
    [evidence] = missing.evidence
    assert evidence["kind"] == "balance" and evidence["id"] == f"{firms['b'].pk}:{acetone}:2026-05"
    assert evidence["data"]["status"] == "no_stocktake" and evidence["data"]["shipments"] == "100"
    assert (missing.window_start, missing.window_end) == (dt.date(2026, 5, 1), dt.date(2026, 5, 31))
    # Without A08 in the run, A11 computes the balances itself and finds the same.
    again = run("A11")
    assert again["by_rule"] == {"A11": 1} and again["created"] == 0 and again["unchanged"] == 1


def test_a11_flags_missing_and_late_annual_reports_and_not_timely_or_idle_firms(firms, users):
    extra = more_firms(users)
    # A, B and C recorded activity in 2025 (due by 31 March 2026); D only in 2026.
    capture(firms["a"], [receive("2025-05-10", 100, party(FIRM_B))])
    capture(firms["b"], [ship("2025-05-09", 100, party(FIRM_A)), count("2025-12-28", 0)])
    capture(extra["c"], [count("2025-11-28", 40)])
    capture(extra["d"], [receive("06-10", 10, None)])
    late = date_report_back(annual_report_submit(actor=firms["user_b"], year=2025), dt.date(2026, 4, 20))
    on_time = date_report_back(
        annual_report_submit(actor=None, enterprise=extra["c"], year=2025), dt.date(2026, 3, 31), hour=23
    )
    assert late.due_on == on_time.due_on == dt.date(2026, 3, 31) and late.is_late and not on_time.is_late
    summary = run("A11")
    annual = {w.dedup_key: w for w in warnings_of("A11") if w.dedup_key.startswith("A11:annual-report:")}
    assert set(annual) == {
        f"A11:annual-report:{firms['a'].pk}:2025",
        f"A11:annual-report:{firms['b'].pk}:2025",
    }
    missing = annual[f"A11:annual-report:{firms['a'].pk}:2025"]
    assert missing.enterprise == firms["a"] and missing.level == "warning" and missing.substance is None
    assert missing.params == {"firm": "甲化工有限公司", "year": 2025, "deadline": "2026-03-31"}
    assert [(item["kind"], item["id"]) for item in missing.evidence] == [
        ("annual_report_due", f"{firms['a'].pk}:2025")
    ]
    assert (missing.window_start, missing.window_end) == (dt.date(2025, 1, 1), dt.date(2026, 3, 31))
    with translation.override("en"):
        assert "has not submitted its annual report on that year, due on 2026-03-31" in missing.explanation
    came_late = annual[f"A11:annual-report:{firms['b'].pk}:2025"]
    assert came_late.level == "notice" and came_late.params["days"] == 20
    assert came_late.params["submitted"] == "2026-04-20"
    assert ("annual_report", late.pk) in [(item["kind"], item["id"]) for item in came_late.evidence]
    # The other A11 branches have their own keys; the annual branch raised exactly these two.
    assert summary["by_rule"]["A11"] == len(warnings_of("A11"))
    assert run("A11")["created"] == 0  # a rerun never duplicates


def test_a11_annual_report_is_not_due_before_the_deadline_of_the_districts_rules(firms, users):
    from jindu.precursors.permit_rules import DEFAULT_PERMIT_RULES
    from jindu.precursors.permits import PERMIT_RULES_POLICY

    capture(firms["a"], [receive("2025-05-10", 100, party(FIRM_B))])
    capture(firms["b"], [ship("2025-05-09", 100, party(FIRM_A))])
    # District A's permit rules give firms until 31 July; district B keeps 31 March.
    rules = {**DEFAULT_PERMIT_RULES, "reporting": {**DEFAULT_PERMIT_RULES["reporting"]}}
    rules["reporting"]["annual_report_due"] = {"month": 7, "day": 31}
    policy_publish(
        actor=None,
        kind=PERMIT_RULES_POLICY,
        region=firms["a"].org_unit,
        effective_from=dt.date(2026, 1, 1),
        label="海曙 2026",
        payload=rules,
    )
    run("A11")
    assert [w.enterprise_id for w in warnings_of("A11")] == [firms["b"].pk]
    assert run_warnings(dt.date(2026, 8, 3), rules=["A11"])["created"] == 1
    assert {w.enterprise_id: w.params["deadline"] for w in warnings_of("A11")} == {
        firms["a"].pk: "2026-07-31",
        firms["b"].pk: "2026-03-31",
    }


def test_a11_missing_report_that_comes_in_late_joins_its_open_warning(firms):
    capture(firms["a"], [receive("2025-05-10", 100, party(FIRM_B))])
    assert run_warnings(dt.date(2026, 4, 15), rules=["A11"])["created"] == 1
    date_report_back(annual_report_submit(actor=firms["user_a"], year=2025), dt.date(2026, 5, 4))
    summary = run("A11")
    assert summary["created"] == 0 and summary["updated"] == 1
    [warning] = warnings_of("A11")
    assert warning.params["submitted"] == "2026-05-04" and warning.params["days"] == 34
    assert [item["kind"] for item in warning.evidence] == ["annual_report", "annual_report_due"]
    assert warning.level == "warning"  # it was missing first: the level does not go down
    assert list(warning.history.values_list("kind", flat=True)) == ["raised", "updated"]


def test_a11_annual_report_thresholds_of_a_version_written_before_them(firms):
    capture(firms["a"], [receive("2025-05-10", 100, party(FIRM_B))])
    capture(firms["b"], [ship("2025-05-09", 100, party(FIRM_A))])
    date_report_back(annual_report_submit(actor=firms["user_b"], year=2025), dt.date(2026, 4, 2))
    # District A's version sets A11 as it was before the annual report existed; district B's raises the late
    # level and looks back one year only.
    old_a11 = {
        key: value
        for key, value in DEFAULT_WARNING_RULES["rules"]["A11"].items()
        if not key.startswith("annual_report")
    }
    for region, a11 in (
        (firms["a"].org_unit, old_a11),
        (firms["b"].org_unit, {"annual_report_late_level": "warning", "annual_report_years": 1}),
    ):
        policy_publish(
            actor=None,
            kind=WARNING_RULES,
            region=region,
            effective_from=dt.date(2026, 1, 1),
            label=f"{region.name} 2026",
            payload={"rules": {"A11": a11}},
        )
    run("A11")
    levels = {w.enterprise_id: w.level for w in warnings_of("A11")}
    assert levels == {firms["a"].pk: "warning", firms["b"].pk: "warning"}
    # In 2027 district B looks back one year (2026) only: its late 2025 report is no longer examined, while
    # district A's shipped two years still see the 2025 report missing.
    DiversionWarning.objects.all().delete()
    summary = run_warnings(dt.date(2027, 1, 5), rules=["A11"])
    assert summary["created"] == 1 and warnings_of("A11")[0].enterprise == firms["a"]


# --- A clean ledger, reruns, policy ----------------------------------------------------------------------------


def _clean_ledger(firms: dict) -> None:
    months = ["01", "02", "03", "04", "05", "06"]
    # B counts its stock before the balances' 12 months and after each month's shipment (A11 wants a
    # stocktake of every month with flows); that count is ledger activity in 2025, so B filed its annual
    # report on 2025 in time (A11 wants that too).
    capture(
        firms["b"],
        [count("2025-06-20", 600)]
        + [
            event
            for m in months
            for event in (ship(f"{m}-10", 100, party(FIRM_A)), count(f"{m}-27", 600 - 100 * int(m)))
        ],
    )
    capture(
        firms["a"],
        [
            event
            for m in months
            for event in (receive(f"{m}-11", 100, party(FIRM_B)), count(f"{m}-28", 100 * int(m)))
        ],
    )
    date_report_back(annual_report_submit(actor=firms["user_b"], year=2025), dt.date(2026, 3, 20))


def test_a_clean_ledger_raises_nothing(firms):
    _clean_ledger(firms)
    summary = run()
    assert summary["findings"] == 0, summary
    assert not DiversionWarning.objects.exists()
    assert summary["balance_errors"]["count"] == 0


def test_rerunning_never_duplicates_and_new_evidence_joins_the_open_warning(firms, users):
    extra = more_firms(users)
    capture(firms["a"], [ship("06-01", 100, party(FIRM_B), ANHYDRIDE)])
    capture(extra["c"], [ship("06-10", 100, party(FIRM_B), ANHYDRIDE)])
    capture(
        extra["d"], [ship("06-20", 100, party(FIRM_B), ANHYDRIDE), ship("06-21", 9, party(FIRM_B), PIPERONAL)]
    )
    first = run()
    assert first["created"] >= 2 and first["by_rule"]["A07"] == 1
    second = run()
    assert second["created"] == 0 and second["updated"] == 0 and second["unchanged"] == first["created"]
    assert DiversionWarning.objects.count() == first["created"]
    # A fourth seller joins the same buyer × substance: the open warning takes the new evidence.
    more = services.enterprise_register(
        actor=None, uscc=uscc("91330203MA2E00001"), name="戊化工", org_unit_code="330203"
    )
    [fourth] = capture(more, [ship("06-25", 100, party(FIRM_B), ANHYDRIDE)])
    third = run("A07")
    assert third["created"] == 0 and third["updated"] == 1
    [shopping] = warnings_of("A07")
    assert fourth in event_ids(shopping) and shopping.params["sellers"] == 4
    assert list(shopping.history.values_list("kind", flat=True)) == ["raised", "updated"]


def test_a_closed_warning_comes_back_only_with_new_evidence(firms, users):
    extra = more_firms(users)
    capture(firms["a"], [ship("06-01", 100, party(FIRM_B), ANHYDRIDE)])
    capture(extra["c"], [ship("06-10", 100, party(FIRM_B), ANHYDRIDE)])
    capture(extra["d"], [ship("06-20", 100, party(FIRM_B), ANHYDRIDE)])
    run("A07")
    [shopping] = warnings_of("A07")
    official = users["district_b"]
    warning_assign(actor=official, warning=shopping, assignee=official)
    warning_verify(actor=official, warning=shopping, note="Checked the three purchase filings.")
    warning_close(actor=official, warning=shopping, outcome="false_positive")
    again = run("A07")
    assert again["created"] == 0 and again["suppressed"] == 1
    capture(firms["a"], [ship("06-28", 100, party(FIRM_B), ANHYDRIDE)])
    assert run("A07")["created"] == 1
    assert DiversionWarning.objects.filter(rule="A07", status="new").count() == 1


def test_thresholds_come_from_the_policy_in_force_for_the_district(firms):
    capture(
        firms["a"],
        [
            ship(d, kg, party(FIRM_B))
            for d, kg in [
                ("02-10", 100),
                ("03-10", 120),
                ("04-10", 80),
                ("05-01", 100),
                ("06-10", 500),
                ("06-20", 1200),
            ]
        ],
    )
    district_a = OrgUnit.objects.get(code="330203")
    payload = {"rules": {"A01": {"multiple": 6}}, "sla_hours": {"warning": 24, "alert": 1}}
    version = policy_publish(
        actor=None,
        kind=WARNING_RULES,
        region=district_a,
        effective_from=dt.date(2026, 1, 1),
        label="海曙 2026",
        payload=payload,
    )
    run("A01")
    [alert] = warnings_of("A01")  # the 5× shipment no longer fires under 6×; the 10.9× one does
    assert alert.level == "alert" and alert.params["multiple"] == 6 and alert.policy_version == version
    assert alert.due_at - alert.raised_at == dt.timedelta(hours=1)
    national = PolicyVersion.objects.get(kind=WARNING_RULES, region=None)
    assert national.payload == DEFAULT_WARNING_RULES and national.is_default


def test_enterprise_filter_and_disabled_rule(firms):
    capture(firms["a"], [paid(ship("06-10", 100, party(FIRM_B)), "cash")])
    capture(firms["b"], [paid(receive("06-10", 100, None), "barter")])
    assert run_warnings(AS_OF, enterprise_ids=[firms["b"].pk], rules=["A03"])["created"] == 1
    assert DiversionWarning.objects.get().enterprise == firms["b"]
    PolicyVersion.objects.filter(kind=WARNING_RULES).update(
        payload={**DEFAULT_WARNING_RULES, "rules": {"A03": {"enabled": False}}}
    )
    assert run("A03")["findings"] == 0


# --- Lifecycle ---------------------------------------------------------------------------------------------


def _theft(firms: dict, day: str = "06-10") -> DiversionWarning:
    capture(
        firms["a"],
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
    return DiversionWarning.objects.filter(rule="A12").latest("pk")


def test_lifecycle_assign_verify_close_is_audited_and_kept_in_history(firms, users):
    warning = _theft(firms)
    official, colleague = users["district_a"], make_user("t_district_a2", Role.DISTRICT_OFFICE, "330203")
    before = AuditRecord.objects.count()
    warning_assign(actor=official, warning=warning, assignee=colleague, note="Please check today.")
    warning_assign(actor=official, warning=warning, assignee=official)  # reassigned
    warning_verify(actor=official, warning=warning, note="Visited the store: 30 kg missing, police informed.")
    closed = warning_close(actor=official, warning=warning, outcome="case_opened", note="Case 2026-17.")
    assert closed.status == "closed" and closed.outcome == "case_opened" and closed.closed_at is not None
    steps = list(
        WarningEvent.objects.filter(warning=warning).values_list("kind", "status", "actor__username")
    )
    assert steps == [
        ("raised", "new", None),
        ("assigned", "assigned", "t_district_a"),
        ("assigned", "assigned", "t_district_a"),
        ("verified", "verified", "t_district_a"),
        ("closed", "closed", "t_district_a"),
    ]
    records = list(AuditRecord.objects.order_by("sequence")[before:])
    assert [r.detail["step"] for r in records] == ["assigned", "assigned", "verified", "closed"]
    assert records[-1].detail["outcome"] == "case_opened" and records[-1].org_unit_code == "330203"


def test_lifecycle_refuses_wrong_steps_and_bad_input(firms, users):
    warning = _theft(firms)
    official = users["district_a"]
    with pytest.raises(WarningConflict):
        warning_verify(actor=official, warning=warning, note="too early")
    with pytest.raises(ServiceError) as refused:
        warning_assign(actor=official, warning=warning, assignee=users["district_b"])
    assert "assignee" in refused.value.fields
    with pytest.raises(ServiceError):
        warning_assign(actor=official, warning=warning, assignee=users["enterprise"])
    warning_assign(actor=official, warning=warning, assignee=official)
    with pytest.raises(WarningConflict) as again:
        warning_assign(actor=official, warning=warning, assignee=official)
    assert again.value.code == "already_assigned"
    with pytest.raises(ServiceError) as no_note:
        warning_verify(actor=official, warning=warning, note="  ")
    assert set(no_note.value.fields) == {"note"}
    with pytest.raises(WarningConflict):
        warning_close(actor=official, warning=warning, outcome="corrected")
    warning_verify(actor=official, warning=warning, note="checked")
    for outcome in ("", "resolved"):
        with pytest.raises(ServiceError) as bad:
            warning_close(actor=official, warning=warning, outcome=outcome)
        assert set(bad.value.fields) == {"outcome"}
    warning_close(actor=official, warning=warning, outcome="corrected")
    with pytest.raises(WarningConflict):
        warning_close(actor=official, warning=warning, outcome="corrected")


def test_only_officials_of_the_firms_district_act(firms, users):
    warning = _theft(firms)
    for outsider in (users["district_b"], users["enterprise"], firms["user_b"], users["sysadmin"]):
        with pytest.raises(NotFound):
            warning_assign(actor=outsider, warning=warning, assignee=users["district_a"])
    # The city office's capture scope holds district A.
    warning_assign(actor=users["city"], warning=warning, assignee=users["district_a"])


def test_outcomes_measure_each_rules_precision(firms, users):
    official = users["district_a"]
    outcomes = ["case_opened", "false_positive", "corrected"]
    for index, outcome in enumerate(outcomes):
        warning = _theft(firms, f"06-1{index}")
        warning_assign(actor=official, warning=warning, assignee=official)
        warning_verify(actor=official, warning=warning, note="checked")
        warning_close(actor=official, warning=warning, outcome=outcome)
    _theft(firms, "06-20")  # still open
    rows = {row["rule"]: row for row in rule_precision()}
    assert rows["A12"] == {
        "rule": "A12",
        "label": str(RuleCode.A12.label),
        "implemented": True,
        "open": 1,
        "closed": 3,
        "true_positive": 2,
        "false_positive": 1,
        "precision": 0.6667,
    }
    assert rows["A01"]["precision"] is None
    assert rows["A04"]["implemented"] is True and rows["A04"]["open"] == 0
    # Over a scope: district B sees none of district A's warnings.
    assert {row["rule"]: row["closed"] for row in rule_precision(users["district_b"])}["A12"] == 0
