"""Wastewater API (污水毒情监测): analytes, correction-factor sets, sites and their populations, samples, and the
back-calculated results with Monte Carlo intervals, under ``/api/v1/wastewater/``."""

import datetime as dt
from typing import Any

import orjson
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import paginate

from jindu.core.apiutil import ERRORS, PageNumber, date_parameter_value
from jindu.core.errors import NotFound, ServiceError
from jindu.core.scoping import WRITE, capture_root_ids, path_condition, require_permission, root_paths
from jindu.wastewater import backcalc, selectors, services
from jindu.wastewater.models import Analyte, CorrectionFactor, CorrectionFactorSet, Measurement, SamplingSite
from jindu.wastewater.permissions import MANAGE_FACTORS, VIEW_WASTEWATER
from jindu.wastewater.policies import settings_in_force
from jindu.wastewater.results import factor_inputs, result_payloads
from jindu.wastewater.schemas import (
    AnalyteOut,
    FactorSetIn,
    FactorSetOut,
    JobOut,
    PopulationEstimateIn,
    PopulationEstimateOut,
    SampleIn,
    SampleOut,
    ServedAreaIn,
    ServedAreaOut,
    SettingsIn,
    SiteDetailOut,
    SiteIn,
    SiteOut,
    StoreReportOut,
)

router = Router(tags=["wastewater"])
# Areas with their own modules (one owner each) are mounted under the same prefix.
router.add_router("", "jindu.wastewater.api_imports.router")
router.add_router("", "jindu.wastewater.api_anomalies.router")
router.add_router("", "jindu.wastewater.api_outputs.router")


# Catalogue and factor sets --------------------------------------------------------------------------------------


@router.get("/analytes", response={200: list[AnalyteOut], **ERRORS}, summary="What the labs measure")
def list_analytes(request: HttpRequest) -> Any:
    require_permission(request.user, VIEW_WASTEWATER)
    return list(Analyte.objects.all())


def _factor_sets() -> Any:
    return CorrectionFactorSet.objects.prefetch_related(
        Prefetch(
            "factors",
            queryset=CorrectionFactor.objects.select_related("analyte").order_by("analyte__sort_order"),
        )
    )


@router.get("/cf-sets", response={200: list[FactorSetOut], **ERRORS}, summary="Correction-factor sets")
def list_cf_sets(request: HttpRequest) -> Any:
    """Every version of every set, newest version first within a name."""
    require_permission(request.user, VIEW_WASTEWATER)
    return list(_factor_sets().order_by("name", "-version"))


@router.post("/cf-sets", response={201: FactorSetOut, **ERRORS}, summary="Add a correction-factor set")
def create_cf_set(request: HttpRequest, payload: FactorSetIn) -> Any:
    """A new name starts at version 1; a name that exists gets its next version (versions are never edited)."""
    require_permission(request.user, MANAGE_FACTORS)
    created = services.cf_set_create(
        actor=request.user,
        name=payload.name,
        description=payload.description,
        source=payload.source,
        factors=[factor.dict() for factor in payload.factors],
    )
    return Status(201, _factor_sets().get(pk=created.pk))


@router.get(
    "/cf-sets/{reference}",
    response={200: FactorSetOut, **ERRORS},
    summary="One set (id, name or name:version)",
)
def get_cf_set(request: HttpRequest, reference: str) -> Any:
    found = selectors.resolve_cf_set(request.user, reference, reference)
    return _factor_sets().get(pk=found.pk)


# Settings ---------------------------------------------------------------------------------------------------------


