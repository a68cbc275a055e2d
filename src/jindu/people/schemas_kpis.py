"""Response schemas of the people KPI API (aggregates only: no person is ever listed)."""

from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field


class KpiDefinitionVersionOut(Schema):
    id: int
    label: str
    effective_from: dt.date
    region: str | None = Field(None, description="code of the region, null for the national definitions")


class KpiValueOut(Schema):
    code: str
    name_zh: str
    name_en: str
    description: str = Field(description="what is counted, in English")
    description_zh: str
    unit: str = Field(description="count, percent (0–100) or ratio")
    value: float | None = Field(description="null when the denominator is zero")
    numerator: int
    denominator: int | None = Field(description="null for counts")
    target: float | None
    direction: str = Field(description="higher_is_better or lower_is_better")
    on_target: bool | None


class KpiSetOut(Schema):
    org_unit: str
    org_unit_name: str
    start: dt.date
    end: dt.date
    definition: KpiDefinitionVersionOut
    items: list[KpiValueOut]
