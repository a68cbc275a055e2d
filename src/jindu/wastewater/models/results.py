"""Stored results: each measurement's daily load and load per 1000 inhabitants with their Monte Carlo intervals."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel
from jindu.wastewater.models.catalogue import Analyte
from jindu.wastewater.models.samples import Measurement, WastewaterSample
from jindu.wastewater.models.sites import PopulationEstimate, SamplingSite
from jindu.wastewater.permissions import MANAGE_FACTORS, VIEW_WASTEWATER


class ResultStatus(models.TextChoices):
    COMPUTED = "computed", _("Computed")
    BELOW_LOQ = "below_loq", _("Below LOQ")
    QA_FAILED = "qa_failed", _("Blocked by QA")
    NO_POPULATION = "no_population", _("No population estimate")


class AnalyteResult(OrgScopedModel):
    """The back-calculation of one measurement (wbe.md §1): daily load (mg/day) and population-normalised load
    (mg/day/1000 inhabitants), each a deterministic point value plus the 2.5th, 50th and 97.5th percentiles of a
    seeded 10,000-draw simulation. Consumption depends on the correction-factor set chosen when reading, so it is
    derived at read time from these values, the error model and the seed stored here (``results.py``).

    A row is rewritten whenever its inputs change (the sample, the site's default population, the settings), and
    it names what it was computed from: the population estimate, the settings version, the error model and seed."""

    measurement = models.OneToOneField(
        Measurement, primary_key=True, on_delete=models.CASCADE, related_name="result"
    )
    # The recomputation rewrites hundreds of thousands of rows: only the indexes reads use are kept. A site's
    # series (site, analyte, day) and scoped lists (org_path, day) have their own below; the sample's is kept for
    # the cascade when a sample is deleted. The other keys are never searched by.
    org_unit = models.ForeignKey(
        "core.OrgUnit", verbose_name=_("org unit"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    sample = models.ForeignKey(WastewaterSample, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(SamplingSite, on_delete=models.CASCADE, related_name="+", db_index=False)
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="+", db_index=False)
    end_date = models.DateField(_("end date"))
    status = models.CharField(_("status"), max_length=16, choices=ResultStatus.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    load_mg_per_day = models.FloatField(_("load (mg/day)"), null=True)
    load_p2_5 = models.FloatField(null=True)
    load_median = models.FloatField(null=True)
    load_p97_5 = models.FloatField(null=True)
    per_1000 = models.FloatField(_("load per 1000 (mg/day/1000)"), null=True)
    per_1000_p2_5 = models.FloatField(null=True)
    per_1000_median = models.FloatField(null=True)
    per_1000_p97_5 = models.FloatField(null=True)
    # Under the LOQ: the load per 1000 the LOQ itself would give (an upper bound, never used as a value).
    loq_per_1000 = models.FloatField(_("LOQ as load per 1000"), null=True)
    population = models.PositiveIntegerField(_("population"), null=True)
    population_estimate = models.ForeignKey(
        PopulationEstimate, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    sampling_rsd = models.FloatField(default=0)
    flow_rsd = models.FloatField(default=0)
    analysis_rsd = models.FloatField(default=0)
    population_rsd = models.FloatField(default=0)
    seed = models.BigIntegerField(_("seed"), default=0)
    draws = models.PositiveIntegerField(_("draws"), default=0)
    settings_version = models.ForeignKey(
        "core.PolicyVersion", null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    computed_at = models.DateTimeField(_("computed at"))

    scope_read_permission = VIEW_WASTEWATER
    scope_write_permission = MANAGE_FACTORS

    class Meta:
        verbose_name = _("result")
        verbose_name_plural = _("results")
        indexes = [
            models.Index(fields=["org_path", "end_date"], name="ww_result_scope_order"),
            models.Index(fields=["site", "analyte", "end_date"], name="ww_result_series"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.analyte_id} {self.end_date}: {self.per_1000}"
