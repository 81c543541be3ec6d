"""Celery entry point for webhook deliveries: the Delivery row is the truth."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from webhooks import services

# One attempt is one POST with a timeout of WEBHOOKS_TIMEOUT_SECONDS (10 s unless set): far
# below these. At the soft limit the delivery fails with a message instead of staying pending.
DELIVER_SOFT_TIME_LIMIT, DELIVER_TIME_LIMIT = 2 * 60, 3 * 60


@shared_task(
    bind=True,
    max_retries=None,
    soft_time_limit=DELIVER_SOFT_TIME_LIMIT,
    time_limit=DELIVER_TIME_LIMIT,
    ignore_result=True,
)
def deliver(self, delivery_id: int) -> None:
    """One attempt; the service counts attempts on the row and says how long to wait for the next."""
    try:
        wait = services.attempt_delivery(delivery_id=delivery_id)
    except SoftTimeLimitExceeded:
        services.give_up(
            delivery_id=delivery_id,
            error=f"Not delivered: the attempt took longer than {DELIVER_SOFT_TIME_LIMIT // 60} minutes "
            "and was stopped; check that the receiver answers quickly, then send a test event.",
        )
        return
    if wait is not None:
        raise self.retry(countdown=wait)
