"""Anomaly flags on the wastewater series (wbe.md §6.3): each explains itself and is reviewed by a person."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from jindu.core.models import OrgScopedModel
from jindu.wastewater.models.catalogue import Analyte
from jindu.wastewater.models.samples import WastewaterSample
from jindu.wastewater.models.sites import SamplingSite
from jindu.wastewater.permissions import REVIEW_ANOMALIES, VIEW_WASTEWATER


class AnomalyLevel(models.TextChoices):
    NOTICE = "notice", pgettext_lazy("anomaly level", "Notice")
    WARNING = "warning", pgettext_lazy("anomaly level", "Warning")
    ALERT = "alert", pgettext_lazy("anomaly level", "Alert")


class AnomalyStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("anomaly status", "New")
    CONFIRMED = "confirmed", pgettext_lazy("anomaly status", "Confirmed")
    DISMISSED = "dismissed", pgettext_lazy("anomaly status", "Dismissed")
    # Set by the engine, never by a reviewer: a rerun over the flag's day no longer finds it (a value corrected).
    WITHDRAWN = "withdrawn", pgettext_lazy("anomaly status", "Withdrawn")


class WastewaterAnomaly(OrgScopedModel):
    """A flag raised by one anomaly rule on a site (and sample, analyte) with the figures behind it. ``message``
    is an English template translated when shown, filled with ``params``; ``evidence`` lists the values and
    thresholds. Re-running the rules never duplicates a flag (``dedup_key``)."""

    site = models.ForeignKey(SamplingSite, on_delete=models.CASCADE, related_name="anomalies")
    sample = models.ForeignKey(
        WastewaterSample, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    analyte = models.ForeignKey(Analyte, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(_("rule"), max_length=32)
    level = models.CharField(_("level"), max_length=8, choices=AnomalyLevel.choices)
    day = models.DateField(_("day"))
    message = models.CharField(_("message"), max_length=400)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    evidence = models.JSONField(_("evidence"), default=list, blank=True)
    dedup_key = models.CharField(_("key"), max_length=200, unique=True)
    status = models.CharField(
        _("status"), max_length=12, choices=AnomalyStatus.choices, default=AnomalyStatus.NEW
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)

    scope_read_permission = VIEW_WASTEWATER
    scope_write_permission = REVIEW_ANOMALIES

    class Meta:
        verbose_name = _("anomaly")
        verbose_name_plural = _("anomalies")
        indexes = [
            models.Index(fields=["org_path", "day"], name="ww_anomaly_scope_order"),
            models.Index(fields=["site", "day"], name="ww_anomaly_site_day"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.site_id} {self.day}"
