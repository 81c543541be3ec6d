"""Deleting adapters, stale trainings, and base model version changes (deprecation, auto-update)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from adapters import services
from adapters.models import Adapter
from console.models import AuditEntry, Notification
from tests.adapters.conftest import add_dataset, make_adapter

BUCKET = settings.STORAGE_BUCKET  # console-local on disk, the real bucket on S3

pytestmark = pytest.mark.django_db


def delete(client, adapter):
    return client.post(reverse("adapters-delete", args=[adapter.pk]))


def test_it_deletes_an_adapter_with_its_files(owner_client, adapter, project):
    add_dataset(adapter, 1, 1)
    files = list(adapter.images.values_list("file", flat=True))
    assert all(default_storage.exists(name) for name in files)
    assert owner_client.get(reverse("adapters-delete", args=[adapter.pk])).status_code == 200
    response = delete(owner_client, adapter)
    assert response.status_code == 302 and response["Location"] == reverse(
        "projects-detail", args=[project.pk]
    )
    assert not Adapter.objects.filter(pk=adapter.pk).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert AuditEntry.objects.filter(action="adapter.delete", object_id=str(adapter.pk)).exists()


def test_it_deletes_a_trained_adapter_on_the_backend_too(
    owner_client, owner, project, django_capture_on_commit_callbacks
):
    from adapters.tasks import train_adapter

    adapter = make_adapter(project, "real")
    add_dataset(adapter, 8, 8)
    with django_capture_on_commit_callbacks():
        services.start_training(user=owner, adapter=adapter)
    train_adapter(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_COMPLETED
    stored = [name.split(f"{BUCKET}/", 1)[1] for name in adapter.locations.values()]
    assert all(default_storage.exists(name) for name in stored)
    assert delete(owner_client, adapter).status_code == 302
    assert not any(default_storage.exists(name) for name in stored)
    assert not Adapter.objects.filter(pk=adapter.pk).exists()


def test_it_refuses_to_delete_while_training(owner_client, project):
    adapter = make_adapter(project, "busy", status=Adapter.Status.TRAINING_IN_PROGRESS)
    response = delete(owner_client, adapter)
    assert response.status_code == 302
    follow = owner_client.get(response["Location"]).content.decode()
    assert "is training: wait until training ends" in follow
    assert Adapter.objects.get(pk=adapter.pk).status == Adapter.Status.TRAINING_IN_PROGRESS


def test_it_refuses_delete_to_annotators(client, annotator, adapter):
    client.force_login(annotator)
    assert delete(client, adapter).status_code == 403
    assert Adapter.objects.filter(pk=adapter.pk).exists()


def test_the_project_can_be_deleted_once_its_adapters_are_gone(owner_client, adapter, project):
    from projects.models import Project

    owner_client.post(reverse("projects-delete", args=[project.pk]))
    assert Project.objects.filter(pk=project.pk).exists()
    delete(owner_client, adapter)
    owner_client.post(reverse("projects-delete", args=[project.pk]))
    assert not Project.objects.filter(pk=project.pk).exists()


def stale(project, name="stuck", attempts=1, hours=3):
    adapter = make_adapter(project, name, status=Adapter.Status.TRAINING_IN_PROGRESS)
    Adapter.objects.filter(pk=adapter.pk).update(
        training_started_at=timezone.now() - timedelta(hours=hours), training_attempts=attempts
    )
    return adapter


def test_the_stale_check_requeues_once_then_fails_with_a_message(
    project, owner, django_capture_on_commit_callbacks
):
    adapter = stale(project)
    recent = stale(project, "recent", hours=0)
    with django_capture_on_commit_callbacks() as callbacks:
        done = services.fail_stale_trainings()
    assert done["requeued"] == [adapter.pk] and len(callbacks) == 1
    adapter.refresh_from_db()
    assert adapter.training_attempts == 2 and adapter.status == Adapter.Status.TRAINING_IN_PROGRESS
    # Still no result two hours later: failed, with what to do.
    later = timezone.now() + timedelta(hours=3)
    done = services.fail_stale_trainings(now=later)
    assert done == {"polled": [], "requeued": [recent.pk], "failed": [adapter.pk]}
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_FAILED
    assert "stopped 2 times without finishing" in adapter.status_message
    assert Notification.objects.filter(user=owner, level="error").exists()
    # A run that is not stale is left alone.
    assert services.fail_stale_trainings(now=later) == {"polled": [], "requeued": [], "failed": []}


def test_a_new_base_model_deprecates_expires_and_auto_updates(
    owner, project, settings, django_capture_on_commit_callbacks
):
    from adapters.tasks import train_adapter

    project.auto_update = True
    project.save()
    adapter = make_adapter(project, "v1")
    add_dataset(adapter, 8, 8)
    with django_capture_on_commit_callbacks():
        services.start_training(user=owner, adapter=adapter)
    train_adapter(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_COMPLETED
    assert services.check_base_model_versions()["deprecated"] == []

    settings.LOCAL_MODEL_VERSION = "7.1"
    with django_capture_on_commit_callbacks() as callbacks:
        done = services.check_base_model_versions()
    adapter.refresh_from_db()
    assert done["deprecated"] == [adapter.pk]
    assert adapter.status == Adapter.Status.DEPRECATED and adapter.expires_at > timezone.now() + timedelta(
        days=59
    )
    (new_pk,) = done["retrained"]
    new = Adapter.objects.get(pk=new_pk)
    assert new.name == "v1-auto-1" and new.status == Adapter.Status.TRAINING_IN_PROGRESS
    assert new.copied_from_id == adapter.pk and len(callbacks) == 1
    with (
        default_storage.open(new.training_manifest) as a,
        default_storage.open(adapter.training_manifest) as b,
    ):
        assert a.read() == b.read()  # the frozen dataset, not the images as they are now
    train_adapter(new.pk)
    new.refresh_from_db()
    assert new.status == Adapter.Status.TRAINING_COMPLETED and new.base_model_version == "7.1"

    done = services.check_base_model_versions(now=timezone.now() + timedelta(days=61))
    adapter.refresh_from_db()
    assert done["expired"] == [adapter.pk] and adapter.status == Adapter.Status.EXPIRED
    assert Notification.objects.filter(user=owner, message__contains="is deprecated").exists()
