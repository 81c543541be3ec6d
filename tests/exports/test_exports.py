"""A large dataset's manifest is written by the worker, with progress and a download link; a small
one is still written in the request."""

import signal
from datetime import timedelta

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.urls import reverse
from django.utils import timezone

from adapters import datasets
from bench import data
from console.models import AuditEntry
from exports import services, tasks
from exports.models import Export
from tests.conftest import WorkerProcess, wait_for


@pytest.fixture
def adapter(owner):
    return data.labeling_dataset(owner, 30)  # 20 labeled or safe, 10 unlabeled


def manifest_url(adapter, split="train"):
    return reverse("projects-manifest", args=[adapter.project_id, adapter.pk]) + f"?split={split}"


@pytest.mark.django_db
def test_a_small_manifest_is_still_written_in_the_request(owner_client, adapter, settings):
    settings.EXPORTS_INLINE_MAX_IMAGES = 20
    response = owner_client.get(manifest_url(adapter))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert response.content.decode() == datasets.export_manifest(adapter=adapter, split="train")
    assert not Export.objects.exists()


@pytest.mark.django_db
def test_a_large_manifest_is_exported_in_the_background_with_a_download_link(
    client, viewer, adapter, settings
):
    settings.EXPORTS_INLINE_MAX_IMAGES = 19
    client.force_login(viewer)  # whoever may download the manifest may export it
    response = client.get(manifest_url(adapter))
    start = reverse("exports-adapter-manifest", args=[adapter.pk]) + "?split=train"
    assert response.status_code == 302 and response["Location"] == start
    page = client.get(start).content.decode()
    assert "20 labeled images" in page and "Prepare the manifest" in page
    assert not Export.objects.exists()  # a GET starts nothing

    response = client.post(start)
    export = Export.objects.get()
    assert response["Location"] == reverse("exports-detail", args=[export.pk])
    assert (export.status, export.total, export.done, export.created_by) == ("queued", 20, 0, viewer)
    assert AuditEntry.objects.filter(action="export.start", user=viewer).exists()
    progress = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in progress and "0 of 20 images written" in progress
    assert client.get(reverse("exports-download", args=[export.pk])).status_code == 404

    assert services.run_export(export_id=export.pk) is True  # what the worker's task runs
    assert services.run_export(export_id=export.pk) is False  # a second delivery changes nothing
    export.refresh_from_db()
    assert (export.status, export.done, export.total) == ("succeeded", 20, 20)
    progress = client.get(reverse("exports-detail", args=[export.pk]), headers={"HX-Request": "true"})
    assert "hx-trigger" not in progress.content.decode() and "Download" in progress.content.decode()
    download = client.get(reverse("exports-download", args=[export.pk]))
    assert download["Content-Disposition"] == f'attachment; filename="{adapter.name}-train.manifest"'
    assert b"".join(download.streaming_content).decode() == datasets.export_manifest(adapter=adapter)


@pytest.mark.django_db
def test_the_export_reports_progress_every_chunk(owner):
    adapter = data.labeling_dataset(owner, 4_500)  # 3,000 images in the manifest
    seen = []
    body = datasets.export_manifest(adapter=adapter, split="train", progress=seen.append)
    assert seen == [datasets.CHUNK] and body.count("\n") == 3_000
    assert datasets.manifest_size(adapter=adapter, split="train") == 3_000


@pytest.mark.django_db
def test_old_exports_are_deleted_with_their_files_and_stuck_ones_failed(owner, adapter):
    done = services.start_adapter_manifest(user=owner, adapter=adapter, split="train")
    services.run_export(export_id=done.pk)
    done.refresh_from_db()
    assert default_storage.exists(done.file)
    stuck = services.start_adapter_manifest(user=owner, adapter=adapter, split="test")
    Export.objects.filter(pk=stuck.pk).update(status=Export.Status.RUNNING)
    now = timezone.now()
    assert services.clean_up(now=now + services.STALE_AFTER + timedelta(minutes=1)) == {
        "failed": 1,
        "deleted": 0,
    }
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "start the download again" in stuck.error
    assert services.clean_up(now=now + services.KEEP_FOR + timedelta(hours=2)) == {"failed": 0, "deleted": 2}
    assert not default_storage.exists(done.file)


class OutOfTimeStorage(FileSystemStorage):
    """Files on disk whose writes outlast the task's soft time limit (the soft_time_limit fixture)."""

    def _save(self, name, content):
        signal.raise_signal(signal.SIGUSR1)
        return super()._save(name, content)


@pytest.mark.django_db
def test_an_export_that_runs_out_of_time_fails_with_a_message(
    owner, adapter, settings, tmp_path, soft_time_limit
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.OutOfTimeStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    export = services.start_adapter_manifest(user=owner, adapter=adapter, split="train")
    tasks.run_export(export.pk)
    export.refresh_from_db()
    assert (export.status, export.file) == ("failed", "")
    assert export.error.startswith(
        "The export took longer than 29 minutes and was stopped; start the download"
    )
    assert export.finished_at and not list(tmp_path.rglob("*.manifest"))
    for task in (tasks.run_export, tasks.clean_up_exports):
        assert task.soft_time_limit < task.time_limit


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_the_export(owner_client, owner, settings, tmp_path):
    settings.EXPORTS_INLINE_MAX_IMAGES = 5
    adapter = data.labeling_dataset(owner, 30)
    worker = WorkerProcess(log_path=tmp_path / "worker.log")
    try:
        response = owner_client.post(reverse("exports-adapter-manifest", args=[adapter.pk]) + "?split=train")
        export = Export.objects.get()

        def finished():
            export.refresh_from_db()
            return not export.is_running

        wait_for(finished, timeout=60, message="the export")
    finally:
        worker.stop()
    assert export.status == "succeeded", export.error
    page = owner_client.get(response["Location"]).content.decode()
    assert reverse("exports-download", args=[export.pk]) in page
    download = owner_client.get(reverse("exports-download", args=[export.pk]))
    assert b"".join(download.streaming_content).decode() == datasets.export_manifest(adapter=adapter)
