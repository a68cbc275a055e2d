"""What the labs measure (analytes) and how a biomarker load becomes consumption (correction-factor sets)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AnalyteKind(models.TextChoices):
    DRUG_MARKER = "drug", _("Drug or drug metabolite")
    POPULATION_MARKER = "population", _("Population marker")
    PRECURSOR_MARKER = "precursor", _("Precursor or artefact marker")


class Analyte(models.Model):
    """A residue the labs report (the 公安部 methods JD/YJY02.10-2021 and JD/YJY02.15-2023 list them): a drug,
    a metabolite used as the drug's biomarker, a population marker (cotinine) or a precursor whose presence
    explains an artefact (ephedrine → methcathinone)."""

    code = models.SlugField(_("code"), max_length=16, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=AnalyteKind.choices)
    # The drug whose use the residue indicates (heroin for 6-MAM and morphine, cocaine for benzoylecgonine).
    drug = models.CharField(_("drug"), max_length=32, blank=True)
    molar_mass = models.DecimalField(_("molar mass (g/mol)"), max_digits=8, decimal_places=3, null=True)
    # Headers and names labs use for it (import files match them, case and spaces ignored).
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    # One of the 13 residues of the usual Chinese panel (the import template lists them).
    standard_panel = models.BooleanField(_("standard panel"), default=False)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("analyte")
        verbose_name_plural = _("analytes")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code})"


class CorrectionFactorSet(models.Model):
    """A named, versioned set of excretion fractions and molar masses. Versions are never edited: adding a set
    under an existing name creates the next version, and every consumption figure names the set and version it
    used, so that figures from different sets are never compared unawares (wbe.md §2)."""

    name = models.CharField(_("name"), max_length=64)
    version = models.PositiveIntegerField(_("version"), default=1)
    description = models.TextField(_("description"), blank=True)
    source = models.TextField(_("source"), blank=True)
    shipped = models.BooleanField(_("shipped with the platform"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("correction-factor set")
        verbose_name_plural = _("correction-factor sets")
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="cf_set_name_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


class CorrectionFactor(models.Model):
    """One analyte's factor in a set: ``CF = (M_parent / M_biomarker) / excretion_fraction``."""

    factor_set = models.ForeignKey(CorrectionFactorSet, on_delete=models.CASCADE, related_name="factors")
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="+")
    excretion_fraction = models.DecimalField(_("excretion fraction"), max_digits=8, decimal_places=6)
    parent_molar_mass = models.DecimalField(_("parent molar mass"), max_digits=8, decimal_places=3)
    biomarker_molar_mass = models.DecimalField(_("biomarker molar mass"), max_digits=8, decimal_places=3)
    # Relative SD of the excretion fraction; blank = the settings' default.
    excretion_rsd = models.DecimalField(
        _("excretion fraction RSD"), max_digits=5, decimal_places=3, null=True, blank=True
    )
    source = models.CharField(_("source"), max_length=300, blank=True)
    # False where the value was recalled from the literature and not re-read (wbe.md tag [R]).
    verified = models.BooleanField(_("verified against the source"), default=True)

    class Meta:
        verbose_name = _("correction factor")
        verbose_name_plural = _("correction factors")
        constraints = [
            models.UniqueConstraint(fields=["factor_set", "analyte"], name="cf_one_per_analyte"),
            models.CheckConstraint(
                condition=models.Q(excretion_fraction__gt=0, excretion_fraction__lte=1),
                name="cf_excretion_fraction_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.analyte.code}: {self.factor:.3f}"

    @property
    def factor(self) -> float:
        return float(self.parent_molar_mass / self.biomarker_molar_mass / self.excretion_fraction)
