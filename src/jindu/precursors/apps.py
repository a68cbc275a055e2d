from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrecursorsConfig(AppConfig):
    """Precursors: chemical registry, ledgers as EPCIS 2.0 events, permits and warnings (易制毒化学品)."""

    name = "jindu.precursors"
    label = "precursors"
    verbose_name = _("Precursor chemicals")

    def ready(self) -> None:
        from jindu.core.navigation import MENU, MenuItem, MenuSection
        from jindu.core.roles import Role, grant
        from jindu.precursors import rating, tasks  # noqa: F401 (they register the app's jobs)
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
        # A firm's users act for their own firm only (the credit code on their account, not org-unit scopes).
        grant(Role.ENTERPRISE, ACT_FOR_ENTERPRISE)
        MENU.insert(
            2,
            MenuSection(
                _("Precursor chemicals"),
                [
                    MenuItem(_("My firm"), "precursors:enterprise_home", ACT_FOR_ENTERPRISE),
                    MenuItem(_("Applications"), "precursors:application_list", VIEW_PRECURSORS),
                    MenuItem(_("Permits and filings"), "precursors:permit_list", VIEW_PRECURSORS),
                    # The same page: the office's list of its firms, or the firm's own reports.
                    MenuItem(_("Annual reports"), "precursors:annual_report_list", VIEW_PRECURSORS),
                    MenuItem(_("Annual reports"), "precursors:annual_report_list", ACT_FOR_ENTERPRISE),
                    MenuItem(_("Diversion warnings"), "precursors:warning_list", VIEW_PRECURSORS),
                    MenuItem(_("Inspections"), "precursors:inspection_list", VIEW_PRECURSORS),
                    MenuItem(_("Rectifications"), "precursors:rectification_list", ACT_FOR_ENTERPRISE),
                    MenuItem(_("Penalties"), "precursors:penalty_list", VIEW_PRECURSORS),
                    MenuItem(_("Mass balances"), "precursors:balances", VIEW_PRECURSORS),
                    MenuItem(_("Rule precision"), "precursors:warning_precision", VIEW_PRECURSORS),
                    MenuItem(_("Upload the ledger"), "precursors:ledger_upload", ACT_FOR_ENTERPRISE),
                    MenuItem(_("Verify a certificate"), "precursors:permit_verify_upload"),
                ],
            ),
        )
