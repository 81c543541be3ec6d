"""A training taken over from a lost worker: counted and audited however it was taken over, and
written by one worker only."""

import socket
import subprocess
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from adapters import services
from adapters.models import Adapter
from adapters.tasks import train_adapter
from console.backends.base import LEASE_LOST, BackendError
from console.backends.local import adapter_dir
from console.models import AuditEntry, Lease
from tests.adapters.conftest import add_dataset

pytestmark = pytest.mark.django_db


def dead_workers_lease(adapter: Adapter) -> None:
    """The lease a worker process of this host held on the training when it died."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    now = timezone.now()
    Lease.objects.create(
        key=services.training_key(adapter.pk),
        worker=f"{socket.gethostname()}:{proc.pid}",
        taken_at=now,
        expires_at=now + timedelta(minutes=5),
    )


@pytest.fixture
def training(owner, adapter):
    add_dataset(adapter, 12, 12)
    services.start_training(user=owner, adapter=adapter)  # no worker: the task is run here
    adapter.refresh_from_db()
    return adapter


def test_a_task_delivered_again_after_its_worker_died_counts_and_audits_the_loss(training):
    attempts = training.training_attempts
    dead_workers_lease(training)
    train_adapter(training.pk)  # as a worker runs the redelivered task (Redis, reject_on_worker_lost)
    training.refresh_from_db()
    assert training.status == Adapter.Status.TRAINING_COMPLETED, training.status_message
    assert training.training_attempts == attempts + 1
    assert AuditEntry.objects.filter(action="adapter.worker_lost", object_id=str(training.pk)).count() == 1
    assert not Lease.objects.exists()


def test_a_training_that_lost_its_worker_too_often_fails_when_delivered_again(training):
    Adapter.objects.filter(pk=training.pk).update(training_attempts=services.MAX_TRAINING_ATTEMPTS)
    dead_workers_lease(training)
    train_adapter(training.pk)  # a training that kills its worker each time does not loop
    training.refresh_from_db()
    assert training.status == Adapter.Status.TRAINING_FAILED
    assert "worker running it was lost" in training.status_message
    assert not default_storage.exists(f"{adapter_dir(training.arn)}/adapter.npz")


def test_a_worker_whose_lease_was_taken_over_writes_nothing(training):
    with pytest.raises(BackendError) as raised:
        services.run_training(adapter=training, still_held=lambda: False)
    assert raised.value.code == LEASE_LOST
    training.refresh_from_db()
    assert training.status == Adapter.Status.TRAINING_IN_PROGRESS  # the new holder finishes it
    assert not default_storage.exists(f"{adapter_dir(training.arn)}/adapter.npz")
