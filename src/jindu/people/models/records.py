"""Drug tests and contacts recorded for a person under a measure."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel, SealableMixin
from jindu.people.permissions import CHANGE_PERSON, OPEN_SEALED_PERSON, VIEW_PERSON


class TestKind(models.TextChoices):
    URINE = "urine", _("Urine test")
    HAIR = "hair", _("Hair test")


class TestResult(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    POSITIVE = "positive", _("Positive")


class ContactKind(models.TextChoices):
    VISIT = "visit", _("Home visit")  # 走访
    TALK = "talk", _("Talk")  # 谈话
    PHONE = "phone", _("Phone contact")


class DrugTest(SealableMixin, OrgScopedModel):
    """One urine or hair test. A positive result is a relapse event (复吸): it resets the abstinence
    anchor, raises an alert and calls for a risk reassessment."""

    __test__ = False  # not a pytest test class, whatever its name

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="drug_tests")
    enrollment = models.ForeignKey("people.Enrollment", on_delete=models.PROTECT, related_name="drug_tests")
    kind = models.CharField(_("kind"), max_length=8, choices=TestKind.choices)
    sample_date = models.DateField(_("sample date"))
    result = models.CharField(_("result"), max_length=8, choices=TestResult.choices)
    substances = models.JSONField(_("substances"), default=list, blank=True)
    is_random = models.BooleanField(_("random test"), default=False)
    tester = models.CharField(_("tester"), max_length=50, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("drug test")
        verbose_name_plural = _("drug tests")
        # Covering (PostgreSQL INCLUDE): the nightly "last test per kind and result" reads only the index.
        indexes = [
            models.Index(
                fields=["person", "sample_date"], name="drugtest_person_date", include=["kind", "result"]
            ),
            models.Index(fields=["org_path"], name="drugtest_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sample_date} {self.result}"


class Contact(SealableMixin, OrgScopedModel):
    """A visit, talk or phone contact with a person."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="contacts")
    enrollment = models.ForeignKey("people.Enrollment", on_delete=models.PROTECT, related_name="contacts")
    kind = models.CharField(_("kind"), max_length=8, choices=ContactKind.choices)
    date = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["person", "date"], name="contact_person_date", include=["kind"]),
            models.Index(fields=["org_path"], name="contact_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.date}"
