"""Which version of a versioned rule applies to an org unit on a date.

The nearest region wins (the unit itself, then its ancestors up to the province, then the national
default with no region); within a region, the latest ``effective_from`` not after the date. Every
result names the version it came from, so derived records (schedules, scores) can cite it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from jindu.core.audit import audit_write
from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import AuditAction, OrgUnit, OrgUnitClosure, PolicyVersion


def policy_in_force(kind: str, org_unit: OrgUnit | None, on: dt.date) -> PolicyVersion:
    """The version of ``kind`` in force for ``org_unit`` on ``on``; NotFound when none is."""
    candidates = PolicyVersion.objects.filter(kind=kind, effective_from__lte=on)
    distance_of: dict[int | None, int] = {None: 10_000}
    if org_unit is not None:
        distance_of.update(
            dict(OrgUnitClosure.objects.filter(descendant=org_unit).values_list("ancestor_id", "distance"))
        )
    best: PolicyVersion | None = None
    best_key: tuple[int, dt.date] | None = None
    for version in candidates:
        if version.region_id not in distance_of:
            continue  # a version for another region
        key = (-distance_of[version.region_id], version.effective_from)
        if best_key is None or key > best_key:
            best, best_key = version, key
    if best is None:
        raise NotFound(
            _("No %(kind)s policy is in force on %(date)s.") % {"kind": kind, "date": on.isoformat()}
        )
    return best


def policy_publish(
    *,
    actor: Any,
    kind: str,
    region: OrgUnit | None,
    effective_from: dt.date,
    label: str,
    payload: dict,
    source: str = "",
    is_default: bool = False,
) -> PolicyVersion:
    """Add a new version (versions are never edited: a change is a new version with a later date)."""
    if not kind or not label:
        raise ServiceError(_("A policy version needs a kind and a label."), code="invalid_policy")
    if not isinstance(payload, dict) or not payload:
        raise ServiceError(
            _("A policy version needs its rules."),
            code="invalid_policy",
            fields={"payload": pgettext("field error", "empty")},
        )
    if PolicyVersion.objects.filter(kind=kind, region=region, effective_from=effective_from).exists():
        raise ServiceError(
            _("A %(kind)s version for this region already takes effect on %(date)s.")
            % {"kind": kind, "date": effective_from.isoformat()},
            code="duplicate_policy",
        )
    with transaction.atomic():
        version = PolicyVersion.objects.create(
            kind=kind,
            region=region,
            effective_from=effective_from,
            label=label,
            payload=payload,
            source=source,
            is_default=is_default,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=version,
            org_unit_code=region.code if region else "",
            detail={"kind": kind, "effective_from": effective_from.isoformat()},
        )
    return version
