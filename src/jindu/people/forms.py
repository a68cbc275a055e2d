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


def _date_field(label: object) -> forms.DateField:
    return forms.DateField(label=label, widget=forms.DateInput(attrs={"type": "date"}))


class DateActionForm(StyledForm):
    date = _date_field(_("Date"))


class ReasonActionForm(StyledForm):
    date = _date_field(_("Date"))
    reason = forms.CharField(label=_("Reason"), max_length=200)


class EnrollForm(StyledForm):
    measure = forms.ChoiceField(
        label=_("Measure"),
        choices=[
            ("community_treatment", _("Community drug treatment")),
            ("community_rehabilitation", _("Community rehabilitation")),
        ],
    )
    decision_date = _date_field(_("Decision served"))
    org_unit = forms.CharField(label=_("Executing street or community (code)"), max_length=32)
    term_months = forms.IntegerField(label=_("Term in months"), min_value=1, max_value=36, required=False)


class LeaveForm(StyledForm):
    start = _date_field(_("From"))
    end = _date_field(_("Until"))
    destination = forms.CharField(label=_("Destination"), max_length=100, required=False)


class TransferForm(StyledForm):
    date = _date_field(_("Date"))
    org_unit = forms.CharField(label=_("New street or community (code)"), max_length=32)


class ViolationForm(StyledForm):
    kind = forms.ChoiceField(label=_("Kind"))
    date = _date_field(_("Date"))
    days_away = forms.IntegerField(label=_("Days away"), min_value=0, max_value=3650, required=False)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        from jindu.people.models import ViolationKind

        self.fields["kind"].choices = ViolationKind.choices


class SeizureForm(StyledForm):
    date = _date_field(_("Date"))
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class AbstinenceForm(StyledForm):
    date = _date_field(_("Date"))
    outcome = forms.ChoiceField(label=_("Outcome"))
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        from jindu.people.models import AbstinenceOutcome

        self.fields["outcome"].choices = AbstinenceOutcome.choices


class RiskForm(StyledForm):
    """The instrument's factors become one select each (built from the version in force)."""

    date = _date_field(_("Date"))
    final_color = forms.ChoiceField(label=_("Colour"))
    override_reason = forms.CharField(
        label=_("Reason for a different colour"), max_length=500, required=False
    )
    trigger = forms.ChoiceField(label=_("Trigger"))

    def __init__(self, *args: object, instrument: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        from jindu.people.models import RiskColor, RiskTrigger

        self.fields["final_color"].choices = RiskColor.choices
        self.fields["trigger"].choices = RiskTrigger.choices
        self.factor_codes: list[str] = []
        for factor in getattr(instrument, "payload", {}).get("factors", []):
            name = f"factor_{factor['code']}"
            self.factor_codes.append(factor["code"])
            self.fields[name] = forms.ChoiceField(
                label=factor["label"],
                choices=[
                    (option["code"], f"{option['label']} ({option['points']})")
                    for option in factor["options"]
                ],
            )
            self.fields[name].widget.attrs["class"] = "form-select"

    def answers(self) -> dict[str, str]:
        return {code: self.cleaned_data[f"factor_{code}"] for code in self.factor_codes}
