"""Rules A04 (transport permit vs delivery) and A11 (late or missing filings): their shipped defaults are added to
the national default version of ``precursors.warning_rules`` (rows installed before these rules existed).
Only rules the stored payload lacks are added; an office's own versions are left alone (the engine merges
the shipped defaults under any version that does not set a rule)."""

import copy

from django.db import migrations

NEW_RULES = ("A04", "A11")


def add_rule_defaults(apps, schema_editor):
    from jindu.precursors.warnings import DEFAULT_WARNING_RULES, WARNING_RULES

    PolicyVersion = apps.get_model("core", "PolicyVersion")
    for row in PolicyVersion.objects.filter(kind=WARNING_RULES, region=None, is_default=True):
        payload = copy.deepcopy(row.payload) if isinstance(row.payload, dict) else {}
        rules = payload.setdefault("rules", {})
        added = False
        for code in NEW_RULES:
            if code not in rules:
                rules[code] = copy.deepcopy(DEFAULT_WARNING_RULES["rules"][code])
                added = True
        if added:
            row.payload = payload
            row.save(update_fields=["payload"])


def remove_rule_defaults(apps, schema_editor):
    from jindu.precursors.warnings import WARNING_RULES

    PolicyVersion = apps.get_model("core", "PolicyVersion")
    for row in PolicyVersion.objects.filter(kind=WARNING_RULES, region=None, is_default=True):
        payload = copy.deepcopy(row.payload) if isinstance(row.payload, dict) else {}
        rules = payload.get("rules", {})
        if any(code in rules for code in NEW_RULES):
            for code in NEW_RULES:
                rules.pop(code, None)
            row.payload = payload
            row.save(update_fields=["payload"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_org_path_index_declared"),
        ("precursors", "0008_warning_rules_a05_a06_a15"),
    ]

    operations = [migrations.RunPython(add_rule_defaults, remove_rule_defaults)]
