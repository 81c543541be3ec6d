"""Bulk analysis test helpers: jobs with images, and finished jobs with predictions."""

import pytest
from django.utils import timezone

from bulk_analysis import services
from bulk_analysis.models import BulkAnalysisJob, Prediction
from tests.conftest import make_image_bytes


def images(n, start=0):
    return [(f"img{i}.jpg", make_image_bytes(100, 90, seed=i + 1)) for i in range(start, start + n)]


def finished_job(user, predictions, name="done-job", min_confidence=50.0, files=None):
    """A SUCCEEDED job whose images are real files (`files`, else generated ones), with the given
    top-level predictions per image."""
    job = services.create_job(user=user, name=name, min_confidence=min_confidence)
    services.add_files(job=job, files=files or images(len(predictions)))
    for prediction, tops in zip(job.predictions.order_by("line"), predictions, strict=True):
        labels = [
            {"Name": name, "ParentName": "", "TaxonomyLevel": 1, "Confidence": conf}
            for name, conf in tops.items()
        ]
        Prediction.objects.filter(pk=prediction.pk).update(
            state=Prediction.State.DONE,
            response={"ModerationLabels": labels, "ModerationModelVersion": "7.0"},
            top_labels=tops,
            max_confidence=max(tops.values(), default=0.0),
            finished_at=timezone.now(),
        )
    binned = job.predictions.histograms()  # stored as the runner's finish stores them
    BulkAnalysisJob.objects.filter(pk=job.pk).update(
        status=BulkAnalysisJob.Status.SUCCEEDED,
        total_images=len(predictions),
        completed_at=timezone.now(),
        histograms=binned,
        flagged_images=job.flagged_in(binned),
    )
    job.refresh_from_db()
    return job


@pytest.fixture
def annotator_client(client, annotator):
    client.force_login(annotator)
    return client
