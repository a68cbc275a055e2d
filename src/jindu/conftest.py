"""Fixtures shared by every Jindu app's tests (see jindu.core.testing.helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jindu.core.testing.helpers import build_tree, build_users


@pytest.fixture
def tree(db):
    return build_tree()


@pytest.fixture
def users(tree):
    return build_users()


@pytest.fixture(scope="session", autouse=True)
def _serial_live_server_on_sqlite() -> Iterator[None]:
    """On SQLite the live server shares the test's in-memory database connection with the threads that serve
    requests (Django's ``connections_override``). Two requests at once (a page and its htmx fragments) would
    then run their transactions interleaved on that one connection, and two audit records could take the same
    sequence number. Serve one request at a time there, as the embedded database serialises writers anyway;
    PostgreSQL keeps the threaded server, one connection per request."""
    from django.core.servers.basehttp import WSGIServer
    from django.db import connection
    from django.test.testcases import LiveServerThread

    if connection.vendor != "sqlite":
        yield
        return

    class SerialWSGIServer(WSGIServer):
        def __init__(self, *args: Any, connections_override: Any = None, **kwargs: Any) -> None:
            # Requests are served in the live server's own thread, which holds the overrides already.
            super().__init__(*args, **kwargs)

    original = LiveServerThread.server_class
    LiveServerThread.server_class = SerialWSGIServer
    yield
    LiveServerThread.server_class = original


@pytest.fixture
def english(settings) -> Iterator[None]:
    """Messages in English for tests that read them: the default language is zh-Hans (a request without a
    language cookie or Accept-Language gets Chinese), and a test that checks a message's wording checks the
    source string. The zh-Hans catalogue itself is checked by the i18n tests."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