@router.get(
    "/settings", response={200: dict, **ERRORS}, summary="The settings in force for an org unit on a day"
)
def get_settings(request: HttpRequest, org_unit: str = "", on: dt.date | None = None) -> Any:
    """The shipped defaults under the keys of the version in force (nearest region, latest effective date)."""
    require_permission(request.user, VIEW_WASTEWATER)
    unit = request.user.org_unit  # type: ignore[union-attr]  # the API authenticates every caller
    if org_unit:
        from jindu.core.models import OrgUnit
        from jindu.core.scoping import in_roots, search_root_ids

        named = OrgUnit.objects.filter(code=org_unit).first()
        if named is None or not in_roots(named.pk, search_root_ids(request.user)):
            raise NotFound()
        unit = named
    settings = settings_in_force(unit, on or timezone.localdate())
    version = settings.version
    return {
        "org_unit": unit.code,
        "on": (on or timezone.localdate()).isoformat(),
        "version": {
            "id": version.pk,
            "label": version.label,
            "effective_from": version.effective_from.isoformat(),
            "region": version.region.code if version.region is not None else None,
        }
        if version
        else None,
        "settings": settings.payload,
    }


@router.post("/settings", response={201: dict, **ERRORS}, summary="Publish a settings version for a region")
def publish_settings(request: HttpRequest, payload: SettingsIn) -> Any:
    version = services.settings_publish(
        actor=request.user,
        region_code=payload.region,
        effective_from=payload.effective_from,
        label=payload.label,
        payload=payload.payload,
        source=payload.source,
    )
    return Status(
        201, {"id": version.pk, "label": version.label, "effective_from": version.effective_from.isoformat()}
    )


# Sites --------------------------------------------------------------------------------------------------------------


@router.post("/sites", response={201: SiteDetailOut, **ERRORS}, summary="Register a sampling site")
def create_site(request: HttpRequest, payload: SiteIn) -> Any:
    site = services.site_create(
        actor=request.user,
        code=payload.code,
        name=payload.name,
        org_unit_code=payload.org_unit,
        kind=payload.kind,
        population=payload.population,
        population_method=payload.population_method,
        population_rsd=payload.population_rsd,
        address=payload.address,
        latitude=payload.latitude,
        longitude=payload.longitude,
        design_capacity_m3_per_day=payload.design_capacity_m3_per_day,
        catchment=payload.catchment,
    )
    return Status(201, selectors.access_site(request.user, site.pk))


@router.get("/sites", response={200: list[SiteOut], **ERRORS}, summary="Sites I may see")
@paginate(PageNumber)
def list_sites(request: HttpRequest) -> Any:
    require_permission(request.user, VIEW_WASTEWATER)
    return (
        selectors.sites_for_user(request.user)
        .select_related("org_unit", "default_population")
        .order_by("org_path", "code")
    )


@router.get("/sites/{reference}", response={200: SiteDetailOut, **ERRORS}, summary="One site (id or code)")
def get_site(request: HttpRequest, reference: str) -> Any:
    return selectors.access_site(request.user, reference)


@router.put(
    "/sites/{reference}/served-areas",
    response={200: list[ServedAreaOut], **ERRORS},
    summary="Set the org units a site serves and their shares",
)
def set_served_areas(request: HttpRequest, reference: str, payload: list[ServedAreaIn]) -> Any:
    site = selectors.access_site(request.user, reference, action=WRITE)
    services.served_areas_set(
        actor=request.user, site=site, areas=[(area.org_unit, area.share) for area in payload]
    )
    return list(site.served_areas.select_related("org_unit"))


@router.post(
    "/sites/{reference}/population-estimates",
    response={201: PopulationEstimateOut, **ERRORS},
    summary="Add a served-population estimate (method, date, relative SD)",
)
def add_population_estimate(request: HttpRequest, reference: str, payload: PopulationEstimateIn) -> Any:
    site = selectors.access_site(request.user, reference, action=WRITE)
    estimate = services.population_estimate_add(
        actor=request.user,
        site=site,
        population=payload.population,
        method=payload.method,
        estimated_on=payload.estimated_on,
        rsd=payload.rsd,
        note=payload.note,
        make_default=payload.make_default,
    )
    return Status(201, estimate)


