"""Casework around a person: help measures (帮扶) and social-worker assignments (指派)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel, SealableMixin
from jindu.people.permissions import CHANGE_PERSON, OPEN_SEALED_PERSON, VIEW_PERSON


class HelpKind(models.TextChoices):
    VOCATIONAL_TRAINING = "vocational_training", _("Vocational training")  # 职业技能培训
    JOB_PLACEMENT = "job_placement", _("Job placement")  # 就业安置
    LEGAL_AID = "legal_aid", _("Legal aid")  # 法律援助
    COUNSELLING = "counselling", _("Psychological counselling")  # 心理咨询
    MEDICAL_AID = "medical_aid", _("Medical aid")  # 医疗救助
    SUBSISTENCE = "subsistence", _("Minimum living allowance")  # 低保
    WELFARE_POST = "welfare_post", _("Public-welfare post")  # 公益性岗位


class HelpOutcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Not obtained")
    DECLINED = "declined", _("Declined by the person")


class HelpMeasure(SealableMixin, OrgScopedModel):
    """帮扶: a referral to a helping agency, and later its outcome."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="help_measures")
    kind = models.CharField(_("kind"), max_length=24, choices=HelpKind.choices)
    referred_on = models.DateField(_("referred on"))
    provider = models.CharField(_("provider"), max_length=100, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=HelpOutcome.choices, default="pending")
    outcome_on = models.DateField(_("outcome on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("help measure")
        verbose_name_plural = _("help measures")
        indexes = [
            models.Index(fields=["person", "referred_on"], name="help_person_date"),
            models.Index(fields=["org_path"], name="help_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.referred_on} ({self.outcome})"


class WorkerAssignment(SealableMixin, OrgScopedModel):
    """指派 history: who was in charge of a person from when to when (the current one has no end)."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="assignments")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    start = models.DateField(_("from"))
    end = models.DateField(_("until"), null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("worker assignment")
        verbose_name_plural = _("worker assignments")
        indexes = [
            models.Index(fields=["person", "start"], name="assignment_person_start"),
            models.Index(fields=["worker", "end"], name="assignment_worker_end"),
            models.Index(fields=["org_path"], name="assignment_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} {self.start}–{self.end or ''}"
