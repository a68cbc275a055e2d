"""Excel export (.xlsx) of a site's or an org unit's results: daily results and period aggregates.

The conventions of ``core.exports.export_csv`` apply: the purpose is required, every sheet starts with the
watermark line (who, when, why, for work only), text cells are neutralised against spreadsheet formulas
(``spreadsheet_safe``), at most ``MAX_EXPORT_ROWS`` daily rows, and an EXPORT audit record (rows, purpose, filters)
is written in the same transaction as the read.

Sheet 1 holds one row per stored result (site, day, analyte): status, the below-LOQ flag with the LOQ's equivalent
as a bound (never as a value), load and load per 1000 with their intervals, and consumption under the factor set
named in every row. Sheet 2 holds the period aggregates of each analyte (``aggregates.py``): population-weighted
load per 1000 and consumption with intervals, day counts, below-LOQ bounds and the year-on-year change.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook

from jindu.core.audit import audit_write
from jindu.core.errors import ServiceError
from jindu.core.exports import MAX_EXPORT_ROWS, spreadsheet_safe
from jindu.core.models import AuditAction
from jindu.wastewater.aggregates import (
    Context,
    Subject,
    aggregate_series,
    load_rows,
    load_window,
    period_range,
    yoy_text,
)
from jindu.wastewater.models import Analyte, AnalyteResult, ResultStatus
from jindu.wastewater.results import consumption_estimate

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content: bytes
    rows: int


def watermark(user: Any, purpose: str) -> str:
    """The first line of every sheet, as in the CSV exports."""
    stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
    return f"# 导出人 {user.get_username()} · 时间 {stamp} · 用途 {purpose} · 仅限工作使用，不得外传"


def check_purpose(purpose: str | None) -> str:
    purpose = (purpose or "").strip()
    if len(purpose) < 4:
        raise ServiceError(
            _("State the purpose of this export."),
            code="purpose_required",
            fields={"purpose": pgettext("field error", "required")},
        )
    return purpose[:200]


def _safe(row: list[Any]) -> list[Any]:
    """Cells as openpyxl takes them: lazy translations as text, text neutralised against formulas."""
    cells = [str(value) if isinstance(value, Promise) else value for value in row]
    return [spreadsheet_safe(value) if isinstance(value, str) else value for value in cells]


def _interval(estimate: dict[str, Any] | None) -> list[Any]:
    if not estimate:
        return [None, None, None, None]
    return [estimate["value"], estimate["p2_5"], estimate["median"], estimate["p97_5"]]


def export_results(
    *,
    user: Any,
    context: Context,
    subject: Subject,
    first: dt.date,
    last: dt.date,
    analyte: Analyte | None,
    kind: str,
    purpose: str,
) -> ExportFile:
    """Build the workbook of a subject (already read through the caller's scope) and audit the export."""
    purpose = check_purpose(purpose)
    found = period_range(kind, first, last, last)
    first, last = found[0].start, found[-1].end
    status_labels = dict(ResultStatus.choices)
    label = context.factor_set_label
    results = (
        AnalyteResult.objects.filter(site_id__any=subject.site_ids, end_date__gte=first, end_date__lte=last)
        .select_related("site", "analyte")
        .order_by("end_date", "site__code", "analyte__sort_order")
    )
    if analyte is not None:
        results = results.filter(analyte=analyte)
    workbook = Workbook(write_only=True)
    daily = workbook.create_sheet(_("Daily results"))
    line = watermark(user, purpose)
    daily.append([line])
    daily.append(
        [
            _("Date"),
            _("Site code"),
            _("Site"),
            _("Analyte"),
            _("Analyte name"),
            _("Status"),
            _("Below LOQ"),
            _("Load (mg/day)"),
            _("Load p2.5"),
            _("Load median"),
            _("Load p97.5"),
            _("Load per 1000 (mg/day/1000)"),
            _("Load per 1000 p2.5"),
            _("Load per 1000 median"),
            _("Load per 1000 p97.5"),
            _("LOQ as load per 1000 (upper bound, not a value)"),
            _("Consumption (mg/day/1000)"),
            _("Consumption p2.5"),
            _("Consumption median"),
            _("Consumption p97.5"),
            _("Correction-factor set"),
            _("Population"),
            _("Reason"),
        ]
    )
    count = 0
    analytes: dict[int, Analyte] = {}
    with transaction.atomic():
        for result in results.iterator(chunk_size=2000):
            count += 1
            if count > MAX_EXPORT_ROWS:
                raise ServiceError(
                    _("An export holds at most %(rows)s rows: narrow the filters.")
                    % {"rows": MAX_EXPORT_ROWS},
                    code="export_too_large",
                )
            analytes.setdefault(result.analyte_id, result.analyte)
            factor = context.factors.get(result.analyte_id)
            load = (
                {
                    "value": result.load_mg_per_day,
                    "p2_5": result.load_p2_5,
                    "median": result.load_median,
                    "p97_5": result.load_p97_5,
                }
                if result.load_mg_per_day is not None
                else None
            )
            per_1000 = (
                {
                    "value": result.per_1000,
                    "p2_5": result.per_1000_p2_5,
                    "median": result.per_1000_median,
                    "p97_5": result.per_1000_p97_5,
                }
                if result.per_1000 is not None
                else None
            )
            consumption = consumption_estimate(result, factor)
            daily.append(
                _safe(
                    [
                        result.end_date,
                        result.site.code,
                        result.site.name,
                        result.analyte.code,
                        result.analyte.name_zh,
                        status_labels.get(result.status, result.status),
                        _("yes") if result.status == ResultStatus.BELOW_LOQ else "",
                        *_interval(load),
                        *_interval(per_1000),
                        result.loq_per_1000,
                        *_interval(consumption),
                        label if consumption else "",
                        result.population,
                        result.reason,
                    ]
                )
            )
        periods_sheet = workbook.create_sheet(_("Period aggregates"))
        periods_sheet.append([line])
        periods_sheet.append(
            [
                _("Subject"),
                _("Analyte"),
                _("Period"),
                _("Days"),
                _("From"),
                _("To"),
                _("Load per 1000 (mg/day/1000)"),
                _("Load per 1000 p2.5"),
                _("Load per 1000 median"),
                _("Load per 1000 p97.5"),
                _("Consumption (mg/day/1000)"),
                _("Consumption p2.5"),
                _("Consumption median"),
                _("Consumption p97.5"),
                _("Correction-factor set"),
                _("Quantified days"),
                _("Days below LOQ"),
                _("Blocked days"),
                _("Bound: below-LOQ days at 0"),
                _("Bound: below-LOQ days at their LOQ"),
                _("Same period a year earlier"),
                _("Year-on-year change (%)"),
                _("Year on year"),
            ]
        )
        ordered = sorted(analytes.values(), key=lambda item: item.sort_order)
        window = (
            load_rows(subject.site_ids, [item.pk for item in ordered], *load_window(found)) if ordered else {}
        )
        aggregates = 0
        for item in ordered:
            series = aggregate_series(
                context.aggregator,
                subject,
                item,
                found,
                "all",
                rows=window,
                factor=context.factors.get(item.pk),
                factor_set_label=label,
            )
            for value in series.values:
                if value.quantified_days + value.below_loq_days + value.blocked_days == 0:
                    continue
                aggregates += 1
                interval = value.interval
                consumption_interval = value.consumption.interval if value.consumption else None
                periods_sheet.append(
                    _safe(
                        [
                            f"{subject.code} {subject.name}",
                            item.code,
                            value.period.label,
                            _("all days"),
                            value.period.start,
                            value.period.end,
                            value.point,
                            interval.p2_5 if interval else None,
                            interval.median if interval else None,
                            interval.p97_5 if interval else None,
                            value.consumption.point if value.consumption else None,
                            consumption_interval.p2_5 if consumption_interval else None,
                            consumption_interval.median if consumption_interval else None,
                            consumption_interval.p97_5 if consumption_interval else None,
                            label if value.consumption else "",
                            value.quantified_days,
                            value.below_loq_days,
                            value.blocked_days,
                            value.bounds.if_zero if value.bounds else None,
                            value.bounds.if_at_loq if value.bounds else None,
                            value.previous,
                            value.yoy.percent if value.yoy else None,
                            yoy_text(value.yoy.label) if value.yoy else "",
                        ]
                    )
                )
        filename = f"wastewater-{subject.code}-{first:%Y%m%d}-{last:%Y%m%d}.xlsx"
        audit_write(
            action=AuditAction.EXPORT,
            actor=user,
            object_type="wastewater.analyteresult",
            object_repr=filename,
            org_unit_code=subject.org_unit.code,
            detail={
                "rows": count,
                "aggregates": aggregates,
                "purpose": purpose,
                "filters": {
                    subject.kind: subject.code,
                    "from": first.isoformat(),
                    "to": last.isoformat(),
                    "analyte": analyte.code if analyte else None,
                    "period": kind,
                    "cf_set": label,
                },
            },
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return ExportFile(filename=filename, content=buffer.getvalue(), rows=count)
