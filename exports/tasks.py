"""Celery entry points for exports: the Export row is the truth."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from exports import services

log = logging.getLogger(__name__)

# A 50,000-image manifest takes seconds (make bench); an export still running after this is stuck.
# At the soft limit the row fails with a message; the hard limit kills what ignores it.
EXPORT_TIME_LIMIT = 30 * 60
EXPORT_SOFT_TIME_LIMIT = EXPORT_TIME_LIMIT - 60
# The hourly clean-up deletes files one by one; what it leaves at the limit, the next run deletes.
CLEAN_UP_SOFT_TIME_LIMIT, CLEAN_UP_TIME_LIMIT = 10 * 60, 11 * 60


@shared_task(
    acks_late=True, soft_time_limit=EXPORT_SOFT_TIME_LIMIT, time_limit=EXPORT_TIME_LIMIT, ignore_result=True
)
def run_export(export_id: int) -> None:
    """Safe to run twice: only the run that moves the row from QUEUED writes the file."""
    try:
        services.run_export(export_id=export_id)
    except SoftTimeLimitExceeded:
        minutes = EXPORT_SOFT_TIME_LIMIT // 60
        services.fail(
            export_id=export_id,
            error=f"The export took longer than {minutes} minutes and was stopped; start the download "
            "again, or ask an administrator to look at the worker.",
        )


@shared_task(soft_time_limit=CLEAN_UP_SOFT_TIME_LIMIT, time_limit=CLEAN_UP_TIME_LIMIT, ignore_result=True)
def clean_up_exports() -> None:
    try:
        services.clean_up()
    except SoftTimeLimitExceeded:
        log.warning("clean_up_exports ran out of time; the next run deletes what is left")
