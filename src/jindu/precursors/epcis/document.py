"""Validate and parse GS1 EPCIS 2.0 JSON / JSON-LD capture documents (``EPCISDocument``) for precursor ledgers.

``parse_document`` checks the whole document before returning anything and raises ``EpcisDocumentError`` with
every problem found, each located by a JSON path (``$.epcisBody.eventList[2].eventTime``), so the capture
endpoint can answer 400 with all problems at once and store nothing (issue 4: "stored whole or not at all").

The checks are hand-written rather than run through ``jsonschema``: capture must sustain 5,000 events/s
including database writes, and a generic schema validator costs milliseconds per event. They follow the EPCIS 2.0
JSON Schema and standard (precursors.md §3.1-3.4), with these documented choices:

- Only ``EPCISDocument`` is accepted (not ``EPCISQueryDocument`` or a bare event or list).
- ``schemaVersion`` must be the string ``"2.0"``.
- An empty ``eventList`` is valid, as in the standard; it parses to a document with no events.
- Event ``type`` must be one of the five standard event types; extension event types are rejected.
- Required "what" dimensions, per type (a problem on the event path when missing):
  ObjectEvent: non-empty ``epcList`` or non-empty ``quantityList``, or ``sensorElementList`` with ``readPoint``
  (the schema tolerates an empty ``epcList``; an event about nothing is useless in a ledger, so we do not);
  AggregationEvent: ``parentID`` unless action is OBSERVE, children unless action is DELETE;
  TransactionEvent: non-empty ``bizTransactionList``, and EPCs or quantities unless action is DELETE;
  TransformationEvent: no ``action``; at least one input and at least one output, or a ``transformationID`` with
  at least one input or output (so jindu's inputs-only "use in process" event needs a ``transformationID``);
  AssociationEvent: ``parentID``, children unless action is DELETE.
- ``ilmd`` only on ObjectEvent with action ADD, and on TransformationEvent.
- ``quantity`` is optional in a quantity element, but a ``uom`` without a quantity is an error; quantities are
  JSON numbers >= 0 (no strings, booleans, NaN or infinities); ``uom`` must be in the accepted Rec 20 set.
- Extension fields (event keys, ilmd keys, extra keys in readPoint/bizLocation/errorDeclaration) must be compact
  IRIs whose prefix ``@context`` declares (``jd`` included: it must be declared), or full http(s)/urn URIs.
- Identifiers (EPCs, epcClass, parentID, readPoint id, bizTransaction, source, destination, eventID) must be
  URIs: a scheme, ``:`` and no whitespace. Their content (SGTIN syntax etc.) is not checked.
- Times: RFC 3339 with seconds, an offset (``Z`` or ``±HH:MM``) and up to 9 fractional digits; digits past the
  6th are truncated because Python datetimes hold microseconds. All times are returned as aware UTC datetimes.

Problem codes (``EpcisProblem.code``) are the constants of ``ProblemCode``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, TypedDict

from jindu.precursors.epcis.vocab import (
    ACCEPTED_UOMS,
    ACTIONS,
    BIZ_STEP,
    BIZ_TRANSACTION_TYPE,
    DISPOSITION,
    ERROR_REASON,
    EVENT_TYPES,
    SOURCE_DESTINATION_TYPE,
    STANDARD_CONTEXT_URL,
    Vocabulary,
    VocabularyError,
    expand_compact_iri,
    normalise_vocabulary_value,
)

#: Default cap on events per capture document; larger batches must be split by the sender.
DEFAULT_MAX_EVENTS: Final = 10_000


class ProblemCode:
    """Machine codes used in ``EpcisProblem.code``."""

    INVALID_JSON: Final = "invalid_json"
    NOT_OBJECT: Final = "not_object"
    WRONG_TYPE: Final = "wrong_type"
    REQUIRED: Final = "required"
    EMPTY: Final = "empty"
    INVALID_VALUE: Final = "invalid_value"
    INVALID_TIME: Final = "invalid_time"
    INVALID_URI: Final = "invalid_uri"
    UNKNOWN_FIELD: Final = "unknown_field"
    NOT_ALLOWED: Final = "not_allowed"
    UNDECLARED_PREFIX: Final = "undeclared_prefix"
    UNKNOWN_VOCABULARY: Final = "unknown_vocabulary"
    INVALID_QUANTITY: Final = "invalid_quantity"
    NEGATIVE_QUANTITY: Final = "negative_quantity"
    UNKNOWN_UOM: Final = "unknown_uom"
    UOM_WITHOUT_QUANTITY: Final = "uom_without_quantity"
    DUPLICATE: Final = "duplicate"
    TOO_MANY_EVENTS: Final = "too_many_events"


@dataclass(slots=True)
class EpcisProblem:
    """One validation problem: where (JSON path), what (message) and a short machine ``code``."""

    path: str
    message: str
    code: str


class EpcisDocumentError(ValueError):
    """An EPCIS document that failed validation; ``problems`` lists every problem found, in document order."""

    def __init__(self, problems: Iterable[EpcisProblem]) -> None:
        self.problems: list[EpcisProblem] = list(problems)
        first = self.problems[0] if self.problems else None
        summary = f"{first.path}: {first.message}" if first else "invalid EPCIS document"
        more = len(self.problems) - 1
        super().__init__(f"Invalid EPCIS document: {summary}" + (f" (and {more} more)" if more > 0 else ""))


@dataclass(slots=True)
class QuantityElement:
    """A ``quantityList`` element: an EPC class (lot or product pattern URI), a quantity and a Rec 20 unit.

    ``quantity`` is ``None`` when the sender omitted it; ``uom`` is ``None`` for a plain count of instances.
    """

    epc_class: str
    quantity: Decimal | None
    uom: str | None


class ErrorDeclarationInfo(TypedDict):
    """A normalised ``errorDeclaration``: the event it sits on is declared erroneous from ``declaration_time``."""

    declaration_time: datetime
    reason: str | None
    corrective_event_ids: list[str]


@dataclass(slots=True)
class CapturedEvent:
    """One validated EPCIS event, normalised for storage and business checks.

    Vocabulary values (``biz_step``, ``disposition``, transaction and source/destination types, error reason) are
    CBV short names, or full URIs for custom values (compact IRIs expanded). Times are aware UTC datetimes.
    ``raw`` is the event dict exactly as received (the query API returns it); ``content_hash`` identifies the
    event content for idempotent capture (see ``event_content_hash``).
    """

    event_type: str
    action: str | None
    event_time: datetime
    event_time_zone_offset: str
    record_time: datetime | None
    event_id: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    epc_list: list[str]
    parent_id: str | None
    child_epcs: list[str]
    quantities: list[QuantityElement]
    child_quantities: list[QuantityElement]
    input_epcs: list[str]
    input_quantities: list[QuantityElement]
    output_epcs: list[str]
    output_quantities: list[QuantityElement]
    transformation_id: str | None
    biz_transactions: list[tuple[str | None, str]]
    sources: list[tuple[str, str]]
    destinations: list[tuple[str, str]]
    error_declaration: ErrorDeclarationInfo | None
    sensor_elements: list[Any]
    ilmd: dict[str, Any] | None
    extensions: dict[str, Any]
    raw: dict[str, Any]
    content_hash: str = ""
    persistent_disposition: dict[str, list[str]] | None = None
    """``{"set": [...], "unset": [...]}`` with normalised dispositions, or ``None``."""
    certification_info: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ParsedDocument:
    """A validated ``EPCISDocument``.

    ``context_prefixes`` maps the prefixes declared in the document's ``@context`` to their namespaces (the
    standard context's own prefixes such as ``cbv`` are not included unless redeclared); ``header`` is the raw
    ``epcisHeader`` (master data) if present.
    """

    schema_version: str
    creation_date: datetime
    sender: str | None
    receiver: str | None
    instance_identifier: str | None
    context_prefixes: dict[str, str]
    events: list[CapturedEvent]
    header: dict[str, Any] | None = None


# --- Field sets ------------------------------------------------------------------------------------------------

_COMMON_EVENT_KEYS: Final = frozenset(
    {
        "@context",
        "type",
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "errorDeclaration",
        "certificationInfo",
    }
)
_WHERE_WHY_KEYS: Final = frozenset(
    {
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
    }
)
_ALLOWED_EVENT_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "ObjectEvent": _COMMON_EVENT_KEYS | _WHERE_WHY_KEYS | {"action", "epcList", "quantityList", "ilmd"},
    "AggregationEvent": _COMMON_EVENT_KEYS
    | _WHERE_WHY_KEYS
    | {"action", "parentID", "childEPCs", "childQuantityList"},
    "TransactionEvent": _COMMON_EVENT_KEYS
    | _WHERE_WHY_KEYS
    | {"action", "parentID", "epcList", "quantityList"},
    "TransformationEvent": _COMMON_EVENT_KEYS
    | _WHERE_WHY_KEYS
    | {
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "ilmd",
    },
    "AssociationEvent": _COMMON_EVENT_KEYS
    | _WHERE_WHY_KEYS
    | {"action", "parentID", "childEPCs", "childQuantityList"},
}
#: Every standard event field; a standard field in the wrong event type is "not allowed", anything else "unknown".
_ALL_EVENT_KEYS: Final = frozenset().union(*_ALLOWED_EVENT_KEYS.values())

_DOCUMENT_KEYS: Final = frozenset(
    {
        "@context",
        "type",
        "id",
        "schemaVersion",
        "creationDate",
        "epcisHeader",
        "epcisBody",
        "sender",
        "receiver",
        "instanceIdentifier",
    }
)
_QUANTITY_KEYS: Final = frozenset({"epcClass", "quantity", "uom"})
_BIZ_TRANSACTION_KEYS: Final = frozenset({"type", "bizTransaction"})
_ERROR_DECLARATION_KEYS: Final = frozenset({"declarationTime", "reason", "correctiveEventIDs"})

# --- Low-level syntax ------------------------------------------------------------------------------------------

# RFC 3339 date-time with mandatory seconds and offset; up to 9 fractional digits (EPCIS allows nanoseconds).
_DATETIME_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z"
)
_TIME_ZONE_OFFSET_RE: Final = re.compile(r"[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00)\Z")
# A URI for our purposes: an RFC 3986 scheme, a colon, then no whitespace.
_URI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+\Z")
_IDENTIFIER_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _child(path: str, key: str) -> str:
    """JSON path of member ``key`` under ``path``: dot notation for plain names, bracket notation otherwise."""
    if _IDENTIFIER_RE.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def _is_uri(value: object) -> bool:
    return isinstance(value, str) and _URI_RE.match(value) is not None


def parse_epcis_time(value: str) -> datetime | None:
    """Parse an EPCIS/RFC 3339 date-time with offset into an aware UTC datetime; ``None`` if it is not one.

    Accepts ``2005-04-03T20:33:31.116000-06:00`` and ``...Z``; more than 6 fractional digits are truncated.
    """
    match = _DATETIME_RE.match(value)
    if match is None:
        return None
    text = value
    fraction = match.group(1)
    if fraction is not None and len(fraction) > 7:
        # Python datetimes hold microseconds: keep the dot and 6 digits.
        text = text[: match.start(1) + 7] + text[match.end(1) :]
    if "t" in text or "z" in text:
        text = text.upper()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # Well-formed but impossible, e.g. month 13 or a leap second.
        return None
    return parsed.astimezone(UTC)


def _to_decimal(value: object) -> Decimal | None:
    """A JSON number as Decimal; ``None`` for anything else (booleans, strings, NaN, infinities)."""
    if isinstance(value, bool):  # bool is a subclass of int, but true is not a quantity
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        # repr() is the shortest string that round-trips, so 12.5 -> Decimal("12.5"), not the binary expansion.
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return None


# --- Content hash ----------------------------------------------------------------------------------------------


# One encoder for all events: building it per call costs about a microsecond. ``default=str`` keeps Python callers
# that decoded numbers as Decimal from crashing (their hashes then differ from float-decoded ones; see below).
_CANONICAL_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True, default=str
)


def event_content_hash(event: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of an event's canonical JSON, ignoring ``recordTime``, for idempotent capture.

    Canonical JSON here is the event encoded with sorted keys, no whitespace and UTF-8 (no ASCII escapes), after
    dropping ``recordTime`` (the capture server may set it, so a re-sent event would otherwise look new). The
    same event re-sent with its keys in another order or another ``recordTime`` therefore hashes the same.

    This is NOT the CBV 2.0 event hash (``ni:///sha-256;...?ver=CBV2.0``). That algorithm expands every value to
    its canonical URI form, orders fields per event type, normalises numbers, times and EPC syntaxes and has
    rules for extensions; a correct implementation is a project of its own (``epcis-event-hash-generator``).
    Capture only needs "same event content in, same key out" to recognise a re-submitted event, which canonical
    JSON gives at a few microseconds per event. The price: semantically equal events written differently
    (``shipping`` vs ``cbv:BizStep-shipping``, ``+08:00`` vs ``Z`` times) hash differently. Number spelling in
    the JSON text does not matter (``12.50`` and ``12.5`` both decode to the float 12.5). Senders that need
    identity across systems should send an ``eventID``.
    """
    content = event if "recordTime" not in event else {k: v for k, v in event.items() if k != "recordTime"}
    canonical = _CANONICAL_ENCODER.encode(content)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- Validation ------------------------------------------------------------------------------------------------


