"""Shipped thresholds of the anomaly rules (the ``anomalies`` key of the wastewater settings) and their checks.

Kept apart from ``anomalies.py`` so that ``policies.py`` can import it without a cycle."""

from __future__ import annotations

from typing import Any

DEFAULT_ANOMALY_SETTINGS: dict[str, Any] = {}


def anomaly_settings_problems(settings: Any) -> list[str]:
    """Problems of the ``anomalies`` settings, as messages naming the key."""
    if not isinstance(settings, dict):
        return ["anomalies must be an object."]
    return []
