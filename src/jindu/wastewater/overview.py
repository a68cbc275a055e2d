"""Scoped reads behind the output pages: the site list with each site's latest figures, a site's page data (series
for the charts, weekday profile, latest samples), and the sites drawn on the map."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.utils.dates import WEEKDAYS_ABBR

from jindu.core.models import OrgUnit
from jindu.core.scoping import path_condition
from jindu.wastewater.aggregates import (
    ALL_DAYS,
    QUANTIFIED,
    SITE,
    Aggregator,
    Series,
    SiteShare,
    Subject,
    load_rows,
)
from jindu.wastewater.models import (
    AnalyteResult,
    PopulationEstimate,
    ResultStatus,
    SamplingSite,
    SiteServedArea,
    WastewaterSample,
)
from jindu.wastewater.periods import Period, mean_of
from jindu.wastewater.selectors import sites_for_user

LEAD_ANALYTE = "METH"


def site_overview(
    user: Any, *, query: str = "", kind: str = "", org_unit: str = ""
) -> QuerySet[SamplingSite]:
    """The sites of the caller's scope with, in the same query, the last sample day and the latest quantified
    methamphetamine load per 1000 (and its day). ``org_unit`` keeps the sites owned by that unit or below it."""
    latest = AnalyteResult.objects.filter(
        site=OuterRef("pk"), analyte__code=LEAD_ANALYTE, status=ResultStatus.COMPUTED
    ).order_by("-end_date")
    sites = (
        sites_for_user(user)
        .select_related("org_unit", "default_population")
        .annotate(
            last_sample=Max("samples__end_date"),
            lead_per_1000=Subquery(latest.values("per_1000")[:1]),
            lead_day=Subquery(latest.values("end_date")[:1]),
        )
        .order_by("org_path", "code")
    )
    if query:
        sites = sites.filter(Q(code__icontains=query) | Q(name__icontains=query))
    if kind:
        sites = sites.filter(kind=kind)
    if org_unit:
        unit = OrgUnit.objects.filter(code=org_unit).first()
        sites = sites.filter(path_condition([unit.path])) if unit else sites.none()
    return sites


def served_areas(site: SamplingSite) -> list[SiteServedArea]:
    return list(site.served_areas.select_related("org_unit").order_by("org_unit__code"))


def population_estimates(site: SamplingSite) -> list[PopulationEstimate]:
    return list(site.population_estimates.order_by("-estimated_on", "-pk"))


def latest_samples(site: SamplingSite, count: int = 10) -> list[WastewaterSample]:
    return list(
        WastewaterSample.objects.filter(site=site)
        .annotate(measurement_count=Count("measurements"))
        .order_by("-end_date")[:count]
    )


def last_result_day(site: SamplingSite) -> dt.date | None:
    return AnalyteResult.objects.filter(site=site).aggregate(last=Max("end_date"))["last"]


@dataclass
class WeekdayProfile:
    """Mean load per 1000 by day of the week (quantified days only) and the EUDA weekday and weekend means."""

    labels: list[str]
    means: list[float | None]
    counts: list[int]
    weekday_mean: float | None
    weekend_mean: float | None
    weekday_days: list[int]
    weekend_days: list[int]


def weekday_profile(
    series: Series | None, aggregator: Aggregator, first: dt.date, last: dt.date
) -> WeekdayProfile:
    """The profile of the days in [first, last] (EUDA's weekday and weekend means skip missing days)."""
    by_day: dict[int, list[float]] = {day: [] for day in range(7)}
    if series is not None:
        inside = (series.ordinals >= first.toordinal()) & (series.ordinals <= last.toordinal())
        keep = inside & (series.status == QUANTIFIED)
        for weekday, value in zip(series.weekdays[keep], series.per_1000[keep], strict=True):
            by_day[int(weekday)].append(float(value))
    weekday = sorted(aggregator.split.weekday)
    weekend = sorted(aggregator.split.weekend)
    return WeekdayProfile(
        labels=[str(WEEKDAYS_ABBR[day]) for day in range(7)],
        means=[mean_of(by_day[day]) for day in range(7)],
        counts=[len(by_day[day]) for day in range(7)],
        weekday_mean=mean_of(value for day in weekday for value in by_day[day]),
        weekend_mean=mean_of(value for day in weekend for value in by_day[day]),
        weekday_days=weekday,
        weekend_days=weekend,
    )


@dataclass
class MapSite:
    """A site as the map draws it: its catchment or its point, and its value."""

    site: SamplingSite
    value: float | None
    quantified_days: int


def map_sites(user: Any, aggregator: Aggregator, analyte_id: int, period: Period) -> list[MapSite]:
    """Every site of the caller's scope with its load per 1000 in the period (point values: the colour)."""
    sites = list(sites_for_user(user).select_related("org_unit").order_by("org_path", "code"))
    rows = load_rows([site.pk for site in sites], [analyte_id], period.start, period.end) if sites else {}
    found = []
    for site in sites:
        subject = Subject(
            SITE, site.code, site.name, site.org_unit, (SiteShare(site.pk, site.code, site.name, 1.0),)
        )
        series = {site.pk: rows[(site.pk, analyte_id)]} if (site.pk, analyte_id) in rows else {}
        value = aggregator.value(subject, series, period, ALL_DAYS, with_draws=False)
        found.append(MapSite(site, value.point, value.quantified_days))
    return found


def daily_points(
    series: Series | None, first: dt.date, last: dt.date, mask: np.ndarray | None = None
) -> dict[str, list[Any]]:
    """The stored daily results in [first, last] (and ``mask``: a day filter): point values with their stored
    intervals, and the LOQ bound of days below the LOQ (drawn apart, never as a value)."""
    empty: dict[str, list[Any]] = {"labels": [], "value": [], "low": [], "high": [], "loq": []}
    if series is None:
        return empty
    wanted = (series.ordinals >= first.toordinal()) & (series.ordinals <= last.toordinal())
    if mask is not None:
        wanted &= mask
    for index in np.flatnonzero(wanted):
        quantified = series.status[index] == QUANTIFIED
        below = not quantified and not np.isnan(series.loq_per_1000[index])
        empty["labels"].append(series.dates[index].isoformat())
        empty["value"].append(_finite(series.per_1000[index]) if quantified else None)
        empty["low"].append(_finite(series.p2_5[index]) if quantified else None)
        empty["high"].append(_finite(series.p97_5[index]) if quantified else None)
        empty["loq"].append(_finite(series.loq_per_1000[index]) if below else None)
    return empty


def _finite(value: Any) -> float | None:
    number = float(value)
    return None if np.isnan(number) else number


def site_series(site: SamplingSite, analyte_id: int, first: dt.date, last: dt.date) -> Series | None:
    return load_rows([site.pk], [analyte_id], first, last).get((site.pk, analyte_id))


def analytes_measured(site: SamplingSite) -> Sequence[int]:
    return list(
        AnalyteResult.objects.filter(site=site).order_by().values_list("analyte_id", flat=True).distinct()
    )
