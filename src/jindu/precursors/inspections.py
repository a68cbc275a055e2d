"""Inspections (检查), rectification (整改) and penalties (处罚) of precursor firms: versioned configuration,
checks of that configuration, selectors, services and the credit facts they yield.

Configuration (``jindu.core.policy`` versions, national defaults installed by migration 0007):

* ``precursors.inspection_checklist`` — the checklist template: items with a key, Chinese and English labels, an
  area (storage, records, licensing, packaging, training) and a severity (minor/major), from precursors.md §1.4
  and the storage/licensing indicators of §5.2.
* ``precursors.penalty_discretion`` — legal bases (label, citation, whether the citation is verified) and the
  rule that gives a fine range (precursors.md §1.5):

  - ``multiple`` (unlicensed or unfiled production, trade, purchase or transport): 10–20 × the goods' value.
    **Reading of "at least ¥10,000":** the 条例 says "货值的20倍不足1万元的，按1万元罚款" — when 20 × the value is
    below ¥10,000 the fine *is* ¥10,000 (range ¥10,000–10,000). When only 10 × the value is below ¥10,000 the
    range stays 10×–20× the value (the floor applies to the top of the range only, as the text says).
  - ``bands`` (5号令 art. 30: beyond the licensed substances or quantities, bad packaging or labels):
    ¥10,000–50,000 graded by the illegal gain: none → ¥1–2万; up to ¥5,000 → ¥2–3万; over ¥5,000 up to ¥10,000 →
    ¥3–4万; over ¥10,000 → ¥4–5万 (a band holds gains up to and including its ``up_to``).
  - ``range``: a fixed range whatever the amount.

Who does what: the offices and police of the firm's district (``precursors.manage_enterprises`` with the
district in their capture scope) plan and record inspections, order rectification, verify it and handle penalty
cases; officials in the search scope read. A firm's own users read their firm's inspections, findings and
penalties, and submit rectification evidence for their firm's orders — nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.errors import Forbidden, NotFound, ServiceError, join_problems
from jindu.core.models import AuditAction, PolicyVersion
from jindu.core.policy import policy_in_force
from jindu.core.scoping import READ, WRITE, access_object, capture_root_ids, in_roots, user_may
from jindu.core.storedfiles import (
    UploadError,
    check_upload,
    encode_content,
    read_content,
    stored_text,
)
from jindu.precursors.credit import CreditFact
from jindu.precursors.models import Enterprise, EnterpriseStatus, IndustrialPark
from jindu.precursors.models.inspections import (
    EvidenceFile,
    Finding,
    Inspection,
    InspectionCampaign,
    InspectionKind,
    InspectionStatus,
    ItemResult,
    PenaltyCase,
    PenaltyStatus,
    RectificationOrder,
    RectificationStatus,
    Severity,
)
from jindu.precursors.selectors import acts_as_firm, is_enterprise_user, member_enterprise_ids

CHECKLIST_POLICY = "precursors.inspection_checklist"
DISCRETION_POLICY = "precursors.penalty_discretion"
# 易制毒化学品管理条例 in force: the shipped defaults apply from this day unless a region publishes its own.
DEFAULT_EFFECTIVE_FROM = dt.date(2005, 11, 1)
AREAS = ("storage", "records", "licensing", "packaging", "training")
PENALTY_MINOR_MAX = Decimal("20000")  # credit: a fine up to ¥20,000 is a minor penalty, above it a major one

# Configuration ----------------------------------------------------------------------------------------------


def _item(key: str, area: str, severity: str, label_zh: str, label_en: str, source: str) -> dict[str, str]:
    return {
        "key": key,
        "area": area,
        "severity": severity,
        "label_zh": label_zh,
        "label_en": label_en,
        "source": source,
    }


DEFAULT_CHECKLIST: dict[str, Any] = {
    "schema": "jindu.precursors.inspection_checklist/1",
    "items": [
        _item(
            "dual_lock",
            "storage",
            "major",
            "专库（柜）储存，双人双锁管理",
            "Dedicated store, two-person two-lock control",
            "§5.2",
        ),
        _item(
            "video_surveillance",
            "storage",
            "major",
            "储存场所视频监控正常运行",
            "Video surveillance of the store working",
            "§1.4, §5.2",
        ),
        _item(
            "anti_theft", "storage", "major", "防盗设施符合要求", "Anti-theft measures in place", "§1.4, §5.2"
        ),
        _item(
            "ledger_complete",
            "records",
            "major",
            "销售（使用）台账完整、如实记录",
            "Sales/use ledger complete and truthful",
            "§1.4",
        ),
        _item(
            "ledger_kept_two_years",
            "records",
            "minor",
            "台账及证明材料保存2年",
            "Ledger and documents kept 2 years",
            "§1.4",
        ),
        _item(
            "buyer_documents_copied",
            "records",
            "major",
            "留存购买方证明及经办人身份证明复印件",
            "Buyer's permit/filing and agent's ID copied and kept",
            "§1.4",
        ),
        _item("no_cash_trade", "records", "major", "无现金或实物交易", "No cash or barter trade", "§0 (6)"),
        _item(
            "responsible_person",
            "licensing",
            "minor",
            "明确易制毒化学品管理责任人",
            "Responsible person appointed",
            "§5.2",
        ),
        _item(
            "internal_rules",
            "licensing",
            "minor",
            "建立内部管理制度",
            "Written internal management rules",
            "§1.4",
        ),
        _item(
            "licence_valid",
            "licensing",
            "major",
            "许可证或备案证明在有效期内",
            "Licence or filing certificate valid",
            "§1.3, §5.2",
        ),
        _item(
            "within_scope",
            "licensing",
            "major",
            "在许可（备案）的品种、数量范围内生产经营",
            "Within the licensed substances and quantities",
            "§1.5",
        ),
        _item(
            "packaging_labels",
            "packaging",
            "minor",
            "包装及标签标明品名、化学式、成分",
            "Packaging labels show name, formula, composition",
            "§1.4",
        ),
        _item(
            "yearly_training",
            "training",
            "minor",
            "从业人员每年接受培训",
            "Staff trained once a year",
            "§1.4",
        ),
    ],
}

DEFAULT_DISCRETION: dict[str, Any] = {
    "schema": "jindu.precursors.penalty_discretion/1",
    "note": (
        "multiple: 20 × value below the floor → the fine is the floor (条例: 货值的20倍不足1万元的，按1万元罚款). "
        "bands: a band holds amounts up to and including up_to; the last band has up_to null."
    ),
    "bases": [
        {
            "key": "unlicensed_activity",
            "label_zh": "未经许可或者备案擅自生产、经营、购买、运输易制毒化学品",
            "label_en": "Unlicensed or unfiled production, trade, purchase or transport",
            "citation": "易制毒化学品管理条例 第三十八条（VERIFY）；公安部令第87号 第三十二条",
            "verified": False,
            "amount": "goods_value",
            "rule": {"type": "multiple", "min_multiple": "10", "max_multiple": "20", "floor": "10000"},
        },
        {
            "key": "beyond_licence_scope",
            "label_zh": "超出许可的品种、数量生产、经营，或者包装、标签不符合规定",
            "label_en": "Beyond the licensed substances or quantities; packaging or labels not as required",
            "citation": "非药品类易制毒化学品生产、经营许可办法（安监总局令第5号）第三十条；省级裁量基准",
            "verified": False,
            "amount": "illegal_gain",
            "rule": {
                "type": "bands",
                "bands": [
                    {"up_to": "0", "min": "10000", "max": "20000"},
                    {"up_to": "5000", "min": "20000", "max": "30000"},
                    {"up_to": "10000", "min": "30000", "max": "40000"},
                    {"up_to": None, "min": "40000", "max": "50000"},
                ],
            },
        },
        {
            "key": "management_duties",
            "label_zh": "未按规定建立管理制度和台账、未按规定报告或者培训",
            "label_en": "No management rules or ledger, reports or training not as required",
            "citation": "易制毒化学品管理条例 第四十条（VERIFY）",
            "verified": False,
            "amount": "none",
            "rule": {"type": "range", "min": "10000", "max": "50000"},
        },
    ],
}


def install_default_inspection_policies(policy_model: Any = PolicyVersion) -> None:
    """Install the shipped checklist and discretion table as national versions (the data migration does this;
    a test database flushed by a transactional test gets them back the same way)."""
    defaults = {
        CHECKLIST_POLICY: (DEFAULT_CHECKLIST, "precursors.md §1.4, §5.2"),
        DISCRETION_POLICY: (DEFAULT_DISCRETION, "precursors.md §1.5 [S18, S19]; citations marked VERIFY"),
    }
    for kind, (payload, source) in defaults.items():
        policy_model.objects.get_or_create(
            kind=kind,
            region=None,
            effective_from=DEFAULT_EFFECTIVE_FROM,
            defaults={"label": "Default (shipped)", "payload": payload, "source": source, "is_default": True},
        )


def _money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def validate_checklist(payload: Any) -> list[str]:
    """The problems of a checklist payload (empty when it can be published)."""
    problems: list[str] = []
    items = payload.get("items") if isinstance(payload, Mapping) else None
    if not isinstance(items, list) or not items:
        return ["items must be a non-empty list."]
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str) or not item.get("key"):
            problems.append(f"{where}: needs a key.")
            continue
        if item["key"] in seen:
            problems.append(f"{where}: duplicate key {item['key']!r}.")
        seen.add(item["key"])
        if item.get("area") not in AREAS:
            problems.append(f"{where} ({item['key']}): area must be one of {', '.join(AREAS)}.")
        if item.get("severity") not in Severity.values:
            problems.append(f"{where} ({item['key']}): severity must be minor or major.")
        if not item.get("label_zh") or not item.get("label_en"):
            problems.append(f"{where} ({item['key']}): label_zh and label_en are required.")
    return problems


def validate_discretion(payload: Any) -> list[str]:
    """The problems of a discretion-table payload (empty when it can be published)."""
    problems: list[str] = []
    bases = payload.get("bases") if isinstance(payload, Mapping) else None
    if not isinstance(bases, list) or not bases:
        return ["bases must be a non-empty list."]
    seen: set[str] = set()
    for index, basis in enumerate(bases):
        where = f"bases[{index}]"
        if not isinstance(basis, Mapping) or not isinstance(basis.get("key"), str) or not basis.get("key"):
            problems.append(f"{where}: needs a key.")
            continue
        where = f"{where} ({basis['key']})"
        if basis["key"] in seen:
            problems.append(f"{where}: duplicate key.")
        seen.add(basis["key"])
        for name in ("label_zh", "label_en", "citation"):
            if not basis.get(name):
                problems.append(f"{where}: {name} is required.")
        if not isinstance(basis.get("verified"), bool):
            problems.append(f"{where}: verified must be true or false.")
        if basis.get("amount") not in ("goods_value", "illegal_gain", "none"):
            problems.append(f"{where}: amount must be goods_value, illegal_gain or none.")
        raw_rule = basis.get("rule")
        rule: Mapping[str, Any] = raw_rule if isinstance(raw_rule, Mapping) else {}
        kind = rule.get("type")
        if kind == "multiple":
            low, high, floor = (_money(rule.get(n)) for n in ("min_multiple", "max_multiple", "floor"))
            if low is None or high is None or floor is None or low < 0 or high < low or floor < 0:
                problems.append(
                    f"{where}: a multiple rule needs 0 ≤ min_multiple ≤ max_multiple and a floor ≥ 0."
                )
        elif kind == "range":
            low, high = _money(rule.get("min")), _money(rule.get("max"))
            if low is None or high is None or low < 0 or high < low:
                problems.append(f"{where}: a range rule needs 0 ≤ min ≤ max.")
        elif kind == "bands":
            bands = rule.get("bands")
            if not isinstance(bands, list) or not bands:
                problems.append(f"{where}: a bands rule needs bands.")
                continue
            previous: Decimal | None = None
            for number, band in enumerate(bands):
                low, high = _money(band.get("min")), _money(band.get("max"))
                if low is None or high is None or low < 0 or high < low:
                    problems.append(f"{where}: band {number} needs 0 ≤ min ≤ max.")
                last = number == len(bands) - 1
                up_to = band.get("up_to")
                if last:
                    if up_to is not None:
                        problems.append(f"{where}: the last band has up_to null (no upper end).")
                else:
                    limit = _money(up_to)
                    if limit is None or (previous is not None and limit <= previous):
                        problems.append(f"{where}: band {number} needs an up_to above the band before it.")
                    previous = limit
        else:
            problems.append(f"{where}: rule type must be multiple, bands or range.")
    return problems


def fine_range(basis: Mapping[str, Any], amount: Decimal | None) -> tuple[Decimal, Decimal]:
    """The fine range (¥, min and max) a legal basis gives for an amount (goods' value or illegal gain)."""
    rule = basis["rule"]
    cents = Decimal("0.01")
    if rule["type"] == "range":
        return Decimal(str(rule["min"])).quantize(cents), Decimal(str(rule["max"])).quantize(cents)
    value = amount if amount is not None else Decimal(0)
    if rule["type"] == "multiple":
        low = value * Decimal(str(rule["min_multiple"]))
        high = value * Decimal(str(rule["max_multiple"]))
        floor = Decimal(str(rule["floor"]))
        if high < floor:
            low = high = floor
        return low.quantize(cents), high.quantize(cents)
    for band in rule["bands"]:
        if band["up_to"] is None or value <= Decimal(str(band["up_to"])):
            return Decimal(str(band["min"])).quantize(cents), Decimal(str(band["max"])).quantize(cents)
    raise ValueError("no band holds the amount")  # unreachable for a validated payload (last band is open)


def checklist_items(version: PolicyVersion) -> list[dict[str, Any]]:
    return list(version.payload.get("items", []))


# Selectors --------------------------------------------------------------------------------------------------


def _firm_or_scoped(user: Any, model: Any, action: str = READ) -> QuerySet[Any]:
    if acts_as_firm(user):
        if action == WRITE:
            return model.objects.none()
        return model.objects.filter(enterprise_id__in=member_enterprise_ids(user))
    return model.objects.for_user(user, action=action)


def _overdue_orders(today: dt.date) -> Q:
    return ~Q(status=RectificationStatus.CLOSED) & Q(deadline__lt=today)


def inspections_for_user(user: Any, *, today: dt.date | None = None) -> QuerySet[Inspection]:
    """Inspections the user may list, each with ``overdue_count`` (its findings' overdue rectifications)."""
    today = today or timezone.localdate()
    overdue = RectificationOrder.objects.filter(_overdue_orders(today))
    return (
        _firm_or_scoped(user, Inspection)
        .select_related("enterprise", "campaign", "inspector")
        .annotate(
            overdue_count=Count(
                "findings__rectification",
                filter=Q(findings__rectification__in=overdue),
            )
        )
        .order_by("-planned_on", "-id")
    )


def _access(user: Any, base: QuerySet[Any], pk: Any, action: str) -> Any:
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


def access_inspection(user: Any, pk: Any, *, action: str = READ) -> Inspection:
    base = Inspection.objects.select_related(
        "enterprise", "enterprise__org_unit", "campaign", "inspector", "checklist"
    )
    found: Inspection = _access(user, base, pk, action)
    return found


def findings_of(inspection: Inspection) -> list[Finding]:
    """The findings of an inspection with their photos and rectification (with its evidence), in order."""
    findings = list(
        inspection.findings.order_by("id").prefetch_related(
            _photos_prefetch("photos"),
        )
    )
    orders = {
        order.finding_id: order
        for order in RectificationOrder.objects.filter(finding__in=findings)
        .select_related("verified_by", "submitted_by")
        .prefetch_related(_photos_prefetch("evidence"))
    }
    for finding in findings:
        finding.order = orders.get(finding.pk)  # type: ignore[attr-defined]
    return findings


def _photos_prefetch(name: str) -> Any:
    return Prefetch(name, queryset=EvidenceFile.objects.defer("content").order_by("id"))


def access_finding(user: Any, pk: Any, *, action: str = READ) -> Finding:
    base = Finding.objects.select_related("inspection", "enterprise", "enterprise__org_unit")
    found: Finding = _access(user, base, pk, action)
    return found


def rectifications_for_user(
    user: Any, *, status: str = "", overdue: bool = False, today: dt.date | None = None
) -> QuerySet[RectificationOrder]:
    """Rectification orders the user may list (firm users: their firm's), overdue first then by deadline;
    ``status`` "active" means open or submitted."""
    today = today or timezone.localdate()
    orders = _firm_or_scoped(user, RectificationOrder).annotate(
        overdue=Exists(RectificationOrder.objects.filter(_overdue_orders(today), pk=OuterRef("pk")))
    )
    if status == "active":
        orders = orders.exclude(status=RectificationStatus.CLOSED)
    elif status:
        orders = orders.filter(status=status)
    if overdue:
        orders = orders.filter(_overdue_orders(today))
    return orders.select_related("enterprise", "finding", "finding__inspection").order_by(
        "-overdue", "deadline", "id"
    )


def overdue_rectification_count(user: Any, *, today: dt.date | None = None) -> int:
    return (
        _firm_or_scoped(user, RectificationOrder)
        .filter(_overdue_orders(today or timezone.localdate()))
        .count()
    )


def access_rectification(user: Any, pk: Any, *, action: str = READ) -> RectificationOrder:
    base = RectificationOrder.objects.select_related(
        "enterprise", "enterprise__org_unit", "finding", "finding__inspection", "verified_by"
    )
    found: RectificationOrder = _access(user, base, pk, action)
    return found


def evidence_of(order: RectificationOrder) -> QuerySet[EvidenceFile]:
    return order.evidence.defer("content").order_by("id")


def penalties_for_user(user: Any) -> QuerySet[PenaltyCase]:
    return (
        _firm_or_scoped(user, PenaltyCase)
        .select_related("enterprise", "inspection", "decided_by")
        .order_by("-created", "-id")
    )


def access_penalty(user: Any, pk: Any, *, action: str = READ) -> PenaltyCase:
    base = PenaltyCase.objects.select_related(
        "enterprise", "enterprise__org_unit", "inspection", "decided_by"
    )
    found: PenaltyCase = _access(user, base, pk, action)
    return found


def access_evidence(user: Any, pk: Any) -> EvidenceFile:
    """One evidence file: readable by whoever may read its finding or order."""
    base = EvidenceFile.objects.defer("content").select_related("finding", "order")
    if acts_as_firm(user):
        ids = member_enterprise_ids(user)
        found = (
            base.filter(pk=pk)
            .filter(Q(finding__enterprise_id__in=ids) | Q(order__enterprise_id__in=ids))
            .first()
            if str(pk).isdigit()
            else None
        )
        if found is None:
            raise NotFound()
        return found
    evidence: EvidenceFile = access_object(user, base, pk)
    return evidence


def parks_for_user(user: Any) -> QuerySet[IndustrialPark]:
    return IndustrialPark.objects.for_user(user, action=WRITE).order_by("org_path", "name")


def discretion_bases(enterprise: Enterprise, on: dt.date | None = None) -> list[dict[str, Any]]:
    """The legal bases of the discretion table in force for the firm's district (for forms)."""
    version = policy_in_force(DISCRETION_POLICY, enterprise.org_unit, on or timezone.localdate())
    return list(version.payload.get("bases", []))


# Services: helpers -----------------------------------------------------------------------------------------


def _join(fields: Mapping[str, str]) -> str:
    return join_problems(f"{name}: {problem}" for name, problem in fields.items())


def _invalid(what: str, fields: dict[str, str], code: str = "invalid") -> ServiceError:
    return ServiceError(what % {"problems": _join(fields)}, code=code, fields=fields)


def _require_official(actor: Any, org_unit_id: int) -> None:
    """Writes by officials: the role writes firms' records and the district is in the capture scope. The CLI
    (actor None) may do anything."""
    if actor is None:
        return
    if acts_as_firm(actor) or not user_may(actor, Inspection, WRITE):
        raise NotFound()
    if not in_roots(org_unit_id, capture_root_ids(actor)):
        raise NotFound()


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _today() -> dt.date:
    return timezone.localdate()


def _date(value: Any, name: str, fields: dict[str, str]) -> dt.date | None:
    if isinstance(value, dt.datetime) or (value is not None and not isinstance(value, dt.date | str)):
        fields[name] = _("a date like 2026-03-01")
        return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            fields[name] = _("a date like 2026-03-01")
            return None
    if value is None:
        fields[name] = _("required")
    return value


def _status_error(what: str, status_label: Any) -> ServiceError:
    label = str(status_label)
    return ServiceError(what % {"status": label}, code="invalid_transition", fields={"status": label})


def _checked_upload(
    file_name: str, content_type: str, data: bytes, *, field: str = "file"
) -> tuple[str, str]:
    """The cleaned file name and content type of an upload, or a 400 naming the problem."""
    try:
        checked = check_upload(file_name, content_type, data, default_stem="evidence")
    except UploadError as error:
        raise _invalid(_("The file cannot be uploaded: %(problems)s"), {field: str(error)}) from None
    return checked.file_name, checked.content_type


def _store_file(
    actor: Any, *, owner: Finding | RectificationOrder, file_name: str, content_type: str, data: bytes
) -> EvidenceFile:
    """Save one checked upload encrypted with its SM3 digest, audited (inside the caller's transaction)."""
    content, digest = encode_content(data)
    is_finding = isinstance(owner, Finding)
    evidence = EvidenceFile.objects.create(
        finding=owner if isinstance(owner, Finding) else None,
        order=owner if isinstance(owner, RectificationOrder) else None,
        org_unit_id=owner.org_unit_id,
        uploaded_by=_user(actor),
        file_name=file_name,
        content_type=content_type,
        size=len(data),
        digest=digest,
        content=content,
    )
    audit_write(
        action=AuditAction.CREATE,
        actor=actor,
        obj=evidence,
        org_unit_code=owner.enterprise.org_unit.code,
        detail={
            ("finding" if is_finding else "rectification"): owner.pk,
            "content_type": content_type,
            "size": len(data),
            "digest": digest,
        },
    )
    return evidence


def evidence_content(user: Any, evidence: EvidenceFile) -> bytes:
    """The file's bytes for a download: audited as EXPORT, checked against its SM3 digest (a FAILURE audit
    record and a 500 when the stored content is damaged)."""
    return read_content(
        user=user,
        obj=evidence,
        encoded=stored_text(EvidenceFile, evidence.pk),
        digest=evidence.digest,
        detail={
            "digest": evidence.digest,
            "finding": evidence.finding_id,
            "rectification": evidence.order_id,
        },
    )


# Services: planning ---------------------------------------------------------------------------------------


def inspection_plan_from_rating(*, actor: Any, enterprise: Enterprise) -> list[Inspection]:
    """Plan the firm's routine inspections from its latest credit rating (``CreditRating.inspection_plan``: the
    dates of the rating's year that its grade's supervision intensity gives). Idempotent: a date already planned
    is kept; future planned routine inspections of that year that the new plan no longer holds (the grade
    changed) are cancelled. Returns the planned routine inspections of the year, by date."""
    from jindu.precursors.rating import latest_rating

    _require_official(actor, enterprise.org_unit_id)
    rating = latest_rating(enterprise)
    if rating is None:
        raise ServiceError(
            _("The firm has no credit rating yet: rate it first, the plan follows its grade."),
            code="not_rated",
            fields={"rating": _("missing")},
        )
    dates = sorted({dt.date.fromisoformat(day) for day in rating.inspection_plan})
    year = rating.as_of.year
    today = _today()
    with transaction.atomic():
        existing = {
            inspection.planned_on: inspection
            for inspection in Inspection.objects.select_for_update().filter(
                enterprise=enterprise, kind=InspectionKind.ROUTINE, planned_on__year=year
            )
        }
        created = [
            Inspection(
                enterprise=enterprise,
                org_unit_id=enterprise.org_unit_id,
                kind=InspectionKind.ROUTINE,
                planned_on=day,
            )
            for day in dates
            if day not in existing
        ]
        for inspection in created:
            inspection.save()
        dropped = [
            inspection
            for day, inspection in existing.items()
            if day not in dates and day >= today and inspection.status == InspectionStatus.PLANNED
        ]
        for inspection in dropped:
            inspection.status = InspectionStatus.CANCELLED
            inspection.save(update_fields=["status", "last_updated"])
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=enterprise,
            detail={
                "inspection_plan": [day.isoformat() for day in dates],
                "rating": rating.pk,
                "grade": rating.grade,
                "created": len(created),
                "cancelled": len(dropped),
            },
        )
    return list(
        Inspection.objects.filter(
            enterprise=enterprise, kind=InspectionKind.ROUTINE, planned_on__in=dates
        ).order_by("planned_on")
    )


