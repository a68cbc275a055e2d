"""Shipped weights of the office's own drug-situation index (the ``index`` key of the wastewater settings).

Kept apart from the outputs module so that ``policies.py`` can import it without a cycle."""

from __future__ import annotations

from typing import Any

DEFAULT_INDEX_SETTINGS: dict[str, Any] = {}


def index_settings_problems(settings: Any) -> list[str]:
    """Problems of the ``index`` settings, as messages naming the key."""
    if not isinstance(settings, dict):
        return ["index must be an object."]
    return []
