"""Annual reports (年度报告) of precursor firms: deadlines, the platform's annual figures, each firm's filing state
for a year, selectors, services and the credit facts.

Obligation and deadline. A firm that had ledger activity in a calendar year (any captured event in it) owes the
report on that year by ``permit_rules.annual_report_deadline`` under the permit rules (``precursors.permit_rules``)
in force for its district on 1 January of the next year: 31 March by default, moved off a rest day when the rules
roll deadlines (the working calendar of the district). The deadline applied is stored on the report when it is
first submitted (``due_on``, with the rules version), so a later policy change does not move it.

Figures. The submission is pre-filled with the platform's annual totals per substance, from the monthly mass
balances of January to December (``balances.monthly_balances``): opening stock (January's), receipts,
production, shipments, consumption, documented losses (stolen or missing goods counted with them, as in the
balances) and closing stock (December's count, or its book stock when December has no stocktake). The firm may
correct any figure; both are kept (``AnnualReportLine.platform_*`` and ``declared_*``), and the office sees the
differences. In the API a figure left out takes the pre-filled value (the platform's on a first submission, the
previously declared one on a correction), so a firm that agrees with the platform sends only the year.

Corrections. One report per firm and year: submitting a second one is refused (409 ``duplicate``) and names the
report to correct. Until the office has reviewed it, the firm corrects it as a new revision (the earlier
revisions, with their figures, stay as they were; the audit record lists what changed). The office accepts it
(reviewed: locked) or returns it with a reason (the firm corrects it again). Timeliness is that of the first
submission.

Who does what: the firm's own users (role ``enterprise``, ``User.enterprise_code``) submit, correct and attach
files for their firm only; the offices and police of the firm's district (``precursors.manage_enterprises`` with
the district in their capture scope) review; officials read within their search scope.

States of a firm and year (``FilingState``): ``on_time`` / ``late`` (by the first submission), else
``no_activity`` (nothing captured in the year: the platform has no ground to ask for a report), else
``missing`` once the deadline has passed, ``due`` before. Warning rule A11 and the credit item
``late_annual_report`` read the same states.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings as django_settings
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.audit import audit_write
from jindu.core.errors import Forbidden, NotFound, ServiceError, join_problems
from jindu.core.models import AuditAction, PolicyVersion
from jindu.core.scoping import READ, WRITE, access_object, capture_root_ids, in_roots, user_may
from jindu.core.storedfiles import UploadError, check_upload, encode_content, read_content, stored_text
from jindu.precursors.balance import BalanceError, BalanceSettings
from jindu.precursors.balances import monthly_balances
from jindu.precursors.credit import CreditFact
from jindu.precursors.models import Enterprise, EpcisEvent, Substance
from jindu.precursors.models.annual_reports import (
    FIGURE_LABELS,
    FIGURES,
    AnnualReport,
    AnnualReportFile,
    AnnualReportLine,
    AnnualReportRevision,
    AnnualReportStatus,
)
from jindu.precursors.permit_rules import DEFAULT_PERMIT_RULES, PermitRuleError, annual_report_deadline
from jindu.precursors.permits import PermitPolicyBook
from jindu.precursors.selectors import (
    acts_as_firm,
    enterprises_for_user,
    is_enterprise_user,
    member_enterprise_ids,
    own_enterprise,
)

# 易制毒化学品管理条例 in force from 1 November 2005: no report covers an earlier year.
FIRST_YEAR = 2005
MAX_KG = Decimal("99999999999.999")
GRAM = Decimal("0.001")
PLATFORM_QUANTUM = Decimal("0.000001")
# A fact of the credit scheme decays after its months (12 for late_annual_report by default); three ended years
# hold every late or missing report that may still count, whatever a district's scheme sets.
CREDIT_YEARS = 3
MAX_NOTE = 2000


class FilingState(models.TextChoices):
    """Where a firm stands with its report on a year, on a day."""

    DUE = "due", gettext_lazy("Due")
    ON_TIME = "on_time", gettext_lazy("Submitted on time")
    LATE = "late", gettext_lazy("Submitted late")
    MISSING = "missing", gettext_lazy("Missing")
    NO_ACTIVITY = "no_activity", gettext_lazy("No ledger activity")


# Lists show what needs the office first.
STATE_ORDER = {
    FilingState.MISSING: 0,
    FilingState.LATE: 1,
    FilingState.DUE: 2,
    FilingState.ON_TIME: 3,
    FilingState.NO_ACTIVITY: 4,
}


class ReportConflict(ServiceError):
    """The report exists already, or its status does not allow the step."""

    status = 409


# Deadlines ---------------------------------------------------------------------------------------------------


def deadline_for(book: PermitPolicyBook, org_path: str, year: int) -> tuple[dt.date, PolicyVersion | None]:
    """The report on ``year`` is due on this day for a firm of the district at ``org_path``: the permit rules in
    force on 1 January of the next year (the first day it can be filed), with their version. A version whose
    reporting rule cannot be read falls back to the shipped rule (the deadline must never fail)."""
    on = dt.date(year + 1, 1, 1)
    rules, version = book.rules_for(org_path, on)
    calendar = book.calendar_for(org_path, on)
    try:
        return annual_report_deadline(year, rules=rules, calendar=calendar), version
    except (KeyError, TypeError, ValueError, PermitRuleError):
        return annual_report_deadline(year, rules=DEFAULT_PERMIT_RULES, calendar=calendar), None


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(django_settings.TIME_ZONE)


def _year_start(year: int) -> dt.datetime:
    return dt.datetime.combine(dt.date(year, 1, 1), dt.time(), tzinfo=_zone())


def _day_end(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=_zone())


# States ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportState:
    """One firm's report on one year as of a day: the deadline (the report's own once submitted), whether the
    firm had ledger activity in the year, the report if it was submitted by then, and the state."""

    enterprise_id: int
    year: int
    deadline: dt.date
    active: bool
    state: str
    report_id: int | None = None
    submitted_on: dt.date | None = None
    report_status: str = ""

    @property
    def days_late(self) -> int:
        if self.submitted_on is None or self.submitted_on <= self.deadline:
            return 0
        return (self.submitted_on - self.deadline).days

    @property
    def label(self) -> str:
        return str(FilingState(self.state).label)

    @property
    def report_status_label(self) -> str:
        return str(AnnualReportStatus(self.report_status).label) if self.report_status else ""


def annual_report_states(
    firms: Iterable[tuple[int, str]],
    years: Iterable[int],
    *,
    today: dt.date,
    book: PermitPolicyBook | None = None,
) -> dict[tuple[int, int], ReportState]:
    """The state of each firm (id, org path) and year on ``today``, for all of them at once (three queries: the
    firms' activity per year, the reports submitted by the end of ``today``, the permit policies). Reports
    submitted after ``today`` do not count yet, so a past day is judged as it stood then."""
    firm_paths = dict(firms)
    wanted_years = sorted(set(years))
    if not firm_paths or not wanted_years:
        return {}
    ids = list(firm_paths)
    annotations = {
        f"active_{year}": Exists(
            EpcisEvent.objects.filter(
                enterprise_id=OuterRef("pk"),
                event_time__gte=_year_start(year),
                event_time__lt=_year_start(year + 1),
            )
        )
        for year in wanted_years
    }
    active: dict[int, dict[int, bool]] = {}
    for pk, *flags in (
        Enterprise.objects.filter(pk__any=ids).annotate(**annotations).values_list("pk", *annotations)
    ):
        active[pk] = dict(zip(wanted_years, flags, strict=True))
    reports = {
        (firm_id, year): (pk, submitted_at, due_on, status)
        for pk, firm_id, year, submitted_at, due_on, status in AnnualReport.objects.filter(
            enterprise_id__any=ids, year__in=wanted_years, submitted_at__lt=_day_end(today)
        ).values_list("pk", "enterprise_id", "year", "submitted_at", "due_on", "status")
    }
    book = book or PermitPolicyBook()
    deadlines: dict[tuple[str, int], dt.date] = {}
    states: dict[tuple[int, int], ReportState] = {}
    for firm_id, path in firm_paths.items():
        for year in wanted_years:
            is_active = active.get(firm_id, {}).get(year, False)
            report = reports.get((firm_id, year))
            if report is not None:
                pk, submitted_at, due_on, status = report
                submitted_on = timezone.localdate(submitted_at)
                states[(firm_id, year)] = ReportState(
                    firm_id,
                    year,
                    due_on,
                    is_active,
                    FilingState.LATE if submitted_on > due_on else FilingState.ON_TIME,
                    pk,
                    submitted_on,
                    status,
                )
                continue
            if (path, year) not in deadlines:
                deadlines[(path, year)] = deadline_for(book, path, year)[0]
            deadline = deadlines[(path, year)]
            if not is_active:
                state = FilingState.NO_ACTIVITY
            elif today > deadline:
                state = FilingState.MISSING
            else:
                state = FilingState.DUE
            states[(firm_id, year)] = ReportState(firm_id, year, deadline, is_active, state)
    return states


def annual_report_credit_facts(enterprise_ids: list[int], as_of: dt.date) -> dict[int, list[CreditFact]]:
    """The ``late_annual_report`` facts (``credit.DEFAULT_CREDIT_SCHEME``) of each firm on ``as_of``, read for all
    firms at once (``annual_report_states``): a report first submitted after its deadline, dated the day it came
    (evidence ``annual_report:<id>``), and a report still missing after its deadline from a firm with ledger
    activity in the year, dated the day after the deadline (evidence ``annual_report_due:<firm>:<year>``). The
    scorer decays them."""
    facts: dict[int, list[CreditFact]] = defaultdict(list)
    firms = list(Enterprise.objects.filter(pk__any=enterprise_ids).values_list("pk", "org_path"))
    years = range(as_of.year - CREDIT_YEARS, as_of.year)
    for (firm_id, year), state in sorted(annual_report_states(firms, years, today=as_of).items()):
        if state.state == FilingState.LATE and state.submitted_on is not None:
            facts[firm_id].append(
                CreditFact(
                    "late_annual_report",
                    state.submitted_on,
                    f"annual_report:{state.report_id}",
                    note=f"{year}: due {state.deadline}, submitted {state.submitted_on}",
                )
            )
        elif state.state == FilingState.MISSING:
            facts[firm_id].append(
                CreditFact(
                    "late_annual_report",
                    state.deadline + dt.timedelta(days=1),
                    f"annual_report_due:{firm_id}:{year}",
                    note=f"{year}: due {state.deadline}, missing",
                )
            )
    return facts


# Platform figures --------------------------------------------------------------------------------------------


def platform_figures(enterprise_id: int, year: int) -> dict[int, dict[str, Decimal]] | None:
    """The firm's annual totals per substance id from its monthly balances of January to December (see the module
    docstring), in kg pure; None when the balances cannot be computed (the firm then declares its figures
    without the platform's)."""
    try:
        balances = monthly_balances(
            first_month=dt.date(year, 1, 1),
            months=12,
            settings=BalanceSettings(),
            enterprise_ids=[enterprise_id],
        )
    except BalanceError:
        return None
    series: dict[int, list[Any]] = defaultdict(list)
    for balance in balances:
        series[balance.substance_id].append(balance)
    figures: dict[int, dict[str, Decimal]] = {}
    for substance_id, months in series.items():
        months.sort(key=lambda balance: balance.month)
        first, last = months[0].result, months[-1].result
        totals = {
            "opening_stock": first.terms.opening_stock or Decimal(0),
            "receipts": sum((m.result.terms.receipts for m in months), Decimal(0)),
            "production": sum((m.result.terms.production for m in months), Decimal(0)),
            "shipments": sum((m.result.terms.shipments for m in months), Decimal(0)),
            "consumption": sum((m.result.terms.consumption for m in months), Decimal(0)),
            "documented_losses": sum((m.result.terms.documented_losses for m in months), Decimal(0)),
            "closing_stock": last.closing_stock if last.closing_stock is not None else last.book_stock,
        }
        figures[substance_id] = {name: value.quantize(PLATFORM_QUANTUM) for name, value in totals.items()}
    return figures


def prefill_value(platform: Decimal | None) -> Decimal:
    """What the form offers for a figure: the platform's, to the gram, never negative (a negative year-end book
    stock says the records lack something; the firm declares the stock it holds)."""
    if platform is None:
        return Decimal(0).quantize(GRAM)
    return max(platform, Decimal(0)).quantize(GRAM, rounding=ROUND_HALF_UP)


@dataclass
class PrefillLine:
    """One substance of the submission form: the platform's figures and the values offered."""

    substance: Substance
    platform: dict[str, Decimal] | None
    declared: dict[str, Decimal]


def prefill(enterprise: Enterprise, year: int, report: AnnualReport | None = None) -> list[PrefillLine]:
    """The lines the form starts from: every substance of the platform's figures (and of the report's latest
    revision when correcting one), offered at the declared values of that revision, else at the platform's."""
    figures = platform_figures(enterprise.pk, year)
    previous = _declared_of(report) if report is not None else {}
    substance_ids = set(figures or {}) | set(previous)
    substances = {s.pk: s for s in Substance.objects.filter(pk__in=substance_ids)}
    lines = []
    for substance in sorted(substances.values(), key=lambda s: (s.category, s.code)):
        platform = _platform_line(figures, substance.pk)
        declared = previous.get(substance.pk) or {
            name: prefill_value(platform[name] if platform else None) for name in FIGURES
        }
        lines.append(PrefillLine(substance, platform, declared))
    return lines


def _platform_line(
    figures: dict[int, dict[str, Decimal]] | None, substance_id: int
) -> dict[str, Decimal] | None:
    if figures is None:
        return None
    return figures.get(substance_id) or {name: Decimal(0).quantize(PLATFORM_QUANTUM) for name in FIGURES}


def _declared_of(report: AnnualReport) -> dict[int, dict[str, Decimal]]:
    lines = AnnualReportLine.objects.filter(revision__report=report, revision__number=report.revision)
    return {
        line.substance_id: {name: getattr(line, f"declared_{name}") for name in FIGURES} for line in lines
    }


# Selectors ---------------------------------------------------------------------------------------------------


def reports_for_user(user: Any, *, year: int | None = None) -> QuerySet[AnnualReport]:
    """Reports the user may list: their firm's (firm users) or those of the firms in their search scope,
    latest year first."""
    if acts_as_firm(user):
        reports = AnnualReport.objects.filter(enterprise_id__in=member_enterprise_ids(user))
    else:
        reports = AnnualReport.objects.for_user(user)
    if year is not None:
        reports = reports.filter(year=year)
    return reports.select_related("enterprise", "submitted_by", "reviewed_by").order_by(
        "-year", "enterprise__name", "id"
    )


def access_report(user: Any, pk: Any, *, action: str = READ) -> AnnualReport:
    """One report: a firm's users reach their firm's (to read and to correct it through the services);
    officials read those in their search scope and review those in their capture scope (``action=WRITE``)."""
    base = AnnualReport.objects.select_related(
        "enterprise", "enterprise__org_unit", "submitted_by", "reviewed_by", "rules_version"
    )
    if acts_as_firm(user):
        if action == WRITE:
            raise NotFound()
        try:
            found = base.filter(pk=pk, enterprise_id__in=member_enterprise_ids(user)).first()
        except (ValueError, TypeError):
            found = None
        if found is None:
            raise NotFound()
        return found
    report: AnnualReport = access_object(user, base, pk, action=action)
    return report


def revisions_of(report: AnnualReport) -> list[AnnualReportRevision]:
    """Every revision of the report, latest first, each with its lines (and their substances): two queries."""
    return list(
        report.revisions.select_related("submitted_by")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=AnnualReportLine.objects.select_related("substance").order_by(
                    "substance__category", "substance__code"
                ),
            )
        )
        .order_by("-number")
    )


