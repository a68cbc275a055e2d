"""Lab files (化验结果, .xlsx or .csv) of wastewater samples: reading, the validation report, the import and the
published template (docs/wastewater.md §7).

Two layouts, told apart by their headers (Chinese or English, any order; the header row may follow a few title
rows):

* **wide** (what labs send): one row per sample — 点位编码, 采样结束日期, 进水流量 with its unit (a 流量单位 column
  or the header, ``进水流量(万m³/d)``), optional 浓度单位, 检测机构, 检测方法, 雨天, 采样方式, 分析日期, 备注 — then
  one column per analyte, named by any name the catalogue knows (code, Chinese or English name, alias). Per-analyte
  QA columns are the analyte's name followed by 回收率, 平行样RSD, 定量限 or 检出限 (``甲基苯丙胺回收率(%)``,
  ``METH RSD``, ``甲基苯丙胺定量限``);
* **long**: one row per measurement — 点位编码, 采样结束日期, 进水流量, 指标, 浓度, 单位, 定量限LOQ, 检出限LOD, 回收率,
  平行样RSD — grouped into samples by site and day.

A concentration cell is a number, a value below the LOQ with its LOQ (``<5``, ``＜5``, ``<LOQ(5)``, ``ND(5)``,
``未检出(5)``), or empty (also ``/`` or ``-``): not measured. ``ND`` or ``<LOQ`` alone needs the analyte's 定量限
column, otherwise the cell is refused: a value below the LOQ is stored as the flag plus the LOQ, never as a number.

``lab_file_import`` parses the whole file first and collects every problem as (row as the sheet shows it, column
header, message); then it runs ``services.samples_store(replace=True)`` so that the service's own checks (site in
the capture scope, dates, LOQ rules, QA ranges) are reported against the same cells. A file with any problem stores
nothing. The same bytes again (SM3 digest) change nothing; another file with the same values leaves the samples
unchanged, corrected values update them (the service keeps the old values in its audit record).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.crypto import get_provider
from jindu.core.errors import NotFound, ServiceError, join_problems
from jindu.core.models import AuditAction, OrgUnit
from jindu.core.scoping import WRITE, user_may
from jindu.wastewater import backcalc, services
from jindu.wastewater.models import Analyte, LabImport, SamplingMode, SamplingSite, WastewaterSample

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
# A report lists at most this many problems (the message gives the total).
MAX_REPORTED = 1_000
# The header row is looked for among the first rows (labs put a title or a lab name above it).
HEADER_SEARCH_ROWS = 10
# Stored precision of the model fields: values are rounded to it before comparing with what is stored, so that a
# second file with the same values is "unchanged" rather than "changed" by a rounding the database would do.
CONCENTRATION_PLACES = Decimal("0.0001")
PERCENT_PLACES = Decimal("0.01")
FLOW_PLACES = Decimal("0.01")
TEXT_LIMITS = {"lab": 100, "method": 64, "note": 300}

# Field → header names (after ``normal_header``: NFKC, no spaces, lower case). The first name is the one the
# template and the report use.
SAMPLE_FIELDS: dict[str, tuple[str, ...]] = {
    "site": (
        "点位编码",
        "点位代码",
        "点位编号",
        "采样点编码",
        "采样点位编码",
        "站点编码",
        "site",
        "sitecode",
        "site_code",
    ),
    "end_date": ("采样结束日期", "采样日期", "结束日期", "end_date", "enddate", "date"),
    "flow": ("进水流量", "流量", "进水量", "日进水量", "flow"),
    "flow_unit": ("流量单位", "flow_unit", "flowunit"),
    "unit": ("浓度单位", "单位", "unit", "concentration_unit"),
    "lab": ("检测机构", "检测单位", "实验室", "lab", "laboratory"),
    "method": ("检测方法", "检验方法", "方法", "method"),
    "rain": ("雨天", "是否雨天", "rain"),
    "sampling_mode": ("采样方式", "采样模式", "sampling_mode", "samplingmode"),
    "analysed_on": ("分析日期", "检测日期", "analysed_on", "analyzed_on", "analysis_date"),
    "note": ("备注", "note", "notes", "remark"),
}
# Columns of the long layout only (one row per measurement).
LONG_FIELDS: dict[str, tuple[str, ...]] = {
    "analyte": ("指标", "检测指标", "目标物", "物质", "analyte"),
    "concentration": ("浓度", "检测值", "结果", "concentration", "value"),
    "loq": ("定量限loq", "定量限", "loq"),
    "lod": ("检出限lod", "检出限", "lod"),
    "recovery": ("回收率", "recovery", "recovery_percent"),
    "rsd": ("平行样rsd", "平行rsd", "相对标准偏差", "rsd", "replicate_rsd", "replicate_rsd_percent"),
}
# Per-analyte QA columns of the wide layout: the analyte's name followed by one of these.
QA_SUFFIXES: dict[str, tuple[str, ...]] = {
    "recovery": ("回收率", "recovery"),
    "rsd": ("平行样rsd", "平行rsd", "相对标准偏差", "rsd"),
    "loq": ("定量限", "loq"),
    "lod": ("检出限", "lod"),
}
# Columns labs add for their own bookkeeping: accepted and not stored.
IGNORED_HEADERS = frozenset(
    {"序号", "编号", "样品编号", "样品名称", "点位名称", "采样点名称", "采样点", "污水厂", "污水厂名称", "区县",
     "所属区县", "no", "no.", "sample_id", "site_name"}
)  # fmt: skip
REQUIRED = ("site", "end_date", "flow")

SAMPLING_MODES: dict[str, str] = {
    "流量比例": SamplingMode.FLOW_PROPORTIONAL,
    "流量等比例": SamplingMode.FLOW_PROPORTIONAL,
    "流量比例混合": SamplingMode.FLOW_PROPORTIONAL,
    "flow": SamplingMode.FLOW_PROPORTIONAL,
    "体积比例": SamplingMode.VOLUME_PROPORTIONAL,
    "等体积": SamplingMode.VOLUME_PROPORTIONAL,
    "volume": SamplingMode.VOLUME_PROPORTIONAL,
    "时间比例": SamplingMode.TIME_PROPORTIONAL,
    "等时": SamplingMode.TIME_PROPORTIONAL,
    "等时混合": SamplingMode.TIME_PROPORTIONAL,
    "time": SamplingMode.TIME_PROPORTIONAL,
    "瞬时": SamplingMode.GRAB,
    "瞬时采样": SamplingMode.GRAB,
    "grab": SamplingMode.GRAB,
}
YES = frozenset({"是", "有", "雨", "雨天", "y", "yes", "true", "1", "√", "✓"})
NO = frozenset({"否", "无", "晴", "n", "no", "false", "0"})
# Cells meaning "not measured".
NOT_MEASURED = frozenset({"", "/", "-", "--", "—", "——", "na", "n/a", "未检测", "未测"})
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
)
NUMBER = r"([0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?)"
# Below the LOQ with the LOQ: <5, <LOQ(5), <LOQ5, ND(5), 未检出(5) (after normal_cell: NFKC, no spaces, lower case).
BELOW_WITH_LOQ = re.compile(rf"^(?:<loq|<|nd|未检出)\(?{NUMBER}\)?$")
BELOW_WITHOUT_LOQ = frozenset({"<loq", "nd", "未检出", "<"})
BELOW_LOD = re.compile(r"^<lod")
HEADER_UNIT = re.compile(r"^(?P<base>.*?)\((?P<unit>[^()]*)\)$")


# --- Problems ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem of a file: the row as the sheet shows it (None: the file), the column header as written ("":
    the whole row), the cell (``F7``) where known, and what is wrong."""

    row: int | None
    column: str
    message: str
    cell: str = ""
    header: bool = False

    @property
    def key(self) -> str:
        """``row 7.甲基苯丙胺``, ``header.进水流量``, ``row 7`` or ``file`` (the API's ``fields`` keys)."""
        if self.header:
            return f"header.{self.column}"
        if self.row is None:
            return f"file.{self.column}" if self.column else "file"
        return f"row {self.row}.{self.column}" if self.column else f"row {self.row}"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "cell": self.cell, "message": self.message}

    def line(self) -> str:
        """One line of the CLI's report: ``row 7, 甲基苯丙胺 (F7): message``."""
        where = "header" if self.header else f"row {self.row}" if self.row is not None else "file"
        if self.column:
            where += f", {self.column}"
        if self.cell:
            where += f" ({self.cell})"
        return f"{where}: {self.message}"


