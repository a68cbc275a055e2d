"""Computing and reading the per-measurement results (load, load per 1000, consumption) with their intervals.

``recompute_results`` rewrites the stored ``AnalyteResult`` rows of a selection of samples (or of everything):
point values from the chain of ``backcalc``, intervals from ``uncertainty`` (one seeded 10,000-draw simulation per
site, analyte and error model, shared by that combination's results: see the module docstring there). It runs
inside the caller's transaction when there is one, so a sample and its results are stored together.

``result_rows`` reads them back for one site and a date range and adds consumption for the chosen correction-
factor set: the point value is ``load per 1000 × CF``; the interval comes from the same seeded draws as the
stored load per 1000, with the excretion fraction drawn once per iteration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from jindu.core.bulk import bulk_insert
from jindu.core.gcpause import gc_paused
from jindu.wastewater import backcalc
from jindu.wastewater.models import (
    Analyte,
    AnalyteResult,
    CorrectionFactor,
    CorrectionFactorSet,
    Measurement,
    PopulationEstimate,
    ResultStatus,
    SamplingSite,
)
from jindu.wastewater.policies import SettingsBook
from jindu.wastewater.uncertainty import (
    ErrorModel,
    Interval,
    SampleMultipliers,
    consumption_multiplier,
    derive_seed,
    sample_draws,
    sample_multipliers,
)

RESULT_FIELDS = (
    "measurement_id",
    "sample_id",
    "site_id",
    "analyte_id",
    "end_date",
    "org_unit_id",
    "org_path",
    "created",
    "last_updated",
    "status",
    "reason",
    "load_mg_per_day",
    "load_p2_5",
    "load_median",
    "load_p97_5",
    "per_1000",
    "per_1000_p2_5",
    "per_1000_median",
    "per_1000_p97_5",
    "loq_per_1000",
    "population",
    "population_estimate_id",
    "sampling_rsd",
    "flow_rsd",
    "analysis_rsd",
    "population_rsd",
    "seed",
    "draws",
    "settings_version_id",
    "computed_at",
)


@dataclass(frozen=True)
class SiteInputs:
    """What a site contributes to its results: the default population estimate and its error figures."""

    code: str
    org_unit_id: int
    population: int | None
    population_estimate_id: int | None
    population_rsd: float | None
    sampling_rsd: float | None
    flow_rsd: float | None


def _site_inputs(site_ids: Iterable[int]) -> dict[int, SiteInputs]:
    sites = SamplingSite.objects.filter(pk__any=list(site_ids)).values_list(
        "pk", "code", "org_unit_id", "default_population_id", "sampling_rsd", "flow_rsd"
    )
    rows = list(sites)
    estimates = {
        estimate.pk: estimate
        for estimate in PopulationEstimate.objects.filter(pk__any=[row[3] for row in rows if row[3]])
    }
    inputs: dict[int, SiteInputs] = {}
    for pk, code, org_unit_id, estimate_id, sampling_rsd, flow_rsd in rows:
        estimate = estimates.get(estimate_id) if estimate_id else None
        inputs[pk] = SiteInputs(
            code=code,
            org_unit_id=org_unit_id,
            population=estimate.population if estimate else None,
            population_estimate_id=estimate.pk if estimate else None,
            population_rsd=float(estimate.rsd) if estimate else None,
            sampling_rsd=float(sampling_rsd) if sampling_rsd is not None else None,
            flow_rsd=float(flow_rsd) if flow_rsd is not None else None,
        )
    return inputs


@lru_cache(maxsize=4096)
def _multipliers(model: ErrorModel, seed: int, draws: int) -> SampleMultipliers:
    return sample_multipliers(sample_draws(model, seed, draws))


@lru_cache(maxsize=4096)
def _consumption_multiplier(
    model: ErrorModel, seed: int, draws: int, fraction: float, rsd: float
) -> Interval:
    return consumption_multiplier(sample_draws(model, seed, draws), fraction, rsd)


def recompute_results(
    *,
    sample_ids: Iterable[int] | None = None,
    site_ids: Iterable[int] | None = None,
    batch_size: int = 20_000,
) -> int:
    """Rewrite the results of the measurements of these samples (or sites, or all); returns how many rows were
    written. Callers audit the action that made the recomputation necessary."""
    measurements = Measurement.objects.all()
    if sample_ids is not None:
        measurements = measurements.filter(sample_id__any=list(sample_ids))
    if site_ids is not None:
        measurements = measurements.filter(sample__site_id__any=list(site_ids))
    columns = (
        "pk",
        "sample_id",
        "sample__site_id",
        "analyte_id",
        "sample__end_date",
        "sample__org_unit_id",
        "sample__org_path",
        "sample__flow_m3_per_day",
        "ng_per_l",
        "below_loq",
        "loq",
        "recovery_percent",
        "replicate_rsd_percent",
    )
    analyte_codes = dict(Analyte.objects.values_list("pk", "code"))
    book = SettingsBook()
    written = 0
    with transaction.atomic():
        rows = list(measurements.values_list(*columns).order_by())
        sites = _site_inputs({row[2] for row in rows})
        now = timezone.now()
        combinations: dict[tuple[int, int, int], tuple[ErrorModel, int, int]] = {}
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            AnalyteResult.objects.filter(measurement_id__any=[row[0] for row in batch]).delete()
            written += bulk_insert(
                AnalyteResult,
                RESULT_FIELDS,
                (_result_row(row, sites, book, analyte_codes, now, combinations) for row in batch),
            )
    return written


def _result_row(
    row: tuple[Any, ...],
    sites: dict[int, SiteInputs],
    book: SettingsBook,
    analyte_codes: dict[int, str],
    now: dt.datetime,
    combinations: dict[tuple[int, int, int], tuple[ErrorModel, int, int]] | None = None,
) -> tuple[Any, ...]:
    """One stored row. ``combinations`` keeps each site, analyte and settings version's error model, draws and
    seed, which are the same for all of that combination's rows (three years of a site and analyte are 1,095)."""
    (
        measurement_id,
        sample_id,
        site_id,
        analyte_id,
        end_date,
        org_unit_id,
        org_path,
        flow,
        ng_per_l,
        below_loq,
        loq,
        recovery,
        replicate_rsd,
    ) = row
    site = sites[site_id]
    settings = book.resolve(site.org_unit_id, end_date)
    # The book returns one settings object per version and org unit: its identity names the version.
    key = (site_id, analyte_id, id(settings))
    known = combinations.get(key) if combinations is not None else None
    if known is None:
        analyte_code = analyte_codes[analyte_id]
        population_rsd = site.population_rsd if site.population_rsd is not None else 0.0
        model = ErrorModel(
            sampling_rsd=site.sampling_rsd if site.sampling_rsd is not None else settings.sampling_rsd,
            flow_rsd=site.flow_rsd if site.flow_rsd is not None else settings.flow_rsd,
            analysis_rsd=settings.analysis_rsd(analyte_code),
            population_rsd=population_rsd,
        )
        draws = settings.draws
        seed = derive_seed(settings.seed, site.code, analyte_code, model.key, draws)
        known = (model, draws, seed)
        if combinations is not None:
            combinations[key] = known
    model, draws, seed = known
    flow_m3 = float(flow)
    status = ResultStatus.COMPUTED
    reason = settings.qa_problem(
        float(recovery) if recovery is not None else None,
        float(replicate_rsd) if replicate_rsd is not None else None,
    )
    load = per_1000 = loq_per_1000 = None
    load_interval = per_1000_interval = None
    if reason:
        status = ResultStatus.QA_FAILED
    elif below_loq:
        status = ResultStatus.BELOW_LOQ
        if loq is not None and site.population:
            loq_per_1000 = backcalc.load_per_1000(
                backcalc.daily_load_mg(float(loq), flow_m3), site.population
            )
    else:
        multipliers = _multipliers(model, seed, draws)
        load = backcalc.daily_load_mg(float(ng_per_l), flow_m3)
        load_interval = multipliers.load.scaled(load)
        if site.population:
            per_1000 = backcalc.load_per_1000(load, site.population)
            per_1000_interval = multipliers.per_1000.scaled(per_1000)
        else:
            status = ResultStatus.NO_POPULATION
            reason = "the site has no default population estimate"
    return (
        measurement_id,
        sample_id,
        site_id,
        analyte_id,
        end_date,
        org_unit_id,
        org_path,
        now,
        now,
        status,
        reason,
        load,
        load_interval.p2_5 if load_interval else None,
        load_interval.median if load_interval else None,
        load_interval.p97_5 if load_interval else None,
        per_1000,
        per_1000_interval.p2_5 if per_1000_interval else None,
        per_1000_interval.median if per_1000_interval else None,
        per_1000_interval.p97_5 if per_1000_interval else None,
        loq_per_1000,
        site.population,
        site.population_estimate_id,
        model.sampling_rsd,
        model.flow_rsd,
        model.analysis_rsd,
        model.population_rsd,
        seed,
        draws,
        settings.version.pk if settings.version else None,
        now,
    )


