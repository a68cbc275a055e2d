"""Versioned configuration with effective dates: rules that differ by province, city or year.

Test frequencies, risk instruments, scoring sheets, correction factors and chemical lists are all
``PolicyVersion`` rows of some ``kind``. The rule in force for an org unit on a date is the version of
the nearest region (the unit itself, then its ancestors, then the national default with no region)
whose ``effective_from`` is the latest not after that date.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PolicyVersion(models.Model):
    """One version of one policy kind for one region, in force from ``effective_from``."""

    kind = models.CharField(_("kind"), max_length=64, db_index=True)
    region = models.ForeignKey(
        "core.OrgUnit",
        verbose_name=_("region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    effective_from = models.DateField(_("effective from"))
    label = models.CharField(_("label"), max_length=100)
    payload = models.JSONField(_("rules"))
    source = models.CharField(_("source"), max_length=200, blank=True, help_text=_("Legal basis or notice"))
    is_default = models.BooleanField(_("shipped default"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("policy version")
        ordering = ["kind", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "region", "effective_from"], name="policy_version_unique"
            ),
            # NULLs are distinct in a unique index, so the national default needs its own constraint.
            models.UniqueConstraint(
                fields=["kind", "effective_from"],
                condition=models.Q(region__isnull=True),
                name="policy_version_national_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.label} ({self.effective_from})"
