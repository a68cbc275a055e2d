"""Diversion warnings (预警): the rules engine, its versioned thresholds, the lifecycle services and the reads.

Rules (precursors.md §4.4). Each rule is a small function ``rule_aNN(ctx) -> list[Finding]`` reading the
captured ledgers through a shared ``RunContext``, which loads what several rules need once, with grouped
queries over the whole city (never a query per firm). Its thresholds come from the versioned policy
``precursors.warning_rules`` in force for the firm's district (``DEFAULT_WARNING_RULES`` is the shipped national
default, installed by migration ``0004_warnings``). Implemented:

- A01 a shipment above k × the 12-month median of the buyer's shipments of that substance (from all sellers);
- A02 a new customer of the seller: category 1 always, categories 2/3 when the quantity exceeds the p90 of the
  seller's shipments of that substance;
- A03 a cash, barter or third-party payment (``jd:paymentMethod`` on the event; cash is an alert);
- A04 a shipment under a transport permit (``urn:jindu:permit:<number>`` in ``bizTransactionList``) whose
  destination party is not the permit's consignee, or whose time lies outside the permit's transport window:
  an alert;
- A05 a sale whose know-your-customer checklist (``jd:kycChecklist``: check → true/false) has a check answered
  false (a sale recorded without the checklist is silent: A05 sees only what firms record);
- A06 one buyer receiving, within 90 days, every substance of a synthesis-route template (PROPOSED templates
  of catalogue codes in the policy);
- A07 company shopping: one buyer receiving a substance from ≥ 3 sellers in 30 days, or more than a cap;
- A08 a monthly mass balance beyond tolerance (2σ warning, 3σ alert) and a CUSUM alarm on the monthly MUF ratio;
- A09 a shipment to a registered firm with no matching receipt within N days, or a difference beyond 0.5 %;
- A10 permit problems found at capture (expired, over the cap, already used, unknown permit);
- A11 late or missing filings: a shipment captured after its sales-report deadline (销售备案: category 1 within
  5 days, 2 and 3 within 30, ``permit_rules.reporting_deadline``), a firm with flows of a substance in a
  month but no stocktake of it ``stocktake_grace_days`` after the month's end, and the annual report (年度报告,
  ``jindu.precursors.annual_reports``) of a year with ledger activity still missing after its deadline (31 March
  of the next year by default, ``permit_rules.annual_report_deadline``) or first submitted after it;
- A12 goods stolen or missing (disposition stolen/unknown): an immediate alert;
- A13 ledger edits after the fact (a large share of events recorded long after they happened, or corrections);
- A14 a dormant firm's first activity after more than 12 months without any;
- A15 a firm receiving or shipping more than a threshold of a non-listed chemical of the policy's watch list
  (by CAS, ``urn:jindu:class:<CAS>:<lot>``; kg as recorded in a mass unit) within 30 days.

Part of A04 needs data the platform does not hold yet (``UNCOVERED_PARTS``): route checks against GPS tracks
come with the transport domain; see docs/precursors.md. A policy version sets only what it changes, rule by rule
and key by key: a version written before a rule (or one of its keys, such as A11's annual-report thresholds)
existed gets the shipped defaults (``_merged``).

``run_warnings(as_of)`` evaluates the events up to the end of ``as_of`` (platform time zone) and stores the
findings: a finding whose ``dedup_key`` already has an open warning adds its new evidence to it; after a
warning is closed, the same key raises a new warning only with evidence the closed one did not hold. The
engine is deterministic for a day, so rerunning it never duplicates a warning.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import time
import zoneinfo
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Case, Count, F, Max, Min, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jindu.core.audit import audit_write
from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import AuditAction, OrgUnitClosure, PolicyVersion, User
from jindu.core.roles import ROLE_PERMISSIONS
from jindu.core.scoping import READ, WRITE, access_object, capture_root_ids, in_roots, user_may
from jindu.precursors.annual_reports import FilingState, annual_report_states
from jindu.precursors.balance import (
    BalanceError,
    BalanceSettings,
    CusumSettings,
    cusum,
    reconcile_shipment,
    robust_sigma,
)
from jindu.precursors.balances import FirmMonthBalance, month_starts, monthly_balances
from jindu.precursors.models import Enterprise, EpcisEvent, EpcisQuantity, Site, Substance
from jindu.precursors.models.permits import Permit
from jindu.precursors.models.warnings import (
    LEVEL_RANK,
    TRUE_POSITIVE_OUTCOMES,
    DiversionWarning,
    RuleCode,
    WarningEvent,
    WarningEventKind,
    WarningLevel,
    WarningOutcome,
    WarningStatus,
)
from jindu.precursors.permissions import MANAGE_ENTERPRISES, VIEW_PRECURSORS
from jindu.precursors.permit_rules import DEFAULT_PERMIT_RULES, PermitRuleError, reporting_deadline
from jindu.precursors.quantities import MASS_UNITS_KG, to_kg_pure

WARNING_RULES = "precursors.warning_rules"
# 易制毒化学品管理条例 (国务院令第445号) in force: the shipped defaults apply from this day.
DEFAULT_EFFECTIVE_FROM = dt.date(2005, 11, 1)

# PROPOSED thresholds (precursors.md §4.4 "Default trigger"); an office publishes its own version to change
# them. Quantities are kg of pure substance; fractions are plain numbers; SLA hours by level (0 = immediate).
DEFAULT_WARNING_RULES: dict[str, Any] = {
    # Events of the last ``scan_days`` up to the evaluated day are examined (reruns are deduplicated, so a
    # wide window only catches events captured late); histories reach ``history_days`` further back.
    "scan_days": 45,
    "history_days": 365,
    "sla_hours": {"notice": 168, "warning": 72, "alert": 0},
    "rules": {
        "A01": {"enabled": True, "multiple": 3, "alert_multiple": 10, "min_history": 3, "level": "warning"},
        "A02": {
            "enabled": True,
            "new_after_days": 365,
            "percentile": 90,
            "min_history": 5,
            "category_1_level": "warning",
            "level": "notice",
        },
        "A03": {
            "enabled": True,
            "methods": ["cash", "barter", "third_party"],
            "levels": {"cash": "alert"},
            "level": "warning",
        },
        "A04": {
            "enabled": True,
            # Events at these business steps naming a transport permit are compared with the permit's consignee
            # (the destination's owning party) and its transport window (``window_slack_hours`` either side).
            "biz_steps": ["shipping"],
            "window_slack_hours": 0,
            "level": "alert",
        },
        "A05": {
            "enabled": True,
            # Events at these business steps carrying a ``jd:kycChecklist`` object (check → true/false) are read;
            # any false check raises a warning (``levels`` may set a level per check).
            "biz_steps": ["shipping"],
            "levels": {},
            "level": "warning",
        },
        "A06": {
            "enabled": True,
            "window_days": 90,
            # PROPOSED route templates: substance codes of the catalogue (precursors.catalogue) one buyer
            # receiving all of within the window matches. General chemistry of the routes, not a legal list;
            # an office replaces the whole list in its own version.
            "templates": [
                {
                    "id": "p2p-from-phenylacetic-acid",
                    "label": "P-2-P (amphetamine / methamphetamine) from phenylacetic acid",
                    "substances": ["phenylacetic-acid", "acetic-anhydride"],
                    "status": "PROPOSED",
                },
                {
                    "id": "cocaine-refining",
                    "label": "cocaine base oxidation and hydrochloride crystallisation",
                    "substances": ["potassium-permanganate", "methyl-ethyl-ketone", "hydrochloric-acid"],
                    "status": "PROPOSED",
                },
                {
                    "id": "heroin-acetylation",
                    "label": "heroin: morphine acetylation, extraction and hydrochloride",
                    "substances": ["acetic-anhydride", "chloroform", "hydrochloric-acid"],
                    "status": "PROPOSED",
                },
            ],
            "note": "PROPOSED templates (precursors.md §4.4 A06); to be reviewed by the office's chemists.",
            "level": "warning",
        },
        "A07": {
            "enabled": True,
            "window_days": 30,
            "min_sellers": 3,
            # Σ received from all sellers within the window above this many kg pure (per category) also fires.
            "cap_kg_by_category": {"1": 25, "2": 1000, "3": 50000},
            "level": "warning",
        },
        "A08": {
            "enabled": True,
            "months": 12,
            "report_months": 2,
            "warn_sigmas": 2.0,
            "alert_sigmas": 3.0,
            "cusum": {
                "enabled": True,
                "min_months": 6,
                "slack_sigmas": 0.5,
                "threshold_sigmas": 5.0,
                # σ of the monthly MUF/throughput ratio never taken below this (the 0.5 % loss allowance).
                "sigma_floor": 0.005,
                "level": "warning",
            },
        },
        "A09": {
            "enabled": True,
            "receipt_days": 7,
            "match_days": 30,
            "allowance_fraction": "0.005",
            "clock_skew_minutes": 30,
            "level": "warning",
            "received_more_level": "notice",
        },
        "A10": {
            "enabled": True,
            "levels": {
                "expired_permit": "warning",
                "over_cap": "alert",
                "permit_already_used": "alert",
                "unknown_permit": "warning",
            },
        },
        "A11": {
            "enabled": True,
            # 销售备案 deadlines are the law's (permit_rules.reporting_deadline: category 1 within 5 days, 2 and 3
            # within 30); a shipment captured after its deadline is a late filing.
            "sales_report_level": "notice",
            # A month with flows of a substance needs a stocktake of it: missing this many days after the
            # month's end is a notice.
            "stocktake_grace_days": 10,
            "stocktake_level": "notice",
            # 年度报告: a firm with ledger activity in a year owes its report by the deadline of the permit rules
            # (permit_rules.annual_report_deadline: 31 March of the next year by default). Still missing after
            # the deadline, or first submitted after it, for the last ``annual_report_years`` ended years.
            "annual_report_missing_level": "warning",
            "annual_report_late_level": "notice",
            "annual_report_years": 2,
        },
        "A12": {"enabled": True, "dispositions": ["stolen", "unknown"], "level": "alert"},
        "A13": {
            "enabled": True,
            "window_days": 90,
            "late_days": 7,
            "late_share": 0.2,
            "min_events": 10,
            "error_declarations": 3,
            "level": "notice",
        },
        "A14": {"enabled": True, "idle_days": 365, "level": "warning"},
        "A15": {
            "enabled": True,
            # A firm receiving (or shipping) more than the threshold of a watch-list chemical within the window:
            # kg of the quantity as recorded (mass units only; volumes without a density are skipped).
            "list_version": "2026-11 PROPOSED",
            "window_days": 30,
            "watch_list": {
                "79-24-3": "nitroethane",
                "100-52-7": "benzaldehyde",
                "100-44-7": "benzyl chloride",
                "74-89-5": "methylamine",
                "7723-14-0": "red phosphorus",
                "7553-56-2": "iodine",
                "10034-85-2": "hydriodic acid",
                "75-12-7": "formamide",
                "62-53-3": "aniline",
                "79-03-8": "propionyl chloride",
                "110-63-4": "1,4-butanediol",
            },
            "threshold_kg_by_cas": {},
            "default_threshold_kg": 100,
            # Above this many times the threshold the notice becomes a warning.
            "warning_multiple": 10,
            "note": "PROPOSED watch list (EU voluntary monitoring / ISSL-type pre-precursors, not listed in China).",
            "level": "notice",
        },
    },
}

IMPLEMENTED_RULES = (
    "A01",
    "A02",
    "A03",
    "A04",
    "A05",
    "A06",
    "A07",
    "A08",
    "A09",
    "A10",
    "A11",
    "A12",
    "A13",
    "A14",
    "A15",
)
# What the other rules of the catalogue need before they can be built.
MISSING_RULES: dict[str, str] = {}
# What implemented rules do not cover yet, and what that part needs.
UNCOVERED_PARTS: dict[str, str] = {
    "A04": gettext_noop("route checks against GPS tracks come with the transport domain"),
}
# At most this many evidence items are kept per warning (the most recent first).
MAX_EVIDENCE = 50
PARTY_PREFIX = "urn:jindu:party:"
CLASS_PREFIX = "urn:jindu:class:"
PERMIT_PREFIX = "urn:jindu:permit:"
TRANSPORT_PERMIT_TYPES = ("transport_licence", "transport_filing")
CBV_DISPOSITION = "https://ref.gs1.org/cbv/Disp-"


def install_default_rules(policy_model: Any = PolicyVersion) -> None:
    """Install the shipped thresholds as the national version (the data migration does this; tests flushed by
    a transactional test put it back the same way)."""
    policy_model.objects.get_or_create(
        kind=WARNING_RULES,
        region=None,
        effective_from=DEFAULT_EFFECTIVE_FROM,
        defaults={
            "label": "Default (shipped, PROPOSED)",
            "payload": DEFAULT_WARNING_RULES,
            "source": "precursors.md §4.4",
            "is_default": True,
        },
    )


# --- Policy -----------------------------------------------------------------------------------------------


def _merged(payload: dict[str, Any]) -> dict[str, Any]:
    """A version's payload over the shipped defaults, rule by rule (a version may set only what it changes)."""
    merged = {**DEFAULT_WARNING_RULES, **{k: v for k, v in payload.items() if k != "rules"}}
    rules = {}
    for code, default in DEFAULT_WARNING_RULES["rules"].items():
        rules[code] = {**default, **(payload.get("rules", {}).get(code) or {})}
    merged["rules"] = rules
    return merged


