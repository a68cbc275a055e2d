"""Jurisdiction scoping: which rows a user may read or write, and the permission-checked fetchers.

A user has a **capture scope** (subtrees where they write) and a **search scope** (subtrees where they
read; it always includes the capture scope). Protected models (personal case records) are readable
only in the capture scope, or in the search scope through a break-the-glass grant with a stated reason.
Anything outside the scope is indistinguishable from a missing object: fetchers raise ``NotFound``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from jindu.core.errors import BreakGlassRequired, Forbidden, NotFound, ServiceError
from jindu.core.models import (
    AuditAction,
    BreakGlassGrant,
    OrgPathMixin,
    OrgUnit,
    OrgUnitClosure,
    SealableMixin,
)

ModelT = TypeVar("ModelT", bound=models.Model)

READ = "read"
WRITE = "write"


def capture_root_ids(user: Any) -> frozenset[int]:
    """Roots of the capture scope (cached on the user object for the request)."""
    cached = getattr(user, "_capture_root_ids", None)
    if cached is None:
        cached = frozenset(user.capture_scope.values_list("pk", flat=True))
        user._capture_root_ids = cached
    return cached


def search_root_ids(user: Any) -> frozenset[int]:
    """Roots of the search scope; the capture scope is always part of it."""
    cached = getattr(user, "_search_root_ids", None)
    if cached is None:
        cached = frozenset(user.search_scope.values_list("pk", flat=True)) | capture_root_ids(user)
        user._search_root_ids = cached
    return cached


def descendant_ids(root_ids: frozenset[int] | set[int]) -> models.QuerySet:
    """A subquery of every org unit id under (and including) the roots."""
    return OrgUnitClosure.objects.filter(ancestor_id__in=list(root_ids)).values("descendant_id")


def _permission_for(model: type[models.Model], action: str) -> str:
    if action == WRITE:
        return getattr(model, "scope_write_permission", "") or getattr(model, "scope_read_permission", "")
    return getattr(model, "scope_read_permission", "")


def user_may(user: Any, model: type[models.Model], action: str = READ) -> bool:
    """Whether the user's roles allow this action on this model at all (scope aside)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    permission = _permission_for(model, action)
    return bool(permission) and user.has_jindu_perm(permission)


def scope_queryset(queryset: models.QuerySet, user: Any, *, action: str = READ) -> models.QuerySet:
    """Narrow ``queryset`` to the rows the user may read (search scope; capture scope for protected
    models) or write (capture scope). A user whose role lacks the permission gets nothing."""
    model = queryset.model
    if not user_may(user, model, action):
        return queryset.none()
    if action == WRITE or getattr(model, "protected", False):
        roots = capture_root_ids(user)
    else:
        roots = search_root_ids(user)
    if not roots:
        return queryset.none()
    if issubclass(model, SealableMixin):
        # Sealed records (labels removed) appear in no list, whoever asks: only single, glass-broken reads.
        queryset = queryset.filter(sealed=False)
    if issubclass(model, OrgPathMixin):
        return queryset.filter(path_condition(root_paths(roots)))
    org_field = getattr(model, "scope_org_field", "org_unit")
    return queryset.filter(**{f"{org_field}_id__in": descendant_ids(roots)})


def root_paths(roots: frozenset[int]) -> list[str]:
    """Materialised paths of the roots, without those nested inside another root."""
    paths = sorted(OrgUnit.objects.filter(pk__in=list(roots)).values_list("path", flat=True))
    outermost: list[str] = []
    for path in paths:
        if not any(path.startswith(kept) for kept in outermost):
            outermost.append(path)
    return outermost


def path_condition(paths: list[str], field: str = "org_path") -> Q:
    """Rows whose ``org_path`` lies under any of the paths, as an index range scan.

    Paths end in "/", so ``prefix <= org_path < prefix-with-its-final-"/"-raised-to-"0"`` is an exact
    prefix match when text compares bytewise (``OrgPathField`` sees to that on PostgreSQL).
    """
    condition = Q(pk__in=[])
    for path in paths:
        condition |= Q(**{f"{field}__gte": path, f"{field}__lt": path[:-1] + chr(ord(path[-1]) + 1)})
    return condition


def object_type_label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def active_grant(user: Any, obj: models.Model, now: dt.datetime | None = None) -> BreakGlassGrant | None:
    now = now or timezone.now()
    return (
        BreakGlassGrant.objects.filter(
            user=user,
            content_type=ContentType.objects.get_for_model(type(obj)),
            object_id=str(obj.pk),
            expires_at__gt=now,
        )
        .order_by("-expires_at")
        .first()
    )


def in_capture_scope(user: Any, org_unit_id: int) -> bool:
    """Whether the org unit lies in the user's capture scope: one query (the closure joined with the
    user's capture roots), or none when the roots are already loaded and empty."""
    cached = getattr(user, "_capture_root_ids", None)
    if cached is not None:
        return in_roots(org_unit_id, cached)
    return OrgUnitClosure.objects.filter(
        descendant_id=org_unit_id, ancestor_id__in=user.capture_scope.values("pk")
    ).exists()


def accessed_in_capture_scope(obj: models.Model) -> bool:
    """Whether ``access_object`` let the user at this object through their capture scope (not by breaking
    the glass): such a user may also write it."""
    return getattr(obj, "_jindu_access", "") == "capture"


