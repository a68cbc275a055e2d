"""Precursors API: the substance catalogue, firms, and the EPCIS 2.0 capture and query interface (its REST
binding's ``/capture`` and ``/events``, under ``/api/v1/precursors/epcis/``)."""

import datetime as dt
import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from jindu.core.apiutil import ERRORS, PageNumber
from jindu.core.errors import NotFound, ServiceError
from jindu.core.scoping import require_permission
from jindu.precursors import selectors, services
from jindu.precursors.epcis.document import query_document
from jindu.precursors.models import EpcisCapture, Substance
from jindu.precursors.permissions import VIEW_PRECURSORS
from jindu.precursors.schemas import (
    BalanceOut,
    CaptureOut,
    CreditRatingOut,
    EnterpriseIn,
    EnterpriseOut,
    SubstanceOut,
)

router = Router(tags=["precursors"])
# Areas with their own modules (one owner each) are mounted under the same prefix.
router.add_router("", "jindu.precursors.api_permits.router")
router.add_router("", "jindu.precursors.api_warnings.router")
router.add_router("", "jindu.precursors.api_inspections.router")
router.add_router("", "jindu.precursors.api_annual_reports.router")


# Catalogue ----------------------------------------------------------------------------------------------


@router.get("/substances", response={200: list[SubstanceOut], **ERRORS}, summary="The substance catalogue")
def list_substances(request: HttpRequest, on: dt.date | None = None) -> Any:
    """Substances listed on ``on`` (default today); public within the platform to every signed-in user."""
    return list(Substance.objects.listed_on(on or timezone.localdate()))


# Firms -----------------------------------------------------------------------------------------------------


@router.post("/enterprises", response={201: EnterpriseOut, **ERRORS}, summary="Register a firm")
def create_enterprise(request: HttpRequest, payload: EnterpriseIn) -> Any:
    enterprise = services.enterprise_register(
        actor=request.user,
        uscc=payload.uscc,
        name=payload.name,
        org_unit_code=payload.org_unit,
        park_code=payload.park or "",
        address=payload.address,
        legal_representative=payload.legal_representative,
        responsible_person=payload.responsible_person,
        contact_phone=payload.contact_phone,
        activities=payload.activities,
    )
    return Status(201, enterprise)


@router.get("/enterprises", response={200: list[EnterpriseOut], **ERRORS}, summary="Firms I may see")
@paginate(PageNumber)
def list_enterprises(request: HttpRequest) -> Any:
    return (
        selectors.enterprises_for_user(request.user)
        .select_related("org_unit", "park")
        .order_by("org_path", "name")
    )


@router.get("/enterprises/{enterprise_id}", response={200: EnterpriseOut, **ERRORS}, summary="One firm")
def get_enterprise(request: HttpRequest, enterprise_id: int) -> Any:
    return selectors.access_enterprise(request.user, enterprise_id)


@router.get(
    "/enterprises/{enterprise_id}/credit",
    response={200: CreditRatingOut, **ERRORS},
    summary="The firm's latest credit rating with its reasons (the firm sees its own)",
)
def get_credit(request: HttpRequest, enterprise_id: int) -> Any:
    from jindu.precursors.rating import latest_rating

    rating = latest_rating(selectors.access_enterprise(request.user, enterprise_id))
    if rating is None:
        raise NotFound(_("This firm has not been rated yet."))
    return rating


@router.post(
    "/enterprises/{enterprise_id}/credit/recompute",
    response={201: CreditRatingOut, **ERRORS},
    summary="Rate the firm now (after an event that changes its credit)",
)
def recompute_credit(request: HttpRequest, enterprise_id: int) -> Any:
    from jindu.core.scoping import WRITE
    from jindu.precursors.rating import latest_rating, rate_enterprises

    enterprise = selectors.access_enterprise(request.user, enterprise_id, action=WRITE)
    if selectors.is_enterprise_user(request.user) and enterprise.pk in selectors.member_enterprise_ids(
        request.user
    ):
        raise NotFound()  # a firm does not rate itself
    rate_enterprises(enterprise_ids=[enterprise.pk], trigger="manual")
    return Status(201, latest_rating(enterprise))


# Balances -------------------------------------------------------------------------------------------------


@router.get(
    "/balances",
    response={200: list[BalanceOut], **ERRORS},
    summary="Monthly mass balances (kg pure) of the firms I may read",
)
def list_balances(
    request: HttpRequest, first_month: str, months: int = 1, enterprise: int | None = None
) -> Any:
    """Per firm, substance and month: the balance terms, book stock, counted stock, MUF, σ and status."""
    return selectors.balances_for_user(
        request.user, first_month=selectors.parse_month(first_month), months=months, enterprise_id=enterprise
    )


# EPCIS ------------------------------------------------------------------------------------------------------


def _capture_out(capture: EpcisCapture) -> dict[str, Any]:
    return {
        "captureID": str(capture.pk),
        "enterprise": capture.enterprise.uscc,
        "received_at": capture.received_at,
        "event_count": capture.event_count,
        "duplicate_count": capture.duplicate_count,
        "warning_count": capture.warning_count,
        "document_digest": capture.document_digest,
    }


