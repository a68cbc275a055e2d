"""Pages of the wastewater outputs over areas: district rankings (with the office's own index), the map of
catchments, the Excel export and the quarterly report. Each answers what the API answers, from the same modules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _lazy

from jindu.core.errors import NotFound, ServiceError
from jindu.core.forms import StyledForm
from jindu.core.models import OrgUnit
from jindu.core.scoping import require_permission, search_root_ids
from jindu.core.views import ui_errors
from jindu.wastewater import aggregates, charts, overview, rankings
from jindu.wastewater.api_outputs import file_response
from jindu.wastewater.exports import XLSX_CONTENT_TYPE, export_results
from jindu.wastewater.models import Analyte, AnalyteKind, CorrectionFactorSet
from jindu.wastewater.periods import PeriodKind, period_of
from jindu.wastewater.permissions import VIEW_WASTEWATER
from jindu.wastewater.policies import settings_in_force
from jindu.wastewater.reports import quarterly_report
from jindu.wastewater.selectors import sites_for_user
from jindu.wastewater.views_outputs import DAY_FILTER_LABELS, KIND_LABELS, YOY_BADGES, query_values

MEASURE_LABELS = {
    rankings.LOAD: _lazy("Load per 1000"),
    rankings.CONSUMPTION: _lazy("Consumption"),
    rankings.INDEX: _lazy("Local estimate index (本地测算)"),
}


def _set_choices(form: forms.Form, name: str, choices: list[tuple[Any, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _units(user: Any) -> list[OrgUnit]:
    """The units of the caller's search scope a picker offers: the roots and two levels below them."""
    roots = list(OrgUnit.objects.filter(pk__in=list(search_root_ids(user))).order_by("path"))
    units = {unit.pk: unit for unit in roots}
    for unit in OrgUnit.objects.filter(parent__in=roots).order_by("path"):
        units.setdefault(unit.pk, unit)
    return sorted(units.values(), key=lambda unit: unit.path)


def _drug_analytes() -> list[Analyte]:
    return list(Analyte.objects.filter(kind=AnalyteKind.DRUG_MARKER).order_by("sort_order"))


def _cf_set_choices() -> list[tuple[str, Any]]:
    sets = CorrectionFactorSet.objects.order_by("name", "-version").values_list("name", "version")
    return [("", _lazy("Settings' default"))] + [
        (f"{name}:{version}", f"{name} v{version}") for name, version in sets
    ]


def _quarters(today: dt.date, count: int = 12) -> list[str]:
    found = []
    period = period_of(today, PeriodKind.QUARTER)
    for _index in range(count):
        found.append(period.label)
        period = period_of(period.start - dt.timedelta(days=1), PeriodKind.QUARTER)
    return found


def _show_error(form: forms.Form, error: ServiceError) -> None:
    if isinstance(error, NotFound):
        raise error
    form.add_error(None, error.message)
    for name, problem in error.fields.items():
        if name in form.fields:
            form.add_error(name, problem)


# --- Rankings --------------------------------------------------------------------------------------------------------


class RankingForm(StyledForm):
    parent = forms.ChoiceField(label=_lazy("Ranked area"))
    measure = forms.ChoiceField(label=_lazy("Measure"), choices=list(MEASURE_LABELS.items()))
    analyte = forms.ChoiceField(label=_lazy("Analyte"))
    period = forms.CharField(
        label=_lazy("Period"), max_length=10, help_text=_lazy("2026Q1, 2026-03, 2026-W10 or 2026")
    )
    days = forms.ChoiceField(label=_lazy("Days"), choices=list(DAY_FILTER_LABELS.items()))
    cf_set = forms.ChoiceField(label=_lazy("Correction factors"), required=False)


