"""Celery entry points for label quality: thin, the LabelCheck row is the truth."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready

from quality import services

# 10,000 labeled images take about a minute on a few cores (make bench); a check still running after
# this is stuck. At the soft limit the row fails with a message; the hard limit kills what ignores it.
CHECK_TIME_LIMIT = 30 * 60
CHECK_SOFT_TIME_LIMIT = CHECK_TIME_LIMIT - 60


@shared_task(
    acks_late=True, soft_time_limit=CHECK_SOFT_TIME_LIMIT, time_limit=CHECK_TIME_LIMIT, ignore_result=True
)
def find_label_errors(check_id: int) -> None:
    """Safe to run twice: only the run that moves the row from QUEUED does the work."""
    try:
        services.run_check(check_id=check_id)
    except SoftTimeLimitExceeded:
        services.fail_check(
            check_id=check_id,
            error=f"The check took longer than {CHECK_SOFT_TIME_LIMIT // 60} minutes and was stopped; "
            "start it again, or ask an administrator to look at the worker.",
        )


# A run suggests for every unlabeled image of a dataset, at the engine's pace (about 20 images a
# second on a few cores): 50,000 images take under an hour. Past the soft limit the row fails with
# a message (the images done keep their suggestions); the hard limit kills what ignores it.
PRELABEL_TIME_LIMIT = 2 * 60 * 60
PRELABEL_SOFT_TIME_LIMIT = PRELABEL_TIME_LIMIT - 60


@shared_task(
    acks_late=True,
    soft_time_limit=PRELABEL_SOFT_TIME_LIMIT,
    time_limit=PRELABEL_TIME_LIMIT,
    ignore_result=True,
)
def prelabel(run_id: int) -> None:
    """Safe to run twice: under the run's lease, each image's suggestion an upsert."""
    try:
        services.run_prelabel(run_id=run_id)
    except SoftTimeLimitExceeded:
        services.fail_prelabel(
            run_id=run_id,
            error=f"Pre-labeling took longer than {PRELABEL_SOFT_TIME_LIMIT // 60} minutes and was "
            "stopped; the images done keep their suggestions: pre-label again for the rest.",
        )


@shared_task(soft_time_limit=60, time_limit=90)
def resume_lost_prelabels() -> dict:
    """Periodic (beat), and when a worker starts: pre-labeling runs whose worker died are enqueued
    again (or failed after services.MAX_PRELABEL_ATTEMPTS)."""
    return services.resume_lost_prelabels()


@shared_task(soft_time_limit=60, time_limit=90)
def fail_lost_label_checks() -> list[int]:
    """Periodic (beat), and when a worker starts: label checks whose worker died are failed."""
    return services.fail_lost_checks()


@worker_ready.connect
def _resume_at_start(**_kwargs) -> None:
    # A worker that starts takes over at once what a dead one held.
    resume_lost_prelabels.delay()
    fail_lost_label_checks.delay()
