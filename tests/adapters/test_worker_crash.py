"""A worker killed mid-training does not leave the adapter in TRAINING_IN_PROGRESS: the worker
that starts next takes over the dead worker's lease (console.leases) and trains it again."""

import time

import pytest

from adapters import services
from adapters.models import Adapter
from console.models import AuditEntry, Lease
from tests.adapters.conftest import add_dataset
from tests.conftest import WorkerProcess, wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_then_the_next_worker_finishes_the_training(
    celery_worker_process, owner, adapter, tmp_path
):
    add_dataset(adapter, 15, 15)
    services.start_training(user=owner, adapter=adapter)  # enqueued on commit (no atomic block here)
    key = services.training_key(adapter.pk)
    wait_for(lambda: Lease.objects.filter(key=key).exists(), timeout=120, message="the training's lease")
    celery_worker_process.kill()  # SIGKILL to the worker and its pool, mid-training
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_IN_PROGRESS

    second = WorkerProcess(log_path=tmp_path / "worker2.log")
    started = time.monotonic()
    try:
        lost = AuditEntry.objects.filter(action="adapter.worker_lost", object_id=str(adapter.pk))
        wait_for(lost.exists, timeout=60, interval=0.2, message="the training to be taken over")
        resumed = time.monotonic() - started

        def finished():
            adapter.refresh_from_db()
            return adapter.status != Adapter.Status.TRAINING_IN_PROGRESS

        wait_for(finished, timeout=240, interval=0.5, message="the adapter to leave TRAINING_IN_PROGRESS")
        assert adapter.status == Adapter.Status.TRAINING_COMPLETED, adapter.status_message
        assert adapter.training_attempts == 2
        assert adapter.evaluation["EvaluationDetails"]["NumberOfTestingImages"] == 6
    finally:
        second.stop()
    assert resumed < 30, f"taken over {resumed:.0f} s after the worker started again"
    assert set(lost.get().detail) >= {"lost_at", "resumed_at", "worker"}
    assert not Lease.objects.exists()
