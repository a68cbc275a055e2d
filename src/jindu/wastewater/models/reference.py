"""International comparison data: the EUDA/SCORE European multi-city study (``jindu wastewater import-euda``).

The published values are uncorrected residue loads in mg/day/1000 inhabitants, one spring week per site and
year (Wednesday to Tuesday); 0 means below the quantification limit and an empty cell no data."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.wastewater.models.catalogue import Analyte


class ReferenceSite(models.Model):
    """A site of a published comparison set (EUDA site id, city, population)."""

    source = models.CharField(_("source"), max_length=32)
    code = models.CharField(_("code"), max_length=32)
    country = models.CharField(_("country"), max_length=8)
    city = models.CharField(_("city"), max_length=100)
    location = models.CharField(_("location"), max_length=200, blank=True)
    latitude = models.FloatField(_("latitude"), null=True)
    longitude = models.FloatField(_("longitude"), null=True)
    population = models.PositiveIntegerField(_("population"), null=True)
    institution = models.CharField(_("institution"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("reference site")
        verbose_name_plural = _("reference sites")
        constraints = [models.UniqueConstraint(fields=["source", "code"], name="ww_reference_site_once")]

    def __str__(self) -> str:
        return f"{self.city} ({self.code})"


class ReferenceWeek(models.Model):
    """One site's sampling week for one metabolite and year: the daily values by weekday and the means the
    source published (kept to check our arithmetic against)."""

    site = models.ForeignKey(ReferenceSite, on_delete=models.CASCADE, related_name="weeks")
    year = models.PositiveSmallIntegerField(_("year"))
    metabolite = models.CharField(_("metabolite"), max_length=32)
    analyte = models.ForeignKey(Analyte, null=True, on_delete=models.PROTECT, related_name="+")
    # Python weekday number ("0" = Monday) → value, or null for no data; below-LOQ days are listed separately.
    values = models.JSONField(_("values"), default=dict)
    below_loq_days = models.JSONField(_("days below LOQ"), default=list)
    published_daily = models.FloatField(_("published daily mean"), null=True)
    published_weekday = models.FloatField(_("published weekday mean"), null=True)
    published_weekend = models.FloatField(_("published weekend mean"), null=True)

    class Meta:
        verbose_name = _("reference week")
        verbose_name_plural = _("reference weeks")
        constraints = [
            models.UniqueConstraint(fields=["site", "year", "metabolite"], name="ww_reference_week_once")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.metabolite} {self.year}"


class ReferenceChange(models.Model):
    """A published year-on-year change of a site's daily mean, with the source's label."""

    site = models.ForeignKey(ReferenceSite, on_delete=models.CASCADE, related_name="changes")
    metabolite = models.CharField(_("metabolite"), max_length=32)
    year_current = models.PositiveSmallIntegerField(_("year"))
    year_previous = models.PositiveSmallIntegerField(_("previous year"), null=True)
    value_current = models.FloatField(_("value"))
    value_previous = models.FloatField(_("previous value"), null=True)
    change_percent = models.FloatField(_("change (%)"), null=True)
    label = models.CharField(_("label"), max_length=32)

    class Meta:
        verbose_name = _("reference change")
        verbose_name_plural = _("reference changes")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "metabolite", "year_current"], name="ww_reference_change_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.metabolite} {self.year_current}: {self.label}"


class ReferenceTrend(models.Model):
    """A published aggregate series (EUDA's population-weighted mean per metabolite and year)."""

    source = models.CharField(_("source"), max_length=32)
    metabolite = models.CharField(_("metabolite"), max_length=32)
    year = models.PositiveSmallIntegerField(_("year"))
    value = models.FloatField(_("value"))

    class Meta:
        verbose_name = _("reference trend")
        verbose_name_plural = _("reference trends")
        constraints = [
            models.UniqueConstraint(fields=["source", "metabolite", "year"], name="ww_reference_trend_once")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.metabolite} {self.year}: {self.value}"
