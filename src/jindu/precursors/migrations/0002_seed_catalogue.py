"""Install the shipped substance catalogue (precursors.md §1.2) and the GBL mixture rules."""

from django.db import migrations


def install(apps, schema_editor):
    from jindu.precursors.catalogue import install_catalogue

    install_catalogue(apps.get_model("precursors", "Substance"), apps.get_model("precursors", "MixtureRule"))


class Migration(migrations.Migration):
    dependencies = [("precursors", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
