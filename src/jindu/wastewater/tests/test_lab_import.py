"""Lab files (.xlsx or .csv, Chinese headers) imported whole or refused with the row and column of every problem;
the same bytes again change nothing; corrections update; the CLI's exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from jindu.cli import main
from jindu.core.crypto import get_provider
from jindu.core.errors import ServiceError
from jindu.core.models import AuditRecord
from jindu.wastewater import lab_import
from jindu.wastewater.lab_import import (
    LabFileRefused,
    column_letter,
    lab_file_import,
    normal_header,
    parse_concentration,
    parse_date,
)
from jindu.wastewater.models import AnalyteResult, LabImport, Measurement, WastewaterSample

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English (the zh-Hans catalogue translates them)."""
    with translation.override("en"):
        yield


FIXTURES = Path(__file__).resolve().parent / "fixtures"
WIDE = [
    "点位编码",
    "采样结束日期",
    "进水流量(万m³/d)",
    "浓度单位",
    "检测机构",
    "检测方法",
    "甲基苯丙胺",
    "AMP",
    "MDMA",
    "氯胺酮",
]


def csv_bytes(rows: list[list[Any]], *, encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], *, sheets: list[list[list[Any]]] | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for extra in sheets or []:
        other = workbook.create_sheet()
        for row in extra:
            other.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def refused(actor: Any, name: str, content: bytes) -> LabFileRefused:
    with pytest.raises(LabFileRefused) as caught:
        lab_file_import(actor=actor, file_name=name, content=content)
    return caught.value


def measurement(site: str, day: str, code: str) -> Measurement:
    return Measurement.objects.get(
        sample__site__code=site, sample__end_date=dt.date.fromisoformat(day), analyte__code=code
    )


# --- Parsing cells ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "value", "below", "loq"),
    [
        ("12.5", Decimal("12.5"), False, None),
        (12.5, Decimal("12.5"), False, None),
        (100, Decimal("100"), False, None),
        ("1,234.5", Decimal("1234.5"), False, None),
        ("<5", None, True, Decimal("5")),
        ("＜５", None, True, Decimal("5")),
        ("< 0.5", None, True, Decimal("0.5")),
        ("<LOQ(5)", None, True, Decimal("5")),
        ("<LOQ（2.5）", None, True, Decimal("2.5")),
        ("ND(5)", None, True, Decimal("5")),
        ("nd (0.2)", None, True, Decimal("0.2")),
        ("未检出(1)", None, True, Decimal("1")),
        ("ND", None, True, None),
        ("<LOQ", None, True, None),
    ],
)
def test_concentration_cells(cell, value, below, loq):
    parsed = parse_concentration(cell)
    assert (parsed.value, parsed.below_loq, parsed.loq) == (value, below, loq)


@pytest.mark.parametrize("cell", ["<LOD(2)", "abc", "5 ng", ">100", "ND(x)", True])
def test_cells_that_are_not_concentrations(cell):
    with pytest.raises(ValueError):
        parse_concentration(cell)


