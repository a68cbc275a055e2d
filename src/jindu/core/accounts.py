"""Account services: creating users with roles and scopes, logging in (lockout, TOTP), API tokens."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy
from django_otp.plugins.otp_totp.models import TOTPDevice

from jindu.core import context
from jindu.core.audit import audit_write
from jindu.core.crypto import constant_time_equal, get_provider
from jindu.core.errors import Forbidden, NotFound, ServiceError, join_problems
from jindu.core.models import ApiToken, AuditAction, AuditResult, LoginAttempt, OrgUnit, User, UserRole
from jindu.core.roles import SEPARATED_ADMIN_ROLES, Perm, Role
from jindu.core.scoping import capture_root_ids, in_roots, require_permission
from jindu.core.validators import validate_id_number, validate_mobile, validate_uscc

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
TOKEN_PREFIX = "jdt"

# How user_create names the fields in its summary message (English: the field keys themselves).
FIELD_NAMES = {
    "username": pgettext_lazy("account field", "username"),
    "org_unit": pgettext_lazy("account field", "org_unit"),
    "scope": pgettext_lazy("account field", "scope"),
    "id_number": pgettext_lazy("account field", "id_number"),
    "phone": pgettext_lazy("account field", "phone"),
    "enterprise_code": pgettext_lazy("account field", "enterprise_code"),
    "password": pgettext_lazy("account field", "password"),
}


def check_roles(roles: list[str]) -> list[str]:
    """Known role codes, with 三权分立: at most one of the three administrator roles."""
    unknown = [role for role in roles if role not in Role.values]
    if unknown:
        raise ServiceError(
            _("Unknown role %(roles)s; use one of %(choices)s.")
            % {"roles": ", ".join(unknown), "choices": ", ".join(Role.values)},
            code="unknown_role",
            fields={"roles": pgettext("field error", "unknown")},
        )
    if not roles:
        raise ServiceError(
            _("A user needs at least one role."),
            code="role_required",
            fields={"roles": pgettext("field error", "required")},
        )
    admins = sorted(set(roles) & SEPARATED_ADMIN_ROLES)
    if len(admins) > 1:
        # Translators: joins the role codes in "one user cannot hold sysadmin and auditadmin".
        separator = pgettext("between role codes", " and ")
        raise ServiceError(
            _("Separation of duties (三权分立): one user cannot hold %(roles)s.")
            % {"roles": separator.join(admins)},
            code="separation_of_duties",
            fields={"roles": pgettext("field error", "separation of duties")},
        )
    return sorted(set(roles))


@dataclass
class NewUser:
    user: User
    otpauth_uri: str = ""


def user_create(
    *,
    actor: Any,
    username: str,
    password: str,
    roles: list[str],
    org_unit_code: str,
    search_scope_codes: list[str] | None = None,
    capture_scope_codes: list[str] | None = None,
    full_name: str = "",
    id_number: str = "",
    phone: str = "",
    email: str = "",
    enterprise_code: str = "",
) -> NewUser:
    """Create an account. The capture scope defaults to the user's org unit and the search scope to the
    capture scope. Roles that require two-factor authentication get a TOTP device whose provisioning URI
    is returned once. ``actor`` None means the CLI (an operator on the server)."""
    fields: dict[str, str] = {}
    if not USERNAME_PATTERN.fullmatch(username or ""):
        fields["username"] = _("3 to 64 letters, digits or . _ @ -")
    elif User.objects.filter(username=username).exists():
        fields["username"] = _("already taken")
    roles = check_roles(list(roles))
    org_unit = OrgUnit.objects.filter(code=org_unit_code).first()
    if org_unit is None:
        fields["org_unit"] = _("org unit %(code)s does not exist") % {"code": org_unit_code}
    capture_codes = capture_scope_codes or ([org_unit_code] if org_unit else [])
    search_codes = search_scope_codes or []
    scope_units = {
        unit.code: unit for unit in OrgUnit.objects.filter(code__in=[*capture_codes, *search_codes])
    }
    missing = [code for code in [*capture_codes, *search_codes] if code not in scope_units]
    if missing:
        fields["scope"] = _("unknown org units %(codes)s") % {"codes": ", ".join(missing)}
    clean_id = clean_phone = clean_enterprise = ""
    try:
        clean_id = validate_id_number(id_number) if id_number else ""
    except ValidationError as error:
        fields["id_number"] = " ".join(error.messages)
    try:
        clean_phone = validate_mobile(phone) if phone else ""
    except ValidationError as error:
        fields["phone"] = " ".join(error.messages)
    if Role.ENTERPRISE in roles and not enterprise_code:
        fields["enterprise_code"] = _("enterprise users are scoped to one enterprise: give its credit code")
    try:
        clean_enterprise = validate_uscc(enterprise_code) if enterprise_code else ""
    except ValidationError as error:
        fields["enterprise_code"] = " ".join(error.messages)
    try:
        validate_password(password, User(username=username, full_name=full_name))
    except ValidationError as error:
        fields["password"] = " ".join(error.messages)
    if actor is not None:
        require_permission(actor, Perm.MANAGE_USERS)
        # 三权分立: the three administrator roles are granted only by the server operator (the CLI), so no
        # administrator can create, and keep the credentials of, another administrator.
        admin_roles = sorted(set(roles) & SEPARATED_ADMIN_ROLES)
        if admin_roles:
            fields["roles"] = _(
                "administrator roles (%(roles)s) are granted only with `jindu createuser`"
            ) % {"roles": ", ".join(admin_roles)}
        roots = capture_root_ids(actor)
        outside = [code for code, unit in scope_units.items() if not in_roots(unit.pk, roots)]
        if org_unit is not None and not in_roots(org_unit.pk, roots):
            outside.append(org_unit.code)
        if outside:
            fields["scope"] = _("outside your capture scope: %(codes)s") % {
                "codes": ", ".join(sorted(set(outside)))
            }
    if fields:
        problems = join_problems(
            # Translators: one problem in "The account cannot be created: …", e.g. "username: already taken".
            pgettext("field and its problem", "%(field)s: %(problem)s")
            % {"field": FIELD_NAMES.get(name, name), "problem": problem}
            for name, problem in fields.items()
        )
        raise ServiceError(
            _("The account cannot be created: %(problems)s") % {"problems": problems}, fields=fields
        )

    with transaction.atomic():
        user = User(
            username=username,
            full_name=full_name,
            org_unit=org_unit,
            id_number=clean_id,
            phone=clean_phone,
            email=email,
            enterprise_code=clean_enterprise,
            # An initial password chosen by an administrator is known to them: the owner replaces it (and
            # enrols their own authenticator) at first login.
            must_change_password=actor is not None,
        )
        user.set_password(password)
        user.save()
        UserRole.objects.bulk_create([UserRole(user=user, role=role) for role in roles])
        user.capture_scope.set([scope_units[code] for code in capture_codes])
        user.search_scope.set(
            [scope_units[code] for code in search_codes] or [scope_units[c] for c in capture_codes]
        )
        otpauth_uri = ""
        if user.requires_two_factor and actor is None:
            device = TOTPDevice.objects.create(user=user, name="default", confirmed=True)
            otpauth_uri = device.config_url
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=user,
            detail={
                "roles": roles,
                "capture_scope": capture_codes,
                "search_scope": search_codes or capture_codes,
            },
        )
    return NewUser(user=user, otpauth_uri=otpauth_uri)


def user_unlock(*, actor: Any, user: User) -> None:
    """Clear a lockout (安全管理员)."""
    require_permission(actor, Perm.MANAGE_SECURITY)
    with transaction.atomic():
        user.locked_until = None
        user.save(update_fields=["locked_until"])
        audit_write(action=AuditAction.UPDATE, actor=actor, obj=user, detail={"unlocked": True})


def user_set_active(*, actor: Any, user: User, active: bool) -> None:
    """Disable or re-enable an account; disabling revokes its API tokens. Administrator accounts are
    managed with the CLI only (三权分立: one administrator cannot switch off the auditor)."""
    require_permission(actor, Perm.MANAGE_USERS)
    if not in_roots(user.org_unit_id, capture_root_ids(actor)):
        raise NotFound()
    if user.role_codes & SEPARATED_ADMIN_ROLES:
        raise Forbidden(_("Administrator accounts are managed with the jindu command on the server."))
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit_write(action=AuditAction.UPDATE, actor=actor, obj=user, detail={"is_active": active})


def user_change_password(*, user: User, current_password: str, new_password: str) -> None:
    """A user changes their own password; other sessions and API tokens stop working."""
    if not user.check_password(current_password or ""):
        raise ServiceError(
            _("The current password is wrong."),
            code="wrong_password",
            fields={"current_password": pgettext("field error", "wrong")},
        )
    try:
        validate_password(new_password, user)
    except ValidationError as error:
        raise ServiceError(
            " ".join(error.messages),
            code="weak_password",
            fields={"new_password": pgettext("field error", "weak")},
        ) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit_write(action=AuditAction.UPDATE, actor=user, obj=user, detail={"password": "changed"})


# Login ------------------------------------------------------------------------------------------------


class AuthError(ServiceError):
    status = 401


MESSAGES = {
    "invalid_credentials": gettext_lazy("Wrong username or password."),
    "account_locked": gettext_lazy("Too many failed attempts: the account is locked for a while."),
    "otp_required": gettext_lazy("This account needs a one-time code from its authenticator app."),
    "otp_invalid": gettext_lazy("The one-time code is wrong or expired."),
    "two_factor_not_enrolled": gettext_lazy(
        "This role requires two-factor authentication, but no authenticator is enrolled. "
        "Ask the security administrator."
    ),
    "inactive": gettext_lazy("This account is disabled."),
}

NOT_COUNTED_FOR_LOCKOUT = ("account_locked", "otp_required", "two_factor_not_enrolled")

_DUMMY_HASH = None


def _fail(username: str, user: User | None, reason: str, channel: str) -> AuthError:
    now = timezone.now()
    with transaction.atomic():
        LoginAttempt.objects.create(
            username=username[:64],
            occurred_at=now,
            succeeded=False,
            reason=reason,
            client_address=context.current().client_address[:64],
            channel=channel,
        )
        lock_now = False
        # A missing code (the client has not asked for it yet) is not a guess; a wrong code is.
        if user is not None and reason not in NOT_COUNTED_FOR_LOCKOUT:
            window_start = now - dt.timedelta(seconds=settings.JINDU_LOCKOUT_WINDOW_SECONDS)
            last_success = (
                LoginAttempt.objects.filter(username=username, succeeded=True)
                .order_by("-occurred_at")
                .first()
            )
            if last_success and last_success.occurred_at > window_start:
                window_start = last_success.occurred_at
            failures = (
                LoginAttempt.objects.filter(username=username, succeeded=False, occurred_at__gt=window_start)
                .exclude(reason__in=NOT_COUNTED_FOR_LOCKOUT)
                .count()
            )
            if failures >= settings.JINDU_LOCKOUT_FAILURES:
                user.locked_until = now + dt.timedelta(seconds=settings.JINDU_LOCKOUT_SECONDS)
                user.save(update_fields=["locked_until"])
                lock_now = True
        audit_write(
            action=AuditAction.LOGIN_FAILED,
            actor=None,
            actor_username=username[:64],
            object_type="core.user" if user else "",
            object_id=str(user.pk) if user else "",
            result=AuditResult.DENIED,
            detail={"reason": reason, "channel": channel, **({"locked": True} if lock_now else {})},
        )
    return AuthError(str(MESSAGES[reason]), code=reason)


class SetupRequired(AuthError):
    """The password was right, but the account still has its administrator-chosen initial password:
    the owner must choose their own (and enrol an authenticator where the role needs one) first."""

    def __init__(self, user: User, channel: str) -> None:
        message = (
            _("First login: choose your own password to continue.")
            if channel == "web"
            else _("First login: finish setting up this account in the web interface.")
        )
        super().__init__(str(message), code="setup_required")
        self.user = user


def _record_success(user: User, channel: str, *, device: Any, stage: str = "") -> None:
    LoginAttempt.objects.create(
        username=user.username,
        succeeded=True,
        reason=stage,
        client_address=context.current().client_address[:64],
        channel=channel,
    )
    if not stage:
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
        audit_write(
            action=AuditAction.LOGIN, actor=user, obj=user, detail={"channel": channel, "otp": bool(device)}
        )


def auth_login(*, username: str, password: str, otp: str = "", channel: str = "web") -> tuple[User, Any]:
    """Check password, lockout and TOTP; record the attempt and an audit record either way.

    Returns the user and the verified OTP device (None when the account has no second factor).
    Raises ``AuthError`` (``SetupRequired`` at the first login of an account created by an administrator)."""
    global _DUMMY_HASH
    username = (username or "").strip()
    outcome: AuthError | None = None
    device = None
    with transaction.atomic():
        # Serialise attempts on one account, so that parallel guesses cannot outrun the failure count.
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            # Spend the same time as a real check so that usernames cannot be probed by timing.
            _DUMMY_HASH = _DUMMY_HASH or make_password("jindu-dummy-password")
            from django.contrib.auth.hashers import check_password

            check_password(password or "", _DUMMY_HASH)
            outcome = _fail(username, None, "invalid_credentials", channel)
        elif user.is_locked():
            outcome = _fail(username, user, "account_locked", channel)
        elif not user.check_password(password or ""):
            outcome = _fail(username, user, "invalid_credentials", channel)
        elif not user.is_active:
            outcome = _fail(username, user, "inactive", channel)
        elif user.must_change_password:
            _record_success(user, channel, device=None, stage="setup_required")
            outcome = SetupRequired(user, channel)
        else:
            devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
            if devices or user.requires_two_factor:
                if not devices:
                    outcome = _fail(username, user, "two_factor_not_enrolled", channel)
                elif not otp:
                    outcome = _fail(username, user, "otp_required", channel)
                else:
                    device = next((d for d in devices if d.verify_token(otp.strip())), None)
                    if device is None:
                        outcome = _fail(username, user, "otp_invalid", channel)
            if outcome is None:
                _record_success(user, channel, device=device)
    if outcome is not None:
        raise outcome
    assert user is not None
    return user, device


def setup_device(user: User) -> TOTPDevice:
    """The unconfirmed authenticator being enrolled at first login (created on first use)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name="default", confirmed=False)


