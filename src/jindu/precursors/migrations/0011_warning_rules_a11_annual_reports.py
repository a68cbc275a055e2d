"""Rule A11 finds missing and late annual reports: its new thresholds (``annual_report_missing_level``,
``annual_report_late_level``, ``annual_report_years``) are added to the A11 of the national default version of
``precursors.warning_rules`` when it lacks them (a row installed before they existed). An office's own versions
are left alone: the engine merges the shipped defaults under any version that leaves them out."""

import copy

from django.db import migrations

NEW_A11_KEYS = ("annual_report_missing_level", "annual_report_late_level", "annual_report_years")


def add_a11_defaults(apps, schema_editor):
    from jindu.precursors.warnings import DEFAULT_WARNING_RULES, WARNING_RULES

    PolicyVersion = apps.get_model("core", "PolicyVersion")
    shipped = DEFAULT_WARNING_RULES["rules"]["A11"]
    for row in PolicyVersion.objects.filter(kind=WARNING_RULES, region=None, is_default=True):
        payload = copy.deepcopy(row.payload) if isinstance(row.payload, dict) else {}
        a11 = payload.get("rules", {}).get("A11")
        if not isinstance(a11, dict):
            continue  # no A11 at all: migration 0009 adds the whole rule
        missing = [key for key in NEW_A11_KEYS if key not in a11]
        if missing:
            for key in missing:
                a11[key] = copy.deepcopy(shipped[key])
            row.payload = payload
            row.save(update_fields=["payload"])


def remove_a11_defaults(apps, schema_editor):
    from jindu.precursors.warnings import WARNING_RULES

    PolicyVersion = apps.get_model("core", "PolicyVersion")
    for row in PolicyVersion.objects.filter(kind=WARNING_RULES, region=None, is_default=True):
        payload = copy.deepcopy(row.payload) if isinstance(row.payload, dict) else {}
        a11 = payload.get("rules", {}).get("A11")
        if isinstance(a11, dict) and any(key in a11 for key in NEW_A11_KEYS):
            for key in NEW_A11_KEYS:
                a11.pop(key, None)
            row.payload = payload
            row.save(update_fields=["payload"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_org_path_index_declared"),
        ("precursors", "0010_annual_reports"),
    ]

    operations = [migrations.RunPython(add_a11_defaults, remove_a11_defaults)]
