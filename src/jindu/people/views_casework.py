"""Casework pages: caseloads against the staffing ratio, a worker's monthly summary, and the forms of the
casework section of a person's page (help referral and outcome, worker assignment)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jindu.core.errors import Forbidden, NotFound, ServiceError, join_problems
from jindu.core.models import User
from jindu.core.scoping import WRITE, access_object
from jindu.core.views import ui_errors
from jindu.people import casework
from jindu.people.forms_casework import (
    AssignmentForm,
    CaseloadFilterForm,
    HelpOutcomeForm,
    HelpReferForm,
    MonthForm,
)
from jindu.people.models import ContactKind, HelpKind, HelpMeasure, HelpOutcome, Person, TestKind


@login_required
@ui_errors
def caseloads(request: HttpRequest) -> HttpResponse:
    form = CaseloadFilterForm(request.GET or None)
    code = form.cleaned_data["org_unit"].strip() if form.is_valid() else ""
    report = casework.caseloads(request.user, code or None)
    return render(request, "people/caseloads.html", {"report": report, "form": form})


@login_required
@ui_errors
def worker_summary(request: HttpRequest, username: str) -> HttpResponse:
    worker = User.objects.filter(username=username).first()
    month = request.GET.get("month", "")
    try:
        summary = casework.worker_monthly_summary(request.user, worker, month)
    except (NotFound, Forbidden):
        raise
    except ServiceError as error:
        # Access was checked before the month: the worker is in view, only the month was wrong.
        messages.error(request, error.message)
        summary = casework.worker_monthly_summary(request.user, worker, None)
    form = MonthForm(initial={"month": summary.month})
    rows = {
        "drug_tests": [(label, summary.drug_tests[value]) for value, label in TestKind.choices],
        "contacts": [(label, summary.contacts[value]) for value, label in ContactKind.choices],
        "help_referrals": [(label, summary.help_referrals[value]) for value, label in HelpKind.choices],
        "help_outcomes": [
            (label, summary.help_outcomes[value])
            for value, label in HelpOutcome.choices
            if value in casework.FINAL_OUTCOMES
        ],
    }
    return render(request, "people/worker_summary.html", {"summary": summary, "form": form, "rows": rows})


# Forms of the person page's casework section ------------------------------------------------------------


def _back_to_person(person_id: int) -> HttpResponse:
    return redirect(reverse("people:person_detail", args=[person_id]) + "#casework")


def _report_invalid(request: HttpRequest, form: Form) -> None:
    problems = []
    for name, errors in form.errors.items():
        text = " ".join(str(error) for error in errors)
        problems.append(f"{form.fields[name].label}: {text}" if name in form.fields else text)
    messages.error(request, _("Check the form: %(problems)s") % {"problems": join_problems(problems)})


def _run(request: HttpRequest, form: Form, action: object, success: str) -> None:
    """Call the service with the form's data; show its refusal, or the success message."""
    if not form.is_valid():
        _report_invalid(request, form)
        return
    try:
        action(**form.cleaned_data)  # type: ignore[operator]
    except (NotFound, Forbidden):
        raise
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)


@login_required
@require_POST
@ui_errors
def help_refer(request: HttpRequest, pk: int) -> HttpResponse:
    person = access_object(request.user, Person.objects.select_related("org_unit"), pk, action=WRITE)
    _run(
        request,
        HelpReferForm(request.POST),
        lambda **data: casework.help_refer(actor=request.user, person=person, **data),
        _("Help referral recorded."),
    )
    return _back_to_person(person.pk)


@login_required
@require_POST
@ui_errors
def help_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    measure = access_object(request.user, HelpMeasure.objects.select_related("org_unit"), pk, action=WRITE)
    _run(
        request,
        HelpOutcomeForm(request.POST),
        lambda **data: casework.help_record_outcome(actor=request.user, help_measure=measure, **data),
        _("Outcome recorded."),
    )
    return _back_to_person(measure.person_id)


@login_required
@require_POST
@ui_errors
def worker_assign(request: HttpRequest, pk: int) -> HttpResponse:
    person = access_object(request.user, Person.objects.select_related("org_unit"), pk, action=WRITE)

    def assign(worker: str, start: object) -> None:
        chosen = User.objects.filter(username=worker.strip()).first()
        casework.worker_assign(actor=request.user, person=person, worker=chosen, start=start)  # type: ignore[arg-type]

    _run(request, AssignmentForm(request.POST), assign, _("Social worker assigned."))
    return _back_to_person(person.pk)
