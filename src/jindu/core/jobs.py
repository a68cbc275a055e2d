"""Background jobs: a registry of job functions, a Job row per run, Celery underneath.

With no broker (embedded default) Celery runs the task eagerly in-process right after the transaction
commits; with ``JINDU_BROKER_URL`` it goes to a worker started by ``jindu worker``. Either way the Job
row carries status, progress and log, which the UI polls.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jindu.core.models import Job, JobStatus


class JobReporter:
    """Handed to a job function: progress, totals and log lines go to the Job row."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._pending = 0

    def set_total(self, total: int) -> None:
        self.job.total = total
        self.job.save(update_fields=["total"])

    def advance(self, steps: int = 1) -> None:
        self.job.progress += steps
        self._pending += steps
        if self._pending >= max(1, self.job.total // 100):
            self.job.save(update_fields=["progress"])
            self._pending = 0

    def log(self, line: str) -> None:
        self.job.log += f"[{timezone.now():%H:%M:%S}] {line}\n"
        self.job.save(update_fields=["log"])


JobFunction = Callable[[JobReporter, dict], dict]
JOB_REGISTRY: dict[str, JobFunction] = {}


def register_job(name: str) -> Callable[[JobFunction], JobFunction]:
    def decorator(function: JobFunction) -> JobFunction:
        JOB_REGISTRY[name] = function
        return function

    return decorator


def job_start(*, name: str, actor: Any = None, parameters: dict | None = None) -> Job:
    """Create the Job row and queue it once the surrounding transaction commits."""
    if name not in JOB_REGISTRY:
        raise KeyError(f"unknown job {name!r}")
    job = Job.objects.create(name=name, parameters=parameters or {}, created_by=actor)
    from jindu.core.tasks import run_job

    transaction.on_commit(lambda: run_job.delay(job.pk))
    return job


def job_run(job_id: int) -> Job:
    """Execute a queued job (called by the Celery task, on a worker or in-process)."""
    job = Job.objects.get(pk=job_id)
    job.status = JobStatus.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
    reporter = JobReporter(job)
    try:
        job.result = JOB_REGISTRY[job.name](reporter, job.parameters) or {}
        job.status = JobStatus.COMPLETED
    except Exception as error:  # noqa: BLE001 - any failure is recorded on the job
        job.status = JobStatus.FAILED
        job.result = {"error": str(error)}
        job.log += traceback.format_exc()
    job.finished_at = timezone.now()
    job.save()
    return job


def broker_status() -> dict:
    """For /healthz: whether the configured broker answers."""
    url = settings.JINDU_BROKER_URL
    if not url:
        return {"ok": True, "mode": "embedded", "detail": "no broker: tasks run in-process"}
    scheme = url.split(":", 1)[0]
    try:
        if scheme.startswith("redis"):
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1)
    except Exception as error:  # noqa: BLE001 - report any broker failure
        return {"ok": False, "mode": scheme, "error": type(error).__name__}
    return {"ok": True, "mode": scheme}


class AuditChainBroken(Exception):
    pass


@register_job("audit_verify")
def audit_verify_job(reporter: JobReporter, parameters: dict) -> dict:
    from jindu.core.audit import audit_verify
    from jindu.core.models import AuditRecord

    reporter.set_total(AuditRecord.objects.count())
    result = audit_verify(progress=reporter.advance)
    if not result.ok:
        # A failed job is what operators are alerted on: a broken chain must not look "completed".
        reporter.log(f"audit chain BROKEN at record #{result.broken_sequence}: {result.problem}")
        raise AuditChainBroken(f"audit chain broken at record #{result.broken_sequence}: {result.problem}")
    reporter.log(f"audit chain intact: {result.checked} records")
    return {
        "ok": result.ok,
        "checked": result.checked,
        "broken_sequence": result.broken_sequence,
        "problem": result.problem,
    }