class LabFileRefused(ServiceError):
    """A lab file with problems: nothing was stored. ``problems`` lists every one (at most ``MAX_REPORTED``)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        total = len(problems)
        listed = list(problems)[:MAX_REPORTED]
        fields: dict[str, str] = {}
        for problem in listed:
            fields[problem.key] = (
                join_problems([fields[problem.key], problem.message])
                if problem.key in fields
                else problem.message
            )
        message = _("The lab file has %(count)s problem(s); nothing was stored.") % {"count": total}
        if total > len(listed):
            message += " " + _("The first %(shown)s are listed.") % {"shown": len(listed)}
        super().__init__(message, code="invalid_lab_file", fields=fields)
        self.problems = listed
        self.total = total


def _file_error(message: str, detail: str) -> ServiceError:
    return ServiceError(message, code="invalid_lab_file", fields={"file": detail})


# --- Reading ----------------------------------------------------------------------------------------------------


def normal_header(value: Any) -> str:
    """A header as it is matched: NFKC (full-width brackets, digits and ＜ become ASCII; m³ → m3), no spaces,
    lower case, square brackets as round ones."""
    text = unicodedata.normalize("NFKC", str(value if value is not None else ""))
    return re.sub(r"\s+", "", text).lower().replace("[", "(").replace("]", ")")


def normal_cell(value: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value))).lower()


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (as spreadsheets name columns)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _blank(row: Sequence[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def _numbered(rows: Iterable[Sequence[Any]]) -> list[tuple[int, list[Any]]]:
    """The non-blank rows with their row numbers (1 = the first row), at most ``MAX_ROWS`` + the header rows."""
    kept: list[tuple[int, list[Any]]] = []
    for number, row in enumerate(rows, start=1):
        if _blank(row):
            continue
        kept.append((number, list(row)))
        if len(kept) > MAX_ROWS + HEADER_SEARCH_ROWS:
            break
    return kept


def file_kind(file_name: str, content: bytes) -> str:
    """``xlsx`` or ``csv`` from the name and the first bytes; ServiceError for anything else."""
    name = (file_name or "").lower()
    if content[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if name.endswith(".xls") or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _file_error(
            _(
                "Old-style .xls workbooks cannot be read: save the file as .xlsx (Excel 2007 or later) or .csv."
            ),
            _("an .xlsx or .csv file"),
        )
    if name.endswith((".csv", ".txt")):
        return "csv"
    raise _file_error(_("Upload an .xlsx or .csv file."), _("an .xlsx or .csv file"))


def _decode(content: bytes) -> str:
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return content.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _file_error(_("The CSV file is neither UTF-8 nor GB18030 text."), _("unknown encoding"))


def check_size(size: int) -> None:
    """Refuse an upload larger than ``MAX_BYTES`` before reading it into memory."""
    if size > MAX_BYTES:
        raise _file_error(_("The file is larger than 10 MB."), _("at most 10 MB"))


def read_tables(file_name: str, content: bytes) -> list[list[tuple[int, list[Any]]]]:
    """The tables of a file: each worksheet of a workbook (in order), or the one table of a CSV file, as numbered
    non-blank rows. ServiceError for a file too large, not a workbook or in an unknown encoding."""
    check_size(len(content))
    if not content:
        raise _file_error(_("The file is empty."), _("no content"))
    if file_kind(file_name, content) == "csv":
        text = _decode(content)
        first_line = text.split("\n", 1)[0]
        delimiter = max((",", "\t", ";"), key=first_line.count)
        return [_numbered(csv.reader(io.StringIO(text), delimiter=delimiter))]
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds of error for a file that is not a workbook
        raise _file_error(
            _("The file cannot be read as an Excel workbook (.xlsx)."), _("not a workbook")
        ) from None
    try:
        return [_numbered(sheet.iter_rows(min_row=1, values_only=True)) for sheet in workbook.worksheets]
    finally:
        workbook.close()


# --- Columns ------------------------------------------------------------------------------------------------------


@dataclass
class Column:
    """One column of the header: what it holds, where it is, and the unit its header names."""

    index: int
    header: str  # as written in the file (stripped)
    kind: str  # a field of SAMPLE_FIELDS or LONG_FIELDS, "measured" (an analyte's column) or "qa"
    analyte: Analyte | None = None
    qa: str = ""  # recovery, rsd, loq, lod
    unit: str = ""  # from the header, e.g. 万m3/d or µg/L

    @property
    def letter(self) -> str:
        return column_letter(self.index)


@dataclass
class Layout:
    """The columns of a file's header row."""

    header_row: int
    long: bool
    fields: dict[str, Column] = field(default_factory=dict)
    analytes: list[Column] = field(default_factory=list)  # wide layout, in column order
    qa: dict[tuple[int, str], Column] = field(default_factory=dict)  # (analyte id, kind) → column


