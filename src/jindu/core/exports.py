"""Purpose-bound, watermarked, audited exports (禁毒法/PIPL: no export of identities without purpose).

Every export names its purpose, carries a watermark line (who, when, why) and writes an EXPORT audit
record with the row count and filters, in the same transaction as the read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from jindu.core.audit import audit_write
from jindu.core.errors import ServiceError
from jindu.core.models import AuditAction

MAX_EXPORT_ROWS = 100_000


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Neutralise text that a spreadsheet would run as a formula (CSV injection): a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def export_csv(
    *,
    user: Any,
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    object_type: str,
    purpose: str,
    filters: dict | None = None,
) -> HttpResponse:
    """Build a CSV download (UTF-8 with BOM, so spreadsheet software reads Chinese correctly)."""
    purpose = (purpose or "").strip()
    if len(purpose) < 4:
        raise ServiceError(
            _("State the purpose of this export."),
            code="purpose_required",
            fields={"purpose": pgettext("field error", "required")},
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
    writer.writerow(
        [f"# 导出人 {user.get_username()} · 时间 {stamp} · 用途 {purpose} · 仅限工作使用，不得外传"]
    )
    writer.writerow(list(header))
    count = 0
    with transaction.atomic():
        for row in rows:
            count += 1
            if count > MAX_EXPORT_ROWS:
                raise ServiceError(
                    _("An export holds at most %(rows)s rows: narrow the filters.")
                    % {"rows": MAX_EXPORT_ROWS},
                    code="export_too_large",
                )
            writer.writerow([spreadsheet_safe(value) for value in row])
        audit_write(
            action=AuditAction.EXPORT,
            actor=user,
            object_type=object_type,
            object_repr=filename,
            detail={"rows": count, "purpose": purpose, "filters": filters or {}},
        )
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
