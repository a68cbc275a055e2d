"""Per-request context (client address, request id) that services read when writing audit records."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    client_address: str = ""
    channel: str = "cli"


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "jindu_request",
    default=RequestContext(),  # noqa: B039 - frozen dataclass, immutable
)


def current() -> RequestContext:
    return _current.get()


def set_current(context: RequestContext) -> contextvars.Token:
    return _current.set(context)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def client_address_from_meta(meta: dict, trusted_proxies: int) -> str:
    """REMOTE_ADDR, or the address the nearest trusted proxy saw (X-Forwarded-For) behind ``trusted_proxies``."""
    if trusted_proxies > 0:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= trusted_proxies:
            return forwarded[-trusted_proxies]
    return meta.get("REMOTE_ADDR", "")
