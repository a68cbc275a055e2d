"""Inspections (检查), findings, rectification orders (整改) with their evidence, and penalty cases (处罚).

Every row belongs to the district that supervises the firm (a copy of the firm's org unit, or of the park's for a
排查 campaign), so the offices and police of that district read it (``precursors.view_precursors``) and write it
(``precursors.manage_enterprises``) through their scopes; the firm's own users reach their firm's rows through
their firm (``jindu.precursors.inspections`` selectors).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import EncryptedTextField
from jindu.core.models import OrgScopedModel
from jindu.precursors.permissions import MANAGE_ENTERPRISES, VIEW_PRECURSORS


class InspectionKind(models.TextChoices):
    ROUTINE = "routine", _("Routine (credit plan)")
    CAMPAIGN = "campaign", _("Campaign (排查)")
    FOLLOW_UP = "follow_up", _("Follow-up")


class InspectionStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    DONE = "done", _("Done")
    REFUSED = "refused", _("Refused by the firm")
    CANCELLED = "cancelled", _("Cancelled")


class ItemResult(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    NA = "na", _("Not applicable")


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MAJOR = "major", _("Major")


class RectificationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    SUBMITTED = "submitted", _("Evidence submitted")
    CLOSED = "closed", _("Closed")


class PenaltyStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DECIDED = "decided", _("Decided")


class InspectionCampaign(OrgScopedModel):
    """A 排查 over an industrial park: one planned inspection for each active firm of the park."""

    park = models.ForeignKey(
        "precursors.IndustrialPark",
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("park"),
    )
    name = models.CharField(_("name"), max_length=200)
    planned_on = models.DateField(_("planned on"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("inspection campaign")
        verbose_name_plural = _("inspection campaigns")
        indexes = [models.Index(fields=["org_path", "planned_on"], name="campaign_scope_order")]

    def __str__(self) -> str:
        return self.name


class Inspection(OrgScopedModel):
    """One inspection of a firm: planned (from the credit plan, a campaign, or as a follow-up), then done with a
    result per checklist item (``results``: item key → pass/fail/na) under the checklist version recorded in
    ``checklist``, refused by the firm, or cancelled."""

    enterprise = models.ForeignKey(
        "precursors.Enterprise", on_delete=models.PROTECT, related_name="inspections", verbose_name=_("firm")
    )
    campaign = models.ForeignKey(
        InspectionCampaign, null=True, blank=True, on_delete=models.PROTECT, related_name="inspections"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=InspectionKind.choices)
    planned_on = models.DateField(_("planned on"))
    done_on = models.DateField(_("done on"), null=True, blank=True)
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=InspectionStatus.choices, default=InspectionStatus.PLANNED
    )
    checklist = models.ForeignKey(
        "core.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    results = models.JSONField(_("results"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        indexes = [
            models.Index(fields=["org_path", "planned_on"], name="inspection_scope_order"),
            models.Index(fields=["enterprise", "planned_on"], name="inspection_firm_order"),
        ]
        constraints = [
            # The credit plan is idempotent: one routine inspection of a firm per day.
            models.UniqueConstraint(
                fields=["enterprise", "planned_on"],
                condition=Q(kind="routine"),
                name="inspection_one_routine_a_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.planned_on} {self.kind}"


class Finding(OrgScopedModel):
    """A failed checklist item of an inspection, with the inspector's description (and photos)."""

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="findings")
    enterprise = models.ForeignKey("precursors.Enterprise", on_delete=models.PROTECT, related_name="+")
    item_key = models.CharField(_("checklist item"), max_length=64)
    area = models.CharField(_("area"), max_length=16)
    description = models.TextField(_("description"))
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        indexes = [
            models.Index(fields=["org_path", "created"], name="finding_scope_order"),
            models.Index(fields=["enterprise", "created"], name="finding_firm_order"),
        ]

    def __str__(self) -> str:
        return f"{self.inspection_id} {self.item_key}"


