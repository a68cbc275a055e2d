"""Enterprise anti-drug credit rating (企业禁毒信用等级评定) for precursor firms: score, grade, supervision.

The scheme is DATA: ``DEFAULT_CREDIT_SCHEME`` is the PROPOSED scheme of precursors.md §5.2 (no published national or
municipal table exists, §5.1). The 禁毒办 must approve the weights and points before they are used for real grades;
the lead stores the approved version as a ``PolicyVersion`` row with ``"status": "approved"``. ``validate_credit_scheme``
lists the problems of a payload before it is published.

Scoring (``score_enterprise``), as a pure function of dated facts:

- Score = Σ over dimensions of (weight − deductions), + bonuses, capped at ``max_score`` (100).
- A deduction rule takes ``points`` per occurrence (``CreditFact.count``), at most ``max_points`` for the rule when
  set; the deductions of a dimension never exceed its weight (a dimension cannot go below 0). Within an
  ``exclusive_group`` (e.g. the highest category handled) only the largest deduction counts.
- A fact counts from its date until ``decay_months`` later (exclusive: a 24-month penalty of 10 March 2024 stops
  counting on 10 March 2026); rules without ``decay_months`` never decay. Facts dated after ``as_of`` are ignored.
  Ignored facts are returned with the reason so the firm's detail view can show them.
- Bonuses add up to the scheme's bonus cap (+10), and the total never exceeds ``max_score``.
- A veto fact (unreported theft, cash trade, …) within its months gives the veto grade (D) whatever the score; the
  score is still reported.
- Rounding: points may be whole numbers or decimals; the exact total is a ``Decimal`` (``exact_score``) and
  ``score`` is that total rounded half-up to a whole number. Grades are read from ``score`` with whole-number bands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from jindu.precursors.permit_rules import WorkingCalendar, add_months


class CreditSchemeError(ValueError):
    """A credit scheme payload that ``validate_credit_scheme`` rejects; the message lists the problems."""


class CreditFactError(ValueError):
    """A credit fact that cannot be scored: unknown kind, bad count, missing evidence reference or date."""


REVIEW_MODES: Final = ("auto_eligible", "standard", "manual", "manual_site_check")
SCHEME_STATUSES: Final = ("proposed", "approved")

# --- Default scheme (PROPOSED, precursors.md §5.2) ------------------------------------------------------------------

DEFAULT_CREDIT_SCHEME: Final[dict[str, Any]] = {
    "schema": "jindu.precursors.credit_scheme/1",
    # PROPOSED: our design modelled on SAMR's food-producer risk grading [S46, S47]; the office must approve it.
    "status": "proposed",
    "description": (
        "PROPOSED default of precursors.md §5.2: 100 points over six dimensions, deductions per occurrence, "
        "bonuses up to +10, veto items giving grade D for 12 months. All points are proposals for the 禁毒办."
    ),
    "max_score": 100,
    "dimensions": [
        {"key": "static_risk", "label_zh": "静态风险", "label_en": "Static risk", "weight": 20},
        {
            "key": "licensing",
            "label_zh": "许可与内部管理",
            "label_en": "Licensing and management",
            "weight": 15,
        },
        {"key": "records", "label_zh": "台账与报告", "label_en": "Records and reporting", "weight": 25},
        {"key": "flow_balance", "label_zh": "流向与物料平衡", "label_en": "Flow and balance", "weight": 25},
        {"key": "storage", "label_zh": "储存安全", "label_en": "Storage security", "weight": 5},
        {"key": "enforcement", "label_zh": "执法记录", "label_en": "Enforcement history", "weight": 10},
    ],
    "deductions": [
        # Static risk (registry facts; they last as long as the registry reports them, hence no decay).
        {
            "key": "handles_category_1",
            "dimension": "static_risk",
            "points": 8,
            "exclusive_group": "highest_category",
            "label_zh": "经营第一类易制毒化学品",
            "label_en": "Handles category 1 substances",
        },
        {
            "key": "handles_category_2",
            "dimension": "static_risk",
            "points": 4,
            "exclusive_group": "highest_category",
            "label_zh": "经营第二类易制毒化学品",
            "label_en": "Handles category 2 substances",
        },
        {
            "key": "handles_drug_class",
            "dimension": "static_risk",
            "points": 2,
            "label_zh": "涉及药品类易制毒化学品",
            "label_en": "Handles drug-class (药品类) substances",
        },
        {
            "key": "high_volume_band",
            "dimension": "static_risk",
            "points": 3,
            "label_zh": "年经营量处于高档",
            "label_en": "High annual volume band",
        },
        {
            "key": "exporter",
            "dimension": "static_risk",
            "points": 3,
            "label_zh": "从事出口",
            "label_en": "Exports precursors",
        },
        {
            "key": "key_area_site",
            "dimension": "static_risk",
            "points": 4,
            "label_zh": "场所位于重点地区",
            "label_en": "Site in a key area (重点地区)",
        },
        # Licensing and management.
        {
            "key": "licence_invalid",
            "dimension": "licensing",
            "points": 10,
            "decay_months": 12,
            "label_zh": "无有效许可证或备案证明从事活动",
            "label_en": "Activity without a valid licence or filing",
        },
        {
            "key": "no_responsible_person",
            "dimension": "licensing",
            "points": 3,
            "decay_months": 12,
            "label_zh": "未明确易制毒管理负责人",
            "label_en": "No responsible person appointed",
        },
        {
            "key": "no_internal_rules",
            "dimension": "licensing",
            "points": 3,
            "decay_months": 12,
            "label_zh": "无书面内部管理制度",
            "label_en": "No written internal management rules",
        },
        {
            "key": "training_missed",
            "dimension": "licensing",
            "points": 2,
            "decay_months": 12,
            "label_zh": "未开展年度从业人员培训",
            "label_en": "Yearly staff training not done",
        },
        {
            "key": "licence_change_not_filed",
            "dimension": "licensing",
            "points": 2,
            "decay_months": 12,
            "label_zh": "变更事项未按时重新办理",
            "label_en": "Change not re-filed within 30 working days",
        },
        # Records and reporting.
        {
            "key": "late_sales_report",
            "dimension": "records",
            "points": 1,
            "decay_months": 12,
            "label_zh": "销售备案逾期",
            "label_en": "Late sales report (5/30-day 销售备案)",
        },
        {
            "key": "missing_sales_report",
            "dimension": "records",
            "points": 2,
            "decay_months": 12,
            "label_zh": "销售情况未备案",
            "label_en": "Sale never reported",
        },
        {
            "key": "late_annual_report",
            "dimension": "records",
            "points": 3,
            "decay_months": 12,
            "label_zh": "年度报告逾期",
            "label_en": "Annual report after 31 March",
        },
        {
            "key": "ledger_gap",
            "dimension": "records",
            "points": 3,
            "decay_months": 12,
            "label_zh": "台账与盘点不符",
            "label_en": "Ledger incomplete against a stocktake",
        },
        {
            "key": "feed_outage",
            "dimension": "records",
            "points": 1,
            "max_points": 5,
            "decay_months": 6,
            "label_zh": "电子台账数据中断",
            "label_en": "Electronic ledger (EPCIS) feed outage",
        },
        {
            "key": "high_correction_rate",
            "dimension": "records",
            "points": 2,
            "decay_months": 12,
            "label_zh": "台账更正率偏高",
            "label_en": "High ledger correction rate",
        },
        # Flow and balance (§4).
        {
            "key": "muf_2sigma",
            "dimension": "flow_balance",
            "points": 5,
            "decay_months": 12,
            "label_zh": "物料平衡差额超过2σ",
            "label_en": "Material unaccounted for beyond 2σ",
        },
        {
            "key": "muf_3sigma",
            "dimension": "flow_balance",
            "points": 10,
            "decay_months": 12,
            "label_zh": "物料平衡差额超过3σ",
            "label_en": "Material unaccounted for beyond 3σ",
        },
        {
            "key": "shipper_receiver_difference",
            "dimension": "flow_balance",
            "points": 3,
            "decay_months": 12,
            "label_zh": "发货与收货数量不符",
            "label_en": "Shipper/receiver difference beyond allowance",
        },
        {
            "key": "permit_overuse",
            "dimension": "flow_balance",
            "points": 5,
            "decay_months": 12,
            "label_zh": "超许可数量或范围",
            "label_en": "Permit over-use",
        },
        {
            "key": "buyer_not_verified",
            "dimension": "flow_balance",
            "points": 3,
            "decay_months": 12,
            "label_zh": "销售时未查验购买方证明",
            "label_en": "Sale without checking the buyer's permit",
        },
        # Storage security (inspection checklist).
        {
            "key": "storage_item_failed",
            "dimension": "storage",
            "points": 1,
            "decay_months": 12,
            "label_zh": "储存安全检查项不合格",
            "label_en": "Storage checklist item failed (双人双锁, video, anti-theft)",
        },
        # Enforcement history (case module).
        {
            "key": "finding_closed_late",
            "dimension": "enforcement",
            "points": 2,
            "decay_months": 12,
            "label_zh": "整改逾期",
            "label_en": "Inspection finding closed late",
        },
        {
            "key": "penalty_minor",
            "dimension": "enforcement",
            "points": 5,
            "decay_months": 24,
            "label_zh": "一般行政处罚",
            "label_en": "Administrative penalty (minor)",
        },
        {
            "key": "penalty_major",
            "dimension": "enforcement",
            "points": 10,
            "decay_months": 24,
            "label_zh": "较重行政处罚",
            "label_en": "Administrative penalty (serious)",
        },
    ],
    "bonuses": {
        "cap": 10,
        "rules": [
            {
                "key": "suspicious_order_confirmed",
                "points": 3,
                "decay_months": 24,
                "label_zh": "报告可疑订单经查属实",
                "label_en": "Reported a suspicious order that was confirmed",
            },
            {
                "key": "watchlist_monitoring",
                "points": 2,
                "decay_months": 12,
                "label_zh": "主动监测非列管化学品",
                "label_en": "Voluntary monitoring of watch-list substances",
            },
            {
                "key": "publicity_participation",
                "points": 1,
                "max_points": 3,
                "decay_months": 12,
                "label_zh": "参与禁毒宣传",
                "label_en": "Took part in 禁毒宣传",
            },
            {
                "key": "api_integration",
                "points": 2,
                "label_zh": "电子台账系统对接",
                "label_en": "Ledger system integrated through the API",
            },
        ],
    },
    "vetoes": [
        {
            "key": "unreported_loss_theft",
            "months": 12,
            "label_zh": "丢失、被盗未报告",
            "label_en": "Loss or theft not reported",
        },
        {
            "key": "sale_to_unlicensed_buyer",
            "months": 12,
            "label_zh": "向无证或未备案单位销售",
            "label_en": "Sale to an unlicensed or unfiled buyer",
        },
        {"key": "cash_trade", "months": 12, "label_zh": "现金或实物交易", "label_en": "Cash or barter trade"},
        {"key": "forged_ledger", "months": 12, "label_zh": "伪造台账", "label_en": "Forged ledger"},
        {
            "key": "diversion_criminal_case",
            "months": 12,
            "label_zh": "涉制毒物品刑事案件",
            "label_en": "Diversion-related criminal case",
        },
        {
            "key": "refused_inspection",
            "months": 12,
            "label_zh": "拒绝、阻碍监督检查",
            "label_en": "Refused or obstructed an inspection",
        },
    ],
    "veto_grade": "D",
    "grades": [
        {"grade": "A", "min": 90, "max": 100, "label_zh": "A级（示范）", "label_en": "A (model)"},
        {"grade": "B", "min": 75, "max": 89, "label_zh": "B级", "label_en": "B"},
        {"grade": "C", "min": 60, "max": 74, "label_zh": "C级", "label_en": "C"},
        {"grade": "D", "min": 0, "max": 59, "label_zh": "D级", "label_en": "D"},
    ],
    "supervision": {
        "A": {"inspections_per_year": 1, "review": "auto_eligible", "smart_filing_allowed": True},
        "B": {"inspections_per_year": 2, "review": "standard", "smart_filing_allowed": False},
        "C": {"inspections_per_year": 4, "review": "manual", "smart_filing_allowed": False},
        "D": {"inspections_per_year": 12, "review": "manual_site_check", "smart_filing_allowed": False},
    },
}


# --- Validation ---------------------------------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    """A JSON number (int, float, or numeric string) as Decimal; None when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_credit_scheme(payload: Any) -> list[str]:
    """Problems with a credit scheme payload; an empty list means it can be published.

    Checks: status; weights positive and summing to ``max_score``; rules referencing existing dimensions; points,
    caps and months positive; keys unique across deductions, bonuses and vetoes (a fact kind names exactly one);
    grade bands covering 0..``max_score`` in whole numbers without gaps or overlaps; the veto grade being a band;
    supervision for every grade with a known review mode.
    """
    if not isinstance(payload, Mapping):
        return ["The credit scheme must be a JSON object."]
    problems: list[str] = []
    if payload.get("status") not in SCHEME_STATUSES:
        problems.append(f"status must be one of {SCHEME_STATUSES}.")
    max_score: int = 100
    if _is_positive_int(payload.get("max_score")):
        max_score = payload["max_score"]
    else:
        problems.append("max_score must be a positive whole number.")
    dimension_keys = _validate_dimensions(payload.get("dimensions"), max_score, problems)
    seen_keys: set[str] = set()
    deductions = payload.get("deductions")
    if not isinstance(deductions, list):
        problems.append("deductions must be a list.")
        deductions = []
    for index, rule in enumerate(deductions):
        where = f"deductions[{index}]"
        if _validate_rule(where, rule, seen_keys, problems) and rule.get("dimension") not in dimension_keys:
            problems.append(f"{where} ({rule.get('key')}): unknown dimension {rule.get('dimension')!r}.")
    bonuses = payload.get("bonuses")
    if not isinstance(bonuses, Mapping) or not isinstance(bonuses.get("rules"), list):
        problems.append("bonuses must be an object with a cap and a list of rules.")
    else:
        cap = _number(bonuses.get("cap"))
        if cap is None or cap < 0:
            problems.append("bonuses.cap must be a number ≥ 0.")
        for index, rule in enumerate(bonuses["rules"]):
            _validate_rule(f"bonuses.rules[{index}]", rule, seen_keys, problems)
    vetoes = payload.get("vetoes")
    if not isinstance(vetoes, list):
        problems.append("vetoes must be a list.")
        vetoes = []
    for index, veto in enumerate(vetoes):
        where = f"vetoes[{index}]"
        if not isinstance(veto, Mapping) or not isinstance(veto.get("key"), str) or not veto.get("key"):
            problems.append(f"{where}: needs a key.")
            continue
        _check_unique_key(where, veto["key"], seen_keys, problems)
        if not _is_positive_int(veto.get("months")):
            problems.append(f"{where} ({veto['key']}): months must be a positive whole number.")
        if not veto.get("label_zh") or not veto.get("label_en"):
            problems.append(f"{where} ({veto['key']}): label_zh and label_en are required.")
    grades = _validate_grades(payload.get("grades"), max_score, problems)
    if payload.get("veto_grade") not in grades:
        problems.append(
            f"veto_grade {payload.get('veto_grade')!r} is not one of the grades {sorted(grades)}."
        )
    _validate_supervision(payload.get("supervision"), grades, problems)
    return problems


