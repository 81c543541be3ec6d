import socket

from celery import shared_task
from django.utils import timezone

from console.models import WorkerHeartbeat


@shared_task(soft_time_limit=30, time_limit=60)
def heartbeat() -> None:
    """Record that a worker is alive and processing its queue."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=socket.gethostname(), defaults={"seen_at": timezone.now()}
    )
