"""People API: kpis endpoints (mounted by jindu.people.api)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["people"])
