"""The Chinese 台账 as an upload: an Excel (.xlsx) or CSV sheet of ledger rows turned into EPCIS 2.0 events.

Firms without a system of their own keep their ledger in a spreadsheet. Each row becomes one event of the
same shape a firm's system would send (``ledger.balance_terms`` then reads it the same way), and the events go
through ``services.epcis_capture``: one upload is one capture, stored whole or not at all. A sheet with any
bad row is refused with the row and column of every problem (400) and nothing is stored.

Columns (first row, Chinese or English headers, any order; see ``COLUMNS``): 日期, 类型, CAS号 (or 品名 as in
the catalogue), 批号, 数量, 单位, and optionally 浓度, 密度, 对方统一社会信用代码, 许可证号/备案证明编号, 单号.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from jindu.core.errors import ServiceError
from jindu.precursors.models import Enterprise, Substance
from jindu.precursors.quantities import CasError, QuantityError, parse_mass_fraction, parse_uom, validate_cas

MAX_ROWS = 10_000
MAX_BYTES = 10 * 1024 * 1024
CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"jd": "https://jindu.example/voc/"},
]

# Field → the headers that name it (case and spaces ignored).
COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("日期", "时间", "日期时间", "date"),
    "kind": ("类型", "业务类型", "kind"),
    "cas": ("cas号", "cas", "cas编号"),
    "substance": ("品名", "名称", "化学品名称", "substance"),
    "lot": ("批号", "lot"),
    "quantity": ("数量", "quantity"),
    "unit": ("单位", "unit"),
    "concentration": ("浓度", "含量", "concentration"),
    "density": ("密度", "密度(kg/l)", "density"),
    "counterparty": ("对方统一社会信用代码", "对方信用代码", "counterparty"),
    "permit": ("许可证号", "备案证明编号", "许可证/备案证明编号", "permit"),
    "document": ("单号", "订单号", "document"),
}
REQUIRED = ("date", "kind", "quantity", "unit")

# Row kind → (event type, business step, disposition, action); the balance term follows from these.
KINDS: dict[str, tuple[str, str, str, str]] = {
    "入库": ("ObjectEvent", "receiving", "in_progress", "OBSERVE"),
    "采购入库": ("ObjectEvent", "receiving", "in_progress", "OBSERVE"),
    "出库": ("ObjectEvent", "shipping", "in_transit", "OBSERVE"),
    "销售出库": ("ObjectEvent", "shipping", "in_transit", "OBSERVE"),
    "生产": ("TransformationEvent", "commissioning", "", ""),
    "使用": ("TransformationEvent", "jd:consuming", "", ""),
    "损耗": ("ObjectEvent", "jd:lossRecording", "destroyed", "DELETE"),
    "报废": ("ObjectEvent", "destroying", "destroyed", "DELETE"),
    "盘点": ("ObjectEvent", "stock_taking", "", "OBSERVE"),
    "被盗": ("ObjectEvent", "jd:incident", "stolen", "OBSERVE"),
    "丢失": ("ObjectEvent", "jd:incident", "unknown", "OBSERVE"),
}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y.%m.%d")


def _normal(header: Any) -> str:
    return re.sub(r"\s+", "", str(header or "")).lower()


def read_rows(filename: str, content: bytes) -> list[list[Any]]:
    """The sheet's rows (the first sheet of a workbook; a CSV in UTF-8 or GB18030)."""
    if len(content) > MAX_BYTES:
        raise ServiceError(_("The file is larger than 10 MB."), fields={"file": _("at most 10 MB")})
    name = filename.lower()
    if name.endswith(".xlsx") or content[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
            raise ServiceError(
                _("The workbook cannot be read: %(error)s") % {"error": error},
                fields={"file": _("not a workbook")},
            ) from None
        sheet = workbook.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        workbook.close()
        return rows
    if name.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return list(csv.reader(io.StringIO(content.decode(encoding))))
            except UnicodeDecodeError:
                continue
        raise ServiceError(
            _("The CSV file is neither UTF-8 nor GB18030."), fields={"file": _("unknown encoding")}
        )
    raise ServiceError(_("Upload an .xlsx or .csv file."), fields={"file": _("an .xlsx or .csv file")})


def _parse_time(value: Any, zone: dt.tzinfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=zone)
    text = str(value or "").strip()
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=zone)
        except ValueError:
            continue
    raise ValueError(_("a date like 2026-03-01 or 2026-03-01 09:30"))


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(_("not a number")) from None
    if not number.is_finite() or number < 0:
        raise ValueError(_("a number of at least 0"))
    return number


