"""Pages of the precursors app: diversion warnings (预警) for officials.

The list (filters, level badges, SLA due), one warning with its explanation, evidence (events shown inline
when the reader may read them), history and the action forms (assign, verify, close), the precision of each
rule, and one evidence event as captured. Firms' own users get 403 on the list and 404 on everything else.
"""

from __future__ import annotations

import json
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
from jindu.core.models import User
from jindu.core.scoping import WRITE, require_permission
from jindu.core.views import ui_errors
from jindu.precursors import warnings as engine
from jindu.precursors.models import Enterprise
from jindu.precursors.models.warnings import (
    DiversionWarning,
    RuleCode,
    WarningLevel,
    WarningOutcome,
    WarningStatus,
)
from jindu.precursors.permissions import VIEW_PRECURSORS
from jindu.precursors.selectors import events_for_user


def _choices(form: forms.Form, name: str, choices: list[tuple[Any, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class WarningFilterForm(StyledForm):
    rule = forms.ChoiceField(label=_lazy("Rule"), required=False)
    level = forms.ChoiceField(label=_lazy("Level"), required=False)
    status = forms.ChoiceField(label=_lazy("Status"), required=False)
    enterprise = forms.TypedChoiceField(label=_lazy("Firm"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, enterprises: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        every: list[tuple[Any, Any]] = [("", _lazy("All"))]
        _choices(self, "rule", every + [(c.value, f"{c.value} {c.label}") for c in RuleCode])
        _choices(self, "level", every + list(WarningLevel.choices))
        _choices(self, "status", [("", _lazy("Open")), ("all", _lazy("All")), *WarningStatus.choices])
        _choices(self, "enterprise", every + list(enterprises or []))


class AssignForm(StyledForm):
    assignee = forms.ChoiceField(label=_lazy("Assign to"))
    note = forms.CharField(
        label=_lazy("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, assignees: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "assignee", list(assignees or []))


class VerifyForm(StyledForm):
    note = forms.CharField(
        label=_lazy("What was checked"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CloseForm(StyledForm):
    outcome = forms.ChoiceField(label=_lazy("Outcome"), choices=WarningOutcome.choices)
    note = forms.CharField(
        label=_lazy("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


LEVEL_BADGES = {
    WarningLevel.NOTICE: "bg-blue-lt",
    WarningLevel.WARNING: "bg-orange-lt",
    WarningLevel.ALERT: "bg-red text-white",
}
STATUS_BADGES = {
    WarningStatus.NEW: "bg-yellow-lt",
    WarningStatus.ASSIGNED: "bg-azure-lt",
    WarningStatus.VERIFIED: "bg-purple-lt",
    WarningStatus.CLOSED: "bg-secondary-lt",
}


def _row(warning: DiversionWarning, now: Any) -> dict[str, Any]:
    return {
        "warning": warning,
        "level_badge": LEVEL_BADGES.get(WarningLevel(warning.level), ""),
        "status_badge": STATUS_BADGES.get(WarningStatus(warning.status), ""),
        "overdue": warning.is_open and warning.due_at < now,
    }


@login_required
@ui_errors
def warning_list(request: HttpRequest) -> HttpResponse:
    """The warnings of the firms in my scope, open ones by default, newest first."""
    require_permission(request.user, VIEW_PRECURSORS)
    enterprises = list(
        Enterprise.objects.for_user(request.user).order_by("org_path", "name").values_list("pk", "name")[:500]
    )
    form = WarningFilterForm(request.GET or None, enterprises=enterprises)
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or ""
    warnings = engine.warnings_search(
        request.user,
        rule=data.get("rule") or "",
        level=data.get("level") or "",
        status="" if status == "all" else status,
        enterprise_id=data.get("enterprise"),
        open_only=not status,
    )
    page = Paginator(warnings, 50).get_page(request.GET.get("page"))
    now = timezone.now()
    return render(
        request,
        "precursors/warning_list.html",
        {"form": form, "page": page, "rows": [_row(warning, now) for warning in page]},
    )


def _evidence(request: HttpRequest, warning: DiversionWarning) -> list[dict[str, Any]]:
    events = engine.evidence_events(request.user, warning)
    items = []
    for item in warning.evidence or []:
        event = events.get(item.get("id")) if item.get("kind") == "epcis_event" else None
        items.append({"item": item, "event": event, "data": item.get("data") or {}})
    return items


def _assignees(warning: DiversionWarning) -> list[tuple[str, str]]:
    return [
        (user.username, f"{user.full_name} ({user.username})" if user.full_name else user.username)
        for user in engine.eligible_assignees(warning)[:200]
    ]


def _detail(request: HttpRequest, warning: DiversionWarning, **forms_: Any) -> HttpResponse:
    may_act = engine.may_handle(request.user, warning)
    now = timezone.now()
    context = {
        **_row(warning, now),
        "evidence": _evidence(request, warning),
        "history": engine.warning_history(warning),
        "may_act": may_act,
        "assign_form": forms_.get("assign_form")
        or (
            AssignForm(assignees=_assignees(warning), initial={"assignee": request.user.get_username()})
            if may_act and warning.status in (WarningStatus.NEW, WarningStatus.ASSIGNED)
            else None
        ),
        "verify_form": forms_.get("verify_form")
        or (VerifyForm() if may_act and warning.status == WarningStatus.ASSIGNED else None),
        "close_form": forms_.get("close_form")
        or (CloseForm() if may_act and warning.status == WarningStatus.VERIFIED else None),
    }
    return render(request, "precursors/warning_detail.html", context)


@login_required
@ui_errors
def warning_detail(request: HttpRequest, pk: int) -> HttpResponse:
    warning = engine.access_warning(request.user, pk)
    return _detail(request, warning)


def _act(
    request: HttpRequest, warning: DiversionWarning, form: StyledForm, name: str, act: Any
) -> HttpResponse:
    if form.is_valid():
        try:
            act(warning, form.cleaned_data)
        except ServiceError as error:
            if isinstance(error, NotFound):
                raise
            messages.error(
                request, " ".join(filter(None, [error.message, join_problems(error.fields.values())]))
            )
        else:
            messages.success(request, _("Recorded."))
            return redirect("precursors:warning_detail", pk=warning.pk)
    return _detail(request, warning, **{name: form})


@login_required
@require_POST
@ui_errors
def warning_assign(request: HttpRequest, pk: int) -> HttpResponse:
    warning = engine.access_warning(request.user, pk, action=WRITE)
    form = AssignForm(request.POST, assignees=_assignees(warning))
    return _act(
        request,
        warning,
        form,
        "assign_form",
        lambda w, data: engine.warning_assign(
            actor=request.user,
            warning=w,
            assignee=User.objects.filter(username=data["assignee"]).first(),
            note=data["note"],
        ),
    )


@login_required
@require_POST
@ui_errors
def warning_verify(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        engine.access_warning(request.user, pk, action=WRITE),
        VerifyForm(request.POST),
        "verify_form",
        lambda w, data: engine.warning_verify(actor=request.user, warning=w, note=data["note"]),
    )


@login_required
@require_POST
@ui_errors
def warning_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        engine.access_warning(request.user, pk, action=WRITE),
        CloseForm(request.POST),
        "close_form",
        lambda w, data: engine.warning_close(
            actor=request.user, warning=w, outcome=data["outcome"], note=data["note"]
        ),
    )


@login_required
@ui_errors
def warning_event(request: HttpRequest, pk: int, event_id: int) -> HttpResponse:
    """One evidence event of a warning, as captured (only events the reader may read)."""
    warning = engine.access_warning(request.user, pk)
    if not any(
        item.get("kind") == "epcis_event" and item.get("id") == event_id for item in warning.evidence or []
    ):
        raise NotFound()
    event = (
        events_for_user(request.user)
        .filter(pk=event_id)
        .select_related("enterprise")
        .prefetch_related("quantities__substance")
        .first()
    )
    if event is None:
        raise NotFound()
    return render(
        request,
        "precursors/warning_event.html",
        {
            "warning": warning,
            "event": event,
            "document": json.dumps(event.document, ensure_ascii=False, indent=2),
        },
    )


@login_required
@ui_errors
def warning_precision(request: HttpRequest) -> HttpResponse:
    """How often each rule was right: true positives / closed warnings, over my scope."""
    require_permission(request.user, VIEW_PRECURSORS)
    missing = [(code, RuleCode(code).label, _(reason)) for code, reason in engine.MISSING_RULES.items()]
    return render(
        request,
        "precursors/warning_precision.html",
        {"rows": engine.rule_precision(request.user), "missing": missing},
    )
