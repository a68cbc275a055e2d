"""District rankings (排名) with intervals: the children of an org unit ranked by load per 1000, consumption or the
office's own index in one period, each with its 95 % interval, its quantified days and its year-on-year change.

A rank is only as good as the intervals behind it (wbe.md §6.3: treat a difference as real only when the intervals
do not overlap). So each unit also gets the 95 % interval of its rank over the Monte Carlo iterations (in each
iteration the units are ranked by that iteration's values; units sharing a site share its draws), and neighbours
whose intervals overlap are marked: their order is not significant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from jindu.core.errors import ServiceError
from jindu.core.models import OrgUnit
from jindu.wastewater import periods
from jindu.wastewater.aggregates import (
    ORG_UNIT,
    Context,
    Subject,
    aggregate_series,
    estimate,
    load_rows,
    load_window,
    served_shares,
    settings_payload,
    split_payload,
    yoy_text,
)
from jindu.wastewater.local_index import IndexDefinition, index_definition, index_value
from jindu.wastewater.models import Analyte
from jindu.wastewater.periods import Period, YearOnYear
from jindu.wastewater.uncertainty import interval_of

LOAD = "load_per_1000"
CONSUMPTION = "consumption"
INDEX = "index"
MEASURES = (LOAD, CONSUMPTION, INDEX)


def parse_measure(value: str | None) -> str:
    text = (value or LOAD).strip()
    if text not in MEASURES:
        raise ServiceError(
            _("measure must be one of %(choices)s.") % {"choices": ", ".join(MEASURES)},
            fields={"measure": _("one of %(choices)s") % {"choices": ", ".join(MEASURES)}},
        )
    return text


def default_quarter(today: dt.date) -> Period:
    """The last complete quarter (rankings compare whole quarters by default)."""
    current = periods.period_of(today, periods.PeriodKind.QUARTER)
    return periods.period_of(current.start - dt.timedelta(days=1), periods.PeriodKind.QUARTER)


def default_parent(user: Any) -> OrgUnit | None:
    """The outermost unit of the caller's search scope (a city office ranks its districts)."""
    from jindu.core.scoping import search_root_ids

    return OrgUnit.objects.filter(pk__in=list(search_root_ids(user))).order_by("depth", "code").first()


@dataclass
class RankedUnit:
    """One child unit in a ranking."""

    unit: OrgUnit
    subject: Subject
    point: float | None
    draws: np.ndarray | None
    quantified_days: int
    below_loq_days: int
    sites_reporting: int
    previous: float | None
    yoy: YearOnYear | None
    rank: int | None = None
    rank_interval: tuple[int, int] | None = None
    overlaps_above: bool = False
    overlaps_below: bool = False
    missing: list[str] = field(default_factory=list)

    @property
    def interval(self) -> Any:
        return interval_of(self.draws) if self.draws is not None else None

    @property
    def significant(self) -> bool:
        return not (self.overlaps_above or self.overlaps_below)


@dataclass
class Ranking:
    parent: OrgUnit
    period: Period
    measure: str
    days: str
    analyte: Analyte | None
    definition: IndexDefinition | None
    items: list[RankedUnit]

    @property
    def any_overlap(self) -> bool:
        return any(not item.significant for item in self.items if item.rank is not None)


