"""Celery entry points for exports: the Export row is the truth."""

from celery import shared_task

from exports import services

# A 50,000-image manifest takes seconds (make bench); an export still running after this is stuck.
EXPORT_TIME_LIMIT = 30 * 60


@shared_task(acks_late=True, time_limit=EXPORT_TIME_LIMIT, ignore_result=True)
def run_export(export_id: int) -> None:
    """Safe to run twice: only the run that moves the row from QUEUED writes the file."""
    services.run_export(export_id=export_id)


@shared_task(ignore_result=True)
def clean_up_exports() -> None:
    services.clean_up()
