"""Pages of the wastewater app: anomaly flags (wbe.md §6.3).

The list (filters, level badges, each flag's explanation in the reader's language, the precision of each rule)
and one flag (explanation, evidence, a chart of the site's series around the flagged day, the review form).
Reading needs the wastewater view permission; reviewing needs the review permission in the capture scope;
starting a run is for the offices.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from jindu.core.errors import Forbidden, NotFound, ServiceError, join_problems
from jindu.core.forms import StyledForm
from jindu.core.scoping import WRITE, require_permission
from jindu.core.views import ui_errors
from jindu.wastewater import anomalies as engine
from jindu.wastewater import selectors
from jindu.wastewater.models import AnomalyLevel, AnomalyStatus, WastewaterAnomaly
from jindu.wastewater.permissions import MANAGE_SITES, VIEW_WASTEWATER

LEVEL_BADGES = {
    AnomalyLevel.NOTICE: "bg-blue-lt",
    AnomalyLevel.WARNING: "bg-orange-lt",
    AnomalyLevel.ALERT: "bg-red text-white",
}
STATUS_BADGES = {
    AnomalyStatus.NEW: "bg-yellow-lt",
    AnomalyStatus.CONFIRMED: "bg-green-lt",
    AnomalyStatus.DISMISSED: "bg-secondary-lt",
    AnomalyStatus.WITHDRAWN: "bg-secondary-lt text-decoration-line-through",
}


def _set_choices(form: forms.Form, name: str, choices: list[tuple[Any, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class AnomalyFilterForm(StyledForm):
    site = forms.TypedChoiceField(label=_lazy("Site"), required=False, coerce=int, empty_value=None)
    rule = forms.ChoiceField(label=_lazy("Rule"), required=False)
    level = forms.ChoiceField(label=pgettext_lazy("anomaly level", "Level"), required=False)
    status = forms.ChoiceField(label=_lazy("Status"), required=False)

    def __init__(self, *args: Any, sites: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        every: list[tuple[Any, Any]] = [("", _lazy("All"))]
        _set_choices(self, "site", every + list(sites or []))
        _set_choices(self, "rule", every + [(code, label) for code, label in engine.RULE_LABELS.items()])
        _set_choices(self, "level", every + list(AnomalyLevel.choices))
        _set_choices(self, "status", every + list(AnomalyStatus.choices))
        # The query parameters of the API: ``from`` and ``to`` (not Python names, hence added here).
        date = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["from"] = forms.DateField(label=_lazy("From"), required=False, widget=date)
        self.fields["to"] = forms.DateField(label=_lazy("To"), required=False, widget=date)
        for name in ("from", "to"):
            self.fields[name].widget.attrs["class"] = "form-control"


class ReviewForm(StyledForm):
    status = forms.ChoiceField(label=_lazy("Decision"))
    note = forms.CharField(
        label=_lazy("Review note (why)"),
        min_length=engine.REVIEW_NOTE_MIN,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, current: str = AnomalyStatus.NEW, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels: dict[str, Any] = {
            AnomalyStatus.CONFIRMED: _lazy("Confirm"),
            AnomalyStatus.DISMISSED: _lazy("Dismiss"),
            AnomalyStatus.NEW: _lazy("Reopen"),
        }
        _set_choices(self, "status", [(step, labels[step]) for step in engine.REVIEW_STEPS.get(current, ())])


def _row(anomaly: WastewaterAnomaly) -> dict[str, Any]:
    return {
        "anomaly": anomaly,
        "rule_label": engine.rule_label(anomaly.rule),
        "explanation": engine.anomaly_explanation(anomaly),
        "level_badge": LEVEL_BADGES.get(AnomalyLevel(anomaly.level), ""),
        "status_badge": STATUS_BADGES.get(AnomalyStatus(anomaly.status), ""),
    }


@login_required
@ui_errors
def anomaly_list(request: HttpRequest) -> HttpResponse:
    """The flags of my jurisdiction, newest day first, with the precision of each rule."""
    require_permission(request.user, VIEW_WASTEWATER)
    sites = [
        (pk, f"{name} ({code})")
        for pk, code, name in selectors.sites_for_user(request.user)
        .order_by("org_path", "code")
        .values_list("pk", "code", "name")[:500]
    ]
    form = AnomalyFilterForm(request.GET or None, sites=sites)
    data = form.cleaned_data if form.is_valid() else {}
    site = selectors.access_site(request.user, data["site"]) if data.get("site") else None
    try:
        anomalies = engine.anomalies_search(
            request.user,
            site=site,
            rule=data.get("rule") or "",
            level=data.get("level") or "",
            status=data.get("status") or "",
            first=data.get("from"),
            last=data.get("to"),
        )
    except ServiceError as error:
        messages.error(request, error.message)
        anomalies = engine.anomalies_for_user(request.user).none()
    page = Paginator(anomalies, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "wastewater/anomaly_list.html",
        {
            "form": form,
            "page": page,
            "rows": [_row(anomaly) for anomaly in page],
            "precision": engine.rule_precision(request.user),
            "may_run": request.user.is_authenticated and request.user.has_jindu_perm(MANAGE_SITES),
        },
    )


def _number(value: Any) -> str:
    """An evidence figure as read: grouped thousands from 1,000 on, four significant digits below."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _sample_text(item: dict[str, Any]) -> str:
    """What the rule read from a sample, on one line."""
    parts = []
    if item.get("below_loq"):
        parts.append(_("under the LOQ of %(loq)s ng/L") % {"loq": _number(item.get("loq"))})
    elif item.get("ng_per_l") is not None:
        parts.append(f"{_number(item['ng_per_l'])} ng/L")
    if item.get("value") is not None:
        parts.append(f"{_number(item['value'])} {item.get('unit', '')}".strip())
    if item.get("flow_m3_per_day") is not None:
        parts.append(f"{_number(item['flow_m3_per_day'])} m³/d")
    if item.get("rain"):
        parts.append(_("rain day"))
    if item.get("ratio") is not None:
        parts.append(_("ratio %(ratio)s") % {"ratio": _number(item["ratio"])})
    if item.get("implied_population") is not None:
        parts.append(
            _("implied population %(population)s") % {"population": _number(item["implied_population"])}
        )
    return " · ".join(parts)