def _validate_dimensions(dimensions: Any, max_score: int, problems: list[str]) -> set[str]:
    if not isinstance(dimensions, list) or not dimensions:
        problems.append("dimensions must be a non-empty list.")
        return set()
    keys: set[str] = set()
    total = Decimal(0)
    for index, dimension in enumerate(dimensions):
        where = f"dimensions[{index}]"
        if (
            not isinstance(dimension, Mapping)
            or not isinstance(dimension.get("key"), str)
            or not dimension["key"]
        ):
            problems.append(f"{where}: needs a key.")
            continue
        if dimension["key"] in keys:
            problems.append(f"{where}: duplicate dimension key {dimension['key']!r}.")
        keys.add(dimension["key"])
        weight = _number(dimension.get("weight"))
        if weight is None or weight <= 0:
            problems.append(f"{where} ({dimension['key']}): weight must be a positive number.")
        else:
            total += weight
        if not dimension.get("label_zh") or not dimension.get("label_en"):
            problems.append(f"{where} ({dimension['key']}): label_zh and label_en are required.")
    if total != max_score:
        problems.append(f"Dimension weights sum to {total}, not {max_score}.")
    return keys


def _check_unique_key(where: str, key: str, seen_keys: set[str], problems: list[str]) -> None:
    if key in seen_keys:
        problems.append(
            f"{where}: key {key!r} is used twice (deduction, bonus and veto keys must be unique)."
        )
    seen_keys.add(key)


