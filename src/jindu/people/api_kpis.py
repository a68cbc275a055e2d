"""People API: KPIs (mounted by jindu.people.api). Aggregates only; not audited per call, since no
personal data leaves (sealed persons count, but nobody is listed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router

from jindu.core.apiutil import ERRORS
from jindu.people.kpis import kpi_compute, kpi_org_unit
from jindu.people.schemas_kpis import KpiSetOut

router = Router(tags=["people"])


@router.get(
    "/kpis",
    response={200: KpiSetOut, **ERRORS},
    summary="KPIs of an org unit (with its descendants) for a period [start, end]",
)
def get_kpis(request: HttpRequest, org_unit: str, start: dt.date, end: dt.date, codes: str = "") -> Any:
    unit = kpi_org_unit(request.user, org_unit)
    wanted = [code.strip() for code in codes.split(",") if code.strip()] or None
    values = kpi_compute(unit, start, end, codes=wanted)
    first = values[0]  # kpi_compute answers at least one KPI or refuses
    return {
        "org_unit": unit.code,
        "org_unit_name": unit.name,
        "start": start,
        "end": end,
        "definition": {
            "id": first.definition_id,
            "label": first.definition_label,
            "effective_from": first.definition_effective_from,
            "region": first.definition_region,
        },
        "items": [
            {
                "code": value.code,
                "name_zh": value.name_zh,
                "name_en": value.name_en,
                "description": value.description,
                "description_zh": value.description_zh,
                "unit": value.unit,
                "value": value.value,
                "numerator": value.numerator,
                "denominator": value.denominator,
                "target": value.target,
                "direction": value.direction,
                "on_target": value.on_target,
            }
            for value in values
        ],
    }
