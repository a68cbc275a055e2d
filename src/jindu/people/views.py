"""Server-rendered pages of the people app."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from jindu.core.errors import ServiceError
from jindu.core.forms import add_service_error
from jindu.core.scoping import WRITE, require_permission, user_may
from jindu.core.views import ui_errors
from jindu.people import selectors, services
from jindu.people.forms import PersonForm, PersonSearchForm
from jindu.people.models import Person
from jindu.people.permissions import CHANGE_PERSON, VIEW_PERSON


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
    person = selectors.access_person(request.user, pk)
    return render(request, "people/person_detail.html", {"person": person})


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
