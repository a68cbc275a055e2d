"""Credit rating: scheme validation, scoring with caps, decay and vetoes, inspection plans (pure, no database)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest

from jindu.precursors.credit import (
    DEFAULT_CREDIT_SCHEME,
    CreditFact,
    CreditFactError,
    CreditSchemeError,
    grade_for_score,
    inspection_plan,
    score_enterprise,
    validate_credit_scheme,
)
from jindu.precursors.permit_rules import CHINA_2026_CALENDAR

D = dt.date.fromisoformat
SCHEME = DEFAULT_CREDIT_SCHEME
AS_OF = D("2026-06-30")


def fact(kind: str, date: str = "2026-03-01", evidence: str = "epcis:1", count: int = 1) -> CreditFact:
    return CreditFact(kind=kind, date=D(date), evidence=evidence, count=count)


def dimension(result, key):
    return next(d for d in result.dimensions if d.key == key)


# --- Scheme -------------------------------------------------------------------------------------------------------


def test_default_scheme_is_valid_proposed_and_json_serialisable():
    assert validate_credit_scheme(SCHEME) == []
    assert SCHEME["status"] == "proposed"
    assert sum(d["weight"] for d in SCHEME["dimensions"]) == 100
    assert json.loads(json.dumps(SCHEME)) == SCHEME


def test_validator_catches_a_weight_sum_of_95():
    scheme = copy.deepcopy(SCHEME)
    scheme["dimensions"][0]["weight"] = 15  # static risk 20 → 15: total 95
    problems = validate_credit_scheme(scheme)
    assert problems == ["Dimension weights sum to 95, not 100."]


def test_validator_catches_a_gap_and_an_overlap_in_bands():
    gap = copy.deepcopy(SCHEME)
    gap["grades"][1]["min"] = 76  # B 76–89 leaves 75 without a grade
    assert validate_credit_scheme(gap) == ["Grade bands leave a gap: scores 75–75 have no grade (before B)."]
    top = copy.deepcopy(SCHEME)
    top["grades"][0]["max"] = 99
    assert validate_credit_scheme(top) == ["Grade bands leave a gap: scores 100–100 have no grade."]
    overlap = copy.deepcopy(SCHEME)
    overlap["grades"][2]["max"] = 80  # C 60–80 overlaps B 75–89
    assert any("overlaps" in p for p in validate_credit_scheme(overlap))


def test_validator_catches_rule_problems():
    scheme = copy.deepcopy(SCHEME)
    scheme["deductions"][0]["dimension"] = "marketing"
    scheme["deductions"][1]["points"] = 0
    scheme["deductions"][2]["decay_months"] = -3
    scheme["bonuses"]["rules"][0]["key"] = "cash_trade"  # collides with a veto key
    scheme["vetoes"][0]["months"] = 0
    scheme["supervision"]["B"]["review"] = "whenever"
    del scheme["supervision"]["C"]
    scheme["veto_grade"] = "E"
    problems = "\n".join(validate_credit_scheme(scheme))
    assert "unknown dimension 'marketing'" in problems
    assert "(handles_category_2): points must be a positive number" in problems
    assert "decay_months must be a positive whole number" in problems
    assert "key 'cash_trade' is used twice" in problems
    assert "(unreported_loss_theft): months must be a positive whole number" in problems
    assert "supervision.B: review must be one of" in problems
    assert "grade 'C' has no supervision settings" in problems
    assert "veto_grade 'E' is not one of the grades" in problems


def test_scoring_refuses_an_invalid_scheme():
    scheme = copy.deepcopy(SCHEME)
    scheme["dimensions"][0]["weight"] = 15
    with pytest.raises(CreditSchemeError, match="sum to 95"):
        score_enterprise([], scheme, AS_OF)


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100, "A"), (90, "A"), (89, "B"), (75, "B"), (74, "C"), (60, "C"), (59, "D"), (0, "D")],
)
def test_grade_bands(score, grade):
    assert grade_for_score(score, SCHEME) == grade


# --- Scoring ------------------------------------------------------------------------------------------------------


def test_clean_firm_scores_100_and_gets_a():
    result = score_enterprise([], SCHEME, AS_OF)
    assert (result.score, result.exact_score, result.grade) == (100, Decimal(100), "A")
    assert result.reasons == () and result.veto_reasons == () and not result.vetoed
    assert result.supervision == {
        "inspections_per_year": 1,
        "review": "auto_eligible",
        "smart_filing_allowed": True,
    }
    assert result.scheme_status == "proposed"


def test_late_filings_deduct_per_occurrence():
    facts = [
        fact("late_sales_report", "2026-02-10", "epcis:101"),
        fact("late_sales_report", "2026-04-02", "epcis:102", count=2),
    ]
    result = score_enterprise(facts, SCHEME, AS_OF)
    # 3 late reports × 1 point = 3: records 25 → 22; total 97.
    assert dimension(result, "records").score == Decimal(22)
    assert result.score == 97 and result.grade == "A"
    (reason,) = result.reasons
    assert (reason.rule_key, reason.occurrences, reason.points) == ("late_sales_report", 3, Decimal(-3))
    assert reason.evidence == ("epcis:101", "epcis:102")  # the firm sees which events
    assert reason.label_zh == "销售备案逾期" and reason.dimension == "records"


def test_deductions_cap_at_the_dimension_weight():
    facts = [fact("late_sales_report", count=30), fact("ledger_gap", evidence="inspection:45")]
    result = score_enterprise(facts, SCHEME, AS_OF)
    records = dimension(result, "records")
    # 30 × 1 + 3 = 33 points of deductions, but records weighs 25: the dimension stops at 0, total 75 → B.
    assert (records.deductions_before_cap, records.deducted, records.score) == (
        Decimal(33),
        Decimal(25),
        Decimal(0),
    )
    assert result.score == 75 and result.grade == "B"
    assert result.supervision["inspections_per_year"] == 2 and result.supervision["review"] == "standard"


def test_a_rule_cap_limits_one_rule():
    result = score_enterprise([fact("feed_outage", count=8)], SCHEME, AS_OF)
    # 8 outages × 1 point, capped at max_points 5.
    assert result.reasons[0].points == Decimal(-5) and result.score == 95


def test_exclusive_group_counts_only_the_highest_category():
    facts = [
        fact("handles_category_1", evidence="registry:7"),
        fact("handles_category_2", evidence="registry:7"),
    ]
    result = score_enterprise(facts, SCHEME, AS_OF)
    assert [r.rule_key for r in result.reasons] == ["handles_category_1"]
    assert result.score == 92  # −8 only, not −12


def test_a_penalty_older_than_its_decay_is_ignored():
    penalty = fact("penalty_major", "2024-03-10", "case:7")  # −10, decays after 24 months
    counted = score_enterprise([penalty], SCHEME, D("2026-03-09"))
    assert counted.score == 90 and dimension(counted, "enforcement").score == Decimal(0)
    decayed = score_enterprise([penalty], SCHEME, D("2026-03-10"))
    assert decayed.score == 100 and decayed.reasons == ()
    assert [(i.kind, i.why) for i in decayed.ignored] == [("penalty_major", "decayed")]


def test_future_dated_facts_are_ignored():
    result = score_enterprise([fact("muf_3sigma", "2026-07-01", "balance:9")], SCHEME, AS_OF)
    assert result.score == 100
    assert [(i.evidence, i.why) for i in result.ignored] == [("balance:9", "future")]


def test_a_veto_gives_d_for_12_months_then_no_longer():
    facts = [fact("cash_trade", "2026-01-15", "epcis:555")]
    during = score_enterprise(facts, SCHEME, D("2026-06-01"))
    assert (during.grade, during.grade_by_score, during.score) == ("D", "A", 100)  # score still reported
    (veto,) = during.veto_reasons
    assert (veto.veto_key, veto.effective_until, veto.evidence) == (
        "cash_trade",
        D("2027-01-14"),
        "epcis:555",
    )
    assert (
        during.supervision["review"] == "manual_site_check"
        and during.supervision["inspections_per_year"] == 12
    )
    assert score_enterprise(facts, SCHEME, D("2027-01-14")).grade == "D"  # last day of the 12 months
    after = score_enterprise(facts, SCHEME, D("2027-01-15"))
    assert after.grade == "A" and not after.vetoed


def test_bonuses_are_capped_at_10_and_the_total_at_100():
    bonuses = [
        fact("suspicious_order_confirmed", evidence="warning:3", count=3),  # 3 × 3 = 9
        fact("watchlist_monitoring", evidence="report:4"),  # 2
        fact("api_integration", evidence="integration:1"),  # 2 → 13 before the cap
    ]
    clean = score_enterprise(bonuses, SCHEME, AS_OF)
    assert (clean.bonus_points_before_cap, clean.bonus_points) == (Decimal(13), Decimal(10))
    assert clean.score == 100  # 100 + 10 capped at 100
    deductions = [fact("penalty_major", evidence="case:1"), fact("muf_3sigma", evidence="balance:2")]
    mixed = score_enterprise(bonuses + deductions, SCHEME, AS_OF)
    assert mixed.score == 90 and mixed.grade == "A"  # 100 − 20 + 10
    bonus_reason = next(r for r in mixed.reasons if r.rule_key == "suspicious_order_confirmed")
    assert (bonus_reason.points, bonus_reason.dimension, bonus_reason.evidence) == (
        Decimal(9),
        None,
        ("warning:3",),
    )


def test_score_rounds_half_up():
    scheme = copy.deepcopy(SCHEME)
    scheme["deductions"][
        next(i for i, r in enumerate(scheme["deductions"]) if r["key"] == "late_sales_report")
    ]["points"] = "0.5"
    result = score_enterprise([fact("late_sales_report", count=3)], scheme, AS_OF)
    # 100 − 3 × 0.5 = 98.5 → 99.
    assert (result.exact_score, result.score) == (Decimal("98.5"), 99)


def test_bad_facts_raise():
    with pytest.raises(CreditFactError, match="'late_tax_return'"):
        score_enterprise([fact("late_tax_return")], SCHEME, AS_OF)
    with pytest.raises(CreditFactError, match="source:id"):
        CreditFact(kind="ledger_gap", date=D("2026-03-01"), evidence="stocktake")
    with pytest.raises(CreditFactError, match="count"):
        CreditFact(kind="ledger_gap", date=D("2026-03-01"), evidence="inspection:1", count=0)
    with pytest.raises(CreditFactError, match="not a datetime"):
        CreditFact(kind="ledger_gap", date=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), evidence="inspection:1")


# --- Inspection plan ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("grade", "count"), [("A", 1), ("B", 2), ("C", 4), ("D", 12)])
def test_inspection_plan_count_per_grade(grade, count):
    plan = inspection_plan(grade, SCHEME, 2026)
    assert len(plan) == count
    assert plan == sorted(set(plan)) and all(day.year == 2026 for day in plan)


def test_inspection_plan_dates_are_evenly_spread_and_deterministic():
    # One a year: index ⌊365 / 2⌋ = 182 → 2 July. Two: indexes 91 and 273 → 2 April and 1 October.
    assert inspection_plan("A", SCHEME, 2026) == [D("2026-07-02")]
    assert inspection_plan("B", SCHEME, 2026) == [D("2026-04-02"), D("2026-10-01")]
    # Monthly for D: one in each month.
    assert [day.month for day in inspection_plan("D", SCHEME, 2026)] == list(range(1, 13))
    # With the calendar, 1 October (国庆) moves to Thursday 8 October.
    assert inspection_plan("B", SCHEME, 2026, calendar=CHINA_2026_CALENDAR) == [
        D("2026-04-02"),
        D("2026-10-08"),
    ]
    with pytest.raises(CreditSchemeError, match="Unknown grade 'E'"):
        inspection_plan("E", SCHEME, 2026)