def test_dates_headers_and_column_letters():
    for text in ("2026-03-04", "2026/3/4", "2026.03.04", "20260304", "2026年3月4日", "2026-03-04 00:00:00"):
        assert parse_date(text) == dt.date(2026, 3, 4), text
    assert parse_date(dt.datetime(2026, 3, 4, 8, 0)) == dt.date(2026, 3, 4)
    assert parse_date(46085) == dt.date(2026, 3, 4)  # an Excel serial day number
    for bad in ("2026-13-01", "March 4", "04/03/2026"):
        with pytest.raises(ValueError):
            parse_date(bad)
    assert normal_header(" 进水流量（万m³/d） ") == "进水流量(万m3/d)"
    assert normal_header("METH [µg/L]") == "meth(μg/l)"
    assert [column_letter(index) for index in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


# --- Importing --------------------------------------------------------------------------------------------------


def test_a_wide_csv_is_stored_with_units_converted_and_below_loq_as_flag_plus_loq(users, sites, lab):
    content = csv_bytes(
        [
            WIDE,
            ["HS-01", "2026-03-04", 5, "ng/L", "宁波大学", "JD/YJY02.10-2021", 100, "<5", "＜2", ""],
            [
                "HS-01",
                "2026/3/5",
                5.5,
                "µg/L",
                "宁波大学",
                "JD/YJY02.10-2021",
                0.12,
                "<LOQ(0.005)",
                "ND(0.002)",
                "0.0087",
            ],
            ["FH-01", "20260304", 2, "", "宁波大学", "JD/YJY02.10-2021", 80, "ND(5)", "", "/"],
        ]
    )
    outcome = lab_file_import(actor=lab, file_name="宁波大学-2026年3月.csv", content=content)
    assert not outcome.already_imported
    assert outcome.site_codes == ["FH-01", "HS-01"]
    found = outcome.lab_import
    assert (found.rows, found.samples_created, found.samples_updated, found.samples_unchanged) == (3, 3, 0, 0)
    assert found.digest == get_provider().sm3(content) and found.size == len(content)
    assert found.org_unit.code == "330200" and found.imported_by == lab
    assert found.file_name == "宁波大学-2026年3月.csv"
    first = WastewaterSample.objects.get(site__code="HS-01", end_date=dt.date(2026, 3, 4))
    assert first.flow_m3_per_day == Decimal("50000") and first.lab == "宁波大学"
    assert first.method == "JD/YJY02.10-2021" and first.lab_import == found
    assert measurement("HS-01", "2026-03-04", "METH").ng_per_l == Decimal("100")
    amp = measurement("HS-01", "2026-03-04", "AMP")
    assert amp.below_loq and amp.ng_per_l is None and amp.loq == Decimal("5")
    assert measurement("HS-01", "2026-03-04", "MDMA").loq == Decimal("2")
    # An empty cell is "not measured": no measurement at all.
    assert not Measurement.objects.filter(sample=first, analyte__code="KET").exists()
    # µg/L × 1000 for the value and the LOQ; 5.5 万m³/d = 55,000 m³/d.
    second = WastewaterSample.objects.get(site__code="HS-01", end_date=dt.date(2026, 3, 5))
    assert second.flow_m3_per_day == Decimal("55000")
    assert measurement("HS-01", "2026-03-05", "METH").ng_per_l == Decimal("120")
    assert measurement("HS-01", "2026-03-05", "AMP").loq == Decimal("5")
    assert measurement("HS-01", "2026-03-05", "KET").ng_per_l == Decimal("8.7")
    # No 浓度单位 on the row: ng/L; "/" is not measured.
    assert measurement("FH-01", "2026-03-04", "METH").ng_per_l == Decimal("80")
    assert Measurement.objects.filter(sample__site__code="FH-01").count() == 2
    # The results are computed at once: the example (100 ng/L, 5 万m³/d, 200,000 people → 25.0).
    meth = AnalyteResult.objects.get(site__code="HS-01", end_date=dt.date(2026, 3, 4), analyte__code="METH")
    assert meth.per_1000 == pytest.approx(25.0) and meth.status == "computed"
    below = AnalyteResult.objects.get(site__code="HS-01", end_date=dt.date(2026, 3, 4), analyte__code="AMP")
    assert below.status == "below_loq" and below.per_1000 is None and below.load_mg_per_day is None
    record = AuditRecord.objects.filter(object_type="wastewater.labimport").get()
    assert record.actor_username == "t_lab"
    assert record.detail["created"] == 3 and record.detail["sites"] == ["FH-01", "HS-01"]


def test_an_excel_file_with_title_rows_english_headers_and_qa_columns(users, sites):
    content = xlsx_bytes(
        [
            ["宁波市污水毒情监测 检测结果"],
            ["检测单位：宁波大学"],
            [
                "site",
                "end_date",
                "flow",
                "flow_unit",
                "rain",
                "采样方式",
                "分析日期",
                "备注",
                "METH",
                "甲基苯丙胺回收率(%)",
                "METH RSD",
                "Ketamine",
                "氯胺酮定量限",
                "苯丙胺",
            ],
            [
                "HS-01",
                dt.datetime(2026, 3, 4),
                52000,
                "m3/d",
                "是",
                "时间比例",
                dt.date(2026, 3, 6),
                "暴雨",
                101.5,
                95,
                4.5,
                "ND",
                2,
                None,
            ],
        ]
    )
    outcome = lab_file_import(actor=users["district_a"], file_name="march.xlsx", content=content)
    assert outcome.lab_import.samples_created == 1 and outcome.lab_import.rows == 1
    sample = WastewaterSample.objects.get()
    assert sample.rain and sample.sampling_mode == "time" and sample.note == "暴雨"
    assert sample.analysed_on == dt.date(2026, 3, 6) and sample.flow_m3_per_day == Decimal("52000")
    meth = measurement("HS-01", "2026-03-04", "METH")
    assert meth.recovery_percent == Decimal("95") and meth.replicate_rsd_percent == Decimal("4.5")
    ket = measurement("HS-01", "2026-03-04", "KET")
    # ND with the LOQ from the analyte's 定量限 column.
    assert ket.below_loq and ket.loq == Decimal("2")
    assert not Measurement.objects.filter(analyte__code="AMP").exists()


def test_qa_outside_the_limits_is_stored_but_blocks_the_result(users, sites):
    header = ["点位编码", "采样结束日期", "进水流量", "流量单位", "甲基苯丙胺", "甲基苯丙胺回收率(%)"]
    lab_file_import(
        actor=users["district_a"],
        file_name="qa.csv",
        content=csv_bytes([header, ["HS-01", "2026-03-04", 50000, "m3/d", 100, 45]]),
    )
    result = AnalyteResult.objects.get()
    assert result.status == "qa_failed" and result.per_1000 is None and "recovery 45" in result.reason


def test_the_long_layout_groups_rows_into_samples(users, sites, lab):
    header = [
        "点位编码",
        "采样结束日期",
        "进水流量",
        "流量单位",
        "指标",
        "浓度",
        "单位",
        "定量限LOQ",
        "检出限LOD",
        "回收率(%)",
        "平行样RSD(%)",
    ]
    rows = [
        header,
        ["HS-01", "2026-03-04", 5, "万m3/d", "甲基苯丙胺", 100, "ng/L", 5, 1, 95, 4.5],
        ["HS-01", "2026-03-04", 5, "万m3/d", "苯丙胺", "ND", "ng/L", 5, 1, "", ""],
        # Merged cells: the sample's columns left empty on its further rows.
        ["", "", "", "", "氯胺酮", 0.0087, "µg/L", 0.001, "", "", ""],
        ["FH-01", "2026-03-04", 20000, "m3/d", "METH", "<5", "ng/L", "", "", "", ""],
    ]
    outcome = lab_file_import(actor=lab, file_name="long.csv", content=csv_bytes(rows))
    assert outcome.lab_import.samples_created == 2 and outcome.lab_import.rows == 4
    meth = measurement("HS-01", "2026-03-04", "METH")
    assert (meth.ng_per_l, meth.loq, meth.lod, meth.recovery_percent, meth.replicate_rsd_percent) == (
        Decimal("100"),
        Decimal("5"),
        Decimal("1"),
        Decimal("95"),
        Decimal("4.5"),
    )
    assert measurement("HS-01", "2026-03-04", "AMP").below_loq
    ket = measurement("HS-01", "2026-03-04", "KET")
    assert ket.ng_per_l == Decimal("8.7") and ket.loq == Decimal("1")
    assert WastewaterSample.objects.get(site__code="HS-01").flow_m3_per_day == Decimal("50000")
    assert measurement("FH-01", "2026-03-04", "METH").loq == Decimal("5")


def test_the_long_layout_reports_disagreeing_rows_and_repeated_analytes(users, sites, lab):
    header = ["点位编码", "采样结束日期", "进水流量", "流量单位", "指标", "浓度"]
    rows = [
        header,
        ["HS-01", "2026-03-04", 50000, "m3/d", "METH", 100],
        ["HS-01", "2026-03-04", 60000, "m3/d", "AMP", 10],
        ["HS-01", "2026-03-04", 50000, "m3/d", "甲基苯丙胺", 90],
        ["HS-01", "2026-03-05", 50000, "m3/d", "海洛因X", 1],
        ["HS-01", "2026-03-06", 50000, "m3/d", "METH", ""],
    ]
    problems = refused(lab, "long.csv", csv_bytes(rows))
    assert set(problems.fields) == {"row 3.进水流量", "row 4.指标", "row 5.指标", "row 6.浓度"}
    assert "row 2" in problems.fields["row 3.进水流量"]
    assert "METH is listed twice" in problems.fields["row 4.指标"]
    assert not WastewaterSample.objects.exists()


def test_a_labs_week_file_then_its_long_export_in_gb18030(users, sites, lab):
    """The fixtures: a week of two plants as a lab sends it (wide, 13 analytes, QA columns), then the lab's
    system export of three of those days (long layout, GB18030) adding the LOQ and LOD: those samples change."""
    wide = FIXTURES / "lab-week-wide.csv"
    with wide.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    analytes = list(rows[0])[11:24]
    given = sum(1 for row in rows for name in analytes if row[name].strip())
    first = lab_file_import(actor=lab, file_name=wide.name, content=wide.read_bytes())
    assert (first.lab_import.rows, first.lab_import.samples_created) == (14, 14)
    assert Measurement.objects.count() == given
    assert not Measurement.objects.filter(analyte__code="THCCOOH").exists()  # an empty column: not measured
    rainy = WastewaterSample.objects.get(site__code="HS-01", end_date=dt.date(2026, 3, 5))
    assert rainy.rain and rainy.note == "降雨" and rainy.lab == "宁波大学药学院"
    below = Measurement.objects.filter(analyte__code="6MAM")
    assert below.count() == 14 and all(m.below_loq and m.loq == Decimal("2") for m in below)
    long = FIXTURES / "lab-long-gb18030.csv"
    second = lab_file_import(actor=lab, file_name=long.name, content=long.read_bytes())
    lab_import_counts = (second.lab_import.samples_created, second.lab_import.samples_updated)
    assert lab_import_counts == (0, 3) and second.lab_import.samples_unchanged == 0
    meth = measurement("HS-01", "2026-03-02", "METH")
    assert (meth.ng_per_l, meth.loq, meth.lod) == (Decimal("85.0"), Decimal("2"), Decimal("0.5"))
    # Analytes the long file does not mention are kept.
    assert Measurement.objects.count() == given


def test_merged_cells_of_a_long_excel_sheet_continue_the_sample_above(users, sites):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["点位编码", "采样结束日期", "进水流量(万m3/d)", "指标", "浓度"])
    sheet.append(["HS-01", dt.date(2026, 3, 4), 5, "甲基苯丙胺", 100])
    sheet.append([None, None, None, "苯丙胺", "<5"])
    sheet.append([None, None, None, "氯胺酮", 9.5])
    sheet.append(["HS-01", dt.date(2026, 3, 5), 5, "甲基苯丙胺", 90])
    for column in "ABC":
        sheet.merge_cells(f"{column}2:{column}4")
    buffer = io.BytesIO()
    workbook.save(buffer)
    outcome = lab_file_import(actor=users["district_a"], file_name="merged.xlsx", content=buffer.getvalue())
    assert outcome.lab_import.samples_created == 2
    assert Measurement.objects.filter(sample__end_date=dt.date(2026, 3, 4)).count() == 3
    assert measurement("HS-01", "2026-03-04", "KET").ng_per_l == Decimal("9.5")


