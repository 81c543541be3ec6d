"""Helpers for the project pages: a draft adapter, images in its dataset, manifests."""

import html
import io
import json

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from adapters import datasets
from adapters import services as adapter_services
from adapters.models import Image
from console.lib import storage
from projects import services
from tests.conftest import make_image_bytes


@pytest.fixture(autouse=True)
def own_storage(settings, tmp_path):
    """Each test stores files in its own folder, so a test can check that nothing was left behind."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def adapter(owner):
    project = services.create_project(user=owner, name="policy")
    return adapter_services.create_adapter(user=owner, project=project, name="first")


def jpeg(seed, width=120, height=100):
    return make_image_bytes(width, height, seed=seed)


def png(seed, width=120, height=100):
    return make_image_bytes(width, height, seed=seed, fmt="PNG")


def gif():
    buf = io.BytesIO()
    PILImage.new("RGB", (120, 100), (9, 9, 9)).save(buf, "GIF")
    return buf.getvalue()


def add_images(user, adapter, n, start=0):
    report = datasets.import_files(
        user=user, adapter=adapter, files=[(f"img{i}.jpg", jpeg(i)) for i in range(start, start + n)]
    )
    assert len(report.added) == n, report
    return report.added


def put(key, data) -> str:
    """Store a file in this console's bucket; returns its s3:// URI."""
    return storage.uri_for(storage.save(key, data))


def manifest(*lines) -> bytes:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines).encode()


def gt(uri, *labels):
    return {
        "source-ref": uri,
        "content-moderation-groundtruth": {"ModerationLabels": [{"Name": n} for n in labels]},
    }


def stored_dataset_files(adapter_pk) -> list[str]:
    """Every file stored under an adapter's dataset folder."""
    found, pending = [], [f"datasets/{adapter_pk}"]
    while pending:
        folder = pending.pop()
        try:
            dirs, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        found += [f"{folder}/{f}" for f in files]
        pending += [f"{folder}/{d}" for d in dirs]
    return found


def all_dataset_files() -> list[str]:
    try:
        dirs, _ = default_storage.listdir("datasets")
    except FileNotFoundError:
        return []
    return [f for d in dirs for f in stored_dataset_files(d)]


def image_count():
    return Image.objects.count()
