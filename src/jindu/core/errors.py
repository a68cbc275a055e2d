"""Errors raised by services and fetchers; the API and the UI turn them into 4xx responses."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _
from django.utils.translation import pgettext


class ServiceError(Exception):
    """A request the service refuses: bad input or a rule that forbids it (HTTP 400 unless said otherwise)."""

    status = 400

    def __init__(self, message: str, *, code: str = "invalid", fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields or {}


class NotFound(ServiceError):
    """The object does not exist or lies outside the caller's scope (the two are indistinguishable)."""

    status = 404

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message if message is not None else _("Not found."), code="not_found")


class Forbidden(ServiceError):
    """The caller's role does not allow this action."""

    status = 403

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message if message is not None else _("You do not have permission to do this."), code="forbidden"
        )


class BreakGlassRequired(ServiceError):
    """The protected record lies in the search scope but outside the capture scope: a reason is needed."""

    status = 403

    def __init__(self, object_type: str, object_id: str) -> None:
        super().__init__(
            _("This record is protected: state a reason to open it (break the glass)."),
            code="break_glass_required",
        )
        self.object_type = object_type
        self.object_id = object_id
        self.fields = {"object_type": object_type, "object_id": object_id}


def join_problems(problems: Iterable[str]) -> str:
    """Several problems as one message, with the separator of the active language."""
    # Translators: separates problems listed in one error message (keep the trailing space if any).
    return pgettext("separator between problems", "; ").join(str(problem) for problem in problems)
