"""Install the shipped default policies of the people app as national versions (documented defaults)."""

from django.db import migrations


def install_defaults(apps, schema_editor):
    from jindu.people.policies import install_default_policies

    install_default_policies(apps.get_model("core", "PolicyVersion"))


def remove_defaults(apps, schema_editor):
    from jindu.people.policies import DEFAULTS

    PolicyVersion = apps.get_model("core", "PolicyVersion")
    PolicyVersion.objects.filter(kind__in=list(DEFAULTS), is_default=True, region=None).delete()


class Migration(migrations.Migration):
    dependencies = [("people", "0002_lifecycle_policy_state"), ("core", "0002_audit_append_only")]

    operations = [migrations.RunPython(install_defaults, remove_defaults)]