# --- Reading -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorInputs:
    """A correction factor as the read path needs it."""

    factor: float
    excretion_fraction: float
    excretion_rsd: float


def factor_inputs(factor_set: CorrectionFactorSet, default_excretion_rsd: float) -> dict[int, FactorInputs]:
    """The set's factors by analyte id."""
    return {
        factor.analyte_id: FactorInputs(
            factor=factor.factor,
            excretion_fraction=float(factor.excretion_fraction),
            excretion_rsd=float(factor.excretion_rsd)
            if factor.excretion_rsd is not None
            else default_excretion_rsd,
        )
        for factor in CorrectionFactor.objects.filter(factor_set=factor_set)
    }


def _estimate(
    value: float | None, low: float | None, median: float | None, high: float | None
) -> dict | None:
    if value is None:
        return None
    return {"value": value, "p2_5": low, "median": median, "p97_5": high}


def consumption_estimate(result: Any, factor: FactorInputs | None) -> dict | None:
    """Consumption (mg/day/1000) of a stored result under a factor: point value and interval."""
    if factor is None or result.per_1000 is None:
        return None
    model = ErrorModel(result.sampling_rsd, result.flow_rsd, result.analysis_rsd, result.population_rsd)
    relative = _consumption_multiplier(
        model, result.seed, result.draws, factor.excretion_fraction, factor.excretion_rsd
    )
    point = result.per_1000 * factor.factor
    interval = relative.scaled(point)
    return {"value": point, "p2_5": interval.p2_5, "median": interval.median, "p97_5": interval.p97_5}


