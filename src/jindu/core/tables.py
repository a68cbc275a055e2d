"""django-tables2 tables of the core UI."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from jindu.core.models import AuditRecord, Job, User


class UserTable(tables.Table):
    username = tables.LinkColumn("core:user_detail", args=[tables.A("pk")], verbose_name=_("username"))
    full_name = tables.Column(verbose_name=_("full name"))
    roles = tables.Column(empty_values=(), orderable=False, verbose_name=_("roles"))
    org_unit = tables.Column(accessor="org_unit__name", verbose_name=_("org unit"))
    phone = tables.Column(accessor="phone_masked", orderable=False, verbose_name=_("mobile phone"))
    is_active = tables.BooleanColumn(verbose_name=_("active"))

    class Meta:
        model = User
        fields = ("username", "full_name", "roles", "org_unit", "phone", "is_active")
        attrs = {"class": "table table-vcenter card-table table-striped"}

    def render_roles(self, record: User) -> str:
        from jindu.core.roles import Role

        return ", ".join(str(Role(r.role).label) for r in record.roles.all())


class AuditTable(tables.Table):
    sequence = tables.Column(verbose_name="#")
    occurred_at = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name=_("time"))
    actor_username = tables.Column(verbose_name=_("actor"))
    action = tables.Column(verbose_name=_("action"))
    object_type = tables.Column(verbose_name=_("object type"))
    object_repr = tables.Column(verbose_name=_("object"))
    result = tables.Column(verbose_name=_("result"))
    client_address = tables.Column(verbose_name=_("client address"))
    detail = tables.Column(orderable=False, verbose_name=_("detail"))

    class Meta:
        model = AuditRecord
        fields = (
            "sequence", "occurred_at", "actor_username", "action", "object_type", "object_repr", "result",
            "client_address", "detail",
        )  # fmt: skip
        attrs = {"class": "table table-vcenter card-table table-sm"}
        order_by = ("-sequence",)

    def render_result(self, value: str, record: AuditRecord) -> str:
        colour = {"success": "green", "denied": "red", "failure": "orange"}.get(record.result, "secondary")
        return format_html('<span class="badge bg-{}-lt">{}</span>', colour, record.get_result_display())

    def render_detail(self, value: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in value.items())[:160]


class JobTable(tables.Table):
    name = tables.LinkColumn("core:job_detail", args=[tables.A("pk")], verbose_name=_("job"))

    class Meta:
        model = Job
        fields = ("name", "status", "progress", "total", "created", "finished_at")
        attrs = {"class": "table table-vcenter card-table"}
