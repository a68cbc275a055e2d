"""The substance catalogue (易制毒化学品品种目录): versioned by listing dates, never an enum."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SubstanceCategory(models.IntegerChoices):
    """第一类 (main raw materials), 第二类 and 第三类 (reagents)."""

    CATEGORY_1 = 1, _("Category 1")
    CATEGORY_2 = 2, _("Category 2")
    CATEGORY_3 = 3, _("Category 3")


class SubstanceQuerySet(models.QuerySet["Substance"]):
    def listed_on(self, day: dt.date) -> SubstanceQuerySet:
        """The catalogue in force on ``day``: listed by then and not delisted yet."""
        return self.filter(Q(listed_until__isnull=True) | Q(listed_until__gt=day), listed_from__lte=day)


class Substance(models.Model):
    """One listed substance. The catalogue grows by State Council approval and 公安部 notices; each row carries
    the day it was listed (and delisted), the notice, and whether its data were checked against the official
    text (rows the reference marks VERIFY ship with ``verified=False`` and the UI says so)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=128)
    name_en = models.CharField(_("English name"), max_length=128)
    cas = models.CharField(_("CAS number"), max_length=12, blank=True)
    # Catalogue items that group several compounds (麻黄素类) list the others' CAS numbers here.
    other_cas = models.JSONField(_("other CAS numbers"), default=list, blank=True)
    hs_code = models.CharField(_("HS code"), max_length=16, blank=True)
    category = models.PositiveSmallIntegerField(_("category"), choices=SubstanceCategory.choices)
    drug_class = models.BooleanField(_("pharmaceutical (药品类)"), default=False)
    includes_salts = models.BooleanField(_("salts included"), default=True)
    listed_from = models.DateField(_("listed from"))
    listed_until = models.DateField(_("listed until"), null=True, blank=True)
    source_notice = models.CharField(_("source notice"), max_length=200, blank=True)
    verified = models.BooleanField(_("verified against the official text"), default=False)
    note = models.TextField(_("note"), blank=True)

    objects = SubstanceQuerySet.as_manager()

    class Meta:
        verbose_name = _("substance")
        verbose_name_plural = _("substances")
        ordering = ["category", "code"]
        indexes = [models.Index(fields=["cas"], name="substance_cas")]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.cas or '—'})"


class MixtureRule(models.Model):
    """A mixture exemption: products holding less than ``max_fraction`` of the substance need no licence or
    filing (e.g. GBL below 60 % in photoresists, below 20 % in printing inks, from 2024-01-01); records are
    still kept."""

    substance = models.ForeignKey(Substance, on_delete=models.PROTECT, related_name="mixture_rules")
    max_fraction = models.DecimalField(_("below this mass fraction"), max_digits=6, decimal_places=5)
    product_types = models.JSONField(_("product types"), default=list, blank=True)
    effective_from = models.DateField(_("effective from"))
    effective_until = models.DateField(_("effective until"), null=True, blank=True)
    source_notice = models.CharField(_("source notice"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("mixture rule")
        verbose_name_plural = _("mixture rules")

    def __str__(self) -> str:
        return f"{self.substance.code} < {self.max_fraction}"
