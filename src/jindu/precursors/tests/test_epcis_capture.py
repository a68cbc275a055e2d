"""The EPCIS capture and query interface: storage whole or not at all, kg pure and balance terms, warnings,
idempotent resends, the authorization matrix and the standard's query parameters."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from jindu.core.crypto import get_provider
from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import api_client, assert_error_shape
from jindu.precursors.conftest import FIRM_A, FIRM_B, ledger_document, load_fixture
from jindu.precursors.models import EpcisCapture, EpcisEvent, EpcisQuantity, Substance

pytestmark = pytest.mark.django_db

CAPTURE = "/api/v1/precursors/epcis/capture"
EVENTS = "/api/v1/precursors/epcis/events"
ACETONE = "urn:jindu:class:67-64-1:LOT-1"
HCL = "urn:jindu:class:7647-01-0:LOT-7"
WAREHOUSE_A = f"urn:jindu:loc:{FIRM_A}:warehouse-1"


def event(kind: str, when: str, **fields) -> dict:
    body = {"type": kind, "eventTime": when, "eventTimeZoneOffset": "+08:00"}
    if kind != "TransformationEvent":
        body["action"] = fields.pop("action", "OBSERVE")
    body.update(fields)
    return body


def ledger_events() -> list[dict]:
    """A month of firm A's acetone and hydrochloric acid (31 %) ledger, as §3.5 maps it."""
    return [
        event(
            "ObjectEvent",
            "2026-03-01T09:00:00+08:00",
            bizStep="receiving",
            quantityList=[{"epcClass": ACETONE, "quantity": 1000, "uom": "KGM"}],
            bizLocation={"id": WAREHOUSE_A},
            sourceList=[{"type": "owning_party", "source": f"urn:jindu:party:{FIRM_B}"}],
        ),
        event(
            "ObjectEvent",
            "2026-03-05T10:00:00+08:00",
            bizStep="shipping",
            disposition="in_transit",
            quantityList=[{"epcClass": ACETONE, "quantity": 300, "uom": "KGM"}],
            readPoint={"id": WAREHOUSE_A},
            destinationList=[{"type": "owning_party", "destination": "urn:jindu:party:91330000UNKNOWN01"}],
        ),
        event(
            "ObjectEvent",
            "2026-03-06T10:00:00+08:00",
            bizStep="receiving",
            quantityList=[{"epcClass": HCL, "quantity": 2, "uom": "TNE"}],
            bizLocation={"id": WAREHOUSE_A},
        ),
        event(
            "TransformationEvent",
            "2026-03-10T08:00:00+08:00",
            bizStep="jd:consuming",
            # Inputs only: the standard then asks for a transformationID (here the work order).
            transformationID=f"urn:jindu:transformation:{FIRM_A}:WO-1",
            inputQuantityList=[{"epcClass": ACETONE, "quantity": 150, "uom": "KGM"}],
        ),
        event(
            "ObjectEvent",
            "2026-03-20T16:00:00+08:00",
            action="DELETE",
            bizStep="jd:lossRecording",
            disposition="destroyed",
            quantityList=[{"epcClass": ACETONE, "quantity": 2, "uom": "KGM"}],
        ),
        event(
            "ObjectEvent",
            "2026-03-31T17:00:00+08:00",
            bizStep="stock_taking",
            quantityList=[{"epcClass": ACETONE, "quantity": 540, "uom": "KGM"}],
            bizLocation={"id": WAREHOUSE_A},
        ),
        event(
            "TransactionEvent",
            "2026-03-05T09:00:00+08:00",
            action="ADD",
            bizTransactionList=[{"type": "po", "bizTransaction": "urn:jindu:po:1"}],
            quantityList=[{"epcClass": ACETONE, "quantity": 300, "uom": "KGM"}],
        ),
    ]


def capture(client, document) -> object:
    return client.post(CAPTURE, data=json.dumps(document), content_type="application/ld+json")


