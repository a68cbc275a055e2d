"""The analyte list, the shipped correction-factor sets and the national settings version."""

from django.db import migrations


def install(apps, schema_editor):
    from jindu.wastewater.catalogue import install_analytes, install_shipped_cf_sets
    from jindu.wastewater.policies import install_default_settings

    analyte = apps.get_model("wastewater", "Analyte")
    install_analytes(analyte)
    install_shipped_cf_sets(
        apps.get_model("wastewater", "CorrectionFactorSet"), apps.get_model("wastewater", "CorrectionFactor"), analyte
    )
    install_default_settings(apps.get_model("core", "PolicyVersion"))


def remove(apps, schema_editor):
    from jindu.wastewater.policies import SETTINGS_KIND

    apps.get_model("core", "PolicyVersion").objects.filter(kind=SETTINGS_KIND, is_default=True, region=None).delete()
    apps.get_model("wastewater", "CorrectionFactorSet").objects.filter(shipped=True).delete()
    apps.get_model("wastewater", "Analyte").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("wastewater", "0001_initial"), ("core", "0003_org_path_index_declared")]

    operations = [migrations.RunPython(install, remove)]
