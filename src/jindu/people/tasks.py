"""Celery tasks of the people app."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="jindu.people.tasks.evaluate_everyone")
def evaluate_everyone() -> dict:
    """Nightly: evaluate everyone for today, as a Job row operators can follow."""
    from jindu.core.jobs import job_start

    job = job_start(name="people_evaluation")
    return {"job": job.pk}
