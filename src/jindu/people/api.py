"""People API: the person registry (more endpoints follow with enrolments, tests and contacts)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from jindu.core.apiutil import ERRORS, ErrorOut, PageNumber
from jindu.people import selectors, services
from jindu.people.schemas import PersonCreatedOut, PersonIn, PersonOut

router = Router(tags=["people"])


@router.post(
    "/persons", response={201: PersonCreatedOut, 409: ErrorOut, **ERRORS}, summary="Register a person"
)
def register_person(request: HttpRequest, payload: PersonIn) -> Any:
    registered = services.person_register(
        actor=request.user,
        id_number=payload.id_number,
        name=payload.name,
        residence_code=payload.residence,
        phone=payload.phone or "",
        household_registration_code=payload.household_registration or "",
        first_found_date=payload.first_found_date,
        substances=payload.substances,
    )
    duplicate = registered.possible_duplicate.pk if registered.possible_duplicate else None
    return Status(201, {"id": registered.person.pk, "possible_duplicate_of": duplicate})


@router.get(
    "/persons", response={200: list[PersonOut], **ERRORS}, summary="Persons I manage (audited search)"
)
@paginate(PageNumber)
def list_persons(request: HttpRequest, id_number: str = "", name: str = "") -> Any:
    return selectors.persons_search(request.user, id_number=id_number, name=name)


@router.get("/persons/{person_id}", response={200: PersonOut, **ERRORS}, summary="One person (audited read)")
def get_person(request: HttpRequest, person_id: int) -> Any:
    return selectors.access_person(request.user, person_id)
