"""Celery entry point for webhook deliveries: the Delivery row is the truth."""

from celery import shared_task

from webhooks import services


@shared_task(bind=True, max_retries=None, ignore_result=True)
def deliver(self, delivery_id: int) -> None:
    """One attempt; the service counts attempts on the row and says how long to wait for the next."""
    wait = services.attempt_delivery(delivery_id=delivery_id)
    if wait is not None:
        raise self.retry(countdown=wait)
