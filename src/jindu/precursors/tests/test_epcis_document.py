"""Tests for the EPCIS 2.0 document validator and parser (pure: no database).

Fixtures under ``fixtures/epcis/`` were written for these tests from the EPCIS 2.0 / CBV 2.0 standard; the
invalid documents are mostly built by mutating a valid fixture so that each test changes exactly one thing.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jindu.precursors.epcis import (
    EpcisDocumentError,
    ProblemCode,
    QuantityElement,
    event_content_hash,
    event_to_json,
    parse_document,
    parse_epcis_time,
    query_document,
)
from jindu.precursors.epcis.vocab import (
    BIZ_STEP,
    BIZ_TRANSACTION_TYPE,
    DISPOSITION,
    STANDARD_CONTEXT_URL,
    VocabularyError,
    cbv_uri,
    normalise_vocabulary_value,
)

FIXTURES = Path(__file__).parent / "fixtures" / "epcis"
JD = "https://jindu.example/voc/"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def problems_of(data: Any, **kwargs: Any) -> list[tuple[str, str]]:
    """(path, code) of every problem reported for ``data``; fails if the document is accepted."""
    with pytest.raises(EpcisDocumentError) as caught:
        parse_document(data, **kwargs)
    return [(problem.path, problem.code) for problem in caught.value.problems]


def minimal_document(*events: Any, prefixes: dict[str, str] | None = None) -> dict[str, Any]:
    context: list[Any] = [STANDARD_CONTEXT_URL]
    if prefixes:
        context.append(prefixes)
    return {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-04-02T18:00:00+08:00",
        "epcisBody": {"eventList": list(events)},
    }


def object_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-04-01T11:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "quantityList": [{"epcClass": "urn:jindu:class:67-64-1:A2024-031", "quantity": 25, "uom": "KGM"}],
    }
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


E = "$.epcisBody.eventList"


# --- Valid documents -------------------------------------------------------------------------------------------


def test_document_with_all_five_event_types_is_parsed_and_normalised() -> None:
    data = load("all_event_types.json")
    pristine = copy.deepcopy(data)
    document = parse_document(data)

    assert document.schema_version == "2.0"
    # 2024-03-01T08:00+08:00 is midnight UTC.
    assert document.creation_date == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert document.sender == "urn:jindu:party:91350200MA2Y00001A"
    assert document.receiver == "urn:jindu:office:350200"
    assert document.context_prefixes == {"jd": JD, "example": "http://ns.example.com/epcis/"}
    assert [event.event_type for event in document.events] == [
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
        "ObjectEvent",
    ]
    assert [event.action for event in document.events] == ["ADD", "ADD", "ADD", None, "ADD", "OBSERVE"]
    for event in document.events:
        assert event.event_time.utcoffset() == timedelta(0)
        assert event.event_time.tzinfo is UTC
        assert len(event.content_hash) == 64

    commissioning = document.events[0]
    # 20:33:31.116000 at -06:00 is 02:33:31.116 UTC on the next day; the 6 fractional digits are kept.
    assert commissioning.event_time == datetime(2005, 4, 4, 2, 33, 31, 116000, tzinfo=UTC)
    assert commissioning.event_time_zone_offset == "-06:00"
    assert commissioning.event_id == "urn:uuid:6f1a2c5e-0b8d-4b0e-9d4a-000000000001"
    assert commissioning.biz_step == "commissioning"  # from https://ref.gs1.org/cbv/BizStep-commissioning
    assert commissioning.disposition == "active"  # from cbv:Disp-active
    assert commissioning.read_point == "urn:epc:id:sgln:0614141.07346.1234"
    assert commissioning.biz_location == "urn:epc:id:sgln:0614141.07346.0"
    assert commissioning.epc_list == [
        "urn:epc:id:sgtin:0614141.107346.2017",
        "urn:epc:id:sgtin:0614141.107346.2018",
    ]
    assert commissioning.quantities == [
        QuantityElement("urn:epc:class:lgtin:4012345.012345.998877", Decimal("200.5"), "KGM")
    ]
    assert isinstance(commissioning.quantities[0].quantity, Decimal)
    assert commissioning.ilmd == {"cbvmda:lotNumber": "LOT-2005-0403", "jd:massFractionPercent": 99.2}
    assert commissioning.extensions == {"example:myField": "Example of a vendor extension"}
    assert commissioning.record_time is None
    assert commissioning.error_declaration is None

    aggregation = document.events[1]
    assert aggregation.parent_id == "urn:epc:id:sscc:0614141.1234567890"
    assert aggregation.child_epcs == ["urn:epc:id:sgtin:0614141.107346.2017"]
    assert aggregation.child_quantities == [
        QuantityElement("urn:epc:class:lgtin:4012345.012345.998877", Decimal("10"), "KGM"),
        QuantityElement("urn:epc:idpat:sgtin:4012345.098765.*", Decimal("4"), None),
    ]
    assert (aggregation.biz_step, aggregation.disposition) == ("packing", "container_closed")

    transaction = document.events[2]
    assert transaction.biz_transactions == [
        ("po", "urn:epcglobal:cbv:bt:0614141000005:PO-2024-117"),
        (JD + "BTT-purchasePermit", "urn:jindu:permit:2024-0042"),
        (None, "https://erp.example.com/contracts/7781"),
    ]
    assert transaction.sources == [("owning_party", "urn:jindu:party:91350200MA2Y00001A")]
    assert transaction.destinations == [
        (
            "owning_party",
            "urn:jindu:party:91350100MA3Z00002B",
        ),  # from https://ref.gs1.org/cbv/SDT-owning_party
        ("location", "urn:jindu:loc:91350100MA3Z00002B:store-1"),
    ]
    assert transaction.event_time == datetime(2024, 2, 28, 10, 0, tzinfo=UTC)  # given in Z

    transformation = document.events[3]
    assert transformation.transformation_id == "urn:jindu:transformation:91350200MA2Y00001A:B-0226"
    assert transformation.input_quantities == [
        QuantityElement("urn:jindu:class:71-23-8:IPA-0219", Decimal("620.25"), "KGM")
    ]
    assert transformation.output_quantities == [
        QuantityElement("urn:jindu:class:67-64-1:LOT2024A", Decimal("0.6"), "TNE")
    ]
    # 14:30:00.5 at +08:00 = 06:30:00.500000 UTC.
    assert transformation.event_time == datetime(2024, 2, 26, 6, 30, 0, 500000, tzinfo=UTC)
    assert transformation.ilmd == {"jd:batchNumber": "LOT2024A"}

    association = document.events[4]
    assert association.parent_id == "urn:epc:id:grai:4012345.55555.987"
    assert association.child_epcs == ["urn:epc:id:giai:4000001.TRACKER-0007"]
    assert association.sensor_elements == data["epcisBody"]["eventList"][4]["sensorElementList"]

    corrected = document.events[5]
    # Nine fractional digits are accepted and truncated to microseconds.
    assert corrected.event_time == datetime(2024, 2, 29, 8, 45, 10, 123456, tzinfo=UTC)
    assert corrected.record_time == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert corrected.biz_step == "inspecting"  # from the EPCIS 1.x URN
    assert corrected.error_declaration == {
        "declaration_time": datetime(2024, 2, 29, 23, 59, tzinfo=UTC),
        "reason": "incorrect_data",
        "corrective_event_ids": ["urn:uuid:6f1a2c5e-0b8d-4b0e-9d4a-000000000009"],
    }

    # The input is not modified and each event keeps its original dict.
    assert data == pristine
    assert document.events[2].raw is data["epcisBody"]["eventList"][2]


def test_jindu_ledger_document_follows_the_lifecycle_mapping() -> None:
    document = parse_document(load("jindu_ledger.json"))
    events = document.events
    assert [(event.event_type, event.action, event.biz_step) for event in events] == [
        ("TransformationEvent", None, "commissioning"),  # 生产
        ("ObjectEvent", "OBSERVE", "storing"),  # 入库
        ("TransactionEvent", "ADD", None),  # 销售
        ("ObjectEvent", "OBSERVE", "shipping"),  # 出库
        ("ObjectEvent", "OBSERVE", "receiving"),  # 签收
        ("ObjectEvent", "OBSERVE", "stock_taking"),  # 盘点
        ("ObjectEvent", "DELETE", JD + "lossRecording"),  # 损耗 (custom bizStep, expanded)
        ("TransformationEvent", None, JD + "consuming"),  # 使用
    ]
    production, _stored, sale, shipping, receipt, stocktake, loss, consumption = events

    assert production.input_quantities == [
        QuantityElement("urn:jindu:class:71-23-8:IPA-0328", Decimal("2600"), "KGM")
    ]
    assert production.output_quantities == [
        QuantityElement("urn:jindu:class:67-64-1:A2024-031", Decimal("2500"), "KGM")
    ]
    assert production.biz_transactions == [(JD + "BTT-productionLicence", "urn:jindu:permit:PL-2023-0007")]
    assert production.ilmd == {"jd:batchNumber": "A2024-031", "jd:massFractionPercent": 99.5}

    assert sale.biz_transactions == [
        ("po", "urn:jindu:po:91350100MA3Z00002B:PO-88"),
        ("inv", "urn:jindu:invoice:3502241130-00451"),
        (JD + "BTT-purchaseFiling", "urn:jindu:filing:GF-2024-1187"),
    ]
    assert sale.destinations == [("owning_party", "urn:jindu:party:91350100MA3Z00002B")]
    # 15:20 at +08:00 = 07:20 UTC.
    assert sale.event_time == datetime(2024, 4, 1, 7, 20, tzinfo=UTC)

    assert shipping.disposition == "in_transit"
    assert ("possessing_party", "urn:jindu:party:91350203MA8K00003C") in shipping.destinations
    assert shipping.biz_transactions == [(JD + "BTT-transportFiling", "urn:jindu:filing:TF-2024-3310")]

    # The buyer's measured quantity differs from the 2000 kg shipped (input for reconciliation).
    assert receipt.quantities[0].quantity == Decimal("1998.6")
    assert receipt.disposition == "in_progress"

    assert [q.quantity for q in stocktake.quantities] == [Decimal("742.3"), Decimal("1.2")]
    assert [q.uom for q in stocktake.quantities] == ["KGM", "TNE"]

    assert loss.disposition == "damaged"
    assert loss.extensions == {
        "jd:lossReason": "drum punctured by forklift",
        "jd:witnessIDs": ["urn:jindu:person:3502-0007", "urn:jindu:person:3502-0019"],
    }

    assert consumption.input_quantities == [
        QuantityElement("urn:jindu:class:7647-01-0:HCL31-0302", Decimal("150"), "LTR")
    ]
    assert consumption.output_quantities == []
    assert consumption.transformation_id == "urn:jindu:transformation:91350200MA2Y00001A:WO-0402"


def test_json_text_as_str_or_bytes_gives_the_same_result_as_decoded_data() -> None:
    text = (FIXTURES / "jindu_ledger.json").read_text(encoding="utf-8")
    from_dict = parse_document(json.loads(text))
    from_str = parse_document(text)
    from_bytes = parse_document(text.encode("utf-8"))
    hashes = [event.content_hash for event in from_dict.events]
    assert hashes == [event.content_hash for event in from_str.events]
    assert hashes == [event.content_hash for event in from_bytes.events]
    assert len(set(hashes)) == len(hashes)


def test_empty_event_list_is_a_valid_document() -> None:
    document = parse_document(minimal_document())
    assert document.events == []


def test_aggregation_observe_may_omit_parent_and_delete_may_omit_children() -> None:
    observe = {
        "type": "AggregationEvent",
        "eventTime": "2024-04-01T11:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"],
    }
    delete = {
        "type": "AggregationEvent",
        "eventTime": "2024-04-01T12:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "DELETE",
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
    }
    events = parse_document(minimal_document(observe, delete)).events
    assert events[0].parent_id is None
    assert events[1].child_epcs == []


def test_object_event_with_sensor_data_and_read_point_needs_no_epcs() -> None:
    event = object_event(
        quantityList=None,
        readPoint={"id": "urn:jindu:loc:91350200MA2Y00001A:tank-3"},
        sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 19.0, "uom": "CEL"}]}],
    )
    parsed = parse_document(minimal_document(event)).events[0]
    assert parsed.quantities == []
    assert parsed.read_point == "urn:jindu:loc:91350200MA2Y00001A:tank-3"


# --- Content hash and serialisation ----------------------------------------------------------------------------


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


def test_content_hash_ignores_key_order_and_record_time_but_not_content() -> None:
    event = load("all_event_types.json")["epcisBody"]["eventList"][2]
    reference = event_content_hash(event)

    reordered = _reversed_keys(event)
    assert list(reordered) != list(event)
    assert event_content_hash(reordered) == reference

    assert event_content_hash({**event, "recordTime": "2030-01-01T00:00:00Z"}) == reference

    changed = copy.deepcopy(event)
    changed["quantityList"][0]["quantity"] = 501
    assert event_content_hash(changed) != reference

    # Hand check of the definition: sha256 over sorted-key, whitespace-free, UTF-8 JSON.
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert reference == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_parsed_content_hash_is_stable_across_documents() -> None:
    data = load("all_event_types.json")
    first = parse_document(data).events
    shuffled = _reversed_keys(data)
    shuffled["epcisBody"]["eventList"][5]["recordTime"] = "2024-03-05T00:00:00Z"
    second = parse_document(shuffled).events
    assert [event.content_hash for event in first] == [event.content_hash for event in second]


def test_event_to_json_returns_the_event_as_received() -> None:
    data = load("jindu_ledger.json")
    event = parse_document(data).events[6]
    as_json = event_to_json(event)
    assert as_json == data["epcisBody"]["eventList"][6]
    as_json["action"] = "ADD"  # a copy: the stored raw event is not touched
    assert event.raw["action"] == "DELETE"


def test_query_document_envelope() -> None:
    raw_events = load("jindu_ledger.json")["epcisBody"]["eventList"][:2]
    created = datetime(2024, 4, 3, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    result = query_document(raw_events, prefixes={"jd": JD}, creation_date=created)
    assert result == {
        "@context": [STANDARD_CONTEXT_URL, {"jd": JD}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-04-03T01:00:00Z",
        "epcisBody": {
            "queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": raw_events}}
        },
    }
    with pytest.raises(ValueError):
        query_document([], creation_date=datetime(2024, 4, 3, 9, 0))


# --- Vocabulary and time helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "cbv:BizStep-shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
    ],
)
def test_biz_step_spellings_normalise_to_the_short_name(value: str) -> None:
    assert normalise_vocabulary_value(value, BIZ_STEP, {}) == "shipping"


def test_custom_vocabulary_values() -> None:
    prefixes = {"jd": JD}
    assert normalise_vocabulary_value("jd:BTT-transportPermit", BIZ_TRANSACTION_TYPE, prefixes) == (
        JD + "BTT-transportPermit"
    )
    assert normalise_vocabulary_value("urn:gs1:epcisapp:rail:btt:passage", BIZ_TRANSACTION_TYPE, {}) == (
        "urn:gs1:epcisapp:rail:btt:passage"
    )
    assert cbv_uri("in_transit", DISPOSITION) == "https://ref.gs1.org/cbv/Disp-in_transit"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("shiping", "unknown_vocabulary"),  # misspelt short name
        ("jd:lossRecording", "undeclared_prefix"),  # jd not declared
        ("https://ref.gs1.org/cbv/BizStep-flying", "unknown_vocabulary"),
        ("https://ref.gs1.org/cbv/Disp-active", "unknown_vocabulary"),  # a disposition is not a bizStep
        ("urn:epcglobal:cbv:disp:active", "unknown_vocabulary"),
    ],
)
def test_bad_vocabulary_values(value: str, code: str) -> None:
    with pytest.raises(VocabularyError) as caught:
        normalise_vocabulary_value(value, BIZ_STEP, {})
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2005-04-03T20:33:31.116000-06:00", datetime(2005, 4, 4, 2, 33, 31, 116000, tzinfo=UTC)),
        ("2005-04-03T20:33:31.116-06:00", datetime(2005, 4, 4, 2, 33, 31, 116000, tzinfo=UTC)),
        ("2024-04-01T11:00:00Z", datetime(2024, 4, 1, 11, 0, tzinfo=UTC)),
        ("2024-04-01t11:00:00z", datetime(2024, 4, 1, 11, 0, tzinfo=UTC)),
        ("2024-04-01T11:00:00.999999999+14:00", datetime(2024, 3, 31, 21, 0, 0, 999999, tzinfo=UTC)),
        ("2024-04-01T11:00:00", None),  # no offset: would be naive
        ("2024-04-01T11:00+08:00", None),  # no seconds
        ("2024-04-01 11:00:00+08:00", None),  # space separator is not RFC 3339
        ("2024-13-01T11:00:00+08:00", None),  # month 13
        ("2024-04-01T11:00:00.1234567890+08:00", None),  # 10 fractional digits
    ],
)
def test_parse_epcis_time(text: str, expected: datetime | None) -> None:
    assert parse_epcis_time(text) == expected


# --- Invalid documents -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ([], "not_object"),  # a bare list of events
        ("[]", "not_object"),  # the same as JSON text
        (None, "not_object"),
        (42, "not_object"),
        ("{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
    ],
)
def test_not_a_json_object(data: Any, code: str) -> None:
    assert problems_of(data) == [("$", code)]


def test_envelope_problems_are_all_reported() -> None:
    data = {
        "type": "EPCISQueryDocument",
        "schemaVersion": "1.2",
        "creationDate": "2024-04-02T18:00:00",
        "epcisBody": {"eventList": {}},
        "comment": "no prefix",
    }
    assert problems_of(data) == [
        ("$.type", "invalid_value"),
        ("$['@context']", "required"),
        ("$.schemaVersion", "invalid_value"),
        ("$.creationDate", "invalid_time"),
        ("$.comment", "unknown_field"),
        ("$.epcisBody.eventList", "wrong_type"),
    ]


def test_schema_version_must_be_a_string() -> None:
    data = minimal_document()
    data["schemaVersion"] = 2.0
    assert problems_of(data) == [("$.schemaVersion", "wrong_type")]


def test_missing_body_and_bad_context() -> None:
    data = minimal_document()
    del data["epcisBody"]
    data["@context"] = [STANDARD_CONTEXT_URL, 7]
    assert problems_of(data) == [("$['@context'][1]", "wrong_type"), ("$.epcisBody", "required")]


def test_missing_event_time_zone_offset_in_event_3() -> None:
    data = load("jindu_ledger.json")
    del data["epcisBody"]["eventList"][3]["eventTimeZoneOffset"]
    assert problems_of(data) == [(f"{E}[3].eventTimeZoneOffset", "required")]


@pytest.mark.parametrize("offset", ["+8:00", "+14:30", "08:00", "Z", "+08:60", 8])
def test_bad_event_time_zone_offset(offset: Any) -> None:
    assert problems_of(minimal_document(object_event(eventTimeZoneOffset=offset))) == [
        (f"{E}[0].eventTimeZoneOffset", "invalid_value")
    ]


def test_bad_event_times() -> None:
    data = minimal_document(
        object_event(eventTime="2024-04-01T11:00:00"),
        object_event(eventTime=1711940400),
        object_event(eventTime=None),
        object_event(recordTime="yesterday"),
    )
    assert problems_of(data) == [
        (f"{E}[0].eventTime", "invalid_time"),
        (f"{E}[1].eventTime", "wrong_type"),
        (f"{E}[2].eventTime", "required"),
        (f"{E}[3].recordTime", "invalid_time"),
    ]


def test_bad_action() -> None:
    data = load("all_event_types.json")
    data["epcisBody"]["eventList"][1]["action"] = "add"
    assert problems_of(data) == [(f"{E}[1].action", "invalid_value")]


def test_missing_action_and_type() -> None:
    no_action = object_event()
    del no_action["action"]
    no_type = object_event()
    del no_type["type"]
    assert problems_of(minimal_document(no_action, no_type, object_event(type="ExtendedEvent"))) == [
        (f"{E}[0].action", "required"),
        (f"{E}[1].type", "required"),
        (f"{E}[2].type", "invalid_value"),
    ]


@pytest.mark.parametrize(
    ("element", "problems"),
    [
        ({"epcClass": "urn:x:c", "quantity": -0.5, "uom": "KGM"}, [("quantity", "negative_quantity")]),
        ({"epcClass": "urn:x:c", "quantity": "12", "uom": "KGM"}, [("quantity", "invalid_quantity")]),
        ({"epcClass": "urn:x:c", "quantity": True, "uom": "KGM"}, [("quantity", "invalid_quantity")]),
        ({"epcClass": "urn:x:c", "quantity": float("nan"), "uom": "KGM"}, [("quantity", "invalid_quantity")]),
        ({"epcClass": "urn:x:c", "quantity": float("inf"), "uom": "KGM"}, [("quantity", "invalid_quantity")]),
        ({"epcClass": "urn:x:c", "quantity": None, "uom": "KGM"}, [("quantity", "invalid_quantity")]),
        ({"epcClass": "urn:x:c", "quantity": 12, "uom": "KG"}, [("uom", "unknown_uom")]),
        ({"epcClass": "urn:x:c", "quantity": 12, "uom": 1}, [("uom", "wrong_type")]),
        ({"epcClass": "urn:x:c", "uom": "KGM"}, [("uom", "uom_without_quantity")]),
        ({"quantity": 12, "uom": "KGM"}, [("epcClass", "required")]),
        ({"epcClass": "acetone lot 7", "quantity": 12}, [("epcClass", "invalid_uri")]),
        ({"epcClass": "urn:x:c", "quantity": 12, "unit": "kg"}, [("unit", "unknown_field")]),
    ],
)
def test_bad_quantity_elements(element: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    data = minimal_document(object_event(quantityList=[{"epcClass": "urn:x:ok", "quantity": 1}, element]))
    assert problems_of(data) == [(f"{E}[0].quantityList[1].{name}", code) for name, code in problems]


def test_nan_in_json_text_is_rejected() -> None:
    text = json.dumps(minimal_document(object_event())).replace('"quantity": 25', '"quantity": NaN')
    assert "NaN" in text
    assert problems_of(text) == [(f"{E}[0].quantityList[0].quantity", "invalid_quantity")]


def test_quantity_without_uom_and_zero_quantity_are_accepted() -> None:
    event = object_event(quantityList=[{"epcClass": "urn:x:c", "quantity": 0}, {"epcClass": "urn:x:d"}])
    quantities = parse_document(minimal_document(event)).events[0].quantities
    assert quantities == [
        QuantityElement("urn:x:c", Decimal(0), None),
        QuantityElement("urn:x:d", None, None),
    ]


def test_accepted_units_are_a_parameter() -> None:
    event = object_event(quantityList=[{"epcClass": "urn:x:c", "quantity": 3, "uom": "H87"}])
    assert problems_of(minimal_document(event)) == [(f"{E}[0].quantityList[0].uom", "unknown_uom")]
    parsed = parse_document(minimal_document(event), accepted_uoms=frozenset({"H87"}))
    assert parsed.events[0].quantities[0].uom == "H87"


def test_undeclared_prefixes_are_reported_where_used() -> None:
    event = object_event(
        bizStep="jd:lossRecording",
        disposition="acme:quarantined",
        bizTransactionList=[{"type": "jd:BTT-purchasePermit", "bizTransaction": "urn:jindu:permit:1"}],
        ilmd={"jd:batchNumber": "B1", "lotNumber": "L1"},
        action="ADD",
    )
    event["jd:lossReason"] = "spill"
    assert problems_of(minimal_document(event)) == [
        (f"{E}[0]['jd:lossReason']", "undeclared_prefix"),
        (f"{E}[0].bizStep", "undeclared_prefix"),
        (f"{E}[0].disposition", "undeclared_prefix"),
        (f"{E}[0].bizTransactionList[0].type", "undeclared_prefix"),
        (f"{E}[0].ilmd['jd:batchNumber']", "undeclared_prefix"),
        (f"{E}[0].ilmd.lotNumber", "unknown_field"),
    ]
    # Declaring jd (and using a full URI for the other custom value) fixes all of them but the plain ilmd key.
    event["disposition"] = "https://acme.example/disp/quarantined"
    assert problems_of(minimal_document(event, prefixes={"jd": JD})) == [
        (f"{E}[0].ilmd.lotNumber", "unknown_field")
    ]


def test_unknown_and_misplaced_event_fields() -> None:
    transformation = {
        "type": "TransformationEvent",
        "eventTime": "2024-04-01T11:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "ADD",
        "inputQuantityList": [{"epcClass": "urn:x:in", "quantity": 1, "uom": "KGM"}],
        "outputQuantityList": [{"epcClass": "urn:x:out", "quantity": 1, "uom": "KGM"}],
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
    }
    assert problems_of(minimal_document(object_event(note="free text"), transformation)) == [
        (f"{E}[0].note", "unknown_field"),
        (f"{E}[1].action", "not_allowed"),
        (f"{E}[1].epcList", "not_allowed"),
    ]


def test_transaction_event_needs_biz_transactions() -> None:
    missing = object_event(type="TransactionEvent", action="ADD")
    empty = object_event(type="TransactionEvent", action="ADD", bizTransactionList=[])
    no_goods = object_event(
        type="TransactionEvent",
        action="ADD",
        quantityList=None,
        bizTransactionList=[{"type": "po", "bizTransaction": "urn:jindu:po:1"}],
    )
    assert problems_of(minimal_document(missing, empty, no_goods)) == [
        (f"{E}[0].bizTransactionList", "required"),
        (f"{E}[1].bizTransactionList", "empty"),
        (f"{E}[2]", "required"),
    ]


def test_association_event_needs_parent_id() -> None:
    data = load("all_event_types.json")
    del data["epcisBody"]["eventList"][4]["parentID"]
    assert problems_of(data) == [(f"{E}[4].parentID", "required")]


def test_aggregation_add_needs_parent_and_children() -> None:
    data = load("all_event_types.json")
    aggregation = data["epcisBody"]["eventList"][1]
    del aggregation["parentID"]
    del aggregation["childEPCs"]
    aggregation["childQuantityList"] = []
    assert problems_of(data) == [(f"{E}[1].parentID", "required"), (f"{E}[1]", "required")]


def test_transformation_event_inputs_and_outputs() -> None:
    inputs_only = {
        "type": "TransformationEvent",
        "eventTime": "2024-04-01T11:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "inputQuantityList": [{"epcClass": "urn:x:in", "quantity": 1, "uom": "KGM"}],
    }
    id_only = {
        "type": "TransformationEvent",
        "eventTime": "2024-04-01T11:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "transformationID": "urn:jindu:transformation:1",
    }
    # Inputs without outputs need a transformationID; a transformationID alone describes nothing.
    assert problems_of(minimal_document(inputs_only, id_only)) == [
        (f"{E}[0]", "required"),
        (f"{E}[1]", "required"),
    ]
    inputs_only["transformationID"] = "urn:jindu:transformation:1"
    assert parse_document(minimal_document(inputs_only)).events[0].output_quantities == []


def test_object_event_needs_what_and_ilmd_only_on_add() -> None:
    nothing = object_event(quantityList=None)
    empty_epcs = object_event(quantityList=None, epcList=[])
    ilmd_on_observe = object_event(ilmd={"cbvmda:lotNumber": "L1"})
    assert problems_of(minimal_document(nothing, empty_epcs, ilmd_on_observe)) == [
        (f"{E}[0]", "required"),
        (f"{E}[1]", "required"),
        (f"{E}[2].ilmd", "not_allowed"),
    ]


def test_identifiers_must_be_uris_and_lists_must_be_lists() -> None:
    data = minimal_document(
        object_event(quantityList=None, epcList="urn:epc:id:sgtin:0614141.107346.2017"),
        object_event(quantityList=None, epcList=["urn:epc:id:sgtin:0614141.107346.1", "drum 7", 5]),
        object_event(quantityList=None, epcList=["urn:epc:id:sscc:1.2", "urn:epc:id:sscc:1.2"]),
        object_event(readPoint={"name": "gate"}, bizLocation="urn:jindu:loc:1", eventID="event 1"),
    )
    assert problems_of(data) == [
        (f"{E}[0].epcList", "wrong_type"),
        (f"{E}[0]", "required"),
        (f"{E}[1].epcList[1]", "invalid_uri"),
        (f"{E}[1].epcList[2]", "invalid_uri"),
        (f"{E}[2].epcList", "duplicate"),
        (f"{E}[3].eventID", "invalid_uri"),
        (f"{E}[3].readPoint.name", "unknown_field"),
        (f"{E}[3].readPoint.id", "required"),
        (f"{E}[3].bizLocation", "not_object"),
    ]


def test_biz_transaction_and_source_destination_entries() -> None:
    event = object_event(
        bizTransactionList=[{"type": "po"}, {"type": "contract", "bizTransaction": "urn:jindu:c:1"}, "po-1"],
        sourceList=[
            {"source": "urn:jindu:party:1"},
            {"type": "owning_party", "source": "urn:jindu:party:1", "x": 1},
        ],
        destinationList=[{"type": "location"}],
    )
    assert problems_of(minimal_document(event)) == [
        (f"{E}[0].bizTransactionList[0].bizTransaction", "required"),
        (f"{E}[0].bizTransactionList[1].type", "unknown_vocabulary"),
        (f"{E}[0].bizTransactionList[2]", "not_object"),
        (f"{E}[0].sourceList[0].type", "required"),
        (f"{E}[0].sourceList[1].x", "unknown_field"),
        (f"{E}[0].destinationList[0].destination", "required"),
    ]


def test_error_declaration_needs_declaration_time() -> None:
    data = load("all_event_types.json")
    declaration = data["epcisBody"]["eventList"][5]["errorDeclaration"]
    del declaration["declarationTime"]
    declaration["reason"] = "typo"
    assert problems_of(data) == [
        (f"{E}[5].errorDeclaration.declarationTime", "required"),
        (f"{E}[5].errorDeclaration.reason", "unknown_vocabulary"),
    ]


def test_duplicate_event_id_is_reported_on_the_later_event() -> None:
    data = load("jindu_ledger.json")
    events = data["epcisBody"]["eventList"]
    events[5]["eventID"] = events[1]["eventID"]
    assert problems_of(data) == [(f"{E}[5].eventID", "duplicate")]


def test_too_many_events_is_one_problem() -> None:
    data = minimal_document(object_event(), object_event(), object_event(action="MOVE"))
    assert problems_of(data, max_events=2) == [(f"{E}", "too_many_events")]


def test_three_bad_events_are_all_reported() -> None:
    assert problems_of(load("invalid_three_bad_events.json")) == [
        (f"{E}[1].action", "invalid_value"),
        (f"{E}[2].quantityList[0].quantity", "negative_quantity"),
        (f"{E}[3].eventTimeZoneOffset", "required"),
    ]


def test_event_that_is_not_an_object() -> None:
    assert problems_of(minimal_document(object_event(), "ObjectEvent", None)) == [
        (f"{E}[1]", "not_object"),
        (f"{E}[2]", "not_object"),
    ]


def test_problem_messages_and_error_text() -> None:
    with pytest.raises(EpcisDocumentError) as caught:
        parse_document(load("invalid_three_bad_events.json"))
    error = caught.value
    assert isinstance(error, ValueError)
    assert "MOVE" in error.problems[0].message
    assert str(error).startswith(f"Invalid EPCIS document: {E}[1].action:")
    assert str(error).endswith("(and 2 more)")
    assert error.problems[1].code == ProblemCode.NEGATIVE_QUANTITY


JUNK: list[Any] = [
    None,
    True,
    0,
    -1.5,
    "",
    "x",
    "urn:x:y",
    [],
    [None],
    [{}],
    {},
    {"id": []},
    [[1]],
    {"a": {}},
]


def _all_paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every member path in a JSON tree (dict keys and list indices), parents before children."""
    paths: list[tuple[str | int, ...]] = []
    members: Any = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    )
    for key, child in members:
        paths.append((*prefix, key))
        paths.extend(_all_paths(child, (*prefix, key)))
    return paths


@pytest.mark.parametrize("fixture", ["all_event_types.json", "jindu_ledger.json"])
def test_junk_anywhere_never_raises_anything_but_the_document_error(fixture: str) -> None:
    """Replace every member at every depth (envelope, events, quantity elements, ...) with junk values: the
    parser either accepts the document or raises EpcisDocumentError, never TypeError/KeyError/AttributeError."""
    original = load(fixture)
    paths = _all_paths(original)
    assert len(paths) > 100
    for path in paths:
        for junk in JUNK:
            data = copy.deepcopy(original)
            container: Any = data
            for step in path[:-1]:
                container = container[step]
            container[path[-1]] = junk
            try:
                parse_document(data)
            except EpcisDocumentError as error:
                assert error.problems, (path, junk)


def test_non_string_keys_from_python_callers_are_problems() -> None:
    event: dict[Any, Any] = object_event()
    event[7] = "seven"
    event["quantityList"][0][None] = 1
    assert problems_of(minimal_document(event)) == [
        (f"{E}[0]['7']", "unknown_field"),
        (f"{E}[0].quantityList[0].None", "unknown_field"),
    ]