def _evidence_rows(anomaly: WastewaterAnomaly) -> list[dict[str, Any]]:
    """The evidence items for the table: samples with what was read from them, figures with translated
    labels."""
    rows = []
    for item in anomaly.evidence or []:
        if not isinstance(item, dict):
            continue
        row = dict(item)
        if item.get("kind") == "sample":
            row["text"] = _sample_text(item)
        else:
            row["label"] = _(str(item.get("label", "")))
            row["text"] = _number(item.get("value"))
        rows.append(row)
    return rows


def _detail(
    request: HttpRequest, anomaly: WastewaterAnomaly, review_form: ReviewForm | None = None
) -> HttpResponse:
    may_review = engine.may_review(request.user, anomaly)
    if review_form is None and may_review and engine.REVIEW_STEPS.get(anomaly.status):
        review_form = ReviewForm(current=anomaly.status)
    return render(
        request,
        "wastewater/anomaly_detail.html",
        {
            **_row(anomaly),
            "evidence": _evidence_rows(anomaly),
            "chart": engine.anomaly_chart(anomaly),
            "may_review": may_review,
            "review_form": review_form if may_review else None,
        },
    )


@login_required
@ui_errors
def anomaly_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, engine.access_anomaly(request.user, pk))


@login_required
@require_POST
@ui_errors
def anomaly_review(request: HttpRequest, pk: int) -> HttpResponse:
    anomaly = engine.access_anomaly(request.user, pk, action=WRITE)
    form = ReviewForm(request.POST, current=anomaly.status)
    if form.is_valid():
        try:
            engine.anomaly_review(
                actor=request.user,
                anomaly=anomaly,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            if isinstance(error, NotFound | Forbidden):
                raise
            messages.error(
                request, " ".join(filter(None, [error.message, join_problems(error.fields.values())]))
            )
        else:
            messages.success(request, _("Recorded."))
            return redirect("wastewater:anomaly_detail", pk=anomaly.pk)
    return _detail(request, anomaly, form)


@login_required
@require_POST
@ui_errors
def anomaly_run(request: HttpRequest) -> HttpResponse:
    """Start a run of the rules over the sites of my capture scope (offices)."""
    require_permission(request.user, MANAGE_SITES)
    job = engine.anomalies_run_start(actor=request.user)
    messages.success(request, _("The anomaly rules run as job #%(job)s.") % {"job": job.pk})
    return redirect("wastewater:anomaly_list")
