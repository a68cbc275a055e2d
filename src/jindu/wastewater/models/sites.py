"""Sampling sites, the org units they serve, and the estimates of the population they serve."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from jindu.core.models import OrgScopedModel
from jindu.wastewater.permissions import MANAGE_SITES, VIEW_WASTEWATER


class SiteKind(models.TextChoices):
    TREATMENT_PLANT = "plant", _("Treatment plant")  # 污水处理厂
    PUMPING_STATION = "pumping_station", _("Pumping station")  # 泵站
    MANHOLE = "manhole", _("Manhole (sewer node)")  # 管网节点/窨井


class SamplingSite(OrgScopedModel):
    """A place where 24-hour composites of raw influent are taken. The org unit is the district (or street)
    that owns the site; the units its catchment serves, with shares, are ``SiteServedArea`` rows."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=16, choices=SiteKind.choices, default=SiteKind.TREATMENT_PLANT
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    # The catchment as a GeoJSON Polygon or MultiPolygon geometry (WGS 84), drawn on the map page.
    catchment = models.JSONField(_("catchment (GeoJSON)"), null=True, blank=True)
    design_capacity_m3_per_day = models.DecimalField(
        _("design capacity (m³/d)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    # The estimate results are computed with (the analyst's choice among the site's estimates).
    default_population = models.ForeignKey(
        "wastewater.PopulationEstimate",
        verbose_name=_("default population estimate"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Relative SDs of this site's sampling and flow measurement; blank = the settings' defaults.
    sampling_rsd = models.DecimalField(
        _("sampling RSD"), max_digits=5, decimal_places=3, null=True, blank=True
    )
    flow_rsd = models.DecimalField(_("flow RSD"), max_digits=5, decimal_places=3, null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    scope_read_permission = VIEW_WASTEWATER
    scope_write_permission = MANAGE_SITES

    class Meta:
        verbose_name = _("sampling site")
        verbose_name_plural = _("sampling sites")
        indexes = [models.Index(fields=["org_path", "code"], name="ww_site_scope_order")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class SiteServedArea(models.Model):
    """An org unit served by a site's catchment and the share of the site's population living in it (shares of
    one site add up to at most 1). District values weight each site's load and population by these shares."""

    site = models.ForeignKey(SamplingSite, on_delete=models.CASCADE, related_name="served_areas")
    org_unit = models.ForeignKey(
        "core.OrgUnit", verbose_name=_("org unit"), on_delete=models.PROTECT, related_name="+"
    )
    share = models.DecimalField(_("share"), max_digits=5, decimal_places=4, default=1)

    class Meta:
        verbose_name = _("served area")
        verbose_name_plural = _("served areas")
        constraints = [
            models.UniqueConstraint(fields=["site", "org_unit"], name="ww_served_area_once"),
            models.CheckConstraint(
                condition=models.Q(share__gt=0, share__lte=1), name="ww_served_share_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.code} → {self.org_unit_id} ({self.share})"


class PopulationMethod(models.TextChoices):
    REGISTERED = "registered", _("Registered or reported served population")  # 服务人口
    DESIGN_CAPACITY = "design_capacity", pgettext_lazy("population method", "Design capacity")  # 设计容量法
    FLOW = "flow", _("Flow-based")  # 流量法
    AMMONIUM = "nh4n", _("Ammonium nitrogen (NH4-N)")  # 氨氮
    COD = "cod", _("Chemical oxygen demand (COD)")
    COTININE = "cotinine", _("Cotinine")  # 可替宁
    PHONE_SIGNAL = "phone_signal", _("Mobile-phone signalling")  # 手机信令
    OTHER = "other", _("Other")


class PopulationEstimate(models.Model):
    """One estimate of a site's served population, with its method, date and relative SD (wbe.md §3.1).
    Estimates are kept side by side; the analyst picks the site's default."""

    site = models.ForeignKey(SamplingSite, on_delete=models.CASCADE, related_name="population_estimates")
    population = models.PositiveIntegerField(_("population"))
    method = models.CharField(_("method"), max_length=16, choices=PopulationMethod.choices)
    estimated_on = models.DateField(_("estimated on"))
    rsd = models.DecimalField(_("relative SD"), max_digits=5, decimal_places=3)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("population estimate")
        verbose_name_plural = _("population estimates")
        ordering = ["-estimated_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(population__gt=0), name="ww_population_positive"),
            models.CheckConstraint(
                condition=models.Q(rsd__gte=0, rsd__lte=5), name="ww_population_rsd_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.population} ({self.get_method_display()}, {self.estimated_on})"
