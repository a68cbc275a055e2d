"""Background jobs: in-process without a broker, on a real Celery worker over Redis with one."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from jindu.core.audit import audit_write
from jindu.core.jobs import JOB_REGISTRY, job_start, register_job
from jindu.core.models import Job
from jindu.core.tests.test_cli import clean_env


@pytest.mark.django_db
def test_job_runs_in_process_without_a_broker(django_capture_on_commit_callbacks):
    audit_write(action="READ", actor_username="t")
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(name="audit_verify")
    job.refresh_from_db()
    assert job.status == "completed"
    assert job.result == {"ok": True, "checked": 1, "broken_sequence": None, "problem": ""}
    assert job.progress == 1 and job.total == 1
    assert "intact" in job.log


@pytest.mark.django_db
def test_failing_job_is_recorded_as_failed(django_capture_on_commit_callbacks):
    @register_job("always_fails")
    def always_fails(reporter, parameters):
        reporter.log("starting")
        raise ValueError("boom")

    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = job_start(name="always_fails", parameters={"x": 1})
        job.refresh_from_db()
        assert job.status == "failed"
        assert job.result == {"error": "boom"}
        assert "starting" in job.log and "ValueError" in job.log
        assert job.finished_at is not None
    finally:
        JOB_REGISTRY.pop("always_fails", None)


@pytest.mark.django_db
def test_broken_audit_chain_fails_the_verification_job(django_capture_on_commit_callbacks):
    from django.db import connection

    audit_write(action="READ", actor_username="t")
    audit_write(action="READ", actor_username="t")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE core_auditrecord SET actor_username = 'x' WHERE sequence = 2")
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(name="audit_verify")
    job.refresh_from_db()
    assert job.status == "failed"
    assert "#2" in job.log


def test_unknown_job_name_is_refused():
    with pytest.raises(KeyError):
        job_start(name="no_such_job")


@pytest.mark.slow
@pytest.mark.embedded
def test_job_runs_on_a_real_worker_over_redis(tmp_path):
    import redis

    broker = "redis://127.0.0.1:6379/13"
    redis.Redis.from_url(broker).flushdb()
    env = clean_env(tmp_path, JINDU_BROKER_URL=broker)
    migrate = subprocess.run(
        [sys.executable, "-m", "jindu", "migrate", "-v", "0"], env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    worker = subprocess.Popen(
        [sys.executable, "-m", "jindu", "worker", "--concurrency", "1", "--pool", "solo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        script = (
            "import django; django.setup();"
            "from django.db import transaction;"
            "from jindu.core.audit import audit_write; from jindu.core.jobs import job_start;"
            "audit_write(action='READ', actor_username='t');"
            "job = None\n"
            "with transaction.atomic():\n"
            "    job = job_start(name='audit_verify')\n"
            "print(job.pk)"
        )
        started = subprocess.run(
            [sys.executable, "-c", script],
            env={**env, "DJANGO_SETTINGS_MODULE": "jindu.config.settings"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 0, started.stderr
        job_id = int(started.stdout.strip())
        database = sqlite3.connect(tmp_path / "jindu.sqlite3")
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = database.execute("SELECT status FROM core_job WHERE id = ?", [job_id]).fetchone()[0]
            if status in {"completed", "failed"}:
                break
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.3)
        database.close()
        assert status == "completed"
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert "jindu.core.tasks.run_job" in output


@pytest.mark.django_db
def test_job_page_polls_until_done(users, django_capture_on_commit_callbacks):
    from jindu.core.testing.helpers import ui_client

    job = Job.objects.create(
        name="audit_verify", status="running", total=10, progress=5, created_by=users["auditadmin"]
    )
    client = ui_client(users["auditadmin"])
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page and "50%" in page
    fragment = client.get(f"/jobs/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and 'id="job-progress"' in fragment
    Job.objects.filter(pk=job.pk).update(status="completed", progress=10)
    assert "hx-trigger" not in client.get(f"/jobs/{job.pk}/").content.decode()
    # Someone else's job is not visible to a user without the jobs permission.
    assert ui_client(users["worker_a"]).get(f"/jobs/{job.pk}/").status_code == 404
