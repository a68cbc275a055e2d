"""Anomaly flags on the wastewater series (wbe.md §6.3): the rules engine, the review services and the reads.

Rules. Each rule is a small function ``rule_x(ctx) -> list[Finding]`` over an ``AnomalyContext``, which loads the
stored results, measurements and samples of the examined sites once, with grouped queries (never a query per
site or day). Thresholds come from the ``anomalies`` key of the wastewater settings in force for the site on the
day judged (``policies.SettingsBook``; shipped defaults in ``anomaly_settings.py``). Implemented:

- ``robust_z``: robust z-score of log10(load per 1000) against the site × analyte history: median and MAD of the
  quantified days of a trailing window before the day, z = 0.6745·(x − median)/MAD; |z| above the threshold is
  a spike (warning) or a drop (notice). Days under the LOQ are never used as numbers, neither judged nor part of
  a baseline;
- ``cusum``: one-sided CUSUMs (up and down) of the same standardised series find sustained shifts no single day
  shows; one flag per episode (from the day the sum left 0 until it returns to 0), named by its start day;
- ``meth_dumping``: a methamphetamine spike with AMP/METH far below the excretion ratio (alert); also when AMP is
  under its LOQ and the LOQ itself bounds the ratio below the threshold;
- ``amp_ratio_high``: AMP/METH above the expected range (selegiline or amphetamine use), one flag per site and
  month;
- ``mcat_ephedrine``: methcathinone with much ephedrine/pseudoephedrine is an artefact (notice, per site and
  month); methcathinone without (enough) ephedrine is a warning per sample;
- ``heroin_marker``: 6-MAM quantified (only 6-MAM proves heroin), per sample;
- ``morphine_sources``: a morphine spike without 6-MAM, with its codeine share codeine/(morphine + codeine):
  a high share points to codeine, medical morphine or poppy-shell products (notice), a low one leaves the spike
  unexplained (warning);
- ``flow``: rain, a flow above the site's trailing percentile or above its design capacity: judge the day on
  loads, not concentrations (per sample);
- ``population_marker``: the cotinine-implied population (wbe.md §3.1) beyond ±max_deviation of the site's
  default estimate, per site and month.

``run_anomalies`` judges the days of a window up to ``as_of`` (the last ``window_days``, or the whole history)
and stores the findings in one transaction with one audit record. A finding whose ``dedup_key`` is stored
already updates the flag while it is new (figures and evidence as found now) and leaves a reviewed flag alone,
so rerunning never duplicates. ``anomalies_after_store`` is what code storing samples calls: it queues the run
for the affected sites from the earliest stored day on.

Messages are English ``gettext_noop`` templates filled with ``params`` when shown (``explain``), so each flag is
read in the reader's language with its numbers.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import gettext_noop

from jindu.core.audit import audit_write
from jindu.core.errors import Forbidden, NotFound, ServiceError
from jindu.core.models import AuditAction
from jindu.core.scoping import READ, WRITE, access_object, capture_root_ids, in_roots, user_may
from jindu.wastewater.models import (
    Analyte,
    AnalyteKind,
    AnalyteResult,
    AnomalyLevel,
    AnomalyStatus,
    ResultStatus,
    SamplingSite,
    WastewaterAnomaly,
    WastewaterSample,
)
from jindu.wastewater.policies import SettingsBook

# --- Rules and their names ------------------------------------------------------------------------------------

RULE_LABELS: dict[str, Any] = {
    "robust_z": _lazy("Spike or drop (robust z-score)"),
    "cusum": _lazy("Sustained shift (CUSUM)"),
    "meth_dumping": _lazy("Methamphetamine dumping or production waste"),
    "amp_ratio_high": _lazy("High amphetamine/methamphetamine ratio"),
    "mcat_ephedrine": _lazy("Methcathinone and ephedrine"),
    "heroin_marker": _lazy("Heroin marker (6-MAM)"),
    "morphine_sources": _lazy("Morphine sources"),
    "flow": _lazy("Flow (rain, high flow)"),
    "population_marker": _lazy("Population marker (cotinine)"),
}
LEVEL_RANK = {AnomalyLevel.NOTICE: 0, AnomalyLevel.WARNING: 1, AnomalyLevel.ALERT: 2}
# A review note says why: at least this many characters.
REVIEW_NOTE_MIN = 5
# Evidence of a flag grouped by month: at most this many samples are listed.
MAX_EVIDENCE = 62
# Robust z: 0.6745 makes the MAD of a normal series comparable with its standard deviation.
MAD_SCALE = 0.6745

METH, AMP, MCAT, EPH, PSE = "METH", "AMP", "MCAT", "EPH", "PSE"
MAM, MORPHINE, CODEINE, COTININE = "6MAM", "MOR", "COD", "COT"


def rule_label(code: str) -> str:
    return str(RULE_LABELS.get(code, code))


# --- Formatting: numbers in messages are strings, so a message reads the same wherever it is shown ------------


def _fmt(value: float) -> str:
    """A figure for a message: three significant digits, whole numbers from 100 on (thousands separated from
    10,000 on)."""
    magnitude = abs(value)
    if magnitude >= 10_000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _round(value: float) -> float:
    """A figure for evidence: six significant digits (stable when stored and read back)."""
    return float(f"{value:.6g}")


def _percent(value: float) -> str:
    return f"{value * 100:+.0f}"


def _month(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def explain(message: str, params: dict[str, Any] | None) -> str:
    """A stored message in the active language with its values. ``params["reasons"]`` may list further message
    templates (translated and filled with the same values, then joined)."""
    values = dict(params or {})
    reasons = values.get("reasons")
    if isinstance(reasons, list):
        values["reasons"] = " ".join(_fill(str(reason), values) for reason in reasons)
    return _fill(message, values)


def _fill(message: str, values: dict[str, Any]) -> str:
    try:
        return _(message) % values
    except (KeyError, TypeError, ValueError):
        return _(message)


def anomaly_explanation(anomaly: WastewaterAnomaly) -> str:
    return explain(anomaly.message, anomaly.params)


# --- Findings and the context ---------------------------------------------------------------------------------


@dataclass
class Finding:
    """What a rule found: not yet a stored flag (``run_anomalies`` stores it)."""

    rule: str
    level: str
    site_id: int
    day: dt.date
    dedup_key: str
    message: str
    params: dict[str, Any]
    evidence: list[dict[str, Any]]
    sample_id: int | None = None
    analyte: str | None = None


@dataclass(frozen=True)
class Site:
    id: int
    code: str
    name: str
    org_unit_id: int
    org_path: str
    population: int | None
    capacity: float | None


@dataclass(frozen=True)
class Point:
    """One analyte in one sample. ``value`` is the load per 1000 (the daily load at a site without a population
    estimate) of a quantified measurement and None otherwise (under the LOQ, blocked by QA)."""

    day: dt.date
    sample_id: int
    status: str
    value: float | None
    ng_per_l: float | None
    loq: float | None

    @property
    def quantified(self) -> bool:
        return self.value is not None

    @property
    def below_loq(self) -> bool:
        return self.status == ResultStatus.BELOW_LOQ

    @property
    def measured(self) -> bool:
        """Measured and usable (quantified or under the LOQ; a QA failure says nothing)."""
        return self.quantified or self.below_loq


@dataclass(frozen=True)
class Sample:
    id: int
    site_id: int
    day: dt.date
    flow: float
    rain: bool


@dataclass(frozen=True)
class Score:
    """A quantified day against the trailing baseline of its series (log10 units)."""

    z: float
    log_value: float
    median: float
    mad: float
    count: int
    history_days: int
    # "weekday" or "weekend" when the baseline held only days of the point's own type (analytes with a weekly
    # pattern: robust_z.day_type_baseline), "" when it held every day.
    day_type: str = ""

    @property
    def median_value(self) -> float:
        return float(10**self.median)

    @property
    def ratio(self) -> float:
        return float(10 ** (self.log_value - self.median))


@dataclass
class _Series:
    points: list[Point]
    # The quantified points only, as day ordinals and log10 values, for windows by bisection.
    days: list[int] = field(default_factory=list)
    logs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Day of the week (0 Monday … 6 Sunday) of each quantified point, for baselines of one day type.
    weekdays: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def sample_evidence(point: Point, analyte: str, unit: str, role: str = "") -> dict[str, Any]:
    """An evidence item naming a sample and what the rule read from it."""
    item: dict[str, Any] = {
        "kind": "sample",
        "sample": point.sample_id,
        "day": point.day.isoformat(),
        "analyte": analyte,
        "ng_per_l": _round(point.ng_per_l) if point.ng_per_l is not None else None,
        "value": _round(point.value) if point.value is not None else None,
        "unit": unit,
    }
    if point.below_loq:
        item["below_loq"] = True
        item["loq"] = _round(point.loq) if point.loq is not None else None
    if role:
        item["role"] = role
    return item


def figure(label: str, value: Any, unit: str = "") -> dict[str, Any]:
    """An evidence item for a computed value or a threshold (``label`` a message id, translated when shown)."""
    return {
        "kind": "figure",
        "label": label,
        "value": _round(value) if isinstance(value, float) else value,
        "unit": unit,
    }


def _sorted_median(ordered: np.ndarray) -> float:
    middle = ordered.size // 2
    if ordered.size % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)


def _median_and_mad(values: np.ndarray) -> tuple[float, float]:
    """Median and median absolute deviation (sorting is several times faster than ``np.median`` on the windows
    of a few hundred values a run scores tens of thousands of)."""
    median = _sorted_median(np.sort(values))
    return median, _sorted_median(np.sort(np.abs(values - median)))


class AnomalyContext:
    """What the rules read, loaded once per run: the sites, their results (with the measured concentrations)
    and their samples from the start of the longest baseline to ``as_of``."""

    def __init__(
        self,
        as_of: dt.date,
        *,
        site_ids: Iterable[int] | None = None,
        since: dt.date | None = None,
        full_history: bool = False,
    ) -> None:
        self.as_of = as_of
        self.book = SettingsBook()
        sites = SamplingSite.objects.filter(active=True)
        if site_ids is not None:
            sites = sites.filter(pk__any=list(site_ids))
        self.sites: dict[int, Site] = {
            pk: Site(pk, code, name, unit, path, population, float(capacity) if capacity else None)
            for pk, code, name, unit, path, capacity, population in sites.values_list(
                "pk",
                "code",
                "name",
                "org_unit_id",
                "org_path",
                "design_capacity_m3_per_day",
                "default_population__population",
            )
        }
        ids = list(self.sites)
        settings = [
            self.book.resolve(site.org_unit_id, as_of).payload["anomalies"] for site in self.sites.values()
        ]
        window = max((int(s["window_days"]) for s in settings), default=90)
        history = max((int(s["history_days"]) for s in settings), default=365)
        lead = max((int(s["cusum"]["lead_days"]) for s in settings), default=0)
        if full_history:
            earliest = WastewaterSample.objects.filter(site_id__any=ids).aggregate(first=Min("end_date"))[
                "first"
            ]
            since = min(filter(None, [since, earliest]), default=as_of)
        self.first_day = since if since is not None else as_of - dt.timedelta(days=window - 1)
        self.first_day = min(self.first_day, as_of)
        # Month-grouped rules judge whole months, so that a flag's figures never depend on where the window cut.
        self.month_start = self.first_day.replace(day=1)
        self.cusum_start = min(self.first_day - dt.timedelta(days=lead), self.month_start)
        self.load_start = self.cusum_start - dt.timedelta(days=history)
        self.analytes: dict[int, tuple[str, str]] = {
            pk: (code, kind) for pk, code, kind in Analyte.objects.values_list("pk", "code", "kind")
        }
        self.analyte_ids = {code: pk for pk, (code, _kind) in self.analytes.items()}
        # Population markers have their own rule; drugs and precursors are judged as series.
        self.series_codes = {
            code for code, kind in self.analytes.values() if kind != AnalyteKind.POPULATION_MARKER
        }
        self.series: dict[tuple[int, str], _Series] = {}
        self.by_sample: dict[int, dict[str, Point]] = defaultdict(dict)
        self.samples: dict[int, list[Sample]] = defaultdict(list)
        self._scores: dict[tuple[int, str, dt.date], Score | None] = {}
        if ids:
            self._load(ids)

    def _load(self, ids: list[int]) -> None:
        rows = (
            AnalyteResult.objects.filter(
                site_id__any=ids, end_date__gte=self.load_start, end_date__lte=self.as_of
            )
            .values_list(
                "site_id",
                "analyte_id",
                "end_date",
                "sample_id",
                "status",
                "per_1000",
                "load_mg_per_day",
                "measurement__ng_per_l",
                "measurement__loq",
            )
            .order_by("site_id", "analyte_id", "end_date")
        )
        grouped: dict[tuple[int, str], list[Point]] = defaultdict(list)
        for site_id, analyte_id, day, sample_id, status, per_1000, load, ng_per_l, loq in rows.iterator(
            chunk_size=5000
        ):
            code = self.analytes[analyte_id][0]
            value = per_1000 if per_1000 is not None else load
            # A zero has no logarithm: it is not a quantified value the series can use.
            if status not in (ResultStatus.COMPUTED, ResultStatus.NO_POPULATION) or not value or value <= 0:
                value = None
            point = Point(
                day,
                sample_id,
                status,
                value,
                float(ng_per_l) if ng_per_l is not None else None,
                float(loq) if loq is not None else None,
            )
            grouped[(site_id, code)].append(point)
            self.by_sample[sample_id][code] = point
        for key, points in grouped.items():
            quantified = [point for point in points if point.value is not None]
            self.series[key] = _Series(
                points,
                [point.day.toordinal() for point in quantified],
                np.log10(np.array([point.value for point in quantified], dtype=float)),
                np.array([point.day.weekday() for point in quantified], dtype=int),
            )
        for pk, site_id, day, flow, rain in (
            WastewaterSample.objects.filter(
                site_id__any=ids, end_date__gte=self.load_start, end_date__lte=self.as_of
            )
            .values_list("pk", "site_id", "end_date", "flow_m3_per_day", "rain")
            .order_by("site_id", "end_date")
        ):
            self.samples[site_id].append(Sample(pk, site_id, day, float(flow), rain))

    # Settings ------------------------------------------------------------------------------------------------

    def settings(self, site_id: int, day: dt.date) -> dict[str, Any]:
        """The ``anomalies`` settings in force for the site on the day."""
        return self.book.resolve(self.sites[site_id].org_unit_id, day).payload["anomalies"]

    def unit(self, site_id: int) -> str:
        return "mg/day/1000" if self.sites[site_id].population else "mg/day"

    def weekend_days(self, site_id: int, day: dt.date) -> frozenset[int]:
        """The days of the week that count as weekend for the site on the day (the settings' ``day_split``)."""
        return frozenset(
            self.book.resolve(self.sites[site_id].org_unit_id, day).payload["day_split"]["weekend"]
        )

    # Reading -------------------------------------------------------------------------------------------------

    def points(self, site_id: int, code: str, start: dt.date | None = None) -> list[Point]:
        series = self.series.get((site_id, code))
        if series is None:
            return []
        first = start or self.first_day
        return [point for point in series.points if point.day >= first]

    def point(self, sample_id: int, code: str) -> Point | None:
        return self.by_sample.get(sample_id, {}).get(code)

    def judged_samples(self, site_id: int, start: dt.date | None = None) -> list[Sample]:
        first = start or self.first_day
        return [sample for sample in self.samples.get(site_id, []) if sample.day >= first]

    def score(self, site_id: int, code: str, point: Point) -> Score | None:
        """The point's robust z against the quantified days of the trailing window before it (None when the
        point is not quantified or the window holds fewer than ``min_history`` days)."""
        key = (site_id, code, point.day)
        if key in self._scores:
            return self._scores[key]
        found: Score | None = None
        series = self.series.get((site_id, code))
        if series is not None and point.value is not None:
            settings = self.settings(site_id, point.day)
            history = int(settings["history_days"])
            day = point.day.toordinal()
            low = bisect_left(series.days, day - history)
            high = bisect_left(series.days, day)
            window = series.logs[low:high]
            day_type = ""
            if code in settings["robust_z"]["day_type_baseline"]:
                # MDMA or cocaine peak at weekends: a Saturday is judged against Fridays to Mondays only, so the
                # weekly rhythm is not taken for spikes and drops (the settings' weekday/weekend split).
                weekend = self.weekend_days(site_id, point.day)
                on_weekend = point.day.weekday() in weekend
                same_type = np.isin(series.weekdays[low:high], list(weekend)) == on_weekend
                window = window[same_type]
                day_type = "weekend" if on_weekend else "weekday"
            if len(window) >= int(settings["min_history"]):
                median = float(np.median(window))
                mad = max(
                    float(np.median(np.abs(window - median))), float(settings["robust_z"]["min_mad_log10"])
                )
                log_value = math.log10(point.value)
                found = Score(
                    MAD_SCALE * (log_value - median) / mad,
                    log_value,
                    median,
                    mad,
                    len(window),
                    history,
                    day_type,
                )
        self._scores[key] = found
        return found

    def spike(self, site_id: int, code: str, point: Point) -> Score | None:
        """The point's score when it is a spike by the robust-z threshold in force, else None."""
        score = self.score(site_id, code, point)
        threshold = float(self.settings(site_id, point.day)["robust_z"]["threshold"])
        return score if score is not None and score.z > threshold else None


# --- Rules ------------------------------------------------------------------------------------------------------


def _score_figures(score: Score, unit: str, threshold: float) -> list[dict[str, Any]]:
    return [
        figure(gettext_noop("Median of the baseline"), score.median_value, unit),
        figure(gettext_noop("MAD of log10 values"), score.mad),
        figure(gettext_noop("Quantified days in the baseline"), score.count),
        figure(gettext_noop("Baseline window (days)"), score.history_days),
        figure(gettext_noop("Robust z"), score.z),
        figure(gettext_noop("Threshold |z|"), threshold),
    ]


def rule_robust_z(ctx: AnomalyContext) -> list[Finding]:
    """A quantified day whose log10 load per 1000 lies more than ``threshold`` robust z from the median of the
    quantified days of the trailing window (a spike above, a drop below)."""
    findings: list[Finding] = []
    for (site_id, code), _series in ctx.series.items():
        if code not in ctx.series_codes:
            continue
        unit = ctx.unit(site_id)
        for point in ctx.points(site_id, code):
            settings = ctx.settings(site_id, point.day)["robust_z"]
            if not settings["enabled"]:
                continue
            score = ctx.score(site_id, code, point)
            threshold = float(settings["threshold"])
            if score is None or abs(score.z) <= threshold:
                continue
            if score.z > 0 and not score.day_type:
                level = settings["spike_level"]
                message = gettext_noop(
                    "Spike: %(analyte)s on %(day)s was %(value)s %(unit)s, %(ratio)s× the median of %(median)s "
                    "over the %(count)s quantified days of the previous %(history_days)s days. Robust z of the "
                    "log10 value = %(z)s (MAD %(mad)s), above the threshold of %(threshold)s."
                )
            elif score.z > 0 and score.day_type == "weekend":
                level = settings["spike_level"]
                message = gettext_noop(
                    "Spike: %(analyte)s on %(day)s was %(value)s %(unit)s, %(ratio)s× the median of %(median)s "
                    "over the %(count)s quantified weekend days of the previous %(history_days)s days (its "
                    "baseline holds weekend days only, for its weekly rhythm). Robust z of the log10 value = "
                    "%(z)s (MAD %(mad)s), above the threshold of %(threshold)s."
                )
            elif score.z > 0:
                level = settings["spike_level"]
                message = gettext_noop(
                    "Spike: %(analyte)s on %(day)s was %(value)s %(unit)s, %(ratio)s× the median of %(median)s "
                    "over the %(count)s quantified weekdays of the previous %(history_days)s days (its baseline "
                    "holds weekdays only, for its weekly rhythm). Robust z of the log10 value = %(z)s (MAD "
                    "%(mad)s), above the threshold of %(threshold)s."
                )
            elif settings["drops"] and not score.day_type:
                level = settings["drop_level"]
                message = gettext_noop(
                    "Drop: %(analyte)s on %(day)s was %(value)s %(unit)s, %(ratio)s× the median of %(median)s "
                    "over the %(count)s quantified days of the previous %(history_days)s days. Robust z of the "
                    "log10 value = %(z)s (MAD %(mad)s), below −%(threshold)s."
                )
            elif settings["drops"]:
                level = settings["drop_level"]
                message = gettext_noop(
                    "Drop: %(analyte)s on %(day)s was %(value)s %(unit)s, %(ratio)s× the median of %(median)s "
                    "over the %(count)s quantified days of the same type (weekday or weekend) in the previous "
                    "%(history_days)s days. Robust z of the log10 value = %(z)s (MAD %(mad)s), below "
                    "−%(threshold)s."
                )
            else:
                continue
            assert point.value is not None
            findings.append(
                Finding(
                    rule="robust_z",
                    level=level,
                    site_id=site_id,
                    day=point.day,
                    sample_id=point.sample_id,
                    analyte=code,
                    dedup_key=f"robust_z:{point.sample_id}:{code}",
                    message=message,
                    params={
                        "analyte": code,
                        "day": point.day.isoformat(),
                        "value": _fmt(point.value),
                        "unit": unit,
                        "ratio": _fmt(score.ratio),
                        "median": _fmt(score.median_value),
                        "count": score.count,
                        "history_days": score.history_days,
                        "z": f"{score.z:.1f}",
                        "mad": f"{score.mad:.3f}",
                        "threshold": _fmt(threshold),
                    },
                    evidence=[
                        sample_evidence(point, code, unit, "flagged"),
                        *_score_figures(score, unit, threshold),
                    ],
                )
            )
    return findings


@dataclass
class _Episode:
    start: Point
    alarm: Point | None = None
    last: Point | None = None
    peak: float = 0.0
    days: int = 0
    log_ratio_sum: float = 0.0


def rule_cusum(ctx: AnomalyContext) -> list[Finding]:
    """Upper and lower CUSUMs of the standardised log series (each day's robust z against its own trailing
    baseline): ``S = max(0, S ± z − k)``. An episode runs from the day S leaves 0 until it returns to 0; it is
    flagged when S exceeds ``h``, on the day it does, and named by its start day (so a later run that sees the
    same shift updates the same flag with the figures so far)."""
    findings: list[Finding] = []
    for (site_id, code), _series in ctx.series.items():
        if code not in ctx.series_codes:
            continue
        unit = ctx.unit(site_id)
        for sign, direction in ((1.0, "up"), (-1.0, "down")):
            running = 0.0
            episode: _Episode | None = None
            episodes: list[_Episode] = []
            for point in ctx.points(site_id, code, ctx.cusum_start):
                settings = ctx.settings(site_id, point.day)["cusum"]
                score = ctx.score(site_id, code, point)
                if score is None or not settings["enabled"]:
                    continue
                clip = float(settings["clip"])
                step = min(max(sign * score.z, -clip), clip)
                running = max(0.0, running + step - float(settings["slack"]))
                if running == 0.0:
                    if episode is not None and episode.alarm is not None:
                        episodes.append(episode)
                    episode = None
                    continue
                if episode is None:
                    episode = _Episode(start=point)
                episode.last = point
                episode.days += 1
                episode.log_ratio_sum += score.log_value - score.median
                episode.peak = max(episode.peak, running)
                if episode.alarm is None and running > float(settings["threshold"]):
                    episode.alarm = point
            if episode is not None and episode.alarm is not None:
                episodes.append(episode)
            for found in episodes:
                assert found.alarm is not None and found.last is not None
                if found.last.day < ctx.first_day:
                    continue
                minimum = (
                    1 + float(ctx.settings(site_id, found.alarm.day)["cusum"]["min_shift_percent"]) / 100
                )
                ratio = 10 ** (found.log_ratio_sum / found.days)
                if 1 / minimum < ratio < minimum:
                    continue  # statistically sustained, but too small to act on
                findings.append(_cusum_finding(ctx, site_id, code, unit, direction, found))
    return findings


def _cusum_finding(
    ctx: AnomalyContext, site_id: int, code: str, unit: str, direction: str, episode: _Episode
) -> Finding:
    assert episode.alarm is not None and episode.last is not None
    settings = ctx.settings(site_id, episode.alarm.day)["cusum"]
    ratio = 10 ** (episode.log_ratio_sum / episode.days)
    if direction == "up":
        message = gettext_noop(
            "Sustained rise of %(analyte)s from %(start)s: the upper CUSUM of its standardised log10 values "
            "passed %(threshold)s σ on %(alarm)s and reached %(sum)s σ (slack %(slack)s σ). Over the %(days)s "
            "quantified days to %(last)s the values were on average %(ratio)s× their trailing median."
        )
    else:
        message = gettext_noop(
            "Sustained fall of %(analyte)s from %(start)s: the lower CUSUM of its standardised log10 values "
            "passed %(threshold)s σ on %(alarm)s and reached %(sum)s σ (slack %(slack)s σ). Over the %(days)s "
            "quantified days to %(last)s the values were on average %(ratio)s× their trailing median."
        )
    return Finding(
        rule="cusum",
        level=settings["level"],
        site_id=site_id,
        day=episode.alarm.day,
        sample_id=episode.alarm.sample_id,
        analyte=code,
        dedup_key=f"cusum:{site_id}:{code}:{direction}:{episode.start.day.isoformat()}",
        message=message,
        params={
            "analyte": code,
            "direction": direction,
            "start": episode.start.day.isoformat(),
            "alarm": episode.alarm.day.isoformat(),
            "last": episode.last.day.isoformat(),
            "days": episode.days,
            "sum": f"{episode.peak:.1f}",
            "threshold": _fmt(float(settings["threshold"])),
            "slack": _fmt(float(settings["slack"])),
            "ratio": _fmt(ratio),
        },
        evidence=[
            sample_evidence(episode.start, code, unit, "start"),
            sample_evidence(episode.alarm, code, unit, "flagged"),
            *(
                [sample_evidence(episode.last, code, unit, "last")]
                if episode.last is not episode.alarm
                else []
            ),
            figure(gettext_noop("Largest cumulative sum (σ)"), episode.peak),
            figure(gettext_noop("Mean ratio to the trailing median"), ratio),
            figure(gettext_noop("Slack k (σ)"), float(settings["slack"])),
            figure(gettext_noop("Threshold h (σ)"), float(settings["threshold"])),
        ],
    )


def rule_meth_ratio(ctx: AnomalyContext) -> list[Finding]:
    """The AMP/METH load ratio of each sample (both from the same composite and flow, so the concentration
    ratio): a METH spike with the ratio under ``dumping_max_ratio`` is ``meth_dumping``; ratios above
    ``expected_max`` make one ``amp_ratio_high`` flag per site and month."""
    findings: list[Finding] = []
    for site_id in ctx.sites:
        unit = ctx.unit(site_id)
        high: dict[str, list[tuple[Point, Point, float]]] = defaultdict(list)
        for meth in ctx.points(site_id, METH, ctx.month_start):
            if meth.ng_per_l is None or meth.value is None:
                continue
            settings = ctx.settings(site_id, meth.day)["meth_ratio"]
            if not settings["enabled"]:
                continue
            amp = ctx.point(meth.sample_id, AMP)
            ratio = amp.ng_per_l / meth.ng_per_l if amp is not None and amp.ng_per_l is not None else None
            if ratio is not None and ratio > float(settings["expected_max"]):
                assert amp is not None
                high[_month(meth.day)].append((meth, amp, ratio))
            if meth.day < ctx.first_day or amp is None:
                continue
            score = ctx.spike(site_id, METH, meth)
            if score is None:
                continue
            dumping = float(settings["dumping_max_ratio"])
            if ratio is not None and ratio < dumping:
                message = gettext_noop(
                    "Possible direct disposal of methamphetamine (dumping) or production waste: METH on %(day)s "
                    "was %(value)s %(unit)s, %(z_ratio)s× its median (robust z %(z)s), while AMP/METH was "
                    "%(ratio)s, far below the %(expected_min)s–%(expected_max)s (median %(expected_median)s) "
                    "left by people who used it; the threshold is %(dumping)s."
                )
                bound = ratio
            elif amp.below_loq and amp.loq is not None and amp.loq / meth.ng_per_l < dumping:
                message = gettext_noop(
                    "Possible direct disposal of methamphetamine (dumping) or production waste: METH on %(day)s "
                    "was %(value)s %(unit)s, %(z_ratio)s× its median (robust z %(z)s), while AMP was under its "
                    "LOQ, so AMP/METH was at most %(ratio)s, far below the %(expected_min)s–%(expected_max)s "
                    "(median %(expected_median)s) left by people who used it; the threshold is %(dumping)s."
                )
                bound = amp.loq / meth.ng_per_l
            else:
                continue
            findings.append(
                Finding(
                    rule="meth_dumping",
                    level=settings["dumping_level"],
                    site_id=site_id,
                    day=meth.day,
                    sample_id=meth.sample_id,
                    analyte=METH,
                    dedup_key=f"meth_dumping:{meth.sample_id}",
                    message=message,
                    params={
                        "day": meth.day.isoformat(),
                        "value": _fmt(meth.value),
                        "unit": unit,
                        "z_ratio": _fmt(score.ratio),
                        "z": f"{score.z:.1f}",
                        "ratio": _fmt(bound),
                        "expected_min": _fmt(float(settings["expected_min"])),
                        "expected_max": _fmt(float(settings["expected_max"])),
                        "expected_median": _fmt(float(settings["expected_median"])),
                        "dumping": _fmt(dumping),
                    },
                    evidence=[
                        sample_evidence(meth, METH, unit, "flagged"),
                        sample_evidence(amp, AMP, unit),
                        figure(gettext_noop("AMP/METH ratio"), _round(bound)),
                        figure(gettext_noop("Dumping threshold (AMP/METH below)"), float(dumping)),
                        figure(
                            gettext_noop("Expected AMP/METH after use"),
                            f"{settings['expected_min']}–{settings['expected_max']}",
                        ),
                        *_score_figures(
                            score, unit, float(ctx.settings(site_id, meth.day)["robust_z"]["threshold"])
                        ),
                    ],
                )
            )
        for month, found in high.items():
            if found[-1][0].day < ctx.first_day:
                continue
            first_meth = found[0][0]
            settings = ctx.settings(site_id, first_meth.day)["meth_ratio"]
            ratios = [ratio for _meth, _amp, ratio in found]
            findings.append(
                Finding(
                    rule="amp_ratio_high",
                    level=settings["high_level"],
                    site_id=site_id,
                    day=first_meth.day,
                    sample_id=first_meth.sample_id,
                    analyte=AMP,
                    dedup_key=f"amp_ratio_high:{site_id}:{month}",
                    message=gettext_noop(
                        "In %(month)s, AMP/METH was above %(expected_max)s on %(days)s days (from %(first)s; "
                        "median %(ratio)s, highest %(highest)s), more than methamphetamine use leaves "
                        "(%(expected_min)s–%(expected_max)s, median %(expected_median)s): amphetamine from "
                        "other sources (e.g. selegiline) or amphetamine use."
                    ),
                    params={
                        "month": month,
                        "days": len(found),
                        "first": first_meth.day.isoformat(),
                        "ratio": _fmt(float(np.median(ratios))),
                        "highest": _fmt(max(ratios)),
                        "expected_min": _fmt(float(settings["expected_min"])),
                        "expected_max": _fmt(float(settings["expected_max"])),
                        "expected_median": _fmt(float(settings["expected_median"])),
                    },
                    evidence=[
                        *(
                            {**sample_evidence(amp, AMP, unit), "ratio": _round(ratio)}
                            for _meth, amp, ratio in found[:MAX_EVIDENCE]
                        ),
                        figure(
                            gettext_noop("Expected AMP/METH, upper bound"), float(settings["expected_max"])
                        ),
                    ],
                )
            )
    return findings


def rule_mcat_ephedrine(ctx: AnomalyContext) -> list[Finding]:
    """Methcathinone quantified: with ephedrine + pseudoephedrine at least ``ephedrine_to_mcat_min`` times it,
    an artefact formed in sewers or households (one notice per site and month); otherwise a warning per sample
    (ephedrine under its LOQ, not measured, or too little to explain it)."""
    findings: list[Finding] = []
    for site_id in ctx.sites:
        unit = ctx.unit(site_id)
        artefacts: dict[str, list[tuple[Point, float]]] = defaultdict(list)
        for mcat in ctx.points(site_id, MCAT, ctx.month_start):
            if mcat.ng_per_l is None or not mcat.quantified or mcat.ng_per_l <= 0:
                continue
            settings = ctx.settings(site_id, mcat.day)["mcat_ephedrine"]
            if not settings["enabled"]:
                continue
            precursors = [
                point for code in (EPH, PSE) if (point := ctx.point(mcat.sample_id, code)) is not None
            ]
            ephedrine = sum(point.ng_per_l or 0.0 for point in precursors if point.quantified)
            ratio = ephedrine / mcat.ng_per_l
            minimum = float(settings["ephedrine_to_mcat_min"])
            if ratio >= minimum:
                artefacts[_month(mcat.day)].append((mcat, ratio))
                continue
            if mcat.day < ctx.first_day:
                continue
            if ephedrine > 0:
                message = gettext_noop(
                    "Methcathinone %(mcat)s ng/L on %(day)s with ephedrine and pseudoephedrine only %(ratio)s× "
                    "as much (%(ephedrine)s ng/L; at least %(minimum)s× would explain it as formed from "
                    "ephedrine): possible methcathinone use."
                )
            elif any(point.measured for point in precursors):
                message = gettext_noop(
                    "Methcathinone %(mcat)s ng/L on %(day)s with ephedrine and pseudoephedrine under their LOQ: "
                    "not explained as formed from ephedrine; possible methcathinone use."
                )
            else:
                message = gettext_noop(
                    "Methcathinone %(mcat)s ng/L on %(day)s, and ephedrine and pseudoephedrine were not "
                    "measured: it cannot be told from the artefact formed from ephedrine; possible "
                    "methcathinone use."
                )
            findings.append(
                Finding(
                    rule="mcat_ephedrine",
                    level=settings["unexplained_level"],
                    site_id=site_id,
                    day=mcat.day,
                    sample_id=mcat.sample_id,
                    analyte=MCAT,
                    dedup_key=f"mcat_ephedrine:{mcat.sample_id}",
                    message=message,
                    params={
                        "day": mcat.day.isoformat(),
                        "mcat": _fmt(mcat.ng_per_l),
                        "ephedrine": _fmt(ephedrine),
                        "ratio": _fmt(ratio),
                        "minimum": _fmt(minimum),
                    },
                    evidence=[
                        sample_evidence(mcat, MCAT, unit, "flagged"),
                        *(
                            sample_evidence(point, code, unit)
                            for code in (EPH, PSE)
                            if (point := ctx.point(mcat.sample_id, code)) is not None
                        ),
                        figure(gettext_noop("(EPH + PSE)/MCAT"), _round(ratio)),
                        figure(gettext_noop("Artefact when (EPH + PSE)/MCAT is at least"), minimum),
                    ],
                )
            )
        for month, found in artefacts.items():
            if found[-1][0].day < ctx.first_day:
                continue
            first = found[0][0]
            settings = ctx.settings(site_id, first.day)["mcat_ephedrine"]
            ratios = [ratio for _point, ratio in found]
            findings.append(
                Finding(
                    rule="mcat_ephedrine",
                    level=settings["artefact_level"],
                    site_id=site_id,
                    day=first.day,
                    sample_id=first.sample_id,
                    analyte=MCAT,
                    dedup_key=f"mcat_ephedrine:artefact:{site_id}:{month}",
                    message=gettext_noop(
                        "In %(month)s methcathinone was quantified on %(days)s days (from %(first)s, up to "
                        "%(highest)s ng/L) together with ephedrine and pseudoephedrine at least %(ratio)s× as "
                        "much (threshold %(minimum)s×): it is likely formed from ephedrine in the sewer or in "
                        "households, an artefact rather than methcathinone use."
                    ),
                    params={
                        "month": month,
                        "days": len(found),
                        "first": first.day.isoformat(),
                        "highest": _fmt(max(point.ng_per_l or 0.0 for point, _ratio in found)),
                        "ratio": _fmt(min(ratios)),
                        "minimum": _fmt(float(settings["ephedrine_to_mcat_min"])),
                    },
                    evidence=[
                        *(
                            {**sample_evidence(point, MCAT, unit), "ratio": _round(ratio)}
                            for point, ratio in found[:MAX_EVIDENCE]
                        ),
                        figure(
                            gettext_noop("Artefact when (EPH + PSE)/MCAT is at least"),
                            float(settings["ephedrine_to_mcat_min"]),
                        ),
                    ],
                )
            )
    return findings


def rule_heroin_marker(ctx: AnomalyContext) -> list[Finding]:
    """6-MAM quantified: heroin was used (6-MAM is heroin-specific, wbe.md §2; it is unstable, so its absence
    proves nothing)."""
    findings: list[Finding] = []
    for site_id in ctx.sites:
        unit = ctx.unit(site_id)
        for mam in ctx.points(site_id, MAM):
            settings = ctx.settings(site_id, mam.day)["heroin_marker"]
            if not mam.quantified or mam.ng_per_l is None or not settings["enabled"]:
                continue
            morphine = ctx.point(mam.sample_id, MORPHINE)
            findings.append(
                Finding(
                    rule="heroin_marker",
                    level=settings["level"],
                    site_id=site_id,
                    day=mam.day,
                    sample_id=mam.sample_id,
                    analyte=MAM,
                    dedup_key=f"heroin_marker:{mam.sample_id}",
                    message=gettext_noop(
                        "6-MAM, which only heroin leaves, was quantified on %(day)s: %(ng_per_l)s ng/L, "
                        "%(value)s %(unit)s. Heroin was used in the catchment."
                    ),
                    params={
                        "day": mam.day.isoformat(),
                        "ng_per_l": _fmt(mam.ng_per_l),
                        "value": _fmt(mam.value or 0.0),
                        "unit": unit,
                    },
                    evidence=[
                        sample_evidence(mam, MAM, unit, "flagged"),
                        *([sample_evidence(morphine, MORPHINE, unit)] if morphine is not None else []),
                    ],
                )
            )
    return findings


def rule_morphine_sources(ctx: AnomalyContext) -> list[Finding]:
    """A morphine spike without 6-MAM, with the codeine share codeine/(morphine + codeine): at least
    ``codeine_share_min`` points to codeine, medical morphine or poppy-shell products; less (or codeine not
    measured) leaves the spike unexplained. A spike with 6-MAM is ``heroin_marker``'s."""
    findings: list[Finding] = []
    for site_id in ctx.sites:
        unit = ctx.unit(site_id)
        for morphine in ctx.points(site_id, MORPHINE):
            settings = ctx.settings(site_id, morphine.day)["morphine_sources"]
            if not settings["enabled"] or morphine.ng_per_l is None:
                continue
            score = ctx.spike(site_id, MORPHINE, morphine)
            if score is None:
                continue
            mam = ctx.point(morphine.sample_id, MAM)
            if mam is not None and mam.quantified:
                continue
            codeine = ctx.point(morphine.sample_id, CODEINE)
            minimum = float(settings["codeine_share_min"])
            level = settings["unexplained_level"]
            share: float | None = None
            if codeine is not None and codeine.quantified and codeine.ng_per_l is not None:
                share = codeine.ng_per_l / (morphine.ng_per_l + codeine.ng_per_l)
                if share >= minimum:
                    level = settings["level"]
                    message = gettext_noop(
                        "Morphine spike on %(day)s (%(value)s %(unit)s, %(z_ratio)s× its median, robust z %(z)s) "
                        "without 6-MAM; codeine/(morphine + codeine) = %(share)s, at least %(minimum)s: likely "
                        "codeine, medical morphine or poppy-shell products rather than heroin."
                    )
                else:
                    message = gettext_noop(
                        "Morphine spike on %(day)s (%(value)s %(unit)s, %(z_ratio)s× its median, robust z %(z)s) "
                        "without 6-MAM; codeine/(morphine + codeine) = %(share)s, below %(minimum)s: codeine does "
                        "not explain it. Sources to check: medical morphine, poppy-shell products, heroin "
                        "(6-MAM is unstable and often lost)."
                    )
            elif codeine is not None and codeine.below_loq and codeine.loq is not None:
                share = codeine.loq / (morphine.ng_per_l + codeine.loq)
                if share < minimum:
                    message = gettext_noop(
                        "Morphine spike on %(day)s (%(value)s %(unit)s, %(z_ratio)s× its median, robust z %(z)s) "
                        "without 6-MAM; codeine was under its LOQ, so codeine/(morphine + codeine) was at most "
                        "%(share)s, below %(minimum)s: codeine does not explain it. Sources to check: medical "
                        "morphine, poppy-shell products, heroin (6-MAM is unstable and often lost)."
                    )
                else:
                    message = gettext_noop(
                        "Morphine spike on %(day)s (%(value)s %(unit)s, %(z_ratio)s× its median, robust z %(z)s) "
                        "without 6-MAM; codeine was under its LOQ, which bounds codeine/(morphine + codeine) only "
                        "at %(share)s, so its share cannot be told. Sources to check: codeine, medical morphine, "
                        "poppy-shell products, heroin."
                    )
            else:
                message = gettext_noop(
                    "Morphine spike on %(day)s (%(value)s %(unit)s, %(z_ratio)s× its median, robust z %(z)s) "
                    "without 6-MAM; codeine was not measured, so its share cannot be told. Sources to check: "
                    "codeine, medical morphine, poppy-shell products, heroin."
                )
            evidence = [sample_evidence(morphine, MORPHINE, unit, "flagged")]
            evidence.extend(
                sample_evidence(point, code, unit)
                for code, point in ((CODEINE, codeine), (MAM, mam))
                if point
            )
            if share is not None:
                evidence.append(figure(gettext_noop("Codeine/(morphine + codeine)"), _round(share)))
            evidence.append(figure(gettext_noop("Codeine share explaining the spike, at least"), minimum))
            evidence.extend(
                _score_figures(
                    score, unit, float(ctx.settings(site_id, morphine.day)["robust_z"]["threshold"])
                )
            )
            findings.append(
                Finding(
                    rule="morphine_sources",
                    level=level,
                    site_id=site_id,
                    day=morphine.day,
                    sample_id=morphine.sample_id,
                    analyte=MORPHINE,
                    dedup_key=f"morphine_sources:{morphine.sample_id}",
                    message=message,
                    params={
                        "day": morphine.day.isoformat(),
                        "value": _fmt(morphine.value or 0.0),
                        "unit": unit,
                        "z_ratio": _fmt(score.ratio),
                        "z": f"{score.z:.1f}",
                        "share": _fmt(share) if share is not None else "",
                        "minimum": _fmt(minimum),
                    },
                    evidence=evidence,
                )
            )
    return findings


def _percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile (a value that occurred)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


RAIN_REPORTED = gettext_noop("Rain was reported.")


def rule_flow(ctx: AnomalyContext) -> list[Finding]:
    """A flow above the ``percentile`` of the site's flows of the trailing window (plus a margin) or above its design
    capacity, on a rainy day or not: the concentrations of that day are diluted, so it is judged on loads (a notice
    on the sample). A reported rain day within both limits is flagged only with ``rain_alone``."""
    findings: list[Finding] = []
    for site_id, site in ctx.sites.items():
        samples = ctx.samples.get(site_id, [])
        days = [sample.day.toordinal() for sample in samples]
        for index, sample in enumerate(samples):
            if sample.day < ctx.first_day:
                continue
            anomalies = ctx.settings(site_id, sample.day)
            settings = anomalies["flow"]
            if not settings["enabled"]:
                continue
            low = bisect_left(days, sample.day.toordinal() - int(anomalies["history_days"]), 0, index)
            history = [earlier.flow for earlier in samples[low:index]]
            reasons: list[str] = []
            evidence: list[dict[str, Any]] = [
                {
                    "kind": "sample",
                    "sample": sample.id,
                    "day": sample.day.isoformat(),
                    "flow_m3_per_day": _round(sample.flow),
                    "rain": sample.rain,
                    "role": "flagged",
                }
            ]
            params: dict[str, Any] = {"day": sample.day.isoformat(), "flow": _fmt(sample.flow)}
            if sample.rain:
                reasons.append(RAIN_REPORTED)
            if len(history) >= int(settings["min_history"]):
                percentile = float(settings["percentile"])
                margin = float(settings["margin_percent"])
                value = _percentile(history, percentile)
                limit = value * (1 + margin / 100)
                params.update(
                    median=_fmt(float(np.median(history))),
                    count=len(history),
                    percentile=_fmt(percentile),
                    percentile_flow=_fmt(value),
                    margin=_fmt(margin),
                    limit=_fmt(limit),
                )
                evidence.append(
                    figure(gettext_noop("Median flow of the baseline"), float(np.median(history)), "m³/d")
                )
                evidence.append(figure(gettext_noop("Flow percentile of the baseline"), value, "m³/d"))
                evidence.append(figure(gettext_noop("Flow limit (percentile plus margin)"), limit, "m³/d"))
                if sample.flow > limit:
                    reasons.append(
                        gettext_noop(
                            "It is above %(limit)s m³/d, the %(percentile)sth percentile of the site's flows "
                            "(%(percentile_flow)s m³/d) plus %(margin)s %%."
                        )
                    )
            if site.capacity is not None:
                params["capacity"] = _fmt(site.capacity)
                evidence.append(figure(gettext_noop("Design capacity"), site.capacity, "m³/d"))
                if sample.flow > site.capacity:
                    reasons.append(gettext_noop("It is above the design capacity of %(capacity)s m³/d."))
            if not reasons or (reasons == [RAIN_REPORTED] and not settings["rain_alone"]):
                continue
            params["reasons"] = reasons
            message = (
                gettext_noop(
                    "Influent flow on %(day)s: %(flow)s m³/d (median %(median)s m³/d over %(count)s earlier "
                    "samples). %(reasons)s Concentrations are diluted: judge this day on loads, not concentrations."
                )
                if "median" in params
                else gettext_noop(
                    "Influent flow on %(day)s: %(flow)s m³/d. %(reasons)s Concentrations are diluted: judge this "
                    "day on loads, not concentrations."
                )
            )
            findings.append(
                Finding(
                    rule="flow",
                    level=settings["level"],
                    site_id=site_id,
                    day=sample.day,
                    sample_id=sample.id,
                    dedup_key=f"flow:{sample.id}",
                    message=message,
                    params=params,
                    evidence=evidence,
                )
            )
    return findings


def cotinine_population(
    ng_per_l: float,
    flow_m3_per_day: float,
    *,
    cigarettes: float,
    mg_per_cigarette: float,
    domestic_share: float,
) -> float:
    """Served population (persons) implied by cotinine, wbe.md §3.1:
    P [千人] = C_cot [ng/L] × Q [万m³/d] × 10 × domestic_share / (cigarettes × mg_per_cigarette × 1000)."""
    thousands = (
        ng_per_l * (flow_m3_per_day / 10_000) * 10 * domestic_share / (cigarettes * mg_per_cigarette * 1000)
    )
    return thousands * 1000


def rule_population_marker(ctx: AnomalyContext) -> list[Finding]:
    """The population cotinine implies, against the site's default estimate: days beyond ±``max_deviation`` make
    one notice per site and month."""
    findings: list[Finding] = []
    for site_id, site in ctx.sites.items():
        if not site.population:
            continue
        deviating: dict[str, list[tuple[Point, float]]] = defaultdict(list)
        flows = {sample.id: sample.flow for sample in ctx.samples.get(site_id, [])}
        for point in ctx.points(site_id, COTININE, ctx.month_start):
            settings = ctx.settings(site_id, point.day)["population_marker"]
            if not settings["enabled"] or not point.quantified or point.ng_per_l is None:
                continue
            implied = cotinine_population(
                point.ng_per_l,
                flows[point.sample_id],
                cigarettes=float(settings["cigarettes_per_capita_per_day"]),
                mg_per_cigarette=float(settings["cotinine_mg_per_cigarette"]),
                domestic_share=float(settings["domestic_share"]),
            )
            if abs(implied / site.population - 1) > float(settings["max_deviation"]):
                deviating[_month(point.day)].append((point, implied))
        for month, found in deviating.items():
            if found[-1][0].day < ctx.first_day:
                continue
            first = found[0][0]
            settings = ctx.settings(site_id, first.day)["population_marker"]
            implied_values = [implied for _point, implied in found]
            median = float(np.median(implied_values))
            findings.append(
                Finding(
                    rule="population_marker",
                    level=settings["level"],
                    site_id=site_id,
                    day=first.day,
                    sample_id=first.sample_id,
                    analyte=COTININE,
                    dedup_key=f"population_marker:{site_id}:{month}",
                    message=gettext_noop(
                        "In %(month)s cotinine implied a served population of %(implied)s (median of %(days)s "
                        "days from %(first)s, %(low)s to %(high)s) against the default estimate of %(population)s: "
                        "%(deviation)s %%, beyond ±%(threshold)s %%. Check the estimate or the catchment (visitors, "
                        "holidays, industrial flow); assumed: %(cigarettes)s cigarettes per inhabitant a day."
                    ),
                    params={
                        "month": month,
                        "implied": f"{median:,.0f}",
                        "days": len(found),
                        "first": first.day.isoformat(),
                        "low": f"{min(implied_values):,.0f}",
                        "high": f"{max(implied_values):,.0f}",
                        "population": f"{site.population:,}",
                        "deviation": _percent(median / site.population - 1),
                        "threshold": f"{float(settings['max_deviation']) * 100:.0f}",
                        "cigarettes": _fmt(float(settings["cigarettes_per_capita_per_day"])),
                        "mg": _fmt(float(settings["cotinine_mg_per_cigarette"])),
                        "share": _fmt(float(settings["domestic_share"])),
                    },
                    evidence=[
                        *(
                            {
                                **sample_evidence(point, COTININE, ctx.unit(site_id)),
                                "flow_m3_per_day": _round(flows[point.sample_id]),
                                "implied_population": round(implied),
                            }
                            for point, implied in found[:MAX_EVIDENCE]
                        ),
                        figure(gettext_noop("Default population estimate"), site.population),
                        figure(
                            gettext_noop("Cigarettes per inhabitant and day"),
                            float(settings["cigarettes_per_capita_per_day"]),
                        ),
                        figure(
                            gettext_noop("Cotinine per cigarette"),
                            float(settings["cotinine_mg_per_cigarette"]),
                            "mg",
                        ),
                        figure(gettext_noop("Domestic share of the flow"), float(settings["domestic_share"])),
                        figure(
                            gettext_noop("Largest deviation allowed (±)"), float(settings["max_deviation"])
                        ),
                    ],
                )
            )
    return findings


RuleFunction = Callable[[AnomalyContext], list[Finding]]

# Functions in the order they run; a function may raise several rule codes (``rule_meth_ratio``).
RULE_FUNCTIONS: dict[str, RuleFunction] = {
    "robust_z": rule_robust_z,
    "cusum": rule_cusum,
    "meth_ratio": rule_meth_ratio,
    "mcat_ephedrine": rule_mcat_ephedrine,
    "heroin_marker": rule_heroin_marker,
    "morphine_sources": rule_morphine_sources,
    "flow": rule_flow,
    "population_marker": rule_population_marker,
}


# --- Running and storing ----------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    as_of: dt.date
    first_day: dt.date
    sites: int = 0
    findings: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    reviewed: int = 0
    withdrawn: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "first_day": self.first_day.isoformat(),
            "sites": self.sites,
            "findings": self.findings,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            # Findings whose flag was reviewed already: a review is never changed by the engine.
            "reviewed": self.reviewed,
            # New flags of the judged sites and days that the rules no longer raise (a value corrected).
            "withdrawn": self.withdrawn,
            "by_rule": dict(sorted(self.by_rule.items())),
            "seconds": round(self.seconds, 3),
        }


