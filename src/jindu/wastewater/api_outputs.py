"""Wastewater API: outputs (mounted under /api/v1/wastewater/ by api.py) — period aggregates, district rankings,
the office's own index, the Excel export and the quarterly report.

Every endpoint reads through the caller's scope: a site or org unit outside it answers 404 like a missing one.
Bad parameters answer 400 naming the parameter (``{"error": {"fields": {"period": ...}}}``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router

from jindu.core.apiutil import ERRORS, date_parameter_value
from jindu.core.errors import NotFound, ServiceError
from jindu.wastewater import aggregates, rankings
from jindu.wastewater.exports import XLSX_CONTENT_TYPE, export_results
from jindu.wastewater.local_index import index_definition, index_series, index_value_payload
from jindu.wastewater.reports import quarterly_report

router = Router(tags=["wastewater"])

DEFAULT_ANALYTE = "METH"


def date_parameter(request: HttpRequest, name: str) -> dt.date | None:
    """An optional ``YYYY-MM-DD`` query parameter, surrounding spaces ignored."""
    return date_parameter_value((request.GET.get(name) or "").strip(), name)


def _json(body: dict[str, Any]) -> JsonResponse:
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


def _settings_day(last: dt.date) -> dt.date:
    return min(last, timezone.localdate())


@router.get(
    "/aggregates",
    response={200: dict, **ERRORS},
    summary="Period aggregates of a site or an org unit with 95 % intervals and year on year",
)
def get_aggregates(
    request: HttpRequest,
    site: str = "",
    org_unit: str = "",
    analyte: str = "",
    period: str = "month",
    days: str = "all",
    cf_set: str = "",
) -> Any:
    """``?site=`` or ``?org_unit=`` (population-weighted over the sites serving it), ``analyte``, ``period`` (week,
    month, quarter, year), ``days`` (all, weekday, weekend: the settings' EUDA split), ``from`` and ``to`` (whole
    periods covering them; default the last twelve months) and ``cf_set`` (consumption). Each period gives
    ``load_per_1000``, ``consumption_per_1000`` and ``doses_per_1000`` as ``{"value", "p2_5", "median", "p97_5"}``,
    the quantified, below-LOQ and blocked days, the below-LOQ bounds and the year-on-year change."""
    kind = aggregates.parse_kind(period)
    day_filter = aggregates.parse_days(days)
    found = aggregates.period_range(
        kind, date_parameter(request, "from"), date_parameter(request, "to"), timezone.localdate()
    )
    subject = aggregates.subject_for(request.user, site=site, org_unit=org_unit)
    wanted = aggregates.resolve_analyte(analyte)
    context = aggregates.request_context(
        request.user, subject.org_unit, on=_settings_day(found[-1].end), cf_set=cf_set
    )
    result = aggregates.series_for_request(context, subject, wanted, found, day_filter)
    return _json(aggregates.series_payload(context, result))


@router.get(
    "/rankings",
    response={200: dict, **ERRORS},
    summary="The children of an org unit ranked, with intervals and rank intervals",
)
def get_rankings(
    request: HttpRequest,
    parent: str = "",
    analyte: str = DEFAULT_ANALYTE,
    period: str = "",
    measure: str = rankings.LOAD,
    days: str = "all",
    cf_set: str = "",
) -> Any:
    """``parent`` (an org unit code; default the outermost unit of the caller's search scope), ``period`` (a
    label: 2026Q1, 2026-03, 2026-W10, 2026; default the last complete quarter), ``measure`` (load_per_1000,
    consumption or index), ``analyte`` (not for the index), ``days`` and ``cf_set``. Items are ordered by their
    point value; ``rank_interval`` is the 95 % interval of the rank over the iterations and ``overlaps_above`` /
    ``overlaps_below`` mark neighbours whose intervals overlap (their order is not significant)."""
    chosen_measure = rankings.parse_measure(measure)
    day_filter = aggregates.parse_days(days)
    chosen = (
        aggregates.parse_period(period) if period.strip() else rankings.default_quarter(timezone.localdate())
    )
    wanted = aggregates.resolve_analyte(analyte) if chosen_measure != rankings.INDEX else None
    if parent.strip():
        unit = aggregates.readable_org_unit(request.user, parent)
    else:
        found_parent = rankings.default_parent(request.user)
        if found_parent is None:
            raise NotFound()
        unit = aggregates.readable_org_unit(request.user, found_parent.code)
    context = aggregates.request_context(request.user, unit, on=_settings_day(chosen.end), cf_set=cf_set)
    result = rankings.ranking(context, unit, chosen, chosen_measure, day_filter, wanted)
    return _json(rankings.ranking_payload(context, result))


@router.get(
    "/index",
    response={200: dict, **ERRORS},
    summary="The office's own drug-situation index (本地测算, not an official indicator) with its formula",
)
def get_index(
    request: HttpRequest,
    site: str = "",
    org_unit: str = "",
    period: str = "quarter",
    days: str = "all",
    cf_set: str = "",
) -> Any:
    """Σ weight × consumption ÷ typical dose over the components of the settings' ``index`` key, per period, with
    its 95 % interval, each component's share and the year-on-year change. The answer always carries the label
    (the office's own formula) and the formula with the weights in force."""
    kind = aggregates.parse_kind(period, default="quarter")
    day_filter = aggregates.parse_days(days)
    found = aggregates.period_range(
        kind, date_parameter(request, "from"), date_parameter(request, "to"), timezone.localdate()
    )
    subject = aggregates.subject_for(request.user, site=site, org_unit=org_unit)
    context = aggregates.request_context(
        request.user, subject.org_unit, on=_settings_day(found[-1].end), cf_set=cf_set
    )
    definition = index_definition(context)
    values = index_series(context, definition, subject, found, day_filter)
    return _json(
        {
            "subject": subject.describe(),
            "period": kind,
            "days": day_filter,
            "from": found[0].start.isoformat(),
            "to": found[-1].end.isoformat(),
            "cf_set": context.factor_set_payload(),
            "settings_version": aggregates.settings_payload(context.settings),
            "draws": context.aggregator.draws,
            **definition.payload(),
            "problems": definition.problems,
            "periods": [index_value_payload(value) for value in values],
        }
    )


@router.get(
    "/export.xlsx",
    response={200: None, **ERRORS},
    summary="Excel export of the results of a site or an org unit (purpose required, audited)",
)
def get_export(
    request: HttpRequest,
    site: str = "",
    org_unit: str = "",
    analyte: str = "",
    period: str = "month",
    cf_set: str = "",
    purpose: str = "",
) -> Any:
    """Two sheets: the daily results (intervals, status, below-LOQ flag, factor set named) and the period
    aggregates (``period``), each under a watermark line. ``purpose`` (at least 4 characters) is required and
    written to the EXPORT audit record."""
    kind = aggregates.parse_kind(period)
    first, last = date_parameter(request, "from"), date_parameter(request, "to")
    found = aggregates.period_range(kind, first, last, timezone.localdate())
    subject = aggregates.subject_for(request.user, site=site, org_unit=org_unit)
    wanted = aggregates.resolve_analyte(analyte) if analyte.strip() else None
    context = aggregates.request_context(
        request.user, subject.org_unit, on=_settings_day(found[-1].end), cf_set=cf_set
    )
    exported = export_results(
        user=request.user,
        context=context,
        subject=subject,
        first=first or found[0].start,
        last=last or found[-1].end,
        analyte=wanted,
        kind=kind,
        purpose=purpose,
    )
    return file_response(exported.content, exported.filename, XLSX_CONTENT_TYPE)


@router.get(
    "/reports/quarterly.pdf",
    response={200: None, **ERRORS},
    summary="The quarterly report of an org unit as a PDF (purpose required, audited)",
)
def get_quarterly_report(
    request: HttpRequest,
    org_unit: str = "",
    quarter: str = "",
    analyte: str = DEFAULT_ANALYTE,
    cf_set: str = "",
    purpose: str = "",
) -> Any:
    """``org_unit`` (default the outermost unit of the caller's search scope), ``quarter`` (2026Q1; default the
    last complete quarter), the lead ``analyte`` of the ranking and site tables, ``cf_set`` and ``purpose``."""
    chosen = aggregates.parse_period(quarter, name="quarter") if quarter.strip() else None
    if chosen is not None and chosen.kind != "quarter":
        raise ServiceError(_("quarter must be a quarter like 2026Q1."), fields={"quarter": _("like 2026Q1")})
    chosen = chosen or rankings.default_quarter(timezone.localdate())
    lead = aggregates.resolve_analyte(analyte)
    code = org_unit.strip()
    if not code:
        found_parent = rankings.default_parent(request.user)
        if found_parent is None:
            raise NotFound()
        code = found_parent.code
    unit = aggregates.readable_org_unit(request.user, code)
    context = aggregates.request_context(request.user, unit, on=_settings_day(chosen.end), cf_set=cf_set)
    report = quarterly_report(
        user=request.user, context=context, unit=unit, quarter=chosen, lead=lead, purpose=purpose
    )
    return file_response(report.content, report.filename, "application/pdf")


def file_response(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
