"""A real Celery worker process on the configured broker writes to the test database."""

import pytest

from console.models import WorkerHeartbeat
from console.tasks import heartbeat
from tests.conftest import wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_that_writes_to_the_database(celery_worker_process):
    assert not WorkerHeartbeat.objects.exists()
    heartbeat.delay()
    beat = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=90, message="the worker's heartbeat row")
    assert beat.seen_at is not None
    assert celery_worker_process.proc.poll() is None
