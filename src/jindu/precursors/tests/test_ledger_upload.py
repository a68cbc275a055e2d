"""Ledger sheets (台账, CSV or Excel) captured as EPCIS events, whole or not at all."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jindu.core.testing.helpers import api_client, assert_error_shape, ui_client
from jindu.precursors.conftest import FIRM_B
from jindu.precursors.models import EpcisCapture, EpcisEvent, EpcisQuantity

pytestmark = pytest.mark.django_db
URL = "/api/v1/precursors/ledger/upload"
HEADER = "日期,类型,CAS号,品名,批号,数量,单位,浓度,对方统一社会信用代码,单号\n"
ROWS = (
    f"2026-03-01,入库,67-64-1,,A1,1,吨,,{FIRM_B},PO-1\n"
    "2026-03-05 10:30,出库,67-64-1,,A1,300,kg,,91330000MA2X00000X,SO-9\n"
    "2026/3/6,使用,,盐酸,H7,2,吨,31%,,\n"
    "2026-03-31,盘点,67-64-1,,A1,700,公斤,,,\n"
)


def upload(client, name: str, content: bytes):
    return client.post(URL, {"file": SimpleUploadedFile(name, content)})


def test_a_csv_ledger_becomes_events_with_kg_pure(firms):
    response = upload(api_client(firms["user_a"]), "台账.csv", ("\ufeff" + HEADER + ROWS).encode("utf-8"))
    assert response.status_code == 202, response.content
    assert response.json()["event_count"] == 4
    capture = EpcisCapture.objects.get()
    assert capture.source == "ledger_upload"
    terms = {
        (row.balance_term, row.substance.code): row.kg_pure
        for row in EpcisQuantity.objects.select_related("substance")
    }
    assert terms[("receipt", "acetone")] == Decimal("1000")
    assert terms[("shipment", "acetone")] == Decimal("300")
    # 2 t of 31 % hydrochloric acid used: 620 kg of pure HCl.
    assert terms[("consumption", "hydrochloric-acid")] == Decimal("620")
    assert terms[("stocktake", "acetone")] == Decimal("700")
    shipped = EpcisEvent.objects.get(biz_step="shipping")
    assert shipped.event_time == dt.datetime(2026, 3, 5, 2, 30, tzinfo=dt.UTC)  # 10:30 in China
    assert [w["code"] for w in shipped.warnings] == ["unknown_party"]
    assert EpcisEvent.objects.get(biz_step="receiving").warnings == []  # firm B is registered
    # The same sheet again records nothing twice.
    again = upload(api_client(firms["user_a"]), "台账.csv", ("\ufeff" + HEADER + ROWS).encode("utf-8"))
    assert again.json()["event_count"] == 0 and again.json()["duplicate_count"] == 4


def test_an_excel_ledger_and_a_gb18030_csv(firms):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["日期", "类型", "CAS号", "数量", "单位"])
    sheet.append([dt.datetime(2026, 4, 1, 9, 0), "生产", "108-88-3", 2500, "KGM"])
    sheet.append([dt.date(2026, 4, 2), "损耗", "108-88-3", 1.5, "kg"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(api_client(firms["user_a"]), "ledger.xlsx", buffer.getvalue())
    assert response.status_code == 202, response.content
    assert set(EpcisQuantity.objects.values_list("balance_term", flat=True)) == {"production", "loss"}
    legacy = "日期,类型,品名,数量,单位\n2026-04-03,入库,甲苯,10,kg\n".encode("gb18030")
    assert upload(api_client(firms["user_a"]), "旧台账.csv", legacy).status_code == 202
    assert EpcisQuantity.objects.filter(balance_term="receipt", kg_pure=Decimal("10")).exists()


def test_a_bad_sheet_names_every_bad_cell_and_stores_nothing(firms):
    bad = HEADER + (
        "2026-13-01,入库,67-64-1,,A1,1,吨,,,\n"  # no 13th month
        "2026-03-02,借出,67-64-1,,A1,1,吨,,,\n"  # not a kind
        "2026-03-03,入库,67-64-2,,A1,1,吨,,,\n"  # wrong CAS check digit
        "2026-03-04,入库,67-64-1,,A1,-5,吨,,,\n"  # negative quantity
        "2026-03-05,入库,67-64-1,,A1,5,桶,,,\n"  # a barrel is not a unit of mass or volume
        "2026-03-06,使用,,盐酸,H7,2,吨,310%,,\n"  # concentration over 100 %
        "2026-03-07,入库,67-64-1,,A1,5,kg,,,\n"  # fine, but not stored either
    )
    response = upload(api_client(firms["user_a"]), "台账.csv", bad.encode("utf-8"))
    fields = assert_error_shape(response, 400, "invalid_ledger")["error"]["fields"]
    assert set(fields) == {
        "row 2.日期",
        "row 3.类型",
        "row 4.cas号",
        "row 5.数量",
        "row 6.单位",
        "row 7.浓度",
    }
    assert not EpcisEvent.objects.exists() and not EpcisCapture.objects.exists()
    no_columns = upload(api_client(firms["user_a"]), "台账.csv", "日期,数量\n2026-03-01,1\n".encode())
    assert set(assert_error_shape(no_columns, 400)["error"]["fields"]) == {
        "header.类型",
        "header.单位",
        "header.cas号",
    }
    assert_error_shape(upload(api_client(firms["user_a"]), "ledger.pdf", b"%PDF-1.4"), 400)
    assert_error_shape(upload(api_client(firms["user_a"]), "ledger.xlsx", b"PK\x03\x04 broken"), 400)


def test_only_a_firms_own_users_upload(firms, users):
    sheet = (HEADER + ROWS).encode("utf-8")
    assert_error_shape(upload(api_client(None), "a.csv", sheet), 401)
    assert_error_shape(upload(api_client(users["district_a"]), "a.csv", sheet), 403)
    assert not EpcisEvent.objects.exists()


def test_the_upload_page(firms, users):
    client = ui_client(firms["user_a"])
    page = client.get("/precursors/ledger/upload/")
    assert page.status_code == 200 and 'data-testid="upload"' in page.content.decode()
    bad = client.post(
        "/precursors/ledger/upload/",
        {"file": SimpleUploadedFile("a.csv", (HEADER + "x,入库,67-64-1,,,1,kg,,,\n").encode())},
    )
    assert bad.status_code == 200 and "row 2.日期" in bad.content.decode()
    good = client.post(
        "/precursors/ledger/upload/", {"file": SimpleUploadedFile("a.csv", (HEADER + ROWS).encode())}
    )
    assert good.status_code == 302 and good["Location"] == f"/precursors/enterprises/{firms['a'].pk}/ledger/"
    ledger = client.get(good["Location"]).content.decode()
    assert ledger.count("<tr data-event=") == 4 and 'data-testid="upload-link"' in ledger
    assert ui_client(users["district_a"]).get("/precursors/ledger/upload/").status_code == 403
    assert (
        'data-testid="upload-link"'
        not in ui_client(users["district_a"]).get(good["Location"]).content.decode()
    )
