"""Writes of the wastewater app: each service is one transaction and writes its own audit record.

``actor=None`` is the server operator (the CLI, imports run by the operator, the demo): no scope applies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.errors import NotFound, ServiceError, join_problems
from jindu.core.models import AuditAction, OrgUnit
from jindu.core.scoping import WRITE, capture_root_ids, in_roots, user_may
from jindu.wastewater.models import (
    Analyte,
    CorrectionFactor,
    CorrectionFactorSet,
    LabImport,
    Measurement,
    PopulationEstimate,
    PopulationMethod,
    SamplingMode,
    SamplingSite,
    SiteKind,
    SiteServedArea,
    WastewaterSample,
)
from jindu.wastewater.permissions import MANAGE_FACTORS
from jindu.wastewater.policies import settings_in_force
from jindu.wastewater.results import recompute_results


class Conflict(ServiceError):
    status = 409


def _problems(message: str, fields: dict[str, str], code: str = "invalid") -> ServiceError:
    return ServiceError(
        message % {"problems": join_problems(f"{name}: {problem}" for name, problem in fields.items())},
        code=code,
        fields=fields,
    )


def _in_capture_scope(actor: Any, org_unit_id: int) -> bool:
    return actor is None or in_roots(org_unit_id, capture_root_ids(actor))


def _decimal(value: Any, *, minimum: float | None = 0, maximum: float | None = None) -> Decimal:
    """A finite decimal within bounds, or ValueError with the reason."""
    if isinstance(value, bool) or value is None or str(value).strip() == "":
        raise ValueError(_("a number is required"))
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(_("not a number")) from None
    if not number.is_finite():
        raise ValueError(_("not a number"))
    if minimum is not None and number < Decimal(str(minimum)):
        raise ValueError(_("at least %(minimum)s") % {"minimum": minimum})
    if maximum is not None and number > Decimal(str(maximum)):
        raise ValueError(_("at most %(maximum)s") % {"maximum": maximum})
    return number


# --- Sites ---------------------------------------------------------------------------------------------------------

SITE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def site_create(
    *,
    actor: Any,
    code: str,
    name: str,
    org_unit_code: str,
    kind: str = SiteKind.TREATMENT_PLANT,
    population: int | None = None,
    population_method: str = PopulationMethod.REGISTERED,
    population_rsd: float | None = None,
    address: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    design_capacity_m3_per_day: float | None = None,
    catchment: dict[str, Any] | None = None,
) -> SamplingSite:
    """Register a sampling site owned by an org unit of the actor's capture scope; it serves that unit (share 1)
    until its served areas are set. A population given here becomes the site's first estimate and default."""
    if actor is not None and not user_may(actor, SamplingSite, WRITE):
        raise NotFound()
    fields: dict[str, str] = {}
    code = (code or "").strip()
    if not SITE_CODE.match(code):
        fields["code"] = _("1–32 letters, digits, '-' or '_'")
    name = (name or "").strip()
    if not name:
        fields["name"] = _("a name is required")
    if kind not in SiteKind.values:
        fields["kind"] = _("one of %(kinds)s") % {"kinds": ", ".join(SiteKind.values)}
    unit = OrgUnit.objects.filter(code=org_unit_code or "").first()
    if unit is None or not _in_capture_scope(actor, unit.pk):
        fields["org_unit"] = _("org unit %(code)s is not in your capture scope") % {"code": org_unit_code}
    if population is not None and (isinstance(population, bool) or not 0 < int(population) <= 50_000_000):
        fields["population"] = _("a whole number between 1 and 50,000,000")
    if population_method not in PopulationMethod.values:
        fields["population_method"] = _("one of %(methods)s") % {
            "methods": ", ".join(PopulationMethod.values)
        }
    if latitude is not None and not -90 <= latitude <= 90:
        fields["latitude"] = _("between -90 and 90")
    if longitude is not None and not -180 <= longitude <= 180:
        fields["longitude"] = _("between -180 and 180")
    if design_capacity_m3_per_day is not None and not design_capacity_m3_per_day > 0:
        fields["design_capacity_m3_per_day"] = _("greater than 0")
    if catchment is not None:
        problem = catchment_problem(catchment)
        if problem:
            fields["catchment"] = problem
    if fields:
        raise _problems(_("The site cannot be registered: %(problems)s"), fields)
    assert unit is not None
    if SamplingSite.objects.filter(code=code).exists():
        raise Conflict(_("A site with code %(code)s exists already.") % {"code": code}, code="duplicate_site")
    try:
        with transaction.atomic():
            site = SamplingSite.objects.create(
                code=code,
                name=name,
                kind=kind,
                org_unit=unit,
                address=address,
                latitude=Decimal(str(latitude)) if latitude is not None else None,
                longitude=Decimal(str(longitude)) if longitude is not None else None,
                design_capacity_m3_per_day=(
                    Decimal(str(design_capacity_m3_per_day)) if design_capacity_m3_per_day else None
                ),
                catchment=catchment,
            )
            SiteServedArea.objects.create(site=site, org_unit=unit, share=Decimal(1))
            if population is not None:
                estimate = PopulationEstimate.objects.create(
                    site=site,
                    population=int(population),
                    method=population_method,
                    estimated_on=timezone.localdate(),
                    rsd=Decimal(
                        str(
                            population_rsd
                            if population_rsd is not None
                            else settings_in_force(unit, timezone.localdate()).population_rsd(
                                population_method
                            )
                        )
                    ),
                    created_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
                site.default_population = estimate
                site.save(update_fields=["default_population"])
            audit_write(
                action=AuditAction.CREATE,
                actor=actor,
                obj=site,
                detail={"code": code, "population": population, "org_unit": unit.code},
            )
    except IntegrityError:
        raise Conflict(
            _("A site with code %(code)s exists already.") % {"code": code}, code="duplicate_site"
        ) from None
    return site


def catchment_problem(geometry: Any) -> str:
    """Why a catchment is not a usable GeoJSON Polygon/MultiPolygon in WGS 84 ("" when it is)."""
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return _("a GeoJSON Polygon or MultiPolygon")
    polygons = geometry.get("coordinates")
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    if not isinstance(polygons, list) or not polygons:
        return _("a GeoJSON Polygon or MultiPolygon")
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return _("each polygon needs at least one ring")
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                return _("each ring needs at least four positions and must be closed")
            for position in ring:
                if (
                    not isinstance(position, list | tuple)
                    or len(position) < 2
                    or not all(
                        isinstance(value, int | float) and not isinstance(value, bool)
                        for value in position[:2]
                    )
                    or not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90)
                ):
                    return _("positions are [longitude, latitude] in degrees")
    return ""


