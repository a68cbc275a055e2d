"""Jurisdiction scoping: for_user, access fetchers, protected records and break the glass."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from jindu.core.errors import BreakGlassRequired, NotFound, ServiceError
from jindu.core.models import AuditRecord, BreakGlassGrant
from jindu.core.scoping import WRITE, access_object, break_glass_open
from jindu.core.testing.helpers import api_client, assert_api_matrix, assert_error_shape, assert_ui_matrix
from jindu.core.testing.sampleapp.models import ProtectedRecord, SampleRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(tree):
    return {
        "a": SampleRecord.objects.create(org_unit=tree["community_a"], title="record-in-haishu"),
        "b": SampleRecord.objects.create(org_unit=tree["community_b"], title="record-in-fenghua"),
        "grid_a": SampleRecord.objects.create(org_unit=tree["grid_a"], title="record-in-grid"),
    }


def test_for_user_returns_only_rows_in_the_search_scope(records, users):
    titles = lambda user: set(SampleRecord.objects.for_user(user).values_list("title", flat=True))  # noqa: E731
    assert titles(users["district_a"]) == {"record-in-haishu", "record-in-grid"}
    assert titles(users["district_b"]) == {"record-in-fenghua"}
    assert titles(users["city"]) == {"record-in-haishu", "record-in-fenghua", "record-in-grid"}
    # Admin roles carry no permission on business data, whatever their scope.
    assert titles(users["sysadmin"]) == set()
    assert titles(users["auditadmin"]) == set()


def test_write_scope_is_the_capture_scope(records, users):
    worker = users["worker_a"]  # captures community A, searches street A
    other_community = SampleRecord.objects.create(org_unit=records["a"].org_unit.parent, title="street-level")
    assert set(SampleRecord.objects.for_user(worker).values_list("title", flat=True)) >= {"street-level"}
    assert "street-level" not in set(
        SampleRecord.objects.for_user(worker, WRITE).values_list("title", flat=True)
    )
    with pytest.raises(NotFound):
        access_object(worker, SampleRecord, other_community.pk, action=WRITE)
    assert access_object(worker, SampleRecord, records["a"].pk, action=WRITE) == records["a"]


def test_access_object_outside_scope_is_not_found(records, users):
    assert access_object(users["district_a"], SampleRecord, records["a"].pk) == records["a"]
    with pytest.raises(NotFound):
        access_object(users["district_b"], SampleRecord, records["a"].pk)
    with pytest.raises(NotFound):
        access_object(users["district_a"], SampleRecord, 999999)
    with pytest.raises(NotFound):
        access_object(users["sysadmin"], SampleRecord, records["a"].pk)


def test_api_matrix_for_a_scoped_record(records, users):
    record = records["a"]
    assert_api_matrix(
        list_url="/api/v1/sample/records",
        detail_url=f"/api/v1/sample/records/{record.pk}",
        marker="record-in-haishu",
        allowed=[users["district_a"], users["street_a"], users["city"], users["police_a"]],
        denied=[
            users["district_b"],
            users["sysadmin"],
            users["secadmin"],
            users["auditadmin"],
            users["enterprise"],
        ],
    )


def test_ui_matrix_for_a_scoped_record(records, users):
    record = records["a"]
    assert_ui_matrix(
        list_url="/sample/records/",
        detail_url=f"/sample/records/{record.pk}/",
        marker="record-in-haishu",
        allowed=[users["district_a"], users["street_a"], users["city"]],
        denied=[users["district_b"], users["sysadmin"], users["auditadmin"]],
    )


@pytest.fixture
def protected(tree):
    return ProtectedRecord.objects.create(
        org_unit=tree["community_a"], name="张三", id_number="330203199001011237"
    )


def test_protected_record_needs_break_the_glass_outside_capture_scope(protected, users):
    district_b = users["district_b"]
    # Inside capture scope: readable, and the read is audited.
    before = AuditRecord.objects.filter(action="READ").count()
    assert access_object(users["district_a"], ProtectedRecord, protected.pk, audit=True).name == "张三"
    assert AuditRecord.objects.filter(action="READ").count() == before + 1
    # Outside the search scope: not found, and breaking the glass does not help.
    with pytest.raises(NotFound):
        access_object(district_b, ProtectedRecord, protected.pk)
    with pytest.raises(NotFound):
        break_glass_open(
            user=district_b,
            object_type="sampleapp.protectedrecord",
            object_id=str(protected.pk),
            reason="x" * 20,
        )
    # City office: in search scope but not capture scope → a reason is required.
    city = users["city"]
    city_capture_protected = ProtectedRecord.objects.for_user(city)
    assert protected in city_capture_protected  # the city office captures the whole city
    worker = users["worker_a"]
    street_record = ProtectedRecord.objects.create(org_unit=protected.org_unit.parent, name="李四")
    assert street_record not in ProtectedRecord.objects.for_user(worker)
    with pytest.raises(BreakGlassRequired):
        access_object(worker, ProtectedRecord, street_record.pk)
    with pytest.raises(ServiceError) as short:
        break_glass_open(
            user=worker,
            object_type="sampleapp.protectedrecord",
            object_id=str(street_record.pk),
            reason="why",
        )
    assert short.value.code == "reason_required"
    grant = break_glass_open(
        user=worker,
        object_type="sampleapp.protectedrecord",
        object_id=str(street_record.pk),
        reason="家访时发现该人员在本社区居住",
    )
    assert dt.timedelta(hours=2, minutes=59) < grant.expires_at - grant.granted_at <= dt.timedelta(hours=3)
    assert access_object(worker, ProtectedRecord, street_record.pk).name == "李四"
    entry = AuditRecord.objects.filter(action="BREAK_GLASS").latest("sequence")
    assert entry.actor_username == worker.username
    assert entry.detail["reason"] == "家访时发现该人员在本社区居住"
    # The grant expires.
    BreakGlassGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(BreakGlassRequired):
        access_object(worker, ProtectedRecord, street_record.pk)


def test_break_glass_through_the_api(protected, users):
    worker = users["worker_a"]
    street_record = ProtectedRecord.objects.create(org_unit=protected.org_unit.parent, name="王五")
    client = api_client(worker)
    url = f"/api/v1/sample/protected/{street_record.pk}"
    assert_error_shape(client.get(url), 403, "break_glass_required")
    response = client.post(
        "/api/v1/break-glass",
        {
            "object_type": "sampleapp.protectedrecord",
            "object_id": str(street_record.pk),
            "reason": "核查走访记录需要查看",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert client.get(url).json()["name"] == "王五"
    # Another user's grant does not open it for the district office of Fenghua (outside search scope).
    assert_error_shape(api_client(users["district_b"]).get(url), 404, "not_found")


def test_break_glass_through_the_ui(protected, users):
    from jindu.core.testing.helpers import ui_client

    worker = users["worker_a"]
    street_record = ProtectedRecord.objects.create(org_unit=protected.org_unit.parent, name="赵六")
    client = ui_client(worker)
    url = f"/sample/protected/{street_record.pk}/"
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/break-glass/")
    form = client.get(response["Location"])
    assert form.status_code == 200
    response = client.post(
        "/break-glass/",
        {
            "object_type": "sampleapp.protectedrecord",
            "object_id": street_record.pk,
            "next": url,
            "reason": "too short",
        },
    )
    assert response.status_code == 200  # re-shown with an error: reason too short
    response = client.post(
        "/break-glass/",
        {
            "object_type": "sampleapp.protectedrecord",
            "object_id": street_record.pk,
            "next": url,
            "reason": "社区走访需要核实身份",
        },
    )
    assert response.status_code == 302 and response["Location"] == url
    assert client.get(url).content.decode() == "赵六"


def test_rows_carry_their_org_unit_path_and_fail_closed_without_it(records, users, tree):
    record = records["a"]
    assert record.org_path == tree["community_a"].path
    record.org_unit = tree["community_b"]
    record.save(update_fields=["org_unit"])
    record.refresh_from_db()
    assert record.org_path == tree["community_b"].path
    assert record not in SampleRecord.objects.for_user(users["district_a"])
    assert record in SampleRecord.objects.for_user(users["district_b"])
    # bulk_create skips save(): a row without a path is outside every scope until it gets one.
    (orphan,) = SampleRecord.objects.bulk_create([SampleRecord(org_unit=tree["community_a"], title="bulk")])
    assert not SampleRecord.objects.for_user(users["city"]).filter(title="bulk").exists()
    SampleRecord.objects.filter(title="bulk").update(org_path=tree["community_a"].path)
    assert SampleRecord.objects.for_user(users["district_a"]).filter(title="bulk").exists()


def test_prefix_match_does_not_leak_into_siblings_with_longer_codes(tree, users):
    from jindu.core.orgunits import orgunit_create

    # A grid whose code extends community A's code is its child; a sibling street whose code merely
    # starts with the same digits must not be matched by the prefix.
    orgunit_create(
        actor=None, code="330203001001002", name="第2网格", level="grid", parent_code="330203001001"
    )
    inside = SampleRecord.objects.create(org_unit=tree["grid_a"], title="inside")
    other_street = SampleRecord.objects.create(org_unit=tree["street_a2"], title="sibling street")
    from jindu.core.testing.helpers import make_user

    worker = make_user("w_grid", "social_worker", "330203001001")
    titles = set(SampleRecord.objects.for_user(worker).values_list("title", flat=True))
    assert "inside" in titles and "sibling street" not in titles
    assert inside.org_path.startswith(tree["community_a"].path)
    assert not other_street.org_path.startswith(tree["street_a"].path)


def test_nested_roots_do_not_duplicate_rows(records, tree):
    from jindu.core.testing.helpers import make_user

    user = make_user("nested", "district_office", "330203", search_scope=["330203", "330203001", "330200"])
    titles = list(SampleRecord.objects.for_user(user).values_list("title", flat=True))
    assert sorted(titles) == sorted(set(titles))
    assert set(titles) == {"record-in-haishu", "record-in-fenghua", "record-in-grid"}