def run_anomalies(
    *,
    as_of: dt.date | None = None,
    site_ids: Iterable[int] | None = None,
    since: dt.date | None = None,
    full_history: bool = False,
    requested_by: str = "",
) -> dict[str, Any]:
    """Judge the days from ``since`` (default: the last ``window_days`` of the settings; ``full_history``: from
    each site's first sample) to ``as_of`` (default today) at every active site (or ``site_ids``), and store the
    findings. Returns a summary (findings, flags created, updated, unchanged, left as reviewed, per rule)."""
    started = time.monotonic()
    as_of = as_of or timezone.localdate()
    ctx = AnomalyContext(as_of, site_ids=site_ids, since=since, full_history=full_history)
    summary = RunSummary(as_of=as_of, first_day=ctx.first_day, sites=len(ctx.sites))
    findings: list[Finding] = []
    for function in RULE_FUNCTIONS.values():
        findings.extend(function(ctx))
    for finding in findings:
        summary.by_rule[finding.rule] = summary.by_rule.get(finding.rule, 0) + 1
    summary.findings = len(findings)
    _store(ctx, findings, summary, requested_by=requested_by)
    summary.seconds = time.monotonic() - started
    return summary.as_dict()


STORED_FIELDS = ("level", "day", "sample_id", "analyte_id", "message", "params", "evidence")


