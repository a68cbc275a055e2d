"""Install the shipped KPI definitions (docs/people_kpis.md) as the national version."""

from django.db import migrations


def install_defaults(apps, schema_editor):
    from jindu.people.policies import install_default_policies

    install_default_policies(apps.get_model("core", "PolicyVersion"))


def remove_defaults(apps, schema_editor):
    PolicyVersion = apps.get_model("core", "PolicyVersion")
    PolicyVersion.objects.filter(kind="people.kpi_definitions", is_default=True, region=None).delete()


class Migration(migrations.Migration):
    dependencies = [("people", "0004_person_state_detail")]

    operations = [migrations.RunPython(install_defaults, remove_defaults)]