BAD_HEADER = [
    "点位编码",
    "采样结束日期",
    "进水流量",
    "流量单位",
    "浓度单位",
    "雨天",
    "采样方式",
    "分析日期",
    "备注",
    "甲基苯丙胺",
    "苯丙胺",
    "甲基苯丙胺定量限",
    "甲基苯丙胺回收率(%)",
]


def bad_row(**changes: Any) -> list[Any]:
    row = {
        "点位编码": "HS-01",
        "采样结束日期": "2026-03-01",
        "进水流量": 50000,
        "流量单位": "m3/d",
        "浓度单位": "ng/L",
        "雨天": "否",
        "采样方式": "流量比例",
        "分析日期": "",
        "备注": "",
        "甲基苯丙胺": 100,
        "苯丙胺": "",
        "甲基苯丙胺定量限": "",
        "甲基苯丙胺回收率(%)": "",
    }
    row.update(changes)
    return [row[name] for name in BAD_HEADER]


# Each bad row with the cell the report must name (the file's own checks first, then the service's).
BAD_ROWS: list[tuple[dict[str, Any], str]] = [
    ({"采样结束日期": "2026-13-01"}, "采样结束日期"),
    ({"进水流量": "abc"}, "进水流量"),
    ({"流量单位": "加仑/天"}, "流量单位"),
    ({"浓度单位": "ppm", "苯丙胺": 7}, "浓度单位"),
    ({"甲基苯丙胺": "ND"}, "甲基苯丙胺"),  # below the LOQ, LOQ column empty
    ({"苯丙胺": "ND"}, "苯丙胺"),  # below the LOQ, no LOQ column at all
    ({"甲基苯丙胺": "<LOD(2)"}, "甲基苯丙胺"),
    ({"雨天": "也许"}, "雨天"),
    ({"采样方式": "随便"}, "采样方式"),
    ({"点位编码": ""}, "点位编码"),
    ({"备注": "长" * 301}, "备注"),
    ({"甲基苯丙胺": "<5", "甲基苯丙胺定量限": 10}, "甲基苯丙胺"),  # two different LOQs
    ({"甲基苯丙胺回收率(%)": "高"}, "甲基苯丙胺回收率(%)"),
    ({"甲基苯丙胺": "12abc"}, "甲基苯丙胺"),
    ({"甲基苯丙胺": ""}, ""),  # no analyte at all in the row
    ({"甲基苯丙胺": "", "甲基苯丙胺回收率(%)": 90}, "甲基苯丙胺回收率(%)"),  # QA without a value
    # Found by the sample service, reported against the same cells:
    ({"点位编码": "NOPE"}, "点位编码"),
    ({"点位编码": "FH-01"}, "点位编码"),  # district B's site: not in district A's capture scope
    ({"采样结束日期": "2099-01-01"}, "采样结束日期"),
    ({"采样结束日期": "2026-03-09", "分析日期": "2026-03-02"}, "分析日期"),
    ({"采样结束日期": "2026-03-10", "甲基苯丙胺": 3, "甲基苯丙胺定量限": 5}, "甲基苯丙胺"),  # under its LOQ
    ({"采样结束日期": "2026-03-11", "甲基苯丙胺": -4}, "甲基苯丙胺"),
    ({"采样结束日期": "2026-03-12", "甲基苯丙胺回收率(%)": 5000}, "甲基苯丙胺回收率(%)"),
    ({}, "采样结束日期"),  # a second sample of HS-01 on 2026-03-01 (the first row has it)
    ({"采样结束日期": "2026-03-13", "进水流量": 0}, "进水流量"),
]


