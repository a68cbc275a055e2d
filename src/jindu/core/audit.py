"""Writing and verifying the audit chain.

Services call ``audit_write`` inside their own transaction, so the audit record commits or rolls back
with the change it describes. The chain is serialised: on PostgreSQL by a transaction-level advisory
lock, on SQLite by IMMEDIATE transactions (the database has one writer at a time).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model

from jindu.core import context
from jindu.core.crypto import constant_time_equal, get_provider
from jindu.core.keyring import Keyring
from jindu.core.models import AuditAction, AuditRecord, AuditResult

AUDIT_CHAIN_LOCK_ID = 0x4A494E4455  # "JINDU"
OPERATOR = "cli"  # the actor name of records written by the server operator (no logged-in user)


def _canonical(record: AuditRecord) -> bytes:
    """The bytes covered by the MAC: every content column, in a fixed order and format."""
    content = {
        "sequence": record.sequence,
        "occurred_at": record.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": record.actor_id,
        "actor_username": record.actor_username,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "object_repr": record.object_repr,
        "org_unit_code": record.org_unit_code,
        "result": record.result,
        "client_address": record.client_address,
        "detail": record.detail,
        "prev_mac": record.prev_mac,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def compute_mac(record: AuditRecord) -> str:
    ring: Keyring = settings.JINDU_KEYRING
    return get_provider().hmac_sm3(ring.audit_key, _canonical(record))


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK_ID])


def describe(obj: Model | None) -> tuple[str, str, str, str]:
    """(object type, id, repr, org unit code) of a model instance, for an audit record."""
    if obj is None:
        return "", "", "", ""
    org_unit_code = ""
    org_unit = getattr(obj, "org_unit", None)
    if org_unit is not None:
        org_unit_code = getattr(org_unit, "code", "")
    elif obj._meta.label_lower == "core.orgunit":
        org_unit_code = obj.code  # type: ignore[attr-defined]
    return obj._meta.label_lower, str(obj.pk), str(obj)[:200], org_unit_code


def audit_write(
    *,
    action: str,
    actor: Any = None,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    org_unit_code: str = "",
    result: str = AuditResult.SUCCESS,
    detail: dict | None = None,
    actor_username: str | None = None,
) -> AuditRecord:
    """Append one record to the chain (inside the caller's transaction, or its own if there is none).

    Without an actor and without ``actor_username`` the record is the server operator's ("cli": the
    jindu command, imports, the demo); a failed login names the attempted username instead."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    described = describe(obj)
    with transaction.atomic():
        _lock_chain()
        last = AuditRecord.objects.order_by("-sequence").only("sequence", "mac").first()
        actor_is_user = actor is not None and getattr(actor, "is_authenticated", False)
        record = AuditRecord(
            sequence=(last.sequence + 1) if last else 1,
            actor_id=actor.pk if actor_is_user else None,
            actor_username=(
                actor.get_username()
                if actor_is_user
                else OPERATOR
                if actor_username is None
                else actor_username
            )[:64],
            action=action,
            object_type=object_type or described[0],
            object_id=object_id or described[1],
            object_repr=(object_repr or described[2])[:200],
            org_unit_code=org_unit_code or described[3],
            result=result,
            client_address=context.current().client_address[:64],
            detail=detail or {},
            prev_mac=last.mac if last else "",
        )
        record.mac = compute_mac(record)
        record.save(force_insert=True)
    return record


@dataclass
class VerifyResult:
    checked: int
    broken_sequence: int | None = None
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_sequence is None


def _iterate_chain(batch: int = 2000) -> Iterator[AuditRecord]:
    last_sequence = 0
    while True:
        rows = list(AuditRecord.objects.filter(sequence__gt=last_sequence).order_by("sequence")[:batch])
        if not rows:
            return
        yield from rows
        last_sequence = rows[-1].sequence


def audit_verify(progress: Any = None) -> VerifyResult:
    """Walk the chain from the first record; stop at the first record whose MAC or link is wrong."""
    previous_mac = ""
    expected_sequence = 1
    checked = 0
    for record in _iterate_chain():
        if record.sequence != expected_sequence:
            return VerifyResult(
                checked,
                record.sequence,
                record.pk,
                f"sequence gap: expected {expected_sequence} (a record is missing)",
            )
        if not constant_time_equal(record.prev_mac, previous_mac):
            return VerifyResult(
                checked, record.sequence, record.pk, "link to the previous record does not match"
            )
        if not constant_time_equal(compute_mac(record), record.mac):
            return VerifyResult(
                checked, record.sequence, record.pk, "content does not match its MAC (edited)"
            )
        previous_mac = record.mac
        expected_sequence += 1
        checked += 1
        if progress is not None:
            progress(1)
    return VerifyResult(checked)


def audit_search(
    *, actor: Any, object_type: str, query: dict, results: int, org_unit_code: str = ""
) -> AuditRecord:
    """Record a search over personal records: who searched for what, and how many rows came back."""
    return audit_write(
        action=AuditAction.SEARCH,
        actor=actor,
        object_type=object_type,
        org_unit_code=org_unit_code,
        detail={
            "query": {k: _mask_identifier(v) for k, v in query.items() if v not in ("", None)},
            "results": results,
        },
    )


def _mask_identifier(value: Any) -> Any:
    """Search terms that look like an ID number or a mobile number are stored masked, never in clear."""
    import re

    from jindu.core.masking import mask_id_number, mask_phone

    text = str(value).strip()
    if re.fullmatch(r"\d{17}[\dXx]|\d{15}", text):
        return mask_id_number(text.upper())
    if re.fullmatch(r"(\+?86)?1[3-9]\d{9}", text.replace(" ", "").replace("-", "")):
        return mask_phone(text.replace(" ", "").replace("-", "")[-11:])
    return value
