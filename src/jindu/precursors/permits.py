"""Online applications (全程网办) for precursor permits and filings: services, selectors, certificates, and the
permit checks of captured ledger events.

Workflow (``TRANSITIONS``)::

    draft --submit--> submitted --accept (受理)--> accepted --approve--> approved (a Permit is issued)
                          |                           |
                          +-------reject--------------+--reject--> rejected
    draft / submitted / accepted --withdraw (the firm)--> withdrawn

* A firm's own users (role ``enterprise``) create, submit and withdraw the applications of their firm and
  attach files; the offices and police of the firm's district (``precursors.manage_enterprises`` and the
  district in their capture scope) accept, approve and reject. Officials never see drafts.
* The rules (``permit_rules.DEFAULT_PERMIT_RULES``) and the working calendar are versioned policies
  (``precursors.permit_rules``, ``precursors.working_calendar``) resolved with ``policy_in_force`` for the
  firm's district on the day; the versions applied are recorded on the application. The module defaults
  apply only when no version is installed.
* The legal deadline is counted from the online submission (``decision_deadline``): 行政许可法 art. 32 treats
  a submission the office does not refuse within 5 days as accepted on receipt, so this is the conservative day.
* 智能备案: a filing (``kind == "filing"``) submitted by an A-grade firm for a buyer–seller–substance pair that
  had a filing issued in the last 12 months, for no more than that filing's cap, is approved on submission,
  flagged ``auto_approved`` and audited as such. B, C and D grades (and ungraded firms) are always decided by
  an official.
* The certificate is a PDF (reportlab, STSong-Light) with a QR code of the public verification URL
  ``/precursors/verify/<token>/``; its SM3 digest is stored, so an uploaded PDF can be checked byte for byte.
* Caps: ``permit_warnings_and_consumption`` is called by ``services.epcis_capture``. See its docstring.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape

import qrcode
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Paragraph, Table, TableStyle

from jindu.core.audit import audit_write
from jindu.core.crypto import get_provider
from jindu.core.errors import Forbidden, NotFound, ServiceError, join_problems
from jindu.core.models import AuditAction, OrgUnit, PolicyVersion
from jindu.core.policy import policy_in_force
from jindu.core.scoping import READ, WRITE, access_object
from jindu.core.storedfiles import (
    UploadError,
    check_upload,
    encode_content,
    read_content,
    stored_text,
)
from jindu.core.validators import validate_uscc
from jindu.precursors.models import Enterprise, EnterpriseStatus, Substance
from jindu.precursors.models.permits import (
    PENDING_STATUSES,
    ApplicationAttachment,
    ApplicationStatus,
    AttachmentKind,
    Permit,
    PermitApplication,
    PermitStatus,
)
from jindu.precursors.permit_rules import (
    CHINA_2026_CALENDAR,
    DEFAULT_PERMIT_RULES,
    CalendarError,
    PermitRule,
    PermitRuleError,
    PermitUseError,
    Validity,
    WorkingCalendar,
    add_months,
    check_use,
    decision_deadline,
    rule_for,
    sla_state,
    validity,
)
from jindu.precursors.selectors import acts_as_firm, is_enterprise_user, member_enterprise_ids, own_enterprise

# Versioned policies ---------------------------------------------------------------------------------------

PERMIT_RULES_POLICY = "precursors.permit_rules"
WORKING_CALENDAR_POLICY = "precursors.working_calendar"
# 易制毒化学品管理条例 in force: the shipped defaults apply from this day unless a region publishes its own.
DEFAULT_POLICY_EFFECTIVE_FROM = dt.date(2005, 11, 1)


def install_default_permit_policies(policy_model: Any = PolicyVersion) -> None:
    """Install the shipped rules and the 2026 working calendar as national versions (the data migration does
    this; a test database flushed by a transactional test gets them back the same way)."""
    defaults = {
        PERMIT_RULES_POLICY: (DEFAULT_PERMIT_RULES, "precursors.md §1.3, §1.4 (permit_rules.py)"),
        WORKING_CALENDAR_POLICY: (CHINA_2026_CALENDAR.to_payload(), CHINA_2026_CALENDAR.source),
    }
    for kind, (payload, source) in defaults.items():
        policy_model.objects.get_or_create(
            kind=kind,
            region=None,
            effective_from=DEFAULT_POLICY_EFFECTIVE_FROM,
            defaults={
                "label": "Default (shipped)",
                "payload": payload,
                "source": source[:200],
                "is_default": True,
            },
        )


@dataclass(frozen=True)
class AppliedRules:
    """The rules and the working calendar in force for a district on a day, with the versions they came from
    (``None`` when no version is installed and the module defaults apply)."""

    rules: Mapping[str, Any]
    calendar: WorkingCalendar
    rules_version: PolicyVersion | None
    calendar_version: PolicyVersion | None


def rules_in_force(org_unit: OrgUnit | None, on: dt.date) -> AppliedRules:
    try:
        rules_version: PolicyVersion | None = policy_in_force(PERMIT_RULES_POLICY, org_unit, on)
    except NotFound:
        rules_version = None
    try:
        calendar_version: PolicyVersion | None = policy_in_force(WORKING_CALENDAR_POLICY, org_unit, on)
    except NotFound:
        calendar_version = None
    return AppliedRules(
        rules=rules_version.payload if rules_version is not None else DEFAULT_PERMIT_RULES,
        calendar=(
            WorkingCalendar.from_payload(calendar_version.payload)
            if calendar_version is not None
            else CHINA_2026_CALENDAR
        ),
        rules_version=rules_version,
        calendar_version=calendar_version,
    )


def lenient(calendar: WorkingCalendar) -> WorkingCalendar:
    """The calendar without its year check: a year it has no holiday data for counts weekends only. Used when
    a deadline runs past the calendar's years (recorded) and for SLA display, which must never fail."""
    return dataclasses.replace(calendar, covered_years=frozenset())


class PermitPolicyBook:
    """Every version of the two permit policy kinds, loaded once (one query), resolved by org path and date
    with ``policy_in_force``'s rule (nearest region, then the latest effective date): lists compute the SLA of
    many applications without a query each."""

    def __init__(self) -> None:
        self.versions = list(
            PolicyVersion.objects.filter(
                kind__in=[PERMIT_RULES_POLICY, WORKING_CALENDAR_POLICY]
            ).select_related("region")
        )
        self._calendars: dict[int | None, WorkingCalendar] = {}

    def _resolve(self, kind: str, org_path: str, on: dt.date) -> PolicyVersion | None:
        codes = [segment for segment in org_path.split("/") if segment]
        best: PolicyVersion | None = None
        best_key: tuple[int, dt.date] | None = None
        for version in self.versions:
            if version.kind != kind or version.effective_from > on:
                continue
            if version.region is None:
                depth = -1
            elif version.region.code in codes:
                depth = codes.index(version.region.code)
            else:
                continue
            key = (depth, version.effective_from)
            if best_key is None or key > best_key:
                best, best_key = version, key
        return best

    def rules_for(self, org_path: str, on: dt.date) -> tuple[Mapping[str, Any], PolicyVersion | None]:
        """The permit rules in force for a district on a day, with the version they came from (the module
        defaults and None when no version is installed)."""
        version = self._resolve(PERMIT_RULES_POLICY, org_path, on)
        return (version.payload if version is not None else DEFAULT_PERMIT_RULES), version

    def calendar_for(self, org_path: str, on: dt.date) -> WorkingCalendar:
        version = self._resolve(WORKING_CALENDAR_POLICY, org_path, on)
        key = version.pk if version is not None else None
        if key not in self._calendars:
            try:
                calendar = (
                    WorkingCalendar.from_payload(version.payload)
                    if version is not None
                    else CHINA_2026_CALENDAR
                )
            except CalendarError:
                calendar = CHINA_2026_CALENDAR
            self._calendars[key] = lenient(calendar)
        return self._calendars[key]