def campaign_create(*, actor: Any, park: IndustrialPark, name: str, planned_on: Any) -> InspectionCampaign:
    """A 排查 over an industrial park: one planned campaign inspection for each active firm of the park that lies
    in the actor's capture scope."""
    _require_official(actor, park.org_unit_id)
    fields: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        fields["name"] = _("a name is required")
    day = _date(planned_on, "planned_on", fields)
    if day is not None and day < _today():
        fields["planned_on"] = _("a date in the past")
    firms = Enterprise.objects.filter(park=park, status=EnterpriseStatus.ACTIVE)
    if actor is not None:
        firms = firms.filter(pk__in=Enterprise.objects.for_user(actor, action=WRITE).values("pk"))
    firm_list = list(firms.order_by("pk"))
    if not fields and not firm_list:
        fields["park"] = _("no active firm of this park lies in your jurisdiction")
    if fields:
        raise _invalid(_("The campaign cannot be created: %(problems)s"), fields)
    assert day is not None
    with transaction.atomic():
        campaign = InspectionCampaign.objects.create(
            park=park, org_unit_id=park.org_unit_id, name=name[:200], planned_on=day, created_by=_user(actor)
        )
        for firm in firm_list:
            Inspection.objects.create(
                enterprise=firm,
                org_unit_id=firm.org_unit_id,
                campaign=campaign,
                kind=InspectionKind.CAMPAIGN,
                planned_on=day,
            )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=campaign,
            detail={"park": park.code, "planned_on": day.isoformat(), "inspections": len(firm_list)},
        )
    return campaign


