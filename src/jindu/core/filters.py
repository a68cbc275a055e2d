"""django-filter filter sets of the core UI (applied to querysets already narrowed by scope)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.forms import DateInput
from django.utils.translation import gettext_lazy as _

from jindu.core.models import AuditAction, AuditRecord, AuditResult, User
from jindu.core.roles import Role


class StyledFilterSet(django_filters.FilterSet):
    """Tabler classes on the filter form's widgets."""

    @property
    def form(self):  # type: ignore[no-untyped-def]
        form = super().form
        for field in form.fields.values():
            css = "form-select" if hasattr(field.widget, "choices") else "form-control"
            field.widget.attrs.setdefault("class", css)
        return form


class UserFilter(StyledFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    role = django_filters.ChoiceFilter(field_name="roles__role", choices=Role.choices, label=_("Role"))
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = User
        fields = ["q", "role", "is_active"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(username__icontains=value) | Q(full_name__icontains=value))


class AuditFilter(StyledFilterSet):
    actor_username = django_filters.CharFilter(label=_("Actor"))
    action = django_filters.ChoiceFilter(choices=AuditAction.choices, label=_("Action"))
    result = django_filters.ChoiceFilter(choices=AuditResult.choices, label=_("Result"))
    object_type = django_filters.CharFilter(label=_("Object type"))
    object_id = django_filters.CharFilter(label=_("Object id"))
    since = django_filters.DateFilter(
        field_name="occurred_at",
        lookup_expr="date__gte",
        label=_("From"),
        widget=DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="occurred_at",
        lookup_expr="date__lte",
        label=_("To"),
        widget=DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditRecord
        fields = ["actor_username", "action", "result", "object_type", "object_id", "since", "until"]
