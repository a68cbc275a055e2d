from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WastewaterConfig(AppConfig):
    """Wastewater drug monitoring (污水毒情监测): sites, samples, back-calculation with uncertainty, trends."""

    name = "jindu.wastewater"
    label = "wastewater"
    verbose_name = _("Wastewater monitoring")

    def ready(self) -> None:
        from jindu.core.navigation import MENU, MenuItem, MenuSection
        from jindu.core.roles import Role, grant
        from jindu.wastewater import tasks  # noqa: F401 (registers the app's jobs)
        from jindu.wastewater.permissions import (
            CAPTURE_SAMPLES,
            MANAGE_FACTORS,
            MANAGE_SITES,
            REVIEW_ANOMALIES,
            VIEW_WASTEWATER,
        )

        # Offices read the data of their jurisdiction; city and district offices run the monitoring.
        for role in (Role.CITY_OFFICE, Role.DISTRICT_OFFICE):
            grant(role, VIEW_WASTEWATER, MANAGE_SITES, CAPTURE_SAMPLES, MANAGE_FACTORS, REVIEW_ANOMALIES)
        grant(Role.STREET_OFFICE, VIEW_WASTEWATER)
        # Police use the results for tracing (溯源打击) and review the flags with the offices.
        grant(Role.POLICE, VIEW_WASTEWATER, REVIEW_ANOMALIES)
        # The contracted lab reports samples and keeps its factor sets; it reads what it reported.
        grant(Role.LAB, VIEW_WASTEWATER, CAPTURE_SAMPLES, MANAGE_FACTORS)
        # Items whose pages do not exist (yet) are left out of the menu by core.navigation.
        MENU.insert(
            3,
            MenuSection(
                _("Wastewater monitoring"),
                [
                    MenuItem(_("Sampling sites"), "wastewater:site_list", VIEW_WASTEWATER),
                    MenuItem(_("District rankings"), "wastewater:rankings", VIEW_WASTEWATER),
                    MenuItem(_("Map"), "wastewater:map", VIEW_WASTEWATER),
                    MenuItem(_("Anomalies"), "wastewater:anomaly_list", VIEW_WASTEWATER),
                    MenuItem(_("Import a lab file"), "wastewater:import", CAPTURE_SAMPLES),
                    MenuItem(_("Correction factors"), "wastewater:cf_set_list", VIEW_WASTEWATER),
                    MenuItem(_("International comparison"), "wastewater:comparison", VIEW_WASTEWATER),
                    MenuItem(_("Quarterly reports"), "wastewater:reports", VIEW_WASTEWATER),
                ],
            ),
        )