def _validate_rule(where: str, rule: Any, seen_keys: set[str], problems: list[str]) -> bool:
    """Common checks for deduction and bonus rules; False when the rule is too malformed to check further."""
    if not isinstance(rule, Mapping) or not isinstance(rule.get("key"), str) or not rule.get("key"):
        problems.append(f"{where}: needs a key.")
        return False
    key = rule["key"]
    _check_unique_key(where, key, seen_keys, problems)
    points = _number(rule.get("points"))
    if points is None or points <= 0:
        problems.append(f"{where} ({key}): points must be a positive number.")
    if "max_points" in rule:
        max_points = _number(rule["max_points"])
        if max_points is None or max_points <= 0:
            problems.append(f"{where} ({key}): max_points must be a positive number.")
    if rule.get("decay_months") is not None and not _is_positive_int(rule["decay_months"]):
        problems.append(f"{where} ({key}): decay_months must be a positive whole number or absent.")
    if not rule.get("label_zh") or not rule.get("label_en"):
        problems.append(f"{where} ({key}): label_zh and label_en are required.")
    return True


def _validate_grades(grades: Any, max_score: int, problems: list[str]) -> set[str]:
    if not isinstance(grades, list) or not grades:
        problems.append("grades must be a non-empty list.")
        return set()
    names: set[str] = set()
    bands: list[tuple[int, int, str]] = []
    for index, band in enumerate(grades):
        where = f"grades[{index}]"
        if not isinstance(band, Mapping) or not isinstance(band.get("grade"), str) or not band["grade"]:
            problems.append(f"{where}: needs a grade name.")
            continue
        name = band["grade"]
        if name in names:
            problems.append(f"{where}: duplicate grade {name!r}.")
        names.add(name)
        low: Any = band.get("min")
        high: Any = band.get("max")
        if not (_is_whole(low) and _is_whole(high)) or low > high:
            problems.append(f"{where} ({name}): min and max must be whole numbers with min ≤ max.")
            continue
        bands.append((low, high, name))
    bands.sort()
    expected_low = 0
    for low, high, name in bands:
        if low > expected_low:
            problems.append(
                f"Grade bands leave a gap: scores {expected_low}–{low - 1} have no grade (before {name})."
            )
        elif low < expected_low:
            problems.append(f"Grade band {name} ({low}–{high}) overlaps the band below it.")
        expected_low = max(expected_low, high + 1)
    if bands and expected_low <= max_score:
        problems.append(f"Grade bands leave a gap: scores {expected_low}–{max_score} have no grade.")
    if bands and bands[-1][1] > max_score:
        problems.append(f"Grade bands go above max_score {max_score}.")
    return names