# Vocabulary -----------------------------------------------------------------------------------------------

# Permit numbers: <prefix>-<district>-<year>-<sequence>, e.g. GMB-330203-2026-000123.
NUMBER_PREFIX = {
    "production_licence": "SC",
    "production_filing": "SCB",
    "trade_licence": "JY",
    "trade_filing": "JYB",
    "purchase_licence": "GM",
    "purchase_filing": "GMB",
    "transport_licence": "YS",
    "transport_filing": "YSB",
}
PERMIT_URN_PREFIX = "urn:jindu:permit:"
ACTIVITIES = ("purchase", "transport", "production", "trade")
SMART_FILING_MONTHS = 12
SMART_FILING_GRADES = frozenset({"A"})
CATEGORY_CN = {1: "第一类", 2: "第二类", 3: "第三类"}

# What each transition does: the statuses it leaves from, the status it reaches.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "submit": (frozenset({ApplicationStatus.DRAFT}), ApplicationStatus.SUBMITTED),
    "accept": (frozenset({ApplicationStatus.SUBMITTED}), ApplicationStatus.ACCEPTED),
    "approve": (frozenset({ApplicationStatus.ACCEPTED}), ApplicationStatus.APPROVED),
    "reject": (
        frozenset({ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED}),
        ApplicationStatus.REJECTED,
    ),
    "withdraw": (
        frozenset({ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED}),
        ApplicationStatus.WITHDRAWN,
    ),
}

# Mainland plates: province character, issuing-office letter, 5 (or 6 for new-energy vehicles) characters.
PLATE_RE = re.compile(
    r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{4,5}[A-Z0-9挂学警]$"
)
MAX_CORRIDOR_POINTS = 2000
MAX_BUFFER_M = 50_000
MAX_QUANTITY_KG = Decimal("99999999999.999")


def permit_kind(rules: Mapping[str, Any], permit_type: str) -> str:
    """ "licence" or "filing" (from the rules' permit types)."""
    return str(rules.get("permit_types", {}).get(permit_type, {}).get("kind", ""))


def permit_label(rules: Mapping[str, Any], permit_type: str) -> str:
    return str(rules.get("permit_types", {}).get(permit_type, {}).get("label_zh", permit_type))


def permit_type_for(
    activity: str, substance: Substance, rules: Mapping[str, Any] = DEFAULT_PERMIT_RULES
) -> str:
    """The permit type the law has for an activity and a substance: the licence where one exists for its
    category, else the filing (purchase of a category 1 substance → purchase_licence; category 2 or 3 →
    purchase_filing). Raises ``PermitRuleError`` when neither exists (e.g. a production filing for category 1
    is not a thing, and production of category 1 needs the licence, which exists)."""
    if activity not in ACTIVITIES:
        raise PermitRuleError(f"Unknown activity {activity!r}; activities: {', '.join(ACTIVITIES)}.")
    problems = []
    for suffix in ("licence", "filing"):
        try:
            rule_for(rules, f"{activity}_{suffix}", substance.category, substance.drug_class)
        except PermitRuleError as error:
            problems.append(str(error))
            continue
        return f"{activity}_{suffix}"
    raise PermitRuleError(" ".join(problems))


# Selectors ------------------------------------------------------------------------------------------------


def applications_for_user(user: Any) -> QuerySet[PermitApplication]:
    """Applications the user may list: their firm's, drafts included (firm users), or those of the firms in
    scope that were submitted (officials never see drafts)."""
    if acts_as_firm(user):
        applications = PermitApplication.objects.filter(enterprise_id__in=member_enterprise_ids(user))
    else:
        applications = PermitApplication.objects.for_user(user).exclude(status=ApplicationStatus.DRAFT)
    return applications.select_related("enterprise", "substance", "decided_by", "applicant").order_by(
        "-created", "-id"
    )


def pending_applications(user: Any) -> QuerySet[PermitApplication]:
    """Applications waiting for a decision (submitted or accepted), oldest deadline first."""
    return (
        applications_for_user(user)
        .filter(status__in=PENDING_STATUSES)
        .order_by("legal_deadline", "submitted_at", "id")
    )


def access_application(user: Any, pk: Any, *, action: str = READ) -> PermitApplication:
    """One application: the firm's own users reach their firm's (for reading and for the firm's own actions);
    officials read those in their search scope and decide those in their capture scope (``action=WRITE``)."""
    base = PermitApplication.objects.select_related(
        "enterprise", "enterprise__org_unit", "substance", "decided_by"
    )
    if acts_as_firm(user):
        if action == WRITE:
            raise NotFound()  # a firm acts on its applications through the firm's own services, never decides
        try:
            found = base.filter(pk=pk, enterprise_id__in=member_enterprise_ids(user)).first()
        except (ValueError, TypeError):
            found = None
        if found is None:
            raise NotFound()
        return found
    return access_object(user, base.exclude(status=ApplicationStatus.DRAFT), pk, action=action)


def permits_for_user(user: Any) -> QuerySet[Permit]:
    """Issued permits the user may list (without their certificate bytes)."""
    if acts_as_firm(user):
        permits = Permit.objects.filter(enterprise_id__in=member_enterprise_ids(user))
    else:
        permits = Permit.objects.for_user(user)
    return (
        permits.defer("certificate")
        .select_related("enterprise", "substance", "application")
        .order_by("-issued_at", "-id")
    )


def access_permit(user: Any, pk: Any, *, action: str = READ) -> Permit:
    base = Permit.objects.defer("certificate").select_related("enterprise", "substance", "application")
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
    return access_object(user, base, pk, action=action)


def attachments_of(application: PermitApplication) -> QuerySet[ApplicationAttachment]:
    return application.attachments.defer("content").select_related("uploaded_by").order_by("id")


def access_attachment(user: Any, application_pk: Any, pk: Any) -> ApplicationAttachment:
    application = access_application(user, application_pk)
    found = attachments_of(application).filter(pk=pk).first()
    if found is None:
        raise NotFound()
    found.application = application
    return found


