"""Period aggregates of the stored results: weeks, months, quarters and years of one site or one org unit, with
Monte Carlo intervals, below-LOQ bounds and the year-on-year label (wbe.md §1.2, §1.5, §3.4).

What is aggregated (a ``Subject``):

* one site: its own results;
* one org unit: every site serving the unit or a unit below it (``SiteServedArea``), each weighted by its share
  of population in the unit (the shares of one site's areas inside the unit add up, at most 1). The value is
  population-weighted, ``1000 × Σ share × mean daily load / Σ share × population`` (wbe.md §1.2). An org unit's
  figure is an aggregate of the unit the caller may read: it includes sites owned elsewhere (a city plant serving
  a district), as the people KPIs count every record of the unit.

Per period and day filter (all days, or the settings' EUDA weekday or weekend days, by the day a composite ends):

* the point value: each site's mean daily load over its quantified days, normalised as above;
* the interval: 10,000 seeded iterations (the settings' ``uncertainty.draws``). In each, every day has its own row
  of day errors (sampling × flow × analysis, from the stored result's error model), seeded by name: the stored
  result's seed (settings seed, site, analyte, error model) and the day. A day keeps its row whatever period or
  filter it is part of. The population error is drawn once per iteration per site (seeded by the site, its
  population estimate and RSD, so every analyte of a site shares it) and the excretion fraction once per
  iteration per drug and factor set (seeded by both), as wbe.md §3.4 requires. This is
  ``uncertainty.period_per_1000`` and ``uncertainty.consumption_draws`` (a test checks they agree), computed
  with the day rows grouped by error model and each site's reduction cached;
* days under the LOQ never enter the mean as numbers: they are counted, and the bounds the mean would have with
  them at 0 and at the LOQ are given, labelled as bounds (wbe.md §6.2);
* days whose measurement was blocked by QA or whose site had no population are counted as blocked;
* the year-on-year change against the same period a year earlier (same sites, same filter), labelled with the
  settings' stable band (``periods.year_on_year``).

Cost. The results of a request come from one query (``load_rows``). The day rows are the expensive part (10,000
normal draws per site-day); a site's reduction over a period (``Σ load × day errors / n``) depends only on its
days'
seeds, error models and loads, so it is cached in the process (``SITE_PERIOD_CACHE``) under a digest of exactly
those: new or corrected data changes the key, nothing needs invalidating.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import OrgUnit
from jindu.core.scoping import in_roots, require_permission, search_root_ids
from jindu.wastewater import periods
from jindu.wastewater.models import Analyte, AnalyteResult, CorrectionFactorSet, ResultStatus, SiteServedArea
from jindu.wastewater.periods import Period, PeriodKind, YearOnYear
from jindu.wastewater.permissions import VIEW_WASTEWATER
from jindu.wastewater.policies import WastewaterSettings, settings_in_force
from jindu.wastewater.results import FactorInputs
from jindu.wastewater.uncertainty import (
    ErrorModel,
    Interval,
    PeriodDraws,
    consumption_draws,
    derive_seed,
    interval_of,
    population_errors,
)

SITE = "site"
ORG_UNIT = "org_unit"

ALL_DAYS = "all"
WEEKDAY = "weekday"
WEEKEND = "weekend"
DAY_FILTERS = (ALL_DAYS, WEEKDAY, WEEKEND)

# Period kinds an aggregate may use (single days come from the stored results themselves).
AGGREGATE_KINDS = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR)
MAX_PERIODS = 400
MAX_YEARS = 10

# Status codes of the arrays (a stored result's status, reduced to what aggregation needs).
QUANTIFIED, BELOW_LOQ, BLOCKED = 0, 1, 2


# --- What is aggregated -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteShare:
    """A site serving a subject, and the share of its population living in the subject."""

    site_id: int
    code: str
    name: str
    share: float


@dataclass(frozen=True)
class Subject:
    """One site, or one org unit with the sites serving it."""

    kind: str
    code: str
    name: str
    org_unit: OrgUnit
    sites: tuple[SiteShare, ...]

    @property
    def site_ids(self) -> list[int]:
        return [site.site_id for site in self.sites]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "name": self.name,
            "org_unit": self.org_unit.code,
            "sites": [{"code": site.code, "name": site.name, "share": site.share} for site in self.sites],
        }


def site_subject(user: Any, reference: Any) -> Subject:
    """A site of the caller's scope (by id or code); NotFound otherwise."""
    from jindu.wastewater.selectors import access_site

    site = access_site(user, reference)
    return Subject(
        SITE, site.code, site.name, site.org_unit, (SiteShare(site.pk, site.code, site.name, 1.0),)
    )


