"""Wastewater API: anomalies (mounted under /api/v1/wastewater/ by api.py)."""

from ninja import Router

router = Router(tags=["wastewater"])
