"""Shared API plumbing: bearer/session auth, the one error shape, pagination and rate limits.

Every Jindu endpoint answers errors as ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.pagination import PaginationBase
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import Field

from jindu.core.accounts import token_lookup
from jindu.core.context import client_address_from_meta
from jindu.core.errors import ServiceError


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, str] = {}


class ErrorOut(Schema):
    error: ErrorDetail


class BearerAuth(HttpBearer):
    """``Authorization: Bearer jdt_…`` — tokens are looked up by prefix and checked by SM3 digest."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = token_lookup(token)
        if api_token is None:
            return None
        request.user = api_token.user
        request.api_token = api_token  # type: ignore[attr-defined]
        return api_token.user


class SessionAuth(APIKeyCookie):
    """The logged-in browser session (for htmx calls from the UI), with Django's CSRF check."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


AUTH = [BearerAuth(), SessionAuth(csrf=True)]


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(ServiceError)
    def service_error(request: HttpRequest, exc: ServiceError) -> Any:
        return api.create_response(request, error_body(exc.code, exc.message, exc.fields), status=exc.status)

    @api.exception_handler(AuthenticationError)
    def not_authenticated(request: HttpRequest, exc: Exception) -> Any:
        return api.create_response(
            request,
            error_body(
                "not_authenticated", _("Authentication required: send 'Authorization: Bearer <token>'.")
            ),
            status=401,
        )

    @api.exception_handler(AuthorizationError)
    def not_authorized(request: HttpRequest, exc: Exception) -> Any:
        return api.create_response(
            request, error_body("forbidden", _("You do not have permission to do this.")), status=403
        )

    @api.exception_handler(NinjaValidationError)
    def invalid(request: HttpRequest, exc: NinjaValidationError) -> Any:
        fields: dict[str, str] = {}
        for problem in exc.errors:
            location = ".".join(
                str(part)
                for part in problem.get("loc", ())
                if part not in ("body", "query", "path", "payload")
            )
            fields[location or "request"] = problem.get("msg", "invalid")
        return api.create_response(
            request, error_body("validation_error", _("The request is not valid."), fields), status=422
        )

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Exception) -> Any:
        return api.create_response(request, error_body("not_found", _("Not found.")), status=404)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> Any:
        return api.create_response(
            request, error_body(f"http_{exc.status_code}", str(exc)), status=exc.status_code
        )


class RateLimited(ServiceError):
    status = 429


def rate_limit(request: HttpRequest, *, scope: str, limit: int, period_seconds: int = 60) -> None:
    """Fixed-window limit per client address; raises 429 with the error shape when exceeded."""
    address = client_address_from_meta(request.META, settings.JINDU_TRUSTED_PROXY_COUNT) or "unknown"
    key = f"ratelimit:{scope}:{address}"
    if cache.add(key, 1, period_seconds):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, period_seconds)
            count = 1
    if count > limit:
        raise RateLimited(
            _("Too many requests: at most %(limit)s per %(seconds)s seconds.")
            % {"limit": limit, "seconds": period_seconds},
            code="rate_limited",
        )


class PageNumber(PaginationBase):
    """``?page=&page_size=`` in, ``{"items", "count", "page", "page_size"}`` out."""

    class Input(Schema):
        page: int = Field(1, ge=1)
        page_size: int = Field(50, ge=1, le=500)

    class Output(Schema):
        items: list[Any]
        count: int
        page: int
        page_size: int

    items_attribute = "items"

    def paginate_queryset(self, queryset: Any, pagination: Input, **params: Any) -> Any:
        offset = (pagination.page - 1) * pagination.page_size
        return {
            "items": list(queryset[offset : offset + pagination.page_size]),
            "count": queryset.count()
            if hasattr(queryset, "count") and not isinstance(queryset, list)
            else len(queryset),
            "page": pagination.page,
            "page_size": pagination.page_size,
        }


# The error responses every endpoint may give, for the OpenAPI document.
ERRORS: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}


def date_parameter_value(value: str | None, name: str) -> dt.date | None:
    """An optional ``YYYY-MM-DD`` query parameter read from ``request.GET`` (``from`` and ``to`` are Python
    keywords, so endpoints read them by hand): None when absent or empty, a 400 naming it when malformed."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ServiceError(
            _("%(name)s must be a date like 2026-03-01.") % {"name": name}, fields={name: _("not a date")}
        ) from None
