"""A worker killed mid-training does not leave the adapter in TRAINING_IN_PROGRESS for ever."""

from datetime import timedelta

import pytest
from django.utils import timezone

from adapters import services
from adapters.models import Adapter
from tests.adapters.conftest import add_dataset
from tests.conftest import WorkerProcess, wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_then_the_stale_check_finishes_the_training(
    celery_worker_process, owner, adapter, tmp_path
):
    add_dataset(adapter, 15, 15)
    services.start_training(user=owner, adapter=adapter)  # enqueued on commit (no atomic block here)
    log = tmp_path / "worker.log"
    wait_for(
        lambda: "train_adapter" in log.read_text() and "received" in log.read_text(),
        timeout=120,
        message="the worker to take the task",
    )
    celery_worker_process.kill()  # SIGKILL to the worker and its pool, mid-training
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_IN_PROGRESS

    second = WorkerProcess(log_path=tmp_path / "worker2.log")
    try:
        # The periodic check, two hours later: the run has no live task, so it is enqueued again.
        Adapter.objects.filter(pk=adapter.pk).update(training_started_at=timezone.now() - timedelta(hours=3))
        done = services.fail_stale_trainings()
        assert done["requeued"] == [adapter.pk]

        def finished():
            adapter.refresh_from_db()
            return adapter.status != Adapter.Status.TRAINING_IN_PROGRESS

        wait_for(finished, timeout=240, interval=0.5, message="the adapter to leave TRAINING_IN_PROGRESS")
        assert adapter.status == Adapter.Status.TRAINING_COMPLETED, adapter.status_message
        assert adapter.training_attempts == 2
        assert adapter.evaluation["EvaluationDetails"]["NumberOfTestingImages"] == 6
    finally:
        second.stop()
