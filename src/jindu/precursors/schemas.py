"""Request and response schemas of the precursors API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field


class SubstanceOut(Schema):
    code: str
    name_zh: str
    name_en: str
    cas: str
    other_cas: list[str]
    hs_code: str
    category: int
    drug_class: bool
    listed_from: dt.date
    listed_until: dt.date | None
    source_notice: str
    verified: bool
    note: str


class EnterpriseIn(Schema):
    uscc: str = Field(..., max_length=32, description="统一社会信用代码")
    name: str = Field(..., max_length=200)
    org_unit: str = Field(..., max_length=32, description="code of the supervising district or county")
    park: str | None = Field(None, max_length=64, description="code of the industrial park")
    address: str = Field("", max_length=300)
    legal_representative: str = Field("", max_length=100)
    responsible_person: str = Field("", max_length=100)
    contact_phone: str = Field("", max_length=32)
    activities: list[str] = []


class EnterpriseOut(Schema):
    id: int
    uscc: str
    name: str
    org_unit: str
    park: str | None
    address: str
    legal_representative: str
    responsible_person: str
    contact_phone: str
    activities: list[str]
    status: str
    credit_grade: str
    credit_score: int | None
    party_uri: str

    @staticmethod
    def resolve_org_unit(obj: Any) -> str:
        return obj.org_unit.code

    @staticmethod
    def resolve_park(obj: Any) -> str | None:
        return obj.park.code if obj.park_id else None


class BalanceOut(Schema):
    enterprise: str
    enterprise_name: str
    substance: str
    substance_name: str
    month: dt.date
    opening_stock: Decimal | None
    receipts: Decimal
    production: Decimal
    shipments: Decimal
    consumption: Decimal
    documented_losses: Decimal
    book_stock: Decimal
    closing_stock: Decimal | None
    muf: Decimal | None = Field(description="book stock − counted stock, kg pure (positive: shortage)")
    sigma_muf: float | None
    status: str = Field(description="ok, warning (> 2σ), alert (> 3σ) or no_stocktake")


class CreditRatingOut(Schema):
    enterprise: str
    as_of: dt.date
    score: int
    grade: str
    grade_by_score: str
    scheme: str = Field(
        description="label of the scheme version (a PROPOSED default until the office approves)"
    )
    reasons: list[dict]
    vetoes: list[dict]
    supervision: dict
    inspection_plan: list[dt.date]

    @staticmethod
    def resolve_enterprise(obj: Any) -> str:
        return obj.enterprise.uscc

    @staticmethod
    def resolve_scheme(obj: Any) -> str:
        return obj.scheme.label


class CaptureOut(Schema):
    captureID: str  # noqa: N815 (the standard's name)
    enterprise: str
    received_at: dt.datetime
    running: bool = False
    success: bool = True
    event_count: int
    duplicate_count: int
    warning_count: int
    document_digest: str
