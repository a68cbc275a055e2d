"""Server-rendered UI of the core app: login, workbench, org units, users, audit, security, jobs."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tables2 import RequestConfig

from jindu.core import accounts, jobs, orgunits, selectors
from jindu.core.apiutil import RateLimited, rate_limit
from jindu.core.audit import audit_write
from jindu.core.errors import BreakGlassRequired, Forbidden, NotFound, ServiceError
from jindu.core.exports import export_csv
from jindu.core.filters import AuditFilter, UserFilter
from jindu.core.forms import (
    BreakGlassForm,
    FirstLoginForm,
    LoginForm,
    OrgUnitForm,
    OrgUnitImportForm,
    PasswordChangeForm,
    TwoFactorConfirmForm,
    UserCreateForm,
    add_service_error,
)
from jindu.core.models import (
    ALLOWED_CHILD_LEVELS,
    ApiToken,
    AuditAction,
    JobStatus,
    LoginAttempt,
    OrgLevel,
    OrgUnit,
    User,
    UserRole,
)
from jindu.core.roles import TWO_FACTOR_REQUIRED_ROLES, Perm, Role
from jindu.core.scoping import (
    break_glass_open,
    capture_root_ids,
    descendant_ids,
    in_roots,
    require_permission,
    search_root_ids,
)
from jindu.core.tables import AuditTable, JobTable, UserTable


def totp_qr_svg(device: TOTPDevice) -> str:
    """The enrolment QR code of an authenticator, as inline SVG (no image request, nothing stored)."""
    import qrcode
    import qrcode.image.svg

    return qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).to_string().decode()


def ui_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Turn service errors into the UI's answers: 404, 403, or the break-the-glass form."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BreakGlassRequired as needed:
            query = urlencode(
                {"object_type": needed.object_type, "object_id": needed.object_id, "next": request.path}
            )
            return redirect(reverse("core:break_glass") + "?" + query)
        except NotFound:
            raise Http404() from None
        except Forbidden:
            raise PermissionDenied() from None

    return wrapper


ACCESS_ERRORS = (NotFound, Forbidden, BreakGlassRequired)


def show_refusal(request: HttpRequest, error: ServiceError) -> None:
    """Show a refused form or action as an error message on the next page: the service's message and each
    problem as "field: problem". ``status`` (the object's current state, not a problem) is left out, and so is a
    problem the message already states ("The year is not valid: year: …"). Access errors are raised again for
    ``ui_errors`` to answer (404, 403, break the glass)."""
    if isinstance(error, ACCESS_ERRORS):
        raise error
    problems = "; ".join(
        pair
        for pair in (f"{name}: {problem}" for name, problem in error.fields.items() if name != "status")
        if pair not in error.message
    )
    messages.error(request, f"{error.message} {problems}".strip() if problems else error.message)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and dependencies, no authentication: database and broker."""
    database: dict[str, Any] = {"vendor": connection.vendor}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database["ok"] = True
    except Exception as error:  # noqa: BLE001 - report any database failure
        database.update(ok=False, error=type(error).__name__)
    broker = jobs.broker_status()
    healthy = database["ok"] and broker["ok"]
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "database": database, "broker": broker},
        status=200 if healthy else 503,
    )


def api_not_found(request: HttpRequest) -> JsonResponse:
    """Unknown paths under /api/v1 answer in the API's error shape, not with an HTML page."""
    message = _("No API endpoint at %(path)s.") % {"path": request.path}
    return JsonResponse({"error": {"code": "not_found", "message": message, "fields": {}}}, status=404)


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rate_limit(request, scope="web-login", limit=settings.JINDU_AUTH_RATE_LIMIT)
            user, device = accounts.auth_login(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                otp=form.cleaned_data["otp"],
                channel="web",
            )
        except accounts.SetupRequired as setup:
            request.session[SETUP_SESSION_KEY] = {
                "user": setup.user.pk,
                "at": int(time.time()),
                "next": next_url,
            }
            return redirect("core:first_login")
        except (accounts.AuthError, RateLimited) as error:
            form.add_error(None, error.message)
        else:
            django_login(request, user, backend="jindu.core.auth.JinduModelBackend")
            if device is not None:
                otp_login(request, device)
            return redirect(next_url or "core:workbench")
    return render(request, "core/login.html", {"form": form, "next": next_url})


SETUP_SESSION_KEY = "jindu_first_login"
SETUP_SECONDS = 10 * 60