class RuleBook:
    """Every version of ``precursors.warning_rules`` in force on a day, loaded once, resolved by org path
    (nearest region, then the latest effective date: the rule of ``core.policy.policy_in_force``)."""

    def __init__(self, on: dt.date) -> None:
        self.versions: list[tuple[str | None, dt.date, PolicyVersion, dict[str, Any]]] = [
            (
                row.region.code if row.region is not None else None,
                row.effective_from,
                row,
                _merged(row.payload),
            )
            for row in PolicyVersion.objects.filter(
                kind=WARNING_RULES, effective_from__lte=on
            ).select_related("region")
        ]
        self._default = _merged({})
        self._cache: dict[str, tuple[PolicyVersion | None, dict[str, Any]]] = {}

    def resolve(self, org_path: str) -> tuple[PolicyVersion | None, dict[str, Any]]:
        cached = self._cache.get(org_path)
        if cached is not None:
            return cached
        codes = [segment for segment in org_path.split("/") if segment]
        best: tuple[PolicyVersion | None, dict[str, Any]] = (None, self._default)
        best_key: tuple[int, dt.date] | None = None
        for region, effective_from, version, payload in self.versions:
            if region is None:
                depth = -1
            elif region in codes:
                depth = codes.index(region)
            else:
                continue
            if best_key is None or (depth, effective_from) > best_key:
                best, best_key = (version, payload), (depth, effective_from)
        self._cache[org_path] = best
        return best

    def payloads(self) -> list[dict[str, Any]]:
        return [payload for *_rest, payload in self.versions] or [self._default]


# --- Findings and the run context -------------------------------------------------------------------------


@dataclass
class Finding:
    """What a rule found about one firm: not yet a stored warning (``run_warnings`` stores it)."""

    rule: str
    level: str
    enterprise_id: int
    dedup_key: str
    message: str
    params: dict[str, Any]
    evidence: list[dict[str, Any]]
    substance_id: int | None = None
    window_start: dt.date | None = None
    window_end: dt.date | None = None


@dataclass(frozen=True)
class Firm:
    id: int
    uscc: str
    name: str
    org_unit_id: int
    org_path: str

    @property
    def party(self) -> str:
        return PARTY_PREFIX + self.uscc


@dataclass(frozen=True)
class Flow:
    """One shipment or receipt of one substance by one firm (an event's quantities of it summed), with the
    counterpart party named by the event (the buyer of a shipment, the seller of a receipt; "" if none)."""

    event_id: int
    enterprise_id: int
    event_time: dt.datetime
    substance_id: int
    kg: Decimal
    term: str
    party: str


def event_evidence(event_id: int, role: str = "") -> dict[str, Any]:
    """An evidence item naming a captured event (its summary is filled in when the warning is stored)."""
    item: dict[str, Any] = {"kind": "epcis_event", "id": event_id}
    if role:
        item["role"] = role
    return item


def _kg(value: Decimal | float) -> str:
    number = Decimal(str(value)).quantize(Decimal("0.001"))
    text = format(number.normalize(), "f")
    return text


def _ratio(value: float) -> str:
    return f"{value:.1f}"


def _last_segment(value: str | None) -> str:
    if not value:
        return ""
    for separator in ("/", ":", "#"):
        value = value.rsplit(separator, 1)[-1]
    if value.startswith("Disp-") or value.startswith("BizStep-"):
        value = value.split("-", 1)[1]
    return value


def _counterparty(entries: Any, key: str) -> str:
    """The party a source or destination list names: its owning party, else its possessing party, else a
    location ("" when the list names none)."""
    if not isinstance(entries, list):
        return ""
    by_kind: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get(key), str):
            continue
        kind = _last_segment(str(entry.get("type", ""))).removeprefix("SDT-")
        by_kind.setdefault(kind, entry[key])
    for kind in ("owning_party", "possessing_party", "location"):
        if kind in by_kind:
            return by_kind[kind]
    return ""