def result_payload(result: AnalyteResult, analyte_code: str, factor: FactorInputs | None) -> dict[str, Any]:
    """One result as the API returns it (the contract's three estimates plus what they were computed from)."""
    return {
        "sample": result.sample_id,
        "site": result.site_id,
        "end_date": result.end_date.isoformat(),
        "analyte": analyte_code,
        "status": result.status,
        "reason": result.reason,
        "load_mg_per_day": _estimate(
            result.load_mg_per_day, result.load_p2_5, result.load_median, result.load_p97_5
        ),
        "load_per_1000": _estimate(
            result.per_1000, result.per_1000_p2_5, result.per_1000_median, result.per_1000_p97_5
        ),
        "consumption_per_1000": consumption_estimate(result, factor),
        "loq_per_1000": result.loq_per_1000,
        "population": result.population,
        "population_estimate": result.population_estimate_id,
        "seed": result.seed,
        "draws": result.draws,
    }


# What ``result_payload`` reads, in the order ``result_payloads`` reads it as plain rows.
PAYLOAD_FIELDS = (
    "sample_id",
    "site_id",
    "end_date",
    "analyte_id",
    "status",
    "reason",
    "load_mg_per_day",
    "load_p2_5",
    "load_median",
    "load_p97_5",
    "per_1000",
    "per_1000_p2_5",
    "per_1000_median",
    "per_1000_p97_5",
    "loq_per_1000",
    "population",
    "population_estimate_id",
    "seed",
    "draws",
    "sampling_rsd",
    "flow_rsd",
    "analysis_rsd",
    "population_rsd",
)


def result_payloads(
    results: QuerySet[AnalyteResult], analyte_codes: dict[int, str], factors: dict[int, FactorInputs]
) -> list[dict[str, Any]]:
    """``result_payload`` of every result of ``results``, in its order, field for field, read as plain rows: a
    site's year is 4,745 results, and model instances (with their timestamps) cost more than the payload does.

    The cyclic garbage collector is paused meanwhile: the 20,000-odd dictionaries of a year would set off full
    collections of the whole process (a p95 of 225 instead of 115 ms of CPU per request); they hold no cycles."""
    with gc_paused():
        return _result_payloads(results, analyte_codes, factors)


def _result_payloads(
    results: QuerySet[AnalyteResult], analyte_codes: dict[int, str], factors: dict[int, FactorInputs]
) -> list[dict[str, Any]]:
    relatives: dict[tuple[Any, ...], Interval] = {}
    items = []
    for (
        sample_id,
        site_id,
        end_date,
        analyte_id,
        status,
        reason,
        load,
        load_p2_5,
        load_median,
        load_p97_5,
        per_1000,
        per_1000_p2_5,
        per_1000_median,
        per_1000_p97_5,
        loq_per_1000,
        population,
        population_estimate_id,
        seed,
        draws,
        sampling_rsd,
        flow_rsd,
        analysis_rsd,
        population_rsd,
    ) in results.values_list(*PAYLOAD_FIELDS):
        factor = factors.get(analyte_id)
        consumption = None
        if factor is not None and per_1000 is not None:
            # As consumption_estimate, with the multiplier looked up once per error model, seed and analyte.
            key = (sampling_rsd, flow_rsd, analysis_rsd, population_rsd, seed, draws, analyte_id)
            relative = relatives.get(key)
            if relative is None:
                relative = relatives[key] = _consumption_multiplier(
                    ErrorModel(sampling_rsd, flow_rsd, analysis_rsd, population_rsd),
                    seed,
                    draws,
                    factor.excretion_fraction,
                    factor.excretion_rsd,
                )
            point = per_1000 * factor.factor
            consumption = {
                "value": point,
                "p2_5": relative.p2_5 * point,
                "median": relative.median * point,
                "p97_5": relative.p97_5 * point,
            }
        items.append(
            {
                "sample": sample_id,
                "site": site_id,
                "end_date": end_date.isoformat(),
                "analyte": analyte_codes[analyte_id],
                "status": status,
                "reason": reason,
                "load_mg_per_day": _estimate(load, load_p2_5, load_median, load_p97_5),
                "load_per_1000": _estimate(per_1000, per_1000_p2_5, per_1000_median, per_1000_p97_5),
                "consumption_per_1000": consumption,
                "loq_per_1000": loq_per_1000,
                "population": population,
                "population_estimate": population_estimate_id,
                "seed": seed,
                "draws": draws,
            }
        )
    return items
