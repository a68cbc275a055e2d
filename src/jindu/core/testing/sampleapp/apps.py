from django.apps import AppConfig


class SampleAppConfig(AppConfig):
    name = "jindu.core.testing.sampleapp"
    label = "sampleapp"

    def ready(self) -> None:
        from jindu.core.roles import Role, grant

        for role in (
            Role.CITY_OFFICE,
            Role.DISTRICT_OFFICE,
            Role.STREET_OFFICE,
            Role.SOCIAL_WORKER,
            Role.POLICE,
        ):
            grant(role, "sampleapp.view_record", "sampleapp.change_record")
