"""Request and response schemas of the 一人一档 (case file documents) API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import Field


class DocumentGenerateIn(Schema):
    kind: str = Field(
        ...,
        max_length=40,
        description="decision_notice | agreement | rehabilitation_plan | release_notice | test_notice",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="optional values of the template (e.g. issuing_authority, test_date, family_members)",
    )


class DocumentOut(Schema):
    """A document's metadata; the content is downloaded from /documents/{id}/content (audited)."""

    id: int
    person: int
    kind: str
    kind_label: str
    title: str
    generated: bool
    template_version: str
    file_name: str
    content_type: str
    size: int
    digest: str = Field(description="SM3 of the content, hex")
    created: dt.datetime
    created_by: str | None

    @staticmethod
    def resolve_person(obj: Any) -> int:
        return obj.person_id

    @staticmethod
    def resolve_kind_label(obj: Any) -> str:
        from jindu.people.documents import kind_label

        return kind_label(obj.kind)

    @staticmethod
    def resolve_created_by(obj: Any) -> str | None:
        return obj.created_by.get_username() if obj.created_by_id else None


class ArchiveIn(Schema):
    date: dt.date


class ChecklistItemOut(Schema):
    kind: str
    label: str
    required: int
    present: int
    missing: int


class ArchiveStatusOut(Schema):
    archived_on: dt.date | None
    complete: bool = Field(description="every required document is present")
    may_archive: bool
    active_enrollments: int
    items: list[ChecklistItemOut]
