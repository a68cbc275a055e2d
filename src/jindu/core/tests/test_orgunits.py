"""The org-unit tree: code rules, the closure table, CSV import (all or nothing)."""

from __future__ import annotations

import pytest
from django.utils import translation

from jindu.core.errors import ServiceError
from jindu.core.models import AuditRecord, OrgUnit, OrgUnitClosure
from jindu.core.orgunits import orgunit_create, orgunits_import, parse_orgunit_csv
from jindu.core.testing.helpers import ui_client

pytestmark = pytest.mark.django_db


def closure_of(code: str) -> set[tuple[str, int]]:
    return set(OrgUnitClosure.objects.filter(descendant__code=code).values_list("ancestor__code", "distance"))


def test_closure_rows_cover_every_ancestor(tree):
    assert closure_of("330203001001001") == {
        ("330203001001001", 0),
        ("330203001001", 1),
        ("330203001", 2),
        ("330203", 3),
        ("330200", 4),
        ("330000", 5),
    }
    district = tree["district_a"]
    descendants = set(
        OrgUnitClosure.objects.filter(ancestor=district).values_list("descendant__code", flat=True)
    )
    assert descendants == {"330203", "330203001", "330203002", "330203001001", "330203001001001"}
    assert tree["grid_a"].path == "330000/330200/330203/330203001/330203001001/330203001001001/"
    assert tree["grid_a"].depth == 5


@pytest.mark.parametrize(
    ("code", "level", "parent", "problem"),
    [
        ("3302031", "street", "330203", "nine digits"),
        ("330213005", "street", "330203", "does not start with"),
        ("330203001002", "street", "330203", "nine digits"),
        ("330203005", "community", "330203", "cannot sit under"),
        ("330203001", "street", "330203", "already exists"),
        ("330299", "district", "330203", "cannot sit"),
        ("33020300100100A", "grid", "330203001001", None),
    ],
)
def test_code_rules(tree, code, level, parent, problem):
    if problem is None:
        orgunit_create(actor=None, code=code, name="网格", level=level, parent_code=parent)
        assert OrgUnit.objects.get(code=code).parent.code == parent
        return
    with translation.override("en"), pytest.raises(ServiceError) as refused:
        orgunit_create(actor=None, code=code, name="测试", level=level, parent_code=parent)
    assert problem in refused.value.message


def test_grids_nest(tree):
    orgunit_create(
        actor=None, code="33020300100100101", name="微网格", level="grid", parent_code="330203001001001"
    )
    assert closure_of("33020300100100101") >= {("330203001001", 2), ("330203001001001", 1)}


CSV_OK = """code,name,level,parent_code
330203003001,新社区,community,330203003
330203003,新街道,street,330203
330203003001001,新网格,grid,330203003001
330203001,南门街道（更名）,street,330203
"""


def test_csv_import_creates_in_any_order_and_renames(tree):
    rows, problems = parse_orgunit_csv(CSV_OK)
    assert problems == []
    report = orgunits_import(actor=None, rows=rows)
    assert report.errors == []
    assert (report.created, report.updated) == (3, 1)
    assert OrgUnit.objects.get(code="330203001").name == "南门街道（更名）"
    assert closure_of("330203003001001") >= {("330203", 3), ("330000", 5)}
    assert AuditRecord.objects.filter(object_type="core.orgunit", detail__created=3).exists()


def test_csv_import_is_all_or_nothing(tree):
    text = CSV_OK + "330203004,,street,330203\n330203005,孤儿,community,999999999\n"
    rows, _ = parse_orgunit_csv(text)
    before = OrgUnit.objects.count()
    with translation.override("en"):
        report = orgunits_import(actor=None, rows=rows)
    assert report.created == 0
    assert any("line 6" in e and "name is empty" in e for e in report.errors)
    assert any("line 7" in e and "999999999" in e for e in report.errors)
    assert OrgUnit.objects.count() == before
    assert OrgUnit.objects.get(code="330203001").name == "南门街道"


def test_csv_header_is_checked():
    rows, problems = parse_orgunit_csv("code,name\n1,2\n")
    assert rows == [] and "parent_code" in problems[0]


def test_csv_import_refuses_moves_and_duplicates(tree):
    rows, _ = parse_orgunit_csv(
        "code,name,level,parent_code\n330203001,南门,street,330213\n330203001,x,street,330203\n"
    )
    with translation.override("en"):
        report = orgunits_import(actor=None, rows=rows)
    assert any("appears twice" in e for e in report.errors)


def test_import_by_a_user_is_limited_to_the_capture_scope(tree):
    from jindu.core.roles import Role
    from jindu.core.testing.helpers import make_user

    district_admin = make_user("sys_a", Role.SYSADMIN, "330203")
    rows, _ = parse_orgunit_csv("code,name,level,parent_code\n330213009,越界,street,330213\n")
    with translation.override("en"):
        report = orgunits_import(actor=district_admin, rows=rows)
    assert any("outside your capture scope" in e for e in report.errors)
    assert not OrgUnit.objects.filter(code="330213009").exists()


def test_orgunit_pages_for_the_system_administrator(tree, users):
    client = ui_client(users["sysadmin"])
    page = client.get("/orgunits/?parent=330200")
    assert page.status_code == 200
    assert "海曙区" in page.content.decode() and "奉化区" in page.content.decode()
    response = client.post(
        "/orgunits/?parent=330213", {"code": "330213002", "name": "岳林街道", "level": "street"}
    )
    assert response.status_code == 302
    assert OrgUnit.objects.filter(code="330213002", parent__code="330213").exists()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("units.csv", CSV_OK.encode("utf-8"), content_type="text/csv")
    assert client.post("/orgunits/import/", {"file": upload}).status_code == 302
    assert OrgUnit.objects.filter(code="330203003001001").exists()
    assert ui_client(users["district_a"]).get("/orgunits/").status_code == 403