def readable_org_unit(user: Any, code: Any) -> OrgUnit:
    """An org unit of the caller's search scope, by code (NotFound otherwise, as for a missing code)."""
    require_permission(user, VIEW_WASTEWATER)
    unit = OrgUnit.objects.filter(code=str(code or "").strip()).first()
    if unit is None or not in_roots(unit.pk, search_root_ids(user)):
        raise NotFound()
    return unit


def served_shares(units: Sequence[OrgUnit]) -> dict[int, tuple[SiteShare, ...]]:
    """For each unit, the sites serving it or a unit below it, with their summed shares (at most 1): one query
    through the closure table."""
    found: dict[int, dict[int, list[Any]]] = {unit.pk: {} for unit in units}
    rows = (
        SiteServedArea.objects.filter(org_unit__ancestor_links__ancestor_id__in=list(found))
        .values_list("org_unit__ancestor_links__ancestor_id", "site_id", "site__code", "site__name", "share")
        .order_by("site__code")
    )
    for unit_id, site_id, code, name, share in rows:
        entry = found[unit_id].setdefault(site_id, [code, name, 0.0])
        entry[2] += float(share)
    return {
        unit_id: tuple(
            SiteShare(site_id, code, name, min(1.0, round(total, 4)))
            for site_id, (code, name, total) in sites.items()
        )
        for unit_id, sites in found.items()
    }


def org_unit_subject(user: Any, code: Any) -> Subject:
    """An org unit of the caller's search scope with the sites serving it."""
    unit = readable_org_unit(user, code)
    return Subject(ORG_UNIT, unit.code, unit.name, unit, served_shares([unit])[unit.pk])


def subject_for(user: Any, *, site: str = "", org_unit: str = "") -> Subject:
    """The subject a request names: ``site`` or ``org_unit`` (exactly one)."""
    site, org_unit = (site or "").strip(), (org_unit or "").strip()
    if bool(site) == bool(org_unit):
        raise ServiceError(
            _("Name either a site or an org unit."),
            code="subject_required",
            fields={
                "site": _("a site code, or leave empty with an org unit"),
                "org_unit": _("an org unit code, or leave empty with a site"),
            },
        )
    return site_subject(user, site) if site else org_unit_subject(user, org_unit)


# --- Parameters -----------------------------------------------------------------------------------------------------


def parse_days(value: str | None) -> str:
    text = (value or ALL_DAYS).strip()
    if text not in DAY_FILTERS:
        raise ServiceError(
            _("days must be one of %(choices)s.") % {"choices": ", ".join(DAY_FILTERS)},
            fields={"days": _("one of %(choices)s") % {"choices": ", ".join(DAY_FILTERS)}},
        )
    return text


def parse_kind(value: str | None, default: str = PeriodKind.MONTH) -> str:
    text = (value or default).strip()
    if text not in AGGREGATE_KINDS:
        raise ServiceError(
            _("period must be one of %(choices)s.") % {"choices": ", ".join(AGGREGATE_KINDS)},
            fields={"period": _("one of %(choices)s") % {"choices": ", ".join(AGGREGATE_KINDS)}},
        )
    return text


