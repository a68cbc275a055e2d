"""The navigation menu: one section per domain, items shown by permission (NetBox-style)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from jindu.core.roles import Perm


@dataclass
class MenuItem:
    label: str
    url_name: str
    permission: str = ""
    icon: str = ""


@dataclass
class MenuSection:
    label: str
    items: list[MenuItem] = field(default_factory=list)


# Domain apps append their sections here from their AppConfig.ready().
MENU: list[MenuSection] = [
    MenuSection("", [MenuItem(_("Workbench"), "core:workbench")]),
    MenuSection(
        _("System"),
        [
            MenuItem(_("Org units"), "core:orgunit_list", Perm.MANAGE_ORGUNITS),
            MenuItem(_("Users"), "core:user_list", Perm.VIEW_USERS),
            MenuItem(_("Jobs"), "core:job_list", Perm.VIEW_JOBS),
            MenuItem(_("Security"), "core:security", Perm.MANAGE_SECURITY),
            MenuItem(_("Audit trail"), "core:audit_list", Perm.VIEW_AUDIT),
        ],
    ),
]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"menu": []}
    sections = []
    for section in MENU:
        items = []
        for item in section.items:
            if item.permission and not user.has_jindu_perm(item.permission):
                continue
            try:
                url = reverse(item.url_name)
            except NoReverseMatch:
                continue
            items.append({"label": item.label, "url": url, "active": request.path == url})
        if items:
            sections.append({"label": section.label, "items": items})
    return {"menu": sections}