def files_of(report: AnnualReport) -> QuerySet[AnnualReportFile]:
    return report.files.defer("content").select_related("uploaded_by").order_by("id")


def access_file(user: Any, report_pk: Any, pk: Any) -> AnnualReportFile:
    report = access_report(user, report_pk)
    found = files_of(report).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound()
    found.report = report
    return found


@dataclass(frozen=True)
class FigureRow:
    """One figure of a line, for display: the platform's, the declared, and the difference (declared − platform;
    None without a platform figure)."""

    name: str
    label: str
    platform: Decimal | None
    declared: Decimal
    difference: Decimal | None


def line_figures(line: AnnualReportLine) -> list[FigureRow]:
    rows = []
    for name in FIGURES:
        platform = getattr(line, f"platform_{name}")
        declared = getattr(line, f"declared_{name}")
        rows.append(
            FigureRow(
                name,
                str(FIGURE_LABELS[name]),
                platform,
                declared,
                declared - platform if platform is not None else None,
            )
        )
    return rows


def line_differs(line: AnnualReportLine) -> bool:
    return any(row.difference is None or row.difference != 0 for row in line_figures(line))


def with_differences(reports: Iterable[AnnualReport]) -> list[AnnualReport]:
    """The reports with ``differences`` set: how many substances of the latest revision the firm declared
    otherwise than the platform computed (one query for all of them)."""
    listed = list(reports)
    counts: dict[int, int] = defaultdict(int)
    if listed:
        lines = AnnualReportLine.objects.filter(
            revision__report_id__in=[report.pk for report in listed],
            revision__number=F("revision__report__revision"),
        ).select_related("revision")
        for line in lines:
            if line_differs(line):
                counts[line.revision.report_id] += 1
    for report in listed:
        report.differences = counts[report.pk]  # type: ignore[attr-defined]
    return listed