def served_areas_set(
    *, actor: Any, site: SamplingSite, areas: Sequence[tuple[str, Any]]
) -> list[SiteServedArea]:
    """Replace the org units a site serves, with the share of its population in each (shares add up to at most
    1; every unit must lie in the actor's capture scope)."""
    fields: dict[str, str] = {}
    if not areas:
        fields["areas"] = _("at least one org unit")
    units = {unit.code: unit for unit in OrgUnit.objects.filter(code__in=[code for code, _share in areas])}
    total = Decimal(0)
    clean: list[tuple[OrgUnit, Decimal]] = []
    seen: set[str] = set()
    for index, (code, share) in enumerate(areas):
        unit = units.get(code)
        if unit is None or not _in_capture_scope(actor, unit.pk):
            fields[f"areas[{index}].org_unit"] = _("org unit %(code)s is not in your capture scope") % {
                "code": code
            }
            continue
        if code in seen:
            fields[f"areas[{index}].org_unit"] = _("listed twice")
            continue
        seen.add(code)
        try:
            value = _decimal(share, minimum=0.0001, maximum=1)
        except ValueError as error:
            fields[f"areas[{index}].share"] = str(error)
            continue
        total += value
        clean.append((unit, value))
    if total > 1:
        fields["areas"] = _("the shares add up to %(total)s, more than 1") % {"total": total}
    if fields:
        raise _problems(_("The served areas cannot be set: %(problems)s"), fields)
    with transaction.atomic():
        before = list(site.served_areas.values_list("org_unit__code", "share"))
        site.served_areas.all().delete()
        created = SiteServedArea.objects.bulk_create(
            SiteServedArea(site=site, org_unit=unit, share=share) for unit, share in clean
        )
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=site,
            detail={
                "served_areas": [[unit.code, str(share)] for unit, share in clean],
                "before": [[code, str(share)] for code, share in before],
            },
        )
    return created


