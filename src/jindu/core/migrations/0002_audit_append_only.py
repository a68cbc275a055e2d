"""On PostgreSQL, refuse UPDATE and DELETE on the audit table (append-only at the database level).

SQLite has no such trigger here: there the HMAC chain alone detects tampering.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION jindu_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'core_auditrecord is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER core_auditrecord_append_only
    BEFORE UPDATE OR DELETE ON core_auditrecord
    FOR EACH ROW EXECUTE FUNCTION jindu_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS core_auditrecord_append_only ON core_auditrecord;
DROP FUNCTION IF EXISTS jindu_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