@require_http_methods(["GET", "POST"])
def first_login(request: HttpRequest) -> HttpResponse:
    """After a correct initial password: choose one's own password and, for roles that require it,
    enrol an authenticator; then the session is logged in. Valid for 10 minutes after the password."""
    pending = request.session.get(SETUP_SESSION_KEY) or {}
    user = User.objects.filter(pk=pending.get("user"), is_active=True, must_change_password=True).first()
    if user is None or int(time.time()) - int(pending.get("at", 0)) > SETUP_SECONDS:
        request.session.pop(SETUP_SESSION_KEY, None)
        messages.info(request, _("Log in again to finish setting up your account."))
        return redirect("core:login")
    form = FirstLoginForm(request.POST or None, needs_otp=user.requires_two_factor)
    device = accounts.setup_device(user) if user.requires_two_factor else None
    if request.method == "POST" and form.is_valid():
        try:
            confirmed = accounts.user_complete_setup(
                user=user,
                new_password=form.cleaned_data["new_password"],
                otp=form.cleaned_data.get("otp", ""),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            request.session.pop(SETUP_SESSION_KEY, None)
            django_login(request, user, backend="jindu.core.auth.JinduModelBackend")
            if confirmed is not None:
                otp_login(request, confirmed)
            messages.success(request, _("Your account is ready."))
            # login_view only stores a "next" it has checked against the host.
            return redirect(pending.get("next") or "core:workbench")
    qr_svg = ""
    if device is not None:
        qr_svg = totp_qr_svg(device)
    return render(request, "core/first_login.html", {"form": form, "account": user, "qr_svg": qr_svg})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit_write(action=AuditAction.LOGOUT, actor=request.user, obj=request.user)
    django_logout(request)
    return redirect("core:login")


# Domain apps add cards to the workbench: callables (request) -> dict | None with title/template/context.
WORKBENCH_CARDS: list[Callable[[HttpRequest], dict | None]] = []


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    scope_units = OrgUnit.objects.filter(pk__in=search_root_ids(user)).order_by("code")
    units_in_scope = OrgUnit.objects.filter(pk__in=descendant_ids(search_root_ids(user)))
    by_level = dict(units_in_scope.values_list("level").annotate(n=Count("pk")).values_list("level", "n"))
    chart = {
        "labels": [
            str(label) for value, label in OrgUnit._meta.get_field("level").choices if value in by_level
        ],
        "values": [
            by_level[value] for value, _label in OrgUnit._meta.get_field("level").choices if value in by_level
        ],
    }
    cards = [card for card in (factory(request) for factory in WORKBENCH_CARDS) if card]
    recent_logins = LoginAttempt.objects.filter(username=user.username).order_by("-occurred_at")[:5]
    return render(
        request,
        "core/workbench.html",
        {
            "scope_units": scope_units,
            "unit_count": sum(by_level.values()),
            "chart": chart,
            "cards": cards,
            "recent_logins": recent_logins,
            "needs_two_factor_setup": not user.requires_two_factor
            and not TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        },
    )


# Org units -------------------------------------------------------------------------------------------


@login_required
@ui_errors
def orgunit_list(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, Perm.MANAGE_ORGUNITS)
    parent_code = request.GET.get("parent") or ""
    parent = orgunits.orgunit_get(parent_code) if parent_code else None
    # parent=None selects the roots.
    children = OrgUnit.objects.filter(parent=parent).annotate(child_count=Count("children")).order_by("code")
    child_levels = [
        value
        for value, _label in OrgLevel.choices
        if value in ALLOWED_CHILD_LEVELS.get(parent.level if parent else None, set())
    ]
    form = OrgUnitForm(request.POST or None, initial={"level": child_levels[0] if child_levels else ""})
    if request.method == "POST" and form.is_valid() and parent is not None:
        try:
            orgunits.orgunit_create(
                actor=request.user,
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                level=form.cleaned_data["level"],
                parent_code=parent.code,
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Org unit created."))
            return redirect(reverse("core:orgunit_list") + "?parent=" + parent.code)
    return render(
        request,
        "core/orgunit_list.html",
        {
            "parent": parent,
            "ancestors": orgunits.orgunit_ancestors(parent) if parent else [],
            "children": children,
            "form": form,
            "import_form": OrgUnitImportForm(),
            "may_edit": parent is not None and in_roots(parent.pk, capture_root_ids(request.user)),
        },
    )


@login_required
@require_POST
@ui_errors
def orgunit_import(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, Perm.MANAGE_ORGUNITS)
    form = OrgUnitImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a CSV file."))
        return redirect("core:orgunit_list")
    try:
        text = form.cleaned_data["file"].read().decode("utf-8-sig")
    except UnicodeDecodeError:
        messages.error(request, _("The file is not UTF-8 text."))
        return redirect("core:orgunit_list")
    rows, problems = orgunits.parse_orgunit_csv(text)
    report = orgunits.orgunits_import(actor=request.user, rows=rows) if not problems else None
    problems = problems or (report.errors if report else [])
    if problems:
        for problem in problems[:20]:
            messages.error(request, problem)
        messages.error(request, _("Nothing was imported."))
    elif report:
        messages.success(
            request,
            _("Imported: %(created)d created, %(updated)d renamed.")
            % {"created": report.created, "updated": report.updated},
        )
    return redirect("core:orgunit_list")


# Users -------------------------------------------------------------------------------------------------


@login_required
@ui_errors
def user_list(request: HttpRequest) -> HttpResponse:
    queryset = selectors.users_for(request.user)
    user_filter = UserFilter(request.GET, queryset=queryset)
    table = UserTable(user_filter.qs.distinct())
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(
        request,
        "core/user_list.html",
        {"table": table, "filter": user_filter, "may_create": request.user.has_jindu_perm(Perm.MANAGE_USERS)},
    )


@login_required
@ui_errors
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.access_user(request.user, pk)
    viewer: User = request.user  # type: ignore[assignment]
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "unlock":
            accounts.user_unlock(actor=viewer, user=account)
            messages.success(request, _("Account unlocked."))
        elif action in {"disable", "enable"}:
            accounts.user_set_active(actor=viewer, user=account, active=action == "enable")
            messages.success(request, _("Account updated."))
        return redirect("core:user_detail", pk=account.pk)
    return render(
        request,
        "core/user_detail.html",
        {
            "account": account,
            "roles": [Role(r.role).label for r in account.roles.all()],
            "capture_scope": account.capture_scope.all(),
            "search_scope": account.search_scope.all(),
            "may_manage": viewer.has_jindu_perm(Perm.MANAGE_USERS),
            "may_unlock": viewer.has_jindu_perm(Perm.MANAGE_SECURITY),
            "has_totp": TOTPDevice.objects.filter(user=account, confirmed=True).exists(),
        },
    )


@login_required
@ui_errors
def user_create(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, Perm.MANAGE_USERS)
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = accounts.user_create(
                actor=request.user,
                username=data["username"],
                password=data["password"],
                roles=data["roles"],
                org_unit_code=data["org_unit"].strip(),
                search_scope_codes=[c.strip() for c in data["search_scope"].split(",") if c.strip()],
                full_name=data["full_name"],
                id_number=data["id_number"],
                phone=data["phone"],
                enterprise_code=data["enterprise_code"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Account created."))
            return redirect("core:user_detail", pk=created.user.pk)
    return render(request, "core/user_form.html", {"form": form})


# Break the glass ---------------------------------------------------------------------------------------


@login_required
@ui_errors
def break_glass(request: HttpRequest) -> HttpResponse:
    object_type = request.GET.get("object_type") or request.POST.get("object_type") or ""
    object_id = request.GET.get("object_id") or request.POST.get("object_id") or ""
    next_url = request.GET.get("next") or request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            break_glass_open(
                user=request.user,
                object_type=object_type,
                object_id=object_id,
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as error:
            if isinstance(error, NotFound):
                raise
            form.add_error(None, error.message)
        else:
            messages.warning(request, _("Access granted for a limited time. This access is audited."))
            return redirect(next_url or "core:workbench")
    return render(
        request,
        "core/break_glass.html",
        {
            "form": form,
            "object_type": object_type,
            "object_id": object_id,
            "next": next_url,
            "hours": settings.JINDU_BREAK_GLASS_SECONDS / 3600,
        },
    )


# Audit -------------------------------------------------------------------------------------------------


@login_required
@ui_errors
def audit_list(request: HttpRequest) -> HttpResponse:
    queryset = selectors.audit_search(request.user)
    audit_filter = AuditFilter(request.GET, queryset=queryset)
    table = AuditTable(audit_filter.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    if request.method == "POST" and request.POST.get("action") == "verify":
        job = jobs.job_start(name="audit_verify", actor=request.user)
        return redirect("core:job_detail", pk=job.pk)
    if request.GET.get("export") == "csv":
        try:
            return export_csv(
                user=request.user,
                filename=f"audit-{timezone.localdate():%Y%m%d}.csv",
                header=[
                    "sequence",
                    "time",
                    "actor",
                    "action",
                    "object_type",
                    "object_id",
                    "object",
                    "org_unit",
                    "result",
                    "client_address",
                    "detail",
                ],
                rows=(
                    (
                        r.sequence,
                        timezone.localtime(r.occurred_at).isoformat(),
                        r.actor_username,
                        r.action,
                        r.object_type,
                        r.object_id,
                        r.object_repr,
                        r.org_unit_code,
                        r.result,
                        r.client_address,
                        json.dumps(r.detail, ensure_ascii=False),
                    )
                    for r in audit_filter.qs.order_by("sequence").iterator()
                ),
                object_type="core.auditrecord",
                purpose=request.GET.get("purpose", ""),
                filters={k: v for k, v in request.GET.items() if k not in {"export", "purpose"} and v},
            )
        except ServiceError as error:
            messages.error(request, error.message)
    return render(request, "core/audit_list.html", {"table": table, "filter": audit_filter})


# Security (安全管理员) -------------------------------------------------------------------------------------


@login_required
@ui_errors
def security(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, Perm.MANAGE_SECURITY)
    scoped_users = User.objects.filter(org_unit_id__in=descendant_ids(search_root_ids(request.user)))
    if request.method == "POST":
        token_id = request.POST.get("token", "")
        token = (
            ApiToken.objects.filter(pk=int(token_id), user__in=scoped_users).select_related("user").first()
            if token_id.isdigit()
            else None
        )
        if token is not None:
            accounts.token_revoke(actor=request.user, token=token)
            messages.success(request, _("Token revoked."))
        return redirect("core:security")
    now = timezone.now()
    return render(
        request,
        "core/security.html",
        {
            "locked": scoped_users.filter(locked_until__gt=now).select_related("org_unit"),
            "tokens": ApiToken.objects.filter(
                revoked_at__isnull=True, expires_at__gt=now, user__in=scoped_users
            ).select_related("user"),
            "settings": {
                "idle": settings.JINDU_IDLE_TIMEOUT_SECONDS // 60,
                "failures": settings.JINDU_LOCKOUT_FAILURES,
                "window": settings.JINDU_LOCKOUT_WINDOW_SECONDS // 60,
                "lockout": settings.JINDU_LOCKOUT_SECONDS // 60,
                "break_glass": settings.JINDU_BREAK_GLASS_SECONDS // 3600,
                "active_key": settings.JINDU_KEYRING.active_data_key,
            },
            "two_factor_roles": [Role(r).label for r in sorted(TWO_FACTOR_REQUIRED_ROLES)],
        },
    )


# Jobs --------------------------------------------------------------------------------------------------


@login_required
@ui_errors
def job_list(request: HttpRequest) -> HttpResponse:
    table = JobTable(selectors.jobs_for(request.user))
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(request, "core/job_list.html", {"table": table})


@login_required
@ui_errors
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.jobs_for(request.user).filter(pk=pk).first()
    if job is None:
        raise Http404()
    template = "core/job_progress.html" if request.headers.get("HX-Request") else "core/job_detail.html"
    return render(
        request, template, {"job": job, "running": job.status in {JobStatus.PENDING, JobStatus.RUNNING}}
    )


# Profile and two-factor enrolment ---------------------------------------------------------------------


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    device = TOTPDevice.objects.filter(user=user).order_by("-confirmed").first()
    form = TwoFactorConfirmForm(request.POST if request.POST.get("action") == "confirm" else None)
    password_form = PasswordChangeForm(request.POST if request.POST.get("action") == "password" else None)
    if request.method == "POST" and request.POST.get("action") == "password" and password_form.is_valid():
        try:
            accounts.user_change_password(
                user=user,
                current_password=password_form.cleaned_data["current_password"],
                new_password=password_form.cleaned_data["new_password"],
            )
        except ServiceError as error:
            password_form.add_error(None, error.message)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("Password changed."))
            return redirect("core:profile")
    if request.method == "POST":
        if request.POST.get("action") == "start" and (device is None or not device.confirmed):
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            TOTPDevice.objects.create(user=user, name="default", confirmed=False)
            return redirect("core:profile")
        if (
            request.POST.get("action") == "confirm"
            and device is not None
            and not device.confirmed
            and form.is_valid()
        ):
            if device.verify_token(form.cleaned_data["otp"].strip()):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                audit_write(
                    action=AuditAction.UPDATE, actor=user, obj=user, detail={"two_factor": "enrolled"}
                )
                messages.success(request, _("Two-factor authentication is on."))
                return redirect("core:profile")
            form.add_error("otp", _("The one-time code is wrong or expired."))
    qr_svg = ""
    if device is not None and not device.confirmed:
        qr_svg = totp_qr_svg(device)
    return render(
        request,
        "core/profile.html",
        {
            "device": device,
            "form": form,
            "password_form": password_form,
            "qr_svg": qr_svg,
            "roles": [Role(code).label for code in sorted(user.role_codes)],
            "role_rows": UserRole.objects.filter(user=user),
        },
    )
