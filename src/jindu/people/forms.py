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