def permit_by_token(token: str) -> Permit | None:
    """The permit a verification link names (public: no user), or None."""
    if not token or len(token) > 64:
        return None
    return (
        Permit.objects.defer("certificate")
        .select_related("enterprise", "substance")
        .filter(verification_token=token)
        .first()
    )


def permit_by_certificate(data: bytes) -> Permit | None:
    """The permit whose stored certificate has exactly these bytes (SM3 digest), or None."""
    if not data:
        return None
    digest = get_provider().sm3(data)
    return (
        Permit.objects.defer("certificate")
        .select_related("enterprise", "substance")
        .filter(certificate_digest=digest)
        .first()
    )


def with_sla(
    applications: Iterable[PermitApplication], today: dt.date | None = None
) -> list[PermitApplication]:
    """The applications with ``sla`` set (on_time / due_soon / overdue for pending ones, else None), computed
    with the working calendar in force for each district (one query for all of them)."""
    today = today or timezone.localdate()
    listed = list(applications)
    book: PermitPolicyBook | None = None
    for application in listed:
        sla: str | None = None
        if application.is_pending:
            if book is None:
                book = PermitPolicyBook()
            sla = sla_state(
                application.legal_deadline, today, calendar=book.calendar_for(application.org_path, today)
            )
        application.sla = sla  # type: ignore[attr-defined]
    return listed


def application_sla(application: PermitApplication, today: dt.date | None = None) -> str | None:
    return with_sla([application], today)[0].sla  # type: ignore[attr-defined]


def verification_path(token: str) -> str:
    return reverse("precursors:permit_verify", args=[token])


def verification_url(token: str, base_url: str = "") -> str:
    """The absolute verification URL printed in the QR code: ``JINDU_PUBLIC_URL`` when the installation sets
    it, else the address the request came to (``base_url``), else a path."""
    base = getattr(settings, "JINDU_PUBLIC_URL", "") or base_url
    return base.rstrip("/") + verification_path(token)


# Services: helpers ----------------------------------------------------------------------------------------


def _join(fields: Mapping[str, str]) -> str:
    return join_problems(f"{name}: {problem}" for name, problem in fields.items())


def _invalid(fields: dict[str, str], what: str | None = None) -> ServiceError:
    return ServiceError(
        (what or _("The application is not valid: %(problems)s")) % {"problems": _join(fields)},
        code="invalid",
        fields=fields,
    )


def filing_enterprise(actor: Any) -> Enterprise:
    """The firm an application is filed for: the one the actor's account acts for. Only a firm's own users
    file applications (an office decides them)."""
    if not is_enterprise_user(actor):
        raise Forbidden(_("Only a firm's own users file applications."))
    return own_enterprise(actor)


def _may_act_for(actor: Any, application: PermitApplication) -> bool:
    return actor is None or (
        is_enterprise_user(actor) and application.enterprise_id in member_enterprise_ids(actor)
    )


def _locked(application: PermitApplication) -> PermitApplication:
    """Reload the application locked for the rest of the transaction (PostgreSQL), so two decisions on the
    same application run one after the other and the second sees the first's status."""
    locked = PermitApplication.objects.select_for_update().get(pk=application.pk)
    locked.enterprise = application.enterprise
    locked.substance = application.substance
    return locked


def _transition(application: PermitApplication, action: str) -> str:
    sources, target = TRANSITIONS[action]
    if application.status not in sources:
        raise ServiceError(
            _("An application that is %(status)s cannot be %(action)s (only from: %(allowed)s).")
            % {
                "status": ApplicationStatus(application.status).label,
                "action": _action_label(action),
                "allowed": ", ".join(str(ApplicationStatus(s).label) for s in sorted(sources)),
            },
            code="invalid_transition",
            fields={"status": application.status},
        )
    previous = application.status
    application.status = target
    return previous


def _action_label(action: str) -> str:
    return {
        "submit": _("submitted"),
        "accept": _("accepted"),
        "approve": _("approved"),
        "reject": _("rejected"),
        "withdraw": _("withdrawn"),
    }[action]


def _audit_transition(
    actor: Any, application: PermitApplication, action: str, previous: str, **detail: Any
) -> None:
    audit_write(
        action=AuditAction.UPDATE,
        actor=actor,
        obj=application,
        detail={
            "transition": action,
            "from": previous,
            "to": application.status,
            "enterprise": application.enterprise.uscc,
            **detail,
        },
    )


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _clean_corridor(value: Any, fields: dict[str, str]) -> list[list[float]]:
    if value in (None, "", []):
        return []
    if not isinstance(value, list) or len(value) < 2:
        fields["route_corridor"] = _("a list of at least two [longitude, latitude] points")
        return []
    if len(value) > MAX_CORRIDOR_POINTS:
        fields["route_corridor"] = _("at most %(n)s points") % {"n": MAX_CORRIDOR_POINTS}
        return []
    points: list[list[float]] = []
    for index, point in enumerate(value):
        if (
            not isinstance(point, list | tuple)
            or len(point) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in point)
            or not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90)
        ):
            fields["route_corridor"] = _(
                "point %(index)s is not a [longitude, latitude] pair in degrees (WGS 84)"
            ) % {"index": index}
            return []
        points.append([float(point[0]), float(point[1])])
    return points


@dataclass
class _Cleaned:
    permit_type: str
    substance: Substance
    quantity_kg: Decimal
    values: dict[str, Any]


