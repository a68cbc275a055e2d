"""Server-rendered pages of the people app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from jindu.core.errors import ServiceError, join_problems
from jindu.core.forms import add_service_error
from jindu.core.scoping import WRITE, access_object, accessed_in_capture_scope, require_permission, user_may
from jindu.core.views import ui_errors
from jindu.people import selectors, services
from jindu.people.forms import ContactForm, DrugTestForm, PersonForm, PersonSearchForm, WorklistFilterForm
from jindu.people.models import ITEM_LABELS, Measure, Person, RiskColor, WorkItemKind
from jindu.people.permissions import CHANGE_PERSON, VIEW_PERSON

PHASE_LABELS = {
    "awaiting_report": _lazy("Awaiting 报到"),
    "year_1": _lazy("Year 1"),
    "year_2": _lazy("Year 2"),
    "year_3": _lazy("Year 3"),
    "suspended": _lazy("Suspended"),
    "transferring": _lazy("Changing place of execution"),
    "social_control": _lazy("Social control"),
}
ABSTINENT_3Y_LABELS = {"eligible": _lazy("Reached"), "almost": _lazy("Within 90 days"), "no": _lazy("No")}


@login_required
@ui_errors
def person_list(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, VIEW_PERSON)
    search = PersonSearchForm(request.GET or None)
    terms = search.cleaned_data if search.is_valid() else {"id_number": "", "name": ""}
    persons = selectors.persons_search(request.user, id_number=terms["id_number"], name=terms["name"])
    page = Paginator(persons, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "people/person_list.html",
        {"page": page, "search": search, "may_register": user_may(request.user, Person, WRITE)},
    )


@login_required
@ui_errors
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The person's file: identity (masked), today's evaluation, the schedule, and quick record forms."""
    person = selectors.access_person(request.user, pk)
    today = timezone.localdate()
    status = selectors.person_status_today(person, today)
    may_write = user_may(request.user, Person, WRITE) and accessed_in_capture_scope(person)
    return render(
        request,
        "people/person_detail.html",
        {
            "person": person,
            "status": status,
            "measure_label": Measure(status.measure).label if status.measure else "",
            "phase_label": PHASE_LABELS.get(status.phase or "", status.phase or ""),
            "abstinent_3y_label": ABSTINENT_3Y_LABELS[status.abstinent_3y],
            "risk_label": RiskColor(status.risk_color).label if status.risk_color else "",
            "schedule": [(ITEM_LABELS.get(i.item, i.item), i) for i in status.schedule],
            "overdue": [(ITEM_LABELS.get(i.item, i.item), i) for i in status.overdue],
            "may_write": may_write,
            "test_form": DrugTestForm(initial={"kind": "urine", "result": "negative", "sample_date": today}),
            "contact_form": ContactForm(initial={"kind": "visit", "date": today}),
        },
    )


def _record(request: HttpRequest, pk: int, form_class: type, service: Callable[..., Any]) -> HttpResponse:
    person = access_object(request.user, Person, pk, action=WRITE)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            service(actor=request.user, person=person, **form.cleaned_data)
        except ServiceError as error:
            messages.error(request, error.message + " " + join_problems(error.fields.values()))
        else:
            messages.success(request, _("Recorded."))
    else:
        messages.error(request, join_problems(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect("people:person_detail", pk=pk)


@login_required
@require_POST
@ui_errors
def record_test(request: HttpRequest, pk: int) -> HttpResponse:
    return _record(request, pk, DrugTestForm, services.drug_test_record)


@login_required
@require_POST
@ui_errors
def record_contact(request: HttpRequest, pk: int) -> HttpResponse:
    return _record(request, pk, ContactForm, services.contact_record)


@login_required
@ui_errors
def worklist(request: HttpRequest) -> HttpResponse:
    """Today's work (or any day's): due, overdue, 脱管 and eligibility items of the persons in my scope."""
    require_permission(request.user, VIEW_PERSON)
    form = WorklistFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    today = timezone.localdate()
    as_of = min(data.get("as_of") or today, today)
    entries = selectors.worklist(
        request.user,
        as_of=as_of,
        kinds=[data["kind"]] if data.get("kind") else None,
        worker=request.user if data.get("mine") else None,
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    rows = []
    for entry in page:
        row = entry if isinstance(entry, selectors.WorklistEntry) else selectors.worklist_entry(entry)
        rows.append(
            {
                "entry": row,
                "kind_label": WorkItemKind(row.kind).label,
                "item_label": ITEM_LABELS.get(row.item, row.item),
            }
        )
    return render(request, "people/worklist.html", {"form": form, "page": page, "rows": rows, "as_of": as_of})


@login_required
@ui_errors
def person_register(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, CHANGE_PERSON)
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registered = services.person_register(
                actor=request.user,
                id_number=data["id_number"],
                name=data["name"],
                residence_code=data["residence"].strip(),
                phone=data["phone"],
                household_registration_code=data["household_registration"].strip(),
                first_found_date=data["first_found_date"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Person registered."))
            if registered.possible_duplicate is not None:
                messages.warning(
                    request, _("Another person has the same name and birth date: check for a duplicate.")
                )
            return redirect("people:person_detail", pk=registered.person.pk)
    return render(request, "people/person_form.html", {"form": form})
