"""The firms' 禁毒信用 rating from what the platform knows (precursors.md §5.2, a PROPOSED scheme).

``credit.py`` scores facts; this module finds the facts in the captured ledgers and stores the result:

- static risk: the highest category the firm handled in the last twelve months (and 药品类 items);
- records: sales reported late — a shipment counts as reported (销售备案) when it is captured, so a shipment
  captured more than 5 days (category 1) or 30 days (categories 2 and 3) after it happened is a late report;
  and annual reports (年度报告) first submitted after their deadline (31 March by default), or still missing after
  it from a firm with ledger activity in the year (``late_annual_report``, from
  ``annual_reports.annual_report_credit_facts``);
- flow and balance: each month whose mass balance breaks 2σ (or 3σ); each capture warning of a permit used
  over its cap;
- vetoes: cash trade (``jd:paymentMethod`` cash or barter on a captured event);
- inspections: failed storage items, rectifications closed after their deadline, penalties (minor or major),
  refused inspections (a veto), from ``inspections.inspection_credit_facts``.

Facts the platform does not hold yet (training records) are not scored. The scheme itself is a versioned policy
(``precursors.credit_scheme``), shipped as the proposal the office has to approve.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from jindu.core.audit import audit_write
from jindu.core.jobs import JobReporter, register_job
from jindu.core.models import AuditAction, PolicyVersion
from jindu.core.policy import policy_in_force
from jindu.precursors.balance import BalanceSettings
from jindu.precursors.balances import month_start, monthly_balances
from jindu.precursors.credit import DEFAULT_CREDIT_SCHEME, CreditFact, inspection_plan, score_enterprise
from jindu.precursors.models import CreditRating, Enterprise, EpcisEvent, EpcisQuantity
from jindu.precursors.permit_rules import DEFAULT_PERMIT_RULES, reporting_deadline

CREDIT_SCHEME = "precursors.credit_scheme"
DEFAULT_EFFECTIVE_FROM = dt.date(2026, 1, 1)
CASH_METHODS = {"cash", "barter"}


def install_default_credit_scheme(policy_model: Any = PolicyVersion) -> None:
    """Install the proposed scheme as the national default version (data migration; tests after a flush)."""
    policy_model.objects.get_or_create(
        kind=CREDIT_SCHEME,
        region=None,
        effective_from=DEFAULT_EFFECTIVE_FROM,
        defaults={
            "label": "Proposed scheme (shipped; the office approves or replaces it)",
            "payload": DEFAULT_CREDIT_SCHEME,
            "source": "precursors.md §5.2 (PROPOSED)",
            "is_default": True,
        },
    )


def credit_facts(enterprise_ids: list[int], as_of: dt.date) -> dict[int, list[CreditFact]]:
    """The facts of each firm on ``as_of`` that the platform can establish, read for all firms at once."""
    facts: dict[int, list[CreditFact]] = defaultdict(list)
    year_ago = timezone.make_aware(dt.datetime.combine(as_of - dt.timedelta(days=365), dt.time()))
    until = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))
    # Static risk: the highest category handled (and 药品类), one fact each.
    handled = (
        EpcisQuantity.objects.filter(
            enterprise_id__any=enterprise_ids,
            event_time__gte=year_ago,
            event_time__lt=until,
            substance__isnull=False,
        )
        .values_list("enterprise_id", "substance__category", "substance__drug_class")
        .distinct()
    )
    categories: dict[int, set[int]] = defaultdict(set)
    drug_class: set[int] = set()
    for enterprise_id, category, is_drug in handled:
        categories[enterprise_id].add(category)
        if is_drug:
            drug_class.add(enterprise_id)
    for enterprise_id, found in categories.items():
        if 1 in found:
            facts[enterprise_id].append(
                CreditFact("handles_category_1", as_of, f"enterprise:{enterprise_id}")
            )
        elif 2 in found:
            facts[enterprise_id].append(
                CreditFact("handles_category_2", as_of, f"enterprise:{enterprise_id}")
            )
    for enterprise_id in drug_class:
        facts[enterprise_id].append(CreditFact("handles_drug_class", as_of, f"enterprise:{enterprise_id}"))
    # Late sales reports: shipments captured after their reporting deadline.
    shipments = (
        EpcisQuantity.objects.filter(
            enterprise_id__any=enterprise_ids,
            balance_term="shipment",
            event_time__gte=year_ago,
            event_time__lt=until,
            substance__isnull=False,
        )
        .values("event_id", "enterprise_id", "event_time", "event__record_time")
        .annotate(category=Min("substance__category"))
        .order_by()
    )
    zone = timezone.get_current_timezone()
    for row in shipments:
        sold_on = row["event_time"].astimezone(zone).date()
        reported_on = row["event__record_time"].astimezone(zone).date()
        if reported_on > reporting_deadline(row["category"], sold_on, rules=DEFAULT_PERMIT_RULES):
            facts[row["enterprise_id"]].append(
                CreditFact(
                    "late_sales_report", reported_on, f"epcis:{row['event_id']}", note=f"sold {sold_on}"
                )
            )
    # Balances beyond tolerance, month by month.
    first_month = month_start(as_of, -12)
    for balance in monthly_balances(
        first_month=first_month, months=12, settings=BalanceSettings(), enterprise_ids=enterprise_ids
    ):
        if balance.result.status in ("warning", "alert"):
            month_end = month_start(balance.month, 1) - dt.timedelta(days=1)
            if month_end > as_of:
                continue
            facts[balance.enterprise_id].append(
                CreditFact(
                    "muf_3sigma" if balance.result.status == "alert" else "muf_2sigma",
                    month_end,
                    f"balance:{balance.enterprise_id}:{balance.substance_id}:{balance.month:%Y-%m}",
                    note=f"MUF {balance.result.muf} kg",
                )
            )
    # Annual reports submitted late or missing after their deadline.
    from jindu.precursors.annual_reports import annual_report_credit_facts

    for firm_id, report_facts in annual_report_credit_facts(enterprise_ids, as_of).items():
        facts[firm_id].extend(report_facts)
    # Inspections: failed storage items, rectifications closed late, penalties, refused inspections.
    from jindu.precursors.inspections import inspection_credit_facts

    for firm_id, inspection_facts in inspection_credit_facts(enterprise_ids, as_of).items():
        facts[firm_id].extend(inspection_facts)
    # Capture warnings (permit over-use) and vetoes (cash trade) from the stored events.
    events = EpcisEvent.objects.filter(
        enterprise_id__any=enterprise_ids, event_time__gte=year_ago, event_time__lt=until
    ).values_list("pk", "enterprise_id", "event_time", "warnings", "document")
    for pk, enterprise_id, when, warnings, document in events.iterator(chunk_size=5000):
        day = when.astimezone(zone).date()
        if any(warning.get("code") == "over_cap" for warning in warnings or []):
            facts[enterprise_id].append(CreditFact("permit_overuse", day, f"epcis:{pk}"))
        method = str((document or {}).get("jd:paymentMethod", "")).lower()
        if method in CASH_METHODS:
            facts[enterprise_id].append(CreditFact("cash_trade", day, f"epcis:{pk}", note=method))
    return facts


def _plain(value: Any) -> Any:
    """Dataclasses, dates and decimals of a score as JSON data."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    return value


