"""Diversion warnings (预警): the rule catalogue's findings and their lifecycle.

A rule of ``jindu.precursors.warnings`` finds something in the captured ledgers (a shipment far above the
buyer's usual quantity, a cash payment, a balance that does not close…) and raises a ``DiversionWarning``
about one firm. The warning explains itself (an English message template with parameters, translated when
shown) and lists its evidence (events, balances, capture warnings). An official of the firm's supervising
district works it through new → assigned → verified → closed; the outcome at closing measures each rule's
precision. Every transition is a ``WarningEvent`` row and an audit record. Firms' own users never see
warnings.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _gettext
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel
from jindu.precursors.permissions import MANAGE_ENTERPRISES, VIEW_PRECURSORS


class RuleCode(models.TextChoices):
    """The anomaly rule catalogue of precursors.md §4.4."""

    A01 = "A01", _("Order inconsistent with normal consumption")
    A02 = "A02", _("New customer")
    A03 = "A03", _("Cash, barter or unusual payment")
    A04 = "A04", _("Unusual delivery")
    A05 = "A05", _("Buyer vague about the use")
    A06 = "A06", _("Unusual combination of substances")
    A07 = "A07", _("Company shopping")
    A08 = "A08", _("Mass balance beyond tolerance")
    A09 = "A09", _("Shipper–receiver difference or missing receipt")
    A10 = "A10", _("Permit problem")
    A11 = "A11", _("Late or missing filing or stocktake")
    A12 = "A12", _("Theft or missing goods")
    A13 = "A13", _("Ledger edited after the fact")
    A14 = "A14", _("Dormant firm suddenly active")
    A15 = "A15", _("Watch-list substance in unusual amounts")


class WarningLevel(models.TextChoices):
    NOTICE = "notice", _("Notice")  # 提示
    WARNING = "warning", _("Warning")  # 预警
    ALERT = "alert", _("Alert")  # 告警


LEVEL_RANK = {WarningLevel.NOTICE: 1, WarningLevel.WARNING: 2, WarningLevel.ALERT: 3}


class WarningStatus(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    VERIFIED = "verified", _("Verified")
    CLOSED = "closed", _("Closed")


class WarningOutcome(models.TextChoices):
    """How a closed warning ended; every outcome but ``false_positive`` counts as a true positive."""

    FALSE_POSITIVE = "false_positive", _("False positive")
    CORRECTED = "corrected", _("Corrected by the firm")
    REFERRED = "referred", _("Referred (应急管理 / 药监)")
    CASE_OPENED = "case_opened", _("Case opened")


TRUE_POSITIVE_OUTCOMES = (WarningOutcome.CORRECTED, WarningOutcome.REFERRED, WarningOutcome.CASE_OPENED)


class DiversionWarning(OrgScopedModel):
    """One warning about one firm, raised by a rule. The org unit is the firm's supervising district.

    ``dedup_key`` names what the warning is about (an event, a firm × substance × month…): the engine never
    raises a second open warning with the same key, and after one is closed it raises it again only with
    evidence the closed one did not hold."""

    rule = models.CharField(_("rule"), max_length=3, choices=RuleCode.choices)
    level = models.CharField(_("level"), max_length=8, choices=WarningLevel.choices)
    enterprise = models.ForeignKey(
        "precursors.Enterprise", on_delete=models.PROTECT, related_name="diversion_warnings"
    )
    substance = models.ForeignKey(
        "precursors.Substance", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    window_start = models.DateField(_("period from"), null=True, blank=True)
    window_end = models.DateField(_("period until"), null=True, blank=True)
    dedup_key = models.CharField(_("deduplication key"), max_length=200)
    # The explanation: an English message (a translatable msgid with %(name)s placeholders) and its values.
    message = models.CharField(_("message"), max_length=400)
    params = models.JSONField(_("message values"), default=dict, blank=True)
    # [{"kind": "epcis_event" | "balance" | "capture_warning", "id": …, "summary": "…", …}]
    evidence = models.JSONField(_("evidence"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=WarningStatus.choices, default=WarningStatus.NEW
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    raised_at = models.DateTimeField(_("raised"))
    as_of = models.DateField(_("evaluated for"))
    due_at = models.DateTimeField(_("SLA due"))
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=WarningOutcome.choices, blank=True)
    policy_version = models.ForeignKey(
        "core.PolicyVersion",
        verbose_name=_("rules version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("diversion warning")
        verbose_name_plural = _("diversion warnings")
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"], condition=~Q(status="closed"), name="diversion_warning_open_once"
            )
        ]
        indexes = [
            models.Index(fields=["org_path", "raised_at"], name="warning_scope_order"),
            models.Index(fields=["dedup_key"], name="warning_dedup_key"),
            models.Index(fields=["rule", "status"], name="warning_rule_status"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.level} {self.enterprise_id} ({self.status})"

    @property
    def explanation(self) -> str:
        """The message in the active language, with its values."""
        try:
            return _gettext(self.message) % (self.params or {})
        except (KeyError, TypeError, ValueError):
            return _gettext(self.message)

    @property
    def is_open(self) -> bool:
        return self.status != WarningStatus.CLOSED


class WarningEventKind(models.TextChoices):
    RAISED = "raised", _("Raised")
    UPDATED = "updated", _("New evidence")
    ASSIGNED = "assigned", _("Assigned")
    VERIFIED = "verified", _("Verified")
    CLOSED = "closed", _("Closed")


class WarningEvent(models.Model):
    """One step in a warning's history: who did what, when, with which note."""

    warning = models.ForeignKey(DiversionWarning, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(_("step"), max_length=10, choices=WarningEventKind.choices)
    status = models.CharField(_("status after"), max_length=10, choices=WarningStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("when"))
    note = models.TextField(_("note"), blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("warning event")
        verbose_name_plural = _("warning events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"
