from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jindu.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from jindu.core import checks, lookups  # noqa: F401 (checks registers itself)
        from jindu.core.roles import grant_core_permissions

        lookups.register()
        grant_core_permissions()
