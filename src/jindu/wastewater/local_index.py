"""The office's own drug-situation index (本地测算指数): a composite of its own formula, never an official result.

No published definition of a "污水毒情指数" exists (wbe.md §4.3). The platform implements one formula, configured
in the settings key ``index`` (``index_settings.py``), and every place that shows the index shows its label (the
office's own formula) and the formula written out with the weights in force:

    index = Σ_c  weight_c × consumption_c ÷ typical dose_c      [weighted doses per 1000 inhabitants per day]

``consumption_c`` is the population-weighted consumption of component ``c`` (an analyte: its load per 1000 times
the correction factor of the set chosen when reading), ``typical dose_c`` the setting ``typical_doses_mg`` of the
analyte's drug (wbe.md §1.4). The interval is Monte Carlo like every aggregate: in each iteration the components
share the iteration's population draws (one population per site whatever the analyte) and each drug its own
excretion draw.

Components and missing data. A component without a factor in the chosen set or without a typical dose cannot be
computed: it is left out and the definition names it (``problems``). In a period, a component with no sample at all
makes the index unavailable (summing the others would understate it); a component whose days were all below the
LOQ contributes nothing to the value, and the upper bound its LOQ would allow is reported with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from jindu.wastewater import periods
from jindu.wastewater.aggregates import (
    Context,
    PeriodValue,
    Series,
    Subject,
    by_site,
    estimate,
    load_rows,
    load_window,
    yoy_text,
)
from jindu.wastewater.index_settings import DEFAULT_INDEX_SETTINGS
from jindu.wastewater.models import Analyte
from jindu.wastewater.periods import Period, YearOnYear
from jindu.wastewater.results import FactorInputs
from jindu.wastewater.uncertainty import consumption_draws


@dataclass(frozen=True)
class Component:
    """One term of the index: an analyte, its weight, its drug's typical dose and its correction factor."""

    analyte: Analyte
    weight: float
    dose_mg: float | None
    factor: FactorInputs | None
    problem: str = ""


@dataclass(frozen=True)
class IndexDefinition:
    """The index in force for a request: its components (weight above 0) and what keeps some out."""

    name: str
    components: tuple[Component, ...]
    factor_set_label: str

    @property
    def usable(self) -> tuple[Component, ...]:
        return tuple(component for component in self.components if not component.problem)

    @property
    def problems(self) -> list[str]:
        return [component.problem for component in self.components if component.problem]

    @property
    def analyte_ids(self) -> list[int]:
        return [component.analyte.pk for component in self.usable]

    def label(self) -> str:
        """The label shown wherever the index is: always the office's own formula."""
        label = _("Local estimate index (本地测算): this office's own formula, not an official indicator")
        return f"{self.name} · {label}" if self.name else label

    def formula(self) -> str:
        """The formula in words and with the weights in force."""
        terms = " + ".join(
            f"{component.weight:g} × {component.analyte.code} ÷ {component.dose_mg:g} mg"
            for component in self.usable
        )
        return _(
            "Σ weight × consumption (mg/day/1000) ÷ typical dose (mg) = weighted doses per 1000 inhabitants "
            "per day; here %(terms)s (consumption with the correction factors of %(cf_set)s)"
        ) % {"terms": terms or "—", "cf_set": self.factor_set_label}

    def payload(self) -> dict[str, Any]:
        return {
            "label": self.label(),
            "formula": self.formula(),
            "official": False,
            "unit": "weighted doses/day/1000 inhabitants",
            "cf_set": self.factor_set_label,
            "components": [
                {
                    "analyte": component.analyte.code,
                    "drug": component.analyte.drug,
                    "weight": component.weight,
                    "typical_dose_mg": component.dose_mg,
                    "correction_factor": component.factor.factor if component.factor else None,
                    "problem": component.problem or None,
                }
                for component in self.components
            ],
        }


def index_definition(context: Context) -> IndexDefinition:
    """The index of the settings in force, its components resolved against the request's factor set (one query
    for the analytes)."""
    settings = context.settings.payload.get("index") or DEFAULT_INDEX_SETTINGS
    weights = {code: float(weight) for code, weight in (settings.get("components") or {}).items() if weight}
    analytes = {analyte.code: analyte for analyte in Analyte.objects.filter(code__in=list(weights))}
    components = []
    for code, weight in weights.items():
        analyte = analytes.get(code)
        if analyte is None:
            continue
        dose = context.settings.typical_dose_mg(analyte.drug) if analyte.drug else None
        factor = context.factors.get(analyte.pk)
        problem = ""
        if factor is None:
            problem = _("%(code)s has no correction factor in %(cf_set)s") % {
                "code": code,
                "cf_set": context.factor_set_label,
            }
        elif not dose:
            problem = _("%(code)s: no typical dose is set for %(drug)s") % {
                "code": code,
                "drug": analyte.drug,
            }
        components.append(Component(analyte, weight, dose, factor, problem))
    return IndexDefinition(
        name=str(settings.get("name") or ""),
        components=tuple(sorted(components, key=lambda component: component.analyte.sort_order)),
        factor_set_label=context.factor_set_label,
    )


