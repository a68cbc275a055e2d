"""Permit and filing rules (许可 / 备案) for precursor chemicals: who decides, how fast, how long a permit lasts.

Everything that the law or local practice fixes is DATA in ``DEFAULT_PERMIT_RULES`` (precursors.md §1.3 and §1.4), so
the lead can store it as a versioned policy row (``PolicyVersion``) and a province can override it; the functions here
only interpret that data:

- ``rule_for`` finds the rule for a permit type × category (× 药品类 flag) and refuses combinations the law does not
  have (a 运输备案 exists only for category 3, for example);
- ``decision_deadline`` / ``sla_state`` give the legal decision date of an application and its SLA state;
- ``validity`` / ``check_use`` say from when to when a permit can be used, and refuse an expired, not yet valid,
  already used or over-cap use with a ``PermitUseError`` carrying a machine code and the numbers;
- ``reporting_deadline`` / ``annual_report_deadline`` give the 销售备案 and 年度报告 dates.

Each fact in the data carries ``"verified": true`` with its source (S-numbers of precursors.md) or ``"verified":
false`` with a note when the reference marks it VERIFY or does not state it; ``PermitRule.unverified`` lists which
parts of a rule still need checking, so the UI can show them as unconfirmed.

Day counting (documented choices):

- Working-day limits (N 个工作日) start on the day after submission: ``add_working_days(d, 1)`` is the next working
  day after ``d``. Weekends and official holidays do not count; 调休 make-up working days (上班 on a Saturday or
  Sunday) do.
- Calendar-day limits (N 日) also start on the day after the event (民法典 art. 201: 开始的当日不计入), so "within 5
  days of the sale on 3 March" ends on 8 March. When ``counting.roll_past_non_working_days`` is true and a working
  calendar is given, a deadline that falls on a rest day moves to the next working day (民法典 art. 203); whether the
  office applies art. 203 to administrative deadlines is marked unverified.
- Month and year periods end on the corresponding day of the final month (民法典 art. 202), or on that month's last
  day when it has no such day: a 3-month permit issued on 30 November 2026 is valid until 28 February 2027 inclusive.
"""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

# --- Exceptions -------------------------------------------------------------------------------------------------


class PermitRuleError(ValueError):
    """A permit type / category combination the law does not have, or a malformed rules payload."""


class CalendarError(ValueError):
    """A working calendar asked about a year it has no holiday data for, or built from contradictory dates."""


