"""People API: registry, lifecycle, records, status and worklists (casework, documents and KPIs live in
their own router modules)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from jindu.core.apiutil import ERRORS, ErrorOut, PageNumber
from jindu.core.scoping import WRITE, access_object
from jindu.people import selectors, services
from jindu.people.models import Enrollment, Person
from jindu.people.schemas import (
    ContactIn,
    DateIn,
    DrugTestIn,
    EnrollmentIn,
    EnrollmentOut,
    IdOut,
    PersonCreatedOut,
    PersonIn,
    PersonOut,
)

router = Router(tags=["people"])
# Areas with their own modules (one owner each) are mounted under the same prefix.
router.add_router("", "jindu.people.api_casework.router")
router.add_router("", "jindu.people.api_documents.router")
router.add_router("", "jindu.people.api_kpis.router")


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


# Enrollments ------------------------------------------------------------------------------------------


@router.post(
    "/persons/{person_id}/enrollments",
    response={201: IdOut, 409: ErrorOut, **ERRORS},
    summary="A measure is decided and served (决定送达)",
)
def create_enrollment(request: HttpRequest, person_id: int, payload: EnrollmentIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    enrollment = services.enrollment_create(
        actor=request.user,
        person=person,
        measure=payload.measure,
        decision_date=payload.decision_date,
        org_unit_code=payload.org_unit,
    )
    return Status(201, {"id": enrollment.pk})


def _transition(request: HttpRequest, enrollment_id: int, service: Any, **kwargs: Any) -> Any:
    enrollment = access_object(request.user, Enrollment, enrollment_id, action=WRITE)
    service(actor=request.user, enrollment=enrollment, **kwargs)
    return enrollment


@router.post(
    "/enrollments/{enrollment_id}/report",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="报到",
)
def report_enrollment(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_report, date=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/agreement",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="协议 signed",
)
def sign_agreement(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_sign_agreement, date=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/not-reported",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="未报到: referred to the police",
)
def mark_not_reported(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_not_reported, as_of=payload.date)


@router.post(
    "/enrollments/{enrollment_id}/release",
    response={200: EnrollmentOut, 409: ErrorOut, **ERRORS},
    summary="期满解除",
)
def release_enrollment(request: HttpRequest, enrollment_id: int, payload: DateIn) -> Any:
    return _transition(request, enrollment_id, services.enrollment_release, date=payload.date)


@router.get(
    "/enrollments/{enrollment_id}",
    response={200: EnrollmentOut, **ERRORS},
    summary="One enrollment (audited)",
)
def get_enrollment(request: HttpRequest, enrollment_id: int) -> Any:
    return access_object(request.user, Enrollment, enrollment_id, audit=True)


# Tests and contacts -----------------------------------------------------------------------------------


@router.post(
    "/persons/{person_id}/tests", response={201: IdOut, **ERRORS}, summary="Record a urine or hair test"
)
def record_test(request: HttpRequest, person_id: int, payload: DrugTestIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    test = services.drug_test_record(
        actor=request.user,
        person=person,
        kind=payload.kind,
        sample_date=payload.sample_date,
        result=payload.result,
        substances=payload.substances,
        is_random=payload.random,
    )
    return Status(201, {"id": test.pk})


@router.post(
    "/persons/{person_id}/contacts", response={201: IdOut, **ERRORS}, summary="Record a visit, talk or call"
)
def record_contact(request: HttpRequest, person_id: int, payload: ContactIn) -> Any:
    person = access_object(request.user, Person, person_id, action=WRITE)
    contact = services.contact_record(actor=request.user, person=person, kind=payload.kind, date=payload.date)
    return Status(201, {"id": contact.pk})
