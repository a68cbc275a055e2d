"""Install the shipped permit rules (permit_rules.DEFAULT_PERMIT_RULES) and the 2026 working calendar as national
policy versions (kinds ``precursors.permit_rules`` and ``precursors.working_calendar``)."""

from django.db import migrations


def install_defaults(apps, schema_editor):
    from jindu.precursors.permits import install_default_permit_policies

    install_default_permit_policies(apps.get_model("core", "PolicyVersion"))


def remove_defaults(apps, schema_editor):
    from jindu.precursors.permits import PERMIT_RULES_POLICY, WORKING_CALENDAR_POLICY

    PolicyVersion = apps.get_model("core", "PolicyVersion")
    PolicyVersion.objects.filter(
        kind__in=[PERMIT_RULES_POLICY, WORKING_CALENDAR_POLICY], is_default=True, region=None
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("precursors", "0003_permits"), ("core", "0002_audit_append_only")]

    operations = [migrations.RunPython(install_defaults, remove_defaults)]
