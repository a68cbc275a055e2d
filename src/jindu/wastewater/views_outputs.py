"""Pages of the wastewater outputs: the site list, a site's page (facts, served areas, population estimates, latest
samples, the trend chart with its interval band, the weekday profile, the year-on-year table) and the population
forms. Rankings, the map, the export and the reports are in ``views_outputs_areas.py``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from jindu.core.errors import NotFound, ServiceError, join_problems
from jindu.core.forms import StyledForm
from jindu.core.scoping import WRITE, in_capture_scope, require_permission, user_may
from jindu.core.views import ui_errors
from jindu.wastewater import aggregates, charts, overview, services
from jindu.wastewater.aggregates import ALL_DAYS, DAY_FILTERS, SITE, SiteShare, Subject
from jindu.wastewater.models import Analyte, PopulationMethod, SamplingSite, SiteKind
from jindu.wastewater.periods import PeriodKind
from jindu.wastewater.permissions import VIEW_WASTEWATER
from jindu.wastewater.selectors import access_site

DAY_FILTER_LABELS = {ALL_DAYS: _lazy("All days"), "weekday": _lazy("Weekdays"), "weekend": _lazy("Weekend")}
KIND_LABELS = {
    PeriodKind.DAY: _lazy("Day"),
    PeriodKind.WEEK: _lazy("Week"),
    PeriodKind.MONTH: _lazy("Month"),
    PeriodKind.QUARTER: _lazy("Quarter"),
    PeriodKind.YEAR: _lazy("Year"),
}
YOY_BADGES = {
    "increase": "bg-red-lt",
    "decrease": "bg-green-lt",
    "stable": "bg-secondary-lt",
    "no_previous": "",
}
MAX_DAILY_DAYS = 3 * 366


def query_values(request: HttpRequest, keys: Any = None) -> dict[str, str]:
    """The non-empty query parameters (of ``keys`` when given), each as one text."""
    return {
        key: value
        for key in request.GET
        if (keys is None or key in keys) and (value := str(request.GET.get(key) or "").strip())
    }


class SiteFilterForm(StyledForm):
    q = forms.CharField(label=_lazy("Code or name"), required=False, max_length=64)
    kind = forms.ChoiceField(label=_lazy("Kind"), required=False)
    org_unit = forms.CharField(label=_lazy("Org unit code"), required=False, max_length=32)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _lazy("All")), *SiteKind.choices]


class ChartForm(StyledForm):
    """What the site page charts: an analyte, a period kind, the days and the range."""

    analyte = forms.ChoiceField(label=_lazy("Analyte"))
    period = forms.ChoiceField(label=_lazy("Period"), choices=list(KIND_LABELS.items()))
    days = forms.ChoiceField(
        label=_lazy("Days"), choices=[(key, DAY_FILTER_LABELS[key]) for key in DAY_FILTERS]
    )
    first = forms.DateField(
        label=_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    last = forms.DateField(label=_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, analytes: list[Analyte], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["analyte"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(analyte.code, f"{analyte.name_zh} ({analyte.code})") for analyte in analytes]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first"), data.get("last")
        if first and last and first > last:
            self.add_error("first", _("after the end"))
        return data


class PopulationForm(StyledForm):
    population = forms.IntegerField(label=_lazy("Population"), min_value=1, max_value=50_000_000)
    method = forms.ChoiceField(label=_lazy("Method"), choices=PopulationMethod.choices)
    estimated_on = forms.DateField(
        label=_lazy("Estimated on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    rsd = forms.FloatField(
        label=_lazy("Relative SD"),
        required=False,
        min_value=0,
        max_value=5,
        help_text=_lazy("0.2 = 20 %; blank: the method's default"),
    )
    note = forms.CharField(label=_lazy("Note"), required=False, max_length=300)
    make_default = forms.BooleanField(
        label=_lazy("Make it the default (recomputes the results)"), required=False
    )


@login_required
@ui_errors
def site_list(request: HttpRequest) -> HttpResponse:
    """The sites of my scope with their population, last sample and latest methamphetamine load per 1000."""
    require_permission(request.user, VIEW_WASTEWATER)
    form = SiteFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    sites = overview.site_overview(
        request.user,
        query=(data.get("q") or "").strip(),
        kind=data.get("kind") or "",
        org_unit=(data.get("org_unit") or "").strip(),
    )
    page = Paginator(sites, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "wastewater/site_list.html",
        {"form": form, "page": page, "sites": list(page), "lead": overview.LEAD_ANALYTE},
    )


def _may_manage(user: Any, site: SamplingSite) -> bool:
    return user_may(user, SamplingSite, WRITE) and in_capture_scope(user, site.org_unit_id)


def _yoy_row(value: aggregates.PeriodValue) -> dict[str, Any]:
    label = value.yoy.label if value.yoy else ""
    return {
        "value": value,
        "interval": value.interval,
        "label": label,
        "label_text": aggregates.yoy_text(label) if label else "",
        "badge": YOY_BADGES.get(label, ""),
    }


@login_required
@ui_errors
def site_detail(request: HttpRequest, code: str) -> HttpResponse:
    site = access_site(request.user, code)
    analytes = list(Analyte.objects.order_by("sort_order"))
    measured = set(overview.analytes_measured(site))
    choices = [analyte for analyte in analytes if analyte.pk in measured] or analytes
    default = next((analyte for analyte in choices if analyte.code == overview.LEAD_ANALYTE), choices[0])
    today = timezone.localdate()
    anchor = overview.last_result_day(site) or today
    data: dict[str, Any] = {"analyte": default.code, "period": PeriodKind.MONTH, "days": ALL_DAYS}
    data.update(query_values(request))
    form = ChartForm(data, analytes=choices)
    trend: dict[str, Any] | None = None
    weekday: dict[str, Any] | None = None
    yoy_rows: list[dict[str, Any]] = []
    settings_context = None
    if form.is_valid():
        clean = form.cleaned_data
        analyte = next(item for item in choices if item.code == clean["analyte"])
        kind, days = clean["period"], clean["days"]
        last = clean.get("last") or anchor
        first = clean.get("first") or (last - dt.timedelta(days=90 if kind == PeriodKind.DAY else 365))
        try:
            settings_context = aggregates.request_context(request.user, site.org_unit, on=min(last, today))
            subject = Subject(
                SITE, site.code, site.name, site.org_unit, (SiteShare(site.pk, site.code, site.name, 1.0),)
            )
            month_kind = PeriodKind.MONTH if kind == PeriodKind.DAY else kind
            if kind == PeriodKind.DAY and (last - first).days > MAX_DAILY_DAYS:
                raise ServiceError(
                    _("At most three years of days at a time."), fields={"first": _("too early")}
                )
            found = aggregates.period_range(month_kind, first, last, today)
            rows = aggregates.load_rows([site.pk], [analyte.pk], *aggregates.load_window(found))
            series = rows.get((site.pk, analyte.pk))
            aggregator = settings_context.aggregator
            if kind == PeriodKind.DAY:
                points = overview.daily_points(
                    series, first, last, aggregator.day_mask(series, days) if series else None
                )
                trend = charts.trend_from_days(points, analyte.code)
                by_site = aggregates.by_site(rows, analyte.pk)
                values = [
                    aggregates.value_with_previous(
                        aggregator, subject, by_site, period, days, with_draws=False
                    )
                    for period in found
                ]
            else:
                result = aggregates.aggregate_series(
                    aggregator,
                    subject,
                    analyte,
                    found,
                    days,
                    rows=rows,
                    factor=settings_context.factors.get(analyte.pk),
                    factor_set_label=settings_context.factor_set_label,
                )
                trend = charts.trend_from_periods(result)
                values = result.values
            yoy_rows = [_yoy_row(value) for value in values]
            weekday = charts.weekday_chart(overview.weekday_profile(series, aggregator, first, last))
        except ServiceError as error:
            if isinstance(error, NotFound):
                raise
            form.add_error(None, error.message)
            for name, problem in error.fields.items():
                if name in form.fields:
                    form.add_error(name, problem)
    may_manage = _may_manage(request.user, site)
    return render(
        request,
        "wastewater/site_detail.html",
        {
            "site": site,
            "form": form,
            "trend": trend,
            "weekday": weekday,
            "yoy_rows": yoy_rows,
            "context": settings_context,
            "served_areas": overview.served_areas(site),
            "estimates": overview.population_estimates(site),
            "samples": overview.latest_samples(site),
            "may_manage": may_manage,
            "population_form": PopulationForm(initial={"estimated_on": today}) if may_manage else None,
            "export_first": (anchor - dt.timedelta(days=365)).isoformat(),
            "export_last": anchor.isoformat(),
        },
    )


def _service_message(error: ServiceError) -> str:
    return " ".join(filter(None, [error.message, join_problems(error.fields.values())]))


@login_required
@ui_errors
@require_POST
def population_add(request: HttpRequest, code: str) -> HttpResponse:
    """Add a population estimate (and make it the default) through ``services.population_estimate_add``."""
    site = access_site(request.user, code, action=WRITE)
    form = PopulationForm(request.POST)
    if not form.is_valid():
        problems = [
            f"{form.fields[name].label}: {' '.join(str(error) for error in errors)}"
            for name, errors in form.errors.items()
        ]
        messages.error(
            request, _("The estimate was not added: %(problems)s") % {"problems": join_problems(problems)}
        )
        return redirect("wastewater:site_detail", code=site.code)
    data = form.cleaned_data
    try:
        services.population_estimate_add(
            actor=request.user,
            site=site,
            population=data["population"],
            method=data["method"],
            estimated_on=data["estimated_on"],
            rsd=data.get("rsd"),
            note=data.get("note") or "",
            make_default=bool(data.get("make_default")),
        )
    except ServiceError as error:
        if isinstance(error, NotFound):
            raise
        messages.error(request, _service_message(error))
    else:
        messages.success(request, _("The estimate was added."))
    return redirect("wastewater:site_detail", code=site.code)


@login_required
@ui_errors
@require_POST
def population_default(request: HttpRequest, code: str, estimate_id: int) -> HttpResponse:
    """Make an estimate the site's default (its results are recomputed)."""
    site = access_site(request.user, code, action=WRITE)
    services.population_default_set(actor=request.user, site=site, estimate_id=estimate_id)
    messages.success(request, _("The default population was changed and the results recomputed."))
    return redirect("wastewater:site_detail", code=site.code)