def _validate_supervision(supervision: Any, grades: set[str], problems: list[str]) -> None:
    if not isinstance(supervision, Mapping):
        problems.append("supervision must be an object keyed by grade.")
        return
    for grade in sorted(grades - set(supervision)):
        problems.append(f"supervision: grade {grade!r} has no supervision settings.")
    for grade, settings in supervision.items():
        where = f"supervision.{grade}"
        if grade not in grades:
            problems.append(f"{where}: not a grade of the scheme.")
        if not isinstance(settings, Mapping):
            problems.append(f"{where}: must be an object.")
            continue
        count = settings.get("inspections_per_year")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0 or count > 366:
            problems.append(f"{where}: inspections_per_year must be a whole number from 0 to 366.")
        if settings.get("review") not in REVIEW_MODES:
            problems.append(f"{where}: review must be one of {REVIEW_MODES}.")
        if not isinstance(settings.get("smart_filing_allowed"), bool):
            problems.append(f"{where}: smart_filing_allowed must be true or false.")


def _require_valid(scheme: Mapping[str, Any]) -> None:
    problems = validate_credit_scheme(scheme)
    if problems:
        raise CreditSchemeError("Invalid credit scheme: " + "; ".join(problems))


# --- Facts and results --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditFact:
    """One dated fact about a firm that a deduction, bonus or veto rule scores.

    ``kind`` is a rule or veto key of the scheme; ``evidence`` is a "source:id" reference to the record that proves
    it (e.g. "epcis:123", "inspection:45", "case:7"), shown to the firm with the deduction; ``count`` is the number
    of occurrences this fact stands for (e.g. 3 late filings in one month).
    """

    kind: str
    date: dt.date
    evidence: str
    count: int = 1
    note: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.date, dt.datetime) or not isinstance(self.date, dt.date):
            raise CreditFactError(
                f"Fact {self.kind!r}: date must be a date (not a datetime), got {self.date!r}."
            )
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise CreditFactError(
                f"Fact {self.kind!r}: count must be a whole number ≥ 1, got {self.count!r}."
            )
        source, _, reference = (
            self.evidence.partition(":") if isinstance(self.evidence, str) else ("", "", "")
        )
        if not source or not reference:
            raise CreditFactError(
                f"Fact {self.kind!r}: evidence must be a 'source:id' reference such as 'epcis:123', got {self.evidence!r}."
            )


