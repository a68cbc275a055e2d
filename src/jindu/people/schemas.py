"""Request and response schemas of the people API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import Field


class PersonIn(Schema):
    id_number: str = Field(..., max_length=32)
    name: str = Field(..., max_length=50)
    residence: str = Field(
        ..., max_length=32, description="code of the street, community or grid of residence"
    )
    phone: str | None = Field(None, max_length=20)
    household_registration: str | None = Field(None, max_length=32)
    first_found_date: dt.date | None = None
    substances: list[str] = []


class PersonCreatedOut(Schema):
    id: int
    possible_duplicate_of: int | None = None


class PersonOut(Schema):
    id: int
    name: str = Field(description="masked")
    id_number: str = Field(description="masked")
    sex: str
    birth_date: dt.date
    residence: str
    phone: str = Field(description="masked")
    household_registration: str | None
    first_found_date: dt.date | None
    substances: list[str]
    possible_duplicate_of: int | None

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return obj.name_masked

    @staticmethod
    def resolve_id_number(obj: Any) -> str:
        return obj.id_number_masked

    @staticmethod
    def resolve_phone(obj: Any) -> str:
        return obj.phone_masked

    @staticmethod
    def resolve_residence(obj: Any) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_household_registration(obj: Any) -> str | None:
        return obj.household_registration.code if obj.household_registration_id else None

    @staticmethod
    def resolve_possible_duplicate_of(obj: Any) -> int | None:
        return obj.possible_duplicate_of_id


class IdOut(Schema):
    id: int


class EnrollmentIn(Schema):
    measure: str = Field(..., description="community_treatment | community_rehabilitation | social_control")
    decision_date: dt.date
    org_unit: str = Field(..., max_length=32, description="code of the executing street or community")


class DateIn(Schema):
    date: dt.date


class EnrollmentOut(Schema):
    id: int
    person: int
    measure: str
    status: str
    org_unit: str
    decision_date: dt.date
    report_deadline: dt.date
    reported_on: dt.date | None
    agreement_signed_on: dt.date | None
    term_end: dt.date | None
    ended_on: dt.date | None

    @staticmethod
    def resolve_person(obj: Any) -> int:
        return obj.person_id

    @staticmethod
    def resolve_org_unit(obj: Any) -> str:
        return obj.org_unit.code


class DrugTestIn(Schema):
    kind: str = Field(..., description="urine | hair")
    sample_date: dt.date
    result: str = Field(..., description="negative | positive")
    substances: list[str] = []
    random: bool = False


class ContactIn(Schema):
    kind: str = Field(..., description="visit | talk | phone")
    date: dt.date