def inspection_schedule(*, actor: Any, enterprise: Enterprise, planned_on: Any, kind: str) -> Inspection:
    """Plan one inspection by hand (a follow-up after findings, or an extra routine visit)."""
    _require_official(actor, enterprise.org_unit_id)
    fields: dict[str, str] = {}
    day = _date(planned_on, "planned_on", fields)
    if day is not None and day < _today():
        fields["planned_on"] = _("a date in the past")
    if kind not in (InspectionKind.ROUTINE, InspectionKind.FOLLOW_UP):
        fields["kind"] = _("routine or follow_up")
    if fields:
        raise _invalid(_("The inspection cannot be planned: %(problems)s"), fields)
    assert day is not None
    try:
        with transaction.atomic():
            inspection = Inspection.objects.create(
                enterprise=enterprise, org_unit_id=enterprise.org_unit_id, kind=kind, planned_on=day
            )
            audit_write(action=AuditAction.CREATE, actor=actor, obj=inspection, detail={"kind": kind})
    except IntegrityError:
        raise ServiceError(
            _("A routine inspection of this firm is already planned on that day."),
            code="duplicate",
            fields={"planned_on": _("already planned")},
        ) from None
    return inspection


# Services: results ----------------------------------------------------------------------------------------


def _locked_inspection(inspection: Inspection) -> Inspection:
    locked = Inspection.objects.select_for_update().get(pk=inspection.pk)
    locked.enterprise = inspection.enterprise
    return locked