def _store(ctx: AnomalyContext, findings: list[Finding], summary: RunSummary, *, requested_by: str) -> None:
    merged: dict[str, Finding] = {}
    for finding in findings:
        merged.setdefault(finding.dedup_key, finding)
    keys = list(merged)
    now = timezone.now()
    with transaction.atomic():
        stored: dict[str, WastewaterAnomaly] = {}
        for offset in range(0, len(keys), 500):
            for anomaly in WastewaterAnomaly.objects.filter(dedup_key__in=keys[offset : offset + 500]):
                stored[anomaly.dedup_key] = anomaly
        created: list[WastewaterAnomaly] = []
        changed: list[WastewaterAnomaly] = []
        for key, finding in merged.items():
            values = {
                "level": finding.level,
                "day": finding.day,
                "sample_id": finding.sample_id,
                "analyte_id": ctx.analyte_ids.get(finding.analyte) if finding.analyte else None,
                "message": finding.message,
                "params": finding.params,
                "evidence": finding.evidence,
            }
            existing = stored.get(key)
            if existing is None:
                site = ctx.sites[finding.site_id]
                created.append(
                    WastewaterAnomaly(
                        rule=finding.rule,
                        site_id=site.id,
                        dedup_key=key,
                        status=AnomalyStatus.NEW,
                        org_unit_id=site.org_unit_id,
                        org_path=site.org_path,
                        **values,
                    )
                )
            elif existing.status in (AnomalyStatus.CONFIRMED, AnomalyStatus.DISMISSED):
                summary.reviewed += 1
            elif existing.status == AnomalyStatus.NEW and all(
                getattr(existing, name) == value for name, value in values.items()
            ):
                summary.unchanged += 1
            else:
                # A new flag found with other figures, or a withdrawn one raised again (new once more).
                for name, value in values.items():
                    setattr(existing, name, value)
                existing.status = AnomalyStatus.NEW
                existing.last_updated = now
                changed.append(existing)
        WastewaterAnomaly.objects.bulk_create(created, batch_size=500)
        if changed:
            WastewaterAnomaly.objects.bulk_update(
                changed, [*STORED_FIELDS, "status", "last_updated"], batch_size=500
            )
        # New flags of the judged sites and days that this run did not raise again: their cause is gone (a value
        # corrected or removed, a rule switched off for the region). Withdrawn, not deleted, so that the list
        # still shows what was flagged; a reviewed flag is the reviewer's and stays as it is.
        gone = [
            pk
            for pk, key in WastewaterAnomaly.objects.filter(
                site_id__in=list(ctx.sites),
                day__gte=ctx.first_day,
                day__lte=ctx.as_of,
                status=AnomalyStatus.NEW,
            ).values_list("pk", "dedup_key")
            if key not in merged
        ]
        if gone:
            summary.withdrawn = WastewaterAnomaly.objects.filter(pk__any=gone).update(
                status=AnomalyStatus.WITHDRAWN, last_updated=now
            )
        summary.created, summary.updated = len(created), len(changed)
        if created or changed or summary.withdrawn:
            audit_write(
                action=AuditAction.CREATE,
                object_type=WastewaterAnomaly._meta.label_lower,
                object_id=f"run:{ctx.as_of.isoformat()}",
                object_repr=f"wastewater anomalies {ctx.first_day.isoformat()}–{ctx.as_of.isoformat()}",
                detail={
                    "as_of": ctx.as_of.isoformat(),
                    "first_day": ctx.first_day.isoformat(),
                    "sites": len(ctx.sites),
                    "created": summary.created,
                    "updated": summary.updated,
                    "withdrawn": summary.withdrawn,
                    "by_rule": dict(sorted(summary.by_rule.items())),
                    "requested_by": requested_by,
                },
            )


