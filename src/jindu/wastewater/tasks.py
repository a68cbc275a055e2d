"""Background work of the wastewater app, as jobs operators can follow (``core.jobs``)."""

from __future__ import annotations

from celery import shared_task

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


@register_job("wastewater_anomalies")
def anomalies_job(reporter: JobReporter, parameters: dict) -> dict:
    """The anomaly rules (``anomalies.run_anomalies``): ``as_of`` defaults to today, ``site_ids`` to every active
    site; ``since`` or ``full_history`` widen the judged window (after imports, for backfills)."""
    from jindu.wastewater.anomalies import run_anomalies, run_job_parameters

    summary = run_anomalies(**run_job_parameters(parameters))
    reporter.log(
        f"anomalies {summary['first_day']}–{summary['as_of']} at {summary['sites']} sites: "
        f"{summary['findings']} findings, {summary['created']} new, {summary['updated']} updated, "
        f"in {summary['seconds']} s"
    )
    return summary


@shared_task(name="jindu.wastewater.tasks.run_anomalies_nightly")
def run_anomalies_nightly() -> dict:
    """Nightly: the anomaly rules over the last window of every site, as a Job row operators can follow."""
    from jindu.core.jobs import job_start

    job = job_start(name="wastewater_anomalies")
    return {"job": job.pk}
