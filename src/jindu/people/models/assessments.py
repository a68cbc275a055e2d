"""Human assessments: risk grading (分级分类) and the 戒断三年 / 无感化 decisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel, SealableMixin
from jindu.people.permissions import CHANGE_PERSON, OPEN_SEALED_PERSON, VIEW_PERSON


class RiskColor(models.TextChoices):
    RED = "red", _("Red")  # 高风险
    ORANGE = "orange", _("Orange")
    YELLOW = "yellow", _("Yellow")
    GREEN = "green", _("Green")  # 低风险


class RiskTrigger(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    INTAKE = "intake", _("Intake")
    POSITIVE_TEST = "positive_test", _("Positive test")
    VIOLATION = "violation", _("Violation")
    LOST_CONTACT = "lost_contact", _("Lost contact")
    RELEASE = "release", _("Release")


class RiskAssessment(SealableMixin, OrgScopedModel):
    """One risk grading. The instrument (a versioned policy) turns factor scores into a suggested colour;
    the assessor sets the final colour, and a final colour other than the suggestion needs a reason
    (PIPL art. 24: no decision by the algorithm alone)."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="risk_assessments")
    date = models.DateField(_("date"))
    instrument = models.ForeignKey(
        "core.PolicyVersion", verbose_name=_("instrument"), on_delete=models.PROTECT, related_name="+"
    )
    factor_scores = models.JSONField(_("factor answers"), default=dict)
    total = models.IntegerField(_("score"))
    suggested_color = models.CharField(_("suggested colour"), max_length=8, choices=RiskColor.choices)
    final_color = models.CharField(_("colour"), max_length=8, choices=RiskColor.choices)
    override_reason = models.CharField(_("reason for a different colour"), max_length=500, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=RiskTrigger.choices)
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("risk assessment")
        verbose_name_plural = _("risk assessments")
        indexes = [
            # Covering: the nightly picks each person's latest grading from this index alone.
            models.Index(
                fields=["person", "date"], name="risk_person_date_color", include=["final_color", "id"]
            ),
            models.Index(fields=["org_path"], name="risk_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.final_color} {self.date}"


class AbstinenceOutcome(models.TextChoices):
    ABSTINENT_3Y = "abstinent_3y", _("Abstinent three years confirmed")  # 戒断三年未复吸
    NO_CONTACT = "no_contact", _("Label removed (no-contact)")  # 无感化
    NOT_CONFIRMED = "not_confirmed", _("Not confirmed")


class AbstinenceAssessment(SealableMixin, OrgScopedModel):
    """The recorded assessment without which a person's status never changes to 戒断三年 or 无感化."""

    person = models.ForeignKey(
        "people.Person", on_delete=models.PROTECT, related_name="abstinence_assessments"
    )
    date = models.DateField(_("date"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=AbstinenceOutcome.choices)
    anchor = models.DateField(_("abstinent since"))
    policy = models.ForeignKey("core.PolicyVersion", on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("note"), max_length=500, blank=True)
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("abstinence assessment")
        verbose_name_plural = _("abstinence assessments")
        indexes = [
            models.Index(fields=["person", "date"], name="abstinence_person_date"),
            models.Index(fields=["org_path"], name="abstinence_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.date}"
