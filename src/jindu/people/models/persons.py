"""The registry of persons under community drug treatment, rehabilitation or control."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import BlindIndexField, EncryptedTextField
from jindu.core.masking import mask_id_number, mask_name, mask_phone
from jindu.core.models import OrgScopedModel, SealableMixin
from jindu.people.permissions import CHANGE_PERSON, OPEN_SEALED_PERSON, VIEW_PERSON


class Sex(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class ControlStatus(models.TextChoices):
    """Where a person stands overall (管控状态), kept on the person by the services that change it."""

    REGISTERED = "registered", _("Registered")  # 登记, no measure yet
    UNDER_MEASURE = "under_measure", _("Under a measure")  # 社区戒毒/社区康复 in progress
    SOCIAL_CONTROL = "social_control", _("Social control")  # 社会面管控: released, abstinent under 3 years
    ABSTINENT_3Y = "abstinent_3y", _("Abstinent three years")  # 戒断三年未复吸: dynamic control stops
    NO_CONTACT = "no_contact", _("Label removed")  # 无感化: sealed, no contact, aggregates only
    REFERRED = "referred", _("Referred to the police")  # 移交公安 (拒绝报到, 严重违反)
    ENDED = "ended", _("Ended")  # 终止: imprisonment, compulsory education, death


class Person(SealableMixin, OrgScopedModel):
    """A person in the registry (吸毒人员). The owning org unit is the current residence (现居住地), which
    decides who manages the case. Identity fields are encrypted; exact lookups go through blind indexes.
    Sex and birth date derive from the ID number."""

    id_number = EncryptedTextField(_("ID number"))
    id_number_index = BlindIndexField(source="id_number", context="people.person.id_number")
    name = EncryptedTextField(_("name"))
    name_index = BlindIndexField(source="name", context="people.person.name")
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    household_registration = models.ForeignKey(
        "core.OrgUnit",
        verbose_name=_("household registration"),  # 户籍地
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    phone = EncryptedTextField(_("mobile phone"), blank=True)
    phone_index = BlindIndexField(source="phone", context="people.person.phone")
    first_found_date = models.DateField(_("first found"), null=True, blank=True)
    substances = models.JSONField(_("substances"), default=list, blank=True)
    # Same name and birth date as another person: flagged for a human to check, never merged silently.
    possible_duplicate_of = models.ForeignKey(
        "self", verbose_name=_("possible duplicate of"), null=True, blank=True, on_delete=models.SET_NULL
    )
    control_status = models.CharField(
        _("control status"), max_length=16, choices=ControlStatus.choices, default=ControlStatus.REGISTERED
    )
    control_status_since = models.DateField(_("control status since"), null=True, blank=True)
    # 指派: the social worker in charge (a user whose capture scope holds the residence).
    assigned_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("social worker"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_persons",
    )
    # 一人一档 archive status: archived once the case is closed and its documents are complete.
    archived_on = models.DateField(_("archived on"), null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        constraints = [
            models.UniqueConstraint(fields=["id_number_index"], name="person_id_number_unique"),
        ]
        indexes = [
            models.Index(fields=["org_path", "id"], name="person_scope_order"),
            models.Index(fields=["name_index", "birth_date"], name="person_name_birth"),
            models.Index(fields=["assigned_worker", "control_status"], name="person_worker_status"),
        ]

    def __str__(self) -> str:
        return f"{mask_name(self.name)} ({mask_id_number(self.id_number)})"

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)


class AddictionConclusion(models.TextChoices):
    ADDICTED = "addicted", _("Addicted")  # 成瘾
    SEVERELY_ADDICTED = "severely_addicted", _("Severely addicted")  # 成瘾严重
    NOT_ADDICTED = "not_addicted", _("Not addicted")  # 未成瘾


class AddictionFinding(SealableMixin, OrgScopedModel):
    """吸毒成瘾认定 (公安部令115/142): a conclusion by two officers, with its basis."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="addiction_findings")
    conclusion = models.CharField(_("conclusion"), max_length=20, choices=AddictionConclusion.choices)
    date = models.DateField(_("date"))
    officer_1 = models.CharField(_("first officer"), max_length=50)
    officer_2 = models.CharField(_("second officer"), max_length=50)
    basis = models.JSONField(_("basis"), default=list, blank=True)
    sample_type = models.CharField(_("sample type"), max_length=20, blank=True)

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("addiction finding")
        verbose_name_plural = _("addiction findings")
        indexes = [
            models.Index(fields=["person", "date"], name="finding_person_date"),
            models.Index(fields=["org_path"], name="finding_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.conclusion} {self.date}"


class Seizure(SealableMixin, OrgScopedModel):
    """查获: the person was caught using drugs (one of the events that reset the abstinence anchor)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="seizures")
    date = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("seizure")
        verbose_name_plural = _("seizures")
        indexes = [
            models.Index(fields=["person", "date"], name="seizure_person_date"),
            models.Index(fields=["org_path"], name="seizure_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.date}"
