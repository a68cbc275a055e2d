"""Pages of a firm's ledger (its captured events) and of the monthly mass balances."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jindu.core.errors import ServiceError
from jindu.core.views import ui_errors
from jindu.precursors import selectors
from jindu.precursors.balances import month_start
from jindu.precursors.models import EpcisQuantity


class BalanceFilterForm(forms.Form):
    first_month = forms.CharField(
        label=_("From month"), max_length=7, required=False, widget=forms.TextInput(attrs={"type": "month"})
    )
    months = forms.IntegerField(label=_("Months"), min_value=1, max_value=24, required=False)
    flagged = forms.BooleanField(label=_("Only warnings and alerts"), required=False)


@login_required
@ui_errors
def balances(request: HttpRequest) -> HttpResponse:
    """Monthly balances of the firms in view: one row per firm and substance, one cell per month."""
    selectors.visible_enterprise_ids(request.user)  # 403 for roles that read no ledgers
    form = BalanceFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    months = data.get("months") or 6
    first_month = month_start(timezone.localdate(), -months)
    if data.get("first_month"):
        try:
            first_month = selectors.parse_month(data["first_month"])
        except ServiceError as error:
            form.add_error("first_month", error.message)
    rows = selectors.balances_for_user(request.user, first_month=first_month, months=months)
    grouped: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["enterprise_id"], row["substance"])
        line = grouped.setdefault(key, {"row": row, "cells": [], "flagged": False})
        line["cells"].append(row)
        line["flagged"] = line["flagged"] or row["status"] in ("warning", "alert")
    lines = [line for line in grouped.values() if line["flagged"] or not data.get("flagged")]
    lines.sort(
        key=lambda line: (not line["flagged"], line["row"]["enterprise_name"], line["row"]["substance"])
    )
    month_list = sorted({row["month"] for row in rows})
    page = Paginator(lines, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "precursors/balance_list.html",
        {
            "form": form,
            "page": page,
            "months": month_list,
            "flagged_count": sum(1 for x in grouped.values() if x["flagged"]),
        },
    )


@login_required
@ui_errors
def ledger(request: HttpRequest, pk: int) -> HttpResponse:
    """A firm's captured events, newest first, with their quantities in kg pure and capture warnings."""
    enterprise = selectors.access_enterprise(request.user, pk)
    events = (
        selectors.events_for_user(request.user).filter(enterprise=enterprise).order_by("-event_time", "-pk")
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    quantities: dict[int, list[EpcisQuantity]] = defaultdict(list)
    for quantity in EpcisQuantity.objects.filter(event__in=[event.pk for event in page]).select_related(
        "substance"
    ):
        quantities[quantity.event_id].append(quantity)
    rows = [{"event": event, "quantities": quantities.get(event.pk, [])} for event in page]
    may_upload = enterprise.pk in selectors.member_enterprise_ids(request.user)
    return render(
        request,
        "precursors/ledger.html",
        {"enterprise": enterprise, "page": page, "rows": rows, "may_upload": may_upload},
    )


class LedgerUploadForm(forms.Form):
    file = forms.FileField(label=_("Ledger sheet (.xlsx or .csv)"))


@login_required
@ui_errors
def ledger_upload_page(request: HttpRequest) -> HttpResponse:
    """A firm's user uploads its ledger sheet; problems are listed by row and column."""
    from django.contrib import messages
    from django.shortcuts import redirect

    from jindu.precursors.ledger_upload import COLUMNS, KINDS, ledger_upload

    firm = selectors.capturing_enterprise(request.user)
    form = LedgerUploadForm(request.POST or None, request.FILES or None)
    problems: dict[str, str] = {}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            capture = ledger_upload(
                actor=request.user, enterprise=firm, filename=upload.name, content=upload.read()
            )
        except ServiceError as error:
            messages.error(request, error.message)
            problems = error.fields
        else:
            messages.success(
                request,
                _("%(events)s rows recorded (%(duplicates)s already recorded before).")
                % {"events": capture.event_count, "duplicates": capture.duplicate_count},
            )
            return redirect("precursors:ledger", pk=firm.pk)
    return render(
        request,
        "precursors/ledger_upload.html",
        {
            "enterprise": firm,
            "form": form,
            "problems": problems,
            "columns": [names[0] for names in COLUMNS.values()],
            "kinds": list(KINDS),
        },
    )


@login_required
@ui_errors
def credit(request: HttpRequest, pk: int) -> HttpResponse:
    """The firm's latest credit rating: score, grade, what it means for supervision, and why."""
    from jindu.precursors.rating import latest_rating

    enterprise = selectors.access_enterprise(request.user, pk)
    rating = latest_rating(enterprise)
    dimensions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reason in rating.reasons if rating else []:
        dimensions[reason.get("dimension") or "bonus"].append(reason)
    return render(
        request,
        "precursors/credit.html",
        {"enterprise": enterprise, "rating": rating, "dimensions": dict(dimensions)},
    )
