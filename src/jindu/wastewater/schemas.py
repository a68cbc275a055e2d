"""Request and response schemas of the wastewater API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import Field


class AnalyteOut(Schema):
    code: str
    name_zh: str
    name_en: str
    kind: str
    drug: str
    molar_mass: float | None
    standard_panel: bool


class FactorIn(Schema):
    analyte: str = Field(..., max_length=64, description="analyte code (METH) or a name the catalogue knows")
    excretion_fraction: float = Field(..., description="fraction of a dose excreted as the biomarker, (0, 1]")
    parent_molar_mass: float = Field(..., description="g/mol of the parent drug")
    biomarker_molar_mass: float = Field(..., description="g/mol of the biomarker")
    excretion_rsd: float | None = Field(
        None, description="relative SD of the excretion fraction (0.26 = 26 %)"
    )
    source: str = Field("", max_length=300)


class FactorSetIn(Schema):
    name: str = Field(..., max_length=64)
    description: str = ""
    source: str = ""
    factors: list[FactorIn]


class FactorOut(Schema):
    analyte: str
    excretion_fraction: float
    parent_molar_mass: float
    biomarker_molar_mass: float
    correction_factor: float
    excretion_rsd: float | None
    source: str
    verified: bool

    @staticmethod
    def resolve_analyte(obj: Any) -> str:
        return obj.analyte.code

    @staticmethod
    def resolve_correction_factor(obj: Any) -> float:
        return round(obj.factor, 4)


class FactorSetOut(Schema):
    id: int
    name: str
    version: int
    label: str
    description: str
    source: str
    shipped: bool
    created: dt.datetime
    factors: list[FactorOut]

    @staticmethod
    def resolve_factors(obj: Any) -> list[Any]:
        return list(obj.factors.all())


class SiteIn(Schema):
    code: str = Field(..., max_length=32)
    name: str = Field(..., max_length=200)
    org_unit: str = Field(..., max_length=32, description="code of the org unit that owns the site")
    population: int | None = Field(None, description="served population (a first estimate, the default)")
    population_method: str = "registered"
    population_rsd: float | None = None
    kind: str = "plant"
    address: str = Field("", max_length=300)
    latitude: float | None = None
    longitude: float | None = None
    design_capacity_m3_per_day: float | None = None
    catchment: dict[str, Any] | None = Field(None, description="GeoJSON Polygon or MultiPolygon (WGS 84)")


class PopulationEstimateOut(Schema):
    id: int
    population: int
    method: str
    estimated_on: dt.date
    rsd: float
    note: str


class PopulationEstimateIn(Schema):
    population: int
    method: str
    estimated_on: dt.date
    rsd: float | None = None
    note: str = Field("", max_length=300)
    make_default: bool = False


class ServedAreaIn(Schema):
    org_unit: str
    share: float


class ServedAreaOut(Schema):
    org_unit: str
    org_unit_name: str
    share: float

    @staticmethod
    def resolve_org_unit(obj: Any) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_org_unit_name(obj: Any) -> str:
        return obj.org_unit.name


class SiteOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    org_unit: str
    address: str
    latitude: float | None
    longitude: float | None
    design_capacity_m3_per_day: float | None
    population: int | None
    population_estimate: int | None
    active: bool

    @staticmethod
    def resolve_org_unit(obj: Any) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_population(obj: Any) -> int | None:
        return obj.default_population.population if obj.default_population else None

    @staticmethod
    def resolve_population_estimate(obj: Any) -> int | None:
        return obj.default_population_id


class SiteDetailOut(SiteOut):
    catchment: dict[str, Any] | None
    served_areas: list[ServedAreaOut]
    population_estimates: list[PopulationEstimateOut]

    @staticmethod
    def resolve_served_areas(obj: Any) -> list[Any]:
        return list(obj.served_areas.select_related("org_unit"))

    @staticmethod
    def resolve_population_estimates(obj: Any) -> list[Any]:
        return list(obj.population_estimates.all())


class MeasurementIn(Schema):
    analyte: str = Field(..., max_length=64)
    ng_per_l: float | None = Field(
        None, description="concentration in ng/L (or in ``unit``); null below the LOQ"
    )
    unit: str = Field("ng/L", max_length=16, description="ng/L or µg/L; applies to the value, LOQ and LOD")
    below_loq: bool = False
    loq: float | None = None
    lod: float | None = None
    recovery_percent: float | None = None
    replicate_rsd_percent: float | None = None


class SampleIn(Schema):
    site: str = Field(..., max_length=32, description="site code")
    end_date: dt.date = Field(..., description="the day the 24-hour composite ends")
    flow_m3_per_day: float | None = Field(None, description="influent flow of the same 24 hours, m³/day")
    flow: float | None = Field(
        None, description="influent flow in ``flow_unit`` (instead of flow_m3_per_day)"
    )
    flow_unit: str = Field("m3/d", max_length=16, description="m3/d or 万m3/d")
    sampling_mode: str = "flow"
    rain: bool = False
    lab: str = Field("", max_length=100)
    method: str = Field("", max_length=64)
    analysed_on: dt.date | None = None
    note: str = Field("", max_length=300)
    measurements: list[MeasurementIn]


class MeasurementOut(Schema):
    analyte: str
    ng_per_l: float | None
    below_loq: bool
    loq: float | None
    lod: float | None
    recovery_percent: float | None
    replicate_rsd_percent: float | None

    @staticmethod
    def resolve_analyte(obj: Any) -> str:
        return obj.analyte.code


class SampleOut(Schema):
    id: int
    site: str
    end_date: dt.date
    flow_m3_per_day: float
    sampling_mode: str
    rain: bool
    lab: str
    method: str
    analysed_on: dt.date | None
    note: str
    measurements: list[MeasurementOut]

    @staticmethod
    def resolve_site(obj: Any) -> str:
        return obj.site.code

    @staticmethod
    def resolve_measurements(obj: Any) -> list[Any]:
        return list(obj.measurements.all())


class StoreReportOut(Schema):
    created: list[int]
    updated: list[int]
    unchanged: list[int]
    results: int


class JobOut(Schema):
    id: int
    name: str
    status: str


class SettingsIn(Schema):
    region: str = Field(..., max_length=32, description="org unit code the version applies to (and below)")
    effective_from: dt.date
    label: str = Field(..., max_length=100)
    source: str = Field("", max_length=200)
    payload: dict[str, Any] = Field(
        ..., description="the keys this version changes (the rest: shipped defaults)"
    )