def test_every_bad_cell_is_named_by_row_and_column_and_nothing_is_stored(users, sites):
    rows = [BAD_HEADER, bad_row()] + [bad_row(**changes) for changes, _column in BAD_ROWS]
    audit_before = AuditRecord.objects.count()
    problems = refused(users["district_a"], "bad.csv", csv_bytes(rows))
    expected = {
        f"row {number}.{column}" if column else f"row {number}"
        for number, (_c, column) in enumerate(BAD_ROWS, start=3)
    }
    assert set(problems.fields) == expected
    assert problems.total == len(BAD_ROWS) == len(problems.problems)
    by_key = problems.fields
    assert "ND(5)" in by_key["row 7.甲基苯丙胺"] and "定量限" in by_key["row 8.苯丙胺"]
    assert "no site FH-01 in your capture scope" in by_key["row 20.点位编码"]
    assert "below the LOQ" in by_key["row 23.甲基苯丙胺"]
    assert "two samples" in by_key["row 26.采样结束日期"]
    cells = {problem.key: problem.cell for problem in problems.problems}
    assert cells["row 3.采样结束日期"] == "B3" and cells["row 15.甲基苯丙胺回收率(%)"] == "M15"
    assert problems.code == "invalid_lab_file" and "25 problem" in problems.message
    assert by_key["row 6.浓度单位"] == "unknown concentration unit ppm (use ng/L or µg/L)"  # said once
    assert not WastewaterSample.objects.exists() and not Measurement.objects.exists()
    assert not LabImport.objects.exists() and not AnalyteResult.objects.exists()
    assert AuditRecord.objects.count() == audit_before


