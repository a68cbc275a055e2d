from django.db import models

from jindu.core.fields import BlindIndexField, EncryptedTextField
from jindu.core.models import OrgScopedModel


class SampleRecord(OrgScopedModel):
    """An ordinary scoped record: readable in the search scope."""

    title = models.CharField(max_length=100)

    scope_read_permission = "sampleapp.view_record"
    scope_write_permission = "sampleapp.change_record"

    class Meta:
        indexes = [models.Index(fields=["org_path"], name="samplerecord_scope")]

    def __str__(self) -> str:
        return self.title


class ProtectedRecord(OrgScopedModel):
    """A protected personal record: capture scope, or search scope after breaking the glass."""

    name = EncryptedTextField()
    id_number = EncryptedTextField(blank=True)
    id_number_index = BlindIndexField(source="id_number", context="sampleapp.protectedrecord.id_number")

    scope_read_permission = "sampleapp.view_record"
    scope_write_permission = "sampleapp.change_record"
    protected = True

    class Meta:
        indexes = [models.Index(fields=["org_path"], name="protectedrecord_scope")]

    def __str__(self) -> str:
        return f"record {self.pk}"