@dataclass(frozen=True)
class FilingRow:
    """A row of the office's list: one firm's state on the year."""

    enterprise_id: int
    uscc: str
    name: str
    district: str
    state: ReportState


def filing_rows(user: Any, *, year: int, status: str = "", today: dt.date | None = None) -> list[FilingRow]:
    """The state of every firm the user may see on ``year`` (firm users: their own), missing and late first, then
    by firm name; ``status`` keeps one state. A fixed number of queries, whatever the number of firms."""
    today = today or timezone.localdate()
    firms = list(
        enterprises_for_user(user)
        .select_related("org_unit")
        .only("pk", "uscc", "name", "org_path", "org_unit__name")
        .order_by("name", "pk")
    )
    states = annual_report_states([(firm.pk, firm.org_path) for firm in firms], [year], today=today)
    rows = [
        FilingRow(firm.pk, firm.uscc, firm.name, firm.org_unit.name, states[(firm.pk, year)])
        for firm in firms
    ]
    if status:
        rows = [row for row in rows if row.state.state == status]
    rows.sort(key=lambda row: (STATE_ORDER[FilingState(row.state.state)], row.name, row.enterprise_id))
    return rows


def clean_year_filter(value: Any, today: dt.date | None = None) -> int:
    """A year for the lists (an ended year, 2005 or later), or a 400 naming ``year``."""
    today = today or timezone.localdate()
    fields: dict[str, str] = {}
    year = _clean_year(value, today, fields)
    if fields:
        raise _invalid(_("The year is not valid: %(problems)s"), fields)
    assert year is not None
    return year