@dataclass(frozen=True)
class Reason:
    """One rule's contribution to the score, for the firm's detail view.

    ``points`` is signed (negative for deductions, positive for bonuses) after the rule's own ``max_points`` cap; the
    dimension and bonus caps are shown on ``DimensionScore`` and ``CreditScore.bonus_points``.
    """

    rule_key: str
    label_zh: str
    label_en: str
    dimension: str | None  # None for bonuses
    occurrences: int
    points: Decimal
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class VetoReason:
    """An active veto item: which, when it happened, until when it forces the veto grade, and the evidence."""

    veto_key: str
    label_zh: str
    label_en: str
    occurred_on: dt.date
    effective_until: dt.date  # last day the veto applies
    evidence: str


@dataclass(frozen=True)
class IgnoredFact:
    """A fact that did not count on ``as_of``: ``why`` is "future" (dated after as_of) or "decayed"."""

    kind: str
    date: dt.date
    evidence: str
    why: str


@dataclass(frozen=True)
class DimensionScore:
    """Score of one dimension: ``weight`` − ``deducted``, where ``deducted`` = min(weight, ``deductions_before_cap``)."""

    key: str
    label_zh: str
    label_en: str
    weight: Decimal
    deductions_before_cap: Decimal
    deducted: Decimal
    score: Decimal


