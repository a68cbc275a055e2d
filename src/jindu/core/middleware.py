"""Request middleware: client address into the audit context; idle session timeout."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from jindu.core import context


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        address = context.client_address_from_meta(request.META, settings.JINDU_TRUSTED_PROXY_COUNT)
        channel = "api" if request.path.startswith("/api/") else "web"
        token = context.set_current(context.RequestContext(client_address=address, channel=channel))
        try:
            return self.get_response(request)
        finally:
            context.reset(token)


IDLE_KEY = "jindu_last_activity"
ACTIVITY_RESOLUTION_SECONDS = 60
STARTED_KEY = "jindu_session_started"


class IdleTimeoutMiddleware:
    """Log a session out after JINDU_IDLE_TIMEOUT_SECONDS without a request (等保: 登录连接超时自动退出)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        # Bearer-token API calls carry no session cookie, so the user here is anonymous for them; any request
        # that arrives with a logged-in session is subject to the timeout, whatever headers it adds.
        has_session_user = user is not None and user.is_authenticated
        if has_session_user:
            now = int(time.time())
            last = request.session.get(IDLE_KEY)
            started = int(request.session.setdefault(STARTED_KEY, now))
            idle = last is not None and now - int(last) > settings.JINDU_IDLE_TIMEOUT_SECONDS
            # Activity extends the cookie, so the absolute lifetime is checked here, from the first request.
            expired = now - started > settings.JINDU_SESSION_MAX_SECONDS
            if idle or expired:
                from jindu.core.audit import audit_write

                audit_write(
                    action="LOGOUT",
                    actor=user,
                    obj=user,
                    detail={"reason": "idle timeout" if idle else "session lifetime"},
                )
                logout(request)
                if request.path.startswith("/api/"):
                    from django.http import JsonResponse

                    return JsonResponse(
                        {
                            "error": {
                                "code": "session_expired",
                                "message": "The session expired.",
                                "fields": {},
                            }
                        },
                        status=401,
                    )
                messages.info(request, _("You were logged out after a period of inactivity."))
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = "/login/"
                    return response
                return redirect("core:login")
            # Activity is stored at most once a minute: a session write per request would cost every page
            # three queries for a timeout measured in minutes.
            if last is None or now - int(last) >= ACTIVITY_RESOLUTION_SECONDS:
                request.session[IDLE_KEY] = now
        return self.get_response(request)
