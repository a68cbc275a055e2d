"""Background work of the wastewater app, as jobs operators can follow (``core.jobs``)."""

from __future__ import annotations

from jindu.core.audit import audit_write
from jindu.core.jobs import JobReporter, register_job
from jindu.core.models import AuditAction
from jindu.wastewater.results import recompute_results


@register_job("wastewater_recompute")
def recompute_job(reporter: JobReporter, parameters: dict) -> dict:
    """Rewrite the results of the named sites (all sites without ``site_ids``), e.g. after a settings change."""
    site_ids = parameters.get("site_ids")
    written = recompute_results(site_ids=site_ids)
    audit_write(
        action=AuditAction.UPDATE,
        object_type="wastewater.analyteresult",
        object_repr=f"{written} results",
        detail={"sites": len(site_ids) if site_ids is not None else "all", "results": written},
    )
    reporter.log(f"recomputed {written} results")
    return {"results": written}