def _accepted(capture: EpcisCapture) -> JsonResponse:
    """202 with the capture's location, as the standard's REST binding answers a capture."""
    response = JsonResponse(CaptureOut(**_capture_out(capture)).model_dump(mode="json"), status=202)
    response["Location"] = f"/api/v1/precursors/epcis/capture/{capture.pk}"
    return response


@router.post(
    "/epcis/capture",
    response={202: CaptureOut, **ERRORS},
    summary="Capture an EPCIS 2.0 document (JSON or JSON-LD), stored whole or not at all",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/ld+json": {"schema": {"type": "object"}},
            },
        }
    },
)
def capture(request: HttpRequest) -> Any:
    """A firm's user captures its ledger events. A document with any syntax problem is refused (400) with the
    JSON path of every problem and nothing stored; business problems become warnings on the stored events.
    Answers 202 with the capture's location, as the standard's REST binding does; the capture is complete
    when the answer comes."""
    firm = selectors.capturing_enterprise(request.user)
    try:
        document = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as error:
        raise ServiceError(
            _("The request body is not JSON."), code="invalid_epcis", fields={"$": str(error)}
        ) from None
    stored = services.epcis_capture(
        actor=request.user, enterprise=firm, document=document, document_bytes=request.body
    )
    return _accepted(stored)


@router.post(
    "/ledger/upload",
    response={202: CaptureOut, **ERRORS},
    summary="Upload a ledger sheet (台账, .xlsx or .csv): captured as EPCIS events, whole or not at all",
)
def upload_ledger(request: HttpRequest, file: File[UploadedFile]) -> Any:
    """A firm's user uploads its ledger sheet; each row becomes an EPCIS event of one capture. Any bad cell
    refuses the sheet (400) with ``row N.column`` for every problem, and nothing is stored."""
    from jindu.precursors.ledger_upload import ledger_upload

    firm = selectors.capturing_enterprise(request.user)
    stored = ledger_upload(actor=request.user, enterprise=firm, filename=file.name or "", content=file.read())
    return _accepted(stored)


@router.get("/epcis/capture/{capture_id}", response={200: CaptureOut, **ERRORS}, summary="One capture")
def get_capture(request: HttpRequest, capture_id: int) -> Any:
    captures = EpcisCapture.objects.select_related("enterprise")
    if selectors.is_enterprise_user(request.user) and not request.user.has_jindu_perm(VIEW_PRECURSORS):
        captures = captures.filter(enterprise_id__in=selectors.member_enterprise_ids(request.user))
    else:
        captures = captures.for_user(request.user)
    found = captures.filter(pk=capture_id).first()
    if found is None:
        raise NotFound()
    return _capture_out(found)


class EventQuery(Schema):
    """The standard's simple event query parameters (lists are comma-separated)."""

    eventType: str = ""  # noqa: N815
    GE_eventTime: dt.datetime | None = None  # noqa: N815
    LT_eventTime: dt.datetime | None = None  # noqa: N815
    EQ_bizStep: str = ""  # noqa: N815
    EQ_bizLocation: str = ""  # noqa: N815
    EQ_readPoint: str = ""  # noqa: N815
    MATCH_anyEPCClass: str = ""  # noqa: N815
    perPage: int = Field(100, ge=1, le=1000)  # noqa: N815
    nextPageToken: str = ""  # noqa: N815


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _aware(name: str, value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ServiceError(
            _("%(name)s needs a time zone offset.") % {"name": name},
            fields={name: _("a time with an offset, e.g. 2026-01-01T00:00:00+08:00")},
        )
    return value


@router.get("/epcis/events", response={200: dict, **ERRORS}, summary="Query events (EPCISQueryDocument)")
def query_events(request: HttpRequest, filters: Query[EventQuery]) -> Any:
    """Events the caller may read, in event-time order, one page at a time (``perPage``; the ``Link`` header
    names the next page, with ``nextPageToken``)."""
    if not (selectors.is_enterprise_user(request.user) or request.user.has_jindu_perm(VIEW_PRECURSORS)):
        require_permission(request.user, VIEW_PRECURSORS)
    events = selectors.events_search(
        request.user,
        event_types=_split(filters.eventType),
        from_time=_aware("GE_eventTime", filters.GE_eventTime),
        until_time=_aware("LT_eventTime", filters.LT_eventTime),
        biz_steps=_split(filters.EQ_bizStep),
        biz_locations=_split(filters.EQ_bizLocation),
        read_points=_split(filters.EQ_readPoint),
        epc_classes=_split(filters.MATCH_anyEPCClass),
        after=selectors.decode_page_token(filters.nextPageToken) if filters.nextPageToken else None,
        limit=filters.perPage + 1,
    )
    more = len(events) > filters.perPage
    events = events[: filters.perPage]
    prefixes: dict[str, str] = {}
    for capture_prefixes in EpcisCapture.objects.filter(pk__in={e.capture_id for e in events}).values_list(
        "context_prefixes", flat=True
    ):
        prefixes.update(capture_prefixes or {})
    body = query_document(
        [
            {**event.document, "recordTime": event.record_time.isoformat().replace("+00:00", "Z")}
            for event in events
        ],
        prefixes=prefixes,
    )
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    if more:
        token = selectors.encode_page_token(events[-1].event_time, events[-1].pk)
        query = request.GET.copy()
        query["nextPageToken"] = token
        response["Link"] = f'<{request.path}?{query.urlencode()}>; rel="next"'
    return response