@login_required
@ui_errors
def ranking_page(request: HttpRequest) -> HttpResponse:
    """The children of an area of my scope ranked with their intervals (by load, consumption or the index)."""
    require_permission(request.user, VIEW_WASTEWATER)
    units = _units(request.user)
    default_parent = rankings.default_parent(request.user)
    analytes = _drug_analytes()
    data = {
        "parent": default_parent.code if default_parent else "",
        "measure": rankings.LOAD,
        "analyte": "METH",
        "period": rankings.default_quarter(timezone.localdate()).label,
        "days": aggregates.ALL_DAYS,
        "cf_set": "",
    }
    data.update(query_values(request, data))
    form = RankingForm(data)
    _set_choices(form, "parent", [(unit.code, f"{unit.name} ({unit.code})") for unit in units])
    _set_choices(form, "analyte", [(item.code, f"{item.name_zh} ({item.code})") for item in analytes])
    _set_choices(form, "cf_set", _cf_set_choices())
    result = context = chart = None
    if form.is_valid():
        clean = form.cleaned_data
        try:
            period = aggregates.parse_period(clean["period"])
            unit = aggregates.readable_org_unit(request.user, clean["parent"])
            analyte = (
                aggregates.resolve_analyte(clean["analyte"]) if clean["measure"] != rankings.INDEX else None
            )
            context = aggregates.request_context(
                request.user, unit, on=min(period.end, timezone.localdate()), cf_set=clean.get("cf_set") or ""
            )
            result = rankings.ranking(context, unit, period, clean["measure"], clean["days"], analyte)
            chart = charts.ranking_chart(result)
        except ServiceError as error:
            _show_error(form, error)
            result = None
    rows = []
    for item in result.items if result else []:
        label = item.yoy.label if item.yoy else ""
        rows.append(
            {
                "item": item,
                "interval": item.interval,
                "yoy_text": aggregates.yoy_text(label) if label else "",
                "badge": YOY_BADGES.get(label, ""),
            }
        )
    return render(
        request,
        "wastewater/rankings.html",
        {"form": form, "result": result, "rows": rows, "chart": chart, "context": context},
    )


# --- Map -------------------------------------------------------------------------------------------------------------


class MapForm(StyledForm):
    analyte = forms.ChoiceField(label=_lazy("Analyte"))
    period = forms.CharField(
        label=_lazy("Period"), max_length=10, help_text=_lazy("2026Q1, 2026-03, 2026-W10 or 2026")
    )


@login_required
@ui_errors
def map_page(request: HttpRequest) -> HttpResponse:
    """The catchments of my scope's sites coloured by load per 1000 (sites without one: points)."""
    require_permission(request.user, VIEW_WASTEWATER)
    analytes = _drug_analytes()
    data = {"analyte": "METH", "period": rankings.default_quarter(timezone.localdate()).label}
    data.update(query_values(request, data))
    form = MapForm(data)
    _set_choices(form, "analyte", [(item.code, f"{item.name_zh} ({item.code})") for item in analytes])
    chart = None
    found: list[overview.MapSite] = []
    if form.is_valid():
        try:
            period = aggregates.parse_period(form.cleaned_data["period"])
            analyte = aggregates.resolve_analyte(form.cleaned_data["analyte"])
            unit = getattr(request.user, "org_unit", None)
            aggregator = aggregates.Aggregator(settings_in_force(unit, min(period.end, timezone.localdate())))
            found = overview.map_sites(request.user, aggregator, analyte.pk, period)
            chart = charts.map_chart(found, analyte.code, period.label)
        except ServiceError as error:
            _show_error(form, error)
    drawn = {
        feature["properties"]["name"] for feature in (chart or {}).get("geojson", {}).get("features", [])
    }
    drawn |= {point["name"] for point in (chart or {}).get("points", [])}
    return render(
        request,
        "wastewater/map.html",
        {
            "form": form,
            "chart": chart,
            "sites": found,
            "undrawn": [entry for entry in found if entry.site.code not in drawn],
        },
    )


# --- Export ----------------------------------------------------------------------------------------------------------


class ExportForm(StyledForm):
    site = forms.ChoiceField(label=_lazy("Site"), required=False)
    org_unit = forms.ChoiceField(label=_lazy("or org unit"), required=False)
    first = forms.DateField(label=_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))
    analyte = forms.ChoiceField(label=_lazy("Analyte"), required=False)
    period = forms.ChoiceField(
        label=_lazy("Aggregates by"),
        choices=[(key, label) for key, label in KIND_LABELS.items() if key != PeriodKind.DAY],
    )
    cf_set = forms.ChoiceField(label=_lazy("Correction factors"), required=False)
    purpose = forms.CharField(label=_lazy("Purpose of the export"), max_length=200)


