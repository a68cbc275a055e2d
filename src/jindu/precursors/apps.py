from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrecursorsConfig(AppConfig):
    """Precursors: chemical registry, ledgers as EPCIS 2.0 events, permits and warnings (易制毒化学品)."""

    name = "jindu.precursors"
    label = "precursors"
    verbose_name = _("Precursor chemicals")

    def ready(self) -> None:
        from jindu.core.roles import Role, grant
        from jindu.precursors.permissions import (
            ACT_FOR_ENTERPRISE,
            MANAGE_CATALOGUE,
            MANAGE_ENTERPRISES,
            VIEW_PRECURSORS,
        )

        # The offices and the police narcotics unit supervise the firms of their jurisdiction.
        for role in (Role.CITY_OFFICE, Role.DISTRICT_OFFICE, Role.POLICE):
            grant(role, VIEW_PRECURSORS, MANAGE_ENTERPRISES)
        grant(Role.CITY_OFFICE, MANAGE_CATALOGUE)
        # A firm's users act for their own firm only (memberships, not org-unit scopes).
        grant(Role.ENTERPRISE, ACT_FOR_ENTERPRISE)