class RectificationOrder(OrgScopedModel):
    """An order to put a finding right by a deadline (责令限期整改). The firm submits evidence; an official of the
    district verifies it: accepted → closed, rejected → open again with the reason. Overdue = not closed and the
    deadline has passed (``is_overdue``; the selectors annotate ``overdue`` for lists)."""

    finding = models.OneToOneField(Finding, on_delete=models.PROTECT, related_name="rectification")
    enterprise = models.ForeignKey(
        "precursors.Enterprise", on_delete=models.PROTECT, related_name="rectifications"
    )
    deadline = models.DateField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=12, choices=RectificationStatus.choices, default=RectificationStatus.OPEN
    )
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submission_note = models.TextField(_("firm's note"), blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("rectification order")
        verbose_name_plural = _("rectification orders")
        indexes = [
            models.Index(fields=["org_path", "deadline"], name="rectification_scope_order"),
            models.Index(fields=["enterprise", "deadline"], name="rectification_firm_order"),
        ]

    def __str__(self) -> str:
        return f"{self.finding_id} by {self.deadline}"

    def is_overdue(self, today: dt.date) -> bool:
        return self.status != RectificationStatus.CLOSED and today > self.deadline


class EvidenceFile(OrgScopedModel):
    """A photo of a finding (uploaded by the inspector) or a file of a rectification (uploaded by the firm):
    PDF, JPEG or PNG, stored encrypted (base64 in the SM4-GCM envelope) with its SM3 digest."""

    finding = models.ForeignKey(
        Finding, null=True, blank=True, on_delete=models.PROTECT, related_name="photos"
    )
    order = models.ForeignKey(
        RectificationOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="evidence"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    digest = models.CharField(_("SM3 digest"), max_length=64)
    content = EncryptedTextField(_("content"))

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        indexes = [models.Index(fields=["org_path", "created"], name="evidence_scope_order")]
        constraints = [
            models.CheckConstraint(
                condition=Q(finding__isnull=False, order__isnull=True)
                | Q(finding__isnull=True, order__isnull=False),
                name="evidence_of_finding_or_order",
            )
        ]

    def __str__(self) -> str:
        return self.file_name


class PenaltyCase(OrgScopedModel):
    """An administrative penalty case (行政处罚): the legal basis (a key of the discretion policy in force for the
    firm's district when the case was opened, ``policy``), the amount the fine is graded on (the goods' value or
    the illegal gain, ¥), the fine range the discretion table gives, and the decided fine."""

    enterprise = models.ForeignKey(
        "precursors.Enterprise", on_delete=models.PROTECT, related_name="penalties", verbose_name=_("firm")
    )
    inspection = models.ForeignKey(
        Inspection, null=True, blank=True, on_delete=models.PROTECT, related_name="penalties"
    )
    basis = models.CharField(_("legal basis"), max_length=64)
    basis_label = models.CharField(_("legal basis (label)"), max_length=300)
    citation = models.CharField(_("citation"), max_length=300)
    citation_verified = models.BooleanField(_("citation verified"), default=False)
    amount_kind = models.CharField(_("graded on"), max_length=16)  # goods_value, illegal_gain or none
    amount = models.DecimalField(_("amount (¥)"), max_digits=14, decimal_places=2, null=True, blank=True)
    facts = models.TextField(_("facts"), blank=True)
    fine_min = models.DecimalField(_("minimum fine (¥)"), max_digits=14, decimal_places=2)
    fine_max = models.DecimalField(_("maximum fine (¥)"), max_digits=14, decimal_places=2)
    policy = models.ForeignKey("core.PolicyVersion", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=8, choices=PenaltyStatus.choices, default=PenaltyStatus.OPEN
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_fine = models.DecimalField(
        _("decided fine (¥)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("penalty case")
        verbose_name_plural = _("penalty cases")
        indexes = [
            models.Index(fields=["org_path", "created"], name="penalty_scope_order"),
            models.Index(fields=["enterprise", "decided_on"], name="penalty_firm_order"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.basis}"
