"""Monte Carlo intervals for loads and consumption (wbe.md §3.3–3.4; Jones et al. 2014).

Every step of the chain is a product, so each uncertain input is a multiplicative error with mean 1:

- per day: sampling, flow and chemical analysis (independent from day to day);
- per site: the served population (one draw per iteration, constant across the days of a period);
- per drug: the excretion fraction (one draw per iteration, constant across days and sites).

Distributions. Every error is lognormal with mean 1 and the configured relative standard deviation, so no draw
is ever negative or zero (a normal flow or population error, truncated at zero, would now and then divide by a
tiny population). The product of independent lognormal errors is itself lognormal, with σ² the sum of the σ²,
so one standard-normal draw per day and iteration carries sampling, flow and analysis together. The excretion
fraction is drawn as ``f × LN(1, rsd)`` and kept in (0, 1].

One sample. A result's draws are ``point × multiplier_k``; its 2.5th, 50th and 97.5th percentiles are therefore
``point × percentile(multiplier)`` exactly (percentiles with linear interpolation scale with a positive
factor). All results of one site, analyte and error model share one seeded set of 10,000 multipliers (common
random numbers): each result still has exactly the distribution of its own 10,000-draw simulation, and a
recomputation of three years of data costs one simulation per combination instead of one per result.

Periods. A week, month, quarter or year is averaged inside each iteration: day ``d`` gets its own seeded row of
day errors, the population and excretion errors are drawn once per iteration (wbe.md §3.4: drawing them per day
would make the interval too narrow). A district's value is population-weighted: ``1000 × Σ load / Σ population``
over the sites serving it (with their shares), inside each iteration too.

Seeds are derived from names (``derive_seed``), never from the order of computation, so every interval is
reproducible from the stored seed and the error model.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_DRAWS = 10_000
PERCENTILES = (2.5, 50.0, 97.5)
# The excretion fraction is a fraction of a dose: never above 1, never 0.
MIN_EXCRETION_FRACTION = 1e-6


@dataclass(frozen=True)
class Interval:
    """The 2.5th percentile, median and 97.5th percentile of a simulated quantity."""

    p2_5: float
    median: float
    p97_5: float

    def scaled(self, factor: float) -> Interval:
        return Interval(self.p2_5 * factor, self.median * factor, self.p97_5 * factor)

    def as_dict(self) -> dict[str, float]:
        return {"p2_5": self.p2_5, "median": self.median, "p97_5": self.p97_5}


def interval_of(values: np.ndarray) -> Interval:
    low, median, high = np.percentile(values, PERCENTILES)
    return Interval(float(low), float(median), float(high))


@dataclass(frozen=True)
class ErrorModel:
    """Relative standard deviations (0.1 = 10 %) of the independent errors behind one site's results."""

    sampling_rsd: float
    flow_rsd: float
    analysis_rsd: float
    population_rsd: float

    def __post_init__(self) -> None:
        for name in ("sampling_rsd", "flow_rsd", "analysis_rsd", "population_rsd"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 5):
                raise ValueError(f"{name} must lie between 0 and 5 (got {value!r})")

    @property
    def day_sigma(self) -> float:
        """σ of the log of the day error (sampling × flow × analysis)."""
        return math.sqrt(
            sum(lognormal_sigma(rsd) ** 2 for rsd in (self.sampling_rsd, self.flow_rsd, self.analysis_rsd))
        )

    @property
    def key(self) -> str:
        return f"{self.sampling_rsd:g}/{self.flow_rsd:g}/{self.analysis_rsd:g}/{self.population_rsd:g}"


def lognormal_sigma(rsd: float) -> float:
    """σ of the log of a lognormal variable with mean 1 and this relative standard deviation."""
    return math.sqrt(math.log1p(rsd * rsd))


def mean_one(standard_normal: np.ndarray, sigma: float) -> np.ndarray:
    """Lognormal draws with mean 1 and log-σ ``sigma`` from standard-normal draws."""
    if sigma == 0:
        return np.ones_like(standard_normal)
    return np.exp(sigma * standard_normal - 0.5 * sigma * sigma)


def excretion_fractions(standard_normal: np.ndarray, fraction: float, rsd: float) -> np.ndarray:
    """Draws of an excretion fraction ``f × LN(1, rsd)``, kept in (0, 1]."""
    drawn = fraction * mean_one(standard_normal, lognormal_sigma(rsd))
    return np.clip(drawn, MIN_EXCRETION_FRACTION, 1.0)


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from names (site code, analyte, date, …): the same names always give the same draws."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# --- One sample ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleDraws:
    """The seeded multipliers of one site, analyte and error model (mean 1 each, ``draws`` long)."""

    day: np.ndarray  # sampling × flow × analysis
    population: np.ndarray  # served population relative to its point estimate
    excretion_z: np.ndarray  # standard normals for the excretion fraction, used for consumption only