JOB_NAME = "wastewater_anomalies"


def anomalies_after_store(*, sample_ids: Iterable[int], actor: Any = None) -> Any:
    """What code storing samples calls (inside its transaction): queue the anomaly run for the sites of the
    samples, from the earliest of their days to today (later days' baselines include the new values). The job
    runs once the transaction commits (in-process without a broker). Returns the Job, or None for no samples."""
    from jindu.core.jobs import job_start

    rows = list(
        WastewaterSample.objects.filter(pk__any=list(sample_ids))
        .values_list("site_id", "end_date")
        .order_by()
    )
    if not rows:
        return None
    return job_start(
        name=JOB_NAME,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        parameters={
            "site_ids": sorted({site_id for site_id, _day in rows}),
            "since": min(day for _site_id, day in rows).isoformat(),
        },
    )


def anomalies_run_start(
    *, actor: Any, as_of: dt.date | None = None, full_history: bool = False, site_codes: Iterable[str] = ()
) -> Any:
    """Start a run as a job for the sites of the actor's capture scope (or the named ones, which must lie in
    it). Offices only: the role must register sites."""
    from jindu.core.jobs import job_start
    from jindu.core.scoping import path_condition, root_paths
    from jindu.wastewater.permissions import MANAGE_SITES

    if actor is not None and not actor.has_jindu_perm(MANAGE_SITES):
        raise Forbidden()
    fields: dict[str, str] = {}
    if as_of is not None and as_of > timezone.localdate():
        fields["as_of"] = _("not in the future")
    sites = SamplingSite.objects.filter(active=True)
    if actor is not None:
        sites = sites.filter(path_condition(root_paths(capture_root_ids(actor))))
    codes = [str(code).strip() for code in site_codes]
    found = dict(sites.filter(code__in=codes).values_list("code", "pk")) if codes else {}
    for index, code in enumerate(codes):
        if code not in found:
            fields[f"sites[{index}]"] = _("no site %(code)s in your capture scope") % {"code": code}
    if fields:
        raise ServiceError(
            _("The run cannot start: %(problems)s")
            % {"problems": "; ".join(f"{name}: {problem}" for name, problem in fields.items())},
            fields=fields,
        )
    site_ids = sorted(found.values()) if codes else sorted(sites.values_list("pk", flat=True))
    return job_start(
        name=JOB_NAME,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        parameters={
            "site_ids": site_ids,
            "as_of": as_of.isoformat() if as_of else None,
            "full_history": bool(full_history),
            "requested_by": actor.get_username() if actor is not None else "cli",
        },
    )


