"""A bulk job's page reads a page of its predictions off an index and counts none of them: its
progress comes from counters kept with the rows, its tabs' rows come in line order from the
(job, state, line) index, whatever the job's size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bulk_analysis import runner
from bulk_analysis.models import BulkAnalysisJob, Prediction
from bulk_analysis.queries import GRID_PAGE

pytestmark = pytest.mark.django_db

PROGRESS = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "job-progress"}


def _job(owner, confidences, status=BulkAnalysisJob.Status.SUCCEEDED):
    """A job with one prediction per confidence (None: failed); finished ones with histograms."""
    job = BulkAnalysisJob.objects.create(
        name="big", min_confidence=50.0, status=status, total_images=len(confidences), created_by=owner
    )
    Prediction.objects.bulk_create(
        Prediction(
            job=job,
            line=i + 1,
            source_ref=f"s3://b/{i + 1}.jpg",
            state=Prediction.State.FAILED if c is None else Prediction.State.DONE,
            top_labels={"Alcohol": c} if c else {},
            max_confidence=c or 0.0,
            finished_at=timezone.now(),
        )
        for i, c in enumerate(confidences)
    )
    if status == BulkAnalysisJob.Status.SUCCEEDED:
        job.histograms = job.predictions.histograms()
        job.save(update_fields=["histograms"])
    return job


def _plans(queries, table: str = "bulk_analysis_prediction") -> list[tuple[str, str]]:
    """(SQL, SQLite's query plan) of every query that read `table`."""
    found = []
    with connection.cursor() as cursor:
        for query in queries:
            if table in query["sql"]:
                cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                found.append((query["sql"], " / ".join(row[-1] for row in cursor.fetchall())))
    return found


@pytest.mark.parametrize(
    "flag,wanted",
    [
        ("flagged", lambda c: c is not None and c >= 50),
        ("unflagged", lambda c: c is not None and c < 50),
        ("failed", lambda c: c is None),
    ],
)
def test_it_pages_a_tab_in_line_order_off_an_index_without_sorting_or_counting(
    owner, owner_client, flag, wanted
):
    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's query plans")
    confidences = [[90.0, 20.0, None, 75.0, 0.0, 50.0][i % 6] for i in range(12 * GRID_PAGE)]
    job = _job(owner, confidences)

    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(reverse("bulk-detail", args=[job.pk]), {"flag": flag, "page": 2})

    assert response.status_code == 200
    lines = [i + 1 for i, c in enumerate(confidences) if wanted(c)]
    assert [card["p"].line for card in response.context["cards"]] == lines[GRID_PAGE : 2 * GRID_PAGE]
    plans = _plans(queries.captured_queries)
    assert plans, "the page read no prediction"
    for sql, plan in plans:
        assert "COUNT(" not in sql.upper(), sql
        assert "TEMP B-TREE" not in plan and "prediction_state_line_idx" in plan, (sql, plan)


def test_a_running_jobs_progress_comes_from_its_counters_not_a_count_of_its_rows(owner, owner_client):
    job = _job(owner, [], status=BulkAnalysisJob.Status.IN_PROGRESS)
    Prediction.objects.bulk_create(
        Prediction(job=job, line=line, source_ref=f"s3://b/{line}.jpg") for line in range(1, 11)
    )
    BulkAnalysisJob.objects.filter(pk=job.pk).update(total_images=10)

    runner.give_up_unit(job_id=job.pk, first_line=1, last_line=4, message="out of time")

    job.refresh_from_db()
    assert (job.status, job.done_images, job.failed_images) == (BulkAnalysisJob.Status.IN_PROGRESS, 0, 4)
    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(reverse("bulk-detail", args=[job.pk]), **PROGRESS)
    assert "4 of 10 images analysed (4 failed)" in " ".join(response.content.decode().split())
    assert not [q["sql"] for q in queries.captured_queries if "bulk_analysis_prediction" in q["sql"]]


def test_the_migration_fills_the_counters_of_existing_jobs_from_their_rows(owner):
    import importlib

    from django.apps import apps

    job = _job(owner, [90.0, None, 20.0, None, None], status=BulkAnalysisJob.Status.IN_PROGRESS)
    Prediction.objects.create(job=job, line=6, source_ref="s3://b/6.jpg")  # pending
    other = _job(owner, [10.0])
    importlib.import_module("bulk_analysis.migrations.0007_job_counters_state_line_idx").backfill(apps, None)
    job.refresh_from_db()
    other.refresh_from_db()
    assert (job.done_images, job.failed_images, other.done_images, other.failed_images) == (2, 3, 1, 0)
