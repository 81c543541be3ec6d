"""Base model 8.0 deprecates adapters trained on 7.0; the adapter page retrains one with one click."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from adapters import services
from adapters.models import Adapter
from moderation.engine import heads
from tests.adapters.conftest import add_dataset, make_adapter
from tests.conftest import WorkerProcess, wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_7_0_adapter_is_deprecated_by_8_0_and_retrained_on_its_dataset_with_one_click(
    owner, owner_client, project, settings, tmp_path
):
    from adapters.tasks import train_adapter

    adapter = make_adapter(project, "v1")
    add_dataset(adapter, 8, 8)
    settings.LOCAL_MODEL_VERSION = "7.0"  # trained here, on base model v1
    services.start_training(user=owner, adapter=adapter)
    train_adapter(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_COMPLETED and adapter.base_model_version == "7.0"

    settings.LOCAL_MODEL_VERSION = "8.0"
    assert services.check_base_model_versions()["deprecated"] == [adapter.pk]
    page = owner_client.get(reverse("adapters-detail", args=[adapter.pk]))
    assert b"Retrain on the same dataset" in page.content

    worker = WorkerProcess(log_path=tmp_path / "worker.log")  # runs the default, base model 8.0
    try:
        response = owner_client.post(reverse("adapters-retrain", args=[adapter.pk]))
        new = Adapter.objects.exclude(pk=adapter.pk).get(project=project)
        assert response.status_code == 302 and response["Location"] == reverse(
            "adapters-detail", args=[new.pk]
        )

        def finished():
            new.refresh_from_db()
            return new.status != Adapter.Status.TRAINING_IN_PROGRESS

        wait_for(finished, timeout=300, interval=0.5, message="the retrained adapter to finish")
    finally:
        worker.stop()
    assert new.status == Adapter.Status.TRAINING_COMPLETED, new.status_message
    assert new.base_model_version == "8.0" and new.copied_from_id == adapter.pk
    with (
        default_storage.open(new.training_manifest) as a,
        default_storage.open(adapter.training_manifest) as b,
    ):
        assert a.read() == b.read()
    artifact = new.locations["artifact"].split(f"{settings.STORAGE_BUCKET}/", 1)[1]
    with default_storage.open(artifact) as fh:
        assert (
            heads.AdapterHead.from_bytes(fh.read(), base_model_version="8.0").feature_set
            == heads.FEATURE_SET_V2
        )
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.DEPRECATED


@pytest.mark.django_db
def test_only_a_deprecated_or_expired_adapter_is_retrained_and_only_by_a_manager(
    owner_client, client, viewer, project
):
    adapter = make_adapter(project, "fresh", status=Adapter.Status.TRAINING_COMPLETED, training_manifest="x")
    response = owner_client.post(reverse("adapters-retrain", args=[adapter.pk]))
    assert response.status_code == 302 and Adapter.objects.count() == 1
    client.force_login(viewer)
    assert client.post(reverse("adapters-retrain", args=[adapter.pk])).status_code == 403