def inspection_record(
    *,
    actor: Any,
    inspection: Inspection,
    results: Any,
    done_on: Any = None,
    notes: str = "",
    descriptions: Mapping[str, str] | None = None,
) -> Inspection:
    """Record a planned inspection's results under the checklist in force for the firm's district on the day:
    every item pass, fail or na (an unknown or missing item is a 400 naming it). Each failed item becomes a
    finding (its description from ``descriptions`` or the item's label, its severity from the checklist)."""
    _require_official(actor, inspection.org_unit_id)
    fields: dict[str, str] = {}
    day = _date(done_on if done_on is not None else _today(), "done_on", fields)
    if day is not None and day > _today():
        fields["done_on"] = _("a date in the future")
    checklist = policy_in_force(CHECKLIST_POLICY, inspection.enterprise.org_unit, day or _today())
    items = {item["key"]: item for item in checklist_items(checklist)}
    if not isinstance(results, Mapping):
        fields["results"] = _("an object: checklist item key → pass, fail or na")
        results = {}
    for key in sorted(set(results) - set(items)):
        fields[f"results.{key}"] = _("not an item of the checklist")
    for key in items:
        if key not in results:
            fields[f"results.{key}"] = _("missing: every item needs pass, fail or na")
        elif results[key] not in ItemResult.values:
            fields[f"results.{key}"] = _("must be pass, fail or na")
    descriptions = descriptions or {}
    if not isinstance(descriptions, Mapping) or any(key not in items for key in descriptions):
        fields["descriptions"] = _("keys must be checklist items")
        descriptions = {}
    if fields:
        raise _invalid(_("The results cannot be recorded: %(problems)s"), fields)
    assert day is not None
    with transaction.atomic():
        inspection = _locked_inspection(inspection)
        if inspection.status != InspectionStatus.PLANNED:
            raise _status_error(
                _("Only a planned inspection can be recorded; this one is %(status)s."),
                InspectionStatus(inspection.status).label,
            )
        inspection.status = InspectionStatus.DONE
        inspection.done_on = day
        inspection.inspector = _user(actor)
        inspection.checklist = checklist
        inspection.results = {key: results[key] for key in items}
        inspection.notes = (notes or "").strip()
        inspection.save()
        failed = [key for key in items if results[key] == ItemResult.FAIL]
        for key in failed:
            item = items[key]
            Finding.objects.create(
                inspection=inspection,
                enterprise=inspection.enterprise,
                org_unit_id=inspection.org_unit_id,
                item_key=key,
                area=item["area"],
                severity=item["severity"],
                description=(str(descriptions.get(key) or "").strip() or item["label_zh"])[:2000],
            )
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=inspection,
            detail={
                "transition": "record",
                "done_on": day.isoformat(),
                "checklist": checklist.pk,
                "failed": failed,
            },
        )
    return inspection