def run_job_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """``run_anomalies`` keyword arguments from a job's parameters (ISO dates as text)."""
    return {
        "as_of": dt.date.fromisoformat(parameters["as_of"]) if parameters.get("as_of") else None,
        "since": dt.date.fromisoformat(parameters["since"]) if parameters.get("since") else None,
        "site_ids": parameters.get("site_ids"),
        "full_history": bool(parameters.get("full_history")),
        "requested_by": str(parameters.get("requested_by") or ""),
    }


# --- Review -------------------------------------------------------------------------------------------------------


class AnomalyConflict(ServiceError):
    """The review step does not follow from the flag's status."""

    status = 409


# From status → the statuses a review may set. A reviewed flag goes back to new (reopened) before it can be
# judged the other way, so that every change of mind is its own audited step with its reason.
REVIEW_STEPS: dict[str, tuple[str, ...]] = {
    AnomalyStatus.NEW: (AnomalyStatus.CONFIRMED, AnomalyStatus.DISMISSED),
    AnomalyStatus.CONFIRMED: (AnomalyStatus.NEW,),
    AnomalyStatus.DISMISSED: (AnomalyStatus.NEW,),
    # A withdrawn flag is not reviewed: the engine raises it again (new) if its cause comes back.
    AnomalyStatus.WITHDRAWN: (),
}