def population_estimate_add(
    *,
    actor: Any,
    site: SamplingSite,
    population: int,
    method: str,
    estimated_on: dt.date,
    rsd: float | None = None,
    note: str = "",
    make_default: bool = False,
) -> PopulationEstimate:
    """Add an estimate of the served population (method, date, relative SD); as default, the site's results are
    recomputed with it in the same transaction."""
    fields: dict[str, str] = {}
    if isinstance(population, bool) or not isinstance(population, int) or not 0 < population <= 50_000_000:
        fields["population"] = _("a whole number between 1 and 50,000,000")
    if method not in PopulationMethod.values:
        fields["method"] = _("one of %(methods)s") % {"methods": ", ".join(PopulationMethod.values)}
    if estimated_on > timezone.localdate():
        fields["estimated_on"] = _("not in the future")
    if rsd is not None and not 0 <= rsd <= 5:
        fields["rsd"] = _("a relative SD between 0 and 5 (0.2 = 20 %)")
    if fields:
        raise _problems(_("The estimate cannot be added: %(problems)s"), fields)
    if rsd is None:
        rsd = settings_in_force(site.org_unit, estimated_on).population_rsd(method)
    with transaction.atomic():
        estimate = PopulationEstimate.objects.create(
            site=site,
            population=population,
            method=method,
            estimated_on=estimated_on,
            rsd=Decimal(str(rsd)),
            note=note,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=site,
            detail={
                "population_estimate": estimate.pk,
                "population": population,
                "method": method,
                "rsd": rsd,
            },
        )
        if make_default:
            _set_default(actor, site, estimate)
    return estimate


def population_default_set(*, actor: Any, site: SamplingSite, estimate_id: int) -> PopulationEstimate:
    """Make one of the site's estimates its default and recompute the site's results with it."""
    estimate = PopulationEstimate.objects.filter(site=site, pk=estimate_id).first()
    if estimate is None:
        raise NotFound(_("This site has no such population estimate."))
    with transaction.atomic():
        _set_default(actor, site, estimate)
    return estimate


def _set_default(actor: Any, site: SamplingSite, estimate: PopulationEstimate) -> None:
    previous = site.default_population_id
    site.default_population = estimate
    site.save(update_fields=["default_population", "last_updated"])
    written = recompute_results(site_ids=[site.pk])
    audit_write(
        action=AuditAction.UPDATE,
        actor=actor,
        obj=site,
        detail={"default_population": estimate.pk, "previous": previous, "results_recomputed": written},
    )


# --- Correction-factor sets ---------------------------------------------------------------------------------------

CF_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def analyte_index() -> dict[str, Analyte]:
    """Analytes by code and by every alias (upper-cased, spaces removed)."""
    index: dict[str, Analyte] = {}
    for analyte in Analyte.objects.all():
        for name in (analyte.code, analyte.name_zh, analyte.name_en, *analyte.aliases):
            index.setdefault(normal_name(name), analyte)
    return index


def normal_name(name: Any) -> str:
    return re.sub(r"\s+", "", str(name or "")).upper()


