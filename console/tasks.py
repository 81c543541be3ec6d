import socket

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from console.backends.base import get_backend
from console.models import WorkerHeartbeat


@shared_task(soft_time_limit=30, time_limit=60)
def heartbeat() -> None:
    """Record that a worker is alive and processing its queue."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=socket.gethostname(), defaults={"seen_at": timezone.now()}
    )


@shared_task(soft_time_limit=600, time_limit=900)
def prepare_models() -> None:
    """Build the backend's model files (once per data folder) in a worker's pool process."""
    get_backend().prepare()


@worker_ready.connect
def _prepare_on_start(sender, **kwargs) -> None:
    # A fresh install builds the engine's converted and quantized models here, in the background,
    # rather than in the first request that analyses an image.
    prepare_models.delay()
