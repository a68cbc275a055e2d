"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    CREATE = "CREATE", _("Create")
    UPDATE = "UPDATE", _("Update")
    DELETE = "DELETE", _("Delete")
    READ = "READ", _("Read")
    SEARCH = "SEARCH", _("Search")
    EXPORT = "EXPORT", _("Export")
    LOGIN = "LOGIN", _("Log in")
    LOGIN_FAILED = "LOGIN_FAILED", _("Failed login")
    LOGOUT = "LOGOUT", _("Log out")
    BREAK_GLASS = "BREAK_GLASS", _("Break the glass")


class AuditResult(models.TextChoices):
    SUCCESS = "success", _("Success")
    DENIED = "denied", _("Denied")
    FAILURE = "failure", _("Failure")


class AuditRecord(models.Model):
    """One audited event. ``mac`` = HMAC-SM3(audit key, canonical content ‖ previous record's mac).

    Rows are never updated or deleted (a trigger enforces it on PostgreSQL); ``jindu audit verify`` walks
    the chain in ``sequence`` order and names the first record whose MAC or link does not match.
    The actor is stored by id and username without a foreign key, so deleting an account never touches
    the trail.
    """

    sequence = models.BigIntegerField(_("sequence"), unique=True)
    occurred_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True, db_index=True)
    actor_username = models.CharField(_("actor"), max_length=64, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=16, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    org_unit_code = models.CharField(_("org unit"), max_length=32, blank=True, db_index=True)
    result = models.CharField(
        _("result"), max_length=16, choices=AuditResult.choices, default=AuditResult.SUCCESS
    )
    client_address = models.CharField(_("client address"), max_length=64, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    prev_mac = models.CharField(max_length=64, blank=True)
    mac = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["-sequence"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_type}:{self.object_id}"
