"""A job's confidences binned at 0.1: the counts the results and verify pages show and paginate by."""

import random
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bulk_analysis import histograms, queries, runner, services
from bulk_analysis.models import BulkAnalysisJob, Prediction

LABELS = ["Alcohol", "Violence", "Explicit"]
# Values on and next to the bin edges, where rounding instead of flooring would miscount.
EDGES = [0.0, 0.05, 0.1, 49.9, 49.95, 49.99, 50.0, 50.01, 70.1, 70.15, 99.99, 100.0]


def random_tops(rng) -> dict[str, float]:
    def pick() -> float:
        if rng.random() < 0.3:
            return rng.choice(EDGES)
        return round(rng.uniform(0, 100), rng.choice([0, 1, 2]))

    return {name: pick() for name in rng.sample(LABELS, rng.choice([0, 1, 1, 2, 3]))}


def test_counts_from_the_bins_equal_counts_over_the_images():
    rng = random.Random(5)
    rows = [("done", max(t.values(), default=0.0), t) for t in (random_tops(rng) for _ in range(2000))]
    rows += [("failed", 0.0, {})] * 7 + [("pending", 0.0, {})] * 3
    binned = histograms.build(rows)

    assert (binned["total"], binned["done"], binned["failed"]) == (2010, 2000, 7)
    assert len(binned["max"]) == histograms.BINS and all(
        len(b) == histograms.BINS for b in binned["labels"].values()
    )
    for threshold in [0, 0.1, 5, 49.9, 50, 50.1, 70.1, 99.9, 100] + [
        rng.randrange(1001) / 10 for _ in range(50)
    ]:
        counts = histograms.counts_at(binned, threshold, LABELS + ["Gambling"])
        done = [(m, t) for state, m, t in rows if state == "done"]
        flagged = sum(1 for m, _ in done if m >= threshold and m > 0)
        assert counts["flagged"] == flagged and counts["unflagged"] == 2000 - flagged, threshold
        assert counts["per_label"] == [
            (name, sum(1 for _, t in done if name in t and t[name] >= threshold)) for name in LABELS
        ] + [("Gambling", 0)], threshold


def make_job(owner, tops_list, *, failed=0, min_confidence=5.0) -> BulkAnalysisJob:
    job = BulkAnalysisJob.objects.create(
        name="binned",
        min_confidence=min_confidence,
        status=BulkAnalysisJob.Status.IN_PROGRESS,
        total_images=len(tops_list) + failed,
        created_by=owner,
        started_at=timezone.now(),
        output_prefix="binned/output",
    )
    rows = [
        Prediction(
            job=job,
            line=i + 1,
            source_ref=f"s3://bucket/{i}.jpg",
            state=Prediction.State.DONE,
            response={"ModerationLabels": [], "ModerationModelVersion": "7.0"},
            top_labels=tops,
            max_confidence=max(tops.values(), default=0.0),
            finished_at=timezone.now(),
        )
        for i, tops in enumerate(tops_list)
    ]
    rows += [
        Prediction(
            job=job,
            line=len(tops_list) + i + 1,
            source_ref=f"s3://bucket/bad{i}.jpg",
            state=Prediction.State.FAILED,
            error_code="InvalidImageFormatException",
            error_message="not an image",
        )
        for i in range(failed)
    ]
    Prediction.objects.bulk_create(rows)
    assert runner.finish_if_done(job=job)  # the finalizer stores the histograms
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_the_pages_count_of_each_filter_is_the_rows_count(owner):
    rng = random.Random(11)
    job = make_job(owner, [random_tops(rng) for _ in range(300)], failed=4)
    binned = job.histograms
    assert binned == job.predictions.histograms()
    for threshold in [5, 49.9, 50, 70.1, 100] + [rng.randrange(50, 1001) / 10 for _ in range(10)]:
        for label in ["", *LABELS, "Gambling"]:
            for flag in ["", "flagged", "unflagged", "failed"]:
                rows = queries.filtered_predictions(job, label=label, flag=flag, threshold=threshold)
                for done_only in (False, True):
                    expected = (rows.filter(state=Prediction.State.DONE) if done_only else rows).count()
                    found = histograms.matching(
                        binned, label=label, flag=flag, threshold=threshold, done_only=done_only
                    )
                    assert found == expected, (threshold, label, flag, done_only)


@pytest.mark.django_db
def test_the_results_page_counts_a_finished_job_without_reading_its_predictions(owner, client):
    rng = random.Random(3)
    job = make_job(owner, [random_tops(rng) for _ in range(130)], failed=2)
    client.force_login(owner)
    for params in ({}, {"flag": "flagged", "threshold": "50"}, {"label": "Alcohol", "threshold": "70.1"}):
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(reverse("bulk-detail", args=[job.pk]), params).content.decode()
        counting = [
            q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"] and "prediction" in q["sql"]
        ]
        assert not counting, counting
        rows = queries.filtered_predictions(
            job,
            label=params.get("label", ""),
            flag=params.get("flag", ""),
            threshold=float(params.get("threshold", 5)),
        )
        pages = -(-rows.count() // 60)
        assert (f"Page 1 of {pages}<" in page) == (pages > 1), params
    threshold = 50
    flagged = job.predictions.filter(
        state="done", max_confidence__gte=threshold, max_confidence__gt=0
    ).count()
    page = client.get(reverse("bulk-detail", args=[job.pk]), {"threshold": threshold}).content.decode()
    assert f'data-metric="flagged">{flagged}<' in page and f'data-metric="unflagged">{130 - flagged}<' in page
    assert "2 images could not be analysed" in page
    alcohol = re.search(r'<span>Alcohol</span><span data-label-count="\d+">(\d+)<', page).group(1)
    assert int(alcohol) == job.predictions.filter(top_labels__Alcohol__gte=threshold).count()


@pytest.mark.django_db
def test_an_unfinished_job_has_no_histograms_and_a_failed_one_gets_them(owner):
    job = services.create_job(user=owner, name="pending")
    assert job.histograms is None and queries.job_histograms(job)["total"] == 0
    BulkAnalysisJob.objects.filter(pk=job.pk).update(
        status=BulkAnalysisJob.Status.IN_PROGRESS, total_images=2
    )
    job.refresh_from_db()
    Prediction.objects.bulk_create(Prediction(job=job, line=n, source_ref=f"s3://b/{n}.jpg") for n in (1, 2))
    assert runner.fail_job(job=job, code="ThrottlingException", message="the backend refused")
    job.refresh_from_db()
    assert (job.histograms["total"], job.histograms["failed"], job.histograms["done"]) == (2, 2, 0)


@pytest.mark.django_db
def test_the_migration_backfills_finished_jobs(owner):
    import importlib

    from django.apps import apps

    job = make_job(owner, [{"Alcohol": 80.0}, {}])
    stored = job.histograms
    BulkAnalysisJob.objects.update(histograms=None)
    importlib.import_module("bulk_analysis.migrations.0003_job_histograms").backfill(apps, None)
    job.refresh_from_db()
    assert job.histograms == stored and stored["labels"]["Alcohol"][800] == 1