def parse_period(value: str | None, *, name: str = "period") -> Period:
    """A single aggregate period from its label (2026-W10, 2026-03, 2026Q1, 2026)."""
    try:
        period = periods.parse_period(value or "")
    except ValueError as error:
        raise ServiceError(str(error), fields={name: _("a period like 2026Q1, 2026-03, 2026-W10 or 2026")})
    if period.kind not in AGGREGATE_KINDS:
        raise ServiceError(
            _("%(name)s must be a week, month, quarter or year.") % {"name": name},
            fields={name: _("a period like 2026Q1, 2026-03, 2026-W10 or 2026")},
        )
    return period


def period_range(kind: str, first: dt.date | None, last: dt.date | None, today: dt.date) -> list[Period]:
    """The whole periods of ``kind`` covering [first, last] (default: the last twelve months to today)."""
    last = last or today
    first = first or (last - dt.timedelta(days=365))
    if first > last:
        raise ServiceError(_("from must not be after to."), fields={"from": _("after to")})
    if (last - first).days > MAX_YEARS * 366:
        raise ServiceError(
            _("At most %(years)s years at a time.") % {"years": MAX_YEARS},
            fields={"from": _("at most %(years)s years before to") % {"years": MAX_YEARS}},
        )
    found = periods.periods_between(first, last, kind)
    if len(found) > MAX_PERIODS:
        raise ServiceError(
            _("At most %(count)s periods at a time: choose a longer period or a shorter range.")
            % {"count": MAX_PERIODS},
            fields={"period": _("too many periods")},
        )
    return found


# --- Loading the stored results -----------------------------------------------------------------------------------

ROW_FIELDS = (
    "site_id",
    "analyte_id",
    "end_date",
    "status",
    "load_mg_per_day",
    "per_1000",
    "per_1000_p2_5",
    "per_1000_p97_5",
    "loq_per_1000",
    "population",
    "population_estimate_id",
    "sampling_rsd",
    "flow_rsd",
    "analysis_rsd",
    "population_rsd",
    "seed",
)


@dataclass
class Series:
    """One site's results for one analyte, by day (arrays in day order)."""

    site_id: int
    analyte_id: int
    dates: list[dt.date]
    ordinals: np.ndarray  # date.toordinal()
    status: np.ndarray  # QUANTIFIED, BELOW_LOQ or BLOCKED
    load: np.ndarray  # mg/day (nan where not quantified)
    per_1000: np.ndarray  # stored point values (nan where none)
    p2_5: np.ndarray
    p97_5: np.ndarray
    loq_per_1000: np.ndarray  # nan where none
    population: np.ndarray  # nan where none
    estimate: list[int | None]
    population_rsd: np.ndarray
    day_sigma: np.ndarray
    seed: list[int]

    @property
    def weekdays(self) -> np.ndarray:
        # date.weekday() is (toordinal() + 6) % 7 (Monday = 0).
        return (self.ordinals + 6) % 7

    def day_seed(self, index: int) -> int:
        """The seed of one day's row of day errors: the stored result's seed (settings seed, site, analyte,
        error model, draws) and the day."""
        return derive_seed(self.seed[index], self.dates[index].isoformat())


_SIGMAS: dict[tuple[float, float, float], float] = {}


def _day_sigma(sampling: float, flow: float, analysis: float) -> float:
    key = (sampling, flow, analysis)
    if key not in _SIGMAS:
        _SIGMAS[key] = ErrorModel(sampling, flow, analysis, 0.0).day_sigma
    return _SIGMAS[key]


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def load_rows(
    site_ids: Iterable[int], analyte_ids: Iterable[int], first: dt.date, last: dt.date
) -> dict[tuple[int, int], Series]:
    """The stored results of these sites and analytes between two days, by (site, analyte): one query."""
    rows = (
        AnalyteResult.objects.filter(
            site_id__any=list(site_ids),
            analyte_id__any=list(analyte_ids),
            end_date__gte=first,
            end_date__lte=last,
        )
        .order_by("site_id", "analyte_id", "end_date")
        .values_list(*ROW_FIELDS)
    )
    grouped: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault((row[0], row[1]), []).append(row)
    return {key: _series(key, items) for key, items in grouped.items()}