def may_review(user: Any, anomaly: WastewaterAnomaly) -> bool:
    """Whether the user's role reviews anomalies and the site lies in the user's capture scope."""
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and user_may(user, WastewaterAnomaly, WRITE)
        and in_roots(anomaly.org_unit_id, capture_root_ids(user))
    )


def anomaly_review(*, actor: Any, anomaly: WastewaterAnomaly, status: str, note: str) -> WastewaterAnomaly:
    """Confirm or dismiss a new flag, or reopen a reviewed one (``status`` new), with a note of at least five
    characters saying why. Reviewers of the site's district only (capture scope); audited."""
    if actor is not None and not may_review(actor, anomaly):
        raise NotFound()
    note = (note or "").strip()
    fields: dict[str, str] = {}
    if status not in REVIEW_STEPS[AnomalyStatus.NEW] + (AnomalyStatus.NEW,):
        fields["status"] = _("one of %(values)s") % {
            "values": ", ".join((AnomalyStatus.NEW, *REVIEW_STEPS[AnomalyStatus.NEW]))
        }
    if len(note) < REVIEW_NOTE_MIN:
        fields["note"] = _("at least %(count)s characters saying why") % {"count": REVIEW_NOTE_MIN}
    if fields:
        raise ServiceError(
            _("The review was not recorded: %(problems)s")
            % {"problems": "; ".join(f"{name}: {problem}" for name, problem in fields.items())},
            fields=fields,
        )
    with transaction.atomic():
        current = WastewaterAnomaly.objects.select_for_update().select_related("site").get(pk=anomaly.pk)
        if status not in REVIEW_STEPS.get(current.status, ()):
            raise AnomalyConflict(
                _("A flag that is %(current)s cannot be set to %(status)s.")
                % {"current": AnomalyStatus(current.status).label, "status": AnomalyStatus(status).label},
                code="invalid_transition",
                fields={"status": current.status},
            )
        previous = current.status
        current.status = status
        current.reviewed_by = actor if getattr(actor, "is_authenticated", False) else None
        current.reviewed_at = timezone.now()
        current.review_note = note
        current.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "last_updated"])
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=current,
            detail={
                "rule": current.rule,
                "from": previous,
                "to": status,
                "note": note,
                "day": str(current.day),
            },
        )
    return current