def in_roots(org_unit_id: int, roots: frozenset[int]) -> bool:
    return (
        bool(roots)
        and OrgUnitClosure.objects.filter(ancestor_id__in=list(roots), descendant_id=org_unit_id).exists()
    )


def access_object(
    user: Any,
    queryset: models.QuerySet[ModelT] | type[ModelT],
    pk: Any,
    *,
    action: str = READ,
    audit: bool = False,
) -> ModelT:
    """Load one object the user may act on, or raise ``NotFound`` (missing, out of scope, or the role lacks
    the permission: all three look the same to the caller) or ``BreakGlassRequired`` (protected, in the
    search scope but not the capture scope, and no grant yet).

    With ``audit=True`` a READ record is written for a successful read (required for personal records).
    """
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    model = queryset.model
    if not user_may(user, model, action):
        # Same answer as "missing": do not reveal that the object exists.
        raise NotFound()
    org_field = getattr(model, "scope_org_field", "org_unit")
    check_capture = action == WRITE or getattr(model, "protected", False)
    if check_capture and getattr(user, "_capture_root_ids", None) is None:
        # Whether the object lies in the capture scope, answered by the same query that loads it.
        queryset = queryset.annotate(  # type: ignore[assignment]  # same rows, one more column
            _jindu_in_capture=models.Exists(
                OrgUnitClosure.objects.filter(
                    descendant_id=models.OuterRef(org_field), ancestor_id__in=user.capture_scope.values("pk")
                )
            )
        )
    try:
        obj = queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    org_unit_id = getattr(obj, f"{org_field}_id")
    if getattr(obj, "sealed", False):
        _check_sealed_access(user, obj, org_unit_id, action)
    elif check_capture:
        in_capture = getattr(obj, "_jindu_in_capture", None)
        if in_capture is None:
            in_capture = in_capture_scope(user, org_unit_id)
        if in_capture:
            obj._jindu_access = "capture"  # type: ignore[attr-defined]
        elif action == WRITE or not in_roots(org_unit_id, search_root_ids(user)):
            raise NotFound()
        elif active_grant(user, obj) is None:
            raise BreakGlassRequired(object_type_label(model), str(obj.pk))
        else:
            obj._jindu_access = "break_glass"  # type: ignore[attr-defined]
    elif not in_roots(org_unit_id, search_root_ids(user)):
        raise NotFound()
    if audit:
        from jindu.core.audit import audit_write

        audit_write(action=AuditAction.READ, actor=user, obj=obj)
    return obj


def may_open_sealed(user: Any, obj: models.Model, org_unit_id: int) -> bool:
    """Whether the user is of the designated role for sealed records and the record lies in their capture
    scope (the owner org unit's own office)."""
    permission = getattr(type(obj), "sealed_read_permission", "")
    return (
        bool(permission) and user.has_jindu_perm(permission) and in_roots(org_unit_id, capture_root_ids(user))
    )


def _check_sealed_access(user: Any, obj: models.Model, org_unit_id: int, action: str) -> None:
    """A sealed record is read-only and invisible (NotFound) to everybody except the designated role of its
    owner org unit, who must still break the glass, even inside the capture scope."""
    if action == WRITE or not may_open_sealed(user, obj, org_unit_id):
        raise NotFound()
    if active_grant(user, obj) is None:
        raise BreakGlassRequired(object_type_label(type(obj)), str(obj.pk))


def require_permission(user: Any, permission: str) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_jindu_perm(permission):
        raise Forbidden()


def resolve_model(object_type: str) -> type[models.Model]:
    from django.apps import apps

    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        raise ServiceError(
            _("Unknown object type %(object_type)s.") % {"object_type": repr(object_type)},
            code="unknown_object_type",
        ) from None


def break_glass_open(*, user: Any, object_type: str, object_id: str, reason: str) -> BreakGlassGrant:
    """Grant the user time-limited access to one protected record in their search scope, with an audit
    record carrying the reason. Refused (NotFound) outside the search scope."""
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ServiceError(
            _("Give a reason of at least 10 characters."),
            code="reason_required",
            fields={"reason": pgettext("field error", "too short")},
        )
    model = resolve_model(object_type)
    if not getattr(model, "protected", False):
        raise ServiceError(
            _("This kind of record is not protected; no reason is needed."), code="not_protected"
        )
    if not user_may(user, model, READ):
        raise NotFound()
    try:
        obj = model._default_manager.get(pk=object_id)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    org_unit_id = getattr(obj, f"{getattr(model, 'scope_org_field', 'org_unit')}_id")
    if getattr(obj, "sealed", False):
        if not may_open_sealed(user, obj, org_unit_id):
            raise NotFound()
    elif not in_roots(org_unit_id, search_root_ids(user)):
        raise NotFound()
    from jindu.core.audit import audit_write

    with transaction.atomic():
        now = timezone.now()
        grant = BreakGlassGrant.objects.create(
            user=user,
            content_type=ContentType.objects.get_for_model(model),
            object_id=str(obj.pk),
            reason=reason,
            granted_at=now,
            expires_at=now + dt.timedelta(seconds=settings.JINDU_BREAK_GLASS_SECONDS),
        )
        audit_write(
            action=AuditAction.BREAK_GLASS,
            actor=user,
            obj=obj,
            detail={"reason": reason, "expires_at": grant.expires_at.isoformat()},
        )
    return grant