def cf_set_create(
    *, actor: Any, name: str, factors: Sequence[dict[str, Any]], description: str = "", source: str = ""
) -> CorrectionFactorSet:
    """Add a correction-factor set: version 1 of a new name, or the next version of an existing one (versions are
    never edited). Each factor gives the analyte, its excretion fraction in (0, 1] and both molar masses."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        raise NotFound()
    if actor is not None and not actor.has_jindu_perm(MANAGE_FACTORS):
        raise NotFound()
    fields: dict[str, str] = {}
    name = (name or "").strip()
    if not CF_SET_NAME.match(name):
        fields["name"] = _("1–64 letters, digits, '.', '-' or '_'")
    if not factors:
        fields["factors"] = _("at least one factor")
    analytes = analyte_index()
    clean: list[tuple[Analyte, Decimal, Decimal, Decimal, Decimal | None, str]] = []
    seen: set[int] = set()
    for index, factor in enumerate(factors or []):
        prefix = f"factors[{index}]"
        analyte = analytes.get(normal_name(factor.get("analyte")))
        if analyte is None:
            fields[f"{prefix}.analyte"] = _("unknown analyte %(name)s") % {"name": factor.get("analyte")}
            continue
        if analyte.pk in seen:
            fields[f"{prefix}.analyte"] = _("%(code)s is listed twice") % {"code": analyte.code}
            continue
        seen.add(analyte.pk)
        values: dict[str, Decimal] = {}
        for key, minimum, maximum in (
            ("excretion_fraction", 0, 1),
            ("parent_molar_mass", 1, 5000),
            ("biomarker_molar_mass", 1, 5000),
        ):
            try:
                values[key] = _decimal(factor.get(key), minimum=minimum, maximum=maximum)
            except ValueError as error:
                fields[f"{prefix}.{key}"] = str(error)
        if values.get("excretion_fraction") == 0:
            fields[f"{prefix}.excretion_fraction"] = _("greater than 0")
        rsd = None
        if factor.get("excretion_rsd") is not None:
            try:
                rsd = _decimal(factor.get("excretion_rsd"), minimum=0, maximum=5)
            except ValueError as error:
                fields[f"{prefix}.excretion_rsd"] = str(error)
        if len(values) == 3:
            clean.append(
                (
                    analyte,
                    values["excretion_fraction"],
                    values["parent_molar_mass"],
                    values["biomarker_molar_mass"],
                    rsd,
                    str(factor.get("source") or "")[:300],
                )
            )
    if fields:
        raise _problems(_("The correction-factor set cannot be added: %(problems)s"), fields)
    with transaction.atomic():
        latest = (
            CorrectionFactorSet.objects.select_for_update().filter(name=name).order_by("-version").first()
        )
        factor_set = CorrectionFactorSet.objects.create(
            name=name,
            version=(latest.version + 1) if latest else 1,
            description=description,
            source=source,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        CorrectionFactor.objects.bulk_create(
            CorrectionFactor(
                factor_set=factor_set,
                analyte=analyte,
                excretion_fraction=fraction,
                parent_molar_mass=parent,
                biomarker_molar_mass=biomarker,
                excretion_rsd=rsd,
                source=factor_source,
                verified=False,  # the analyst's own values: the platform cannot check them
            )
            for analyte, fraction, parent, biomarker, rsd, factor_source in clean
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=factor_set,
            detail={"name": name, "version": factor_set.version, "factors": len(clean)},
        )
    return factor_set


# --- Samples --------------------------------------------------------------------------------------------------------


@dataclass
class MeasurementEntry:
    """One analyte's value as a lab reports it (concentration in ng/L after unit conversion)."""

    analyte: str
    ng_per_l: Any = None
    below_loq: bool = False
    loq: Any = None
    lod: Any = None
    recovery_percent: Any = None
    replicate_rsd_percent: Any = None


@dataclass
class SampleEntry:
    """One 24-hour composite: the site's code, the day it ends, the flow (m³/d) and its measurements."""

    site: str
    end_date: dt.date
    flow_m3_per_day: Any
    measurements: list[MeasurementEntry] = field(default_factory=list)
    sampling_mode: str = SamplingMode.FLOW_PROPORTIONAL
    rain: bool = False
    lab: str = ""
    method: str = ""
    analysed_on: dt.date | None = None
    note: str = ""


@dataclass
class StoreReport:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    results: int = 0

    @property
    def sample_ids(self) -> list[int]:
        return [*self.created, *self.updated, *self.unchanged]


@dataclass
class _CleanMeasurement:
    analyte: Analyte
    ng_per_l: Decimal | None
    below_loq: bool
    loq: Decimal | None
    lod: Decimal | None
    recovery_percent: Decimal | None
    replicate_rsd_percent: Decimal | None

    def values(self) -> tuple[Any, ...]:
        return (
            self.ng_per_l,
            self.below_loq,
            self.loq,
            self.lod,
            self.recovery_percent,
            self.replicate_rsd_percent,
        )