def test_a_problem_only_the_service_finds_still_stores_nothing(users, sites):
    header = ["点位编码", "采样结束日期", "进水流量(m3/d)", "甲基苯丙胺"]
    rows = [header] + [["HS-01", f"2026-03-{day:02d}", 50000, 100] for day in range(1, 8)]
    rows.append(["FH-01", "2026-03-01", 20000, 80])  # fine as a cell; outside district A's capture scope
    problems = refused(users["district_a"], "week.csv", csv_bytes(rows))
    assert set(problems.fields) == {"row 9.点位编码"}
    assert not WastewaterSample.objects.exists() and not LabImport.objects.exists()
    # The same file from the city's lab (both districts in its scope) goes in whole.
    assert (
        lab_file_import(actor=None, file_name="week.csv", content=csv_bytes(rows)).lab_import.samples_created
        == 8
    )


@pytest.mark.parametrize(
    ("header", "keys"),
    [
        (["点位编码", "甲基苯丙胺"], {"header.采样结束日期", "header.进水流量"}),
        (["点位编码", "采样结束日期", "进水流量(m3/d)", "甲基苯丙胺", "海洛因X"], {"header.海洛因X"}),
        (["点位编码", "采样结束日期", "进水流量(m3/d)", "甲基苯丙胺", "甲基苯丙胺"], {"header.甲基苯丙胺"}),
        (["点位编码", "采样结束日期", "进水流量(m3/d)", "甲基苯丙胺", "METH"], {"header.METH"}),
        (["点位编码", "采样结束日期", "进水流量", "甲基苯丙胺"], {"header.进水流量"}),
        (
            ["点位编码", "采样结束日期", "进水流量(万m3/d)", "流量单位", "甲基苯丙胺"],
            {"header.进水流量(万m3/d)"},
        ),
        (["点位编码", "采样结束日期", "进水流量(加仑)", "甲基苯丙胺"], {"header.进水流量(加仑)"}),
        (["点位编码", "采样结束日期", "进水流量(m3/d)", "甲基苯丙胺(ppm)"], {"header.甲基苯丙胺(ppm)"}),
        (
            ["点位编码", "采样结束日期", "进水流量(m3/d)", "甲基苯丙胺", "苯丙胺回收率"],
            {"header.苯丙胺回收率"},
        ),
        (["点位编码", "采样结束日期", "进水流量(m3/d)", "浓度"], {"header.浓度", "header.analytes"}),
        (["点位编码", "采样结束日期", "进水流量(m3/d)", "点位编码"], {"header.点位编码", "header.analytes"}),
        # No row names a site column: the first row is read as the header.
        (
            ["站点", "日", "流量"],
            {
                "header.点位编码",
                "header.采样结束日期",
                "header.站点",
                "header.日",
                "header.流量",
                "header.analytes",
            },
        ),
    ],
)
def test_header_problems_name_the_columns(users, sites, header, keys):
    rows = [header, ["HS-01", "2026-03-04", 50000, 100, 100][: len(header)]]
    problems = refused(users["district_a"], "h.csv", csv_bytes(rows))
    assert set(problems.fields) == keys, problems.fields
    assert not WastewaterSample.objects.exists()


