"""Forms of the casework UI (help measures, assignment, summaries); the rules live in jindu.people.casework."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.core.forms import StyledForm
from jindu.people.casework import FINAL_OUTCOMES
from jindu.people.models import HelpKind, HelpOutcome

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class HelpReferForm(StyledForm):
    kind = forms.ChoiceField(label=_("Kind of help"), choices=HelpKind.choices)
    referred_on = forms.DateField(label=_("Referred on"), widget=DATE_INPUT)
    provider = forms.CharField(label=_("Provider"), max_length=100, required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class HelpOutcomeForm(StyledForm):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(value, label) for value, label in HelpOutcome.choices if value in FINAL_OUTCOMES],
    )
    outcome_on = forms.DateField(label=_("Outcome on"), widget=DATE_INPUT)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class AssignmentForm(StyledForm):
    worker = forms.CharField(label=_("Social worker"), max_length=64)
    start = forms.DateField(label=_("From"), widget=DATE_INPUT)


class CaseloadFilterForm(StyledForm):
    org_unit = forms.CharField(label=_("Org unit code"), max_length=32, required=False)


class MonthForm(StyledForm):
    month = forms.CharField(
        label=_("Month"), max_length=7, required=False, widget=forms.TextInput(attrs={"type": "month"})
    )
