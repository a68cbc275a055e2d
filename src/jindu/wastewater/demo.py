"""The demo city's wastewater monitoring (污水毒情监测): 18 sampling sites of 宁波市 with three years of daily
24-hour composites analysed by the city's contracted lab, and planted cases for the anomaly rules to find.

As in the seed (市禁毒办 with 宁波大学 monitors 18 sampling points), the sites lie in the ten real districts of the
demo city: mostly treatment plants, a few pumping stations and sewer manholes for drilling down to a street.
Names, positions, catchments and populations are illustrative, not survey data. Each site has a catchment
polygon, the org units it serves (some plants serve two districts, with shares), three population estimates
(registered, design capacity, cotinine) and a default chosen among them.

The series (``build_series``, shared with ``bench/bench_wastewater.py``) are generated as daily loads per 1000
inhabitants and turned into what a lab reports: the influent flow and a concentration of each of the 13 analytes
of the standard panel, or the flag "below the LOQ" with the LOQ (never a number). Magnitudes follow wbe.md §4:

- methamphetamine dominates (tens of mg/day/1000, differing by district, most districts slowly declining), with
  no weekday pattern; amphetamine is 0.05–0.15 × methamphetamine (its metabolite);
- ketamine is lower (1–6 mg/day/1000) with norketamine at about a fifth of it (Du et al. 2020: 5.36);
- MDMA and cocaine are very low with weekend peaks (weekend/weekday about 1.75 and 1.33, the EUDA medians), MDA,
  cocaine, THC-COOH and 6-MAM are often or always below the LOQ;
- morphine and codeine are present (codeine higher in winter, the cough-syrup season);
- cotinine follows the population that lives in the catchment (2.5 cigarettes a day per inhabitant, 0.14 mg of
  cotinine per cigarette: wbe.md §3.1);
- the flow has a weekly and a seasonal pattern, rain days (flagged, mostly in the plum-rain season) with more
  flow and diluted concentrations but unchanged loads, and a dip around the Spring Festival when migrant workers
  go home; recovery and replicate RSD are mostly fine, a handful of measurements fail QA.

Planted cases (``PLANTED``; day offsets count back from the last sample day, the day before the demo is
generated, so that they are recent whatever the day):

- ``spike``: NB-YZ-01, 45 days back: methamphetamine and amphetamine ×8 for one day, the AMP/METH ratio normal
  (a consumption spike);
- ``dumping``: NB-NH-01, 75 days back: methamphetamine ×20 for one day, amphetamine unchanged (AMP/METH < 0.01:
  drugs poured down the drain, not consumed);
- ``shift``: NB-CX-01, from 100 days back to the end: methamphetamine and amphetamine +60 % (a sustained shift);
- ``rain``: a typhoon 30 and 29 days back at every site, and a rainstorm 90 days back at the four sites of 余姚
  and 慈溪: flow far above normal and above the design capacity, concentrations diluted, the rain flag set;
- ``population``: NB-BL-01, the whole series: the registered population (the default estimate) is 1.7 times too
  low (a port district with many unregistered migrant workers), so cotinine implies a population about 70 %
  higher than the default;
- ``heroin``: NB-JB-02, 60 to 56 days back: 6-MAM quantified (heroin, not poppy or medicine) and morphine ×1.8.

``generate_demo_wastewater`` writes the sites through the services (audited), the samples with ``bulk_create``
and the measurements with ``core.bulk.bulk_insert``, then computes every result once
(``results.recompute_results``) and writes one summary audit record; all of it in one transaction. It refuses to
run when the demo sites exist already (``DemoAlreadyLoaded``). Everything is deterministic for a seed and a day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from jindu.core.audit import audit_write
from jindu.core.bulk import bulk_insert
from jindu.core.models import AuditAction, OrgUnit
from jindu.wastewater.models import (
    Analyte,
    Measurement,
    PopulationMethod,
    SamplingMode,
    SamplingSite,
    SiteKind,
    WastewaterSample,
)
from jindu.wastewater.uncertainty import derive_seed

DEFAULT_SEED = 2026
DEFAULT_DAYS = 3 * 365
LAB = "宁波大学"
METHOD = "JD/YJY02.10-2021"
# Cotinine excreted per inhabitant: 2.5 cigarettes a day (Zhejiang) × 0.14 mg per cigarette (wbe.md §3.1).
CIGARETTES_PER_CAPITA = 2.5
COTININE_MG_PER_CIGARETTE = 0.14
COTININE_PER_1000 = CIGARETTES_PER_CAPITA * COTININE_MG_PER_CIGARETTE * 1000  # mg/day/1000
CENSUS_DAY = dt.date(2020, 11, 1)  # 第七次全国人口普查: the registered estimates' date
# Spring Festival (正月初一): migrant workers leave the city for about two weeks around it.
SPRING_FESTIVAL = [
    dt.date(2019, 2, 5), dt.date(2020, 1, 25), dt.date(2021, 2, 12), dt.date(2022, 2, 1), dt.date(2023, 1, 22),
    dt.date(2024, 2, 10), dt.date(2025, 1, 29), dt.date(2026, 2, 17), dt.date(2027, 2, 6), dt.date(2028, 1, 26),
    dt.date(2029, 2, 13), dt.date(2030, 2, 3), dt.date(2031, 1, 23), dt.date(2032, 2, 11), dt.date(2033, 1, 31),
    dt.date(2034, 2, 19), dt.date(2035, 2, 8),
]  # fmt: skip
FESTIVAL_DAYS = (-5, 12)  # from 5 days before to 12 days after
FESTIVAL_LOAD = 0.9  # loads (and cotinine) while the migrants are away
FESTIVAL_FLOW = 0.93


# The anomaly rules judge this many days up to the last sample when the demo is written (the planted cases
# lie within them; the whole history would take half a minute more).
ANOMALY_DAYS = 120


class DemoAlreadyLoaded(RuntimeError):
    """The demo's sites exist already: the wastewater demo is written once."""


