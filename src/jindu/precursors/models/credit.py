"""The firms' 禁毒信用 ratings: one row per computation, with the reasons the firm is shown."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel
from jindu.precursors.permissions import MANAGE_ENTERPRISES, VIEW_PRECURSORS


class CreditRating(OrgScopedModel):
    """A firm's credit score and grade on a day under one version of the scheme, with each rule's points and
    evidence (``reasons``), active vetoes, the supervision the grade brings and the inspection plan it
    generates. The latest row's grade and score are copied onto the firm."""

    enterprise = models.ForeignKey("precursors.Enterprise", on_delete=models.CASCADE, related_name="ratings")
    as_of = models.DateField(_("as of"))
    scheme = models.ForeignKey("core.PolicyVersion", on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"))
    grade = models.CharField(_("grade"), max_length=1)
    grade_by_score = models.CharField(_("grade by score"), max_length=1)
    reasons = models.JSONField(_("reasons"), default=list)
    vetoes = models.JSONField(_("vetoes"), default=list)
    supervision = models.JSONField(_("supervision"), default=dict)
    inspection_plan = models.JSONField(_("inspection plan"), default=list)
    trigger = models.CharField(_("trigger"), max_length=32, default="monthly")

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("credit rating")
        verbose_name_plural = _("credit ratings")
        indexes = [
            models.Index(fields=["org_path", "as_of"], name="rating_scope_order"),
            models.Index(fields=["enterprise", "as_of"], name="rating_firm_day"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.as_of} {self.grade} ({self.score})"
