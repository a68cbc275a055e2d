"""Uploaded files kept in the database: checked on the way in, encrypted at rest, verified on the way out.

Case documents, permit application attachments and inspection evidence all follow the same rules:

- **In:** PDF, JPEG or PNG only, at most 10 MB, and the declared type must match the file's own signature
  (the client's word is not trusted); the file name is cleaned of paths and control characters.
- **At rest:** the bytes, base64-encoded, inside an ``EncryptedTextField`` (SM4-GCM), with their SM3 digest.
- **Out:** decrypted and checked against the digest; every read is an EXPORT audit record, and a row that does
  not decrypt or match its digest leaves a FAILURE record and raises ``CorruptContent`` (storage damage or
  tampering must be visible).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.crypto import DecryptionError, constant_time_equal, get_provider
from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import AuditAction, AuditResult

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# content type → (signature, extensions)
UPLOAD_TYPES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "application/pdf": (b"%PDF-", (".pdf",)),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg")),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",)),
}
CONTENT_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}


class UploadError(ValueError):
    """What is wrong with an upload, as a message for the ``file`` field of a 400."""


class CorruptContent(ServiceError):
    """Stored bytes that do not decrypt or do not match their SM3 digest: storage damage or tampering."""

    status = 500


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed the checks: its cleaned file name and its content type."""

    file_name: str
    content_type: str


def too_large_message() -> str:
    return _("at most %(mb)s MB") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}


def check_upload_size(size: int) -> None:
    """Refuse a file larger than the limit before it is read."""
    if size > MAX_UPLOAD_BYTES:
        raise ServiceError(
            _("The file cannot be uploaded: %(problems)s") % {"problems": too_large_message()},
            fields={"file": too_large_message()},
        )


def clean_file_name(file_name: str, extensions: tuple[str, ...], default_stem: str) -> str:
    """The base name without paths or control characters, with an extension of its type."""
    name = os.path.basename((file_name or "").replace("\\", "/"))
    name = re.sub(r'[\x00-\x1f\x7f"<>|*?:]', "", name).strip(" .")
    stem, extension = os.path.splitext(name)
    if extension.lower() not in extensions:
        stem, extension = name, extensions[0]
    stem = stem or default_stem
    return stem[: 200 - len(extension)] + extension.lower()


def check_upload(
    file_name: str, content_type: str, data: bytes, *, default_stem: str = "file"
) -> CheckedUpload:
    """The upload's cleaned name and type, or ``UploadError`` saying what is wrong with it."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    content_type = CONTENT_TYPE_ALIASES.get(content_type, content_type)
    accepted = UPLOAD_TYPES.get(content_type)
    if accepted is None:
        raise UploadError(_("only PDF, JPEG or PNG files are accepted"))
    if not data:
        raise UploadError(_("the file is empty"))
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(too_large_message())
    if not data.startswith(accepted[0]):
        raise UploadError(_("the content is not a %(type)s file") % {"type": content_type})
    return CheckedUpload(clean_file_name(file_name, accepted[1], default_stem), content_type)


def encode_content(data: bytes) -> tuple[str, str]:
    """(the text to store in an ``EncryptedTextField``, the SM3 digest of the bytes)."""
    return base64.b64encode(data).decode("ascii"), get_provider().sm3(data)


def stored_text(model: type[models.Model], pk: Any, field: str = "content") -> str | None:
    """The stored (decrypted) text of one row's content field; None when it does not decrypt."""
    try:
        return model._default_manager.filter(pk=pk).values_list(field, flat=True).get()  # type: ignore[no-any-return]
    except model.DoesNotExist:  # type: ignore[attr-defined]
        raise NotFound() from None
    except DecryptionError:
        return None


def read_content(
    *,
    user: Any,
    obj: models.Model,
    encoded: str | None,
    digest: str,
    detail: dict[str, Any],
    org_unit_code: str = "",
) -> bytes:
    """Decode stored content (``encoded`` None: it did not decrypt) and check it against its digest; audited as
    EXPORT either way, a FAILURE naming the problem when the check fails."""
    try:
        if encoded is None:
            raise DecryptionError("the stored ciphertext does not authenticate")
        data = base64.b64decode(encoded.encode("ascii"), validate=True)
        problem = "" if data and constant_time_equal(get_provider().sm3(data), digest) else "digest_mismatch"
    except (DecryptionError, binascii.Error, UnicodeEncodeError, ValueError):
        data, problem = b"", "undecryptable"
    if problem:
        audit_write(
            action=AuditAction.EXPORT,
            actor=user,
            obj=obj,
            org_unit_code=org_unit_code,
            result=AuditResult.FAILURE,
            detail={**detail, "problem": problem},
        )
        raise CorruptContent(
            _("The stored file is damaged (its content does not match its digest)."), code="content_corrupt"
        )
    audit_write(
        action=AuditAction.EXPORT,
        actor=user,
        obj=obj,
        org_unit_code=org_unit_code,
        detail={**detail, "size": len(data)},
    )
    return data
