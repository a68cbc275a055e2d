"""Fixtures of the people tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _default_policies(request: pytest.FixtureRequest) -> None:
    """The shipped policies come from a data migration; a transactional test elsewhere in the session
    flushes them, so database tests of this app put them back first."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from jindu.people.policies import install_default_policies

    install_default_policies()
