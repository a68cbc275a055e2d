"""Measures a person is under (社区戒毒, 社区康复, …) and where each stands in its lifecycle."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel
from jindu.people.permissions import CHANGE_PERSON, VIEW_PERSON


class Measure(models.TextChoices):
    COMMUNITY_TREATMENT = "community_treatment", _("Community drug treatment")  # 社区戒毒
    COMMUNITY_REHABILITATION = "community_rehabilitation", _("Community rehabilitation")  # 社区康复
    SOCIAL_CONTROL = "social_control", _("Social control")  # 社会面管控


class EnrollmentStatus(models.TextChoices):
    DECIDED = "decided", _("Decision served")  # 决定送达
    REPORTED = "reported", _("Reported")  # 已报到
    IN_PROGRESS = "in_progress", _("In progress")  # 执行中 (agreement signed)
    NOT_REPORTED = "not_reported", _("Not reported, referred to police")  # 未报到 → 视为拒绝 → 移交公安
    RELEASED = "released", _("Released at term end")  # 期满解除
    TERMINATED = "terminated", _("Terminated")  # 终止


# Which statuses each status may move to: every transition is a service with its own audit record.
TRANSITIONS: dict[str, set[str]] = {
    EnrollmentStatus.DECIDED: {EnrollmentStatus.REPORTED, EnrollmentStatus.NOT_REPORTED},
    EnrollmentStatus.REPORTED: {EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.TERMINATED},
    EnrollmentStatus.IN_PROGRESS: {EnrollmentStatus.RELEASED, EnrollmentStatus.TERMINATED},
    EnrollmentStatus.NOT_REPORTED: set(),
    EnrollmentStatus.RELEASED: set(),
    EnrollmentStatus.TERMINATED: set(),
}
ACTIVE_STATUSES = {EnrollmentStatus.DECIDED, EnrollmentStatus.REPORTED, EnrollmentStatus.IN_PROGRESS}


class Enrollment(OrgScopedModel):
    """One measure for one person, executed by a street or community (the owning org unit).

    The term counts from 报到 (戒毒条例 art. 14): ``term_end`` is set when the person reports.
    """

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="enrollments")
    measure = models.CharField(_("measure"), max_length=32, choices=Measure.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.DECIDED
    )
    decision_date = models.DateField(_("decision served"))
    report_deadline = models.DateField(_("report by"))
    reported_on = models.DateField(_("reported on"), null=True, blank=True)
    agreement_signed_on = models.DateField(_("agreement signed on"), null=True, blank=True)
    term_end = models.DateField(_("term ends"), null=True, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    protected = True

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        indexes = [models.Index(fields=["person", "status"], name="enrollment_person_status")]

    def __str__(self) -> str:
        return f"{self.get_measure_display()} #{self.pk} ({self.status})"