# --- Sites ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteSpec:
    """One demo site. ``served`` lists (org unit code, share); a street code falls back to its district when the
    org tree has no such street. ``true_ratio`` is the population really living in the catchment relative to the
    registered one (it drives the flow and cotinine)."""

    code: str
    name: str
    kind: str
    district: str
    latitude: float
    longitude: float
    registered: int
    served: tuple[tuple[str, float], ...]
    per_capita_m3: float = 0.30
    true_ratio: float = 1.0
    radius_km: float = 4.0
    default_method: str = PopulationMethod.REGISTERED


# The ten real districts: name, methamphetamine at the start (mg/day/1000), its change per year, ketamine.
DISTRICTS: dict[str, tuple[str, float, float, float]] = {
    "330203": ("海曙区", 62.0, -0.10, 3.6),
    "330205": ("江北区", 46.0, -0.08, 2.8),
    "330206": ("北仑区", 92.0, -0.05, 5.2),
    "330211": ("镇海区", 54.0, -0.12, 3.0),
    "330212": ("鄞州区", 70.0, -0.09, 4.4),
    "330213": ("奉化区", 36.0, -0.06, 1.8),
    "330225": ("象山县", 41.0, -0.04, 1.4),
    "330226": ("宁海县", 30.0, -0.07, 1.1),
    "330281": ("余姚市", 51.0, -0.10, 2.4),
    "330282": ("慈溪市", 84.0, 0.03, 3.8),
}

P, PS, MH = SiteKind.TREATMENT_PLANT, SiteKind.PUMPING_STATION, SiteKind.MANHOLE
SITES: list[SiteSpec] = [
    SiteSpec("NB-HS-01", "海曙区鄞西污水处理厂", P, "330203", 29.852, 121.468, 260_000, (("330203", 1),), 0.30),
    SiteSpec("NB-HS-02", "海曙区南门泵站", PS, "330203", 29.862, 121.540, 45_000, (("330203001", 1),), 0.22,
             radius_km=1.5),
    SiteSpec("NB-JB-01", "江北区北区污水处理厂", P, "330205", 29.915, 121.580, 420_000,
             (("330205", 0.75), ("330211", 0.25)), 0.31, default_method=PopulationMethod.COTININE),
    SiteSpec("NB-JB-02", "江北区慈城污水处理厂", P, "330205", 29.975, 121.455, 110_000, (("330205", 1),), 0.28,
             true_ratio=0.96),
    SiteSpec("NB-BL-01", "北仑区岩东污水处理厂", P, "330206", 29.905, 121.870, 300_000, (("330206", 1),), 0.33,
             true_ratio=1.7, radius_km=6.0),
    SiteSpec("NB-BL-02", "北仑区小港污水处理厂", P, "330206", 29.930, 121.745, 180_000,
             (("330206", 0.8), ("330211", 0.2)), 0.32, true_ratio=1.05),
    SiteSpec("NB-ZH-01", "镇海区污水处理厂", P, "330211", 29.965, 121.705, 230_000, (("330211", 1),), 0.31,
             true_ratio=0.97),
    SiteSpec("NB-YZ-01", "鄞州区南区污水处理厂", P, "330212", 29.815, 121.560, 650_000,
             (("330212", 0.7), ("330203", 0.3)), 0.29, true_ratio=1.04, radius_km=7.0),
    SiteSpec("NB-YZ-02", "鄞州区新周污水处理厂", P, "330212", 29.855, 121.650, 380_000, (("330212", 1),), 0.30,
             true_ratio=1.08, radius_km=5.0, default_method=PopulationMethod.COTININE),
    SiteSpec("NB-YZ-03", "鄞州区钟公庙管网节点", MH, "330212", 29.835, 121.530, 12_000, (("330212001", 1),), 0.20,
             radius_km=0.6),
    SiteSpec("NB-FH-01", "奉化区污水处理厂", P, "330213", 29.650, 121.430, 240_000, (("330213", 1),), 0.29,
             true_ratio=0.95),
    SiteSpec("NB-FH-02", "奉化区城西泵站", PS, "330213", 29.680, 121.380, 38_000, (("330213001", 1),), 0.22,
             radius_km=1.4),
    SiteSpec("NB-XS-01", "象山县污水处理厂", P, "330225", 29.475, 121.880, 210_000, (("330225", 1),), 0.28,
             true_ratio=1.03),
    SiteSpec("NB-NH-01", "宁海县城北污水处理厂", P, "330226", 29.310, 121.430, 200_000, (("330226", 1),), 0.28,
             true_ratio=0.98),
    SiteSpec("NB-YY-01", "余姚市小曹娥污水处理厂", P, "330281", 30.120, 121.180, 480_000,
             (("330281", 0.85), ("330282", 0.15)), 0.32, true_ratio=1.02, radius_km=6.0),
    SiteSpec("NB-YY-02", "余姚市城区管网节点", MH, "330281", 30.040, 121.155, 9_000, (("330281001", 1),), 0.20,
             radius_km=0.5),
    SiteSpec("NB-CX-01", "慈溪市北部污水处理厂", P, "330282", 30.250, 121.300, 520_000, (("330282", 1),), 0.33,
             true_ratio=1.06, radius_km=7.0),
    SiteSpec("NB-CX-02", "慈溪市东部污水处理厂", P, "330282", 30.200, 121.420, 330_000, (("330282", 1),), 0.32,
             true_ratio=0.94),
]  # fmt: skip
SITE_CODES = [spec.code for spec in SITES]
# Share of the design capacity a site's dry-weather flow uses (manholes have none).
UTILISATION: dict[str, float] = {P: 0.72, PS: 0.6}
# Per-capita sewage of the design-capacity method (m³/day, industrial and infiltration included).
DESIGN_PER_CAPITA_M3 = 0.35
SAMPLING: dict[str, tuple[str, Decimal | None]] = {  # sampling mode and its RSD (None: the settings' default)
    P: (SamplingMode.FLOW_PROPORTIONAL, None),
    PS: (SamplingMode.VOLUME_PROPORTIONAL, Decimal("0.150")),
    MH: (SamplingMode.TIME_PROPORTIONAL, Decimal("0.300")),
}


