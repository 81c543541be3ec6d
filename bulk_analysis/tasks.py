"""Celery entry points of a bulk analysis job. Thin: the work is in bulk_analysis.runner, and
each task enqueues the Next step the runner names.

Chord-free: run_job fans the job out into units; each unit finishes the job when it finds no
pending row left; resume_stalled_jobs (every minute, from beat) re-enqueues the units a killed
worker took with it.
"""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready

from bulk_analysis import runner
from bulk_analysis.models import BulkAnalysisJob
from console.backends.base import BackendError

# Retries of a unit hit by a transient backend error (throttling, a service fault), with
# exponential backoff from RETRY_SECONDS; after the last one the images get the error.
UNIT_RETRIES = 5
RETRY_SECONDS = 10
# How often an AWS bulk job is polled, and for how long (AWS keeps jobs a year; 2 days is plenty).
POLL_SECONDS = 30
POLL_ATTEMPTS = 2 * 24 * 3600 // POLL_SECONDS
# Hard limit of one unit: 100 images (runner.MAX_UNIT), even at 15 MB each from S3, take far less.
# At the soft limit the unit's pending images fail with TimeLimitExceeded and the job finishes.
UNIT_TIME_LIMIT = 15 * 60
UNIT_SOFT_TIME_LIMIT = UNIT_TIME_LIMIT - 60
# Starting a job lists its images and, on aws, starts the backend's job; polling is one call.
STEP_SOFT_TIME_LIMIT, STEP_TIME_LIMIT = 5 * 60, 6 * 60
CHECK_SOFT_TIME_LIMIT, CHECK_TIME_LIMIT = 60, 90  # the periodic checks


def _enqueue_units(job: BulkAnalysisJob) -> None:
    for first, last in runner.pending_units(job=job):
        run_unit.delay(job.pk, first, last)


# Every task here is idempotent (the rows move once): on Redis a task whose worker died is
# delivered again (acks_late, reject_on_worker_lost).
IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(
    bind=True,
    max_retries=UNIT_RETRIES,
    soft_time_limit=STEP_SOFT_TIME_LIMIT,
    time_limit=STEP_TIME_LIMIT,
    **IDEMPOTENT,
)
def run_job(self, job_id: int) -> None:
    """Start a queued job: hand it to the backend's bulk job, or fan it out into units."""
    try:
        step = runner.begin(job_id=job_id)
    except SoftTimeLimitExceeded:
        job = BulkAnalysisJob.objects.filter(pk=job_id).first()
        if job:
            runner.fail_job(job=job, code="TimeLimitExceeded", message="The job did not start in 5 minutes.")
        return
    except BackendError as exc:
        if exc.retryable:
            raise self.retry(exc=exc, countdown=RETRY_SECONDS * 2**self.request.retries) from exc
        raise
    if step is runner.Next.POLL:
        poll_job.apply_async((job_id,), countdown=POLL_SECONDS)
    elif step is runner.Next.UNITS:
        _enqueue_units(BulkAnalysisJob.objects.get(pk=job_id))


@shared_task(
    bind=True,
    max_retries=UNIT_RETRIES,
    soft_time_limit=UNIT_SOFT_TIME_LIMIT,
    time_limit=UNIT_TIME_LIMIT,
    **IDEMPOTENT,
)
def run_unit(self, job_id: int, first_line: int, last_line: int) -> None:
    """Analyse one unit of lines. Safe to run twice: rows move pending -> done/failed only once."""
    give_up = self.request.retries >= self.max_retries
    try:
        runner.run_unit(job_id=job_id, first_line=first_line, last_line=last_line, give_up=give_up)
    except SoftTimeLimitExceeded:
        runner.give_up_unit(
            job_id=job_id,
            first_line=first_line,
            last_line=last_line,
            message=f"not analysed: its unit ran longer than {UNIT_SOFT_TIME_LIMIT // 60} minutes",
        )
    except BackendError as exc:  # transient only: permanent errors are recorded per image
        raise self.retry(exc=exc, countdown=RETRY_SECONDS * 2**self.request.retries) from exc


@shared_task(
    bind=True,
    max_retries=POLL_ATTEMPTS,
    soft_time_limit=STEP_SOFT_TIME_LIMIT,
    time_limit=STEP_TIME_LIMIT,
    **IDEMPOTENT,
)
def poll_job(self, job_id: int) -> None:
    """Poll the backend's bulk job until it is final, then write its results."""
    try:
        final = runner.poll(job_id=job_id)
    except SoftTimeLimitExceeded:
        final = False  # polled again later
    except BackendError as exc:
        if not exc.retryable:
            job = BulkAnalysisJob.objects.filter(pk=job_id).first()
            if job:
                runner.fail_job(job=job, code=exc.code, message=exc.message)
            return
        final = False
    if not final:
        raise self.retry(countdown=POLL_SECONDS)


@shared_task(soft_time_limit=CHECK_SOFT_TIME_LIMIT, time_limit=CHECK_TIME_LIMIT)
def resume_lost_units() -> list[tuple[int, int, int]]:
    """Periodic (beat), and when a worker starts: units whose worker died go back on the queue."""
    units = runner.resume_lost()
    for job_id, first, last in units:
        run_unit.delay(job_id, first, last)
    return units


@worker_ready.connect
def _resume_at_start(**_kwargs) -> None:
    # A worker that starts takes over at once what a dead one held (in a pool process).
    resume_lost_units.delay()


@shared_task(soft_time_limit=CHECK_SOFT_TIME_LIMIT, time_limit=CHECK_TIME_LIMIT)
def resume_stalled_jobs(stalled_seconds: float = runner.STALL_SECONDS) -> list[int]:
    """Periodic (beat): put back the work of running jobs that stopped making progress."""
    stalled = runner.resume_stalled(stalled_seconds=stalled_seconds)
    for job, step in stalled:
        if step is runner.Next.START:
            run_job.delay(job.pk)
        elif step is runner.Next.POLL:
            poll_job.delay(job.pk)
        elif step is runner.Next.UNITS:
            _enqueue_units(job)
    return [job.pk for job, _ in stalled]