@dataclass
class Contribution:
    """One component in one period."""

    component: Component
    value: PeriodValue
    points: float | None  # weight × consumption ÷ dose (None without a quantified day)
    upper_bound: float | None = None  # all days below the LOQ: what the LOQ would allow at most


@dataclass
class IndexValue:
    """The index of one subject in one period."""

    period: Period
    point: float | None
    draws: np.ndarray | None
    contributions: list[Contribution] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    previous: float | None = None
    yoy: YearOnYear | None = None


def _contribution(
    context: Context,
    component: Component,
    value: PeriodValue,
) -> Contribution:
    factor = component.factor
    assert factor is not None and component.dose_mg
    scale = component.weight / component.dose_mg
    per_1000 = value.per_1000_draws
    if per_1000 is None:
        upper = None
        if value.bounds is not None and value.bounds.if_at_loq is not None:
            upper = value.bounds.if_at_loq * factor.factor * scale
        return Contribution(component, value, None, upper)
    value.consumption = consumption_draws(
        per_1000,
        factor=factor.factor,
        excretion_fraction=factor.excretion_fraction,
        excretion_rsd=factor.excretion_rsd,
        seed=context.aggregator.excretion_seed(component.analyte.code, context.factor_set_label),
    )
    return Contribution(component, value, value.consumption.point * scale)


def index_value(
    context: Context,
    definition: IndexDefinition,
    subject: Subject,
    rows: Mapping[tuple[int, int], Series],
    period: Period,
    days: str,
) -> IndexValue:
    """The index of a subject in one period (with its year-on-year change); ``rows`` holds the components'
    results over the period and the same period a year earlier."""
    aggregator = context.aggregator
    result = IndexValue(period=period, point=None, draws=None)
    if not definition.usable:
        return result
    total = 0.0
    draws = np.zeros(aggregator.draws)
    previous: float | None = 0.0
    for component in definition.usable:
        series = by_site(rows, component.analyte.pk)
        value = aggregator.value(subject, series, period, days)
        contribution = _contribution(context, component, value)
        result.contributions.append(contribution)
        if value.quantified_days + value.below_loq_days == 0:
            result.missing.append(component.analyte.code)
        elif contribution.points is not None and value.consumption is not None:
            total += contribution.points
            draws += value.consumption.draws * (component.weight / (component.dose_mg or 1.0))
        before = aggregator.value(subject, series, period.previous_year(), days, with_draws=False)
        if before.quantified_days + before.below_loq_days == 0:
            previous = None
        elif previous is not None and before.point is not None and component.factor and component.dose_mg:
            previous += before.point * component.factor.factor * component.weight / component.dose_mg
    if result.missing:
        return result
    result.point, result.draws = total, draws
    result.previous = previous
    result.yoy = periods.year_on_year(total, previous, aggregator.band)
    return result


def index_series(
    context: Context,
    definition: IndexDefinition,
    subject: Subject,
    found: Sequence[Period],
    days: str,
) -> list[IndexValue]:
    """The index of a subject over consecutive periods (the results of every component in one query)."""
    if not definition.usable:
        return [IndexValue(period=period, point=None, draws=None) for period in found]
    rows = load_rows(subject.site_ids, definition.analyte_ids, *load_window(found))
    return [index_value(context, definition, subject, rows, period, days) for period in found]


def index_value_payload(value: IndexValue) -> dict[str, Any]:
    return {
        "period": value.period.label,
        "start": value.period.start.isoformat(),
        "end": value.period.end.isoformat(),
        "index": estimate(value.point, value.draws),
        "missing": value.missing,
        "components": [
            {
                "analyte": contribution.component.analyte.code,
                "points": contribution.points,
                "consumption_per_1000": contribution.value.consumption.point
                if contribution.value.consumption
                else None,
                "quantified_days": contribution.value.quantified_days,
                "below_loq_days": contribution.value.below_loq_days,
                "upper_bound_if_below_loq": contribution.upper_bound,
            }
            for contribution in value.contributions
        ],
        "year_on_year": {
            "previous": value.previous,
            "percent": value.yoy.percent,
            "label": value.yoy.label,
            "label_text": yoy_text(value.yoy.label),
        }
        if value.yoy
        else None,
    }
