"""Scoped reads of the core app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from jindu.core.errors import Forbidden
from jindu.core.fields import blind_index
from jindu.core.models import AuditRecord, Job, OrgUnit, User, UserRole
from jindu.core.roles import Perm
from jindu.core.scoping import READ, access_object, descendant_ids, path_condition, search_root_ids
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
        .order_by("org_path", "username")  # index order (user_scope_order): by jurisdiction, then name
    )
    if query:
        query = query.strip()
        digits = normalize_mobile(query)
        condition = Q(username__icontains=query) | Q(full_name__icontains=query)
        if digits.isdigit() and len(digits) == 11:
            condition |= Q(phone_index=blind_index(digits, context="core.user.phone"))
        queryset = queryset.filter(condition)
    if role:
        queryset = queryset.filter(roles__role=role)
    if org_unit_code:
        unit = OrgUnit.objects.filter(code=org_unit_code).only("path").first()
        queryset = queryset.filter(path_condition([unit.path])) if unit else queryset.none()
    if active is not None:
        queryset = queryset.filter(is_active=active)
    return queryset


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
    """The audit trail of the 审计管理员's jurisdiction, newest first: records about org units in the search
    scope; records tied to no org unit (failed logins of unknown names, key rotation) only for audit
    administrators of a province or city."""
    if not user.has_jindu_perm(Perm.VIEW_AUDIT):
        raise Forbidden()
    queryset = AuditRecord.objects.filter(_audit_scope(user)).order_by("-sequence")
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


def _is_top_level(user: Any) -> bool:
    return OrgUnit.objects.filter(pk__in=search_root_ids(user), depth__lte=1).exists()


def _audit_scope(user: Any) -> Q:
    codes = OrgUnit.objects.filter(pk__in=descendant_ids(search_root_ids(user))).values("code")
    condition = Q(org_unit_code__in=codes)
    if _is_top_level(user):
        condition |= Q(org_unit_code="")
    return condition


def jobs_for(user: Any) -> QuerySet[Job]:
    """A user's own jobs; with the jobs permission also the jobs of accounts in the search scope, and
    system jobs (no creator) for province or city administrators."""
    queryset = Job.objects.select_related("created_by")
    if not user.has_jindu_perm(Perm.VIEW_JOBS):
        return queryset.filter(created_by=user)
    condition = Q(created_by=user) | Q(created_by__org_unit_id__in=descendant_ids(search_root_ids(user)))
    if _is_top_level(user):
        condition |= Q(created_by__isnull=True)
    return queryset.filter(condition)
