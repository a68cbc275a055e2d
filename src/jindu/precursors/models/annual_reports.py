"""Annual reports (年度报告) of precursor firms: one per firm and calendar year, due by 31 March of the next year
(``permit_rules.annual_report_deadline``, a versioned policy).

A report belongs to the district that supervises the firm (a copy of the firm's org unit), so the offices and
police of that district read it (``precursors.view_precursors``) and review it (``precursors.manage_enterprises``)
through their scopes; the firm's own users reach their firm's reports through their firm
(``jindu.precursors.annual_reports`` selectors).

Nothing a firm submits is ever overwritten. Each submission is a numbered ``AnnualReportRevision`` holding, per
substance, the figures the platform computed from the firm's captured ledger at that moment and the figures the
firm declared (``AnnualReportLine``); a correction before the office's review adds revision 2, 3, …, and the
report points at its latest. Timeliness is judged by the first submission (``submitted_at``): a correction after
the deadline of a report filed in time does not make it late.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import EncryptedTextField
from jindu.core.models import OrgScopedModel
from jindu.precursors.permissions import MANAGE_ENTERPRISES, VIEW_PRECURSORS

# The annual totals of one substance, in the order of the balance equation (precursors.md §4.1).
FIGURES = (
    "opening_stock",
    "receipts",
    "production",
    "shipments",
    "consumption",
    "documented_losses",
    "closing_stock",
)
FIGURE_LABELS = {
    "opening_stock": _("Opening stock"),
    "receipts": _("Receipts"),
    "production": _("Production"),
    "shipments": _("Shipments"),
    "consumption": _("Consumption"),
    "documented_losses": _("Documented losses"),
    "closing_stock": _("Closing stock"),
}


class AnnualReportStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    RETURNED = "returned", _("Returned for correction")
    REVIEWED = "reviewed", _("Reviewed")


class AnnualReport(OrgScopedModel):
    """A firm's annual report for one calendar year (``year``): when it was first submitted and by whom, the
    deadline in force then (``due_on``, with the permit-rules version it came from), its current revision, and
    the office's review. Submitted → reviewed (accepted, locked) or returned (the firm corrects and submits a
    new revision, which makes it submitted again)."""

    enterprise = models.ForeignKey(
        "precursors.Enterprise",
        on_delete=models.PROTECT,
        related_name="annual_reports",
        verbose_name=_("firm"),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    status = models.CharField(
        _("status"), max_length=12, choices=AnnualReportStatus.choices, default=AnnualReportStatus.SUBMITTED
    )
    due_on = models.DateField(_("due on"))
    rules_version = models.ForeignKey(
        "core.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The first submission: what timeliness is judged by.
    submitted_at = models.DateTimeField(_("submitted"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revision = models.PositiveSmallIntegerField(_("revision"), default=1)
    revised_at = models.DateTimeField(_("last revised"))
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(_("office's note"), blank=True)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("annual report")
        verbose_name_plural = _("annual reports")
        indexes = [models.Index(fields=["org_path", "year"], name="annual_report_scope_order")]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "year"], name="annual_report_once"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.year}"

    @property
    def submitted_on(self) -> dt.date:
        return timezone.localdate(self.submitted_at)

    @property
    def is_late(self) -> bool:
        """First submitted after the deadline."""
        return self.submitted_on > self.due_on

    @property
    def days_late(self) -> int:
        return max((self.submitted_on - self.due_on).days, 0)


class AnnualReportRevision(models.Model):
    """One submission of a report (revision 1 is the first): who sent it, when, the firm's note, and whether the
    platform's figures could be computed (``platform_available``). Revisions are never changed or deleted."""

    report = models.ForeignKey(AnnualReport, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveSmallIntegerField(_("revision"))
    submitted_at = models.DateTimeField(_("submitted"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(_("firm's note"), blank=True)
    platform_available = models.BooleanField(_("platform figures available"), default=True)

    class Meta:
        verbose_name = _("annual report revision")
        verbose_name_plural = _("annual report revisions")
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="annual_report_revision_once"),
        ]

    def __str__(self) -> str:
        return f"{self.report_id} r{self.number}"


def _platform(label: Any) -> models.DecimalField:
    # Sums of captured kg pure (6 decimals, like EpcisQuantity.kg_pure); a year-end book stock may be negative
    # (more recorded going out than coming in), and None means the platform could not compute the figure.
    return models.DecimalField(label, max_digits=20, decimal_places=6, null=True, blank=True)


def _declared(label: Any) -> models.DecimalField:
    # What the firm declares, in kg pure to the gram (like application quantities), never negative.
    return models.DecimalField(label, max_digits=14, decimal_places=3)


class AnnualReportLine(models.Model):
    """One substance of a revision: the seven annual totals in kg of pure substance as the platform computed them
    from the captured ledger (``platform_*``: the pre-filled values) and as the firm declared them
    (``declared_*``). A substance the platform never saw has platform figures of zero."""

    revision = models.ForeignKey(AnnualReportRevision, on_delete=models.PROTECT, related_name="lines")
    substance = models.ForeignKey("precursors.Substance", on_delete=models.PROTECT, related_name="+")
    platform_opening_stock = _platform(_("platform: opening stock"))
    platform_receipts = _platform(_("platform: receipts"))
    platform_production = _platform(_("platform: production"))
    platform_shipments = _platform(_("platform: shipments"))
    platform_consumption = _platform(_("platform: consumption"))
    platform_documented_losses = _platform(_("platform: documented losses"))
    platform_closing_stock = _platform(_("platform: closing stock"))
    declared_opening_stock = _declared(_("declared: opening stock"))
    declared_receipts = _declared(_("declared: receipts"))
    declared_production = _declared(_("declared: production"))
    declared_shipments = _declared(_("declared: shipments"))
    declared_consumption = _declared(_("declared: consumption"))
    declared_documented_losses = _declared(_("declared: documented losses"))
    declared_closing_stock = _declared(_("declared: closing stock"))

    class Meta:
        verbose_name = _("annual report line")
        verbose_name_plural = _("annual report lines")
        constraints = [
            models.UniqueConstraint(fields=["revision", "substance"], name="annual_report_line_once"),
        ]

    def __str__(self) -> str:
        return f"{self.revision_id} {self.substance_id}"


class AnnualReportFile(models.Model):
    """A file attached to a report (PDF, JPEG or PNG, at most 10 MB, e.g. the signed paper form), stored
    encrypted (base64 inside the SM4-GCM envelope) with the SM3 digest of its bytes; ``revision`` is the
    revision it came with."""

    report = models.ForeignKey(AnnualReport, on_delete=models.PROTECT, related_name="files")
    revision = models.PositiveSmallIntegerField(_("revision"))
    file_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    digest = models.CharField(_("SM3 digest"), max_length=64)
    content = EncryptedTextField(_("content"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("annual report file")
        verbose_name_plural = _("annual report files")

    def __str__(self) -> str:
        return self.file_name