class RunContext:
    """What the rules read, loaded once per run with grouped queries."""

    def __init__(self, as_of: dt.date, *, enterprise_ids: Iterable[int] | None = None) -> None:
        self.as_of = as_of
        self.zone = zoneinfo.ZoneInfo(django_settings.TIME_ZONE)
        self.end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=self.zone)
        self.book = RuleBook(as_of)
        payloads = self.book.payloads()
        self.scan_days = max(int(p["scan_days"]) for p in payloads)
        self.history_days = max(int(p["history_days"]) for p in payloads)
        self.scan_start = self.end - dt.timedelta(days=self.scan_days)
        self.history_start = self.scan_start - dt.timedelta(days=self.history_days)
        self.enterprise_ids = set(enterprise_ids) if enterprise_ids is not None else None
        # Firms whose balances could not be computed (A08), with the reason.
        self.balance_errors: dict[int, str] = {}
        # Balances computed during the run (A08), per firm: the months covered and the firm's balances, so that
        # A11 reuses them instead of computing them again.
        self.loaded_balances: dict[int, tuple[frozenset[dt.date], list[FirmMonthBalance]]] = {}
        self.firms: dict[int, Firm] = {
            pk: Firm(pk, uscc, name, unit, path)
            for pk, uscc, name, unit, path in Enterprise.objects.values_list(
                "pk", "uscc", "name", "org_unit_id", "org_path"
            )
        }
        self.firm_by_party: dict[str, int] = {firm.party: firm.id for firm in self.firms.values()}
        for uri, enterprise_id in Site.objects.values_list("location_uri", "enterprise_id"):
            self.firm_by_party.setdefault(uri, enterprise_id)
        self.substances: dict[int, tuple[str, int]] = {
            pk: (name, category)
            for pk, name, category in Substance.objects.values_list("pk", "name_zh", "category")
        }

    # Policy ----------------------------------------------------------------------------------------------

    def rules(self, enterprise_id: int, code: str) -> dict[str, Any]:
        """The thresholds of rule ``code`` for the firm's district."""
        return self.book.resolve(self.firms[enterprise_id].org_path)[1]["rules"][code]

    def payload(self, enterprise_id: int) -> dict[str, Any]:
        return self.book.resolve(self.firms[enterprise_id].org_path)[1]

    def wanted(self, enterprise_id: int | None) -> bool:
        """Whether findings about this firm are asked for (all firms, or those of ``enterprise_ids``)."""
        return enterprise_id is not None and (
            self.enterprise_ids is None or enterprise_id in self.enterprise_ids
        )

    def events(self) -> QuerySet[EpcisEvent]:
        events = EpcisEvent.objects.filter(event_time__gte=self.scan_start, event_time__lt=self.end)
        if self.enterprise_ids is not None:
            events = events.filter(enterprise_id__any=list(self.enterprise_ids))
        return events

    # Names -----------------------------------------------------------------------------------------------

    def canonical_party(self, uri: str) -> str:
        """A registered firm's party URI for any of its party or site URIs; other URIs unchanged."""
        firm_id = self.firm_by_party.get(uri)
        return self.firms[firm_id].party if firm_id is not None else uri

    def party_name(self, uri: str) -> str:
        firm_id = self.firm_by_party.get(uri)
        if firm_id is not None:
            return self.firms[firm_id].name
        return uri or _("(not named)")

    @cached_property
    def substance_codes(self) -> dict[int, str]:
        """Catalogue code of each substance (route templates name substances by code)."""
        return dict(Substance.objects.values_list("pk", "code"))

    def substance_name(self, substance_id: int) -> str:
        return self.substances.get(substance_id, ("?", 0))[0]

    def category(self, substance_id: int) -> int:
        return self.substances.get(substance_id, ("?", 3))[1]

    def day(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    # Flows -----------------------------------------------------------------------------------------------

    @cached_property
    def flows(self) -> list[Flow]:
        """Every shipment and receipt in kg pure from the history window's start to the end of the day: one
        query over the quantities joined with their events' party lists."""
        summed: dict[tuple[int, int], list[Any]] = {}
        rows = (
            EpcisQuantity.objects.filter(
                event_time__gte=self.history_start,
                event_time__lt=self.end,
                balance_term__in=["shipment", "receipt"],
                substance__isnull=False,
                kg_pure__isnull=False,
            )
            .values_list(
                "event_id",
                "enterprise_id",
                "event_time",
                "substance_id",
                "kg_pure",
                "balance_term",
                "event__document__destinationList",
                "event__document__sourceList",
            )
            .order_by()
        )
        for event_id, firm_id, when, substance_id, kg, term, destinations, sources in rows.iterator(
            chunk_size=5000
        ):
            key = (event_id, substance_id)
            if key in summed:
                summed[key][4] += kg
                continue
            party = (
                _counterparty(destinations, "destination")
                if term == "shipment"
                else _counterparty(sources, "source")
            )
            summed[key] = [event_id, firm_id, when, substance_id, kg, term, self.canonical_party(party)]
        flows = [Flow(*values) for values in summed.values()]
        flows.sort(key=lambda flow: (flow.event_time, flow.event_id))
        return flows

    @cached_property
    def shipments(self) -> list[Flow]:
        return [flow for flow in self.flows if flow.term == "shipment"]

    @cached_property
    def receipts(self) -> list[Flow]:
        return [flow for flow in self.flows if flow.term == "receipt"]

    # Balances --------------------------------------------------------------------------------------------

    def balance_months(self, months: int) -> tuple[dt.date, int]:
        """(first month, count) of the ``months`` complete months up to the end of the evaluated day."""
        last = (self.end.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        index = last.year * 12 + last.month - 1 - (months - 1)
        return dt.date(index // 12, index % 12 + 1, 1), months


# --- Rules ------------------------------------------------------------------------------------------------

RuleFunction = Callable[[RunContext], list[Finding]]


def rule_a01(ctx: RunContext) -> list[Finding]:
    """A01: a shipment above ``multiple`` × the median of the buyer's shipments of that substance (from any
    seller) in the previous 12 months; ``alert_multiple`` × makes it an alert. Needs ``min_history`` earlier
    shipments (a buyer without history is A02's)."""
    findings: list[Finding] = []
    by_pair: dict[tuple[str, int], list[Flow]] = defaultdict(list)
    for flow in ctx.shipments:
        if flow.party:
            by_pair[(flow.party, flow.substance_id)].append(flow)
    for (buyer, substance_id), flows in by_pair.items():
        times = [flow.event_time for flow in flows]
        for index, flow in enumerate(flows):
            if flow.event_time < ctx.scan_start or not ctx.wanted(flow.enterprise_id):
                continue
            rules = ctx.rules(flow.enterprise_id, "A01")
            if not rules["enabled"]:
                continue
            start = bisect_left(times, flow.event_time - dt.timedelta(days=365), 0, index)
            history = [earlier.kg for earlier in flows[start:index] if earlier.event_id != flow.event_id]
            if len(history) < int(rules["min_history"]):
                continue
            median = statistics.median(history)
            if median <= 0 or flow.kg <= Decimal(str(rules["multiple"])) * median:
                continue
            ratio = float(flow.kg / median)
            level = WarningLevel.ALERT if ratio > float(rules["alert_multiple"]) else rules["level"]
            findings.append(
                Finding(
                    rule="A01",
                    level=level,
                    enterprise_id=flow.enterprise_id,
                    substance_id=substance_id,
                    dedup_key=f"A01:{flow.event_id}:{substance_id}",
                    message=gettext_noop(
                        "A shipment of %(kg)s kg of %(substance)s to %(buyer)s is %(ratio)s× the median of the "
                        "buyer's shipments of it in the previous 12 months (%(median)s kg over %(count)s "
                        "shipments); the threshold is %(multiple)s×."
                    ),
                    params={
                        "kg": _kg(flow.kg),
                        "substance": ctx.substance_name(substance_id),
                        "buyer": ctx.party_name(buyer),
                        "ratio": _ratio(ratio),
                        "median": _kg(median),
                        "count": len(history),
                        "multiple": rules["multiple"],
                    },
                    evidence=[event_evidence(flow.event_id, "shipment")],
                    window_start=ctx.day(flow.event_time),
                    window_end=ctx.day(flow.event_time),
                )
            )
    return findings


def _percentile(values: list[Decimal], percent: float) -> Decimal:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def rule_a02(ctx: RunContext) -> list[Finding]:
    """A02: the first shipment from a seller to a buyer it has not shipped to in ``new_after_days``: always for
    category 1, for categories 2 and 3 when the quantity is above the ``percentile`` of the seller's shipments
    of that substance in the previous 12 months (needs ``min_history`` of them)."""
    findings: list[Finding] = []
    last_to_buyer: dict[tuple[int, str], tuple[dt.datetime, int]] = {}
    opening_event: dict[tuple[int, str], int] = {}
    seller_history: dict[tuple[int, int], list[tuple[dt.datetime, Decimal]]] = defaultdict(list)
    for flow in ctx.shipments:
        history = seller_history[(flow.enterprise_id, flow.substance_id)]
        if flow.party and flow.party != ctx.firms[flow.enterprise_id].party:
            pair = (flow.enterprise_id, flow.party)
            rules = ctx.rules(flow.enterprise_id, "A02")
            previous = last_to_buyer.get(pair)
            if previous is None or (
                previous[1] != flow.event_id
                and flow.event_time - previous[0] > dt.timedelta(days=int(rules["new_after_days"]))
            ):
                opening_event[pair] = flow.event_id
            last_to_buyer[pair] = (flow.event_time, flow.event_id)
            if (
                rules["enabled"]
                and opening_event[pair] == flow.event_id
                and flow.event_time >= ctx.scan_start
                and ctx.wanted(flow.enterprise_id)
            ):
                finding = _a02_finding(ctx, flow, rules, history)
                if finding is not None:
                    findings.append(finding)
        history.append((flow.event_time, flow.kg))
    return findings


def _a02_finding(
    ctx: RunContext, flow: Flow, rules: dict[str, Any], history: list[tuple[dt.datetime, Decimal]]
) -> Finding | None:
    category = ctx.category(flow.substance_id)
    params: dict[str, Any] = {
        "seller": ctx.firms[flow.enterprise_id].name,
        "buyer": ctx.party_name(flow.party),
        "kg": _kg(flow.kg),
        "substance": ctx.substance_name(flow.substance_id),
        "category": category,
    }
    if category == 1:
        level = rules["category_1_level"]
        message = gettext_noop(
            "%(seller)s shipped %(kg)s kg of %(substance)s (category 1) to a new customer, %(buyer)s: the first "
            "shipment to this buyer in the period."
        )
    else:
        since = flow.event_time - dt.timedelta(days=365)
        earlier = [kg for when, kg in history if when >= since]
        if len(earlier) < int(rules["min_history"]):
            return None
        threshold = _percentile(earlier, float(rules["percentile"]))
        if flow.kg <= threshold:
            return None
        level = rules["level"]
        message = gettext_noop(
            "%(seller)s shipped %(kg)s kg of %(substance)s (category %(category)s) to a new customer, %(buyer)s, "
            "more than the p%(percentile)s of its shipments of it (%(threshold)s kg)."
        )
        params.update(percentile=rules["percentile"], threshold=_kg(threshold))
    return Finding(
        rule="A02",
        level=level,
        enterprise_id=flow.enterprise_id,
        substance_id=flow.substance_id,
        dedup_key=f"A02:{flow.event_id}:{flow.substance_id}",
        message=message,
        params=params,
        evidence=[event_evidence(flow.event_id, "shipment")],
        window_start=ctx.day(flow.event_time),
        window_end=ctx.day(flow.event_time),
    )


def _payment_method(document: Any) -> str:
    """The value of the event's ``…:paymentMethod`` extension field (any declared prefix), lower case."""
    if not isinstance(document, dict):
        return ""
    for key, value in document.items():
        if isinstance(key, str) and _last_segment(key) == "paymentMethod" and isinstance(value, str):
            return _last_segment(value.strip()).lower()
    return ""


def rule_a03(ctx: RunContext) -> list[Finding]:
    """A03: an event carrying a payment method among ``methods`` (cash, barter, third-party payer); the level
    per method from ``levels`` (cash is illegal: an alert), else ``level``."""
    findings: list[Finding] = []
    rows = (
        ctx.events()
        .filter(document__icontains="paymentMethod")
        .values_list("pk", "enterprise_id", "event_time", "document")
    )
    for pk, firm_id, when, document in rows:
        method = _payment_method(document)
        if not method or not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A03")
        if not rules["enabled"] or method not in rules["methods"]:
            continue
        findings.append(
            Finding(
                rule="A03",
                level=rules["levels"].get(method, rules["level"]),
                enterprise_id=firm_id,
                dedup_key=f"A03:{pk}",
                message=gettext_noop(
                    "%(firm)s recorded a transaction paid by %(method)s; precursors must be paid by bank "
                    "transfer (87号令 art. 4, 条例 art. 5)."
                ),
                params={"firm": ctx.firms[firm_id].name, "method": method},
                evidence=[event_evidence(pk, "payment")],
                window_start=ctx.day(when),
                window_end=ctx.day(when),
            )
        )
    return findings


def _named_permits(document: Any) -> list[str]:
    """The permit numbers an event's ``bizTransactionList`` names (``urn:jindu:permit:<number>``), in order."""
    entries = document.get("bizTransactionList") if isinstance(document, dict) else None
    numbers: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        uri = entry.get("bizTransaction") if isinstance(entry, dict) else None
        if isinstance(uri, str) and uri.startswith(PERMIT_PREFIX):
            number = uri[len(PERMIT_PREFIX) :].strip()
            if number and number not in numbers:
                numbers.append(number)
    return numbers


@dataclass(frozen=True)
class TransportPermit:
    """What a transport permit's application states about the delivery: consignee, destination, window."""

    number: str
    consignee_uscc: str
    consignee_name: str
    destination: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None


def _permit_evidence(ctx: RunContext, permit: TransportPermit) -> dict[str, Any]:
    def moment(value: dt.datetime | None) -> str:
        return f"{value.astimezone(ctx.zone):%Y-%m-%d %H:%M}" if value is not None else "…"

    window = f"{moment(permit.window_start)} – {moment(permit.window_end)}"
    consignee = permit.consignee_name or permit.consignee_uscc
    return {
        "kind": "permit",
        "id": permit.number,
        "summary": f"{permit.number}: {consignee} ({permit.consignee_uscc}), {permit.destination}; {window}",
        "data": {
            "number": permit.number,
            "consignee": permit.consignee_uscc,
            "consignee_name": permit.consignee_name,
            "destination": permit.destination,
            "window": window,
        },
    }


def rule_a04(ctx: RunContext) -> list[Finding]:
    """A04 unusual delivery, the part the platform sees without GPS: an event at one of ``biz_steps`` (shipping)
    naming a transport permit whose destination party (the ``destinationList``'s owning party, a registered
    firm's site read as the firm) is not the permit's consignee, or whose time lies outside the permit's
    transport window (``window_slack_hours`` either side): ``level`` (an alert), one finding per event, permit
    and problem. An event naming no destination is not compared; unknown permits are A10's (capture warnings).
    Route checks against GPS tracks come with the transport domain."""
    findings: list[Finding] = []
    candidates: list[tuple[int, int, dt.datetime, Any, list[str], dict[str, Any]]] = []
    rows = (
        ctx.events()
        .filter(document__icontains=PERMIT_PREFIX)
        .values_list("pk", "enterprise_id", "event_time", "biz_step", "document")
    )
    for pk, firm_id, when, biz_step, document in rows:
        if not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A04")
        if not rules["enabled"] or _last_segment(biz_step) not in rules["biz_steps"]:
            continue
        numbers = _named_permits(document)
        if numbers:
            candidates.append((pk, firm_id, when, document, numbers, rules))
    if not candidates:
        return findings
    wanted = sorted({number for *_head, numbers, _rules in candidates for number in numbers})
    permits: dict[str, TransportPermit] = {}
    for offset in range(0, len(wanted), 1000):
        for values in Permit.objects.filter(
            number__in=wanted[offset : offset + 1000], permit_type__in=TRANSPORT_PERMIT_TYPES
        ).values_list(
            "number",
            "application__counterparty_uscc",
            "application__counterparty_name",
            "application__destination",
            "application__window_start",
            "application__window_end",
        ):
            permits[values[0]] = TransportPermit(*values)
    for pk, firm_id, when, document, numbers, rules in candidates:
        destination = ctx.canonical_party(_counterparty(document.get("destinationList"), "destination"))
        slack = dt.timedelta(hours=float(rules["window_slack_hours"]))
        for number in numbers:
            permit = permits.get(number)
            if permit is None:
                continue
            evidence = [event_evidence(pk, "shipment"), _permit_evidence(ctx, permit)]
            params: dict[str, Any] = {
                "firm": ctx.firms[firm_id].name,
                "permit": number,
                "when": f"{when.astimezone(ctx.zone):%Y-%m-%d %H:%M}",
            }
            consignee = (
                ctx.canonical_party(PARTY_PREFIX + permit.consignee_uscc) if permit.consignee_uscc else ""
            )
            if destination and consignee and destination != consignee:
                findings.append(
                    Finding(
                        rule="A04",
                        level=rules["level"],
                        enterprise_id=firm_id,
                        dedup_key=f"A04:{pk}:{number}:consignee",
                        message=gettext_noop(
                            "%(firm)s shipped goods under transport permit %(permit)s on %(when)s to "
                            "%(destination)s, but the permit names the consignee %(consignee)s (to %(place)s)."
                        ),
                        params={
                            **params,
                            "destination": ctx.party_name(destination),
                            "consignee": permit.consignee_name or ctx.party_name(consignee),
                            "place": permit.destination,
                        },
                        evidence=[dict(item) for item in evidence],
                        window_start=ctx.day(when),
                        window_end=ctx.day(when),
                    )
                )
            early = permit.window_start is not None and when < permit.window_start - slack
            late = permit.window_end is not None and when > permit.window_end + slack
            if early or late:
                window = _permit_evidence(ctx, permit)["data"]["window"]
                findings.append(
                    Finding(
                        rule="A04",
                        level=rules["level"],
                        enterprise_id=firm_id,
                        dedup_key=f"A04:{pk}:{number}:window",
                        message=gettext_noop(
                            "%(firm)s shipped goods under transport permit %(permit)s on %(when)s, outside the "
                            "permit's transport window (%(window)s)."
                        ),
                        params={**params, "window": window},
                        evidence=[dict(item) for item in evidence],
                        window_start=ctx.day(when),
                        window_end=ctx.day(when),
                    )
                )
    return findings


FALSE_CHECK_VALUES = ("false", "no", "n", "0", "否")


def _kyc_checklist(document: Any) -> dict[str, Any] | None:
    """The event's ``…:kycChecklist`` extension object (any declared prefix), else None."""
    if not isinstance(document, dict):
        return None
    for key, value in document.items():
        if isinstance(key, str) and _last_segment(key) == "kycChecklist" and isinstance(value, dict):
            return value
    return None


def _failed_checks(checklist: dict[str, Any]) -> list[str]:
    """The checks answered false (``false``, or a "false"/"no" string), by name without prefix, sorted."""
    failed = []
    for key, value in checklist.items():
        answer = value.strip().lower() if isinstance(value, str) else value
        if answer is False or answer in FALSE_CHECK_VALUES:
            failed.append(_last_segment(str(key)))
    return sorted(failed)


def rule_a05(ctx: RunContext) -> list[Finding]:
    """A05 KYC at sale: an event at one of ``biz_steps`` (shipping) whose ``jd:kycChecklist`` extension answers
    any check false (buyer identity not verified, declared use not consistent…). The level is the highest of
    ``levels`` for the failed checks, else ``level``. A sale recorded without the checklist is silent: A05 sees
    only what the firms record."""
    findings: list[Finding] = []
    rows = (
        ctx.events()
        .filter(document__icontains="kycChecklist")
        .values_list("pk", "enterprise_id", "event_time", "biz_step", "document")
    )
    for pk, firm_id, when, biz_step, document in rows:
        if not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A05")
        if not rules["enabled"] or _last_segment(biz_step) not in rules["biz_steps"]:
            continue
        checklist = _kyc_checklist(document)
        failed = _failed_checks(checklist) if checklist is not None else []
        if not failed:
            continue
        levels = [rules["levels"].get(check, rules["level"]) for check in failed]
        level = max(levels, key=lambda value: LEVEL_RANK.get(value, 0))
        buyer = ctx.canonical_party(_counterparty(document.get("destinationList"), "destination"))
        findings.append(
            Finding(
                rule="A05",
                level=level,
                enterprise_id=firm_id,
                dedup_key=f"A05:{pk}",
                message=gettext_noop(
                    "%(firm)s recorded a sale to %(buyer)s whose know-your-customer checklist failed: "
                    "%(checks)s (EU 98/2013 art. 9(3): a suspicious order is to be reported)."
                ),
                params={
                    "firm": ctx.firms[firm_id].name,
                    "buyer": ctx.party_name(buyer),
                    "checks": ", ".join(failed),
                },
                evidence=[event_evidence(pk, "sale")],
                window_start=ctx.day(when),
                window_end=ctx.day(when),
            )
        )
    return findings


def rule_a06(ctx: RunContext) -> list[Finding]:
    """A06 unusual combinations: one buyer receiving, within ``window_days``, every substance of a route
    template (``templates``: catalogue codes). The buyer's deliveries are its own receipts and registered
    sellers' shipments naming it (as A07), so an unregistered buyer is seen through its sellers; the warning
    goes to the buyer if registered, else to the latest registered seller that shipped to it. One warning per
    buyer × template (new deliveries join it as evidence)."""
    findings: list[Finding] = []
    code_of = ctx.substance_codes
    deliveries: dict[str, list[tuple[dt.datetime, str, Flow]]] = defaultdict(list)
    for flow in ctx.shipments:
        if flow.party and flow.party != ctx.firms[flow.enterprise_id].party:
            deliveries[flow.party].append((flow.event_time, "shipment", flow))
    for flow in ctx.receipts:
        buyer = ctx.firms[flow.enterprise_id].party
        if flow.party != buyer:
            deliveries[buyer].append((flow.event_time, "receipt", flow))
    for buyer, entries in deliveries.items():
        entries.sort(key=lambda entry: (entry[0], entry[2].event_id))
        if entries[-1][0] < ctx.scan_start:
            continue
        buyer_firm = ctx.firm_by_party.get(buyer)
        rules = ctx.rules(buyer_firm if buyer_firm is not None else entries[-1][2].enterprise_id, "A06")
        if not rules["enabled"]:
            continue
        window = dt.timedelta(days=int(rules["window_days"]))
        for template in rules["templates"]:
            wanted = {str(code) for code in template.get("substances", [])}
            if not wanted:
                continue
            relevant = [entry for entry in entries if code_of.get(entry[2].substance_id) in wanted]
            firing: dict[int, tuple[dt.datetime, str, Flow]] = {}
            start = 0
            for end_index, (when, _term, _flow) in enumerate(relevant):
                while relevant[start][0] < when - window:
                    start += 1
                if when < ctx.scan_start:
                    continue
                in_window = relevant[start : end_index + 1]
                if {code_of.get(entry[2].substance_id) for entry in in_window} >= wanted:
                    for index in range(start, end_index + 1):
                        firing.setdefault(index, relevant[index])
            if not firing:
                continue
            fired = [firing[index] for index in sorted(firing)]
            if buyer_firm is not None:
                attributed = buyer_firm
            else:
                attributed = [entry for entry in fired if entry[1] == "shipment"][-1][2].enterprise_id
            if not ctx.wanted(attributed):
                continue
            names = sorted({ctx.substance_name(entry[2].substance_id) for entry in fired})
            findings.append(
                Finding(
                    rule="A06",
                    level=rules["level"],
                    enterprise_id=attributed,
                    dedup_key=f"A06:{buyer}:{template.get('id') or '+'.join(sorted(wanted))}",
                    message=gettext_noop(
                        "%(buyer)s received %(substances)s within %(days)s days: together they match the route "
                        "template %(template)s."
                    ),
                    params={
                        "buyer": ctx.party_name(buyer),
                        "substances": ", ".join(names),
                        "days": rules["window_days"],
                        "template": template.get("label") or template.get("id") or "",
                    },
                    evidence=[
                        event_evidence(event_id, "purchase")
                        for event_id in sorted({entry[2].event_id for entry in fired})
                    ],
                    window_start=ctx.day(fired[0][0]),
                    window_end=ctx.day(fired[-1][0]),
                )
            )
    return findings


def rule_a07(ctx: RunContext) -> list[Finding]:
    """A07 company shopping: one buyer receiving one substance from ``min_sellers`` or more sellers within
    ``window_days``, or more than the category's cap in total. The sellers are those whose shipments name the
    buyer and those the buyer's receipts name; a delivery both record counts once (the larger quantity)."""
    findings: list[Finding] = []
    deals: dict[tuple[str, int], list[tuple[dt.datetime, str, str, Flow]]] = defaultdict(list)
    for flow in ctx.shipments:
        if flow.party:
            seller = ctx.firms[flow.enterprise_id].party
            deals[(flow.party, flow.substance_id)].append((flow.event_time, seller, "shipment", flow))
    for flow in ctx.receipts:
        if flow.party:
            buyer = ctx.firms[flow.enterprise_id].party
            deals[(buyer, flow.substance_id)].append((flow.event_time, flow.party, "receipt", flow))
    for (buyer, substance_id), entries in deals.items():
        entries.sort(key=lambda entry: (entry[0], entry[3].event_id))
        buyer_firm = ctx.firm_by_party.get(buyer)
        firing: list[tuple[dt.datetime, str, str, Flow]] = []
        firing_indexes: set[int] = set()
        best_sellers: set[str] = set()
        best_total = Decimal(0)
        rules_firm = buyer_firm if buyer_firm is not None else entries[-1][3].enterprise_id
        rules = ctx.rules(rules_firm, "A07")
        if not rules["enabled"]:
            continue
        window = dt.timedelta(days=int(rules["window_days"]))
        cap_value = rules["cap_kg_by_category"].get(str(ctx.category(substance_id)))
        cap = Decimal(str(cap_value)) if cap_value is not None else None
        start = 0
        for end_index, (when, _seller, _term, _flow) in enumerate(entries):
            while entries[start][0] < when - window:
                start += 1
            if when < ctx.scan_start:
                continue
            in_window = entries[start : end_index + 1]
            shipped: dict[str, Decimal] = defaultdict(Decimal)
            received: dict[str, Decimal] = defaultdict(Decimal)
            for _when, seller, term, flow in in_window:
                (shipped if term == "shipment" else received)[seller] += flow.kg
            sellers = set(shipped) | set(received)
            total = sum((max(shipped[s], received[s]) for s in sellers), Decimal(0))
            if len(sellers) >= int(rules["min_sellers"]) or (cap is not None and total > cap):
                for index in range(start, end_index + 1):
                    if index not in firing_indexes:
                        firing_indexes.add(index)
                        firing.append(entries[index])
                if (len(sellers), total) > (len(best_sellers), best_total):
                    best_sellers, best_total = sellers, total
        if not firing:
            continue
        firing.sort(key=lambda entry: (entry[0], entry[3].event_id))
        if buyer_firm is not None:
            attributed = buyer_firm
        else:
            # An unregistered buyer: the warning goes to the latest registered seller that shipped to it.
            attributed = [entry for entry in firing if entry[2] == "shipment"][-1][3].enterprise_id
        if not ctx.wanted(attributed):
            continue
        events = sorted({entry[3].event_id for entry in firing})
        findings.append(
            Finding(
                rule="A07",
                level=rules["level"],
                enterprise_id=attributed,
                substance_id=substance_id,
                dedup_key=f"A07:{buyer}:{substance_id}",
                message=gettext_noop(
                    "%(buyer)s received %(substance)s from %(sellers)s sellers within %(days)s days, "
                    "%(kg)s kg in total (thresholds: %(min_sellers)s sellers or %(cap)s kg)."
                ),
                params={
                    "buyer": ctx.party_name(buyer),
                    "substance": ctx.substance_name(substance_id),
                    "sellers": len(best_sellers),
                    "days": rules["window_days"],
                    "kg": _kg(best_total),
                    "min_sellers": rules["min_sellers"],
                    "cap": cap_value if cap_value is not None else "—",
                },
                evidence=[event_evidence(event_id, "purchase") for event_id in events],
                window_start=ctx.day(firing[0][0]),
                window_end=ctx.day(firing[-1][0]),
            )
        )
    return findings


def _balance_evidence(ctx: RunContext, balance: FirmMonthBalance, summary: str) -> dict[str, Any]:
    result = balance.result
    terms = result.terms
    return {
        "kind": "balance",
        "id": f"{balance.enterprise_id}:{balance.substance_id}:{balance.month:%Y-%m}",
        "summary": summary,
        "data": {
            "month": f"{balance.month:%Y-%m}",
            "substance": ctx.substance_name(balance.substance_id),
            "opening": _kg(terms.opening_stock or 0),
            "receipts": _kg(terms.receipts),
            "production": _kg(terms.production),
            "shipments": _kg(terms.shipments),
            "consumption": _kg(terms.consumption),
            "losses": _kg(terms.documented_losses),
            "book": _kg(result.book_stock),
            "closing": _kg(result.closing_stock) if result.closing_stock is not None else None,
            "muf": _kg(result.muf) if result.muf is not None else None,
            "sigma": f"{result.sigma_muf:.3f}" if result.sigma_muf is not None else None,
            "z": f"{result.z_score:.2f}" if result.z_score is not None else None,
            "status": result.status,
        },
    }


def rule_a08(ctx: RunContext) -> list[Finding]:
    """A08: a monthly balance whose MUF is beyond tolerance (``warn_sigmas`` σ: warning, ``alert_sigmas`` σ:
    alert) in the last ``report_months`` complete months, and a CUSUM alarm on a firm's monthly MUF ratios
    (MUF / throughput) over ``months`` months, σ estimated robustly from the firm's own history."""
    findings: list[Finding] = []
    groups: dict[tuple[int, float, float], list[int]] = defaultdict(list)
    for firm in ctx.firms.values():
        if not ctx.wanted(firm.id):
            continue
        rules = ctx.rules(firm.id, "A08")
        if rules["enabled"]:
            groups[(int(rules["months"]), float(rules["warn_sigmas"]), float(rules["alert_sigmas"]))].append(
                firm.id
            )
    for (months, warn, alert), firm_ids in groups.items():
        first, count = ctx.balance_months(months)
        balances = _balances(
            ctx, firm_ids, first, count, BalanceSettings(warn_sigmas=warn, alert_sigmas=alert)
        )
        series: dict[tuple[int, int], list[FirmMonthBalance]] = defaultdict(list)
        for balance in balances:
            series[(balance.enterprise_id, balance.substance_id)].append(balance)
        for (firm_id, substance_id), rows in series.items():
            if not ctx.wanted(firm_id):
                continue
            rules = ctx.rules(firm_id, "A08")
            findings.extend(_muf_findings(ctx, firm_id, substance_id, rows, rules))
            if rules["cusum"]["enabled"]:
                finding = _cusum_finding(ctx, firm_id, substance_id, rows, rules["cusum"])
                if finding is not None:
                    findings.append(finding)
    return findings


BALANCE_CHUNK = 50


def _balances(
    ctx: RunContext, firm_ids: list[int], first: dt.date, count: int, settings: BalanceSettings
) -> list[FirmMonthBalance]:
    """``monthly_balances`` for the firms, ``BALANCE_CHUNK`` firms per call. A firm whose books cannot be
    balanced (``BalanceError``, e.g. a book stock gone negative: more shipped than ever recorded) is found by
    retrying its chunk firm by firm; it is left out and listed in the run's summary (``balance_errors``)
    instead of stopping the run."""
    results: list[FirmMonthBalance] = []
    for offset in range(0, len(firm_ids), BALANCE_CHUNK):
        chunk = firm_ids[offset : offset + BALANCE_CHUNK]
        try:
            results.extend(
                monthly_balances(first_month=first, months=count, settings=settings, enterprise_ids=chunk)
            )
            continue
        except BalanceError:
            pass
        for firm_id in chunk:
            try:
                results.extend(
                    monthly_balances(
                        first_month=first, months=count, settings=settings, enterprise_ids=[firm_id]
                    )
                )
            except BalanceError as error:
                ctx.balance_errors[firm_id] = str(error)
    covered = frozenset(month_starts(first, count))
    by_firm: dict[int, list[FirmMonthBalance]] = defaultdict(list)
    for balance in results:
        by_firm[balance.enterprise_id].append(balance)
    for firm_id in firm_ids:
        if firm_id not in ctx.balance_errors:
            ctx.loaded_balances[firm_id] = (covered, by_firm.get(firm_id, []))
    return results


def _muf_findings(
    ctx: RunContext, firm_id: int, substance_id: int, rows: list[FirmMonthBalance], rules: dict[str, Any]
) -> list[Finding]:
    findings = []
    for balance in rows[-int(rules["report_months"]) :]:
        result = balance.result
        if result.status not in ("warning", "alert") or result.muf is None:
            continue
        level = WarningLevel.ALERT if result.status == "alert" else WarningLevel.WARNING
        params = {
            "firm": ctx.firms[firm_id].name,
            "substance": ctx.substance_name(substance_id),
            "month": f"{balance.month:%Y-%m}",
            "muf": _kg(result.muf),
            "sigma": f"{result.sigma_muf or 0:.3f}",
            "z": f"{result.z_score:.1f}" if result.z_score is not None else "∞",
        }
        summary = (
            f"{params['month']} {params['substance']}: book {_kg(result.book_stock)} kg, counted "
            f"{_kg(result.closing_stock or 0)} kg, MUF {params['muf']} kg = {params['z']} σ"
        )
        findings.append(
            Finding(
                rule="A08",
                level=level,
                enterprise_id=firm_id,
                substance_id=substance_id,
                dedup_key=f"A08:{firm_id}:{substance_id}:{balance.month:%Y-%m}",
                message=gettext_noop(
                    "The %(month)s balance of %(substance)s at %(firm)s does not close: %(muf)s kg unaccounted "
                    "for (MUF), %(z)s σ (σ = %(sigma)s kg)."
                ),
                params=params,
                evidence=[_balance_evidence(ctx, balance, summary)],
                window_start=balance.month,
                window_end=month_starts(balance.month, 2)[1] - dt.timedelta(days=1),
            )
        )
    return findings


def _cusum_finding(
    ctx: RunContext, firm_id: int, substance_id: int, rows: list[FirmMonthBalance], rules: dict[str, Any]
) -> Finding | None:
    months = [balance for balance in rows if balance.result.muf_ratio is not None]
    if len(months) < int(rules["min_months"]):
        return None
    values = [float(balance.result.muf_ratio or 0) for balance in months]
    try:
        sigma = max(robust_sigma(values), float(rules["sigma_floor"]))
        slack, threshold = CusumSettings(
            slack_sigmas=float(rules["slack_sigmas"]), threshold_sigmas=float(rules["threshold_sigmas"])
        ).limits(sigma)
        result = cusum(values, slack_k=slack, threshold_h=threshold)
    except BalanceError:
        return None
    if result.first_alarm_index is None:
        return None
    alarm = result.first_alarm_index
    start = alarm
    while start > 0 and result.statistics[start - 1] > 0:
        start -= 1
    evidence = []
    for balance, statistic in zip(
        months[start : alarm + 1], result.statistics[start : alarm + 1], strict=True
    ):
        ratio = float(balance.result.muf_ratio or 0)
        evidence.append(
            _balance_evidence(
                ctx,
                balance,
                f"{balance.month:%Y-%m}: MUF {_kg(balance.result.muf or 0)} kg = {ratio:.2%} of throughput, "
                f"CUSUM {statistic:.4f}",
            )
        )
    alarm_month = months[alarm].month
    return Finding(
        rule="A08",
        level=rules["level"],
        enterprise_id=firm_id,
        substance_id=substance_id,
        dedup_key=f"A08:cusum:{firm_id}:{substance_id}",
        message=gettext_noop(
            "Repeated small shortages of %(substance)s at %(firm)s: the CUSUM of the monthly MUF ratio crossed "
            "its threshold (%(threshold)s) in %(month)s after %(count)s months of shortages."
        ),
        params={
            "firm": ctx.firms[firm_id].name,
            "substance": ctx.substance_name(substance_id),
            "threshold": f"{threshold:.4f}",
            "month": f"{alarm_month:%Y-%m}",
            "count": alarm - start + 1,
        },
        evidence=evidence,
        window_start=months[start].month,
        window_end=month_starts(alarm_month, 2)[1] - dt.timedelta(days=1),
    )


def rule_a09(ctx: RunContext) -> list[Finding]:
    """A09: a shipment to a registered firm whose receipt of that substance from that seller (or from an
    unnamed seller) is missing ``receipt_days`` after dispatch, or whose quantity differs by more than the
    ``allowance_fraction`` (``balance.reconcile_shipment``). Each receipt matches one shipment, the one nearest
    in time within ``match_days``, shipments taken in time order. The warning goes to the receiving firm."""
    findings: list[Finding] = []
    receipts: dict[tuple[int, int], list[Flow]] = defaultdict(list)
    for flow in ctx.receipts:
        receipts[(flow.enterprise_id, flow.substance_id)].append(flow)
    receipt_times = {key: [receipt.event_time for receipt in flows] for key, flows in receipts.items()}
    used: set[tuple[int, int]] = set()
    for flow in ctx.shipments:
        buyer_id = ctx.firm_by_party.get(flow.party) if flow.party else None
        if buyer_id is None or buyer_id == flow.enterprise_id:
            continue
        rules = ctx.rules(buyer_id, "A09")
        if not rules["enabled"]:
            continue
        seller = ctx.firms[flow.enterprise_id].party
        reach = dt.timedelta(days=int(rules["match_days"]))
        best: Flow | None = None
        key = (buyer_id, flow.substance_id)
        candidates = receipts.get(key, [])
        first = bisect_left(receipt_times.get(key, []), flow.event_time - reach)
        for receipt in candidates[first:]:
            if receipt.event_time > flow.event_time + reach:
                break
            if (receipt.event_id, receipt.substance_id) in used or receipt.party not in (seller, ""):
                continue
            gap = abs(receipt.event_time - flow.event_time)
            if gap <= reach and (best is None or gap < abs(best.event_time - flow.event_time)):
                best = receipt
        if best is not None:
            used.add((best.event_id, best.substance_id))
        if flow.event_time < ctx.scan_start or not ctx.wanted(buyer_id) or flow.kg <= 0:
            continue
        outcome = reconcile_shipment(
            flow.kg,
            best.kg if best else None,
            flow.event_time,
            best.event_time if best else None,
            as_of=ctx.end,
            max_transit=dt.timedelta(days=int(rules["receipt_days"])),
            allowance_fraction=Decimal(str(rules["allowance_fraction"])),
            clock_skew=dt.timedelta(minutes=int(rules["clock_skew_minutes"])),
        )
        if outcome.status in ("ok", "in_transit"):
            continue
        params: dict[str, Any] = {
            "seller": ctx.firms[flow.enterprise_id].name,
            "buyer": ctx.firms[buyer_id].name,
            "kg": _kg(flow.kg),
            "substance": ctx.substance_name(flow.substance_id),
            "shipped": f"{flow.event_time.astimezone(ctx.zone):%Y-%m-%d %H:%M}",
            "days": rules["receipt_days"],
        }
        level = rules["level"]
        if outcome.status == "missing_receipt":
            message = gettext_noop(
                "%(seller)s shipped %(kg)s kg of %(substance)s to %(buyer)s on %(shipped)s; %(buyer)s recorded "
                "no receipt within %(days)s days."
            )
        else:
            params.update(
                received=_kg(outcome.received_kg or 0),
                difference=_kg(outcome.srd_kg or 0),
                percent=f"{float(outcome.srd_fraction or 0):.2%}",
                allowance=_kg(outcome.allowance_kg),
            )
            if outcome.status == "srd_beyond_allowance":
                message = gettext_noop(
                    "%(seller)s shipped %(kg)s kg of %(substance)s to %(buyer)s on %(shipped)s, which received "
                    "%(received)s kg: %(difference)s kg (%(percent)s) missing, beyond the %(allowance)s kg "
                    "allowance."
                )
            elif outcome.status == "received_more":
                level = rules["received_more_level"]
                message = gettext_noop(
                    "%(seller)s shipped %(kg)s kg of %(substance)s to %(buyer)s on %(shipped)s, which received "
                    "%(received)s kg, more than was shipped beyond the %(allowance)s kg allowance."
                )
            else:
                level = rules["received_more_level"]
                message = gettext_noop(
                    "%(buyer)s recorded receiving %(received)s kg of %(substance)s before %(seller)s shipped "
                    "it on %(shipped)s."
                )
        evidence = [event_evidence(flow.event_id, "shipment")]
        if best is not None:
            evidence.append(event_evidence(best.event_id, "receipt"))
        findings.append(
            Finding(
                rule="A09",
                level=level,
                enterprise_id=buyer_id,
                substance_id=flow.substance_id,
                dedup_key=f"A09:{flow.event_id}:{flow.substance_id}",
                message=message,
                params=params,
                evidence=evidence,
                window_start=ctx.day(flow.event_time),
                window_end=ctx.day(outcome.due_by),
            )
        )
    return findings


PERMIT_CODES = ("expired_permit", "over_cap", "permit_already_used", "unknown_permit")


def rule_a10(ctx: RunContext) -> list[Finding]:
    """A10: permit problems the capture found on an event (``expired_permit``, ``over_cap``,
    ``permit_already_used``, ``unknown_permit``), one warning per event at the gravest code's level."""
    findings: list[Finding] = []
    condition = Q()
    for code in PERMIT_CODES:
        condition |= Q(warnings__icontains=code)
    for pk, firm_id, when, warnings in (
        ctx.events().filter(condition).values_list("pk", "enterprise_id", "event_time", "warnings")
    ):
        if not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A10")
        found = [w for w in warnings or [] if isinstance(w, dict) and w.get("code") in rules["levels"]]
        if not rules["enabled"] or not found:
            continue
        level = max((rules["levels"][w["code"]] for w in found), key=lambda value: LEVEL_RANK[value])
        evidence: list[dict[str, Any]] = [event_evidence(pk, "capture")]
        for index, warning in enumerate(found):
            evidence.append(
                {
                    "kind": "capture_warning",
                    "id": f"{pk}:{warning['code']}:{index}",
                    "event": pk,
                    "code": warning["code"],
                    "summary": str(warning.get("message") or warning["code"]),
                }
            )
        findings.append(
            Finding(
                rule="A10",
                level=level,
                enterprise_id=firm_id,
                dedup_key=f"A10:{pk}",
                message=gettext_noop("The capture of an event of %(firm)s found permit problems: %(codes)s."),
                params={"firm": ctx.firms[firm_id].name, "codes": ", ".join(w["code"] for w in found)},
                evidence=evidence,
                window_start=ctx.day(when),
                window_end=ctx.day(when),
            )
        )
    return findings


def _next_month(month: dt.date) -> dt.date:
    return month_starts(month, 2)[1]


def rule_a11(ctx: RunContext) -> list[Finding]:
    """A11 late or missing filings: shipments captured after their sales-report deadline, months with flows but
    no stocktake, and annual reports missing after their deadline or submitted late."""
    return _late_sales_reports(ctx) + _missing_stocktakes(ctx) + _annual_reports(ctx)


def _late_sales_reports(ctx: RunContext) -> list[Finding]:
    """A shipment (an event with quantities of a listed substance in the shipment term) recorded after its
    销售备案 deadline (``permit_rules.reporting_deadline``: the sale day + 5 days for category 1, + 30 for 2 and
    3; an event moving several categories takes the strictest), once that deadline has passed on the evaluated
    day: ``sales_report_level``, one per event. Shipments that happened or were recorded within the scan
    window are examined (a shipment recorded months late is still found)."""
    findings: list[Finding] = []
    rows = EpcisQuantity.objects.filter(
        Q(event_time__gte=ctx.scan_start) | Q(event__record_time__gte=ctx.scan_start),
        event_time__lt=ctx.end,
        balance_term="shipment",
        substance__isnull=False,
    )
    if ctx.enterprise_ids is not None:
        rows = rows.filter(enterprise_id__any=list(ctx.enterprise_ids))
    for event_id, firm_id, when, recorded, category in (
        rows.values_list("event_id", "enterprise_id", "event_time", "event__record_time")
        .annotate(category=Min("substance__category"))
        .order_by()
    ):
        if not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A11")
        if not rules["enabled"]:
            continue
        sold_on, recorded_on = ctx.day(when), ctx.day(recorded)
        try:
            deadline = reporting_deadline(category, sold_on, rules=DEFAULT_PERMIT_RULES)
        except PermitRuleError:
            continue
        if deadline >= ctx.as_of or recorded_on <= deadline:
            continue
        findings.append(
            Finding(
                rule="A11",
                level=rules["sales_report_level"],
                enterprise_id=firm_id,
                dedup_key=f"A11:sales-report:{event_id}",
                message=gettext_noop(
                    "%(firm)s recorded a sale (category %(category)s) of %(sold)s only on %(recorded)s, "
                    "%(days)s days after the sales-report deadline (%(deadline)s)."
                ),
                params={
                    "firm": ctx.firms[firm_id].name,
                    "category": category,
                    "sold": sold_on.isoformat(),
                    "recorded": recorded_on.isoformat(),
                    "deadline": deadline.isoformat(),
                    "days": (recorded_on - deadline).days,
                },
                evidence=[event_evidence(event_id, "shipment")],
                window_start=sold_on,
                window_end=recorded_on,
            )
        )
    return findings


def _missing_stocktakes(ctx: RunContext) -> list[Finding]:
    """A month with flows of a substance (receipts, production, shipments, consumption or losses) but no
    stocktake of it (balance status ``no_stocktake``), examined once the firm's ``stocktake_grace_days`` after the
    month's end have passed, while that deadline lies within the scan window (nightly runs see each month
    once; reruns are deduplicated): ``stocktake_level``, one per firm, substance and month. The balances A08
    computed in the run are reused; the other firms' are computed with the same grouped reads."""
    findings: list[Finding] = []
    first_day = ctx.day(ctx.scan_start)
    needed: dict[int, set[dt.date]] = {}
    for firm in ctx.firms.values():
        if not ctx.wanted(firm.id):
            continue
        rules = ctx.rules(firm.id, "A11")
        if not rules["enabled"]:
            continue
        grace = dt.timedelta(days=int(rules["stocktake_grace_days"]))
        month = (first_day - grace).replace(day=1)
        months: set[dt.date] = set()
        while month < ctx.as_of:
            deadline = _next_month(month) - dt.timedelta(days=1) + grace
            if first_day <= deadline < ctx.as_of:
                months.add(month)
            month = _next_month(month)
        if months:
            needed[firm.id] = months
    if not needed:
        return findings
    missing = [
        firm_id
        for firm_id, months in needed.items()
        if firm_id not in ctx.balance_errors
        and (firm_id not in ctx.loaded_balances or not months <= ctx.loaded_balances[firm_id][0])
    ]
    if missing:
        first = min(min(needed[firm_id]) for firm_id in missing)
        last = max(max(needed[firm_id]) for firm_id in missing)
        count = (last.year - first.year) * 12 + last.month - first.month + 1
        _balances(ctx, sorted(missing), first, count, BalanceSettings())
    for firm_id, months in needed.items():
        _covered, balances = ctx.loaded_balances.get(firm_id, (frozenset(), []))
        rules = ctx.rules(firm_id, "A11")
        for balance in balances:
            terms = balance.result.terms
            moved = (
                terms.receipts
                + terms.production
                + terms.shipments
                + terms.consumption
                + terms.documented_losses
            )
            if balance.month not in months or balance.result.status != "no_stocktake" or not moved:
                continue
            month_end = _next_month(balance.month) - dt.timedelta(days=1)
            params = {
                "firm": ctx.firms[firm_id].name,
                "substance": ctx.substance_name(balance.substance_id),
                "month": f"{balance.month:%Y-%m}",
                "deadline": (month_end + dt.timedelta(days=int(rules["stocktake_grace_days"]))).isoformat(),
            }
            summary = (
                f"{params['month']} {params['substance']}: receipts {_kg(terms.receipts)} kg, shipments "
                f"{_kg(terms.shipments)} kg, no stocktake"
            )
            findings.append(
                Finding(
                    rule="A11",
                    level=rules["stocktake_level"],
                    enterprise_id=firm_id,
                    substance_id=balance.substance_id,
                    dedup_key=f"A11:stocktake:{firm_id}:{balance.substance_id}:{balance.month:%Y-%m}",
                    message=gettext_noop(
                        "%(firm)s moved %(substance)s in %(month)s but recorded no stocktake of it by "
                        "%(deadline)s."
                    ),
                    params=params,
                    evidence=[_balance_evidence(ctx, balance, summary)],
                    window_start=balance.month,
                    window_end=month_end,
                )
            )
    return findings


def _annual_reports(ctx: RunContext) -> list[Finding]:
    """Annual reports (年度报告, ``annual_reports.annual_report_states`` on the evaluated day): a firm with ledger
    activity in a year whose report is still missing after the deadline (the permit rules in force for its
    district, 31 March of the next year by default): ``annual_report_missing_level``; a report first submitted
    after its deadline: ``annual_report_late_level``. The firm's last ``annual_report_years`` ended years are
    examined (reruns are deduplicated). One warning per firm and year (``A11:annual-report:<firm>:<year>``): a
    missing report that comes in late adds the report to the open warning, which then says it came late."""
    years_by_firm: dict[int, set[int]] = {}
    for firm in ctx.firms.values():
        if not ctx.wanted(firm.id):
            continue
        rules = ctx.rules(firm.id, "A11")
        if rules["enabled"]:
            back = int(rules["annual_report_years"])
            years_by_firm[firm.id] = {ctx.as_of.year - offset for offset in range(1, back + 1)}
    if not years_by_firm:
        return []
    states = annual_report_states(
        [(firm_id, ctx.firms[firm_id].org_path) for firm_id in years_by_firm],
        set().union(*years_by_firm.values()),
        today=ctx.as_of,
    )
    findings: list[Finding] = []
    for (firm_id, year), state in sorted(states.items()):
        if year not in years_by_firm[firm_id] or state.state not in (FilingState.MISSING, FilingState.LATE):
            continue
        rules = ctx.rules(firm_id, "A11")
        params: dict[str, Any] = {
            "firm": ctx.firms[firm_id].name,
            "year": year,
            "deadline": state.deadline.isoformat(),
        }
        evidence: list[dict[str, Any]] = [
            {
                "kind": "annual_report_due",
                "id": f"{firm_id}:{year}",
                "summary": f"{year}: ledger activity recorded, report due {state.deadline.isoformat()}",
                "data": {"year": year, "deadline": state.deadline.isoformat(), "active": state.active},
            }
        ]
        if state.state == FilingState.MISSING:
            level = rules["annual_report_missing_level"]
            message = gettext_noop(
                "%(firm)s recorded ledger activity in %(year)s but has not submitted its annual report on that "
                "year, due on %(deadline)s."
            )
            window_end = state.deadline
        else:
            assert state.submitted_on is not None
            level = rules["annual_report_late_level"]
            message = gettext_noop(
                "%(firm)s submitted its annual report on %(year)s on %(submitted)s, %(days)s days after the "
                "deadline (%(deadline)s)."
            )
            params.update(submitted=state.submitted_on.isoformat(), days=state.days_late)
            evidence.append(
                {
                    "kind": "annual_report",
                    "id": state.report_id,
                    "summary": f"{year}: first submitted {state.submitted_on.isoformat()}, "
                    f"{state.days_late} days late",
                }
            )
            window_end = state.submitted_on
        findings.append(
            Finding(
                rule="A11",
                level=level,
                enterprise_id=firm_id,
                dedup_key=f"A11:annual-report:{firm_id}:{year}",
                message=message,
                params=params,
                evidence=evidence,
                window_start=dt.date(year, 1, 1),
                window_end=window_end,
            )
        )
    return findings


def rule_a12(ctx: RunContext) -> list[Finding]:
    """A12: goods recorded as stolen or missing (disposition among ``dispositions``): an immediate alert,
    saying how long after the event it was recorded."""
    findings: list[Finding] = []
    dispositions: set[str] = set()
    for payload in ctx.book.payloads():
        dispositions.update(payload["rules"]["A12"]["dispositions"])
    values = [*dispositions, *(CBV_DISPOSITION + value for value in dispositions)]
    for pk, firm_id, when, recorded, disposition in (
        ctx.events()
        .filter(disposition__in=values)
        .values_list("pk", "enterprise_id", "event_time", "record_time", "disposition")
    ):
        if not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A12")
        if not rules["enabled"] or _last_segment(disposition) not in rules["dispositions"]:
            continue
        hours = max(0.0, (recorded - when).total_seconds() / 3600)
        findings.append(
            Finding(
                rule="A12",
                level=rules["level"],
                enterprise_id=firm_id,
                dedup_key=f"A12:{pk}",
                message=gettext_noop(
                    "%(firm)s recorded goods as %(disposition)s on %(when)s (recorded %(hours)s hours later): "
                    "theft or loss must be reported to the police at once."
                ),
                params={
                    "firm": ctx.firms[firm_id].name,
                    "disposition": _last_segment(disposition),
                    "when": f"{when.astimezone(ctx.zone):%Y-%m-%d %H:%M}",
                    "hours": f"{hours:.0f}",
                },
                evidence=[event_evidence(pk, "incident")],
                window_start=ctx.day(when),
                window_end=ctx.day(when),
            )
        )
    return findings


def rule_a13(ctx: RunContext) -> list[Finding]:
    """A13: within ``window_days``, a share above ``late_share`` of a firm's events (at least ``min_events``)
    recorded more than ``late_days`` after they happened, or ``error_declarations`` corrections or more."""
    findings: list[Finding] = []
    payloads = ctx.book.payloads()
    window_days = max(int(p["rules"]["A13"]["window_days"]) for p in payloads)
    late_days = min(int(p["rules"]["A13"]["late_days"]) for p in payloads)
    start = ctx.end - dt.timedelta(days=window_days)
    events = EpcisEvent.objects.filter(event_time__gte=start, event_time__lt=ctx.end)
    if ctx.enterprise_ids is not None:
        events = events.filter(enterprise_id__any=list(ctx.enterprise_ids))
    late = Q(record_time__gt=F("event_time") + dt.timedelta(days=late_days))
    corrected = Q(document__has_key="errorDeclaration")
    counts = (
        events.values("enterprise_id")
        .annotate(total=Count("pk"), late=Count("pk", filter=late), corrected=Count("pk", filter=corrected))
        .filter(Q(late__gt=0) | Q(corrected__gt=0))
        .order_by()
    )
    flagged: dict[int, dict[str, Any]] = {}
    for row in counts:
        firm_id = row["enterprise_id"]
        if not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A13")
        if not rules["enabled"]:
            continue
        share = row["late"] / row["total"] if row["total"] else 0.0
        late_fires = row["total"] >= int(rules["min_events"]) and share > float(rules["late_share"])
        corrections_fire = row["corrected"] >= int(rules["error_declarations"])
        if late_fires or corrections_fire:
            flagged[firm_id] = {
                "total": row["total"],
                "late": row["late"],
                "corrected": row["corrected"],
                "share": share,
                "rules": rules,
            }
    if not flagged:
        return findings
    evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pk, firm_id, is_corrected in (
        events.filter(enterprise_id__any=list(flagged))
        .filter(late | corrected)
        .annotate(is_corrected=Case(When(corrected, then=Value(True)), default=Value(False)))
        .values_list("pk", "enterprise_id", "is_corrected")
        .order_by("-event_time", "-pk")
    ):
        if len(evidence[firm_id]) < MAX_EVIDENCE:
            evidence[firm_id].append(event_evidence(pk, "correction" if is_corrected else "late"))
    for firm_id, found in flagged.items():
        rules = found["rules"]
        findings.append(
            Finding(
                rule="A13",
                level=rules["level"],
                enterprise_id=firm_id,
                dedup_key=f"A13:{firm_id}",
                message=gettext_noop(
                    "In the last %(days)s days %(firm)s recorded %(late)s of %(total)s events (%(share)s) more "
                    "than %(late_days)s days after they happened and corrected %(corrected)s events "
                    "(errorDeclaration)."
                ),
                params={
                    "firm": ctx.firms[firm_id].name,
                    "days": window_days,
                    "late": found["late"],
                    "total": found["total"],
                    "share": f"{found['share']:.0%}",
                    "late_days": late_days,
                    "corrected": found["corrected"],
                },
                evidence=evidence[firm_id],
                window_start=ctx.day(start),
                window_end=ctx.as_of,
            )
        )
    return findings


def rule_a14(ctx: RunContext) -> list[Finding]:
    """A14: a firm's first event in the scan window comes more than ``idle_days`` after its previous event. (A
    firm new to the platform has no previous event: its first captures are onboarding, not dormancy.)"""
    findings: list[Finding] = []
    firsts = dict(
        ctx.events()
        .values("enterprise_id")
        .annotate(first=Min("event_time"))
        .values_list("enterprise_id", "first")
        .order_by()
    )
    if not firsts:
        return findings
    previous = dict(
        EpcisEvent.objects.filter(enterprise_id__any=list(firsts), event_time__lt=ctx.scan_start)
        .values("enterprise_id")
        .annotate(last=Max("event_time"))
        .values_list("enterprise_id", "last")
        .order_by()
    )
    candidates: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    for firm_id, last in previous.items():
        first = firsts[firm_id]
        if not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A14")
        if rules["enabled"] and first - last > dt.timedelta(days=int(rules["idle_days"])):
            candidates[firm_id] = (first, last)
    if not candidates:
        return findings
    first_events: dict[int, int] = {}
    for pk, firm_id, when in (
        ctx.events()
        .filter(enterprise_id__any=list(candidates))
        .values_list("pk", "enterprise_id", "event_time")
        .order_by("event_time", "pk")
    ):
        if when == candidates[firm_id][0]:
            first_events.setdefault(firm_id, pk)
    for firm_id, (first, last) in candidates.items():
        rules = ctx.rules(firm_id, "A14")
        findings.append(
            Finding(
                rule="A14",
                level=rules["level"],
                enterprise_id=firm_id,
                dedup_key=f"A14:{firm_id}:{first_events[firm_id]}",
                message=gettext_noop(
                    "%(firm)s is active again on %(first)s after %(days)s days without any recorded activity "
                    "(last event %(since)s)."
                ),
                params={
                    "firm": ctx.firms[firm_id].name,
                    "days": (first - last).days,
                    "since": f"{last.astimezone(ctx.zone):%Y-%m-%d}",
                    "first": f"{first.astimezone(ctx.zone):%Y-%m-%d}",
                },
                evidence=[event_evidence(first_events[firm_id], "first activity")],
                window_start=ctx.day(last),
                window_end=ctx.day(first),
            )
        )
    return findings


def _watched_cas(epc_class: str) -> str:
    """The CAS number of a ``urn:jindu:class:<CAS>[:<lot>]`` class ("" for other classes)."""
    if not epc_class.startswith(CLASS_PREFIX):
        return ""
    return epc_class[len(CLASS_PREFIX) :].split(":", 1)[0]


def rule_a15(ctx: RunContext) -> list[Finding]:
    """A15 watch list: a firm receiving (or shipping) more than the threshold of a chemical of the policy's
    ``watch_list`` (non-listed, by CAS, named ``urn:jindu:class:<CAS>:<lot>``) within ``window_days``; the
    threshold is ``threshold_kg_by_cas`` else ``default_threshold_kg``, in kg of the quantity as recorded
    (mass units; a volume has no known density and is skipped). Above ``warning_multiple`` × the threshold it
    is a warning. One warning per firm × CAS × direction."""
    findings: list[Finding] = []
    payloads = ctx.book.payloads()
    watched: set[str] = set()
    for payload in payloads:
        watched.update(payload["rules"]["A15"]["watch_list"])
    if not watched:
        return findings
    window_days = max(int(p["rules"]["A15"]["window_days"]) for p in payloads)
    start = ctx.scan_start - dt.timedelta(days=window_days)
    classes = Q()
    for cas in sorted(watched):
        classes |= Q(epc_class=CLASS_PREFIX + cas) | Q(epc_class__startswith=f"{CLASS_PREFIX}{cas}:")
    rows = EpcisQuantity.objects.filter(
        classes,
        event_time__gte=start,
        event_time__lt=ctx.end,
        balance_term__in=["shipment", "receipt"],
        substance__isnull=True,
    )
    if ctx.enterprise_ids is not None:
        rows = rows.filter(enterprise_id__any=list(ctx.enterprise_ids))
    summed: dict[tuple[int, str, str, int], list[Any]] = {}
    for event_id, firm_id, when, epc_class, quantity, uom, kg_pure, term in rows.values_list(
        "event_id", "enterprise_id", "event_time", "epc_class", "quantity", "uom", "kg_pure", "balance_term"
    ).order_by():
        cas = _watched_cas(epc_class)
        if kg_pure is not None:
            kg = kg_pure
        elif quantity is not None and (uom or "").strip().upper() in MASS_UNITS_KG:
            kg = to_kg_pure(quantity, uom)
        else:
            continue
        key = (firm_id, cas, term, event_id)
        if key in summed:
            summed[key][1] += kg
        else:
            summed[key] = [when, kg]
    series: dict[tuple[int, str, str], list[tuple[dt.datetime, int, Decimal]]] = defaultdict(list)
    for (firm_id, cas, term, event_id), (when, kg) in summed.items():
        series[(firm_id, cas, term)].append((when, event_id, kg))
    for (firm_id, cas, term), entries in sorted(series.items()):
        if not ctx.wanted(firm_id):
            continue
        rules = ctx.rules(firm_id, "A15")
        if not rules["enabled"] or cas not in rules["watch_list"]:
            continue
        threshold = Decimal(str(rules["threshold_kg_by_cas"].get(cas, rules["default_threshold_kg"])))
        window = dt.timedelta(days=int(rules["window_days"]))
        entries.sort()
        firing: dict[int, tuple[dt.datetime, int, Decimal]] = {}
        best = Decimal(0)
        first = 0
        total = Decimal(0)
        for index, (when, _event_id, kg) in enumerate(entries):
            total += kg
            while entries[first][0] < when - window:
                total -= entries[first][2]
                first += 1
            if when < ctx.scan_start or total <= threshold:
                continue
            best = max(best, total)
            for earlier in range(first, index + 1):
                firing.setdefault(earlier, entries[earlier])
        if not firing:
            continue
        fired = [firing[index] for index in sorted(firing)]
        level = rules["level"]
        if best > threshold * Decimal(str(rules["warning_multiple"])):
            level = (
                WarningLevel.WARNING if LEVEL_RANK.get(level, 0) < LEVEL_RANK[WarningLevel.WARNING] else level
            )
        findings.append(
            Finding(
                rule="A15",
                level=level,
                enterprise_id=firm_id,
                dedup_key=f"A15:{firm_id}:{cas}:{term}",
                message=(
                    gettext_noop(
                        "%(firm)s received %(kg)s kg of %(chemical)s (CAS %(cas)s, on the watch list "
                        "%(version)s) within %(days)s days; the threshold is %(threshold)s kg."
                    )
                    if term == "receipt"
                    else gettext_noop(
                        "%(firm)s shipped %(kg)s kg of %(chemical)s (CAS %(cas)s, on the watch list "
                        "%(version)s) within %(days)s days; the threshold is %(threshold)s kg."
                    )
                ),
                params={
                    "firm": ctx.firms[firm_id].name,
                    "kg": _kg(best),
                    "chemical": rules["watch_list"][cas],
                    "cas": cas,
                    "version": rules["list_version"],
                    "days": rules["window_days"],
                    "threshold": _kg(threshold),
                },
                evidence=[
                    event_evidence(event_id, "receipt" if term == "receipt" else "shipment")
                    for event_id in sorted({entry[1] for entry in fired})
                ],
                window_start=ctx.day(fired[0][0]),
                window_end=ctx.day(fired[-1][0]),
            )
        )
    return findings


RULES: dict[str, RuleFunction] = {
    "A01": rule_a01,
    "A02": rule_a02,
    "A03": rule_a03,
    "A04": rule_a04,
    "A05": rule_a05,
    "A06": rule_a06,
    "A07": rule_a07,
    "A08": rule_a08,
    "A09": rule_a09,
    "A10": rule_a10,
    "A11": rule_a11,
    "A12": rule_a12,
    "A13": rule_a13,
    "A14": rule_a14,
    "A15": rule_a15,
}


# --- Storing findings ---------------------------------------------------------------------------------------


def _describe_events(event_ids: Iterable[int]) -> dict[int, str]:
    """One line per event for evidence: time, step or disposition, and its quantities (two queries)."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    zone = zoneinfo.ZoneInfo(django_settings.TIME_ZONE)
    quantities: dict[int, list[str]] = defaultdict(list)
    names = dict(Substance.objects.values_list("pk", "name_zh"))
    for event_id, substance_id, kg, quantity, uom, epc_class in EpcisQuantity.objects.filter(
        event_id__any=ids
    ).values_list("event_id", "substance_id", "kg_pure", "quantity", "uom", "epc_class"):
        if substance_id is not None and kg is not None:
            quantities[event_id].append(f"{_kg(kg)} kg {names.get(substance_id, '')}".strip())
        else:
            quantities[event_id].append(f"{_kg(quantity) if quantity is not None else '?'} {uom} {epc_class}")
    lines: dict[int, str] = {}
    for pk, event_type, when, step, disposition, firm in EpcisEvent.objects.filter(pk__any=ids).values_list(
        "pk", "event_type", "event_time", "biz_step", "disposition", "enterprise__name"
    ):
        what = " / ".join(filter(None, [_last_segment(step), _last_segment(disposition)])) or event_type
        amounts = ", ".join(quantities.get(pk, []))
        lines[pk] = f"{when.astimezone(zone):%Y-%m-%d %H:%M} {firm}: {what}" + (
            f", {amounts}" if amounts else ""
        )
    return lines


def _evidence_keys(evidence: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(item.get("kind")), str(item.get("id"))) for item in evidence}


@dataclass
class RunSummary:
    as_of: dt.date
    findings: int = 0
    flows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rule_seconds: dict[str, float] = field(default_factory=dict)
    balance_errors: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "findings": self.findings,
            "flows": self.flows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "suppressed": self.suppressed,
            "by_rule": dict(sorted(self.by_rule.items())),
            "seconds": round(self.seconds, 3),
            "rule_seconds": {k: round(v, 3) for k, v in sorted(self.rule_seconds.items())},
            # Firms whose balances could not be computed (A08 skipped them): how many, and the first few.
            "balance_errors": {
                "count": len(self.balance_errors),
                "firms": {str(k): v for k, v in sorted(self.balance_errors.items())[:20]},
            },
        }


def run_warnings(
    as_of: dt.date | None = None,
    *,
    enterprise_ids: Iterable[int] | None = None,
    rules: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Evaluate the rules for the day ``as_of`` (default today) over every firm (or ``enterprise_ids``) and
    store the findings as warnings. Returns a summary: findings, warnings created, open warnings given new
    evidence, findings already known (unchanged) or closed before with the same evidence (suppressed), per rule
    counts and timings."""
    started = time.monotonic()
    as_of = as_of or timezone.localdate()
    ctx = RunContext(as_of, enterprise_ids=enterprise_ids)
    summary = RunSummary(as_of=as_of)
    findings: list[Finding] = []
    codes = list(rules or RULES)
    if {"A01", "A02", "A06", "A07", "A09"} & set(codes):
        begun = time.monotonic()
        summary.flows = len(ctx.flows)
        summary.rule_seconds["load_flows"] = time.monotonic() - begun
    for code in codes:
        begun = time.monotonic()
        found = RULES[code](ctx)
        summary.rule_seconds[code] = time.monotonic() - begun
        summary.by_rule[code] = len(found)
        findings.extend(found)
    summary.findings = len(findings)
    summary.balance_errors = ctx.balance_errors
    _store(ctx, findings, summary)
    summary.seconds = time.monotonic() - started
    return summary.as_dict()


def _store(ctx: RunContext, findings: list[Finding], summary: RunSummary) -> None:
    merged: dict[str, Finding] = {}
    for finding in findings:
        known = merged.get(finding.dedup_key)
        if known is None:
            merged[finding.dedup_key] = finding
        else:
            known_keys = _evidence_keys(known.evidence)
            known.evidence.extend(
                item for item in finding.evidence if (item["kind"], str(item["id"])) not in known_keys
            )
    if not merged:
        return
    lines = _describe_events(
        item["id"]
        for finding in merged.values()
        for item in finding.evidence
        if item["kind"] == "epcis_event"
    )
    for finding in merged.values():
        for item in finding.evidence:
            if item["kind"] == "epcis_event" and not item.get("summary"):
                item["summary"] = lines.get(item["id"], "")
        finding.evidence = finding.evidence[:MAX_EVIDENCE]
    now = timezone.now()
    keys = list(merged)
    with transaction.atomic():
        open_by_key: dict[str, DiversionWarning] = {}
        closed_evidence: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for offset in range(0, len(keys), 500):
            for warning in DiversionWarning.objects.filter(dedup_key__in=keys[offset : offset + 500]):
                if warning.status == WarningStatus.CLOSED:
                    closed_evidence[warning.dedup_key] |= _evidence_keys(warning.evidence)
                else:
                    open_by_key[warning.dedup_key] = warning
        created: list[DiversionWarning] = []
        history: list[WarningEvent] = []
        for key, finding in merged.items():
            existing = open_by_key.get(key)
            new_keys = _evidence_keys(finding.evidence)
            if existing is not None:
                added = [
                    item
                    for item in finding.evidence
                    if (item["kind"], str(item["id"])) not in _evidence_keys(existing.evidence)
                ]
                if not added:
                    summary.unchanged += 1
                    continue
                existing.evidence = (added + list(existing.evidence))[:MAX_EVIDENCE]
                existing.message, existing.params = finding.message, finding.params
                if LEVEL_RANK[WarningLevel(finding.level)] > LEVEL_RANK[WarningLevel(existing.level)]:
                    existing.level = finding.level
                existing.window_start = min(
                    filter(None, [existing.window_start, finding.window_start]), default=None
                )
                existing.window_end = max(
                    filter(None, [existing.window_end, finding.window_end]), default=None
                )
                existing.save(
                    update_fields=[
                        "evidence",
                        "message",
                        "params",
                        "level",
                        "window_start",
                        "window_end",
                        "last_updated",
                    ]
                )
                history.append(
                    WarningEvent(
                        warning=existing,
                        kind=WarningEventKind.UPDATED,
                        status=existing.status,
                        at=now,
                        detail={"added": [str(item["id"]) for item in added], "as_of": ctx.as_of.isoformat()},
                    )
                )
                summary.updated += 1
                continue
            if key in closed_evidence and new_keys <= closed_evidence[key]:
                summary.suppressed += 1
                continue
            firm = ctx.firms[finding.enterprise_id]
            version, payload = ctx.book.resolve(firm.org_path)
            hours = float(payload["sla_hours"].get(finding.level, 0))
            created.append(
                DiversionWarning(
                    rule=finding.rule,
                    level=finding.level,
                    enterprise_id=firm.id,
                    substance_id=finding.substance_id,
                    window_start=finding.window_start,
                    window_end=finding.window_end,
                    dedup_key=key,
                    message=finding.message,
                    params=finding.params,
                    evidence=finding.evidence,
                    status=WarningStatus.NEW,
                    raised_at=now,
                    as_of=ctx.as_of,
                    due_at=now + dt.timedelta(hours=hours),
                    policy_version=version,
                    org_unit_id=firm.org_unit_id,
                    org_path=firm.org_path,
                )
            )
        DiversionWarning.objects.bulk_create(created, batch_size=500)
        for warning in created:
            history.append(
                WarningEvent(
                    warning=warning,
                    kind=WarningEventKind.RAISED,
                    status=WarningStatus.NEW,
                    at=now,
                    detail={"as_of": ctx.as_of.isoformat(), "level": warning.level},
                )
            )
        WarningEvent.objects.bulk_create(history, batch_size=1000)
        summary.created = len(created)
        if created or summary.updated:
            audit_write(
                action=AuditAction.CREATE,
                object_type=DiversionWarning._meta.label_lower,
                object_id=f"run:{ctx.as_of.isoformat()}",
                object_repr=f"diversion warnings {ctx.as_of.isoformat()}",
                detail={
                    "as_of": ctx.as_of.isoformat(),
                    "created": summary.created,
                    "updated": summary.updated,
                    "by_rule": dict(sorted(summary.by_rule.items())),
                },
            )


# --- Lifecycle services -------------------------------------------------------------------------------------


class WarningConflict(ServiceError):
    """The step does not follow from the warning's current status."""

    status = 409


def roles_handling_warnings() -> list[str]:
    """The roles whose permissions include managing firms (offices, police)."""
    return [role for role, perms in ROLE_PERMISSIONS.items() if MANAGE_ENTERPRISES in perms]


def may_handle(user: Any, warning: DiversionWarning) -> bool:
    """Whether ``user`` is an official who may work this warning: the role manages firms and the firm's district
    lies in the user's capture scope."""
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.has_jindu_perm(MANAGE_ENTERPRISES)
        and user.has_jindu_perm(VIEW_PRECURSORS)
        and in_roots(warning.org_unit_id, capture_root_ids(user))
    )


def _check_writable(actor: Any, warning: DiversionWarning) -> None:
    if actor is None:
        return
    if not user_may(actor, DiversionWarning, WRITE) or not in_roots(
        warning.org_unit_id, capture_root_ids(actor)
    ):
        raise NotFound()


def _locked(warning: DiversionWarning) -> DiversionWarning:
    return DiversionWarning.objects.select_for_update().select_related("org_unit").get(pk=warning.pk)


def _refuse_transition(warning: DiversionWarning, step: str) -> None:
    raise WarningConflict(
        _("A %(status)s warning cannot be %(step)s.")
        % {"status": WarningStatus(warning.status).label, "step": step},
        code="invalid_transition",
        fields={"status": warning.status},
    )


def _actor_user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _transition(
    actor: Any,
    warning: DiversionWarning,
    kind: str,
    note: str,
    detail: dict[str, Any],
    previous: str,
) -> None:
    WarningEvent.objects.create(
        warning=warning,
        kind=kind,
        status=warning.status,
        actor=_actor_user(actor),
        at=timezone.now(),
        note=note,
        detail=detail,
    )
    audit_write(
        action=AuditAction.UPDATE,
        actor=actor,
        obj=warning,
        detail={"step": kind, "from": previous, "to": warning.status, "rule": warning.rule, **detail},
    )


def warning_assign(
    *, actor: Any, warning: DiversionWarning, assignee: Any, note: str = ""
) -> DiversionWarning:
    """Assign a new (or reassign an assigned) warning to an official of the firm's district."""
    _check_writable(actor, warning)
    note = (note or "").strip()
    with transaction.atomic():
        current = _locked(warning)
        if current.status not in (WarningStatus.NEW, WarningStatus.ASSIGNED):
            _refuse_transition(current, _("assigned"))
        if assignee is None or not may_handle(assignee, current):
            raise ServiceError(
                _("The warning cannot be assigned: the assignee must be an official of the firm's district."),
                fields={"assignee": _("not an official who may handle warnings of this district")},
            )
        if current.status == WarningStatus.ASSIGNED and current.assignee_id == assignee.pk:
            raise WarningConflict(
                _("The warning is already assigned to %(user)s.") % {"user": assignee.get_username()},
                code="already_assigned",
                fields={"assignee": _("already assigned")},
            )
        previous = current.status
        current.status = WarningStatus.ASSIGNED
        current.assignee = assignee
        current.assigned_at = timezone.now()
        current.save(update_fields=["status", "assignee", "assigned_at", "last_updated"])
        _transition(
            actor, current, WarningEventKind.ASSIGNED, note, {"assignee": assignee.get_username()}, previous
        )
    return current


def warning_verify(*, actor: Any, warning: DiversionWarning, note: str) -> DiversionWarning:
    """Record that the assigned official checked the facts (what was checked goes in ``note``)."""
    _check_writable(actor, warning)
    note = (note or "").strip()
    if not note:
        raise ServiceError(_("Say what was checked to verify the warning."), fields={"note": _("required")})
    with transaction.atomic():
        current = _locked(warning)
        if current.status != WarningStatus.ASSIGNED:
            _refuse_transition(current, _("verified"))
        previous = current.status
        current.status = WarningStatus.VERIFIED
        current.verified_at = timezone.now()
        current.save(update_fields=["status", "verified_at", "last_updated"])
        _transition(actor, current, WarningEventKind.VERIFIED, note, {}, previous)
    return current


def warning_close(*, actor: Any, warning: DiversionWarning, outcome: str, note: str = "") -> DiversionWarning:
    """Close a verified warning with its outcome (false positive, corrected, referred, case opened)."""
    _check_writable(actor, warning)
    note = (note or "").strip()
    if not outcome:
        raise ServiceError(_("A warning is closed with an outcome."), fields={"outcome": _("required")})
    if outcome not in WarningOutcome.values:
        raise ServiceError(
            _("Unknown outcome %(outcome)s.") % {"outcome": outcome},
            fields={"outcome": _("one of %(values)s") % {"values": ", ".join(WarningOutcome.values)}},
        )
    with transaction.atomic():
        current = _locked(warning)
        if current.status != WarningStatus.VERIFIED:
            _refuse_transition(current, _("closed"))
        previous = current.status
        current.status = WarningStatus.CLOSED
        current.outcome = outcome
        current.closed_at = timezone.now()
        current.save(update_fields=["status", "outcome", "closed_at", "last_updated"])
        _transition(actor, current, WarningEventKind.CLOSED, note, {"outcome": outcome}, previous)
    return current


# --- Selectors ------------------------------------------------------------------------------------------------


def warnings_for_user(user: Any) -> QuerySet[DiversionWarning]:
    """Warnings of the firms in the user's scope (officials). Firms' own users get none: their role does not
    carry ``precursors.view_precursors``."""
    return DiversionWarning.objects.for_user(user)


def warnings_search(
    user: Any,
    *,
    rule: str = "",
    level: str = "",
    status: str = "",
    enterprise_id: int | None = None,
    open_only: bool = False,
) -> QuerySet[DiversionWarning]:
    warnings = warnings_for_user(user)
    if rule:
        warnings = warnings.filter(rule=rule)
    if level:
        warnings = warnings.filter(level=level)
    if status:
        warnings = warnings.filter(status=status)
    elif open_only:
        warnings = warnings.exclude(status=WarningStatus.CLOSED)
    if enterprise_id is not None:
        warnings = warnings.filter(enterprise_id=enterprise_id)
    return warnings.select_related("enterprise", "substance", "assignee", "org_unit").order_by(
        "-raised_at", "-pk"
    )


def access_warning(user: Any, pk: Any, *, action: str = READ) -> DiversionWarning:
    """One warning in the user's scope (search scope to read, capture scope to act), else NotFound."""
    return access_object(
        user,
        DiversionWarning.objects.select_related(
            "enterprise", "substance", "assignee", "org_unit", "policy_version"
        ),
        pk,
        action=action,
    )


def warning_history(warning: DiversionWarning) -> list[WarningEvent]:
    return list(warning.history.select_related("actor").order_by("at", "pk"))


def eligible_assignees(warning: DiversionWarning) -> QuerySet[User]:
    """Active officials whose role handles warnings and whose capture scope holds the firm's district."""
    ancestors = OrgUnitClosure.objects.filter(descendant_id=warning.org_unit_id).values("ancestor_id")
    return (
        User.objects.filter(
            is_active=True,
            roles__role__in=roles_handling_warnings(),
            capture_scope__in=ancestors,
        )
        .distinct()
        .order_by("username")
    )


def evidence_events(user: Any, warning: DiversionWarning) -> dict[int, EpcisEvent]:
    """The warning's evidence events the user may read (events of firms outside their scope stay a summary
    line), with their quantities."""
    from jindu.precursors.selectors import events_for_user

    ids = [item["id"] for item in warning.evidence if item.get("kind") == "epcis_event"]
    if not ids:
        return {}
    events = (
        events_for_user(user)
        .filter(pk__in=ids)
        .select_related("enterprise")
        .prefetch_related("quantities__substance")
    )
    return {event.pk: event for event in events}


def rule_precision(user: Any = None) -> list[dict[str, Any]]:
    """Per rule: warnings open and closed, closed as true positives (corrected, referred, case opened) and as
    false positives, and precision = true positives / closed (None before any is closed). Over the user's
    scope, or everything when ``user`` is None."""
    warnings = DiversionWarning.objects.all() if user is None else warnings_for_user(user)
    closed = Q(status=WarningStatus.CLOSED)
    rows = {
        row["rule"]: row
        for row in warnings.values("rule")
        .annotate(
            open=Count("pk", filter=~closed),
            closed=Count("pk", filter=closed),
            true_positive=Count("pk", filter=closed & Q(outcome__in=list(TRUE_POSITIVE_OUTCOMES))),
            false_positive=Count("pk", filter=closed & Q(outcome=WarningOutcome.FALSE_POSITIVE)),
        )
        .order_by()
    }
    result = []
    for code in RuleCode:
        found = rows.get(code.value)
        if found is None and code.value not in IMPLEMENTED_RULES:
            continue
        row: dict[str, Any] = (
            dict(found)
            if found is not None
            else {"open": 0, "closed": 0, "true_positive": 0, "false_positive": 0}
        )
        result.append(
            {
                "rule": code.value,
                "label": str(code.label),
                "implemented": code.value in IMPLEMENTED_RULES,
                "open": row["open"],
                "closed": row["closed"],
                "true_positive": row["true_positive"],
                "false_positive": row["false_positive"],
                "precision": round(row["true_positive"] / row["closed"], 4) if row["closed"] else None,
            }
        )
    return result
