"""A bulk job's units run in this process on the local engine's pipeline: one result per image,
bad images failed in place, a unit run twice changes nothing."""

import pytest

from bulk_analysis import runner, services
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console.lib import storage
from console.models import ImageEmbedding
from moderation import manifests
from tests.bulk_analysis.conftest import images
from tests.engine.imagegen import TRAIN_PHOTOS, symbol_set

pytestmark = pytest.mark.django_db


def running_job(owner, files, refs=()):
    job = services.create_job(user=owner, name="in-process", min_confidence=0)
    services.add_files(job=job, files=files)
    if refs:
        services.add_manifest(job=job, data=manifests.write_bulk_input(refs).encode(), name="in.manifest")
    services.start_job(user=owner, job=job)  # not enqueued: the test's transaction never commits
    assert runner.begin(job_id=job.pk) == "units"
    job.refresh_from_db()
    return job


def test_it_records_one_result_per_image_and_fails_bad_ones_in_place(owner):
    photos = [(f"p{i}.jpg", data) for i, (data, _) in enumerate(symbol_set(TRAIN_PHOTOS, 4, seed=31))]
    truncated = storage.save("elsewhere/cut.jpg", photos[0][1][: len(photos[0][1]) // 2])
    job = running_job(
        owner,
        [*photos, ("copy.jpg", photos[1][1])],
        [storage.uri_for(truncated), storage.uri_for("elsewhere/missing.jpg")],
    )
    assert runner.pending_units(job=job) == [(1, 25)]

    runner.run_unit(job_id=job.pk, first_line=1, last_line=25)

    job.refresh_from_db()
    assert job.status == BulkAnalysisJob.Status.SUCCEEDED, job.status_message
    rows = list(job.predictions.order_by("line").values_list("state", "error_code"))
    assert rows == [("done", "")] * 5 + [
        ("failed", "InvalidImageFormatException"),
        ("failed", "InvalidS3ObjectException"),
    ]
    done = list(job.predictions.filter(state="done").order_by("line"))
    assert all(p.seconds is not None and p.seconds >= 0 and p.finished_at for p in done)
    assert done[1].response == done[4].response  # the copy: the same answer
    assert all(p.response["ModerationModelVersion"] == "8.0" for p in done)
    failed = job.predictions.get(line=6)
    assert failed.error_message.startswith(storage.uri_for(truncated))
    assert ImageEmbedding.objects.count() == 4  # the copy was analysed once
    summary = manifests.read_summary(storage.read_ref(storage.ref_for(job.summary)))
    assert (summary.total, summary.valid, summary.invalid) == (7, 5, 2)
    assert (job.done_images, job.failed_images) == (5, 2)  # counted with each row's change

    # A redelivered unit finds nothing pending and changes nothing.
    before = list(job.predictions.order_by("line").values_list("state", "finished_at", "response"))
    BulkAnalysisJob.objects.filter(pk=job.pk).update(status=BulkAnalysisJob.Status.IN_PROGRESS)
    runner.run_unit(job_id=job.pk, first_line=1, last_line=25)
    assert list(job.predictions.order_by("line").values_list("state", "finished_at", "response")) == before
    job.refresh_from_db()
    assert (job.done_images, job.failed_images) == (5, 2)


def test_it_leaves_a_row_another_copy_of_the_unit_has_done_as_it_is(owner):
    job = running_job(owner, images(3))
    other = job.predictions.get(line=2)
    Prediction.objects.filter(pk=other.pk).update(
        state=Prediction.State.DONE, response={"ModerationLabels": []}, max_confidence=0.0
    )

    runner.run_unit(job_id=job.pk, first_line=1, last_line=25)

    rows = list(job.predictions.order_by("line").values_list("state", "response"))
    assert [state for state, _ in rows] == ["done"] * 3
    assert rows[1][1] == {"ModerationLabels": []}  # kept: the row left pending once only
    assert rows[0][1]["ModerationModelVersion"] == "8.0"


@pytest.mark.parametrize(
    "total,size,units",
    [(7, 25, 1), (200, 25, 8), (400, 50, 8), (1_000, 100, 10), (10_000, 100, 100)],
)
def test_it_splits_a_job_into_units_of_25_to_100_images(owner, total, size, units):
    job = services.create_job(user=owner, name=f"split-{total}")
    Prediction.objects.bulk_create(
        Prediction(job=job, line=line, source_ref=f"s3://b/{line}.jpg") for line in range(1, total + 1)
    )
    BulkAnalysisJob.objects.filter(pk=job.pk).update(total_images=total)
    job.refresh_from_db()

    assert runner.unit_size(job=job) == size
    pending = runner.pending_units(job=job)
    assert len(pending) == units and pending[0] == (1, size) and pending[-1][1] >= total
    job.predictions.filter(line__lte=size).update(state=Prediction.State.DONE)
    assert runner.pending_units(job=job) == pending[1:]


def test_an_image_in_a_bucket_not_ours_fails_in_place_when_s3_is_not_configured(owner, monkeypatch, settings):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    settings.AWS_S3_ENDPOINT_URL = None
    settings.STORAGE_BACKEND = "local"  # as the embedded default (the stack run keeps its files on S3)
    job = running_job(owner, images(1), ["s3://someone-else/photos/a.jpg"])

    runner.run_unit(job_id=job.pk, first_line=1, last_line=25)

    failed = job.predictions.get(line=2)
    assert (failed.state, failed.error_code) == ("failed", "InvalidS3ObjectException")
    assert "S3 is not configured on this console" in failed.error_message
