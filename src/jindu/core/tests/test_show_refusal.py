"""How the pages show a refused action: the message, then each problem it does not state already."""

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from jindu.core.errors import BreakGlassRequired, Forbidden, NotFound, ServiceError
from jindu.core.views import show_refusal


def shown(error: ServiceError) -> list[str]:
    request = RequestFactory().post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    show_refusal(request, error)
    return [message.message for message in get_messages(request)]


def test_problems_follow_the_message_once_and_the_status_is_left_out():
    error = ServiceError(
        "Not saved.", fields={"year": "in the future", "status": "draft", "note": "too long"}
    )
    assert shown(error) == ["Not saved. year: in the future; note: too long"]
    stated = ServiceError("The year is not valid: year: in the future", fields={"year": "in the future"})
    assert shown(stated) == ["The year is not valid: year: in the future"]
    partly = ServiceError(
        "Not valid: year: in the future", fields={"year": "in the future", "note": "required"}
    )
    assert shown(partly) == ["Not valid: year: in the future note: required"]


@pytest.mark.parametrize("error", [NotFound(), Forbidden("no"), BreakGlassRequired("people.person", "1")])
def test_access_errors_are_raised_for_ui_errors_to_answer(error):
    with pytest.raises(type(error)):
        shown(error)