# --- Planted cases --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedCase:
    """A planted case: ``kind`` at ``sites`` (empty: every generated site) from ``days_back`` days before the last
    sample day, for ``length`` days (``None``: the whole series). ``factor`` multiplies ``analyte``'s load."""

    kind: str
    sites: tuple[str, ...]
    days_back: int | None
    length: int | None = 1
    analyte: str = ""
    factor: float = 1.0
    note: str = ""


PLANTED: list[PlantedCase] = [
    PlantedCase("spike", ("NB-YZ-01",), 45, 1, "METH", 8.0,
                "consumption spike: methamphetamine and amphetamine ×8, AMP/METH normal"),
    PlantedCase("dumping", ("NB-NH-01",), 75, 1, "METH", 20.0,
                "dumping: methamphetamine ×20, amphetamine unchanged (AMP/METH < 0.01)"),
    PlantedCase("shift", ("NB-CX-01",), 100, None, "METH", 1.6,
                "sustained shift: methamphetamine and amphetamine +60 % to the end of the series"),
    PlantedCase("rain", (), 30, 2, "", 1.0, "typhoon: flow above the design capacity at every site"),
    PlantedCase("rain", ("NB-YY-01", "NB-YY-02", "NB-CX-01", "NB-CX-02"), 90, 1, "", 1.0,
                "rainstorm in 余姚 and 慈溪: flow above the design capacity"),
    PlantedCase("population", ("NB-BL-01",), None, None, "COT", 1.7,
                "the registered (default) population is 1.7 times too low: cotinine implies about 70 % more"),
    PlantedCase("heroin", ("NB-JB-02",), 60, 5, "6MAM", 1.8,
                "6-MAM quantified (heroin) with morphine ×1.8"),
]  # fmt: skip


@dataclass(frozen=True)
class PlantedEvent:
    """A planted case as generated: one site, its first and last day (inclusive)."""

    kind: str
    site: str
    first_day: dt.date
    last_day: dt.date
    analyte: str = ""
    factor: float = 1.0
    note: str = ""

    def days(self) -> list[dt.date]:
        return [
            self.first_day + dt.timedelta(days=offset)
            for offset in range((self.last_day - self.first_day).days + 1)
        ]


def planted_events(site_codes: Sequence[str], first_day: dt.date, last_day: dt.date) -> list[PlantedEvent]:
    """The planted cases that fall on these sites and inside ``first_day``–``last_day``."""
    events = []
    for case in PLANTED:
        if case.days_back is None:
            start, end = first_day, last_day
        else:
            start = last_day - dt.timedelta(days=case.days_back)
            end = last_day if case.length is None else start + dt.timedelta(days=case.length - 1)
        if start < first_day or end > last_day:
            continue
        for code in case.sites or site_codes:
            if code in site_codes:
                events.append(PlantedEvent(case.kind, code, start, end, case.analyte, case.factor, case.note))
    return events


