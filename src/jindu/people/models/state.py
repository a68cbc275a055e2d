"""What the evaluation derived: each person's state, the worklist and the daily compliance snapshot.

All of it is derived from the records (enrollments, tests, contacts, assessments, policies) and can be
rebuilt at any time; nothing here is typed in by a user.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel
from jindu.people.permissions import CHANGE_PERSON, VIEW_PERSON


class WorkItemKind(models.TextChoices):
    DUE = "due", _("Due")
    OVERDUE = "overdue", _("Overdue")
    LOST_CONTACT = "lost_contact", _("Lost contact")  # 脱管
    ALMOST_ELIGIBLE = "almost_eligible", _("Almost three years abstinent")
    ELIGIBLE = "eligible", _("Three years abstinent: assess")
    REPORT_DUE = "report_due", _("Report due")  # 报到 / transfer report awaited
    REASSESSMENT = "reassessment", _("Risk reassessment")
    SERIOUS_VIOLATION = "serious_violation", _("Serious violation: report to police")
    RELEASE_DUE = "release_due", _("Term ended: release")


class PersonState(OrgScopedModel):
    """The latest evaluation of one person (one row per person, replaced at every evaluation)."""

    person = models.OneToOneField("people.Person", on_delete=models.CASCADE, related_name="state")
    as_of = models.DateField(_("evaluated for"))
    control_status = models.CharField(_("control status"), max_length=16)
    measure = models.CharField(_("measure"), max_length=32, blank=True)
    phase = models.PositiveSmallIntegerField(_("phase"), null=True, blank=True)
    risk_color = models.CharField(_("risk colour"), max_length=8, blank=True)
    abstinence_anchor = models.DateField(_("abstinent since"), null=True, blank=True)
    lost_contact = models.BooleanField(_("lost contact"), default=False)
    abstinent_3y = models.CharField(_("three years abstinent"), max_length=8, default="no")
    tests_up_to_date = models.BooleanField(_("tests up to date"), default=True)
    contacts_up_to_date = models.BooleanField(_("contacts up to date"), default=True)
    next_due = models.DateField(_("next due"), null=True, blank=True)
    # The rest of the evaluation (phase, anchor kind, schedule, items) so the person page needs no re-run.
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    protected = True

    class Meta:
        verbose_name = _("person state")
        indexes = [models.Index(fields=["org_path", "person"], name="state_scope_order")]

    def __str__(self) -> str:
        return f"{self.person_id} @ {self.as_of}"


class WorklistItem(OrgScopedModel):
    """One thing to do about one person, as of the evaluation day: a test or contact due or overdue, a
    脱管 alert, an eligibility assessment… ``policy`` names the policy version that produced a due date."""

    # The nightly rewrites about a million of these rows; every index costs on each of them, so none
    # that another index already serves: the worker's by "worklist_worker_due", the org unit's (only read
    # when an org unit is deleted, which the registry refuses while anything refers to it) by none.
    org_unit = models.ForeignKey(
        "core.OrgUnit", verbose_name=_("org unit"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField(_("evaluated for"))
    kind = models.CharField(_("kind"), max_length=20, choices=WorkItemKind.choices)
    item = models.CharField(_("item"), max_length=20, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    policy = models.ForeignKey(
        "core.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    protected = True

    class Meta:
        verbose_name = _("worklist item")
        verbose_name_plural = _("worklist items")
        indexes = [
            models.Index(fields=["org_path", "due_date", "id"], name="worklist_scope_order"),
            models.Index(fields=["worker", "due_date"], name="worklist_worker_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.item} {self.due_date}"


class ComplianceSnapshot(OrgScopedModel):
    """One person's compliance on one day (tests and contacts up to date, 脱管), written by the nightly
    evaluation; the KPIs (管控率, 脱管率, 检测按时率) read these."""

    # No index of its own: the unique (person, day) serves lookups by person.
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(_("day"))
    measure = models.CharField(_("measure"), max_length=32, blank=True)
    risk_color = models.CharField(_("risk colour"), max_length=8, blank=True)
    tests_up_to_date = models.BooleanField(_("tests up to date"))
    contacts_up_to_date = models.BooleanField(_("contacts up to date"))
    lost_contact = models.BooleanField(_("lost contact"))

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    protected = True

    class Meta:
        verbose_name = _("compliance snapshot")
        verbose_name_plural = _("compliance snapshots")
        constraints = [models.UniqueConstraint(fields=["person", "day"], name="snapshot_person_day")]
        indexes = [models.Index(fields=["day", "org_path"], name="snapshot_day_scope")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.day}"


class EvaluationRun(models.Model):
    """One run of the evaluation of everyone (nightly, or on demand from the CLI)."""

    day = models.DateField(_("evaluated for"))
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    persons = models.PositiveIntegerField(_("persons"), default=0)
    items = models.PositiveIntegerField(_("worklist items"), default=0)
    alerts_raised = models.PositiveIntegerField(_("alerts raised"), default=0)

    class Meta:
        verbose_name = _("evaluation run")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["day", "finished_at"], name="evaluation_run_day")]

    def __str__(self) -> str:
        return f"{self.day} ({self.persons})"


# What a worklist item is about (``WorklistItem.item``), for display.
ITEM_LABELS = {
    "urine": _("Urine test"),
    "hair": _("Hair test"),
    "contact": _("Visit or talk"),
    "report": _("Report (报到)"),
    "transfer_report": _("Report at the new place"),
    "release": _("Release at term end"),
    "report_police": _("Report to the police"),
    "intake": _("First risk assessment"),
    "trigger": _("Risk reassessment after an event"),
    "scheduled": _("Scheduled risk reassessment"),
    "abstinent_3y": _("Three years abstinent"),
    "no_contact": _("Label removal (no-contact)"),
}