def _clean_application(
    *,
    permit_type: str,
    substance: Substance | str | None,
    quantity_kg: Any,
    counterparty_uscc: str,
    counterparty_name: str,
    declared_use: str,
    transport: dict[str, Any],
    rules: Mapping[str, Any],
    today: dt.date,
) -> _Cleaned:
    """Every problem of an application at once, as field errors (400)."""
    fields: dict[str, str] = {}
    found: Substance | None
    if isinstance(substance, Substance):
        found = substance
    else:
        code = str(substance or "").strip()
        found = Substance.objects.filter(code=code).first() if code else None
        if found is None:
            fields["substance"] = _("unknown substance %(code)s") % {"code": code or "—"}
    if found is not None and not Substance.objects.listed_on(today).filter(pk=found.pk).exists():
        fields["substance"] = _("%(name)s is not listed on %(date)s") % {
            "name": found.name_zh,
            "date": today.isoformat(),
        }
    known_types = rules.get("permit_types", {})
    if permit_type not in known_types:
        fields["permit_type"] = _("unknown permit type %(type)s (known: %(known)s)") % {
            "type": permit_type or "—",
            "known": ", ".join(known_types),
        }
    elif found is not None and "substance" not in fields:
        try:
            rule_for(rules, permit_type, found.category, found.drug_class)
        except PermitRuleError as error:
            fields["permit_type"] = str(error)
    quantity = _decimal(quantity_kg)
    if quantity is None:
        fields["quantity_kg"] = _("a number of kg")
    elif quantity <= 0:
        fields["quantity_kg"] = _("must be more than 0 kg")
    elif quantity > MAX_QUANTITY_KG or quantity.as_tuple().exponent < -3:  # type: ignore[operator]
        fields["quantity_kg"] = _("at most %(max)s kg, to the gram") % {"max": MAX_QUANTITY_KG}
    activity = permit_type.split("_", 1)[0] if permit_type in known_types else ""
    counterparty_uscc = (counterparty_uscc or "").strip().upper()
    counterparty_name = " ".join((counterparty_name or "").split())
    declared_use = " ".join((declared_use or "").split())
    if activity in ("purchase", "transport"):
        label = _("seller") if activity == "purchase" else _("consignee")
        if not counterparty_uscc:
            fields["counterparty_uscc"] = _("the credit code of the %(party)s is required") % {"party": label}
        else:
            try:
                counterparty_uscc = validate_uscc(counterparty_uscc)
            except ValidationError as error:
                fields["counterparty_uscc"] = " ".join(error.messages)
        if not counterparty_name:
            fields["counterparty_name"] = _("the name of the %(party)s is required") % {"party": label}
    elif counterparty_uscc:
        try:
            counterparty_uscc = validate_uscc(counterparty_uscc)
        except ValidationError as error:
            fields["counterparty_uscc"] = " ".join(error.messages)
    if len(counterparty_name) > 200:
        fields["counterparty_name"] = _("at most %(n)s characters") % {"n": 200}
    if activity == "purchase" and not declared_use:
        fields["declared_use"] = _("state what the substance is bought for")
    if len(declared_use) > 500:
        fields["declared_use"] = _("at most %(n)s characters") % {"n": 500}
    values: dict[str, Any] = {
        "counterparty_uscc": counterparty_uscc,
        "counterparty_name": counterparty_name,
        "declared_use": declared_use,
    }
    values.update(_clean_transport(activity, transport, fields))
    if fields:
        raise _invalid(fields)
    assert found is not None and quantity is not None
    return _Cleaned(permit_type=permit_type, substance=found, quantity_kg=quantity, values=values)


TRANSPORT_TEXT_FIELDS = {
    "origin": 300,
    "destination": 300,
    "carrier": 200,
    "vehicle_plate": 16,
    "driver_name": 64,
}


