"""Forms of the online applications UI (全程网办); the rules live in jindu.precursors.permits."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.core.forms import StyledForm
from jindu.precursors.models import Substance
from jindu.precursors.models.permits import AttachmentKind
from jindu.precursors.permits import substance_choices

ACTIVITY_CHOICES = [
    ("purchase", _("Purchase (购买)")),
    ("transport", _("Transport (运输)")),
    ("production", _("Production (生产)")),
    ("trade", _("Trade (经营)")),
]
CATEGORY_LABELS = {1: _("Category 1"), 2: _("Category 2"), 3: _("Category 3")}


class SubstanceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        assert isinstance(obj, Substance)
        return f"{obj.name_zh} · {obj.cas or '—'} · {CATEGORY_LABELS.get(obj.category, obj.category)}"


DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ApplicationForm(StyledForm):
    """A new application. The activity and the substance's category decide the permit type (licence where the
    law has one for the category, else the filing); the service checks everything else."""

    activity = forms.ChoiceField(label=_("Activity"), choices=ACTIVITY_CHOICES, initial="purchase")
    substance = SubstanceChoiceField(
        label=_("Substance"), queryset=Substance.objects.none(), to_field_name="code"
    )
    quantity_kg = forms.DecimalField(
        label=_("Quantity (kg, pure)"),
        max_digits=14,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"step": "0.001"}),
    )
    counterparty_uscc = forms.CharField(
        label=_("Seller or consignee: credit code"), max_length=18, required=False
    )
    counterparty_name = forms.CharField(label=_("Seller or consignee: name"), max_length=200, required=False)
    declared_use = forms.CharField(
        label=_("Declared use"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    origin = forms.CharField(label=_("Origin"), max_length=300, required=False)
    destination = forms.CharField(label=_("Destination"), max_length=300, required=False)
    carrier = forms.CharField(label=_("Carrier"), max_length=200, required=False)
    vehicle_plate = forms.CharField(label=_("Vehicle plate"), max_length=16, required=False)
    driver_name = forms.CharField(label=_("Driver"), max_length=64, required=False)
    window_start = forms.DateTimeField(
        label=_("Transport from"), required=False, widget=DATETIME_WIDGET, input_formats=["%Y-%m-%dT%H:%M"]
    )
    window_end = forms.DateTimeField(
        label=_("Transport until"), required=False, widget=DATETIME_WIDGET, input_formats=["%Y-%m-%dT%H:%M"]
    )
    route_corridor = forms.CharField(
        label=_("Route corridor"),
        required=False,
        help_text=_(
            "JSON list of [longitude, latitude] points (WGS 84), e.g. [[121.55, 29.87], [121.60, 29.90]]."
        ),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    corridor_buffer_m = forms.IntegerField(label=_("Corridor buffer (m)"), required=False, min_value=1)

    TRANSPORT_FIELDS = (
        "origin",
        "destination",
        "carrier",
        "vehicle_plate",
        "driver_name",
        "window_start",
        "window_end",
        "route_corridor",
        "corridor_buffer_m",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        substance = self.fields["substance"]
        assert isinstance(substance, forms.ModelChoiceField)
        substance.queryset = substance_choices()

    def clean_route_corridor(self) -> Any:
        raw = (self.cleaned_data.get("route_corridor") or "").strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("Not valid JSON.")) from None

    def transport_fields(self) -> list[Any]:
        return [self[name] for name in self.TRANSPORT_FIELDS]

    def main_fields(self) -> list[Any]:
        return [self[name] for name in self.fields if name not in self.TRANSPORT_FIELDS]


class AttachmentForm(StyledForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=AttachmentKind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, JPEG or PNG, at most 10 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )


class ReasonForm(StyledForm):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class VerifyForm(StyledForm):
    file = forms.FileField(
        label=_("Certificate PDF"), widget=forms.ClearableFileInput(attrs={"accept": ".pdf,application/pdf"})
    )
