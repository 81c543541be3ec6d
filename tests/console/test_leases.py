"""Leases on running work (console.leases): held while renewed, taken over when the worker is gone."""

import re
import socket
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from adapters import services as adapter_services
from adapters.models import Adapter
from bulk_analysis import runner
from bulk_analysis import services as bulk_services
from bulk_analysis.models import BulkAnalysisJob
from console import leases
from console.models import AuditEntry, Lease
from tests.bulk_analysis.conftest import images

pytestmark = pytest.mark.django_db


def dead_worker() -> str:
    """The worker id of a process of this host that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def lease(key, worker, expires_in=60.0):
    now = timezone.now()
    return Lease.objects.create(
        key=key, worker=worker, taken_at=now, expires_at=now + timedelta(seconds=expires_in)
    )


def test_a_living_workers_lease_is_not_taken_and_a_dead_or_expired_one_is():
    lease("t:alive", "otherhost:1")
    lease("t:expired", "otherhost:2", expires_in=-1)
    lease("t:dead", dead_worker())

    assert leases.acquire("t:alive") is None
    assert sorted(lease.key for lease in leases.take_over_lost("t:")) == ["t:dead", "t:expired"]
    assert list(Lease.objects.values_list("key", flat=True)) == ["t:alive"]
    held = leases.acquire("t:dead")
    assert held is not None and Lease.objects.get(key="t:dead").worker == leases.worker_id()


def test_a_held_lease_is_renewed_released_and_knows_when_it_was_taken_over(settings):
    settings.WORK_LEASE_SECONDS = 0.2
    with leases.hold("t:mine") as held:
        first = Lease.objects.get(key="t:mine").expires_at
        assert leases.acquire("t:mine") is not None  # the same process may take its own again
        Lease.objects.filter(key="t:mine").update(worker="otherhost:9")  # another worker took it over
        assert not held.renew() and held.lost.is_set()
    assert first
    assert list(Lease.objects.values_list("worker", flat=True)) == ["otherhost:9"]  # not ours to release


def test_a_unit_whose_worker_died_is_put_back_and_audited(owner):
    job = bulk_services.create_job(user=owner, name="lost")
    bulk_services.add_files(job=job, files=images(2))
    bulk_services.start_job(user=owner, job=job)
    BulkAnalysisJob.objects.filter(pk=job.pk).update(status="IN_PROGRESS")
    lease(runner.unit_key(job.pk, 1, 25), dead_worker())

    assert runner.resume_lost() == [(job.pk, 1, 25)]
    entry = AuditEntry.objects.get(action="bulk.worker_lost")
    assert entry.object_id == str(job.pk) and entry.detail["lines"] == "1-25"
    assert runner.resume_lost() == []  # taken over once


def test_the_pages_say_when_a_worker_was_lost_and_the_work_resumed(owner, owner_client):
    job = bulk_services.create_job(user=owner, name="lost-page")
    bulk_services.add_files(job=job, files=images(2))
    bulk_services.start_job(user=owner, job=job)
    BulkAnalysisJob.objects.filter(pk=job.pk).update(status="IN_PROGRESS")
    lease(runner.unit_key(job.pk, 1, 25), dead_worker())
    runner.resume_lost()
    page = owner_client.get(reverse("bulk-detail", args=[job.pk])).content.decode()
    assert re.search(r"Worker lost at \d\d:\d\d:\d\d, resumed at \d\d:\d\d:\d\d \(images 1-25\)\.", page)

    from projects.services import create_project

    adapter = adapter_services.create_adapter(
        user=owner, project=create_project(user=owner, name="p"), name="a"
    )
    Adapter.objects.filter(pk=adapter.pk).update(status=Adapter.Status.TRAINING_IN_PROGRESS)
    lease(adapter_services.training_key(adapter.pk), dead_worker())
    adapter_services.resume_lost_trainings()
    page = owner_client.get(reverse("adapters-detail", args=[adapter.pk])).content.decode()
    assert re.search(r"Worker lost at \d\d:\d\d:\d\d, resumed at \d\d:\d\d:\d\d\.", page)


def test_a_training_whose_worker_died_is_enqueued_again_then_failed(owner):
    from adapters.models import Adapter
    from projects.services import create_project

    adapter = adapter_services.create_adapter(
        user=owner, project=create_project(user=owner, name="p"), name="a"
    )
    Adapter.objects.filter(pk=adapter.pk).update(
        status=Adapter.Status.TRAINING_IN_PROGRESS, training_attempts=1
    )
    lease(adapter_services.training_key(adapter.pk), dead_worker())
    assert adapter_services.resume_lost_trainings() == {"requeued": [adapter.pk], "failed": []}
    assert AuditEntry.objects.filter(action="adapter.worker_lost", object_id=str(adapter.pk)).exists()

    lease(adapter_services.training_key(adapter.pk), dead_worker())
    assert adapter_services.resume_lost_trainings() == {"requeued": [], "failed": [adapter.pk]}
    adapter.refresh_from_db()
    assert (
        adapter.status == Adapter.Status.TRAINING_FAILED
        and "worker running it was lost" in adapter.status_message
    )