@router.post(
    "/sites/{reference}/population-estimates/{estimate_id}/default",
    response={200: SiteDetailOut, **ERRORS},
    summary="Make an estimate the site's default (its results are recomputed)",
)
def set_default_population(request: HttpRequest, reference: str, estimate_id: int) -> Any:
    site = selectors.access_site(request.user, reference, action=WRITE)
    services.population_default_set(actor=request.user, site=site, estimate_id=estimate_id)
    return selectors.access_site(request.user, site.pk)


# Samples ----------------------------------------------------------------------------------------------------------


def _entry(payload: SampleIn) -> services.SampleEntry:
    """The service's entry from the request, units converted to ng/L and m³/d (bad units: 400)."""
    fields: dict[str, str] = {}
    flow: Any = payload.flow_m3_per_day
    if payload.flow is not None:
        try:
            flow = backcalc.flow_m3_per_day(payload.flow, payload.flow_unit)
        except backcalc.UnitError as error:
            fields["sample.flow_unit"] = str(error)
    elif flow is None:
        fields["sample.flow_m3_per_day"] = _("the influent flow is required")
    measurements = []
    for index, measurement in enumerate(payload.measurements):
        values: dict[str, Any] = {}
        for key in ("ng_per_l", "loq", "lod"):
            raw = getattr(measurement, key)
            try:
                values[key] = None if raw is None else backcalc.concentration_ng_per_l(raw, measurement.unit)
            except backcalc.UnitError as error:
                fields[f"sample.measurements[{index}].{key}"] = str(error)
        measurements.append(
            services.MeasurementEntry(
                analyte=measurement.analyte,
                below_loq=measurement.below_loq,
                recovery_percent=measurement.recovery_percent,
                replicate_rsd_percent=measurement.replicate_rsd_percent,
                **values,
            )
        )
    if fields:
        raise ServiceError(_("The sample is not valid."), fields=fields)
    return services.SampleEntry(
        site=payload.site,
        end_date=payload.end_date,
        flow_m3_per_day=flow,
        measurements=measurements,
        sampling_mode=payload.sampling_mode,
        rain=payload.rain,
        lab=payload.lab,
        method=payload.method,
        analysed_on=payload.analysed_on,
        note=payload.note,
    )


def _samples() -> Any:
    return selectors.WastewaterSample.objects.select_related("site").prefetch_related(
        Prefetch(
            "measurements",
            queryset=Measurement.objects.select_related("analyte").order_by("analyte__sort_order"),
        )
    )


@router.post("/samples", response={201: SampleOut, **ERRORS}, summary="Record a sample and its measurements")
def create_sample(request: HttpRequest, payload: SampleIn) -> Any:
    """One 24-hour composite; its results are computed at once. A second sample of the same site and day is
    refused (409): correct the stored one with PUT instead."""
    report = services.samples_store(actor=request.user, entries=[_entry(payload)])
    return Status(201, _samples().get(pk=report.created[0]))


@router.get("/samples", response={200: list[SampleOut], **ERRORS}, summary="Samples I may see")
@paginate(PageNumber)
def list_samples(
    request: HttpRequest, site: str = "", first: dt.date | None = None, last: dt.date | None = None
) -> Any:
    require_permission(request.user, VIEW_WASTEWATER)
    samples = _samples().filter(pk__in=selectors.samples_for_user(request.user).values("pk"))
    if site:
        samples = samples.filter(site=selectors.access_site(request.user, site))
    if first:
        samples = samples.filter(end_date__gte=first)
    if last:
        samples = samples.filter(end_date__lte=last)
    return samples.order_by("-end_date", "site__code")


@router.get("/samples/{sample_id}", response={200: SampleOut, **ERRORS}, summary="One sample")
def get_sample(request: HttpRequest, sample_id: int) -> Any:
    return _samples().get(pk=selectors.access_sample(request.user, sample_id).pk)


