"""Writes of the precursors app: each service is one transaction and writes its own audit record."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.crypto import get_provider
from jindu.core.errors import NotFound, ServiceError
from jindu.core.gcpause import gc_paused
from jindu.core.models import AuditAction, OrgUnit
from jindu.core.scoping import WRITE, capture_root_ids, in_roots, user_may
from jindu.core.validators import validate_uscc
from jindu.precursors.epcis.document import CapturedEvent, EpcisDocumentError, parse_document
from jindu.precursors.ledger import balance_terms
from jindu.precursors.models import (
    CaptureSource,
    Enterprise,
    EpcisCapture,
    EpcisEvent,
    EpcisQuantity,
    IndustrialPark,
    ProductClass,
    Site,
    Substance,
)
from jindu.precursors.quantities import ACCEPTED_UNITS, QuantityError, to_kg_pure


class DuplicateEnterprise(ServiceError):
    status = 409


ACTIVITIES = ("produce", "trade", "use", "store", "transport", "import_export")


def _join(fields: dict[str, str]) -> str:
    return "; ".join(f"{name}: {message}" for name, message in fields.items())


def enterprise_register(
    *,
    actor: Any,
    uscc: str,
    name: str,
    org_unit_code: str,
    park_code: str = "",
    address: str = "",
    legal_representative: str = "",
    responsible_person: str = "",
    contact_phone: str = "",
    activities: list[str] | None = None,
) -> Enterprise:
    """Register a firm under the district or county that supervises it (in the actor's capture scope; ``actor``
    None is the server operator: imports and the demo). The same credit code twice is refused (409)."""
    if actor is not None and not user_may(actor, Enterprise, WRITE):
        raise NotFound()
    fields: dict[str, str] = {}
    clean_uscc = ""
    try:
        clean_uscc = validate_uscc(uscc or "")
    except ValidationError as error:
        fields["uscc"] = " ".join(error.messages)
    name = (name or "").strip()
    if not name:
        fields["name"] = _("a name is required")
    unit = OrgUnit.objects.filter(code=org_unit_code or "").first()
    if unit is None or (actor is not None and not in_roots(unit.pk, capture_root_ids(actor))):
        fields["org_unit"] = _("org unit %(code)s is not in your capture scope") % {"code": org_unit_code}
    park = None
    if park_code:
        park = IndustrialPark.objects.filter(code=park_code).first()
        if park is None:
            fields["park"] = _("no industrial park %(code)s") % {"code": park_code}
    unknown = sorted(set(activities or []) - set(ACTIVITIES))
    if unknown:
        fields["activities"] = _("unknown activities: %(names)s (known: %(known)s)") % {
            "names": ", ".join(unknown),
            "known": ", ".join(ACTIVITIES),
        }
    if fields:
        raise ServiceError(
            _("The firm cannot be registered: %(problems)s") % {"problems": _join(fields)}, fields=fields
        )
    assert unit is not None
    if Enterprise.objects.filter(uscc=clean_uscc).exists():
        raise DuplicateEnterprise(
            _("A firm with this credit code is already registered."),
            code="duplicate_enterprise",
            fields={"uscc": _("already registered")},
        )
    try:
        with transaction.atomic():
            enterprise = Enterprise.objects.create(
                uscc=clean_uscc,
                name=name,
                org_unit=unit,
                park=park,
                address=address,
                legal_representative=legal_representative,
                responsible_person=responsible_person,
                contact_phone=contact_phone,
                activities=sorted(set(activities or [])),
            )
            audit_write(action=AuditAction.CREATE, actor=actor, obj=enterprise, detail={"uscc": clean_uscc})
    except IntegrityError:
        # Registered by someone else between the check and the insert.
        raise DuplicateEnterprise(
            _("A firm with this credit code is already registered."),
            code="duplicate_enterprise",
            fields={"uscc": _("already registered")},
        ) from None
    return enterprise


# One capture holds at most this many events (the standard lets a repository set its own limit).
MAX_CAPTURE_EVENTS = 10_000
JINDU_CLASS_PREFIX = "urn:jindu:class:"
JINDU_PARTY_PREFIX = "urn:jindu:party:"


class _Resolver:
    """Resolves what a document names, with one query per kind for the whole document: product classes to
    listed substances (and kg pure), party and location URIs to registered firms and sites."""

    def __init__(self, enterprise: Enterprise, events: list[CapturedEvent]) -> None:
        self.substances_by_cas: dict[str, Substance] = {}
        for substance in Substance.objects.all():
            for cas in [substance.cas, *substance.other_cas]:
                if cas:
                    self.substances_by_cas[cas] = substance
        self.products = {
            product.epc_class: product
            for product in ProductClass.objects.filter(enterprise=enterprise).select_related("substance")
        }
        parties: set[str] = set()
        locations: set[str] = set()
        for event in events:
            parties.update(uri for _kind, uri in (*event.sources, *event.destinations))
            locations.update(uri for uri in (event.read_point, event.biz_location) if uri)
        codes = [uri[len(JINDU_PARTY_PREFIX) :] for uri in parties if uri.startswith(JINDU_PARTY_PREFIX)]
        self.known_parties = {
            JINDU_PARTY_PREFIX + uscc
            for uscc in Enterprise.objects.filter(uscc__in=codes).values_list("uscc", flat=True)
        }
        self.known_locations = set(
            Site.objects.filter(location_uri__in=[*parties, *locations]).values_list(
                "location_uri", flat=True
            )
        )

    def substance_of(self, epc_class: str) -> tuple[Substance | None, Decimal, Decimal | None]:
        """(substance, mass fraction, density) of a class, from the firm's product classes or from a
        ``urn:jindu:class:<CAS>:<lot>`` name (taken as pure)."""
        product = self.products.get(epc_class)
        if product is not None:
            return product.substance, product.mass_fraction, product.density_kg_per_l
        if epc_class.startswith(JINDU_CLASS_PREFIX):
            cas = epc_class[len(JINDU_CLASS_PREFIX) :].split(":", 1)[0]
            return self.substances_by_cas.get(cas), Decimal(1), None
        return None, Decimal(1), None

    def knows_party(self, uri: str) -> bool:
        return uri in self.known_parties or uri in self.known_locations


def _positive_decimal(value: Any) -> Decimal | None:
    """A positive number from an extension field, else None (a bad value is the quantity's warning later)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() and number > 0 else None


def _quantity_rows(
    event: CapturedEvent, resolver: _Resolver, warnings: list[dict[str, str]]
) -> list[tuple[str, Any, Substance | None, Decimal | None, str]]:
    """(role, quantity element, substance, kg pure, balance term) for each quantity element of an event."""
    terms = balance_terms(event)
    # A ledger without product master data (an uploaded sheet) states concentration and density on the event.
    event_fraction = _positive_decimal(event.extensions.get("jd:massFraction"))
    event_density = _positive_decimal(event.extensions.get("jd:densityKgPerL"))
    rows = []
    for role, elements in (
        ("quantity", event.quantities),
        ("child", event.child_quantities),
        ("input", event.input_quantities),
        ("output", event.output_quantities),
    ):
        for index, element in enumerate(elements):
            substance, fraction, density = resolver.substance_of(element.epc_class)
            if element.epc_class not in resolver.products:
                fraction = event_fraction or fraction
                density = event_density or density
            kg: Decimal | None = None
            if substance is None:
                warnings.append(
                    {
                        "code": "unknown_class",
                        "path": f"{role}[{index}]",
                        "message": _("The class %(class)s is not a listed substance or a registered product.")
                        % {"class": element.epc_class},
                    }
                )
            elif element.quantity is not None:
                try:
                    kg = to_kg_pure(
                        element.quantity, element.uom or "", mass_fraction=fraction, density_kg_per_l=density
                    )
                except QuantityError as error:
                    warnings.append(
                        {"code": "unconvertible_quantity", "path": f"{role}[{index}]", "message": str(error)}
                    )
            elif substance is not None and element.quantity is None:
                warnings.append(
                    {"code": "no_quantity", "path": f"{role}[{index}]", "message": _("No quantity given.")}
                )
            rows.append((role, element, substance, kg, terms.get(role, "")))
    return rows


def _event_warnings(
    event: CapturedEvent, resolver: _Resolver, received_at: dt.datetime
) -> list[dict[str, str]]:
    """Business checks that never refuse a capture: they are stored with the event for the office to see."""
    warnings: list[dict[str, str]] = []
    for list_name, entries in (("sourceList", event.sources), ("destinationList", event.destinations)):
        for index, (_kind, uri) in enumerate(entries):
            if not resolver.knows_party(uri):
                warnings.append(
                    {
                        "code": "unknown_party",
                        "path": f"{list_name}[{index}]",
                        "message": _("%(party)s is not a registered firm or site.") % {"party": uri},
                    }
                )
    for field_name, location in (("readPoint", event.read_point), ("bizLocation", event.biz_location)):
        if location and location not in resolver.known_locations:
            warnings.append(
                {
                    "code": "unknown_location",
                    "path": field_name,
                    "message": _("%(location)s is not a registered site.") % {"location": location},
                }
            )
    if event.event_time > received_at + dt.timedelta(minutes=5):
        warnings.append(
            {
                "code": "future_event_time",
                "path": "eventTime",
                "message": _("The event time is in the future."),
            }
        )
    return warnings


def epcis_capture(
    *,
    actor: Any,
    enterprise: Enterprise,
    document: Any,
    source: str = CaptureSource.EPCIS,
    document_bytes: bytes | None = None,
) -> EpcisCapture:
    """Capture an EPCIS 2.0 document for a firm: validated whole first (any syntax problem refuses the whole
    document with the JSON path of each problem, and nothing is stored), then every event stored in one
    transaction with its quantities in kg pure and its balance terms. Business checks (unknown classes,
    parties or sites; future times) become warnings on the events, never refusals. An event already captured
    for this firm (same content) is skipped, so a client may resend a document safely."""
    # A document of 1,000 events makes some 200,000 acyclic objects, which set off the collector again and again
    # (bench_precursors: p95 per document 313 ms with it, 244 ms with the pause).
    with gc_paused():
        return _epcis_capture(
            actor=actor,
            enterprise=enterprise,
            document=document,
            source=source,
            document_bytes=document_bytes,
        )


def _epcis_capture(
    *, actor: Any, enterprise: Enterprise, document: Any, source: str, document_bytes: bytes | None
) -> EpcisCapture:
    try:
        # Only units the platform converts to kg: anything else is refused as bad input (400), not stored.
        parsed = parse_document(
            document, max_events=MAX_CAPTURE_EVENTS, accepted_uoms=frozenset(ACCEPTED_UNITS)
        )
    except EpcisDocumentError as error:
        raise ServiceError(
            _("The EPCIS document is not valid: %(count)s problem(s).") % {"count": len(error.problems)},
            code="invalid_epcis",
            fields={problem.path: problem.message for problem in error.problems},
        ) from None
    received_at = timezone.now()
    # The SM3 digest of the document as received (the request body) when there is one, else of its canonical
    # JSON: the capture's evidence that these bytes were what the firm sent.
    if document_bytes is None:
        document_bytes = json.dumps(document, sort_keys=True, ensure_ascii=False).encode("utf-8")
    digest = get_provider().sm3(document_bytes)
    resolver = _Resolver(enterprise, parsed.events)
    with transaction.atomic():
        capture = EpcisCapture.objects.create(
            enterprise=enterprise,
            org_unit_id=enterprise.org_unit_id,
            submitted_by=actor if getattr(actor, "is_authenticated", False) else None,
            source=source,
            received_at=received_at,
            document_digest=digest,
            context_prefixes=parsed.context_prefixes,
        )
        seen = set(
            EpcisEvent.objects.filter(
                enterprise=enterprise, content_hash__any=[event.content_hash for event in parsed.events]
            ).values_list("content_hash", flat=True)
        )
        events: list[tuple[CapturedEvent, list[dict[str, str]], list[Any]]] = []
        duplicates = 0
        for event in parsed.events:
            if event.content_hash in seen:
                duplicates += 1
                continue
            seen.add(event.content_hash)
            warnings = _event_warnings(event, resolver, received_at)
            quantities = _quantity_rows(event, resolver, warnings)
            events.append((event, warnings, quantities))
        # Permits the events name: warnings (never refusals), and the caps they use up (one query, none when
        # the document names no permit).
        from jindu.precursors.permits import permit_warnings_and_consumption

        permit_checks = permit_warnings_and_consumption(
            enterprise,
            [(event, quantities) for event, _w, quantities in events],
            actor=actor,
            capture=capture,
        )
        for index, permit_warnings in permit_checks.items():
            events[index][1].extend(permit_warnings)
        _store_events(capture, enterprise, events, received_at)
        capture.event_count = len(events)
        capture.duplicate_count = duplicates
        capture.warning_count = sum(len(warnings) for _event, warnings, _q in events)
        capture.save(update_fields=["event_count", "duplicate_count", "warning_count"])
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=capture,
            detail={
                "enterprise": enterprise.uscc,
                "events": capture.event_count,
                "duplicates": duplicates,
                "warnings": capture.warning_count,
                "digest": digest,
            },
        )
    return capture