def _lookup(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {name: key for key, names in aliases.items() for name in names}


SAMPLE_LOOKUP = _lookup(SAMPLE_FIELDS)
LONG_LOOKUP = _lookup(LONG_FIELDS)


def _split_unit(normal: str) -> tuple[str, str]:
    match = HEADER_UNIT.match(normal)
    if match and match["base"]:
        return match["base"], match["unit"]
    return normal, ""


def _qa_column(base: str, analytes: dict[str, Analyte]) -> tuple[Analyte, str] | None:
    suffixes = sorted(
        ((suffix, kind) for kind, names in QA_SUFFIXES.items() for suffix in names),
        key=lambda pair: -len(pair[0]),
    )
    for suffix, kind in suffixes:
        if base.endswith(suffix) and len(base) > len(suffix):
            analyte = analytes.get(services.normal_name(base[: -len(suffix)].rstrip("_-·/")))
            if analyte is not None:
                return analyte, kind
    return None


def _unit_problem(column: Column, kind: str) -> str:
    """Why the unit in a header cannot be used ("" when it can)."""
    if not column.unit:
        return ""
    try:
        if kind == "flow":
            backcalc.flow_m3_per_day(1, column.unit)
        elif kind == "percent":
            if column.unit != "%":
                return _("the unit of this column is %")
        else:
            backcalc.concentration_ng_per_l(1, column.unit)
    except backcalc.UnitError:
        return (
            _("unknown flow unit %(unit)s (use m3/d or 万m3/d)")
            if kind == "flow"
            else _("unknown concentration unit %(unit)s (use ng/L or µg/L)")
        ) % {"unit": column.unit}
    return ""


def find_header(table: list[tuple[int, list[Any]]]) -> int | None:
    """The position (in ``table``) of the header row: the first of the first rows naming a site column."""
    for position, (_number, row) in enumerate(table[:HEADER_SEARCH_ROWS]):
        if any(SAMPLE_LOOKUP.get(_split_unit(normal_header(cell))[0]) == "site" for cell in row):
            return position
    return None


def read_layout(
    header_row: int, cells: list[Any], analytes: dict[str, Analyte]
) -> tuple[Layout, list[Problem]]:
    """The layout of a header row and the problems of its columns (duplicates, unknown names, units)."""
    problems: list[Problem] = []
    columns: list[Column] = []
    seen_fields: dict[str, Column] = {}
    seen_analytes: dict[tuple[int, str], Column] = {}
    seen_headers: dict[str, Column] = {}

    def problem(column: Column, message: str) -> None:
        problems.append(
            Problem(header_row, column.header, message, f"{column.letter}{header_row}", header=True)
        )

    for index, cell in enumerate(cells):
        header = str(cell).strip() if cell is not None else ""
        if not header:
            continue
        normal = normal_header(header)
        base, unit = _split_unit(normal)
        column = Column(index=index, header=header, kind="", unit=unit)
        if normal in seen_headers:
            problem(
                column,
                _("duplicate column (also column %(letter)s)") % {"letter": seen_headers[normal].letter},
            )
            continue
        seen_headers[normal] = column
        if base in SAMPLE_LOOKUP or normal in SAMPLE_LOOKUP:
            column.kind = SAMPLE_LOOKUP.get(normal) or SAMPLE_LOOKUP[base]
        elif base in LONG_LOOKUP or normal in LONG_LOOKUP:
            column.kind = LONG_LOOKUP.get(normal) or LONG_LOOKUP[base]
        elif base in IGNORED_HEADERS or normal in IGNORED_HEADERS:
            continue
        elif (analyte := analytes.get(services.normal_name(base))) is not None:
            column.kind, column.analyte = "measured", analyte
            if analytes.get(services.normal_name(unit)) is analyte:
                column.unit = ""  # 甲基苯丙胺(METH): the analyte's other name, not a unit
        elif (found := _qa_column(base, analytes)) is not None:
            column.kind, column.analyte, column.qa = "qa", found[0], found[1]
        else:
            problem(
                column,
                _("unknown column: neither a field of the lab file nor an analyte the catalogue knows"),
            )
            continue
        if column.kind in ("measured", "qa"):
            assert column.analyte is not None
            key = (column.analyte.pk, column.qa or "value")
            if key in seen_analytes:
                problem(
                    column,
                    _("duplicate column: column %(letter)s names the same analyte")
                    % {"letter": seen_analytes[key].letter},
                )
                continue
            seen_analytes[key] = column
        elif column.kind in seen_fields:
            problem(
                column,
                _("duplicate column (also column %(letter)s)") % {"letter": seen_fields[column.kind].letter},
            )
            continue
        else:
            seen_fields[column.kind] = column
        columns.append(column)
    long = "analyte" in seen_fields
    layout = Layout(header_row=header_row, long=long, fields=seen_fields)
    for column in columns:
        if column.kind == "measured":
            layout.analytes.append(column)
        elif column.kind == "qa":
            assert column.analyte is not None
            layout.qa[(column.analyte.pk, column.qa)] = column
        unit_kind = (
            "flow"
            if column.kind == "flow"
            else "percent"
            if column.kind in ("recovery", "rsd") or column.qa in ("recovery", "rsd")
            else "concentration"
            if column.kind in ("measured", "concentration", "loq", "lod") or column.qa in ("loq", "lod")
            else ""
        )
        if unit_kind:
            message = _unit_problem(column, unit_kind)
            if message:
                problem(column, message)
        elif column.unit:
            problem(column, _("this column takes no unit in its header"))
    if long:
        for column in [*layout.analytes, *layout.qa.values()]:
            problem(column, _("a file with a 指标 column has one row per measurement and no analyte columns"))
    else:
        for kind in LONG_FIELDS:
            if kind in seen_fields:
                problem(
                    seen_fields[kind],
                    _("this column belongs to the long layout (one row per measurement, with a 指标 column)"),
                )
        for (analyte_id, _kind), column in layout.qa.items():
            if not any(
                value.analyte is not None and value.analyte.pk == analyte_id for value in layout.analytes
            ):
                problem(column, _("there is no column for the analyte itself"))
    missing = [kind for kind in REQUIRED if kind not in seen_fields]
    if long and "concentration" not in seen_fields:
        missing.append("concentration")
    for kind in missing:
        name = SAMPLE_FIELDS[kind][0] if kind in SAMPLE_FIELDS else LONG_FIELDS[kind][0]
        problems.append(Problem(header_row, name, _("missing column"), header=True))
    if not long and not layout.analytes:
        problems.append(
            Problem(
                header_row,
                _("analytes"),
                _("no analyte column: name one per analyte (e.g. 甲基苯丙胺)"),
                header=True,
            )
        )
    flow = seen_fields.get("flow")
    if flow is not None and not flow.unit and "flow_unit" not in seen_fields:
        problem(
            flow, _("the flow needs its unit: a 流量单位 column, or in the header, e.g. 进水流量(万m3/d)")
        )
    if flow is not None and flow.unit and "flow_unit" in seen_fields:
        problem(flow, _("give the flow unit once: in the header or in the 流量单位 column, not both"))
    return layout, problems


# --- Cells --------------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    return str(value).strip()


def is_empty(value: Any) -> bool:
    return value is None or normal_cell(_text(value)) in NOT_MEASURED


def parse_number(value: Any) -> Decimal:
    """A finite number from a cell (a spreadsheet number or text such as ``1,234.5``); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(_("not a number"))
    text = normal_cell(_text(value)).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("not a number: %(value)s") % {"value": _text(value)}) from None
    if not number.is_finite():
        raise ValueError(_("not a number: %(value)s") % {"value": _text(value)})
    return number


def parse_date(value: Any) -> dt.date:
    """A day from a date cell, text such as 2026-03-04, 2026/3/4, 20260304 or 2026年3月4日, or an Excel serial."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 20_000 < value < 80_000:
        from openpyxl.utils.datetime import from_excel

        return from_excel(value).date()
    text = _text(value)
    for pattern in DATE_FORMATS:
        try:
            # Only the day is kept: no time of day, so no time zone to attach.
            return dt.datetime.strptime(text, pattern).date()  # noqa: DTZ007
        except ValueError:
            continue
    raise ValueError(_("not a date: %(value)s (write 2026-03-04)") % {"value": text})


@dataclass(frozen=True)
class Concentration:
    """A parsed concentration cell, in the unit of its column: a value, or below the LOQ (with the LOQ if given)."""

    value: Decimal | None
    below_loq: bool
    loq: Decimal | None


def parse_concentration(value: Any) -> Concentration:
    """``12.5`` → a value; ``<5``, ``<LOQ(5)``, ``ND(5)`` → below the LOQ 5; ``ND``/``<LOQ`` → below an LOQ given
    elsewhere. ValueError for anything else (``<LOD`` included: report the LOQ)."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Concentration(parse_number(value), False, None)
    text = normal_cell(_text(value))
    match = BELOW_WITH_LOQ.match(text)
    if match:
        return Concentration(None, True, Decimal(match[1]))
    if text in BELOW_WITHOUT_LOQ:
        return Concentration(None, True, None)
    if BELOW_LOD.match(text):
        raise ValueError(_("below the LOD: report it as below the LOQ with the LOQ, e.g. <LOQ(5)"))
    try:
        return Concentration(parse_number(value), False, None)
    except ValueError:
        raise ValueError(
            _("not a concentration: %(value)s (a number, or below the LOQ as <5, <LOQ(5) or ND(5))")
            % {"value": _text(value)}
        ) from None


def parse_rain(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = normal_cell(_text(value))
    if text in YES:
        return True
    if text in NO or text == "":
        return False
    raise ValueError(_("是 or 否 (yes or no)"))


def parse_sampling_mode(value: Any) -> str:
    text = normal_cell(_text(value))
    if not text:
        return SamplingMode.FLOW_PROPORTIONAL
    mode = SAMPLING_MODES.get(text)
    if mode is None:
        raise ValueError(_("one of 流量比例, 体积比例, 时间比例, 瞬时"))
    return mode


def _quantized(number: Decimal, places: Decimal) -> Decimal:
    return number.quantize(places, rounding=ROUND_HALF_UP)


# --- Rows → sample entries ----------------------------------------------------------------------------------------


@dataclass
class Origin:
    """Where a value came from: sheet row and column."""

    row: int
    column: str
    letter: str = ""


@dataclass
class ParsedFile:
    """A file turned into the service's entries, with where each value came from and the problems found."""

    layout: Layout | None
    rows: int = 0
    entries: list[services.SampleEntry] = field(default_factory=list)
    # Per entry: the service's field path after ``samples[i].`` → where it came from.
    origins: list[dict[str, Origin]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def site_codes(self) -> list[str]:
        return sorted({entry.site for entry in self.entries})


class _Row:
    """One data row and its problems."""

    def __init__(self, number: int, cells: list[Any], layout: Layout, problems: list[Problem]) -> None:
        self.number = number
        self.cells = cells
        self.layout = layout
        self.problems = problems
        self.bad = False
        self.said: set[tuple[int | None, str]] = set()

    def value(self, column: Column | None) -> Any:
        if column is None or column.index >= len(self.cells):
            return None
        return self.cells[column.index]

    def field(self, kind: str) -> Any:
        return self.value(self.layout.fields.get(kind))

    def origin(self, column: Column | None) -> Origin:
        if column is None:
            return Origin(self.number, "")
        return Origin(self.number, column.header, column.letter)

    def problem(self, column: Column | None, message: str) -> None:
        self.bad = True
        # One unknown 浓度单位 would otherwise be reported once per analyte of the row.
        if (column.index if column else None, message) in self.said:
            return
        self.said.add((column.index if column else None, message))
        self.problems.append(
            Problem(
                self.number,
                column.header if column else "",
                message,
                f"{column.letter}{self.number}" if column else "",
            )
        )


def _concentration_factor(row: _Row, column: Column) -> Decimal | None:
    """ng/L per unit of the column (its header's unit, else the row's 浓度单位, else ng/L)."""
    unit_column = row.layout.fields.get("unit")
    unit = column.unit or _text(row.value(unit_column)) or "ng/L"
    try:
        return Decimal(str(backcalc.concentration_ng_per_l(1, unit)))
    except backcalc.UnitError:
        row.problem(
            unit_column if not column.unit else column,
            _("unknown concentration unit %(unit)s (use ng/L or µg/L)") % {"unit": unit},
        )
        return None


def _optional_number(
    row: _Row, column: Column | None, places: Decimal, factor: Decimal = Decimal(1)
) -> Decimal | None:
    raw = row.value(column)
    if column is None or is_empty(raw):
        return None
    try:
        return _quantized(parse_number(raw) * factor, places)
    except ValueError as error:
        row.problem(column, str(error))
        return None


def _optional_concentration(row: _Row, column: Column | None) -> Decimal | None:
    """An LOQ or LOD cell in ng/L (the column's unit: its header's, else the row's 浓度单位, else ng/L)."""
    if column is None or is_empty(row.value(column)):
        return None
    factor = _concentration_factor(row, column)
    return _optional_number(row, column, CONCENTRATION_PLACES, factor) if factor is not None else None


def _sample_values(row: _Row) -> dict[str, Any]:
    """The sample-level values of a row (site, day, flow in m³/d, …); problems go to the row."""
    fields = row.layout.fields
    site = _text(row.field("site"))
    if not site:
        row.problem(fields.get("site"), _("the site code is required"))
    values: dict[str, Any] = {"site": site}
    raw_day = row.field("end_date")
    if is_empty(raw_day):
        row.problem(fields.get("end_date"), _("the day the composite ends is required"))
    else:
        try:
            values["end_date"] = parse_date(raw_day)
        except ValueError as error:
            row.problem(fields.get("end_date"), str(error))
    flow_column = fields.get("flow")
    raw_flow = row.value(flow_column)
    if is_empty(raw_flow):
        row.problem(flow_column, _("the influent flow is required"))
    else:
        unit = (flow_column.unit if flow_column else "") or _text(row.field("flow_unit"))
        try:
            number = parse_number(raw_flow)
        except ValueError as error:
            row.problem(flow_column, str(error))
        else:
            if not unit:
                row.problem(fields.get("flow_unit"), _("the flow unit is required (m3/d or 万m3/d)"))
            else:
                try:
                    factor = Decimal(str(backcalc.flow_m3_per_day(1, unit)))
                except backcalc.UnitError:
                    row.problem(
                        fields.get("flow_unit") if not (flow_column and flow_column.unit) else flow_column,
                        _("unknown flow unit %(unit)s (use m3/d or 万m3/d)") % {"unit": unit},
                    )
                else:
                    values["flow_m3_per_day"] = _quantized(number * factor, FLOW_PLACES)
    for kind, parser in (("rain", parse_rain), ("sampling_mode", parse_sampling_mode)):
        if kind in fields:
            try:
                values[kind] = parser(row.field(kind))
            except ValueError as error:
                row.problem(fields[kind], str(error))
    if "analysed_on" in fields:
        raw = row.field("analysed_on")
        values["analysed_on"] = None
        if not is_empty(raw):
            try:
                values["analysed_on"] = parse_date(raw)
            except ValueError as error:
                row.problem(fields["analysed_on"], str(error))
    for kind, limit in TEXT_LIMITS.items():
        if kind in fields:
            text = _text(row.field(kind))
            if len(text) > limit:
                row.problem(fields[kind], _("at most %(count)s characters") % {"count": limit})
            values[kind] = text
    return values


def _measurement(
    row: _Row,
    analyte: Analyte,
    value_column: Column,
    qa: dict[str, Column | None],
    origins: dict[str, Origin],
) -> services.MeasurementEntry | None:
    """One analyte's measurement from a value cell and its QA cells; origins gets where each value came from."""
    raw = row.value(value_column)
    if is_empty(raw):
        given = [column for column in qa.values() if column is not None and not is_empty(row.value(column))]
        for column in given:
            row.problem(column, _("a QA value without a value for the analyte"))
        return None
    factor = _concentration_factor(row, value_column)
    try:
        parsed = parse_concentration(raw)
    except ValueError as error:
        row.problem(value_column, str(error))
        return None
    if factor is None:
        return None
    loq_column = qa.get("loq")
    loq = _optional_concentration(row, loq_column)
    lod = _optional_concentration(row, qa.get("lod"))
    recovery = _optional_number(row, qa.get("recovery"), PERCENT_PLACES)
    rsd = _optional_number(row, qa.get("rsd"), PERCENT_PLACES)
    cell_loq = _quantized(parsed.loq * factor, CONCENTRATION_PLACES) if parsed.loq is not None else None
    loq_origin = row.origin(loq_column) if loq is not None else row.origin(value_column)
    if cell_loq is not None:
        if loq is not None and loq != cell_loq:
            row.problem(
                value_column,
                _("the LOQ in the cell differs from the LOQ column (%(loq)s)")
                % {"loq": _text(row.value(loq_column))},
            )
            return None
        loq, loq_origin = cell_loq, row.origin(value_column)
    if parsed.below_loq and loq is None:
        row.problem(
            value_column,
            _("below the LOQ without the LOQ: write it as <5, <LOQ(5) or ND(5), or add a 定量限 column"),
        )
        return None
    origins.update(
        {
            "analyte": row.origin(value_column),
            "ng_per_l": row.origin(value_column),
            "below_loq": row.origin(value_column),
            "loq": loq_origin,
            "lod": row.origin(qa.get("lod")),
            "recovery_percent": row.origin(qa.get("recovery")),
            "replicate_rsd_percent": row.origin(qa.get("rsd")),
        }
    )
    return services.MeasurementEntry(
        analyte=analyte.code,
        ng_per_l=_quantized(parsed.value * factor, CONCENTRATION_PLACES)
        if parsed.value is not None
        else None,
        below_loq=parsed.below_loq,
        loq=loq,
        lod=lod,
        recovery_percent=recovery,
        replicate_rsd_percent=rsd,
    )


SAMPLE_KEYS = (
    "site",
    "end_date",
    "flow_m3_per_day",
    "sampling_mode",
    "rain",
    "lab",
    "method",
    "analysed_on",
    "note",
)
FIELD_OF_KEY = {"flow_m3_per_day": "flow"}


def _sample_origins(row: _Row) -> dict[str, Origin]:
    origins = {key: row.origin(row.layout.fields.get(FIELD_OF_KEY.get(key, key))) for key in SAMPLE_KEYS}
    first = row.layout.analytes[0] if row.layout.analytes else row.layout.fields.get("analyte")
    origins["measurements"] = Origin(row.number, _("analytes"), first.letter if first else "")
    return origins


def _entry(values: dict[str, Any]) -> services.SampleEntry:
    return services.SampleEntry(
        site=values["site"],
        end_date=values["end_date"],
        flow_m3_per_day=values["flow_m3_per_day"],
        sampling_mode=values.get("sampling_mode", SamplingMode.FLOW_PROPORTIONAL),
        rain=values.get("rain", False),
        lab=values.get("lab", ""),
        method=values.get("method", ""),
        analysed_on=values.get("analysed_on"),
        note=values.get("note", ""),
    )


def _parse_wide(parsed: ParsedFile, body: list[tuple[int, list[Any]]], layout: Layout) -> None:
    for number, cells in body:
        row = _Row(number, cells, layout, parsed.problems)
        values = _sample_values(row)
        origins = _sample_origins(row)
        measurements: list[services.MeasurementEntry] = []
        for column in layout.analytes:
            assert column.analyte is not None
            qa = {kind: layout.qa.get((column.analyte.pk, kind)) for kind in QA_SUFFIXES}
            where: dict[str, Origin] = {}
            measurement = _measurement(row, column.analyte, column, qa, where)
            if measurement is not None:
                for key, origin in where.items():
                    origins[f"measurements[{len(measurements)}].{key}"] = origin
                measurements.append(measurement)
        if not measurements and not row.bad:
            row.problem(None, _("no analyte has a value in this row"))
        if row.bad:
            continue
        entry = _entry(values)
        entry.measurements = measurements
        parsed.entries.append(entry)
        parsed.origins.append(origins)


_LongSample = tuple[dict[str, Any], dict[str, Origin], list[services.MeasurementEntry], int]


def _parse_long(
    parsed: ParsedFile, body: list[tuple[int, list[Any]]], layout: Layout, analytes: dict[str, Analyte]
) -> None:
    fields = layout.fields
    samples: dict[tuple[str, dt.date], _LongSample] = {}
    order: list[tuple[str, dt.date]] = []
    cells_of = dict(body)
    previous: list[Any] = []
    site_column, day_column = fields.get("site"), fields.get("end_date")

    def body_cell(number: int, column: Column) -> Any:
        cells = cells_of.get(number, [])
        return cells[column.index] if column.index < len(cells) else None

    for number, cells in body:
        cells = list(cells)
        if previous and all(
            column is None or column.index >= len(cells) or is_empty(cells[column.index])
            for column in (site_column, day_column)
        ):
            # A row without site and day continues the sample above (merged cells, as labs often write a
            # sample over several rows): its empty sample columns take the values of the row above.
            cells += [None] * (len(previous) - len(cells))
            for kind in SAMPLE_FIELDS:
                column = fields.get(kind)
                if column is not None and column.index < len(previous) and is_empty(cells[column.index]):
                    cells[column.index] = previous[column.index]
        previous = cells
        row = _Row(number, cells, layout, parsed.problems)
        values = _sample_values(row)
        name = _text(row.field("analyte"))
        analyte = analytes.get(services.normal_name(name)) if name else None
        if analyte is None:
            row.problem(
                fields.get("analyte"),
                _("unknown analyte %(name)s") % {"name": name} if name else _("the analyte is required"),
            )
        where: dict[str, Origin] = {}
        measurement = None
        if analyte is not None:
            qa = {kind: fields.get(kind) for kind in QA_SUFFIXES}
            value_column = fields["concentration"]
            if is_empty(row.value(value_column)):
                row.problem(value_column, _("the concentration is required (a number, <5 or ND(5))"))
            else:
                measurement = _measurement(row, analyte, value_column, qa, where)
                where["analyte"] = row.origin(fields.get("analyte"))
        if row.bad or measurement is None:
            continue
        key = (values["site"], values["end_date"])
        if key not in samples:
            samples[key] = (values, _sample_origins(row), [], number)
            order.append(key)
            held_values, origins, measurements, _first = samples[key]
        else:
            held_values, origins, measurements, first = samples[key]
            for kind, value in values.items():
                column = fields.get(FIELD_OF_KEY.get(kind, kind))
                if held_values.get(kind) == value or column is None or is_empty(row.value(column)):
                    continue
                if held_values.get(kind) in (None, "") or (
                    kind in ("rain", "sampling_mode") and is_empty(body_cell(first, column))
                ):
                    # Given on this row only: the sample takes it from here.
                    held_values[kind] = value
                    origins[kind] = row.origin(column)
                    continue
                row.problem(column, _("differs from row %(row)s of the same sample") % {"row": first})
            if row.bad:
                continue
        for key_name, origin in where.items():
            origins[f"measurements[{len(measurements)}].{key_name}"] = origin
        measurements.append(measurement)
    for key in order:
        values, origins, measurements, _first = samples[key]
        entry = _entry(values)
        entry.measurements = measurements
        parsed.entries.append(entry)
        parsed.origins.append(origins)


def parse_lab_file(file_name: str, content: bytes) -> ParsedFile:
    """Read and check a lab file without touching the database's samples: the entries for ``samples_store``, where
    every value came from, and every problem (ServiceError only for a file that cannot be read at all)."""
    tables = read_tables(file_name, content)
    chosen = next(
        ((table, position) for table in tables if (position := find_header(table)) is not None), None
    )
    analytes = services.analyte_index()
    if chosen is None:
        # No row names a site column: the first row is taken as the header, so the report names what is missing.
        if not tables or not tables[0]:
            raise _file_error(_("The sheet is empty."), _("no rows"))
        chosen = (tables[0], 0)
    table, position = chosen
    header_row, header_cells = table[position]
    layout, problems = read_layout(header_row, header_cells, analytes)
    parsed = ParsedFile(layout=layout, problems=problems)
    body = table[position + 1 :]
    parsed.rows = len(body)
    if len(body) > MAX_ROWS:
        raise _file_error(
            _("At most %(count)s rows per file; split the file.") % {"count": f"{MAX_ROWS:,}"},
            _("too many rows"),
        )
    if not body:
        parsed.problems.append(Problem(None, "", _("the file has a header but no data rows")))
        return parsed
    if problems:
        # Rows are read against the columns; with a broken header the row problems would only repeat it.
        return parsed
    if layout.long:
        _parse_long(parsed, body, layout, analytes)
    else:
        _parse_wide(parsed, body, layout)
    return parsed


# --- The service's problems, back to cells ----------------------------------------------------------------------

SERVICE_PATH = re.compile(r"^(?:samples\[(?P<index>\d+)\]|sample)(?:\.(?P<rest>.+))?$")
MEASUREMENT_PATH = re.compile(r"^(?P<measurement>measurements\[\d+\])")


def service_problems(parsed: ParsedFile, fields: dict[str, str]) -> list[Problem]:
    """The service's ``samples[i].measurements[j].loq`` problems as sheet rows and columns."""
    problems: list[Problem] = []
    for path, message in fields.items():
        match = SERVICE_PATH.match(path)
        if not match:
            problems.append(Problem(None, "", message))
            continue
        index = int(match["index"]) if match["index"] is not None else 0
        origins = parsed.origins[index] if index < len(parsed.origins) else {}
        rest = match["rest"] or ""
        origin = origins.get(rest)
        if origin is None:
            measurement = MEASUREMENT_PATH.match(rest)
            if measurement:
                origin = origins.get(f"{measurement['measurement']}.analyte")
        if origin is None:
            origin = origins.get("site")
            column = ""
        else:
            column = origin.column
        row = origin.row if origin is not None else None
        letter = origin.letter if origin is not None and column else ""
        problems.append(Problem(row, column, message, f"{letter}{row}" if letter and row else ""))
    problems.sort(key=lambda problem: (problem.row or 0, problem.cell))
    return problems


# --- The import (a service) ---------------------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    """What an import did: the LabImport (new, or the earlier one for the same bytes) and the sites in the file."""

    lab_import: LabImport | None
    already_imported: bool
    site_codes: list[str] = field(default_factory=list)
    message: str = ""


def file_digest(content: bytes) -> str:
    return get_provider().sm3(content)


def _keep_absent_columns(parsed: ParsedFile) -> None:
    """A column the file does not have leaves the stored sample's value as it is (another lab's file may lack 采样方式
    or 备注): the entry takes the stored value, so the service sees no change there."""
    layout = parsed.layout
    if layout is None or not parsed.entries:
        return
    absent = [
        kind
        for kind in ("sampling_mode", "rain", "lab", "method", "analysed_on", "note")
        if kind not in layout.fields
    ]
    if not absent:
        return
    wanted = {(entry.site, entry.end_date) for entry in parsed.entries}
    stored = {
        (sample.site.code, sample.end_date): sample
        for sample in WastewaterSample.objects.filter(
            site__code__in={site for site, _day in wanted}, end_date__in={day for _site, day in wanted}
        ).select_related("site")
    }
    for entry in parsed.entries:
        sample = stored.get((entry.site, entry.end_date))
        if sample is not None:
            for kind in absent:
                setattr(entry, kind, getattr(sample, kind))


def _import_unit(actor: Any, site_codes: Iterable[str]) -> OrgUnit | None:
    """The org unit an import belongs to: the importer's; for the server operator, the nearest unit holding every
    site of the file (so that whoever reads all of them sees the import)."""
    if actor is not None:
        return actor.org_unit
    paths = list(
        SamplingSite.objects.filter(code__in=list(site_codes)).values_list("org_path", flat=True).distinct()
    )
    if not paths:
        return None
    parts = [path.rstrip("/").split("/") for path in paths if path]
    common: list[str] = []
    for codes in zip(*parts, strict=False):
        if len(set(codes)) != 1:
            break
        common.append(codes[0])
    if not common:
        return OrgUnit.objects.filter(parent__isnull=True).order_by("path").first()
    return OrgUnit.objects.filter(code=common[-1]).first()


def already_imported_message(lab_import: LabImport, *, visible: bool) -> str:
    when = timezone.localtime(lab_import.created).strftime("%Y-%m-%d %H:%M")
    if not visible:
        return _("This file was imported already on %(when)s; nothing was changed.") % {"when": when}
    who = lab_import.imported_by.get_username() if lab_import.imported_by else "cli"
    return _("This file was imported already on %(when)s by %(who)s (%(file)s); nothing was changed.") % {
        "when": when,
        "who": who,
        "file": lab_import.file_name,
    }


def _existing(actor: Any, digest: str) -> ImportOutcome | None:
    found = LabImport.objects.select_related("imported_by").filter(digest=digest).first()
    if found is None:
        return None
    visible = actor is None or LabImport.objects.for_user(actor).filter(pk=found.pk).exists()
    return ImportOutcome(
        lab_import=found if visible else None,
        already_imported=True,
        message=already_imported_message(found, visible=visible),
    )


def lab_file_import(*, actor: Any, file_name: str, content: bytes) -> ImportOutcome:
    """Import a lab file, whole or not at all.

    The same bytes imported before: nothing is written and the earlier import is returned. Otherwise every problem
    of the file — its own and the sample service's — refuses it (``LabFileRefused``) and nothing is stored;
    without problems the samples are stored or corrected (``samples_store(replace=True)``) and a ``LabImport`` with
    the counts is recorded and audited, in one transaction."""
    if actor is not None and not user_may(actor, LabImport, WRITE):
        raise NotFound()
    file_name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1][:200] or "lab-file"
    digest = file_digest(content)
    earlier = _existing(actor, digest)
    if earlier is not None:
        return earlier
    parsed = parse_lab_file(file_name, content)
    problems = list(parsed.problems)
    if parsed.layout is None or (problems and not parsed.entries):
        raise LabFileRefused(problems)
    try:
        with transaction.atomic():
            _keep_absent_columns(parsed)
            unit = _import_unit(actor, parsed.site_codes)
            lab_import = None
            if unit is not None:
                lab_import = LabImport.objects.create(
                    org_unit=unit,
                    file_name=file_name,
                    digest=digest,
                    size=len(content),
                    rows=parsed.rows,
                    imported_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
            try:
                report = services.samples_store(
                    actor=actor, entries=parsed.entries, lab_import=lab_import, replace=True
                )
            except NotFound:
                raise
            except ServiceError as error:
                problems.extend(service_problems(parsed, error.fields or {"": error.message}))
                raise LabFileRefused(
                    sorted(problems, key=lambda problem: (problem.row or 0, problem.cell))
                ) from None
            if problems:
                # The file's own problems refuse it even where the service accepted the rest.
                raise LabFileRefused(problems)
            if lab_import is None:  # pragma: no cover - the service refuses a file without a known site
                raise LabFileRefused([Problem(None, "", _("no site of the file is known"))])
            lab_import.samples_created = len(report.created)
            lab_import.samples_updated = len(report.updated)
            lab_import.samples_unchanged = len(report.unchanged)
            lab_import.save(
                update_fields=["samples_created", "samples_updated", "samples_unchanged", "last_updated"]
            )
            audit_write(
                action=AuditAction.CREATE,
                actor=actor,
                obj=lab_import,
                detail={
                    "file_name": file_name,
                    "digest": digest,
                    "size": len(content),
                    "rows": parsed.rows,
                    "created": len(report.created),
                    "updated": len(report.updated),
                    "unchanged": len(report.unchanged),
                    "sites": parsed.site_codes[:200],
                },
            )
    except IntegrityError:
        # The same bytes imported by someone else a moment ago (the digest is unique).
        earlier = _existing(actor, digest)
        if earlier is None:
            raise
        return earlier
    return ImportOutcome(lab_import=lab_import, already_imported=False, site_codes=parsed.site_codes)


# --- The published template ---------------------------------------------------------------------------------------

TEMPLATE_SAMPLE_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("点位编码", "EXAMPLE-01"),
    ("点位名称", "示例污水处理厂"),
    ("采样结束日期", None),  # yesterday, filled in when the template is made
    ("进水流量", 5.2),
    ("流量单位", "万m3/d"),
    ("浓度单位", "ng/L"),
    ("采样方式", "流量比例"),
    ("雨天", "否"),
    ("检测机构", "示例检测中心"),
    ("检测方法", "JD/YJY02.10-2021"),
    ("分析日期", None),  # today
    ("备注", ""),
)
# An example value per standard-panel analyte: numbers, the below-LOQ notations, and an empty cell (not measured).
TEMPLATE_EXAMPLE_VALUES: dict[str, Any] = {
    "METH": 85.3,
    "AMP": "<5",
    "MDMA": "ND(2)",
    "MDA": None,
    "COC": "<LOQ(1)",
    "BE": 12.6,
    "MOR": 35.1,
    "6MAM": "<2",
    "COD": 60.2,
    "KET": 8.7,
    "NK": 3.1,
    "THCCOOH": None,
    "COT": 1520,
}


def template_analytes() -> list[Analyte]:
    return list(Analyte.objects.filter(standard_panel=True).order_by("sort_order", "code"))


def template_rows(today: dt.date | None = None) -> tuple[list[str], list[Any]]:
    """The template's header and example row (wide layout, standard-panel analytes by their Chinese names)."""
    today = today or timezone.localdate()
    header: list[str] = []
    example: list[Any] = []
    for name, value in TEMPLATE_SAMPLE_COLUMNS:
        header.append(name)
        if name == "采样结束日期":
            value = today - dt.timedelta(days=1)
        elif name == "分析日期":
            value = today
        example.append(value)
    for analyte in template_analytes():
        header.append(analyte.name_zh)
        example.append(TEMPLATE_EXAMPLE_VALUES.get(analyte.code))
    return header, example


def template_notes() -> list[str]:
    """What the notes sheet (and the import page) explain."""
    return [
        _(
            "One row per sample: a 24-hour composite, labelled by the day it ends (采样结束日期). Replace the example row."
        ),
        _(
            "Required: 点位编码 (the site code registered on the platform), 采样结束日期 (2026-03-04), 进水流量 with its "
            "unit in 流量单位 (m3/d or 万m3/d) or in the header, e.g. 进水流量(万m3/d)."
        ),
        _(
            "Concentrations are in ng/L unless 浓度单位 says µg/L; a column header may name its own unit, e.g. "
            "甲基苯丙胺(µg/L)."
        ),
        _(
            "Below the LOQ: write <5, <LOQ(5) or ND(5), the number being the LOQ in the same unit. ND or <LOQ alone is "
            "refused unless a column such as 甲基苯丙胺定量限 gives the LOQ. Such values are stored as a flag plus the "
            "LOQ and never enter a mean as numbers."
        ),
        _("An empty cell (or / or -) means the analyte was not measured; a stored value is then kept."),
        _(
            "QA columns, per analyte: the analyte's name followed by 回收率 (recovery, %), 平行样RSD (replicate RSD, %), "
            "定量限 (LOQ) or 检出限 (LOD), e.g. 甲基苯丙胺回收率(%). A measurement outside the QA limits is kept but "
            "blocked from computation until corrected."
        ),
        _(
            "Optional columns: 检测机构, 检测方法 (e.g. JD/YJY02.10-2021), 雨天 (是/否), 采样方式 (流量比例, 体积比例, "
            "时间比例, 瞬时), 分析日期, 备注; 序号, 样品编号 and 点位名称 are accepted and not stored."
        ),
        _(
            "Also accepted, one row per measurement: 点位编码, 采样结束日期, 进水流量, 流量单位, 指标, 浓度, 单位, "
            "定量限LOQ, 检出限LOD, 回收率, 平行样RSD."
        ),
        _(
            "A file with any problem is refused as a whole, with the row and column of each problem. The same file "
            "again changes nothing; a corrected file updates the samples it carries (the old values stay in the "
            "audit trail)."
        ),
        _("At most 20,000 rows and 10 MB per file; .xlsx or .csv (UTF-8 or GB18030)."),
    ]


def template_csv(today: dt.date | None = None) -> bytes:
    """The template as CSV, UTF-8 with BOM so that Excel shows the Chinese headers."""
    header, example = template_rows(today)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerow(
        [
            "" if value is None else value.isoformat() if isinstance(value, dt.date) else value
            for value in example
        ]
    )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def template_xlsx(today: dt.date | None = None) -> bytes:
    """The template as a workbook: the data sheet (header and example row) and a notes sheet (说明)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    header, example = template_rows(today)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "化验结果"
    sheet.append(header)
    sheet.append(example)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cell in sheet[2]:
        if isinstance(cell.value, dt.date):
            cell.number_format = "yyyy-mm-dd"
    for index, name in enumerate(header):
        sheet.column_dimensions[column_letter(index)].width = max(10, min(28, len(name) * 2 + 2))
    sheet.freeze_panes = "B2"
    notes = workbook.create_sheet("说明")
    notes.column_dimensions["A"].width = 120
    for line in template_notes():
        notes.append([line])
    notes.append([])
    notes.append([_("Analytes (any of these names may head a column)")])
    notes[notes.max_row][0].font = Font(bold=True)
    for analyte in Analyte.objects.order_by("sort_order", "code"):
        names = [analyte.code, analyte.name_zh, analyte.name_en, *analyte.aliases]
        unique = list(dict.fromkeys(names))
        notes.append([" / ".join(str(name) for name in unique)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def describe_outcome(outcome: ImportOutcome) -> str:
    """One line saying what an import did (CLI and page)."""
    if outcome.already_imported or outcome.lab_import is None:
        return outcome.message
    found = outcome.lab_import
    return _(
        "%(rows)s rows of %(file)s: %(created)s samples created, %(updated)s changed, %(unchanged)s unchanged."
    ) % {
        "rows": found.rows,
        "file": found.file_name,
        "created": found.samples_created,
        "updated": found.samples_updated,
        "unchanged": found.samples_unchanged,
    }


def iter_problem_lines(problems: Iterable[Problem]) -> Iterator[str]:
    for problem in problems:
        yield problem.line()