# --- Analytes -------------------------------------------------------------------------------------------------

# By the weekday a composite ends (Monday = 0): the Monday sample holds Sunday's use (EUDA weekend Fri–Mon).
FLAT = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
PARTY = (1.9, 1.0, 0.95, 1.0, 1.2, 1.8, 2.0)  # MDMA: weekend/weekday ≈ 1.75 (EUDA median)
COCAINE_WEEK = (1.4, 1.0, 1.0, 1.0, 1.1, 1.35, 1.45)  # ≈ 1.33
KETAMINE_WEEK = (1.12, 1.0, 1.0, 1.0, 1.05, 1.15, 1.2)  # ≈ 1.13
FLOW_WEEK = (1.0, 1.0, 1.0, 1.0, 0.99, 0.96, 0.95)


@dataclass(frozen=True)
class AnalyteProfile:
    """How one analyte's daily load per 1000 is drawn: city baseline at the start (mg/day/1000; None where it
    comes from the district or another analyte), spread between sites, day-to-day noise (σ of the log), change
    per year, summer amplitude (negative: winter peak), weekday pattern, and the lab's LOQ (ng/L)."""

    base: float | None
    loq: float
    noise: float
    site_spread: float = 0.25
    trend: float = 0.0
    season: float = 0.0
    week: tuple[float, ...] = FLAT


PROFILES: dict[str, AnalyteProfile] = {
    "METH": AnalyteProfile(None, 1.0, 0.15, 0.12, season=0.06),
    "AMP": AnalyteProfile(None, 1.0, 0.12),  # ratio to METH
    "MDMA": AnalyteProfile(0.35, 1.0, 0.35, 0.35, week=PARTY),
    "MDA": AnalyteProfile(None, 1.0, 0.25),  # ratio to MDMA
    "COC": AnalyteProfile(0.15, 0.5, 0.35, 0.4, week=COCAINE_WEEK),
    "BE": AnalyteProfile(None, 0.5, 0.12),  # ratio to cocaine
    "MOR": AnalyteProfile(10.0, 2.0, 0.18, 0.2, trend=-0.05, season=-0.05),
    "6MAM": AnalyteProfile(0.02, 0.5, 0.3, 0.2),  # usually not detected (heroin is rare)
    "COD": AnalyteProfile(15.0, 1.0, 0.18, 0.2, season=-0.15),
    "KET": AnalyteProfile(None, 0.5, 0.25, 0.2, trend=-0.15, season=0.05, week=KETAMINE_WEEK),
    "NK": AnalyteProfile(None, 0.5, 0.12),  # ratio to ketamine
    "THCCOOH": AnalyteProfile(1.4, 5.0, 0.3, 0.3),
    "COT": AnalyteProfile(COTININE_PER_1000, 5.0, 0.06, 0.05),
}
AMP_RATIO = (0.07, 0.11)  # a site's usual amphetamine/methamphetamine ratio lies in this range
MDA_RATIO = 0.07
BE_RATIO = 3.2
KET_NK_RATIO = 5.36  # ketamine/norketamine in wastewater (Du et al. 2020)
HEROIN_6MAM_PER_1000 = 2.5
DERIVED = ("AMP", "MDA", "BE", "NK")  # drawn as a ratio to METH, MDMA, COC and KET
WANDERING = ("METH", "KET", "MOR", "COD")  # with a slowly wandering level besides the day-to-day noise
CLIP = 2.5  # day-to-day noise is cut at ±2.5 σ, so that no unplanted day looks like a planted one


@dataclass
class SiteSeries:
    """A site's generated days: flow (m³/day), rain flags, and per analyte the rounded concentration (ng/L, NaN
    below the LOQ), recovery and replicate RSD (%), plus the population really served."""

    spec: SiteSpec
    first_day: dt.date
    flow: np.ndarray
    rain: np.ndarray
    analysed_lag: np.ndarray
    concentration: dict[str, np.ndarray]
    recovery: dict[str, np.ndarray]
    replicate_rsd: dict[str, np.ndarray]
    true_population: int
    design_capacity: int | None
    cotinine_population: int = 0

    @property
    def days(self) -> int:
        return len(self.flow)

    def day(self, index: int) -> dt.date:
        return self.first_day + dt.timedelta(days=index)