def _store_events(
    capture: EpcisCapture,
    enterprise: Enterprise,
    events: list[tuple[CapturedEvent, list[dict[str, str]], list[Any]]],
    received_at: dt.datetime,
) -> None:
    if not events:
        return
    if connection.vendor == "postgresql":
        _store_events_by_copy(capture, enterprise, events, received_at)
        return
    rows = EpcisEvent.objects.bulk_create(
        [
            EpcisEvent(
                capture=capture,
                enterprise=enterprise,
                org_unit_id=enterprise.org_unit_id,
                org_path=enterprise.org_path,
                created=received_at,
                last_updated=received_at,
                event_type=event.event_type,
                action=event.action or "",
                event_time=event.event_time,
                event_time_zone_offset=event.event_time_zone_offset,
                record_time=received_at,
                event_id=event.event_id or "",
                content_hash=event.content_hash,
                biz_step=event.biz_step or "",
                disposition=event.disposition or "",
                read_point=event.read_point or "",
                biz_location=event.biz_location or "",
                document=event.raw,
                warnings=warnings,
            )
            for event, warnings, _quantities in events
        ]
    )
    EpcisQuantity.objects.bulk_create(
        [
            EpcisQuantity(
                event=row,
                enterprise=enterprise,
                event_time=event.event_time,
                role=role,
                epc_class=element.epc_class,
                quantity=element.quantity,
                uom=element.uom or "",
                substance=substance,
                kg_pure=kg,
                balance_term=term,
            )
            for row, (event, _warnings, quantities) in zip(rows, events, strict=True)
            for role, element, substance, kg, term in quantities
        ]
    )