MEASUREMENT_VALUES = ("ng_per_l", "below_loq", "loq", "lod", "recovery_percent", "replicate_rsd_percent")
SAMPLE_VALUES = ("flow_m3_per_day", "sampling_mode", "rain", "lab", "method", "analysed_on", "note")


def _optional(
    value: Any, fields: dict[str, str], key: str, *, maximum: float | None = None
) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return _decimal(value, minimum=0, maximum=maximum)
    except ValueError as error:
        fields[key] = str(error)
        return None


def _clean_measurement(
    entry: MeasurementEntry, prefix: str, analytes: dict[str, Analyte], fields: dict[str, str]
) -> _CleanMeasurement | None:
    analyte = analytes.get(normal_name(entry.analyte))
    if analyte is None:
        fields[f"{prefix}.analyte"] = _("unknown analyte %(name)s") % {"name": entry.analyte}
        return None
    loq = _optional(entry.loq, fields, f"{prefix}.loq", maximum=1e9)
    lod = _optional(entry.lod, fields, f"{prefix}.lod", maximum=1e9)
    recovery = _optional(entry.recovery_percent, fields, f"{prefix}.recovery_percent", maximum=1000)
    replicate = _optional(
        entry.replicate_rsd_percent, fields, f"{prefix}.replicate_rsd_percent", maximum=1000
    )
    if lod is not None and loq is not None and lod > loq:
        fields[f"{prefix}.lod"] = _("the LOD cannot exceed the LOQ")
    value: Decimal | None = None
    if entry.below_loq:
        if entry.ng_per_l is not None and str(entry.ng_per_l).strip() != "":
            fields[f"{prefix}.ng_per_l"] = _(
                "a value below the LOQ is stored as the flag and the LOQ, without a value"
            )
        if loq is None or loq == 0:
            fields[f"{prefix}.loq"] = _("the LOQ is required for a value below it")
    else:
        try:
            value = _decimal(entry.ng_per_l, minimum=0, maximum=1e9)
        except ValueError as error:
            fields[f"{prefix}.ng_per_l"] = str(error)
        if value is not None and loq is not None and value < loq:
            fields[f"{prefix}.ng_per_l"] = _(
                "%(value)s is below the LOQ %(loq)s: report it as below the LOQ"
            ) % {"value": value, "loq": loq}
    return _CleanMeasurement(analyte, value, bool(entry.below_loq), loq, lod, recovery, replicate)