def test_a_firm_captures_its_ledger_with_kg_pure_and_balance_terms(firms):
    document = ledger_document(FIRM_A, ledger_events())
    response = capture(api_client(firms["user_a"]), document)
    assert response.status_code == 202, response.content
    body = response.json()
    # The digest is the SM3 of the bytes the firm sent.
    assert body["document_digest"] == get_provider().sm3(json.dumps(document).encode())
    assert response["Location"] == f"{CAPTURE}/{body['captureID']}"
    assert body["event_count"] == 7 and body["duplicate_count"] == 0 and body["enterprise"] == FIRM_A
    stored = EpcisCapture.objects.get(pk=body["captureID"])
    assert stored.org_unit_id == firms["a"].org_unit_id and stored.context_prefixes == {
        "jd": "https://jindu.example/voc/"
    }
    terms = {
        (row.balance_term, row.epc_class): row.kg_pure
        for row in EpcisQuantity.objects.filter(event__capture=stored)
    }
    acetone, hcl = Substance.objects.get(code="acetone"), Substance.objects.get(code="hydrochloric-acid")
    assert terms[("receipt", ACETONE)] == Decimal("1000")
    assert terms[("shipment", ACETONE)] == Decimal("300")
    assert terms[("consumption", ACETONE)] == Decimal("150")
    assert terms[("loss", ACETONE)] == Decimal("2")
    assert terms[("stocktake", ACETONE)] == Decimal("540")
    # 2 t of acid counted as received, in kg (pure unless a product class says otherwise).
    assert terms[("receipt", HCL)] == Decimal("2000")
    # The commercial link (TransactionEvent) changes no stock.
    assert terms[("", ACETONE)] == Decimal("300")
    assert set(EpcisQuantity.objects.values_list("substance", flat=True)) == {acetone.pk, hcl.pk}
    # Business checks are warnings on the events, not refusals.
    shipping = EpcisEvent.objects.get(capture=stored, biz_step="shipping")
    assert [w["code"] for w in shipping.warnings] == ["unknown_party"]
    receipt = EpcisEvent.objects.get(capture=stored, biz_step="receiving", event_time__day=1)
    assert receipt.warnings == []  # firm B and the warehouse are registered
    assert body["warning_count"] == sum(len(e.warnings) for e in EpcisEvent.objects.filter(capture=stored))
    record = AuditRecord.objects.get(action="CREATE", object_type="precursors.epciscapture")
    assert record.detail["events"] == 7 and record.detail["enterprise"] == FIRM_A


def test_resending_a_document_stores_nothing_twice(firms):
    client = api_client(firms["user_a"])
    document = ledger_document(FIRM_A, ledger_events())
    assert capture(client, document).json()["event_count"] == 7
    # The same events again, keys in another order and a record time set by the client: same content.
    resent = ledger_document(
        FIRM_A,
        [dict(reversed(list(e.items()))) | {"recordTime": "2026-04-01T00:00:00Z"} for e in ledger_events()],
    )
    again = capture(client, resent).json()
    assert again["event_count"] == 0 and again["duplicate_count"] == 7
    assert EpcisEvent.objects.count() == 7


def test_extension_values_are_stored_as_sent_even_beyond_64_bit_integers(firms):
    """What the standard allows in an extension field is kept as sent, including an integer that PostgreSQL's
    bulk path cannot encode with its fast encoder (it falls back to the json module)."""
    client = api_client(firms["user_a"])
    [first, *_rest] = ledger_events()
    first["jd:batchSerial"] = 123456789012345678901234567890
    first["jd:note"] = "丙酮 入库，批次 LOT-1"
    assert capture(client, ledger_document(FIRM_A, [first])).json()["event_count"] == 1
    stored = EpcisEvent.objects.get()
    assert stored.document["jd:batchSerial"] == 123456789012345678901234567890
    assert stored.document["jd:note"] == "丙酮 入库，批次 LOT-1"
    [returned] = client.get(EVENTS).json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert returned["jd:batchSerial"] == 123456789012345678901234567890


def test_an_invalid_document_is_refused_whole_with_the_path_of_each_problem(firms):
    client = api_client(firms["user_a"])
    events = ledger_events()
    del events[1]["eventTimeZoneOffset"]
    events[3]["inputQuantityList"][0]["quantity"] = -5
    events[5]["action"] = "MOVE"
    events[2]["quantityList"][0]["uom"] = "BBL"  # barrels: not a unit the platform converts to kg
    response = capture(client, ledger_document(FIRM_A, events))
    body = assert_error_shape(response, 400, "invalid_epcis")
    paths = set(body["error"]["fields"])
    assert any(
        path.startswith("$.epcisBody.eventList[1]") and "eventTimeZoneOffset" in path for path in paths
    ), paths
    assert any(path.startswith("$.epcisBody.eventList[3].inputQuantityList[0]") for path in paths), paths
    assert any(path.startswith("$.epcisBody.eventList[5].action") for path in paths), paths
    assert any(path.startswith("$.epcisBody.eventList[2].quantityList[0]") for path in paths), paths
    # Nothing stored: no capture, no event, not even the valid ones.
    assert not EpcisCapture.objects.exists() and not EpcisEvent.objects.exists()
    fixture = capture(client, load_fixture("invalid_three_bad_events.json"))
    assert len(assert_error_shape(fixture, 400, "invalid_epcis")["error"]["fields"]) >= 3
    not_json = client.post(CAPTURE, data=b"{not json", content_type="application/json")
    assert "$" in assert_error_shape(not_json, 400, "invalid_epcis")["error"]["fields"]
    assert not EpcisEvent.objects.exists()


