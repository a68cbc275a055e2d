"""Monthly mass balances of firms from their captured EPCIS quantities (precursors.md §4.1).

Two grouped reads serve any number of firms: the flows (receipts, production, shipments, consumption, losses,
incidents) summed per firm, substance, month and term, and the stocktakes summed per stocktake event (one
stocktake may count several lots). A month's closing stock is its last stocktake; the opening stock is the
closing stock of the month before (a firm's first month opens at its last stocktake before the window, else at
zero: a firm new to the platform starts empty). The arithmetic and the tolerance test are ``balance.py``'s.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings as django_settings
from django.db.models import Sum
from django.db.models.functions import TruncMonth

from jindu.precursors.balance import (
    BalanceResult,
    BalanceSettings,
    BalanceTerms,
    balance_period_series,
)
from jindu.precursors.models import EpcisQuantity

FLOW_FIELDS = {
    "receipt": "receipts",
    "production": "production",
    "shipment": "shipments",
    "consumption": "consumption",
    "loss": "documented_losses",
    # Goods reported stolen or missing leave the stock; they are counted with the losses, and the incident
    # itself is a warning of its own.
    "incident": "documented_losses",
}


@dataclass(frozen=True)
class FirmMonthBalance:
    """One firm's balance of one substance in one month."""

    enterprise_id: int
    substance_id: int
    month: dt.date
    result: BalanceResult


def month_start(day: dt.date, offset: int = 0) -> dt.date:
    """The first day of the month ``offset`` months after ``day``'s month (before it, when negative)."""
    year, month_index = divmod(day.year * 12 + day.month - 1 + offset, 12)
    return dt.date(year, month_index + 1, 1)


def month_starts(first: dt.date, count: int) -> list[dt.date]:
    """``count`` consecutive first days of months from ``first``'s month."""
    return [month_start(first, offset) for offset in range(count)]


def monthly_balances(
    *,
    first_month: dt.date,
    months: int,
    settings: BalanceSettings,
    enterprise_ids: Iterable[int] | None = None,
) -> list[FirmMonthBalance]:
    """Balances of every firm (or of ``enterprise_ids``) and listed substance with activity in the window, for
    ``months`` months from ``first_month``, months cut in the platform's time zone."""
    zone = zoneinfo.ZoneInfo(django_settings.TIME_ZONE)
    starts = month_starts(first_month, months + 1)
    window_start = dt.datetime.combine(starts[0], dt.time(), tzinfo=zone)
    window_end = dt.datetime.combine(starts[-1], dt.time(), tzinfo=zone)
    quantities = EpcisQuantity.objects.filter(substance__isnull=False, kg_pure__isnull=False)
    if enterprise_ids is not None:
        quantities = quantities.filter(enterprise_id__any=list(enterprise_ids))
    flows: dict[tuple[int, int], dict[dt.date, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for enterprise_id, substance_id, month, term, total in (
        quantities.filter(
            event_time__gte=window_start, event_time__lt=window_end, balance_term__in=list(FLOW_FIELDS)
        )
        .annotate(month=TruncMonth("event_time", tzinfo=zone))
        .values_list("enterprise_id", "substance_id", "month", "balance_term")
        .annotate(total=Sum("kg_pure"))
        .order_by()
    ):
        field = FLOW_FIELDS[term]
        bucket = flows[(enterprise_id, substance_id)][_as_date(month)]
        bucket[field] = bucket.get(field, Decimal(0)) + total
    # Stocktakes up to the window's end: the latest per month, and the latest before the window opens it.
    closing: dict[tuple[int, int], dict[dt.date, tuple[dt.datetime, Decimal]]] = defaultdict(dict)
    opening: dict[tuple[int, int], tuple[dt.datetime, Decimal]] = {}
    for enterprise_id, substance_id, _event, when, total in (
        quantities.filter(event_time__lt=window_end, balance_term="stocktake")
        .values_list("enterprise_id", "substance_id", "event_id", "event_time")
        .annotate(total=Sum("kg_pure"))
        .order_by()
    ):
        key = (enterprise_id, substance_id)
        if when < window_start:
            if key not in opening or when > opening[key][0]:
                opening[key] = (when, total)
            continue
        month = when.astimezone(zone).date().replace(day=1)
        if month not in closing[key] or when > closing[key][month][0]:
            closing[key][month] = (when, total)
    results: list[FirmMonthBalance] = []
    for key in sorted(set(flows) | set(closing)):
        series = []
        for index, month in enumerate(starts[:-1]):
            month_flows = flows[key].get(month, {}) if key in flows else {}
            counted = closing[key].get(month) if key in closing else None
            zero = Decimal(0)
            series.append(
                BalanceTerms(
                    opening_stock=(opening[key][1] if key in opening else zero) if index == 0 else None,
                    closing_stock=counted[1] if counted else None,
                    receipts=month_flows.get("receipts", zero),
                    production=month_flows.get("production", zero),
                    shipments=month_flows.get("shipments", zero),
                    consumption=month_flows.get("consumption", zero),
                    documented_losses=month_flows.get("documented_losses", zero),
                )
            )
        for month, result in zip(starts[:-1], balance_period_series(series, settings), strict=True):
            results.append(FirmMonthBalance(key[0], key[1], month, result))
    return results


def _as_date(value: dt.datetime | dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