def samples_store(
    *, actor: Any, entries: Sequence[SampleEntry], lab_import: LabImport | None = None, replace: bool = False
) -> StoreReport:
    """Store samples with their measurements and compute their results, all or nothing.

    A sample of a site and day that exists already is refused (409) unless ``replace``: then its changed fields
    and measurements are updated (the previous values go into the audit record) and measurements of analytes the
    entry does not mention are kept. An entry equal to what is stored changes nothing."""
    if actor is not None and not user_may(actor, WastewaterSample, WRITE):
        raise NotFound()
    fields: dict[str, str] = {}
    analytes = analyte_index()
    sites = {
        site.code: site for site in SamplingSite.objects.filter(code__in={entry.site for entry in entries})
    }
    today = timezone.localdate()
    clean: list[tuple[SampleEntry, SamplingSite, Decimal, list[_CleanMeasurement]]] = []
    seen_days: set[tuple[str, dt.date]] = set()
    prefix_of = "samples[{}]".format if len(entries) > 1 else (lambda _index: "sample")
    if not entries:
        fields["samples"] = _("at least one sample")
    for index, entry in enumerate(entries):
        prefix = prefix_of(index)
        site = sites.get(entry.site)
        if site is None or not _in_capture_scope(actor, site.org_unit_id):
            fields[f"{prefix}.site"] = _("no site %(code)s in your capture scope") % {"code": entry.site}
        if not isinstance(entry.end_date, dt.date) or entry.end_date > today:
            fields[f"{prefix}.end_date"] = _("a day not in the future")
        elif entry.end_date < dt.date(2000, 1, 1):
            fields[f"{prefix}.end_date"] = _("a day since 2000")
        elif (entry.site, entry.end_date) in seen_days:
            fields[f"{prefix}.end_date"] = _("%(site)s has two samples for %(day)s") % {
                "site": entry.site,
                "day": entry.end_date,
            }
        seen_days.add((entry.site, entry.end_date))
        flow = Decimal(0)
        try:
            flow = _decimal(entry.flow_m3_per_day, minimum=0, maximum=1e8)
            if flow == 0:
                raise ValueError(_("greater than 0"))
        except ValueError as error:
            fields[f"{prefix}.flow_m3_per_day"] = str(error)
        if entry.sampling_mode not in SamplingMode.values:
            fields[f"{prefix}.sampling_mode"] = _("one of %(modes)s") % {
                "modes": ", ".join(SamplingMode.values)
            }
        if (
            entry.analysed_on is not None
            and isinstance(entry.end_date, dt.date)
            and entry.analysed_on < entry.end_date
        ):
            fields[f"{prefix}.analysed_on"] = _("not before the sample's end date")
        if not entry.measurements:
            fields[f"{prefix}.measurements"] = _("at least one measurement")
        measurements: list[_CleanMeasurement] = []
        seen: set[int] = set()
        for position, measurement in enumerate(entry.measurements):
            cleaned = _clean_measurement(measurement, f"{prefix}.measurements[{position}]", analytes, fields)
            if cleaned is None:
                continue
            if cleaned.analyte.pk in seen:
                fields[f"{prefix}.measurements[{position}].analyte"] = _("%(code)s is listed twice") % {
                    "code": cleaned.analyte.code
                }
            seen.add(cleaned.analyte.pk)
            measurements.append(cleaned)
        if site is not None:
            clean.append((entry, site, flow, measurements))
    if fields:
        raise _problems(_("Nothing was stored: %(problems)s"), fields)
    report = StoreReport()
    with transaction.atomic():
        wanted = {(site.pk, entry.end_date) for entry, site, _flow, _measurements in clean}
        existing = {
            pair: sample
            for sample in WastewaterSample.objects.filter(
                site_id__in={site_id for site_id, _day in wanted},
                end_date__in={day for _site_id, day in wanted},
            )
            if (pair := (sample.site_id, sample.end_date)) in wanted
        }
        if existing and not replace:
            codes = {site.pk: site.code for _entry, site, _flow, _measurements in clean}
            taken = sorted(f"{codes[site_id]} {day}" for site_id, day in existing)
            raise Conflict(
                _("A sample of this site and day is stored already (%(days)s): correct it instead.")
                % {"days": ", ".join(taken[:10])},
                code="duplicate_sample",
            )
        stored = {
            (measurement.sample_id, measurement.analyte_id): measurement
            for measurement in Measurement.objects.filter(
                sample__in=[sample.pk for sample in existing.values()]
            )
        }
        changes: list[dict[str, Any]] = []
        new_measurements: list[Measurement] = []
        changed_measurements: list[Measurement] = []
        for entry, site, flow, measurements in clean:
            values = {
                "flow_m3_per_day": flow,
                "sampling_mode": entry.sampling_mode,
                "rain": bool(entry.rain),
                "lab": entry.lab[:100],
                "method": entry.method[:64],
                "analysed_on": entry.analysed_on,
                "note": entry.note[:300],
            }
            sample = existing.get((site.pk, entry.end_date))
            if sample is None:
                sample = WastewaterSample.objects.create(
                    site=site,
                    end_date=entry.end_date,
                    org_unit_id=site.org_unit_id,
                    lab_import=lab_import,
                    **values,
                )
                report.created.append(sample.pk)
                new_measurements.extend(
                    Measurement(
                        sample=sample,
                        analyte=m.analyte,
                        **dict(zip(MEASUREMENT_VALUES, m.values(), strict=True)),
                    )
                    for m in measurements
                )
                continue
            before: dict[str, Any] = {}
            for key, value in values.items():
                if getattr(sample, key) != value:
                    before[key] = str(getattr(sample, key))
                    setattr(sample, key, value)
            for m in measurements:
                current = stored.get((sample.pk, m.analyte.pk))
                if current is None:
                    new_measurements.append(
                        Measurement(
                            sample=sample,
                            analyte=m.analyte,
                            **dict(zip(MEASUREMENT_VALUES, m.values(), strict=True)),
                        )
                    )
                    before[m.analyte.code] = None
                    continue
                old = tuple(getattr(current, key) for key in MEASUREMENT_VALUES)
                if old != m.values():
                    before[m.analyte.code] = [str(value) if value is not None else None for value in old]
                    for key, value in zip(MEASUREMENT_VALUES, m.values(), strict=True):
                        setattr(current, key, value)
                    changed_measurements.append(current)
            if before:
                if lab_import is not None:
                    sample.lab_import = lab_import
                sample.save()
                report.updated.append(sample.pk)
                changes.append({"sample": sample.pk, "before": before})
            else:
                report.unchanged.append(sample.pk)
        Measurement.objects.bulk_create(new_measurements, batch_size=2000)
        if changed_measurements:
            Measurement.objects.bulk_update(changed_measurements, list(MEASUREMENT_VALUES), batch_size=2000)
        touched = report.created + report.updated
        if touched:
            from jindu.wastewater.anomalies import anomalies_after_store

            report.results = recompute_results(sample_ids=touched)
            # The anomaly rules run for these sites once the samples are committed (a job).
            anomalies_after_store(sample_ids=touched, actor=actor)
            audit_write(
                action=AuditAction.CREATE if not report.updated else AuditAction.UPDATE,
                actor=actor,
                object_type="wastewater.wastewatersample",
                object_id=str(touched[0]) if len(touched) == 1 else "",
                object_repr=f"{len(touched)} samples",
                org_unit_code=clean[0][1].org_unit.code if len(clean) == 1 else "",
                detail={
                    "created": report.created[:500],
                    "updated": report.updated[:500],
                    "unchanged": len(report.unchanged),
                    "changes": changes[:200],
                    "lab_import": lab_import.pk if lab_import else None,
                },
            )
    return report


