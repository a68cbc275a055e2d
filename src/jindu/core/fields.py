"""Encrypted model fields (SM4-GCM) and blind indexes (HMAC-SM3) for exact lookups.

``EncryptedTextField`` stores ``sm4gcm:<key id>:<base64(nonce|ciphertext|tag)>``; the associated data
binds each ciphertext to its table and column, so a value copied into another column does not decrypt.
``BlindIndexField`` stores HMAC-SM3 of a normalised source value; equal inputs give equal indexes, so
``Person.objects.filter(id_number_index=blind_index("…"))`` finds a row without storing the plaintext.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldError
from django.db import models

from jindu.core.crypto import CIPHERTEXT_PREFIX, get_provider


def normalize_default(value: str) -> str:
    return "".join(str(value).split()).upper()


class EncryptedTextField(models.TextField):
    """A text column encrypted at rest with the active data key; decrypted when loaded."""

    description = "Text encrypted with SM4-GCM"

    def associated_data(self) -> bytes:
        return f"{self.model._meta.label_lower}.{self.attname}".encode()

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        ring = settings.JINDU_KEYRING
        return get_provider().encrypt(
            str(value).encode("utf-8"), key_id=ring.active_data_key, associated_data=self.associated_data()
        )

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return get_provider().decrypt(value, associated_data=self.associated_data()).decode("utf-8")

    def get_lookup(self, lookup_name: str) -> Any:
        # Random nonces make equality on ciphertext meaningless: use the blind index instead.
        if lookup_name not in {"isnull"}:
            raise FieldError(
                f"{self.name} is encrypted: filter on its blind index instead of '{lookup_name}'"
            )
        return super().get_lookup(lookup_name)


def is_ciphertext(raw: str | None) -> bool:
    return bool(raw) and str(raw).startswith(CIPHERTEXT_PREFIX + ":")


def blind_index(value: str, *, context: str, normalizer: Callable[[str], str] = normalize_default) -> str:
    """HMAC-SM3 over the context and the normalised value (empty input gives an empty index)."""
    if value is None or value == "":
        return ""
    key = settings.JINDU_KEYRING.blind_index_key
    return get_provider().hmac_sm3(key, f"{context}|{normalizer(value)}".encode())


class BlindIndexField(models.CharField):
    """HMAC-SM3 of another field's normalised value, recomputed on every save."""

    description = "Blind index (HMAC-SM3) for exact lookups of an encrypted field"

    def __init__(self, *args: Any, source: str = "", context: str = "", **kwargs: Any) -> None:
        self.source = source
        self.context = context or source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["context"] = self.context
        for key, default in (("max_length", 64), ("editable", False), ("db_index", True), ("blank", True)):
            if kwargs.get(key) == default:
                kwargs.pop(key, None)
        return name, path, args, kwargs

    def compute(self, value: str) -> str:
        return blind_index(value, context=self.context)

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = self.compute(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value


class BlindIndexSyncMixin:
    """Keeps blind indexes in step with their source on ``save(update_fields=[...])``: Django calls
    ``pre_save`` only for the listed fields, so an index left out would keep the old value."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            fields = set(update_fields)
            for model_field in self._meta.concrete_fields:  # type: ignore[attr-defined]
                if isinstance(model_field, BlindIndexField) and model_field.source in fields:
                    fields.add(model_field.name)
            kwargs["update_fields"] = fields
        super().save(*args, **kwargs)  # type: ignore[misc]