def user_complete_setup(*, user: User, new_password: str, otp: str = "") -> Any:
    """Finish a first login: the owner's own password and, where the role needs it, a confirmed
    authenticator. Returns the confirmed device (or None)."""
    if user.check_password(new_password or ""):
        raise ServiceError(
            str(_("Choose a password different from the initial one.")),
            code="same_password",
            fields={"new_password": str(_("same as the initial password"))},
        )
    try:
        validate_password(new_password, user)
    except ValidationError as error:
        raise ServiceError(
            " ".join(error.messages), code="weak_password", fields={"new_password": "weak"}
        ) from None
    device = None
    if user.requires_two_factor:
        device = setup_device(user)
        if not otp or not device.verify_token(otp.strip()):
            raise ServiceError(
                str(MESSAGES["otp_invalid"]), code="otp_invalid", fields={"otp": str(_("wrong or expired"))}
            )
    with transaction.atomic():
        user.set_password(new_password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        if device is not None:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit_write(
            action=AuditAction.UPDATE,
            actor=user,
            obj=user,
            detail={"first_login": "completed", "two_factor": device is not None},
        )
        _record_success(user, "web", device=device)
    return device


# API tokens -------------------------------------------------------------------------------------------


def _token_digest(raw: str) -> str:
    return get_provider().sm3(raw.encode())


def token_issue(*, user: User) -> tuple[str, ApiToken]:
    """Create a bearer token; the secret is returned once and only its SM3 digest is stored."""
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            prefix=prefix,
            digest=_token_digest(raw),
            expires_at=timezone.now() + dt.timedelta(seconds=settings.JINDU_API_TOKEN_SECONDS),
            client_address=context.current().client_address[:64],
        )
        audit_write(action=AuditAction.CREATE, actor=user, obj=token, object_repr=f"API token {prefix}")
    return raw, token


def token_lookup(raw: str) -> ApiToken | None:
    """The valid token behind a bearer string, or None (unknown, wrong secret, expired, revoked)."""
    parts = (raw or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if token is None or not constant_time_equal(token.digest, _token_digest(raw.strip())):
        return None
    now = timezone.now()
    # A lockout stops password guessing; tokens issued before it stay valid, like sessions (see auth.py).
    if not token.is_valid(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke(*, actor: Any, token: ApiToken) -> None:
    """Revoke a token (its owner, or a security administrator)."""
    if token.user_id != actor.pk:
        require_permission(actor, Perm.MANAGE_SECURITY)
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=token,
            object_repr=f"API token {token.prefix}",
            detail={"revoked": True},
        )