@router.put(
    "/samples/{sample_id}", response={200: StoreReportOut, **ERRORS}, summary="Correct a stored sample"
)
def correct_sample(request: HttpRequest, sample_id: int, payload: SampleIn) -> Any:
    """Changed values replace the stored ones (the previous values are kept in the audit trail); analytes the
    correction does not mention are kept; the results are recomputed."""
    sample = selectors.access_sample(request.user, sample_id, action=WRITE)
    entry = _entry(payload)
    if entry.site != sample.site.code or entry.end_date != sample.end_date:
        raise ServiceError(
            _("A correction keeps the sample's site and day."),
            fields={
                "site": _("must stay %(code)s") % {"code": sample.site.code},
                "end_date": str(sample.end_date),
            },
        )
    return services.samples_store(actor=request.user, entries=[entry], replace=True)


# Results ----------------------------------------------------------------------------------------------------------


@router.get(
    "/results",
    response={200: dict, **ERRORS},
    summary="Per sample and analyte: load, load per 1000 and consumption with 95 % intervals",
)
def list_results(
    request: HttpRequest,
    site: str,
    first: dt.date | None = None,
    last: dt.date | None = None,
    cf_set: str = "",
    analyte: str = "",
) -> Any:
    """Each estimate is ``{"value": point, "p2_5", "median", "p97_5"}`` (mg/day, mg/day/1000, mg/day/1000). The
    query parameters ``from`` and ``to`` are accepted for ``first`` and ``last``. Consumption uses ``cf_set`` (id,
    name or name:version; default: the settings' set) and is null for analytes the set has no factor for."""
    first = first or date_parameter_value(request.GET.get("from"), "from")
    last = last or date_parameter_value(request.GET.get("to"), "to")
    found_site = selectors.access_site(request.user, site)
    settings = settings_in_force(found_site.org_unit, timezone.localdate())
    factor_set = selectors.resolve_cf_set(request.user, cf_set, settings.default_cf_set)
    factors = factor_inputs(factor_set, settings.default_excretion_rsd)
    codes = dict(Analyte.objects.values_list("pk", "code"))
    results = selectors.results_for_site(found_site, first=first, last=last)
    if analyte:
        wanted = services.analyte_index().get(services.normal_name(analyte))
        if wanted is None:
            raise ServiceError(
                _("Unknown analyte %(name)s.") % {"name": analyte}, fields={"analyte": _("unknown")}
            )
        results = results.filter(analyte=wanted)
    items = result_payloads(results, codes, factors)
    # orjson encodes a site's year (4,745 items) in about 5 ms where the standard encoder takes about 60: a tenth of
    # the request, and what kept the one-year query above its 200 ms target (docs/benchmarks.md).
    return HttpResponse(
        orjson.dumps(
            {
                "site": found_site.code,
                "cf_set": {"id": factor_set.pk, "name": factor_set.name, "version": factor_set.version},
                "units": {
                    "load_mg_per_day": "mg/day",
                    "load_per_1000": "mg/day/1000 inhabitants",
                    "consumption_per_1000": "mg/day/1000 inhabitants",
                },
                "count": len(items),
                "items": items,
            }
        ),
        content_type="application/json",
    )


@router.post(
    "/results/recompute",
    response={202: JobOut, **ERRORS},
    summary="Recompute every result of my sites (a job)",
)
def recompute(request: HttpRequest) -> Any:
    """After a settings change: the job rewrites the results of the sites in the caller's capture scope."""
    require_permission(request.user, MANAGE_FACTORS)
    from jindu.core.jobs import job_start

    roots = root_paths(capture_root_ids(request.user))
    site_ids = list(SamplingSite.objects.filter(path_condition(roots)).values_list("pk", flat=True))
    job = job_start(name="wastewater_recompute", actor=request.user, parameters={"site_ids": site_ids})
    return Status(202, {"id": job.pk, "name": job.name, "status": job.status})