def _series(key: tuple[int, int], rows: list[tuple[Any, ...]]) -> Series:
    columns = list(zip(*rows, strict=True))
    (
        _site,
        _analyte,
        dates,
        statuses,
        loads,
        per_1000,
        low,
        high,
        loq,
        population,
        estimate,
        sampling,
        flow,
        analysis,
        population_rsd,
        seeds,
    ) = columns
    status = np.array(
        [
            QUANTIFIED
            if value == ResultStatus.COMPUTED and per is not None
            else BELOW_LOQ
            if value == ResultStatus.BELOW_LOQ
            else BLOCKED
            for value, per in zip(statuses, per_1000, strict=True)
        ],
        dtype=np.int8,
    )
    return Series(
        site_id=key[0],
        analyte_id=key[1],
        dates=list(dates),
        ordinals=np.array([day.toordinal() for day in dates], dtype=np.int64),
        status=status,
        load=np.array([_nan(value) for value in loads]),
        per_1000=np.array([_nan(value) for value in per_1000]),
        p2_5=np.array([_nan(value) for value in low]),
        p97_5=np.array([_nan(value) for value in high]),
        loq_per_1000=np.array([_nan(value) for value in loq]),
        population=np.array([_nan(value) for value in population]),
        estimate=list(estimate),
        population_rsd=np.array([float(value or 0) for value in population_rsd]),
        day_sigma=np.array(
            [_day_sigma(s, f, a) for s, f, a in zip(sampling, flow, analysis, strict=True)], dtype=float
        ),
        seed=[int(value) for value in seeds],
    )


# --- Monte Carlo pieces ----------------------------------------------------------------------------------------------


class _VectorCache:
    """A small thread-safe LRU of draw vectors (one site's reduction over one period)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: bytes, value: np.ndarray) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# 512 vectors of 10,000 draws are 41 MB: a district's three years by month and filter, or a city's quarter.
SITE_PERIOD_CACHE = _VectorCache(max_entries=512)
CHUNK_DAYS = 32


def mean_load_draws(loads: np.ndarray, seeds: Sequence[int], sigmas: np.ndarray, draws: int) -> np.ndarray:
    """``Σ load_d × error_d / n`` over a site's days, each ``error_d`` the day's seeded row of mean-one lognormal
    day errors: row by row what ``uncertainty.day_error_rows`` draws (the same generator, the same arithmetic),
    computed in chunks in place so that a year of days does not hold a year of rows."""
    total = np.zeros(draws)
    rows = np.empty((min(CHUNK_DAYS, len(loads)), draws))
    for start in range(0, len(loads), CHUNK_DAYS):
        stop = min(start + CHUNK_DAYS, len(loads))
        block = rows[: stop - start]
        for offset, seed in enumerate(seeds[start:stop]):
            np.random.default_rng(seed).standard_normal(out=block[offset])
        sigma = sigmas[start:stop, None]
        block *= sigma
        block -= 0.5 * sigma * sigma
        np.exp(block, out=block)
        total += loads[start:stop] @ block
    return total / len(loads)


def _cached_mean_load_draws(series: Series, indices: np.ndarray, draws: int) -> np.ndarray:
    loads = series.load[indices]
    seeds = [series.day_seed(int(index)) for index in indices]
    sigmas = series.day_sigma[indices]
    digest = hashlib.blake2b(digest_size=20)
    digest.update(np.asarray(seeds, dtype=np.uint64).tobytes())
    digest.update(sigmas.tobytes())
    digest.update(loads.tobytes())
    digest.update(str(draws).encode())
    key = digest.digest()
    vector = SITE_PERIOD_CACHE.get(key)
    if vector is None:
        vector = mean_load_draws(loads, seeds, sigmas, draws)
        vector.flags.writeable = False
        SITE_PERIOD_CACHE.put(key, vector)
    return vector


# --- One subject, one period --------------------------------------------------------------------------------------


@dataclass
class SitePeriod:
    """One site's days in one period (after the day filter)."""

    quantified: np.ndarray  # indices into the series
    below_loq: np.ndarray
    blocked: int
    population: float | None
    estimate: int | None
    population_rsd: float

    @property
    def has_values(self) -> bool:
        return len(self.quantified) > 0


