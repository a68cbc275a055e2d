"""Key rotation: a new data key becomes active and every encrypted column is re-encrypted with it.

Old keys stay in the keyring (ciphertexts name their key), so a rotation interrupted half-way leaves
every value readable, and running it again finishes the job.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.crypto import parse_ciphertext
from jindu.core.errors import ServiceError
from jindu.core.fields import EncryptedTextField
from jindu.core.keyring import ENV_DATA_KEYS, SM4_KEY_BYTES, Keyring, write_key_file
from jindu.core.models import AuditAction


def encrypted_columns() -> list[tuple[type[Model], list[str]]]:
    """Every concrete model with encrypted fields, and those fields' attribute names."""
    result = []
    for model in apps.get_models():
        names = [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names and not model._meta.proxy:
            result.append((model, names))
    return result


def key_usage() -> dict[str, int]:
    """How many stored values each data key encrypts (read from the raw column values)."""
    counts: dict[str, int] = {}
    for model, names in encrypted_columns():
        table = model._meta.db_table
        with connection.cursor() as cursor:
            for field_name in names:
                column = str(next(f.column for f in model._meta.concrete_fields if f.attname == field_name))
                cursor.execute(
                    f"SELECT {connection.ops.quote_name(column)} FROM {connection.ops.quote_name(table)} "  # noqa: S608
                    f"WHERE {connection.ops.quote_name(column)} <> ''"
                )
                for (raw,) in cursor.fetchall():
                    if raw:
                        key_id, _ = parse_ciphertext(raw)
                        counts[key_id] = counts.get(key_id, 0) + 1
    return counts


@dataclass
class RotationReport:
    new_key_id: str
    rows: int = 0
    values: int = 0
    per_model: dict[str, int] = field(default_factory=dict)


def keys_rotate(
    *, key_file: Path | None = None, progress: Callable[[int], None] | None = None
) -> RotationReport:
    """Add a new SM4 key, make it active in the key file, then re-encrypt all encrypted columns."""
    import os

    if os.environ.get(ENV_DATA_KEYS):
        raise ServiceError(
            _(
                "Data keys come from %(variable)s: add the new key there (or in your KMS) and rerun "
                "`jindu keys reencrypt`."
            )
            % {"variable": ENV_DATA_KEYS},
            code="keys_from_environment",
        )
    key_file = key_file or settings.KEY_FILE
    ring: Keyring = settings.JINDU_KEYRING
    number = 1 + max((int(k[1:]) for k in ring.data_keys if k[1:].isdigit()), default=0)
    new_id = f"k{number}"
    new_ring = Keyring(
        secret_key=ring.secret_key,
        data_keys={**ring.data_keys, new_id: secrets.token_bytes(SM4_KEY_BYTES)},
        active_data_key=new_id,
        blind_index_key=ring.blind_index_key,
        audit_key=ring.audit_key,
        source=str(key_file),
    )
    # Write the key file first: if re-encryption stops half-way, both keys are still on disk.
    write_key_file(Path(key_file), new_ring)
    settings.JINDU_KEYRING = new_ring
    report = keys_reencrypt(progress=progress)
    report.new_key_id = new_id
    return report


def keys_reencrypt(*, progress: Callable[[int], None] | None = None) -> RotationReport:
    """Re-encrypt every encrypted value under the active key (idempotent: values already under it are
    simply encrypted again with a fresh nonce)."""
    active = settings.JINDU_KEYRING.active_data_key
    report = RotationReport(new_key_id=active)
    for model, names in encrypted_columns():
        label = model._meta.label_lower
        pks = list(model._base_manager.values_list("pk", flat=True).order_by("pk"))
        for start in range(0, len(pks), 500):
            batch = pks[start : start + 500]
            with transaction.atomic():
                for row in model._base_manager.filter(pk__in=batch).values("pk", *names):
                    changes = {name: row[name] for name in names if row[name]}
                    if changes:
                        model._base_manager.filter(pk=row["pk"]).update(**changes)
                        report.values += len(changes)
                        report.rows += 1
                        report.per_model[label] = report.per_model.get(label, 0) + 1
                    if progress:
                        progress(1)
    audit_write(
        action=AuditAction.UPDATE,
        object_type="core.keyring",
        object_repr=f"data key rotation to {active}",
        detail={"active_key": active, "rows": report.rows, "values": report.values},
    )
    return report
