"""Accounts: users with roles and two scopes, login attempts (for lockout) and API tokens."""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import BlindIndexField, BlindIndexSyncMixin, EncryptedTextField
from jindu.core.masking import mask_id_number, mask_phone
from jindu.core.models.base import OrgPathMixin, ScopedQuerySet
from jindu.core.roles import TWO_FACTOR_REQUIRED_ROLES, Perm, Role, permissions_for


class UserManager(BaseUserManager.from_queryset(ScopedQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(username=username)


class User(BlindIndexSyncMixin, OrgPathMixin, AbstractBaseUser):
    """A staff or partner account. Belongs to one org unit; may write in its capture scope and read in its
    search scope (both sets of subtree roots, DHIS2-style). Real-name identity fields are encrypted."""

    username = models.CharField(_("username"), max_length=64, unique=True)
    full_name = models.CharField(_("full name"), max_length=64, blank=True)
    org_unit = models.ForeignKey(
        "core.OrgUnit", verbose_name=_("org unit"), on_delete=models.PROTECT, related_name="members"
    )
    capture_scope = models.ManyToManyField(
        "core.OrgUnit", verbose_name=_("capture scope"), related_name="capture_users", blank=True
    )
    search_scope = models.ManyToManyField(
        "core.OrgUnit", verbose_name=_("search scope"), related_name="search_users", blank=True
    )
    id_number = EncryptedTextField(_("ID number"), blank=True)
    id_number_index = BlindIndexField(source="id_number", context="core.user.id_number")
    phone = EncryptedTextField(_("mobile phone"), blank=True)
    phone_index = BlindIndexField(source="phone", context="core.user.phone")
    email = models.EmailField(_("email"), blank=True)
    # 企业用户 are scoped to one enterprise, named by its unified social credit code.
    enterprise_code = models.CharField(_("enterprise credit code"), max_length=18, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    # Set when an administrator chose the password: the owner replaces it at first login.
    must_change_password = models.BooleanField(_("must change password"), default=False)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    scope_read_permission = Perm.VIEW_USERS
    scope_write_permission = Perm.MANAGE_USERS
    protected = False

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        # Scoped lists read in index order: within the jurisdiction, by username.
        indexes = [models.Index(fields=["org_path", "username"], name="user_scope_order")]

    def __str__(self) -> str:
        return self.full_name or self.username

    # Roles and permissions -------------------------------------------------------------------------
    @cached_property
    def role_codes(self) -> frozenset[str]:
        return frozenset(self.roles.values_list("role", flat=True))

    def has_role(self, role: str) -> bool:
        return role in self.role_codes

    @cached_property
    def jindu_permissions(self) -> frozenset[str]:
        return frozenset(permissions_for(self.role_codes))

    def has_jindu_perm(self, permission: str) -> bool:
        return self.is_active and permission in self.jindu_permissions

    @property
    def requires_two_factor(self) -> bool:
        return bool(self.role_codes & TWO_FACTOR_REQUIRED_ROLES)

    def role_labels(self) -> list[str]:
        return [str(Role(code).label) for code in sorted(self.role_codes)]

    # Masked display ---------------------------------------------------------------------------------
    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    def is_locked(self, now=None) -> bool:
        now = now or timezone.now()
        return self.locked_until is not None and self.locked_until > now

    # Django's auth framework asks for these; Jindu permissions go through has_jindu_perm.
    @property
    def is_staff(self) -> bool:
        return False

    @property
    def is_superuser(self) -> bool:
        return False

    def has_perm(self, perm: str, obj=None) -> bool:
        return self.has_jindu_perm(perm)

    def has_module_perms(self, app_label: str) -> bool:
        return False


class UserRole(models.Model):
    """A role held by a user (三权分立 is enforced by the account services)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)

    class Meta:
        verbose_name = _("role assignment")
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="user_role_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.role}"


class LoginAttempt(models.Model):
    """Every login attempt, kept to count recent failures for the lockout rule."""

    username = models.CharField(_("username"), max_length=64, db_index=True)
    occurred_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    succeeded = models.BooleanField(_("succeeded"))
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    client_address = models.CharField(_("client address"), max_length=64, blank=True)
    channel = models.CharField(_("channel"), max_length=16, default="web")

    class Meta:
        verbose_name = _("login attempt")
        indexes = [models.Index(fields=["username", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.username} {self.occurred_at:%Y-%m-%d %H:%M} {'ok' if self.succeeded else self.reason}"


class ApiToken(models.Model):
    """A bearer token. Only its SM3 digest is stored; the secret is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    client_address = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"

    def is_valid(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now
