"""The numbers the Bulk analysis list shows are stored with the work, not counted per request."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from bulk_analysis import runner, services
from bulk_analysis.models import BulkAnalysisJob, Prediction
from tests.bulk_analysis.conftest import images


def _analysed(job, confidences):
    Prediction.objects.bulk_create(
        Prediction(
            job=job,
            line=i + 1,
            source_ref=f"s3://b/{i}.jpg",
            state=Prediction.State.DONE,
            response={"ModerationLabels": []},
            top_labels={"Alcohol": c} if c else {},
            max_confidence=c,
            finished_at=timezone.now(),
        )
        for i, c in enumerate(confidences)
    )


@pytest.mark.django_db
def test_a_finished_job_stores_its_flagged_count_and_the_list_reads_it(owner, owner_client):
    job = BulkAnalysisJob.objects.create(
        name="stored",
        min_confidence=50.0,
        status=BulkAnalysisJob.Status.IN_PROGRESS,
        total_images=4,
        created_by=owner,
    )
    _analysed(job, [90.0, 50.0, 49.9, 0.0])

    assert runner.finish_if_done(job=job)
    job.refresh_from_db()
    assert (job.status, job.flagged_images) == (BulkAnalysisJob.Status.SUCCEEDED, 2)

    Prediction.objects.filter(job=job).update(
        max_confidence=0.0
    )  # rows no longer agree: the page must not look
    row = owner_client.get(reverse("bulk-list")).content.decode().split("stored", 1)[1]
    assert "<td>4</td>" in row and "<td>2</td>" in row  # images, flagged


@pytest.mark.django_db
def test_a_new_job_counts_its_images_as_they_are_added(owner, owner_client):
    job = services.create_job(user=owner, name="adding")
    services.add_files(job=job, files=images(2))
    services.add_files(job=job, files=images(3, start=2))

    job.refresh_from_db()
    assert job.total_images == 5 == job.predictions.count()
    row = owner_client.get(reverse("bulk-list")).content.decode().split("adding", 1)[1]
    assert "<td>5</td>" in row
