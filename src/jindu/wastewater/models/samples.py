"""Samples (24-hour composites), their measurements, and the lab files they came from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel
from jindu.wastewater.models.catalogue import Analyte
from jindu.wastewater.models.sites import SamplingSite
from jindu.wastewater.permissions import CAPTURE_SAMPLES, VIEW_WASTEWATER


class LabImport(OrgScopedModel):
    """One lab file taken in (CSV or Excel): stored whole or not at all. Its SM3 digest makes a second import
    of the same file a no-op. The org unit is the importer's."""

    file_name = models.CharField(_("file name"), max_length=200)
    digest = models.CharField(_("SM3 digest"), max_length=64, unique=True)
    size = models.PositiveIntegerField(_("size (bytes)"))
    rows = models.PositiveIntegerField(_("rows"), default=0)
    samples_created = models.PositiveIntegerField(_("samples created"), default=0)
    samples_updated = models.PositiveIntegerField(_("samples changed"), default=0)
    samples_unchanged = models.PositiveIntegerField(_("samples unchanged"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_WASTEWATER
    scope_write_permission = CAPTURE_SAMPLES

    class Meta:
        verbose_name = _("lab import")
        verbose_name_plural = _("lab imports")
        indexes = [models.Index(fields=["org_path", "created"], name="ww_import_scope_order")]

    def __str__(self) -> str:
        return self.file_name


class SamplingMode(models.TextChoices):
    FLOW_PROPORTIONAL = "flow", _("Flow-proportional")
    VOLUME_PROPORTIONAL = "volume", _("Volume-proportional")
    TIME_PROPORTIONAL = "time", _("Time-proportional")
    GRAB = "grab", _("Grab sample")


class WastewaterSample(OrgScopedModel):
    """A 24-hour composite of raw influent, labelled by the day it ends (as EUDA does), with the influent flow of
    the same 24 hours. One per site and day; the org unit is the site's."""

    site = models.ForeignKey(SamplingSite, on_delete=models.PROTECT, related_name="samples")
    end_date = models.DateField(_("end date"))
    flow_m3_per_day = models.DecimalField(_("influent flow (m³/d)"), max_digits=12, decimal_places=2)
    sampling_mode = models.CharField(
        _("sampling mode"), max_length=8, choices=SamplingMode.choices, default=SamplingMode.FLOW_PROPORTIONAL
    )
    # Reported by the plant: judge the day on loads, not concentrations (wbe.md §6.3).
    rain = models.BooleanField(_("rain day"), default=False)
    lab = models.CharField(_("laboratory"), max_length=100, blank=True)
    method = models.CharField(_("method"), max_length=64, blank=True)  # e.g. JD/YJY02.10-2021
    analysed_on = models.DateField(_("analysed on"), null=True, blank=True)
    lab_import = models.ForeignKey(
        LabImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="samples"
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    scope_read_permission = VIEW_WASTEWATER
    scope_write_permission = CAPTURE_SAMPLES
    scope_org_field = "org_unit"

    class Meta:
        verbose_name = _("sample")
        verbose_name_plural = _("samples")
        # The unique constraint's index on (site, end_date) serves a site's series.
        indexes = [models.Index(fields=["org_path", "end_date"], name="ww_sample_scope_order")]
        constraints = [models.UniqueConstraint(fields=["site", "end_date"], name="ww_one_sample_per_day")]

    def __str__(self) -> str:
        return f"{self.site.code} {self.end_date}"


class Measurement(models.Model):
    """One analyte's result in a sample. A value under the limit of quantification is stored as a flag plus the
    LOQ, never as a made-up number; QA figures (recovery, replicate RSD) can block its use."""

    sample = models.ForeignKey(WastewaterSample, on_delete=models.CASCADE, related_name="measurements")
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="+")
    ng_per_l = models.DecimalField(
        _("concentration (ng/L)"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    below_loq = models.BooleanField(_("below LOQ"), default=False)
    loq = models.DecimalField(_("LOQ (ng/L)"), max_digits=12, decimal_places=4, null=True, blank=True)
    lod = models.DecimalField(_("LOD (ng/L)"), max_digits=12, decimal_places=4, null=True, blank=True)
    recovery_percent = models.DecimalField(
        _("recovery (%)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    replicate_rsd_percent = models.DecimalField(
        _("replicate RSD (%)"), max_digits=6, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("measurement")
        verbose_name_plural = _("measurements")
        constraints = [
            models.UniqueConstraint(fields=["sample", "analyte"], name="ww_one_measurement_per_analyte"),
            # A quantified value, or a flag without one: never both, never neither.
            models.CheckConstraint(
                condition=models.Q(below_loq=True, ng_per_l__isnull=True)
                | models.Q(below_loq=False, ng_per_l__isnull=False),
                name="ww_value_or_below_loq",
            ),
        ]

    def __str__(self) -> str:
        value = f"<LOQ {self.loq}" if self.below_loq else f"{self.ng_per_l} ng/L"
        return f"{self.analyte_id}: {value}"
