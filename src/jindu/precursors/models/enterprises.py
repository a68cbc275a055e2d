"""Firms handling precursors, their sites and industrial parks, and who may act for a firm."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from jindu.core.models import OrgScopedModel
from jindu.precursors.permissions import MANAGE_ENTERPRISES, VIEW_PRECURSORS


class IndustrialPark(OrgScopedModel):
    """An industrial park (化工园区), the unit of 排查 inspections."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("industrial park")
        verbose_name_plural = _("industrial parks")
        indexes = [models.Index(fields=["org_path", "name"], name="park_scope_order")]

    def __str__(self) -> str:
        return self.name


class EnterpriseStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("enterprise status", "Active")
    SUSPENDED = "suspended", pgettext_lazy("enterprise status", "Suspended")
    CLOSED = "closed", pgettext_lazy("enterprise status", "Closed")


class Enterprise(OrgScopedModel):
    """A firm producing, trading, using, storing or carrying precursors. The org unit is the district or
    county that supervises it. Its own users (role ``enterprise``) act for it because their account names
    its credit code (``User.enterprise_code``), not through org-unit scopes."""

    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)  # 统一社会信用代码
    name = models.CharField(_("name"), max_length=200)
    park = models.ForeignKey(
        IndustrialPark,
        verbose_name=_("industrial park"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enterprises",
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    legal_representative = models.CharField(_("legal representative"), max_length=100, blank=True)
    responsible_person = models.CharField(_("responsible person"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    activities = models.JSONField(_("activities"), default=list, blank=True)  # produce, trade, use, store…
    status = models.CharField(
        _("status"), max_length=16, choices=EnterpriseStatus.choices, default=EnterpriseStatus.ACTIVE
    )
    # 禁毒信用: the latest official grade (A/B/C/D; blank until first graded) and score, kept by the credit
    # service; supervision intensity and 智能备案 follow the grade.
    credit_grade = models.CharField(_("credit grade"), max_length=1, blank=True)
    credit_score = models.PositiveSmallIntegerField(_("credit score"), null=True, blank=True)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        indexes = [models.Index(fields=["org_path", "name"], name="enterprise_scope_order")]

    def __str__(self) -> str:
        return self.name

    @property
    def party_uri(self) -> str:
        """The firm as an EPCIS party (owning/possessing party) when it has no GS1 GLN."""
        return f"urn:jindu:party:{self.uscc}"


class Site(models.Model):
    """A place of a firm (plant, warehouse): an EPCIS read point or business location."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    # urn:jindu:loc:<USCC>:<site>, or the site's SGLN when the firm has GS1 numbers.
    location_uri = models.CharField(_("location URI"), max_length=256, unique=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return f"{self.enterprise} · {self.name}"