@dataclass(frozen=True)
class CreditScore:
    """A firm's credit result on ``as_of``.

    ``score`` is ``exact_score`` rounded half-up to a whole number; ``grade`` is the veto grade while a veto is
    active, else the band of ``score`` (``grade_by_score``). ``supervision`` is the scheme's settings for ``grade``.
    """

    as_of: dt.date
    scheme_status: str
    score: int
    exact_score: Decimal
    grade: str
    grade_by_score: str
    dimensions: tuple[DimensionScore, ...]
    bonus_points: Decimal
    bonus_points_before_cap: Decimal
    reasons: tuple[Reason, ...]
    veto_reasons: tuple[VetoReason, ...]
    supervision: dict[str, Any]
    ignored: tuple[IgnoredFact, ...] = field(default=())

    @property
    def vetoed(self) -> bool:
        """True when a veto item forces the grade."""
        return bool(self.veto_reasons)


# --- Scoring ------------------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    occurrences: int = 0
    evidence: list[str] = field(default_factory=list)


def _fact_window_end(fact_date: dt.date, months: int | None) -> dt.date | None:
    """First day the fact no longer counts (None: it never stops counting)."""
    return add_months(fact_date, months) if months else None


def _rule_points(rule: Mapping[str, Any], occurrences: int) -> Decimal:
    points = Decimal(str(rule["points"])) * occurrences
    if "max_points" in rule:
        points = min(points, Decimal(str(rule["max_points"])))
    return points