@dataclass
class Bounds:
    """The mean with the below-LOQ days at 0 and at their LOQ (bounds, never values); ``if_at_loq`` is None when
    an LOQ or a population is unknown."""

    if_zero: float | None
    if_at_loq: float | None


@dataclass
class PeriodValue:
    """A subject's load per 1000 (mg/day/1000) in one period, with what is known about it."""

    period: Period
    point: float | None
    draws: np.ndarray | None
    quantified_days: int
    below_loq_days: int
    blocked_days: int
    sites_reporting: int
    bounds: Bounds | None
    previous: float | None = None
    yoy: YearOnYear | None = None
    consumption: PeriodDraws | None = None
    typical_dose_mg: float | None = None

    @property
    def interval(self) -> Interval | None:
        return interval_of(self.draws) if self.draws is not None else None

    @property
    def per_1000_draws(self) -> PeriodDraws | None:
        if self.point is None or self.draws is None:
            return None
        return PeriodDraws(point=self.point, draws=self.draws)


class Aggregator:
    """Aggregates for one request: the settings (split, band, draws, seed) and each site's population draws,
    drawn once and reused by every period, analyte and subject of the request (the excretion draws come from one
    seed per drug and factor set, ``excretion_seed``)."""

    def __init__(self, settings: WastewaterSettings) -> None:
        self.settings = settings
        self.draws = settings.draws
        self.split = settings.split
        self.band = settings.stable_band_percent
        self._population: dict[tuple[Any, ...], np.ndarray] = {}

    def day_mask(self, series: Series, days: str) -> np.ndarray | None:
        if days == ALL_DAYS:
            return None
        wanted = self.split.weekday if days == WEEKDAY else self.split.weekend
        return np.isin(series.weekdays, sorted(wanted))

    def site_period(self, series: Series, period: Period, days: str) -> SitePeriod:
        start = int(np.searchsorted(series.ordinals, period.start.toordinal(), side="left"))
        stop = int(np.searchsorted(series.ordinals, period.end.toordinal(), side="right"))
        indices = np.arange(start, stop)
        mask = self.day_mask(series, days)
        if mask is not None:
            indices = indices[mask[start:stop]]
        status = series.status[indices]
        quantified = indices[status == QUANTIFIED]
        below = indices[status == BELOW_LOQ]
        # The population of the period's latest quantified day (all of a site's results use its default
        # estimate; after a change they are all recomputed), else of its latest day with one.
        population: float | None = None
        estimate: int | None = None
        rsd = 0.0
        for candidates in (quantified, indices):
            known = [index for index in candidates if not np.isnan(series.population[index])]
            if known:
                last = int(known[-1])
                population = float(series.population[last])
                estimate = series.estimate[last]
                rsd = float(series.population_rsd[last])
                break
        return SitePeriod(
            quantified=quantified,
            below_loq=below,
            blocked=int(np.count_nonzero(status == BLOCKED)),
            population=population,
            estimate=estimate,
            population_rsd=rsd,
        )

    def population_draws(self, site: SiteShare, part: SitePeriod) -> np.ndarray:
        """The site's population relative to its estimate, once per iteration (shared by all its analytes)."""
        key = (site.code, part.estimate, part.population_rsd, self.draws)
        if key not in self._population:
            seed = derive_seed(
                self.settings.seed, site.code, "population", part.estimate, part.population_rsd
            )
            self._population[key] = population_errors(seed, part.population_rsd, self.draws)
        return self._population[key]

    def excretion_seed(self, analyte_code: str, factor_set_label: str) -> int:
        return derive_seed(self.settings.seed, "excretion", factor_set_label, analyte_code, self.draws)

    def value(
        self,
        subject: Subject,
        series: Mapping[int, Series],
        period: Period,
        days: str,
        *,
        with_draws: bool = True,
    ) -> PeriodValue:
        """The subject's load per 1000 in one period: ``series`` maps its sites' ids to their results of the
        analyte. Without draws only the point value, counts and bounds (previous years need no interval)."""
        parts: list[tuple[SiteShare, Series, SitePeriod]] = []
        for site in subject.sites:
            found = series.get(site.site_id)
            if found is not None:
                parts.append((site, found, self.site_period(found, period, days)))
        used = [(site, rows, part) for site, rows, part in parts if part.has_values and part.population]
        point = draws = None
        if used:
            load = sum(site.share * float(rows.load[part.quantified].mean()) for site, rows, part in used)
            population = sum(site.share * float(part.population or 0) for site, _rows, part in used)
            point = 1000.0 * load / population
            if with_draws:
                total_load = np.zeros(self.draws)
                total_population = np.zeros(self.draws)
                for site, rows, part in used:
                    total_load += site.share * _cached_mean_load_draws(rows, part.quantified, self.draws)
                    total_population += (
                        site.share * float(part.population or 0) * self.population_draws(site, part)
                    )
                draws = 1000.0 * total_load / total_population
        below = sum(len(part.below_loq) for _site, _rows, part in parts)
        return PeriodValue(
            period=period,
            point=point,
            draws=draws,
            quantified_days=sum(len(part.quantified) for _site, _rows, part in parts),
            below_loq_days=below,
            blocked_days=sum(part.blocked for _site, _rows, part in parts),
            sites_reporting=len(used),
            bounds=self._bounds(parts) if below else None,
        )

    @staticmethod
    def _bounds(parts: list[tuple[SiteShare, Series, SitePeriod]]) -> Bounds | None:
        """The population-weighted mean if every below-LOQ day were 0, and if each were at its LOQ."""
        low_load = high_load = population = 0.0
        high_known = True
        for site, rows, part in parts:
            days = len(part.quantified) + len(part.below_loq)
            if not days:
                continue
            if not part.population:
                return None
            quantified = float(rows.load[part.quantified].sum())
            loq = rows.loq_per_1000[part.below_loq] * rows.population[part.below_loq] / 1000.0
            if np.isnan(loq).any():
                high_known = False
            low_load += site.share * quantified / days
            high_load += site.share * (quantified + float(np.nansum(loq))) / days
            population += site.share * part.population
        if not population:
            return None
        return Bounds(
            if_zero=1000.0 * low_load / population,
            if_at_loq=1000.0 * high_load / population if high_known else None,
        )


