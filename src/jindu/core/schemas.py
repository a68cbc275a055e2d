"""Request and response schemas of the core API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import Field

from jindu.core.masking import mask_id_number, mask_phone


class TokenIn(Schema):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=256)
    otp: str | None = Field(None, max_length=12)


class TokenOut(Schema):
    token: str
    expires_at: dt.datetime


class OrgUnitOut(Schema):
    code: str
    name: str
    level: str


class OrgUnitDetailOut(OrgUnitOut):
    parent_code: str | None
    path: list[str]
    children: int


class OrgUnitIn(Schema):
    code: str = Field(..., max_length=32)
    name: str = Field(..., min_length=1, max_length=100)
    level: str
    parent_code: str = Field(..., max_length=32)


class MeOut(Schema):
    username: str
    full_name: str
    roles: list[str]
    org_unit: str
    capture_scope: list[str]
    search_scope: list[str]
    permissions: list[str]


class UserOut(Schema):
    id: int
    username: str
    full_name: str
    roles: list[str]
    org_unit: str
    phone: str = Field(description="masked")
    id_number: str = Field(description="masked")
    is_active: bool
    locked: bool

    @staticmethod
    def resolve_roles(obj: Any) -> list[str]:
        return sorted(role.role for role in obj.roles.all())

    @staticmethod
    def resolve_org_unit(obj: Any) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_phone(obj: Any) -> str:
        return mask_phone(obj.phone)

    @staticmethod
    def resolve_id_number(obj: Any) -> str:
        return mask_id_number(obj.id_number)

    @staticmethod
    def resolve_locked(obj: Any) -> bool:
        return obj.is_locked()


class UserIn(Schema):
    username: str
    password: str
    roles: list[str]
    org_unit: str
    search_scope: list[str] = []
    full_name: str = ""
    id_number: str = ""
    phone: str = ""
    email: str = ""
    enterprise_code: str = ""


class UserCreatedOut(UserOut):
    otpauth_uri: str = ""


class BreakGlassIn(Schema):
    object_type: str
    object_id: str
    reason: str


class BreakGlassOut(Schema):
    object_type: str
    object_id: str
    expires_at: dt.datetime


class AuditOut(Schema):
    sequence: int
    occurred_at: dt.datetime
    actor: str = Field(alias="actor_username")
    action: str
    object_type: str
    object_id: str
    object_repr: str
    org_unit: str = Field(alias="org_unit_code")
    result: str
    client_address: str
    detail: dict


class JobOut(Schema):
    id: int
    name: str
    status: str
    progress: int
    total: int
    result: dict
    log: str