def test_the_reported_header_row_is_where_the_header_is(users, sites):
    problems = refused(
        users["district_a"],
        "h.csv",
        csv_bytes([["标题"], ["点位编码", "采样结束日期", "进水流量(m3/d)", "X1"], ["HS-01"]]),
    )
    [problem] = [p for p in problems.problems if p.column == "X1"]
    assert problem.row == 2 and problem.cell == "D2"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("a.csv", b"", "empty"),
        ("a.csv", b"\r\n\r\n", "empty"),
        ("a.xlsx", b"PK\x03\x04 not really a workbook", "workbook"),
        ("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old", ".xlsx"),
        ("a.pdf", b"%PDF-1.4", ".xlsx or .csv"),
        ("a.csv", b"\x80\xff\xfe\xff", "UTF-8"),
    ],
)
def test_files_that_cannot_be_read(users, name, content, fragment):
    with pytest.raises(ServiceError) as caught:
        lab_file_import(actor=users["district_a"], file_name=name, content=content)
    assert fragment in caught.value.message and caught.value.status == 400
    assert caught.value.fields == {"file": caught.value.fields["file"]}


def test_an_empty_workbook_a_header_without_rows_and_the_limits(users, sites, monkeypatch):
    with pytest.raises(ServiceError, match="empty"):
        lab_file_import(actor=users["district_a"], file_name="a.xlsx", content=xlsx_bytes([]))
    header_only = refused(users["district_a"], "a.csv", csv_bytes([WIDE]))
    assert [problem.message for problem in header_only.problems] == ["the file has a header but no data rows"]
    rows = [WIDE] + [["HS-01", f"2026-03-0{day}", 5, "", "", "", 100, "", "", ""] for day in range(1, 5)]
    monkeypatch.setattr(lab_import, "MAX_ROWS", 3)
    with pytest.raises(ServiceError, match="At most 3 rows"):
        lab_file_import(actor=users["district_a"], file_name="a.csv", content=csv_bytes(rows))
    monkeypatch.setattr(lab_import, "MAX_ROWS", 20_000)
    monkeypatch.setattr(lab_import, "MAX_BYTES", 100)
    with pytest.raises(ServiceError, match="10 MB"):
        lab_file_import(actor=users["district_a"], file_name="a.csv", content=csv_bytes(rows))
    assert not WastewaterSample.objects.exists()


