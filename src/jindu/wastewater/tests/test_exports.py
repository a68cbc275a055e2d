"""The Excel export and the quarterly report PDF: content, purpose, watermark, formula-safe cells, EXPORT audit
records, and who may download them."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from jindu.core.models import AuditAction, AuditRecord
from jindu.core.testing.helpers import api_client, assert_error_shape
from jindu.people.tests.test_documents import assert_pdf
from jindu.wastewater.models import AnalyteResult, WastewaterAnomaly
from jindu.wastewater.services import site_create
from jindu.wastewater.tests.test_aggregates import days, store
from jindu.wastewater.tests.test_outputs_api import _full_panel, per_1000

pytestmark = pytest.mark.django_db

API = "/api/v1/wastewater"
EXPORT = f"{API}/export.xlsx?site=HS-01&from=2026-03-01&to=2026-03-31&purpose=季度分析"


def workbook(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response["Content-Disposition"].startswith(
        'attachment; filename="wastewater-HS-01-20260301-20260331'
    )
    return load_workbook(io.BytesIO(response.content))


def test_the_excel_export_has_daily_results_and_period_aggregates(users, sites):
    store("HS-01", days(dt.date(2026, 3, 2), [100, 200, "<LOQ", "QA"]))
    store("HS-01", {dt.date(2025, 3, 10): 100})
    # Headers and labels in English (the zh-Hans catalogue translates them).
    book = workbook(api_client(users["district_a"]).get(EXPORT, HTTP_ACCEPT_LANGUAGE="en"))
    daily, aggregates = book.worksheets
    rows = list(daily.values)
    assert rows[0][0].startswith("# 导出人 t_district_a") and "用途 季度分析" in rows[0][0]
    assert "仅限工作使用" in rows[0][0]
    header = rows[1]
    assert len(rows) == 2 + 4  # four results of March 2026 (not the 2025 one)
    by_day = {row[0].date(): dict(zip(header, row, strict=True)) for row in rows[2:]}
    first = by_day[dt.date(2026, 3, 2)]
    assert first["Site code"] == "HS-01" and first["Analyte"] == "METH"
    assert first["Load per 1000 (mg/day/1000)"] == pytest.approx(25.0)
    assert first["Load per 1000 p2.5"] < 25.0 < first["Load per 1000 p97.5"]
    assert first["Consumption (mg/day/1000)"] == pytest.approx(25.0 / 0.43)
    assert first["Correction-factor set"] == "China-Du2020:1"
    below = by_day[dt.date(2026, 3, 4)]
    assert below["Below LOQ"] == "yes" and below["Load per 1000 (mg/day/1000)"] is None
    assert below["LOQ as load per 1000 (upper bound, not a value)"] == pytest.approx(1.25)
    blocked = by_day[dt.date(2026, 3, 5)]
    assert "recovery 40" in blocked["Reason"] and blocked["Load (mg/day)"] is None
    periods = list(aggregates.values)
    assert periods[0][0] == rows[0][0]
    [march] = [dict(zip(periods[1], row, strict=True)) for row in periods[2:]]
    assert march["Period"] == "2026-03" and march["Analyte"] == "METH"
    assert march["Load per 1000 (mg/day/1000)"] == pytest.approx(37.5)
    assert (march["Quantified days"], march["Days below LOQ"], march["Blocked days"]) == (2, 1, 1)
    assert march["Bound: below-LOQ days at 0"] == pytest.approx(25.0)
    assert march["Year-on-year change (%)"] == pytest.approx(50.0)
    assert march["Year on year"] == "increase"
    record = AuditRecord.objects.filter(action=AuditAction.EXPORT).get()
    assert record.actor_username == "t_district_a" and record.object_type == "wastewater.analyteresult"
    assert record.detail["purpose"] == "季度分析" and record.detail["rows"] == 4
    assert (
        record.detail["filters"]["site"] == "HS-01" and record.detail["filters"]["cf_set"] == "China-Du2020:1"
    )


def test_an_org_unit_export_holds_every_site_serving_it(users, sites):
    store("HS-01", days(dt.date(2026, 3, 2), [100]))
    store("FH-01", days(dt.date(2026, 3, 2), [40]))
    response = api_client(users["city"]).get(
        f"{API}/export.xlsx?org_unit=330200&from=2026-03-01&to=2026-03-31&analyte=METH&purpose=全市通报"
    )
    assert response.status_code == 200
    daily, aggregates = load_workbook(io.BytesIO(response.content)).worksheets
    assert sorted(row[1] for row in list(daily.values)[2:]) == ["FH-01", "HS-01"]
    [march] = list(aggregates.values)[2:]
    assert march[6] == pytest.approx(1000 * (5000 + 2000) / 280_000)


def test_text_cells_cannot_run_as_formulas(users, sites):
    site_create(
        actor=None, code="X-1", name='=HYPERLINK("http://evil")', org_unit_code="330203", population=1000
    )
    store("X-1", days(dt.date(2026, 3, 2), [100]))
    response = api_client(users["district_a"]).get(
        f"{API}/export.xlsx?site=X-1&from=2026-03-01&to=2026-03-31&purpose=季度分析"
    )
    daily = load_workbook(io.BytesIO(response.content)).worksheets[0]
    cell = list(daily.values)[2][2]
    assert cell == '\'=HYPERLINK("http://evil")'
    assert all(c.data_type != "f" for row in daily.iter_rows() for c in row)


def test_the_export_needs_a_purpose_and_the_scope(users, sites):
    store("HS-01", days(dt.date(2026, 3, 2), [100]))
    without = EXPORT.replace("&purpose=季度分析", "")
    body = assert_error_shape(api_client(users["district_a"]).get(without), 400, "purpose_required")
    assert "purpose" in body["error"]["fields"]
    assert_error_shape(api_client(users["district_a"]).get(without + "&purpose=ab"), 400, "purpose_required")
    assert_error_shape(api_client(users["district_b"]).get(EXPORT), 404, "not_found")
    assert_error_shape(api_client(users["enterprise"]).get(EXPORT), 404, "not_found")
    assert_error_shape(api_client(None).get(EXPORT), 401)
    assert_error_shape(api_client(users["district_a"]).get(EXPORT + "&period=decade"), 400)
    assert not AuditRecord.objects.filter(action=AuditAction.EXPORT).exists()
    assert api_client(users["police_a"]).get(EXPORT).status_code == 200


# --- Quarterly report ------------------------------------------------------------------------------------------------

REPORT = f"{API}/reports/quarterly.pdf?org_unit=330200&quarter=2026Q1&purpose=季度通报"


def test_the_quarterly_report_holds_the_figures(users, sites):
    values = {"METH": 100, "KET": 40, "MOR": 30, "MDMA": 5, "BE": 10}
    _full_panel("HS-01", dt.date(2026, 1, 5), 3, values)
    store("FH-01", days(dt.date(2026, 1, 5), [320, 320, "<LOQ"]))
    store("FH-01", {dt.date(2025, 2, 1): 320})
    result = AnalyteResult.objects.filter(site=sites["a"]).first()
    WastewaterAnomaly.objects.create(
        site=sites["a"],
        org_unit=sites["a"].org_unit,
        rule="robust_z",
        level="alert",
        day=dt.date(2026, 1, 6),
        message="spike",
        dedup_key="t-1",
        analyte_id=result.analyte_id,
    )
    response = api_client(users["city"]).get(REPORT)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="wastewater-report-330200-2026Q1.pdf"'
    text = assert_pdf(response.content)
    assert "宁波市污水毒情监测季度报告（2026年第1季度）" in text
    assert "China-Du2020:1" in text and "Shipped defaults" in text  # the factor set and settings version
    # The city's METH: (HS-01 5,000 mg/day + FH-01 16,000 mg/day) over 280,000 people.
    city_meth = 1000 * (5000 + 16_000) / 280_000
    assert f"{city_meth:,.2f}" in text
    assert f"{city_meth / 0.43:,.2f}" in text  # consumption
    # The ranking: district B (200.00) before district A (25.00); FH-01's below-LOQ day is counted.
    assert text.index("奉化区（330213）") < text.index("海曙区（330203）")
    assert f"{per_1000(320, 80_000):,.2f}" in text and f"{per_1000(100):,.2f}" in text
    assert "本地测算指数" in text and "本办自定" in text
    assert "异常标记共 1 条" in text and "预警 1 条" in text
    assert "周二、周三、周四" in text and "周五、周六、周日、周一" in text
    record = AuditRecord.objects.filter(action=AuditAction.EXPORT).get()
    assert record.object_type == "wastewater.report" and record.detail["purpose"] == "季度通报"
    assert record.detail["filters"] == {
        "org_unit": "330200",
        "quarter": "2026Q1",
        "analyte": "METH",
        "cf_set": "China-Du2020:1",
    }
    assert set(record.detail["analytes"]) == {"METH", "MDMA", "BE", "MOR", "KET"}


def test_the_report_needs_a_purpose_a_quarter_and_the_scope(users, sites):
    client = api_client(users["city"])
    assert_error_shape(client.get(REPORT.replace("&purpose=季度通报", "")), 400, "purpose_required")
    body = assert_error_shape(client.get(REPORT.replace("2026Q1", "2026-03")), 400)
    assert "quarter" in body["error"]["fields"]
    assert_error_shape(api_client(users["district_a"]).get(REPORT), 404, "not_found")
    assert_error_shape(api_client(users["enterprise"]).get(REPORT), 403)
    assert_error_shape(api_client(None).get(REPORT), 401)
    # An empty quarter still gives a report that says so.
    text = assert_pdf(api_client(users["district_a"]).get(REPORT.replace("330200", "330203")).content)
    assert "本季度无监测数据" in text
