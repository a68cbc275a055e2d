"""Core API: tokens, org units, users, break the glass, audit trail, jobs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import paginate

from jindu.core import accounts, orgunits, selectors
from jindu.core.apiutil import ERRORS, PageNumber, rate_limit
from jindu.core.errors import NotFound
from jindu.core.models import User
from jindu.core.schemas import (
    AuditOut,
    BreakGlassIn,
    BreakGlassOut,
    JobOut,
    MeOut,
    OrgUnitDetailOut,
    OrgUnitIn,
    OrgUnitOut,
    TokenIn,
    TokenOut,
    UserCreatedOut,
    UserIn,
    UserOut,
)
from jindu.core.scoping import break_glass_open, capture_root_ids, search_root_ids

router = Router(tags=["core"])


@router.post("/auth/token", auth=None, response={200: TokenOut, **ERRORS}, summary="Obtain a bearer token")
def obtain_token(request: HttpRequest, payload: TokenIn) -> Any:
    rate_limit(request, scope="auth-token", limit=settings.JINDU_AUTH_RATE_LIMIT)
    user, _device = accounts.auth_login(
        username=payload.username, password=payload.password, otp=payload.otp or "", channel="api"
    )
    raw, token = accounts.token_issue(user=user)
    return {"token": raw, "expires_at": token.expires_at}


@router.delete(
    "/auth/token", response={204: None, **ERRORS}, summary="Revoke the token used for this request"
)
def revoke_token(request: HttpRequest) -> Any:
    token = getattr(request, "api_token", None)
    if token is None:
        raise NotFound(_("This request was not made with a token."))
    accounts.token_revoke(actor=request.user, token=token)
    return Status(204, None)


@router.get("/auth/me", response={200: MeOut, **ERRORS}, summary="Who am I, with roles and scopes")
def me(request: HttpRequest) -> Any:
    user: User = request.user  # type: ignore[assignment]
    from jindu.core.models import OrgUnit

    codes = dict(
        OrgUnit.objects.filter(pk__in=capture_root_ids(user) | search_root_ids(user)).values_list(
            "pk", "code"
        )
    )
    return {
        "username": user.username,
        "full_name": user.full_name,
        "roles": sorted(user.role_codes),
        "org_unit": user.org_unit.code,
        "capture_scope": sorted(codes[pk] for pk in capture_root_ids(user)),
        "search_scope": sorted(codes[pk] for pk in search_root_ids(user)),
        "permissions": sorted(user.jindu_permissions),
    }


@router.get("/orgunits", response={200: list[OrgUnitOut], **ERRORS}, summary="Children of an org unit")
def list_orgunits(request: HttpRequest, parent: str | None = None) -> Any:
    """Children of ``parent`` (the roots of the tree when it is omitted)."""
    return [{"code": u.code, "name": u.name, "level": u.level} for u in orgunits.orgunit_children(parent)]


@router.get("/orgunits/{code}", response={200: OrgUnitDetailOut, **ERRORS}, summary="One org unit")
def get_orgunit(request: HttpRequest, code: str) -> Any:
    unit = orgunits.orgunit_get(code)
    return {
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent_code": unit.ancestor_codes()[-2] if unit.depth else None,
        "path": unit.ancestor_codes(),
        "children": unit.children.count(),
    }


@router.post("/orgunits", response={201: OrgUnitOut, **ERRORS}, summary="Create an org unit")
def create_orgunit(request: HttpRequest, payload: OrgUnitIn) -> Any:
    unit = orgunits.orgunit_create(
        actor=request.user,
        code=payload.code,
        name=payload.name,
        level=payload.level,
        parent_code=payload.parent_code,
    )
    return Status(201, {"code": unit.code, "name": unit.name, "level": unit.level})


@router.get("/users", response={200: list[UserOut], **ERRORS}, summary="Accounts in my search scope")
@paginate(PageNumber)
def list_users(request: HttpRequest, q: str = "", role: str = "", org_unit: str = "") -> Any:
    return selectors.users_for(request.user, query=q, role=role, org_unit_code=org_unit)


@router.get("/users/{user_id}", response={200: UserOut, **ERRORS}, summary="One account")
def get_user(request: HttpRequest, user_id: int) -> Any:
    return selectors.access_user(request.user, user_id)


@router.post("/users", response={201: UserCreatedOut, **ERRORS}, summary="Create an account")
def create_user(request: HttpRequest, payload: UserIn) -> Any:
    created = accounts.user_create(
        actor=request.user,
        username=payload.username,
        password=payload.password,
        roles=payload.roles,
        org_unit_code=payload.org_unit,
        search_scope_codes=payload.search_scope,
        full_name=payload.full_name,
        id_number=payload.id_number,
        phone=payload.phone,
        email=payload.email,
        enterprise_code=payload.enterprise_code,
    )
    user = User.objects.select_related("org_unit").prefetch_related("roles").get(pk=created.user.pk)
    user.otpauth_uri = created.otpauth_uri  # type: ignore[attr-defined]
    return Status(201, user)


@router.post(
    "/break-glass", response={201: BreakGlassOut, **ERRORS}, summary="Open a protected record with a reason"
)
def break_glass(request: HttpRequest, payload: BreakGlassIn) -> Any:
    grant = break_glass_open(
        user=request.user, object_type=payload.object_type, object_id=payload.object_id, reason=payload.reason
    )
    return Status(
        201,
        {"object_type": payload.object_type, "object_id": grant.object_id, "expires_at": grant.expires_at},
    )


@router.get("/audit", response={200: list[AuditOut], **ERRORS}, summary="Search the audit trail")
@paginate(PageNumber)
def list_audit(
    request: HttpRequest,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    result: str = "",
) -> Any:
    return selectors.audit_search(
        request.user, actor=actor, action=action, object_type=object_type, object_id=object_id, result=result
    )


@router.get("/jobs/{job_id}", response={200: JobOut, **ERRORS}, summary="Status of a background job")
def get_job(request: HttpRequest, job_id: int) -> Any:
    job = selectors.jobs_for(request.user).filter(pk=job_id).first()
    if job is None:
        raise NotFound()
    return {k: getattr(job, k) for k in ("id", "name", "status", "progress", "total", "result", "log")}