def last_ended_year(today: dt.date | None = None) -> int:
    return (today or timezone.localdate()).year - 1


# Services: helpers -------------------------------------------------------------------------------------------


def _invalid(what: str, fields: Mapping[str, str], code: str = "invalid") -> ServiceError:
    problems = join_problems(f"{name}: {problem}" for name, problem in fields.items())
    return ServiceError(what % {"problems": problems}, code=code, fields=dict(fields))


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def reporting_enterprise(actor: Any) -> Enterprise:
    """The firm a report is filed for: the one the actor's account acts for. Only a firm's own users file
    reports (the office reviews them)."""
    if not acts_as_firm(actor):
        raise Forbidden(_("Only a firm's own users submit its annual report."))
    return own_enterprise(actor)


def _require_member(actor: Any, report: AnnualReport) -> None:
    """The firm's own users act on its report (the CLI, actor None, too); a firm user of another firm does not
    see it (404); an official sees it but does not write the firm's figures (403)."""
    if actor is None:
        return
    if is_enterprise_user(actor) and report.enterprise_id in member_enterprise_ids(actor):
        return
    if acts_as_firm(actor):
        raise NotFound()
    raise Forbidden(_("Only the firm's own users correct its annual report or attach files to it."))


def _require_official(actor: Any, report: AnnualReport) -> None:
    """Reviews: the role writes firms' records and the firm's district is in the capture scope."""
    if actor is None:
        return
    if acts_as_firm(actor) or not user_may(actor, AnnualReport, WRITE):
        raise NotFound()
    if not in_roots(report.org_unit_id, capture_root_ids(actor)):
        raise NotFound()