def inspection_refuse(
    *, actor: Any, inspection: Inspection, done_on: Any = None, reason: str = ""
) -> Inspection:
    """The firm refused or obstructed the inspection (拒绝、阻碍监督检查): a veto item of the credit scheme."""
    _require_official(actor, inspection.org_unit_id)
    fields: dict[str, str] = {}
    day = _date(done_on if done_on is not None else _today(), "done_on", fields)
    if day is not None and day > _today():
        fields["done_on"] = _("a date in the future")
    reason = (reason or "").strip()
    if not reason:
        fields["reason"] = _("required")
    if fields:
        raise _invalid(_("The refusal cannot be recorded: %(problems)s"), fields)
    with transaction.atomic():
        inspection = _locked_inspection(inspection)
        if inspection.status != InspectionStatus.PLANNED:
            raise _status_error(
                _("Only a planned inspection can be refused; this one is %(status)s."),
                InspectionStatus(inspection.status).label,
            )
        inspection.status = InspectionStatus.REFUSED
        inspection.done_on = day
        inspection.inspector = _user(actor)
        inspection.notes = reason
        inspection.save()
        audit_write(action=AuditAction.UPDATE, actor=actor, obj=inspection, detail={"transition": "refused"})
    return inspection


def finding_photo_add(
    *, actor: Any, finding: Finding, file_name: str, content_type: str, data: bytes
) -> EvidenceFile:
    """Add a photo (JPEG, PNG, or a PDF) of a finding, stored encrypted with its SM3 digest."""
    _require_official(actor, finding.org_unit_id)
    name, content_type = _checked_upload(file_name, content_type, data)
    with transaction.atomic():
        return _store_file(actor, owner=finding, file_name=name, content_type=content_type, data=data)


