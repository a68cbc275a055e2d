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
    measure: str = Field(..., description="community_treatment | community_rehabilitation")
    decision_date: dt.date
    org_unit: str = Field(..., max_length=32, description="code of the executing street or community")
    term_months: int | None = Field(None, description="社区康复 only: up to 36 months (default 36)")


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
    transfer_deadline: dt.date | None
    serious_violation_on: dt.date | None
    ended_on: dt.date | None
    end_reason: str

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
    tester: str = Field("", max_length=50)


class ContactIn(Schema):
    kind: str = Field(..., description="visit | talk | phone")
    date: dt.date
    note: str = Field("", max_length=500)


class ReasonDateIn(Schema):
    date: dt.date
    reason: str = Field(..., max_length=200)


class TransferIn(Schema):
    date: dt.date
    org_unit: str = Field(..., max_length=32, description="code of the new street or community")


class LeaveIn(Schema):
    start: dt.date
    end: dt.date
    destination: str = Field("", max_length=100)


class ViolationIn(Schema):
    kind: str = Field(..., description="test_evasion | test_refusal | unauthorised_leave | other")
    date: dt.date
    days_away: int = Field(0, ge=0, le=3650)
    note: str = Field("", max_length=200)


class ViolationOut(Schema):
    id: int
    test_violations: int
    unauthorised_leaves: int
    days_away: int
    serious: bool


class SeizureIn(Schema):
    date: dt.date
    note: str = Field("", max_length=200)


class FindingIn(Schema):
    conclusion: str = Field(..., description="addicted | severely_addicted | not_addicted")
    date: dt.date
    officers: list[str] = Field(..., description="the two officers")
    basis: list[str] = []
    sample_type: str = Field("", max_length=20)


class RiskIn(Schema):
    date: dt.date
    answers: dict[str, str] = Field(..., description="factor code → option code of the instrument")
    final_color: str = Field(..., description="red | orange | yellow | green")
    override_reason: str = Field("", max_length=500)
    trigger: str = "scheduled"


class RiskOut(Schema):
    id: int
    total: int
    suggested_color: str
    final_color: str
    instrument: int

    @staticmethod
    def resolve_instrument(obj: Any) -> int:
        return obj.instrument_id


class AbstinenceIn(Schema):
    date: dt.date
    outcome: str = Field(..., description="abstinent_3y | no_contact | not_confirmed")
    note: str = Field("", max_length=500)


class DueOut(Schema):
    kind: str = Field(description="urine | hair | contact | report | transfer_report | …")
    due_date: dt.date | None
    policy_version: int | None = None


class StatusOut(Schema):
    person: int
    as_of: dt.date
    control_status: str
    measure: str | None
    phase: str | None
    risk_color: str | None
    abstinence_anchor: dt.date | None
    anchor_kind: str | None
    abstinent_days: int | None
    overdue: list[DueOut]
    schedule: list[DueOut]
    lost_contact: bool
    abstinent_3y: str = Field(description="eligible | almost | no")
    policy_versions: dict[str, int]


class WorklistItemOut(Schema):
    person: int
    person_name: str = Field(description="masked")
    org_unit: str
    kind: str = Field(
        description="due | overdue | lost_contact | almost_eligible | eligible | report_due | reassessment"
        " | serious_violation | release_due"
    )
    item: str
    due_date: dt.date | None
    policy_version: int | None
    worker: str | None

    @staticmethod
    def resolve_person(obj: Any) -> int:
        return obj.person_id


class WorklistQuery(Schema):
    as_of: dt.date | None = Field(None, description="the day to evaluate (default today)")
    kind: str = Field("", description="comma-separated kinds to keep")
    org_unit: str = Field("", description="code of an org unit in my capture scope")
    worker: str = Field("", description="username of a worker, or 'me'")


class AlertOut(Schema):
    id: int
    person: int
    person_name: str = Field(description="masked")
    kind: str = Field(description="lost_contact | relapse | serious_violation")
    level: str = Field(description="worker | street_office | police")
    raised_on: dt.date
    resolved_on: dt.date | None
    resolution: str
    escalations: list[dict[str, Any]]

    @staticmethod
    def resolve_person(obj: Any) -> int:
        return obj.person_id

    @staticmethod
    def resolve_person_name(obj: Any) -> str:
        return obj.person.name_masked

    @staticmethod
    def resolve_escalations(obj: Any) -> list[dict[str, Any]]:
        return [
            {"level": step.level, "date": step.date.isoformat(), "note": step.note}
            for step in obj.escalations.all()
        ]


class ResolveIn(Schema):
    date: dt.date
    resolution: str = Field(..., max_length=200)