def _clean_year(value: Any, today: dt.date, fields: dict[str, str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        fields["year"] = _("a year like %(year)s") % {"year": today.year - 1}
        return None
    try:
        year = int(str(value).strip())
    except ValueError:
        fields["year"] = _("a year like %(year)s") % {"year": today.year - 1}
        return None
    if year > today.year:
        fields["year"] = _("%(year)s is in the future") % {"year": year}
    elif year == today.year:
        fields["year"] = _("%(year)s has not ended yet: its report can be filed from 1 January %(next)s") % {
            "year": year,
            "next": year + 1,
        }
    elif year < FIRST_YEAR:
        fields["year"] = _("%(first)s or later") % {"first": FIRST_YEAR}
    else:
        return year
    return None


def _kg(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


@dataclass
class _Line:
    substance: Substance
    platform: dict[str, Decimal] | None
    declared: dict[str, Decimal]


def _clean_lines(
    lines: Any,
    *,
    year: int,
    figures: dict[int, dict[str, Decimal]] | None,
    previous: dict[int, dict[str, Decimal]],
    fields: dict[str, str],
) -> list[_Line]:
    """The revision's lines: every substance of the platform's figures and of the previous revision, plus those
    the firm declares; a figure the firm leaves out keeps its previous declared value, else the platform's."""
    given: list[Any]
    if lines in (None, ""):
        given = []
    elif isinstance(lines, list | tuple):
        given = list(lines)
    else:
        fields["lines"] = _("a list of substances with their figures")
        given = []
    codes = [str(item.get("substance") or "").strip() for item in given if isinstance(item, Mapping)]
    catalogue = {s.code: s for s in Substance.objects.filter(code__in=codes)}
    year_start, year_end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    declared_by_substance: dict[int, tuple[Substance, dict[str, Decimal]]] = {}
    for index, item in enumerate(given):
        where = f"lines[{index}]"
        if not isinstance(item, Mapping):
            fields[where] = _("an object with a substance and its figures")
            continue
        code = str(item.get("substance") or "").strip()
        substance = catalogue.get(code)
        if substance is None:
            fields[f"{where}.substance"] = _("unknown substance %(code)s") % {"code": code or "—"}
            continue
        if substance.listed_from > year_end or (
            substance.listed_until is not None and substance.listed_until <= year_start
        ):
            fields[f"{where}.substance"] = _("%(name)s was not listed in %(year)s") % {
                "name": substance.name_zh,
                "year": year,
            }
            continue
        if substance.pk in declared_by_substance:
            fields[f"{where}.substance"] = _("%(name)s is declared twice") % {"name": substance.name_zh}
            continue
        for key in sorted(set(item) - {"substance", *FIGURES}):
            fields[f"{where}.{key}"] = _("not a figure of the report (figures: %(known)s)") % {
                "known": ", ".join(FIGURES)
            }
        values: dict[str, Decimal] = {}
        for name in FIGURES:
            raw = item.get(name)
            if raw is None or raw == "":
                continue
            number = _kg(raw)
            if number is None:
                fields[f"{where}.{name}"] = _("a number of kg")
            elif number < 0:
                fields[f"{where}.{name}"] = _("must not be negative")
            elif number > MAX_KG or number.as_tuple().exponent < -3:  # type: ignore[operator]
                fields[f"{where}.{name}"] = _("at most %(max)s kg, to the gram") % {"max": MAX_KG}
            else:
                values[name] = number.quantize(GRAM)
        declared_by_substance[substance.pk] = (substance, values)
    substance_ids = set(figures or {}) | set(previous) | set(declared_by_substance)
    known = {s.pk: s for s in Substance.objects.filter(pk__in=substance_ids - set(declared_by_substance))}
    known.update({pk: substance for pk, (substance, _values) in declared_by_substance.items()})
    result = []
    for substance in sorted(known.values(), key=lambda s: (s.category, s.code)):
        platform = _platform_line(figures, substance.pk)
        offered = previous.get(substance.pk) or {
            name: prefill_value(platform[name] if platform else None) for name in FIGURES
        }
        declared = {**offered, **declared_by_substance.get(substance.pk, (substance, {}))[1]}
        result.append(_Line(substance, platform, declared))
    return result


def _checked_file(
    file: tuple[str, str, bytes] | None, fields: dict[str, str]
) -> tuple[str, str, bytes] | None:
    if file is None:
        return None
    name, content_type, data = file
    try:
        checked = check_upload(name, content_type, data, default_stem="annual-report")
    except UploadError as error:
        fields["file"] = str(error)
        return None
    return checked.file_name, checked.content_type, data


def _clean_note(note: str, fields: dict[str, str]) -> str:
    cleaned = (note or "").strip()
    if len(cleaned) > MAX_NOTE:
        fields["note"] = _("at most %(n)s characters") % {"n": MAX_NOTE}
    return cleaned


def _store_revision(
    actor: Any,
    report: AnnualReport,
    number: int,
    now: dt.datetime,
    lines: list[_Line],
    *,
    note: str,
    platform_available: bool,
) -> AnnualReportRevision:
    revision = AnnualReportRevision.objects.create(
        report=report,
        number=number,
        submitted_at=now,
        submitted_by=_user(actor),
        note=note,
        platform_available=platform_available,
    )
    AnnualReportLine.objects.bulk_create(
        [
            AnnualReportLine(
                revision=revision,
                substance=line.substance,
                **{f"platform_{name}": line.platform[name] if line.platform else None for name in FIGURES},
                **{f"declared_{name}": line.declared[name] for name in FIGURES},
            )
            for line in lines
        ]
    )
    return revision


def _store_file(
    actor: Any, report: AnnualReport, checked: tuple[str, str, bytes], revision: int
) -> AnnualReportFile:
    name, content_type, data = checked
    content, digest = encode_content(data)
    stored = AnnualReportFile.objects.create(
        report=report,
        revision=revision,
        file_name=name,
        content_type=content_type,
        size=len(data),
        digest=digest,
        content=content,
        uploaded_by=_user(actor),
    )
    audit_write(
        action=AuditAction.CREATE,
        actor=actor,
        obj=stored,
        org_unit_code=report.enterprise.org_unit.code,
        detail={"annual_report": report.pk, "revision": revision, "size": len(data), "digest": digest},
    )
    return stored


def _differences(lines: list[_Line]) -> list[str]:
    """The substances the firm declared otherwise than the platform computed (for the audit record)."""
    return [
        line.substance.code
        for line in lines
        if line.platform is None or any(line.declared[name] != line.platform[name] for name in FIGURES)
    ]


# Services ----------------------------------------------------------------------------------------------------


def annual_report_submit(
    *,
    actor: Any,
    year: Any,
    lines: Any = None,
    note: str = "",
    file: tuple[str, str, bytes] | None = None,
    enterprise: Enterprise | None = None,
) -> AnnualReport:
    """A firm's user submits the firm's report on ``year`` (an ended year, 2005 or later): the platform's figures
    are computed and stored with the declared ones (``lines``: substance code and figures in kg pure, a figure
    left out takes the platform's), with an optional file (name, content type, bytes: PDF, JPEG or PNG). Every
    problem is reported at once as field errors (400); a report on the year already exists: 409 ``duplicate``
    (correct it with ``annual_report_revise``). The CLI (``actor`` None) names the firm."""
    if actor is not None:
        firm = reporting_enterprise(actor)
    elif enterprise is None:
        raise ServiceError(_("The server operator must name the firm."), fields={"enterprise": _("required")})
    else:
        firm = enterprise
    now = timezone.now()
    today = timezone.localdate(now)
    fields: dict[str, str] = {}
    clean_year = _clean_year(year, today, fields)
    note = _clean_note(note, fields)
    checked = _checked_file(file, fields)
    existing = (
        AnnualReport.objects.filter(enterprise=firm, year=clean_year).only("pk").first()
        if clean_year is not None
        else None
    )
    if existing is not None:
        raise _duplicate(existing, clean_year)
    figures = platform_figures(firm.pk, clean_year) if clean_year is not None else {}
    cleaned = _clean_lines(
        lines, year=clean_year or today.year - 1, figures=figures, previous={}, fields=fields
    )
    if fields:
        raise _invalid(_("The annual report cannot be submitted: %(problems)s"), fields)
    assert clean_year is not None
    due_on, rules_version = deadline_for(PermitPolicyBook(), firm.org_path, clean_year)
    try:
        with transaction.atomic():
            report = AnnualReport.objects.create(
                enterprise=firm,
                org_unit_id=firm.org_unit_id,
                year=clean_year,
                due_on=due_on,
                rules_version=rules_version,
                submitted_at=now,
                submitted_by=_user(actor),
                revision=1,
                revised_at=now,
            )
            _store_revision(actor, report, 1, now, cleaned, note=note, platform_available=figures is not None)
            if checked is not None:
                _store_file(actor, report, checked, 1)
            audit_write(
                action=AuditAction.CREATE,
                actor=actor,
                obj=report,
                detail={
                    "enterprise": firm.uscc,
                    "year": clean_year,
                    "revision": 1,
                    "due_on": due_on.isoformat(),
                    "late": report.is_late,
                    "rules_version": rules_version.pk if rules_version else None,
                    "substances": [line.substance.code for line in cleaned],
                    "differs_from_platform": _differences(cleaned),
                    "platform_available": figures is not None,
                    "file": checked is not None,
                },
            )
    except IntegrityError:
        # Two submissions of the same report at once: the second one finds the first.
        existing = AnnualReport.objects.filter(enterprise=firm, year=clean_year).only("pk").first()
        if existing is None:
            raise
        raise _duplicate(existing, clean_year) from None
    return report


def _duplicate(existing: AnnualReport, year: int | None) -> ReportConflict:
    return ReportConflict(
        _("The report on %(year)s was submitted already (report %(id)s): correct it instead.")
        % {"year": year, "id": existing.pk},
        code="duplicate",
        fields={"year": _("already submitted (report %(id)s)") % {"id": existing.pk}},
    )


def _locked(report: AnnualReport) -> AnnualReport:
    """Reload the report locked for the rest of the transaction, so two corrections or a correction and a review
    run one after the other and each sees the other's status and revision."""
    locked = AnnualReport.objects.select_for_update().get(pk=report.pk)
    locked.enterprise = report.enterprise
    return locked


def _refuse_if_reviewed(report: AnnualReport) -> None:
    if report.status == AnnualReportStatus.REVIEWED:
        raise ReportConflict(
            _("The office reviewed this report on %(day)s: it can no longer be changed.")
            % {"day": timezone.localdate(report.reviewed_at).isoformat() if report.reviewed_at else "—"},
            code="invalid_transition",
            fields={"status": report.status},
        )


def annual_report_revise(
    *,
    actor: Any,
    report: AnnualReport,
    lines: Any = None,
    note: str = "",
    file: tuple[str, str, bytes] | None = None,
) -> AnnualReport:
    """The firm corrects its report before the office's review (or after the office returned it): a new revision
    with the platform's figures recomputed and the declared ones (a figure left out keeps its previous declared
    value). The earlier revisions stay; the audit record names the figures that changed. A reviewed report is
    refused (409)."""
    _require_member(actor, report)
    fields: dict[str, str] = {}
    note = _clean_note(note, fields)
    checked = _checked_file(file, fields)
    figures = platform_figures(report.enterprise_id, report.year)
    previous = _declared_of(report)
    cleaned = _clean_lines(lines, year=report.year, figures=figures, previous=previous, fields=fields)
    if fields:
        raise _invalid(_("The annual report cannot be corrected: %(problems)s"), fields)
    now = timezone.now()
    with transaction.atomic():
        locked = _locked(report)
        _refuse_if_reviewed(locked)
        if locked.revision != report.revision:
            # Another correction came in since the figures were read: start again from it.
            raise ReportConflict(
                _("The report was corrected meanwhile (revision %(n)s): reload it and correct it again.")
                % {"n": locked.revision},
                code="conflict",
                fields={"revision": str(locked.revision)},
            )
        previous_status = locked.status
        locked.revision += 1
        locked.revised_at = now
        locked.status = AnnualReportStatus.SUBMITTED
        locked.save(update_fields=["revision", "revised_at", "status", "last_updated"])
        _store_revision(
            actor, locked, locked.revision, now, cleaned, note=note, platform_available=figures is not None
        )
        if checked is not None:
            _store_file(actor, locked, checked, locked.revision)
        changed: dict[str, dict[str, list[str | None]]] = {}
        for line in cleaned:
            before = previous.get(line.substance.pk)
            for name in FIGURES:
                old = before[name] if before else None
                if old != line.declared[name]:
                    changed.setdefault(line.substance.code, {})[name] = [
                        str(old) if old is not None else None,
                        str(line.declared[name]),
                    ]
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=locked,
            detail={
                "transition": "revise",
                "from": previous_status,
                "revision": locked.revision,
                "previous_revision": locked.revision - 1,
                "changed": dict(sorted(changed.items())[:50]),
                "differs_from_platform": _differences(cleaned),
                "platform_available": figures is not None,
                "file": checked is not None,
            },
        )
    report.refresh_from_db()
    return report


def annual_report_file_add(
    *, actor: Any, report: AnnualReport, file_name: str, content_type: str, data: bytes
) -> AnnualReportFile:
    """The firm attaches a file (PDF, JPEG or PNG, at most 10 MB; the declared type must match the file's
    signature) to its report until the office has reviewed it; stored encrypted with its SM3 digest."""
    _require_member(actor, report)
    fields: dict[str, str] = {}
    checked = _checked_file((file_name, content_type, data), fields)
    if fields or checked is None:
        raise _invalid(_("The file cannot be uploaded: %(problems)s"), fields)
    with transaction.atomic():
        locked = _locked(report)
        _refuse_if_reviewed(locked)
        return _store_file(actor, locked, checked, locked.revision)


def annual_report_review(*, actor: Any, report: AnnualReport, accept: bool, note: str = "") -> AnnualReport:
    """An official of the firm's district reviews a submitted report: accepted → reviewed (locked), or returned
    to the firm with the reason (at least 4 characters), which the firm answers with a correction."""
    _require_official(actor, report)
    note = (note or "").strip()
    if not accept and len(note) < 4:
        raise _invalid(
            _("The report cannot be returned: %(problems)s"), {"note": _("the reason, at least 4 characters")}
        )
    if len(note) > MAX_NOTE:
        raise _invalid(
            _("The review cannot be recorded: %(problems)s"),
            {"note": _("at most %(n)s characters") % {"n": MAX_NOTE}},
        )
    with transaction.atomic():
        locked = _locked(report)
        if locked.status != AnnualReportStatus.SUBMITTED:
            raise ReportConflict(
                _("Only a submitted report can be reviewed; this one is %(status)s.")
                % {"status": AnnualReportStatus(locked.status).label},
                code="invalid_transition",
                fields={"status": locked.status},
            )
        previous = locked.status
        locked.status = AnnualReportStatus.REVIEWED if accept else AnnualReportStatus.RETURNED
        locked.reviewed_at = timezone.now()
        locked.reviewed_by = _user(actor)
        locked.review_note = note
        locked.save(update_fields=["status", "reviewed_at", "reviewed_by", "review_note", "last_updated"])
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=locked,
            detail={
                "transition": "accept" if accept else "return",
                "from": previous,
                "to": locked.status,
                "revision": locked.revision,
                **({"reason": note[:500]} if not accept else {}),
            },
        )
    report.refresh_from_db()
    return report


def file_content(user: Any, stored: AnnualReportFile) -> bytes:
    """The file's bytes for a download: audited as EXPORT, checked against its SM3 digest (a FAILURE audit record
    and a 500 when the stored content is damaged)."""
    return read_content(
        user=user,
        obj=stored,
        encoded=stored_text(AnnualReportFile, stored.pk),
        digest=stored.digest,
        detail={"digest": stored.digest, "annual_report": stored.report_id, "revision": stored.revision},
        org_unit_code=stored.report.enterprise.org_unit.code,
    )


def open_years(enterprise: Enterprise, today: dt.date | None = None, count: int = 3) -> list[ReportState]:
    """The firm's state on its last ``count`` ended years, latest first (for the firm's pages)."""
    today = today or timezone.localdate()
    years = [today.year - offset for offset in range(1, count + 1) if today.year - offset >= FIRST_YEAR]
    states = annual_report_states([(enterprise.pk, enterprise.org_path)], years, today=today)
    return [states[(enterprise.pk, year)] for year in years]