def test_the_data_sheet_is_found_among_the_sheets_and_gb18030_is_read(users, sites):
    notes = [["说明"], ["每行一个样品"]]
    data = [WIDE, ["HS-01", "2026-03-04", 5, "", "", "", 100, "", "", ""]]
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["说明：先看这里"])
    sheet = workbook.create_sheet("数据")
    for row in data:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert lab_file_import(
        actor=users["district_a"], file_name="b.xlsx", content=buffer.getvalue()
    ).lab_import
    legacy = csv_bytes([WIDE, ["HS-01", "2026-03-05", 5, "", "", "", 100, "", "", ""]], encoding="gb18030")
    assert lab_file_import(actor=users["district_a"], file_name="旧.csv", content=legacy).lab_import
    assert WastewaterSample.objects.count() == 2
    assert notes  # the notes sheet comes first in the workbook above; the data sheet is the one with a header


# --- Idempotency and corrections ----------------------------------------------------------------------------------


def test_the_same_bytes_twice_change_nothing(users, sites, lab):
    content = csv_bytes([WIDE, ["HS-01", "2026-03-04", 5, "", "", "", 100, "<5", "", ""]])
    first = lab_file_import(actor=lab, file_name="a.csv", content=content)
    stamp = WastewaterSample.objects.get().last_updated
    audit = AuditRecord.objects.count()
    again = lab_file_import(actor=lab, file_name="renamed.csv", content=content)
    assert again.already_imported and again.lab_import.pk == first.lab_import.pk
    assert "by t_lab" in again.message and "a.csv" in again.message
    assert LabImport.objects.count() == 1 and AuditRecord.objects.count() == audit
    assert WastewaterSample.objects.get().last_updated == stamp
    # District A may not see the lab's import record (the city's): told that it exists, not by whom.
    hidden = lab_file_import(actor=users["district_a"], file_name="a.csv", content=content)
    assert hidden.already_imported and hidden.lab_import is None and "t_lab" not in hidden.message
    # The operator sees everything.
    assert (
        lab_file_import(actor=None, file_name="a.csv", content=content).lab_import.pk == first.lab_import.pk
    )


