"""Lab imports through the API and the pages: the report, the counts, who may import and see imports, query
counts, and the published template read back through the importer."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jindu.core.testing.helpers import (
    api_client,
    assert_api_matrix,
    assert_error_shape,
    assert_max_queries,
    assert_ui_matrix,
    ui_client,
)
from jindu.wastewater.lab_import import TEMPLATE_EXAMPLE_VALUES, lab_file_import, parse_lab_file
from jindu.wastewater.models import Analyte, LabImport, Measurement, WastewaterSample
from jindu.wastewater.tests.test_lab_import import WIDE, csv_bytes

pytestmark = pytest.mark.django_db
URL = "/api/v1/wastewater/imports"
PAGE = "/wastewater/import/"
GOOD = csv_bytes([WIDE, ["HS-01", "2026-03-04", 5, "", "宁波大学", "", 100, "<5", "", ""]])
BAD = csv_bytes(
    [
        WIDE,
        ["HS-01", "2026-03-04", 5, "", "", "", 100, "", "", ""],
        ["HS-01", "2026-13-05", 5, "", "", "", "ND", "", "", ""],
        ["FH-01", "2026-03-06", 5, "", "", "", 100, "", "", ""],
    ]
)


def post(user, name: str, content: bytes):
    return api_client(user).post(URL, {"file": SimpleUploadedFile(name, content)})


def test_an_import_through_the_api(users, sites):
    response = post(users["district_a"], "海曙-三月.csv", GOOD)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["already_imported"] is False and body["sites"] == ["HS-01"]
    found = body["lab_import"]
    assert (
        found["rows"],
        found["samples_created"],
        found["samples_updated"],
        found["samples_unchanged"],
    ) == (
        1,
        1,
        0,
        0,
    )
    assert found["file_name"] == "海曙-三月.csv" and found["imported_by"] == "t_district_a"
    assert found["org_unit"] == "330203" and found["sites"] == ["HS-01"] and len(found["digest"]) == 64
    assert Measurement.objects.get(analyte__code="AMP").loq == Decimal("5")
    again = post(users["district_a"], "again.csv", GOOD)
    assert again.status_code == 200 and again.json()["already_imported"] is True
    assert again.json()["lab_import"]["id"] == found["id"] and LabImport.objects.count() == 1


def test_a_refused_file_answers_400_with_the_report_and_stores_nothing(users, sites):
    body = assert_error_shape(post(users["district_a"], "bad.csv", BAD), 400, "invalid_lab_file")["error"]
    assert set(body["fields"]) == {"row 3.采样结束日期", "row 3.甲基苯丙胺", "row 4.点位编码"}
    problems = {problem["cell"]: problem for problem in body["problems"]}
    assert set(problems) == {"B3", "G3", "A4"} and body["total"] == 3
    assert problems["B3"]["row"] == 3 and problems["B3"]["column"] == "采样结束日期"
    assert problems["A4"]["message"] == body["fields"]["row 4.点位编码"]
    assert not WastewaterSample.objects.exists() and not LabImport.objects.exists()
    unreadable = assert_error_shape(
        post(users["district_a"], "a.xlsx", b"PK\x03\x04 no"), 400, "invalid_lab_file"
    )
    assert set(unreadable["error"]["fields"]) == {"file"}


def test_who_may_import(users, sites, lab):
    assert_error_shape(post(None, "a.csv", GOOD), 401, "not_authenticated")
    for user in (users["police_a"], users["enterprise"], users["sysadmin"], users["street_a"]):
        assert_error_shape(post(user, "a.csv", GOOD), 403)
    # District B may import, but not samples of district A's site.
    refused = assert_error_shape(post(users["district_b"], "a.csv", GOOD), 400)
    assert set(refused["error"]["fields"]) == {"row 2.点位编码"}
    assert post(lab, "a.csv", GOOD).status_code == 201
    assert not LabImport.objects.exclude(imported_by=lab).exists()


def test_the_import_list_and_detail_are_scoped(users, sites):
    found = lab_file_import(actor=users["district_a"], file_name="海曙-三月.csv", content=GOOD).lab_import
    assert_api_matrix(
        list_url=URL,
        detail_url=f"{URL}/{found.pk}",
        marker="海曙-三月.csv",
        allowed=[users["district_a"], users["city"], users["police_a"]],
        denied=[users["district_b"], users["street_a"], users["sysadmin"], users["enterprise"]],
    )
    detail = api_client(users["city"]).get(f"{URL}/{found.pk}").json()
    assert detail["sites"] == ["HS-01"] and detail["samples_created"] == 1


def test_the_import_list_has_a_bounded_query_count(users, sites):
    for day in range(1, 9):
        content = csv_bytes([WIDE, ["HS-01", f"2026-03-{day:02d}", 5, "", "", "", 100, "", "", ""]])
        lab_file_import(actor=users["district_a"], file_name=f"{day}.csv", content=content)
    client = api_client(users["district_a"])
    client.get(URL)
    with assert_max_queries(8):
        response = client.get(URL)
    assert response.json()["count"] == 8 and response.json()["items"][0]["file_name"] == "8.csv"


# --- The template ---------------------------------------------------------------------------------------------------


def _template_entries(name: str, content: bytes):
    parsed = parse_lab_file(name, content)
    assert parsed.problems == [] and len(parsed.entries) == 1
    return parsed.entries[0]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_the_template_downloads_and_reads_back_through_the_importer(users, sites, kind):
    response = api_client(users["district_a"]).get(f"/api/v1/wastewater/import-template.{kind}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    content = response.content
    panel = list(Analyte.objects.filter(standard_panel=True).order_by("sort_order"))
    entry = _template_entries(f"template.{kind}", content)
    assert entry.site == "EXAMPLE-01" and entry.flow_m3_per_day == Decimal("52000")
    assert entry.end_date == timezone.localdate() - dt.timedelta(days=1)
    given = {code for code, value in TEMPLATE_EXAMPLE_VALUES.items() if value is not None}
    assert {measurement.analyte for measurement in entry.measurements} == given
    assert given < {analyte.code for analyte in panel}  # the template lists every standard-panel analyte
    if kind == "xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(content))
        assert workbook.sheetnames == ["化验结果", "说明"]
        header = [cell.value for cell in workbook["化验结果"][1]]
        assert [analyte.name_zh for analyte in panel] == header[-len(panel) :]
        notes = "\n".join(str(row[0].value or "") for row in workbook["说明"].iter_rows())
        assert "<LOQ(5)" in notes and "ND(5)" in notes and "万m3/d" in notes
        workbook["化验结果"]["A2"] = "HS-01"
        buffer = io.BytesIO()
        workbook.save(buffer)
        content = buffer.getvalue()
    else:
        assert content.startswith("\ufeff".encode())
        content = content.replace(b"EXAMPLE-01", b"HS-01")
    # The example row of the template, on a real site, imports as it reads.
    created = post(users["district_a"], f"filled.{kind}", content)
    assert created.status_code == 201, created.content
    sample = WastewaterSample.objects.get()
    stored = {m.analyte.code: m for m in Measurement.objects.filter(sample=sample).select_related("analyte")}
    assert set(stored) == given
    assert stored["METH"].ng_per_l == Decimal("85.3") and not stored["METH"].below_loq
    assert (stored["AMP"].below_loq, stored["AMP"].loq) == (True, Decimal("5"))
    assert (stored["MDMA"].below_loq, stored["MDMA"].loq) == (True, Decimal("2"))
    assert (stored["COC"].below_loq, stored["COC"].loq) == (True, Decimal("1"))
    assert sample.method == "JD/YJY02.10-2021" and sample.sampling_mode == "flow" and not sample.rain


def test_who_may_download_the_template(users):
    for kind in ("xlsx", "csv"):
        assert_error_shape(api_client(None).get(f"/api/v1/wastewater/import-template.{kind}"), 401)
        assert_error_shape(
            api_client(users["police_a"]).get(f"/api/v1/wastewater/import-template.{kind}"), 403
        )
        page = ui_client(users["district_a"]).get(f"/wastewater/import/template.{kind}")
        assert page.status_code == 200 and page["Content-Disposition"].startswith("attachment")
        assert ui_client(users["police_a"]).get(f"/wastewater/import/template.{kind}").status_code == 403
    assert ui_client(users["district_a"]).get("/wastewater/import/template.pdf").status_code == 404


# --- The pages ------------------------------------------------------------------------------------------------------


def upload(client, name: str, content: bytes):
    return client.post(PAGE, {"file": SimpleUploadedFile(name, content)})


def test_the_import_page_shows_the_report_then_the_counts(users, sites):
    client = ui_client(users["district_a"])
    page = client.get(PAGE)
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="import"' in html
    assert (
        'href="/wastewater/import/template.xlsx"' in html and 'href="/wastewater/import/template.csv"' in html
    )
    assert 'data-testid="format-notes"' in html
    refused = upload(client, "bad.csv", BAD)
    html = refused.content.decode()
    assert refused.status_code == 200 and 'data-testid="problems"' in html
    for key in ("row 3.采样结束日期", "row 3.甲基苯丙胺", "row 4.点位编码"):
        assert f'data-key="{key}"' in html
    assert html.count("<tr data-key=") == 3
    assert not WastewaterSample.objects.exists()
    done = upload(client, "海曙-三月.csv", GOOD)
    found = LabImport.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/wastewater/imports/{found.pk}/"
    detail = client.get(done["Location"]).content.decode()
    assert (
        'data-testid="created">1<' in detail and "HS-01" in detail and detail.count("<tr data-sample=") == 1
    )
    assert 'href="/wastewater/sites/HS-01/"' in detail  # the imported site, linked to its page
    again = upload(client, "again.csv", GOOD)
    assert again.status_code == 302 and again["Location"] == f"/wastewater/imports/{found.pk}/"
    assert LabImport.objects.count() == 1
    listed = client.get(PAGE).content.decode()
    assert f'data-import="{found.pk}"' in listed
    unreadable = upload(client, "a.xlsx", b"PK\x03\x04 no")
    assert unreadable.status_code == 200 and 'data-testid="file-error"' in unreadable.content.decode()


def test_import_pages_matrix(users, sites):
    found = lab_file_import(actor=users["district_a"], file_name="海曙-三月.csv", content=GOOD).lab_import
    assert_ui_matrix(
        list_url=PAGE,
        detail_url=f"/wastewater/imports/{found.pk}/",
        marker="海曙-三月.csv",
        allowed=[users["district_a"], users["city"]],
        denied=[users["district_b"]],
    )
    # The police read imports in their search scope but do not import; administrators do neither.
    assert ui_client(users["police_a"]).get(PAGE).status_code == 403
    assert ui_client(users["police_a"]).get(f"/wastewater/imports/{found.pk}/").status_code == 200
    assert ui_client(users["sysadmin"]).get(PAGE).status_code == 403
    assert ui_client(users["sysadmin"]).get(f"/wastewater/imports/{found.pk}/").status_code == 404
    # The menu links the import page for those who may import.
    assert 'href="/wastewater/import/"' in ui_client(users["district_a"]).get("/").content.decode()
    assert 'href="/wastewater/import/"' not in ui_client(users["police_a"]).get("/").content.decode()


def test_import_pages_have_bounded_query_counts(users, sites):
    for day in range(1, 13):
        content = csv_bytes([WIDE, ["HS-01", f"2026-03-{day:02d}", 5, "", "", "", 100, "", "", ""]])
        lab_file_import(actor=users["district_a"], file_name=f"{day}.csv", content=content)
    client = ui_client(users["district_a"])
    client.get(PAGE)
    with assert_max_queries(8):
        page = client.get(PAGE)
    assert page.content.decode().count("<tr data-import=") == 12
    found = LabImport.objects.order_by("pk").first()
    client.get(f"/wastewater/imports/{found.pk}/")
    with assert_max_queries(12):
        assert client.get(f"/wastewater/imports/{found.pk}/").status_code == 200
