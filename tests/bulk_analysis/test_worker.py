"""A bulk job run for real: the local engine in a real Celery worker process, and a worker
killed (SIGKILL) mid-job, after which a new worker finishes it with one result per image."""

import pytest

from bulk_analysis import services
from bulk_analysis.models import BulkAnalysisJob, Prediction
from bulk_analysis.tasks import resume_stalled_jobs
from console.lib import storage
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
    n = 120
    first = WorkerProcess(log_path=tmp_path / "first.log")
    try:
        job = start(owner, n, "killed-mid-way")
        done = lambda: Prediction.objects.filter(job=job).exclude(state="pending").count()  # noqa: E731
        wait_for(lambda: done() >= 8, timeout=240, interval=0.05, message="the first images to be analysed")
        first.kill()  # SIGKILL to the worker and its pool child, mid-unit
    finally:
        first.stop()
    at_kill = done()
    assert 0 < at_kill < n, at_kill
    assert BulkAnalysisJob.objects.get(pk=job.pk).status == "IN_PROGRESS"

    second = WorkerProcess(log_path=tmp_path / "second.log")
    try:
        # What beat does every minute: re-enqueue the pending units of a job making no progress.
        resume_stalled_jobs.delay(0)
        wait_for(
            lambda: BulkAnalysisJob.objects.get(pk=job.pk).status in ("SUCCEEDED", "FAILED"),
            timeout=300,
            interval=0.5,
            message="the second worker to finish the job",
        )
    finally:
        second.stop()

    assert_one_result_per_image(job, n)
