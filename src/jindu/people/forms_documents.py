"""Forms of the 一人一档 (case file documents) UI; the rules live in jindu.people.documents."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jindu.core.forms import StyledForm
from jindu.people.documents import KIND_BY_CODE, KINDS, TEMPLATES


def template_field_name(kind: str, name: str) -> str:
    return f"{kind}__{name}"


class DocumentGenerateForm(StyledForm):
    """The kind to generate, and the optional values of every template (only the chosen kind's are sent
    to the service)."""

    kind = forms.ChoiceField(label=_("Document"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The optional fields are added after StyledForm styled the declared ones: they carry their class.
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [(code, KIND_BY_CODE[code].label) for code in TEMPLATES]
        for template in TEMPLATES.values():
            for spec in template.fields:
                if spec.is_date:
                    widget: forms.Widget = forms.DateInput(
                        attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"
                    )
                elif spec.multiline:
                    widget = forms.Textarea(attrs={"rows": 2, "class": "form-control"})
                else:
                    widget = forms.TextInput(attrs={"class": "form-control"})
                self.fields[template_field_name(template.kind, spec.name)] = forms.CharField(
                    label=str(spec.label),
                    required=False,
                    max_length=spec.max_length,
                    widget=widget,
                    strip=False,
                )

    def template_groups(self) -> list[dict[str, Any]]:
        """The optional fields grouped by document kind, for the template."""
        return [
            {
                "kind": template.kind,
                "label": KIND_BY_CODE[template.kind].label,
                "fields": [self[template_field_name(template.kind, spec.name)] for spec in template.fields],
            }
            for template in TEMPLATES.values()
            if template.fields
        ]

    def values(self) -> dict[str, str]:
        kind = self.cleaned_data["kind"]
        return {
            spec.name: self.cleaned_data[template_field_name(kind, spec.name)]
            for spec in TEMPLATES[kind].fields
            if self.cleaned_data.get(template_field_name(kind, spec.name))
        }


class DocumentUploadForm(StyledForm):
    kind = forms.ChoiceField(label=_("Document"), choices=[(kind.code, kind.label) for kind in KINDS])
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, JPEG or PNG, at most 10 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )


class ArchiveForm(StyledForm):
    date = forms.DateField(
        label=_("Archived on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = timezone.localdate()
