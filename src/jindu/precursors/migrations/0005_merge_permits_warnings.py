"""Joins the permits and warnings migrations, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("precursors", "0004_permits_default_policies"),
        ("precursors", "0004_warnings"),
    ]

    operations: list = []