_EVENT_COLUMNS = (
    "id",
    "capture_id",
    "enterprise_id",
    "org_unit_id",
    "org_path",
    "created",
    "last_updated",
    "event_type",
    "action",
    "event_time",
    "event_time_zone_offset",
    "record_time",
    "event_id",
    "content_hash",
    "biz_step",
    "disposition",
    "read_point",
    "biz_location",
    "document",
    "warnings",
)
_QUANTITY_COLUMNS = (
    "event_id",
    "enterprise_id",
    "event_time",
    "role",
    "epc_class",
    "quantity",
    "uom",
    "substance_id",
    "kg_pure",
    "balance_term",
)


def _json_text(value: Any) -> str:
    """JSON text for COPY into a jsonb column. orjson, because the json module took a sixth of a capture's time
    here; the json module for what orjson refuses (integers beyond 64 bits, which a document may hold)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False)


def _store_events_by_copy(
    capture: EpcisCapture,
    enterprise: Enterprise,
    events: list[tuple[CapturedEvent, list[dict[str, str]], list[Any]]],
    received_at: dt.datetime,
) -> None:
    """``_store_events`` for PostgreSQL: ids drawn from the table's sequence in one statement, then both
    tables filled with COPY (model instances and INSERTs cost more than the parsing at thousands of events
    a second)."""
    event_table = EpcisEvent._meta.db_table
    quantity_table = EpcisQuantity._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [event_table, len(events)],
        )
        ids = [row[0] for row in raw.fetchall()]
        with raw.copy(f"COPY {event_table} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN") as copy:
            for pk, (event, warnings, _quantities) in zip(ids, events, strict=True):
                copy.write_row(
                    (
                        pk,
                        capture.pk,
                        enterprise.pk,
                        enterprise.org_unit_id,
                        enterprise.org_path,
                        received_at,
                        received_at,
                        event.event_type,
                        event.action or "",
                        event.event_time,
                        event.event_time_zone_offset,
                        received_at,
                        event.event_id or "",
                        event.content_hash,
                        event.biz_step or "",
                        event.disposition or "",
                        event.read_point or "",
                        event.biz_location or "",
                        _json_text(event.raw),
                        _json_text(warnings),
                    )
                )
        with raw.copy(f"COPY {quantity_table} ({', '.join(_QUANTITY_COLUMNS)}) FROM STDIN") as copy:
            for pk, (event, _warnings, quantities) in zip(ids, events, strict=True):
                for role, element, substance, kg, term in quantities:
                    copy.write_row(
                        (
                            pk,
                            enterprise.pk,
                            event.event_time,
                            role,
                            element.epc_class,
                            element.quantity,
                            element.uom or "",
                            substance.pk if substance else None,
                            kg,
                            term,
                        )
                    )
