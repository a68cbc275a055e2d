"""Alerts raised by the evaluation (脱管, relapse, serious violation) and their escalation steps."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel, SealableMixin
from jindu.people.permissions import CHANGE_PERSON, OPEN_SEALED_PERSON, VIEW_PERSON


class AlertKind(models.TextChoices):
    LOST_CONTACT = "lost_contact", _("Lost contact")  # 脱管
    RELAPSE = "relapse", _("Relapse")  # 复吸 (positive test)
    SERIOUS_VIOLATION = "serious_violation", _("Serious violation")  # 严重违反协议


class AlertLevel(models.TextChoices):
    """Who is on the hook: the alert climbs one level per escalation step."""

    WORKER = "worker", _("Social worker")  # 社工
    STREET_OFFICE = "street_office", _("Street anti-drug office")  # 街道禁毒办
    POLICE = "police", _("Community police")  # 社区民警


ALERT_LEVEL_ORDER = [AlertLevel.WORKER, AlertLevel.STREET_OFFICE, AlertLevel.POLICE]


class Alert(SealableMixin, OrgScopedModel):
    """An open or resolved alert about a person. At most one open alert of a kind per person."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="alerts")
    enrollment = models.ForeignKey(
        "people.Enrollment", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=AlertKind.choices)
    raised_on = models.DateField(_("raised on"))
    level = models.CharField(_("level"), max_length=16, choices=AlertLevel.choices, default=AlertLevel.WORKER)
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)
    resolution = models.CharField(_("resolution"), max_length=200, blank=True)

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [
            models.Index(fields=["org_path", "raised_on"], name="alert_scope_order"),
            models.Index(fields=["person", "kind", "resolved_on"], name="alert_person_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.raised_on} ({self.level})"


class AlertEscalation(models.Model):
    """One dated step of an alert: raised at a level, escalated to the next, or resolved."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="escalations")
    level = models.CharField(_("level"), max_length=16, choices=AlertLevel.choices)
    date = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("alert escalation")
        ordering = ["date", "id"]

    def __str__(self) -> str:
        return f"{self.level} {self.date}"
