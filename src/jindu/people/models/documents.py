"""一人一档: the documents of a person's case file, generated from templates or uploaded."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import EncryptedTextField
from jindu.core.models import OrgScopedModel, SealableMixin
from jindu.people.permissions import CHANGE_PERSON, OPEN_SEALED_PERSON, VIEW_PERSON


class CaseDocument(SealableMixin, OrgScopedModel):
    """One document of the case file. The content (a PDF or an uploaded file) is stored encrypted in the
    database, base64 inside the SM4-GCM envelope, so backups of the file system hold no personal data."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    generated = models.BooleanField(_("generated from a template"), default=False)
    template_version = models.CharField(_("template version"), max_length=40, blank=True)
    file_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    digest = models.CharField(_("SM3 digest"), max_length=64)
    content = EncryptedTextField(_("content"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_read_permission = VIEW_PERSON
    scope_write_permission = CHANGE_PERSON
    sealed_read_permission = OPEN_SEALED_PERSON
    protected = True

    class Meta:
        verbose_name = _("case document")
        verbose_name_plural = _("case documents")
        indexes = [
            models.Index(fields=["person", "kind"], name="document_person_kind"),
            models.Index(fields=["org_path"], name="document_scope"),
        ]

    def __str__(self) -> str:
        return self.title
