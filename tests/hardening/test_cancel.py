"""Cancelling running work from its page, with a real worker running it: the row is marked
cancelled, the worker stops, and no partial file is left."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from adapters import services as adapter_services
from adapters.models import Adapter
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console.backends.local import adapter_dir
from console.models import AuditEntry, Lease
from tests.conftest import wait_for
from tests.hardening.test_faults import finished_count, start_bulk_job, trainable_adapter

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_running_bulk_job_is_cancelled_from_its_page(owner, owner_client, celery_worker_process):
    job, inputs = start_bulk_job(owner, 60, "to-cancel")
    wait_for(lambda: finished_count(job) >= 2, timeout=240, interval=0.05, message="the job to be under way")
    page = owner_client.get(reverse("bulk-detail", args=[job.pk])).content.decode()
    assert 'id="cancel-job"' in page

    owner_client.post(reverse("bulk-cancel", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == BulkAnalysisJob.Status.FAILED and job.failure_code == "Cancelled"
    assert job.status_message.startswith("Cancelled by owner")
    # The worker stops at its next image: it lets go of the unit's lease once it records no more.
    wait_for(lambda: not Lease.objects.exists(), timeout=30, interval=0.2, message="the unit to stop")
    assert Prediction.objects.filter(job=job, state="done").count() < len(inputs)
    assert not Prediction.objects.filter(job=job, state="pending").exists()
    assert not job.output_manifest and not job.summary
    assert AuditEntry.objects.filter(action="bulk.cancel", object_id=str(job.pk), user=owner).exists()
    again = owner_client.post(reverse("bulk-cancel", args=[job.pk]), follow=True).content.decode()
    assert "nothing to cancel" in again


def test_a_running_training_is_cancelled_from_its_page(owner, owner_client, celery_worker_process):
    adapter = trainable_adapter(owner, "to-cancel")
    adapter_services.start_training(user=owner, adapter=adapter)
    key = adapter_services.training_key(adapter.pk)
    wait_for(lambda: Lease.objects.filter(key=key).exists(), timeout=120, message="the training to start")
    page = owner_client.get(reverse("adapters-detail", args=[adapter.pk])).content.decode()
    assert 'id="cancel-training"' in page

    owner_client.post(reverse("adapters-cancel", args=[adapter.pk]))

    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_FAILED
    assert adapter.status_message.startswith("Cancelled by owner")
    wait_for(lambda: not Lease.objects.exists(), timeout=240, interval=0.2, message="the worker to let go")
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_FAILED and adapter.f1_score is None
    assert not default_storage.exists(f"{adapter_dir(adapter.arn)}/adapter.npz"), "a partial artifact"
    assert AuditEntry.objects.filter(action="adapter.training_cancel", object_id=str(adapter.pk)).exists()