def rows_to_document(enterprise: Enterprise, rows: list[list[Any]]) -> dict[str, Any]:
    """The EPCIS document of a ledger sheet, or a ServiceError listing every bad cell (``row N.column``)."""
    if not rows:
        raise ServiceError(_("The sheet is empty."), fields={"file": _("no rows")})
    headers = [_normal(cell) for cell in rows[0]]
    positions: dict[str, int] = {}
    for field, names in COLUMNS.items():
        for index, header in enumerate(headers):
            if header in names:
                positions[field] = index
                break
    missing = [field for field in REQUIRED if field not in positions]
    if "cas" not in positions and "substance" not in positions:
        missing.append("cas")
    if missing:
        raise ServiceError(
            _("The sheet lacks columns: %(columns)s.")
            % {"columns": ", ".join(COLUMNS[f][0] for f in missing)},
            fields={f"header.{COLUMNS[f][0]}": _("missing column") for f in missing},
        )
    body = [row for row in rows[1:] if any(cell not in (None, "") for cell in row)]
    if len(body) > MAX_ROWS:
        raise ServiceError(
            _("At most %(count)s rows per upload.") % {"count": MAX_ROWS}, fields={"file": _("too many rows")}
        )
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    by_name = {s.name_zh: s for s in Substance.objects.all()}
    problems: dict[str, str] = {}
    events: list[dict[str, Any]] = []
    # Events happen at the firm's (first) registered site; a firm without one records no location.
    site = enterprise.sites.order_by("pk").first()
    store = site.location_uri if site else ""
    for number, row in enumerate(body, start=2):

        def cell(field: str, row: list[Any] = row) -> Any:
            index = positions.get(field)
            return row[index] if index is not None and index < len(row) else None

        def problem(field: str, message: str, number: int = number) -> None:
            problems[f"row {number}.{COLUMNS[field][0]}"] = message

        try:
            when = _parse_time(cell("date"), zone)
        except ValueError as error:
            problem("date", str(error))
            when = None
        kind = str(cell("kind") or "").strip()
        if kind not in KINDS:
            problem("kind", _("one of %(kinds)s") % {"kinds": "、".join(KINDS)})
        cas = str(cell("cas") or "").strip()
        if cas:
            try:
                cas = validate_cas(cas)
            except CasError as error:
                problem("cas", str(error))
        elif cell("substance"):
            substance = by_name.get(str(cell("substance")).strip())
            if substance is None or not substance.cas:
                problem("substance", _("not a catalogue name with a CAS number: give the CAS number"))
            else:
                cas = substance.cas
        else:
            problem("cas", _("a CAS number or a catalogue name is required"))
        try:
            quantity = _decimal(cell("quantity"))
        except ValueError as error:
            problem("quantity", str(error))
            quantity = None
        try:
            unit = parse_uom(str(cell("unit") or ""))
        except QuantityError as error:
            problem("unit", str(error))
            unit = ""
        extensions: dict[str, Any] = {}
        if cell("concentration") not in (None, ""):
            try:
                extensions["jd:massFraction"] = float(parse_mass_fraction(str(cell("concentration"))))
            except QuantityError as error:
                problem("concentration", str(error))
        if cell("density") not in (None, ""):
            try:
                extensions["jd:densityKgPerL"] = float(_decimal(cell("density")))
            except ValueError as error:
                problem("density", str(error))
        counterparty = str(cell("counterparty") or "").strip().upper()
        if any(key.startswith(f"row {number}.") for key in problems) or when is None or quantity is None:
            continue
        event_type, step, disposition, action = KINDS[kind]
        lot = str(cell("lot") or "-").strip() or "-"
        element = {"epcClass": f"urn:jindu:class:{cas}:{lot}", "quantity": float(quantity), "uom": unit}
        event: dict[str, Any] = {
            "type": event_type,
            "eventTime": when.isoformat(),
            "eventTimeZoneOffset": when.strftime("%z")[:3] + ":" + when.strftime("%z")[3:],
            "bizStep": step,
            # Where the row came from, so an office can trace an event back to the uploaded sheet.
            "jd:ledgerRow": number,
        }
        if action:
            event["action"] = action
        if disposition:
            event["disposition"] = disposition
        if event_type == "TransformationEvent":
            role = "outputQuantityList" if kind == "生产" else "inputQuantityList"
            event[role] = [element]
            event["transformationID"] = (
                f"urn:jindu:transformation:{enterprise.uscc}:ledger-{when:%Y%m%d}-{number}"
            )
        else:
            event["quantityList"] = [element]
            if store:
                event["bizLocation" if step != "shipping" else "readPoint"] = {"id": store}
        if counterparty and step in ("receiving", "shipping"):
            key, side = (
                ("sourceList", "source") if step == "receiving" else ("destinationList", "destination")
            )
            event[key] = [{"type": "owning_party", side: f"urn:jindu:party:{counterparty}"}]
        transactions = []
        if cell("permit"):
            transactions.append(
                {"type": "jd:BTT-permit", "bizTransaction": f"urn:jindu:permit:{str(cell('permit')).strip()}"}
            )
        if cell("document"):
            transactions.append(
                {
                    "type": "po",
                    "bizTransaction": f"urn:jindu:po:{enterprise.uscc}:{str(cell('document')).strip()}",
                }
            )
        if transactions:
            event["bizTransactionList"] = transactions
        event.update(extensions)
        events.append(event)
    if problems:
        raise ServiceError(
            _("The ledger sheet has %(count)s problem(s); nothing was stored.") % {"count": len(problems)},
            code="invalid_ledger",
            fields=problems,
        )
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": dt.datetime.now(dt.UTC).isoformat(),
        "sender": enterprise.party_uri,
        "epcisBody": {"eventList": events},
    }


def ledger_upload(*, actor: Any, enterprise: Enterprise, filename: str, content: bytes) -> Any:
    """Capture an uploaded ledger sheet as one EPCIS capture (source ``ledger_upload``)."""
    from jindu.precursors.models import CaptureSource
    from jindu.precursors.services import epcis_capture

    document = rows_to_document(enterprise, read_rows(filename, content))
    return epcis_capture(
        actor=actor,
        enterprise=enterprise,
        document=document,
        source=CaptureSource.LEDGER_UPLOAD,
        document_bytes=content,
    )