# Services: rectification ------------------------------------------------------------------------------------


def rectification_order(*, actor: Any, finding: Finding, deadline: Any) -> RectificationOrder:
    """Order the firm to put the finding right by ``deadline`` (today or later); one order per finding."""
    _require_official(actor, finding.org_unit_id)
    fields: dict[str, str] = {}
    day = _date(deadline, "deadline", fields)
    if day is not None and day < _today():
        fields["deadline"] = _("a date in the past")
    if fields:
        raise _invalid(_("The rectification cannot be ordered: %(problems)s"), fields)
    assert day is not None
    try:
        with transaction.atomic():
            order = RectificationOrder.objects.create(
                finding=finding,
                enterprise=finding.enterprise,
                org_unit_id=finding.org_unit_id,
                deadline=day,
                ordered_by=_user(actor),
            )
            audit_write(
                action=AuditAction.CREATE,
                actor=actor,
                obj=order,
                detail={"finding": finding.pk, "deadline": day.isoformat()},
            )
    except IntegrityError:
        raise ServiceError(
            _("A rectification is already ordered for this finding."),
            code="duplicate",
            fields={"finding": _("already ordered")},
        ) from None
    return order


def _locked_order(order: RectificationOrder) -> RectificationOrder:
    locked = RectificationOrder.objects.select_for_update().get(pk=order.pk)
    locked.enterprise = order.enterprise
    locked.finding = order.finding
    return locked


