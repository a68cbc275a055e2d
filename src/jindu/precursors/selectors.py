"""Scoped reads of the precursors app.

Two kinds of users reach a firm's data: officials (offices, police) through their org-unit scope, like every
scoped record, and a firm's own users (role ``enterprise``) through the credit code their account names
(``User.enterprise_code``), which gives that firm and nothing else, whatever org unit the account carries.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from jindu.core.errors import Forbidden, NotFound, ServiceError
from jindu.core.scoping import READ, access_object
from jindu.precursors.models import Enterprise, EpcisEvent
from jindu.precursors.permissions import ACT_FOR_ENTERPRISE, VIEW_PRECURSORS


def is_enterprise_user(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.has_jindu_perm(ACT_FOR_ENTERPRISE)


def member_enterprise_ids(user: Any) -> list[int]:
    """The firm this user acts for, as a list of ids (empty while the firm is not registered)."""
    if not is_enterprise_user(user) or not user.enterprise_code:
        return []
    cached = getattr(user, "_jindu_enterprise_ids", None)
    if cached is None:
        cached = list(Enterprise.objects.filter(uscc=user.enterprise_code).values_list("pk", flat=True))
        user._jindu_enterprise_ids = cached
    return cached


def enterprises_for_user(user: Any) -> QuerySet[Enterprise]:
    """Firms the user may see: their own (firm users), plus those in scope (officials)."""
    visible = Enterprise.objects.for_user(user)
    if is_enterprise_user(user):
        visible = Enterprise.objects.filter(
            Q(pk__in=member_enterprise_ids(user)) | Q(pk__in=visible.values("pk"))
        )
    return visible


def access_enterprise(user: Any, pk: Any, *, action: str = READ) -> Enterprise:
    """One firm: a member acts for it, an official reads it (or changes it, with the right role) in scope."""
    if is_enterprise_user(user) and _as_int(pk) in member_enterprise_ids(user):
        return Enterprise.objects.select_related("org_unit").get(pk=pk)
    return access_object(user, Enterprise.objects.select_related("org_unit"), pk, action=action)


def acts_as_firm(user: Any) -> bool:
    """A firm's own user (no official reading permission): reaches their firm's records only."""
    return is_enterprise_user(user) and not user.has_jindu_perm(VIEW_PRECURSORS)


def own_enterprise(user: Any) -> Enterprise:
    """The firm the firm user's account acts for (with its org unit); 403 while it is not registered. Callers
    check first that the user is a firm user of the kind their action needs."""
    firm = Enterprise.objects.filter(pk__in=member_enterprise_ids(user)).select_related("org_unit").first()
    if firm is None:
        raise Forbidden(
            _("The firm %(code)s this account acts for is not registered yet.")
            % {"code": user.enterprise_code}
        )
    return firm


def capturing_enterprise(user: Any) -> Enterprise:
    """The firm a capture is for: the one the caller's account acts for. Only a firm's own users capture its
    ledger (an office reads ledgers, it does not write them)."""
    if not is_enterprise_user(user):
        raise Forbidden(_("Only a firm's own users capture its ledger events."))
    return own_enterprise(user)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def events_for_user(user: Any) -> QuerySet[EpcisEvent]:
    """EPCIS events the user may read: their firms' (firm users), or the firms in scope (officials)."""
    if is_enterprise_user(user) and not user.has_jindu_perm(VIEW_PRECURSORS):
        return EpcisEvent.objects.filter(enterprise_id__in=member_enterprise_ids(user))
    return EpcisEvent.objects.for_user(user)


