"""The verify page's per-job tallies (issue 15): moved in the transaction of every verdict and
review, they always equal a recount, and the per-label statistics read from them equal the
image-by-image rule (verification.rules.ground_truth and outcome) at every threshold."""

import pytest

from tests.bulk_analysis.conftest import finished_job
from verification import services
from verification.models import ImageReview, ReviewerTally, VerdictTally, Verification
from verification.rules import ground_truth, outcome, predicted_labels

pytestmark = pytest.mark.django_db


def tallies(job):
    verdicts = set(
        VerdictTally.objects.filter(job=job).exclude(n=0).values_list("label", "state", "bin", "width", "n")
    )
    reviewers = set(ReviewerTally.objects.filter(job=job).exclude(n=0).values_list("user_id", "n"))
    return verdicts, reviewers


def image_by_image(job, threshold):
    """{label: (tp, fp, fn, tn)} as the page counted before the tallies: every reviewed image."""
    counts = {}
    for review in ImageReview.objects.filter(job=job).select_related("prediction"):
        p = review.prediction
        verdicts = dict(Verification.objects.filter(prediction=p).values_list("label", "verdict"))
        predicted = predicted_labels(p.top_labels, threshold)
        truth = set(ground_truth(predicted, verdicts))
        for name in ("Alcohol", "Gambling", "Explicit"):
            kind = outcome(name in predicted, name in truth)
            counts.setdefault(name, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})[kind] += 1
    return {name: (c["tp"], c["fp"], c["fn"], c["tn"]) for name, c in counts.items()}


def test_the_tallies_follow_every_verdict_review_undo_and_decision(owner, annotator):
    tops = [{"Alcohol": 80.0}, {"Alcohol": 55.5, "Gambling": 91.0}, {}, {"Explicit": 62.0}, {"Alcohol": 70.1}]
    job = finished_job(owner, tops)
    p1, p2, p3, p4, p5 = job.predictions.order_by("line")
    services.set_verdict(user=owner, prediction=p1, label="Alcohol", verdict="correct", threshold=50)
    services.set_verdict(user=annotator, prediction=p2, label="Alcohol", verdict="incorrect", threshold=50)
    services.set_verdict(user=annotator, prediction=p2, label="Explicit", verdict="added", threshold=50)
    services.mark_reviewed(user=owner, prediction=p3)
    services.set_verdict(user=owner, prediction=p4, label="Explicit", verdict="incorrect", threshold=50)
    services.set_verdict(user=owner, prediction=p4, label="Explicit", verdict="correct", threshold=50)
    services.undo(user=owner, prediction=p4, label="Explicit", expected="correct", restore="incorrect")
    services.set_verdict(user=owner, prediction=p5, label="Alcohol", verdict="correct", threshold=50)
    services.undo(user=owner, prediction=p5, label="Alcohol", expected="correct", restore="", unreview=True)
    services.set_second_review_share(user=owner, job=job, share=100)
    services.set_verdict(user=annotator, prediction=p5, label="Gambling", verdict="added", threshold=50)
    services.claim_next(user=owner, job=job, threshold=50)
    services.submit_second_review(user=owner, prediction=p5, labels=[], threshold=50)
    services.adjudicate(user=owner, prediction=p5, labels=["Alcohol"])

    moved = tallies(job)
    services.recount_tallies(job=job)
    assert tallies(job) == moved
    assert services.reviewed_count(job=job) == 5
    assert dict(ReviewerTally.objects.filter(job=job).values_list("user__username", "n")) == {
        "owner": 3,
        "annotator": 2,
    }
    for threshold in (0, 50, 55, 55.5, 55.6, 62, 70.1, 80, 95, 100):
        stats = {
            s.label: (s.tp, s.fp, s.fn, s.tn)
            for s in services.performance(job=job, threshold=threshold).labels
        }
        for name, expected in image_by_image(job, threshold).items():
            assert stats[name] == expected, (threshold, name)


def test_a_refused_review_moves_no_tally(owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    p = job.predictions.get()
    services.mark_reviewed(user=owner, prediction=p)
    before = tallies(job)
    with pytest.raises(Exception, match="already reviewed"):
        services.mark_reviewed(user=annotator, prediction=p)
    assert tallies(job) == before
    assert services.queue_progress(job=job) == {"per_user": [("owner", 1)], "remaining": 0, "total": 1}


def test_the_migration_fills_the_tallies_of_existing_reviews(owner, annotator):
    import importlib

    from django.apps import apps

    job = finished_job(owner, [{"Alcohol": 80.0}, {"Gambling": 66.0}, {}])
    p1, p2, p3 = job.predictions.order_by("line")
    services.set_verdict(user=owner, prediction=p1, label="Alcohol", verdict="incorrect", threshold=50)
    services.set_verdict(user=annotator, prediction=p2, label="Explicit", verdict="added", threshold=50)
    services.mark_reviewed(user=owner, prediction=p3)
    moved = tallies(job)
    VerdictTally.objects.all().delete()
    ReviewerTally.objects.all().delete()
    importlib.import_module("verification.migrations.0005_tallies").backfill(apps, None)
    importlib.import_module("verification.migrations.0010_verdict_tally_points").add_points(apps, None)
    assert tallies(job) == moved