def score_enterprise(facts: Sequence[CreditFact], scheme: Mapping[str, Any], as_of: dt.date) -> CreditScore:
    """Score a firm on ``as_of`` from its dated facts under ``scheme`` (see the module docstring for the rules).

    Raises ``CreditFactError`` naming the kind for facts whose kind is no rule or veto of the scheme, and
    ``CreditSchemeError`` for an invalid scheme.
    """
    _require_valid(scheme)
    deduction_rules = {rule["key"]: rule for rule in scheme["deductions"]}
    bonus_rules = {rule["key"]: rule for rule in scheme["bonuses"]["rules"]}
    veto_rules = {veto["key"]: veto for veto in scheme["vetoes"]}

    tallies: dict[str, _Tally] = {}
    vetoes: list[VetoReason] = []
    ignored: list[IgnoredFact] = []
    for fact in sorted(facts, key=lambda f: (f.date, f.kind, f.evidence)):
        if fact.kind in veto_rules:
            months = int(veto_rules[fact.kind]["months"])
        elif fact.kind in deduction_rules:
            months = deduction_rules[fact.kind].get("decay_months")
        elif fact.kind in bonus_rules:
            months = bonus_rules[fact.kind].get("decay_months")
        else:
            raise CreditFactError(
                f"Unknown credit fact kind {fact.kind!r}: it is no deduction, bonus or veto of the scheme."
            )
        if fact.date > as_of:
            ignored.append(IgnoredFact(fact.kind, fact.date, fact.evidence, "future"))
            continue
        window_end = _fact_window_end(fact.date, months)
        if window_end is not None and as_of >= window_end:
            ignored.append(IgnoredFact(fact.kind, fact.date, fact.evidence, "decayed"))
            continue
        if fact.kind in veto_rules:
            veto = veto_rules[fact.kind]
            assert window_end is not None  # vetoes always have months (validated)
            vetoes.append(
                VetoReason(
                    veto_key=fact.kind,
                    label_zh=veto["label_zh"],
                    label_en=veto["label_en"],
                    occurred_on=fact.date,
                    effective_until=window_end - dt.timedelta(days=1),
                    evidence=fact.evidence,
                )
            )
            continue
        tally = tallies.setdefault(fact.kind, _Tally())
        tally.occurrences += fact.count
        tally.evidence.append(fact.evidence)

    reasons: list[Reason] = []
    # Exclusive groups: only the largest deduction of a group counts (e.g. the highest category handled).
    best_in_group: dict[str, tuple[Decimal, str]] = {}
    for key, tally in tallies.items():
        rule = deduction_rules.get(key)
        if rule is not None and rule.get("exclusive_group"):
            points = _rule_points(rule, tally.occurrences)
            group = rule["exclusive_group"]
            if group not in best_in_group or points > best_in_group[group][0]:
                best_in_group[group] = (points, key)
    counted_in_group = {key for _, key in best_in_group.values()}

    deductions_by_dimension: dict[str, Decimal] = {d["key"]: Decimal(0) for d in scheme["dimensions"]}
    bonus_before_cap = Decimal(0)
    for rule in scheme["deductions"]:  # scheme order, so reasons read in the order the office defined
        deduction_tally = tallies.get(rule["key"])
        if deduction_tally is None or (rule.get("exclusive_group") and rule["key"] not in counted_in_group):
            continue
        points = _rule_points(rule, deduction_tally.occurrences)
        deductions_by_dimension[rule["dimension"]] += points
        reasons.append(
            Reason(
                rule["key"],
                rule["label_zh"],
                rule["label_en"],
                rule["dimension"],
                deduction_tally.occurrences,
                -points,
                tuple(deduction_tally.evidence),
            )
        )
    for rule in scheme["bonuses"]["rules"]:
        bonus_tally = tallies.get(rule["key"])
        if bonus_tally is None:
            continue
        points = _rule_points(rule, bonus_tally.occurrences)
        bonus_before_cap += points
        reasons.append(
            Reason(
                rule["key"],
                rule["label_zh"],
                rule["label_en"],
                None,
                bonus_tally.occurrences,
                points,
                tuple(bonus_tally.evidence),
            )
        )

    dimensions: list[DimensionScore] = []
    for dimension in scheme["dimensions"]:
        weight = Decimal(str(dimension["weight"]))
        raw = deductions_by_dimension[dimension["key"]]
        deducted = min(weight, raw)
        dimensions.append(
            DimensionScore(
                dimension["key"],
                dimension["label_zh"],
                dimension["label_en"],
                weight,
                raw,
                deducted,
                weight - deducted,
            )
        )
    bonus = min(bonus_before_cap, Decimal(str(scheme["bonuses"]["cap"])))
    max_score = Decimal(scheme["max_score"])
    exact = min(max_score, sum((d.score for d in dimensions), Decimal(0)) + bonus)
    score = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
    grade_by_score = grade_for_score(score, scheme)
    grade = scheme["veto_grade"] if vetoes else grade_by_score
    return CreditScore(
        as_of=as_of,
        scheme_status=scheme["status"],
        score=score,
        exact_score=exact,
        grade=grade,
        grade_by_score=grade_by_score,
        dimensions=tuple(dimensions),
        bonus_points=bonus,
        bonus_points_before_cap=bonus_before_cap,
        reasons=tuple(reasons),
        veto_reasons=tuple(vetoes),
        supervision=dict(scheme["supervision"][grade]),
        ignored=tuple(ignored),
    )