class _Checker:
    """Collects problems for one document; holds the declared prefixes and the accepted units."""

    __slots__ = ("accepted_uoms", "prefixes", "problems")

    def __init__(self, accepted_uoms: frozenset[str]) -> None:
        self.problems: list[EpcisProblem] = []
        self.prefixes: dict[str, str] = {}
        self.accepted_uoms = accepted_uoms

    def add(self, path: str, message: str, code: str) -> None:
        self.problems.append(EpcisProblem(path, message, code))

    # --- scalars ---

    def time(self, value: object, path: str, name: str) -> datetime | None:
        if not isinstance(value, str):
            self.add(path, f"{name} must be a date-time string.", ProblemCode.WRONG_TYPE)
            return None
        parsed = parse_epcis_time(value)
        if parsed is None:
            self.add(
                path,
                f"{name} {value!r} is not an ISO 8601 date-time with seconds and a UTC offset "
                f"(e.g. 2005-04-03T20:33:31.116-06:00).",
                ProblemCode.INVALID_TIME,
            )
        return parsed

    def uri(self, value: object, path: str, name: str) -> str | None:
        if isinstance(value, str):
            if _URI_RE.match(value):
                return value
            self.add(
                path, f"{name} {value!r} is not a URI (scheme:rest, no spaces).", ProblemCode.INVALID_URI
            )
            return None
        self.add(path, f"{name} must be a URI string.", ProblemCode.WRONG_TYPE)
        return None

    def vocab(
        self, value: object, path: str, vocabulary: Vocabulary, prefixes: Mapping[str, str]
    ) -> str | None:
        if not isinstance(value, str):
            self.add(path, f"{vocabulary.field_name} must be a string.", ProblemCode.WRONG_TYPE)
            return None
        if value in vocabulary.values:  # the common case, without a call
            return value
        try:
            return normalise_vocabulary_value(value, vocabulary, prefixes)
        except VocabularyError as error:
            self.add(path, str(error), error.code)
            return None

    def extension_key(self, key: object, path: str, prefixes: Mapping[str, str], where: str) -> bool:
        """Check that ``key`` (not a standard field of ``where``) is a declared-prefix or full-URI extension."""
        if isinstance(key, str) and ":" in key:
            if expand_compact_iri(key, prefixes) is not None:
                return True
            self.add(
                _child(path, key),
                f"Extension field {key!r} uses the prefix {key.partition(':')[0]!r}, "
                f"which @context does not declare.",
                ProblemCode.UNDECLARED_PREFIX,
            )
            return False
        name = key if isinstance(key, str) else repr(key)
        self.add(
            _child(path, name),
            f"Unknown field {name!r} in {where}; extension fields need a namespace prefix declared in @context.",
            ProblemCode.UNKNOWN_FIELD,
        )
        return False

    # --- structures ---

    def context(self, value: object, path: str) -> dict[str, str]:
        """Validate an ``@context`` value and return the prefixes its object members declare."""
        prefixes: dict[str, str] = {}
        if isinstance(value, str):
            items: list[object] = [value]
        elif isinstance(value, dict):
            items = [value]
        elif isinstance(value, list):
            if not value:
                self.add(path, "@context must not be an empty list.", ProblemCode.EMPTY)
            items = value
        else:
            self.add(path, "@context must be a URI, an object or a list of them.", ProblemCode.WRONG_TYPE)
            return prefixes
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]" if isinstance(value, list) else path
            if isinstance(item, str):
                if not _URI_RE.match(item):
                    self.add(item_path, f"@context entry {item!r} is not a URI.", ProblemCode.INVALID_URI)
            elif isinstance(item, dict):
                for term, definition in item.items():
                    if not isinstance(term, str) or term.startswith("@") or ":" in term:
                        continue
                    namespace = definition.get("@id") if isinstance(definition, dict) else definition
                    if isinstance(namespace, str) and ":" in namespace:
                        prefixes[term] = namespace
            else:
                self.add(item_path, "@context entries must be URIs or objects.", ProblemCode.WRONG_TYPE)
        return prefixes

    def epc_list(self, value: object, path: str, name: str) -> list[str]:
        if not isinstance(value, list):
            self.add(path, f"{name} must be a list of URIs.", ProblemCode.WRONG_TYPE)
            return []
        for index, epc in enumerate(value):
            if not _is_uri(epc):
                self.add(
                    f"{path}[{index}]", f"{name} entries must be URIs, got {epc!r}.", ProblemCode.INVALID_URI
                )
        try:
            duplicated = len(set(value)) != len(value)
        except TypeError:  # unhashable entries, already reported as not URIs
            duplicated = False
        if duplicated:
            self.add(path, f"{name} lists the same EPC more than once.", ProblemCode.DUPLICATE)
        return value

    def quantity_list(self, value: object, path: str, name: str) -> list[QuantityElement]:
        if not isinstance(value, list):
            self.add(path, f"{name} must be a list of quantity elements.", ProblemCode.WRONG_TYPE)
            return []
        elements: list[QuantityElement] = []
        accepted_uoms = self.accepted_uoms
        for index, element in enumerate(value):
            if not isinstance(element, dict):
                self.add(f"{path}[{index}]", "A quantity element must be an object.", ProblemCode.NOT_OBJECT)
                continue
            for key in element:
                if key not in _QUANTITY_KEYS:
                    self.add(
                        _child(f"{path}[{index}]", str(key)),
                        f"Unknown field {key!r} in a quantity element (allowed: epcClass, quantity, uom).",
                        ProblemCode.UNKNOWN_FIELD,
                    )
            epc_class_value = element.get("epcClass")
            epc_class: str | None
            if epc_class_value is None:
                self.add(f"{path}[{index}].epcClass", "epcClass is required.", ProblemCode.REQUIRED)
                epc_class = None
            else:
                epc_class = self.uri(epc_class_value, f"{path}[{index}].epcClass", "epcClass")
            quantity: Decimal | None = None
            has_quantity = "quantity" in element
            if has_quantity:
                raw_quantity = element["quantity"]
                quantity = _to_decimal(raw_quantity)
                if quantity is None:
                    self.add(
                        f"{path}[{index}].quantity",
                        f"quantity must be a finite JSON number, got {raw_quantity!r}.",
                        ProblemCode.INVALID_QUANTITY,
                    )
                elif quantity < 0:
                    self.add(
                        f"{path}[{index}].quantity",
                        f"quantity must not be negative, got {raw_quantity!r}.",
                        ProblemCode.NEGATIVE_QUANTITY,
                    )
            uom = element.get("uom")
            if uom is not None:
                if not has_quantity:
                    self.add(
                        f"{path}[{index}].uom",
                        "uom is given without a quantity.",
                        ProblemCode.UOM_WITHOUT_QUANTITY,
                    )
                if not isinstance(uom, str):
                    self.add(f"{path}[{index}].uom", "uom must be a string.", ProblemCode.WRONG_TYPE)
                    uom = None
                elif uom not in accepted_uoms:
                    self.add(
                        f"{path}[{index}].uom",
                        f"Unknown unit {uom!r}; accepted UN/ECE Rec 20 codes: {', '.join(sorted(accepted_uoms))}.",
                        ProblemCode.UNKNOWN_UOM,
                    )
            if epc_class is not None:
                elements.append(QuantityElement(epc_class, quantity, uom))
        return elements

    def location(self, value: object, path: str, name: str, prefixes: Mapping[str, str]) -> str | None:
        if not isinstance(value, dict):
            self.add(path, f"{name} must be an object with an id.", ProblemCode.NOT_OBJECT)
            return None
        for key in value:
            if key != "id":
                self.extension_key(key, path, prefixes, name)
        if "id" not in value:
            self.add(f"{path}.id", f"{name}.id is required.", ProblemCode.REQUIRED)
            return None
        return self.uri(value["id"], f"{path}.id", f"{name}.id")

    def biz_transactions(
        self, value: object, path: str, prefixes: Mapping[str, str]
    ) -> list[tuple[str | None, str]]:
        if not isinstance(value, list):
            self.add(path, "bizTransactionList must be a list.", ProblemCode.WRONG_TYPE)
            return []
        result: list[tuple[str | None, str]] = []
        for index, entry in enumerate(value):
            entry_path = f"{path}[{index}]"
            if not isinstance(entry, dict):
                self.add(entry_path, "A bizTransaction entry must be an object.", ProblemCode.NOT_OBJECT)
                continue
            for key in entry:
                if key not in _BIZ_TRANSACTION_KEYS:
                    self.add(
                        _child(entry_path, str(key)),
                        f"Unknown field {key!r} in bizTransaction (allowed: type, bizTransaction).",
                        ProblemCode.UNKNOWN_FIELD,
                    )
            transaction_type: str | None = None
            if "type" in entry:
                transaction_type = self.vocab(
                    entry["type"], f"{entry_path}.type", BIZ_TRANSACTION_TYPE, prefixes
                )
            if "bizTransaction" not in entry:
                self.add(f"{entry_path}.bizTransaction", "bizTransaction is required.", ProblemCode.REQUIRED)
                continue
            transaction = self.uri(entry["bizTransaction"], f"{entry_path}.bizTransaction", "bizTransaction")
            if transaction is not None:
                result.append((transaction_type, transaction))
        return result

    def sources_or_destinations(
        self, value: object, path: str, member: str, prefixes: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        list_name = f"{member}List"
        if not isinstance(value, list):
            self.add(path, f"{list_name} must be a list.", ProblemCode.WRONG_TYPE)
            return []
        result: list[tuple[str, str]] = []
        for index, entry in enumerate(value):
            entry_path = f"{path}[{index}]"
            if not isinstance(entry, dict):
                self.add(entry_path, f"A {list_name} entry must be an object.", ProblemCode.NOT_OBJECT)
                continue
            for key in entry:
                if key != "type" and key != member:
                    self.add(
                        _child(entry_path, str(key)),
                        f"Unknown field {key!r} in {list_name} entry (allowed: type, {member}).",
                        ProblemCode.UNKNOWN_FIELD,
                    )
            party_type: str | None = None
            if "type" in entry:
                party_type = self.vocab(
                    entry["type"], f"{entry_path}.type", SOURCE_DESTINATION_TYPE, prefixes
                )
            else:
                self.add(f"{entry_path}.type", "type is required.", ProblemCode.REQUIRED)
            party: str | None = None
            if member in entry:
                party = self.uri(entry[member], f"{entry_path}.{member}", member)
            else:
                self.add(f"{entry_path}.{member}", f"{member} is required.", ProblemCode.REQUIRED)
            if party_type is not None and party is not None:
                result.append((party_type, party))
        return result

    def error_declaration(
        self, value: object, path: str, prefixes: Mapping[str, str]
    ) -> ErrorDeclarationInfo | None:
        if not isinstance(value, dict):
            self.add(path, "errorDeclaration must be an object.", ProblemCode.NOT_OBJECT)
            return None
        for key in value:
            if key not in _ERROR_DECLARATION_KEYS:
                self.extension_key(key, path, prefixes, "errorDeclaration")
        declaration_time: datetime | None = None
        if "declarationTime" in value:
            declaration_time = self.time(
                value["declarationTime"], f"{path}.declarationTime", "declarationTime"
            )
        else:
            self.add(f"{path}.declarationTime", "declarationTime is required.", ProblemCode.REQUIRED)
        reason: str | None = None
        if "reason" in value:
            reason = self.vocab(value["reason"], f"{path}.reason", ERROR_REASON, prefixes)
        corrective: list[str] = []
        if "correctiveEventIDs" in value:
            ids = value["correctiveEventIDs"]
            if isinstance(ids, list):
                for index, event_id in enumerate(ids):
                    checked = self.uri(
                        event_id, f"{path}.correctiveEventIDs[{index}]", "correctiveEventIDs entry"
                    )
                    if checked is not None:
                        corrective.append(checked)
            else:
                self.add(
                    f"{path}.correctiveEventIDs", "correctiveEventIDs must be a list.", ProblemCode.WRONG_TYPE
                )
        if declaration_time is None:
            return None
        return {"declaration_time": declaration_time, "reason": reason, "corrective_event_ids": corrective}

    def sensor_elements(self, value: object, path: str) -> list[Any]:
        # Sensor data is kept raw (it feeds the transport issue's GPS tracks); only its shell is checked here.
        if not isinstance(value, list):
            self.add(path, "sensorElementList must be a list.", ProblemCode.WRONG_TYPE)
            return []
        for index, element in enumerate(value):
            element_path = f"{path}[{index}]"
            if not isinstance(element, dict):
                self.add(element_path, "A sensorElement must be an object.", ProblemCode.NOT_OBJECT)
                continue
            reports = element.get("sensorReport")
            if reports is None:
                self.add(f"{element_path}.sensorReport", "sensorReport is required.", ProblemCode.REQUIRED)
            elif not isinstance(reports, list) or not reports:
                self.add(
                    f"{element_path}.sensorReport",
                    "sensorReport must be a non-empty list.",
                    ProblemCode.WRONG_TYPE,
                )
            else:
                for report_index, report in enumerate(reports):
                    if not isinstance(report, dict):
                        self.add(
                            f"{element_path}.sensorReport[{report_index}]",
                            "A sensorReport must be an object.",
                            ProblemCode.NOT_OBJECT,
                        )
            metadata = element.get("sensorMetadata")
            if metadata is not None and not isinstance(metadata, dict):
                self.add(
                    f"{element_path}.sensorMetadata",
                    "sensorMetadata must be an object.",
                    ProblemCode.NOT_OBJECT,
                )
        return value

    def ilmd(self, value: object, path: str, prefixes: Mapping[str, str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, "ilmd must be an object.", ProblemCode.NOT_OBJECT)
            return None
        for key in value:
            # ILMD has no standard members: every key is an extension (e.g. cbvmda:lotNumber, jd:batch).
            self.extension_key(key, path, prefixes, "ilmd")
        return value

    def persistent_disposition(
        self, value: object, path: str, prefixes: Mapping[str, str]
    ) -> dict[str, list[str]] | None:
        if not isinstance(value, dict):
            self.add(path, "persistentDisposition must be an object.", ProblemCode.NOT_OBJECT)
            return None
        result: dict[str, list[str]] = {"set": [], "unset": []}
        for key, entries in value.items():
            if key not in result:
                self.add(
                    _child(path, str(key)),
                    f"Unknown field {key!r} in persistentDisposition (allowed: set, unset).",
                    ProblemCode.UNKNOWN_FIELD,
                )
                continue
            if not isinstance(entries, list):
                self.add(
                    f"{path}.{key}", f"persistentDisposition.{key} must be a list.", ProblemCode.WRONG_TYPE
                )
                continue
            for index, entry in enumerate(entries):
                normalised = self.vocab(entry, f"{path}.{key}[{index}]", DISPOSITION, prefixes)
                if normalised is not None:
                    result[key].append(normalised)
        return result

    def certification_info(self, value: object, path: str) -> list[str]:
        if isinstance(value, str):
            checked = self.uri(value, path, "certificationInfo")
            return [checked] if checked is not None else []
        if isinstance(value, list):
            result: list[str] = []
            for index, entry in enumerate(value):
                checked = self.uri(entry, f"{path}[{index}]", "certificationInfo entry")
                if checked is not None:
                    result.append(checked)
            return result
        self.add(path, "certificationInfo must be a URI or a list of URIs.", ProblemCode.WRONG_TYPE)
        return []

    # --- events ---

    def event(self, raw: object, path: str) -> CapturedEvent | None:
        """Validate one event; return it normalised, or ``None`` if it had problems (which are recorded)."""
        if not isinstance(raw, dict):
            self.add(path, "An event must be a JSON object.", ProblemCode.NOT_OBJECT)
            return None
        problems_before = len(self.problems)
        prefixes: Mapping[str, str] = self.prefixes
        if "@context" in raw:
            # An event may carry its own @context; its prefixes add to (and override) the document's.
            prefixes = {**self.prefixes, **self.context(raw["@context"], f"{path}['@context']")}

        event_type = raw.get("type")
        if event_type is None:
            self.add(f"{path}.type", "type is required.", ProblemCode.REQUIRED)
        elif not isinstance(event_type, str) or event_type not in EVENT_TYPES:
            self.add(
                f"{path}.type",
                f"Unsupported event type {event_type!r}; expected one of {', '.join(sorted(EVENT_TYPES))}.",
                ProblemCode.INVALID_VALUE,
            )
            event_type = None
        allowed = _ALLOWED_EVENT_KEYS.get(event_type, _COMMON_EVENT_KEYS) if event_type else _ALL_EVENT_KEYS

        extensions: dict[str, Any] = {}
        for key in raw:
            if key in allowed:
                continue
            if key in _ALL_EVENT_KEYS:
                self.add(
                    _child(path, key), f"{key} is not allowed in a {event_type}.", ProblemCode.NOT_ALLOWED
                )
            elif self.extension_key(key, path, prefixes, "an event"):
                extensions[key] = raw[key]

        # When
        event_time: datetime | None = None
        if "eventTime" in raw:
            event_time = self.time(raw["eventTime"], f"{path}.eventTime", "eventTime")
        else:
            self.add(f"{path}.eventTime", "eventTime is required.", ProblemCode.REQUIRED)
        offset = raw.get("eventTimeZoneOffset")
        if offset is None:
            self.add(f"{path}.eventTimeZoneOffset", "eventTimeZoneOffset is required.", ProblemCode.REQUIRED)
        elif not isinstance(offset, str) or _TIME_ZONE_OFFSET_RE.match(offset) is None:
            self.add(
                f"{path}.eventTimeZoneOffset",
                f"eventTimeZoneOffset {offset!r} must look like +08:00 (range -13:59 to +14:00).",
                ProblemCode.INVALID_VALUE,
            )
        record_time = (
            self.time(raw["recordTime"], f"{path}.recordTime", "recordTime") if "recordTime" in raw else None
        )
        event_id = self.uri(raw["eventID"], f"{path}.eventID", "eventID") if "eventID" in raw else None
        error_declaration = (
            self.error_declaration(raw["errorDeclaration"], f"{path}.errorDeclaration", prefixes)
            if "errorDeclaration" in raw
            else None
        )
        certification_info = (
            self.certification_info(raw["certificationInfo"], f"{path}.certificationInfo")
            if "certificationInfo" in raw
            else []
        )

        # Why and where
        action: str | None = None
        if event_type is not None and event_type != "TransformationEvent":
            raw_action = raw.get("action")
            if raw_action is None:
                self.add(
                    f"{path}.action", "action is required (ADD, OBSERVE or DELETE).", ProblemCode.REQUIRED
                )
            elif not isinstance(raw_action, str) or raw_action not in ACTIONS:
                self.add(
                    f"{path}.action",
                    f"action {raw_action!r} must be ADD, OBSERVE or DELETE.",
                    ProblemCode.INVALID_VALUE,
                )
            else:
                action = raw_action
        biz_step = (
            self.vocab(raw["bizStep"], f"{path}.bizStep", BIZ_STEP, prefixes) if "bizStep" in raw else None
        )
        disposition = (
            self.vocab(raw["disposition"], f"{path}.disposition", DISPOSITION, prefixes)
            if "disposition" in raw
            else None
        )
        persistent_disposition = (
            self.persistent_disposition(
                raw["persistentDisposition"], f"{path}.persistentDisposition", prefixes
            )
            if "persistentDisposition" in raw
            else None
        )
        read_point = (
            self.location(raw["readPoint"], f"{path}.readPoint", "readPoint", prefixes)
            if "readPoint" in raw
            else None
        )
        biz_location = (
            self.location(raw["bizLocation"], f"{path}.bizLocation", "bizLocation", prefixes)
            if "bizLocation" in raw
            else None
        )
        biz_transactions = (
            self.biz_transactions(raw["bizTransactionList"], f"{path}.bizTransactionList", prefixes)
            if "bizTransactionList" in raw
            else []
        )
        sources = (
            self.sources_or_destinations(raw["sourceList"], f"{path}.sourceList", "source", prefixes)
            if "sourceList" in raw
            else []
        )
        destinations = (
            self.sources_or_destinations(
                raw["destinationList"], f"{path}.destinationList", "destination", prefixes
            )
            if "destinationList" in raw
            else []
        )
        sensor_elements = (
            self.sensor_elements(raw["sensorElementList"], f"{path}.sensorElementList")
            if "sensorElementList" in raw
            else []
        )
        ilmd = self.ilmd(raw["ilmd"], f"{path}.ilmd", prefixes) if "ilmd" in raw else None

        # What
        epc_list = self.epc_list(raw["epcList"], f"{path}.epcList", "epcList") if "epcList" in raw else []
        quantities = (
            self.quantity_list(raw["quantityList"], f"{path}.quantityList", "quantityList")
            if "quantityList" in raw
            else []
        )
        parent_id = self.uri(raw["parentID"], f"{path}.parentID", "parentID") if "parentID" in raw else None
        child_epcs = (
            self.epc_list(raw["childEPCs"], f"{path}.childEPCs", "childEPCs") if "childEPCs" in raw else []
        )
        child_quantities = (
            self.quantity_list(raw["childQuantityList"], f"{path}.childQuantityList", "childQuantityList")
            if "childQuantityList" in raw
            else []
        )
        input_epcs = (
            self.epc_list(raw["inputEPCList"], f"{path}.inputEPCList", "inputEPCList")
            if "inputEPCList" in raw
            else []
        )
        input_quantities = (
            self.quantity_list(raw["inputQuantityList"], f"{path}.inputQuantityList", "inputQuantityList")
            if "inputQuantityList" in raw
            else []
        )
        output_epcs = (
            self.epc_list(raw["outputEPCList"], f"{path}.outputEPCList", "outputEPCList")
            if "outputEPCList" in raw
            else []
        )
        output_quantities = (
            self.quantity_list(raw["outputQuantityList"], f"{path}.outputQuantityList", "outputQuantityList")
            if "outputQuantityList" in raw
            else []
        )
        transformation_id = (
            self.uri(raw["transformationID"], f"{path}.transformationID", "transformationID")
            if "transformationID" in raw
            else None
        )

        self.event_type_rules(raw, path, event_type, action)

        if len(self.problems) != problems_before or event_time is None or event_type is None:
            return None
        return CapturedEvent(
            event_type=event_type,
            action=action,
            event_time=event_time,
            event_time_zone_offset=offset,  # type: ignore[arg-type]  # checked by the regex above
            record_time=record_time,
            event_id=event_id,
            biz_step=biz_step,
            disposition=disposition,
            read_point=read_point,
            biz_location=biz_location,
            epc_list=epc_list,
            parent_id=parent_id,
            child_epcs=child_epcs,
            quantities=quantities,
            child_quantities=child_quantities,
            input_epcs=input_epcs,
            input_quantities=input_quantities,
            output_epcs=output_epcs,
            output_quantities=output_quantities,
            transformation_id=transformation_id,
            biz_transactions=biz_transactions,
            sources=sources,
            destinations=destinations,
            error_declaration=error_declaration,
            sensor_elements=sensor_elements,
            ilmd=ilmd,
            extensions=extensions,
            raw=raw,
            persistent_disposition=persistent_disposition,
            certification_info=certification_info,
        )

    def event_type_rules(
        self, raw: dict[str, Any], path: str, event_type: str | None, action: str | None
    ) -> None:
        """Per-type required fields (see the module docstring). Raw values are tested, so lists of the wrong
        type (already reported) do not count as present."""

        def non_empty(key: str) -> bool:
            value = raw.get(key)
            return isinstance(value, list) and len(value) > 0

        if event_type == "ObjectEvent":
            if not (
                non_empty("epcList")
                or non_empty("quantityList")
                or (non_empty("sensorElementList") and "readPoint" in raw)
            ):
                self.add(
                    path,
                    "An ObjectEvent needs a non-empty epcList or quantityList (or a sensorElementList with a readPoint).",
                    ProblemCode.REQUIRED,
                )
            if "ilmd" in raw and action is not None and action != "ADD":
                self.add(f"{path}.ilmd", "ilmd is only allowed when action is ADD.", ProblemCode.NOT_ALLOWED)
        elif event_type == "AggregationEvent":
            if action in ("ADD", "DELETE") and "parentID" not in raw:
                self.add(
                    f"{path}.parentID", f"parentID is required when action is {action}.", ProblemCode.REQUIRED
                )
            if action != "DELETE" and not (non_empty("childEPCs") or non_empty("childQuantityList")):
                self.add(
                    path,
                    "An AggregationEvent needs a non-empty childEPCs or childQuantityList.",
                    ProblemCode.REQUIRED,
                )
        elif event_type == "TransactionEvent":
            if "bizTransactionList" not in raw:
                self.add(
                    f"{path}.bizTransactionList", "bizTransactionList is required.", ProblemCode.REQUIRED
                )
            elif isinstance(raw["bizTransactionList"], list) and not raw["bizTransactionList"]:
                self.add(
                    f"{path}.bizTransactionList", "bizTransactionList must not be empty.", ProblemCode.EMPTY
                )
            if action != "DELETE" and not (non_empty("epcList") or non_empty("quantityList")):
                self.add(
                    path,
                    "A TransactionEvent needs a non-empty epcList or quantityList.",
                    ProblemCode.REQUIRED,
                )
        elif event_type == "TransformationEvent":
            has_input = non_empty("inputEPCList") or non_empty("inputQuantityList")
            has_output = non_empty("outputEPCList") or non_empty("outputQuantityList")
            if "transformationID" in raw:
                if not (has_input or has_output):
                    self.add(
                        path,
                        "A TransformationEvent needs at least one input or output.",
                        ProblemCode.REQUIRED,
                    )
            elif not (has_input and has_output):
                self.add(
                    path,
                    "A TransformationEvent without transformationID needs at least one input and one output.",
                    ProblemCode.REQUIRED,
                )
        elif event_type == "AssociationEvent":
            if "parentID" not in raw:
                self.add(f"{path}.parentID", "parentID is required.", ProblemCode.REQUIRED)
            if action != "DELETE" and not (non_empty("childEPCs") or non_empty("childQuantityList")):
                self.add(
                    path,
                    "An AssociationEvent needs a non-empty childEPCs or childQuantityList.",
                    ProblemCode.REQUIRED,
                )


def _optional_string(checker: _Checker, document: Mapping[str, Any], key: str) -> str | None:
    if key not in document:
        return None
    value = document[key]
    if not isinstance(value, str):
        checker.add(f"$.{key}", f"{key} must be a string.", ProblemCode.WRONG_TYPE)
        return None
    return value


def parse_document(
    data: Any, *, max_events: int = DEFAULT_MAX_EVENTS, accepted_uoms: frozenset[str] = ACCEPTED_UOMS
) -> ParsedDocument:
    """Validate an EPCIS 2.0 ``EPCISDocument`` and return it parsed; raise ``EpcisDocumentError`` otherwise.

    ``data`` is the decoded JSON (a dict), or the JSON text as ``str``/``bytes``. Everything is validated before
    anything is returned, and the error lists all problems with their JSON paths. ``max_events`` caps the event
    count (more is one problem, and the events are then not examined); ``accepted_uoms`` is the set of UN/ECE
    Rec 20 codes allowed in quantity lists (default ``vocab.ACCEPTED_UOMS``).
    """
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as error:
            raise EpcisDocumentError(
                [EpcisProblem("$", f"Not valid JSON: {error}", ProblemCode.INVALID_JSON)]
            )
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else type(data).__name__
        raise EpcisDocumentError(
            [
                EpcisProblem(
                    "$", f"An EPCIS document must be a JSON object, got {kind}.", ProblemCode.NOT_OBJECT
                )
            ]
        )

    checker = _Checker(accepted_uoms)
    document_type = data.get("type")
    if document_type is None:
        checker.add("$.type", 'type is required and must be "EPCISDocument".', ProblemCode.REQUIRED)
    elif document_type != "EPCISDocument":
        checker.add(
            "$.type", f'type must be "EPCISDocument", got {document_type!r}.', ProblemCode.INVALID_VALUE
        )

    if "@context" in data:
        checker.prefixes = checker.context(data["@context"], "$['@context']")
    else:
        checker.add(
            "$['@context']",
            f"@context is required (start it with {STANDARD_CONTEXT_URL}).",
            ProblemCode.REQUIRED,
        )

    schema_version = data.get("schemaVersion")
    if schema_version is None:
        checker.add("$.schemaVersion", 'schemaVersion is required ("2.0").', ProblemCode.REQUIRED)
    elif schema_version != "2.0":
        checker.add(
            "$.schemaVersion",
            f'schemaVersion must be the string "2.0", got {schema_version!r}.',
            ProblemCode.INVALID_VALUE if isinstance(schema_version, str) else ProblemCode.WRONG_TYPE,
        )

    creation_date: datetime | None = None
    if "creationDate" in data:
        creation_date = checker.time(data["creationDate"], "$.creationDate", "creationDate")
    else:
        checker.add("$.creationDate", "creationDate is required.", ProblemCode.REQUIRED)

    sender = _optional_string(checker, data, "sender")
    receiver = _optional_string(checker, data, "receiver")
    instance_identifier = _optional_string(checker, data, "instanceIdentifier")
    header = data.get("epcisHeader")
    if header is not None and not isinstance(header, dict):
        checker.add("$.epcisHeader", "epcisHeader must be an object.", ProblemCode.NOT_OBJECT)
        header = None

    for key in data:
        if key not in _DOCUMENT_KEYS:
            checker.extension_key(key, "$", checker.prefixes, "the document")

    events: list[CapturedEvent] = []
    body = data.get("epcisBody")
    if body is None:
        checker.add("$.epcisBody", "epcisBody is required.", ProblemCode.REQUIRED)
    elif not isinstance(body, dict):
        checker.add("$.epcisBody", "epcisBody must be an object.", ProblemCode.NOT_OBJECT)
    else:
        for key in body:
            if key != "eventList":
                checker.extension_key(key, "$.epcisBody", checker.prefixes, "epcisBody")
        event_list = body.get("eventList")
        if event_list is None:
            checker.add(
                "$.epcisBody.eventList", "eventList is required (it may be empty).", ProblemCode.REQUIRED
            )
        elif not isinstance(event_list, list):
            checker.add("$.epcisBody.eventList", "eventList must be a list.", ProblemCode.WRONG_TYPE)
        elif len(event_list) > max_events:
            checker.add(
                "$.epcisBody.eventList",
                f"The document has {len(event_list)} events; at most {max_events} are accepted per document.",
                ProblemCode.TOO_MANY_EVENTS,
            )
        else:
            first_index_of_id: dict[str, int] = {}
            for index, raw_event in enumerate(event_list):
                path = f"$.epcisBody.eventList[{index}]"
                event = checker.event(raw_event, path)
                event_id = raw_event.get("eventID") if isinstance(raw_event, dict) else None
                if isinstance(event_id, str):
                    first = first_index_of_id.setdefault(event_id, index)
                    if first != index:
                        checker.add(
                            f"{path}.eventID",
                            f"eventID {event_id!r} is already used by event {first} of this document.",
                            ProblemCode.DUPLICATE,
                        )
                if event is not None:
                    events.append(event)

    if not checker.problems:
        # Hash only a fully valid document: the error path should stay cheap.
        for index, event in enumerate(events):
            try:
                event.content_hash = event_content_hash(event.raw)
            except (TypeError, ValueError, RecursionError) as error:
                # Only reachable from Python callers passing non-JSON objects (cycles, exotic types).
                checker.add(
                    f"$.epcisBody.eventList[{index}]",
                    f"Event is not JSON data: {error}",
                    ProblemCode.WRONG_TYPE,
                )
    if checker.problems or creation_date is None:
        raise EpcisDocumentError(checker.problems)
    return ParsedDocument(
        schema_version="2.0",
        creation_date=creation_date,
        sender=sender,
        receiver=receiver,
        instance_identifier=instance_identifier,
        context_prefixes=checker.prefixes,
        events=events,
        header=header,
    )


# --- Serialisation ---------------------------------------------------------------------------------------------


def event_to_json(event: CapturedEvent) -> dict[str, Any]:
    """The event as JSON data for the query API: a shallow copy of the dict received at capture."""
    return dict(event.raw)


def query_document(
    events: list[dict[str, Any]],
    *,
    prefixes: Mapping[str, str] | None = None,
    query_name: str = "SimpleEventQuery",
    subscription_id: str | None = None,
    creation_date: datetime | None = None,
) -> dict[str, Any]:
    """Wrap raw events in an ``EPCISQueryDocument`` (``epcisBody.queryResults.resultsBody.eventList``).

    ``prefixes`` are the namespace prefixes the events use (e.g. ``{"jd": "https://jindu.example/voc/"}``), added
    to the standard @context; pass the union of the prefixes declared by the capture documents the events came
    from. ``creation_date`` defaults to now (UTC); it must be timezone-aware.
    """
    if creation_date is None:
        creation_date = datetime.now(UTC)
    elif creation_date.tzinfo is None:
        raise ValueError("creation_date must be timezone-aware.")
    context: list[Any] = [STANDARD_CONTEXT_URL]
    if prefixes:
        context.append(dict(prefixes))
    query_results: dict[str, Any] = {"queryName": query_name}
    if subscription_id is not None:
        query_results["subscriptionID"] = subscription_id
    query_results["resultsBody"] = {"eventList": events}
    return {
        "@context": context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": creation_date.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "epcisBody": {"queryResults": query_results},
    }
