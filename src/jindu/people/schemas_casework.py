"""Request and response schemas of the casework API: help measures, assignments, caseloads, summaries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import Field


class HelpIn(Schema):
    kind: str = Field(
        ...,
        max_length=24,
        description="vocational_training | job_placement | legal_aid | counselling | medical_aid | "
        "subsistence | welfare_post",
    )
    referred_on: dt.date
    provider: str = Field("", max_length=200, description="the helping agency")
    note: str = Field("", max_length=1000)


class HelpOutcomeIn(Schema):
    outcome: str = Field(..., max_length=12, description="succeeded | failed | declined")
    outcome_on: dt.date
    note: str = Field("", max_length=1000)


class HelpMeasureOut(Schema):
    id: int
    person: int
    kind: str
    referred_on: dt.date
    provider: str
    outcome: str
    outcome_on: dt.date | None
    note: str
    org_unit: str
    recorded_by: str | None = Field(description="username")

    @staticmethod
    def resolve_person(obj: Any) -> int:
        return obj.person_id

    @staticmethod
    def resolve_org_unit(obj: Any) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_recorded_by(obj: Any) -> str | None:
        return obj.recorded_by.username if obj.recorded_by_id else None


class AssignmentIn(Schema):
    worker: str = Field(..., max_length=64, description="username of the social worker")
    start: dt.date


class AssignmentOut(Schema):
    id: int
    person: int
    worker: str = Field(description="username")
    worker_name: str
    start: dt.date
    end: dt.date | None
    assigned_by: str | None = Field(description="username")

    @staticmethod
    def resolve_person(obj: Any) -> int:
        return obj.person_id

    @staticmethod
    def resolve_worker(obj: Any) -> str:
        return obj.worker.username

    @staticmethod
    def resolve_worker_name(obj: Any) -> str:
        return obj.worker.full_name

    @staticmethod
    def resolve_assigned_by(obj: Any) -> str | None:
        return obj.assigned_by.username if obj.assigned_by_id else None


class WorkerCaseloadOut(Schema):
    username: str
    full_name: str
    org_unit: str
    street: str | None = Field(description="code of the street the worker's capture scope lies in")
    active_persons: int
    max_persons: int
    over_limit: bool

    @staticmethod
    def resolve_username(obj: Any) -> str:
        return obj.worker.username

    @staticmethod
    def resolve_full_name(obj: Any) -> str:
        return obj.worker.full_name

    @staticmethod
    def resolve_org_unit(obj: Any) -> str:
        return obj.worker.org_unit.code

    @staticmethod
    def resolve_street(obj: Any) -> str | None:
        return obj.street.code if obj.street else None


class StreetStaffingOut(Schema):
    code: str
    name: str
    active_persons: int
    unassigned_persons: int
    workers: int
    ratio: float | None = Field(description="active persons per worker; null without a worker")
    max_persons: int = Field(description="persons per worker allowed by the staffing policy")
    policy: str | None = Field(description="label of the staffing policy version applied")
    flag: str = Field(description='"" | "over_ratio" | "no_worker"')

    @staticmethod
    def resolve_code(obj: Any) -> str:
        return obj.street.code

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return obj.street.name

    @staticmethod
    def resolve_policy(obj: Any) -> str | None:
        return obj.policy.label if obj.policy else None


class CaseloadsOut(Schema):
    as_of: dt.date
    workers: list[WorkerCaseloadOut]
    streets: list[StreetStaffingOut]


class WorkerSummaryOut(Schema):
    worker: str = Field(description="username")
    month: str
    as_of: dt.date
    drug_tests: dict[str, int] = Field(description="total, positive, urine, hair")
    contacts: dict[str, int] = Field(description="total and per kind")
    help_referrals: dict[str, int] = Field(description="total and per kind of help")
    help_outcomes: dict[str, int] = Field(description="total and per outcome")
    persons_assigned: int = Field(description="persons in the worker's charge at the end of the month")

    @staticmethod
    def resolve_worker(obj: Any) -> str:
        return obj.worker.username