def _clean_transport(activity: str, transport: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    given = {name: value for name, value in transport.items() if value not in (None, "", [])}
    if activity != "transport":
        for name in given:
            fields[name] = _("only transport applications carry transport details")
        return {}
    values: dict[str, Any] = {}
    for name, max_length in TRANSPORT_TEXT_FIELDS.items():
        value = " ".join(str(transport.get(name) or "").split())
        if name == "vehicle_plate":
            value = value.replace(" ", "").upper()
        if not value:
            fields[name] = _("required for transport")
        elif len(value) > max_length:
            fields[name] = _("at most %(n)s characters") % {"n": max_length}
        elif name == "vehicle_plate" and not PLATE_RE.match(value):
            fields[name] = _("not a mainland vehicle plate (e.g. 浙B12345 or 浙BD12345)")
        values[name] = value
    start, end = transport.get("window_start"), transport.get("window_end")
    for name, moment in (("window_start", start), ("window_end", end)):
        if moment is None:
            fields[name] = _("required for transport")
        elif not isinstance(moment, dt.datetime) or timezone.is_naive(moment):
            fields[name] = _("a date and time with a time zone offset")
    if "window_start" not in fields and "window_end" not in fields:
        assert isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
        if end <= start:
            fields["window_end"] = _("must be after the start of the transport window")
    values["window_start"], values["window_end"] = start, end
    values["route_corridor"] = _clean_corridor(transport.get("route_corridor"), fields)
    buffer = transport.get("corridor_buffer_m")
    if values["route_corridor"] or buffer not in (None, ""):
        if isinstance(buffer, bool) or not isinstance(buffer, int) or not 0 < buffer <= MAX_BUFFER_M:
            fields["corridor_buffer_m"] = _("a whole number of metres from 1 to %(max)s") % {
                "max": MAX_BUFFER_M
            }
        if not values["route_corridor"] and "route_corridor" not in fields:
            fields["route_corridor"] = _("a buffer needs a corridor")
    values["corridor_buffer_m"] = buffer if isinstance(buffer, int) and not isinstance(buffer, bool) else None
    return values


# Services: applications -----------------------------------------------------------------------------------


def application_create(
    *,
    actor: Any,
    permit_type: str,
    substance: Substance | str | None,
    quantity_kg: Any,
    counterparty_uscc: str = "",
    counterparty_name: str = "",
    declared_use: str = "",
    origin: str = "",
    destination: str = "",
    carrier: str = "",
    vehicle_plate: str = "",
    driver_name: str = "",
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    route_corridor: Any = None,
    corridor_buffer_m: Any = None,
    enterprise: Enterprise | None = None,
    submit: bool = False,
    base_url: str = "",
) -> PermitApplication:
    """A firm's user drafts an application for their own firm (``actor`` None, the server operator, names the
    firm). Every problem is reported at once as field errors (400): unknown or unlisted substance, quantity not
    above 0, a permit type the law does not have for the substance's category, a missing or invalid
    counterparty, missing transport details or a window that ends before it starts. ``submit=True`` submits it
    in the same transaction."""
    if actor is not None:
        firm = filing_enterprise(actor)
    elif enterprise is None:
        raise ServiceError(_("The server operator must name the firm."), fields={"enterprise": _("required")})
    else:
        firm = enterprise
    if firm.status != EnterpriseStatus.ACTIVE:
        raise ServiceError(
            _("The firm is %(status)s and cannot file applications.")
            % {"status": EnterpriseStatus(firm.status).label},
            code="enterprise_inactive",
        )
    today = timezone.localdate()
    applied = rules_in_force(firm.org_unit, today)
    cleaned = _clean_application(
        permit_type=permit_type,
        substance=substance,
        quantity_kg=quantity_kg,
        counterparty_uscc=counterparty_uscc,
        counterparty_name=counterparty_name,
        declared_use=declared_use,
        transport={
            "origin": origin,
            "destination": destination,
            "carrier": carrier,
            "vehicle_plate": vehicle_plate,
            "driver_name": driver_name,
            "window_start": window_start,
            "window_end": window_end,
            "route_corridor": route_corridor,
            "corridor_buffer_m": corridor_buffer_m,
        },
        rules=applied.rules,
        today=today,
    )
    with transaction.atomic():
        application = PermitApplication.objects.create(
            enterprise=firm,
            org_unit_id=firm.org_unit_id,
            permit_type=cleaned.permit_type,
            substance=cleaned.substance,
            category=cleaned.substance.category,
            quantity_kg=cleaned.quantity_kg,
            applicant=actor if getattr(actor, "is_authenticated", False) else None,
            **cleaned.values,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=application,
            detail={
                "enterprise": firm.uscc,
                "permit_type": application.permit_type,
                "substance": cleaned.substance.code,
                "quantity_kg": str(cleaned.quantity_kg),
            },
        )
        if submit:
            _submit(actor, application, base_url=base_url)
    return application


def application_submit(
    *, actor: Any, application: PermitApplication, base_url: str = ""
) -> PermitApplication:
    """The firm submits a draft: the legal deadline starts, and a filing eligible for 智能备案 is approved at
    once (with its certificate)."""
    if not _may_act_for(actor, application):
        raise NotFound()
    with transaction.atomic():
        locked = _locked(application)
        _submit(actor, locked, base_url=base_url)
    return locked


def _submit(actor: Any, application: PermitApplication, *, base_url: str) -> None:
    now = timezone.now()
    today = timezone.localdate(now)
    firm = application.enterprise
    if firm.status != EnterpriseStatus.ACTIVE:
        raise ServiceError(
            _("The firm is %(status)s and cannot file applications.")
            % {"status": EnterpriseStatus(firm.status).label},
            code="enterprise_inactive",
        )
    previous = _transition(application, "submit")
    applied = rules_in_force(firm.org_unit, today)
    try:
        rule = rule_for(
            applied.rules, application.permit_type, application.category, application.substance.drug_class
        )
    except PermitRuleError as error:  # the rules changed since the draft was made
        raise _invalid({"permit_type": str(error)}) from None
    deadline, calendar_complete = _deadline(rule, today, applied)
    application.submitted_at = now
    application.legal_deadline = deadline
    application.rules_version = applied.rules_version
    application.calendar_version = applied.calendar_version
    application.save(
        update_fields=[
            "status",
            "submitted_at",
            "legal_deadline",
            "rules_version",
            "calendar_version",
            "last_updated",
        ]
    )
    smart = _smart_filing_basis(application, applied.rules, now)
    _audit_transition(
        actor,
        application,
        "submit",
        previous,
        legal_deadline=deadline.isoformat() if deadline else None,
        rules_version=applied.rules_version.pk if applied.rules_version else None,
        calendar_version=applied.calendar_version.pk if applied.calendar_version else None,
        **({} if calendar_complete else {"calendar_incomplete": True}),
        smart_filing=smart,
    )
    if smart.get("eligible"):
        # 智能备案: the office's decision is the rule itself; recorded as automatic (no deciding user), with
        # its basis, as an acceptance and an approval of the platform.
        previous = _transition(application, "accept")
        application.accepted_at = now
        application.auto_approved = True
        application.save(update_fields=["status", "accepted_at", "auto_approved", "last_updated"])
        _audit_transition(None, application, "accept", previous, auto=True)
        reason = _(
            "Smart filing (智能备案): repeat of filing %(number)s issued on %(date)s, within its cap."
        ) % {
            "number": smart["previous_permit"],
            "date": smart["previous_issued_on"],
        }
        _approve(
            None,
            application,
            reason=reason,
            base_url=base_url,
            rule=rule,
            rules=applied.rules,
            now=now,
            auto=True,
        )


def _deadline(rule: PermitRule, day: dt.date, applied: AppliedRules) -> tuple[dt.date | None, bool]:
    """The legal deadline, and whether the working calendar covered it (else weekends only past its years)."""
    try:
        return decision_deadline(rule, day, applied.calendar, rules=applied.rules), True
    except CalendarError:
        return decision_deadline(rule, day, lenient(applied.calendar), rules=applied.rules), False


def _smart_filing_basis(
    application: PermitApplication, rules: Mapping[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """Whether the application qualifies for 智能备案, and why (or why not), for the audit record."""
    firm = application.enterprise
    if permit_kind(rules, application.permit_type) != "filing":
        return {"eligible": False, "why": "licence"}
    if firm.credit_grade not in SMART_FILING_GRADES:
        return {"eligible": False, "why": f"credit_grade_{firm.credit_grade or 'none'}"}
    since = add_months(timezone.localdate(now), -SMART_FILING_MONTHS)
    previous = (
        Permit.objects.defer("certificate")
        .filter(
            enterprise_id=application.enterprise_id,
            permit_type=application.permit_type,
            substance_id=application.substance_id,
            counterparty_uscc=application.counterparty_uscc,
            valid_from__gte=since,
        )
        .exclude(status=PermitStatus.REVOKED)
        .exclude(application_id=application.pk)
        .order_by("-issued_at")
        .first()
    )
    if previous is None:
        return {"eligible": False, "why": "no_previous_filing"}
    basis = {
        "previous_permit": previous.number,
        "previous_issued_on": previous.valid_from.isoformat(),
        "previous_cap_kg": str(previous.quantity_cap_kg),
    }
    if previous.quantity_cap_kg is not None and application.quantity_kg > previous.quantity_cap_kg:
        return {"eligible": False, "why": "over_previous_cap", **basis}
    return {"eligible": True, **basis}


def _require_decider(actor: Any, application: PermitApplication) -> PermitApplication:
    """Officials of the firm's district decide: the permission and the district in their capture scope."""
    if actor is None:
        return application
    return access_application(actor, application.pk, action=WRITE)


def application_accept(*, actor: Any, application: PermitApplication) -> PermitApplication:
    """受理: the office takes the submitted application up."""
    _require_decider(actor, application)
    with transaction.atomic():
        locked = _locked(application)
        previous = _transition(locked, "accept")
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["status", "accepted_at", "last_updated"])
        _audit_transition(actor, locked, "accept", previous)
    return locked


def application_approve(
    *, actor: Any, application: PermitApplication, reason: str = "", base_url: str = ""
) -> PermitApplication:
    """批准: issue the permit (number, validity per the rules, cap) and its certificate."""
    _require_decider(actor, application)
    with transaction.atomic():
        locked = _locked(application)
        _approve(actor, locked, reason=reason, base_url=base_url)
    return locked


def _approve(
    actor: Any,
    application: PermitApplication,
    *,
    reason: str,
    base_url: str,
    rule: PermitRule | None = None,
    rules: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
    auto: bool = False,
) -> Permit:
    previous = _transition(application, "approve")
    now = now or timezone.now()
    today = timezone.localdate(now)
    if rule is None or rules is None:
        # The rules in force on the day of issue fix the permit's validity.
        rules = rules_in_force(application.enterprise.org_unit, today).rules
        try:
            rule = rule_for(
                rules, application.permit_type, application.category, application.substance.drug_class
            )
        except PermitRuleError as error:
            raise _invalid({"permit_type": str(error)}) from None
    application.decided_at = now
    application.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    application.decision_reason = " ".join((reason or "").split())[:2000]
    application.save(
        update_fields=[
            "status",
            "decided_at",
            "decided_by",
            "decision_reason",
            "last_updated",
        ]
    )
    _audit_transition(actor, application, "approve", previous, auto=auto)
    return _issue_permit(actor, application, rule, rules, now, base_url=base_url, auto=auto)


def application_reject(*, actor: Any, application: PermitApplication, reason: str) -> PermitApplication:
    """驳回 (or 不予受理 before acceptance): a reason is required; the firm sees it."""
    reason = " ".join((reason or "").split())
    if len(reason) < 4:
        raise ServiceError(
            _("A rejection needs its reason (at least 4 characters)."),
            code="invalid",
            fields={"reason": _("at least 4 characters")},
        )
    _require_decider(actor, application)
    with transaction.atomic():
        locked = _locked(application)
        previous = _transition(locked, "reject")
        locked.decided_at = timezone.now()
        locked.decided_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.decision_reason = reason[:2000]
        locked.save(update_fields=["status", "decided_at", "decided_by", "decision_reason", "last_updated"])
        _audit_transition(actor, locked, "reject", previous, reason=reason[:500])
    return locked


def application_withdraw(*, actor: Any, application: PermitApplication) -> PermitApplication:
    """The firm withdraws its application before the decision."""
    if not _may_act_for(actor, application):
        raise NotFound()
    with transaction.atomic():
        locked = _locked(application)
        previous = _transition(locked, "withdraw")
        locked.save(update_fields=["status", "last_updated"])
        _audit_transition(actor, locked, "withdraw", previous)
    return locked


# Services: attachments ------------------------------------------------------------------------------------


def attachment_add(
    *, actor: Any, application: PermitApplication, kind: str, file_name: str, content_type: str, data: bytes
) -> ApplicationAttachment:
    """The firm attaches a file (PDF, JPEG or PNG, at most 10 MB; the declared type must match the file's
    signature) to an application not decided yet; stored encrypted with its SM3 digest."""
    if not _may_act_for(actor, application):
        raise NotFound()
    problems: dict[str, str] = {}
    if kind not in AttachmentKind.values:
        problems["kind"] = _("unknown attachment kind (known: %(known)s)") % {
            "known": ", ".join(AttachmentKind.values)
        }
    checked = None
    try:
        checked = check_upload(file_name, content_type, data, default_stem=kind)
    except UploadError as error:
        problems["file"] = str(error)
    if problems:
        raise _invalid(problems, _("The file cannot be uploaded: %(problems)s"))
    assert checked is not None
    if application.status not in (ApplicationStatus.DRAFT, *PENDING_STATUSES):
        raise ServiceError(
            _("Files can be attached only until the application is decided."), code="invalid_transition"
        )
    content, digest = encode_content(data)
    with transaction.atomic():
        attachment = ApplicationAttachment.objects.create(
            application=application,
            kind=kind,
            file_name=checked.file_name,
            content_type=checked.content_type,
            size=len(data),
            digest=digest,
            content=content,
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=attachment,
            org_unit_code=application.enterprise.org_unit.code,
            detail={"application": application.pk, "kind": kind, "size": len(data), "digest": digest},
        )
    return attachment


def attachment_content(user: Any, attachment: ApplicationAttachment) -> bytes:
    """The attachment's bytes, for a download (audited as EXPORT, checked against its digest)."""
    return read_content(
        user=user,
        obj=attachment,
        encoded=stored_text(ApplicationAttachment, attachment.pk),
        digest=attachment.digest,
        detail={
            "application": attachment.application_id,
            "kind": attachment.kind,
            "digest": attachment.digest,
        },
        org_unit_code=attachment.application.enterprise.org_unit.code,
    )


# Services: permits and certificates -----------------------------------------------------------------------


def _issuing_office(application: PermitApplication, rule: PermitRule, rules: Mapping[str, Any]) -> str:
    """The issuing authority printed on the certificate: the region at the rule's level above the firm's
    district (province, city or county) and the department, e.g. 浙江省宁波市海曙区公安机关."""
    codes = [segment for segment in application.org_path.split("/") if segment]
    depth = {"province": 1, "city": 2, "county": 3}.get(rule.level, len(codes))
    codes = codes[:depth]
    names = dict(OrgUnit.objects.filter(code__in=codes).values_list("code", "name"))
    region = "".join(names.get(code, "") for code in codes)
    department = rules.get("departments", {}).get(rule.department, {}).get("label_zh", rule.department)
    return f"{region}{department}"[:200]


def _next_number(application: PermitApplication, issued_on: dt.date) -> str:
    district = (application.enterprise.org_unit.code or "000000")[:6]
    prefix = f"{NUMBER_PREFIX.get(application.permit_type, 'XK')}-{district}-{issued_on.year}-"
    last = (
        Permit.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{sequence:06d}"


def _issue_permit(
    actor: Any,
    application: PermitApplication,
    rule: PermitRule,
    applied_rules: Mapping[str, Any],
    now: dt.datetime,
    *,
    base_url: str,
    auto: bool,
) -> Permit:
    today = timezone.localdate(now)
    term = validity(rule, today)
    office = _issuing_office(application, rule, applied_rules)
    for _attempt in range(5):
        permit = Permit(
            number=_next_number(application, today),
            application=application,
            enterprise=application.enterprise,
            org_unit_id=application.org_unit_id,
            permit_type=application.permit_type,
            substance=application.substance,
            category=application.category,
            counterparty_uscc=application.counterparty_uscc,
            quantity_cap_kg=application.quantity_kg,
            valid_from=term.valid_from,
            valid_until=term.valid_until,
            single_use=term.single_use,
            issued_at=now,
            issued_by=actor if getattr(actor, "is_authenticated", False) else None,
            issuing_office=office,
            verification_token=secrets.token_urlsafe(32),
        )
        pdf = render_certificate(
            permit,
            application,
            label=permit_label(applied_rules, application.permit_type),
            url=verification_url(permit.verification_token, base_url),
            auto=auto,
        )
        permit.certificate = base64.b64encode(pdf).decode("ascii")
        permit.certificate_digest = get_provider().sm3(pdf)
        try:
            with transaction.atomic():
                permit.save()
        except IntegrityError:
            continue  # another approval took the number between the look-up and the insert
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=permit,
            detail={
                "number": permit.number,
                "application": application.pk,
                "enterprise": application.enterprise.uscc,
                "valid_from": term.valid_from.isoformat(),
                "valid_until": term.valid_until.isoformat() if term.valid_until else None,
                "single_use": term.single_use,
                "quantity_cap_kg": str(permit.quantity_cap_kg),
                "certificate_digest": permit.certificate_digest,
                "auto": auto,
            },
        )
        return permit
    raise ServiceError(_("No permit number could be allocated; try again."), code="number_conflict")


def permit_revoke(*, actor: Any, permit: Permit, reason: str) -> Permit:
    """Revoke a permit (撤销): officials of the firm's district, with a reason. Verification then says so."""
    reason = " ".join((reason or "").split())
    if len(reason) < 4:
        raise ServiceError(
            _("A revocation needs its reason (at least 4 characters)."),
            code="invalid",
            fields={"reason": _("at least 4 characters")},
        )
    if actor is not None:
        access_permit(actor, permit.pk, action=WRITE)
    with transaction.atomic():
        locked = Permit.objects.select_for_update().defer("certificate").get(pk=permit.pk)
        if locked.status == PermitStatus.REVOKED:
            raise ServiceError(_("The permit is already revoked."), code="invalid_transition")
        previous = locked.status
        locked.status = PermitStatus.REVOKED
        locked.revoked_at = timezone.now()
        locked.revocation_reason = reason[:2000]
        locked.save(update_fields=["status", "revoked_at", "revocation_reason", "last_updated"])
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=locked,
            detail={"transition": "revoke", "from": previous, "to": locked.status, "reason": reason[:500]},
        )
    return locked


def certificate_content(user: Any, permit: Permit) -> bytes:
    """The certificate PDF, for a download: audited as EXPORT and checked against its SM3 digest."""
    return read_content(
        user=user,
        obj=permit,
        encoded=stored_text(Permit, permit.pk, "certificate"),
        digest=permit.certificate_digest,
        detail={"number": permit.number, "digest": permit.certificate_digest},
    )


def certificate_file_name(permit: Permit) -> str:
    return f"{permit.number}.pdf"


# Certificate PDF ------------------------------------------------------------------------------------------

PLATFORM_NAME = "禁毒综合治理平台"
FONT = "STSong-Light"  # reportlab's built-in Adobe CID font for simplified Chinese: no font file needed


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _cn_date(day: dt.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else "—"


def _kg(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = f"{value.normalize():f}"
    return text


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code of ``url`` as rows of dark (True) modules, without the quiet zone (error correction M)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def _draw_qr(canvas: pdf_canvas.Canvas, url: str, x: float, y: float, size: float) -> None:
    """Draw the QR code as vector squares (one rectangle per run of dark modules), in a form of its own so the
    code is one self-contained object of the PDF."""
    matrix = qr_matrix(url)
    count = len(matrix)
    canvas.beginForm("verification_qr")
    for row_index, row in enumerate(matrix):
        column = 0
        while column < count:
            if row[column]:
                start = column
                while column < count and row[column]:
                    column += 1
                canvas.rect(start, count - 1 - row_index, column - start, 1, stroke=0, fill=1)
            else:
                column += 1
    canvas.endForm()
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(size / count, size / count)
    canvas.doForm("verification_qr")
    canvas.restoreState()


def render_certificate(
    permit: Permit, application: PermitApplication, *, label: str, url: str, auto: bool = False
) -> bytes:
    """The certificate as PDF bytes: number, firm, substance (Chinese name, CAS, category), quantity cap,
    counterparty, transport details, validity, issuing office, and the verification QR code and link. The
    output is invariant (no creation time or random document id), so the same permit renders the same bytes;
    the SM3 digest of these bytes is stored, not printed."""
    _register_font()
    buffer = io.BytesIO()
    canvas = pdf_canvas.Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(permit.number)
    canvas.setAuthor(PLATFORM_NAME)
    canvas.setCreator(PLATFORM_NAME)
    canvas.setSubject(permit.permit_type)
    width, height = A4
    margin = 22 * mm
    cell = ParagraphStyle("cell", fontName=FONT, fontSize=11, leading=16, wordWrap="CJK")
    head = ParagraphStyle("head", parent=cell, textColor=colors.HexColor("#333333"))
    title = ParagraphStyle("title", fontName=FONT, fontSize=20, leading=28, alignment=TA_CENTER)

    canvas.setStrokeColor(colors.HexColor("#8b0000"))
    canvas.setLineWidth(2)
    canvas.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    heading = Paragraph(escape(f"易制毒化学品{label}"), title)
    _w, h = heading.wrap(width - 2 * margin, 40 * mm)
    heading.drawOn(canvas, margin, height - 30 * mm - h)
    canvas.setFont(FONT, 11)
    canvas.drawRightString(width - margin, height - 44 * mm, f"编号：{permit.number}")

    substance = application.substance
    firm = application.enterprise
    if permit.single_use:
        term = (
            f"自{_cn_date(permit.valid_from)}起，"
            + (f"至{_cn_date(permit.valid_until)}止，" if permit.valid_until else "")
            + "一次有效"
        )
    else:
        term = f"自{_cn_date(permit.valid_from)}至{_cn_date(permit.valid_until)}"
    rows: list[tuple[str, str]] = [
        ("企业名称", firm.name),
        ("统一社会信用代码", firm.uscc),
        ("品种名称", substance.name_zh),
        ("CAS号", substance.cas or "—"),
        ("类别", CATEGORY_CN.get(application.category, str(application.category))),
        ("数量上限", f"{_kg(permit.quantity_cap_kg)} 千克（折纯）"),
    ]
    if application.permit_type.startswith("purchase_"):
        rows.append(("销售单位", f"{application.counterparty_name}（{application.counterparty_uscc}）"))
        rows.append(("用途", application.declared_use or "—"))
    elif application.permit_type.startswith("transport_"):
        rows += [
            ("收货单位", f"{application.counterparty_name}（{application.counterparty_uscc}）"),
            ("起运地", application.origin),
            ("目的地", application.destination),
            ("承运单位", application.carrier),
            ("车牌号", application.vehicle_plate),
            ("驾驶员", application.driver_name),
            (
                "运输期限",
                f"{timezone.localtime(application.window_start):%Y-%m-%d %H:%M} 至 "
                f"{timezone.localtime(application.window_end):%Y-%m-%d %H:%M}"
                if application.window_start and application.window_end
                else "—",
            ),
        ]
    elif application.counterparty_uscc:
        rows.append(("相对方", f"{application.counterparty_name}（{application.counterparty_uscc}）"))
    rows += [
        ("有效期限", term),
        ("发证机关", permit.issuing_office),
        ("发证日期", _cn_date(timezone.localdate(permit.issued_at))),
    ]
    if auto:
        rows.append(("审批方式", "智能备案（信用A级企业重复备案，自动核准）"))
    table = Table(
        [[Paragraph(escape(k), head), Paragraph(escape(v or "—"), cell)] for k, v in rows],
        colWidths=[36 * mm, width - 2 * margin - 36 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
            ]
        )
    )
    _w, table_height = table.wrap(width - 2 * margin, height)
    table_top = height - 50 * mm
    table.drawOn(canvas, margin, table_top - table_height)

    qr_size = 34 * mm
    qr_y = max(table_top - table_height - 12 * mm - qr_size, 40 * mm)
    _draw_qr(canvas, url, width - margin - qr_size, qr_y, qr_size)
    canvas.setFont(FONT, 10)
    text_x = margin
    canvas.drawString(text_x, qr_y + qr_size - 5 * mm, "核验：扫描右侧二维码，或访问下列网址，")
    canvas.drawString(text_x, qr_y + qr_size - 11 * mm, "或在平台上传本 PDF 文件核对其 SM3 摘要。")
    canvas.setFont("Helvetica", 7.5)
    canvas.drawString(text_x, qr_y + qr_size - 18 * mm, url)
    canvas.setFont(FONT, 8)
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.drawString(margin, 17 * mm, f"{PLATFORM_NAME}　本证明不得转让、出借、出租，真伪以核验结果为准")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# Ledger events that name a permit -------------------------------------------------------------------------

# Which quantities of the holder's events use the permit up, by activity (the term in ledger.balance_terms):
# a purchase permit by the goods received, a transport permit by the goods shipped, a production permit by
# what is produced, a trade permit by what is sold. Other events that name the permit (a TransactionEvent,
# the counterparty's side of the same sale) are checked against it but do not use it up, so one sale that
# both parties capture counts once.
CONSUMING_TERMS = {
    "purchase": frozenset({"receipt"}),
    "transport": frozenset({"shipment"}),
    "production": frozenset({"production"}),
    "trade": frozenset({"shipment"}),
}
USE_WARNING_CODES = {
    "expired": "expired_permit",
    "not_yet_valid": "permit_not_yet_valid",
    "already_used": "permit_already_used",
    "over_cap": "over_cap",
}


def _named_permits(event: Any) -> list[tuple[int, str]]:
    return [
        (index, uri[len(PERMIT_URN_PREFIX) :])
        for index, (_kind, uri) in enumerate(getattr(event, "biz_transactions", None) or [])
        if uri.startswith(PERMIT_URN_PREFIX)
    ]


def permit_warnings_and_consumption(
    enterprise: Enterprise,
    events: list[tuple[Any, list[Any]]],
    *,
    actor: Any = None,
    capture: Any = None,
) -> dict[int, list[dict[str, str]]]:
    """Check the permits the captured events name (``bizTransaction`` = ``urn:jindu:permit:<number>``, any
    type) and use them up; return the warnings per event index. Runs inside the capture's transaction, with
    one query for all permits the document names (none when it names none), locked until the capture commits.

    ``events`` holds, per new event, the parsed event and its quantity rows ``(role, element, substance,
    kg pure, balance term)``. Problems never refuse the capture, they become warnings on the event:

    * ``unknown_permit``: no permit has that number;
    * ``permit_other_firm``: the permit is neither the capturing firm's nor names it as its counterparty;
    * ``permit_revoked``; ``expired_permit`` / ``permit_not_yet_valid`` (the event's day is outside the
      validity); ``permit_already_used`` (a single-use permit used before); ``over_cap`` (more kg than remain);
    * ``permit_substance_mismatch``: the holder's event moves none of the permit's substance.

    An event of the permit's holder whose quantities of the permit's substance feed the activity's term
    (``CONSUMING_TERMS``) uses the permit: its kg pure are added to ``consumed_kg`` and ``uses`` grows by one,
    even when a warning is raised (the goods moved; the office sees the excess). A resent event is a duplicate
    that the capture skips before this runs, so it never counts twice. A single-use permit, or one whose cap is
    reached, becomes ``used_up``.
    """
    named: dict[str, list[tuple[int, int]]] = {}
    for event_index, (event, _rows) in enumerate(events):
        for entry_index, number in _named_permits(event):
            named.setdefault(number, []).append((event_index, entry_index))
    if not named:
        return {}
    permits = {
        permit.number: permit
        for permit in Permit.objects.select_for_update(of=("self",))
        .defer("certificate")
        .select_related("substance")
        .filter(number__in=list(named))
    }
    warnings: dict[int, list[dict[str, str]]] = {}
    touched: dict[int, Permit] = {}
    used: dict[int, list[str]] = {}

    def warn(event_index: int, entry_index: int, code: str, message: str) -> None:
        warnings.setdefault(event_index, []).append(
            {"code": code, "path": f"bizTransactionList[{entry_index}]", "message": message}
        )

    for event_index, (event, rows) in enumerate(events):
        for entry_index, number in _named_permits(event):
            permit = permits.get(number)
            if permit is None:
                warn(
                    event_index,
                    entry_index,
                    "unknown_permit",
                    _("No permit has the number %(number)s.") % {"number": number},
                )
                continue
            holder = permit.enterprise_id == enterprise.pk
            if not holder and permit.counterparty_uscc != enterprise.uscc:
                warn(
                    event_index,
                    entry_index,
                    "permit_other_firm",
                    _("Permit %(number)s was issued to another firm and does not name this one.")
                    % {"number": number},
                )
                continue
            if permit.status == PermitStatus.REVOKED:
                warn(
                    event_index,
                    entry_index,
                    "permit_revoked",
                    _("Permit %(number)s was revoked.") % {"number": number},
                )
            day = timezone.localdate(event.event_time)
            terms = CONSUMING_TERMS.get(permit.permit_type.split("_", 1)[0], frozenset())
            kg = Decimal(0)
            moves_substance = False
            for _role, _element, substance, kg_pure, term in rows:
                if substance is not None and substance.pk == permit.substance_id:
                    moves_substance = True
                    if term in terms and kg_pure is not None:
                        kg += kg_pure
            consumes = holder and kg > 0
            if holder and not moves_substance and rows:
                warn(
                    event_index,
                    entry_index,
                    "permit_substance_mismatch",
                    _("Permit %(number)s is for %(substance)s, which this event does not move.")
                    % {"number": number, "substance": permit.substance.name_zh},
                )
            term_of_validity = Validity(permit.valid_from, permit.valid_until, permit.single_use)
            try:
                check_use(
                    term_of_validity,
                    day,
                    permit.uses if consumes else 0,
                    permit.quantity_cap_kg if consumes else None,
                    permit.consumed_kg if consumes else Decimal(0),
                    kg if consumes else Decimal(0),
                )
            except PermitUseError as error:
                warn(event_index, entry_index, USE_WARNING_CODES.get(error.code, error.code), str(error))
            if consumes:
                permit.consumed_kg += kg
                permit.uses += 1
                if permit.status == PermitStatus.VALID and (
                    permit.single_use
                    or (permit.quantity_cap_kg is not None and permit.consumed_kg >= permit.quantity_cap_kg)
                ):
                    permit.status = PermitStatus.USED_UP
                touched[permit.pk] = permit
                used.setdefault(permit.pk, []).append(str(kg))
    for permit in touched.values():
        permit.save(update_fields=["consumed_kg", "uses", "status", "last_updated"])
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=permit,
            detail={
                "consumed_by_capture": getattr(capture, "pk", None),
                "uses_kg": used[permit.pk],
                "consumed_kg": str(permit.consumed_kg),
                "uses": permit.uses,
                "status": permit.status,
            },
        )
    return warnings


def substance_choices(today: dt.date | None = None) -> QuerySet[Substance]:
    return Substance.objects.listed_on(today or timezone.localdate()).order_by("category", "name_zh")


def enterprise_applications(enterprise: Enterprise) -> QuerySet[PermitApplication]:
    return (
        PermitApplication.objects.filter(enterprise=enterprise)
        .select_related("substance", "enterprise")
        .order_by("-created", "-id")
    )


def enterprise_permits(enterprise: Enterprise) -> QuerySet[Permit]:
    return (
        Permit.objects.filter(enterprise=enterprise)
        .defer("certificate")
        .select_related("substance", "enterprise")
        .order_by("-issued_at", "-id")
    )
