"""A bulk job run for real: the local engine in a real Celery worker process, and a worker
killed (SIGKILL) mid-job, after which a new worker finishes it with one result per image."""

import time

import pytest

from bulk_analysis import services
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console.lib import storage
from console.models import AuditEntry
from moderation import manifests
from tests.bulk_analysis.conftest import images
from tests.conftest import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def start(owner, n, name):
    job = services.create_job(user=owner, name=name)
    services.add_files(job=job, files=images(n))
    return services.start_job(user=owner, job=job)  # enqueued on commit (autocommit here)


def assert_one_result_per_image(job, n):
    job.refresh_from_db()
    assert job.status == "SUCCEEDED", job.status_message
    rows = list(job.predictions.order_by("line").values_list("line", "state"))
    assert rows == [(line, "done") for line in range(1, n + 1)]
    output = manifests.read_bulk_output(storage.read_ref(storage.ref_for(job.output_manifest)))
    assert len(output) == n
    summary = manifests.read_summary(storage.read_ref(storage.ref_for(job.summary)))
    assert (summary.total, summary.valid, summary.invalid) == (n, n, 0)


def test_it_runs_a_bulk_job_on_the_local_engine_in_a_real_worker(owner, celery_worker_process):
    job = start(owner, 30, "real-run")

    wait_for(
        lambda: BulkAnalysisJob.objects.get(pk=job.pk).status in ("SUCCEEDED", "FAILED"),
        timeout=240,
        interval=0.5,
        message="the job to finish",
    )

    assert_one_result_per_image(job, 30)
    job.refresh_from_db()
    assert job.started_at and job.completed_at and job.base_model_version == "8.0"
    assert all(
        p.seconds is not None and p.response["ModerationModelVersion"] == "8.0" for p in job.predictions.all()
    )


def test_a_worker_killed_mid_job_loses_nothing(owner, tmp_path):
    """SIGKILL mid-unit, a worker started again: the one that starts takes over the dead worker's
    unit (its lease, console.leases) at once, with no periodic check and no wait for the lease."""
    n = 60
    first = WorkerProcess(log_path=tmp_path / "first.log")
    try:
        job = start(owner, n, "killed-mid-way")
        done = lambda: Prediction.objects.filter(job=job).exclude(state="pending").count()  # noqa: E731
        wait_for(lambda: done() >= 4, timeout=240, interval=0.05, message="the first images to be analysed")
        first.kill()  # SIGKILL to the worker and its pool child, mid-unit
    finally:
        first.stop()
    at_kill = done()
    assert 0 < at_kill < n, at_kill
    assert BulkAnalysisJob.objects.get(pk=job.pk).status == "IN_PROGRESS"

    second = WorkerProcess(log_path=tmp_path / "second.log")
    started = time.monotonic()
    try:
        wait_for(lambda: done() > at_kill, timeout=60, interval=0.2, message="the unit to resume")
        resumed = time.monotonic() - started  # the worker's own start (6 to 8 s idle) included
        wait_for(
            lambda: BulkAnalysisJob.objects.get(pk=job.pk).status in ("SUCCEEDED", "FAILED"),
            timeout=300,
            interval=0.5,
            message="the second worker to finish the job",
        )
    finally:
        second.stop()

    assert resumed < 30, f"resumed {resumed:.0f} s after the worker started again"
    assert_one_result_per_image(job, n)
    assert AuditEntry.objects.filter(action="bulk.worker_lost", object_id=str(job.pk)).exists()