def rectification_submit(
    *,
    actor: Any,
    order: RectificationOrder,
    note: str = "",
    files: Iterable[tuple[str, str, bytes]] = (),
) -> RectificationOrder:
    """The firm submits its evidence for an open order: a note, files (name, content type, bytes), or both —
    at least one. Only the firm's own users submit."""
    if actor is not None and not (
        is_enterprise_user(actor) and order.enterprise_id in member_enterprise_ids(actor)
    ):
        if is_enterprise_user(actor):
            raise NotFound()
        raise Forbidden(_("Only the firm's own users submit rectification evidence."))
    note = (note or "").strip()
    uploads = list(files)
    checked = [
        (*_checked_upload(name, content_type, data, field=f"files[{index}]"), data)
        for index, (name, content_type, data) in enumerate(uploads)
    ]
    if not note and not checked:
        raise _invalid(
            _("The evidence cannot be submitted: %(problems)s"),
            {"note": _("give a note or at least one file")},
        )
    with transaction.atomic():
        order = _locked_order(order)
        if order.status != RectificationStatus.OPEN:
            raise _status_error(
                _("Evidence can be submitted only for an open order; this one is %(status)s."),
                RectificationStatus(order.status).label,
            )
        for name, content_type, data in checked:
            _store_file(actor, owner=order, file_name=name, content_type=content_type, data=data)
        order.status = RectificationStatus.SUBMITTED
        order.submission_note = note
        order.submitted_at = timezone.now()
        order.submitted_by = _user(actor)
        order.save()
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=order,
            org_unit_code=order.enterprise.org_unit.code,
            detail={"transition": "submit", "files": len(checked)},
        )
    return order


def rectification_verify(
    *, actor: Any, order: RectificationOrder, accept: bool, reason: str = ""
) -> RectificationOrder:
    """An official of the district checks the submitted evidence: accepted → closed today; rejected → open
    again, with the reason (required) shown to the firm."""
    _require_official(actor, order.org_unit_id)
    reason = (reason or "").strip()
    if not accept and not reason:
        raise _invalid(_("The evidence cannot be rejected: %(problems)s"), {"reason": _("required")})
    with transaction.atomic():
        order = _locked_order(order)
        if order.status != RectificationStatus.SUBMITTED:
            raise _status_error(
                _("Only submitted evidence can be verified; this order is %(status)s."),
                RectificationStatus(order.status).label,
            )
        order.verified_by = _user(actor)
        order.verified_at = timezone.now()
        if accept:
            order.status = RectificationStatus.CLOSED
            order.closed_on = _today()
            order.rejection_reason = ""
        else:
            order.status = RectificationStatus.OPEN
            order.rejection_reason = reason
        order.save()
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=order,
            detail={"transition": "accept" if accept else "reject", "deadline": order.deadline.isoformat()},
        )
    return order


# Services: penalties ----------------------------------------------------------------------------------------


def penalty_open(
    *,
    actor: Any,
    enterprise: Enterprise,
    basis: str,
    amount: Any = None,
    inspection: Inspection | None = None,
    facts: str = "",
) -> PenaltyCase:
    """Open a penalty case under a legal basis of the discretion table in force for the firm's district today;
    the fine range is computed from the amount (the goods' value or the illegal gain, ¥, as the basis says)."""
    _require_official(actor, enterprise.org_unit_id)
    policy = policy_in_force(DISCRETION_POLICY, enterprise.org_unit, _today())
    bases = {entry["key"]: entry for entry in policy.payload.get("bases", [])}
    fields: dict[str, str] = {}
    entry = bases.get(basis or "")
    if entry is None:
        fields["basis"] = _("unknown legal basis (known: %(known)s)") % {"known": ", ".join(bases)}
    value: Decimal | None = None
    if entry is not None and entry["amount"] != "none":
        value = _money(amount)
        if value is None or value < 0:
            fields["amount"] = _("the %(what)s in ¥, a number ≥ 0") % {
                "what": _("goods' value") if entry["amount"] == "goods_value" else _("illegal gain")
            }
    if inspection is not None and inspection.enterprise_id != enterprise.pk:
        fields["inspection"] = _("an inspection of another firm")
    if fields:
        raise _invalid(_("The penalty case cannot be opened: %(problems)s"), fields)
    assert entry is not None
    low, high = fine_range(entry, value)
    with transaction.atomic():
        case = PenaltyCase.objects.create(
            enterprise=enterprise,
            org_unit_id=enterprise.org_unit_id,
            inspection=inspection,
            basis=entry["key"],
            basis_label=entry["label_zh"][:300],
            citation=entry["citation"][:300],
            citation_verified=bool(entry.get("verified")),
            amount_kind=entry["amount"],
            amount=value.quantize(Decimal("0.01")) if value is not None else None,
            facts=(facts or "").strip(),
            fine_min=low,
            fine_max=high,
            policy=policy,
            opened_by=_user(actor),
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=case,
            detail={"basis": entry["key"], "fine_min": str(low), "fine_max": str(high), "policy": policy.pk},
        )
    return case


