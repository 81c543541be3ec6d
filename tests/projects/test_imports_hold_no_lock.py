"""An import reads, checks and stores its images outside the write transaction: on SQLite (the
embedded default) that transaction locks the whole database, and a worker writing results must
not wait for an upload or an S3 read."""

import json
import os
import threading

import pytest
from django.db import connection

from adapters.models import Adapter, Image
from console.lib import storage
from projects import services
from projects.models import Project
from tests.conftest import make_image_bytes


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
