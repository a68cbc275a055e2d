from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    """People: community drug treatment and rehabilitation case management (吸毒人员社会化服务管理)."""

    name = "jindu.people"
    label = "people"
    verbose_name = _("People")

    def ready(self) -> None:
        from jindu.core.navigation import MENU, MenuItem, MenuSection
        from jindu.core.roles import Role, grant
        from jindu.people.permissions import (
            ASSESS_PERSON,
            ASSIGN_WORKER,
            CHANGE_PERSON,
            OPEN_SEALED_PERSON,
            VIEW_PERSON,
        )

        # Case workers and the offices above them keep the registry; police may look records up.
        for role in (Role.SOCIAL_WORKER, Role.STREET_OFFICE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE):
            grant(role, VIEW_PERSON, CHANGE_PERSON)
        # The offices confirm 戒断三年 and 无感化 and assign workers; the worker alone does not.
        for role in (Role.STREET_OFFICE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE):
            grant(role, ASSESS_PERSON, ASSIGN_WORKER)
        # The designated role for sealed (无感化) records: the district office of the owner org unit.
        grant(Role.DISTRICT_OFFICE, OPEN_SEALED_PERSON)
        grant(Role.POLICE, VIEW_PERSON)
        MENU.insert(
            1,
            MenuSection(
                _("People"),
                [
                    MenuItem(_("Worklist"), "people:worklist", VIEW_PERSON),
                    MenuItem(_("Persons"), "people:person_list", VIEW_PERSON),
                    MenuItem(_("Caseloads"), "people:caseloads", ASSIGN_WORKER),
                    MenuItem(_("Indicators"), "people:kpis", VIEW_PERSON),
                ],
            ),
        )
