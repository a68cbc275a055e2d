"""Permit rules: lookup, working days, deadlines, SLA, validity and use checks (pure, no database)."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
from decimal import Decimal

import pytest

from jindu.precursors.permit_rules import (
    CATEGORIES,
    CHINA_2026_CALENDAR,
    DEFAULT_PERMIT_RULES,
    PERMIT_TYPES,
    WEEKENDS_ONLY_CALENDAR,
    CalendarError,
    PermitQuantityError,
    PermitRuleError,
    PermitUseError,
    Validity,
    WorkingCalendar,
    add_working_days,
    annual_report_deadline,
    check_use,
    decision_deadline,
    filing_due_date,
    reporting_deadline,
    rule_for,
    sla_state,
    validate_permit_rules,
    validity,
)

D = dt.date.fromisoformat
RULES = DEFAULT_PERMIT_RULES


def _present_combinations() -> set[tuple[str, int, bool]]:
    """(type, category, drug_class) triples the default data defines; a null drug_class covers both flags."""
    present = set()
    for entry in RULES["rules"]:
        flags = (
            [entry["drug_class"]]
            if entry["drug_class"] is not None
            else ([True, False] if entry["category"] == 1 else [False])
        )
        for flag in flags:
            present.add((entry["permit_type"], entry["category"], flag))
    return present


PRESENT = _present_combinations()
ALL = {(t, c, f) for t, c, f in itertools.product(PERMIT_TYPES, CATEGORIES, (True, False)) if c == 1 or not f}


# --- Data and lookup ----------------------------------------------------------------------------------------------


def test_default_rules_are_valid_and_json_serialisable():
    assert validate_permit_rules(RULES) == []
    assert json.loads(json.dumps(RULES)) == RULES  # storable as a policy row payload


def test_every_permit_type_has_at_least_one_rule():
    assert {t for t, _, _ in PRESENT} == set(PERMIT_TYPES)


@pytest.mark.parametrize(("permit_type", "category", "drug_class"), sorted(PRESENT))
def test_each_combination_in_the_data_resolves(permit_type, category, drug_class):
    rule = rule_for(RULES, permit_type, category, drug_class)
    assert (rule.permit_type, rule.category) == (permit_type, category)
    assert rule.drug_class in (None, drug_class)
    assert rule.is_licence == permit_type.endswith("_licence")
    assert rule.department in ("public_security", "emergency_management", "drug_administration")
    assert rule.level in ("province", "city", "county")


@pytest.mark.parametrize(("permit_type", "category", "drug_class"), sorted(ALL - PRESENT))
def test_each_combination_absent_from_the_data_raises(permit_type, category, drug_class):
    with pytest.raises(PermitRuleError):
        rule_for(RULES, permit_type, category, drug_class)


def test_the_licence_filing_split_follows_the_law():
    # Cat 1 = licences everywhere; Cat 2 = filings except transport; Cat 3 = filings everywhere (§1.3, TL;DR 3).
    assert ("transport_licence", 2, False) in PRESENT and ("transport_filing", 2, False) not in PRESENT
    assert {t for t, c, _ in PRESENT if c == 1} == {
        "production_licence",
        "trade_licence",
        "purchase_licence",
        "transport_licence",
    }
    assert {t for t, c, _ in PRESENT if c == 3} == {
        "production_filing",
        "trade_filing",
        "purchase_filing",
        "transport_filing",
    }


def test_missing_combination_message_names_the_categories_that_exist():
    with pytest.raises(
        PermitRuleError, match=r"no transport_filing \(运输备案证明\) for category 1.*category 3"
    ):
        rule_for(RULES, "transport_filing", 1)


def test_drug_class_outside_category_1_and_unknown_inputs_raise():
    with pytest.raises(PermitRuleError, match="Only category 1"):
        rule_for(RULES, "purchase_filing", 2, drug_class=True)
    with pytest.raises(PermitRuleError, match="Unknown permit type 'import_licence'"):
        rule_for(RULES, "import_licence", 1)
    with pytest.raises(PermitRuleError, match="Unknown precursor category 4"):
        rule_for(RULES, "purchase_filing", 4)


def test_drug_class_selects_the_department():
    assert rule_for(RULES, "purchase_licence", 1, drug_class=True).department == "drug_administration"
    non_drug = rule_for(RULES, "purchase_licence", 1, drug_class=False)
    assert (non_drug.department, non_drug.level) == ("public_security", "province")
    # Transport is the same for both: city-level 公安 of the origin.
    assert rule_for(RULES, "transport_licence", 1, drug_class=True) == rule_for(RULES, "transport_licence", 1)


def test_unverified_parts_are_flagged():
    # Cat 2 transport: issuer and validity are sourced [S2]; the "3日" day kind is not.
    cat2 = rule_for(RULES, "transport_licence", 2)
    assert cat2.unverified == ("decision_limit",) and not cat2.verified
    assert any("working days" in note for note in cat2.notes)
    # Cat 3 trade filing: 3-year term is confirmed [S61]; no decision limit is known.
    cat3_trade = rule_for(RULES, "trade_filing", 3)
    assert "validity" not in cat3_trade.unverified and "decision_limit" in cat3_trade.unverified
    # Cat 1 non-drug production licence: 60 working days sourced [S6]; 3-year term is VERIFY.
    production = rule_for(RULES, "production_licence", 1)
    assert production.unverified == ("validity",)


def test_validator_reports_bad_payloads():
    broken = copy.deepcopy(RULES)
    broken["rules"][0]["decision_limit"] = {"kind": "fortnights", "verified": True}
    broken["rules"][1]["validity"] = {"kind": "months", "months": 0, "verified": True}
    broken["rules"].append(copy.deepcopy(broken["rules"][-1]))  # duplicate Cat 3 transport filing
    broken["rules"].append({**copy.deepcopy(broken["rules"][-1]), "category": 2, "drug_class": True})
    broken["reporting"]["sales_report_days"] = {"1": 5, "2": 30}
    problems = validate_permit_rules(broken)
    assert any("rules[0].decision_limit: kind must be one of" in p for p in problems)
    assert any("rules[1].validity: 'months' needs a positive" in p for p in problems)
    assert any("duplicates another rule for transport_filing category 3" in p for p in problems)
    assert any("drug_class is only meaningful for category 1" in p for p in problems)
    assert any("sales_report_days must give days" in p for p in problems)
    assert validate_permit_rules([]) == ["The permit rules must be a JSON object."]


# --- Working calendar ---------------------------------------------------------------------------------------------


def test_working_days_skip_a_weekend():
    # Friday 13 March 2026 + 1 working day → Monday 16 March.
    assert add_working_days(D("2026-03-13"), 1, CHINA_2026_CALENDAR) == D("2026-03-16")
    assert add_working_days(D("2026-03-13"), 0, CHINA_2026_CALENDAR) == D("2026-03-13")


def test_working_days_skip_a_holiday():
    # Thu 2 April + 2: Fri 3 April (1); Sat 4 – Mon 6 April are 清明节; Tue 7 April (2).
    assert add_working_days(D("2026-04-02"), 2, CHINA_2026_CALENDAR) == D("2026-04-07")
    # Without holidays Mon 6 April would count.
    assert add_working_days(D("2026-04-02"), 2, WEEKENDS_ONLY_CALENDAR) == D("2026-04-06")


def test_makeup_working_saturday_counts():
    # Fri 13 Feb + 1 → Sat 14 Feb (调休 上班); + 2 → after 春节 15–23 Feb, Tue 24 Feb.
    assert add_working_days(D("2026-02-13"), 1, CHINA_2026_CALENDAR) == D("2026-02-14")
    assert add_working_days(D("2026-02-13"), 2, CHINA_2026_CALENDAR) == D("2026-02-24")
    # Sunday 20 September is a make-up day too: Fri 18 Sep + 1 → Sun 20 Sep.
    assert add_working_days(D("2026-09-18"), 1, CHINA_2026_CALENDAR) == D("2026-09-20")


def test_calendar_refuses_years_it_does_not_know():
    with pytest.raises(CalendarError, match="no holiday data for 2027"):
        add_working_days(D("2026-12-30"), 3, CHINA_2026_CALENDAR)
    with pytest.raises(ValueError, match="zero or positive"):
        add_working_days(D("2026-03-13"), -1, CHINA_2026_CALENDAR)
    next_year = WorkingCalendar(
        name="2027 stub", holidays=frozenset({D("2027-01-01")}), covered_years=frozenset({2027})
    )
    both = CHINA_2026_CALENDAR.merged(next_year)
    # Wed 30 Dec 2026 + 3: Thu 31 (1), Fri 1 Jan holiday, Mon 4 Jan (2), Tue 5 Jan (3).
    assert add_working_days(D("2026-12-30"), 3, both) == D("2027-01-05")


def test_calendar_payload_round_trip_and_contradictions():
    assert WorkingCalendar.from_payload(CHINA_2026_CALENDAR.to_payload()) == CHINA_2026_CALENDAR
    with pytest.raises(CalendarError, match="both holiday and make-up"):
        WorkingCalendar(
            holidays=frozenset({D("2026-02-14")}), makeup_working_days=frozenset({D("2026-02-14")})
        )
    with pytest.raises(CalendarError, match="outside its covered years"):
        WorkingCalendar(holidays=frozenset({D("2025-01-01")}), covered_years=frozenset({2026}))
    with pytest.raises(CalendarError, match="Malformed"):
        WorkingCalendar.from_payload({"holidays": ["2026-13-01"]})


def test_china_2026_calendar_matches_the_state_council_notice():
    cal = CHINA_2026_CALENDAR
    assert len(cal.holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7  # 33 days off in the seven breaks
    assert all(cal.is_working_day(d) for d in cal.makeup_working_days)
    assert {d.weekday() for d in cal.makeup_working_days} <= {5, 6}  # make-up days are all weekend days
    assert not cal.is_working_day(D("2026-10-07")) and cal.is_working_day(D("2026-10-08"))


# --- Deadlines and SLA ------------------------------------------------------------------------------------------


def test_decision_deadline_in_working_days_crosses_two_holidays():
    rule = rule_for(RULES, "trade_licence", 1)  # 30 working days [S6]
    # From Tue 15 Sep 2026: 16,17,18 Sep (3), Sun 20 Sep make-up (4), 21–24 Sep (8), 25–27 中秋, 28–30 Sep (11),
    # 1–7 Oct 国庆, 8–9 Oct (13), Sat 10 Oct make-up (14), 12–16 Oct (19), 19–23 Oct (24), 26–30 Oct (29), Mon 2 Nov (30).
    assert decision_deadline(rule, D("2026-09-15"), CHINA_2026_CALENDAR) == D("2026-11-02")


def test_decision_deadline_in_calendar_days_rolls_off_a_holiday():
    rule = rule_for(RULES, "transport_licence", 2)  # 3 days
    # Thu 30 April + 3 = Sun 3 May, inside 劳动节 (1–5 May) → Wed 6 May.
    assert decision_deadline(rule, D("2026-04-30"), CHINA_2026_CALENDAR) == D("2026-05-06")
    no_roll = copy.deepcopy(RULES)
    no_roll["counting"]["roll_past_non_working_days"] = False
    assert decision_deadline(rule, D("2026-04-30"), CHINA_2026_CALENDAR, rules=no_roll) == D("2026-05-03")


def test_same_day_and_no_limit():
    assert decision_deadline(
        rule_for(RULES, "transport_filing", 3), D("2026-03-14"), CHINA_2026_CALENDAR
    ) == D("2026-03-14")
    assert (
        decision_deadline(rule_for(RULES, "production_filing", 2), D("2026-03-14"), CHINA_2026_CALENDAR)
        is None
    )


def test_sla_state_thresholds():
    deadline = D("2026-03-20")  # Friday
    assert sla_state(deadline, D("2026-03-16")) == "on_time"  # 17,18,19,20 left = 4 working days
    assert sla_state(deadline, D("2026-03-18")) == "due_soon"  # 19, 20 left = 2
    assert sla_state(deadline, D("2026-03-20")) == "due_soon"  # deadline day, 0 left
    assert sla_state(deadline, D("2026-03-21")) == "overdue"
    assert sla_state(deadline, D("2026-03-16"), due_soon_working_days=4) == "due_soon"
    assert sla_state(None, D("2026-03-21")) == "on_time"


def test_sla_state_counts_holidays_with_the_calendar():
    # Deadline Tue 7 April, today Thu 2 April: left are Fri 3 and Tue 7 (Mon 6 is 清明节) = 2 → due soon;
    # without holidays Mon 6 also counts = 3 → on time.
    assert sla_state(D("2026-04-07"), D("2026-04-02"), calendar=CHINA_2026_CALENDAR) == "due_soon"
    assert sla_state(D("2026-04-07"), D("2026-04-02")) == "on_time"


def test_reporting_deadlines():
    # Cat 1: 5 days after Tue 3 March = Sun 8 March; with the calendar it moves to Mon 9 March.
    assert reporting_deadline(1, D("2026-03-03")) == D("2026-03-08")
    assert reporting_deadline(1, D("2026-03-03"), calendar=CHINA_2026_CALENDAR) == D("2026-03-09")
    # Cat 2 and 3: 30 days. 3 March + 30 = 2 April; 1 September + 30 = 1 October (国庆) → 8 October.
    assert reporting_deadline(2, D("2026-03-03")) == D("2026-04-02")
    assert reporting_deadline(3, D("2026-09-01"), calendar=CHINA_2026_CALENDAR) == D("2026-10-08")
    with pytest.raises(PermitRuleError):
        reporting_deadline(4, D("2026-03-03"))
    assert annual_report_deadline(2025) == D("2026-03-31")
    assert annual_report_deadline(2025, calendar=CHINA_2026_CALENDAR) == D("2026-03-31")  # a Tuesday


def test_filing_due_dates():
    start = D("2026-03-01")
    assert filing_due_date(rule_for(RULES, "production_filing", 2), start) == D(
        "2026-03-31"
    )  # within 30 days
    assert filing_due_date(rule_for(RULES, "purchase_filing", 3), start) == start  # before buying
    assert filing_due_date(rule_for(RULES, "purchase_licence", 1), start) is None


# --- Validity and use ---------------------------------------------------------------------------------------------


def test_single_use_permit_refuses_a_second_use():
    permit = validity(rule_for(RULES, "transport_licence", 1), D("2026-03-02"))
    assert permit == Validity(valid_from=D("2026-03-02"), valid_until=None, single_use=True)
    assert check_use(permit, D("2026-03-05"), 0, Decimal("500"), Decimal("0"), Decimal("500")) == Decimal("0")
    with pytest.raises(PermitUseError) as refused:
        check_use(permit, D("2026-03-06"), 1, Decimal("500"), Decimal("0"), Decimal("1"))
    assert refused.value.code == "already_used"


def test_cat2_transport_is_three_months_then_twelve_after_six_months_of_safe_transport():
    rule = rule_for(RULES, "transport_licence", 2)
    issued = D("2026-01-15")
    assert validity(rule, issued).valid_until == D("2026-04-15")
    assert validity(rule, issued, safe_transport_months=5).valid_until == D("2026-04-15")
    upgraded = validity(rule, issued, safe_transport_months=6)
    assert upgraded.valid_until == D("2027-01-15") and not upgraded.single_use
    # Month-end clamp: 30 November + 3 months has no 30 February → 28 February.
    assert validity(rule, D("2026-11-30")).valid_until == D("2027-02-28")
    with pytest.raises(ValueError):
        validity(rule, issued, safe_transport_months=-1)


def test_years_validity():
    assert validity(rule_for(RULES, "trade_filing", 3), D("2026-02-28")).valid_until == D("2029-02-28")


def test_use_outside_the_validity_window():
    permit = validity(rule_for(RULES, "transport_licence", 2), D("2026-01-15"))  # until 15 April
    assert (
        check_use(permit, D("2026-04-15"), 3, None, Decimal("0"), Decimal("10")) is None
    )  # last day, no cap
    with pytest.raises(PermitUseError) as early:
        check_use(permit, D("2026-01-14"), 0, None, Decimal("0"), Decimal("10"))
    assert early.value.code == "not_yet_valid" and "2026-01-15" in str(early.value)
    with pytest.raises(PermitUseError) as late:
        check_use(permit, D("2026-04-16"), 0, None, Decimal("0"), Decimal("10"))
    assert late.value.code == "expired" and "2026-04-15" in str(late.value)


def test_over_cap_refusal_quotes_the_numbers():
    permit = validity(rule_for(RULES, "transport_licence", 2), D("2026-01-15"))
    # Cap 1000 kg, used 750.5 kg: 249.5 kg remain; asking 300 kg is 50.5 kg over.
    with pytest.raises(PermitUseError) as refused:
        check_use(permit, D("2026-02-01"), 2, Decimal("1000"), Decimal("750.5"), Decimal("300"))
    error = refused.value
    assert error.code == "over_cap"
    assert error.details["available_kg"] == Decimal("249.5")
    for number in ("300", "249.5", "1000", "750.5", "50.5"):
        assert number in str(error)
    assert check_use(
        permit, D("2026-02-01"), 2, Decimal("1000"), Decimal("750.5"), Decimal("249.5")
    ) == Decimal("0.0")


def test_quantities_must_be_decimal():
    permit = validity(rule_for(RULES, "transport_licence", 2), D("2026-01-15"))
    with pytest.raises(PermitQuantityError, match="Decimal"):
        check_use(permit, D("2026-02-01"), 0, Decimal("1000"), Decimal("0"), 10.5)  # type: ignore[arg-type]
    with pytest.raises(PermitQuantityError, match="non-negative"):
        check_use(permit, D("2026-02-01"), 0, Decimal("1000"), Decimal("0"), Decimal("-1"))