def penalty_decide(*, actor: Any, case: PenaltyCase, fine: Any, decided_on: Any = None) -> PenaltyCase:
    """Decide the fine: it must lie within the case's range (a 400 names the range otherwise)."""
    _require_official(actor, case.org_unit_id)
    fields: dict[str, str] = {}
    value = _money(fine)
    if value is None:
        fields["fine"] = _("a number of yuan")
    elif not case.fine_min <= value <= case.fine_max:
        fields["fine"] = _("must lie within ¥%(min)s–%(max)s (%(basis)s)") % {
            "min": f"{case.fine_min:,.2f}",
            "max": f"{case.fine_max:,.2f}",
            "basis": case.citation,
        }
    day = _date(decided_on if decided_on is not None else _today(), "decided_on", fields)
    if day is not None and day > _today():
        fields["decided_on"] = _("a date in the future")
    if fields:
        raise _invalid(_("The fine cannot be decided: %(problems)s"), fields)
    assert value is not None
    with transaction.atomic():
        locked = PenaltyCase.objects.select_for_update().get(pk=case.pk)
        if locked.status != PenaltyStatus.OPEN:
            raise _status_error(
                _("Only an open case can be decided; this one is %(status)s."),
                PenaltyStatus(locked.status).label,
            )
        case.status = PenaltyStatus.DECIDED
        case.decided_fine = value.quantize(Decimal("0.01"))
        case.decided_on = day
        case.decided_by = _user(actor)
        case.save()
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=case,
            detail={"transition": "decide", "fine": str(case.decided_fine)},
        )
    return case


# Credit facts -----------------------------------------------------------------------------------------------


def inspection_credit_facts(enterprise_ids: list[int], as_of: dt.date) -> dict[int, list[CreditFact]]:
    """The credit facts (``credit.DEFAULT_CREDIT_SCHEME`` keys) the inspection module establishes for each firm
    on ``as_of``, read for all firms at once (four queries):

    - ``storage_item_failed``: each failed storage-area item of an inspection done by then, dated the day;
    - ``finding_closed_late``: a rectification closed after its deadline (dated the closing day), or still not
      closed on ``as_of`` with its deadline passed (dated the day after the deadline);
    - ``penalty_minor`` / ``penalty_major``: each decided fine up to ¥20,000 / above, dated the decision day;
    - ``refused_inspection`` (veto): an inspection the firm refused, dated the day.

    The scorer decays facts; facts after ``as_of`` are not read."""
    facts: dict[int, list[CreditFact]] = defaultdict(list)
    findings = Finding.objects.filter(
        enterprise_id__any=enterprise_ids,
        area="storage",
        inspection__done_on__lte=as_of,
        inspection__status=InspectionStatus.DONE,
    ).values_list("enterprise_id", "inspection_id", "inspection__done_on", "item_key")
    for enterprise_id, inspection_id, done_on, key in findings:
        if done_on is None:
            continue
        facts[enterprise_id].append(
            CreditFact("storage_item_failed", done_on, f"inspection:{inspection_id}", note=key)
        )
    orders = (
        RectificationOrder.objects.filter(enterprise_id__any=enterprise_ids, deadline__lt=as_of)
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gt=F("deadline")))
        .values_list("pk", "enterprise_id", "deadline", "closed_on")
    )
    for pk, enterprise_id, deadline, closed_on in orders:
        if closed_on is not None and closed_on <= as_of:
            facts[enterprise_id].append(
                CreditFact("finding_closed_late", closed_on, f"rectification:{pk}", note=f"due {deadline}")
            )
        elif closed_on is None or closed_on > as_of:
            facts[enterprise_id].append(
                CreditFact(
                    "finding_closed_late",
                    deadline + dt.timedelta(days=1),
                    f"rectification:{pk}",
                    note=f"open, due {deadline}",
                )
            )
    penalties = PenaltyCase.objects.filter(
        enterprise_id__any=enterprise_ids, status=PenaltyStatus.DECIDED, decided_on__lte=as_of
    ).values_list("pk", "enterprise_id", "decided_on", "decided_fine")
    for pk, enterprise_id, decided_on, fine in penalties:
        if decided_on is None or fine is None:
            continue
        kind = "penalty_minor" if fine <= PENALTY_MINOR_MAX else "penalty_major"
        facts[enterprise_id].append(CreditFact(kind, decided_on, f"penalty:{pk}", note=f"¥{fine}"))
    refused = Inspection.objects.filter(
        enterprise_id__any=enterprise_ids, status=InspectionStatus.REFUSED, done_on__lte=as_of
    ).values_list("pk", "enterprise_id", "done_on")
    for pk, enterprise_id, done_on in refused:
        if done_on is None:
            continue
        facts[enterprise_id].append(CreditFact("refused_inspection", done_on, f"inspection:{pk}"))
    return facts
