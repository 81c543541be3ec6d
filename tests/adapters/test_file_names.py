"""Images are traced back to their files: the adapter tabs name a frozen manifest's images by
their original file name, not the sha256 the manifest stores."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from adapters import datasets
from tests.adapters.conftest import add_dataset
from tests.adapters.test_detail import page

pytestmark = pytest.mark.django_db


def test_the_training_tab_of_a_frozen_manifest_shows_original_names(owner_client, adapter):
    add_dataset(adapter, 1, 1)
    name = default_storage.save(
        f"adapters/{adapter.pk}/train.manifest",
        ContentFile(datasets.export_manifest(adapter=adapter).encode()),
    )
    type(adapter).objects.filter(pk=adapter.pk).update(training_manifest=name)
    adapter.refresh_from_db()
    body = page(owner_client, adapter, tab="training")
    for image in adapter.images.all():
        assert image.original_name in body
        assert f">{image.file.rsplit('/', 1)[-1]}<" not in body