class PermitUseError(ValueError):
    """A use of a permit that must be refused.

    ``code`` is one of ``USE_ERROR_CODES`` ("expired", "not_yet_valid", "already_used", "over_cap") for APIs and
    warning rules; ``details`` holds the numbers and dates the message quotes.
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


class PermitQuantityError(ValueError):
    """A quantity passed to ``check_use`` that is not a non-negative ``Decimal`` (floats are refused)."""


USE_ERROR_CODES: Final = ("expired", "not_yet_valid", "already_used", "over_cap")

# --- Vocabulary -------------------------------------------------------------------------------------------------

PERMIT_TYPES: Final[tuple[str, ...]] = (
    "production_licence",
    "trade_licence",
    "production_filing",
    "trade_filing",
    "purchase_licence",
    "purchase_filing",
    "transport_licence",
    "transport_filing",
)
CATEGORIES: Final = (1, 2, 3)
DEPARTMENTS: Final = ("public_security", "emergency_management", "drug_administration")
LEVELS: Final = ("province", "city", "county")
DECISION_LIMIT_KINDS: Final = ("working_days", "calendar_days", "same_day", "none")
VALIDITY_KINDS: Final = ("single_use", "months", "years")
FILING_DUE_KINDS: Final = ("before_activity", "after_activity_start")
SLA_STATES: Final = ("on_time", "due_soon", "overdue")

# --- Default rules (precursors.md §1.3, §1.4) --------------------------------------------------------------------

_DAY_KIND_NOTE: Final = (
    "条例 says 'N日内'; counted here as calendar days. VERIFY whether the office counts licensing periods in "
    "working days (行政许可法 art. 82 does so for the periods that law itself sets)."
)
_LICENCE_TERM_NOTE: Final = "3-year term per 5号令 practice; the reference marks it VERIFY (confirmed only for Cat 3 trade filings [S61])."
_FILING_DECISION_NOTE: Final = "No statutory decision time limit for this 备案 in the reference; set the office's own SLA here once agreed."

DEFAULT_PERMIT_RULES: Final[dict[str, Any]] = {
    "schema": "jindu.precursors.permit_rules/1",
    "status": "default",
    "description": (
        "National rules of 易制毒化学品管理条例 (国务院令第445号), 公安部令第87号 and 安监总局令第5号 as summarised in "
        "precursors.md §1.3/§1.4. Items with verified=false must be checked against the official texts before use."
    ),
    "permit_types": {
        "production_licence": {"label_zh": "生产许可证", "label_en": "Production licence", "kind": "licence"},
        "trade_licence": {"label_zh": "经营许可证", "label_en": "Trade licence", "kind": "licence"},
        "production_filing": {"label_zh": "生产备案证明", "label_en": "Production filing", "kind": "filing"},
        "trade_filing": {"label_zh": "经营备案证明", "label_en": "Trade filing", "kind": "filing"},
        "purchase_licence": {"label_zh": "购买许可证", "label_en": "Purchase licence", "kind": "licence"},
        "purchase_filing": {"label_zh": "购买备案证明", "label_en": "Purchase filing", "kind": "filing"},
        "transport_licence": {"label_zh": "运输许可证", "label_en": "Transport licence", "kind": "licence"},
        "transport_filing": {"label_zh": "运输备案证明", "label_en": "Transport filing", "kind": "filing"},
    },
    "departments": {
        "public_security": {"label_zh": "公安机关", "label_en": "Public security"},
        "emergency_management": {"label_zh": "应急管理部门", "label_en": "Emergency management"},
        "drug_administration": {"label_zh": "药品监督管理部门", "label_en": "Drug administration"},
    },
    "levels": {
        "province": {"label_zh": "省级", "label_en": "Province"},
        "city": {"label_zh": "设区的市级", "label_en": "City"},
        "county": {"label_zh": "县级", "label_en": "County"},
    },
    "counting": {
        "roll_past_non_working_days": True,
        "verified": False,
        "note": "民法典 art. 203 (deadline on a rest day moves to the next working day); VERIFY for administrative filings.",
    },
    "reporting": {
        # 销售备案: sales reported to 公安 within N calendar days of the sale (条例 art. 19) [S8].
        "sales_report_days": {"1": 5, "2": 30, "3": 30},
        "sales_report_verified": True,
        "sales_report_source": "S8",
        # 年度报告 for the previous year, due by this day of the following year [S61]; 条例 article unconfirmed.
        "annual_report_due": {"month": 3, "day": 31},
        "annual_report_verified": False,
        "annual_report_note": "31 March confirmed for Cat 3 trade filings [S61]; VERIFY the general 条例 article.",
    },
    # One entry per combination the law has. drug_class: true/false for the category-1 药品类 split, null when
    # the rule is the same for both (and for categories 2 and 3, which have no 药品类).
    "rules": [
        # 生产 — production
        {
            "permit_type": "production_licence",
            "category": 1,
            "drug_class": True,
            "issuer": {
                "department": "drug_administration",
                "level": "province",
                "verified": True,
                "source": "S1",
            },
            "decision_limit": {
                "kind": "working_days",
                "days": 60,
                "verified": False,
                "note": "条例 sets 60 days for all Cat 1 production licences; the working-day count is 5号令's, which covers only 非药品类. VERIFY 药品类 (卫生部令第72号).",
            },
            "validity": {
                "kind": "years",
                "years": 3,
                "verified": False,
                "note": "Term of 药品类 licences not in the reference; VERIFY 72号令.",
            },
        },
        {
            "permit_type": "production_licence",
            "category": 1,
            "drug_class": False,
            "issuer": {
                "department": "emergency_management",
                "level": "province",
                "verified": True,
                "source": "S6",
            },
            "decision_limit": {
                "kind": "working_days",
                "days": 60,
                "verified": True,
                "source": "S6 (5号令 art. 11)",
            },
            "validity": {"kind": "years", "years": 3, "verified": False, "note": _LICENCE_TERM_NOTE},
        },
        {
            "permit_type": "production_filing",
            "category": 2,
            "drug_class": None,
            "issuer": {
                "department": "emergency_management",
                "level": "city",
                "verified": True,
                "source": "S5",
            },
            "decision_limit": {"kind": "none", "verified": False, "note": _FILING_DECISION_NOTE},
            "validity": {"kind": "years", "years": 3, "verified": False, "note": _LICENCE_TERM_NOTE},
            "filing_due": {"kind": "after_activity_start", "days": 30, "verified": True, "source": "S5"},
        },
        {
            "permit_type": "production_filing",
            "category": 3,
            "drug_class": None,
            "issuer": {
                "department": "emergency_management",
                "level": "city",
                "verified": True,
                "source": "S5, S6",
            },
            "decision_limit": {"kind": "none", "verified": False, "note": _FILING_DECISION_NOTE},
            "validity": {"kind": "years", "years": 3, "verified": False, "note": _LICENCE_TERM_NOTE},
            "filing_due": {"kind": "after_activity_start", "days": 30, "verified": True, "source": "S5, S6"},
        },
        # 经营 — trade
        {
            "permit_type": "trade_licence",
            "category": 1,
            "drug_class": True,
            "issuer": {
                "department": "drug_administration",
                "level": "province",
                "verified": False,
                "note": "Reference says '药监' without the level; VERIFY 72号令.",
            },
            "decision_limit": {
                "kind": "working_days",
                "days": 30,
                "verified": False,
                "note": "条例 sets 30 days for Cat 1 trade licences; working-day count taken from 5号令 (非药品类). VERIFY 72号令.",
            },
            "validity": {
                "kind": "years",
                "years": 3,
                "verified": False,
                "note": "Term of 药品类 licences not in the reference; VERIFY 72号令.",
            },
        },
        {
            "permit_type": "trade_licence",
            "category": 1,
            "drug_class": False,
            "issuer": {
                "department": "emergency_management",
                "level": "province",
                "verified": True,
                "source": "S6",
            },
            "decision_limit": {
                "kind": "working_days",
                "days": 30,
                "verified": True,
                "source": "S6 (5号令 art. 11)",
            },
            "validity": {"kind": "years", "years": 3, "verified": False, "note": _LICENCE_TERM_NOTE},
        },
        {
            "permit_type": "trade_filing",
            "category": 2,
            "drug_class": None,
            "issuer": {
                "department": "emergency_management",
                "level": "city",
                "verified": True,
                "source": "S5",
            },
            "decision_limit": {"kind": "none", "verified": False, "note": _FILING_DECISION_NOTE},
            "validity": {"kind": "years", "years": 3, "verified": False, "note": _LICENCE_TERM_NOTE},
            "filing_due": {"kind": "after_activity_start", "days": 30, "verified": True, "source": "S5"},
        },
        {
            "permit_type": "trade_filing",
            "category": 3,
            "drug_class": None,
            "issuer": {
                "department": "emergency_management",
                "level": "county",
                "verified": True,
                "source": "S5",
            },
            "decision_limit": {"kind": "none", "verified": False, "note": _FILING_DECISION_NOTE},
            "validity": {"kind": "years", "years": 3, "verified": True, "source": "S61"},
            "filing_due": {"kind": "after_activity_start", "days": 30, "verified": True, "source": "S5"},
        },
        # 购买 — purchase
        {
            "permit_type": "purchase_licence",
            "category": 1,
            "drug_class": True,
            "issuer": {
                "department": "drug_administration",
                "level": "province",
                "verified": True,
                "source": "S1",
            },
            "decision_limit": {
                "kind": "calendar_days",
                "days": 10,
                "verified": False,
                "source": "S1",
                "note": _DAY_KIND_NOTE,
            },
            "validity": {
                "kind": "single_use",
                "verified": False,
                "note": "Usual practice: single use with a short validity window; VERIFY 72号令/87号令 and add 'months'.",
            },
        },
        {
            "permit_type": "purchase_licence",
            "category": 1,
            "drug_class": False,
            "issuer": {
                "department": "public_security",
                "level": "province",
                "verified": True,
                "source": "S1, S7",
            },
            "decision_limit": {
                "kind": "calendar_days",
                "days": 10,
                "verified": False,
                "source": "S1",
                "note": _DAY_KIND_NOTE,
            },
            "validity": {
                "kind": "single_use",
                "verified": False,
                "note": "Usual practice: single use with a short validity window; VERIFY 87号令 and add 'months'.",
            },
        },
        {
            "permit_type": "purchase_filing",
            "category": 2,
            "drug_class": None,
            "issuer": {
                "department": "public_security",
                "level": "county",
                "verified": True,
                "source": "S1, S7",
            },
            "decision_limit": {"kind": "none", "verified": False, "note": _FILING_DECISION_NOTE},
            "validity": {
                "kind": "months",
                "months": 3,
                "verified": False,
                "note": "Placeholder: multi-use 购买备案证明 valid for months is the usual practice; VERIFY 87号令.",
            },
            "filing_due": {"kind": "before_activity", "verified": True, "source": "S1 (条例 art. 17)"},
        },
        {
            "permit_type": "purchase_filing",
            "category": 3,
            "drug_class": None,
            "issuer": {
                "department": "public_security",
                "level": "county",
                "verified": True,
                "source": "S1, S7",
            },
            "decision_limit": {"kind": "none", "verified": False, "note": _FILING_DECISION_NOTE},
            "validity": {
                "kind": "months",
                "months": 3,
                "verified": False,
                "note": "Placeholder: multi-use 购买备案证明 valid for months is the usual practice; VERIFY 87号令.",
            },
            "filing_due": {"kind": "before_activity", "verified": True, "source": "S1 (条例 art. 17)"},
        },
        # 运输 — transport (needed when crossing a 设区的市 boundary, or a county boundary in key areas) [S2]
        {
            "permit_type": "transport_licence",
            "category": 1,
            "drug_class": None,
            "issuer": {
                "department": "public_security",
                "level": "city",
                "verified": True,
                "source": "S2",
                "note": "公安 of the place of origin.",
            },
            "decision_limit": {
                "kind": "calendar_days",
                "days": 10,
                "verified": False,
                "source": "S2",
                "note": _DAY_KIND_NOTE,
            },
            "validity": {"kind": "single_use", "verified": True, "source": "S2"},
        },
        {
            "permit_type": "transport_licence",
            "category": 2,
            "drug_class": None,
            "issuer": {
                "department": "public_security",
                "level": "county",
                "verified": True,
                "source": "S2",
                "note": "公安 of the place of origin.",
            },
            "decision_limit": {
                "kind": "calendar_days",
                "days": 3,
                "verified": False,
                "source": "S2",
                "note": _DAY_KIND_NOTE,
            },
            "validity": {
                "kind": "months",
                "months": 3,
                # 12-month permits once the firm has transported safely for 6 months [S2].
                "upgrade": {"after_safe_transport_months": 6, "months": 12},
                "verified": True,
                "source": "S2",
            },
        },
        {
            "permit_type": "transport_filing",
            "category": 3,
            "drug_class": None,
            "issuer": {
                "department": "public_security",
                "level": "county",
                "verified": True,
                "source": "S2, S8",
                "note": "公安 of the place of origin.",
            },
            "decision_limit": {"kind": "same_day", "verified": True, "source": "S2, S8 (条例 art. 20)"},
            "validity": {
                "kind": "single_use",
                "verified": False,
                "note": "Multi-use rules for Cat 3 运输备案 are unconfirmed (precursors.md §7 item 2); single use until checked.",
            },
            "filing_due": {"kind": "before_activity", "verified": True, "source": "S2, S8"},
        },
    ],
}


# --- Rule lookup --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionLimit:
    """Legal time limit for deciding an application: ``kind`` in ``DECISION_LIMIT_KINDS``, ``days`` for counted kinds."""

    kind: str
    days: int = 0


@dataclass(frozen=True)
class ValidityRule:
    """How long an issued permit lasts: single use (optionally within ``months``), N months or N years.

    ``upgrade_after_safe_transport_months`` / ``upgraded_months``: the longer term a firm earns after that many
    months of safe transport (Cat 2 运输许可证: 12 months after 6).
    """

    kind: str
    months: int | None = None
    years: int | None = None
    upgrade_after_safe_transport_months: int | None = None
    upgraded_months: int | None = None


@dataclass(frozen=True)
class FilingDue:
    """When the firm must file: before the activity, or within ``days`` calendar days after it starts."""

    kind: str
    days: int = 0


@dataclass(frozen=True)
class PermitRule:
    """The resolved rule for one permit type × category (× 药品类 flag).

    ``unverified`` names the parts ("issuer", "decision_limit", "validity", "filing_due") the reference marks VERIFY;
    ``notes`` carries their explanations and ``sources`` the S-numbers of the verified parts.
    """

    permit_type: str
    category: int
    drug_class: bool | None
    is_licence: bool
    label_zh: str
    label_en: str
    department: str
    level: str
    decision_limit: DecisionLimit
    validity: ValidityRule
    filing_due: FilingDue | None
    unverified: tuple[str, ...]
    sources: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def verified(self) -> bool:
        """True when every part of the rule is confirmed by a source."""
        return not self.unverified


def rule_for(
    rules: Mapping[str, Any], permit_type: str, category: int, drug_class: bool = False
) -> PermitRule:
    """The rule for ``permit_type`` and ``category`` (``drug_class`` = 药品类, category 1 only).

    Raises ``PermitRuleError`` for an unknown type or category, for ``drug_class`` outside category 1, and for
    combinations the law does not have (e.g. a transport filing for category 1), naming the categories that exist.
    """
    permit_types = rules.get("permit_types", {})
    if permit_type not in permit_types:
        raise PermitRuleError(
            f"Unknown permit type {permit_type!r}; known types: {', '.join(sorted(permit_types))}."
        )
    if isinstance(category, bool) or category not in CATEGORIES:
        raise PermitRuleError(f"Unknown precursor category {category!r}; categories are 1, 2 and 3.")
    if drug_class and category != 1:
        raise PermitRuleError(f"Only category 1 has 药品类 (drug-class) substances; got category {category}.")
    candidates = [entry for entry in rules.get("rules", []) if entry["permit_type"] == permit_type]
    for entry in candidates:
        if entry["category"] == category and entry.get("drug_class") in (None, bool(drug_class)):
            return _parse_rule(rules, entry)
    existing = sorted({entry["category"] for entry in candidates})
    label = permit_types[permit_type]["label_zh"]
    if category in existing:  # the category exists, but not for this drug-class flag
        flag = "药品类 (drug-class)" if drug_class else "非药品类 (non-drug-class)"
        raise PermitRuleError(
            f"There is no {permit_type} ({label}) for {flag} category {category} substances."
        )
    where = ", ".join(str(c) for c in existing) or "no category"
    raise PermitRuleError(
        f"The law has no {permit_type} ({label}) for category {category}; it exists for category {where}."
    )


def _parse_rule(rules: Mapping[str, Any], entry: Mapping[str, Any]) -> PermitRule:
    permit_type_info = rules["permit_types"][entry["permit_type"]]
    issuer, limit, validity_data = entry["issuer"], entry["decision_limit"], entry["validity"]
    filing_due_data = entry.get("filing_due")
    parts: dict[str, Mapping[str, Any]] = {
        "issuer": issuer,
        "decision_limit": limit,
        "validity": validity_data,
    }
    if filing_due_data is not None:
        parts["filing_due"] = filing_due_data
    upgrade = validity_data.get("upgrade") or {}
    return PermitRule(
        permit_type=entry["permit_type"],
        category=entry["category"],
        drug_class=entry.get("drug_class"),
        is_licence=permit_type_info["kind"] == "licence",
        label_zh=permit_type_info["label_zh"],
        label_en=permit_type_info["label_en"],
        department=issuer["department"],
        level=issuer["level"],
        decision_limit=DecisionLimit(kind=limit["kind"], days=int(limit.get("days", 0))),
        validity=ValidityRule(
            kind=validity_data["kind"],
            months=validity_data.get("months"),
            years=validity_data.get("years"),
            upgrade_after_safe_transport_months=upgrade.get("after_safe_transport_months"),
            upgraded_months=upgrade.get("months"),
        ),
        filing_due=(
            FilingDue(kind=filing_due_data["kind"], days=int(filing_due_data.get("days", 0)))
            if filing_due_data is not None
            else None
        ),
        unverified=tuple(name for name, part in parts.items() if not part.get("verified", False)),
        sources=tuple(f"{name}: {part['source']}" for name, part in parts.items() if part.get("source")),
        notes=tuple(f"{name}: {part['note']}" for name, part in parts.items() if part.get("note")),
    )


def validate_permit_rules(payload: Any) -> list[str]:
    """Problems with a rules payload (empty list when it is usable); checks shape, vocabulary and duplicates."""
    if not isinstance(payload, Mapping):
        return ["The permit rules must be a JSON object."]
    problems: list[str] = []
    permit_types = payload.get("permit_types")
    if not isinstance(permit_types, Mapping) or not permit_types:
        problems.append("permit_types must be a non-empty object.")
        permit_types = {}
    for key, info in permit_types.items():
        if not isinstance(info, Mapping) or info.get("kind") not in ("licence", "filing"):
            problems.append(f"permit_types.{key}: kind must be 'licence' or 'filing'.")
        elif not info.get("label_zh") or not info.get("label_en"):
            problems.append(f"permit_types.{key}: label_zh and label_en are required.")
    problems.extend(_validate_reporting(payload.get("reporting")))
    entries = payload.get("rules")
    if not isinstance(entries, list) or not entries:
        return [*problems, "rules must be a non-empty list."]
    seen: set[tuple[str, int, bool | None]] = set()
    for index, entry in enumerate(entries):
        where = f"rules[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be an object.")
            continue
        permit_type, category, drug_class = (
            entry.get("permit_type"),
            entry.get("category"),
            entry.get("drug_class"),
        )
        if permit_type not in permit_types:
            problems.append(f"{where}: unknown permit_type {permit_type!r}.")
        if isinstance(category, bool) or category not in CATEGORIES:
            problems.append(f"{where}: category must be 1, 2 or 3, got {category!r}.")
        if drug_class not in (None, True, False):
            problems.append(f"{where}: drug_class must be true, false or null.")
        elif drug_class is not None and category != 1:
            problems.append(f"{where}: drug_class is only meaningful for category 1.")
        for previous in seen:
            same_slot = previous[0] == permit_type and previous[1] == category
            if same_slot and (previous[2] is None or drug_class is None or previous[2] == drug_class):
                problems.append(f"{where}: duplicates another rule for {permit_type} category {category}.")
                break
        seen.add((str(permit_type), category if isinstance(category, int) else -1, drug_class))
        problems.extend(_validate_rule_parts(where, entry))
    return problems


def _validate_reporting(reporting: Any) -> list[str]:
    if not isinstance(reporting, Mapping):
        return ["reporting must be an object with sales_report_days and annual_report_due."]
    problems: list[str] = []
    days = reporting.get("sales_report_days")
    if not isinstance(days, Mapping) or set(days) != {"1", "2", "3"}:
        problems.append("reporting.sales_report_days must give days for categories '1', '2' and '3'.")
    elif not all(_is_positive_int(value) for value in days.values()):
        problems.append("reporting.sales_report_days must be positive whole numbers.")
    due: Any = reporting.get("annual_report_due")
    try:
        dt.date(2001, int(due["month"]), int(due["day"]))  # a non-leap year: 29 February is refused
    except (TypeError, KeyError, ValueError):
        problems.append("reporting.annual_report_due must be a valid {month, day} (not 29 February).")
    return problems


def _validate_rule_parts(where: str, entry: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    issuer, limit, validity_data = entry.get("issuer"), entry.get("decision_limit"), entry.get("validity")
    if (
        not isinstance(issuer, Mapping)
        or issuer.get("department") not in DEPARTMENTS
        or issuer.get("level") not in LEVELS
    ):
        problems.append(f"{where}.issuer: department must be one of {DEPARTMENTS} and level one of {LEVELS}.")
    if not isinstance(limit, Mapping) or limit.get("kind") not in DECISION_LIMIT_KINDS:
        problems.append(f"{where}.decision_limit: kind must be one of {DECISION_LIMIT_KINDS}.")
    elif limit["kind"] in ("working_days", "calendar_days") and not _is_positive_int(limit.get("days")):
        problems.append(f"{where}.decision_limit: {limit['kind']} needs a positive whole number of days.")
    if not isinstance(validity_data, Mapping) or validity_data.get("kind") not in VALIDITY_KINDS:
        problems.append(f"{where}.validity: kind must be one of {VALIDITY_KINDS}.")
    else:
        kind = validity_data["kind"]
        if kind == "months" and not _is_positive_int(validity_data.get("months")):
            problems.append(f"{where}.validity: 'months' needs a positive whole number of months.")
        if kind == "years" and not _is_positive_int(validity_data.get("years")):
            problems.append(f"{where}.validity: 'years' needs a positive whole number of years.")
        if (
            kind == "single_use"
            and "months" in validity_data
            and not _is_positive_int(validity_data["months"])
        ):
            problems.append(
                f"{where}.validity: a single-use window in months must be a positive whole number."
            )
        upgrade = validity_data.get("upgrade")
        if upgrade is not None and not (
            isinstance(upgrade, Mapping)
            and _is_positive_int(upgrade.get("after_safe_transport_months"))
            and _is_positive_int(upgrade.get("months"))
        ):
            problems.append(
                f"{where}.validity.upgrade: needs positive after_safe_transport_months and months."
            )
    filing_due = entry.get("filing_due")
    if filing_due is not None:
        if not isinstance(filing_due, Mapping) or filing_due.get("kind") not in FILING_DUE_KINDS:
            problems.append(f"{where}.filing_due: kind must be one of {FILING_DUE_KINDS}.")
        elif filing_due["kind"] == "after_activity_start" and not _is_positive_int(filing_due.get("days")):
            problems.append(
                f"{where}.filing_due: after_activity_start needs a positive whole number of days."
            )
    for name in ("issuer", "decision_limit", "validity", "filing_due"):
        part = entry.get(name)
        if isinstance(part, Mapping) and not isinstance(part.get("verified"), bool):
            problems.append(f"{where}.{name}: 'verified' must be true or false.")
    return problems


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# --- Working calendar ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days: weekdays, minus official holidays, plus 调休 make-up working days.

    ``covered_years`` lists the years whose holidays the calendar knows. When it is non-empty, asking about a day in
    another year raises ``CalendarError`` instead of silently treating that year's holidays as working days (the
    State Council publishes next year's 节假日安排 each November; merge it in with ``merged``). An empty
    ``covered_years`` means "weekends only, no holidays claimed" and never raises.
    """

    name: str = "weekends only"
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    makeup_working_days: frozenset[dt.date] = field(default_factory=frozenset)
    weekend_weekdays: frozenset[int] = frozenset({5, 6})  # date.weekday(): Saturday = 5, Sunday = 6
    covered_years: frozenset[int] = field(default_factory=frozenset)
    source: str = ""

    def __post_init__(self) -> None:
        both = self.holidays & self.makeup_working_days
        if both:
            raise CalendarError(
                f"Days both holiday and make-up working day: {sorted(d.isoformat() for d in both)}."
            )
        if self.covered_years:
            outside = sorted(
                d.isoformat()
                for d in self.holidays | self.makeup_working_days
                if d.year not in self.covered_years
            )
            if outside:
                raise CalendarError(
                    f"Calendar {self.name!r} lists days outside its covered years: {outside}."
                )

    def is_working_day(self, day: dt.date) -> bool:
        """True for a working day; raises ``CalendarError`` for a year the calendar does not cover."""
        if self.covered_years and day.year not in self.covered_years:
            raise CalendarError(
                f"Working calendar {self.name!r} has no holiday data for {day.year} "
                f"(covers {', '.join(str(y) for y in sorted(self.covered_years))}); add that year's official schedule."
            )
        if day in self.makeup_working_days:
            return True
        return day.weekday() not in self.weekend_weekdays and day not in self.holidays

    def merged(self, other: WorkingCalendar) -> WorkingCalendar:
        """A calendar covering both (e.g. 2026 + 2027); both must use the same weekend days."""
        if self.weekend_weekdays != other.weekend_weekdays:
            raise CalendarError("Cannot merge calendars with different weekend days.")
        return WorkingCalendar(
            name=f"{self.name} + {other.name}",
            holidays=self.holidays | other.holidays,
            makeup_working_days=self.makeup_working_days | other.makeup_working_days,
            weekend_weekdays=self.weekend_weekdays,
            covered_years=self.covered_years | other.covered_years,
            source="; ".join(s for s in (self.source, other.source) if s),
        )

    def to_payload(self) -> dict[str, Any]:
        """JSON-serialisable form (ISO dates), for storing a calendar as a policy row."""
        return {
            "name": self.name,
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "makeup_working_days": sorted(d.isoformat() for d in self.makeup_working_days),
            "weekend_weekdays": sorted(self.weekend_weekdays),
            "covered_years": sorted(self.covered_years),
            "source": self.source,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> WorkingCalendar:
        """Inverse of ``to_payload``; raises ``CalendarError`` on bad dates."""
        try:
            return cls(
                name=str(payload.get("name", "")),
                holidays=frozenset(dt.date.fromisoformat(d) for d in payload.get("holidays", [])),
                makeup_working_days=frozenset(
                    dt.date.fromisoformat(d) for d in payload.get("makeup_working_days", [])
                ),
                weekend_weekdays=frozenset(int(d) for d in payload.get("weekend_weekdays", [5, 6])),
                covered_years=frozenset(int(y) for y in payload.get("covered_years", [])),
                source=str(payload.get("source", "")),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CalendarError):
                raise
            raise CalendarError(f"Malformed working calendar: {exc}.") from exc


def _days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    """Each day from ``start`` to ``end`` inclusive."""
    for offset in range((end - start).days + 1):
        yield start + dt.timedelta(days=offset)


def _holidays(*ranges: tuple[str, str]) -> frozenset[dt.date]:
    return frozenset(
        day
        for first, last in ranges
        for day in _days(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    )


# 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04, published by Xinhua, e.g.
# https://politics.gmw.cn/2025-11/04/content_38391083.htm). Holidays include the weekend days inside each break.
CHINA_2026_CALENDAR: Final = WorkingCalendar(
    name="China 2026 (State Council)",
    holidays=_holidays(
        ("2026-01-01", "2026-01-03"),  # 元旦
        ("2026-02-15", "2026-02-23"),  # 春节
        ("2026-04-04", "2026-04-06"),  # 清明节
        ("2026-05-01", "2026-05-05"),  # 劳动节
        ("2026-06-19", "2026-06-21"),  # 端午节
        ("2026-09-25", "2026-09-27"),  # 中秋节
        ("2026-10-01", "2026-10-07"),  # 国庆节
    ),
    makeup_working_days=frozenset(
        dt.date.fromisoformat(d)
        for d in ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10")
    ),
    covered_years=frozenset({2026}),
    source="国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)",
)

WEEKENDS_ONLY_CALENDAR: Final = WorkingCalendar()


def add_working_days(start: dt.date, n: int, calendar: WorkingCalendar) -> dt.date:
    """The ``n``-th working day after ``start`` (``start`` itself never counts; ``n = 0`` returns ``start``).

    Example with ``CHINA_2026_CALENDAR``: 1 working day after Friday 13 February 2026 is Saturday 14 February, a
    调休 make-up working day.
    """
    if n < 0:
        raise ValueError(f"n must be zero or positive, got {n}.")
    day = start
    remaining = n
    while remaining:
        day += dt.timedelta(days=1)
        if calendar.is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: dt.date, end: dt.date, calendar: WorkingCalendar) -> int:
    """Working days ``d`` with ``start < d <= end`` (0 when ``end <= start``)."""
    return sum(1 for day in _days(start + dt.timedelta(days=1), end) if calendar.is_working_day(day))


def next_working_day_on_or_after(day: dt.date, calendar: WorkingCalendar) -> dt.date:
    """``day`` itself if it is a working day, else the first working day after it."""
    while not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_months(day: dt.date, months: int) -> dt.date:
    """The corresponding day ``months`` later, or that month's last day when it has none (民法典 art. 202)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def _roll(deadline: dt.date, rules: Mapping[str, Any], calendar: WorkingCalendar | None) -> dt.date:
    """Move a calendar-day deadline off a rest day when the rules say so and a calendar is given."""
    if calendar is None or not rules.get("counting", {}).get("roll_past_non_working_days", False):
        return deadline
    return next_working_day_on_or_after(deadline, calendar)


# --- Deadlines and SLA ------------------------------------------------------------------------------------------


def decision_deadline(
    rule: PermitRule,
    submitted_on: dt.date,
    calendar: WorkingCalendar,
    *,
    rules: Mapping[str, Any] = DEFAULT_PERMIT_RULES,
) -> dt.date | None:
    """Last day on which the department must decide an application submitted (受理) on ``submitted_on``.

    ``working_days``: N working days after submission. ``calendar_days``: submission + N days, moved to the next
    working day if it falls on a rest day (``counting.roll_past_non_working_days`` of ``rules``). ``same_day``: the
    submission day. ``none``: no legal limit is known, so ``None`` (the office may configure its own).
    """
    limit = rule.decision_limit
    if limit.kind == "working_days":
        return add_working_days(submitted_on, limit.days, calendar)
    if limit.kind == "calendar_days":
        return _roll(submitted_on + dt.timedelta(days=limit.days), rules, calendar)
    if limit.kind == "same_day":
        return submitted_on
    if limit.kind == "none":
        return None
    raise PermitRuleError(f"Unknown decision limit kind {limit.kind!r}.")


def sla_state(
    deadline: dt.date | None,
    today: dt.date,
    *,
    calendar: WorkingCalendar = WEEKENDS_ONLY_CALENDAR,
    due_soon_working_days: int = 2,
) -> str:
    """SLA state of a pending application on ``today``.

    ``"overdue"`` after the deadline; ``"due_soon"`` when at most ``due_soon_working_days`` working days remain
    (counting the days after today up to and including the deadline, so the deadline day itself is "due_soon" with 0
    left); ``"on_time"`` otherwise, and always when there is no legal deadline (``None``). The threshold is a
    parameter because offices set their own warning horizon.
    """
    if due_soon_working_days < 0:
        raise ValueError("due_soon_working_days must be zero or positive.")
    if deadline is None:
        return "on_time"
    if today > deadline:
        return "overdue"
    if working_days_between(today, deadline, calendar) <= due_soon_working_days:
        return "due_soon"
    return "on_time"


def filing_due_date(rule: PermitRule, activity_date: dt.date) -> dt.date | None:
    """Last day on which the firm must file (备案): the activity day itself for "before the activity" filings (file
    before buying or shipping), or ``days`` calendar days after production/trade starts; ``None`` for licences."""
    if rule.filing_due is None:
        return None
    if rule.filing_due.kind == "before_activity":
        return activity_date
    return activity_date + dt.timedelta(days=rule.filing_due.days)


def reporting_deadline(
    category: int,
    sale_date: dt.date,
    *,
    rules: Mapping[str, Any] = DEFAULT_PERMIT_RULES,
    calendar: WorkingCalendar | None = None,
) -> dt.date:
    """Last day to report a sale to 公安 (销售备案): sale + 5 days for category 1, + 30 for 2 and 3 (from ``rules``).

    The sale day does not count (a Cat 1 sale on 3 March must be reported by 8 March). With a ``calendar``, a
    deadline on a rest day moves to the next working day when the rules say so.
    """
    days_by_category = rules["reporting"]["sales_report_days"]
    key = str(category)
    if isinstance(category, bool) or key not in days_by_category:
        raise PermitRuleError(f"Unknown precursor category {category!r}; categories are 1, 2 and 3.")
    return _roll(sale_date + dt.timedelta(days=int(days_by_category[key])), rules, calendar)


def annual_report_deadline(
    year: int,
    *,
    rules: Mapping[str, Any] = DEFAULT_PERMIT_RULES,
    calendar: WorkingCalendar | None = None,
) -> dt.date:
    """Due date of the 年度报告 covering ``year``: 31 March of ``year + 1`` by default (``reporting.annual_report_due``)."""
    due = rules["reporting"]["annual_report_due"]
    return _roll(dt.date(year + 1, int(due["month"]), int(due["day"])), rules, calendar)


# --- Validity and use ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validity:
    """When an issued permit can be used: ``valid_from`` to ``valid_until`` inclusive (``None`` = no end date)."""

    valid_from: dt.date
    valid_until: dt.date | None
    single_use: bool


def validity(rule: PermitRule, issued_on: dt.date, *, safe_transport_months: int = 0) -> Validity:
    """The validity of a permit of ``rule`` issued on ``issued_on``.

    ``safe_transport_months``: months the firm has transported this category without incident; when the rule has
    an upgrade (Cat 2 运输许可证) and the firm reaches its threshold (6), the longer term (12 months) applies.
    Month and year terms end on the corresponding day (民法典 art. 202): 3 months from 15 January is 15 April.
    """
    if safe_transport_months < 0:
        raise ValueError(f"safe_transport_months must be zero or positive, got {safe_transport_months}.")
    rule_validity = rule.validity
    if rule_validity.kind == "single_use":
        until = add_months(issued_on, rule_validity.months) if rule_validity.months else None
        return Validity(valid_from=issued_on, valid_until=until, single_use=True)
    if rule_validity.kind == "months":
        months = rule_validity.months or 0
        threshold = rule_validity.upgrade_after_safe_transport_months
        if threshold is not None and rule_validity.upgraded_months and safe_transport_months >= threshold:
            months = rule_validity.upgraded_months
        return Validity(valid_from=issued_on, valid_until=add_months(issued_on, months), single_use=False)
    if rule_validity.kind == "years":
        return Validity(
            valid_from=issued_on,
            valid_until=add_months(issued_on, 12 * (rule_validity.years or 0)),
            single_use=False,
        )
    raise PermitRuleError(f"Unknown validity kind {rule_validity.kind!r}.")


def _require_quantity(name: str, value: Decimal | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, Decimal):
        raise PermitQuantityError(f"{name} must be a Decimal number of kg, got {type(value).__name__}.")
    if not value.is_finite() or value < 0:
        raise PermitQuantityError(f"{name} must be a finite, non-negative number of kg, got {value}.")


def check_use(
    validity: Validity,
    used_on: dt.date,
    uses_so_far: int,
    quantity_cap_kg: Decimal | None,
    consumed_kg: Decimal,
    requested_kg: Decimal,
) -> Decimal | None:
    """Check one use (a purchase, a shipment) of a permit; return the kg left on it afterwards.

    Refusals raise ``PermitUseError`` in this order: ``not_yet_valid`` (before ``valid_from``), ``expired`` (after
    ``valid_until``), ``already_used`` (a single-use permit with a previous use), ``over_cap`` (consumed + requested
    above the cap). Quantities are kg of pure substance as ``Decimal``. ``quantity_cap_kg=None`` means no cap, and
    the result is then ``None``.
    """
    _require_quantity("quantity_cap_kg", quantity_cap_kg, allow_none=True)
    _require_quantity("consumed_kg", consumed_kg)
    _require_quantity("requested_kg", requested_kg)
    if uses_so_far < 0:
        raise ValueError(f"uses_so_far must be zero or positive, got {uses_so_far}.")
    if used_on < validity.valid_from:
        raise PermitUseError(
            "not_yet_valid",
            f"The permit is valid from {validity.valid_from.isoformat()}; it cannot be used on {used_on.isoformat()}.",
            valid_from=validity.valid_from,
            used_on=used_on,
        )
    if validity.valid_until is not None and used_on > validity.valid_until:
        raise PermitUseError(
            "expired",
            f"The permit expired on {validity.valid_until.isoformat()}; it cannot be used on {used_on.isoformat()}.",
            valid_until=validity.valid_until,
            used_on=used_on,
        )
    if validity.single_use and uses_so_far >= 1:
        raise PermitUseError(
            "already_used",
            f"The permit is valid for a single use and has already been used {uses_so_far} time(s).",
            uses_so_far=uses_so_far,
        )
    if quantity_cap_kg is None:
        return None
    after = consumed_kg + requested_kg
    if after > quantity_cap_kg:
        available = max(quantity_cap_kg - consumed_kg, Decimal(0))
        raise PermitUseError(
            "over_cap",
            f"Requested {requested_kg} kg but only {available} kg remain on the permit "
            f"(cap {quantity_cap_kg} kg, already used {consumed_kg} kg; over by {after - quantity_cap_kg} kg).",
            quantity_cap_kg=quantity_cap_kg,
            consumed_kg=consumed_kg,
            requested_kg=requested_kg,
            available_kg=available,
        )
    return quantity_cap_kg - after
