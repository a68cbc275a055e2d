"""The page of one wastewater sample: its facts, one row per analyte with the measurement, its QA figures and the
computed result (load, load per 1000 and consumption with their 95 % intervals, as ``/api/v1/wastewater/results``
returns them), and the anomaly flags raised on it. The sample is loaded through ``selectors.access_sample``, so it
is answered 404 outside the reader's jurisdiction, as every detail page is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.views import ui_errors
from jindu.wastewater import anomalies as engine
from jindu.wastewater import selectors
from jindu.wastewater.models import (
    Analyte,
    AnalyteResult,
    AnomalyLevel,
    AnomalyStatus,
    LabImport,
    Measurement,
    ResultStatus,
    WastewaterAnomaly,
)
from jindu.wastewater.policies import settings_in_force
from jindu.wastewater.results import factor_inputs, result_payloads
from jindu.wastewater.views_anomalies import LEVEL_BADGES, STATUS_BADGES

RESULT_BADGES = {
    ResultStatus.COMPUTED: "bg-green-lt",
    ResultStatus.BELOW_LOQ: "bg-secondary-lt",
    ResultStatus.QA_FAILED: "bg-red-lt",
    ResultStatus.NO_POPULATION: "bg-yellow-lt",
}

# The reasons the computation stores are English and fixed in form (``WastewaterSettings.qa_problem`` and
# ``results._result_row``); they are shown in the reader's language, any other wording as stored.
RECOVERY_REASON = re.compile(r"^recovery (?P<value>\S+) % outside (?P<low>\S+)–(?P<high>\S+) %$")
REPLICATE_REASON = re.compile(r"^replicate RSD (?P<value>\S+) % above (?P<high>\S+) %$")
NO_POPULATION_REASON = "the site has no default population estimate"
# The estimates of a result payload the table shows, with their decimals.
ESTIMATES = (("load_mg_per_day", 1), ("load_per_1000", 2), ("consumption_per_1000", 2))


def reason_text(reason: str) -> str:
    """A stored result's reason in the reader's language."""
    if match := RECOVERY_REASON.match(reason):
        return _("recovery %(value)s %% outside %(low)s–%(high)s %%") % match.groupdict()
    if match := REPLICATE_REASON.match(reason):
        return _("replicate RSD %(value)s %% above %(high)s %%") % match.groupdict()
    if reason == NO_POPULATION_REASON:
        return _("the site has no default population estimate")
    return reason


def decimal_text(value: Decimal | None) -> str:
    """A stored decimal as the lab wrote it: no trailing zeros, never in exponent form ("" for none)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class EstimateCell:
    """One figure of a result: the payload's estimate (``value``, ``p2_5``, ``median``, ``p97_5``) shown with
    ``digits`` decimals, or, under the LOQ, the upper bound the LOQ gives (never a value)."""

    name: str
    estimate: dict[str, Any] | None
    digits: int
    bound: float | None = None


@dataclass(frozen=True)
class AnalyteRow:
    """One row of the measurements table: the measurement and its result payload (``results.result_payload``
    shape; None when no result is stored)."""

    measurement: Measurement
    analyte: Analyte
    concentration: str
    loq: str
    lod: str
    recovery: str
    replicate_rsd: str
    result: dict[str, Any] | None
    status_label: str
    status_badge: str
    reason: str
    cells: list[EstimateCell]


def _cells(result: dict[str, Any] | None) -> list[EstimateCell]:
    if result is None:
        return [EstimateCell(name, None, digits) for name, digits in ESTIMATES]
    return [
        EstimateCell(
            name,
            result[name],
            digits,
            bound=result["loq_per_1000"] if name == "load_per_1000" and result[name] is None else None,
        )
        for name, digits in ESTIMATES
    ]


def _analyte_row(measurement: Measurement, result: dict[str, Any] | None) -> AnalyteRow:
    status = ResultStatus(result["status"]) if result else None
    return AnalyteRow(
        measurement=measurement,
        analyte=measurement.analyte,
        concentration="" if measurement.below_loq else decimal_text(measurement.ng_per_l),
        loq=decimal_text(measurement.loq),
        lod=decimal_text(measurement.lod),
        recovery=decimal_text(measurement.recovery_percent),
        replicate_rsd=decimal_text(measurement.replicate_rsd_percent),
        result=result,
        status_label=str(status.label) if status else _("not computed"),
        status_badge=RESULT_BADGES.get(status, "") if status else "bg-secondary-lt",
        reason=reason_text(result["reason"]) if result and result["reason"] else "",
        cells=_cells(result),
    )


def _flag_row(anomaly: WastewaterAnomaly) -> dict[str, Any]:
    return {
        "anomaly": anomaly,
        "rule_label": engine.rule_label(anomaly.rule),
        "explanation": engine.anomaly_explanation(anomaly),
        "level_badge": LEVEL_BADGES.get(AnomalyLevel(anomaly.level), ""),
        "status_badge": STATUS_BADGES.get(AnomalyStatus(anomaly.status), ""),
    }


@login_required
@ui_errors
def sample_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One sample of my jurisdiction: facts, measurements with their results, the flags raised on it."""
    sample = selectors.access_sample(request.user, pk)
    site = sample.site
    measurements = list(
        Measurement.objects.filter(sample=sample).select_related("analyte").order_by("analyte__sort_order")
    )
    # Consumption under the default set of the settings in force for the site today, as the results API does.
    settings = settings_in_force(site.org_unit, timezone.localdate())
    factor_set = selectors.resolve_cf_set(request.user, "", settings.default_cf_set)
    factors = factor_inputs(factor_set, settings.default_excretion_rsd)
    codes = {measurement.analyte_id: measurement.analyte.code for measurement in measurements}
    results = AnalyteResult.objects.filter(sample=sample, analyte_id__in=list(codes))
    payloads = {payload["analyte"]: payload for payload in result_payloads(results, codes, factors)}
    rows = [_analyte_row(measurement, payloads.get(measurement.analyte.code)) for measurement in measurements]
    flags = (
        engine.anomalies_for_user(request.user)
        .filter(sample=sample)
        .select_related("analyte", "reviewed_by")
        .order_by("-day", "rule", "pk")
    )
    # The import is the importer's: shown as a link only to those who may open it.
    lab_import = (
        LabImport.objects.for_user(request.user).filter(pk=sample.lab_import_id).first()
        if sample.lab_import_id
        else None
    )
    return render(
        request,
        "wastewater/sample_detail.html",
        {
            "sample": sample,
            "site": site,
            "flow": decimal_text(sample.flow_m3_per_day),
            "rows": rows,
            "factor_set": factor_set,
            "settings_version": settings.version,
            "flags": [_flag_row(anomaly) for anomaly in flags],
            "lab_import": lab_import,
        },
    )
