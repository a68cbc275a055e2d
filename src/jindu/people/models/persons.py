"""The registry of persons under community drug treatment, rehabilitation or control."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import BlindIndexField, EncryptedTextField
from jindu.core.masking import mask_id_number, mask_name, mask_phone
from jindu.core.models import OrgScopedModel
from jindu.people.permissions import CHANGE_PERSON, VIEW_PERSON


class Sex(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class Person(OrgScopedModel):
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

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
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
