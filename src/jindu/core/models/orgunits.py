"""The org-unit tree (省 / 市 / 区县 / 乡镇街道 / 村社区 / 网格) and its closure table."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrgLevel(models.TextChoices):
    PROVINCE = "province", _("Province")  # 省
    CITY = "city", _("City")  # 市
    DISTRICT = "district", _("District/county")  # 区县
    STREET = "street", _("Street/township")  # 乡镇街道
    COMMUNITY = "community", _("Community/village")  # 村社区
    GRID = "grid", _("Grid")  # 网格 (may nest)


# Which level may sit directly under which (grids nest under communities and under grids).
ALLOWED_CHILD_LEVELS: dict[str | None, set[str]] = {
    None: {OrgLevel.PROVINCE, OrgLevel.CITY, OrgLevel.DISTRICT},
    OrgLevel.PROVINCE: {OrgLevel.CITY, OrgLevel.DISTRICT},
    OrgLevel.CITY: {OrgLevel.DISTRICT},
    OrgLevel.DISTRICT: {OrgLevel.STREET},
    OrgLevel.STREET: {OrgLevel.COMMUNITY},
    OrgLevel.COMMUNITY: {OrgLevel.GRID},
    OrgLevel.GRID: {OrgLevel.GRID},
}


class OrgUnit(models.Model):
    """A node of the administrative tree. Every record holding data belongs to one; scopes are subtrees.

    Codes: GB/T 2260 six digits for province, city and district; the 9- and 12-digit 统计用区划代码 for
    streets and communities; longer local codes (prefixed by the community code) for grids.
    """

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=16, choices=OrgLevel.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        db_index=False,  # the (parent, code) index below serves every lookup by parent
    )
    depth = models.PositiveSmallIntegerField(_("depth"), default=0, editable=False)
    # Codes from the root down, "/"-separated: for breadcrumbs and tree ordering, not for scoping.
    path = models.CharField(_("path"), max_length=512, editable=False, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_updated = models.DateTimeField(_("last updated"), auto_now=True)

    class Meta:
        verbose_name = _("org unit")
        verbose_name_plural = _("org units")
        ordering = ["path"]
        indexes = [models.Index(fields=["parent", "code"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def ancestor_codes(self) -> list[str]:
        return [code for code in self.path.split("/") if code]


class OrgUnitClosure(models.Model):
    """One row per (ancestor, descendant) pair, including each unit with itself at distance 0.

    Scoping asks "is this record's org unit inside any of the user's roots?", which becomes an indexed
    ``descendant IN (SELECT descendant FROM closure WHERE ancestor IN roots)`` on both SQLite and PostgreSQL.
    """

    # The unique (ancestor, descendant) and the (descendant, ancestor) indexes serve both directions, so
    # the foreign keys need no single-column indexes of their own.
    ancestor = models.ForeignKey(
        OrgUnit, on_delete=models.CASCADE, related_name="descendant_links", db_index=False
    )
    descendant = models.ForeignKey(
        OrgUnit, on_delete=models.CASCADE, related_name="ancestor_links", db_index=False
    )
    distance = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("org unit closure")
        constraints = [
            models.UniqueConstraint(fields=["ancestor", "descendant"], name="orgunit_closure_unique")
        ]
        indexes = [models.Index(fields=["descendant", "ancestor"], name="orgunit_closure_up")]

    def __str__(self) -> str:
        return f"{self.ancestor_id} ⊇ {self.descendant_id} ({self.distance})"