def _normals(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.clip(rng.standard_normal(size), -CLIP, CLIP)


def _ar1(rng: np.random.Generator, size: int, phi: float, sigma: float) -> np.ndarray:
    """A slowly wandering level (AR(1), stationary σ ``sigma``) on the log scale."""
    innovations = _normals(rng, size) * sigma * math.sqrt(1 - phi * phi)
    level = float(np.clip(rng.standard_normal(), -CLIP, CLIP)) * sigma
    out = np.empty(size)
    for index in range(size):
        level = phi * level + float(innovations[index])
        out[index] = level
    return out


def _round_concentration(values: np.ndarray) -> np.ndarray:
    """As labs report: two decimals under 10 ng/L, one under 1,000, whole numbers above."""
    return np.where(
        values < 10, np.round(values, 2), np.where(values < 1000, np.round(values, 1), np.round(values))
    )


def _capacity(spec: SiteSpec, dry_flow: float) -> int | None:
    utilisation = UTILISATION.get(spec.kind)
    if utilisation is None:
        return None
    step = 5000 if dry_flow > 100_000 else 1000
    return int(math.ceil(dry_flow / utilisation / step) * step)


def rain_calendar(first_day: dt.date, days: int, seed: int) -> np.ndarray:
    """City-wide rain days (flow noticeably up): most in the plum-rain season (June–July), some with typhoons
    (August–September), few in winter."""
    rng = np.random.default_rng(derive_seed(seed, "wastewater-demo", "rain"))
    chance = {6: 0.25, 7: 0.2, 8: 0.12, 9: 0.12, 3: 0.08, 4: 0.08, 5: 0.1}
    draws = rng.random(days)
    months = [(first_day + dt.timedelta(days=index)).month for index in range(days)]
    return np.array([draws[index] < chance.get(month, 0.04) for index, month in enumerate(months)])


def _festival(first_day: dt.date, days: int) -> np.ndarray:
    away = np.zeros(days, dtype=bool)
    for festival in SPRING_FESTIVAL:
        start = (festival - first_day).days + FESTIVAL_DAYS[0]
        end = (festival - first_day).days + FESTIVAL_DAYS[1]
        if end >= 0 and start < days:
            away[max(start, 0) : min(end, days - 1) + 1] = True
    return away


def site_series(
    spec: SiteSpec,
    first_day: dt.date,
    days: int,
    *,
    seed: int,
    city_rain: np.ndarray,
    events: Sequence[PlantedEvent],
) -> SiteSeries:
    """Generate one site's days (deterministic for the seed, the site and the first day)."""
    rng = np.random.default_rng(derive_seed(seed, "wastewater-demo", spec.code))
    index = np.arange(days)
    years = index / 365.25
    weekday = (first_day.weekday() + index) % 7
    day_of_year = np.array([(first_day + dt.timedelta(days=int(i))).timetuple().tm_yday for i in index])
    season = np.sin(2 * math.pi * (day_of_year - 80) / 365.25)  # summer high, winter low
    away = _festival(first_day, days)
    true_population = round(spec.registered * spec.true_ratio)

    # Flow: dry weather, then rain.
    dry_flow = true_population * spec.per_capita_m3
    capacity = _capacity(spec, dry_flow)
    flow = (
        dry_flow
        * np.array(FLOW_WEEK)[weekday]
        * (1 + 0.06 * season)
        * np.exp(0.04 * _normals(rng, days))
        * np.where(away, FESTIVAL_FLOW, 1.0)
    )
    rain = city_rain & (rng.random(days) < 0.85)
    flow = np.where(rain, flow * rng.uniform(1.08, 1.25, days), flow)
    if capacity is not None:
        flow = np.minimum(flow, 0.95 * capacity)
    storm_factor = rng.uniform(1.15, 1.35, days)

    # Loads per 1000 of the population really living there, before planted cases. Derived analytes (AMP, MDA,
    # BE, NK) draw only their day-to-day ratio noise; every analyte draws in the same order, used or not.
    district = DISTRICTS[spec.district]
    per_1000: dict[str, np.ndarray] = {}
    for code, profile in PROFILES.items():
        site_level = math.exp(float(np.clip(rng.standard_normal(), -CLIP, CLIP)) * profile.site_spread)
        noise = _normals(rng, days) * profile.noise
        wander = _ar1(rng, days, 0.98, 0.06) if code in WANDERING else 0.0
        if code in DERIVED:
            per_1000[code] = np.exp(noise)
            continue
        base, trend = profile.base or 0.0, profile.trend
        if code == "METH":
            base, trend = district[1], district[2]
        elif code == "KET":
            base = district[3]
        per_1000[code] = (
            base
            * site_level
            * (1 + trend) ** years
            * (1 + profile.season * season)
            * np.array(profile.week)[weekday]
            * np.exp(noise + wander)
        )
    amp_ratio = float(rng.uniform(*AMP_RATIO))
    heroin_noise = _normals(rng, days)
    per_1000["AMP"] = per_1000["METH"] * amp_ratio * per_1000["AMP"]
    per_1000["MDA"] = per_1000["MDMA"] * MDA_RATIO * per_1000["MDA"]
    per_1000["BE"] = per_1000["COC"] * BE_RATIO * per_1000["BE"]
    per_1000["NK"] = per_1000["KET"] / KET_NK_RATIO * per_1000["NK"]

    # Planted cases.
    consumption = np.ones(days)  # methamphetamine used (AMP follows)
    dumped = np.ones(days)  # methamphetamine poured away (AMP does not follow)
    for event in events:
        start = (event.first_day - first_day).days
        end = (event.last_day - first_day).days + 1
        if event.kind in ("spike", "shift"):
            consumption[start:end] *= event.factor
        elif event.kind == "dumping":
            dumped[start:end] *= event.factor
        elif event.kind == "heroin":
            per_1000["6MAM"][start:end] = HEROIN_6MAM_PER_1000 * np.exp(0.2 * heroin_noise[start:end])
            per_1000["MOR"][start:end] *= event.factor
        elif event.kind == "rain":
            rain[start:end] = True
            storm = capacity * storm_factor[start:end] if capacity else dry_flow * 2 * storm_factor[start:end]
            flow[start:end] = storm
    per_1000["METH"] = per_1000["METH"] * consumption * dumped
    per_1000["AMP"] = per_1000["AMP"] * consumption

    flow = np.round(flow)
    people = true_population / 1000 * np.where(away, FESTIVAL_LOAD, 1.0)
    concentration: dict[str, np.ndarray] = {}
    recovery: dict[str, np.ndarray] = {}
    replicate: dict[str, np.ndarray] = {}
    for code, profile in PROFILES.items():
        load_mg = per_1000[code] * people
        value = _round_concentration(load_mg * 1000 / flow)
        concentration[code] = np.where(value < profile.loq, np.nan, value)
        recovery[code] = np.round(np.clip(rng.normal(96, 6, days), 78, 118), 1)
        replicate[code] = np.round(np.clip(2 + np.abs(rng.normal(0, 3, days)), 0.5, 14.5), 1)
    series = SiteSeries(
        spec=spec,
        first_day=first_day,
        flow=flow,
        rain=rain,
        analysed_lag=rng.integers(2, 7, days),
        concentration=concentration,
        recovery=recovery,
        replicate_rsd=replicate,
        true_population=true_population,
        design_capacity=capacity,
    )
    series.cotinine_population = cotinine_population(series)
    return series


def cotinine_population(series: SiteSeries, days: int = 365) -> int:
    """The population the first year's cotinine implies (wbe.md §3.1), outside the Spring Festival, to 100."""
    cotinine = series.concentration["COT"][:days]
    flow = series.flow[:days]
    usable = ~np.isnan(cotinine) & ~_festival(series.first_day, len(flow))
    loads_mg = cotinine[usable] * flow[usable] / 1000
    return int(round(float(loads_mg.mean()) / COTININE_PER_1000 * 1000, -2))


def _plant_qa_failures(series: list[SiteSeries], events: list[PlantedEvent], seed: int) -> int:
    """A handful of measurements whose QA fails (THC-COOH recovery low, ketamine replicates apart, a
    methamphetamine recovery high), never on a planted site-day; about one in 20,000, at least three."""
    rng = np.random.default_rng(derive_seed(seed, "wastewater-demo", "qa"))
    busy = {(event.site, day) for event in events for day in event.days()}
    total = sum(s.days for s in series) * len(PROFILES)
    wanted = max(3, total // 20_000)
    done = 0
    attempts = 0
    while done < wanted and attempts < wanted * 50:
        attempts += 1
        site = series[int(rng.integers(len(series)))]
        index = int(rng.integers(site.days))
        if (site.spec.code, site.day(index)) in busy:
            continue
        kind = done % 3
        if kind == 0:
            site.recovery["THCCOOH"][index] = round(float(rng.uniform(52, 64)), 1)
        elif kind == 1:
            site.replicate_rsd["KET"][index] = round(float(rng.uniform(24, 32)), 1)
        else:
            site.recovery["METH"][index] = round(float(rng.uniform(134, 142)), 1)
        busy.add((site.spec.code, site.day(index)))
        done += 1
    return done


@dataclass
class DemoSeries:
    """What ``build_series`` generated: the sites' series, the planted events and how many QA failures."""

    first_day: dt.date
    last_day: dt.date
    sites: list[SiteSeries]
    planted: list[PlantedEvent]
    qa_failures: int


def build_series(
    *,
    last_day: dt.date,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    site_codes: Sequence[str] | None = None,
) -> DemoSeries:
    """The demo's data for ``days`` days ending on ``last_day`` (pure: nothing is written)."""
    codes = list(site_codes) if site_codes is not None else SITE_CODES
    unknown = sorted(set(codes) - set(SITE_CODES))
    if unknown:
        raise ValueError(f"no demo site {', '.join(unknown)}")
    if days < 1:
        raise ValueError("days must be at least 1")
    first_day = last_day - dt.timedelta(days=days - 1)
    events = planted_events(codes, first_day, last_day)
    city_rain = rain_calendar(first_day, days, seed)
    series = [
        site_series(
            spec,
            first_day,
            days,
            seed=seed,
            city_rain=city_rain,
            events=[event for event in events if event.site == spec.code],
        )
        for spec in SITES
        if spec.code in codes
    ]
    failures = _plant_qa_failures(series, events, seed)
    return DemoSeries(first_day, last_day, series, events, failures)


# --- Writing --------------------------------------------------------------------------------------------------


def catchment_polygon(spec: SiteSpec, seed: int) -> dict[str, Any]:
    """A simple, closed GeoJSON Polygon of eight corners around the site (WGS 84, [longitude, latitude])."""
    rng = np.random.default_rng(derive_seed(seed, "wastewater-demo", spec.code, "catchment"))
    km_per_degree_lat = 111.32
    km_per_degree_lon = 111.32 * math.cos(math.radians(spec.latitude))
    ring = []
    for corner in range(8):
        angle = 2 * math.pi * corner / 8 + float(rng.uniform(-0.2, 0.2))
        radius = spec.radius_km * float(rng.uniform(0.75, 1.25))
        ring.append(
            [
                round(spec.longitude + radius * math.cos(angle) / km_per_degree_lon, 5),
                round(spec.latitude + radius * math.sin(angle) / km_per_degree_lat, 5),
            ]
        )
    ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def _create_site(
    series: SiteSeries, *, seed: int, last_day: dt.date, existing_units: set[str]
) -> SamplingSite:
    """Register the site, its served areas and its three population estimates through the services."""
    from jindu.wastewater.services import (
        population_default_set,
        population_estimate_add,
        served_areas_set,
        site_create,
    )

    spec = series.spec
    site = site_create(
        actor=None,
        code=spec.code,
        name=spec.name,
        org_unit_code=spec.district,
        kind=spec.kind,
        address=f"浙江省宁波市{DISTRICTS[spec.district][0]}",
        latitude=spec.latitude,
        longitude=spec.longitude,
        design_capacity_m3_per_day=series.design_capacity,
        catchment=catchment_polygon(spec, seed),
    )
    mode, sampling_rsd = SAMPLING[spec.kind]
    if sampling_rsd is not None:
        SamplingSite.objects.filter(pk=site.pk).update(sampling_rsd=sampling_rsd)
    served = [(code if code in existing_units else code[:6], share) for code, share in spec.served]
    served_areas_set(actor=None, site=site, areas=served)
    estimates: dict[str, Any] = {
        PopulationMethod.REGISTERED: population_estimate_add(
            actor=None,
            site=site,
            population=spec.registered,
            method=PopulationMethod.REGISTERED,
            estimated_on=min(CENSUS_DAY, last_day),
            note="排水公司上报的服务人口（七普口径）",
        )
    }
    if series.design_capacity:
        estimates[PopulationMethod.DESIGN_CAPACITY] = population_estimate_add(
            actor=None,
            site=site,
            population=int(round(series.design_capacity / DESIGN_PER_CAPITA_M3, -2)),
            method=PopulationMethod.DESIGN_CAPACITY,
            estimated_on=series.first_day,
            note=f"设计规模 ÷ {DESIGN_PER_CAPITA_M3 * 1000:g} L/人·日",
        )
    estimates[PopulationMethod.COTININE] = population_estimate_add(
        actor=None,
        site=site,
        population=series.cotinine_population,
        method=PopulationMethod.COTININE,
        estimated_on=min(series.day(364), last_day),
        note=f"可替宁法：首年日均负荷，人均每日吸烟 {CIGARETTES_PER_CAPITA:g} 支 × {COTININE_MG_PER_CIGARETTE:g} mg",
    )
    population_default_set(actor=None, site=site, estimate_id=estimates[spec.default_method].pk)
    site.refresh_from_db()
    return site


MEASUREMENT_FIELDS = (
    "sample_id",
    "analyte_id",
    "ng_per_l",
    "below_loq",
    "loq",
    "lod",
    "recovery_percent",
    "replicate_rsd_percent",
)


def decimal(value: float, known: dict[float, Decimal]) -> Decimal | None:
    """The decimal a lab reports for a rounded float (None for NaN); one object per value, kept in ``known``
    (converting floats was most of the cost of writing a quarter of a million measurements)."""
    if value != value:
        return None
    found = known.get(value)
    if found is None:
        found = known[value] = Decimal(repr(value))
    return found


def _write_samples(
    site: SamplingSite, series: SiteSeries, analytes: dict[str, int], today: dt.date
) -> tuple[int, int]:
    """Bulk-write one site's samples, then their measurements; returns (samples, measurements)."""
    mode, _rsd = SAMPLING[series.spec.kind]
    flows = series.flow.tolist()
    rains = series.rain.tolist()
    lags = series.analysed_lag.tolist()
    samples = WastewaterSample.objects.bulk_create(
        [
            WastewaterSample(
                site=site,
                org_unit_id=site.org_unit_id,
                org_path=site.org_path,
                end_date=series.day(index),
                flow_m3_per_day=Decimal(int(flows[index])),
                sampling_mode=mode,
                rain=rains[index],
                lab=LAB,
                method=METHOD,
                analysed_on=min(series.day(index) + dt.timedelta(days=lags[index]), today),
            )
            for index in range(series.days)
        ],
        batch_size=2000,
    )
    ids = [sample.pk for sample in samples]
    known: dict[float, Decimal] = {}
    columns = []
    for code, profile in PROFILES.items():
        loq = Decimal(str(profile.loq))
        lod = (loq / 3).quantize(Decimal("0.0001"))
        columns.append(
            (
                analytes[code],
                [decimal(value, known) for value in series.concentration[code].tolist()],
                loq,
                lod,
                [decimal(value, known) for value in series.recovery[code].tolist()],
                [decimal(value, known) for value in series.replicate_rsd[code].tolist()],
            )
        )

    def rows() -> Any:
        for index, sample_id in enumerate(ids):
            for analyte_id, values, loq, lod, recoveries, rsds in columns:
                value = values[index]
                below = value is None  # no value (NaN in the series): below the LOQ
                yield (
                    sample_id,
                    analyte_id,
                    value,
                    below,
                    loq,
                    lod,
                    recoveries[index],
                    rsds[index],
                )

    measurements = bulk_insert(Measurement, MEASUREMENT_FIELDS, rows())
    return len(ids), measurements


@dataclass
class DemoReport:
    """What ``generate_demo_wastewater`` wrote."""

    first_day: dt.date
    last_day: dt.date
    sites: int = 0
    samples: int = 0
    measurements: int = 0
    results: int = 0
    qa_failures: int = 0
    planted: list[PlantedEvent] = field(default_factory=list)
    # The summary of the anomaly rules' run over the last ``ANOMALY_DAYS`` (``run_anomalies``), if run.
    anomalies: dict[str, Any] = field(default_factory=dict)


def progress_steps(site_codes: Sequence[str] | None = None) -> int:
    """What ``progress`` adds up to: one step per site written, as many again for computing the results."""
    return 2 * len(site_codes if site_codes is not None else SITE_CODES)


def generate_demo_wastewater(
    *,
    seed: int = DEFAULT_SEED,
    today: dt.date | None = None,
    days: int = DEFAULT_DAYS,
    site_codes: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
    run_rules: bool = True,
) -> DemoReport:
    """Write the demo sites (all, or ``site_codes``) with ``days`` days of samples up to the day before ``today``
    and compute their results, in one transaction. The org tree (the ten districts) must exist; raises
    ``DemoAlreadyLoaded`` when a demo site exists already. Then, with ``run_rules``, the anomaly rules judge the
    last ``ANOMALY_DAYS`` (where the planted cases lie), so that the demo opens with its flags to review."""
    from jindu.wastewater.anomalies import run_anomalies
    from jindu.wastewater.results import recompute_results

    today = today or timezone.localdate()
    codes = list(site_codes) if site_codes is not None else SITE_CODES
    data = build_series(last_day=today - dt.timedelta(days=1), days=days, seed=seed, site_codes=codes)
    districts = {spec.district for spec in SITES if spec.code in codes}
    districts |= {code[:6] for spec in SITES if spec.code in codes for code, _share in spec.served}
    units = set(
        OrgUnit.objects.filter(
            code__in=districts | {code for spec in SITES for code, _share in spec.served}
        ).values_list("code", flat=True)
    )
    missing = sorted(districts - units)
    if missing:
        raise RuntimeError(f"no org unit {', '.join(missing)}: build the demo city first")
    if SamplingSite.objects.filter(code__in=codes).exists():
        raise DemoAlreadyLoaded("the wastewater demo is loaded already (its sites exist)")
    analytes = dict(Analyte.objects.filter(code__in=list(PROFILES)).values_list("code", "pk"))
    if len(analytes) != len(PROFILES):
        raise RuntimeError("the standard panel's analytes are missing: migrate first")
    report = DemoReport(data.first_day, data.last_day, planted=data.planted, qa_failures=data.qa_failures)
    with transaction.atomic():
        for series in data.sites:
            site = _create_site(series, seed=seed, last_day=data.last_day, existing_units=units)
            samples, measurements = _write_samples(site, series, analytes, today)
            report.sites += 1
            report.samples += samples
            report.measurements += measurements
            if progress is not None:
                progress(1)
        report.results = recompute_results()
        audit_write(
            action=AuditAction.CREATE,
            object_type="wastewater.demo",
            object_repr="demo wastewater monitoring",
            detail={
                "seed": seed,
                "first_day": data.first_day.isoformat(),
                "last_day": data.last_day.isoformat(),
                "sites": report.sites,
                "samples": report.samples,
                "measurements": report.measurements,
                "results": report.results,
                "qa_failures": report.qa_failures,
                "planted": [
                    [event.kind, event.site, event.first_day.isoformat(), event.last_day.isoformat()]
                    for event in data.planted
                ],
            },
        )
    if run_rules:
        report.anomalies = run_anomalies(
            as_of=data.last_day, since=data.last_day - dt.timedelta(days=ANOMALY_DAYS), requested_by="demo"
        )
    if progress is not None:
        progress(report.sites)
    return report