def sample_draws(model: ErrorModel, seed: int, draws: int = DEFAULT_DRAWS) -> SampleDraws:
    """Draw the multipliers of one combination; the three streams come from one generator in a fixed order."""
    rng = np.random.default_rng(seed)
    normals = rng.standard_normal((3, draws))
    return SampleDraws(
        day=mean_one(normals[0], model.day_sigma),
        population=mean_one(normals[1], lognormal_sigma(model.population_rsd)),
        excretion_z=normals[2],
    )


@dataclass(frozen=True)
class SampleMultipliers:
    """Percentiles of the multipliers: a result's interval is its point value times these."""

    load: Interval
    per_1000: Interval


def sample_multipliers(draws: SampleDraws) -> SampleMultipliers:
    return SampleMultipliers(load=interval_of(draws.day), per_1000=interval_of(draws.day / draws.population))


def consumption_multiplier(draws: SampleDraws, excretion_fraction: float, excretion_rsd: float) -> Interval:
    """Percentiles of consumption relative to its point value (``load per 1000 × CF``): the day and population
    errors of the combination times ``CF_k / CF = f / f_k``."""
    fractions = excretion_fractions(draws.excretion_z, excretion_fraction, excretion_rsd)
    return interval_of(draws.day / draws.population * (excretion_fraction / fractions))


# --- Periods and districts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteDays:
    """One site's quantified days in a period, with what its iterations need.

    ``loads`` are the point daily loads (mg/day) and ``day_seeds`` the seed of each day's error row; the site's
    population errors come from ``population_seed`` (the same draws for every period of that estimate)."""

    loads: Sequence[float]
    day_seeds: Sequence[int]
    day_sigma: float
    population: float
    population_rsd: float
    population_seed: int
    share: float = 1.0

    def __post_init__(self) -> None:
        if len(self.loads) != len(self.day_seeds):
            raise ValueError("one seed per day")
        if self.population <= 0 or not 0 < self.share <= 1:
            raise ValueError("population must be positive and the share in (0, 1]")


def day_error_rows(seeds: Sequence[int], sigma: float, draws: int) -> np.ndarray:
    """One row of ``draws`` day errors per seed (a day's row does not depend on the period it is part of)."""
    rows = np.empty((len(seeds), draws))
    for index, seed in enumerate(seeds):
        rows[index] = np.random.default_rng(seed).standard_normal(draws)
    return mean_one(rows, sigma)


def population_errors(seed: int, rsd: float, draws: int) -> np.ndarray:
    return mean_one(np.random.default_rng(seed).standard_normal(draws), lognormal_sigma(rsd))


@dataclass(frozen=True)
class PeriodDraws:
    """Point value and draws of a population-weighted mean load per 1000 over one or several sites."""

    point: float
    draws: np.ndarray

    @property
    def interval(self) -> Interval:
        return interval_of(self.draws)


def period_per_1000(sites: Sequence[SiteDays], draws: int = DEFAULT_DRAWS) -> PeriodDraws:
    """``1000 × Σ share × mean daily load / Σ share × population`` over the sites (each with at least one day),
    its point value and its draws (day errors per day, population errors once per iteration)."""
    used = [site for site in sites if len(site.loads)]
    if not used:
        raise ValueError("no quantified day in the period")
    total_load = np.zeros(draws)
    total_population = np.zeros(draws)
    point_load = 0.0
    point_population = 0.0
    for site in used:
        loads = np.asarray(site.loads, dtype=float)
        errors = day_error_rows(site.day_seeds, site.day_sigma, draws)
        total_load += site.share * (loads @ errors) / len(loads)
        total_population += (
            site.share * site.population * population_errors(site.population_seed, site.population_rsd, draws)
        )
        point_load += site.share * float(loads.mean())
        point_population += site.share * site.population
    return PeriodDraws(
        point=1000.0 * point_load / point_population, draws=1000.0 * total_load / total_population
    )


def consumption_draws(
    per_1000: PeriodDraws, *, factor: float, excretion_fraction: float, excretion_rsd: float, seed: int
) -> PeriodDraws:
    """Consumption of a period: its load per 1000 times the correction factor, the excretion fraction drawn once
    per iteration (``seed`` names the drug and the factor set, so every period of one drug shares the draws)."""
    normals = np.random.default_rng(seed).standard_normal(len(per_1000.draws))
    fractions = excretion_fractions(normals, excretion_fraction, excretion_rsd)
    return PeriodDraws(
        point=per_1000.point * factor, draws=per_1000.draws * factor * (excretion_fraction / fractions)
    )