def rate_enterprises(
    *, as_of: dt.date | None = None, enterprise_ids: Iterable[int] | None = None, trigger: str = "monthly"
) -> int:
    """Score every firm (or these) on ``as_of`` under the scheme in force for its district, store a rating
    row each, keep the firm's grade and score current. Returns the number of firms rated."""
    as_of = as_of or timezone.localdate()
    firms = list(
        Enterprise.objects.select_related("org_unit").filter(
            **({"pk__any": list(enterprise_ids)} if enterprise_ids is not None else {})
        )
    )
    facts = credit_facts([firm.pk for firm in firms], as_of)
    schemes: dict[int, PolicyVersion] = {}
    ratings = []
    for firm in firms:
        scheme = schemes.get(firm.org_unit_id)
        if scheme is None:
            scheme = schemes[firm.org_unit_id] = policy_in_force(CREDIT_SCHEME, firm.org_unit, as_of)
        result = score_enterprise(facts.get(firm.pk, []), scheme.payload, as_of)
        firm.credit_grade, firm.credit_score = result.grade, result.score
        ratings.append(
            CreditRating(
                enterprise=firm,
                org_unit_id=firm.org_unit_id,
                org_path=firm.org_path,
                as_of=as_of,
                scheme=scheme,
                score=result.score,
                grade=result.grade,
                grade_by_score=result.grade_by_score,
                reasons=_plain([asdict(reason) for reason in result.reasons]),
                vetoes=_plain([asdict(veto) for veto in result.veto_reasons]),
                supervision=_plain(result.supervision),
                inspection_plan=[
                    day.isoformat() for day in inspection_plan(result.grade, scheme.payload, as_of.year)
                ],
                trigger=trigger,
            )
        )
    with transaction.atomic():
        CreditRating.objects.bulk_create(ratings, batch_size=1000)
        Enterprise.objects.bulk_update(firms, ["credit_grade", "credit_score"], batch_size=1000)
        audit_write(
            action=AuditAction.UPDATE,
            object_type="precursors.creditrating",
            detail={"as_of": as_of.isoformat(), "firms": len(firms), "trigger": trigger},
        )
    return len(firms)


def latest_rating(enterprise: Enterprise) -> CreditRating | None:
    return CreditRating.objects.filter(enterprise=enterprise).order_by("-as_of", "-pk").first()


@register_job("precursors_credit")
def credit_job(reporter: JobReporter, parameters: dict) -> dict:
    """The monthly rating of every firm, as a job (operators see its progress and outcome)."""
    as_of = dt.date.fromisoformat(parameters["as_of"]) if parameters.get("as_of") else None
    rated = rate_enterprises(as_of=as_of, trigger=parameters.get("trigger", "monthly"))
    reporter.log(f"rated {rated} firms")
    return {"firms": rated}