def grade_for_score(score: int, scheme: Mapping[str, Any]) -> str:
    """The grade whose whole-number band [min, max] contains ``score``."""
    for band in scheme["grades"]:
        if band["min"] <= score <= band["max"]:
            return str(band["grade"])
    raise CreditSchemeError(f"No grade band contains the score {score}.")


# --- Inspection plan --------------------------------------------------------------------------------------------


def inspection_plan(
    grade: str,
    scheme: Mapping[str, Any],
    year: int,
    *,
    calendar: WorkingCalendar | None = None,
) -> list[dt.date]:
    """Dates of the grade's inspections in ``year``, spread evenly and deterministically.

    The year's days are cut into ``n = inspections_per_year`` equal slices and each inspection falls on the middle
    day of its slice: day index ⌊(2k + 1) × days_in_year / (2n)⌋ from 1 January, k = 0..n−1. One inspection a year
    falls on 2 July (index 182 of 365), two on 2 April and 1 October, four near the middle of each quarter, twelve
    near the middle of each month. With a ``calendar``, a date on a rest day moves to the next working day (or back
    to the previous one if none is left in the year). The actual A-grade inspection is "random" in §5.2; the lead
    may shuffle within the slice, but the slice is what makes the plan explainable.
    """
    supervision = scheme.get("supervision", {})
    if grade not in supervision:
        raise CreditSchemeError(f"Unknown grade {grade!r}; the scheme grades are {sorted(supervision)}.")
    count = int(supervision[grade]["inspections_per_year"])
    first_day = dt.date(year, 1, 1)
    days_in_year = (dt.date(year + 1, 1, 1) - first_day).days
    if count > days_in_year:
        raise CreditSchemeError(f"{count} inspections do not fit in the {days_in_year} days of {year}.")
    plan: list[dt.date] = []
    for k in range(count):
        day = first_day + dt.timedelta(days=(2 * k + 1) * days_in_year // (2 * count))
        if calendar is not None:
            day = _nearest_working_day_in_year(day, calendar)
        plan.append(day)
    return plan


def _nearest_working_day_in_year(day: dt.date, calendar: WorkingCalendar) -> dt.date:
    forward = day
    while forward.year == day.year:
        if calendar.is_working_day(forward):
            return forward
        forward += dt.timedelta(days=1)
    backward = day
    while backward.year == day.year:
        if calendar.is_working_day(backward):
            return backward
        backward -= dt.timedelta(days=1)
    raise CreditSchemeError(f"The calendar has no working day in {day.year}.")