# --- Settings -------------------------------------------------------------------------------------------------------


def settings_publish(
    *,
    actor: Any,
    region_code: str | None,
    effective_from: dt.date,
    label: str,
    payload: dict[str, Any],
    source: str = "",
) -> Any:
    """Publish a settings version for a region of the actor's capture scope (a national version only from the
    CLI): checked first, then stored as a new policy version; the results of the region's sites are recomputed
    by a job, since the error model, QA limits and seeds may have changed."""
    from jindu.core.jobs import job_start
    from jindu.core.policy import policy_publish
    from jindu.core.scoping import path_condition
    from jindu.wastewater.policies import SETTINGS_KIND, validate_settings

    if actor is not None and not actor.has_jindu_perm(MANAGE_FACTORS):
        raise NotFound()
    region = None
    if region_code:
        region = OrgUnit.objects.filter(code=region_code).first()
        if region is None or not _in_capture_scope(actor, region.pk):
            raise ServiceError(
                _("Org unit %(code)s is not in your capture scope.") % {"code": region_code},
                fields={"region": _("not in your capture scope")},
            )
    elif actor is not None:
        raise ServiceError(
            _("Only the server operator publishes national settings; name your region."),
            fields={"region": _("required")},
        )
    if not isinstance(payload, dict):
        raise ServiceError(_("The settings must be an object."), fields={"payload": _("an object")})
    problems = validate_settings(payload)
    if problems:
        raise ServiceError(
            _("The settings are not valid: %(problems)s") % {"problems": join_problems(problems)},
            code="invalid_settings",
            fields={"payload": join_problems(problems)},
        )
    with transaction.atomic():
        version = policy_publish(
            actor=actor,
            kind=SETTINGS_KIND,
            region=region,
            effective_from=effective_from,
            label=label,
            payload=payload,
            source=source,
        )
        sites = SamplingSite.objects.all()
        if region is not None:
            sites = sites.filter(path_condition([region.path]))
        job_start(
            name="wastewater_recompute",
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            parameters={"site_ids": list(sites.values_list("pk", flat=True))},
        )
    return version
