"""Celery tasks of the core app."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone


@shared_task(name="jindu.core.tasks.run_job")
def run_job(job_id: int) -> str:
    from jindu.core.jobs import job_run

    return job_run(job_id).status


@shared_task(name="jindu.core.tasks.verify_audit_chain")
def verify_audit_chain() -> dict:
    """Nightly: verify the audit chain and keep the outcome as a Job row."""
    from jindu.core.jobs import job_start

    job = job_start(name="audit_verify")
    return {"job": job.pk}


@shared_task(name="jindu.core.tasks.purge_expired_tokens")
def purge_expired_tokens() -> int:
    """Delete API tokens that expired more than a day ago (their use stays in the audit trail)."""
    from jindu.core.models import ApiToken

    cutoff = timezone.now() - dt.timedelta(days=1)
    deleted, _ = ApiToken.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