def test_another_file_with_the_same_values_leaves_the_samples_unchanged_and_a_correction_updates(
    users, sites
):
    actor = users["district_a"]
    rows = [
        [
            "点位编码",
            "采样结束日期",
            "进水流量(万m3/d)",
            "采样方式",
            "备注",
            "甲基苯丙胺",
            "苯丙胺",
            "氯胺酮",
        ],
        ["HS-01", "2026-03-04", 5, "时间比例", "首次", 100, "<5", 12.34567],
        ["HS-01", "2026-03-05", 5, "时间比例", "", 110, "ND(5)", ""],
    ]
    first = lab_file_import(actor=actor, file_name="a.csv", content=csv_bytes(rows))
    assert first.lab_import.samples_created == 2
    # 12.34567 is kept to the stored precision (4 decimals), so an equal file compares equal.
    assert measurement("HS-01", "2026-03-04", "KET").ng_per_l == Decimal("12.3457")
    stamps = dict(WastewaterSample.objects.values_list("pk", "last_updated"))
    sample_records = AuditRecord.objects.filter(object_type="wastewater.wastewatersample").count()
    # The same values in an Excel file, with other columns and without 采样方式/备注: nothing changes.
    same = xlsx_bytes(
        [
            ["site", "date", "flow", "flow_unit", "METH", "AMP", "KET"],
            ["HS-01", dt.date(2026, 3, 4), 50000, "m3/d", 100.0, "<LOQ(5)", 12.34567],
            ["HS-01", dt.date(2026, 3, 5), 50000, "m3/d", 110, "<5", None],
        ]
    )
    second = lab_file_import(actor=actor, file_name="b.xlsx", content=same)
    assert (second.lab_import.samples_created, second.lab_import.samples_updated) == (0, 0)
    assert second.lab_import.samples_unchanged == 2
    assert dict(WastewaterSample.objects.values_list("pk", "last_updated")) == stamps
    assert AuditRecord.objects.filter(object_type="wastewater.wastewatersample").count() == sample_records
    assert set(WastewaterSample.objects.values_list("sampling_mode", flat=True)) == {"time"}
    assert WastewaterSample.objects.get(end_date=dt.date(2026, 3, 4)).note == "首次"
    # A corrected value: that sample is updated, the old value stays in the audit record, the result follows.
    corrected = [rows[0], ["HS-01", "2026-03-04", 5, "时间比例", "首次", 120, "<5", 12.34567]]
    third = lab_file_import(actor=actor, file_name="c.csv", content=csv_bytes(corrected))
    assert (third.lab_import.samples_updated, third.lab_import.samples_unchanged) == (1, 0)
    assert measurement("HS-01", "2026-03-04", "METH").ng_per_l == Decimal("120")
    record = (
        AuditRecord.objects.filter(object_type="wastewater.wastewatersample").order_by("-sequence").first()
    )
    assert record.detail["changes"][0]["before"]["METH"][0] == "100.0000"
    assert record.detail["lab_import"] == third.lab_import.pk
    result = AnalyteResult.objects.get(end_date=dt.date(2026, 3, 4), analyte__code="METH")
    assert result.per_1000 == pytest.approx(30.0)
    assert WastewaterSample.objects.get(end_date=dt.date(2026, 3, 4)).lab_import == third.lab_import
    # The other day was not in the corrected file: kept as it was, with its first import.
    assert WastewaterSample.objects.get(end_date=dt.date(2026, 3, 5)).lab_import == first.lab_import


# --- The CLI ------------------------------------------------------------------------------------------------------


def test_cli_import_prints_the_counts_and_the_report(users, sites, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([WIDE, ["HS-01", "2026-03-04", 5, "", "", "", 100, "<5", "", ""]]))
    assert main(["wastewater", "import", str(good)]) == 0
    out = capsys.readouterr().out
    assert "1 rows of good.csv: 1 samples created, 0 changed, 0 unchanged" in out and "sites: HS-01" in out
    record = AuditRecord.objects.filter(object_type="wastewater.labimport").get()
    assert record.actor_username == "cli"
    found = LabImport.objects.get()
    assert found.imported_by is None and found.org_unit.code == "330203"  # the unit holding every site
    assert main(["wastewater", "import", str(good)]) == 0
    assert "imported already" in capsys.readouterr().out and LabImport.objects.count() == 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_bytes(
            [
                WIDE,
                ["HS-01", "2026-13-04", 5, "", "", "", 100, "", "", ""],
                ["NOPE", "2026-03-05", 5, "", "", "", 1, "", "", ""],
            ]
        )
    )
    assert main(["wastewater", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "row 2, 采样结束日期 (B2): not a date: 2026-13-04" in err
    assert "row 3, 点位编码 (A3): no site NOPE in your capture scope" in err
    assert "2 problem(s); nothing was imported" in err
    assert main(["wastewater", "import", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 nope")
    assert main(["wastewater", "import", str(broken)]) == 2
    assert "cannot be read as an Excel workbook" in capsys.readouterr().err
    assert WastewaterSample.objects.count() == 1