@login_required
@ui_errors
def export_page(request: HttpRequest) -> HttpResponse:
    """The Excel export of a site or an org unit: the form, and the workbook once the form is complete."""
    require_permission(request.user, VIEW_WASTEWATER)
    today = timezone.localdate()
    data = {
        "first": (today - dt.timedelta(days=365)).isoformat(),
        "last": today.isoformat(),
        "period": "month",
    }
    data.update(query_values(request))
    form = ExportForm(data if "download" in request.GET else None, initial=data)
    sites = list(sites_for_user(request.user).order_by("org_path", "code").values_list("code", "name")[:500])
    _set_choices(form, "site", [("", "—")] + [(code, f"{name} ({code})") for code, name in sites])
    _set_choices(
        form,
        "org_unit",
        [("", "—")] + [(unit.code, f"{unit.name} ({unit.code})") for unit in _units(request.user)],
    )
    _set_choices(
        form,
        "analyte",
        [("", _lazy("All analytes"))]
        + [(a.code, f"{a.name_zh} ({a.code})") for a in Analyte.objects.order_by("sort_order")],
    )
    _set_choices(form, "cf_set", _cf_set_choices())
    if form.is_bound and form.is_valid():
        clean = form.cleaned_data
        try:
            subject = aggregates.subject_for(
                request.user, site=clean.get("site") or "", org_unit=clean.get("org_unit") or ""
            )
            context = aggregates.request_context(
                request.user, subject.org_unit, on=min(clean["last"], today), cf_set=clean.get("cf_set") or ""
            )
            exported = export_results(
                user=request.user,
                context=context,
                subject=subject,
                first=clean["first"],
                last=clean["last"],
                analyte=aggregates.resolve_analyte(clean["analyte"]) if clean.get("analyte") else None,
                kind=clean["period"],
                purpose=clean["purpose"],
            )
            return file_response(exported.content, exported.filename, XLSX_CONTENT_TYPE)
        except ServiceError as error:
            _show_error(form, error)
    return render(request, "wastewater/site_export.html", {"form": form})


# --- Quarterly reports -------------------------------------------------------------------------------------------------


class ReportForm(StyledForm):
    org_unit = forms.ChoiceField(label=_lazy("Org unit"))
    quarter = forms.ChoiceField(label=_lazy("Quarter"))
    analyte = forms.ChoiceField(label=_lazy("Lead analyte (ranking and sites)"))
    cf_set = forms.ChoiceField(label=_lazy("Correction factors"), required=False)
    purpose = forms.CharField(label=_lazy("Purpose"), max_length=200, help_text=_lazy("e.g. 季度通报"))


@login_required
@ui_errors
def report_page(request: HttpRequest) -> HttpResponse:
    """Pick an org unit and a quarter: the quarterly report PDF."""
    require_permission(request.user, VIEW_WASTEWATER)
    today = timezone.localdate()
    default_parent = rankings.default_parent(request.user)
    data = {
        "org_unit": default_parent.code if default_parent else "",
        "quarter": rankings.default_quarter(today).label,
        "analyte": "METH",
        "cf_set": "",
    }
    data.update(query_values(request))
    form = ReportForm(data if "download" in request.GET else None, initial=data)
    _set_choices(
        form, "org_unit", [(unit.code, f"{unit.name} ({unit.code})") for unit in _units(request.user)]
    )
    _set_choices(form, "quarter", [(label, label) for label in _quarters(today)])
    _set_choices(form, "analyte", [(item.code, f"{item.name_zh} ({item.code})") for item in _drug_analytes()])
    _set_choices(form, "cf_set", _cf_set_choices())
    if form.is_bound and form.is_valid():
        clean = form.cleaned_data
        try:
            quarter = aggregates.parse_period(clean["quarter"], name="quarter")
            unit = aggregates.readable_org_unit(request.user, clean["org_unit"])
            context = aggregates.request_context(
                request.user, unit, on=min(quarter.end, today), cf_set=clean.get("cf_set") or ""
            )
            report = quarterly_report(
                user=request.user,
                context=context,
                unit=unit,
                quarter=quarter,
                lead=aggregates.resolve_analyte(clean["analyte"]),
                purpose=clean["purpose"],
            )
            return file_response(report.content, report.filename, "application/pdf")
        except ServiceError as error:
            _show_error(form, error)
    return render(request, "wastewater/reports.html", {"form": form})
