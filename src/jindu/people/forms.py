"""Forms of the people UI; the rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from jindu.core.forms import StyledForm


class PersonForm(StyledForm):
    id_number = forms.CharField(label=_("ID number"), max_length=32)
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=50)
    residence = forms.CharField(label=_("Residence (org unit code)"), max_length=32)
    phone = forms.CharField(label=_("Mobile phone"), max_length=20, required=False)
    household_registration = forms.CharField(
        label=_("Household registration (org unit code)"), max_length=32, required=False
    )
    first_found_date = forms.DateField(
        label=_("First found"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class PersonSearchForm(StyledForm):
    id_number = forms.CharField(label=_("ID number"), max_length=32, required=False)
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=50, required=False)


class WorklistFilterForm(StyledForm):
    as_of = forms.DateField(label=_("As of"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    mine = forms.BooleanField(label=_("Only my persons"), required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        from jindu.people.models import WorkItemKind

        self.fields["kind"].choices = [("", _("All")), *WorkItemKind.choices]


class DrugTestForm(StyledForm):
    kind = forms.ChoiceField(label=_("Kind"))
    sample_date = forms.DateField(label=_("Sample date"), widget=forms.DateInput(attrs={"type": "date"}))
    result = forms.ChoiceField(label=_("Result"))
    is_random = forms.BooleanField(label=_("Random test"), required=False)
    tester = forms.CharField(label=_("Tester"), max_length=50, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        from jindu.people.models import TestKind, TestResult

        self.fields["kind"].choices = TestKind.choices
        self.fields["result"].choices = TestResult.choices


class ContactForm(StyledForm):
    kind = forms.ChoiceField(label=_("Kind"))
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        from jindu.people.models import ContactKind

        self.fields["kind"].choices = ContactKind.choices