def ranking(
    context: Context,
    parent: OrgUnit,
    period: Period,
    measure: str,
    days: str,
    analyte: Analyte | None,
) -> Ranking:
    """Rank the children of ``parent`` (read by the caller through ``readable_org_unit``)."""
    children = list(OrgUnit.objects.filter(parent=parent, is_active=True).order_by("code"))
    shares = served_shares(children)
    subjects = [Subject(ORG_UNIT, unit.code, unit.name, unit, shares[unit.pk]) for unit in children]
    site_ids = sorted({site.site_id for subject in subjects for site in subject.sites})
    definition = index_definition(context) if measure == INDEX else None
    if measure == INDEX:
        assert definition is not None
        if not definition.usable:
            raise ServiceError(
                _("The index cannot be computed with %(cf_set)s: %(problems)s")
                % {"cf_set": context.factor_set_label, "problems": "; ".join(definition.problems)},
                code="index_unavailable",
                fields={"cf_set": _("no usable index component")},
            )
        analyte_ids = definition.analyte_ids
    else:
        if analyte is None:
            raise ServiceError(_("Name the analyte to rank by."), fields={"analyte": _("required")})
        analyte_ids = [analyte.pk]
    rows = load_rows(site_ids, analyte_ids, *load_window([period])) if site_ids else {}
    items = []
    for unit, subject in zip(children, subjects, strict=True):
        if measure == INDEX:
            assert definition is not None
            value = index_value(context, definition, subject, rows, period, days)
            quantified = sum(c.value.quantified_days for c in value.contributions)
            below = sum(c.value.below_loq_days for c in value.contributions)
            reporting = max((c.value.sites_reporting for c in value.contributions), default=0)
            items.append(
                RankedUnit(
                    unit,
                    subject,
                    value.point,
                    value.draws,
                    quantified,
                    below,
                    reporting,
                    value.previous,
                    value.yoy,
                    missing=value.missing,
                )
            )
            continue
        assert analyte is not None
        [one] = aggregate_series(
            context.aggregator,
            subject,
            analyte,
            [period],
            days,
            rows=rows,
            factor=context.factors.get(analyte.pk),
            factor_set_label=context.factor_set_label,
        ).values
        point, draws = one.point, one.draws
        previous = one.previous
        if measure == CONSUMPTION:
            factor = context.factors.get(analyte.pk)
            if factor is None:
                raise ServiceError(
                    _("%(cf_set)s has no correction factor for %(code)s.")
                    % {"cf_set": context.factor_set_label, "code": analyte.code},
                    code="no_factor",
                    fields={"cf_set": _("no factor for %(code)s") % {"code": analyte.code}},
                )
            consumption = one.consumption
            point = consumption.point if consumption else None
            draws = consumption.draws if consumption else None
            previous = previous * factor.factor if previous is not None else None
        items.append(
            RankedUnit(
                unit,
                subject,
                point,
                draws,
                one.quantified_days,
                one.below_loq_days,
                one.sites_reporting,
                previous,
                one.yoy,
            )
        )
    _rank(items)
    return Ranking(parent, period, measure, days, analyte, definition, items)


def _rank(items: list[RankedUnit]) -> None:
    """Order by point value (highest first), rank intervals over the iterations, overlap marks."""
    items.sort(key=lambda item: (item.point is None, -(item.point or 0.0), item.unit.code))
    ranked = [item for item in items if item.point is not None and item.draws is not None]
    for position, item in enumerate(ranked, start=1):
        item.rank = position
    if not ranked:
        return
    matrix = np.vstack([item.draws for item in ranked if item.draws is not None])
    # In each iteration (column) the unit with the highest value gets rank 1.
    order = np.argsort(-matrix, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, len(ranked) + 1)[:, None], axis=0)
    low, high = np.quantile(ranks, [0.025, 0.975], axis=1, method="inverted_cdf")
    intervals = [interval_of(item.draws) for item in ranked if item.draws is not None]
    for index, item in enumerate(ranked):
        item.rank_interval = (int(low[index]), int(high[index]))
        if index > 0:
            above = intervals[index - 1]
            item.overlaps_above = intervals[index].p97_5 >= above.p2_5
            ranked[index - 1].overlaps_below = item.overlaps_above


def ranking_payload(context: Context, result: Ranking) -> dict[str, Any]:
    unit_label = (
        "weighted doses/day/1000 inhabitants" if result.measure == INDEX else "mg/day/1000 inhabitants"
    )
    return {
        "parent": {"code": result.parent.code, "name": result.parent.name},
        "period": result.period.label,
        "start": result.period.start.isoformat(),
        "end": result.period.end.isoformat(),
        "measure": result.measure,
        "unit": unit_label,
        "days": result.days,
        "day_split": split_payload(context.aggregator),
        "analyte": result.analyte.code if result.analyte else None,
        "cf_set": context.factor_set_payload(),
        "settings_version": settings_payload(context.settings),
        "index": result.definition.payload() if result.definition else None,
        "ranks_significant": not result.any_overlap,
        "note": _(
            "Intervals of neighbouring units overlap: their order is not significant (see each unit's rank "
            "interval)."
        )
        if result.any_overlap
        else "",
        "items": [
            {
                "rank": item.rank,
                "rank_interval": list(item.rank_interval) if item.rank_interval else None,
                "org_unit": item.unit.code,
                "name": item.unit.name,
                "value": estimate(item.point, item.draws),
                "quantified_days": item.quantified_days,
                "below_loq_days": item.below_loq_days,
                "sites": [site.code for site in item.subject.sites],
                "sites_reporting": item.sites_reporting,
                "overlaps_above": item.overlaps_above,
                "overlaps_below": item.overlaps_below,
                "missing": item.missing,
                "year_on_year": {
                    "previous": item.previous,
                    "percent": item.yoy.percent,
                    "label": item.yoy.label,
                    "label_text": yoy_text(item.yoy.label),
                }
                if item.yoy
                else None,
            }
            for item in result.items
        ],
    }
