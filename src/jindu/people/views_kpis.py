"""The KPI page of the people app: one org unit, one period, the KPIs by the definitions in force."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jindu.core.errors import ServiceError
from jindu.core.forms import StyledForm, add_service_error
from jindu.core.scoping import require_permission
from jindu.core.views import ui_errors
from jindu.people.kpis import kpi_compute, kpi_org_unit
from jindu.people.permissions import VIEW_PERSON


class KpiForm(StyledForm):
    org_unit = forms.CharField(label=_("Org unit code"), max_length=32)
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))


@login_required
@ui_errors
def kpis(request: HttpRequest) -> HttpResponse:
    """KPIs of an org unit in the user's search scope; by default the first capture root, this month."""
    require_permission(request.user, VIEW_PERSON)
    today = timezone.localdate()
    root = request.user.capture_scope.order_by("path").first()
    data = {
        "org_unit": root.code if root else "",
        "start": today.replace(day=1).isoformat(),
        "end": today.isoformat(),
    }
    data.update({name: value for name, value in request.GET.items() if name in data and value.strip()})
    form = KpiForm(data)
    values: list = []
    unit = None
    if form.is_valid():
        # Outside the search scope (or unknown): 404, as for any object out of scope.
        unit = kpi_org_unit(request.user, form.cleaned_data["org_unit"])
        try:
            values = kpi_compute(unit, form.cleaned_data["start"], form.cleaned_data["end"])
        except ServiceError as error:
            add_service_error(form, error)
    rates = [value for value in values if value.unit == "percent"]
    chart = {"labels": [value.name for value in rates], "values": [value.value for value in rates]}
    return render(
        request,
        "people/kpis.html",
        {
            "form": form,
            "unit": unit,
            "values": values,
            "definition": values[0] if values else None,
            "chart": chart,
        },
    )
