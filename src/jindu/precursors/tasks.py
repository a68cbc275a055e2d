"""Celery tasks and jobs of the precursors app."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from jindu.core.jobs import JobReporter, register_job


@shared_task(name="jindu.precursors.tasks.run_diversion_warnings")
def run_diversion_warnings() -> dict:
    """Nightly: evaluate the diversion-warning rules for yesterday (the last complete day), as a Job row
    operators can follow."""
    from jindu.core.jobs import job_start

    job = job_start(name="precursors_warnings")
    return {"job": job.pk}


@register_job("precursors_warnings")
def precursors_warnings_job(reporter: JobReporter, parameters: dict) -> dict:
    """The rules engine as a job: ``as_of`` (ISO date) defaults to yesterday, ``enterprise_ids`` to every firm."""
    from django.utils import timezone

    from jindu.precursors.warnings import run_warnings

    as_of = (
        dt.date.fromisoformat(parameters["as_of"])
        if parameters.get("as_of")
        else timezone.localdate() - dt.timedelta(days=1)
    )
    summary = run_warnings(as_of, enterprise_ids=parameters.get("enterprise_ids"))
    reporter.log(
        f"warnings for {summary['as_of']}: {summary['findings']} findings, {summary['created']} new, "
        f"{summary['updated']} with new evidence, in {summary['seconds']} s"
    )
    return summary


@shared_task(name="jindu.precursors.tasks.rate_everyone")
def rate_everyone() -> dict:
    """Monthly: rate every firm's 禁毒信用 (the job ``precursors_credit`` in ``rating.py``)."""
    from jindu.core.jobs import job_start

    job = job_start(name="precursors_credit")
    return {"job": job.pk}
