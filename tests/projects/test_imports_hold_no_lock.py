"""An import reads, checks and stores its images outside the write transaction: on SQLite (the
embedded default) that transaction locks the whole database, and a worker writing results must
not wait for an upload or an S3 read."""

import json
import os
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from adapters.models import Adapter, Image
from console.lib import storage
from projects import services
from projects.models import Project
from rekognition_api.models import ApiRequest
from rekognition_api.operations.versions import create_project_version
from tests.api.conftest import put_training_manifest
from tests.conftest import make_image_bytes
from tests.verification.test_verify import make_trainable
from verification import services as verification


@pytest.mark.django_db(transaction=True)
def test_it_writes_meanwhile_while_an_import_waits_for_its_image(owner, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    # The manifest's image is a named pipe: reading it blocks until the test writes the image.
    (tmp_path / "incoming").mkdir()
    os.mkfifo(tmp_path / "incoming" / "slow.jpg")
    line = {
        "source-ref": storage.uri_for("incoming/slow.jpg"),
        "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Alcohol"}]},
    }
    result = {}

    def create_with_images():
        try:
            result["created"] = services.create_adapter_with_images(
                user=owner,
                project_name="imported",
                adapter_name="first",
                manifest=("train.manifest", (json.dumps(line) + "\n").encode()),
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            result["error"] = exc
        finally:
            connection.close()

    importing = threading.Thread(target=create_with_images)
    importing.start()
    try:
        with open(tmp_path / "incoming" / "slow.jpg", "wb") as pipe:  # returns once the import reads it
            # The import is under way, waiting for its image: a write transaction goes through.
            services.create_project(user=owner, name="meanwhile")
            assert importing.is_alive() and not Image.objects.exists()
            pipe.write(make_image_bytes(seed=4))
    finally:
        importing.join(timeout=60)
    assert "error" not in result, result.get("error")
    adapter, report = result["created"]
    assert [image.original_name for image in report.added] == [line["source-ref"]]
    assert Adapter.objects.get(pk=adapter.pk).images.count() == 1
    assert set(Project.objects.values_list("name", flat=True)) == {"imported", "meanwhile"}


def _hold_on_a_pipe(path, data, run, meanwhile):
    """Make `path` a named pipe, run `run` in a thread (it reads the pipe, blocking until the test
    writes `data`), call `meanwhile` once the thread has opened the pipe; returns run's result."""
    os.remove(path)
    os.mkfifo(path)
    result = {}

    def target():
        try:
            result["value"] = run()
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            result["error"] = exc
        finally:
            connection.close()

    importing = threading.Thread(target=target)
    importing.start()
    try:
        with open(path, "wb") as pipe:  # returns once the import reads it
            meanwhile(importing)
            pipe.write(data)
    finally:
        importing.join(timeout=60)
    assert "error" not in result, result.get("error")
    return result["value"]


@pytest.mark.django_db(transaction=True)
def test_it_writes_meanwhile_while_training_from_verification_reads_an_image(owner):
    job = make_trainable(owner)
    held = job.predictions.order_by("line").last()
    path = default_storage.path(held.file)
    with open(path, "rb") as fh:
        data = fh.read()

    def meanwhile(importing):
        # Training from verification waits for its last image: a write transaction goes through.
        services.create_project(user=owner, name="meanwhile")
        assert importing.is_alive() and not Image.objects.exists()

    adapter = _hold_on_a_pipe(
        path,
        data,
        lambda: verification.train_from_verification(
            user=owner, job=job, threshold=50, adapter_name="v1", project_name="from-bulk"
        ),
        meanwhile,
    )
    assert adapter.status == Adapter.Status.TRAINING_IN_PROGRESS
    assert adapter.images.count() == 14
    # The one layout of dataset images (console.lib.images.keys), as any other import stores them.
    assert all(
        image.file == f"datasets/{adapter.pk}/{image.sha256}.jpg"
        and image.thumbnail == f"datasets/{adapter.pk}/thumbnails/{image.sha256}.jpg"
        for image in adapter.images.all()
    )
    assert set(Project.objects.values_list("name", flat=True)) == {"from-bulk", "meanwhile"}


@pytest.mark.django_db(transaction=True)
def test_it_writes_meanwhile_while_create_project_version_reads_an_image(owner):
    project = services.create_project(user=owner, name="api")
    manifest = put_training_manifest("held", count=16)
    path = default_storage.path("held/img15.jpg")
    with open(path, "rb") as fh:
        data = fh.read()
    params = {
        "ProjectArn": project.arn,
        "VersionName": "v1",
        "OutputConfig": {"S3Bucket": storage.bucket(), "S3KeyPrefix": "out/"},
        "TrainingData": {"Assets": [{"GroundTruthManifest": {"S3Object": manifest}}]},
        "TestingData": {"AutoCreate": True},
    }

    def meanwhile(importing):
        # CreateProjectVersion waits for the manifest's last image: a write transaction goes through.
        services.create_project(user=owner, name="meanwhile")
        assert importing.is_alive() and not Image.objects.exists()

    answer = _hold_on_a_pipe(path, data, lambda: create_project_version(owner, params), meanwhile)
    adapter = Adapter.objects.get(arn=answer["ProjectVersionArn"])
    assert adapter.status == Adapter.Status.TRAINING_IN_PROGRESS and adapter.images.count() == 16
    assert ApiRequest.objects.filter(operation="CreateProjectVersion", resource_id=adapter.arn).exists()
    assert set(Project.objects.values_list("name", flat=True)) == {"api", "meanwhile"}
