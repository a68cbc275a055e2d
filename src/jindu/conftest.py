"""Fixtures shared by every Jindu app's tests (see jindu.core.testing.helpers)."""

from __future__ import annotations

import pytest

from jindu.core.testing.helpers import build_tree, build_users


@pytest.fixture
def tree(db):
    return build_tree()


@pytest.fixture
def users(tree):
    return build_users()
