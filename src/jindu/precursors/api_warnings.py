"""Precursors API: warnings (mounted by api.py under the same prefix)."""

from ninja import Router

router = Router(tags=["precursors"])