# --- Series of periods ----------------------------------------------------------------------------------------------


@dataclass
class AggregateSeries:
    """A subject's aggregates of one analyte over consecutive periods."""

    subject: Subject
    analyte: Analyte
    kind: str
    days: str
    first: dt.date
    last: dt.date
    values: list[PeriodValue] = field(default_factory=list)
    factor_set_label: str = ""
    factor: FactorInputs | None = None


def by_site(rows: Mapping[tuple[int, int], Series], analyte_id: int) -> dict[int, Series]:
    return {site_id: series for (site_id, analyte), series in rows.items() if analyte == analyte_id}


def one_year_earlier(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def load_window(found: Sequence[Period]) -> tuple[dt.date, dt.date]:
    """The days whose results a series of periods needs: the periods and the same periods a year earlier."""
    first = min(min(period.start, period.previous_year().start) for period in found)
    return first, max(period.end for period in found)


def aggregate_series(
    aggregator: Aggregator,
    subject: Subject,
    analyte: Analyte,
    found: Sequence[Period],
    days: str,
    *,
    rows: Mapping[tuple[int, int], Series] | None = None,
    factor: FactorInputs | None = None,
    factor_set_label: str = "",
    typical_dose_mg: float | None = None,
) -> AggregateSeries:
    """Every period's value with interval, bounds, year on year and (with a factor) consumption. ``rows`` may be
    given when the caller loaded them already (``load_window`` of the periods)."""
    if rows is None:
        rows = load_rows(subject.site_ids, [analyte.pk], *load_window(found))
    series = by_site(rows, analyte.pk)
    result = AggregateSeries(
        subject=subject,
        analyte=analyte,
        kind=found[0].kind,
        days=days,
        first=found[0].start,
        last=found[-1].end,
        factor_set_label=factor_set_label,
        factor=factor,
    )
    seed = aggregator.excretion_seed(analyte.code, factor_set_label)
    for period in found:
        value = value_with_previous(aggregator, subject, series, period, days)
        per_1000 = value.per_1000_draws
        if factor is not None and per_1000 is not None:
            value.consumption = consumption_draws(
                per_1000,
                factor=factor.factor,
                excretion_fraction=factor.excretion_fraction,
                excretion_rsd=factor.excretion_rsd,
                seed=seed,
            )
        value.typical_dose_mg = typical_dose_mg
        result.values.append(value)
    return result


def value_with_previous(
    aggregator: Aggregator,
    subject: Subject,
    series: Mapping[int, Series],
    period: Period,
    days: str,
    *,
    with_draws: bool = True,
) -> PeriodValue:
    """A period's value with the same period a year earlier (point only) and the year-on-year label."""
    value = aggregator.value(subject, series, period, days, with_draws=with_draws)
    previous = aggregator.value(subject, series, period.previous_year(), days, with_draws=False)
    value.previous = previous.point
    if value.point is not None:
        value.yoy = periods.year_on_year(value.point, previous.point, aggregator.band)
    return value


# --- Payloads -------------------------------------------------------------------------------------------------------


def estimate(point: float | None, draws: np.ndarray | None, scale: float = 1.0) -> dict[str, float] | None:
    """``{"value", "p2_5", "median", "p97_5"}`` of a point and its draws (times ``scale``)."""
    if point is None or draws is None:
        return None
    interval = interval_of(draws)
    return {
        "value": point * scale,
        "p2_5": interval.p2_5 * scale,
        "median": interval.median * scale,
        "p97_5": interval.p97_5 * scale,
    }


def yoy_payload(value: PeriodValue) -> dict[str, Any] | None:
    if value.yoy is None:
        return None
    return {
        "previous": value.previous,
        "percent": value.yoy.percent,
        "label": value.yoy.label,
        "label_text": yoy_text(value.yoy.label),
    }


def yoy_text(label: str) -> str:
    return {
        periods.Change.INCREASE: _("increase"),
        periods.Change.DECREASE: _("decrease"),
        periods.Change.STABLE: _("stable"),
        periods.Change.NO_PREVIOUS: _("no previous data"),
    }.get(label, label)


def bounds_payload(bounds: Bounds | None) -> dict[str, Any] | None:
    if bounds is None:
        return None
    return {
        "if_zero": bounds.if_zero,
        "if_at_loq": bounds.if_at_loq,
        "note": _(
            "Bounds, not values: the mean if the days below the LOQ were 0, and if they were at their LOQ."
        ),
    }


def value_payload(value: PeriodValue) -> dict[str, Any]:
    consumption = value.consumption
    doses = None
    if consumption is not None and value.typical_dose_mg:
        doses = estimate(consumption.point, consumption.draws, 1.0 / value.typical_dose_mg)
    return {
        "period": value.period.label,
        "start": value.period.start.isoformat(),
        "end": value.period.end.isoformat(),
        "load_per_1000": estimate(value.point, value.draws),
        "consumption_per_1000": estimate(consumption.point, consumption.draws) if consumption else None,
        "doses_per_1000": doses,
        "quantified_days": value.quantified_days,
        "below_loq_days": value.below_loq_days,
        "blocked_days": value.blocked_days,
        "sites_reporting": value.sites_reporting,
        "below_loq_bounds": bounds_payload(value.bounds),
        "year_on_year": yoy_payload(value),
    }


def split_payload(aggregator: Aggregator) -> dict[str, list[int]]:
    return {"weekday": sorted(aggregator.split.weekday), "weekend": sorted(aggregator.split.weekend)}


def settings_payload(settings: WastewaterSettings) -> dict[str, Any] | None:
    version = settings.version
    if version is None:
        return None
    return {
        "id": version.pk,
        "label": version.label,
        "effective_from": version.effective_from.isoformat(),
        "region": version.region.code if version.region_id and version.region else None,
    }


# --- Requests -------------------------------------------------------------------------------------------------------


@dataclass
class Context:
    """What one request resolved once: the settings in force, the correction-factor set and its factors, and the
    aggregator holding the request's draws."""

    settings: WastewaterSettings
    aggregator: Aggregator
    factor_set: CorrectionFactorSet
    factors: dict[int, FactorInputs]

    @property
    def factor_set_label(self) -> str:
        return f"{self.factor_set.name}:{self.factor_set.version}"

    def factor_set_payload(self) -> dict[str, Any]:
        return {"id": self.factor_set.pk, "name": self.factor_set.name, "version": self.factor_set.version}


def request_context(user: Any, unit: OrgUnit, *, on: dt.date, cf_set: str = "") -> Context:
    """The settings in force for ``unit`` on ``on`` (the split, band, draws and seed of the whole request) and the
    factor set named by ``cf_set`` (default: the settings' set)."""
    from jindu.wastewater.results import factor_inputs
    from jindu.wastewater.selectors import resolve_cf_set

    settings = settings_in_force(unit, on)
    factor_set = resolve_cf_set(user, cf_set, settings.default_cf_set)
    return Context(
        settings=settings,
        aggregator=Aggregator(settings),
        factor_set=factor_set,
        factors=factor_inputs(factor_set, settings.default_excretion_rsd),
    )


def resolve_analyte(value: str | None, *, name: str = "analyte") -> Analyte:
    """An analyte by code or by a name labs use (METH, 甲基苯丙胺); 400 naming the parameter otherwise."""
    from jindu.wastewater.services import analyte_index, normal_name

    text = (value or "").strip()
    found = analyte_index().get(normal_name(text)) if text else None
    if found is None:
        raise ServiceError(
            _("Unknown analyte %(name)s.") % {"name": text or "—"},
            code="unknown_analyte",
            fields={name: _("an analyte code such as METH")},
        )
    return found


def series_for_request(
    context: Context, subject: Subject, analyte: Analyte, found: Sequence[Period], days: str
) -> AggregateSeries:
    """The aggregate series of a request, with consumption under the request's factor set."""
    return aggregate_series(
        context.aggregator,
        subject,
        analyte,
        found,
        days,
        factor=context.factors.get(analyte.pk),
        factor_set_label=context.factor_set_label,
        typical_dose_mg=context.settings.typical_dose_mg(analyte.drug) if analyte.drug else None,
    )


def series_payload(context: Context, result: AggregateSeries) -> dict[str, Any]:
    """The API's answer for an aggregate series."""
    return {
        "subject": result.subject.describe(),
        "analyte": {
            "code": result.analyte.code,
            "name_zh": result.analyte.name_zh,
            "drug": result.analyte.drug,
        },
        "period": result.kind,
        "days": result.days,
        "from": result.first.isoformat(),
        "to": result.last.isoformat(),
        "day_split": split_payload(context.aggregator),
        "stable_band_percent": context.aggregator.band,
        "cf_set": context.factor_set_payload(),
        "settings_version": settings_payload(context.settings),
        "draws": context.aggregator.draws,
        "typical_dose_mg": result.values[0].typical_dose_mg if result.values else None,
        "units": {
            "load_per_1000": "mg/day/1000 inhabitants",
            "consumption_per_1000": "mg/day/1000 inhabitants",
            "doses_per_1000": "doses/day/1000 inhabitants",
        },
        "notes": {
            "below_loq": _(
                "Days below the LOQ never enter a mean as numbers: they are counted, and the bounds the mean "
                "would have with them at 0 and at their LOQ are given."
            ),
            "interval": _(
                "95 %% Monte Carlo interval (%(draws)s seeded draws): day errors per day, the population per "
                "site and the excretion fraction per drug drawn once per iteration."
            )
            % {"draws": context.aggregator.draws},
        },
        "periods": [value_payload(value) for value in result.values],
    }