def test_every_event_type_of_the_standard_is_captured(firms):
    response = capture(api_client(firms["user_a"]), load_fixture("all_event_types.json"))
    assert response.status_code == 202, response.content
    types = set(EpcisEvent.objects.values_list("event_type", flat=True))
    assert types == {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
    listed = api_client(firms["user_a"]).get(EVENTS).json()
    assert listed["type"] == "EPCISQueryDocument"
    assert (
        len(listed["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == response.json()["event_count"]
    )


def test_only_a_firms_own_users_capture_and_each_sees_its_own(firms, users):
    assert_error_shape(capture(api_client(None), ledger_document(FIRM_A, ledger_events())), 401)
    assert_error_shape(
        capture(api_client(users["district_a"]), ledger_document(FIRM_A, ledger_events())), 403
    )
    assert (
        capture(api_client(firms["user_a"]), ledger_document(FIRM_A, ledger_events()[:2])).status_code == 202
    )
    assert (
        capture(api_client(firms["user_b"]), ledger_document(FIRM_B, ledger_events()[2:3])).status_code == 202
    )

    def seen(user) -> int:
        response = api_client(user).get(EVENTS)
        assert response.status_code == 200, response.content
        return len(response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])

    assert seen(firms["user_a"]) == 2 and seen(firms["user_b"]) == 1
    assert seen(users["district_a"]) == 2 and seen(users["district_b"]) == 1 and seen(users["city"]) == 3
    # Roles without the precursor permission get 403, the anonymous 401.
    assert_error_shape(api_client(users["worker_a"]).get(EVENTS), 403)
    assert_error_shape(api_client(None).get(EVENTS), 401)
    # A capture's status: its firm and the officials of its district, nobody else.
    capture_id = EpcisCapture.objects.get(enterprise=firms["a"]).pk
    url = f"{CAPTURE}/{capture_id}"
    for user in (firms["user_a"], users["district_a"], users["city"]):
        assert api_client(user).get(url).status_code == 200
    for user in (firms["user_b"], users["district_b"], users["worker_a"]):
        assert_error_shape(api_client(user).get(url), 404)


def test_an_account_whose_firm_is_not_registered_cannot_capture(users):
    response = capture(api_client(users["enterprise"]), ledger_document(FIRM_A, ledger_events()))
    assert_error_shape(response, 403)
    assert not EpcisEvent.objects.exists()


def test_the_standard_query_parameters_and_paging(firms, django_assert_max_num_queries):
    client = api_client(firms["user_a"])
    capture(client, ledger_document(FIRM_A, ledger_events()))

    def times(url: str) -> list[str]:
        response = client.get(url)
        assert response.status_code == 200, response.content
        return [
            e["eventTime"] for e in response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        ]

    assert len(times(f"{EVENTS}?eventType=TransformationEvent,TransactionEvent")) == 2
    assert times(f"{EVENTS}?EQ_bizStep=shipping") == ["2026-03-05T10:00:00+08:00"]
    window = f"{EVENTS}?GE_eventTime=2026-03-05T00:00:00%2B08:00&LT_eventTime=2026-03-10T00:00:00%2B08:00"
    assert len(times(window)) == 3
    assert len(times(f"{EVENTS}?MATCH_anyEPCClass={HCL}")) == 1
    assert len(times(f"{EVENTS}?MATCH_anyEPCClass=urn:jindu:class:67-64-1:*")) == 6
    assert len(times(f"{EVENTS}?EQ_bizLocation={WAREHOUSE_A}")) == 3
    # Pages of two, in event-time order, following the Link header to the end.
    seen, url = [], f"{EVENTS}?perPage=2"
    while url:
        with django_assert_max_num_queries(8):
            response = client.get(url)
        page = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert len(page) <= 2
        seen += [e["eventTime"] for e in page]
        link = response.get("Link")
        url = link[1 : link.index(">")] if link else ""
    assert seen == sorted(seen) and len(seen) == 7
    # Stored events carry the repository's record time.
    assert all(
        "recordTime" in e
        for e in client.get(EVENTS).json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    )
    assert_error_shape(client.get(f"{EVENTS}?GE_eventTime=2026-03-05T00:00:00"), 400)
    assert_error_shape(client.get(f"{EVENTS}?nextPageToken=garbage"), 400)
    assert client.get(f"{EVENTS}?perPage=0").status_code == 422
