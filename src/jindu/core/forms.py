"""Forms of the core UI. Validation of business rules stays in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgLevel
from jindu.core.roles import Role


class StyledForm(forms.Form):
    """Adds Tabler/Bootstrap classes to every widget, so templates can render ``{{ field }}`` as is."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()


def add_service_error(form: forms.Form, error: Exception) -> None:
    """Show a service's refusal on a form: the message on top, each named field next to its input."""
    form.add_error(None, getattr(error, "message", str(error)))
    for name, problem in getattr(error, "fields", {}).items():
        if name in form.fields:
            form.add_error(name, problem)


class LoginForm(StyledForm):
    username = forms.CharField(label=_("Username"), max_length=64)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=256)
    otp = forms.CharField(
        label=_("One-time code"),
        required=False,
        max_length=12,
        help_text=_("Required for administrators and police accounts."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class OrgUnitForm(StyledForm):
    code = forms.CharField(label=_("Code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=100)
    level = forms.ChoiceField(label=_("Level"), choices=OrgLevel.choices)


class OrgUnitImportForm(StyledForm):
    file = forms.FileField(label=_("CSV file"), help_text=_("Columns: code,name,level,parent_code (UTF-8)"))


class UserCreateForm(StyledForm):
    username = forms.CharField(label=_("Username"), max_length=64)
    full_name = forms.CharField(label=_("Full name"), max_length=64, required=False)
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput, max_length=256)
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=Role.choices, widget=forms.CheckboxSelectMultiple
    )
    org_unit = forms.CharField(label=_("Org unit code"), max_length=32)
    search_scope = forms.CharField(
        label=_("Search scope"),
        max_length=500,
        required=False,
        help_text=_("Org unit codes, comma-separated"),
    )
    id_number = forms.CharField(label=_("ID number"), max_length=18, required=False)
    phone = forms.CharField(label=_("Mobile phone"), max_length=20, required=False)
    enterprise_code = forms.CharField(label=_("Enterprise credit code"), max_length=18, required=False)


class BreakGlassForm(StyledForm):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), min_length=10, max_length=1000
    )


class TwoFactorConfirmForm(StyledForm):
    otp = forms.CharField(label=_("One-time code"), max_length=12)


class PasswordChangeForm(StyledForm):
    current_password = forms.CharField(
        label=_("Current password"), widget=forms.PasswordInput, max_length=256
    )
    new_password = forms.CharField(label=_("New password"), widget=forms.PasswordInput, max_length=256)
    new_password_again = forms.CharField(
        label=_("New password (again)"), widget=forms.PasswordInput, max_length=256
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", _("The two new passwords differ."))
        return data


class FirstLoginForm(StyledForm):
    new_password = forms.CharField(label=_("New password"), widget=forms.PasswordInput, max_length=256)
    new_password_again = forms.CharField(
        label=_("New password (again)"), widget=forms.PasswordInput, max_length=256
    )
    otp = forms.CharField(
        label=_("One-time code"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, needs_otp: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if not needs_otp:
            del self.fields["otp"]

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", _("The two new passwords differ."))
        return data
