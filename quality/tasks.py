"""Celery entry points for label quality: thin, the LabelCheck row is the truth."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

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
