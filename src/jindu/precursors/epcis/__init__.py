"""GS1 EPCIS 2.0 (JSON / JSON-LD) validation and parsing for precursor ledgers (易制毒化学品台账).

``parse_document`` validates a capture document completely and returns normalised ``CapturedEvent`` objects, or
raises ``EpcisDocumentError`` listing every problem with its JSON path. ``vocab`` holds the CBV 2.0 vocabularies.
"""

from __future__ import annotations

from jindu.precursors.epcis.document import (
    DEFAULT_MAX_EVENTS,
    CapturedEvent,
    EpcisDocumentError,
    EpcisProblem,
    ErrorDeclarationInfo,
    ParsedDocument,
    ProblemCode,
    QuantityElement,
    event_content_hash,
    event_to_json,
    parse_document,
    parse_epcis_time,
    query_document,
)

__all__ = [
    "DEFAULT_MAX_EVENTS",
    "CapturedEvent",
    "EpcisDocumentError",
    "EpcisProblem",
    "ErrorDeclarationInfo",
    "ParsedDocument",
    "ProblemCode",
    "QuantityElement",
    "event_content_hash",
    "event_to_json",
    "parse_document",
    "parse_epcis_time",
    "query_document",
]
