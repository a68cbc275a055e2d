"""Scoped reads of the core app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet

from jindu.core.errors import Forbidden
from jindu.core.fields import blind_index
from jindu.core.models import AuditRecord, Job, User, UserRole
from jindu.core.roles import Perm
from jindu.core.scoping import READ, access_object, descendant_ids
from jindu.core.validators import normalize_mobile


def users_for(
    user: Any, *, query: str = "", role: str = "", org_unit_code: str = "", active: bool | None = None
) -> QuerySet[User]:
    """Accounts in the caller's search scope, with roles and org unit loaded in bulk (no N+1)."""
    if not user.has_jindu_perm(Perm.VIEW_USERS):
        raise Forbidden()
    queryset = (
        User.objects.for_user(user, READ)
        .select_related("org_unit")
        .prefetch_related(Prefetch("roles", queryset=UserRole.objects.only("user_id", "role")))
        .order_by("username")
    )
    if query:
        query = query.strip()
        digits = normalize_mobile(query)
        from django.db.models import Q

        condition = Q(username__icontains=query) | Q(full_name__icontains=query)
        if digits.isdigit() and len(digits) == 11:
            condition |= Q(phone_index=blind_index(digits, context="core.user.phone"))
        queryset = queryset.filter(condition)
    if role:
        queryset = queryset.filter(roles__role=role)
    if org_unit_code:
        from jindu.core.models import OrgUnit

        unit = OrgUnit.objects.filter(code=org_unit_code).first()
        queryset = queryset.filter(org_unit_id__in=descendant_ids({unit.pk})) if unit else queryset.none()
    if active is not None:
        queryset = queryset.filter(is_active=active)
    return queryset


def role_codes(user: User) -> list[str]:
    """Role codes using the prefetched roles when present."""
    return sorted(role.role for role in user.roles.all())


def access_user(user: Any, pk: Any) -> User:
    """One account in the caller's search scope, or NotFound."""
    return access_object(user, User.objects.select_related("org_unit"), pk)


def audit_search(
    user: Any,
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    result: str = "",
) -> QuerySet[AuditRecord]:
    """The audit trail, for 审计管理员 only; newest first."""
    if not user.has_jindu_perm(Perm.VIEW_AUDIT):
        raise Forbidden()
    queryset = AuditRecord.objects.all().order_by("-sequence")
    if actor:
        queryset = queryset.filter(actor_username=actor)
    if action:
        queryset = queryset.filter(action=action)
    if object_type:
        queryset = queryset.filter(object_type=object_type)
    if object_id:
        queryset = queryset.filter(object_id=object_id)
    if since:
        queryset = queryset.filter(occurred_at__gte=since)
    if until:
        queryset = queryset.filter(occurred_at__lt=until)
    if result:
        queryset = queryset.filter(result=result)
    return queryset


def jobs_for(user: Any) -> QuerySet[Job]:
    if not user.has_jindu_perm(Perm.VIEW_JOBS):
        raise Forbidden()
    return Job.objects.all().select_related("created_by")