def encode_page_token(event_time: dt.datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{event_time.isoformat()}|{pk}".encode()).decode("ascii")


def decode_page_token(token: str) -> tuple[dt.datetime, int]:
    try:
        when, pk = base64.urlsafe_b64decode(token.encode("ascii")).decode().split("|")
        moment = dt.datetime.fromisoformat(when)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(pk)
    except (ValueError, UnicodeError) as error:
        raise ServiceError(
            _("The page token is not valid."), code="invalid", fields={"nextPageToken": str(error)}
        ) from None


def events_search(
    user: Any,
    *,
    event_types: list[str] | None = None,
    from_time: dt.datetime | None = None,
    until_time: dt.datetime | None = None,
    biz_steps: list[str] | None = None,
    biz_locations: list[str] | None = None,
    read_points: list[str] | None = None,
    epc_classes: list[str] | None = None,
    after: tuple[dt.datetime, int] | None = None,
    limit: int = 100,
) -> list[EpcisEvent]:
    """One page of events in (event time, id) order, filtered like the standard's simple event query:
    event types, ``GE_eventTime``/``LT_eventTime``, ``EQ_bizStep``, ``EQ_bizLocation``, ``EQ_readPoint`` and
    ``MATCH_anyEPCClass`` (exact classes, or a pattern ending in ``*``). ``after`` continues a page."""
    events = events_for_user(user)
    if event_types:
        events = events.filter(event_type__in=event_types)
    if from_time:
        events = events.filter(event_time__gte=from_time)
    if until_time:
        events = events.filter(event_time__lt=until_time)
    if biz_steps:
        events = events.filter(biz_step__in=biz_steps)
    if biz_locations:
        events = events.filter(biz_location__in=biz_locations)
    if read_points:
        events = events.filter(read_point__in=read_points)
    if epc_classes:
        condition = Q()
        for pattern in epc_classes:
            if pattern.endswith("*"):
                condition |= Q(quantities__epc_class__startswith=pattern[:-1])
            else:
                condition |= Q(quantities__epc_class=pattern)
        events = events.filter(pk__in=EpcisEvent.objects.filter(condition).values("pk"))
    if after is not None:
        moment, pk = after
        events = events.filter(Q(event_time__gt=moment) | Q(event_time=moment, pk__gt=pk))
    return list(events.order_by("event_time", "pk")[:limit])


def visible_enterprise_ids(user: Any) -> list[int]:
    """Ids of the firms whose ledgers and balances the user may read."""
    if is_enterprise_user(user) and not user.has_jindu_perm(VIEW_PRECURSORS):
        return member_enterprise_ids(user)
    if not user.has_jindu_perm(VIEW_PRECURSORS):
        raise Forbidden()
    return list(enterprises_for_user(user).values_list("pk", flat=True))


def balances_for_user(
    user: Any, *, first_month: dt.date, months: int, enterprise_id: int | None = None
) -> list[dict[str, Any]]:
    """Monthly balances of the firms the user may read (or of one of them), as rows with the firm's credit
    code and name and the substance's code and name."""
    from jindu.precursors.balance import BalanceSettings
    from jindu.precursors.balances import monthly_balances
    from jindu.precursors.models import Substance

    if not 1 <= months <= 24:
        raise ServiceError(_("Between 1 and 24 months."), fields={"months": _("between 1 and 24")})
    ids = visible_enterprise_ids(user)
    if enterprise_id is not None:
        if enterprise_id not in ids:
            raise NotFound()
        ids = [enterprise_id]
    balances = monthly_balances(
        first_month=first_month, months=months, settings=BalanceSettings(), enterprise_ids=ids
    )
    firms = {firm.pk: firm for firm in Enterprise.objects.filter(pk__any=ids).only("pk", "uscc", "name")}
    substances = {s.pk: s for s in Substance.objects.all()}
    rows = []
    for balance in balances:
        result, terms = balance.result, balance.result.terms
        rows.append(
            {
                "enterprise_id": balance.enterprise_id,
                "enterprise": firms[balance.enterprise_id].uscc,
                "enterprise_name": firms[balance.enterprise_id].name,
                "substance": substances[balance.substance_id].code,
                "substance_name": substances[balance.substance_id].name_zh,
                "month": balance.month,
                "opening_stock": terms.opening_stock,
                "receipts": terms.receipts,
                "production": terms.production,
                "shipments": terms.shipments,
                "consumption": terms.consumption,
                "documented_losses": terms.documented_losses,
                "book_stock": result.book_stock,
                "closing_stock": result.closing_stock,
                "muf": result.muf,
                "sigma_muf": result.sigma_muf,
                "status": result.status,
            }
        )
    return rows


def parse_month(value: str, name: str = "first_month") -> dt.date:
    """``YYYY-MM`` → the first day of that month, or a 400 naming the parameter."""
    try:
        year, month = value.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(value)
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ServiceError(
            _("%(name)s is a month like 2026-03.") % {"name": name}, fields={name: _("a month like 2026-03")}
        ) from None