# --- Reads --------------------------------------------------------------------------------------------------------


def anomalies_for_user(user: Any) -> QuerySet[WastewaterAnomaly]:
    return WastewaterAnomaly.objects.for_user(user)


def anomalies_search(
    user: Any,
    *,
    site: SamplingSite | None = None,
    rule: str = "",
    level: str = "",
    status: str = "",
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> QuerySet[WastewaterAnomaly]:
    """The flags of the user's jurisdiction, newest day first, filtered (an unknown filter value is a 400)."""
    fields: dict[str, str] = {}
    if rule and rule not in RULE_LABELS:
        fields["rule"] = _("one of %(values)s") % {"values": ", ".join(RULE_LABELS)}
    if level and level not in AnomalyLevel.values:
        fields["level"] = _("one of %(values)s") % {"values": ", ".join(AnomalyLevel.values)}
    if status and status not in AnomalyStatus.values:
        fields["status"] = _("one of %(values)s") % {"values": ", ".join(AnomalyStatus.values)}
    if first and last and first > last:
        fields["from"] = _("not after %(day)s") % {"day": last.isoformat()}
    if fields:
        raise ServiceError(
            _("Unknown filter: %(problems)s")
            % {"problems": "; ".join(f"{name}: {problem}" for name, problem in fields.items())},
            fields=fields,
        )
    anomalies = anomalies_for_user(user)
    if site is not None:
        anomalies = anomalies.filter(site=site)
    if rule:
        anomalies = anomalies.filter(rule=rule)
    if level:
        anomalies = anomalies.filter(level=level)
    if status:
        anomalies = anomalies.filter(status=status)
    if first:
        anomalies = anomalies.filter(day__gte=first)
    if last:
        anomalies = anomalies.filter(day__lte=last)
    return anomalies.select_related("site", "analyte", "org_unit", "reviewed_by").order_by("-day", "-pk")


def access_anomaly(user: Any, pk: Any, *, action: str = READ) -> WastewaterAnomaly:
    """One flag in the user's scope (search scope to read, capture scope to review), else NotFound."""
    return access_object(
        user,
        WastewaterAnomaly.objects.select_related("site", "analyte", "sample", "org_unit", "reviewed_by"),
        pk,
        action=action,
    )


def rule_precision(user: Any = None) -> list[dict[str, Any]]:
    """Per rule: flags new, confirmed and dismissed, and precision = confirmed / (confirmed + dismissed) (None
    before any review). Over the user's scope, or everything when ``user`` is None. One query."""
    anomalies = WastewaterAnomaly.objects.all() if user is None else anomalies_for_user(user)
    rows = {
        row["rule"]: row
        for row in anomalies.values("rule")
        .annotate(
            new=Count("pk", filter=Q(status=AnomalyStatus.NEW)),
            confirmed=Count("pk", filter=Q(status=AnomalyStatus.CONFIRMED)),
            dismissed=Count("pk", filter=Q(status=AnomalyStatus.DISMISSED)),
        )
        .order_by()
    }
    result = []
    for code in RULE_LABELS:
        row = rows.get(code, {"new": 0, "confirmed": 0, "dismissed": 0})
        reviewed = row["confirmed"] + row["dismissed"]
        result.append(
            {
                "rule": code,
                "label": rule_label(code),
                "new": row["new"],
                "confirmed": row["confirmed"],
                "dismissed": row["dismissed"],
                "precision": round(row["confirmed"] / reviewed, 4) if reviewed else None,
            }
        )
    return result


def anomaly_chart(
    anomaly: WastewaterAnomaly, *, days_before: int = 90, days_after: int = 30
) -> dict[str, Any]:
    """The site's series around the flagged day, for the detail page's chart: the analyte's quantified values
    (load per 1000, or the daily load without a population), the LOQ bounds of days under the LOQ (shown as
    bounds, never as values) and the flagged day; a flag without an analyte charts the influent flow. One
    query."""
    first = anomaly.day - dt.timedelta(days=days_before)
    last = anomaly.day + dt.timedelta(days=days_after)
    chart: dict[str, Any] = {"flagged": anomaly.day.isoformat(), "points": [], "bounds": []}
    if anomaly.analyte_id is None:
        chart.update(series=_("Influent flow"), unit="m³/d")
        for day, flow, rain in (
            WastewaterSample.objects.filter(site_id=anomaly.site_id, end_date__gte=first, end_date__lte=last)
            .values_list("end_date", "flow_m3_per_day", "rain")
            .order_by("end_date")
        ):
            chart["points"].append([day.isoformat(), float(flow), bool(rain)])
        return chart
    chart.update(series=anomaly.analyte.code if anomaly.analyte else "", unit="mg/day/1000")
    for day, status, per_1000, load, loq_per_1000 in (
        AnalyteResult.objects.filter(
            site_id=anomaly.site_id, analyte_id=anomaly.analyte_id, end_date__gte=first, end_date__lte=last
        )
        .values_list("end_date", "status", "per_1000", "load_mg_per_day", "loq_per_1000")
        .order_by("end_date")
    ):
        if status == ResultStatus.BELOW_LOQ:
            if loq_per_1000 is not None:
                chart["bounds"].append([day.isoformat(), loq_per_1000])
        elif per_1000 is not None:
            chart["points"].append([day.isoformat(), per_1000])
        elif load is not None and status == ResultStatus.NO_POPULATION:
            chart["unit"] = "mg/day"
            chart["points"].append([day.isoformat(), load])
    return chart
