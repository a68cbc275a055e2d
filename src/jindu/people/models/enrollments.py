"""Measures a person is under (社区戒毒, 社区康复, …) and where each stands in its lifecycle."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel, SealableMixin
from jindu.people.permissions import CHANGE_PERSON, OPEN_SEALED_PERSON, VIEW_PERSON


class Measure(models.TextChoices):
    COMMUNITY_TREATMENT = "community_treatment", _("Community drug treatment")  # 社区戒毒
    COMMUNITY_REHABILITATION = "community_rehabilitation", _("Community rehabilitation")  # 社区康复
    SOCIAL_CONTROL = "social_control", _("Social control")  # 社会面管控


class EnrollmentStatus(models.TextChoices):
    DECIDED = "decided", _("Decision served")  # 决定送达
    REPORTED = "reported", _("Reported")  # 已报到
    IN_PROGRESS = "in_progress", _("In progress")  # 执行中 (agreement signed)
    TRANSFERRING = "transferring", _("Changing place of execution")  # 变更执行地, to report at the new place
    SUSPENDED = "suspended", _("Suspended")  # 中止 (拘留/逮捕), resumes on release
    NOT_REPORTED = "not_reported", _("Not reported, referred to police")  # 未报到 → 视为拒绝 → 移交公安
    REFERRED = "referred", _("Referred to police")  # 严重违反/复吸 → 移交公安
    RELEASED = "released", _("Released at term end")  # 期满解除
    TERMINATED = "terminated", _("Terminated")  # 终止 (收监, 强制性教育, death)


# Which statuses each status may move to: every transition is a service with its own audit record.
_S = EnrollmentStatus
TRANSITIONS: dict[str, set[str]] = {
    _S.DECIDED: {_S.REPORTED, _S.NOT_REPORTED},
    _S.REPORTED: {_S.IN_PROGRESS, _S.TERMINATED, _S.REFERRED},
    _S.IN_PROGRESS: {_S.TRANSFERRING, _S.SUSPENDED, _S.REFERRED, _S.RELEASED, _S.TERMINATED},
    _S.TRANSFERRING: {_S.IN_PROGRESS, _S.SUSPENDED, _S.REFERRED, _S.TERMINATED},
    _S.SUSPENDED: {_S.IN_PROGRESS, _S.TERMINATED},
    _S.NOT_REPORTED: set(),
    _S.REFERRED: set(),
    _S.RELEASED: set(),
    _S.TERMINATED: set(),
}
ACTIVE_STATUSES = {_S.DECIDED, _S.REPORTED, _S.IN_PROGRESS, _S.TRANSFERRING, _S.SUSPENDED}
ENDED_STATUSES = {_S.NOT_REPORTED, _S.REFERRED, _S.RELEASED, _S.TERMINATED}
# Measures that are treatment (社区戒毒/社区康复): their end is an abstinence anchor, their term is fixed.
TREATMENT_MEASURES = {Measure.COMMUNITY_TREATMENT, Measure.COMMUNITY_REHABILITATION}


class Enrollment(SealableMixin, OrgScopedModel):
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
    # 社区戒毒 is 3 years; 社区康复 "up to 3 years" as decided; 社会面管控 has no fixed term (None).
    term_months = models.PositiveSmallIntegerField(_("term in months"), null=True, blank=True)
    term_end = models.DateField(_("term ends"), null=True, blank=True)
    # 变更执行地: the person must report at the new place by this day (the term counts on).
    transfer_deadline = models.DateField(_("report at the new place by"), null=True, blank=True)
    # 严重违反协议 (戒毒条例 art. 20) reached on this day: the worker must report to the police.
    serious_violation_on = models.DateField(_("serious violation on"), null=True, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("reason"), max_length=200, blank=True)

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        indexes = [
            models.Index(fields=["person", "status"], name="enrollment_person_status"),
            models.Index(fields=["org_path"], name="enrollment_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.get_measure_display()} #{self.pk} ({self.status})"


class EnrollmentEventKind(models.TextChoices):
    DECIDED = "decided", _("Decision served")
    REPORTED = "reported", _("Reported")
    AGREEMENT = "agreement", _("Agreement signed")
    LEAVE = "leave", _("Leave approved")  # 外出报告/请假
    TRANSFER_OUT = "transfer_out", _("Place of execution changed")  # 变更执行地
    TRANSFER_REPORTED = "transfer_reported", _("Reported at the new place")
    SUSPENDED = "suspended", _("Suspended")  # 中止
    RESUMED = "resumed", _("Resumed")  # 恢复
    VIOLATION = "violation", _("Violation")  # 违反协议
    SERIOUS_VIOLATION = "serious_violation", _("Serious violation")  # 严重违反协议
    REFERRED = "referred", _("Referred to police")
    NOT_REPORTED = "not_reported", _("Not reported")
    RELEASED = "released", _("Released")
    TERMINATED = "terminated", _("Terminated")


class EnrollmentEvent(SealableMixin, OrgScopedModel):
    """One dated step in an enrollment's life. Evaluations read these to know, for any past day, whether
    the measure was suspended or awaiting a transfer report (``as_of`` works on history, not on the
    current status alone)."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="events")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=EnrollmentEventKind.choices)
    date = models.DateField(_("date"))
    end_date = models.DateField(_("until"), null=True, blank=True)  # leaves
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("enrollment event")
        verbose_name_plural = _("enrollment events")
        indexes = [
            models.Index(fields=["enrollment", "date"], name="enrollment_event_date"),
            # Covering: the nightly reads the lifecycle events of a batch of persons from this index alone.
            models.Index(
                fields=["person", "kind", "date"], name="event_person_kind_date", include=["enrollment", "id"]
            ),
            models.Index(fields=["org_path"], name="event_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.date}"


class ViolationKind(models.TextChoices):
    TEST_EVASION = "test_evasion", _("Evaded a test")  # 逃避检测
    TEST_REFUSAL = "test_refusal", _("Refused a test")  # 拒绝检测
    UNAUTHORISED_LEAVE = "unauthorised_leave", _("Left without permission")  # 擅自离开执行地
    OTHER = "other", _("Other breach of the agreement")


class Violation(SealableMixin, OrgScopedModel):
    """违反协议. Counters of evasions/refusals, unauthorised leaves and leave days decide 严重违反
    (戒毒条例 art. 20): 3 evasions or refusals, 3 unauthorised leaves, or more than 30 days away."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="violations")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="violations")
    kind = models.CharField(_("kind"), max_length=20, choices=ViolationKind.choices)
    date = models.DateField(_("date"))
    days_away = models.PositiveSmallIntegerField(_("days away"), default=0)
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("violation")
        verbose_name_plural = _("violations")
        indexes = [
            models.Index(fields=["enrollment", "date"], name="violation_enrollment_date"),
            models.Index(fields=["org_path"], name="violation_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.date}"
